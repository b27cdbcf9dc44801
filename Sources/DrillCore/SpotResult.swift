import Foundation

/// What `restore-drill spot` found when it compared the live workspace with the newest complete
/// set (issue 17, docs/SPOT.md): what the reports render and the history records.
///
/// JSON (`report.json`, `spot --json`): `{"format": "restore-drill/spot-report", "format_version": 1,
/// "spot_id": "spot_20251020_175019", "backup_id": "full_…", "set_path": "/…", "set_started_at": "…",
/// "started_at": "…", "finished_at": "…", "home": "/…", "root": "/…", "seed": 42, "sample_size": 100,
/// "all": false, "sampled": ["src/a.py", …], "files_on_disk": 120, "files_in_set": 118,
/// "count_tolerance": 0.05, "size_tolerance": 0.1, "tool_version": "…", "host": "…",
/// "report_folder": "/…", "verdict": "pass", "checks": [CheckResult…]}`; keys snake_case, times
/// ISO 8601 UTC with milliseconds, tolerances as fractions (0.05 is 5 %).
public struct SpotResult: Codable, Sendable, Equatable {
    /// `"restore-drill/spot-report"`.
    public static let formatName = "restore-drill/spot-report"
    public static let formatVersion = 1

    public var format: String = SpotResult.formatName
    public var formatVersion: Int = SpotResult.formatVersion
    /// `spot_YYYYMMDD_HHMMSS` in UTC: names the report folder.
    public var spotID: String
    /// The set compared with the workspace.
    public var backupID: BackupID
    /// Absolute path of the set's folder.
    public var setPath: String
    /// When the set's backup started (the manifest's `started_at`): a file changed after it is
    /// explained by the change.
    public var setStartedAt: String
    public var startedAt: String
    public var finishedAt: String
    /// The live workspace compared (`home`, `root` of the configuration), absolute.
    public var home: String
    public var root: String
    /// The sample's seed: the same seed over the same set gives the same sample.
    public var seed: UInt64
    /// The number of files asked for (`--sample N` or `spot.sample`); with ``all`` every file.
    public var sampleSize: Int
    /// `--all`: every file of the set was hashed.
    public var all: Bool
    /// The sampled files, relative to root, sorted by bytes.
    public var sampled: [String]
    /// Files (and links) of the code component on disk, after excludes, credentials and databases.
    public var filesOnDisk: Int
    /// Files (and links) of the code component in the set.
    public var filesInSet: Int
    /// `spot.count_tolerance` and `spot.size_tolerance`, fractions 0…1.
    public var countTolerance: Double
    public var sizeTolerance: Double
    public var toolVersion: String
    public var host: String
    /// Folder holding junit.xml, report.md and report.json.
    public var reportFolder: String?
    /// One result per check and subject, in ``CheckID/spotCatalogue`` order.
    public var checks: [CheckResult]

    enum CodingKeys: String, CodingKey {
        case format, home, root, seed, all, sampled, host, checks, verdict
        case formatVersion = "format_version"
        case spotID = "spot_id"
        case backupID = "backup_id"
        case setPath = "set_path"
        case setStartedAt = "set_started_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case sampleSize = "sample_size"
        case filesOnDisk = "files_on_disk"
        case filesInSet = "files_in_set"
        case countTolerance = "count_tolerance"
        case sizeTolerance = "size_tolerance"
        case toolVersion = "tool_version"
        case reportFolder = "report_folder"
    }

    /// - Parameters: as the properties; tool version and host are this tool's and this machine's.
    public init(
        spotID: String, backupID: BackupID, setPath: String, setStartedAt: String, startedAt: Date, home: String,
        root: String, seed: UInt64, sampleSize: Int, all: Bool, countTolerance: Double, sizeTolerance: Double
    ) {
        self.spotID = spotID
        self.backupID = backupID
        self.setPath = setPath
        self.setStartedAt = setStartedAt
        self.startedAt = Timestamp.string(startedAt)
        self.finishedAt = self.startedAt
        self.home = home
        self.root = root
        self.seed = seed
        self.sampleSize = sampleSize
        self.all = all
        self.sampled = []
        self.filesOnDisk = 0
        self.filesInSet = 0
        self.countTolerance = countTolerance
        self.sizeTolerance = sizeTolerance
        self.toolVersion = ToolInfo.version
        self.host = ToolInfo.hostName
        self.checks = []
    }

    /// `pass` when no check failed or errored and at least one passed; else `fail`.
    public var verdict: Verdict { Verdict.rollup(checks.map(\.verdict)) }

    /// The results that failed or errored, in order.
    public var problems: [CheckResult] { checks.filter { $0.verdict == .fail || $0.verdict == .error } }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        spotID = try c.decode(String.self, forKey: .spotID)
        backupID = try c.decode(BackupID.self, forKey: .backupID)
        setPath = try c.decode(String.self, forKey: .setPath)
        setStartedAt = try c.decode(String.self, forKey: .setStartedAt)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        finishedAt = try c.decode(String.self, forKey: .finishedAt)
        home = try c.decode(String.self, forKey: .home)
        root = try c.decode(String.self, forKey: .root)
        seed = try c.decode(UInt64.self, forKey: .seed)
        sampleSize = try c.decode(Int.self, forKey: .sampleSize)
        all = try c.decode(Bool.self, forKey: .all)
        sampled = try c.decode([String].self, forKey: .sampled)
        filesOnDisk = try c.decode(Int.self, forKey: .filesOnDisk)
        filesInSet = try c.decode(Int.self, forKey: .filesInSet)
        countTolerance = try c.decode(Double.self, forKey: .countTolerance)
        sizeTolerance = try c.decode(Double.self, forKey: .sizeTolerance)
        toolVersion = try c.decode(String.self, forKey: .toolVersion)
        host = try c.decode(String.self, forKey: .host)
        reportFolder = try c.decodeIfPresent(String.self, forKey: .reportFolder)
        checks = try c.decode([CheckResult].self, forKey: .checks)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(spotID, forKey: .spotID)
        try c.encode(backupID, forKey: .backupID)
        try c.encode(setPath, forKey: .setPath)
        try c.encode(setStartedAt, forKey: .setStartedAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(home, forKey: .home)
        try c.encode(root, forKey: .root)
        try c.encode(seed, forKey: .seed)
        try c.encode(sampleSize, forKey: .sampleSize)
        try c.encode(all, forKey: .all)
        try c.encode(sampled, forKey: .sampled)
        try c.encode(filesOnDisk, forKey: .filesOnDisk)
        try c.encode(filesInSet, forKey: .filesInSet)
        try c.encode(countTolerance, forKey: .countTolerance)
        try c.encode(sizeTolerance, forKey: .sizeTolerance)
        try c.encode(toolVersion, forKey: .toolVersion)
        try c.encode(host, forKey: .host)
        try c.encodeIfPresent(reportFolder, forKey: .reportFolder)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(checks, forKey: .checks)
    }
}
