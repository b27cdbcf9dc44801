import DrillCore
import Foundation

/// Which part of which set was proven, when and by which checks, read from the history's `proof`
/// events (issue 17, docs/PROOF.md, "The ledger"). A pure function of the sets, the events, the
/// instant and the window (``build(sets:events:now:maxAge:remote:)``); it reads and writes nothing.
///
/// Rules:
/// - A part's **last proof** is the newest `proof` event (status `pass`) whose `backup_id` is the
///   part's own set and whose `parts` hold the same `kind:name` with the same `bytes` (a part of
///   another size is another part). Events more than ``futureSkew`` (5 minutes) after `now` do
///   not count (a wrong clock must not prove anything ahead of time). Proofs of an off-site copy
///   (`details.copy` = `offsite`) count only in the ledger of that remote.
/// - A part is **proven** when its last proof is at most ``maxAge`` seconds old (the edge counts);
///   a set is proven when every part of it is, possibly by several drills.
/// - The **destination's bytes** are the distinct objects (format 2, by SHA-256) and the format-1
///   artifacts of the given sets' parts, each counted once; **proven bytes** are those of them
///   that a part proven within the window reads, in any of the given sets (an object shared by
///   two sets is proven once either set's own script restored it).
public struct ProofLedger: Sendable, Codable, Equatable {
    /// How far after `now` an event may lie and still count (clock skew between machines), seconds.
    public static let futureSkew: Double = 300

    /// One part of one set and its last proof.
    public struct PartStatus: Sendable, Codable, Equatable {
        /// The part (number, kind, name, artifacts, bytes) as the set's manifest describes it.
        public var part: RestorePart
        /// When the drill that last proved it finished (the `proof` event's time, UTC); nil when
        /// no proof counts.
        public var lastProof: Date?
        /// The drill that last proved it; nil when never proven (or its event names no drill).
        public var drillID: DrillID?
        /// The check ids that passed on it in that drill (``ProvenPart/checks``); empty when never
        /// proven.
        public var checks: [String]
        /// `now − lastProof`, seconds, at least 0; nil when never proven.
        public var ageSeconds: Double?
        /// True when ``ageSeconds`` is at most the ledger's ``ProofLedger/maxAge``.
        public var proven: Bool

        /// Creates a part status (the ledger makes them; tests and renderers may too).
        public init(
            part: RestorePart, lastProof: Date?, drillID: DrillID?, checks: [String], ageSeconds: Double?,
            proven: Bool
        ) {
            self.part = part
            self.lastProof = lastProof
            self.drillID = drillID
            self.checks = checks
            self.ageSeconds = ageSeconds
            self.proven = proven
        }

        enum CodingKeys: String, CodingKey {
            case part, checks, proven
            case lastProof = "last_proof"
            case drillID = "drill_id"
            case ageSeconds = "age_seconds"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            part = try c.decode(RestorePart.self, forKey: .part)
            lastProof = try ProofLedger.decodeDate(c, .lastProof)
            drillID = try c.decodeIfPresent(DrillID.self, forKey: .drillID)
            checks = try c.decode([String].self, forKey: .checks)
            ageSeconds = try c.decodeIfPresent(Double.self, forKey: .ageSeconds)
            proven = try c.decode(Bool.self, forKey: .proven)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(part, forKey: .part)
            try c.encode(lastProof.map(Timestamp.string), forKey: .lastProof)
            try c.encode(drillID, forKey: .drillID)
            try c.encode(checks, forKey: .checks)
            try c.encode(ageSeconds, forKey: .ageSeconds)
            try c.encode(proven, forKey: .proven)
        }
    }

    /// One retained set: its parts, bytes and whether it is proven.
    public struct SetStatus: Sendable, Codable, Equatable {
        public var id: BackupID
        /// The manifest's `finished_at`, UTC.
        public var finishedAt: Date
        /// Its parts in the restore script's order (``Manifest/restoreParts()``).
        public var parts: [PartStatus]
        /// Sum of its parts' bytes (``RestorePart/bytes``: stored bytes, each distinct artifact of
        /// a part once).
        public var bytes: Int64
        /// Sum of the bytes of its parts proven within the window.
        public var provenBytes: Int64
        /// True when every part is proven within the window (a set without parts is proven).
        public var proven: Bool
        /// How long the set has gone unproven, seconds: 0 when ``proven``; else `now −` the
        /// oldest last proof among its parts, or `now − finishedAt` when a part was never proven
        /// (at least 0). Health warns when it passes `max_age`, and is critical past twice that.
        public var unprovenSeconds: Double

