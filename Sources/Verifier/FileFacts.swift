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

/// Small pure text helpers of the checks' messages (paths are ``AbsolutePath`` and ``RelativePath``).
enum TextFormat {
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
