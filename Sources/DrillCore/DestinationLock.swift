import Foundation

/// The lock that keeps `prune` from running beside a backup or a drill on one destination.
///
/// `<destination>/.restore-drill/lock`, taken with `flock(2)`: backups and drills take it shared
/// (they may run side by side), prune takes it exclusive. The kernel drops a dead process's lock,
/// so a stale lock is taken over without guessing; the file holds the holder's pid for messages.
public final class DestinationLock: @unchecked Sendable {
    /// Shared for backup and drill, exclusive for prune.
    public enum Mode: Sendable { case shared, exclusive }

    private var fd: Int32
    /// The lock file's path.
    public let path: String

    /// Takes the lock without waiting.
    /// - Returns: nil when the destination cannot be written (a read-only destination needs no lock:
    ///   nothing can be removed from it).
    /// - Throws: ``RestoreDrillError/lockHeld(path:pid:)`` when another process holds it in a
    ///   conflicting mode.
    public static func acquire(destination: String, mode: Mode) throws -> DestinationLock? {
        let folder = (destination as NSString).appendingPathComponent(".restore-drill")
        try? FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = (folder as NSString).appendingPathComponent("lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        if flock(fd, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let holder =
                Int32(
                    String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data(), as: UTF8.self)
                        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            close(fd)
            throw RestoreDrillError.lockHeld(path: path, pid: holder)
        }
        // The newest holder's pid, for the message another process prints.
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return DestinationLock(fd: fd, path: path)
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Releases the lock (also done when the object goes away or the process dies).
    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
