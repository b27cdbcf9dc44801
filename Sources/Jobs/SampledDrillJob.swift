import Destination
import DrillCore
import Foundation
import Health
import Reports
import Sandbox
import Vault
import Verifier

/// `restore-drill drill --sample` (issue 17, docs/PROOF.md "Sampled drills"): a budgeted drill
/// that restores what the proof ledger says is due, so that every retained set is proven within
/// `proof.max_age` across several runs.
///
/// The sample is ``SamplePlanner``'s order of the retained sets' parts (never proven and oldest
/// proof first, then a seeded random choice), cut to the budget; each chosen set is drilled once
/// per round with `--only` its chosen parts (a set whose script takes no `--only` is drilled
/// whole), by ``DrillJob`` with ``DrillJob/Request/parts``: each such drill checks what it
/// restored exactly as a full drill does, writes its own reports and a `sampled_drill` event, and
/// a `proof` event for what it proved.
///
/// **Budget.** `bytes`: the sample is fixed by the seed and the ledger. `seconds`: bytes are
/// estimated from a rate (bytes per second) and a per-set cost (seconds), both measured on the
/// sampled drills of the history (their `bytes` and `seconds` details; defaults
/// ``defaultRate`` and ``defaultSetSeconds`` without one) and again after each set of this run;
/// a round takes what its estimate fits in the time left, and further rounds follow while time is
/// left and units remain. A set is not started when its estimate exceeds the time left, so the run
/// stays within its budget unless a single drill takes longer than estimated.
public struct SampledDrillJob: Sendable {
    /// What a sample may spend.
    public typealias Budget = SampleBudget

    /// What the command asks.
    public struct Request: Sendable {
        public var budget: Budget
        /// The seed; nil: a random one (printed and reported).
        public var seed: UInt64?
        public var passwordFile: String?
        public var requireIsolation: Bool

        public init(budget: Budget, seed: UInt64? = nil, passwordFile: String? = nil, requireIsolation: Bool = false) {
            self.budget = budget
            self.seed = seed
            self.passwordFile = passwordFile
            self.requireIsolation = requireIsolation
        }
    }

    /// Bytes per second assumed before any sampled drill was measured: 20 MB/s, below what a full
    /// drill of the bench workspace reaches (a drill reads, restores and checks each byte).
    public static let defaultRate = 20e6
    /// Seconds one set's drill costs whatever it restores, before any was measured: 4 s (its
    /// manifest, sandbox, key derivation, script start and report).
    public static let defaultSetSeconds = 4.0

    public let config: RestoreDrillConfig
    public let clock: any WallClock
    public var progress: (@Sendable (String) -> Void)?
    /// The drill each chosen set goes through (its keyring is shared, so a salt derives once).
    public var drill: DrillJob

    /// A job over `config`; `replayer` replays each set's script (the CLI's isolated one).
    public init(
        config: RestoreDrillConfig, clock: any WallClock, replayer: any RestoreReplayer = IsolatedReplayer(),
        progress: (@Sendable (String) -> Void)?
    ) {
        self.config = config
        self.clock = clock
        self.progress = progress
        self.drill = DrillJob(config: config, clock: clock, replayer: replayer, progress: progress)
    }

