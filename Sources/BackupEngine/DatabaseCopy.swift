import CChunkVFS
import CSQLite
import DrillCore
import Foundation

/// The `databases` component for one database: an online-backup copy, switched to rollback-journal
/// mode, counted, then stored whole or in chunks.
///
/// The copy is made with `sqlite3_backup_step(-1)` from a read-only connection, so it is one
/// consistent snapshot that includes transactions still only in the source's `-wal` file. The
/// temporary copy lives in the set's `.partial-<id>/.work/` folder and is moved (small) or cut
/// into chunks (large; stored uncompressed: a database compresses poorly for its cost and the
/// restore script reassembles chunks with `cat`); nothing is held in memory.
struct DatabaseCopier: Sendable {
    let root: String
    let smallLimit: Int64
    let chunkSize: Int64
    /// Seconds to wait for a lock held by another connection before giving up.
    let busyTimeout: Double
    /// Receives the identity of every artifact written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil

    struct Stored: Sendable {
        var record: DatabaseRecord
        var artifacts: [ArtifactRecord]
    }

    /// Copies one database.
    /// - Parameters:
    ///   - entry: the source file (relative to root).
    ///   - index: 1-based number, used for temporary names.
    ///   - base: the database's artifact name in the set (``SetNames/databaseBases(_:)``).
    /// - Returns: the record and its artifacts.
    /// - Throws: ``DatabaseCopyFailure`` for a problem with the source (the component fails, other
    ///   databases continue); ``RestoreDrillError/io(path:message:)`` when the set cannot be written.
    func copy(_ entry: WalkEntry, index: Int, base: String, setFolder: String, workFolder: String) throws -> Stored {
        // A database that will surely be cut into chunks is copied straight into them.
        if entry.size >= max(smallLimit, chunkSize),
            let stored = try copyIntoChunks(entry, base: base, setFolder: setFolder, workFolder: workFolder)
        {
            return stored
        }
        let temp = "\(workFolder)/db-\(index).sqlite"
        defer {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temp + suffix) }
        }
        let tables = try snapshot(source: entry.absolute.pathString, into: temp, name: entry.relative)
        let mode = entry.mode & 0o777
        var st = stat()
        guard stat(temp, &st) == 0 else {
            throw RestoreDrillError.io(path: temp, message: String(cString: strerror(errno)))
        }
        let size = Int64(st.st_size)
        let target = "\(setFolder)/\(base)"
        try SetNames.makeParent(of: target)
        if size < smallLimit {
            let (digests, _) = try ArtifactDigests.file(at: temp)
            Durability.startWriteback(path: temp)
            guard rename(temp, target) == 0 else {
                throw RestoreDrillError.io(path: target, message: String(cString: strerror(errno)))
            }
            // SQLite wrote and closed the copy (no descriptor at hand): `lstat` of the path right
            // after the rename, which keeps the inode.
            log?.recordPath(target)
            let record = DatabaseRecord(
                base: .root, path: entry.relative, size: size, sha256: digests.sha256, artifact: base, chunks: [],
                tables: tables, mode: mode)
            return Stored(
                record: record,
                artifacts: [
                    ArtifactRecord(path: base, component: .databases, kind: .database, size: size, digests: digests)
                ]
            )
        }
        // Chunks: each chunk is hashed as it is read (and the whole file in the same pass), its
        // bytes moved by the kernel when it can; nothing is held in memory.
        let whole = SHA256Hasher()
        var artifacts: [ArtifactRecord] = []
        var offset: Int64 = 0
        var number = 1
        repeat {
            let name = SetNames.chunkName(base, number)
            let length = min(chunkSize, size - offset)
            let digests = try ChunkCopy.copy(
                from: temp, offset: offset, length: length, to: "\(setFolder)/\(name)", alsoHashing: whole,
                log: log)
            artifacts.append(
                ArtifactRecord(path: name, component: .databases, kind: .chunk, size: length, digests: digests))
            offset += length
            number += 1
        } while offset < size
        let record = DatabaseRecord(
            base: .root, path: entry.relative, size: size, sha256: whole.finalizeHex(), artifact: nil,
            chunks: artifacts.map(\.path), tables: tables, mode: mode)
        return Stored(record: record, artifacts: artifacts)
    }

    /// Format 2: copies one database (online backup, rollback-journal mode, counted) into a
    /// transient file of `workFolder`, hands its path to `use` and removes it. The file is never
    /// synced or renamed into the set (its chunks become objects), so its pages may never reach the
    /// disk at all.
    /// - Returns: what `use` returned and the tables' row counts.
    /// - Throws: ``DatabaseCopyFailure`` for a problem with the source; what `use` throws.
    func copyTransient<T>(
        _ entry: WalkEntry, index: Int, workFolder: String, use: (String) throws -> T
    ) throws -> (T, tables: [TableCount]) {
        let temp = "\(workFolder)/db-\(index).sqlite"
        defer {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temp + suffix) }
        }
        let tables = try snapshot(source: entry.absolute.pathString, into: temp, name: entry.relative)
        return (try use(temp), tables)
    }

    /// Copies a large database with `sqlite3_backup` through the chunk VFS (``CChunkVFS``): the
    /// copy is written once, straight into `<base>.chunk-0001`, `-0002`, … in the set, instead of
    /// into a temporary file that is then cut (the bench's 185 MB database: 185 MB fewer bytes
    /// written and read). The chunks are then read once to hash each chunk and the whole file.
    /// - Returns: the record and its artifacts; nil when the copy came out under `smallLimit`
    ///   (its chunks are removed and the caller stores it whole, as the rule says).
    /// - Throws: as ``copy(_:index:base:setFolder:workFolder:)``.
    func copyIntoChunks(_ entry: WalkEntry, base: String, setFolder: String, workFolder: String) throws
        -> Stored?
    {
        guard rd_chunkvfs_register() == SQLITE_OK else { return nil }
        let target = "\(setFolder)/\(base)"
        try SetNames.makeParent(of: target)
        // The journal or WAL files SQLite may make beside the copy are removed with the chunks' name.
        defer {
            for suffix in ["-journal", "-wal", "-shm"] { unlink(target + suffix) }
        }
        let tables: [TableCount]
        do {
            tables = try snapshot(
                source: entry.absolute.pathString, into: "file:" + Self.uriPath(target) + "?chunk_size=\(chunkSize)",
                name: entry.relative, vfs: RD_CHUNK_VFS_NAME, firstChunk: SetNames.chunkName(target, 1))
        } catch is RestoreDrillError {
            // The copy could not be made through the chunk VFS (e.g. a path longer than SQLite's
            // 512-byte limit for a URI): the caller copies it the usual way instead.
            Self.removeChunks(of: target)
            return nil
        } catch {
            Self.removeChunks(of: target)
            throw error
        }
        var names: [String] = []
        for number in 1... {
            let name = SetNames.chunkName(base, number)
            // The chunk VFS (C) wrote and closed the chunks: `lstat` of each path right after the
            // copy is what is recorded (no descriptor at hand).
            guard let identity = FileIdentity.of(path: "\(setFolder)/\(name)") else { break }
            log?.record("\(setFolder)/\(name)", identity)
            names.append(name)
        }
        // Two readers at once over the chunks (in the page cache): one hashes each chunk, the
        // other the whole file, so the two SHA-256 passes take one pass's time.
        let paths = names.map { "\(setFolder)/\($0)" }
        let results = HashResults(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: 2) { reader in
            do {
                if reader == 0 {
                    for (i, path) in paths.enumerated() { results.setChunk(i, try ChunkCopy.hash(path)) }
                } else {
                    let whole = SHA256Hasher()
                    for path in paths { _ = try ChunkCopy.feed(path, into: whole) }
                    results.setWhole(whole.finalizeHex())
                }
            } catch {
                results.fail(error)
            }
        }
        let (chunks, wholeSHA) = try results.get()
        var artifacts: [ArtifactRecord] = []
        var size: Int64 = 0
        for (name, (digests, length)) in zip(names, chunks) {
            artifacts.append(
                ArtifactRecord(path: name, component: .databases, kind: .chunk, size: length, digests: digests))
            size += length
        }
        if size < smallLimit {
            Self.removeChunks(of: target)
            return nil
        }
        let record = DatabaseRecord(
            base: .root, path: entry.relative, size: size, sha256: wholeSHA, artifact: nil,
            chunks: artifacts.map(\.path), tables: tables, mode: entry.mode & 0o777)
        return Stored(record: record, artifacts: artifacts)
    }

    /// What the two chunk readers of ``copyIntoChunks(_:base:setFolder:workFolder:)`` found.
    private final class HashResults: @unchecked Sendable {
        private let lock = NSLock()
        private var chunks: [(ArtifactDigests, Int64)?]
        private var whole: String?
        private var error: (any Error)?

        init(count: Int) { chunks = Array(repeating: nil, count: count) }
        func setChunk(_ i: Int, _ value: (ArtifactDigests, Int64)) { lock.withLock { chunks[i] = value } }
        func setWhole(_ value: String) { lock.withLock { whole = value } }
        func fail(_ e: any Error) { lock.withLock { error = error ?? e } }

        /// The chunk hashes and sizes in order and the whole file's hash.
        /// - Throws: the first error a reader met.
        func get() throws -> ([(ArtifactDigests, Int64)], String) {
            try lock.withLock {
                if let error { throw error }
                return (chunks.map { $0! }, whole!)
            }
        }
    }

    /// Sets the file format versions (bytes 18 and 19 of page 1) of the database file whose first
    /// bytes are in `path` to 1 (rollback journal) when they say 2 (WAL).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be read or written.
    static func setRollbackVersions(_ path: String) throws {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var versions: (UInt8, UInt8) = (0, 0)
        guard pread(fd, &versions, 2, 18) == 2 else {
            throw RestoreDrillError.io(path: path, message: "cannot read the database header")
        }
        guard versions == (2, 2) else { return }
        var legacy: (UInt8, UInt8) = (1, 1)
        guard pwrite(fd, &legacy, 2, 18) == 2 else {
            throw RestoreDrillError.io(path: path, message: "cannot write the database header")
        }
    }

    /// Removes `<target>.chunk-0001`, `-0002`, … up to the first that does not exist.
    private static func removeChunks(of target: String) {
        for number in 1... {
            if unlink(SetNames.chunkName(target, number)) != 0 { break }
        }
    }

    /// `path` for a `file:` URI (RFC 3986 as SQLite reads it: `%`, `?` and `#` percent-encoded).
    static func uriPath(_ path: String) -> String {
        var out = ""
        for c in path.unicodeScalars {
            switch c {
            case "%": out += "%25"
            case "?": out += "%3f"
            case "#": out += "%23"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Makes the consistent copy at `temp` (a path, or with `vfs` a `file:` URI), sets
    /// `journal_mode=DELETE`, and counts rows.
    /// - Returns: tables (sorted by name) and their row counts.
    /// - Parameter firstChunk: with `vfs`, the path of the copy's first chunk (its page 1).
    private func snapshot(
        source: String, into temp: String, name: String, vfs: String? = nil, firstChunk: String? = nil
    ) throws -> [TableCount] {
        var srcHandle: OpaquePointer?
        defer { sqlite3_close_v2(srcHandle) }
        var rc = sqlite3_open_v2(source, &srcHandle, SQLITE_OPEN_READONLY, nil)
        guard rc == SQLITE_OK, let src = srcHandle else {
            throw DatabaseCopyFailure(path: name, message: "cannot open: \(Self.message(srcHandle, rc))")
        }
        sqlite3_busy_timeout(src, Int32(busyTimeout * 1000))
        var dstHandle: OpaquePointer?
        defer { sqlite3_close_v2(dstHandle) }
        rc = sqlite3_open_v2(
            temp, &dstHandle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | (vfs == nil ? 0 : SQLITE_OPEN_URI), vfs)
        guard rc == SQLITE_OK, var dst = dstHandle else {
            throw RestoreDrillError.io(path: temp, message: "cannot create the copy: \(Self.message(dstHandle, rc))")
        }
        // The copy is a new temporary file that is thrown away on any failure, so it needs no
        // rollback journal and no fsync per transaction (with the defaults, FULL and DELETE, the
        // 185 MB bench database took 0.95 s to copy instead of 0.47 s). Its journal mode is set
        // to DELETE below, which is what the set stores.
        _ = try Self.query(dst, "PRAGMA synchronous=OFF", path: name)
        _ = try Self.query(dst, "PRAGMA journal_mode=OFF", path: name)
        guard let backup = sqlite3_backup_init(dst, "main", src, "main") else {
            throw DatabaseCopyFailure(
                path: name, message: "backup cannot start: \(Self.message(dst, sqlite3_errcode(dst)))")
        }
        let deadline = Date().addingTimeInterval(busyTimeout)
        repeat {
            rc = sqlite3_backup_step(backup, -1)
            if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && Date() < deadline { usleep(50_000) }
        } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && Date() < deadline
        let finish = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else {
            let code = rc == SQLITE_DONE ? finish : rc
            if code == SQLITE_BUSY || code == SQLITE_LOCKED {
                throw DatabaseCopyFailure(
                    path: name,
                    message:
                        "locked by another process for more than \(Int(busyTimeout)) s (\(String(cString: sqlite3_errstr(code))))"
                )
            }
            throw DatabaseCopyFailure(
                path: name, message: "backup failed: \(String(cString: sqlite3_errstr(code)))",
                destinationFull: code == SQLITE_FULL || DestinationFull.isFull(errno: sqlite3_system_errno(dst)))
        }
        if vfs != nil, let firstChunk {
            // The copy's page 1 is the source's, so a WAL source leaves file format versions 2
            // (WAL) in bytes 18-19 (https://www.sqlite.org/fileformat2.html#file_format_version_numbers),
            // and opening a WAL needs shared memory the chunk VFS does not have. The copy was
            // written with journal_mode=OFF, so it has no WAL file and no frames: setting the
            // bytes to 1 (legacy) is the whole of what journal_mode=DELETE would do to it. The
            // connection is reopened so no cached page 1 still says WAL.
            rc = sqlite3_close(dst)
            dstHandle = nil
            guard rc == SQLITE_OK else {
                throw RestoreDrillError.io(path: firstChunk, message: "cannot close the copy (\(rc))")
            }
            try Self.setRollbackVersions(firstChunk)
            rc = sqlite3_open_v2(temp, &dstHandle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, vfs)
            guard rc == SQLITE_OK, let reopened = dstHandle else {
                throw RestoreDrillError.io(
                    path: firstChunk, message: "cannot reopen the copy: \(Self.message(dstHandle, rc))")
            }
            dst = reopened
        }
        let mode = try Self.query(dst, "PRAGMA journal_mode=DELETE", path: name).first ?? ""
        guard mode.lowercased() == "delete" else {
            throw DatabaseCopyFailure(path: name, message: "the copy stayed in journal mode \(mode)")
        }
        let names = try Self.query(
            dst, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            path: name)
        var tables: [TableCount] = []
        for table in names {
            let quoted = "\"" + table.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            let count = try Self.query(dst, "SELECT count(*) FROM \(quoted)", path: name).first ?? "0"
            tables.append(TableCount(name: table, rows: Int64(count) ?? 0))
        }
        rc = sqlite3_close(dst)
        dstHandle = nil
        guard rc == SQLITE_OK else { throw RestoreDrillError.io(path: temp, message: "cannot close the copy (\(rc))") }
        return tables
    }

    /// Runs `sql` and returns the first column of each row as text.
    private static func query(_ db: OpaquePointer, _ sql: String, path: String) throws -> [String] {
        var stmt: OpaquePointer?
        defer { sqlite3_finalize(stmt) }
        var rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK else {
            throw DatabaseCopyFailure(path: path, message: "\(sql): \(message(db, rc))")
        }
        var out: [String] = []
        while true {
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw DatabaseCopyFailure(path: path, message: "\(sql): \(message(db, rc))") }
            out.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "")
        }
        return out
    }

    private static func message(_ db: OpaquePointer?, _ rc: Int32) -> String {
        if let db, let text = sqlite3_errmsg(db) { return String(cString: text) }
        return String(cString: sqlite3_errstr(rc))
    }
}

