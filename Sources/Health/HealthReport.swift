import DrillCore
import Foundation

/// A health status, in the words and codes of the Nagios plugin convention.
public enum HealthStatus: String, Codable, Sendable, CaseIterable, Comparable {
    case ok = "OK"
    case warning = "WARNING"
    case critical = "CRITICAL"
    /// The tool could not judge (an internal error); never the result of a finding.
    case unknown = "UNKNOWN"

    /// The plugin exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    public var nagiosCode: Int32 {
        switch self {
        case .ok: 0
        case .warning: 1
        case .critical: 2
        case .unknown: 3
        }
    }

    /// The tool's own exit status (docs/ARCHITECTURE.md, "Exit codes"): 0 when OK, 1 when not OK, 3 when unknown.
    public var exitStatus: ExitStatus {
        switch self {
        case .ok: .success
        case .warning, .critical: .findings
        case .unknown: .runtime
        }
    }

    /// Severity order: OK < WARNING < CRITICAL < UNKNOWN.
    public static func < (lhs: HealthStatus, rhs: HealthStatus) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One judged fact.
public struct HealthFinding: Sendable, Equatable, Codable {
    /// What it is about: `backup_age`, `future_set`, `partial_set`, `drill_age`, `last_backup`, `last_drill`,
    /// `destination`, `free_space`, `rejected_folder`, `sync_conflict`, `sync_placeholder`, `proof_age`, `history`,
    /// `error`.
    public var code: String
    public var status: HealthStatus
    /// One short phrase, as the status line shows it: `newest complete set 3h12m old`.
    public var message: String
    /// The set, drill, folder or file it names, when there is one.
    public var subject: String?

    public init(code: String, status: HealthStatus, message: String, subject: String? = nil) {
        self.code = code
        self.status = status
        self.message = message
        self.subject = subject
    }
}

/// The numbers behind a health report; also what the Prometheus file exports.
/// Absent values (no set, no drill) are nil, and their samples are left out of the Prometheus file.
public struct HealthMetrics: Sendable, Equatable, Codable {
    /// `now − finished_at` of the newest complete set, seconds.
    public var backupAgeSeconds: Double?
    /// `finished_at` of the newest complete set, Unix seconds.
    public var lastBackupTimestampSeconds: Double?
    /// Artifact bytes of the newest complete set.
    public var lastBackupSizeBytes: Int64?
    /// `now −` time of the newest passing drill, seconds.
    public var passingDrillAgeSeconds: Double?
    /// When the last drill (any verdict) finished, Unix seconds.
    public var lastDrillTimestampSeconds: Double?
    /// 1 when the last drill passed, 0 when it failed.
    public var lastDrillSuccess: Int?
    /// Measured restore time of the last drill, seconds.
    public var lastDrillRTOSeconds: Double?
    /// Usable sets in the destination (complete and partial).
    public var sets: Int
    /// Free bytes on the destination's file system.
    public var freeBytes: Int64?
    /// The thresholds judged against, seconds.
    public var backupWarningSeconds: Double
    public var backupCriticalSeconds: Double
    public var drillWarningSeconds: Double
    public var drillCriticalSeconds: Double
    /// Per off-site remote (by name): when its copy was last hash-checked, read back or drilled
    /// with a pass, Unix seconds; a remote never verified is absent.
    public var offsiteLastVerifiedSeconds: [String: Double]?
    /// Share of the destination's stored bytes proven within `proof.max_age` (``ProofLedger/provenRatio``),
    /// 0…1; nil when there is no complete set (or the ledger was not looked at).
    public var provenBytesRatio: Double?

    enum CodingKeys: String, CodingKey {
        case sets
        case provenBytesRatio = "proven_bytes_ratio"
        case offsiteLastVerifiedSeconds = "offsite_last_verified_timestamp_seconds"
        case backupAgeSeconds = "backup_age_seconds"
        case lastBackupTimestampSeconds = "last_backup_timestamp_seconds"
        case lastBackupSizeBytes = "last_backup_size_bytes"
        case passingDrillAgeSeconds = "passing_drill_age_seconds"
        case lastDrillTimestampSeconds = "last_drill_timestamp_seconds"
        case lastDrillSuccess = "last_drill_success"
        case lastDrillRTOSeconds = "last_drill_rto_seconds"
        case freeBytes = "free_bytes"
        case backupWarningSeconds = "backup_warning_seconds"
        case backupCriticalSeconds = "backup_critical_seconds"
        case drillWarningSeconds = "drill_warning_seconds"
        case drillCriticalSeconds = "drill_critical_seconds"
    }
}