    /// Runs the sample and writes its summary reports.
    /// - Throws: ``RestoreDrillError`` when the destination cannot be read or holds no set that
    ///   counts; a set's drill that fails is a result, not an error.
    public func run(_ request: Request) async throws -> SampledDrillResult {
        let started = clock.now()
        let startedClock = ContinuousClock.now
        let seed = request.seed ?? UInt64.random(in: 0...UInt64.max)
        let store = drill.destination ?? LocalDestination(path: config.destination)
        let password = try await SetTrust.password(
            passwordFile: request.passwordFile, config: config, runner: drill.runner, environment: drill.environment,
            currentDirectory: drill.currentDirectory)
        let previous =
            password == nil
            ? []
            : try await SetTrust.previousPasswords(
                config: config, runner: drill.runner, environment: drill.environment)
        let authenticator = password.map { SetAuthenticator(passwords: [$0] + previous, keyring: drill.keyring) }
        let history = HistoryStore(drill.historyDestination ?? store)

        func ledger() throws -> (ProofLedger, [SamplePlanner.SetInput]) {
            let sets = try SetCatalogue(store, authenticator: authenticator).contents().counted.filter(\.isComplete)
            let inputs = sets.compactMap { set -> (id: BackupID, finishedAt: Date, manifest: Manifest)? in
                guard let finished = set.finishedAt else { return nil }
                return (set.id, finished, set.manifest)
            }
            let reports = LocalDrillReports.load(folder: config.reports.folder, now: clock.now())
            let events = (try? history.eventsForProof(drillReports: reports, now: clock.now()).events) ?? []
            let built = ProofLedger.build(sets: inputs, events: events, now: clock.now(), maxAge: config.proof.maxAge)
            let subsets = Dictionary(sets.map { ($0.id, $0.manifest.restoresSubsets) }, uniquingKeysWith: { a, _ in a })
            let planned = built.sets.map { status in
                SamplePlanner.SetInput(
                    id: status.id, finishedAt: status.finishedAt, restoresSubsets: subsets[status.id] ?? false,
                    parts: status.parts.map { ($0.part, $0.lastProof) })
            }
            return (built, planned)
        }

        let (before, inputs) = try ledger()
        guard !inputs.isEmpty else {
            throw RestoreDrillError.runtime("no complete set that counts in \(store.location): nothing to sample")
        }
        let ordered = SamplePlanner.order(
            sets: inputs, now: clock.now(), maxAge: config.proof.maxAge, lookahead: Self.lookahead(config.proof.maxAge),
            seed: seed)
        var rate = Self.defaultRate
        var setSeconds = Self.defaultSetSeconds
        if let measured = Self.measuredCosts(try? history.load().events) {
            (rate, setSeconds) = measured
        }
        progress?(
            "sample: seed \(seed), \(ordered.filter(\.due).count) of \(ordered.count) parts due, "
                + "\(Units.humanBytes(Int64(rate)))/s and \(String(format: "%.1f", setSeconds)) s a set assumed")

        var done = Set<String>()
        var sets: [SampledDrillResult.SetDrill] = []
        var results: [DrillResult] = []
        var notReached: [SamplePlanner.Unit] = []
        var round = 0
        rounds: while true {
            round += 1
            let chosen: [SamplePlanner.Unit]
            switch request.budget {
            case .bytes(let bytes):
                guard round == 1 else { break rounds }
                chosen = SamplePlanner.select(ordered, budgetBytes: bytes, setOverheadBytes: 0)
            case .seconds(let seconds):
                let left = seconds - Self.elapsedSeconds(since: startedClock)
                guard left > 0 else { break rounds }
                chosen = SamplePlanner.select(
                    ordered, budgetBytes: Int64(left * rate), setOverheadBytes: Int64(setSeconds * rate),
                    skipping: done)
            }
            guard !chosen.isEmpty else { break }
            for (setID, units) in SamplePlanner.bySet(chosen) {
                let parts = units.flatMap(\.parts)
                let bytes = parts.reduce(Int64(0)) { $0 + $1.bytes }
                if case .seconds(let seconds) = request.budget {
                    let estimate = setSeconds + Double(bytes) / rate
                    guard Self.elapsedSeconds(since: startedClock) + estimate <= seconds else {
                        notReached += units
                        continue
                    }
                }
                progress?("sample: \(setID): \(parts.count) part(s), \(Units.humanBytes(bytes))")
                var one = DrillJob.Request(
                    pick: .id(setID.description), passwordFile: request.passwordFile, keepSandbox: false,
                    requireIsolation: request.requireIsolation)
                one.parts = units.contains(where: \.wholeSet) ? nil : parts.map(\.number)
                one.eventDetails = [
                    "sample_seed": String(seed), "sample_started": Timestamp.string(started),
                    "bytes": String(bytes),
                ]
                let setStarted = ContinuousClock.now
                let result: DrillResult
                do {
                    result = try await drill.run(one)
                } catch let lost as DrillJob.EventNotRecorded {
                    result = lost.result
                }
                let seconds = Self.elapsedSeconds(since: setStarted)
                for unit in units { done.insert(SamplePlanner.Key(unit).text) }
                results.append(result)
                sets.append(
                    SampledDrillResult.SetDrill(
                        setID: setID, parts: parts, wholeSet: units.contains(where: \.wholeSet), bytes: bytes,
                        seconds: seconds, verdict: result.verdict, drillID: result.drillID,
                        reportFolder: result.reportFolder,
                        failedChecks: Array(Set(result.checks.problems.map(\.check.rawValue))).sorted()))
                // The measured cost of this set updates the estimate for the next.
                if bytes > 0 && seconds > setSeconds { rate = max(1e6, Double(bytes) / (seconds - setSeconds)) }
            }
            if case .bytes = request.budget { break }
        }
        // Every due unit the sample did not drill, whether or not a round chose it.
        let reached = done
        notReached = ordered.filter { $0.due && !reached.contains(SamplePlanner.Key($0).text) }
        let (after, _) = try ledger()
        var result = SampledDrillResult(
            sampleID: SampledDrillResult.makeID(started), seed: seed, budget: request.budget,
            startedAt: Timestamp.string(started), seconds: Self.elapsedSeconds(since: startedClock),
            maxAgeSeconds: config.proof.maxAge, dueBefore: ordered.filter(\.due).count, units: ordered.count,
            sets: sets, notReached: notReached, provenRatioBefore: before.provenRatio,
            provenRatioAfter: after.provenRatio, unprovenSetsAfter: after.sets.filter { !$0.proven }.map(\.id))
        let reports = try DrillJob.folder(
            config.reports.folder, orBelow: try AbsolutePath(validating: drill.currentDirectory),
            RestoreDrillConfig.ReportSettings.defaultFolderName)
        // A second sample in the same second gets `_2`, … (never the first one's folder).
        var folder = reports.appending(component: result.sampleID).pathString
        var sequence = 1
        while FileManager.default.fileExists(atPath: folder) {
            sequence += 1
            result.sampleID = SampledDrillResult.makeID(started) + "_\(sequence)"
            folder = reports.appending(component: result.sampleID).pathString
        }
        result.reportFolder = folder
        try SampleReport.write(result, drills: results, to: folder)
        return result
    }

