import DrillCore
import Foundation
import Health
import Retention
import Testing

@testable import Jobs

/// `restore-drill prune`: retention applied to real sets, only sets this tool made removed,
/// stale `.partial-*` cleaned, and the lock that keeps prune away from a running backup or drill.
@Suite(.serialized) struct PruneJobTests {
    struct Workspace {
        let folder: String
        let config: RestoreDrillConfig
    }

    static func workspace() throws -> Workspace {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rd-prune-\(UUID().uuidString)").path
        let root = "\(folder)/home/proj"
        try FileManager.default.createDirectory(atPath: "\(root)/src", withIntermediateDirectories: true)
        try Data("x = 1\n".utf8).write(to: URL(fileURLWithPath: "\(root)/src/a.py"))
        try FileManager.default.createDirectory(atPath: "\(folder)/backups", withIntermediateDirectories: true)
        var config = RestoreDrillConfig(
            home: "\(folder)/home", root: root, destination: "\(folder)/backups", baseFolder: folder)
        config.setFormat = 1
        config.launchAgents.include = []
        config.shell.files = []
        config.dependencies.python = nil
        config.dependencies.homebrew = nil
        config.retention = .init()
        config.retention.daily = 3
        config.retention.weekly = 2
        config.retention.monthly = 2
        config.retention.timeZone = "UTC"
        return Workspace(folder: folder, config: config)
    }

    /// One set per day at 03:00 UTC, from `first` for `days` days.
    static func backups(_ w: Workspace, first: String, days: Int) async throws -> [BackupID] {
        let start = Timestamp.date(first)!
        var ids: [BackupID] = []
        for d in 0..<days {
            let clock = FixedClock(start.addingTimeInterval(Double(d) * 86400 + 3 * 3600))
            ids.append(try await BackupJob(config: w.config, clock: clock).run().manifest.id)
        }
        return ids
    }

