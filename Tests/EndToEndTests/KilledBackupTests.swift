import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 15: a format-2 backup killed (SIGKILL) at many points leaves every listed set whole: the
/// built binary is started and killed after a growing share of a backup's measured duration, with
/// the workspace changed before each attempt (so each one writes new objects), and after every
/// kill each set `list` shows passes `check` and `sha256sum -c`; then a backup completes.
@Suite(.serialized) struct KilledBackupTests {
    /// Kill points per run (the full loop of ci/long uses more).
    static let points = Int(ProcessInfo.processInfo.environment["RD_KILL_POINTS"] ?? "") ?? 8

    static func workspace() throws -> SmallWorkspace {
        let ws = try SmallWorkspace.make("killed-backup", format: 2)
        for i in 0..<300 {
            try ws.write("src/m\(i % 12)/file-\(i).txt", String(repeating: "line \(i) of the source\n", count: 40 + i))
        }
        let db = ws.root + "/data/app.db"
        try FileManager.default.createDirectory(atPath: ws.root + "/data", withIntermediateDirectories: true)
        let made = try runTool(
            "/usr/bin/python3",
            [
                "-c",
                "import sqlite3,os;c=sqlite3.connect('\(db)');c.execute('create table t(id integer primary key, b blob)');"
                    + "c.executemany('insert into t(b) values (?)',[(os.urandom(2000),) for _ in range(1500)]);c.commit()",
            ])
        #expect(made.status == 0, "\(made.error)")
        return ws
    }

    /// Every set `list --json` shows passes `check ID` and `sha256sum -c` in its folder.
    static func everyListedSetIsWhole(_ ws: SmallWorkspace, after what: String) throws -> Int {
        let list = try ws.run(["list", "--json"])
        #expect(list.status == 0, "\(what): list: \(list.stderr)")
        let ids =
            try (JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["sets"]
            .flatMap { $0 as? [[String: Any]] }?.compactMap { $0["id"] as? String } ?? []
        for id in ids {
            let check = try ws.run(["check", id])
            #expect(check.status == 0, "\(what): check \(id): \(check.stdout)\(check.stderr)")
            let sums = try runTool(
                "/usr/bin/sha256sum", ["-c", "--quiet", "SHA256SUMS"], directory: "\(ws.base)/backups/\(id)")
            #expect(sums.status == 0, "\(what): sha256sum -c in \(id): \(sums.output)\(sums.error)")
        }
        return ids.count
    }

    @Test func aBackupKilledAtManyPointsLeavesEveryListedSetWholeAndTheNextOneCompletes() async throws {
        let ws = try Self.workspace()
        defer { ws.remove() }
        let cache = ws.base + "/cache"
        let env = ["XDG_CACHE_HOME": cache]
        let first = try ws.run(["backup"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        var listed = try Self.everyListedSetIsWhole(ws, after: "the first backup")
        #expect(listed == 1)
        // The kills are spread over a nightly backup's time (the files cache makes it shorter
        // than the first): measured on one with a change.
        try ws.write("src/new/warm.txt", "measured\n")
        let start = Date()
        let warm = try ws.run(["backup"], environment: env)
        #expect(warm.status == 0, "\(warm.stderr)")
        var duration = Date().timeIntervalSince(start)
        listed = try Self.everyListedSetIsWhole(ws, after: "the second backup")
        #expect(listed == 2)

        // Kills count when they land on a running backup; one that comes after the backup ended
        // (a busy machine made the measurement long) does not count, and the time is taken shorter.
        var landed = 0
        var attempt = 0
        while landed < Self.points && attempt < 4 * Self.points {
            let point = landed
            attempt += 1
            // New content each time, so the killed run writes objects of its own.
            try ws.write("src/m\(attempt % 12)/file-\(attempt).txt", "changed before kill \(attempt)\n")
            try ws.write("src/new/\(attempt).txt", String(repeating: "new \(attempt)\n", count: 500))
            // Spread from early to late over the measured time.
            let delay = duration * (Double(point) + 0.3) / Double(Self.points)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try Tool.binary)
            process.arguments = ["backup", "--config", ws.config]
            process.currentDirectoryURL = URL(fileURLWithPath: ws.base)
            process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal {
                landed += 1
            } else {
                duration *= 0.6
            }
            listed = try Self.everyListedSetIsWhole(ws, after: "a backup killed after \(Int(delay * 1000)) ms")
            #expect(listed >= 1)
        }
        #expect(landed == Self.points, "only \(landed) of \(attempt) kills landed before a backup finished")

        // A backup after all that completes, and its set (and every other) is whole.
        let last = try ws.run(["backup"], environment: env)
        #expect(last.status == 0, "\(last.stderr)")
        let all = try ws.run(["check", "--all"])
        #expect(all.status == 0, "\(all.stdout)\(all.stderr)")
        _ = try Self.everyListedSetIsWhole(ws, after: "the last backup")
    }
}
