import BackupEngine
import Destination
import DrillCore
import Foundation
import Health
import Vault
import Verifier

/// `restore-drill check [ID | --all]`: `set.manifest` and `set.artifacts` for retained sets.
///
/// Format 1 sets are read by ``SetReadBack``. A format-2 set's objects are read through one
/// ``ObjectVerdicts`` per run: each object is read in full once however many of the checked sets
/// list it, and a damaged object fails every set that lists it, each failure naming the object and
/// every set of the destination that uses it.
public struct CheckJob: Sendable {
    public let config: RestoreDrillConfig
    public let clock: any WallClock
    /// With a vault password configured: which sets are authenticated (``SetTrust``).
    public var authenticator: SetAuthenticator?
    /// Where the sets are (picked, opened and read back through it; the history event too).
    /// Defaults to the ``LocalDestination`` of `config.destination`.
    public var destination: any Destination
    /// The shared objects of format-2 sets: the ``ObjectStore`` of `config.destination` by default.
    package var objectStore: ObjectStore?
    /// Reads one object in full; nil for ``ObjectStore/verify(_:)`` of ``objectStore`` (a test
    /// counts the reads with it).
    package var verifyObject: (@Sendable (ObjectRef) -> ObjectState)?
    /// The user's cache folder holding the backups' files cache (``BackupJob/objectCache``): a
    /// damaged object found removes that destination's cache, so the next backup writes it again.
    public var objectCache = BackupEngine.defaultDependencyCache(environment: ProcessInfo.processInfo.environment)

    public init(config: RestoreDrillConfig, clock: any WallClock) {
        self.config = config
        self.clock = clock
        destination = LocalDestination(path: config.destination)
        objectStore = ObjectStore(destination: LocalDestination(path: config.destination).folder)
    }

    /// The results per set (`--json`: format `restore-drill/check`).
    public struct Outcome: Codable, Sendable {
        public var format = "restore-drill/check"
        public var formatVersion = 1
        public var sets: [SetResult]
        /// Distinct objects (format 2) read in full by this run: each once, however many sets list
        /// it. JSON `objects_read`.
        public var objectsRead = 0
        /// Every object (format 2) found missing or damaged, with the sets of the destination that
        /// list it. JSON `damaged_objects`.
        public var damagedObjects: [DamagedObject] = []
        /// What a sync client left in a local destination (``SyncedFolderScan``): conflict copies,
        /// placeholders, and the note when placeholders cannot be told here. JSON `sync`, absent
        /// when nothing was found, and for a destination that is not a local folder.
        public var sync: SyncedFolderScan?

        public struct SetResult: Codable, Sendable {
            public var id: String
            public var verdict: Verdict
            public var checks: [CheckResult]
            /// Findings that do not fail the set but keep it from a clean PASS: a conflict copy of
            /// its folder or of an object it lists (`sync.conflict_copy`, severity `warn`), a file
            /// or object of it that is only a placeholder (`sync.placeholder`). JSON `warnings`,
            /// absent when none.
            public var warnings: [Finding]?

            /// `PASS`, `WARN` (passed, with ``warnings``) or `FAIL`.
            public var shown: String {
                verdict != .pass ? "FAIL" : (warnings ?? []).isEmpty ? "PASS" : "WARN"
            }
        }

        /// One object found missing or damaged.
        public struct DamagedObject: Codable, Sendable, Equatable {
            /// Relative to the destination: `objects/<ab>/<64 hex>`.
            public var object: String
            /// What was found: `missing`, `is 5 bytes, not the recorded size`, `has SHA-256 …`.
            public var state: String
            /// The ids of every set of the destination whose manifest lists it, oldest first.
            public var sets: [String]
        }

        enum CodingKeys: String, CodingKey {
            case format, sets
            case formatVersion = "format_version"
            case objectsRead = "objects_read"
            case damagedObjects = "damaged_objects"
            case sync
        }

        /// True when every set passed without a warning (a set with a sync conflict copy or a
        /// placeholder is never a clean pass: the command exits 1).
        public var passed: Bool { sets.allSatisfy { $0.shown == "PASS" } }

        public var text: String {
            guard !sets.isEmpty else { return "no sets to check" }
            var lines = sets.map { s in
                var lines = ["\(s.id): \(s.shown) (\(s.checks.count) checks)"]
                for c in s.checks.problems {
                    lines.append("  \(c.verdict.rawValue.uppercased()) \(c.check.rawValue) \(c.subject): \(c.message)")
                }
                for w in s.warnings ?? [] { lines.append("  WARN \(w.code): \(w.message)") }
                return lines.joined(separator: "\n")
            }
            if let note = sync?.placeholderNote { lines.append("note: \(note)") }
            for d in damagedObjects {
                lines.append("damaged object \(d.object): \(d.state); used by \(d.sets.joined(separator: ", "))")
            }
            if objectsRead > 0 { lines.append("\(objectsRead) objects read, each once") }
            return lines.joined(separator: "\n")
        }
    }

