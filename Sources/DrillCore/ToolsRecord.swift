import Foundation

/// The tools a restore script ran with, as it records them for a drill (issue 19; docs/SET-FORMAT.md,
/// "The restore script contract"): when the environment variable ``variable`` names a file, the
/// script writes one `key=value` line per tool it found before it checks them.
///
/// The file is written by the replay, which is hostile until proven: ``parse(_:)`` keeps only the
/// known ``keys``, one line each, control characters removed, each value at most
/// ``maxValueBytes`` bytes, and the drill reads at most ``maxFileBytes`` bytes without following
/// links.
public enum ToolsRecord {
    /// `RESTORE_DRILL_TOOLS`: the variable naming the file the script writes.
    public static let variable = "RESTORE_DRILL_TOOLS"
    /// The file's name in the drill's scratch folder (`<sandbox>/work`, never inside the restored
    /// home or root): `restore-drill-tools.txt`.
    public static let fileName = "restore-drill-tools.txt"
    /// The most bytes of the file read: 16 KiB.
    public static let maxFileBytes = 16 * 1024
    /// The most bytes of one value kept: 200.
    public static let maxValueBytes = 200
    /// The keys, in the order reports show them: `sh` (the shell and its version), `tar`, `gzip`
    /// (or `igzip`/`pigz` when the script reads with them), `hash` (`<tool>: <version line>`),
    /// `openssl` (`openssl version`), `sqlite3`, `os` (`uname -s`), `arch` (`uname -m`).
    public static let keys = ["sh", "tar", "gzip", "hash", "openssl", "sqlite3", "os", "arch"]
    /// The keys of a combination `compat` groups drills by (all but `sqlite3`).
    public static let combinationKeys = ["os", "arch", "sh", "tar", "gzip", "hash", "openssl"]

    /// The record in `data`: each line `key=value` with a known key (the first of a key wins);
    /// values trimmed of spaces, control characters removed, cut to ``maxValueBytes`` bytes at a
    /// character boundary; empty values left out. Nil when no line is usable.
    public static func parse(_ data: Data) -> [String: String]? {
        let text = String(decoding: data.prefix(maxFileBytes), as: UTF8.self)
        var out: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            guard keys.contains(key), out[key] == nil else { continue }
            let value = clean(String(line[line.index(after: eq)...]))
            if !value.isEmpty { out[key] = value }
        }
        return out.isEmpty ? nil : out
    }

    /// `text` without control characters (C0, DEL, C1) or U+FFFD, trimmed, at most ``maxValueBytes``
    /// bytes of UTF-8.
    static func clean(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x20 || (0x7f...0x9f).contains(v) || v == 0xfffd { continue }
            let size = String(scalar).utf8.count
            if bytes + size > maxValueBytes { break }
            bytes += size
            scalars.append(scalar)
        }
        return String(scalars).trimmingCharacters(in: .whitespaces)
    }

    /// The compact text reports, JUnit and the history show: `key=value` for each present key in
    /// ``keys`` order, joined by `; ` (e.g. `sh=dash; tar=tar (GNU tar) 1.34; …`).
    public static func compact(_ tools: [String: String]) -> String {
        keys.compactMap { key in tools[key].map { "\(key)=\($0)" } }.joined(separator: "; ")
    }

    /// What reports say when a drill has no record: `not recorded by this set's script`.
    public static let notRecorded = "not recorded by this set's script"

    /// Reads the record at `path` as root would read a hostile file: opened with `O_NOFOLLOW`
    /// (a link is refused), only a regular file, at most ``maxFileBytes`` bytes.
    /// - Returns: the parsed record, or nil when the file is missing, not a regular file, a link,
    ///   unreadable or holds no usable line.
    public static func read(at path: AbsolutePath) -> [String: String]? {
        UntrustedFile.read(path.pathString, limit: maxFileBytes, overflow: .truncate).flatMap(parse)
    }
}
