import BackupEngine
import Destination
import DrillCore
import Foundation
import Health
import Reports
import Sandbox
import Vault
import Verifier

/// `restore-drill drill`: pick a set, drill it in a sandbox, write the three reports.
public struct DrillJob: Sendable {
    /// How the set is chosen.
    public enum Pick: Sendable, Equatable {
        /// The newest set in the destination.
        case latest
        /// One set by its backup id.
        case id(String)
        /// A set folder outside any configuration.
        case path(String)
        /// A random set made within the last `days` days.
        case randomWithin(days: Int)
    }

    /// What the command line asked for.
    public struct Request: Sendable {
        public var pick: Pick
        public var passwordFile: String?
        public var keepSandbox: Bool
        public var requireIsolation: Bool
        /// `--offsite NAME`: drill the copy on the configured off-site remote of that name
        /// (`offsite[].name`) instead of the destination's own set. The pick (latest, id, random)
        /// runs on the remote's listing; the set is fetched into `<sandbox folder>/offsite-fetch/`
        /// and drilled there, and the local destination's sets are never read. nil: a local drill.
        public var offsite: String?
        /// `--parts N,M` and `drill --sample` (issue 17): restore and check only these parts
        /// (``RestorePart/number``); nil drills the whole set. The drill's event is then a
        /// `sampled_drill` (``HistoryEventKind/sampledDrill``), not a `drill`.
        public var parts: [Int]?
        /// Extra details for the drill's event (a sample's seed and start).
        public var eventDetails: [String: String] = [:]

        public init(
            pick: Pick, passwordFile: String? = nil, keepSandbox: Bool = false, requireIsolation: Bool = false,
            offsite: String? = nil
        ) {
            self.pick = pick
            self.passwordFile = passwordFile
            self.keepSandbox = keepSandbox
            self.requireIsolation = requireIsolation
            self.offsite = offsite
        }
    }

    public let config: RestoreDrillConfig?
    public let clock: any WallClock
    public let replayer: any RestoreReplayer
    public var progress: (@Sendable (String) -> Void)?
    /// Bytes done of the total, rate and time left while the drill reads (``Drill/byteProgress``); nil for none.
    public var byteProgress: (@Sendable (ByteProgress) -> Void)?
    /// Folder relative paths resolve against when there is no configuration (`--set PATH`).
    public let currentDirectory: String
    /// Starts a `credentials.password.command` source (its argv never holds the password) and the
    /// `hooks`; defaults to ``SubprocessRunner``.
    public var runner: any ProcessRunner = SubprocessRunner()
    /// What a `credentials.password.env` source reads.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Derives every vault key of the drill, each once per salt (the pick, `set.manifest`,
    /// `credentials.vault`, `set.coverage`, `rpo`); a test injects one that counts.
    public var keyring = VaultKeyring()
    /// The cache folder holding the machine's manifest-HMAC salt (``HMACSaltStore``), the same as
    /// ``BackupJob/dependencyCache``; nil for none. With a password, the key of that salt is
    /// derived first thing, beside the start and the pick (``HMACSaltStore/speculate(password:keyring:)``).
    public var keyCache = BackupEngine.defaultDependencyCache(environment: ProcessInfo.processInfo.environment)
    /// Where the sets are: every set access of the drill (picking the set, opening it, `rpo`,
    /// `set.coverage`, the lock, the history event) goes through it. Defaults to the
    /// ``LocalDestination`` of `config.destination`; nil without a configuration (`--set PATH`).
    public var destination: (any Destination)?
    /// Where the drill's history event is written; nil writes it to ``destination`` (for
    /// ``Request/offsite``: to the ``LocalDestination`` of `config.destination`, as every off-site
    /// event is).
    public var historyDestination: (any Destination)?
    /// Details added to the drill's history event (after the ones the drill gives it; never
    /// secrets: the history refuses keys that name one). Empty by default.
    public var eventDetails: [String: String] = [:]
    /// The rclone that ``Request/offsite`` drills run (tests give one with `RCLONE_CONFIG` in its
    /// environment); nil finds `rclone` on the `PATH` of ``environment`` when an off-site drill
    /// starts.
    public var rclone: Rclone?
    /// The copy drilled when ``destination`` is not the configured destination (an off-site copy):
    /// its name and rclone path go into the reports and the event, with the fetch's seconds and
    /// bytes (``OpenedSet/fetchSeconds``, ``OpenedSet/fetchedBytes``). Set by ``Request/offsite``;
    /// a caller that injects its own remote ``destination`` sets it too.
    public var offsiteCopy: (remote: String, remotePath: String)?

