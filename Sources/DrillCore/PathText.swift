/// `NSString`'s path-text operations in pure Swift, on UTF-8 bytes, with `NSString`'s answers.
///
/// swift-corelibs-foundation (Swift 6.3.1 on Linux) traps (SIGILL, exit 132) inside
/// `NSString._stringByFixingSlashes` and `_startOfLastPathComponent` on ordinary paths (measured
/// with a probe, one input per process):
/// - `deletingLastPathComponent` of a one-character name without a slash (`x`, `.`, `-`, `~`,
///   `é`) and of such a name with trailing slashes (`x/`, `./`, `x//`, `é/`): so
///   `restore-drill runbook ID x` died in ``AtomicFile`` and a configuration named `c` in its
///   parser;
/// - `deletingLastPathComponent`, `lastPathComponent`, `pathExtension` and
///   `deletingPathExtension` of a path holding `//` whose last component is one non-ASCII
///   character (`a//é`, `//ü`, `a/b//日`).
///
/// `appendingPathComponent`, `standardizingPath`, `pathComponents` and the `URL` forms answered
/// every probe (all strings of up to 4 of `a`, `/`, `.`, `é`, and odd ones). The tool uses these
/// functions instead of the `NSString` ones for every path it takes apart.
///
/// The rules are `NSString`'s: repeated `/` count as one, a trailing `/` is ignored (but `/` alone
/// stays `/`), and the text is never looked up on disk (no link is resolved, `~` is a name). One
/// difference, on purpose: a path of two or more slashes only (`//`) is the root here, as macOS's
/// `NSString` answers, where Linux's answers `""` (the current folder) to all three.
/// Splitting on the byte `/` keeps every other byte as it is (NFD stays NFD).
public enum PathText {
    /// The path without its last component, as `NSString.deletingLastPathComponent` answers.
    ///
    /// `"ab"` → `""`, `"a/b"` → `"a"`, `"/x"` → `"/"`, `"/"` → `"/"`, `""` → `""`, `"a//b"` → `"a"`,
    /// `"ab/"` → `""`, `"x"` → `""`, `"."` → `""`, `"a/b/"` → `"a"`, `"//a//b//"` → `"/a"`.
    /// - Parameter path: a path, absolute or relative.
    /// - Returns: the folder part with repeated slashes folded and no trailing slash; `""` for a
    ///   relative path of one component, `"/"` for an absolute one.
    public static func parent(of path: String) -> String {
        let parts = components(path)
        let absolute = path.utf8.first == slash
        guard parts.count > 1 else { return absolute ? "/" : "" }
        return (absolute ? "/" : "") + parts.dropLast().joined(separator: "/")
    }

    /// The last component, as `NSString.lastPathComponent` answers.
    ///
    /// `"a/b"` → `"b"`, `"a/b/"` → `"b"`, `"/"` → `"/"`, `"//"` → `"/"`, `""` → `""`, `"x"` → `"x"`,
    /// `"a//é"` → `"é"`.
    /// - Parameter path: a path, absolute or relative.
    /// - Returns: the last non-empty component; `"/"` for a path of slashes only; `""` for `""`.
    public static func lastComponent(of path: String) -> String {
        if let last = components(path).last { return last }
        return path.isEmpty ? "" : "/"
    }

    /// The path without the extension of its last component, as
    /// `NSString.deletingPathExtension` answers: the last `.` of the last component and what
    /// follows go, unless that `.` starts the component (`.profile`) or the component is `..`.
    ///
    /// `"a.txt"` → `"a"`, `"a.b.c"` → `"a.b"`, `"a."` → `"a"`, `".x"` → `".x"`, `"a/.x"` → `"a/.x"`,
    /// `"d.x/f"` → `"d.x/f"`, `"a//b.c/"` → `"a/b"`, `"/"` → `"/"`, `".."` → `".."`.
    /// - Parameter path: a path, absolute or relative.
    /// - Returns: the path with repeated slashes folded, no trailing slash, and the extension gone.
    public static func deletingExtension(of path: String) -> String {
        var parts = components(path)
        let absolute = path.utf8.first == slash
        if let last = parts.last, let stem = stem(of: last) { parts[parts.count - 1] = stem }
        let joined = parts.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined
    }

    /// `name` without its extension, or nil when it has none (no `.`, a leading `.` only, `..`).
    static func stem(of name: String) -> String? {
        let bytes = Array(name.utf8)
        guard name != "..", let dot = bytes.lastIndex(of: UInt8(ascii: ".")), dot > 0 else { return nil }
        return String(decoding: bytes[..<dot], as: UTF8.self)
    }

    /// The byte `/`.
    static let slash = UInt8(ascii: "/")

    /// The non-empty components of `path` between `/` bytes, each the exact bytes of the text.
    static func components(_ path: String) -> [String] {
        path.utf8.split(separator: slash, omittingEmptySubsequences: true).map {
            String(decoding: $0, as: UTF8.self)
        }
    }
}
