import CSQLite
import DrillCore
import Foundation
import Testing

@testable import Verifier

/// `spot.databases` on real SQLite files: growth passes, a loss within the tolerance passes, a
/// loss beyond it and a missing table fail, a database held by a writer's exclusive lock is retried
/// and then an `error`, and the live file is never written.
@Suite struct SpotDatabaseCheckTests {
    static func make(_ folder: String, rows: Int) throws -> String {
        let path = folder + "/live.db"
        var db: OpaquePointer?
        #expect(sqlite3_open(path, &db) == SQLITE_OK)
        defer { sqlite3_close(db) }
        let sql = """
            CREATE TABLE items(id INTEGER PRIMARY KEY);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < \(rows))
            INSERT INTO items SELECT i FROM n;
            """
        #expect(sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK)
        return path
    }

    static func record(_ tables: [(String, Int64)]) -> DatabaseRecord {
        var r = DatabaseRecord(
            base: .root, path: "data/live.db", size: 0, sha256: "", artifact: nil, chunks: [], tables: [], mode: 0o600)
        r.tables = tables.map { TableCount(name: $0.0, rows: $0.1) }
        return r
    }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "spotdb-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func comparesLiveRowCountsWithTheRecordedOnes() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let live = try Self.make(folder, rows: 96)
        let before = try SHA256Digest.file(at: live).sha256
        // 96 of 100: 4 % fewer, within 5 %.
        let within = SpotDatabaseCheck.check(record: Self.record([("items", 100)]), live: live, tolerance: 0.05)
        #expect(within.verdict == .pass)
        #expect(within.evidence == ["table items: 96 rows now, 100 recorded"])
        // Growth is fine.
        #expect(
            SpotDatabaseCheck.check(record: Self.record([("items", 50)]), live: live, tolerance: 0).verdict == .pass)
        // 96 of 120: 20 % fewer.
        let lost = SpotDatabaseCheck.check(record: Self.record([("items", 120)]), live: live, tolerance: 0.05)
        #expect(lost.verdict == .fail)
        #expect(lost.message.contains("table items has 96 rows, 24 fewer than the 120 recorded"))
        let missing = SpotDatabaseCheck.check(
            record: Self.record([("items", 96), ("orders", 3)]), live: live, tolerance: 0.05)
        #expect(missing.verdict == .fail)
        #expect(missing.message.contains("table orders is missing"))
        let absent = SpotDatabaseCheck.check(record: Self.record([]), live: folder + "/none.db", tolerance: 0.05)
        #expect(absent.verdict == .fail)
        #expect(absent.message.contains("is missing"))
        #expect(try SHA256Digest.file(at: live).sha256 == before)
        #expect(!FileManager.default.fileExists(atPath: live + "-journal"))
    }

    @Test func aDatabaseHeldByAWriterIsRetriedThenAnError() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let live = try Self.make(folder, rows: 10)
        var writer: OpaquePointer?
        #expect(sqlite3_open(live, &writer) == SQLITE_OK)
        defer { sqlite3_close(writer) }
        #expect(sqlite3_exec(writer, "BEGIN EXCLUSIVE; INSERT INTO items VALUES (100)", nil, nil, nil) == SQLITE_OK)
        let held = SpotDatabaseCheck.check(record: Self.record([("items", 10)]), live: live, tolerance: 0, pause: 0)
        #expect(held.verdict == .error)
        #expect(held.message.contains("stayed busy after \(SpotDatabaseCheck.attempts) attempts"))
        #expect(sqlite3_exec(writer, "COMMIT", nil, nil, nil) == SQLITE_OK)
        let free = SpotDatabaseCheck.check(record: Self.record([("items", 10)]), live: live, tolerance: 0, pause: 0)
        #expect(free.verdict == .pass)
        #expect(free.evidence == ["table items: 11 rows now, 10 recorded"])
    }
}
