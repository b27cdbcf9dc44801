import Destination
import DrillCore
import Foundation
import Health
import Schedule
import Testing

@testable import Jobs

/// Every command that touches sets reaches them only through the injected ``Destination``.
///
/// The configuration's `destination` names a folder that does not exist (nor does its parent),
/// while a ``RecordingDestination`` serves the real sets from another folder: code that went
/// around the seam would not find the sets (or would create the configured folder), and every
/// call the seam saw is asserted per command.
@Suite(.serialized) struct DestinationSeamTests {
    @Test func everyCommandReachesTheSetsOnlyThroughTheDestination() async throws {
        let w = try VaultWorkspace()
        defer { try? FileManager.default.removeItem(atPath: w.base) }
        let real = w.config.destination
        let seam = RecordingDestination(folder: real)
        var config = w.config
        config.destination = w.base + "/not-mounted/backups"
        config.retention = .init()
        config.retention.last = 1
        config.retention.daily = 1
        config.retention.weekly = 0
        config.retention.monthly = 0
        config.retention.timeZone = "UTC"
        let bypassed = { FileManager.default.fileExists(atPath: w.base + "/not-mounted") }

        // backup: lock, staging, publishing and the history event, twice.
        var ids: [BackupID] = []
        for day in ["2025-06-13T03:00:00Z", "2025-06-14T03:00:00Z"] {
            seam.reset()
            var backup = BackupJob(config: config, clock: FixedClock(Timestamp.date(day)!))
            backup.destination = seam
            let outcome = try await backup.run()
            ids.append(outcome.manifest.id)
            #expect(outcome.setPath == "\(real)/\(outcome.manifest.id)")
            #expect(
                seam.calls == [
                    "lock shared", "prepareForWriting", "stageSet", "publish \(outcome.manifest.id)", "appendEvent",
                ])
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: real).filter { BackupID($0) != nil }.sorted()
                == ids.map(\.description))
        let (older, newer) = (ids[0], ids[1])
        let now = FixedClock(Timestamp.date("2025-06-14T06:00:00Z")!)

        // drill --latest: picks, opens and closes the set, reads the others for rpo and coverage.
        seam.reset()
        var drill = DrillJob(config: config, clock: now, currentDirectory: w.base)
        drill.destination = seam
        let result = try await drill.run(.init(pick: .latest))
        #expect(result.backupID == newer)
        #expect(result.setPath == "\(real)/\(newer)")
        #expect(result.checks.first { $0.check == .rpo }?.verdict == .pass)
        // set.coverage compared with the previous set, read through the seam (not "no previous set").
        let coverage = result.checks.filter { $0.check == .setCoverage }
        #expect(coverage.contains { $0.verdict == .pass }, "\(coverage.map { "\($0.verdict) \($0.message)" })")
        #expect(!coverage.contains { $0.verdict == .fail || $0.verdict == .error })
        #expect(seam.calls.contains("openSet \(newer)"))
        #expect(seam.calls.contains("closeSet \(newer)"))
        #expect(seam.calls.contains("verdict \(older)"), "set.coverage reads the previous set through the seam")
        #expect(seam.calls.contains("lock shared"))
        #expect(seam.calls.last == "closeSet \(newer)")
        #expect(seam.names == ["setIDsNewestFirst", "verdict", "openSet", "lock", "appendEvent", "closeSet"])

        // drill ID.
        seam.reset()
        let byID = try await drill.run(.init(pick: .id(older.description)))
        #expect(byID.backupID == older)
        #expect(seam.calls.contains("openSet \(older)"))

        // list.
        seam.reset()
        let listing = try SetListing.make(seam, now: now.now())
        #expect(listing.sets.map(\.id) == ids.map(\.description))
        #expect(seam.calls == ["listEntries"])

        // check --all: lists, opens each set, records one event per set.
        seam.reset()
        var check = CheckJob(config: config, clock: now)
        check.destination = seam
        let checked = try check.run(id: nil, all: true)
        #expect(checked.passed && checked.sets.count == 2)
        #expect(
            seam.calls == [
                "listEntries", "openSet \(older)", "closeSet \(older)", "appendEvent", "openSet \(newer)",
                "closeSet \(newer)", "appendEvent",
            ])

        // health.
        seam.reset()
        let health = HealthJob.run(config: config, now: now.now(), destination: seam)
        #expect(health.metrics.sets == 2)
        #expect(health.destination == real)
        #expect(!health.findings.contains { $0.code == "destination" && $0.status == .critical })
        #expect(seam.names == ["status", "listEntries", "eventFiles"])

        // report sla.
        seam.reset()
        let card = try SLAJob.run(config: config, now: now.now(), since: 7 * 86400, destination: seam)
        #expect(card.days.contains { $0.completeBackup })
        #expect(seam.names == ["status", "listEntries", "eventFiles"])

        // vault verify.
        seam.reset()
        var verify = VaultVerifyJob(config: config)
        verify.destination = seam
        let verified = try await verify.run(id: nil, passwordFile: nil)
        #expect(verified.verdict == .pass)
        #expect(verified.backupID == newer.description)
        #expect(seam.calls.contains("openSet \(newer)"))
        #expect(seam.names == ["setIDsNewestFirst", "verdict", "openSet", "closeSet"])

        // schedule status: the last runs come from the history through the seam.
        seam.reset()
        var installer = ScheduleInstaller(config: config, toolPath: "/t", home: w.base + "/home", environment: [:])
        installer.destination = seam
        let status = installer.status(systems: [.launchd], target: w.base + "/agents", logFolder: w.base + "/logs")
        #expect(status.historyProblems.isEmpty)
        #expect(status.jobs.first { $0.job == .backup }?.lastRun == "2025-06-14T03:00:00.000Z")
        #expect(seam.calls == ["eventFiles"])

        // prune: under the exclusive lock, removes the older set through the seam.
        seam.reset()
        var prune = PruneJob(config: config, clock: now)
        prune.destination = seam
        let pruned = try prune.run(dryRun: false)
        #expect(pruned.removedSets == ["\(real)/\(older)"])
        #expect(
            seam.calls == [
                "lock exclusive", "finishRemovals", "status", "listEntries", "eventFiles", "removeSet \(older)",
                "appendEvent",
            ])
        #expect(!FileManager.default.fileExists(atPath: "\(real)/\(older)"))
        #expect(FileManager.default.fileExists(atPath: "\(real)/\(newer)"))

        #expect(!bypassed(), "a command went around the seam to the configured destination")
    }
}
