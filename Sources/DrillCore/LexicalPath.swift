import Foundation

/// Path normalisation that never touches the file system.
///
/// Foundation's `NSString.standardizingPath` resolves symbolic links on Linux (measured:
/// `/tmp/link` → `/tmp/real`), so a configured `~/.gitconfig` that is a link to
/// `~/dotfiles/gitconfig` silently became the link's target and was backed up under the wrong
/// name. Configured paths must mean what the user wrote: this folds `.`, `..` and repeated `/`
/// only.
public enum LexicalPath {
    /// `path` with empty and `.` components removed and each `..` folded into its parent; an
    /// absolute path never climbs above `/`. Symbolic links are left as they are.
    ///
    /// Works on bytes, never on `Character`s: a component that starts with a combining mark
    /// (`/\u{301}x`, a decomposed name) is still split at its `/`, and no component is compared
    /// with `String ==`, which equates NFC and NFD (``FileNameBytes``).
    public static func normalize(_ path: String) -> String {
        let absolute = path.utf8.first == slash
        var parts: [String] = []
        for part in components(path) {
            switch part {
            case ".": continue
            case "..":
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !absolute {
                    parts.append(part)
                }
            default: parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        if absolute { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    /// The byte `/`.
    static let slash = UInt8(ascii: "/")

    /// The non-empty components of `path` between `/` bytes, each the exact bytes of the text
    /// (`.` and `..` compare as ASCII, so `==` on them is byte-exact).
    static func components(_ path: String) -> [String] {
        path.utf8.split(separator: slash, omittingEmptySubsequences: true).map {
            String(decoding: $0, as: UTF8.self)
        }
    }
}
