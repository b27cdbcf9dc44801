import DrillCore
import Foundation

/// What `drill --sample` restores (issue 17, docs/PROOF.md "Sampled drills"): a pure function of
/// the retained sets' parts, their last proofs, the window, the seed and the budget, so that the
/// same inputs give the same sample and an auditor can repeat it.
///
/// **Units.** A part of a set whose restore script restores subsets (``Manifest/restoresSubsets``)
/// is a unit of its own; a set whose script cannot (format 1, format-2 sets written before
/// `--only`) is one unit holding all its parts, drilled whole.
///
/// **Order.** First the units that are *due*: a part never proven, or proven longer ago than the
/// window (`proof.max_age`) less a look-ahead (the sampled drills' cadence, so a proof is renewed
/// before it lapses between two samples), the longest unproven first: by the time of the part's
/// newest proof, or for a part never proven the time its set was made (a new set waits behind an
/// old part whose proof is older than the set; ties in the seeded order); then every other unit in the seeded order (a seeded random choice among the proven,
/// so that over time every part is read again even when the budget covers more than what is due).
/// The seeded order is a Fisher–Yates shuffle of the units (sorted by set id and part number) by
/// ``SeededGenerator``.
///
/// **Budget.** Bytes: a unit costs its stored bytes, plus ``SampleCost/setOverheadBytes`` for the
/// first unit of each set (a set's drill has a fixed cost: its manifest, key derivation, sandbox).
/// Units are taken in order while they fit; one that does not fit is passed over and smaller ones
/// after it may still fit.
public enum SamplePlanner {
    /// One set's parts as the planner sees them.
    public struct SetInput: Sendable, Equatable {
        /// The set.
        public var id: BackupID
        /// True when the set's script takes `--only` (a part can be drilled alone).
        public var restoresSubsets: Bool
        /// When the set was made: a part never proven has waited since then.
        public var finishedAt: Date
        /// Every part of the set with the time of its newest proof (nil: never proven).
        public var parts: [(part: RestorePart, lastProof: Date?)]

        /// Creates an input.
        public init(
            id: BackupID, finishedAt: Date, restoresSubsets: Bool, parts: [(part: RestorePart, lastProof: Date?)]
        ) {
            self.id = id
            self.finishedAt = finishedAt
            self.restoresSubsets = restoresSubsets
            self.parts = parts
        }

        public static func == (a: SetInput, b: SetInput) -> Bool {
            a.id == b.id && a.finishedAt == b.finishedAt && a.restoresSubsets == b.restoresSubsets
                && a.parts.count == b.parts.count
                && zip(a.parts, b.parts).allSatisfy { $0.part == $1.part && $0.lastProof == $1.lastProof }
        }
    }

    /// One unit of the sample: one part, or a whole set that cannot restore subsets.
    public struct Unit: Sendable, Equatable, Codable {
        /// The set.
        public var setID: BackupID
        /// The parts it restores (one, or every part of a set drilled whole).
        public var parts: [RestorePart]
        /// True when the whole set is drilled (its script takes no `--only`).
        public var wholeSet: Bool
        /// The oldest newest-proof among its parts; nil when one was never proven.
        public var lastProof: Date?
        /// Since when it has waited: ``lastProof``, or its set's time when a part was never proven.
        public var waitingSince: Date
        /// True when a part of it is unproven within the window.
        public var due: Bool
        /// Stored bytes of its parts.
        public var bytes: Int64 { parts.reduce(0) { $0 + $1.bytes } }

        /// Creates a unit.
        public init(
            setID: BackupID, parts: [RestorePart], wholeSet: Bool, lastProof: Date?, waitingSince: Date, due: Bool
        ) {
            self.setID = setID
            self.parts = parts
            self.wholeSet = wholeSet
            self.lastProof = lastProof
            self.waitingSince = waitingSince
            self.due = due
        }

        enum CodingKeys: String, CodingKey {
            case setID = "set", parts
            case wholeSet = "whole_set"
            case lastProof = "last_proof"
            case waitingSince = "waiting_since"
            case due
        }
    }