    /// - Parameters:
    ///   - config: nil only for `--set PATH`; then sandboxes and reports go under `currentDirectory`.
    ///   - replayer: defaults to ``IsolatedReplayer`` (bubblewrap when present).
    public init(
        config: RestoreDrillConfig?, clock: any WallClock, replayer: any RestoreReplayer = IsolatedReplayer(),
        progress: (@Sendable (String) -> Void)? = nil,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) {
        self.config = config
        self.clock = clock
        self.replayer = replayer
        self.progress = progress
        self.currentDirectory = currentDirectory
        destination = config.map { LocalDestination(path: $0.destination) }
    }

    /// Runs the drill and writes `<reports>/<drill-id>/{junit.xml,report.md,report.json}`.
    /// - Returns: the result, with ``DrillResult/reportFolder`` set.
    /// - Throws: ``RestoreDrillError/usage(_:)`` without a configuration (except `--set`),
    ///   ``RestoreDrillError/setNotFound(_:)``, or what the drill throws when it cannot run;
    ///   ``EventNotRecorded`` (carrying the result) when the drill ran and its reports were
    ///   written, but its history event could not be written to the destination.
    public func run(_ request: Request) async throws -> DrillResult {
        let runStarted = ContinuousClock.now
        guard let workingFolder = try? AbsolutePath(validating: currentDirectory) else {
            throw RestoreDrillError.usage("the working folder is not an absolute path: \(currentDirectory)")
        }
        // The set's path is resolved here, once, against the injected working folder (not the
        // process's); the drill and the replayer use it as given.
        var setPath: AbsolutePath?
        var destination: String? = nil
        var store: (any Destination)? = nil
        var history: (any Destination)? = historyDestination
        var copyNames = offsiteCopy
        if let name = request.offsite {
            let remote = try Self.offsiteRemote(named: name, config: config, pick: request.pick)
            let sandboxes = try Self.folder(
                config?.sandbox.folder, orBelow: workingFolder, RestoreDrillConfig.SandboxSettings.defaultFolderName)
            let runner = try rclone ?? Rclone(environment: environment)
            // The drill's own staging folder: the set is fetched below it, never read from the
            // local destination.
            store = RcloneDestination(
                remote: RcloneRemote(rclone: runner, root: remote.rclone, bandwidthLimit: remote.bandwidthLimit),
                stagingFolder: sandboxes.appending(component: Self.offsiteStagingName).pathString)
            destination = remote.rclone
            copyNames = (remote.name, remote.rclone)
            if history == nil, let config { history = LocalDestination(path: config.destination) }
        }
        switch request.pick {
        case .path(let p):
            guard let resolved = try? AbsolutePath(p, relativeTo: workingFolder) else {
                throw RestoreDrillError.setNotFound(p)
            }
            guard FileManager.default.fileExists(atPath: resolved.pathString) else {
                throw RestoreDrillError.setNotFound(resolved.pathString)
            }
            setPath = resolved
        case .latest, .id, .randomWithin:
            // An off-site drill picks on the remote (its store is set above).
            guard store == nil else { break }
            guard let config else {
                throw RestoreDrillError.usage("no configuration: give --config FILE, or drill a folder with --set PATH")
            }
            guard let configured = self.destination else {
                throw RestoreDrillError.usage("no destination: give --config FILE, or drill a folder with --set PATH")
            }
            destination = config.destination
            store = configured
        }
        // The vault password, in memory only: the drill writes a private copy for the replay only
        // once the set is proven (its manifest HMAC verifies and its artifacts are intact).
        let password = try await SetTrust.password(
            passwordFile: request.passwordFile, config: config, runner: runner, environment: environment,
            currentDirectory: currentDirectory)
        let previousPasswords =
            password == nil
            ? []
            : try await SetTrust.previousPasswords(config: config, runner: runner, environment: environment)
        let authenticator = password.map {
            SetAuthenticator(passwords: [$0] + previousPasswords, keyring: keyring)
        }
        // The key that most likely authenticates the newest set (the machine's salt) starts
        // deriving now, while a core is idle; the drill's own request for it waits for this one.
        if let password, let keyCache {
            HMACSaltStore(folder: keyCache).speculate(password: password, keyring: keyring)
        }
        var opened: OpenedSet?
        defer { opened?.close() }
        if let copyNames {
            progress?("fetching the set from the off-site remote \(copyNames.remote) (\(copyNames.remotePath))")
        }
        // `--latest` with a password: the newest present set is picked before its key is derived,
        // so the derivation runs beside the hashing of its artifacts (in the drill). Only when it
        // is not authenticated does the drill stop (before anything is unpacked, run or handed a
        // secret) and the pick is made again, judging every set (``SetCatalogue/latest(now:)``).
        // The newest present set is exactly what that pick returns whenever it is authenticated.
        var provisional = false
        if let store {
            let catalogue = SetCatalogue(store, authenticator: authenticator)
            let picked: CataloguedSet
            switch request.pick {
            case .id(let id):
                // Found by name, judged by the drill itself (set.manifest): the newer sets passed on
                // the way need no key.
                picked = try SetCatalogue(store).byID(id)
            case .randomWithin(let days):
                var generator = SystemRandomNumberGenerator()
                picked = try catalogue.randomWithin(days: Double(days), now: clock.now(), using: &generator)
            default:
                if authenticator != nil {
                    picked = try SetCatalogue(store).latest(now: clock.now())
                    provisional = true
                } else {
                    picked = try catalogue.latest(now: clock.now())
                }
            }
            // The destination hands back the set's folder as an absolute path: nobody resolves it again.
            let set = try store.openSet(id: picked.id)
            opened = set
            setPath = set.folder
        }
        guard let setPath else {
            throw RestoreDrillError.usage("no configuration: give --config FILE, or drill a folder with --set PATH")
        }
        // Without a configuration, the configuration's defaults below the working folder.
        let sandboxSettings =
            config?.sandbox ?? RestoreDrillConfig.SandboxSettings(baseFolder: workingFolder.pathString)
        let reportSettings = config?.reports ?? RestoreDrillConfig.ReportSettings(baseFolder: workingFolder.pathString)
        let sandboxes = try Self.folder(
            config?.sandbox.folder, orBelow: workingFolder, RestoreDrillConfig.SandboxSettings.defaultFolderName)
        let reports = try Self.folder(
            config?.reports.folder, orBelow: workingFolder, RestoreDrillConfig.ReportSettings.defaultFolderName)
        var canaryTexts = [NSTemporaryDirectory()]
        if let home = ProcessInfo.processInfo.environment["HOME"] { canaryTexts.append(home) }
        if let config { canaryTexts.append(config.home) }
        if let local = store as? LocalDestination { canaryTexts.append(local.location) }
        let canaries = canaryTexts.compactMap { try? AbsolutePath($0, relativeTo: workingFolder) }
        // A fetched copy: the folder holding it (the set and its objects) is the replay's bait
        // instead of the local destination, which an off-site drill never touches.
        let baits = { (set: OpenedSet?) -> [AbsolutePath] in
            let fetched = copyNames == nil ? nil : set?.folder.parentDirectory
            return Array(Set(canaries + (fetched.map { [$0] } ?? []))).sorted()
        }
        var options = DrillOptions(
            setPath: setPath, sandboxFolder: sandboxes, reportFolder: reports,
            keep: sandboxSettings.keep, keepSandbox: request.keepSandbox,
            requireIsolation: request.requireIsolation, objectives: config?.objectives ?? .init(),
            limits: sandboxSettings.limits, timeout: sandboxSettings.timeout,
            isolation: sandboxSettings.isolation, destination: destination,
            canaryFolders: baits(opened),
            maxShrink: (config?.coverage ?? .init()).maxShrink,
            password: password, authenticator: authenticator)
        options.destinationStore = store
        options.provisionalPick = provisional
        options.parts = request.parts
        options.copy = Self.drilledCopy(copyNames, opened)
        let lock = try store.flatMap { try $0.lock(.shared) }
        defer { lock?.release() }
        // Progress lines name sets, scripts and files from the set: shown escaped, like the summary.
        let escapedProgress = progress.map { report in
            { @Sendable (line: String) in report(ReportText.visible(line, keepNewlines: false)) }
        }
        // What a sync client left, looked at before any byte is read (reading a placeholder
        // downloads it).
        let sync = (store as? LocalDestination).map { SyncedFolderScan.scan(destination: $0.location) }
        var drill = Drill(options: options, clock: clock, replayer: replayer, progress: escapedProgress)
        drill.byteProgress = byteProgress
        var result: DrillResult
        do {
            result = try await drill.run()
        } catch is ProvisionalPickUnauthenticated {
            guard let store else { throw RestoreDrillError.runtime("a provisional pick needs a destination") }
            // The newest set is not authenticated: pick among the sets that count (its verdict
            // and every key derived so far are remembered).
            opened?.close()
            let counted = try SetCatalogue(store, authenticator: authenticator).latest(now: clock.now())
            let set = try store.openSet(id: counted.id)
            opened = set
            progress?(
                "\(setPath.basename) is not authenticated: drilling the latest set that counts, \(set.folder.basename)")
            options.setPath = set.folder
            options.provisionalPick = false
            options.copy = Self.drilledCopy(copyNames, set)
            options.canaryFolders = baits(set)
            drill = Drill(options: options, clock: clock, replayer: replayer, progress: escapedProgress)
            drill.byteProgress = byteProgress
            result = try await drill.run()
        }
        // A damaged or missing object of a configured destination: the next backup must not reuse
        // it on the files cache's word (its size only), so that cache goes (``ObjectReuseCache``).
        // A drill of an off-site copy found the REMOTE's object damaged or missing: the local
        // objects were never read, so the local cache stays (a push only sends what the remote
        // lacks by its own listing, so no remote cache goes either).
        let objectFindings: Set<Finding.Code> = [.objectDamaged, .objectMissing]
        if let config, let keyCache, result.copy == nil,
            result.checks.contains(where: { $0.findings.contains { objectFindings.contains($0.code) } })
        {
            ObjectReuseCache.forget(
                folder: keyCache, destination: LocalDestination(path: config.destination).folder.pathString)
        }
        if let sync, let store, let id = result.backupID {
            let objects = ((try? store.readManifest(id: id))?.objectRefs() ?? []).map(\.digest.hex)
            SyncFindings.addToDrill(sync, checks: &result.checks, id: id.description, objects: Set(objects))
        }
        let folder = reports.appending(component: result.drillID.description).pathString
        result.reportFolder = folder
        _ = try ReportWriter.write(result, to: folder)
        _ = try? ReportWriter.prune(reportsRoot: reports.pathString, keep: reportSettings.keep)
        // The event is what health, the SLA and prune's "newest drilled set" count: a drill whose
        // event is lost did not happen for them. The reports are written first either way.
        var eventFailure: (any Error)?
        let eventStore = history ?? store
        if let eventStore {
            do {
                if result.copy != nil, let local = eventStore as? LocalDestination {
                    try Self.prepareHistory(local, progress: progress)
                }
                let finished = clock.now()
                var event = HistoryEvent(drill: result, finishedAt: finished)
                if request.parts != nil {
                    // Part of a set: its restore time is no RTO (health and the SLA never see one);
                    // the sample planner's rate reads the whole drill's wall time, `seconds`.
                    event.kind = .sampledDrill
                    let spent = ContinuousClock.now - runStarted
                    event.details["seconds"] = String(
                        format: "%.3f", Double(spent.components.seconds) + Double(spent.components.attoseconds) / 1e18)
                    event.rtoSeconds = nil
                }
                event.details.merge(eventDetails) { _, extra in extra }
                event.details.merge(request.eventDetails) { _, extra in extra }
                let history = HistoryStore(eventStore)
                try history.append(event)
                // What the drill proved, for the proof ledger (docs/PROOF.md).
                if let proof = Self.proofEvent(result, finishedAt: finished) {
                    try history.append(proof)
                }
            } catch {
                eventFailure = error
            }
        }
        if let hooks = config?.hooks, !(result.verdict == .pass ? hooks.onSuccess : hooks.onFailure).isEmpty {
            let warnings = await HookRunner().run(
                hooks: result.verdict == .pass ? hooks.onSuccess : hooks.onFailure, event: "drill",
                verdict: result.verdict.rawValue, reportPath: result.reportFolder,
                backupID: result.backupID?.description, runner: runner)
            for w in warnings { progress?("hook: \(w)") }
        }
        if let eventFailure, let eventStore {
            throw EventNotRecorded(result: result, destination: eventStore.location, underlying: eventFailure)
        }
        return result
    }

