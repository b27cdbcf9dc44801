import Destination
import DrillCore
import Foundation
import Health
import Reports
import Retention
import Vault
import Verifier

/// `restore-drill prune`: applies the retention policy to the destination, removes what it
/// decides (only sets this tool made), cleans up stale `.partial-*` folders, old reports and old
/// kept sandboxes, wipes the secrets killed drills left in their sandboxes, then collects the
/// shared objects (format 2) that no remaining set references, and records a history event. Runs
/// under the destination's exclusive lock.
///
/// **Order and crash safety.** Sets go first (each renamed to `.removing-<id>`, then deleted), then
/// objects. The objects kept are every object listed by the manifest of any set folder still there
/// (authenticated or not, self-checksum matching or not), worked out after the sets are removed;
/// so a prune killed anywhere has removed only objects no remaining set lists, and every remaining
/// set keeps every object it needs. Objects are not collected at all when the references are not
/// all known: a folder named like a set whose manifest cannot be read, or a `.partial-*` younger
/// than a day (a backup, here or on another machine through a synced folder, may be writing objects
/// no manifest lists yet). docs/SET-FORMAT.md, "Garbage collection".
public struct PruneJob: Sendable {
    public let config: RestoreDrillConfig
    public let clock: any WallClock
    /// With a vault password configured: unauthenticated sets are never counted nor removed (``SetTrust``).
    public var authenticator: SetAuthenticator?
    /// Kept sandboxes older than this are removed: 7 days.
    public static let sandboxMaxAge: Double = 7 * 86400
    /// `.partial-*` folders older than this are removed: 1 day.
    public static let partialMaxAge: Double = 86400
    /// Where the sets are: the lock, the scan, every removal and the history event go through it.
    /// Defaults to the ``LocalDestination`` of `config.destination`.
    public var destination: any Destination
    /// The shared objects of format-2 sets: the ``ObjectStore`` of `config.destination` by default;
    /// nil to leave objects alone. Set it with ``destination`` when replacing that.
    package var objectStore: ObjectStore?
    /// Called before each removal prune makes in the destination (a set, an object, a temporary
    /// file in `objects/`), not in a dry run: a test seam that throws to stop prune at that point,
    /// as a kill would. nil in production.
    package var beforeRemoval: (@Sendable (Removal) throws -> Void)?

    /// One removal prune is about to make (``beforeRemoval``).
    package enum Removal: Sendable, Equatable, CustomStringConvertible {
        /// Set `id` (renamed to `.removing-<id>`, then deleted).
        case set(BackupID)
        /// An entry of `objects/`: an object or a temporary file, relative to the destination.
        case object(RelativePath)

        package var description: String {
            switch self {
            case .set(let id): "set \(id)"
            case .object(let path): path.pathString
            }
        }
    }

    public init(config: RestoreDrillConfig, clock: any WallClock) {
        self.config = config
        self.clock = clock
        destination = LocalDestination(path: config.destination)
        objectStore = ObjectStore(destination: LocalDestination(path: config.destination).folder)
    }

    /// What prune did with the shared objects of format-2 sets (JSON `objects` of
    /// `restore-drill/prune`, absent when the destination has no `objects/` folder).
    public struct ObjectCollection: Codable, Sendable, Equatable {
        /// True when unreferenced objects were removed (in a dry run: would be); false when
        /// collection was skipped for the reasons in ``skippedBecause``.
        public var collected: Bool
        /// Why no object was collected: one line per folder that leaves the references unknown
        /// (its location first). Empty when ``collected``.
        public var skippedBecause: [String]
        /// Distinct objects the remaining sets reference.
        public var referencedObjects: Int
        /// Referenced objects found in `objects/` and kept.
        public var keptObjects: Int
        /// Objects no remaining set references, removed (in a dry run: that would be), relative to
        /// the destination: `objects/<ab>/<64 hex>`, in name order.
        public var removedObjects: [String]
        /// Temporary files of killed writers (`objects/.tmp-<uuid>`, a day old or more), removed.
        public var removedTemporaries: [String]
        /// Apparent bytes (`st_size`) of what was (would be) removed: what the destination shrinks
        /// by, as a cloud quota counts.
        public var freedBytes: Int64
        /// Entries of `objects/` that are no name the object store makes: left alone.
        public var unrecognised: [String]
        /// Removals that failed: `<path>: <why>`.
        public var failures: [String]

