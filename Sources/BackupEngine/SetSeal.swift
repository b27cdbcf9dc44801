import DrillCore
import Foundation

/// Which file or folder a path named at one moment: its device and inode (`st_dev`, `st_ino`) and
/// its size in bytes.
///
/// A destination on a drive that is unmounted lazily (`umount -l`, what automounters do when a
/// drive goes away) keeps the descriptors already open on the drive, but its paths then resolve to
/// the empty mount point on the local disk: the same path names another folder, on another
/// device. Comparing these identities is how a backup notices (``SetSeal``).
struct FileIdentity: Sendable, Equatable, CustomStringConvertible {
    /// `st_dev` of the file system holding it.
    var device: UInt64
    /// `st_ino`; nil when a recorded fact did not keep it.
    var inode: UInt64?
    /// `st_size`, bytes.
    var size: Int64

    init(device: UInt64, inode: UInt64?, size: Int64) {
        self.device = device
        self.inode = inode
        self.size = size
    }

    init(_ st: stat) {
        self.init(
            device: UInt64(truncatingIfNeeded: st.st_dev), inode: UInt64(truncatingIfNeeded: st.st_ino),
            size: Int64(st.st_size))
    }

    /// What the open descriptor `fd` is (`fstat`); nil when `fstat` fails.
    static func of(descriptor fd: Int32) -> FileIdentity? {
        var st = stat()
        return fstat(fd, &st) == 0 ? FileIdentity(st) : nil
    }

    /// What `path` names now, the last component not followed (`lstat`); nil when it does not exist
    /// or cannot be reached.
    static func of(path: String) -> FileIdentity? {
        var st = stat()
        return lstat(path, &st) == 0 ? FileIdentity(st) : nil
    }

    /// What `path` leads to now, links followed (`stat`: a destination may be a link to the
    /// folder); nil when it does not exist or cannot be reached.
    static func following(path: String) -> FileIdentity? {
        var st = stat()
        return stat(path, &st) == 0 ? FileIdentity(st) : nil
    }

    /// True when both name the same file: same device and (when both kept it) inode.
    func isSameObject(as other: FileIdentity) -> Bool {
        guard device == other.device else { return false }
        if let inode, let otherInode = other.inode { return inode == otherInode }
        return true
    }

    var description: String { "device \(device) inode \(inode.map(String.init) ?? "?") size \(size)" }
}

/// The identity of every artifact file as it was finished, keyed by its absolute path, recorded by
/// the writers (``HashingFileWriter``, ``ChunkCopy``, the database copier, the vault) for
/// ``SetSeal``. Thread-safe: databases are copied on threads of their own.
final class WrittenFileLog: @unchecked Sendable {
    private let lock = NSLock()
    private var facts: [String: FileIdentity] = [:]

    init() {}

    /// Records what was written at `path` (a later record for the same path replaces it: a code
    /// archive written again after a file changed).
    func record(_ path: String, _ identity: FileIdentity?) {
        guard let identity else { return }
        lock.withLock { facts[path] = identity }
    }

    /// Records what `path` names now (`lstat`), for a writer whose descriptor is not at hand.
    func recordPath(_ path: String) { record(path, FileIdentity.of(path: path)) }

    /// What was recorded for `path`; nil when nothing was.
    func identity(of path: String) -> FileIdentity? { lock.withLock { facts[path] } }
}

/// Points of a backup run where a test can act (unmount the destination); see
/// ``BackupEngine/phaseHook``.
enum BackupPhase: String, Sendable, CaseIterable {
    /// The destination folder exists and its identity is recorded; the partial folder is not made yet.
    case destinationRecorded
    /// The code archive's file is open and about to be written (databases are being copied beside it).
    case writingArtifacts
    /// Every artifact and `SHA256SUMS` are written; the first seal check and the manifest come next.
    case beforeManifest
    /// `manifest.json` is written in the partial folder; the second seal check and the rename come next.
    case beforeRename
    /// The partial folder was renamed to `<destination>/<id>`; the last check comes next.
    case afterRename
}

/// Checks that a set about to be sealed is really where its manifest will say it is: the
/// destination path still leads to the folder recorded at the start of the run, the
/// `.partial-<id>` path still names the folder the run made, and every artifact is at its final
/// path in it with the size, device and inode of what was written.
///
/// Each check compares identities only (`lstat`, no reading of contents), so it costs one system
/// call per artifact.
struct SetSeal: Sendable {
    /// The destination path as configured (standardized).
    var destination: String
    /// What ``destination`` led to at the start of the run (after it was created).
    var destinationIdentity: FileIdentity
    /// `<destination>/.partial-<id>`.
    var partial: String
    /// What ``partial`` named right after the run made it.
    var partialIdentity: FileIdentity
    /// What each writer recorded; an artifact without a record is checked against the manifest's
    /// size and the partial folder's device.
    var written: WrittenFileLog

    /// The most artifact problems named in one message (the rest are counted).
    static let listedArtifacts = 8

