import Destination
import DrillCore
import Foundation

/// The files cache of format 2 (issue 15), kept per destination in the user's cache folder as
/// `objects-<16 hex of the SHA-256 of the destination path>.json`: what lets a nightly backup reuse
/// the objects of what did not change without reading or compressing it again, as borg's and
/// restic's files caches do.
///
/// - **Packs**: keyed by the *signature* of their members (for each, in order: the path's bytes,
///   type, mode, size, modification and change times in nanoseconds, inode, device and link target;
///   plus the deflate level). A pack whose members all have the same signature is reused without
///   opening them: its object (checked to be a regular file of its recorded size) and the member
///   records the pack's writing made.
/// - **Databases**: keyed by the same facts of the database file and of its `-wal` and `-journal`
///   (or their absence): an unchanged database reuses its record (size, SHA-256, row counts) and
///   its chunk objects without being copied.
/// Every pack and chunk entry also records its object's MD5 and QuickXorHash (the manifest's
/// remote hashes, ``ArtifactRecord/md5``), computed when the object was made, so a reused object's
/// artifact records them without reading it again.
/// - **Chunks**: the SHA-256 of each 256 KiB piece of a database copy names the compressed object
///   made from it, so a database that changed is copied and hashed, but only its changed pieces
///   are compressed and written.
///
/// When the cache is not trusted (nothing is reused; it is written anew at the end): `--no-cache`;
/// a cache written later than now (the clock went back); a file that cannot be read or decoded, or
/// one of another version. A member, database or sidecar changed within ``racyWindow`` seconds of
/// the backup's start is never recorded (a change in the same clock tick could go unseen), and the
/// device and inode in every signature mean a workspace moved to another file system (or restored
/// from a backup) matches nothing. Every object a reuse points at must still be a regular file of
/// its recorded size; a reused database's chunks too. The drill still reads everything it restores.
public final class ObjectReuseCache: @unchecked Sendable {
    /// A pack's object and what writing it recorded.
    struct Pack: Codable, Sendable {
        var object: String
        var size: Int64
        /// The object's MD5 (32 lowercase hex) and QuickXorHash (base64), recorded with it so a
        /// reused pack's artifact carries them without the object being read (version 3).
        var md5: String
        var quickXorHash: String
        var files: [FileRecord]
        var sqliteFiles: [String]
        var warnings: [String]
        var fileCount: Int
        var byteCount: Int64
    }

    /// A database's record and chunk artifacts, as the set that copied it recorded them.
    struct Database: Codable, Sendable {
        var record: DatabaseRecord
        var chunks: [ArtifactRecord]
        /// The SHA-256 of each chunk's piece before compression, in the same order.
        var raw: [String]
    }

    /// A compressed chunk's object.
    struct Chunk: Codable, Sendable {
        var object: String
        var size: Int64
        /// As in ``Pack``: the object's MD5 and QuickXorHash (version 3).
        var md5: String
        var quickXorHash: String

        /// The object's three digests.
        var digests: ArtifactDigests { ArtifactDigests(sha256: object, md5: md5, quickXorHash: quickXorHash) }
    }

    struct Contents: Codable {
        var version = ObjectReuseCache.version
        /// Seconds since 1970 when it was written.
        var writtenAt: Double
        var packs: [String: Pack] = [:]
        var databases: [String: Database] = [:]
        var chunks: [String: Chunk] = [:]
        /// Per object the cache vouches for: its identity when the cache was written
        /// (``ObjectStore/identity(of:)``); an object whose identity changed is not vouched for.
        var identities: [String: String] = [:]
    }

    /// The cache file's version; another is ignored. 3: packs and chunks record their objects' MD5
    /// and QuickXorHash (a reused object's artifact needs them; a version-2 cache is not used).
    static let version = 3
    /// Seconds before the backup's start within which a change makes a file too recent to record.
    static let racyWindow: Double = 2

    private let lock = NSLock()
    private var reused = Set<ObjectDigest>()
    private let old: Contents
    private var new: Contents
    /// The file, or nil for a cache that is neither read nor written (tests, no cache folder).
    let file: String?
    /// The backup's start, seconds since 1970.
    let start: Double

