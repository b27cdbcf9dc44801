import BackupEngine
import Destination
import DrillCore
import Foundation
import Health
import Reports
import Sandbox
import Vault
import Verifier

/// `restore-drill spot` (issue 17, docs/SPOT.md): compares the live workspace with the newest
/// complete set that counts (authenticated when a password is configured, as `drill --latest`
/// picks). It reads the set's manifest and the disk, never the set's stored bytes, and writes
/// `<reports>/spot_YYYYMMDD_HHMMSS/{junit.xml,report.md,report.json}` and a `spot` history event.
/// An interrupted run leaves at most a report folder without its `report.json` and no event.
public struct SpotJob: Sendable {
    /// What the command line asked for.
    public struct Request: Sendable {
        /// `--sample N`: files to hash; nil uses `spot.sample`.
        public var sample: Int?
        /// `--all`: hash every file of the set.
        public var all: Bool
        /// `--seed S`; nil draws one (below 2^53, so JSON readers keep it exact).
        public var seed: UInt64?
        /// `--password-file F`, for authenticating the sets when the configuration has no source.
        public var passwordFile: String?

        public init(sample: Int? = nil, all: Bool = false, seed: UInt64? = nil, passwordFile: String? = nil) {
            self.sample = sample
            self.all = all
            self.seed = seed
            self.passwordFile = passwordFile
        }
    }

    /// The built-in `code.exclude` defaults (``RestoreDrillConfig/CodeSettings``): never judged
    /// wider than intended by `spot.excludes`.
    public static let defaultExcludes = RestoreDrillConfig.CodeSettings().exclude

    public let config: RestoreDrillConfig
    public let clock: any WallClock
    public let progress: (@Sendable (String) -> Void)?
    /// Where the sets and the history are; defaults to the ``LocalDestination`` of `config.destination`.
    public var destination: any Destination
    /// Starts a `credentials.password.command` source.
    public var runner: any ProcessRunner = SubprocessRunner()
    /// What a `credentials.password.env` source reads.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Folder a relative reports folder resolves against.
    public var currentDirectory = FileManager.default.currentDirectoryPath

    public init(config: RestoreDrillConfig, clock: any WallClock, progress: (@Sendable (String) -> Void)? = nil) {
        self.config = config
        self.clock = clock
        self.progress = progress
        destination = LocalDestination(path: config.destination)
    }

    /// Runs the spot check, writes its reports and records its event.
    /// - Returns: the result, with ``SpotResult/reportFolder`` set.
    /// - Throws: ``RestoreDrillError/usage(_:)`` for a negative sample or a bad folder;
    ///   ``RestoreDrillError/setNotFound(_:)`` when no complete set counts; what the destination,
    ///   the reports or the history throw when they cannot be read or written (the tool cannot do its job).
    public func run(_ request: Request) async throws -> SpotResult {
        let sample = request.sample ?? config.spot.sample
        guard sample >= 0 else { throw RestoreDrillError.usage("--sample must be 0 or more, not \(sample)") }
        guard let workingFolder = try? AbsolutePath(validating: currentDirectory) else {
            throw RestoreDrillError.usage("the working folder is not an absolute path: \(currentDirectory)")
        }
        let authenticator = try await SetTrust.authenticator(
            passwordFile: request.passwordFile, config: config, runner: runner, environment: environment,
            currentDirectory: currentDirectory)
        let now = clock.now()
        let catalogue = SetCatalogue(destination, authenticator: authenticator)
        guard
            let set = try catalogue.newestFirst().first(where: {
                $0.isComplete && !SetCatalogue.isFuture($0.id, now: now)
            })
        else {
            throw RestoreDrillError.setNotFound("no complete set that counts in \(destination.location)")
        }
        let manifest = set.manifest
        guard let setStart = Timestamp.date(manifest.startedAt) else {
            throw RestoreDrillError.runtime("\(set.id): the manifest's started_at is not a time: \(manifest.startedAt)")
        }
        let seed = request.seed ?? UInt64.random(in: 0..<(1 << 53))
        progress?("spot: comparing \(config.root) with \(set.id) (seed \(seed))")
        var result = SpotResult(
            spotID: Self.spotID(now), backupID: set.id, setPath: set.path, setStartedAt: manifest.startedAt,
            startedAt: now, home: config.home, root: config.root, seed: seed, sampleSize: sample, all: request.all,
            countTolerance: config.spot.countTolerance, sizeTolerance: config.spot.sizeTolerance)
        let live = try LiveWorkspace.scan(config)
        var comparison = SpotComparison(
            manifest: manifest, live: live, setStart: setStart.timeIntervalSince1970,
            countTolerance: config.spot.countTolerance, sizeTolerance: config.spot.sizeTolerance,
            excludes: config.code.exclude)
        comparison.root = config.root
        comparison.shellFiles = config.shell.files
        comparison.launchAgents = try LiveWorkspace.launchAgents(config).count
        result.filesOnDisk = comparison.included.count
        result.filesInSet = comparison.inSet.count
        var checks = comparison.counts() + comparison.unexplained() + comparison.excludeChecks() + comparison.gone()
        progress?("spot: hashing \(request.all ? "every file" : "a sample of \(sample) files")")
        let (sampled, sampleChecks) = comparison.sample(count: request.all ? Int.max : sample, seed: seed)
        result.sampled = sampled
        checks += sampleChecks
        if manifest.databases.isEmpty {
            checks.append(.noSubject(.spotDatabases, subject: "databases", reason: "the set holds no database"))
        }
        for record in manifest.databases {
            let base = record.base == .root ? config.root : config.home
            checks.append(
                SpotDatabaseCheck.check(
                    record: record, live: base + "/" + record.path, tolerance: config.spot.countTolerance))
        }
        let order = Dictionary(uniqueKeysWithValues: CheckID.spotCatalogue.enumerated().map { ($1, $0) })
        result.checks = checks.enumerated().sorted {
            (order[$0.element.check] ?? 0, $0.offset) < (order[$1.element.check] ?? 0, $1.offset)
        }.map(\.element)
        let finished = clock.now()
        result.finishedAt = Timestamp.string(finished)

        let reports = try DrillJob.folder(
            config.reports.folder, orBelow: workingFolder, RestoreDrillConfig.ReportSettings.defaultFolderName)
        var folder = reports.appending(component: result.spotID)
        var n = 2
        while FileManager.default.fileExists(atPath: folder.pathString) {
            folder = reports.appending(component: "\(result.spotID)_\(n)")
            n += 1
        }
        result.reportFolder = folder.pathString
        try SpotReport.write(result, to: folder.pathString)
        try HistoryStore(destination).append(Self.event(result, finishedAt: finished))
        return result
    }