/// The verdict of `restore-drill health`: the worst status of its findings, the findings, the numbers.
///
/// Rules (README, "Retention, health and history"; thresholds from the configuration's `health` keys; a value at or above a
/// warning threshold warns, at or above a critical threshold is critical):
/// - age of the newest complete set (`now − finished_at`) against `backup_warning`/`backup_critical`;
///   no complete set at all is CRITICAL;
/// - a partial newest set is at least WARNING, and named;
/// - age of the newest passing drill against `drill_warning`/`drill_critical`; no passing drill
///   ever is CRITICAL;
/// - the last backup failed (or was partial) or the last drill failed: WARNING, named — the ages
///   above turn a lasting failure into CRITICAL on the configured schedule;
/// - destination missing or not writable: CRITICAL (the next backup cannot be written);
/// - free space below the newest complete set's size: CRITICAL; below twice that size: WARNING;
/// - a folder named like a set that is not a usable set, or an unreadable history file: WARNING;
/// - a sync client's conflict copy or placeholder in a local destination: WARNING, each named
///   (`sync_conflict`, `sync_placeholder`); where placeholders cannot be told, an OK note;
/// - a complete set unproven (``ProofLedger/SetStatus/unprovenSeconds``) longer than `proof.max_age`:
///   WARNING, longer than twice that: CRITICAL, one `proof_age` finding per such set naming it and
///   its unproven parts; when no set is, one OK `proof_age` finding; none without a complete set.
public struct HealthReport: Sendable, Equatable {
    /// `"restore-drill/health"`.
    public static let formatName = "restore-drill/health"
    public static let formatVersion = 1

    public var status: HealthStatus
    /// Worst first; facts that are fine are findings with status OK.
    public var findings: [HealthFinding]
    public var metrics: HealthMetrics
    /// The instant judged at.
    public var checkedAt: Date
    public var destination: String

    public init(
        status: HealthStatus, findings: [HealthFinding], metrics: HealthMetrics, checkedAt: Date, destination: String
    ) {
        self.status = status
        self.findings = findings
        self.metrics = metrics
        self.checkedAt = checkedAt
        self.destination = destination
    }

