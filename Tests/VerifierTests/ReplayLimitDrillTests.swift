import DrillCore
import Foundation
import Testing

@testable import Verifier

/// Replays with ``LocalReplayer`` and answers as a replayer that ran under `limits` and was
/// stopped by `stoppedBy`; records the request.
final class LimitingReplayer: RestoreReplayer, @unchecked Sendable {
    let limits: ReplayLimits
    let stoppedBy: [ReplayLimit]
    private let lock = NSLock()
    private var requests: [ReplayRequest] = []

    init(limits: ReplayLimits, stoppedBy: [ReplayLimit] = []) {
        self.limits = limits
        self.stoppedBy = stoppedBy
    }

    var recorded: [ReplayRequest] { lock.withLock { requests } }

    func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
        lock.withLock { requests.append(request) }
        var outcome = try await LocalReplayer().replay(request)
        outcome.limits = limits
        outcome.stoppedBy = stoppedBy
        return outcome
    }
}

/// Issue 11: the report says which limits the replay ran under, and a replay a limit stopped
/// fails `restore.script`, naming the limit.
@Suite struct ReplayLimitDrillTests {
    @Test func theLimitsReachTheResultAndABenignReplayPasses() async throws {
        let fixture = try Fixture()
        let replayer = LimitingReplayer(limits: ReplayLimits(applied: [.shmCap, .byteBound, .seccomp]))
        let result = try await Drill(options: fixture.drillOptions(), clock: FixedClock(Date()), replayer: replayer)
            .run()
        #expect(result.limits == "partial (memory cgroup, pids cgroup)")
        let script = try #require(result.checks.first { $0.check == .restoreScript })
        #expect(script.verdict == .pass, "\(script.message)")
        #expect(script.evidence.contains("limits partial (memory cgroup, pids cgroup)"))
        #expect(result.verdict == .pass)
    }

    /// The request carries the documented bound for the set's bytes (no password: the set is
    /// unproven, so its manifest's restored bytes do not count).
    @Test func theRequestCarriesTheByteBoundOfTheSet() async throws {
        let fixture = try Fixture()
        let replayer = LimitingReplayer(limits: .full)
        let result = try await Drill(options: fixture.drillOptions(), clock: FixedClock(Date()), replayer: replayer)
            .run()
        #expect(result.limits == "full")
        let request = try #require(replayer.recorded.first)
        // The lengths of the set's files, counted here on their own.
        var setBytes: Int64 = 0
        let files = try #require(FileManager.default.enumerator(atPath: fixture.setPath))
        for case let name as String in files {
            let attributes = try FileManager.default.attributesOfItem(atPath: fixture.setPath + "/" + name)
            if attributes[.type] as? FileAttributeType == .typeRegular {
                setBytes += (attributes[.size] as? NSNumber)?.int64Value ?? 0
            }
        }
        #expect(setBytes > 1000)
        #expect(request.byteBound == setBytes * 16 + (1 << 30))
        #expect(request.byteBound == ReplayRequest.byteBound(setBytes: setBytes))
    }

    @Test(arguments: [
        (ReplayLimit.memoryCgroup, "stopped by the memory cgroup"), (.pidsCgroup, "stopped by the pids cgroup"),
        (.byteBound, "stopped by the byte bound"),
    ])
    func aReplayStoppedByALimitFailsRestoreScriptNamingIt(limit: ReplayLimit, words: String) async throws {
        let fixture = try Fixture()
        let replayer = LimitingReplayer(limits: .full, stoppedBy: [limit])
        let result = try await Drill(options: fixture.drillOptions(), clock: FixedClock(Date()), replayer: replayer)
            .run()
        let script = try #require(result.checks.first { $0.check == .restoreScript })
        #expect(script.verdict == .fail)
        #expect(script.message.contains(words), "\(script.message)")
        let finding = try #require(script.findings.first { $0.code == .scriptStoppedByLimit })
        #expect(finding.data["limit"] == limit.rawValue)
        #expect(result.verdict == .fail)
        #expect(result.rtoSeconds == nil)
    }
}