    /// `spot_YYYYMMDD_HHMMSS` of `date` in UTC.
    static func spotID(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd_HHmmss"
        return "spot_" + f.string(from: date)
    }

    /// The history event of a spot check: kind `spot`, status `pass`/`fail`, the set, the report
    /// folder; details `seed`, `sampled` (files hashed), `files` (code files on disk), `findings`
    /// (results that failed or errored) and `failed_checks` (their ids, comma-separated) when any.
    public static func event(_ result: SpotResult, finishedAt: Date) -> HistoryEvent {
        var details = [
            "seed": String(result.seed), "sampled": String(result.sampled.count), "files": String(result.filesOnDisk),
            "findings": String(result.problems.count),
        ]
        if !result.problems.isEmpty {
            details["failed_checks"] = Set(result.problems.map(\.check.rawValue)).sorted().joined(separator: ",")
        }
        return HistoryEvent(
            kind: .spot, time: finishedAt, status: result.verdict == .pass ? .pass : .fail, backupID: result.backupID,
            reportFolder: result.reportFolder, details: details)
    }

    /// The text a person reads after a spot check: verdict, set, seed, counts, then each problem.
    public static func summary(_ r: SpotResult) -> String {
        func shown(_ text: String) -> String { ReportText.visible(text, keepNewlines: false) }
        var lines = [
            "spot \(r.verdict.rawValue.uppercased()): \(r.root) against \(r.backupID)",
            "  seed \(r.seed), \(r.sampled.count) files hashed, \(r.filesOnDisk) files on disk, \(r.filesInSet) in the set",
        ]
        for check in CheckID.spotCatalogue {
            let counts = r.checks.filter { $0.check == check }.reduce(into: [Verdict: Int]()) {
                $0[$1.verdict, default: 0] += 1
            }
            guard !counts.isEmpty else { continue }
            let parts = Verdict.allCases.compactMap { v in counts[v].map { "\($0) \(v.rawValue)" } }
            lines.append("  \(check.rawValue.padded(to: 17)) \(parts.joined(separator: ", "))")
        }
        for c in r.problems {
            lines.append(
                "  \(c.verdict.rawValue.uppercased()) \(c.check.rawValue) \(shown(c.subject)): \(shown(c.message))")
        }
        if let folder = r.reportFolder { lines.append("  reports: \(shown(folder))") }
        return lines.joined(separator: "\n")
    }
}

