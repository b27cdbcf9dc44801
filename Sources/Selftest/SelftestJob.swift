import BackupEngine
import DrillCore
import Foundation
import Reports
import Sandbox
import Vault
import Verifier

/// `restore-drill selftest`: proves the verifier can fail (README, "Selftest: a verifier
/// that proves it can fail").
///
/// It makes a small ``SampleWorkspace`` (a few dozen files, three small databases and one chunked
/// database, four LaunchAgents of which one was a binary plist, dotfiles, a dependency list),
/// backs it up twice into `<folder>/good/`, and drills the second set: that drill must pass. Then,
/// for every damage of the catalogue (``SelftestDamage/catalogue(timeout:)``), it copies the good
/// set to `<folder>/damaged/<damage-id>/` (with the first set beside it when the damage needs a
/// previous set; format 2 with copies of the objects those sets use in `<damage-id>/objects/`, a
/// destination of its own), damages the copy, drills it with a short timeout and small limits, and requires
/// a failing drill in which the damage's expected check fails (naming the damaged subject and
/// cause where that matters) and nothing escaped. The good sets are never touched.
///
/// Folders: everything lives in `<folder>` (a new temporary folder by default), removed at the
/// end unless ``Options/keep``. An interrupted selftest leaves that folder (and possibly canary
/// files `.restore-drill-canary-*` in the real temporary folder and home), safe to delete.
public struct SelftestJob: Sendable {
    /// How the selftest runs.
    public struct Options: Sendable {
        /// The work folder (created; must be empty or absent); nil makes a new temporary folder.
        public var folder: String?
        /// Keep the work folder (sets, damaged copies, reports, failed sandboxes) afterwards.
        public var keep = false
        /// Seconds before a replay's process tree is killed.
        public var timeout: Double = 10
        /// Bytes of replay output kept; past it `restore.script` fails.
        public var outputCap = 1 << 20
        /// Resource limits of every replay.
        public var limits: RestoreDrillConfig.ResourceLimits
        /// `sandbox.isolation` of every replay.
        public var isolation: RestoreDrillConfig.IsolationMode = .auto
        /// Fail every replay that runs without bubblewrap.
        public var requireIsolation = false
        /// Damage ids to run (empty: all).
        public var only: [String] = []
        /// The format the sample's sets are written in (`set_format`, 1 or 2; docs/SET-FORMAT.md):
        /// by default what a configuration without `set_format` writes (``defaultSetFormat``).
        /// The catalogue depends on it (``SelftestJob/damageIDs(format:)``).
        public var setFormat = SelftestJob.defaultSetFormat

        public init() {
            limits = RestoreDrillConfig.ResourceLimits()
            limits.cpu = 20
            limits.memory = 2 << 30
            limits.fileSize = 64 << 20
            limits.openFiles = 256
            limits.processes = 64
        }
    }

    public let options: Options
    public let clock: any WallClock
    public let replayer: any RestoreReplayer
    public let progress: (@Sendable (String) -> Void)?

    /// - Parameter replayer: runs the restore scripts; ``IsolatedReplayer`` by default.
    public init(
        options: Options = Options(), clock: any WallClock, replayer: any RestoreReplayer = IsolatedReplayer(),
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.options = options
        self.clock = clock
        self.replayer = replayer
        self.progress = progress
    }

    /// The format a configuration without `set_format` writes (``RestoreDrillConfig/setFormat``'s
    /// default): the selftest's default, so it proves the verifier on the sets a user makes.
    public static var defaultSetFormat: Int {
        RestoreDrillConfig(home: "/", root: "/", destination: "/", baseFolder: "/").setFormat
    }

    /// The ids of every damage for sets of `format` (1 or 2), in table order.
    public static func damageIDs(format: Int = defaultSetFormat) -> [String] {
        SelftestDamage.catalogue(timeout: 10, format: format).map(\.id)
    }