    /// The `proof` event of a finished drill: the parts it proved (``DrillResult/provenParts(manifest:)``,
    /// with the drilled set's manifest read again, and used only when its SHA-256 is the one the
    /// drill judged), or nil when it proved none. For a drill of an off-site copy it carries `copy`
    /// and `remote` as the drill's event does.
    static func proofEvent(_ result: DrillResult, finishedAt: Date) -> HistoryEvent? {
        let path = (result.setPath as NSString).appendingPathComponent(Manifest.fileName)
        guard let id = result.backupID, let judged = result.manifestSHA256,
            let data = try? Data(contentsOf: URL(fileURLWithPath: path)), SHA256Digest.hex(of: data) == judged,
            let manifest = try? Manifest.decode(data, path: path)
        else { return nil }
        let parts = result.provenParts(manifest: manifest)
        guard !parts.isEmpty else { return nil }
        var details: [String: String] = ["parts": String(parts.count)]
        if let copy = result.copy {
            details["copy"] = copy.kind
            details["remote"] = copy.remote
        }
        var event = HistoryEvent(
            kind: .proof, time: finishedAt, status: .pass, backupID: id, drillID: result.drillID, details: details,
            host: result.host)
        event.parts = parts
        return event
    }

    /// The folder below the sandbox folder that off-site drills fetch sets into: `offsite-fetch`
    /// (one `remote-<uuid>` folder per drill, removed after it).
    public static let offsiteStagingName = "offsite-fetch"

