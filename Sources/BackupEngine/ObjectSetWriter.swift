import Destination
import DrillCore
import Foundation

/// Format 2 (docs/SET-FORMAT.md, "Format 2"): stores a set's artifacts as content-addressed objects
/// of the destination's ``ObjectStore``, shared by every set that needs the same bytes, instead of
/// files in the set folder.
///
/// - **Code** in packs (``PackPlanner``): the files and links, in the archive's order, cut where a
///   hash of the path says (so an edit changes one pack), each an independent pax tar.gz written
///   by ``CodePackWriter``, named `code/pack-NNNN.tar.gz`; then every folder in one last pack,
///   `code/folders.tar.gz`, which the restore extracts last, so the folders' modes and times are
///   set after their contents are in place.
/// - **Databases** in chunks of ``chunkSize`` bytes of the online-backup copy, each compressed
///   into one gzip member (``GzipMember``, level ``chunkLevel``), named `<base>.chunk-NNNN` with
///   `compression: gzip`: the copy's page order is stable, so a database that gained a few rows
///   changes a few chunks and an unchanged one none.
/// - **Everything else** (LaunchAgents, dependency lists, shell files, the vault) is written into
///   the set folder by its collector as in format 1, then moved into an object
///   (``adopt(_:in:)``). The restore script alone stays in the set folder.
///
/// Reusing an object is checked (issue 15): an object already there is kept only when it is a
/// regular file of the right size whose SHA-256 matches its name (``ExistingObjectCheck/digest``);
/// a missing or damaged one is written again from the source.
struct ObjectSetWriter: Sendable {
    /// Bytes of the database copy per chunk: 128 KiB. Measured (docs/SET-FORMAT.md, "how packs and
    /// chunks were sized"): `ci/bench --history 30` ended at 1.12 x restic's repository with 256 KiB
    /// chunks, the changed pages of a growing database being spread over the file; halving the
    /// chunk halves what a day's changed pages drag in, for twice the objects (about 9 400 per GB).
    static let chunkSize = 128 << 10
    /// The deflate level of database chunks: 1. Measured on the bench workspace (277 MB of
    /// databases, first full backup, 2 cores): level 6 took 8.3 CPU-seconds and left 157 MB in the
    /// destination, level 1 4.5 CPU-seconds and 160 MB (database pages gain little from the
    /// slower levels: GNU gzip -1 / -6 of the 194 MB database give 114 / 110 MB).
    static let chunkLevel = 1
    /// The name of the pack of folders, always the last of the code component's packs.
    static let foldersPack = "code/folders.tar.gz"

    let store: ObjectStore
    /// The deflate level of code packs (`code.compression_level`).
    let level: Int
    /// Receives the identity of the temporary files written in the partial folder.
    var log: WrittenFileLog? = nil
    /// The files cache: packs, databases and chunks reused without being read again; nil for none.
    var cache: ObjectReuseCache? = nil

    /// The name of pack `number` (1-based): `code/pack-0001.tar.gz`.
    static func packName(_ number: Int) -> String { "code/pack-" + String(format: "%04d", number) + ".tar.gz" }

    /// What the code component stored.
    struct Code: Sendable {
        var artifacts: [ArtifactRecord]
        var written: [CodeTarWriter.Written]
    }