    /// Runs the selftest.
    /// - Returns: one row per damage (and one for the good set); ``SelftestReport/passed`` is true
    ///   only when the good set passed and every damage was caught by its expected check.
    /// - Throws: ``RestoreDrillError`` when the sample or the good sets cannot be made, or an
    ///   unknown damage id or set format was asked for.
    public func run() async throws -> SelftestReport {
        let watch = Date()
        guard (1...2).contains(options.setFormat) else {
            throw RestoreDrillError.usage("set format \(options.setFormat): must be 1 or 2")
        }
        let catalogue = SelftestDamage.catalogue(timeout: options.timeout, format: options.setFormat)
        let unknown = options.only.filter { id in !catalogue.contains { $0.id == id } }
        guard unknown.isEmpty else {
            throw RestoreDrillError.usage(
                "unknown damage \(unknown.joined(separator: ", ")); known: \(catalogue.map(\.id).joined(separator: ", "))"
            )
        }
        let damages = options.only.isEmpty ? catalogue : catalogue.filter { options.only.contains($0.id) }
        let fm = FileManager.default
        let base =
            try options.folder
            ?? AbsolutePath(validating: NSTemporaryDirectory()).appending(
                component: "restore-drill-selftest-\(Int(clock.now().timeIntervalSince1970))-\(getpid())"
            ).pathString
        if let items = try? fm.contentsOfDirectory(atPath: base), !items.isEmpty {
            throw RestoreDrillError.usage("\(base) is not empty: the selftest only works in an empty or new folder")
        }
        try Self.mkdir(base)
        defer { if !options.keep { try? fm.removeItem(atPath: base) } }
        // The work folder as the file calls above see it: a relative `--folder` is below this
        // process's working folder.
        let baseFolder: AbsolutePath
        do {
            baseFolder = try AbsolutePath(base, relativeTo: AbsolutePath(validating: fm.currentDirectoryPath))
        } catch {
            throw RestoreDrillError.usage("selftest folder \(base): \(error)")
        }

        // The sample and two good sets.
        progress?("selftest: making a small sample workspace in \(base)")
        var sampleOptions = SampleWorkspace.Options()
        sampleOptions.sourceFiles = 40
        sampleOptions.smallDatabases = 3
        sampleOptions.walDatabases = []
        sampleOptions.largeDatabaseBytes = 1536 << 10
        sampleOptions.agents = 4
        let sample = try SampleWorkspace.make(
            at: baseFolder.appending(component: "workspace").pathString, options: sampleOptions)
        let good = baseFolder.appending(component: "good").pathString
        var config = sample.config(destination: good, baseFolder: base)
        config.databases.smallLimit = 1 << 20
        config.databases.chunkSize = 256 << 10
        config.setFormat = options.setFormat
        // A list artifact on every machine: a stand-in for `pip3 freeze`.
        config.dependencies.python = ["/bin/sh", "-c", "printf 'requests==2.32.3\\nPyYAML==6.0.2\\n'"]
        config.dependencies.homebrew = nil
        try Self.mkdir(good)
        let engine = BackupEngine(config: config, clock: clock, runner: SubprocessRunner())
        progress?("selftest: backing the sample up twice")
        let first = try await engine.run()
        let second = try await engine.run()
        for set in [first, second] where set.manifest.status != .complete {
            let failed = set.manifest.components.filter { $0.status == .failed }
            throw RestoreDrillError.runtime(
                "selftest: the good set \(set.manifest.id) is partial: "
                    + failed.map { "\($0.id.rawValue): \($0.reason ?? "")" }.joined(separator: "; "))
        }

        // A third good set, made with a vault password, for the damages that need one (the
        // forged set must be a copy of an authenticated set that the drill knows the password of).
        var vaultSet: (outcome: BackupOutcome, password: VaultPassword)?
        if damages.contains(where: \.vault) {
            let password = try VaultPassword(
                "selftest-" + Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) }), origin: "selftest")
            let folder = baseFolder.appending(component: "good-vault").pathString
            try Self.mkdir(folder)
            var vaultConfig = config
            vaultConfig.destination = folder
            var vaultEngine = BackupEngine(config: vaultConfig, clock: clock, runner: SubprocessRunner())
            vaultEngine.vaultPassword = .available(password)
            progress?("selftest: backing the sample up with a vault password")
            let outcome = try await vaultEngine.run()
            guard outcome.manifest.status == .complete, outcome.manifest.manifestHMAC != nil else {
                throw RestoreDrillError.runtime("selftest: the good set with a vault password is partial or unkeyed")
            }
            vaultSet = (outcome, password)
        }

        // The real temporary folder and home, links resolved (realpath) on purpose: hostile
        // scripts aim at where these land on disk, and the canaries watch the same places.
        let realTemp = try AbsolutePath(validating: NSTemporaryDirectory()).resolvingSymlinks()
        let realHome = ProcessInfo.processInfo.environment["HOME"].flatMap {
            try? AbsolutePath(validating: $0).resolvingSymlinks()
        }
        let sandboxes = baseFolder.appending(component: "sandboxes")
        let reports = baseFolder.appending(component: "reports")
        func drill(
            _ setPath: AbsolutePath, destination: AbsolutePath, password: VaultPassword? = nil
        ) async throws -> DrillResult {
            let folders = [realTemp, realHome, try? AbsolutePath(validating: sample.home), destination].compactMap {
                $0
            }
            let drillOptions = DrillOptions(
                setPath: setPath, sandboxFolder: sandboxes, reportFolder: reports,
                keep: options.keep ? .onFailure : .never, requireIsolation: options.requireIsolation,
                limits: options.limits, timeout: options.timeout, outputCap: options.outputCap,
                isolation: options.isolation, destination: destination.pathString,
                canaryFolders: Array(Set(folders)).sorted(), maxShrink: config.coverage.maxShrink,
                password: password, authenticator: password.map { SetAuthenticator(passwords: [$0]) })
            var result = try await Drill(options: drillOptions, clock: clock, replayer: replayer).run()
            let folder = reports.appending(component: result.drillID.description).pathString
            result.reportFolder = folder
            _ = try? ReportWriter.write(result, to: folder)
            return result
        }

        progress?("selftest: drilling the good set \(second.manifest.id)")
        let goodStart = Date()
        let goodResult = try await drill(
            try AbsolutePath(validating: second.setPath), destination: baseFolder.appending(component: "good"))
        let goodFailures = goodResult.checks.problems
        let goodRow = SelftestRow(
            damage: "good", title: "the good set \(second.manifest.id)", kind: nil, expected: nil,
            verdict: goodResult.verdict, failedChecks: Self.failedChecks(goodResult),
            caught: goodResult.verdict == .pass,
            evidence: goodFailures.first.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
                ?? "every check passed or skipped",
            problems: goodFailures.map { "\($0.check.rawValue) \($0.subject): \($0.message)" },
            deviation: nil, seconds: Date().timeIntervalSince(goodStart), isolation: goodResult.isolation)

        var rows: [SelftestRow] = []
        for (number, damage) in damages.enumerated() {
            progress?("selftest: \(number + 1)/\(damages.count) \(damage.id)")
            let started = Date()
            let destinationFolder = baseFolder.appending(components: "damaged", damage.id)
            let scratchFolder = baseFolder.appending(components: "scratch", damage.id)
            let destination = destinationFolder.pathString
            let scratch = scratchFolder.pathString
            try Self.mkdir(destination)
            try Self.mkdir(scratch)
            let source = damage.vault ? vaultSet?.outcome ?? second : second
            let copyFolder = destinationFolder.appending(component: source.manifest.id.description)
            let copy = copyFolder.pathString
            var row = SelftestRow(
                damage: damage.id, title: damage.title, kind: damage.kind, expected: damage.expected, verdict: nil,
                failedChecks: [], caught: false, evidence: "", problems: [], deviation: damage.deviation, seconds: 0,
                isolation: nil)
            do {
                // Format 2: with the objects each set uses, copied into the damaged copy's own
                // `objects/` (the layout of a destination), so a damage to one object touches no
                // other copy and never the good sets.
                let objects = destinationFolder.appending(component: Manifest.objectsFolderName)
                try fm.copyItem(atPath: source.setPath, toPath: copy)
                try SetSealer.copyObjects(
                    of: source.manifest,
                    from: SetSealer.objectsFolder(of: try AbsolutePath(validating: source.setPath)), to: objects)
                if damage.needsPrevious {
                    try fm.copyItem(
                        atPath: first.setPath,
                        toPath: destinationFolder.appending(component: first.manifest.id.description).pathString)
                    try SetSealer.copyObjects(
                        of: first.manifest,
                        from: SetSealer.objectsFolder(of: try AbsolutePath(validating: first.setPath)), to: objects)
                }
                let context = DamageContext(
                    setPath: copyFolder, manifest: try Manifest.load(setPath: copy), scratch: scratchFolder,
                    sandboxFolder: sandboxes,
                    realTemp: realTemp, realHome: realHome ?? realTemp)
                if damage.vault { context.password = vaultSet?.password }
                do {
                    try await damage.apply(context)
                } catch {
                    throw SelftestError.damageNotMade("\(error)")
                }
                let result = try await drill(copyFolder, destination: destinationFolder, password: context.password)
                context.reportFolder = result.reportFolder
                row = Self.evaluate(row, damage: damage, context: context, result: result)
            } catch SelftestError.damageNotMade(let why) {
                row.problems = ["the damage could not be made: \(why)"]
            } catch {
                row.problems = ["the drill could not run: \(error)"]
            }
            row.seconds = Date().timeIntervalSince(started)
            if !options.keep { try? fm.removeItem(atPath: destination) }
            rows.append(row)
        }
        let isolation = goodResult.isolation
        return SelftestReport(
            passed: goodRow.caught && rows.allSatisfy(\.caught), setFormat: options.setFormat, isolation: isolation,
            seconds: Date().timeIntervalSince(watch), timeout: options.timeout, outputCap: options.outputCap,
            folder: options.keep ? base : nil, good: goodRow, rows: rows)
    }

    enum SelftestError: Error {
        case damageNotMade(String)
    }

    /// Whether the drill of a damaged copy caught the damage where it should.
    static func evaluate(_ row: SelftestRow, damage: SelftestDamage, context: DamageContext, result: DrillResult)
        -> SelftestRow
    {
        var row = row
        row.verdict = result.verdict
        row.isolation = result.isolation
        row.failedChecks = failedChecks(result)
        var problems: [String] = []
        if result.verdict != .fail { problems.append("the drill passed") }
        var hits = result.checks.filter { $0.check == damage.expected && $0.verdict == .fail }
        if hits.isEmpty {
            let state = result.checks.first { $0.check == damage.expected }.map {
                "\($0.verdict.rawValue): \($0.message)"
            }
            problems.append("\(damage.expected.rawValue) did not fail (\(state ?? "not run"))")
        } else {
            if let subject = context.expectedSubject {
                let named = hits.filter { $0.subject == subject }
                if named.isEmpty {
                    problems.append("\(damage.expected.rawValue) failed, but not for \(subject)")
                } else {
                    hits = named
                }
            }
            if let (code, data) = context.expectedFinding {
                let said = hits.filter { $0.has(code, data: data) }
                if said.isEmpty {
                    let wanted =
                        data.isEmpty
                        ? "" : " with " + data.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: ", ")
                    problems.append(
                        "\(damage.expected.rawValue) failed without finding \(code)\(wanted): \(hits[0].message)")
                } else {
                    hits = said
                }
            }
        }
        problems += context.afterDrill.compactMap { $0(result) }
        let shown =
            hits.first ?? result.checks.problems.first
        row.evidence = shown.map { "\($0.check.rawValue) \($0.subject): \($0.message)" } ?? ""
        row.problems = problems
        row.caught = problems.isEmpty
        return row
    }

    static func failedChecks(_ result: DrillResult) -> [String] {
        var seen: [String] = []
        for c in result.checks.problems where !seen.contains(c.check.rawValue) {
            seen.append(c.check.rawValue)
        }
        return seen
    }

    static func mkdir(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RestoreDrillError.io(path: path, message: "cannot create folder: \(error.localizedDescription)")
        }
    }
}

