import CSQLite
import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One way to report a full destination, whichever step was writing when the space ran out: a
/// streamed artifact or the code archive (`write(2)` fails with `ENOSPC`), a database copy
/// (SQLite says `SQLITE_FULL`, or its I/O error carries `ENOSPC`), the vault, `SHA256SUMS` or
/// the manifest. Each becomes ``RestoreDrillError/destinationFull(path:freeBytes:)`` naming the
/// path being written and the bytes still free on the destination's file system (exit 3), and the
/// unfinished set is removed as for any other failure; a database copy that runs out of space no
/// longer turns the set into a `partial` one (exit 1).
enum DestinationFull {
    /// The system's own texts for a full file system, as ``RestoreDrillError/io(path:message:)``
    /// carries them (`strerror(ENOSPC)`, `strerror(EDQUOT)`) and SQLite's (`sqlite3_errstr(SQLITE_FULL)`).
    static let systemTexts: [String] = [
        String(cString: strerror(ENOSPC)), String(cString: strerror(EDQUOT)),
        String(cString: sqlite3_errstr(SQLITE_FULL)),
    ]

    /// Whether `errno`-style `code` means the file system is full.
    static func isFull(errno code: Int32) -> Bool { code == ENOSPC || code == EDQUOT }

    /// The path that was being written when `error` says the file system is full; nil for any
    /// other error.
    static func path(of error: any Error) -> String? {
        switch error {
        case RestoreDrillError.io(let path, let message) where systemTexts.contains(where: message.contains):
            return path
        case RestoreDrillError.destinationFull(let path, _):
            return path
        default:
            return nil
        }
    }

    /// `error` as ``RestoreDrillError/destinationFull(path:freeBytes:)`` when it says the file
    /// system is full, with the free bytes of `destination` now; else `error` unchanged.
    static func classify(_ error: any Error, destination: String) -> any Error {
        guard let path = path(of: error) else { return error }
        return RestoreDrillError.destinationFull(path: path, freeBytes: freeBytes(destination))
    }

    /// Bytes this user may still write on the file system holding `path` (`f_bavail × f_frsize`);
    /// nil when `statvfs(2)` fails.
    static func freeBytes(_ path: String) -> Int64? {
        FileSystemSpace.of(path)?.available
    }
}
