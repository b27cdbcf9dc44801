import DrillCore
import Foundation

/// What `lstat` says about one path, without following a final symlink.
struct FileFacts: Equatable {
    var type: FileType?
    /// True for a character/block device, fifo or socket.
    var isSpecial: Bool
    var size: Int64
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    var mode: Int

    /// Facts of `path`, or nil when nothing is there.
    static func of(_ path: String) -> FileFacts? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        let format = st.st_mode & S_IFMT
        var type: FileType?
        switch format {
        case S_IFREG: type = .file
        case S_IFDIR: type = .directory
        case S_IFLNK: type = .symlink
        default: type = nil
        }
        return FileFacts(type: type, isSpecial: type == nil, size: Int64(st.st_size), mode: Int(st.st_mode & 0o7777))
    }

    /// The target of the symlink at `path`, or nil.
    static func linkTarget(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }
}

/// Small pure helpers on `/`-separated paths.
enum PathText {
    /// `base` + `/` + `relative` (no normalisation).
    static func join(_ base: String, _ relative: String) -> String {
        if relative.isEmpty { return base }
        return base.hasSuffix("/") ? base + relative : base + "/" + relative
    }

    /// True when `path` equals `folder` or lies below it (`/a/b` is under `/a`, `/ab` is not).
    static func isUnder(_ path: String, _ folder: String) -> Bool {
        let f = folder.hasSuffix("/") && folder.count > 1 ? String(folder.dropLast()) : folder
        return path == f || path.hasPrefix(f == "/" ? "/" : f + "/")
    }

    /// `path` relative to `folder` when under it, else nil (`""` for the folder itself).
    static func relative(_ path: String, to folder: String) -> String? {
        guard isUnder(path, folder) else { return nil }
        if path == folder { return "" }
        return String(path.dropFirst(folder.hasSuffix("/") ? folder.count : folder.count + 1))
    }

    /// Lexically resolves `.` and `..` in a relative path; nil when it climbs above its start.
    static func normalizedRelative(_ path: String) -> String? {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if parts.isEmpty { return nil }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    /// Every ancestor of a relative path: `a/b/c` gives `a` and `a/b`.
    static func ancestors(_ relative: String) -> [String] {
        let parts = relative.split(separator: "/")
        guard parts.count > 1 else { return [] }
        return (1..<parts.count).map { parts[0..<$0].joined(separator: "/") }
    }

    /// True when a name holds a C0 control character or DEL.
    static func hasControlCharacters(_ name: String) -> Bool {
        name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }

    /// The last `limit` lines of `text`.
    static func tailLines(_ text: String, limit: Int) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let trimmed = lines.last == "" ? Array(lines.dropLast()) : lines
        return Array(trimmed.suffix(limit))
    }

    /// Octal text of permission bits, e.g. `0644`.
    static func octal(_ mode: Int) -> String { "0" + String(mode, radix: 8) }
}

/// Measures wall time with a monotonic clock, in seconds.
struct Stopwatch {
    private let start = ContinuousClock.now

    var seconds: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