    /// Every unit in sample order (see the type's documentation).
    /// - Parameters:
    ///   - sets: the retained sets.
    ///   - now: the time the window is measured to.
    ///   - maxAge: the window, seconds.
    ///   - lookahead: seconds before a proof lapses that it is due again (0: only once lapsed).
    ///   - seed: the sample's seed.
    public static func order(sets: [SetInput], now: Date, maxAge: Double, lookahead: Double = 0, seed: UInt64)
        -> [Unit]
    {
        let dueAge = max(0, maxAge - lookahead)
        var units: [Unit] = []
        for set in sets.sorted(by: { $0.id.description < $1.id.description }) {
            let parts = set.parts.sorted { $0.part.number < $1.part.number }
            func unit(_ members: [(part: RestorePart, lastProof: Date?)], whole: Bool) -> Unit {
                let never = members.contains { $0.lastProof == nil }
                let oldest = never ? nil : members.compactMap(\.lastProof).min()
                let due = members.contains { $0.lastProof.map { now.timeIntervalSince($0) > dueAge } ?? true }
                return Unit(
                    setID: set.id, parts: members.map(\.part), wholeSet: whole, lastProof: oldest,
                    waitingSince: oldest ?? set.finishedAt, due: due)
            }
            if set.restoresSubsets {
                units += parts.map { unit([$0], whole: false) }
            } else if !parts.isEmpty {
                units.append(unit(parts, whole: true))
            }
        }
        var generator = SeededGenerator(seed: seed)
        let shuffled = generator.shuffled(units)
        let position = Dictionary(
            shuffled.enumerated().map { (Key($0.element), $0.offset) }, uniquingKeysWith: { first, _ in first })
        let due = shuffled.filter(\.due).sorted { a, b in
            a.waitingSince != b.waitingSince
                ? a.waitingSince < b.waitingSince : position[Key(a), default: 0] < position[Key(b), default: 0]
        }
        return due + shuffled.filter { !$0.due }
    }

    /// The units of `ordered` that fit in `budgetBytes`, in order (see the type's documentation),
    /// skipping those in `done`.
    /// - Parameters:
    ///   - ordered: ``order(sets:now:maxAge:seed:)``'s result.
    ///   - budgetBytes: what may be spent, bytes.
    ///   - setOverheadBytes: the fixed cost of drilling a set, in bytes.
    ///   - done: the keys (``Key/text``) of units an earlier round of the sample drilled.
    public static func select(
        _ ordered: [Unit], budgetBytes: Int64, setOverheadBytes: Int64, skipping done: Set<String> = []
    ) -> [Unit] {
        var left = budgetBytes
        var chosenSets = Set<BackupID>()
        var chosen: [Unit] = []
        for unit in ordered where !done.contains(Key(unit).text) {
            let cost = unit.bytes + (chosenSets.contains(unit.setID) ? 0 : setOverheadBytes)
            guard cost <= left else { continue }
            left -= cost
            chosenSets.insert(unit.setID)
            chosen.append(unit)
        }
        return chosen
    }

    /// The chosen units gathered per set, sets in the order their first unit was chosen, parts in
    /// the script's order.
    public static func bySet(_ units: [Unit]) -> [(setID: BackupID, units: [Unit])] {
        var order: [BackupID] = []
        var groups: [BackupID: [Unit]] = [:]
        for unit in units {
            if groups[unit.setID] == nil { order.append(unit.setID) }
            groups[unit.setID, default: []].append(unit)
        }
        return order.map { id in
            (id, groups[id, default: []].sorted { ($0.parts.first?.number ?? 0) < ($1.parts.first?.number ?? 0) })
        }
    }

    /// A unit's identity within a sample: set id and its parts' numbers.
    public struct Key: Hashable, Sendable {
        /// `<set id>#<numbers>`.
        public var text: String
        /// The key of `unit`.
        public init(_ unit: Unit) {
            text = unit.setID.description + "#" + unit.parts.map { String($0.number) }.joined(separator: ",")
        }
    }
}