    /// Writes the code entries as packs and stores each as an object.
    /// - Parameters:
    ///   - entries: the walk entries of the code component, in the archive's order.
    ///   - work: a folder of the partial set for the packs' temporary files.
    ///   - progress: one-line messages.
    ///   - bytes: source bytes archived (for the byte meter).
    /// - Returns: one artifact per pack (the folders' pack last) and what each pack's writing found,
    ///   in the same order.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when a pack or an object cannot be written.
    func writeCode(
        _ entries: [WalkEntry], work: String, progress: @escaping @Sendable (String) -> Void,
        bytes: @escaping @Sendable (Int64) -> Void
    ) async throws -> Code {
        let contents = entries.filter { $0.type != .directory }
        let folders = entries.filter { $0.type == .directory }
        var runs: [(name: String, entries: ArraySlice<WalkEntry>)] = CodePackWriter.plan(contents).enumerated().map {
            (Self.packName($0.offset + 1), contents[$0.element.entries])
        }
        if !folders.isEmpty { runs.append((Self.foldersPack, folders[...])) }
        let (store, level, log, cache) = (self.store, self.level, self.log, self.cache)
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var results = [(ArtifactRecord, CodeTarWriter.Written)?](repeating: nil, count: runs.count)
        var reused = 0
        try await withThrowingTaskGroup(of: (Int, ArtifactRecord, CodeTarWriter.Written, Bool).self) { group in
            var next = 0
            var running = 0
            while next < runs.count || running > 0 {
                while running < width && next < runs.count {
                    let index = next
                    let run = runs[index]
                    next += 1
                    running += 1
                    group.addTask {
                        let signature = ObjectReuseCache.packSignature(run.entries, level: level)
                        if let cached = cache?.pack(signature.key, store: store) {
                            cache?.record(pack: cached, key: signature.key, newest: signature.newest)
                            bytes(cached.byteCount)
                            let digests = ArtifactDigests(
                                sha256: cached.object, md5: cached.md5, quickXorHash: cached.quickXorHash)
                            let written = CodeTarWriter.Written(
                                size: cached.size, digests: digests, files: cached.files,
                                sqliteFiles: cached.sqliteFiles, warnings: cached.warnings, failures: [], changed: [],
                                vanished: [], fileCount: cached.fileCount, byteCount: cached.byteCount)
                            let artifact = ArtifactRecord(
                                path: run.name, component: .code, kind: .pack, size: cached.size, digests: digests)
                            return (index, artifact, written, true)
                        }
                        let path = "\(work)/pack-\(index + 1).tar.gz"
                        defer { unlink(path) }
                        let written = try await CodePackWriter(level: level, log: log).write(run.entries, to: path)
                        bytes(written.byteCount)
                        let stored = try store.put(contentsOf: path, existing: .digest)
                        guard stored.ref.digest.hex == written.sha256, stored.ref.size == written.size else {
                            throw RestoreDrillError.io(
                                path: path, message: "changed between its writing and its storing as an object")
                        }
                        // The object's bytes are the pack's: the digests hashed as it was written.
                        let artifact = ArtifactRecord(
                            path: run.name, component: .code, kind: .pack, size: written.size,
                            digests: written.digests)
                        if written.failures.isEmpty && written.changed.isEmpty && written.vanished.isEmpty
                            && written.settleWarnings.isEmpty
                        {
                            cache?.record(
                                pack: ObjectReuseCache.Pack(
                                    object: written.sha256, size: written.size, md5: written.digests.md5,
                                    quickXorHash: written.digests.quickXorHash, files: written.files,
                                    sqliteFiles: written.sqliteFiles, warnings: written.warnings,
                                    fileCount: written.fileCount, byteCount: written.byteCount),
                                key: signature.key, newest: signature.newest)
                        }
                        return (index, artifact, written, false)
                    }
                }
                if let (index, artifact, written, fromCache) = try await group.next() {
                    results[index] = (artifact, written)
                    running -= 1
                    if fromCache { reused += 1 }
                    if index % 10 == 9 { progress("code: \(index + 1)/\(runs.count) packs") }
                }
            }
        }
        progress(
            "code: \(runs.count) packs, \(reused) of them reused from the files cache, \(runs.count - reused) written")
        return Code(artifacts: results.map { $0!.0 }, written: results.map { $0!.1 })
    }

    /// Backs up one database as chunk objects: reused from the files cache when it and its
    /// sidecars are unchanged (``ObjectReuseCache/databaseSignature(_:)``), otherwise copied into a
    /// transient file (``DatabaseCopier/copyTransient(_:index:workFolder:use:)``) and cut
    /// (``storeDatabase(at:base:)``), and recorded in the cache when nothing changed meanwhile.
    /// - Parameters:
    ///   - entry: the database file; `index` its 1-based number; `base` its artifact name in the set.
    /// - Returns: its record and chunk artifacts, named as this set names the database.
    /// - Throws: ``DatabaseCopyFailure`` for a problem with the source; ``RestoreDrillError`` when
    ///   an object cannot be written.
    func backUpDatabase(
        _ entry: WalkEntry, index: Int, base: String, copier: DatabaseCopier, workFolder: String,
        say: (String) -> Void
    ) throws -> DatabaseCopier.Stored {
        let signature = cache == nil ? nil : ObjectReuseCache.databaseSignature(entry.absolute.pathString)
        if let signature, let cache, let cached = cache.database(signature.key, store: store),
            cached.record.path == entry.relative
        {
            cache.record(database: cached, key: signature.key, newest: signature.newest)
            say("databases: \(entry.relative) unchanged: reused from the files cache")
            // Named as this set names the database (made-up names depend on the other databases).
            var chunks = cached.chunks
            for k in chunks.indices { chunks[k].path = SetNames.chunkName(base, k + 1) }
            var record = cached.record
            record.chunks = chunks.map(\.path)
            return DatabaseCopier.Stored(record: record, artifacts: chunks)
        }
        let (cut, tables) = try copier.copyTransient(entry, index: index, workFolder: workFolder) {
            try storeDatabase(at: $0, base: base)
        }
        let record = DatabaseRecord(
            base: .root, path: entry.relative, size: cut.size, sha256: cut.sha256, artifact: nil,
            chunks: cut.chunks.map(\.path), tables: tables, mode: entry.mode & 0o777)
        // Recorded only when nothing changed while it was copied.
        if let signature, let cache,
            ObjectReuseCache.databaseSignature(entry.absolute.pathString)?.key == signature.key
        {
            cache.record(
                database: ObjectReuseCache.Database(record: record, chunks: cut.chunks, raw: cut.raw),
                key: signature.key, newest: signature.newest)
        }
        return DatabaseCopier.Stored(record: record, artifacts: cut.chunks)
    }

