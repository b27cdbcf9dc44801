import CSQLite
import DrillCore
import Foundation
import Testing

@testable import Verifier

/// Issue 12, "Databases": a restored database that has lost every table its manifest records fails
/// `db.integrity`, whatever empty form it takes (a valid SQLite database without tables passes
/// `integrity_check` and `foreign_key_check`; only the tables tell it from the backed-up one).
@Suite struct EmptyDatabaseTests {
    /// The empty forms a database artifact is replaced with: a name, and the SQL that makes it in a
    /// new file (nil: a 0-byte file, which SQLite opens as an empty database).
    static let emptyForms: [(name: String, sql: String?)] = [
        ("0 bytes", nil),
        ("one 4 KiB page, no table", "PRAGMA user_version = 7;"),
        ("one 512-byte page, no table", "PRAGMA page_size = 512; PRAGMA user_version = 7;"),
        (
            "tables made and dropped, then vacuumed",
            "CREATE TABLE items(id); INSERT INTO items VALUES (1); DROP TABLE items; VACUUM;"
        ),
    ]

    /// A fixture whose whole database `data/store.db` (tables `items` 400 rows, `notes` 50) is
    /// replaced by `make`, the manifest's digest and size following it (sealed): only
    /// `db.integrity` can tell.
    @Test(arguments: 0..<emptyForms.count)
    func wholeDatabaseReplacedByAnEmptyOneFails(_ form: Int) async throws {
        let (name, sql) = Self.emptyForms[form]
        let fixture = try Fixture()
        let artifact = fixture.path("databases/store.db")
        try FileManager.default.removeItem(atPath: artifact)
        if let sql { try Fixture.sqlite(artifact, sql) } else { try Data().write(to: URL(fileURLWithPath: artifact)) }
        #expect(FileManager.default.fileExists(atPath: artifact))
        #expect(try Fixture.sqliteInt(artifact, "SELECT count(*) FROM sqlite_master") == 0, "\(name)")
        try fixture.resealDatabase(artifact: "databases/store.db", recordIndex: 0)
        let result = try await fixture.drill()
        // Sealed: the set and the replay are fine; the database is the one the manifest digests.
        #expect(verdicts(result, .setArtifacts).values.allSatisfy { $0 == .pass }, "\(name)")
        #expect(only(result, .restoreScript, "restore_maia.sh")?.verdict == .pass, "\(name)")
        let check = try #require(only(result, .dbIntegrity, "data/store.db"))
        #expect(check.verdict == .fail, "\(name): \(check.message)")
        #expect(check.has(.databaseNoTables, data: ["tables": "items\nnotes"]), "\(name): \(check.message)")
        #expect(
            check.message.hasPrefix("data/store.db: no tables at all: every table the manifest records is gone (2: "),
            "\(name): \(check.message)")
        // The other database is untouched and passes.
        #expect(only(result, .dbIntegrity, "data/big.db")?.verdict == .pass)
        #expect(result.verdict == .fail)
    }

    /// The chunked database `data/big.db` (table `blobs`, 60 rows) reassembled from chunks that
    /// hold an empty database: the same finding.
    @Test func chunkedDatabaseReassembledEmptyFails() async throws {
        let fixture = try Fixture()
        let empty = fixture.base + "/empty.db"
        try Fixture.sqlite(empty, "PRAGMA page_size = 512; CREATE TABLE t(x); DROP TABLE t; VACUUM;")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: empty))
        try fixture.write(bytes.prefix(bytes.count / 2), to: "databases/big.db.chunk-0001")
        try fixture.write(bytes.dropFirst(bytes.count / 2), to: "databases/big.db.chunk-0002")
        fixture.manifest.databases[1].size = Int64(bytes.count)
        fixture.manifest.databases[1].sha256 = SHA256Digest.hex(of: bytes)
        try fixture.seal()
        let result = try await fixture.drill()
        let check = try #require(only(result, .dbIntegrity, "data/big.db"))
        #expect(check.verdict == .fail)
        #expect(check.has(.databaseNoTables, data: ["tables": "blobs"]), "\(check.message)")
        #expect(!check.has(.databaseTablesMissing), "one finding, not both: \(check.message)")
    }

    /// Losing some tables is not losing every table: `db.tables_missing` names them, and a
    /// database that had no table at backup and has none now passes.
    @Test func someTablesLostAndAnEmptyDatabaseRecordedEmpty() async throws {
        let fixture = try Fixture()
        let artifact = fixture.path("databases/store.db")
        try Fixture.sqlite(artifact, "DROP TABLE notes; VACUUM;")
        try fixture.resealDatabase(artifact: "databases/store.db", recordIndex: 0)
        var result = try await fixture.drill()
        var check = try #require(only(result, .dbIntegrity, "data/store.db"))
        #expect(check.verdict == .fail)
        #expect(check.has(.databaseTablesMissing, data: ["tables": "notes"]), "\(check.message)")
        #expect(!check.has(.databaseNoTables))

        try FileManager.default.removeItem(atPath: artifact)
        try Fixture.sqlite(artifact, "PRAGMA user_version = 7;")
        fixture.manifest.databases[0].tables = []
        try fixture.resealDatabase(artifact: "databases/store.db", recordIndex: 0)
        result = try await fixture.drill()
        check = try #require(only(result, .dbIntegrity, "data/store.db"))
        #expect(check.verdict == .pass, "\(check.message)")
        #expect(check.message == "integrity ok, 0 tables with the recorded row counts")
    }
}
