import Foundation

/// The outcome of one check on one subject (docs/ARCHITECTURE.md, "Vocabulary").
public enum Verdict: String, Codable, Sendable, CaseIterable {
    /// The check ran on a real subject and found it correct.
    case pass
    /// The check ran and found the subject wrong.
    case fail
    /// The check did not run; ``CheckResult/message`` says why. A check with no subject is a skip.
    case skip
    /// The check could not run (the tool itself failed, e.g. an I/O error).
    case error
}

/// The check catalogue (docs/ARCHITECTURE.md, "The checks"; docs/SPOT.md for `spot.*`): each id is
/// a JUnit classname. A drill runs ``drillCatalogue``; `restore-drill spot` runs ``spotCatalogue``.
public enum CheckID: String, Codable, Sendable, CaseIterable {
    case setManifest = "set.manifest"
    case setArtifacts = "set.artifacts"
    case setCoverage = "set.coverage"
    case restoreArchives = "restore.archives"
    case restoreScript = "restore.script"
    case restoreTree = "restore.tree"
    case dbIntegrity = "db.integrity"
    case launchAgentsRewrite = "launchagents.rewrite"
    case launchAgentsLint = "launchagents.lint"
    case credentialsVault = "credentials.vault"
    case rpo = "rpo"
    case rto = "rto"
    /// `spot`: file counts and bytes per component and per top folder of the root, live vs the set.
    case spotCounts = "spot.counts"
    /// `spot`: files on disk absent from the set that no configured exclude explains.
    case spotUnexplained = "spot.unexplained"
    /// `spot`: what each configured exclude pattern removes now, per top folder.
    case spotExcludes = "spot.excludes"
    /// `spot`: files in the set no longer on disk.
    case spotGone = "spot.gone"
    /// `spot`: a seeded sample of files hashed on disk against the manifest's SHA-256.
    case spotSample = "spot.sample"
    /// `spot`: each database's live row counts per table against the recorded ones.
    case spotDatabases = "spot.databases"

    /// The checks a drill runs, in report order (every case but the `spot.*` ones).
    public static let drillCatalogue: [CheckID] = allCases.filter { !$0.rawValue.hasPrefix("spot.") }
    /// The checks `restore-drill spot` runs, in report order.
    public static let spotCatalogue: [CheckID] = allCases.filter { $0.rawValue.hasPrefix("spot.") }
}

/// One verification of one subject, with its verdict and evidence.
public struct CheckResult: Codable, Sendable, Equatable {
    /// The check id, e.g. `db.integrity` (JUnit classname).
    public var check: CheckID
    /// What was checked, e.g. `claude/data/store_03.db` (JUnit name).
    public var subject: String
    public var verdict: Verdict
    /// One line: for a failure what is wrong and where; for a skip the reason; for a pass a summary.
    public var message: String
    /// Supporting lines (digests compared, command output tails, …), rendered as system-out.
    public var evidence: [String]
    /// Wall time the check took, seconds.
    public var seconds: Double
    /// What the check found, each with its code and data; ``message`` was rendered from them.
    /// Empty for a result decoded from a report (report.json carries the rendered message only);
    /// a pass or a skip holds only notes, findings that never fail a check (such as
    /// `archive.metadata_ignored`, documented with their codes), and is usually empty.
    public var findings: [Finding] = []

    enum CodingKeys: String, CodingKey {
        case check, subject, verdict, message, evidence, seconds
    }

    public init(
        check: CheckID, subject: String, verdict: Verdict, message: String, evidence: [String] = [],
        seconds: Double = 0
    ) {
        self.check = check
        self.subject = subject
        self.verdict = verdict
        self.message = message
        self.evidence = evidence
        self.seconds = seconds
    }

    /// A skip for a check that has nothing to check: never a pass.
    public static func noSubject(_ check: CheckID, subject: String, reason: String) -> CheckResult {
        CheckResult(check: check, subject: subject, verdict: .skip, message: reason)
    }
}

