import CSQLite
import DrillCore
import Foundation
import Testing

/// One sample workspace and one good set, made once by the real `restore-drill demo --small`.
struct DemoFixture: Sendable {
    let folder: String
    let home: String
    let root: String
    let set: String

    static let shared: Result<DemoFixture, any Error> = Result {
        let folder = try Tool.scratch("demo")
        let r = try Tool.run(["demo", "--small", "--folder", folder], in: folder)
        guard r.status == 0 else {
            throw RestoreDrillError.runtime("demo failed (\(r.status)): \(r.stdout)\n\(r.stderr)")
        }
        let backups = "\(folder)/backups"
        let id = try #require(
            try FileManager.default.contentsOfDirectory(atPath: backups).first { BackupID($0) != nil })
        return DemoFixture(
            folder: folder, home: "\(folder)/home", root: "\(folder)/home/git/maia", set: "\(backups)/\(id)")
    }

    static func get() throws -> DemoFixture { try shared.get() }
}

/// Drills `set` with the real binary; returns the exit status and the report.
func drill(_ set: String, in folder: String) throws -> (status: Int32, report: DrillResult) {
    let r = try Tool.run(["drill", "--set", set, "--json"], in: folder)
    guard !r.stdout.isEmpty else { throw RestoreDrillError.runtime("no report (\(r.status)): \(r.stderr)") }
    return (r.status, try Tool.drillReport(r.stdout))
}

func failing(_ report: DrillResult, _ check: CheckID) -> [CheckResult] {
    report.checks.filter { $0.check == check && $0.verdict == .fail }
}

@Suite(.serialized) struct DamagedSetTests {
    @Test func goodSetPassesWithExitZero() throws {
        let f = try DemoFixture.get()
        let scratch = try Tool.scratch("good")
        let (status, report) = try drill(f.set, in: scratch)
        #expect(status == 0)
        #expect(report.verdict == .pass)
        // The set was not written to: a drill reads only.
        #expect(try Manifest.load(setPath: f.set).verifySelfChecksum())
    }

    /// A drill never writes into the set: a read-only destination (a read-only bind mount, root only) works.
    @Test(.enabled(if: geteuid() == 0)) func readOnlyDestinationDrillsWithoutWriting() throws {
        let f = try DemoFixture.get()
        let scratch = try Tool.scratch("ro")
        let mountPoint = "\(scratch)/ro"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        func sh(_ args: [String]) throws -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = args
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        let backups = (f.set as NSString).deletingLastPathComponent
        guard try sh(["mount", "--bind", backups, mountPoint]) == 0 else {
            Issue.record("cannot bind-mount here")
            return
        }
        defer { _ = try? sh(["umount", mountPoint]) }
        #expect(try sh(["mount", "-o", "remount,bind,ro", mountPoint]) == 0)
        #expect(!FileManager.default.createFile(atPath: "\(mountPoint)/probe", contents: Data()))
        let (status, report) = try drill("\(mountPoint)/\((f.set as NSString).lastPathComponent)", in: scratch)
        #expect(status == 0, "\(report.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
    }