    /// What differs for a set in `folder` (``partial`` before the rename, `<destination>/<id>`
    /// after it) holding `files` (paths relative to the set, with the size the manifest records).
    /// - Returns: one `path: what differs` per problem (`missing`, `device 1792 → 65024`,
    ///   `size 123 → 0`, `inode 12 → 13 (another folder at this path)`), the destination first,
    ///   then the set folder, then the artifacts; empty when the set is intact.
    func problems(folder: String, files: [(path: String, size: Int64)]) -> [String] {
        var out: [String] = []
        if let problem = Self.compare(
            destination, now: FileIdentity.following(path: destination), with: destinationIdentity, what: "folder")
        {
            out.append(problem)
        }
        let folderNow = FileIdentity.of(path: folder)
        if let problem = Self.compare(folder, now: folderNow, with: partialIdentity, what: "folder") {
            out.append(problem)
            // The artifacts cannot be where the manifest says when their folder is gone: name them
            // only when the folder is there (another folder at the path is named above).
            if folderNow == nil { return out }
        }
        var artifactProblems: [String] = []
        for file in files {
            let path = "\(folder)/\(file.path)"
            // Facts are recorded under the partial folder's paths (where they were written).
            let fact = written.identity(of: "\(partial)/\(file.path)")
            let expected = FileIdentity(
                device: fact?.device ?? partialIdentity.device, inode: fact?.inode, size: fact?.size ?? file.size)
            var st = stat()
            guard lstat(path, &st) == 0 else {
                artifactProblems.append("\(path): missing")
                continue
            }
            guard st.st_mode & S_IFMT == S_IFREG else {
                artifactProblems.append("\(path): not a regular file")
                continue
            }
            let now = FileIdentity(st)
            var differences: [String] = []
            if now.device != expected.device { differences.append("device \(expected.device) → \(now.device)") }
            if let inode = expected.inode, let nowInode = now.inode, inode != nowInode {
                differences.append("inode \(inode) → \(nowInode) (another file at this path)")
            }
            if now.size != expected.size { differences.append("size \(expected.size) → \(now.size)") }
            if expected.size != file.size {
                differences.append("written \(expected.size) bytes, the manifest says \(file.size)")
            }
            if !differences.isEmpty { artifactProblems.append("\(path): " + differences.joined(separator: ", ")) }
        }
        out += artifactProblems.prefix(Self.listedArtifacts)
        if artifactProblems.count > Self.listedArtifacts {
            out.append("and \(artifactProblems.count - Self.listedArtifacts) more artifacts")
        }
        return out
    }

    /// ``problems(folder:files:)`` for the artifacts of `manifest` and `SHA256SUMS`.
    func problems(folder: String, manifest: Manifest) -> [String] {
        // Format 2's objects are not in the folder (the engine checks them before sealing).
        var files = manifest.artifacts.filter { !manifest.isObject($0) }.map { (path: $0.path, size: $0.size) }
        // SHA256SUMS is not an artifact of the manifest; its size is what its writer recorded.
        if let sums = written.identity(of: "\(partial)/\(SetSeal.sumsName)") {
            files.append((path: SetSeal.sumsName, size: sums.size))
        }
        return problems(folder: folder, files: files)
    }

    /// Throws when ``problems(folder:manifest:)`` finds any.
    /// - Parameter stage: when the check ran, for the message (`before the manifest was written`).
    /// - Throws: ``RestoreDrillError/destinationVanished(path:message:)`` naming the destination
    ///   and listing every problem.
    func verify(folder: String, manifest: Manifest, stage: String) throws {
        let found = problems(folder: folder, manifest: manifest)
        guard !found.isEmpty else { return }
        throw RestoreDrillError.destinationVanished(
            path: destination,
            message: "the destination changed \(stage), so the set is not sealed: " + found.joined(separator: "; "))
    }

    /// True when `path` still names the folder the run made (same device and inode).
    func isOurFolder(_ path: String) -> Bool {
        FileIdentity.of(path: path).map { $0.isSameObject(as: partialIdentity) } ?? false
    }

    /// True when the destination path still leads to the folder recorded at the start.
    var destinationIsUnchanged: Bool {
        FileIdentity.following(path: destination).map { $0.isSameObject(as: destinationIdentity) } ?? false
    }

    static let sumsName = Manifest.checksumListFileName

    /// `path: what differs` between `now` and `recorded`, nil when they name the same object.
    private static func compare(_ path: String, now: FileIdentity?, with recorded: FileIdentity, what: String)
        -> String?
    {
        guard let now else { return "\(path): missing" }
        var differences: [String] = []
        if now.device != recorded.device { differences.append("device \(recorded.device) → \(now.device)") }
        if let inode = recorded.inode, let nowInode = now.inode, inode != nowInode {
            differences.append("inode \(inode) → \(nowInode) (another \(what) at this path)")
        }
        return differences.isEmpty ? nil : "\(path): " + differences.joined(separator: ", ")
    }
}
