import Destination
import DrillCore
import Foundation
import Health
import Retention
import Vault

/// Prunes one off-site rclone remote (`restore-drill offsite prune`, and `restore-drill prune`
/// after the local prune): that remote's retention rule applied to the sets there, then the
/// objects no remaining set there references (docs/OFFSITE.md, "Prune on a remote").
///
/// **The rule** is the local one (``RetentionPolicy``, the same code `prune` runs), with the
/// remote's `retention` (the main one when it has none) over the sets listed on the remote
/// (``BackupSetScanner`` over an ``RcloneDestination``). It never removes: a set that does not
/// count (with a vault password configured, one whose manifest HMAC does not verify: a forged or
/// foreign set; one whose self-checksum does not match), the newest complete set there, the
/// newest set whose drill of this remote's copy passed (local history: kind `drill`, status
/// `pass`, `details.copy` `offsite`, `details.remote` this remote). A set whose newest
/// `offsite_check` or drill of this remote's copy failed counts as not complete there (it cannot
/// stand for a day, week or month), as a failed read-back does locally. A remote whose
/// configuration says `prune: false` is never pruned by this host.
///
/// **Order and crash safety.** Under the remote's lock taken exclusive (``RemoteLock``: no push
/// or drill of that remote runs beside it; a held lock fails the prune naming the holder): sets go
/// first (``RcloneDestination/removeSet(id:)``: the manifest is deleted first, so the set stops
/// being one in a single step, then its folder); then set folders without a `manifest.json` whose
/// newest file is a day old or more (a push cut off, a removal interrupted); then, from one fresh
/// listing of the set folders and one recursive listing of `objects/`, the objects no manifest
/// still there lists. As locally, no object is collected while the references are not all known:
/// a set folder whose manifest is there but cannot be read or decoded, or a folder without a
/// manifest younger than a day (a push may be sending objects no manifest lists yet). A prune cut
/// off anywhere has removed only objects no remaining set lists.
///
/// Every run but one refused for `prune: false` writes a `prune` event to the local history with
/// `details.remote`.
public struct OffsitePruneJob: Sendable {
    public let config: RestoreDrillConfig
    /// The remote pruned.
    public let remote: RestoreDrillConfig.OffsiteRemote
    /// The runner of the real rclone.
    public var rclone: Rclone
    /// With a vault password configured: unauthenticated sets never count and are never removed.
    public var authenticator: SetAuthenticator?
    /// "Now" for the rule, the lock and the ages.
    public var clock: any WallClock = (try? SystemClock()) ?? FixedClock(Date())
    /// Where manifests listed from the remote are copied for a moment; the system's temporary
    /// folder by default.
    public var stagingFolder = FileManager.default.temporaryDirectory.path
    /// A folder without a manifest younger than this blocks object collection; older, it is
    /// removed: one day, seconds (the local `.partial-*` age, ``PruneJob/partialMaxAge``).
    public static let unfinishedMaxAge: Double = PruneJob.partialMaxAge

    /// - Parameters: as the properties.
    public init(config: RestoreDrillConfig, remote: RestoreDrillConfig.OffsiteRemote, rclone: Rclone) {
        self.config = config
        self.remote = remote
        self.rclone = rclone
    }

    /// What one remote's prune decided and did (`--json`: one element of `remotes` of
    /// `restore-drill/offsite-prune`, and of `offsite` of `restore-drill/prune`).
    public struct Outcome: Codable, Sendable {
        /// The remote's configured name.
        public var remote: String
        /// `pruned`; `not_pruned` (its configuration says `prune: false`); `failed` (``error``).
        public var status: String
        public var dryRun: Bool
        /// One line per set there, as the local prune prints them: `keep full_…: weekly …`.
        public var decisions: [String] = []
        /// Sets removed (in a dry run: that would be), by id, newest first.
        public var removedSets: [String] = []
        /// Set folders without a manifest, a day old or more, removed (would be), by id.
        public var removedUnfinished: [String] = []
        /// Folders named like sets that are not sets that count (unauthenticated, foreign,
        /// damaged manifest): never removed. Each `<location>: <reason>`.
        public var ignored: [String] = []
        /// What happened to the objects there; nil when the remote has no set and no object.
        public var objects: PruneJob.ObjectCollection?
        /// Stale locks of the remote taken over (each the history's line for it).
        public var lockTakeovers: [String] = []
        /// Why it failed.
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case remote, status, decisions, ignored, objects, error
            case dryRun = "dry_run"
            case removedSets = "removed_sets"
            case removedUnfinished = "removed_unfinished"
            case lockTakeovers = "lock_takeovers"
        }