/// The comparisons of `spot` that need only the manifest and the walk (everything but databases).
struct SpotComparison {
    let manifest: Manifest
    let live: LiveWorkspace
    /// The set's start, seconds since 1970: a file whose mtime (or, for presence, ctime) is after
    /// it changed since the backup began.
    let setStart: Double
    let countTolerance: Double
    let sizeTolerance: Double
    let excludes: [String]
    /// The live root, absolute (files are hashed below it).
    var root = ""
    /// `shell.files`, absolute.
    var shellFiles: [String] = []
    /// How many LaunchAgents `launchagents.include` matches on disk now.
    var launchAgents = 0

    /// Code files and links of the set, by path.
    let inSet: [String: FileRecord]
    /// Code files and links on disk that the backup would store (not excluded, not databases).
    let included: [String: LiveWorkspace.Entry]
    /// Every file and link on disk, excluded ones too.
    let onDisk: [String: LiveWorkspace.Entry]

    init(
        manifest: Manifest, live: LiveWorkspace, setStart: Double, countTolerance: Double, sizeTolerance: Double,
        excludes: [String]
    ) {
        self.manifest = manifest
        self.live = live
        self.setStart = setStart
        self.countTolerance = countTolerance
        self.sizeTolerance = sizeTolerance
        self.excludes = excludes
        var set: [String: FileRecord] = [:]
        for f in manifest.files where f.component == .code && f.type != .directory { set[f.path] = f }
        inSet = set
        var all: [String: LiveWorkspace.Entry] = [:]
        var kept: [String: LiveWorkspace.Entry] = [:]
        for e in live.entries {
            all[e.relative] = e
            if e.excludedBy == nil && !e.takenAsDatabase { kept[e.relative] = e }
        }
        onDisk = all
        included = kept
    }

    /// The first component of `relative`, or `.` for a file directly in root.
    static func top(_ relative: String) -> String {
        guard let slash = relative.firstIndex(of: "/") else { return "." }
        return String(relative[..<slash])
    }

    /// How a top folder is named as a subject: `code: NAME/`, `code: ./` for root's own files.
    static func subject(_ top: String) -> String { "code: \(top)/" }

    /// `5%` for 0.05.
    static func percent(_ fraction: Double) -> String { SpotDatabaseCheck.percent(fraction) }

    /// True when `now` differs from `was` by more than `tolerance` of `was` (of 1 when `was` is 0).
    static func beyond(_ now: Int64, _ was: Int64, _ tolerance: Double) -> Bool {
        Double(abs(now - was)) > tolerance * Double(max(was, 1))
    }

    /// `spot.counts`: code as a whole, each top folder of root, the databases, the shell files.
    func counts() -> [CheckResult] {
        func compare(_ subject: String, disk: [Int64], set: [Int64], bytes: Bool = true) -> CheckResult {
            let (dn, sn) = (Int64(disk.count), Int64(set.count))
            let (db, sb) = (disk.reduce(0, +), set.reduce(0, +))
            var problems: [String] = []
            if Self.beyond(dn, sn, countTolerance) {
                problems.append(
                    "\(dn) files on disk, \(sn) in the set: more than the \(Self.percent(countTolerance)) count tolerance"
                )
            }
            if bytes && Self.beyond(db, sb, sizeTolerance) {
                problems.append(
                    "\(db) bytes on disk, \(sb) in the set: more than the \(Self.percent(sizeTolerance)) size tolerance"
                )
            }
            if problems.isEmpty {
                return CheckResult(
                    check: .spotCounts, subject: subject, verdict: .pass,
                    message: "\(dn) files on disk, \(sn) in the set" + (bytes ? "; \(db) bytes, \(sb) in the set" : "")
                        + " (within tolerance)")
            }
            return CheckResult(
                check: .spotCounts, subject: subject, verdict: .fail, message: problems.joined(separator: "; "))
        }
        func sizes(_ entries: [LiveWorkspace.Entry]) -> [Int64] { entries.map { $0.type == .file ? $0.size : 0 } }
        func sizes(_ records: [FileRecord]) -> [Int64] { records.map { $0.type == .file ? $0.size : 0 } }
        var out = [compare("code", disk: sizes(Array(included.values)), set: sizes(Array(inSet.values)))]
        let diskByTop = Dictionary(grouping: included.values) { Self.top($0.relative) }
        let setByTop = Dictionary(grouping: inSet.values) { Self.top($0.path) }
        for top in Set(diskByTop.keys).union(setByTop.keys).sorted(by: FileNameBytes.precedes) {
            out.append(
                compare(Self.subject(top), disk: sizes(diskByTop[top] ?? []), set: sizes(setByTop[top] ?? [])))
        }
        let liveDatabases = live.entries.filter { e in
            e.takenAsDatabase && !["-wal", "-shm", "-journal"].contains { e.relative.hasSuffix($0) }
        }
        out.append(
            compare(
                "databases", disk: liveDatabases.map(\.size), set: manifest.databases.map(\.size), bytes: false))
        let shellInSet = manifest.files.filter { $0.component == .shell && $0.type != .directory }
        if !shellFiles.isEmpty || !shellInSet.isEmpty {
            let present = shellFiles.compactMap { path -> Int64? in
                var st = stat()
                guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR else { return nil }
                return Int64(st.st_size)
            }
            out.append(compare("shell", disk: present, set: shellInSet.map(\.size), bytes: false))
        }
        if launchAgents > 0 || !manifest.launchAgents.isEmpty {
            out.append(
                compare(
                    "launchagents", disk: Array(repeating: 0, count: launchAgents),
                    set: Array(repeating: 0, count: manifest.launchAgents.count), bytes: false))
        }
        return out
    }

