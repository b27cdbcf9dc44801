import DrillCore
import Foundation

/// Format 2, in progress (no set uses it yet; docs/SET-FORMAT.md, "Format 2 (in progress)"): cuts
/// the code component's entries into packs, each written as an independent pax tar.gz
/// (``CodePackWriter``), so that an edited, added or removed file changes one pack and leaves
/// every other pack byte-identical, which content-addressed objects then store once.
///
/// A pure function of the entries' path bytes and sizes, in the order given (the archive's order:
/// ``WorkspaceWalk``'s depth-first walk, names in byte order): the same entries give the same plan
/// on every run and machine (SHA-256 and 64-bit integer arithmetic only).
///
/// **The rule.** Each entry has a *weight*, its tar bytes as the planner counts them
/// (``weight(size:)``). The boundaries come in three layers:
/// 1. *Candidates.* An entry is a candidate when `h < ⌊(2⁶⁴−1) / target⌋ × weight`, `h` being the
///    first 8 bytes of the SHA-256 of its path bytes as a big-endian integer (``pathHash(_:)``), or
///    when its weight is at least the target: a boundary falls after each tar byte with chance
///    1/``targetBytes``, so the stretches between candidates (*segments*) average the target in
///    bytes whatever the files' sizes. A rule on the path alone (`h mod N == 0`) would tie pack
///    sizes to the mean file size: a folder of 1 KiB files would make 64 KiB segments and one of
///    1 MiB files 64 MiB ones, leaving the floor and the ceiling (the non-local parts) to cut.
/// 2. *Groups.* A segment whose weight reaches ``floorBytes`` closes a group after its last entry;
///    a shorter segment joins the next one's group. Whether a segment closes depends on that
///    segment's entries alone, never on where the previous pack began, so a change cannot ripple
///    on: a group ends where it ended before unless its own last segment changed. An entry whose
///    weight reaches ``ceilingBytes`` is a group (and a pack) of its own, ending the group before it.
/// 3. *Packs.* A group heavier than the ceiling is cut greedily: a pack ends before the entry that
///    would take it past ``ceilingBytes``.
///
/// **What a change does.** An edit, insertion or removal changes the weight of one segment (or
/// splits or joins two at a candidate), so at most the group holding it and its neighbours change
/// (the one before only when an entry at or over the ceiling appears or goes); every other pack
/// keeps its members, and ``CodePackWriter`` writes it byte for byte as before. Measured on a
/// synthetic tree of 3 210 paths (150 MiB, 144 packs) over 2 000 random changes in a row: 1.05
/// packs changed per change, never more than 3 (``PackPlannerTests``).
///
/// A pack is at least ``floorBytes`` except the last, one cut short before an entry over the
/// ceiling, and what is left of a group after a ceiling cut; it is at most ``ceilingBytes`` except
/// a single entry over it.
enum PackPlanner {
    /// The mean weight between candidate boundaries: 256 KiB. Packs average about 0.4 MiB before
    /// compression (a segment under the floor joins the next), about a hundred KB as gzip level 6
    /// objects of source code. Measured by `ci/measure-chunks` on the bench workspace (100 MB of code,
    /// 3 days of `history.py`: 15 files edited a day, a file added and one removed every 3rd):
    /// 2.6 MB of new pack objects a day in 68 packs at 512 KiB, against 3.9 MB in 39 at 1 MiB,
    /// 7.8 MB in 22 at 2 MiB and 15.0 MB in 5 at 8 MiB (format 1 writes 29.4 MB a day). What a
    /// day's edits rewrite grows with the pack; the object count, the cost of small packs, stays
    /// small (about 140 per 100 MB of code). `ci/bench --history 30` with 512 KiB packs and 128 KiB
    /// database chunks ended at 1.01 x restic's repository, the packs holding 64.5 MB (29 MB of
    /// them the newest set's): halving the pack halves what the kept old versions hold.
    static let targetBytes: Int64 = 256 << 10
    /// The least weight of a segment that ends a group: 128 KiB, half the target, so a tree of
    /// small files does not become thousands of tiny objects (each object costs a file in a synced
    /// folder and a line in `SHA256SUMS`) while a segment that ends a group is still one of the
    /// likelier ones (a segment's weight is about exponential around the target: 61 % reach half).
    static let floorBytes: Int64 = 128 << 10
    /// The most weight of a pack: 1 MiB, four times the target, so one edit never rewrites more
    /// than that unless the edited file alone is bigger (an entry at or over it is a pack of its
    /// own, which is also the best a pack can do for a big file: only its own edits rewrite it).
    static let ceilingBytes: Int64 = 1 << 20
    /// The header bytes counted per entry: a 512-byte ustar header plus a pax extended header
    /// (its own 512-byte header and one 512-byte block of records: `mtime` with nanoseconds,
    /// `hdrcharset`, long or non-ASCII names). An estimate: the plan needs no exact tar size, only
    /// one that grows with the entries, so a folder of empty files still makes bounded packs.
    static let headerBytes: Int64 = 1_536