/// One row of the selftest table.
public struct SelftestRow: Codable, Sendable, Equatable {
    /// The damage id (`good` for the undamaged set).
    public var damage: String
    public var title: String
    /// nil for the good set.
    public var kind: DamageKind?
    /// The check that must fail; nil for the good set (every check must pass or skip).
    public var expected: CheckID?
    /// The drill's verdict; nil when the drill did not run.
    public var verdict: Verdict?
    /// Check ids that failed or errored, in catalogue order.
    public var failedChecks: [String]
    /// True when the expected check failed as required and nothing escaped (for the good set: the
    /// drill passed).
    public var caught: Bool
    /// The expected check's failure message (or the first failure), `check subject: message`.
    public var evidence: String
    /// Why the row is not caught; empty when it is.
    public var problems: [String]
    /// Where our expectation differs from the damage table the selftest was specified with, and why.
    public var deviation: String?
    /// Wall time of the copy, damage and drill, seconds.
    public var seconds: Double
    public var isolation: IsolationKind?

    enum CodingKeys: String, CodingKey {
        case damage, title, kind, expected, verdict, caught, evidence, problems, deviation, seconds, isolation
        case failedChecks = "failed_checks"
    }
}

/// What `restore-drill selftest` found (`--json`: format `restore-drill/selftest`, version 1).
public struct SelftestReport: Codable, Sendable {
    public var format = "restore-drill/selftest"
    public var formatVersion = 1
    /// True when the good set passed and every damage was caught by its expected check.
    public var passed: Bool
    /// The format (`set_format`, 1 or 2) the sample's sets were written in; the damages are those
    /// of that format.
    public var setFormat: Int
    /// How the good set's replay was isolated.
    public var isolation: IsolationKind
    /// Wall time of the whole selftest, seconds.
    public var seconds: Double
    /// The replay timeout (seconds) and output cap (bytes) every drill used.
    public var timeout: Double
    public var outputCap: Int
    /// The work folder, when kept.
    public var folder: String?
    public var good: SelftestRow
    public var rows: [SelftestRow]