    /// How long before a proof lapses a sampled drill renews it: one week (the schedule's
    /// cadence), at most half the window.
    static func lookahead(_ maxAge: Double) -> Double { min(7 * 86400, maxAge / 2) }

    /// Seconds since `start` on the monotonic clock.
    static func elapsedSeconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The rate (bytes/s) and per-set seconds measured on the history's sampled drills that passed
    /// (details `bytes` and `seconds`, each drill's wall time): the rate of the ten newest together, the
    /// per-set cost from the smallest of them; nil without one.
    static func measuredCosts(_ events: [HistoryEvent]?) -> (rate: Double, setSeconds: Double)? {
        let measured = (events ?? []).filter { $0.kind == .sampledDrill && $0.status == .pass }
            .sorted { $0.time > $1.time }.prefix(10)
            .compactMap { e -> (bytes: Double, seconds: Double)? in
                guard let b = e.details["bytes"].flatMap(Double.init),
                    let s = e.details["seconds"].flatMap(Double.init),
                    s > 0
                else { return nil }
                return (b, s)
            }
        guard !measured.isEmpty else { return nil }
        let setSeconds = max(0.5, min(measured.map(\.seconds).min() ?? defaultSetSeconds, 30))
        let bytes = measured.reduce(0) { $0 + $1.bytes }
        let seconds = measured.reduce(0) { $0 + max(0.01, $1.seconds - setSeconds) }
        return (max(1e6, bytes / seconds), setSeconds)
    }
}

/// What a sampled drill did: the seed and budget, every set drilled with the parts it restored and
/// its verdict, what the budget left out, and the proven share before and after.
///
/// JSON (`report.json` of `<reports>/sample_YYYYMMDD_HHMMSS/`, `--json`): `{"format":
/// "restore-drill/sample-report", "format_version": 1, "sample_id", "seed", "budget": {"seconds": 60}
/// or {"bytes": N}, "started_at", "seconds", "max_age_seconds", "due_before", "units", "verdict",
/// "sets": [{"set", "parts": [{number, kind, name, artifacts, bytes}], "whole_set", "bytes",
/// "seconds", "verdict", "drill_id", "report_folder", "failed_checks"}], "not_reached": [units],
/// "proven_ratio_before", "proven_ratio_after", "unproven_sets_after": [ids], "report_folder"}`.
public struct SampledDrillResult: Sendable, Codable {
    public var format = "restore-drill/sample-report"
    public var formatVersion = 1
    /// `sample_YYYYMMDD_HHMMSS` (UTC start), `_2`, … for a later sample in the same second.
    public var sampleID: String
    public var seed: UInt64
    public var budget: SampledDrillJob.Budget
    public var startedAt: String
    /// Wall time of the whole sample, seconds.
    public var seconds: Double
    public var maxAgeSeconds: Double
    /// Units due (unproven within the window) when the sample began.
    public var dueBefore: Int
    /// Units in all the retained sets.
    public var units: Int
    public var sets: [SetDrill]
    /// The units that were due and that the sample did not drill (the budget ran out first).
    public var notReached: [SamplePlanner.Unit]
    /// The destination's proven share (0…1) before and after.
    public var provenRatioBefore: Double
    public var provenRatioAfter: Double
    /// Sets still unproven within the window after the sample.
    public var unprovenSetsAfter: [BackupID]
    public var reportFolder: String?

