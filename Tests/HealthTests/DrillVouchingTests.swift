import Destination
import DrillCore
import Foundation
import Testing

@testable import Health

/// Issue 19: the history lives in the destination, which others may write to. A drill event
/// dated in the future never counts for health, nor one dated far from its drill id, and one
/// newer than this machine's oldest report counts only when its report agrees (same set, same
/// verdict); an older one (its report pruned) is taken at the chain's word.
@Suite struct DrillVouchingTests {
    let set = BackupID("full_20251019_030000")!

    func report(_ drill: DrillID, passed: Bool) -> LocalDrillReport {
        LocalDrillReport(
            drillID: drill, backupID: set, passed: passed, finishedAt: drill.date, manifestSHA256: nil,
            authenticated: true, tools: nil, rtoSeconds: 1, failedChecks: passed ? [] : ["set.artifacts"],
            folder: "/reports/\(drill)")
    }

    @Test func aForgedOrFutureDrillEventDoesNotHideARealFailure() throws {
        let dest = try TempDestination()
        let store = HistoryStore(destination: dest.path)
        let realID = DrillID(date: date("2025-10-20T05:00:00Z"))
        let forgedID = DrillID(date: date("2025-10-20T06:00:00Z"))
        let futureID = DrillID(date: date("2099-01-01T00:00:00Z"))
        let real = HistoryEvent(
            kind: .drill, time: date("2025-10-20T05:00:10Z"), status: .fail, backupID: set, drillID: realID)
        // Claims a pass of a drill this machine reported as failed.
        let flipped = HistoryEvent(
            kind: .drill, time: date("2025-10-20T05:30:00Z"), status: .pass, backupID: set, drillID: realID)
        let forged = HistoryEvent(
            kind: .drill, time: date("2025-10-20T06:00:10Z"), status: .pass, backupID: set, drillID: forgedID)
        let future = HistoryEvent(
            kind: .drill, time: date("2099-01-01T00:00:10Z"), status: .pass, backupID: set, drillID: futureID)
        for e in [real, flipped, forged, future] { try store.append(e) }
        let now = date("2025-10-20T12:00:00Z")

        // The oldest report is the real drill's: a pass of an earlier drill (its report pruned)
        // counts; one that borrows an old drill id to look new does not.
        let prunedID = DrillID(date: date("2025-10-19T05:00:00Z"))
        let pruned = HistoryEvent(
            kind: .drill, time: date("2025-10-19T05:00:20Z"), status: .pass, backupID: set, drillID: prunedID)
        let borrowed = HistoryEvent(
            kind: .drill, time: date("2025-10-20T07:00:00Z"), status: .pass, backupID: set, drillID: prunedID)
        // A passing drill's event replayed with a new date: the report says when it ended.
        let passID = DrillID(date: date("2025-10-20T04:00:00Z"))
        let pass = HistoryEvent(
            kind: .drill, time: date("2025-10-20T04:00:30Z"), status: .pass, backupID: set, drillID: passID)
        var replayed = pass
        replayed.id = "20251020T070000.000Z-drill-0badc0de"
        replayed.time = date("2025-10-20T07:00:00Z")
        for e in [pruned, borrowed, pass, replayed] { try store.append(e) }

        // Without reports (a machine that only watches the folder): only the clock rules apply.
        let watching = try HealthInput.gather(LocalDestination(path: dest.path), now: now)
        #expect(watching.lastDrill?.eventID == forged.id)
        #expect(watching.historyProblems.filter { $0.hasPrefix("drill event ") }.count == 4)

        // With this machine's reports: the real failure is the last drill, and only the pruned
        // drill's pass stands.
        var passing = report(passID, passed: true)
        passing.finishedAt = date("2025-10-20T04:00:30Z")
        var failing = report(realID, passed: false)
        failing.finishedAt = date("2025-10-20T05:00:10Z")
        let reports = [realID.description: failing, passID.description: passing]
        let input = try HealthInput.gather(LocalDestination(path: dest.path), now: now, drillReports: reports)
        #expect(input.lastDrill?.eventID == real.id)
        #expect(input.newestPassingDrill?.eventID == pass.id)
        let ignored = input.historyProblems.filter { $0.hasPrefix("drill event ") }
        #expect(ignored.count == 5, "\(ignored)")
        #expect(ignored.contains { $0.contains(replayed.id) && $0.contains("ended at") }, "\(ignored)")
        #expect(ignored.contains { $0.contains(borrowed.id) && $0.contains("not within a day") })
        #expect(ignored.contains { $0.contains(flipped.id) && $0.contains("disagrees") })
        #expect(ignored.contains { $0.contains(future.id) && $0.contains("in the future") })
        #expect(ignored.contains { $0.contains(forged.id) && $0.contains("no report on this machine") })
        let health = HealthReport.evaluate(input, thresholds: .init())
        #expect(health.findings.filter { $0.code == "drill_ignored" }.count == 5)
        #expect(health.metrics.lastDrillSuccess == 0)
    }

    /// What the history lost or an attacker added around this machine's reports: a failed drill
    /// whose event was deleted is still the last drill (its report says so), and an event naming
    /// a drill older than every report but dated after the oldest one began is not believed.
    @Test func aDeletedFailureStaysAndAnOldIDCannotPassForANewDrill() throws {
        let dest = try TempDestination()
        let store = HistoryStore(destination: dest.path)
        let passID = DrillID(date: date("2025-10-20T04:00:00Z"))
        let failID = DrillID(date: date("2025-10-20T05:00:00Z"))
        let pass = HistoryEvent(
            kind: .drill, time: date("2025-10-20T04:00:30Z"), status: .pass, backupID: set, drillID: passID)
        // Older than every report, dated after the oldest began: it would pass for a new drill.
        let olderID = DrillID(date: date("2025-10-20T03:59:00Z"))
        let forged = HistoryEvent(
            kind: .drill, time: date("2025-10-20T06:00:00Z"), status: .pass, backupID: set, drillID: olderID)
        for e in [pass, forged] { try store.append(e) }
        var passing = report(passID, passed: true)
        passing.finishedAt = pass.time
        var failing = report(failID, passed: false)
        failing.finishedAt = date("2025-10-20T05:00:40Z")
        failing.setPath = dest.path + "/" + set.description
        // The failing drill's event was deleted from the history.
        let reports = [passID.description: passing, failID.description: failing]
        let now = date("2025-10-20T12:00:00Z")
        let input = try HealthInput.gather(LocalDestination(path: dest.path), now: now, drillReports: reports)
        #expect(input.lastDrill?.status == .fail)
        #expect(input.lastDrill?.drillID == failID)
        #expect(input.newestPassingDrill?.eventID == pass.id)
        #expect(
            input.historyProblems.contains { $0.contains(forged.id) && $0.contains("after the oldest of them began") })
        #expect(input.historyProblems.contains { $0.contains("drill event of \(failID) is missing") })
        #expect(HealthReport.evaluate(input, thresholds: .init()).metrics.lastDrillSuccess == 0)
    }
}