        enum CodingKeys: String, CodingKey {
            case collected, unrecognised, failures
            case skippedBecause = "skipped_because"
            case referencedObjects = "referenced_objects"
            case keptObjects = "kept_objects"
            case removedObjects = "removed_objects"
            case removedTemporaries = "removed_temporaries"
            case freedBytes = "freed_bytes"
        }

        /// A collection skipped for `reasons`.
        static func skipped(_ reasons: [String], referenced: Int) -> ObjectCollection {
            ObjectCollection(
                collected: false, skippedBecause: reasons, referencedObjects: referenced, keptObjects: 0,
                removedObjects: [], removedTemporaries: [], freedBytes: 0, unrecognised: [], failures: [])
        }

        /// From the object store's report.
        init(_ report: GarbageCollection, referenced: Int) {
            collected = true
            skippedBecause = []
            referencedObjects = referenced
            keptObjects = report.keptObjects
            removedObjects = report.removed.filter { $0.kind == .object }.map(\.path.pathString)
            removedTemporaries = report.removed.filter { $0.kind == .temporary }.map(\.path.pathString)
            freedBytes = report.removedBytes
            unrecognised = report.unrecognised.map(\.pathString)
            failures = report.failures
        }

        init(
            collected: Bool, skippedBecause: [String], referencedObjects: Int, keptObjects: Int,
            removedObjects: [String], removedTemporaries: [String], freedBytes: Int64, unrecognised: [String],
            failures: [String]
        ) {
            self.collected = collected
            self.skippedBecause = skippedBecause
            self.referencedObjects = referencedObjects
            self.keptObjects = keptObjects
            self.removedObjects = removedObjects
            self.removedTemporaries = removedTemporaries
            self.freedBytes = freedBytes
            self.unrecognised = unrecognised
            self.failures = failures
        }

        /// The lines of the human output.
        func lines(dryRun: Bool) -> [String] {
            guard collected else {
                return skippedBecause.map { "objects not collected: \($0)" }
                    + ["objects: none removed (\(referencedObjects) referenced by the remaining sets)"]
            }
            var lines: [String] = []
            if dryRun {
                lines += removedObjects.map { "would remove unreferenced object \($0)" }
                lines += removedTemporaries.map { "would remove stale temporary \($0)" }
            }
            for i in unrecognised { lines.append("ignored in objects/ (not an object, never removed): \(i)") }
            for f in failures { lines.append("could not remove \(f)") }
            let count = removedObjects.count + removedTemporaries.count
            lines.append(
                "objects: \(count) \(dryRun ? "to remove" : "removed"), \(Units.humanBytes(freedBytes)) "
                    + "(\(freedBytes) bytes) \(dryRun ? "would be freed" : "freed"), \(keptObjects) kept")
            return lines
        }
    }

    /// What prune decided and did (`--json`: format `restore-drill/prune`).
    public struct Outcome: Codable, Sendable {
        public var format = "restore-drill/prune"
        public var formatVersion = 1
        public var dryRun: Bool
        /// One line per set: `keep full_…: weekly 2025-W41, …` or `remove full_…: beyond monthly 12`.
        public var decisions: [String]
        public var removedSets: [String]
        public var removedPartials: [String]
        public var removedReports: [String]
        public var removedSandboxes: [String]
        /// Folders named like sets that are not valid sets: never touched, listed for a person.
        public var ignored: [String]
        /// Secrets that drills killed before their end left in their sandboxes (decrypted
        /// credentials, password copies), wiped: absolute paths (``InterruptedDrills``); empty in
        /// a dry run.
        public var wipedSecrets: [String] = []
        /// What interrupted runs left and this prune deleted (``Destination/finishRemovals()``):
        /// `.removing-<id>` folders of a killed prune, temporary event files of a killed writer.
        /// JSON `removed_leftovers`, absent when empty (an optional field of format 1).
        public var removedLeftovers: [String] = []
        /// What happened to the shared objects of format-2 sets; nil when the destination has no
        /// `objects/` folder. JSON `objects`, absent when nil (an optional field of format 1).
        public var objects: ObjectCollection?
        /// Sync conflict copies a sync client left (``SyncedFolderScan``), never removed by prune:
        /// each `<path> (<rule>) of <original>`, relative to the destination. A set whose own
        /// folder holds one is kept this time (see ``keptForConflicts``). JSON `sync_conflicts`,
        /// absent when empty (an optional field of format 1).
        public var syncConflicts: [String] = []
        /// Sets the policy would remove but that were kept because their folder holds a sync
        /// conflict copy (which version of the set is the real one is for a person to decide), by
        /// id, oldest first. JSON `kept_for_conflicts`, absent when empty.
        public var keptForConflicts: [String] = []
        /// What the prune of each off-site remote did (`restore-drill prune` with remotes
        /// configured, ``OffsitePruneJob``). JSON `offsite`, absent when empty (an optional field
        /// of format 1).
        public var offsite: [OffsitePruneJob.Outcome] = []