    /// One entry as the planner sees it.
    struct Entry: Sendable, Equatable {
        /// The path relative to root, as bytes (``FileNameBytes/bytes(_:)``).
        var path: [UInt8]
        /// Bytes of content: a regular file's size, 0 for folders and links.
        var size: Int64
        /// ``PackPlanner/pathHash(_:)`` of `path`, computed once.
        let pathHash: UInt64

        /// - Parameters:
        ///   - path: the path relative to root, as bytes.
        ///   - size: bytes of content (0 for folders and links; a negative size counts as 0).
        init(path: [UInt8], size: Int64) {
            self.path = path
            self.size = max(0, size)
            pathHash = PackPlanner.pathHash(path)
        }
    }

    /// Why a pack ends where it does.
    enum End: String, Sendable, Equatable {
        /// After a candidate whose segment reached the floor: a group's end.
        case boundary
        /// Before an entry that would take the pack past the ceiling (the group goes on).
        case ceiling
        /// Before an entry at or over the ceiling: the group ends short, whatever its weight.
        case beforeLarge
        /// The pack is one entry at or over the ceiling.
        case large
        /// The last entry.
        case last
    }

    /// One pack of a plan.
    struct Pack: Sendable, Equatable {
        /// Indexes into the planned entries, in order; never empty.
        var entries: Range<Int>
        /// The sum of the entries' ``PackPlanner/weight(size:)``, bytes.
        var weight: Int64
        /// Why it ends there.
        var end: End
    }

    /// The rule's three sizes, in bytes of weight; ``standard`` is the documented constants
    /// (tests and the measurement script try other ones).
    struct Parameters: Sendable, Equatable {
        /// Mean weight between candidates (``PackPlanner/targetBytes``).
        var target: Int64
        /// Least weight of a segment that ends a group (``PackPlanner/floorBytes``).
        var floor: Int64
        /// Most weight of a pack of several entries (``PackPlanner/ceilingBytes``).
        var ceiling: Int64

        /// - Precondition: `0 < floor <= target <= ceiling`.
        init(target: Int64, floor: Int64, ceiling: Int64) {
            precondition(floor > 0 && floor <= target && target <= ceiling, "pack sizes out of order")
            self.target = target
            self.floor = floor
            self.ceiling = ceiling
        }

        /// 256 KiB, 128 KiB, 1 MiB.
        static let standard = Parameters(
            target: PackPlanner.targetBytes, floor: PackPlanner.floorBytes, ceiling: PackPlanner.ceilingBytes)
    }

    /// An entry's weight: ``headerBytes`` plus its size rounded up to tar's 512-byte blocks.
    /// - Parameter size: bytes of content (0 for folders and links).
    /// - Returns: bytes.
    static func weight(size: Int64) -> Int64 { headerBytes + (max(0, size) + 511) / 512 * 512 }

    /// The first 8 bytes of the SHA-256 of `path`, as a big-endian integer.
    /// - Parameter path: the path relative to root, as bytes.
    static func pathHash(_ path: [UInt8]) -> UInt64 {
        let hasher = SHA256Hasher()
        path.withUnsafeBytes { hasher.update($0) }
        return UInt64(hasher.finalizeHex().prefix(16), radix: 16) ?? 0
    }

    /// True when a boundary may follow the entry: with chance `weight / target` (always from the
    /// target up), decided by its path hash.
    static func isCandidate(pathHash: UInt64, weight: Int64, target: Int64) -> Bool {
        weight >= target || pathHash < UInt64.max / UInt64(target) * UInt64(weight)
    }

    /// Cuts `entries` into packs (see the type's description for the rule).
    /// - Parameters:
    ///   - entries: the code entries in the archive's order.
    ///   - parameters: the rule's sizes.
    /// - Returns: packs covering every entry once, in order (empty for no entries).
    static func plan(_ entries: [Entry], parameters: Parameters = .standard) -> [Pack] {
        let weights = entries.map { weight(size: $0.size) }
        var packs: [Pack] = []
        // Cuts one group greedily at the ceiling; its last pack ends for `end`.
        func addGroup(_ group: Range<Int>, end: End) {
            var start = group.lowerBound
            var sum: Int64 = 0
            for index in group {
                if index > start && sum + weights[index] > parameters.ceiling {
                    packs.append(Pack(entries: start..<index, weight: sum, end: .ceiling))
                    start = index
                    sum = 0
                }
                sum += weights[index]
            }
            packs.append(Pack(entries: start..<group.upperBound, weight: sum, end: end))
        }
        var groupStart = 0
        var segment: Int64 = 0
        for (index, entry) in entries.enumerated() {
            let weight = weights[index]
            if weight >= parameters.ceiling {
                if groupStart < index { addGroup(groupStart..<index, end: .beforeLarge) }
                packs.append(Pack(entries: index..<(index + 1), weight: weight, end: .large))
                groupStart = index + 1
                segment = 0
                continue
            }
            segment += weight
            if isCandidate(pathHash: entry.pathHash, weight: weight, target: parameters.target) {
                if segment >= parameters.floor {
                    addGroup(groupStart..<(index + 1), end: .boundary)
                    groupStart = index + 1
                }
                segment = 0
            }
        }
        if groupStart < entries.count { addGroup(groupStart..<entries.count, end: .last) }
        return packs
    }
}
