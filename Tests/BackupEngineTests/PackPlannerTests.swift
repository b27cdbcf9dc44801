import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// ``PackPlanner``: the plan is pinned (and `ci/measure-chunks` checks its own copy of the rule
/// against the same pins), it keeps the size rules, and a random edit, insertion or removal
/// changes only the group of packs holding it and its neighbours.
@Suite struct PackPlannerTests {
    static let mib: Int64 = 1 << 20

    /// A file size drawn as `ci/measure-chunks` draws it: 1 in 500 from 1 to 13 MiB, otherwise
    /// from one of 12 doubling ranges between 64 bytes and 256 KiB.
    static func drawSize(_ rng: inout SeededGenerator) -> Int64 {
        if rng.below(500) == 0 { return mib + Int64(rng.below(UInt64(12 * mib))) }
        let base = UInt64(64) << rng.below(12)
        return Int64(base + rng.below(base))
    }

    /// The synthetic tree: `files` files `d<0-29>/s<0-5>/f<i>.py` and their folders (size 0),
    /// sorted by path bytes. Seed 15 and 3 000 files give 3 210 paths and 150.9 MiB of weight.
    static func syntheticTree(seed: UInt64 = 15, files: Int = 3_000) -> [PackPlanner.Entry] {
        var rng = SeededGenerator(seed: seed)
        var sizes: [[UInt8]: Int64] = [:]
        for index in 0..<files {
            let folder = rng.below(30)
            let sub = rng.below(6)
            sizes[Array("d\(folder)".utf8)] = 0
            sizes[Array("d\(folder)/s\(sub)".utf8)] = 0
            sizes[Array("d\(folder)/s\(sub)/f\(index).py".utf8)] = drawSize(&rng)
        }
        return sizes.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map {
            PackPlanner.Entry(path: $0.key, size: $0.value)
        }
    }

    /// The pins below were computed by `ci/measure-chunks`'s own implementation of the rule
    /// (Python's hashlib and integers), which checks itself against the same numbers
    /// (`ci/measure-chunks --self-check`).
    @Test func pathHashIsTheFirstEightBytesOfSHA256BigEndian() {
        #expect(PackPlanner.pathHash(Array("code/__future__.py".utf8)) == 0xffe9_7730_a862_2270)
        #expect(PackPlanner.pathHash([]) == 0xe3b0_c442_98fc_1c14)  // sha256("") starts e3b0c442…
        #expect(PackPlanner.pathHash(Array("d0/s0/f1.py".utf8)) == 0xe8e8_89d7_8b60_2cbc)
    }