    /// Judges `input` against `thresholds`. Pure: same input, same report.
    public static func evaluate(_ input: HealthInput, thresholds: RestoreDrillConfig.HealthThresholds) -> HealthReport {
        var findings: [HealthFinding] = []
        func judge(_ age: Double, warning: Double, critical: Double) -> HealthStatus {
            age >= critical ? .critical : age >= warning ? .warning : .ok
        }
        var metrics = HealthMetrics(
            sets: input.setCount, freeBytes: input.freeBytes, backupWarningSeconds: thresholds.backupWarning,
            backupCriticalSeconds: thresholds.backupCritical, drillWarningSeconds: thresholds.drillWarning,
            drillCriticalSeconds: thresholds.drillCritical)

        // Newest complete set.
        if let set = input.newestComplete {
            // Up to five minutes ahead (``SetClock/futureSkew``) is clock skew between machines.
            var age = input.now.timeIntervalSince(set.finishedAt)
            if age < 0 && age >= -SetClock.futureSkew { age = 0 }
            metrics.backupAgeSeconds = age
            metrics.lastBackupTimestampSeconds = set.finishedAt.timeIntervalSince1970
            metrics.lastBackupSizeBytes = set.sizeBytes
            if age < 0 {
                findings.append(
                    HealthFinding(
                        code: "backup_age", status: .warning,
                        message: "newest complete set finished \(CompactDuration.string(-age)) in the future (clock?)",
                        subject: set.id.description))
            } else {
                let status = judge(age, warning: thresholds.backupWarning, critical: thresholds.backupCritical)
                var message = "newest complete set \(CompactDuration.string(age)) old"
                if status == .critical {
                    message += " (critical at \(CompactDuration.threshold(thresholds.backupCritical)))"
                }
                if status == .warning {
                    message += " (warning at \(CompactDuration.threshold(thresholds.backupWarning)))"
                }
                findings.append(
                    HealthFinding(code: "backup_age", status: status, message: message, subject: set.id.description))
            }
        } else {
            findings.append(
                HealthFinding(
                    code: "backup_age", status: .critical, message: "no complete backup set", subject: input.destination
                ))
        }
        if let future = input.futureComplete {
            findings.append(
                HealthFinding(
                    code: "future_set", status: .warning,
                    message:
                        "set \(future.id) finished \(CompactDuration.string(future.finishedAt.timeIntervalSince(input.now))) in the future (clock?); the backup age is judged without it",
                    subject: future.id.description))
        }
        if let partial = input.newestPartial {
            findings.append(
                HealthFinding(
                    code: "partial_set", status: .warning, message: "newest set \(partial) is partial",
                    subject: partial.description))
        }

        // Newest passing drill.
        if let drill = input.newestPassingDrill {
            let age = max(0, input.now.timeIntervalSince(drill.time))
            metrics.passingDrillAgeSeconds = age
            let status = judge(age, warning: thresholds.drillWarning, critical: thresholds.drillCritical)
            var message = "last drill passed \(CompactDuration.string(age)) ago"
            if status == .critical {
                message += " (critical at \(CompactDuration.threshold(thresholds.drillCritical)))"
            }
            if status == .warning { message += " (warning at \(CompactDuration.threshold(thresholds.drillWarning)))" }
            findings.append(
                HealthFinding(code: "drill_age", status: status, message: message, subject: drill.drillID?.description))
        } else {
            findings.append(HealthFinding(code: "drill_age", status: .critical, message: "no drill has ever passed"))
        }

        // Last runs.
        if let backup = input.lastBackup {
            let ago = CompactDuration.string(input.now.timeIntervalSince(backup.time))
            switch backup.status {
            case .failed:
                findings.append(
                    HealthFinding(
                        code: "last_backup", status: .warning, message: "last backup failed \(ago) ago",
                        subject: backup.eventID))
            case .partial where backup.backupID != input.newestPartial:
                findings.append(
                    HealthFinding(
                        code: "last_backup", status: .warning,
                        message: "last backup \(backup.backupID.map { "\($0) " } ?? "")was partial \(ago) ago",
                        subject: backup.backupID?.description ?? backup.eventID))
            default:
                break
            }
        }
        if let drill = input.lastDrill {
            metrics.lastDrillTimestampSeconds = drill.time.timeIntervalSince1970
            metrics.lastDrillSuccess = drill.status == .pass ? 1 : 0
            metrics.lastDrillRTOSeconds = drill.rtoSeconds
            if drill.status != .pass {
                let ago = CompactDuration.string(input.now.timeIntervalSince(drill.time))
                var message = "last drill \(drill.drillID.map { "\($0) " } ?? "")failed \(ago) ago"
                if let folder = drill.reportFolder { message += " (report: \(folder))" }
                findings.append(
                    HealthFinding(
                        code: "last_drill", status: .warning, message: message,
                        subject: drill.drillID?.description ?? drill.eventID))
            }
        }

        // Destination.
        if !input.destinationExists {
            findings.append(
                HealthFinding(
                    code: "destination", status: .critical, message: "destination \(input.destination) does not exist",
                    subject: input.destination))
        } else if !input.destinationWritable {
            findings.append(
                HealthFinding(
                    code: "destination", status: .critical, message: "destination \(input.destination) is not writable",
                    subject: input.destination))
        }
        if let free = input.freeBytes {
            let need = input.newestComplete?.sizeBytes ?? 0
            let status: HealthStatus = free < need ? .critical : free < 2 * need ? .warning : .ok
            var message = "\(Units.humanBytes(free)) free"
            if status != .ok { message += ", newest complete set is \(Units.humanBytes(need))" }
            findings.append(
                HealthFinding(code: "free_space", status: status, message: message, subject: input.destination))
        }
        for folder in input.rejectedFolders {
            findings.append(
                HealthFinding(
                    code: "rejected_folder", status: .warning, message: "not a usable set: \(folder)", subject: folder))
        }
        for folder in input.unauthenticatedSets {
            findings.append(
                HealthFinding(
                    code: "unauthenticated_set", status: .warning,
                    message:
                        "\(folder): its manifest HMAC does not verify with the vault password (a forged or foreign set); "
                        + "it does not count and is never removed",
                    subject: folder))
        }
        for remote in input.remotes {
            findings += remote.findings(now: input.now, thresholds: thresholds)
            if let verified = remote.lastVerified {
                metrics.offsiteLastVerifiedSeconds = (metrics.offsiteLastVerifiedSeconds ?? [:]).merging([
                    remote.name: verified.timeIntervalSince1970
                ]) { $1 }
            }
        }
        // A sync client's leftovers: each conflict copy and placeholder a WARNING, named; the
        // note that placeholders cannot be told here is an OK finding (said, never a failure).
        if let sync = input.sync {
            for copy in sync.conflictCopies {
                findings.append(
                    HealthFinding(
                        code: "sync_conflict", status: .warning,
                        message: "sync conflict copy \(copy.path) (\(copy.rule.rawValue)) of \(copy.original)",
                        subject: copy.path))
            }
            for path in sync.placeholders {
                findings.append(
                    HealthFinding(
                        code: "sync_placeholder", status: .warning,
                        message: "\(path) is only a placeholder: its bytes are in the cloud, not on this disk",
                        subject: path))
            }
            if let note = sync.placeholderNote {
                findings.append(
                    HealthFinding(code: "sync_placeholder", status: .ok, message: note, subject: input.destination))
            }
        }
        if let ledger = input.proof, !ledger.sets.isEmpty {
            metrics.provenBytesRatio = ledger.provenRatio
            findings += proofFindings(ledger)
        }
        for problem in input.historyProblems {
            // A proof the history cannot vouch for reads fine: it is ignored, not unreadable.
            let ignored = problem.hasPrefix("proof event ")
            let drill = problem.hasPrefix("drill event ")
            findings.append(
                HealthFinding(
                    code: ignored ? "proof_ignored" : drill ? "drill_ignored" : "history", status: .warning,
                    message: ignored || drill ? problem : "history event unreadable: \(problem)", subject: problem))
        }

        let ordered = findings.enumerated().sorted { ($1.element.status, $0.offset) < ($0.element.status, $1.offset) }
            .map(\.element)
        return HealthReport(
            status: ordered.map(\.status).max() ?? .ok, findings: ordered, metrics: metrics, checkedAt: input.now,
            destination: input.destination)
    }