/// A problem with one source database; the `databases` component fails, the others continue.
struct DatabaseCopyFailure: Error, CustomStringConvertible, Sendable {
    /// The database, relative to root.
    var path: String
    var message: String
    /// True when the copy failed because the destination's file system is full (`SQLITE_FULL`,
    /// or SQLite's I/O error with `ENOSPC`/`EDQUOT`): the backup then stops (``DestinationFull``)
    /// instead of failing the component.
    var destinationFull = false
    var description: String { "\(path): \(message)" }
}

/// Naming rules for paths inside a set.
enum SetNames {
    /// The artifact name of each database (`relatives` are their paths relative to root, unique):
    /// `databases/<path>` when the path is safe (``isSafe(_:)``) and does not end like a chunk
    /// (`.chunk-` and four digits, which would fall among another database's chunks), else
    /// `databases/db-<n>.db` with the smallest n no other database uses. No name is another's,
    /// and no name is a chunk of another (`<name>.chunk-NNNN`).
    static func databaseBases(_ relatives: [String]) -> [String] {
        var used = Set<String>()
        var out = [String?](repeating: nil, count: relatives.count)
        for (i, relative) in relatives.enumerated() where isSafe(relative) && !looksLikeChunk(relative) {
            let base = "databases/" + relative
            if used.insert(base).inserted { out[i] = base }
        }
        var n = 1
        for i in out.indices where out[i] == nil {
            var base = "databases/db-\(n).db"
            while used.contains(base) {
                n += 1
                base = "databases/db-\(n).db"
            }
            used.insert(base)
            out[i] = base
        }
        return out.map { $0! }
    }