        enum CodingKeys: String, CodingKey {
            case syncConflicts = "sync_conflicts"
            case keptForConflicts = "kept_for_conflicts"
            case format, decisions, ignored
            case formatVersion = "format_version"
            case dryRun = "dry_run"
            case removedSets = "removed_sets"
            case removedPartials = "removed_partials"
            case removedReports = "removed_reports"
            case removedSandboxes = "removed_sandboxes"
            case wipedSecrets = "wiped_secrets"
            case removedLeftovers = "removed_leftovers"
            case objects, offsite
        }

        public init(
            dryRun: Bool, decisions: [String], removedSets: [String], removedPartials: [String],
            removedReports: [String], removedSandboxes: [String], ignored: [String], removedLeftovers: [String] = []
        ) {
            self.dryRun = dryRun
            self.decisions = decisions
            self.removedSets = removedSets
            self.removedPartials = removedPartials
            self.removedReports = removedReports
            self.removedSandboxes = removedSandboxes
            self.ignored = ignored
            self.removedLeftovers = removedLeftovers
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dryRun = try c.decode(Bool.self, forKey: .dryRun)
            decisions = try c.decode([String].self, forKey: .decisions)
            removedSets = try c.decode([String].self, forKey: .removedSets)
            removedPartials = try c.decode([String].self, forKey: .removedPartials)
            removedReports = try c.decode([String].self, forKey: .removedReports)
            removedSandboxes = try c.decode([String].self, forKey: .removedSandboxes)
            ignored = try c.decode([String].self, forKey: .ignored)
            wipedSecrets = try c.decodeIfPresent([String].self, forKey: .wipedSecrets) ?? []
            removedLeftovers = try c.decodeIfPresent([String].self, forKey: .removedLeftovers) ?? []
            objects = try c.decodeIfPresent(ObjectCollection.self, forKey: .objects)
            syncConflicts = try c.decodeIfPresent([String].self, forKey: .syncConflicts) ?? []
            keptForConflicts = try c.decodeIfPresent([String].self, forKey: .keptForConflicts) ?? []
            offsite = try c.decodeIfPresent([OffsitePruneJob.Outcome].self, forKey: .offsite) ?? []
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(format, forKey: .format)
            try c.encode(formatVersion, forKey: .formatVersion)
            try c.encode(dryRun, forKey: .dryRun)
            try c.encode(decisions, forKey: .decisions)
            try c.encode(removedSets, forKey: .removedSets)
            try c.encode(removedPartials, forKey: .removedPartials)
            try c.encode(removedReports, forKey: .removedReports)
            try c.encode(removedSandboxes, forKey: .removedSandboxes)
            try c.encode(ignored, forKey: .ignored)
            try c.encode(wipedSecrets, forKey: .wipedSecrets)
            if !removedLeftovers.isEmpty { try c.encode(removedLeftovers, forKey: .removedLeftovers) }
            try c.encodeIfPresent(objects, forKey: .objects)
            if !syncConflicts.isEmpty { try c.encode(syncConflicts, forKey: .syncConflicts) }
            if !keptForConflicts.isEmpty { try c.encode(keptForConflicts, forKey: .keptForConflicts) }
            if !offsite.isEmpty { try c.encode(offsite, forKey: .offsite) }
        }

