import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The modes of a set at rest: private to the user who made it, as restic and borg make their
/// repositories. The set folder and every folder in it 0700, every file 0600, the restore script
/// 0700 (it is run as `sh <script>`, but a person may also run it directly). The modes the files
/// had at the source are in the manifest, and the restore script restores them.
enum SetPermissions {
    /// Folders of a set: 0700.
    static let folder: mode_t = 0o700
    /// Files of a set: 0600.
    static let file: mode_t = 0o600
    /// The restore script: 0700.
    static let script: mode_t = 0o700

    /// Gives `setFolder` and everything in it the modes above, never following links (a link
    /// keeps its own mode). Best effort: a chmod that fails is left, and the set is still sealed.
    /// - Parameters:
    ///   - setFolder: the set folder (the `.partial-<id>` folder while it is written).
    ///   - script: the restore script's path inside it (the manifest's `restore_script`).
    static func makePrivate(_ setFolder: String, script: String) {
        let scriptPath = (setFolder as NSString).appendingPathComponent(script)
        var pending = [setFolder]
        while let current = pending.popLast() {
            var info = stat()
            guard lstat(current, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                chmod(current, folder)
                for name in (try? FileManager.default.contentsOfDirectory(atPath: current)) ?? [] {
                    pending.append((current as NSString).appendingPathComponent(name))
                }
            case S_IFREG:
                chmod(current, current == scriptPath ? Self.script : file)
            default:
                continue
            }
        }
    }
}
