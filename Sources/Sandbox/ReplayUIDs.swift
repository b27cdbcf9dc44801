import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The uids replays run as when the tool runs as root: one of its own for each replayer (each
/// drill), so two drills never share a uid (issue 11, "Keep drills apart from each other"): one
/// cannot read what the other restored while both run, and a fork bomb in one does not use up the
/// other's process limit (`RLIMIT_NPROC` counts every process of a uid).
///
/// **Range.** uids (and gids, equal to them) ``first`` … ``last``: 1 878 982 656 – 1 879 048 191
/// (`0x6FFF0000`–`0x6FFFFFFF`, 65 536 ids), the top of the range systemd sets aside for
/// containers' user namespaces (systemd's "Users, Groups, UIDs and GIDs on systemd Systems",
/// 524 288 – 1 879 048 191), where no login user or system service lives. No entry in
/// `/etc/passwd` is made: under bubblewrap the replay's generated `/etc/passwd` names it `replay`.
///
/// **Reservation.** A uid is taken by an exclusive `flock(2)` on `<lockFolder>/<uid>` (the folder
/// made 0700, root's): the kernel drops it when the holder's process ends, however it ends. A uid
/// whose lock is free but that still owns a process (one a killed drill left running without
/// bubblewrap) is passed over. Candidates start at a random offset, so concurrent drills rarely
/// try the same one first.
final class ReplayUIDLease: @unchecked Sendable {
    /// The first uid of the range: `0x6FFF0000`.
    static let first: UInt32 = 0x6FFF_0000
    /// The last uid of the range: `0x6FFFFFFF`.
    static let last: UInt32 = 0x6FFF_FFFF
    /// Where the locks live: `/run/restore-drill/replay-uids` (a tmpfs: emptied at boot).
    static let defaultLockFolder = "/run/restore-drill/replay-uids"
    /// Candidates tried before giving up.
    static let attempts = 256

    private let lock = NSLock()
    private let lockFolder: String
    private var taken: (uid: UInt32, descriptor: Int32)?
    private var failure: String?

    init(lockFolder: String = ReplayUIDLease.defaultLockFolder) { self.lockFolder = lockFolder }

    deinit { if let taken { close(taken.descriptor) } }

    /// Why no uid could be reserved, once a reservation failed; nil otherwise.
    var failureReason: String? { lock.withLock { failure } }

    /// The uid of this lease, reserving one on the first call.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when the lock folder cannot be made or every
    ///   candidate tried is taken.
    func uid() throws -> UInt32 {
        try lock.withLock {
            if let taken { return taken.uid }
            if let failure { throw RestoreDrillError.runtime(failure) }
            do {
                let reserved = try reserve()
                taken = reserved
                return reserved.uid
            } catch let error as RestoreDrillError {
                failure = "\(error)"
                throw error
            }
        }
    }

    private func reserve() throws -> (uid: UInt32, descriptor: Int32) {
        try Self.makePrivateFolder(lockFolder)
        let count = UInt64(Self.last - Self.first) + 1
        let start = UInt64.random(in: 0..<count)
        for step in 0..<UInt64(Self.attempts) {
            let uid = Self.first + UInt32((start + step) % count)
            let path = lockFolder + "/\(uid)"
            let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw RestoreDrillError.io(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                if !Self.ownsProcesses(uid) { return (uid, fd) }
            }
            close(fd)
        }
        throw RestoreDrillError.runtime(
            "no free replay uid in \(Self.first)–\(Self.last) after \(Self.attempts) tries (locks in \(lockFolder))")
    }

    /// Makes `path` and its parents (mode 0700 for the last one, 0755 above), refusing a link or a
    /// folder not owned by this user.
    static func makePrivateFolder(_ path: String) throws {
        let parent = PathText.parent(of: path)
        if !parent.isEmpty, parent != "/" {
            var info = stat()
            if lstat(parent, &info) != 0 { mkdir(parent, 0o755) }
        }
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw RestoreDrillError.io(path: path, message: "cannot create: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == geteuid() else {
            throw RestoreDrillError.io(path: path, message: "not a folder of this user (a link or another owner's)")
        }
        chmod(path, 0o700)
    }

    /// True when a process whose real, effective or saved uid is `uid` exists (read from /proc; on
    /// a system without /proc, false).
    static func ownsProcesses(_ uid: UInt32) -> Bool {
        #if os(Linux)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                if let pid = Int32(name), ReplaySweep.uids(pid).contains(uid) { return true }
            }
        #endif
        return false
    }
}