    /// The configured remote `name`, for ``Request/offsite``.
    /// - Throws: ``RestoreDrillError/usage(_:)`` without a configuration, with `--set PATH`, or
    ///   when no remote has that name (the message lists the configured names).
    static func offsiteRemote(named name: String, config: RestoreDrillConfig?, pick: Pick) throws
        -> RestoreDrillConfig.OffsiteRemote
    {
        if case .path = pick {
            throw RestoreDrillError.usage(
                "--offsite drills the copy on a configured remote and --set drills a local folder: give one of them")
        }
        guard let config else {
            throw RestoreDrillError.usage("no configuration: --offsite needs the configuration that names the remote")
        }
        guard let remote = config.offsite.first(where: { $0.name == name }) else {
            let names = config.offsite.map(\.name)
            throw RestoreDrillError.usage(
                "no off-site remote named \(name): "
                    + (names.isEmpty
                        ? "no remote is configured (offsite: in the configuration)"
                        : "the configured remotes are \(names.joined(separator: ", "))"))
        }
        return remote
    }

    /// The reports' and the event's account of an off-site copy that was fetched to open `set`.
    static func drilledCopy(_ names: (remote: String, remotePath: String)?, _ set: OpenedSet?) -> DrilledCopy? {
        guard let names else { return nil }
        return DrilledCopy(
            remote: names.remote, remotePath: names.remotePath, fetchSeconds: set?.fetchSeconds ?? 0,
            fetchedBytes: set?.fetchedBytes ?? 0)
    }

