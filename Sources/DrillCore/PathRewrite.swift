import Foundation

/// The LaunchAgent path rewrite rule (docs/SET-FORMAT.md, "The restore script contract"), shared by the
/// restore script generator (which implements it with `sed`) and the verifier (which re-applies it
/// to the stored plist to know what a correct restore must hold).
///
/// Rule: each old prefix is replaced literally, longest first, in one pass over the string, only
/// at a path boundary: the character before the occurrence is the start of the string or one of
/// ``leftBoundaries``, and the character after it is the end of the string or one of
/// ``rightBoundaries``. So `/Users/alice` rewrites `/Users/alice/x`, `/Users/alice` and
/// `A:/Users/alice:B`, but never `/Users/alice2` or `/opt/Users/alice`.
public enum PathRewrite {
    /// Characters that may stand right before a rewritten prefix (besides the string start):
    /// `:` (PATH-like lists), `=` (`--opt=/path`), space.
    public static let leftBoundaries: Set<Character> = [":", "=", " "]
    /// Characters that may stand right after a rewritten prefix (besides the string end).
    public static let rightBoundaries: Set<Character> = ["/", ":", " "]

    /// Applies the rewrite to one string.
    /// - Parameter pairs: (old, new) absolute prefixes; sorted here longest old first.
    /// - Returns: the rewritten string.
    public static func apply(_ string: String, _ pairs: [(old: String, new: String)]) -> String {
        let ordered = pairs.filter { !$0.old.isEmpty }.sorted { $0.old.count > $1.old.count }
        guard !ordered.isEmpty else { return string }
        let chars = Array(string)
        var out = ""
        var i = 0
        outer: while i < chars.count {
            let leftOK = i == 0 || leftBoundaries.contains(chars[i - 1])
            if leftOK {
                for pair in ordered {
                    let old = Array(pair.old)
                    let end = i + old.count
                    guard end <= chars.count, Array(chars[i..<end]) == old else { continue }
                    guard end == chars.count || rightBoundaries.contains(chars[end]) else { continue }
                    out += pair.new
                    i = end
                    continue outer
                }
            }
            out.append(chars[i])
            i += 1
        }
        return out
    }

    /// True when `string` still holds `prefix` at a path boundary (a trace the rewrite missed).
    public static func containsPrefix(_ string: String, _ prefix: String) -> Bool {
        apply(string, [(prefix, "\u{1}")]) != string
    }

    /// Applies the rewrite to every string inside a property-list value (dictionary keys and
    /// values, array elements), leaving other types as they are.
    public static func applyToPlist(_ value: Any, _ pairs: [(old: String, new: String)]) -> Any {
        switch value {
        case let s as String:
            return apply(s, pairs)
        case let a as [Any]:
            return a.map { applyToPlist($0, pairs) }
        case let d as [String: Any]:
            var out: [String: Any] = [:]
            for (k, v) in d { out[apply(k, pairs)] = applyToPlist(v, pairs) }
            return out
        default:
            return value
        }
    }

    /// Every string inside a property-list value, keys included, in no particular order.
    public static func strings(in value: Any) -> [String] {
        switch value {
        case let s as String: return [s]
        case let a as [Any]: return a.flatMap { strings(in: $0) }
        case let d as [String: Any]: return d.flatMap { [$0.key] + strings(in: $0.value) }
        default: return []
        }
    }
}