    /// The `proof_age` findings of `ledger` (see ``evaluate(_:thresholds:)``): a set unproven for
    /// more than `maxAge` seconds is WARNING, more than twice that CRITICAL.
    static func proofFindings(_ ledger: ProofLedger) -> [HealthFinding] {
        let window = CompactDuration.threshold(ledger.maxAge)
        var out: [HealthFinding] = []
        for set in ledger.sets where set.unprovenSeconds > ledger.maxAge {
            let critical = set.unprovenSeconds > 2 * ledger.maxAge
            let unproven = set.unprovenParts
            // Names from the set: every byte a terminal or a log could take for markup escaped.
            let names = unproven.prefix(3).map { FileNameBytes.escapedBytes($0.part.name) }.joined(separator: ", ")
            let more = unproven.count > 3 ? ", …" : ""
            out.append(
                HealthFinding(
                    code: "proof_age", status: critical ? .critical : .warning,
                    message: "set \(set.id) unproven for \(CompactDuration.string(set.unprovenSeconds)) "
                        + "(\(critical ? "critical" : "warning") at \(critical ? CompactDuration.threshold(2 * ledger.maxAge) : window)): "
                        + "\(unproven.count) of \(set.parts.count) parts not proven within \(window): \(names)\(more)",
                    subject: set.id.description))
        }
        if out.isEmpty {
            let proven = ledger.sets.filter(\.proven).count
            out.append(
                HealthFinding(
                    code: "proof_age", status: .ok,
                    message: "\(proven) of \(ledger.sets.count) sets proven within \(window); "
                        + "\(ProofLedger.percent(ledger.provenRatio)) of the destination's bytes",
                    subject: ledger.sets.last?.id.description))
        }
        return out
    }

    /// The report of a health check that could not run (Nagios UNKNOWN, exit 3).
    public static func unknown(_ message: String, destination: String, now: Date) -> HealthReport {
        HealthReport(
            status: .unknown, findings: [HealthFinding(code: "error", status: .unknown, message: message)],
            metrics: HealthMetrics(
                sets: 0, backupWarningSeconds: 0, backupCriticalSeconds: 0, drillWarningSeconds: 0,
                drillCriticalSeconds: 0),
            checkedAt: now, destination: destination)
    }
}