    /// Before the event of an off-site drill is written to the local destination's history: a
    /// destination folder that is gone (the machine was lost, or the test removed it) is made
    /// again, as a backup would make it, but only when its parent exists (a missing parent is most
    /// often a drive that is not mounted; then the event is not recorded and the drill exits 3,
    /// saying so: ``EventNotRecorded``).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder cannot be made.
    static func prepareHistory(_ local: LocalDestination, progress: (@Sendable (String) -> Void)?) throws {
        guard !FileManager.default.fileExists(atPath: local.folder.pathString) else { return }
        _ = try local.prepareForWriting()
        progress?("the destination \(local.location) was missing: made it again to record this drill in its history")
    }

    /// The drill ran and its reports are written, but its history event could not be written to
    /// the destination (a read-only or full destination): `health`, `report sla` and `prune` would
    /// not know the drill happened. The command prints the drill as usual, then this, and exits 3.
    public struct EventNotRecorded: Error, CustomStringConvertible, Sendable {
        /// The drill, complete, with ``DrillResult/reportFolder`` set (its reports are written).
        public var result: DrillResult
        /// The destination whose history could not be written (its location).
        public var destination: String
        /// Why the event could not be written (usually ``RestoreDrillError/io(path:message:)``).
        public var underlying: any Error

        /// Exit 3: the tool could not do all of its job.
        public var exitStatus: ExitStatus { .runtime }

        public var description: String {
            "the drill \(result.drillID) (\(result.verdict.rawValue.uppercased())) could not record its event in "
                + "the history of \(destination): \(underlying); its reports are in \(result.reportFolder ?? "?"), "
                + "but health, report sla and prune will not count this drill"
        }
    }

    /// A configured folder (already absolute in a loaded configuration), or `name` below the
    /// working folder when there is no configuration.
    /// - Throws: ``RestoreDrillError/usage(_:)`` when the configured value is no path.
    static func folder(_ configured: String?, orBelow workingFolder: AbsolutePath, _ name: String) throws
        -> AbsolutePath
    {
        guard let configured else { return workingFolder.appending(component: name) }
        do {
            return try AbsolutePath(configured, relativeTo: workingFolder)
        } catch {
            throw RestoreDrillError.usage("\(name) folder: \(error)")
        }
    }