/// How the restore script was isolated during a drill.
public enum IsolationKind: String, Codable, Sendable {
    /// bubblewrap: no network, read-only system, only the sandbox writable, own PID namespace.
    case bubblewrap
    /// Limits, timeout and scrubbed environment only.
    case none
}

/// The copy a drill read when it was not the configured destination's own set: an off-site copy
/// fetched from an rclone remote (`drill --offsite NAME`) into the drill's staging folder.
public struct DrilledCopy: Codable, Sendable, Equatable {
    /// `offsite` (the only kind so far; a local drill has no ``DrilledCopy``). JSON `copy`.
    public var kind: String
    /// The remote's configured name (`offsite[].name`). JSON `remote`.
    public var remote: String
    /// The remote's rclone path (`offsite[].rclone`, e.g. `onedrive:MaiaBackups`): never a secret
    /// (the configuration refuses inline credentials). JSON `remote_path`.
    public var remotePath: String
    /// Wall-clock seconds the download of the set (its folder's files and, format 2, its objects)
    /// took; counted inside the measured RTO. JSON `fetch_seconds`.
    public var fetchSeconds: Double
    /// Bytes downloaded to drill the set. JSON `fetched_bytes`.
    public var fetchedBytes: Int64

    /// - Parameters: as the properties; `kind` defaults to `offsite`.
    public init(kind: String = "offsite", remote: String, remotePath: String, fetchSeconds: Double, fetchedBytes: Int64)
    {
        self.kind = kind
        self.remote = remote
        self.remotePath = remotePath
        self.fetchSeconds = fetchSeconds
        self.fetchedBytes = fetchedBytes
    }

    /// How reports name the copy: `off-site copy on remote NAME (PATH)`.
    public var text: String { "off-site copy on remote \(remote) (\(remotePath))" }
}

/// A restored part as reports show it (``DrillResult/restoredParts``).
struct PartSummary: Codable {
    var number: Int
    var kind: RestorePart.Kind
    var name: String
    var bytes: Int64
}

/// Everything a drill found; what the reports render. Reports never see Verifier internals.
public struct DrillResult: Codable, Sendable, Equatable {
    /// `"restore-drill/drill-report"`.
    public static let formatName = "restore-drill/drill-report"
    public static let formatVersion = 1

    public var format: String = DrillResult.formatName
    public var formatVersion: Int = DrillResult.formatVersion
    public var drillID: DrillID
    public var backupID: BackupID?
    /// Absolute path of the drilled set.
    public var setPath: String
    /// SHA-256 of the manifest.json file as read (64 hex), nil when unreadable.
    public var manifestSHA256: String?
    public var startedAt: String
    public var finishedAt: String
    public var isolation: IsolationKind
    /// The replay's limits beyond the per-process ones (``ReplayLimits``): `full`, or
    /// `partial (NAMES)` naming those not applied (`memory cgroup`, `pids cgroup`, `shm cap`,
    /// `byte bound`, `seccomp`); nil when the restore script did not run. JSON `limits`, absent
    /// when nil (an optional field of report format 1).
    public var limits: String?
    /// Whether the set's manifest HMAC verified with the vault password: true, false (a password
    /// was given and it did not: the replay got no secret), nil when no password was given (the
    /// set cannot be authenticated). JSON `authenticated`, absent when nil (an optional field of
    /// report format 1).
    public var authenticated: Bool?
    /// Age of the newest complete set at drill time, seconds; nil when unknown.
    public var rpoSeconds: Double?
    /// Measured restore time, seconds: the script replay, plus the download of the set for a drill
    /// of an off-site copy (``copy``'s ``DrilledCopy/fetchSeconds``); nil when the replay did not run.
    public var rtoSeconds: Double?
    /// The copy drilled when it is not the destination's own set (an off-site copy), with its
    /// download time; nil for a local drill. JSON, flat and absent when nil (optional fields of
    /// report format 1): `copy` (`offsite`), `remote`, `remote_path`, `fetch_seconds`, `fetched_bytes`.
    public var copy: DrilledCopy?
    /// Objectives from configuration, seconds.
    public var rpoObjectiveSeconds: Double?
    public var rtoObjectiveSeconds: Double?
    public var toolVersion: String
    public var host: String
    /// The sandbox folder, and whether it was kept after the drill.
    public var sandboxPath: String?
    public var sandboxKept: Bool
    /// Folder holding junit.xml, report.md and report.json.
    public var reportFolder: String?
    public var checks: [CheckResult]
    /// The parts of the set the drill restored (issue 17, docs/PROOF.md): every part for a full
    /// drill, the chosen ones for a drill of some parts (``sampled``); nil when the manifest did not
    /// load. JSON `restored_parts`, each `{"number", "kind", "name", "bytes"}` (the artifact list is
    /// left out; absent when nil: an optional field of report format 1).
    public var restoredParts: [RestorePart]?
    /// How many parts the set has; JSON `parts_total`, absent when ``restoredParts`` is nil.
    public var partsTotal: Int?
    /// True when the drill restored only some parts (`--parts`, `drill --sample`); JSON `sampled`,
    /// present only when true.
    public var sampled = false
    /// What the replay ran with, as the set's restore script recorded it (issue 19, the file
    /// `RESTORE_DRILL_TOOLS` names): keys ``ToolsRecord/keys`` (`sh`, `tar`, `gzip`, `hash`,
    /// `openssl`, `sqlite3`, `os`, `arch`), each value one line of version text; nil when the
    /// script wrote nothing (a set whose script predates the record, or a replay that did not run).
    /// JSON `tools`, an object, absent when nil (an optional field of report format 1).
    public var tools: [String: String]?