    @Test func flippedByteInAChunkFailsSetArtifactsNamingTheChunk() throws {
        let f = try DemoFixture.get()
        let scratch = try Tool.scratch("flip")
        let set = try SetSurgery.copy(f.set, into: scratch)
        let chunk = try #require(try Manifest.load(setPath: set).databases.first { !$0.chunks.isEmpty }?.chunks[1])
        try SetSurgery.flipByte(try SetSurgery.stored(set, chunk))
        let (status, report) = try drill(set, in: scratch)
        #expect(status == 1)
        let failures = failing(report, .setArtifacts)
        #expect(failures.map(\.subject) == [chunk])
        #expect(
            failures.first?.message.contains("SHA-256") == true || failures.first?.message.contains("sha256") == true)
    }

    @Test func missingChunkFailsSetArtifactsNamingTheChunk() throws {
        let f = try DemoFixture.get()
        let scratch = try Tool.scratch("missing")
        let set = try SetSurgery.copy(f.set, into: scratch)
        let chunk = try #require(try Manifest.load(setPath: set).databases.first { !$0.chunks.isEmpty }?.chunks.last)
        try FileManager.default.removeItem(atPath: try SetSurgery.stored(set, chunk))
        let (status, report) = try drill(set, in: scratch)
        #expect(status == 1)
        #expect(failing(report, .setArtifacts).contains { $0.subject == chunk && $0.message.contains("missing") })
    }

    @Test func twelveChunksAreRestoredInListedOrder() throws {
        let f = try DemoFixture.get()
        let scratch = try Tool.scratch("chunks")
        let config = """
            home: \(f.home)
            root: \(f.root)
            destination: \(scratch)/backups
            set_format: 1
            databases: {include: ["claude/data/servicedesk_tickets.db"], small_limit: 1MiB, chunk_size: 1MiB}
            launchagents: {include: []}
            dependencies: {python: [], homebrew: []}
            credentials: {include: [claude/data/credentials]}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(scratch)/restore-drill.yml"))
        try FileManager.default.createDirectory(atPath: "\(scratch)/backups", withIntermediateDirectories: true)
        let backup = try Tool.run(["backup"], in: scratch)
        #expect(backup.status == 0, "\(backup.stderr)")
        let setName = try #require(
            try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/backups").first { BackupID($0) != nil })
        let manifest = try Manifest.load(setPath: "\(scratch)/backups/\(setName)")
        let db = try #require(manifest.databases.first)
        #expect(db.chunks.count >= 12)
        let ten = try #require(db.chunks.firstIndex { $0.hasSuffix(".chunk-0010") })
        #expect(db.chunks[ten - 1].hasSuffix(".chunk-0009"))
        let (status, report) = try drill("\(scratch)/backups/\(setName)", in: scratch)
        #expect(status == 0, "\(report.checks.filter { $0.verdict == .fail })")
        #expect(report.checks.contains { $0.check == .dbIntegrity && $0.subject == db.path && $0.verdict == .pass })
        #expect(report.checks.contains { $0.check == .restoreTree && $0.subject == "databases" && $0.verdict == .pass })
    }

    @Test func corruptedPageInTheSourceFailsDbIntegrityThoughHashesAgree() throws {
        let scratch = try Tool.scratch("corrupt")
        let root = "\(scratch)/home/proj"
        try FileManager.default.createDirectory(atPath: "\(root)/data", withIntermediateDirectories: true)
        let path = "\(root)/data/tickets.db"
        try CorruptDatabase.make(at: path)
        let config = """
            home: \(scratch)/home
            root: \(root)
            destination: \(scratch)/backups
            set_format: 1
            databases: {include: ["data/*.db"]}
            launchagents: {include: []}
            dependencies: {python: [], homebrew: []}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(scratch)/restore-drill.yml"))
        try FileManager.default.createDirectory(atPath: "\(scratch)/backups", withIntermediateDirectories: true)
        let backup = try Tool.run(["backup"], in: scratch)
        #expect(backup.status == 0, "\(backup.stderr)")
        let setName = try #require(
            try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/backups").first { BackupID($0) != nil })
        let (status, report) = try drill("\(scratch)/backups/\(setName)", in: scratch)
        #expect(status == 1)
        #expect(failing(report, .setArtifacts).isEmpty)
        let db = failing(report, .dbIntegrity)
        #expect(db.map(\.subject) == ["data/tickets.db"])
        #expect(db.first?.message.contains("integrity_check") == true)
    }

    @Test func plistStillPointingToTheOldHomeFailsRewriteNamingThePlist() throws {
        let f = try DemoFixture.get()
        let scratch = try Tool.scratch("plist")
        let set = try SetSurgery.copy(f.set, into: scratch)
        // A buggy engine forgot the old home as a prefix to rewrite: the script rewrites only the root.
        try SetSurgery.rerenderScript(set) { m in
            for i in m.launchAgents.indices { m.launchAgents[i].rewritePrefixes = [m.root] }
        }
        let (status, report) = try drill(set, in: scratch)
        #expect(status == 1)
        let failures = failing(report, .launchAgentsRewrite)
        #expect(!failures.isEmpty)
        #expect(failures.allSatisfy { $0.subject.hasSuffix(".plist") && $0.message.contains(f.home) })
    }

    @Test func restoreScriptThatExitsOneFailsRestoreScript() throws {
        let f = try DemoFixture.get()
        let scratch = try Tool.scratch("exit1")
        let set = try SetSurgery.copy(f.set, into: scratch)
        try SetSurgery.replaceScript(set, with: "#!/bin/sh\necho 'restore: FAILED: simulated failure' >&2\nexit 1\n")
        let (status, report) = try drill(set, in: scratch)
        #expect(status == 1)
        let failures = failing(report, .restoreScript)
        #expect(failures.count == 1)
        #expect(failures.first?.message.contains("exited with status 1") == true)
        #expect(failures.first?.evidence.contains { $0.contains("simulated failure") } == true)
    }

    @Test func setNotFoundExitsThreeAndBadConfigExitsTwo() throws {
        let scratch = try Tool.scratch("codes")
        let missing = try Tool.run(["drill", "--set", "\(scratch)/nope"], in: scratch)
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("nope"))
        try Data("home: /h\nroot: /h/r\ndestination: /d\nsandbox: {isolation: docker}\n".utf8)
            .write(to: URL(fileURLWithPath: "\(scratch)/restore-drill.yml"))
        let bad = try Tool.run(["config", "check"], in: scratch)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("restore-drill.yml:4: sandbox.isolation"))
        let usage = try Tool.run(["drill", "--latest", "--set", "x"], in: scratch)
        #expect(usage.status == 2)
    }

    @Test func helpListsTheExitCodeTable() throws {
        let help = try Tool.run(["--help"], in: NSTemporaryDirectory())
        #expect(help.status == 0)
        // argument-parser wraps long lines: compare with white space folded.
        func fold(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        for status in ExitStatus.allCases {
            #expect(fold(help.stdout).contains(fold("\(status.rawValue)  \(status.meaning)")))
        }
    }
}

