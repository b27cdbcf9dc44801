import DrillCore
import Foundation
import Testing

@testable import Health

/// Health and the SLA of off-site remotes (issue 16), judged from the local history's `push`,
/// `offsite_check` and `drill` events that name the remote.
struct OffsiteHealthTests {
    static let now = Timestamp.date("2025-06-14T12:00:00Z")!
    static let thresholds = RestoreDrillConfig.HealthThresholds()

    static func id(hoursAgo: Double) -> BackupID {
        BackupID(date: now.addingTimeInterval(-hoursAgo * 3600), sequence: 1)
    }

    static func event(
        _ kind: HistoryEventKind, _ status: HistoryEventStatus, hoursAgo: Double, set: BackupID? = nil,
        details: [String: String] = [:], remote: String = "onedrive"
    ) -> HistoryEvent {
        var all = details
        all["remote"] = remote
        return HistoryEvent(
            kind: kind, time: now.addingTimeInterval(-hoursAgo * 3600), status: status, backupID: set, details: all)
    }

    func statuses(_ events: [HistoryEvent], remote: String = "onedrive") -> [String: HealthStatus] {
        let fact = RemoteFact.gather(name: remote, events: events)
        var out: [String: HealthStatus] = [:]
        for f in fact.findings(now: Self.now, thresholds: Self.thresholds) { out[f.code] = f.status }
        return out
    }

    @Test func aRemoteNeverPushedToIsCriticalAndNeverVerifiedWarns() {
        let s = statuses([])
        #expect(s["offsite_backup_age"] == .critical)
        #expect(s["offsite_verified"] == .warning)
        #expect(s["offsite_drill_age"] == .critical)
    }

    @Test func aFreshPushCheckAndDrillAreOKAndEventsOfAnotherRemoteDoNotCount() {
        let set = Self.id(hoursAgo: 3)
        let events = [
            Self.event(.push, .ok, hoursAgo: 2.9, set: set),
            Self.event(.offsiteCheck, .pass, hoursAgo: 2, set: set, details: ["method": "hash:md5"]),
            Self.event(.drill, .pass, hoursAgo: 1, set: set, details: ["copy": "offsite"]),
            Self.event(.push, .failed, hoursAgo: 0.5, set: set, details: ["error": "timeout"], remote: "b2"),
        ]
        let s = statuses(events)
        #expect(s == ["offsite_backup_age": .ok, "offsite_verified": .ok, "offsite_drill_age": .ok])
        let other = statuses(events, remote: "b2")
        #expect(other["offsite_push"] == .warning)
        #expect(other["offsite_backup_age"] == .critical)
    }

    @Test func ageThresholdsAreTheLocalOnes() {
        let old = Self.id(hoursAgo: 30)
        let s = statuses([
            Self.event(.push, .ok, hoursAgo: 29, set: old),
            Self.event(.offsiteCheck, .pass, hoursAgo: 9 * 24, set: old),
            Self.event(.drill, .pass, hoursAgo: 11 * 24, set: old, details: ["copy": "offsite"]),
        ])
        #expect(s["offsite_backup_age"] == .warning)  // 30 h: warning at 25 h, critical at 36 h
        #expect(s["offsite_verified"] == .warning)  // 9 days: older than drill_warning (8 days)
        #expect(s["offsite_drill_age"] == .critical)  // 11 days: critical at 10 days
        let older = statuses([Self.event(.push, .ok, hoursAgo: 40, set: Self.id(hoursAgo: 40))])
        #expect(older["offsite_backup_age"] == .critical)
    }

    @Test func anUnverifiedCheckWarnsUntilAReadBackOrDrillVerifiesTheCopy() {
        let set = Self.id(hoursAgo: 3)
        var events = [
            Self.event(.offsiteCheck, .pass, hoursAgo: 5, set: set),
            Self.event(.offsiteCheck, .unverified, hoursAgo: 2, set: set, details: ["method": "size"]),
        ]
        #expect(statuses(events)["offsite_verified"] == .warning)
        events.append(Self.event(.drill, .pass, hoursAgo: 1, set: set, details: ["copy": "offsite"]))
        #expect(statuses(events)["offsite_verified"] == .ok)
    }