        public var text: String {
            var lines = decisions
            let verb = dryRun ? "would remove" : "removed"
            for l in removedLeftovers { lines.append("removed leftover of an interrupted run \(l)") }
            for p in removedPartials { lines.append("\(verb) unfinished \(p)") }
            for r in removedReports { lines.append("\(verb) report \(r)") }
            for w in wipedSecrets { lines.append("wiped a secret left by an interrupted drill: \(w)") }
            for s in removedSandboxes { lines.append("\(verb) sandbox \(s)") }
            for i in ignored { lines.append("ignored (not a valid set, never removed): \(i)") }
            if let objects {
                // An object's conflict copy is said once, as what it is (below).
                let ignored = "ignored in objects/ (not an object, never removed): "
                lines += objects.lines(dryRun: dryRun).filter { line in
                    guard line.hasPrefix(ignored) else { return true }
                    let path = line.dropFirst(ignored.count)
                    return !syncConflicts.contains { $0.hasPrefix(path + " (") }
                }
            }
            for k in keptForConflicts {
                lines.append("kept \(k): its folder holds a sync conflict copy; decide which version is real, by hand")
            }
            for c in syncConflicts { lines.append("left (sync conflict copy, never removed): \(c)") }
            lines.append(
                "\(dryRun ? "dry run: " : "")\(decisions.filter { $0.hasPrefix("keep") }.count) kept, \(decisions.filter { $0.hasPrefix("remove") }.count) \(dryRun ? "to remove" : "removed")"
            )
            lines += offsite.map(\.text)
            return lines.joined(separator: "\n")
        }
    }

    /// Decides, and unless `dryRun`, removes.
    /// - Throws: ``RestoreDrillError/lockHeld(path:pid:)`` when a backup or drill is running,
    ///   ``RestoreDrillError/config(file:line:key:message:)`` for a bad time zone, I/O errors.
    public func run(dryRun: Bool) throws -> Outcome {
        let lock = dryRun ? nil : try destination.lock(.exclusive)
        defer { lock?.release() }
        let now = clock.now()
        // What an interrupted removal left (`.removing-<id>`) goes first: it is no set any more;
        // so do temporary event files of a killed writer. Every prune that removes does it.
        let leftovers = dryRun ? [] : destination.finishRemovals()
        let scan = try BackupSetScanner.scan(destination, authenticator: authenticator)
        let history = HistoryStore(destination)
        let events = (try? history.events()) ?? []
        let zone = try RetentionPolicy.timeZone(named: config.retention.timeZone)
        let decisions = RetentionPolicy.apply(
            sets: scan.retentionInput(events: events), rules: RetentionRules(config.retention), now: now,
            timeZone: zone)
        var outcome = Outcome(
            dryRun: dryRun, decisions: decisions.map(\.summary), removedSets: [], removedPartials: [],
            removedReports: [],
            removedSandboxes: [], ignored: scan.rejected.map(\.path), removedLeftovers: leftovers)
        let fm = FileManager.default
        let byID = Dictionary(uniqueKeysWithValues: scan.sets.map { ($0.id, $0) })
        // A sync client's conflict copies are reported and never removed; a set whose own folder
        // holds one is not removed either (removing it would remove the copy with it).
        let sync = (destination as? LocalDestination).map { SyncedFolderScan.scan(destination: $0.location) }
        let conflicted = Set((sync?.conflictCopies ?? []).filter(\.fails).compactMap(\.setID))
        outcome.syncConflicts = (sync?.conflictCopies ?? []).map {
            "\($0.path) (\($0.rule.rawValue)) of \($0.original)"
        }
        var removedIDs: Set<BackupID> = []
        for d in decisions where !d.keep {
            guard let set = byID[d.id] else { continue }
            if conflicted.contains(set.id.description) {
                outcome.keptForConflicts.append(set.id.description)
                continue
            }
            removedIDs.insert(set.id)
            if !dryRun {
                try beforeRemoval?(.set(set.id))
                try destination.removeSet(id: set.id)
            }
            outcome.removedSets.append(set.path)
        }
        outcome.keptForConflicts.sort()
        // Only `.partial-<backup id>` folders are this tool's; `.partial-anything-else` is the user's.
        for p in scan.partials
        where BackupID(String(p.name.dropFirst(".partial-".count))) != nil
            && now.timeIntervalSince(p.modified) >= Self.partialMaxAge
        {
            if !dryRun { try? destination.removePartial(name: p.name) }
            outcome.removedPartials.append(p.path)
        }
        // Objects last: only once every set to go is gone are the references of what stays known.
        outcome.objects = try collectObjects(dryRun: dryRun, now: now, removed: removedIDs)
        if dryRun {
            outcome.removedReports = []
        } else {
            outcome.removedReports =
                (try? ReportWriter.prune(reportsRoot: config.reports.folder, keep: config.reports.keep)) ?? []
        }
        // Secrets in sandboxes of killed drills are overwritten before anything is removed.
        if !dryRun, let sandboxes = try? AbsolutePath(validating: config.sandbox.folder) {
            outcome.wipedSecrets = InterruptedDrills.wipeSecrets(in: sandboxes)
        }
        outcome.removedSandboxes = Self.oldSandboxes(in: config.sandbox.folder, now: now)
        if !dryRun {
            for s in outcome.removedSandboxes { try? fm.removeItem(atPath: s) }
            _ = try? history.append(
                HistoryEvent(
                    kind: .prune, time: clock.now(), status: .ok,
                    details: [
                        "removed": String(outcome.removedSets.count), "kept": String(decisions.filter(\.keep).count),
                        "objects_removed": String(outcome.objects?.removedObjects.count ?? 0),
                        "bytes_freed": String(outcome.objects?.freedBytes ?? 0),
                    ]))
        }
        return outcome
    }

