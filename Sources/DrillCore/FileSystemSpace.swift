import Foundation

/// The space of the file system holding a path, from `statvfs(2)`.
public struct FileSystemSpace: Sendable, Equatable {
    /// Bytes this user may still write (`f_bavail × f_frsize`).
    public var available: Int64
    /// The file system's size in bytes (`f_blocks × f_frsize`).
    public var total: Int64

    /// The space of the file system holding `path`; nil when `statvfs(2)` fails.
    public static func of(_ path: String) -> FileSystemSpace? {
        var fs = statvfs()
        guard statvfs(path, &fs) == 0 else { return nil }
        return FileSystemSpace(
            available: Int64(fs.f_bavail) * Int64(fs.f_frsize), total: Int64(fs.f_blocks) * Int64(fs.f_frsize))
    }
}