    /// `pass` when every set drilled passed, and a set was drilled or nothing was due; `fail` when
    /// a set failed, or parts were due and the budget fitted none of them.
    public var verdict: Verdict {
        guard sets.allSatisfy({ $0.verdict == .pass }) else { return .fail }
        return sets.isEmpty && dueBefore > 0 ? .fail : .pass
    }

    /// One set's drill within the sample.
    public struct SetDrill: Sendable, Codable {
        public var setID: BackupID
        public var parts: [RestorePart]
        public var wholeSet: Bool
        public var bytes: Int64
        public var seconds: Double
        public var verdict: Verdict
        public var drillID: DrillID
        public var reportFolder: String?
        public var failedChecks: [String]

        enum CodingKeys: String, CodingKey {
            case setID = "set", parts
            case wholeSet = "whole_set"
            case bytes, seconds, verdict
            case drillID = "drill_id"
            case reportFolder = "report_folder"
            case failedChecks = "failed_checks"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format
        case formatVersion = "format_version"
        case sampleID = "sample_id"
        case seed, budget
        case startedAt = "started_at"
        case seconds
        case maxAgeSeconds = "max_age_seconds"
        case dueBefore = "due_before"
        case units, sets
        case notReached = "not_reached"
        case provenRatioBefore = "proven_ratio_before"
        case provenRatioAfter = "proven_ratio_after"
        case unprovenSetsAfter = "unproven_sets_after"
        case reportFolder = "report_folder"
        case verdict
    }

    public init(
        sampleID: String, seed: UInt64, budget: SampledDrillJob.Budget, startedAt: String, seconds: Double,
        maxAgeSeconds: Double, dueBefore: Int, units: Int, sets: [SetDrill], notReached: [SamplePlanner.Unit],
        provenRatioBefore: Double, provenRatioAfter: Double, unprovenSetsAfter: [BackupID]
    ) {
        self.sampleID = sampleID
        self.seed = seed
        self.budget = budget
        self.startedAt = startedAt
        self.seconds = seconds
        self.maxAgeSeconds = maxAgeSeconds
        self.dueBefore = dueBefore
        self.units = units
        self.sets = sets
        self.notReached = notReached
        self.provenRatioBefore = provenRatioBefore
        self.provenRatioAfter = provenRatioAfter
        self.unprovenSetsAfter = unprovenSetsAfter
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        sampleID = try c.decode(String.self, forKey: .sampleID)
        seed = try c.decode(UInt64.self, forKey: .seed)
        budget = try c.decode(SampledDrillJob.Budget.self, forKey: .budget)
        startedAt = try c.decode(String.self, forKey: .startedAt)
        seconds = try c.decode(Double.self, forKey: .seconds)
        maxAgeSeconds = try c.decode(Double.self, forKey: .maxAgeSeconds)
        dueBefore = try c.decode(Int.self, forKey: .dueBefore)
        units = try c.decode(Int.self, forKey: .units)
        sets = try c.decode([SetDrill].self, forKey: .sets)
        notReached = try c.decode([SamplePlanner.Unit].self, forKey: .notReached)
        provenRatioBefore = try c.decode(Double.self, forKey: .provenRatioBefore)
        provenRatioAfter = try c.decode(Double.self, forKey: .provenRatioAfter)
        unprovenSetsAfter = try c.decode([BackupID].self, forKey: .unprovenSetsAfter)
        reportFolder = try c.decodeIfPresent(String.self, forKey: .reportFolder)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(sampleID, forKey: .sampleID)
        try c.encode(seed, forKey: .seed)
        try c.encode(budget, forKey: .budget)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(maxAgeSeconds, forKey: .maxAgeSeconds)
        try c.encode(dueBefore, forKey: .dueBefore)
        try c.encode(units, forKey: .units)
        try c.encode(sets, forKey: .sets)
        try c.encode(notReached, forKey: .notReached)
        try c.encode(provenRatioBefore, forKey: .provenRatioBefore)
        try c.encode(provenRatioAfter, forKey: .provenRatioAfter)
        try c.encode(unprovenSetsAfter, forKey: .unprovenSetsAfter)
        try c.encodeIfPresent(reportFolder, forKey: .reportFolder)
        try c.encode(verdict, forKey: .verdict)
    }