    /// The text a person reads after a drill: verdict first, then RPO/RTO, counts, failures, paths.
    /// Every name, message and path is shown with its control characters as control pictures
    /// (ESC → `␛`, LF → `␊`, DEL → `␡`), as the reports do (``ReportText/visible(_:keepNewlines:)``),
    /// so a file name from a set can neither drive the terminal nor fake a line of the summary.
    public static func summary(_ r: DrillResult) -> String {
        func shown(_ text: String) -> String { ReportText.visible(text, keepNewlines: false) }
        var lines: [String] = []
        let id = r.backupID?.description ?? shown(r.setPath)
        lines.append("drill \(r.drillID) of \(id): \(r.verdict == .pass ? "PASS" : "FAIL")")
        var facts: [String] = [
            "isolation \(r.isolation.rawValue)", "authenticated \(r.authenticated == true ? "yes" : "no")",
        ]
        if let limits = r.limits { facts.append("limits \(shown(limits))") }
        if let rto = r.rtoSeconds { facts.append("RTO \(Units.humanSeconds(rto))") }
        if let rpo = r.rpoSeconds { facts.append("RPO \(Units.humanSeconds(rpo))") }
        lines.append("  " + facts.joined(separator: ", "))
        if let copy = r.copy {
            lines.append(
                "  copy: \(shown(copy.text)), downloaded \(Units.humanBytes(copy.fetchedBytes)) in "
                    + "\(Units.humanSeconds(copy.fetchSeconds)) (inside the RTO)")
        }
        for check in CheckID.drillCatalogue {
            let c = r.counts(for: check)
            guard !c.isEmpty else { continue }
            let parts = Verdict.allCases.compactMap { v in c[v].map { "\($0) \(v.rawValue)" } }
            lines.append(
                "  \(check.rawValue.padding(toLength: 21, withPad: " ", startingAt: 0)) \(parts.joined(separator: ", "))"
            )
        }
        for c in r.checks.problems {
            lines.append(
                "  \(c.verdict.rawValue.uppercased()) \(c.check.rawValue) \(shown(c.subject)): \(shown(c.message))")
        }
        for c in r.checks where c.verdict == .skip {
            for f in c.findings where f.code == .syncConflictCopy || f.code == .syncPlaceholder {
                lines.append("  WARN \(f.code) \(shown(c.subject)): \(shown(f.message))")
            }
        }
        if let folder = r.reportFolder {
            lines.append("  reports: \(shown(folder))/{junit.xml,report.md,report.json}")
        }
        if r.sandboxKept, let s = r.sandboxPath { lines.append("  sandbox kept: \(shown(s))") }
        return lines.joined(separator: "\n")
    }
}

/// `restore-drill list`: the sets in a destination (format `restore-drill/set-list`), with what each
/// set weighs in a destination whose format-2 sets share objects, and the destination's total.
/// Fields: docs/SET-FORMAT.md, "What `list` counts".
public struct SetListing: Codable, Sendable {
    public var format = "restore-drill/set-list"
    public var formatVersion = 1
    public var destination: String
    public var sets: [Entry]
    /// What the destination holds, bytes, as a cloud quota counts (apparent sizes, `st_size`): the
    /// files of every listed set folder (``setFolderBytes``) plus everything in `objects/`
    /// (``objectBytes``). JSON `total_bytes`.
    public var totalBytes: Int64 = 0
    /// The apparent sizes of the files in every listed set folder (format 1: the whole set;
    /// format 2: its manifest, `SHA256SUMS` and restore script). JSON `set_folder_bytes`.
    public var setFolderBytes: Int64 = 0
    /// The apparent sizes of every file in `objects/` (objects, temporaries, strays); 0 without
    /// one. JSON `object_bytes`.
    public var objectBytes: Int64 = 0
    /// Why `objects/` could not be counted (it is a link, a file, or unreadable: a hostile or damaged
    /// destination), or nil. The sets are listed all the same. JSON `objects_problem`, absent when nil.
    public var objectsProblem: String?
    /// Conflict copies a sync client left that shadow no listed set (a copy of a folder whose set
    /// is not usable, of an object no listed set lists, of `objects` itself). JSON
    /// `sync_conflicts`, absent when none.
    public var syncConflicts: [SyncConflictCopy]?
    /// Placeholders outside the listed sets' files and objects. JSON `sync_placeholders`, absent
    /// when none.
    public var syncPlaceholders: [String]?
    /// ``SyncedFolderScan/placeholderNote``: placeholders cannot be told on this system. JSON
    /// `sync_note`, absent when nil.
    public var syncNote: String?