/// A database whose index no longer matches its table: `integrity_check` finds it; counting rows
/// does not (the table's own pages are intact).
enum CorruptDatabase {
    static func make(at path: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw RestoreDrillError.io(path: path, message: "open") }
        let sql = """
            PRAGMA page_size=4096;
            CREATE TABLE tickets(id INTEGER PRIMARY KEY, status TEXT);
            CREATE INDEX tickets_status ON tickets(status);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000)
            INSERT INTO tickets SELECT i, CASE i % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'resolved' ELSE 'opened' END FROM n;
            """
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw RestoreDrillError.io(path: path, message: String(cString: sqlite3_errmsg(db)))
        }
        var stmt: OpaquePointer?
        sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_master WHERE name = 'tickets_status'", -1, &stmt, nil)
        sqlite3_step(stmt)
        let root = Int(sqlite3_column_int64(stmt, 0))
        sqlite3_finalize(stmt)
        sqlite3_close(db)
        // Change one indexed value inside an index page ("pending" -> "pendinh"): the index now
        // disagrees with the table.
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        let pageSize = 4096
        let pages = data.count / pageSize
        let needle = Array("pending".utf8)
        var changed = false
        for page in ([root] + Array(1...pages)) where !changed {
            let start = (page - 1) * pageSize
            let bytes = [UInt8](data[start..<(start + pageSize)])
            // Index b-tree pages start with 0x0a (leaf) or 0x02 (interior).
            guard bytes[0] == 0x0a || bytes[0] == 0x02 else { continue }
            if let i = (0..<(pageSize - needle.count)).first(where: { Array(bytes[$0..<($0 + needle.count)]) == needle }
            ) {
                data[start + i + 6] = UInt8(ascii: "h")
                changed = true
            }
        }
        guard changed else { throw RestoreDrillError.runtime("no index page with 'pending' found in \(path)") }
        try data.write(to: URL(fileURLWithPath: path))
    }
}