    /// `sample_YYYYMMDD_HHMMSS` for a sample started at `date` (UTC).
    public static func makeID(_ date: Date) -> String {
        "sample_" + String(DrillID(date: date).description.dropFirst("drill_".count))
    }
}

/// The sample's own reports, private as a drill's (folder 0700, files 0600): `report.json`
/// (``SampledDrillResult``), `report.md` (seed, budget,
/// the sample set by set, what was not reached, the proven share) and `junit.xml` (one
/// `<testsuite>` per set drilled, as ``JUnitReport`` renders a drill). Each set's drill keeps its
/// full reports in its own folder, named in these.
public enum SampleReport {
    /// Writes the three files into `folder` (made when missing), each through a temporary name.
    /// - Returns: their paths.
    @discardableResult
    public static func write(_ result: SampledDrillResult, drills: [DrillResult], to folder: String) throws
        -> [String]
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let files: [(String, Data)] = [
            ("report.json", try encoder.encode(result) + Data("\n".utf8)),
            ("report.md", Data(markdown(result).utf8)),
            ("junit.xml", Data(JUnitReport.render(drills).utf8)),
        ]
        return try ReportWriter.writePrivate(files, to: folder)
    }

    /// The Markdown summary.
    public static func markdown(_ r: SampledDrillResult) -> String {
        var s = "# Sampled drill \(r.sampleID): \(r.verdict == .pass ? "PASS" : "FAIL")\n\n"
        let budget: String
        switch r.budget {
        case .seconds(let seconds): budget = String(format: "%.0f s", seconds)
        case .bytes(let bytes): budget = Units.humanBytes(bytes)
        }
        s +=
            "- Seed: `\(r.seed)` (re-run: `restore-drill drill --sample --seed \(r.seed) --budget \(budgetFlag(r.budget))`)\n"
        s += "- Budget: \(budget); used \(String(format: "%.1f", r.seconds)) s\n"
        s += "- Window (`proof.max_age`): \(String(format: "%.0f", r.maxAgeSeconds / 86400)) days; "
        s += "\(r.dueBefore) of \(r.units) units were due\n"
        s += "- Proven share of the destination's bytes: \(percent(r.provenRatioBefore)) before, "
        s += "\(percent(r.provenRatioAfter)) after\n"
        if !r.unprovenSetsAfter.isEmpty {
            s += "- Still unproven: \(r.unprovenSetsAfter.map(\.description).joined(separator: ", "))\n"
        }
        if r.sets.isEmpty {
            s +=
                r.dueBefore > 0
                ? "- **FAIL:** parts were due and the budget fitted none of them\n" : "- Nothing was due\n"
        }
        s += "\n## The sample\n\n| set | parts | bytes | seconds | verdict | drill | failed checks |\n"
        s += "|---|---|---|---|---|---|---|\n"
        for set in r.sets {
            let parts =
                set.wholeSet
                ? "whole set (\(set.parts.count) parts)"
                : set.parts.prefix(12).map {
                    "\($0.number) \($0.kind.rawValue) \(MarkdownReport.code($0.name, inTable: true))"
                }
                .joined(separator: "<br>")
                    + (set.parts.count > 12 ? "<br>and \(set.parts.count - 12) more (report.json lists them)" : "")
            s +=
                "| \(set.setID) | \(parts) | \(Units.humanBytes(set.bytes)) "
            s += "| \(String(format: "%.1f", set.seconds)) | \(set.verdict.rawValue.uppercased()) | \(set.drillID) "
            s += "| \(set.failedChecks.joined(separator: ", ")) |\n"
        }
        if r.sets.isEmpty { s += "| (none) | | | | | | |\n" }
        if !r.notReached.isEmpty {
            s += "\nDue and not reached within the budget: \(r.notReached.count) units of "
            s += "\(Set(r.notReached.map(\.setID)).count) sets (report.json lists them).\n"
        }
        return s
    }

    /// `--budget` as the command takes it: `600s` or `2048B`.
    static func budgetFlag(_ budget: SampledDrillJob.Budget) -> String {
        switch budget {
        case .seconds(let seconds): String(format: "%.0fs", seconds)
        case .bytes(let bytes): "\(bytes)B"
        }
    }

    static func percent(_ ratio: Double) -> String { String(format: "%.1f %%", ratio * 100) }
}