    /// One set.
    public struct Entry: Codable, Sendable {
        public var id: String
        public var path: String
        public var status: String
        public var finishedAt: String
        /// Seconds since the set finished.
        public var ageSeconds: Double
        /// Bytes of all artifacts: what a restore of the set reads (format 2: each artifact
        /// counted, also when two share an object).
        public var bytes: Int64
        /// `id:status` per component.
        public var components: [String: String]
        /// The manifest's `format_version` (1 or 2). JSON `format_version`.
        public var formatVersion: Int = 1
        /// What the destination grew by with this set: its own folder's files plus, for format 2,
        /// the objects no older set references (objects first stored by this set). Format 1: its
        /// folder's bytes. Bytes. JSON `new_bytes`.
        public var newBytes: Int64 = 0
        /// What pruning this set alone would free: its own folder's files plus, for format 2, the
        /// objects no other listed set references (older or newer). Format 1: its folder's bytes.
        /// Bytes. JSON `unique_bytes`.
        public var uniqueBytes: Int64 = 0
        /// Sync conflict copies beside this set: of its files (the set fails `check`), of its
        /// folder and of the objects it lists (warnings). JSON `sync_conflicts`, absent when none.
        public var syncConflicts: [SyncConflictCopy]?
        /// Its files and objects that are only placeholders (relative to the destination). JSON
        /// `sync_placeholders`, absent when none.
        public var syncPlaceholders: [String]?

        enum CodingKeys: String, CodingKey {
            case id, path, status, bytes, components
            case syncConflicts = "sync_conflicts"
            case syncPlaceholders = "sync_placeholders"
            case finishedAt = "finished_at"
            case ageSeconds = "age_seconds"
            case formatVersion = "format_version"
            case newBytes = "new_bytes"
            case uniqueBytes = "unique_bytes"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, destination, sets
        case formatVersion = "format_version"
        case totalBytes = "total_bytes"
        case setFolderBytes = "set_folder_bytes"
        case objectBytes = "object_bytes"
        case objectsProblem = "objects_problem"
        case syncConflicts = "sync_conflicts"
        case syncPlaceholders = "sync_placeholders"
        case syncNote = "sync_note"
    }

    /// Reads every valid set in `destination`, oldest first.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be read.
    /// - Parameter authenticator: with a vault password configured, a set whose manifest HMAC does
    ///   not verify is listed with status `unauthenticated`.
    public static func make(destination: String, now: Date, authenticator: SetAuthenticator? = nil) throws
        -> SetListing
    {
        try make(LocalDestination(path: destination), now: now, authenticator: authenticator)
    }

    /// Reads every set of `destination` (``SetCatalogue/sets()``), oldest first, and weighs them.
    ///
    /// New and unique bytes of format-2 sets come from ``ObjectAccounting/bytesPerSet(_:)`` over
    /// every listed set's object references (sizes as the manifests record them); an
    /// unauthenticated set is listed and counted like any other (its objects are as real).
    /// - Parameters:
    ///   - authenticator: with a vault password configured, a set whose manifest HMAC does not
    ///     verify is listed with status `unauthenticated`.
    ///   - objects: the destination's objects; nil for the ``ObjectStore`` of a
    ///     ``LocalDestination`` (none for another destination).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination or its `objects/`
    ///   folder cannot be read.
    public static func make(_ destination: any Destination, now: Date, authenticator: SetAuthenticator? = nil)
        throws -> SetListing
    {
        try make(destination, now: now, authenticator: authenticator, objects: nil)
    }