    @Test func failuresAreNamedAndASuccessAfterThemClearsThem() {
        let set = Self.id(hoursAgo: 3)
        var events = [
            Self.event(.push, .failed, hoursAgo: 2, set: set, details: ["error": "sftp: connection refused"]),
            Self.event(.offsiteCheck, .fail, hoursAgo: 1.5, set: set, details: ["findings": "remote.hash_mismatch"]),
            Self.event(.drill, .fail, hoursAgo: 1, set: set, details: ["copy": "offsite"]),
        ]
        let fact = RemoteFact.gather(name: "onedrive", events: events)
        let messages = fact.findings(now: Self.now, thresholds: Self.thresholds).map(\.message).joined(separator: "\n")
        #expect(messages.contains("last push failed: sftp: connection refused"))
        #expect(messages.contains("remote.hash_mismatch"))
        #expect(messages.contains("last drill of the off-site copy failed"))
        events += [
            Self.event(.push, .ok, hoursAgo: 0.5, set: set),
            Self.event(.drill, .pass, hoursAgo: 0.2, set: set, details: ["copy": "offsite"]),
        ]
        let s = statuses(events)
        #expect(s["offsite_push"] == nil && s["offsite_check"] == nil && s["offsite_drill"] == nil)
    }

    @Test func healthCarriesTheRemoteFindingsAndThePrometheusGaugePerRemote() {
        let set = Self.id(hoursAgo: 3)
        let verified = Self.now.addingTimeInterval(-3600)
        var input = HealthInput(now: Self.now, destination: "/backups")
        input.remotes = [
            RemoteFact.gather(
                name: "onedrive", events: [Self.event(.offsiteCheck, .pass, hoursAgo: 1, set: set)]),
            RemoteFact.gather(name: "b\"2", events: []),
        ]
        let report = HealthReport.evaluate(input, thresholds: Self.thresholds)
        #expect(report.findings.contains { $0.code == "offsite_verified" && $0.subject == "onedrive" })
        #expect(report.metrics.offsiteLastVerifiedSeconds == ["onedrive": verified.timeIntervalSince1970])
        let text = report.prometheus()
        #expect(text.contains("# TYPE restore_drill_offsite_last_verified_timestamp_seconds gauge"))
        #expect(
            text.contains(
                "restore_drill_offsite_last_verified_timestamp_seconds{remote=\"onedrive\"} "
                    + "\(Int64(verified.timeIntervalSince1970))"))
        #expect(!text.contains("remote=\"b"))
    }

    @Test func theScorecardCountsWeeksWithAPassingDrillOfTheOffsiteCopy() {
        // 2025-06-02 and 2025-06-09 are Mondays; the window ends on 2025-06-14.
        let events = [
            HistoryEvent(
                kind: .drill, time: Timestamp.date("2025-06-03T05:00:00Z")!, status: .pass,
                details: ["copy": "offsite", "remote": "onedrive"]),
            HistoryEvent(kind: .drill, time: Timestamp.date("2025-05-27T05:00:00Z")!, status: .pass),
        ]
        let card = SLAScorecard.compute(
            events: events, sets: [], since: 30 * 86400, now: Self.now, timeZone: TimeZone(identifier: "UTC")!,
            objectives: .init())
        let offsite = card.weeksWithPassingOffsiteDrill
        #expect(offsite?.numerator == 1)
        #expect(offsite?.denominator == card.weeks.count)
        #expect(card.weeksWithPassingDrill.numerator == 2)
        #expect(
            card.markdown().contains("| Weeks with a passing drill of the off-site copy | 1/\(card.weeks.count) weeks"))
    }
}
