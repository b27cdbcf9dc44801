import CSQLite
import DrillCore
import Foundation
import Testing

@testable import Jobs

/// The demo is the README's first command: its counts must cover every database and LaunchAgent
/// of the sample, none silently skipped, and the set must hold rows that were only in a live WAL.
@Suite(.serialized) struct DemoTests {
    static func count(_ sql: String, in path: String) throws -> Int64 {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            throw RestoreDrillError.io(path: path, message: "cannot open")
        }
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else {
            throw RestoreDrillError.io(path: path, message: String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW else { throw RestoreDrillError.io(path: path, message: "no row") }
        return sqlite3_column_int64(stmt, 0)
    }

    @Test func smallDemoChecksEveryDatabaseAndAgent() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rd-demo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let outcome = try await DemoJob(folder: folder, small: true, clock: SystemClock()).run()
        let drill = outcome.drill
        #expect(drill.verdict == .pass, "\(drill.checks.filter { $0.verdict == .fail })")
        #expect(outcome.backup.status == "complete")
        // The last line says the folder stays, its size, and how to remove it.
        let last = outcome.text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("  kept        \(folder) ("), "\(last)")
        #expect(last.hasSuffix("remove it with: rm -rf '\(folder)'"), "\(last)")

        // Every database and agent of the sample was checked and passed.
        let databases = drill.checks.filter { $0.check == .dbIntegrity }
        #expect(databases.count == outcome.workspace.databases.count)
        #expect(databases.allSatisfy { $0.verdict == .pass })
        #expect(Set(databases.map(\.subject)) == Set(outcome.workspace.databases))
        for check in [CheckID.launchAgentsRewrite, .launchAgentsLint] {
            let agents = drill.checks.filter { $0.check == check }
            #expect(agents.count == outcome.workspace.agents.count, "\(check)")
            #expect(agents.allSatisfy { $0.verdict == .pass }, "\(check)")
        }
        // The only skips are what a first set cannot have (a previous set to compare with) and the
        // dependency lists, which are stored but not restored as files.
        let skipped = drill.checks.filter { $0.verdict == .skip }.map { "\($0.check.rawValue) \($0.subject)" }
        #expect(skipped.count == 2, "\(skipped)")
        #expect(skipped.contains { $0.hasPrefix("set.coverage ") })
        #expect(skipped.contains("restore.tree dependencies"))
        #expect(drill.checks.contains { $0.check == .credentialsVault && $0.verdict == .pass })
        #expect(
            drill.checks.contains { $0.check == .restoreTree && $0.subject == "credentials" && $0.verdict == .pass })
        #expect(drill.checks.contains { $0.check == .restoreScript && $0.verdict == .pass })

        // The large database was chunked, in order.
        let set = try Manifest.load(setPath: outcome.backup.setPath)
        let large = try #require(set.databases.first { $0.path.hasSuffix("servicedesk_tickets.db") })
        #expect(large.chunks.count >= 3)
        #expect(large.chunks == large.chunks.sorted())

        // Rows written after the last checkpoint (only in the -wal file during the backup) are in the set.
        for rel in outcome.workspace.walDatabases {
            let record = try #require(set.databases.first { $0.path == rel })
            let comments = try #require(record.tables.first { $0.name == "comments" })
            let now = try Self.count("SELECT count(*) FROM comments", in: "\(outcome.workspace.root)/\(rel)")
            #expect(comments.rows == now, "\(rel): the set has \(comments.rows) comments, the source \(now)")
            #expect(
                try Self.count(
                    "SELECT count(*) FROM comments WHERE author = 'late'", in: "\(outcome.workspace.root)/\(rel)") == 3)
        }

        // The reports exist and the sandbox is gone after a pass.
        let reports = try #require(drill.reportFolder)
        for name in ["junit.xml", "report.md", "report.json"] {
            #expect(FileManager.default.fileExists(atPath: "\(reports)/\(name)"), "\(name)")
        }
        // The demo's JUnit file is valid against the schema Jenkins uses (../shared/schemas).
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "shared/schemas/junit-10.xsd"
            ).path
        let lint = Process()
        lint.executableURL = URL(fileURLWithPath: "/usr/bin/xmllint")
        lint.arguments = ["--noout", "--schema", schema, "\(reports)/junit.xml"]
        try lint.run()
        lint.waitUntilExit()
        #expect(lint.terminationStatus == 0, "xmllint rejected \(reports)/junit.xml against \(schema)")
        #expect(drill.sandboxKept == false)
        if let sandbox = drill.sandboxPath { #expect(!FileManager.default.fileExists(atPath: sandbox)) }
    }
}