    /// The name of chunk `number` (1-based) of the database stored as `base`: `<base>.chunk-0001`,
    /// … (the names the chunk VFS in `Sources/CChunkVFS` writes, and the order the restore script
    /// concatenates).
    static func chunkName(_ base: String, _ number: Int) -> String {
        base + ".chunk-" + String(format: "%04d", number)
    }

    /// True when `name` ends with `.chunk-` and four digits.
    static func looksLikeChunk(_ name: String) -> Bool {
        let tail = name.suffix(11)
        guard tail.count == 11, tail.hasPrefix(".chunk-") else { return false }
        return tail.dropFirst(7).allSatisfy { $0 >= "0" && $0 <= "9" }
    }

    /// True when `relative` can be used as-is inside a set path and a `SHA256SUMS` line: printable
    /// ASCII (0x20–0x7E) without a backslash, no leading `-`, no empty, `.` or `..` component.
    static func isSafe(_ relative: String) -> Bool {
        guard !relative.isEmpty, !relative.hasPrefix("-") else { return false }
        guard relative.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7e && $0 != 0x5c }) else { return false }
        return !relative.split(separator: "/", omittingEmptySubsequences: false).contains {
            $0.isEmpty || $0 == "." || $0 == ".."
        }
    }

    /// Creates the folders above `path`.
    static func makeParent(of path: String) throws {
        let parent = PathText.parent(of: path)
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw RestoreDrillError.io(path: parent, message: "cannot create the folder: \(error.localizedDescription)")
        }
    }
}