    /// Reads back one set (`id`), the newest (`id` nil, `all` false), or every set (`all`).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)``.
    public func run(id: String?, all: Bool) throws -> Outcome {
        let catalogue = try SetCatalogue(destination).sets()
        let sets: [CataloguedSet]
        if all {
            sets = catalogue
        } else if let id {
            sets = [try SetCatalogue(destination).byID(id)]
        } else {
            sets = [try SetCatalogue(destination, authenticator: authenticator).latest(now: clock.now())]
        }
        // Which sets list each object: a damaged object's failure names all of them.
        var users: [ObjectDigest: [BackupID]] = [:]
        for set in catalogue {
            for ref in set.manifest.objectRefs() { users[ref.digest, default: []].append(set.id) }
        }
        let store = objectStore
        let verify = verifyObject ?? { ref in store?.verify(ref) ?? .missing }
        let verdicts = ObjectVerdicts(verify: verify)
        var outcome = Outcome(sets: [])
        // Before any byte is read: reading a placeholder would download it.
        let sync = (destination as? LocalDestination).map { SyncedFolderScan.scan(destination: $0.location) }
        if let sync, sync != SyncedFolderScan() { outcome.sync = sync }
        let history = HistoryStore(destination)
        for set in sets {
            let opened = try destination.openSet(id: set.id)
            var checks: [CheckResult]
            if set.manifest.storesObjects {
                let manifest = SetReadBack.checkManifest(setPath: opened.folder)
                checks =
                    [manifest.result]
                    + (manifest.manifest.map {
                        ObjectReadBack.check(setPath: opened.folder, manifest: $0, verdicts: verdicts, users: users)
                    } ?? [])
            } else {
                checks = SetReadBack.check(setPath: opened.folder)
            }
            opened.close()
            // With a vault password, a set whose manifest HMAC does not verify is not the user's
            // (anyone can write a self-consistent set into a synced folder): it fails here as it
            // never counts elsewhere (README, "Every set is hostile until proven").
            if let authenticator, authenticator.isActive,
                case .unauthenticated(let reason) = authenticator.authenticate(set.manifest)
            {
                checks.insert(
                    CheckResult(
                        check: .setManifest, subject: set.id.description, verdict: .fail,
                        message: "not authenticated: \(reason); its bytes may be intact, but it is not proven "
                            + "to be a set this machine wrote"),
                    at: 0)
            }
            let warnings = sync.map { SyncFindings.apply($0, to: &checks, set: set) } ?? []
            let verdict = Verdict.rollup(checks.map(\.verdict), requirePass: false)
            outcome.sets.append(
                .init(
                    id: set.id.description, verdict: verdict, checks: checks,
                    warnings: warnings.isEmpty ? nil : warnings))
            _ = try? history.append(
                HistoryEvent(
                    kind: .check, time: clock.now(), status: verdict == .pass ? .pass : .fail, backupID: set.id,
                    details: ["checks": String(checks.count)]))
        }
        outcome.objectsRead = verdicts.objectsRead
        // A damaged object: the next backup must not reuse it on the files cache's word (size only).
        if !verdicts.damaged.isEmpty, let cacheFolder = objectCache {
            ObjectReuseCache.forget(
                folder: cacheFolder, destination: LocalDestination(path: config.destination).folder.pathString)
        }
        outcome.damagedObjects = verdicts.damaged.map {
            Outcome.DamagedObject(
                object: "objects/\($0.ref.digest.fanOut)/\($0.ref.digest.hex)", state: $0.state.description,
                sets: (users[$0.ref.digest] ?? []).map(\.description))
        }
        return outcome
    }
}