    /// Cuts the database copy at `path` into ``chunkSize`` pieces, compresses each into a gzip
    /// member and stores it as an object.
    /// - Parameters:
    ///   - path: the whole copy (the tool's own file in the partial set).
    ///   - base: the database's artifact name (``SetNames/databaseBases(_:)``); chunks are `<base>.chunk-NNNN`.
    /// - Returns: the chunk artifacts, in the order the restore concatenates them, the SHA-256 of
    ///   each chunk's piece before compression (the files cache's key), and the whole copy's
    ///   SHA-256 and size in bytes (hashed in the same read).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the copy cannot be read or an object
    ///   cannot be written.
    func storeDatabase(
        at path: String, base: String
    ) throws -> (chunks: [ArtifactRecord], raw: [String], sha256: String, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var artifacts: [ArtifactRecord] = []
        var raws: [String] = []
        let whole = SHA256Hasher()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: Self.chunkSize)
        while true {
            var filled = 0
            while filled < Self.chunkSize {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, Self.chunkSize - filled) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
                }
                if n == 0 { break }
                filled += n
            }
            if filled == 0 && !artifacts.isEmpty { break }
            let piece = Array(buffer[0..<filled])
            piece.withUnsafeBytes { whole.update($0.baseAddress!, count: filled) }
            size += Int64(filled)
            let raw = SHA256Digest.hex(of: Data(piece))
            raws.append(raw)
            let size: Int64
            let digests: ArtifactDigests
            if let cached = cache?.chunk(raw, store: store), ObjectDigest(cached.object) != nil {
                (size, digests) = (cached.size, cached.digests)
            } else {
                let member = Data(try GzipMember.compress(piece, level: Self.chunkLevel))
                // The object's three digests in one pass over the member; the store takes the
                // SHA-256 from them instead of hashing the member again before it looks for it.
                let hashed = ArtifactDigests.of(member)
                let known = ObjectRef(digest: ObjectDigest(hashed.sha256)!, size: Int64(member.count))
                let ref = try store.put(member, existing: .digest, knownRef: known).ref
                guard ref == known else {
                    throw RestoreDrillError.io(path: path, message: "a chunk's object is not the bytes hashed")
                }
                (size, digests) = (ref.size, hashed)
                cache?.record(
                    chunk: ObjectReuseCache.Chunk(
                        object: ref.digest.hex, size: ref.size, md5: hashed.md5, quickXorHash: hashed.quickXorHash),
                    raw: raw)
            }
            artifacts.append(
                ArtifactRecord(
                    path: SetNames.chunkName(base, artifacts.count + 1), component: .databases, kind: .chunk,
                    size: size, digests: digests, compression: .gzip))
            if filled < Self.chunkSize { break }
        }
        return (artifacts, raws, whole.finalizeHex(), size)
    }

    /// Moves an artifact its collector wrote into the set folder into an object: stored (its
    /// SHA-256 checked against the one recorded as it was written), then removed from the folder.
    /// - Parameters:
    ///   - artifact: the record as the collector made it (its path relative to `partial`).
    ///   - partial: the partial set folder.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be stored, or its bytes are
    ///   no longer the ones recorded.
    func adopt(_ artifact: ArtifactRecord, in partial: String) throws {
        let path = "\(partial)/\(artifact.path)"
        let stored = try store.put(contentsOf: path, existing: .digest)
        guard stored.ref.digest.hex == artifact.sha256, stored.ref.size == artifact.size else {
            throw RestoreDrillError.io(
                path: path, message: "changed between its writing and its storing as an object")
        }
        unlink(path)
    }

    /// Removes the folders `adopt` emptied, deepest first, below `partial` (never `partial`).
    static func removeEmptyFolders(in partial: String, for paths: [String]) {
        var folders = Set<String>()
        for path in paths {
            var parent = PathText.parent(of: path)
            while !parent.isEmpty && parent != "." {
                folders.insert(parent)
                parent = PathText.parent(of: parent)
            }
        }
        for folder in folders.sorted(by: { $0.count > $1.count }) { rmdir("\(partial)/\(folder)") }
    }
}