    /// ``make(_:now:authenticator:)`` with the object store given.
    package static func make(
        _ destination: any Destination, now: Date, authenticator: SetAuthenticator?, objects: ObjectStore?
    ) throws -> SetListing {
        let sets = try SetCatalogue(destination, authenticator: authenticator).sets()
        let store = objects ?? (destination as? LocalDestination).map { ObjectStore(destination: $0.folder) }
        let folderBytes = sets.map { ApparentSize.ofTree($0.path) }
        let accounting = ObjectAccounting.bytesPerSet(
            sets.filter(\.manifest.storesObjects).map {
                (id: $0.id, objects: $0.manifest.objectRefs())
            })
        let byID = Dictionary(accounting.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var listing = SetListing(
            destination: destination.location,
            sets: zip(sets, folderBytes).map { s, folder in
                let finished = Timestamp.date(s.manifest.finishedAt) ?? s.id.date
                let shared = s.manifest.storesObjects ? byID[s.id] : nil
                return Entry(
                    id: s.id.description, path: s.path,
                    status: s.authentication.isUnauthenticated ? "unauthenticated" : s.manifest.status.rawValue,
                    finishedAt: s.manifest.finishedAt, ageSeconds: now.timeIntervalSince(finished),
                    bytes: s.manifest.artifacts.reduce(0) { $0 + $1.size },
                    components: Dictionary(
                        uniqueKeysWithValues: s.manifest.components.map { ($0.id.rawValue, $0.status.rawValue) }),
                    formatVersion: s.manifest.formatVersion,
                    newBytes: folder + (shared?.newBytes ?? 0), uniqueBytes: folder + (shared?.uniqueBytes ?? 0))
            })
        listing.setFolderBytes = folderBytes.reduce(0, +)
        do {
            listing.objectBytes = try store?.inventory().totalBytes ?? 0
        } catch {
            listing.objectsProblem = "\(error)"
        }
        listing.totalBytes = listing.setFolderBytes + listing.objectBytes
        if let local = destination as? LocalDestination {
            listing.attach(SyncedFolderScan.scan(destination: local.location), sets: sets)
        }
        return listing
    }

    /// Puts each conflict copy and placeholder of `scan` next to the set it concerns; the rest on
    /// the listing itself.
    mutating func attach(_ scan: SyncedFolderScan, sets: [CataloguedSet]) {
        var shown: Set<String> = []
        var placed: Set<String> = []
        for (i, set) in sets.enumerated() {
            let objects = Set(set.manifest.objectRefs().map(\.digest.hex))
            let copies = scan.copies(forSet: set.id.description, objects: objects)
            let placeholders = scan.placeholders(forSet: set.id.description, objects: objects)
            shown.formUnion(copies.map(\.path))
            placed.formUnion(placeholders)
            self.sets[i].syncConflicts = copies.isEmpty ? nil : copies
            self.sets[i].syncPlaceholders = placeholders.isEmpty ? nil : placeholders
        }
        let rest = scan.conflictCopies.filter { !shown.contains($0.path) }
        syncConflicts = rest.isEmpty ? nil : rest
        let restPlaceholders = scan.placeholders.filter { !placed.contains($0) }
        syncPlaceholders = restPlaceholders.isEmpty ? nil : restPlaceholders
        syncNote = scan.placeholderNote
    }

    /// The text line of one conflict copy: `conflict copy (FAIL|WARN): <path> (<rule>) of <original>`.
    static func line(_ copy: SyncConflictCopy) -> String {
        "conflict copy (\(copy.fails ? "FAIL" : "WARN")): \(copy.path) (\(copy.rule.rawValue)) of \(copy.original)"
    }

    /// One line per set: id, age, size, status, components.
    public var text: String {
        let sync =
            (syncConflicts ?? []).map { Self.line($0) } + (syncPlaceholders ?? []).map { "placeholder: \($0)" }
            + (syncNote.map { ["note: \($0)"] } ?? [])
        guard !sets.isEmpty else { return (["no backup sets in \(destination)"] + sync).joined(separator: "\n") }
        // Padded, never cut: `unauthenticated` (15 characters) is shown whole.
        func pad(_ text: String, _ width: Int) -> String { text.padded(to: width) }
        let statusWidth = sets.map(\.status.count).max() ?? 8
        let header =
            "\(pad("id", 21))  \(pad("age", 10)) \(pad("size", 10)) \(pad("new", 10)) \(pad("unique", 10)) "
            + "\(pad("status", max(8, statusWidth))) components"
        let rows = sets.map { s in
            let comps = ComponentID.allCases.compactMap { c in s.components[c.rawValue].map { "\(c.rawValue):\($0)" } }
            let row =
                "\(pad(s.id, 21))  \(pad(Units.humanSeconds(s.ageSeconds), 10)) \(pad(Units.humanBytes(s.bytes), 10)) "
                + "\(pad(Units.humanBytes(s.newBytes), 10)) \(pad(Units.humanBytes(s.uniqueBytes), 10)) "
                + "\(pad(s.status, max(8, statusWidth))) \(comps.joined(separator: " "))"
            let beside =
                (s.syncConflicts ?? []).map { "    " + Self.line($0) }
                + (s.syncPlaceholders ?? []).map { "    placeholder: \($0)" }
            return ([row] + beside).joined(separator: "\n")
        }
        let total =
            "destination total \(Units.humanBytes(totalBytes)) (\(totalBytes) bytes): set folders "
            + "\(Units.humanBytes(setFolderBytes)), objects \(Units.humanBytes(objectBytes))"
        let problem = objectsProblem.map { ["objects not counted: \($0)"] } ?? []
        return ([header] + rows + [total] + problem + sync).joined(separator: "\n")
    }
}

/// Apparent sizes of files, as a cloud quota counts them.
enum ApparentSize {
    /// The sum of `st_size` of every regular file under `path` (which is a folder), links not
    /// followed (a link counts its own size, as a synced folder stores it); 0 when it cannot be
    /// read. Bytes.
    static func ofTree(_ path: String) -> Int64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        switch info.st_mode & S_IFMT {
        case S_IFREG, S_IFLNK: return Int64(info.st_size)
        case S_IFDIR:
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.reduce(0) { $0 + ofTree((path as NSString).appendingPathComponent($1)) }
        default: return 0
        }
    }
}
