import Foundation

/// Shell-style glob matching on `/`-separated paths, as the configuration uses it.
///
/// `*` matches any run of characters but `/`; `?` one character but `/`; `[abc]`, `[a-z]`,
/// `[!a]` a set; `**` as a whole path segment matches zero or more folders
/// (`claude/data/**/*.db` matches `claude/data/x.db` and `claude/data/a/b/x.db`).
/// A leading `.` in a name is matched by `*` too (unlike a shell).
public struct GlobPattern: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let segments: [String]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    public var description: String { pattern }

    /// True when the whole of `path` (relative, `/`-separated) matches.
    public func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        return Self.match(segments[...], parts[...])
    }

    /// True when `name` (one path component) matches `pattern` (no `/` inside).
    public static func matchesName(_ pattern: String, _ name: String) -> Bool {
        matchSegment(Array(pattern.unicodeScalars)[...], Array(name.unicodeScalars)[...])
    }

    /// The literal folder prefix before the first wildcard segment (e.g. `claude/data` for
    /// `claude/data/**/*.db`), so a walk can start there.
    public var literalPrefix: String {
        segments.prefix { !$0.contains(where: { "*?[".contains($0) }) }.joined(separator: "/")
    }

    private static func match(_ pat: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let first = pat.first else { return path.isEmpty }
        if first == "**" {
            let rest = pat.dropFirst()
            var p = path
            while true {
                if match(rest, p) { return true }
                if p.isEmpty { return false }
                p = p.dropFirst()
            }
        }
        guard let head = path.first else { return false }
        return matchesName(first, head) && match(pat.dropFirst(), path.dropFirst())
    }

    private static func matchSegment(_ p: ArraySlice<Unicode.Scalar>, _ s: ArraySlice<Unicode.Scalar>) -> Bool {
        var p = p, s = s
        while let c = p.first {
            switch c {
            case "*":
                let rest = p.drop { $0 == "*" }
                if rest.isEmpty { return true }
                var t = s
                while true {
                    if matchSegment(rest, t) { return true }
                    if t.isEmpty { return false }
                    t = t.dropFirst()
                }
            case "?":
                guard !s.isEmpty else { return false }
                p = p.dropFirst()
                s = s.dropFirst()
            case "[":
                guard let ch = s.first, let (ok, after) = matchSet(p.dropFirst(), ch) else {
                    // An unclosed '[' is a literal.
                    guard s.first == "[" else { return false }
                    p = p.dropFirst()
                    s = s.dropFirst()
                    continue
                }
                guard ok else { return false }
                p = after
                s = s.dropFirst()
            default:
                guard s.first == c else { return false }
                p = p.dropFirst()
                s = s.dropFirst()
            }
        }
        return s.isEmpty
    }

    /// Matches `ch` against the set after `[`; returns (matched, pattern after `]`) or nil if unclosed.
    private static func matchSet(_ p: ArraySlice<Unicode.Scalar>, _ ch: Unicode.Scalar) -> (
        Bool, ArraySlice<Unicode.Scalar>
    )? {
        var p = p
        var negate = false
        if let f = p.first, f == "!" || f == "^" {
            negate = true
            p = p.dropFirst()
        }
        var matched = false
        var first = true
        while let c = p.first {
            if c == "]" && !first { return (matched != negate, p.dropFirst()) }
            first = false
            p = p.dropFirst()
            if p.first == "-", let hi = p.dropFirst().first, hi != "]" {
                if c <= ch && ch <= hi { matched = true }
                p = p.dropFirst(2)
            } else if c == ch {
                matched = true
            }
        }
        return nil
    }
}
