import Foundation

/// The tools a restore script ran with, as it records them for a drill (issue 19; docs/SET-FORMAT.md,
/// "The restore script contract"): when the environment variable ``variable`` names a file, the
/// script writes one `key=value` line per tool it found before it checks them.
///
/// The file is written by the replay, which is hostile until proven: ``parse(_:)`` keeps only the
/// known ``keys``, one line each (LF, CR or CRLF ends a line), control and invisible characters
/// removed, `;` made `,` (reports join the pairs with `; `), each value at most ``maxValueBytes``
/// bytes; the drill reads at most ``maxFileBytes`` bytes through the sandbox's ``BeneathRoot``
/// (``read(in:at:)``: no link followed at any component), and replaces `os` and `arch` with what
/// it measures itself (``measuringPlatform(_:)``).
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

    /// The record in `data`: each line (ended by LF, CR or CRLF: ``TextLines/split(_:omittingEmpty:)``)
    /// `key=value` with a known key, split at its first `=` (the first line of a key wins); values
    /// cleaned by ``clean(_:)``; empty values left out. Nil when no line is usable.
    public static func parse(_ data: Data) -> [String: String]? {
        let text = String(decoding: data.prefix(maxFileBytes), as: UTF8.self)
        var out: [String: String] = [:]
        for line in TextLines.split(text) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<eq])
            guard keys.contains(key), out[key] == nil else { continue }
            let value = clean(String(line[line.index(after: eq)...]))
            if !value.isEmpty { out[key] = value }
        }
        return out.isEmpty ? nil : out
    }

    /// `text` without control or invisible characters (``TextSafety/isInvisibleOrControl(_:)``:
    /// C0, DEL, C1, bidirectional overrides, zero-width characters, the BOM, …) or U+FFFD, each `;`
    /// made `,` (so a value cannot end its pair in ``compact(_:)`` and start a forged `os=` pair),
    /// trimmed of spaces, at most ``maxValueBytes`` bytes of UTF-8.
    static func clean(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var bytes = 0
        for original in text.unicodeScalars {
            if TextSafety.isInvisibleOrControl(original) || original == "\u{FFFD}" { continue }
            let scalar: Unicode.Scalar = original == ";" ? "," : original
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
    /// (a link is refused), only a regular file, at most ``maxFileBytes`` bytes. Only the last
    /// component is guarded: for a record in a folder the tool made and no one else can write. A
    /// drill reads its replay's record with ``read(in:at:)``.
    /// - Returns: the parsed record, or nil when the file is missing, not a regular file, a link,
    ///   unreadable or holds no usable line.
    public static func read(at path: AbsolutePath) -> [String: String]? {
        UntrustedFile.read(path.pathString, limit: maxFileBytes, overflow: .truncate).flatMap(parse)
    }

    /// Reads the record at `relative` beneath `folder` (a drill's sandbox, which the replay could
    /// write) through ``BeneathRoot``: no symbolic link is followed at any component, so a script
    /// that replaced `work` by a link to a host folder gets nothing read from there; only a
    /// regular file, at most ``maxFileBytes`` bytes.
    /// - Parameters:
    ///   - folder: the sandbox; its own ancestors are trusted (the tool's sandboxes folder).
    ///   - relative: the record's place in it (`work/restore-drill-tools.txt`).
    /// - Returns: the parsed record, or nil when the file is missing, not a regular file, behind a
    ///   link, unreadable or holds no usable line.
    public static func read(in folder: AbsolutePath, at relative: RelativePath) -> [String: String]? {
        guard let root = try? BeneathRoot(folder), case .success(let file) = root.openFile(relative) else {
            return nil
        }
        return UntrustedFile.contents(of: file.descriptor, limit: maxFileBytes, overflow: .truncate).flatMap(parse)
    }

    /// `record` with `os` and `arch` as this host says (`uname(2)`: `sysname`, `machine`; the
    /// script records `uname -s` and `uname -m`, so a true record does not change). The drill
    /// replays on the host it runs on, so what it measures replaces what the script claims. Nil
    /// (a script that recorded nothing) stays nil: reports then say the script did not record.
    public static func measuringPlatform(_ record: [String: String]?) -> [String: String]? {
        guard var record else { return nil }
        let (os, arch) = hostPlatform()
        record["os"] = os
        record["arch"] = arch
        return record
    }

    /// This host's `uname(2)` `sysname` and `machine` (`Linux`, `x86_64`; `Darwin`, `arm64`).
    static func hostPlatform() -> (os: String, arch: String) {
        var names = utsname()
        guard uname(&names) == 0 else { return ("unknown", "unknown") }
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return (clean(text(names.sysname)), clean(text(names.machine)))
    }
}