    @Test func planOfTheSyntheticTreeIsPinned() {
        let entries = Self.syntheticTree()
        #expect(entries.count == 3_210)
        let plan = PackPlanner.plan(entries)
        #expect(plan.count == 328)
        #expect(plan.reduce(0) { $0 + $1.weight } == 158_234_624)
        let ends = plan.map(\.entries.upperBound)
        #expect(ends.prefix(10) == [3, 7, 24, 29, 62, 70, 71, 84, 94, 100])
        // The SHA-256 of every end, joined with commas ("7,24,…,3210").
        #expect(
            SHA256Digest.hex(of: Data(ends.map(String.init).joined(separator: ",").utf8))
                == "739b277125aa1a135483dc62c0f23d27997d56a4e32410d2454d442c72c5d3a1")
        let reasons = Dictionary(grouping: plan, by: \.end).mapValues(\.count)
        #expect(reasons == [.boundary: 314, .ceiling: 2, .beforeLarge: 6, .large: 6])
    }

    /// `ci/measure-chunks` measures packs with its own copy of the rule (Python); it plans the
    /// synthetic trees of two seeds exactly as ``PackPlanner`` does, so its figures are this rule's.
    @Test(.needsTool("python3")) func theMeasurementScriptsCopyOfTheRulePlansTheSame() throws {
        struct Plan: Decodable {
            var paths: Int
            var weight: Int64
            var ends: [Int]
            var reasons: [String]
        }
        let python = try requireTool("python3")
        let script =
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/ci/measure-chunks"
        for seed in [7, 15] {
            let run = try runTool(python, [script, "--plan-synthetic", "\(seed)"])
            #expect(run.status == 0, "\(run.error)")
            let copy = try JSONDecoder().decode(Plan.self, from: Data(run.output.utf8))
            let entries = Self.syntheticTree(seed: UInt64(seed))
            let plan = PackPlanner.plan(entries)
            #expect(copy.paths == entries.count)
            #expect(copy.weight == plan.reduce(0) { $0 + $1.weight })
            #expect(copy.ends == plan.map(\.entries.upperBound))
            #expect(copy.reasons == plan.map(\.end.rawValue))
        }
    }

    @Test func packsCoverEveryEntryOnceAndKeepTheSizeRules() {
        let entries = Self.syntheticTree(seed: 7)
        let parameters = PackPlanner.Parameters.standard
        let plan = PackPlanner.plan(entries)
        #expect(plan.first?.entries.lowerBound == 0 && plan.last?.entries.upperBound == entries.count)
        for (previous, next) in zip(plan, plan.dropFirst()) {
            #expect(previous.entries.upperBound == next.entries.lowerBound)
        }
        let weights = entries.map { PackPlanner.weight(size: $0.size) }
        var groupWeight: Int64 = 0
        for (number, pack) in plan.enumerated() {
            #expect(!pack.entries.isEmpty)
            #expect(pack.weight == pack.entries.reduce(0) { $0 + weights[$1] })
            switch pack.end {
            case .large:
                #expect(pack.entries.count == 1 && pack.weight >= parameters.ceiling)
            case .ceiling:
                #expect(pack.weight <= parameters.ceiling)
                #expect(pack.weight + weights[pack.entries.upperBound] > parameters.ceiling)
            case .boundary, .beforeLarge, .last:
                #expect(pack.weight <= parameters.ceiling, "pack \(number)")
            }
            if pack.end == .beforeLarge { #expect(plan[number + 1].end == .large) }
            // A group (packs joined by ceiling cuts) that ends at a candidate reached the floor.
            groupWeight += pack.weight
            if pack.end == .boundary { #expect(groupWeight >= parameters.floor, "pack \(number)") }
            if pack.end != .ceiling { groupWeight = 0 }
        }
        // Most packs end at a candidate, so most boundaries depend on their own files only.
        #expect(plan.filter { $0.end == .boundary }.count * 4 >= plan.count * 3)
    }

    @Test func smallInputsMakeOnePackAndNoneMakeNone() {
        #expect(PackPlanner.plan([]).isEmpty)
        let one = [PackPlanner.Entry(path: Array("a".utf8), size: 10)]
        #expect(PackPlanner.plan(one) == [PackPlanner.Pack(entries: 0..<1, weight: 2_048, end: .last)])
        // Under the floor in all: one pack, whatever the candidates.
        let small = (0..<40).map { PackPlanner.Entry(path: Array("f\($0)".utf8), size: 1_000) }
        #expect(PackPlanner.plan(small).map(\.entries) == [0..<40])
        // One entry over the ceiling between small ones: three packs.
        var mixed = small
        mixed.insert(PackPlanner.Entry(path: Array("f20-big".utf8), size: 9 * Self.mib), at: 21)
        #expect(PackPlanner.plan(mixed).map(\.end) == [.beforeLarge, .large, .last])
        #expect(PackPlanner.plan(mixed).map(\.entries) == [0..<21, 21..<22, 22..<41])
    }

    /// 40 000 empty files (1 536 bytes of weight each, 58.6 MiB): bounded packs around the target,
    /// not one pack of every header.
    @Test func aFolderOfEmptyFilesStillMakesBoundedPacks() {
        let entries = (0..<40_000).map { PackPlanner.Entry(path: Array("empty/e\($0)".utf8), size: 0) }
        let plan = PackPlanner.plan(entries)
        #expect(plan.allSatisfy { $0.weight <= PackPlanner.ceilingBytes })
        #expect((100...300).contains(plan.count), "\(plan.count) packs")
    }

    /// 2 000 random changes in a row to the synthetic tree (seed 16): a size change of a file
    /// (9 in 10 by up to ±1 000 bytes, 1 in 10 a new size), a new file, or a file removed. Every
    /// pack that is no longer in the plan belongs to the group holding the change or to the
    /// group before or after it (groups: packs joined by ceiling cuts). Changed packs per change
    /// (new member lists, plus the edited file's own pack, whose bytes change with its content)
    /// average 1.05 (measured: 1.002 for edits, 1.109 for insertions, 1.038 for removals), at most 3
    /// (an entry over the ceiling inserted inside a group splits it around itself).
    @Test func randomChangesTouchOnlyTheirGroupAndItsNeighbours() {
        var rng = SeededGenerator(seed: 16)
        var entries = Self.syntheticTree()
        // Member identity: a number per path, kept across changes.
        var ids = Array(entries.indices)
        var nextID = entries.count
        var changed: [[Int]] = [[], [], []]
        var strays: [String] = []
        var old = PackPlanner.plan(entries)
        for step in 0..<2_000 {
            let kind = Int(rng.below(3))
            let files = entries.indices.filter { entries[$0].path.last == UInt8(ascii: "y") }
            var point: Int
            var edited: Int?
            var newEntries = entries
            var newIDs = ids
            switch kind {
            case 0:
                point = files[Int(rng.below(UInt64(files.count)))]
                let size = entries[point].size
                newEntries[point].size =
                    rng.below(10) == 0 ? Self.drawSize(&rng) : max(0, size + Int64(rng.below(2_001)) - 1_000)
                edited = ids[point]
            case 1:
                let near = entries[files[Int(rng.below(UInt64(files.count)))]].path
                let path = Array(near[..<near.lastIndex(of: UInt8(ascii: "/"))!]) + Array("/n\(step).py".utf8)
                point = entries.firstIndex { !$0.path.lexicographicallyPrecedes(path) } ?? entries.count
                newEntries.insert(PackPlanner.Entry(path: path, size: Self.drawSize(&rng)), at: point)
                newIDs.insert(nextID, at: point)
                edited = nextID
                nextID += 1
            default:
                point = files[Int(rng.below(UInt64(files.count)))]
                newEntries.remove(at: point)
                newIDs.remove(at: point)
            }
            let new = PackPlanner.plan(newEntries)
            func members(_ pack: PackPlanner.Pack, _ list: [PackPlanner.Entry], _ names: [Int]) -> [Int] {
                var out: [Int] = []
                out.reserveCapacity(2 * pack.entries.count)
                for index in pack.entries {
                    out.append(names[index])
                    out.append(Int(list[index].size))
                }
                return out
            }
            let oldMembers = old.map { members($0, entries, ids) }
            let newMembers = new.map { members($0, newEntries, newIDs) }
            let oldSet = Set(oldMembers)
            let newSet = Set(newMembers)
            // Groups of the old plan, and the one holding the change.
            var groups: [Int] = []
            var group = 0
            for pack in old {
                groups.append(group)
                if pack.end != .ceiling { group += 1 }
            }
            let at = min(point, entries.count - 1)
            let holder = groups[old.firstIndex { $0.entries.contains(at) }!]
            for (index, list) in oldMembers.enumerated() where !newSet.contains(list) {
                if abs(groups[index] - holder) > 1 { strays.append("step \(step) kind \(kind): old pack \(index)") }
            }
            var count = newMembers.filter { !oldSet.contains($0) }.count
            if kind == 0, let edited,
                let own = new.firstIndex(where: { $0.entries.contains(newIDs.firstIndex(of: edited)!) }),
                oldSet.contains(newMembers[own])
            {
                count += 1  // same members, new content
            }
            changed[kind].append(count)
            entries = newEntries
            ids = newIDs
            old = new
        }
        #expect(strays.isEmpty, "\(strays.prefix(5))")
        let all = changed.flatMap { $0 }
        let mean = Double(all.reduce(0, +)) / Double(all.count)
        let means = changed.map { Double($0.reduce(0, +)) / Double(max(1, $0.count)) }
        #expect(mean < 1.15, "mean \(mean); edit, insert, remove: \(means)")
        #expect(changed[0].allSatisfy { $0 >= 1 } && changed.flatMap { $0 }.allSatisfy { $0 <= 3 })
        print("PackPlanner: \(all.count) changes, \(mean) packs changed per change; edit, insert, remove: \(means)")
    }
}
