import DrillCore
import Foundation

/// File names of every kind issue 12 names, as bytes, and helpers to make and read trees of them
/// by their exact bytes (never through `FileManager`, whose `String` paths cannot hold a name that
/// is not UTF-8).
public enum NameVariants {
    /// `Résumé.txt` composed (NFC: `R\xc3\xa9sum\xc3\xa9.txt`).
    public static let resumeNFC = Array("R\u{e9}sum\u{e9}.txt".utf8)
    /// `Résumé.txt` decomposed (NFD: `Re\xcc\x81sume\xcc\x81.txt`), as HFS+ stores it.
    public static let resumeNFD = Array("Re\u{301}sume\u{301}.txt".utf8)

    /// Relative paths (bytes) and contents of a tree holding: an NFC/NFD pair side by side, NFD
    /// names (`ü`, Hangul `한` as conjoining jamo, a folder `Café` in NFD), and names that are not
    /// UTF-8 (Latin-1 `\xe9`, a lone continuation byte `\x80`, the overlong `\xc0\xaf`, a folder
    /// `d\xe9` with a file in it). Every content differs, so a swap shows.
    public static let tree: [(path: [UInt8], content: String)] = [
        (Array("names/".utf8) + resumeNFC, "composed\n"),
        (Array("names/".utf8) + resumeNFD, "decomposed, a different file\n"),
        (Array("names/u\u{308}ber.txt".utf8), "u umlaut, decomposed\n"),
        (Array("names/\u{1112}\u{1161}\u{11AB}.txt".utf8), "hangul as conjoining jamo\n"),
        (Array("names/Cafe\u{301}/inner.txt".utf8), "inside a decomposed folder\n"),
        (Array("names/caf".utf8) + [0xE9] + Array(".txt".utf8), "latin-1\n"),
        (Array("names/".utf8) + [0x80], "lone continuation byte\n"),
        (Array("names/".utf8) + [0xC0, 0xAF] + Array(".txt".utf8), "overlong slash\n"),
        (Array("names/d".utf8) + [0xE9] + Array("/in.txt".utf8), "inside a latin-1 folder\n"),
    ]

    /// The paths of ``tree`` whose bytes are not UTF-8 (files and the folder `names/d\xe9`).
    public static var notUTF8: [[UInt8]] {
        tree.map(\.path).filter { String(validating: $0, as: UTF8.self) == nil } + [Array("names/d".utf8) + [0xE9]]
    }

    /// Writes ``tree`` (or `entries`) below `base`, making folders (0755) on the way; files 0644.
    /// - Throws: `POSIXError` naming the system call that failed.
    public static func create(below base: String, _ entries: [(path: [UInt8], content: String)] = tree) throws {
        for (path, content) in entries {
            let full = Array(base.utf8) + [UInt8(ascii: "/")] + path
            try makeFolders(Array(full[..<full.lastIndex(of: UInt8(ascii: "/"))!]))
            let fd = cPath(full) { open($0, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644) }
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            defer { close(fd) }
            let data = Array(content.utf8)
            guard write(fd, data, data.count) == data.count else { throw POSIXError(.EIO) }
            _ = fchmod(fd, 0o644)
        }
    }

    /// Every path below `base` (files, folders, links) as bytes relative to it, with a file's
    /// content (nil for others), read with `opendir`/`readdir`/`open` on the exact bytes.
    /// The entries of the folder whose path is the bytes `folder` (without `.` and `..`), each
    /// name as its exact bytes, read with `opendir`/`readdir`; nil when it cannot be opened.
    public static func names(in folder: [UInt8]) -> [[UInt8]]? {
        guard let dir = cPath(folder, { opendir($0) }) else { return nil }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let item = readdir(dir) {
            let name = withUnsafePointer(to: &item.pointee.d_name) {
                Array(
                    UnsafeRawBufferPointer(
                        start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))))
            }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        return names
    }

    public static func list(_ base: String) -> [[UInt8]: String?] {
        var out: [[UInt8]: String?] = [:]
        func walk(_ folder: [UInt8], _ relative: [UInt8]) {
            guard let names = names(in: folder) else { return }
            for name in names {
                let path = folder + [0x2F] + name
                let rel = relative.isEmpty ? name : relative + [0x2F] + name
                var st = stat()
                guard cPath(path, { lstat($0, &st) }) == 0 else { continue }
                if st.st_mode & S_IFMT == S_IFDIR {
                    out[rel] = .some(nil)
                    walk(path, rel)
                } else if st.st_mode & S_IFMT == S_IFREG {
                    out[rel] = .some(contents(path))
                } else {
                    out[rel] = .some(nil)
                }
            }
        }
        walk(Array(base.utf8), [])
        return out
    }

    /// The file contents ``list(_:)`` should find below a base holding ``tree``: every file with
    /// its content, every folder on the way with nil.
    public static func expectedListing(_ entries: [(path: [UInt8], content: String)] = tree) -> [[UInt8]: String?] {
        var out: [[UInt8]: String?] = [:]
        for (path, content) in entries {
            out[path] = .some(content)
            var folder = path
            while let slash = folder.lastIndex(of: 0x2F) {
                folder = Array(folder[..<slash])
                out[folder] = .some(nil)
            }
        }
        return out
    }

    /// `bytes` with every byte outside printable ASCII as `\xNN`, for messages.
    public static func shown(_ bytes: [UInt8]) -> String {
        bytes.map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
    }

    static func contents(_ path: [UInt8]) -> String? {
        let fd = cPath(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func exists(_ path: [UInt8]) -> Bool {
        var st = stat()
        return cPath(path) { lstat($0, &st) } == 0
    }

    static func makeFolders(_ path: [UInt8]) throws {
        if path.isEmpty || exists(path) { return }
        if let slash = path.lastIndex(of: 0x2F), slash > 0 { try makeFolders(Array(path[..<slash])) }
        guard cPath(path, { mkdir($0, 0o755) }) == 0 || errno == EEXIST else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    public static func cPath<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        let c = bytes.map { CChar(bitPattern: $0) } + [0]
        return c.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