    /// Reads the cache of `destination` from `folder` (nothing to reuse when `folder` is nil,
    /// `ignoring` is set, or the file is missing, unreadable, of another version or from the
    /// future).
    init(folder: String?, destination: String, start: Date, ignoring: Bool = false) {
        self.start = start.timeIntervalSince1970
        file = folder.map {
            "\($0)/objects-\(String(SHA256Digest.hex(of: Data(destination.utf8)).prefix(16))).json"
        }
        var loaded = Contents(writtenAt: self.start)
        if !ignoring, let file, let data = FileManager.default.contents(atPath: file),
            let decoded = try? JSONDecoder().decode(Contents.self, from: data), decoded.version == Self.version,
            decoded.writtenAt <= Date().timeIntervalSince1970 + 1
        {
            loaded = decoded
        }
        old = loaded
        new = Contents(writtenAt: self.start)
    }

    /// The objects this run reused because the cache vouched for them: a set sealed after the
    /// cache was last written made them durable, so they need no `fsync` again.
    var vouched: Set<ObjectDigest> { lock.withLock { reused } }

    private func vouch(_ digests: [ObjectDigest]) { lock.withLock { reused.formUnion(digests) } }

    /// True when the object is a regular file of `size` bytes with the identity recorded when the
    /// cache was written (an object replaced, edited or touched since is not vouched for).
    private func stillAsRecorded(_ digest: ObjectDigest, size: Int64, store: ObjectStore) -> Bool {
        guard let recorded = old.identities[digest.hex], store.identity(of: digest) == recorded else { return false }
        return recorded.hasSuffix(":\(size)")
    }

    /// True when no fact in `stats` changed within ``racyWindow`` of the start.
    func settled(_ times: [Double]) -> Bool { times.allSatisfy { $0 < start - Self.racyWindow } }

    // MARK: packs

    /// The signature of a pack's members at `level`, or nil when a member cannot be looked at.
    static func packSignature(_ entries: ArraySlice<WalkEntry>, level: Int) -> (key: String, newest: Double) {
        let hasher = SHA256Hasher()
        var newest: Double = 0
        hasher.update(Data("pack v1 level \(level)\n".utf8))
        for e in entries {
            var line = FileNameBytes.bytes(e.relative)
            line += Array(
                " \(e.type.rawValue) \(e.mode) \(e.size) \(e.mtimeSeconds).\(e.mtimeNanoseconds) \(e.ctimeSeconds).\(e.ctimeNanoseconds) \(e.inode) \(e.device) "
                    .utf8)
            line += e.linkTarget.map(FileNameBytes.bytes) ?? []
            line.append(0x0a)
            hasher.update(Data(line))
            newest = max(newest, Double(e.mtimeSeconds), Double(e.ctimeSeconds))
        }
        return (hasher.finalizeHex(), newest)
    }

    /// The cached pack of `key`, when its object is still a regular file of its size.
    func pack(_ key: String, store: ObjectStore) -> Pack? {
        guard let pack = old.packs[key], let digest = ObjectDigest(pack.object),
            stillAsRecorded(digest, size: pack.size, store: store)
        else { return nil }
        vouch([digest])
        return pack
    }

    /// Records a pack for the next backup (only when every member settled before the start).
    func record(pack: Pack, key: String, newest: Double) {
        guard settled([newest]) else { return }
        lock.withLock { new.packs[key] = pack }
    }

    // MARK: databases

    /// The signature of a database file and its sidecars (by path, not following links), with the
    /// newest modification or change time among them; nil when the database cannot be looked at.
    static func databaseSignature(_ path: String) -> (key: String, newest: Double)? {
        var parts: [String] = []
        var newest: Double = 0
        for suffix in ["", "-wal", "-journal"] {
            var st = stat()
            if lstat(path + suffix, &st) != 0 {
                if suffix.isEmpty { return nil }
                parts.append("\(suffix) absent")
                continue
            }
            let (m, c) = WorkspaceWalk.times(st)
            parts.append(
                "\(suffix) \(st.st_mode) \(st.st_size) \(m.0).\(m.1) \(c.0).\(c.1) \(st.st_ino) \(st.st_dev)")
            newest = max(newest, Double(m.0), Double(c.0))
        }
        return (SHA256Digest.hex(of: Data(("database v1 " + path + "\n" + parts.joined(separator: "\n")).utf8)), newest)
    }

