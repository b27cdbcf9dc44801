import CSQLite
import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// Large databases are copied by `sqlite3_backup` straight into the set's chunk files through the
/// chunk VFS: the chunks must be exactly the bytes of a plain copy, in order, and hold what was
/// only in the source's `-wal`.
@Suite struct ChunkVFSCopyTests {
    /// A WAL-mode database of about 600 KiB whose last 40 rows are only in its `-wal` (the writer
    /// stays open, autocheckpoint off). Returns the folder, the entry and the open writer.
    func liveDatabase() throws -> (TempFolder, WalkEntry, OpaquePointer) {
        let folder = try TempFolder("rd-chunkvfs")
        let path = folder.path + "/live.db"
        let db = try SQL.open(path)
        try SQL.exec(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0")
        try SQL.exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
        try SQL.exec(
            db,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<150) "
                + "INSERT INTO t(b) SELECT randomblob(3900) FROM n")
        try SQL.exec(db, "PRAGMA wal_checkpoint(TRUNCATE)")
        for _ in 0..<40 { try SQL.exec(db, "INSERT INTO t(b) VALUES (randomblob(100))") }
        let size = try Workspace.size(path)
        let entry = WalkEntry(
            relative: "data/live.db", absolute: try AbsolutePath(validating: path), type: .file, mode: 0o640,
            size: size, mtimeSeconds: 0,
            mtimeNanoseconds: 0, linkTarget: nil, excludedFromCode: false)
        return (folder, entry, db)
    }

    /// A new set folder (with its `.work` folder) in `folder`.
    func setFolder(in folder: TempFolder) throws -> String {
        let set = folder.path + "/set"
        try FileManager.default.createDirectory(atPath: set + "/.work", withIntermediateDirectories: true)
        return set
    }