    static func setsOnDisk(_ w: Workspace) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: w.config.destination).filter { BackupID($0) != nil }
            .sorted()
    }

    @Test func removesWhatTheRuleRemovesAndNothingElse() async throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let ids = try await Self.backups(w, first: "2025-05-01T00:00:00Z", days: 45)
        let fm = FileManager.default
        let dest = w.config.destination
        // Things prune must never touch: a set look-alike without a valid manifest, a user file,
        // a fresh unfinished backup. An unfinished backup older than a day goes.
        try fm.createDirectory(atPath: "\(dest)/full_20250101_000000", withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: "\(dest)/notes.txt"))
        try fm.createDirectory(atPath: "\(dest)/.partial-full_20250614_030000", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(dest)/.partial-full_20250501_030000", withIntermediateDirectories: true)
        let now = Timestamp.date("2025-06-14T12:00:00Z")!
        try fm.setAttributes(
            [.modificationDate: now.addingTimeInterval(-3 * 86400)],
            ofItemAtPath: "\(dest)/.partial-full_20250501_030000")
        try fm.setAttributes(
            [.modificationDate: now.addingTimeInterval(-3600)], ofItemAtPath: "\(dest)/.partial-full_20250614_030000")
        // A user's folder that merely starts with `.partial-` is not ours, however old.
        try fm.createDirectory(atPath: "\(dest)/.partial-evil", withIntermediateDirectories: true)
        try fm.setAttributes(
            [.modificationDate: now.addingTimeInterval(-9 * 86400)], ofItemAtPath: "\(dest)/.partial-evil")
        let expected = RetentionPolicy.apply(
            sets: ids.map { RetainedSetInfo(id: $0, complete: true, drillPassed: false) },
            rules: RetentionRules(w.config.retention), now: now, timeZone: TimeZone(identifier: "UTC")!)
        let keep = Set(expected.filter(\.keep).map(\.id.description))
        // 3 days + 2 ISO weeks + 2 months, some shared: June 12–14, the week of June 9, the week of
        // June 2 (its Sunday the 8th), and May (the 31st); June's newest is the 14th.
        #expect(
            keep == [
                "full_20250531_030000", "full_20250608_030000", "full_20250612_030000",
                "full_20250613_030000", "full_20250614_030000",
            ])

        let dry = try PruneJob(config: w.config, clock: FixedClock(now)).run(dryRun: true)
        #expect(dry.removedSets.count == 40)
        #expect(try Self.setsOnDisk(w).count == 46)  // nothing removed by a dry run (45 + the look-alike)

        let outcome = try PruneJob(config: w.config, clock: FixedClock(now)).run(dryRun: false)
        #expect(Set(try Self.setsOnDisk(w)) == keep.union(["full_20250101_000000"]))
        #expect(
            outcome.decisions.contains { $0.hasPrefix("keep full_20250608_030000: ") && $0.contains("weekly 2025-W23") }
        )
        #expect(outcome.ignored == ["\(dest)/full_20250101_000000"])
        #expect(fm.fileExists(atPath: "\(dest)/notes.txt"))
        #expect(fm.fileExists(atPath: "\(dest)/.partial-full_20250614_030000"))
        #expect(!fm.fileExists(atPath: "\(dest)/.partial-full_20250501_030000"))
        #expect(fm.fileExists(atPath: "\(dest)/.partial-evil"))
        #expect(!(try fm.contentsOfDirectory(atPath: dest)).contains { $0.hasPrefix(".removing-") })
        // The prune is recorded.
        let events = try HistoryStore(destination: dest).events()
        #expect(events.last?.kind == .prune)
        #expect(events.last?.details["removed"] == "40")
    }

    @Test func thePruneAfterAKilledOneFinishesItsRemovalsAndRemovesStaleEventTemporaries() async throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let ids = try await Self.backups(w, first: "2025-06-10T00:00:00Z", days: 3)
        let fm = FileManager.default
        let dest = w.config.destination
        let now = Timestamp.date("2025-06-14T12:00:00Z")!
        // A prune killed mid-removal: the set was renamed to `.removing-<id>` and half its files
        // were deleted when the kill came (what LocalDestination.removeSet does in that order).
        let doomed = "\(dest)/.removing-\(ids[0])"
        try fm.moveItem(atPath: "\(dest)/\(ids[0])", toPath: doomed)
        try fm.removeItem(atPath: "\(doomed)/manifest.json")
        #expect(try Self.setsOnDisk(w).count == 2)
        // Writers killed between AtomicFile's temporary event file and its rename: one long ago,
        // one a moment ago (maybe being written right now: left alone).
        let events = "\(dest)/.restore-drill/events"
        let stale = "\(events)/.20250613T030000.000Z-drill-0a1b2c3d.json.tmp-4242-123456"
        let fresh = "\(events)/.20250614T030000.000Z-drill-0a1b2c3e.json.tmp-4243-654321"
        let notOurs = "\(events)/.notes.tmp"
        for file in [stale, fresh, notOurs] {
            #expect(fm.createFile(atPath: file, contents: Data("{\"format\": \"restore".utf8)))
        }
        for file in [stale, notOurs] {
            try fm.setAttributes([.modificationDate: Date().addingTimeInterval(-2 * 3600)], ofItemAtPath: file)
        }

        // A dry run removes nothing.
        let dry = try PruneJob(config: w.config, clock: FixedClock(now)).run(dryRun: true)
        #expect(dry.removedLeftovers.isEmpty)
        #expect(fm.fileExists(atPath: doomed) && fm.fileExists(atPath: stale))

        let outcome = try PruneJob(config: w.config, clock: FixedClock(now)).run(dryRun: false)
        #expect(!fm.fileExists(atPath: doomed))
        #expect(!fm.fileExists(atPath: stale))
        #expect(fm.fileExists(atPath: fresh))
        #expect(fm.fileExists(atPath: notOurs))
        #expect(outcome.removedLeftovers == [doomed, stale])
        #expect(outcome.text.contains("removed leftover of an interrupted run \(doomed)"))
        let json = String(decoding: try JSONEncoder().encode(outcome), as: UTF8.self)
        #expect(json.contains("removed_leftovers"))
        // The sets the killed prune did not reach are still there, and the history reads.
        #expect(try Self.setsOnDisk(w) == ids.dropFirst().map(\.description).sorted())
        #expect(try HistoryStore(destination: dest).events().last?.kind == .prune)
    }

    @Test func refusesWhileABackupOrDrillHoldsTheLock() async throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        _ = try await Self.backups(w, first: "2025-05-01T00:00:00Z", days: 3)
        let running = try #require(try DestinationLock.acquire(destination: w.config.destination, mode: .shared))
        let clock = FixedClock(Timestamp.date("2025-06-14T12:00:00Z")!)
        #expect(throws: RestoreDrillError.self) { try PruneJob(config: w.config, clock: clock).run(dryRun: false) }
        do {
            _ = try PruneJob(config: w.config, clock: clock).run(dryRun: false)
        } catch let error as RestoreDrillError {
            guard case .lockHeld(_, let pid) = error else { throw error }
            #expect(pid == getpid())
            #expect(error.exitStatus == .runtime)
        }
        // A second backup or drill may run beside the first (shared), and a dry run reads only.
        #expect(try DestinationLock.acquire(destination: w.config.destination, mode: .shared) != nil)
        _ = try PruneJob(config: w.config, clock: clock).run(dryRun: true)
        running.release()
        _ = try PruneJob(config: w.config, clock: clock).run(dryRun: false)
    }

    @Test func aDeadHoldersLockIsTakenOver() async throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        _ = try await Self.backups(w, first: "2025-05-01T00:00:00Z", days: 2)
        // A process that took the lock exclusively and died: its lock file stays, its flock does not.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        p.arguments = [
            "--exclusive", "\(w.config.destination)/.restore-drill/lock", "/bin/sh", "-c",
            "echo 99999 > \(w.config.destination)/.restore-drill/lock; kill -9 $$",
        ]
        try p.run()
        p.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: "\(w.config.destination)/.restore-drill/lock"))
        let outcome = try PruneJob(config: w.config, clock: FixedClock(Timestamp.date("2025-06-14T12:00:00Z")!)).run(
            dryRun: false)
        #expect(outcome.decisions.count == 2)
    }

    /// A set made while the clock was years ahead must not take over `drill --latest`, and the
    /// drill's `rpo` fails naming it instead of reporting a negative age as a pass.
    @Test func aSetDatedInTheFutureNeitherTakesOverLatestNorPassesRPO() async throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        _ = try await Self.backups(w, first: "2030-01-01T00:00:00Z", days: 1)
        let real = try await Self.backups(w, first: "2025-06-14T00:00:00Z", days: 1)[0]
        let now = FixedClock(Timestamp.date("2025-06-14T06:00:00Z")!)
        let result = try await DrillJob(config: w.config, clock: now, currentDirectory: w.folder).run(
            .init(pick: .latest))
        #expect(result.backupID == real)
        let rpo = try #require(result.checks.first { $0.check == .rpo })
        #expect(rpo.verdict == .fail)
        #expect(rpo.message.contains("full_20300101_030000 is dated in the future"))
    }

    /// A set whose read-back failed must not stand for its day and push the intact sets out.
    @Test func aSetThatFailedItsCheckDoesNotStandForItsDay() async throws {
        let w = try Self.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        var ids: [BackupID] = []
        for hour in [1, 2, 3] {
            let clock = FixedClock(Timestamp.date("2025-06-14T0\(hour):00:00Z")!)
            ids.append(try await BackupJob(config: w.config, clock: clock).run().manifest.id)
        }
        let newest = "\(w.config.destination)/\(ids[2])/code.tar.gz"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: newest))
        let clock = FixedClock(Timestamp.date("2025-06-14T12:00:00Z")!)
        let check = try CheckJob(config: w.config, clock: clock).run(id: ids[2].description, all: false)
        #expect(!check.passed)
        let outcome = try PruneJob(config: w.config, clock: clock).run(dryRun: false)
        // The intact 02:00 set stands for the day (and is the newest complete set); the damaged
        // 03:00 set is kept only as `last 1`; 01:00 is kept as the oldest set of rules that run short.
        let decisions = outcome.decisions
        #expect(decisions.contains { $0 == "keep \(ids[2]): last 1" }, "\(decisions)")
        #expect(
            decisions.contains { $0.hasPrefix("keep \(ids[1]): newest complete set, daily 2025-06-14") }, "\(decisions)"
        )
    }
}