    /// `N of M` parts restored, for the reports; nil when unknown.
    public var partsLine: String? {
        guard let restoredParts, let partsTotal else { return nil }
        return "\(restoredParts.count) of \(partsTotal)"
    }

    enum CodingKeys: String, CodingKey {
        case format, isolation, host, checks, authenticated, limits, sampled, tools
        case restoredParts = "restored_parts"
        case partsTotal = "parts_total"
        case formatVersion = "format_version"
        case drillID = "drill_id"
        case backupID = "backup_id"
        case setPath = "set_path"
        case manifestSHA256 = "manifest_sha256"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case rpoSeconds = "rpo_seconds"
        case rtoSeconds = "rto_seconds"
        case rpoObjectiveSeconds = "rpo_objective_seconds"
        case rtoObjectiveSeconds = "rto_objective_seconds"
        case toolVersion = "tool_version"
        case sandboxPath = "sandbox_path"
        case sandboxKept = "sandbox_kept"
        case reportFolder = "report_folder"
        case verdict
        case copy, remote
        case remotePath = "remote_path"
        case fetchSeconds = "fetch_seconds"
        case fetchedBytes = "fetched_bytes"
    }

    public init(
        drillID: DrillID, backupID: BackupID?, setPath: String, startedAt: Date, isolation: IsolationKind
    ) {
        self.drillID = drillID
        self.backupID = backupID
        self.setPath = setPath
        self.startedAt = Timestamp.string(startedAt)
        self.finishedAt = self.startedAt
        self.isolation = isolation
        self.toolVersion = ToolInfo.version
        self.host = ToolInfo.hostName
        self.sandboxKept = false
        self.checks = []
    }

    /// `pass` when no check failed or errored (skips allowed) and at least one check passed; else `fail`.
    public var verdict: Verdict {
        Verdict.rollup(checks.map(\.verdict))
    }