    @Test func aWALDatabaseLandsInOrderedChunksWithItsWALRows() throws {
        let (folder, entry, writer) = try liveDatabase()
        defer {
            SQL.close(writer)
            folder.remove()
        }
        let set = try setFolder(in: folder)
        // 100 000-byte chunks: not a multiple of the 4096-byte page, so pages straddle chunks.
        let copier = DatabaseCopier(root: folder.path, smallLimit: 50_000, chunkSize: 100_000, busyTimeout: 5)
        let stored = try copier.copy(
            entry, index: 1, base: "databases/data/live.db", setFolder: set, workFolder: set + "/.work")
        let record = stored.record
        #expect(record.artifact == nil)
        #expect(record.chunks.count == Int((record.size + 99_999) / 100_000))
        #expect(record.chunks.count >= 6)
        #expect(record.chunks.first == "databases/data/live.db.chunk-0001")
        var whole = Data()
        for (chunk, artifact) in zip(record.chunks, stored.artifacts) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: set + "/" + chunk))
            #expect(artifact.path == chunk)
            #expect(artifact.sha256 == SHA256Digest.hex(of: bytes))
            #expect(Int64(bytes.count) == artifact.size)
            whole += bytes
        }
        #expect(stored.artifacts.dropLast().allSatisfy { $0.size == 100_000 })
        #expect(SHA256Digest.hex(of: whole) == record.sha256)
        #expect(Int64(whole.count) == record.size)
        // The reassembled copy is a sound database in rollback-journal mode with every row.
        let copy = folder.path + "/reassembled.db"
        try whole.write(to: URL(fileURLWithPath: copy))
        #expect(whole[18] == 1 && whole[19] == 1)
        let (integrity, rows, mode) = try SQL.with(copy) { db in
            (
                try SQL.scalar(db, "PRAGMA integrity_check"), try SQL.scalar(db, "SELECT count(*) FROM t"),
                try SQL.scalar(db, "PRAGMA journal_mode")
            )
        }
        #expect(integrity == "ok")
        #expect(rows == "190")
        #expect(mode == "delete")
        #expect(record.tables == [TableCount(name: "t", rows: 190)])
        // Nothing but the chunks is left beside them (no journal, WAL or shared-memory file).
        let left = try FileManager.default.contentsOfDirectory(atPath: set + "/databases/data").sorted()
        #expect(left == record.chunks.map { ($0 as NSString).lastPathComponent })
    }

    /// A set path too long for a SQLite URI (over 512 bytes) is copied the usual way instead of
    /// failing the backup; errors about a copy name the database, not a temporary file or URI.
    @Test func aPathTooLongForTheChunkVFSFallsBackToATemporaryCopy() throws {
        let (folder, entry, writer) = try liveDatabase()
        defer {
            SQL.close(writer)
            folder.remove()
        }
        let deep = (0..<4).map { _ in String(repeating: "d", count: 120) }.joined(separator: "/")
        let set = folder.path + "/set"
        try FileManager.default.createDirectory(atPath: set + "/.work", withIntermediateDirectories: true)
        let base = "databases/" + deep + "/live.db"
        #expect(("file:" + set + "/" + base).utf8.count > 512)
        let copier = DatabaseCopier(root: folder.path, smallLimit: 50_000, chunkSize: 100_000, busyTimeout: 5)
        let stored = try copier.copy(entry, index: 1, base: base, setFolder: set, workFolder: set + "/.work")
        #expect(stored.record.chunks.count >= 6)
        #expect(stored.record.tables == [TableCount(name: "t", rows: 190)])
    }

    @Test func aCorruptLargeDatabaseFailsNamingItsPath() throws {
        let folder = try TempFolder("rd-chunkvfs")
        defer { folder.remove() }
        let path = folder.path + "/bad.db"
        try SQL.with(path) { db in
            try SQL.exec(db, "PRAGMA page_size=4096; CREATE TABLE t(b BLOB)")
            try SQL.exec(
                db,
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<100) "
                    + "INSERT INTO t SELECT randomblob(3000) FROM n")
        }
        // Overwrite pages 2..20 with garbage: the copy succeeds page by page, counting fails.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data(repeating: 0x5a, count: 4096 * 19))
        try handle.close()
        let size = try Workspace.size(path)
        let entry = WalkEntry(
            relative: "data/bad.db", absolute: try AbsolutePath(validating: path), type: .file, mode: 0o644, size: size,
            mtimeSeconds: 0,
            mtimeNanoseconds: 0, linkTarget: nil, excludedFromCode: false)
        let set = folder.path + "/set"
        try FileManager.default.createDirectory(atPath: set + "/.work", withIntermediateDirectories: true)
        let copier = DatabaseCopier(root: folder.path, smallLimit: 50_000, chunkSize: 100_000, busyTimeout: 5)
        let error = #expect(throws: DatabaseCopyFailure.self) {
            try copier.copy(entry, index: 1, base: "databases/data/bad.db", setFolder: set, workFolder: set + "/.work")
        }
        #expect(error?.path == "data/bad.db")
        #expect(!(error?.description.contains("chunk_size") ?? true))
        #expect(!(error?.description.contains(".work") ?? true))
    }

    /// Artifact names never collide: a fallback name is not a real database's, and a database
    /// named like a chunk of another gets a fallback name.
    @Test func databaseArtifactNamesNeverCollide() {
        let names = SetNames.databaseBases(["a.db", "db-1.db", "ü.db", "big.db", "big.db.chunk-0004", "x/db-2.db"])
        #expect(
            names == [
                "databases/a.db", "databases/db-1.db", "databases/db-2.db", "databases/big.db", "databases/db-3.db",
                "databases/x/db-2.db",
            ])
        #expect(Set(names).count == names.count)
        #expect(SetNames.looksLikeChunk("big.db.chunk-0004"))
        #expect(!SetNames.looksLikeChunk("big.db.chunk-004"))
        #expect(!SetNames.looksLikeChunk("big.db.chunk-00a4"))
    }

    @Test func aCopyUnderTheSmallLimitIsHandedBackAndLeavesNoChunks() throws {
        let (folder, entry, writer) = try liveDatabase()
        defer {
            SQL.close(writer)
            folder.remove()
        }
        let set = try setFolder(in: folder)
        let copier = DatabaseCopier(root: folder.path, smallLimit: 1 << 30, chunkSize: 100_000, busyTimeout: 5)
        #expect(
            try copier.copyIntoChunks(entry, base: "databases/data/live.db", setFolder: set, workFolder: set) == nil)
        #expect((try FileManager.default.contentsOfDirectory(atPath: set + "/databases/data")).isEmpty)
        // copy() then stores it whole, through a temporary copy.
        let stored = try copier.copy(
            entry, index: 1, base: "databases/data/live.db", setFolder: set, workFolder: set + "/.work")
        #expect(stored.record.artifact == "databases/data/live.db")
        #expect(stored.record.chunks.isEmpty)
        #expect(stored.record.tables == [TableCount(name: "t", rows: 190)])
    }
}