/// `restore-drill health`: the destination's health against the configured thresholds.
public enum HealthJob {
    /// Gathers and evaluates; an unreadable destination is UNKNOWN, not a throw.
    /// - Parameters:
    ///   - authenticator: with a vault password configured, unauthenticated sets never count.
    ///   - destination: where the sets and the history are; nil for the ``LocalDestination`` of
    ///     `config.destination`.
    public static func run(
        config: RestoreDrillConfig, now: Date, authenticator: SetAuthenticator? = nil,
        destination: (any Destination)? = nil
    ) -> HealthReport {
        let store = destination ?? LocalDestination(path: config.destination)
        do {
            // This machine's drill reports vouch for the history's drill events (issue 19: an
            // event dropped into a synced destination must not make health say a drill passed).
            let input = try HealthInput.gather(
                store, now: now, authenticator: authenticator, remotes: config.offsite.map(\.name),
                proofMaxAge: config.proof.maxAge,
                drillReports: LocalDrillReports.load(folder: config.reports.folder, now: now))
            return HealthReport.evaluate(input, thresholds: config.health)
        } catch {
            return HealthReport.unknown(String(describing: error), destination: store.location, now: now)
        }
    }
}

/// `restore-drill report sla`: the SLA scorecard over a window.
public enum SLAJob {
    /// - Parameter since: the window, seconds back from `now`.
    /// - Throws: history or destination read errors, a bad time zone.
    /// - Parameter authenticator: with a vault password configured, unauthenticated sets never count.
    /// - Parameter destination: where the sets and the history are; nil for the
    ///   ``LocalDestination`` of `config.destination`.
    public static func run(
        config: RestoreDrillConfig, now: Date, since: Double, authenticator: SetAuthenticator? = nil,
        destination: (any Destination)? = nil
    ) throws -> SLAScorecard {
        let store = destination ?? LocalDestination(path: config.destination)
        // The drills this machine can believe (``DrillVouching``): the history is in the
        // destination, which others may write to, and the scorecard is audit evidence.
        let events = DrillVouching(reports: LocalDrillReports.load(folder: config.reports.folder, now: now))
            .believed(try HistoryStore(store).events(), now: now, destination: store.location).events
        let scan = try BackupSetScanner.scan(store, authenticator: authenticator)
        let zone = config.retention.timeZone.flatMap(TimeZone.init(identifier:)) ?? .current
        return SLAScorecard.compute(
            events: events, sets: scan.sets, since: since, now: now, timeZone: zone, objectives: config.objectives)
    }
}

/// How `check` and the drill weigh what ``SyncedFolderScan`` found for one set.
enum SyncFindings {
    /// Adds a failing `set.artifacts` result for each conflict copy inside the set's folder that
    /// `checks` does not name yet (the set's checks name those they reach: a set whose manifest
    /// fails is not read further), and returns the warnings: conflict copies of its folder and of
    /// the objects it lists (`sync.conflict_copy`, severity `warn`) and its placeholders
    /// (`sync.placeholder`).
    static func apply(_ scan: SyncedFolderScan, to checks: inout [CheckResult], set: CataloguedSet) -> [Finding] {
        apply(scan, to: &checks, id: set.id.description, objects: Set(set.manifest.objectRefs().map(\.digest.hex)))
    }

    /// ``apply(_:to:set:)`` for set `id` listing the objects `objects` (64 hex each).
    static func apply(_ scan: SyncedFolderScan, to checks: inout [CheckResult], id: String, objects: Set<String>)
        -> [Finding]
    {
        var warnings: [Finding] = []
        for copy in scan.copies(forSet: id, objects: objects) {
            if copy.fails {
                let subject = String(copy.path.dropFirst(id.count + 1))
                if !checks.contains(where: { $0.has(.syncConflictCopy, data: ["path": copy.path]) }) {
                    checks.append(CheckResult(check: .setArtifacts, subject: subject, findings: [copy.finding]))
                }
            } else {
                warnings.append(copy.finding)
            }
        }
        for path in scan.placeholders(forSet: id, objects: objects) {
            warnings.append(
                Finding(
                    .syncPlaceholder, data: ["path": path],
                    message: "\(path) is only a placeholder: its bytes are in the cloud, not on this disk"))
        }
        return warnings
    }
}

extension SyncFindings {
    /// The drill's results for what `scan` found of set `id`: the failing results of
    /// ``apply(_:to:id:objects:)`` added to `checks`, and each warning as a `set.artifacts` skip
    /// holding its finding (subject: the copy or placeholder; the file is never read), so the
    /// reports carry it without failing a set whose own files verified.
    static func addToDrill(_ scan: SyncedFolderScan, checks: inout [CheckResult], id: String, objects: Set<String>) {
        for warning in apply(scan, to: &checks, id: id, objects: objects) {
            var result = CheckResult(
                check: .setArtifacts, subject: warning.data["path"] ?? id, verdict: .skip,
                message: "\(warning.message) (warning)")
            result.findings = [warning]
            checks.append(result)
        }
    }
}