        /// - Parameters: as the properties.
        public init(remote: String, status: String, dryRun: Bool, error: String? = nil) {
            self.remote = remote
            self.status = status
            self.dryRun = dryRun
            self.error = error
        }

        /// The lines a person reads, each starting with `remote <name>:`.
        public var text: String {
            let head = "remote \(remote):"
            switch status {
            case "not_pruned":
                return "\(head) not pruned by this host (its configuration says prune: false)"
            case "failed":
                return "\(head) prune FAILED: \(error ?? "unknown error")"
            default:
                break
            }
            let verb = dryRun ? "would remove" : "removed"
            var lines = decisions.map { "\(head) \($0)" }
            lines += lockTakeovers.map { "\(head) \($0)" }
            lines += removedUnfinished.map { "\(head) \(verb) set folder without a manifest (a day old or more) \($0)" }
            lines += ignored.map { "\(head) ignored (not a set that counts, never removed): \($0)" }
            lines += (objects?.lines(dryRun: dryRun) ?? []).map { "\(head) \($0)" }
            let kept = decisions.filter { $0.hasPrefix("keep") }.count
            lines.append(
                "\(head) \(dryRun ? "dry run: " : "")\(kept) kept, \(removedSets.count) "
                    + (dryRun ? "to remove" : "removed"))
            return lines.joined(separator: "\n")
        }
    }

    /// The rclone remote of ``remote`` with its bandwidth limit.
    public var rcloneRemote: RcloneRemote {
        RcloneRemote(rclone: rclone, root: remote.rclone, bandwidthLimit: remote.bandwidthLimit)
    }

    /// Decides and, unless `dryRun`, removes (a dry run takes no lock and writes nothing to the
    /// remote). A remote with `prune: false` gives a `not_pruned` outcome and is not touched.
    /// - Returns: the outcome (status `pruned` or `not_pruned`).
    /// - Throws: ``RemoteLockHeld`` when a push, drill or other prune holds the remote's lock (exit
    ///   3); ``RestoreDrillError/io(path:message:)`` when the remote cannot be listed or a removal
    ///   fails; `config` for a bad time zone. A failure is also a `prune` event with status
    ///   `failed` in the local history.
    public func run(dryRun: Bool) throws -> Outcome {
        guard remote.prune else { return Outcome(remote: remote.name, status: "not_pruned", dryRun: dryRun) }
        do {
            return try prune(dryRun: dryRun)
        } catch {
            var details = ["error": Self.describe(error)]
            if let held = error as? RemoteLockHeld, !held.takeovers.isEmpty {
                details["lock_takeover"] = held.takeovers.map(\.description).joined(separator: "; ")
            }
            if dryRun { details["dry_run"] = "true" }
            record(status: .failed, details: details)
            throw error
        }
    }

    private func prune(dryRun: Bool) throws -> Outcome {
        let destination = RcloneDestination(remote: rcloneRemote, stagingFolder: stagingFolder)
        var outcome = Outcome(remote: remote.name, status: "pruned", dryRun: dryRun)
        let lock = destination.remoteLock(clock: clock)
        var lease = dryRun ? nil : try lock.acquire(mode: .exclusive, operation: "prune")
        defer { if let lease { try? lock.release(lease) } }
        outcome.lockTakeovers = lease?.takeovers.map(\.description) ?? []
        let now = clock.now()
        let scan = try BackupSetScanner.scan(destination, authenticator: authenticator)
        let events = (try? HistoryStore(destination: config.destination).events()) ?? []
        let settings = remote.retention ?? config.retention
        let zone = try RetentionPolicy.timeZone(named: settings.timeZone ?? config.retention.timeZone)
        let decisions = RetentionPolicy.apply(
            sets: scan.retentionInput(events: Self.copyEvents(events, remote: remote.name)),
            rules: RetentionRules(settings), now: now, timeZone: zone)
        outcome.decisions = decisions.map(\.summary)
        outcome.ignored = scan.rejected.map { "\($0.path): \($0.reason)" }
        let counted = Set(scan.sets.map(\.id))
        var removed: Set<BackupID> = []
        for d in decisions where !d.keep && counted.contains(d.id) {
            if !dryRun { try destination.removeSet(id: d.id) }
            removed.insert(d.id)
            outcome.removedSets.append(d.id.description)
        }
        // Still ours? A lock taken over as stale (a prune past 6 h) stops here, before anything
        // is collected.
        if let held = lease { lease = try lock.refresh(held) }
        // The references once the sets to go are gone: a fresh listing (but in a dry run).
        let references = try objectReferences(destination, now: now, removed: removed)
        for id in references.unfinished {
            if !dryRun { try rcloneRemote.purge(id.description) }
            outcome.removedUnfinished.append(id.description)
        }
        outcome.ignored = outcome.ignored.filter { line in
            !references.unfinished.contains { line.hasPrefix(destination.location(of: $0) + ":") }
        }
        outcome.objects = try collectObjects(
            referenced: references.digests, unknown: references.unknown, dryRun: dryRun)
        var details = [
            "removed": String(outcome.removedSets.count), "kept": String(decisions.filter(\.keep).count),
            "objects_removed": String(outcome.objects?.removedObjects.count ?? 0),
            "bytes_freed": String(outcome.objects?.freedBytes ?? 0),
        ]
        if dryRun { details["dry_run"] = "true" }
        if !outcome.removedUnfinished.isEmpty {
            details["unfinished_removed"] = String(outcome.removedUnfinished.count)
        }
        if !outcome.lockTakeovers.isEmpty { details["lock_takeover"] = outcome.lockTakeovers.joined(separator: "; ") }
        record(status: .ok, details: details)
        return outcome
    }

    /// The local history's events about this remote's copy, in the shape the local retention
    /// input reads (``DestinationScan/retentionInput(events:)``): drills of this remote's copy as
    /// drills, and its `offsite_check` events as read-backs (`check`; `fail` stays a failure,
    /// `pass` and `unverified` do not). Drills of the local copy and events of other remotes are
    /// left out.
    static func copyEvents(_ events: [HistoryEvent], remote: String) -> [HistoryEvent] {
        events.compactMap { event in
            guard event.details["remote"] == remote else { return nil }
            switch event.kind {
            case .drill where event.details["copy"] == "offsite":
                return event
            case .offsiteCheck:
                var read = event
                read.kind = .check
                read.status = event.status == .fail ? .fail : .pass
                return read
            default:
                return nil
            }
        }
    }

    /// What the set folders still on the remote reference.
    struct References {
        /// Objects listed by a manifest of a folder that stays.
        var digests: Set<ObjectDigest> = []
        /// Why the references are not all known (one line per folder); empty when they are.
        var unknown: [String] = []
        /// Folders without a manifest, a day old or more: to remove.
        var unfinished: [BackupID] = []
    }

    /// Lists the set folders again and gathers what they reference (``References``). A manifest
    /// that decodes counts whatever its self-checksum or authentication says.
    func objectReferences(_ destination: RcloneDestination, now: Date, removed: Set<BackupID>) throws -> References {
        var references = References()
        for entry in try destination.listEntries() {
            guard let id = entry.id, !removed.contains(id) else { continue }
            switch entry.verdict {
            case .set(let manifest), .unusable(_, .some(let manifest)):
                references.digests.formUnion(manifest.objectRefs().map(\.digest))
            case .unusable(let reason, .none):
                let files = try timedListing(id.description)
                if files.contains(where: { $0.path == Manifest.fileName }) {
                    // A manifest naming another id still decodes: its objects are known.
                    if let manifest = try? destination.readManifest(id: id) {
                        references.digests.formUnion(manifest.objectRefs().map(\.digest))
                    } else {
                        references.unknown.append(
                            "\(entry.location): its manifest cannot be read (\(reason)), so the objects it uses "
                                + "are unknown")
                    }
                    continue
                }
                let newest = files.compactMap(\.modTime).max()
                if let newest, now.timeIntervalSince(newest) >= Self.unfinishedMaxAge {
                    references.unfinished.append(id)
                } else {
                    let age = newest.map { "changed \(Units.humanSeconds(max(0, now.timeIntervalSince($0)))) ago" }
                    references.unknown.append(
                        "\(entry.location): no manifest.json (\(age ?? "its age cannot be told")): a push younger "
                            + "than a day may be sending objects no manifest lists yet")
                }
            case .partial:
                continue
            }
        }
        return references
    }

    /// Collects the objects of the remote's `objects/` that `referenced` leaves out, from one
    /// recursive listing, in one `rclone delete` of exactly those files; nothing when `unknown`
    /// holds a reason. Only `objects/<ab>/<64 hex>` whose digest starts with its folder is ever
    /// removed; anything else there is listed as unrecognised.
    /// - Returns: nil when the remote has no `objects/` folder.
    func collectObjects(referenced: Set<ObjectDigest>, unknown: [String], dryRun: Bool) throws
        -> PruneJob.ObjectCollection?
    {
        guard unknown.isEmpty else {
            return .skipped(unknown, referenced: referenced.count)
        }
        let listed = try rcloneRemote.list("objects", recursive: true).filter { !$0.isDir }
        guard !listed.isEmpty else { return nil }
        var kept = 0
        var doomed: [RemoteEntry] = []
        var unrecognised: [String] = []
        for entry in listed.sorted(by: { $0.path < $1.path }) {
            let parts = entry.path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let digest = ObjectDigest(parts[1]), digest.fanOut == parts[0] else {
                unrecognised.append("objects/\(entry.path)")
                continue
            }
            if referenced.contains(digest) { kept += 1 } else { doomed.append(entry) }
        }
        var failures: [String] = []
        var gone = doomed
        if !dryRun && !doomed.isEmpty {
            do {
                try deleteObjects(doomed.map(\.path))
            } catch {
                // What is still there was not removed.
                let left = Set(try rcloneRemote.list("objects", recursive: true).filter { !$0.isDir }.map(\.path))
                gone = doomed.filter { !left.contains($0.path) }
                failures = doomed.filter { left.contains($0.path) }.map {
                    "objects/\($0.path): \(Self.describe(error))"
                }
            }
        }
        return PruneJob.ObjectCollection(
            collected: true, skippedBecause: [], referencedObjects: referenced.count, keptObjects: kept,
            removedObjects: gone.map { "objects/\($0.path)" }, removedTemporaries: [],
            freedBytes: gone.reduce(0) { $0 + max(0, $1.size) }, unrecognised: unrecognised, failures: failures)
    }

    /// `rclone delete <root>/objects --files-from-raw <list>`: exactly the listed files.
    private func deleteObjects(_ paths: [String]) throws {
        let list = FileManager.default.temporaryDirectory.appendingPathComponent(
            "restore-drill-prune-\(UUID().uuidString)")
        try Data(paths.joined(separator: "\n").appending("\n").utf8).write(to: list)
        defer { try? FileManager.default.removeItem(at: list) }
        let outcome = try rclone.run(
            ["delete", rcloneRemote.path("objects"), "--files-from-raw", list.path, "--retries", "1"])
        guard outcome.succeeded else {
            throw RestoreDrillError.io(path: rcloneRemote.path("objects"), message: outcome.reason)
        }
    }

    /// The files below `sub` (recursive) with their modification times, as the backend gives them.
    func timedListing(_ sub: String) throws -> [RemoteEntry] {
        try rcloneRemote.list(sub, recursive: true, filesOnly: true)
    }

    private func record(status: HistoryEventStatus, details: [String: String]) {
        var all = details
        all["remote"] = remote.name
        _ = try? HistoryStore(destination: config.destination).append(
            HistoryEvent(kind: .prune, time: clock.now(), status: status, details: all))
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? RestoreDrillError, case .io(let path, let message) = error {
            return "\(path): \(message)"
        }
        return "\(error)"
    }

    /// Prunes every configured remote (or `only`), one after the other; a remote that fails gives
    /// a `failed` outcome (and a failed `prune` event), never an error, so the others are still
    /// pruned. Remotes with `prune: false` give `not_pruned`.
    /// - Parameters:
    ///   - rclone: the runner; nil when rclone is not installed (every remote then fails, saying so).
    ///   - only: this remote alone (by name); nil for all.
    public static func pruneEveryRemote(
        config: RestoreDrillConfig, rclone: Rclone?, authenticator: SetAuthenticator?, clock: any WallClock,
        only: String? = nil, dryRun: Bool
    ) -> [Outcome] {
        var outcomes: [Outcome] = []
        for remote in config.offsite where only == nil || remote.name == only {
            guard remote.prune else {
                outcomes.append(Outcome(remote: remote.name, status: "not_pruned", dryRun: dryRun))
                continue
            }
            guard let rclone else {
                outcomes.append(
                    Outcome(
                        remote: remote.name, status: "failed", dryRun: dryRun,
                        error: "rclone is not installed (off-site remotes need it: apt-get install rclone, "
                            + "or brew install rclone)"))
                continue
            }
            var job = OffsitePruneJob(config: config, remote: remote, rclone: rclone)
            job.authenticator = authenticator
            job.clock = clock
            do {
                outcomes.append(try job.run(dryRun: dryRun))
            } catch {
                outcomes.append(Outcome(remote: remote.name, status: "failed", dryRun: dryRun, error: describe(error)))
            }
        }
        return outcomes
    }
}