    /// True when a file with these times changed since the set began.
    func newer(mtime: Double, ctime: Double) -> Bool { mtime > setStart || ctime > setStart }

    /// `spot.unexplained`: files on disk absent from the set, not excluded and not newer than it;
    /// entries the backup cannot store (fifos, sockets, devices) and paths the walk could not read.
    func unexplained() -> [CheckResult] {
        var out: [CheckResult] = []
        var explained: [String] = []
        let start = Timestamp.string(Date(timeIntervalSince1970: setStart))
        for (path, entry) in included.sorted(by: { FileNameBytes.precedes($0.key, $1.key) }) where inSet[path] == nil {
            if newer(mtime: entry.mtime, ctime: entry.ctime) {
                explained.append(path)
                continue
            }
            out.append(
                CheckResult(
                    check: .spotUnexplained, subject: path, verdict: .fail,
                    message: "on disk but not in the set, and no rule excludes it (not changed since the set began "
                        + "at \(start))"))
        }
        for other in live.others.sorted(by: { FileNameBytes.precedes($0.relative, $1.relative) })
        where other.excludedBy == nil {
            if newer(mtime: other.mtime, ctime: other.ctime) {
                explained.append(other.relative)
                continue
            }
            out.append(
                CheckResult(
                    check: .spotUnexplained, subject: other.relative, verdict: .fail,
                    message: "on disk but not in the set: not a file, folder or link (a fifo, socket or device), "
                        + "which the backup skips, and no rule excludes it"))
        }
        for problem in live.problems {
            out.append(
                CheckResult(
                    check: .spotUnexplained, subject: problem, verdict: .fail,
                    message: "cannot be read, so the backup skipped it, and no rule excludes it"))
        }
        if out.isEmpty {
            out.append(
                CheckResult(
                    check: .spotUnexplained, subject: "code", verdict: .pass,
                    message: "every file on disk is in the set, excluded by a rule, or changed since the set began"
                        + " (\(explained.count) changed since)",
                    evidence: explained.prefix(200).map { "changed since the set: \($0)" }))
        }
        return out
    }

    /// `spot.excludes`: per configured pattern, what it excludes now; a pattern that removes more
    /// than the count tolerance of a top folder's files fails unless it names that folder exactly
    /// or is a built-in default.
    func excludeChecks() -> [CheckResult] {
        guard !excludes.isEmpty else {
            return [.noSubject(.spotExcludes, subject: "code.exclude", reason: "no code.exclude pattern configured")]
        }
        let candidates = live.entries.filter { !$0.takenAsDatabase }
        let totalByTop = Dictionary(grouping: candidates) { Self.top($0.relative) }.mapValues(\.count)
        return excludes.map { pattern in
            let hit = candidates.filter { $0.excludedBy == pattern }
            let others = live.others.filter { $0.excludedBy == pattern }.count
            let bytes = hit.reduce(Int64(0)) { $0 + ($1.type == .file ? $1.size : 0) }
            let byTop = Dictionary(grouping: hit) { Self.top($0.relative) }.mapValues(\.count)
            let evidence = byTop.sorted { FileNameBytes.precedes($0.key, $1.key) }.map {
                "\($0.key)/: \($0.value) of \(totalByTop[$0.key] ?? 0) files excluded"
            }
            let summary = "excludes \(hit.count + others) files (\(bytes) bytes) now"
            let exempt = SpotJob.defaultExcludes.contains(pattern)
            let wide = byTop.filter { top, count in
                let named = pattern == top || pattern == top + "/"
                return !exempt && !named && Double(count) > countTolerance * Double(totalByTop[top] ?? 0)
            }
            guard !wide.isEmpty else {
                return CheckResult(
                    check: .spotExcludes, subject: pattern, verdict: .pass,
                    message: summary + (exempt ? " (a built-in default)" : ""), evidence: evidence)
            }
            let named = wide.sorted { FileNameBytes.precedes($0.key, $1.key) }.map {
                "\($0.value) of the \(totalByTop[$0.key] ?? 0) files of \($0.key)/"
            }
            return CheckResult(
                check: .spotExcludes, subject: pattern, verdict: .fail,
                message: "a pattern wider than intended: it excludes " + named.joined(separator: ", ")
                    + " (more than the \(Self.percent(countTolerance)) count tolerance; \(summary))",
                evidence: evidence)
        }
    }

