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
    public static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
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
}