    /// Collects the objects no remaining set references (``ObjectStore/collectGarbage(referenced:dryRun:now:)``),
    /// or none when the references are not all known (``objectReferences(now:removed:)``).
    /// - Parameter removed: the sets this run removes (still listed in a dry run).
    /// - Returns: nil when there is no object store or no `objects/` folder.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination or `objects/` cannot
    ///   be listed; what ``beforeRemoval`` throws.
    func collectObjects(dryRun: Bool, now: Date, removed: Set<BackupID>) throws -> ObjectCollection? {
        guard let store = objectStore else { return nil }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: store.folder.pathString, isDirectory: &isFolder) else {
            return nil
        }
        let (referenced, unknown) = try objectReferences(now: now, removed: removed)
        guard unknown.isEmpty else { return .skipped(unknown, referenced: referenced.count) }
        let report = try store.collectGarbage(referenced: referenced, dryRun: dryRun, now: now) { path in
            try beforeRemoval?(.object(path))
        }
        return ObjectCollection(report, referenced: referenced.count)
    }

    /// The objects every set folder of the destination lists (but those in `removed`), and why
    /// they are not all known: one line per set folder whose manifest cannot be decoded, and per
    /// `.partial-*` younger than ``partialMaxAge``. A manifest that decodes counts whatever its
    /// self-checksum or authentication says (a set prune keeps is a set whose objects stay).
    func objectReferences(now: Date, removed: Set<BackupID>) throws -> (Set<ObjectDigest>, [String]) {
        var referenced = Set<ObjectDigest>()
        var unknown: [String] = []
        for entry in try destination.listEntries() {
            switch entry.verdict {
            case .partial(let modified):
                if now.timeIntervalSince(modified) < Self.partialMaxAge {
                    unknown.append(
                        "\(entry.location): an unfinished backup younger than a day may be writing objects "
                            + "no manifest lists yet")
                }
            case .set(let manifest), .unusable(_, .some(let manifest)):
                guard let id = entry.id, !removed.contains(id) else { continue }
                referenced.formUnion(manifest.objectRefs().map(\.digest))
            case .unusable(let reason, .none):
                guard let id = entry.id, !removed.contains(id) else { continue }
                // A manifest naming another id still decodes: its objects are known.
                if let manifest = try? destination.readManifest(id: id) {
                    referenced.formUnion(manifest.objectRefs().map(\.digest))
                } else {
                    unknown.append(
                        "\(entry.location): its manifest cannot be read (\(reason)), so the objects it uses are unknown"
                    )
                }
            }
        }
        return (referenced, unknown)
    }

    /// Kept sandboxes (folders named by a drill id) older than ``sandboxMaxAge``.
    static func oldSandboxes(in folder: String, now: Date) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: folder) else { return [] }
        return names.sorted().compactMap { name in
            guard DrillID(name) != nil else { return nil }
            let path = (folder as NSString).appendingPathComponent(name)
            guard let attrs = try? fm.attributesOfItem(atPath: path),
                attrs[.type] as? FileAttributeType == .typeDirectory,
                let modified = attrs[.modificationDate] as? Date, now.timeIntervalSince(modified) >= sandboxMaxAge
            else { return nil }
            return path
        }
    }
}