    /// The cached database of `key`, when every chunk object is still a regular file of its size
    /// and every chunk's record has its MD5 and QuickXorHash.
    func database(_ key: String, store: ObjectStore) -> Database? {
        guard let db = old.databases[key] else { return nil }
        var digests: [ObjectDigest] = []
        for chunk in db.chunks {
            guard chunk.digests != nil, let digest = ObjectDigest(chunk.sha256),
                stillAsRecorded(digest, size: chunk.size, store: store)
            else { return nil }
            digests.append(digest)
        }
        vouch(digests)
        return db
    }

    /// Records a database for the next backup (only when it and its sidecars settled before the start).
    func record(database: Database, key: String, newest: Double) {
        // Its pieces stay known whether or not the database itself may be recorded.
        for (chunk, raw) in zip(database.chunks, database.raw) {
            guard let digests = chunk.digests else { continue }
            record(
                chunk: Chunk(
                    object: chunk.sha256, size: chunk.size, md5: digests.md5, quickXorHash: digests.quickXorHash),
                raw: raw)
        }
        guard settled([newest]) else { return }
        lock.withLock { new.databases[key] = database }
    }

    // MARK: chunks

    /// The compressed object made earlier from the piece whose SHA-256 is `raw`, when it is still a
    /// regular file of its size (and, when an earlier run recorded it, of the recorded identity).
    func chunk(_ raw: String, store: ObjectStore) -> Chunk? {
        // One this run stored (or checked) needs only its size; one of an earlier run its identity.
        let (chunk, thisRun) = lock.withLock { (new.chunks[raw] ?? old.chunks[raw], new.chunks[raw] != nil) }
        guard let chunk, let digest = ObjectDigest(chunk.object),
            thisRun
                ? store.reuse(ObjectRef(digest: digest, size: chunk.size), verifyHash: false) == .ok
                : stillAsRecorded(digest, size: chunk.size, store: store)
        else { return nil }
        lock.withLock { new.chunks[raw] = chunk }
        vouch([digest])
        return chunk
    }

    /// Records the object made from the piece whose SHA-256 is `raw`.
    func record(chunk: Chunk, raw: String) { lock.withLock { new.chunks[raw] = chunk } }

    // MARK: file

    /// Removes the files cache of `destination` in `folder` (nothing when there is none): what a
    /// `check` or a drill does when it finds a damaged object, so that the next backup trusts no
    /// cached pack, database or piece and reads every object it reuses in full
    /// (``ExistingObjectCheck/digest``), writing the damaged one again from the source. The cache
    /// vouches for an object by its size only, which bit rot keeps.
    /// - Parameters:
    ///   - folder: the user's cache folder (``BackupEngine/defaultDependencyCache(environment:)``).
    ///   - destination: the destination folder, as the backup names it (absolute, normalised).
    public static func forget(folder: String, destination: String) {
        let cache = ObjectReuseCache(folder: folder, destination: destination, start: Date(), ignoring: true)
        if let file = cache.file { unlink(file) }
    }

    /// Writes what this backup recorded (and nothing of the old cache it did not use), 0600, through a
    /// temporary name. A failure is not the backup's: the next one reads and compresses more.
    func save(store: ObjectStore) {
        guard let file else { return }
        // The identity of every object an entry vouches for, as the sealed set left it.
        lock.withLock {
            let digests =
                new.packs.values.map(\.object) + new.databases.values.flatMap { $0.chunks.map(\.sha256) }
                + new.chunks.values.map(\.object)
            for hex in Set(digests) {
                if let digest = ObjectDigest(hex), let identity = store.identity(of: digest) {
                    new.identities[hex] = identity
                }
            }
        }
        let folder = PathText.parent(of: file)
        try? FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard let data = try? lock.withLock({ try JSONEncoder().encode(new) }) else { return }
        try? AtomicFile.write(data, to: file, mode: 0o600)
    }
}