    enum CodingKeys: String, CodingKey {
        case format, passed, isolation, seconds, timeout, folder, good, rows
        case formatVersion = "format_version"
        case setFormat = "set_format"
        case outputCap = "output_cap"
    }

    /// The verdict line, then the table damage → kind → expected check → verdict → failed checks.
    public var text: String {
        let caught = rows.filter(\.caught).count
        var lines = [
            "selftest: \(passed ? "PASS" : "FAIL") — \(caught) of \(rows.count) damages caught by their expected check; good set \(good.caught ? "passed" : "DID NOT PASS")",
            "  sets of format \(setFormat), isolation \(isolation.rawValue), replay timeout \(Units.humanSeconds(timeout)), output cap \(Units.humanBytes(Int64(outputCap))), \(String(format: "%.1f", seconds)) s",
            "",
        ]
        func pad(_ s: String, _ n: Int) -> String { s.padded(to: n) }
        let titleWidth = max(20, ([good] + rows).map(\.title.count).max() ?? 20)
        lines.append(
            "\(pad("damage", titleWidth))  \(pad("kind", 7))  \(pad("expected check", 20))  \(pad("verdict", 7))  caught  failed checks"
        )
        for row in [good] + rows {
            lines.append(
                "\(pad(row.title, titleWidth))  \(pad(row.kind?.rawValue ?? "-", 7))  \(pad(row.expected?.rawValue ?? "(all pass)", 20))  \(pad(row.verdict?.rawValue ?? "-", 7))  \(pad(row.caught ? "yes" : "NO", 6))  \(row.failedChecks.isEmpty ? "-" : row.failedChecks.joined(separator: ", "))"
            )
        }
        let missed = ([good] + rows).filter { !$0.caught }
        if !missed.isEmpty {
            lines.append("")
            for row in missed {
                lines.append("NOT CAUGHT \(row.damage): " + row.problems.joined(separator: "; "))
            }
        }
        let deviations = rows.filter { $0.deviation != nil }
        if !deviations.isEmpty {
            lines.append("")
            for row in deviations { lines.append("note \(row.damage): \(row.deviation!)") }
        }
        if let folder { lines.append("work folder kept: \(folder)") }
        return lines.joined(separator: "\n")
    }
}