        /// Creates a set status (the ledger makes them).
        public init(
            id: BackupID, finishedAt: Date, parts: [PartStatus], bytes: Int64, provenBytes: Int64, proven: Bool,
            unprovenSeconds: Double
        ) {
            self.id = id
            self.finishedAt = finishedAt
            self.parts = parts
            self.bytes = bytes
            self.provenBytes = provenBytes
            self.proven = proven
            self.unprovenSeconds = unprovenSeconds
        }

        /// The parts not proven within the window, in the script's order.
        public var unprovenParts: [PartStatus] { parts.filter { !$0.proven } }

        /// The oldest last proof among the parts; nil when a part was never proven or there are none.
        public var oldestProof: Date? {
            guard !parts.isEmpty, parts.allSatisfy({ $0.lastProof != nil }) else { return nil }
            return parts.compactMap(\.lastProof).min()
        }

        enum CodingKeys: String, CodingKey {
            case id, parts, bytes, proven
            case finishedAt = "finished_at"
            case provenBytes = "proven_bytes"
            case unprovenSeconds = "unproven_seconds"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(BackupID.self, forKey: .id)
            guard let finished = try ProofLedger.decodeDate(c, .finishedAt) else {
                throw DecodingError.valueNotFound(
                    Date.self, .init(codingPath: c.codingPath, debugDescription: "finished_at is null"))
            }
            finishedAt = finished
            parts = try c.decode([PartStatus].self, forKey: .parts)
            bytes = try c.decode(Int64.self, forKey: .bytes)
            provenBytes = try c.decode(Int64.self, forKey: .provenBytes)
            proven = try c.decode(Bool.self, forKey: .proven)
            unprovenSeconds = try c.decode(Double.self, forKey: .unprovenSeconds)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(Timestamp.string(finishedAt), forKey: .finishedAt)
            try c.encode(parts, forKey: .parts)
            try c.encode(bytes, forKey: .bytes)
            try c.encode(provenBytes, forKey: .provenBytes)
            try c.encode(proven, forKey: .proven)
            try c.encode(unprovenSeconds, forKey: .unprovenSeconds)
        }
    }

    /// The given sets, in the order given (callers pass them oldest first).
    public var sets: [SetStatus]
    /// The window, seconds (`proof.max_age`).
    public var maxAge: Double
    /// The instant judged at, UTC.
    public var now: Date
    /// The remote whose copy this ledger is of; nil for the local destination.
    public var remote: String?
    /// Distinct stored bytes of the given sets' parts (each object, or format-1 artifact, once).
    public var destinationBytes: Int64
    /// Of ``destinationBytes``, those read by a part proven within the window in any given set.
    public var provenBytes: Int64
    /// `provenBytes / destinationBytes`, 0…1; 1 when there are no bytes.
    public var provenRatio: Double

    /// True when every given set is proven (also when there is none).
    public var allProven: Bool { sets.allSatisfy(\.proven) }

    /// Creates a ledger from its figures (``build(sets:events:now:maxAge:remote:)`` computes them).
    public init(
        sets: [SetStatus], maxAge: Double, now: Date, remote: String? = nil, destinationBytes: Int64,
        provenBytes: Int64, provenRatio: Double
    ) {
        self.sets = sets
        self.maxAge = maxAge
        self.now = now
        self.remote = remote
        self.destinationBytes = destinationBytes
        self.provenBytes = provenBytes
        self.provenRatio = provenRatio
    }

