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
/// kept sandboxes, wipes the secrets killed drills left in their sandboxes, and records a history event. Runs under the destination's exclusive lock.
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

    public init(config: RestoreDrillConfig, clock: any WallClock) {
        self.config = config
        self.clock = clock
        destination = LocalDestination(path: config.destination)
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

        enum CodingKeys: String, CodingKey {
            case format, decisions, ignored
            case formatVersion = "format_version"
            case dryRun = "dry_run"
            case removedSets = "removed_sets"
            case removedPartials = "removed_partials"
            case removedReports = "removed_reports"
            case removedSandboxes = "removed_sandboxes"
            case wipedSecrets = "wiped_secrets"
            case removedLeftovers = "removed_leftovers"
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
            lines.append(
                "\(dryRun ? "dry run: " : "")\(decisions.filter { $0.hasPrefix("keep") }.count) kept, \(decisions.filter { $0.hasPrefix("remove") }.count) \(dryRun ? "to remove" : "removed")"
            )
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
        for d in decisions where !d.keep {
            guard let set = byID[d.id] else { continue }
            if !dryRun { try destination.removeSet(id: set.id) }
            outcome.removedSets.append(set.path)
        }
        // Only `.partial-<backup id>` folders are this tool's; `.partial-anything-else` is the user's.
        for p in scan.partials
        where BackupID(String(p.name.dropFirst(".partial-".count))) != nil
            && now.timeIntervalSince(p.modified) >= Self.partialMaxAge
        {
            if !dryRun { try? destination.removePartial(name: p.name) }
            outcome.removedPartials.append(p.path)
        }
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
                    ]))
        }
        return outcome
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