    /// `spot.gone`: files of the set no longer on disk, listed; a fail only beyond the count tolerance.
    func gone() -> [CheckResult] {
        let others = Set(live.others.map(\.relative))
        let missing = inSet.keys.filter { onDisk[$0] == nil && !others.contains($0) }.sorted(by: FileNameBytes.precedes)
        let evidence = missing.prefix(1000).map { "gone: \($0)" }
        if missing.isEmpty {
            return [
                CheckResult(
                    check: .spotGone, subject: "code", verdict: .pass,
                    message: "every one of the set's \(inSet.count) files is still on disk")
            ]
        }
        let text = "\(missing.count) of the set's \(inSet.count) files are no longer on disk"
        if Self.beyond(Int64(inSet.count - missing.count), Int64(inSet.count), countTolerance) {
            return [
                CheckResult(
                    check: .spotGone, subject: "code", verdict: .fail,
                    message: text + ": more than the \(Self.percent(countTolerance)) count tolerance",
                    evidence: evidence)
            ]
        }
        return [
            CheckResult(
                check: .spotGone, subject: "code", verdict: .pass, message: text + " (within tolerance)",
                evidence: evidence)
        ]
    }

    /// `spot.sample`: `count` files of the set (chosen by ``SeededGenerator`` from `seed` among its
    /// regular code files with a digest, sorted by bytes) hashed on disk against the manifest.
    /// - Returns: the sampled paths and one result per sampled file.
    func sample(count: Int, seed: UInt64) -> (sampled: [String], checks: [CheckResult]) {
        let candidates = inSet.values.filter { $0.type == .file && $0.sha256 != nil }.map(\.path)
        var generator = SeededGenerator(seed: seed)
        let chosen = generator.sample(candidates, count: count)
        guard !chosen.isEmpty else {
            return (
                [], [.noSubject(.spotSample, subject: "code", reason: "no file to sample (sample size 0 or no file)")]
            )
        }
        let start = Timestamp.string(Date(timeIntervalSince1970: setStart))
        let checks = chosen.map { path -> CheckResult in
            let watch = Date()
            let record = inSet[path]!
            let full = root + "/" + path
            var st = stat()
            guard FileNameBytes.withFileSystemRepresentation(full, { lstat($0, &st) }) == 0 else {
                return .noSubject(.spotSample, subject: path, reason: "no longer on disk (spot.gone lists it)")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                return .noSubject(.spotSample, subject: path, reason: "no longer a regular file on disk")
            }
            let hashed: String
            do {
                hashed = try SHA256Digest.file(at: full).sha256
            } catch {
                return CheckResult(
                    check: .spotSample, subject: path, verdict: .error, message: "cannot be hashed: \(error)",
                    seconds: Date().timeIntervalSince(watch))
            }
            let mtime = LiveWorkspace.mtime(st)
            let evidence = ["sha256 on disk: \(hashed)", "sha256 in the set: \(record.sha256 ?? "")"]
            let seconds = Date().timeIntervalSince(watch)
            if hashed == record.sha256 {
                return CheckResult(
                    check: .spotSample, subject: path, verdict: .pass, message: "same SHA-256 as the set",
                    evidence: [evidence[0]], seconds: seconds)
            }
            let when = Timestamp.string(Date(timeIntervalSince1970: mtime))
            if mtime > setStart {
                return CheckResult(
                    check: .spotSample, subject: path, verdict: .pass,
                    message: "changed since the set: modified \(when), after the set began at \(start)",
                    evidence: evidence, seconds: seconds)
            }
            return CheckResult(
                check: .spotSample, subject: path, verdict: .fail,
                message: "bit rot or a source changed without its mtime: its bytes differ from the set's while its "
                    + "modification time (\(when)) is not after the set began (\(start))",
                evidence: evidence, seconds: seconds)
        }
        return (chosen, checks)
    }
}