    /// Builds the ledger (the rules are in the type's documentation).
    /// - Parameters:
    ///   - sets: the retained sets (complete and counting, as health and `list` find them), each
    ///     with its manifest's `finished_at` and the manifest; their order is kept.
    ///   - events: the history, any order; only `proof` events with status `pass` are read.
    ///   - now: the instant to judge at.
    ///   - maxAge: the window, seconds (`proof.max_age`).
    ///   - remote: nil for the local destination (events with `details.copy` = `offsite` are left
    ///     out); a remote's name for its copy (only off-site proofs naming that remote count).
    /// - Returns: the ledger; ``sets`` has one entry per given set.
    public static func build(
        sets: [(id: BackupID, finishedAt: Date, manifest: Manifest)], events: [HistoryEvent], now: Date,
        maxAge: Double, remote: String? = nil
    ) -> ProofLedger {
        // The newest counting proof of each (set, kind:name, bytes).
        struct Key: Hashable {
            var set: BackupID
            var part: String
            var bytes: Int64
        }
        struct Proof {
            var time: Date
            var drillID: DrillID?
            var checks: [String]
        }
        var newest: [Key: Proof] = [:]
        let horizon = now.addingTimeInterval(futureSkew)
        let finished = Dictionary(sets.map { ($0.id, $0.finishedAt) }, uniquingKeysWith: { a, _ in a })
        for event in events where event.kind == .proof && event.status == .pass && event.time <= horizon {
            guard let set = event.backupID, let parts = event.parts else { continue }
            // A drill cannot start before its set was made: a proof naming an older drill id is a
            // borrowed one.
            if let drill = event.drillID, let made = finished[set], drill.date < made.addingTimeInterval(-futureSkew) {
                continue
            }
            let offsite = event.details["copy"] == "offsite"
            if let remote {
                guard offsite, event.details["remote"] == remote else { continue }
            } else if offsite {
                continue
            }
            for proven in parts {
                let key = Key(set: set, part: proven.key, bytes: proven.bytes)
                if let known = newest[key], known.time >= event.time { continue }
                newest[key] = Proof(time: event.time, drillID: event.drillID, checks: proven.checks)
            }
        }

        var statuses: [SetStatus] = []
        // Each stored unit once: an object by its SHA-256, a format-1 artifact by set and path.
        var unitBytes: [String: Int64] = [:]
        var provenUnits = Set<String>()
        for set in sets {
            var parts: [PartStatus] = []
            var oldest: Date?
            for part in set.manifest.restoreParts() {
                let proof = newest[Key(set: set.id, part: part.key, bytes: part.bytes)]
                let age = proof.map { max(0, now.timeIntervalSince($0.time)) }
                let proven = age.map { $0 <= maxAge } ?? false
                parts.append(
                    PartStatus(
                        part: part, lastProof: proof?.time, drillID: proof?.drillID, checks: proof?.checks ?? [],
                        ageSeconds: age, proven: proven))
                let since = proof?.time ?? set.finishedAt
                oldest = min(oldest ?? since, since)
                for path in part.artifacts {
                    guard let artifact = set.manifest.artifact(path) else { continue }
                    let unit =
                        set.manifest.objectDigest(of: artifact).map { "object:\($0.hex)" } ?? "file:\(set.id)/\(path)"
                    unitBytes[unit] = artifact.size
                    if proven { provenUnits.insert(unit) }
                }
            }
            let proven = parts.allSatisfy(\.proven)
            statuses.append(
                SetStatus(
                    id: set.id, finishedAt: set.finishedAt, parts: parts, bytes: parts.reduce(0) { $0 + $1.part.bytes },
                    provenBytes: parts.filter(\.proven).reduce(0) { $0 + $1.part.bytes }, proven: proven,
                    unprovenSeconds: proven ? 0 : max(0, now.timeIntervalSince(oldest ?? set.finishedAt))))
        }
        let total = unitBytes.values.reduce(0, +)
        let proven = provenUnits.reduce(Int64(0)) { $0 + (unitBytes[$1] ?? 0) }
        return ProofLedger(
            sets: statuses, maxAge: maxAge, now: now, remote: remote, destinationBytes: total, provenBytes: proven,
            provenRatio: total == 0 ? 1 : Double(proven) / Double(total))
    }

    enum CodingKeys: String, CodingKey {
        case sets, now, remote
        case maxAge = "max_age_seconds"
        case destinationBytes = "destination_bytes"
        case provenBytes = "proven_bytes"
        case provenRatio = "proven_ratio"
    }

    /// JSON: `{"sets": [...], "max_age_seconds": 2419200, "now": "…Z", "remote": null,
    /// "destination_bytes": …, "proven_bytes": …, "proven_ratio": 0.75}`; times ISO 8601 UTC with
    /// milliseconds; a set `{"id", "finished_at", "bytes", "proven_bytes", "proven",
    /// "unproven_seconds", "parts": [{"part": {number, kind, name, artifacts, bytes}, "last_proof",
    /// "age_seconds", "drill_id", "checks", "proven"}]}`; absent values are `null`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sets, forKey: .sets)
        try c.encode(maxAge, forKey: .maxAge)
        try c.encode(Timestamp.string(now), forKey: .now)
        try c.encode(remote, forKey: .remote)
        try c.encode(destinationBytes, forKey: .destinationBytes)
        try c.encode(provenBytes, forKey: .provenBytes)
        try c.encode(provenRatio, forKey: .provenRatio)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sets = try c.decode([SetStatus].self, forKey: .sets)
        maxAge = try c.decode(Double.self, forKey: .maxAge)
        guard let at = try Self.decodeDate(c, .now) else {
            throw DecodingError.valueNotFound(
                Date.self, .init(codingPath: c.codingPath, debugDescription: "now is null"))
        }
        now = at
        remote = try c.decodeIfPresent(String.self, forKey: .remote)
        destinationBytes = try c.decode(Int64.self, forKey: .destinationBytes)
        provenBytes = try c.decode(Int64.self, forKey: .provenBytes)
        provenRatio = try c.decode(Double.self, forKey: .provenRatio)
    }

    /// An ISO 8601 time at `key`, nil when absent or null.
    static func decodeDate<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> Date? {
        guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let date = Timestamp.date(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c, debugDescription: "not an ISO 8601 time: \(text)")
        }
        return date
    }
}