    /// Number of subjects per verdict for one check id.
    public func counts(for check: CheckID) -> [Verdict: Int] {
        var out: [Verdict: Int] = [:]
        for c in checks where c.check == check { out[c.verdict, default: 0] += 1 }
        return out
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        drillID = try c.decode(DrillID.self, forKey: .drillID)
        backupID = try c.decodeIfPresent(BackupID.self, forKey: .backupID)
        setPath = try c.decode(String.self, forKey: .setPath)
        manifestSHA256 = try c.decodeIfPresent(String.self, forKey: .manifestSHA256)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        finishedAt = try c.decode(String.self, forKey: .finishedAt)
        isolation = try c.decode(IsolationKind.self, forKey: .isolation)
        limits = try c.decodeIfPresent(String.self, forKey: .limits)
        authenticated = try c.decodeIfPresent(Bool.self, forKey: .authenticated)
        rpoSeconds = try c.decodeIfPresent(Double.self, forKey: .rpoSeconds)
        rtoSeconds = try c.decodeIfPresent(Double.self, forKey: .rtoSeconds)
        rpoObjectiveSeconds = try c.decodeIfPresent(Double.self, forKey: .rpoObjectiveSeconds)
        rtoObjectiveSeconds = try c.decodeIfPresent(Double.self, forKey: .rtoObjectiveSeconds)
        toolVersion = try c.decode(String.self, forKey: .toolVersion)
        host = try c.decode(String.self, forKey: .host)
        sandboxPath = try c.decodeIfPresent(String.self, forKey: .sandboxPath)
        sandboxKept = try c.decode(Bool.self, forKey: .sandboxKept)
        reportFolder = try c.decodeIfPresent(String.self, forKey: .reportFolder)
        checks = try c.decode([CheckResult].self, forKey: .checks)
        restoredParts = try c.decodeIfPresent([PartSummary].self, forKey: .restoredParts)?.map {
            RestorePart(number: $0.number, kind: $0.kind, name: $0.name, artifacts: [], bytes: $0.bytes)
        }
        partsTotal = try c.decodeIfPresent(Int.self, forKey: .partsTotal)
        sampled = try c.decodeIfPresent(Bool.self, forKey: .sampled) ?? false
        tools = try c.decodeIfPresent([String: String].self, forKey: .tools)
        if let kind = try c.decodeIfPresent(String.self, forKey: .copy) {
            copy = DrilledCopy(
                kind: kind, remote: try c.decode(String.self, forKey: .remote),
                remotePath: try c.decode(String.self, forKey: .remotePath),
                fetchSeconds: try c.decode(Double.self, forKey: .fetchSeconds),
                fetchedBytes: try c.decode(Int64.self, forKey: .fetchedBytes))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(drillID, forKey: .drillID)
        try c.encodeIfPresent(backupID, forKey: .backupID)
        try c.encode(setPath, forKey: .setPath)
        try c.encodeIfPresent(manifestSHA256, forKey: .manifestSHA256)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(isolation, forKey: .isolation)
        try c.encodeIfPresent(limits, forKey: .limits)
        try c.encodeIfPresent(authenticated, forKey: .authenticated)
        try c.encodeIfPresent(rpoSeconds, forKey: .rpoSeconds)
        try c.encodeIfPresent(rtoSeconds, forKey: .rtoSeconds)
        try c.encodeIfPresent(rpoObjectiveSeconds, forKey: .rpoObjectiveSeconds)
        try c.encodeIfPresent(rtoObjectiveSeconds, forKey: .rtoObjectiveSeconds)
        try c.encode(toolVersion, forKey: .toolVersion)
        try c.encode(host, forKey: .host)
        try c.encodeIfPresent(sandboxPath, forKey: .sandboxPath)
        try c.encode(sandboxKept, forKey: .sandboxKept)
        try c.encodeIfPresent(reportFolder, forKey: .reportFolder)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(checks, forKey: .checks)
        try c.encodeIfPresent(
            restoredParts?.map { PartSummary(number: $0.number, kind: $0.kind, name: $0.name, bytes: $0.bytes) },
            forKey: .restoredParts)
        try c.encodeIfPresent(restoredParts == nil ? nil : partsTotal, forKey: .partsTotal)
        if sampled { try c.encode(true, forKey: .sampled) }
        try c.encodeIfPresent(tools, forKey: .tools)
        if let copy {
            try c.encode(copy.kind, forKey: .copy)
            try c.encode(copy.remote, forKey: .remote)
            try c.encode(copy.remotePath, forKey: .remotePath)
            try c.encode(copy.fetchSeconds, forKey: .fetchSeconds)
            try c.encode(copy.fetchedBytes, forKey: .fetchedBytes)
        }
    }
}