/// Copies one byte range of a file into a new chunk file and hashes it in the same pass.
enum ChunkCopy {
    /// Bytes read (and hashed) per step: 256 KiB, small enough to stay in the CPU's L2 cache.
    static let stepSize = 256 << 10

    /// Copies `length` bytes at `offset` of `source` into `target` (created, must not exist).
    /// The bytes are read once for the SHA-256; on Linux the kernel then copies the same range
    /// (`copy_file_range`, no second trip through user space), elsewhere they are written.
    /// - Returns: the SHA-256, MD5 and QuickXorHash of the range (``ArtifactDigests``).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a read or write error, or when the
    ///   source is shorter than `offset + length`.
    /// - Parameters:
    ///   - alsoHashing: a second hasher fed the same bytes (the whole file's).
    ///   - log: receives the chunk's identity (`fstat` of the descriptor that wrote it).
    static func copy(
        from source: String, offset: Int64, length: Int64, to target: String, alsoHashing other: SHA256Hasher? = nil,
        log: WrittenFileLog? = nil
    ) throws -> ArtifactDigests {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw RestoreDrillError.io(path: source, message: String(cString: strerror(errno))) }
        defer { close(input) }
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw RestoreDrillError.io(path: target, message: String(cString: strerror(errno))) }
        var closed = false
        defer { if !closed { close(output) } }
        let hasher = ArtifactHasher()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stepSize, alignment: 64)
        defer { buffer.deallocate() }
        var done: Int64 = 0
        while done < length {
            let want = Int(min(Int64(stepSize), length - done))
            let n = pread(input, buffer.baseAddress, want, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw RestoreDrillError.io(
                    path: source, message: n < 0 ? String(cString: strerror(errno)) : "file shrank while it was copied")
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            other?.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            try put(input, output, offset + done, buffer.baseAddress!, n, target)
            done += Int64(n)
        }
        Durability.startWriteback(output)
        log?.record(target, FileIdentity.of(descriptor: output))
        let rc = close(output)
        closed = true
        guard rc == 0 else { throw RestoreDrillError.io(path: target, message: String(cString: strerror(errno))) }
        return hasher.finalize()
    }

    /// Reads the file at `path` once: its digests (``ArtifactDigests``) and size; starts the
    /// file's writeback (``Durability``) as it goes.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a read error.
    static func hash(_ path: String) throws -> (ArtifactDigests, Int64) {
        let hasher = ArtifactHasher()
        let size = try feed(path, startingWriteback: true) { hasher.update($0) }
        return (hasher.finalize(), size)
    }

    /// Reads the file at `path` once into `hasher`.
    /// - Parameter startingWriteback: also start the file's writeback (``Durability``).
    /// - Returns: the bytes read.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a read error.
    static func feed(_ path: String, into hasher: SHA256Hasher, startingWriteback: Bool = false) throws -> Int64 {
        try feed(path, startingWriteback: startingWriteback) { hasher.update($0) }
    }

    /// Reads the file at `path` once, in steps of ``stepSize`` bytes handed to `consume`.
    /// - Parameter startingWriteback: also start the file's writeback (``Durability``).
    /// - Returns: the bytes read.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a read error.
    static func feed(
        _ path: String, startingWriteback: Bool = false, _ consume: (UnsafeRawBufferPointer) -> Void
    ) throws -> Int64 {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        defer { close(input) }
        if startingWriteback { Durability.startWriteback(input) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stepSize, alignment: 64)
        defer { buffer.deallocate() }
        var size: Int64 = 0
        while true {
            let n = read(input, buffer.baseAddress, stepSize)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
            if n == 0 { break }
            consume(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            size += Int64(n)
        }
        return size
    }

    /// Appends `count` bytes (already read into `bytes`, found at `offset` of `input`) to `output`
    /// (``KernelCopy``: the kernel copies them where it can).
    private static func put(
        _ input: Int32, _ output: Int32, _ offset: Int64, _ bytes: UnsafeRawPointer, _ count: Int, _ target: String
    ) throws {
        if let failure = KernelCopy.append(from: input, at: offset, bytes, count: count, to: output) {
            throw RestoreDrillError.io(path: target, message: failure)
        }
    }
}