extension HistoryStore {
    /// The history's events with the `proof` events that cannot be trusted left out, and why each
    /// was (issue 17; what `proof`, `health` and `drill --sample` build the ledger from). A proof
    /// counts only when:
    /// - on a chained history (``HistoryVerification/chained`` with chained events), it is chained
    ///   itself (`seq`) and sits outside the broken stretch of the chain: before its first break,
    ///   or after its last one (the events from the last break on link to each other up to the
    ///   head again, as after a benign fork of a synced folder; the event AT a break is never
    ///   trusted: it is the one whose link does not hold). An event dropped into the folder by
    ///   hand, or one the chain cannot vouch for, proves nothing;
    /// - the drill it names (`drill_id`) is a `drill` or `sampled_drill` event of the same set
    ///   that passed, or failed only on `rpo`, `rto` or `set.coverage` (its `failed_checks`),
    ///   trusted by the same rule;
    /// - every part it lists names `set.manifest` and `restore.script` among its checks;
    /// - the drill event passes ``DrillVouching`` with `drillReports` (this machine's report of a
    ///   recent drill must agree; the chain has no key, so a drill and proof pair written into the
    ///   synced folder and chained by hand proves nothing once the drill is newer than the oldest
    ///   kept report, and an older one cannot be dated as new).
    ///
    /// A chain its holder rebuilt whole still passes (README, "What the history detects"): the
    /// evidence bundle and the pings anchor its head outside.
    /// - Parameters:
    ///   - drillReports: this machine's drill reports (``LocalDrillReports/load(folder:now:)``); empty
    ///     applies only ``DrillVouching``'s clock rules.
    ///   - now: the instant of the check.
    /// - Throws: what ``load()`` and ``verify()`` throw.
    public func eventsForProof(drillReports: [String: LocalDrillReport] = [:], now: Date = Date()) throws -> (
        events: [HistoryEvent], ignored: [String], problems: [HistoryProblem]
    ) {
        let vouching = DrillVouching(reports: drillReports)
        let log = try load()
        let verification = try? verify()
        let chained = (verification?.chained ?? false) && (verification?.chainedEvents ?? 0) > 0
        let breaks = verification?.breaks.compactMap(\.seq) ?? []
        func trusted(_ e: HistoryEvent) -> String? {
            guard chained else { return nil }
            guard let seq = e.seq else { return "not chained (`history verify` names it)" }
            if let first = breaks.min(), let last = breaks.max(), seq >= first, seq <= last {
                return "in the broken stretch of the chain (seq \(first) to \(last); `history verify` names it)"
            }
            return nil
        }
        // The drills that can vouch for a proof: passed, or failed only on what judges the
        // destination rather than the set's restore (rpo, rto, set.coverage), as
        // ``DrillResult/provenParts(manifest:)`` judges it.
        let outside: Set<String> = ["rpo", "rto", "set.coverage"]
        var drills: [DrillID: HistoryEvent] = [:]
        for e in log.events where e.kind == .drill || e.kind == .sampledDrill {
            // The failed checks are this machine's report's when it has one (the event's
            // failed_checks is anyone's to write).
            let failed = vouching.failedChecks(of: e)
            guard e.status == .pass || (e.status == .fail && !failed.isEmpty && failed.isSubset(of: outside)) else {
                continue
            }
            if let id = e.drillID, drills[id] == nil, trusted(e) == nil, vouching.problem(with: e, now: now) == nil {
                drills[id] = e
            }
        }
        var kept: [HistoryEvent] = []
        var ignored: [String] = []
        for e in log.events {
            guard e.kind == .proof else {
                kept.append(e)
                continue
            }
            let why: String?
            if let untrusted = trusted(e) {
                why = untrusted
            } else if let id = e.drillID, let drill = drills[id], drill.backupID == e.backupID {
                let required = ["set.manifest", "restore.script"]
                if abs(e.time.timeIntervalSince(drill.time)) > DrillVouching.maxDrillSeconds {
                    // A proof is written with its drill: one dated far from it was re-dated.
                    why = "dated \(Timestamp.string(e.time)), not within a day of its drill \(id)"
                } else {
                    why =
                        (e.parts ?? []).allSatisfy { part in required.allSatisfy(part.checks.contains) }
                        ? nil : "a part without set.manifest and restore.script among its checks"
                }
            } else {
                let drill = e.drillID?.description ?? "(none)"
                why =
                    "no drill \(drill) of \(e.backupID?.description ?? "?") that vouches for it (passed, or failed only on rpo, rto or set.coverage)"
            }
            if let why {
                ignored.append("proof event \(e.id) ignored: \(why)")
            } else {
                kept.append(e)
            }
        }
        return (kept, ignored, log.problems)
    }
}
