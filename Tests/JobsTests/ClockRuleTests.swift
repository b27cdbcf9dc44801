import Destination
import DrillCore
import Foundation
import Health
import Testing

@testable import Jobs

/// The one clock rule (``SetClock``) seen by `drill --latest`, `health` and `prune` alike: a set
/// whose id lies up to 5 minutes after now counts for all three; one 6 minutes ahead counts for
/// none of them and is never removed.
@Suite(.serialized) struct ClockRuleTests {
    /// A set a day old and one `ahead` seconds after `now`, with `retention.last 1` only.
    static func destination(ahead: Double, now: Date) async throws -> (
        PruneJobTests.Workspace, old: BackupID, ahead: BackupID
    ) {
        var w = try PruneJobTests.workspace()
        var config = w.config
        config.retention = .init()
        config.retention.last = 1
        config.retention.daily = 0
        config.retention.weekly = 0
        config.retention.monthly = 0
        config.retention.timeZone = "UTC"
        w = PruneJobTests.Workspace(folder: w.folder, config: config)
        let old = try await BackupJob(config: config, clock: FixedClock(now.addingTimeInterval(-86400))).run()
        let new = try await BackupJob(config: config, clock: FixedClock(now.addingTimeInterval(ahead))).run()
        return (w, old.manifest.id, new.manifest.id)
    }

    @Test func aSetTwoMinutesAheadCountsForDrillHealthAndPrune() async throws {
        let now = Timestamp.date("2025-06-14T12:00:00Z")!
        let (w, old, ahead) = try await Self.destination(ahead: 120, now: now)
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        #expect(ahead.date.timeIntervalSince(now) == 120)

        let drill = try await DrillJob(config: w.config, clock: FixedClock(now), currentDirectory: w.folder).run(
            .init(pick: .latest))
        #expect(drill.backupID == ahead)
        #expect(drill.checks.first { $0.check == .rpo }?.message.contains("dated in the future") == false)

        let input = try HealthInput.gather(LocalDestination(path: w.config.destination), now: now)
        #expect(input.newestComplete?.id == ahead)
        #expect(input.futureComplete == nil)
        let report = HealthJob.run(config: w.config, now: now)
        #expect(!report.findings.contains { $0.code == "future_set" })

        let pruned = try PruneJob(config: w.config, clock: FixedClock(now)).run(dryRun: false)
        let kept = pruned.decisions.first { $0.hasPrefix("keep \(ahead): ") }
        #expect(kept?.contains("newest complete set") == true && kept?.contains("last 1") == true, "\(kept ?? "")")
        #expect(pruned.removedSets == ["\(w.config.destination)/\(old)"])
    }

    @Test func aSetSixMinutesAheadCountsForNoneAndIsNeverRemoved() async throws {
        let now = Timestamp.date("2025-06-14T12:00:00Z")!
        let (w, old, ahead) = try await Self.destination(ahead: 360, now: now)
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        #expect(ahead.date.timeIntervalSince(now) == 360)

        let drill = try await DrillJob(config: w.config, clock: FixedClock(now), currentDirectory: w.folder).run(
            .init(pick: .latest))
        #expect(drill.backupID == old)
        #expect(drill.checks.first { $0.check == .rpo }?.message.contains("\(ahead) is dated in the future") == true)

        let input = try HealthInput.gather(LocalDestination(path: w.config.destination), now: now)
        #expect(input.newestComplete?.id == old)
        #expect(input.futureComplete?.id == ahead)
        let report = HealthJob.run(config: w.config, now: now)
        #expect(report.findings.contains { $0.code == "future_set" && $0.subject == ahead.description })

        for _ in 0..<2 {
            let pruned = try PruneJob(config: w.config, clock: FixedClock(now)).run(dryRun: false)
            #expect(pruned.removedSets.isEmpty)
            #expect(
                pruned.decisions.contains("keep \(ahead): dated in the future (2025-06-14T12:06:00.000Z), not counted"))
            #expect(FileManager.default.fileExists(atPath: "\(w.config.destination)/\(ahead)"))
            #expect(FileManager.default.fileExists(atPath: "\(w.config.destination)/\(old)"))
        }
    }
}
