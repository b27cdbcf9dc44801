import DrillCore
import Foundation

/// What the history says of one off-site remote (issue 16): facts gathered from the local
/// destination's events of kinds `push`, `offsite_check` and `drill` with `details.remote`
/// (docs/OFFSITE.md, "Events"). Health never reaches the remote itself: an hourly health check
/// must not depend on the network, and what it reports is what was proven, with its age.
public struct RemoteFact: Sendable, Equatable, Codable {
    /// The remote's configured name.
    public var name: String
    /// The newest set the history shows complete on the remote (pushed, or found complete by a
    /// check), and when it was made (its id's time).
    public var newestSet: BackupID?
    /// When the newest hash-checked (or read back) check of a set there passed, or a drill of the
    /// remote's copy passed (it reads every byte back and hashes it): the copy was verified then.
    public var lastVerified: Date?
    /// The set of ``lastVerified``.
    public var lastVerifiedSet: BackupID?
    /// The newest `offsite_check` said `unverified` (sizes only) and nothing verified it since.
    public var unverified: Bool
    /// The newest `offsite_check` failed (and nothing verified the remote since): its set and
    /// failing findings.
    public var lastCheckFailed: String?
    /// When a drill of the remote's copy last passed.
    public var newestPassingDrill: Date?
    /// The newest drill of the remote's copy failed: its drill id (or event id).
    public var lastDrillFailed: String?
    /// The newest push to the remote failed (no successful push since): its reason.
    public var lastPushFailed: String?

    enum CodingKeys: String, CodingKey {
        case name, unverified
        case newestSet = "newest_set"
        case lastVerified = "last_verified"
        case lastVerifiedSet = "last_verified_set"
        case lastCheckFailed = "last_check_failed"
        case newestPassingDrill = "newest_passing_drill"
        case lastDrillFailed = "last_drill_failed"
        case lastPushFailed = "last_push_failed"
    }

    /// - Parameter name: the remote's configured name; everything else empty.
    public init(name: String) {
        self.name = name
        unverified = false
    }

    /// The facts of remote `name` from `events` (any order).
    public static func gather(name: String, events: [HistoryEvent]) -> RemoteFact {
        var fact = RemoteFact(name: name)
        let mine = events.filter { $0.details["remote"] == name }.sorted { $0.time < $1.time }
        for event in mine {
            switch (event.kind, event.status) {
            case (.push, .ok):
                fact.note(set: event.backupID)
                fact.lastPushFailed = nil
            case (.push, .failed):
                fact.lastPushFailed = event.details["error"] ?? "push failed"
            case (.offsiteCheck, .pass):
                fact.note(set: event.backupID)
                fact.lastVerified = event.time
                fact.lastVerifiedSet = event.backupID
                fact.unverified = false
                fact.lastCheckFailed = nil
            case (.offsiteCheck, .unverified):
                fact.note(set: event.backupID)
                fact.unverified = true
                fact.lastCheckFailed = nil
            case (.offsiteCheck, .fail):
                let findings = event.details["findings"].map { " (\($0))" } ?? ""
                fact.lastCheckFailed = (event.backupID?.description ?? "a set") + findings
            case (.drill, .pass):
                fact.newestPassingDrill = event.time
                fact.lastVerified = event.time
                fact.lastVerifiedSet = event.backupID
                fact.unverified = false
                fact.lastDrillFailed = nil
                fact.lastCheckFailed = nil
            case (.drill, .fail):
                fact.lastDrillFailed = event.drillID?.description ?? event.id
            default:
                break
            }
        }
        return fact
    }

    private mutating func note(set id: BackupID?) {
        guard let id else { return }
        if newestSet.map({ id > $0 }) ?? true { newestSet = id }
    }

    /// Health findings for this remote, judged on the local thresholds:
    /// - `offsite_backup_age`: age of the newest set on the remote (from its id's time) against
    ///   `backup_warning`/`backup_critical`; none at all is CRITICAL;
    /// - `offsite_verified`: the copy was not hash-checked or read back within `drill_warning`
    ///   (or the newest check was sizes only: `unverified`): WARNING;
    /// - `offsite_drill_age`: age of the newest passing drill of the remote's copy against
    ///   `drill_warning`/`drill_critical`; none ever is CRITICAL;
    /// - `offsite_push`, `offsite_check`, `offsite_drill`: the newest push, check or drill of
    ///   the remote failed: WARNING, naming it.
    public func findings(now: Date, thresholds: RestoreDrillConfig.HealthThresholds) -> [HealthFinding] {
        func judge(_ age: Double, _ warning: Double, _ critical: Double) -> HealthStatus {
            age >= critical ? .critical : age >= warning ? .warning : .ok
        }
        var out: [HealthFinding] = []
        if let set = newestSet {
            let age = max(0, now.timeIntervalSince(set.date))
            let status = judge(age, thresholds.backupWarning, thresholds.backupCritical)
            out.append(
                HealthFinding(
                    code: "offsite_backup_age", status: status,
                    message: "remote \(name): newest set there \(set) is \(CompactDuration.string(age)) old",
                    subject: name))
        } else {
            out.append(
                HealthFinding(
                    code: "offsite_backup_age", status: .critical,
                    message: "remote \(name): no set has been pushed there", subject: name))
        }
        if unverified {
            out.append(
                HealthFinding(
                    code: "offsite_verified", status: .warning,
                    message:
                        "remote \(name): the last check compared sizes only (the remote offers no hash): "
                        + "unverified; run offsite check --download or drill --offsite \(name)",
                    subject: name))
        } else if let verified = lastVerified {
            let age = max(0, now.timeIntervalSince(verified))
            let status: HealthStatus = age >= thresholds.drillWarning ? .warning : .ok
            out.append(
                HealthFinding(
                    code: "offsite_verified", status: status,
                    message:
                        "remote \(name): copy verified \(CompactDuration.string(age)) ago"
                        + (lastVerifiedSet.map { " (\($0))" } ?? ""),
                    subject: name))
        } else {
            out.append(
                HealthFinding(
                    code: "offsite_verified", status: .warning,
                    message: "remote \(name): the copy there was never hash-checked or read back", subject: name))
        }
        if let drill = newestPassingDrill {
            let age = max(0, now.timeIntervalSince(drill))
            out.append(
                HealthFinding(
                    code: "offsite_drill_age", status: judge(age, thresholds.drillWarning, thresholds.drillCritical),
                    message:
                        "remote \(name): last drill of the off-site copy passed \(CompactDuration.string(age)) ago",
                    subject: name))
        } else {
            out.append(
                HealthFinding(
                    code: "offsite_drill_age", status: .critical,
                    message: "remote \(name): no drill of the off-site copy has ever passed", subject: name))
        }
        if let reason = lastPushFailed {
            out.append(
                HealthFinding(
                    code: "offsite_push", status: .warning, message: "remote \(name): last push failed: \(reason)",
                    subject: name))
        }
        if let failed = lastCheckFailed {
            out.append(
                HealthFinding(
                    code: "offsite_check", status: .warning, message: "remote \(name): last check failed: \(failed)",
                    subject: name))
        }
        if let failed = lastDrillFailed {
            out.append(
                HealthFinding(
                    code: "offsite_drill", status: .warning,
                    message: "remote \(name): last drill of the off-site copy failed: \(failed)", subject: name))
        }
        return out
    }
}
