/// The small template mechanism of the shell files compiled into this target (the restore script's
/// `restore-script/restore.sh`, embedded at build time by the `EmbedShellTemplates` plugin).
///
/// A placeholder is `@@NAME@@`, where `NAME` is one or more of `A`–`Z`, `0`–`9` and `_`. The
/// template stays a valid shell file with its placeholders in place (they sit in comments or as
/// plain words), so `shellcheck` checks the template itself.
///
/// A placeholder alone on its line (after nothing but spaces or tabs, the line's newline right after
/// it) is a *block*: the whole line, indentation and newline included, is replaced by the value,
/// which is zero or more whole lines (each ending in a newline). An empty value removes the line, so
/// text that does not need the block renders byte for byte as if the line were not in the template.
enum ShellTemplate {
    /// The placeholder names of `text`, each once, in the order they first appear.
    static func placeholders(in text: String) -> [String] {
        var seen: Set<String> = []
        var out: [String] = []
        scan(text) { piece in
            if case .placeholder(let name) = piece, seen.insert(name).inserted { out.append(name) }
        }
        return out
    }

    /// `text` with each placeholder whose name `values` holds replaced by its value, in one pass:
    /// a value is inserted as it is, never scanned for placeholders itself (a host name holding
    /// `@@SET_ID@@` stays as it is). A placeholder without a value is kept unchanged.
    /// - Returns: the rendered text; its UTF-8 is the template's bytes with the values spliced in.
    static func render(_ text: String, values: [String: String]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 1_024)
        var inline: [UInt8] = []
        for line in lines(text) {
            if let name = blockName(line), let value = values[name] {
                out.append(contentsOf: renderInline(inline, values: values))
                inline = []
                out.append(contentsOf: value.utf8)
            } else {
                inline.append(contentsOf: line)
            }
        }
        out.append(contentsOf: renderInline(inline, values: values))
        return String(decoding: out, as: UTF8.self)
    }

    /// `bytes` with its inline placeholders replaced (see ``render(_:values:)``).
    private static func renderInline(_ bytes: [UInt8], values: [String: String]) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 1_024)
        scan(String(decoding: bytes, as: UTF8.self)) { piece in
            switch piece {
            case .text(let bytes): out.append(contentsOf: bytes)
            case .placeholder(let name):
                if let value = values[name] {
                    out.append(contentsOf: value.utf8)
                } else {
                    out.append(contentsOf: "@@\(name)@@".utf8)
                }
            }
        }
        return out
    }

    /// The lines of `text` as bytes, each with its newline (the last one without, when `text` does
    /// not end with one).
    private static func lines(_ text: String) -> [ArraySlice<UInt8>] {
        let bytes = Array(text.utf8)
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            out.append(bytes[start...i])
            start = i + 1
        }
        if start < bytes.count { out.append(bytes[start...]) }
        return out
    }

    /// The name of the placeholder `line` consists of (spaces or tabs before it, its newline right
    /// after), or nil when the line holds anything else.
    private static func blockName(_ line: ArraySlice<UInt8>) -> String? {
        guard line.last == 0x0A else { return nil }
        let body = line.dropLast().drop { $0 == 0x20 || $0 == 0x09 }
        guard body.count > 4, body.prefix(2) == [0x40, 0x40], body.suffix(2) == [0x40, 0x40] else { return nil }
        let name = body.dropFirst(2).dropLast(2)
        let ok = name.allSatisfy {
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "_")
        }
        return ok ? String(decoding: name, as: UTF8.self) : nil
    }

    /// A run of template text, or one placeholder.
    private enum Piece {
        case text(ArraySlice<UInt8>)
        case placeholder(String)
    }

    /// Cuts `text` into text runs and placeholders, in order.
    private static func scan(_ text: String, _ visit: (Piece) -> Void) {
        let bytes = Array(text.utf8)
        let at = UInt8(ascii: "@")
        func isNameByte(_ b: UInt8) -> Bool {
            (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: "_")
        }
        var runStart = 0
        var i = 0
        while i + 1 < bytes.count {
            guard bytes[i] == at, bytes[i + 1] == at else {
                i += 1
                continue
            }
            var j = i + 2
            while j < bytes.count, isNameByte(bytes[j]) { j += 1 }
            guard j > i + 2, j + 1 < bytes.count, bytes[j] == at, bytes[j + 1] == at else {
                i += 1
                continue
            }
            if runStart < i { visit(.text(bytes[runStart..<i])) }
            visit(.placeholder(String(decoding: bytes[(i + 2)..<j], as: UTF8.self)))
            i = j + 2
            runStart = i
        }
        if runStart < bytes.count { visit(.text(bytes[runStart..<bytes.count])) }
    }
}
