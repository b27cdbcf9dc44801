import Destination
import DrillCore
import Foundation
import Health
import TestSupport
import Testing

@testable import Jobs

/// `prune` in a destination whose format-2 sets share objects (issue 15): sets first, then the
/// objects no remaining set lists; nothing collected while references are unknown; a prune stopped
/// at any removal leaves every remaining set intact.
@Suite(.serialized) struct FormatTwoPruneTests {
    /// A workspace whose retention keeps the newest `daily` days (no weeks, no months).
    static func workspace(daily: Int) throws -> PruneJobTests.Workspace {
        let w = try PruneJobTests.workspace()
        var config = w.config
        config.retention.last = 1
        config.retention.daily = daily
        config.retention.weekly = 0
        config.retention.monthly = 0
        return PruneJobTests.Workspace(folder: w.folder, config: config)
    }

    static let now = Timestamp.date("2025-06-14T12:00:00Z")!

    /// The id of a set made at 03:00 UTC on June `day`, 2025.
    static func id(day: Int) -> BackupID {
        BackupID(date: Timestamp.date(String(format: "2025-06-%02dT03:00:00Z", day))!, sequence: 1)
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func twoSetsShareObjectsOneIsPrunedTheOthersObjectsStayAndItsUniqueOnesGo() throws {
        let w = try Self.workspace(daily: 1)
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let (o1, o2, shared, o4) = (
            FormatTwoFixture.payload(1, count: 1000), FormatTwoFixture.payload(2, count: 2000),
            FormatTwoFixture.payload(3, count: 3000), FormatTwoFixture.payload(4, count: 4000)
        )
        let older = try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 12), payloads: [o1, o2, shared])
        let newer = try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 13), payloads: [shared, o4])
        let digest = { (data: Data) in ObjectDigest(of: data) }

        // The dry run says what would go and how much, and removes nothing.
        let dry = try PruneJob(config: w.config, clock: FixedClock(Self.now)).run(dryRun: true)
        let gone = [digest(o1), digest(o2)].sorted().map { "objects/\($0.fanOut)/\($0.hex)" }
        #expect(dry.objects?.collected == true)
        #expect(dry.objects?.removedObjects == gone)
        #expect(dry.objects?.freedBytes == 3000)
        #expect(dry.text.contains("would remove unreferenced object \(gone[0])"), "\(dry.text)")
        #expect(dry.text.contains("would be freed"), "\(dry.text)")
        for d in [o1, o2, shared, o4].map(digest) { #expect(Self.exists(FormatTwoFixture.objectPath(dest, d))) }
        #expect(Self.exists("\(dest)/\(older.id)"))

        let outcome = try PruneJob(config: w.config, clock: FixedClock(Self.now)).run(dryRun: false)
        #expect(outcome.removedSets == ["\(dest)/\(older.id)"])
        #expect(outcome.objects?.removedObjects == gone)
        #expect(outcome.objects?.freedBytes == 3000)
        #expect(outcome.objects?.keptObjects == 2)
        #expect(outcome.text.contains("objects: 2 removed"), "\(outcome.text)")
        // On disk: the pruned set's unique objects are gone, the shared one and the other set's stay.
        #expect(!Self.exists(FormatTwoFixture.objectPath(dest, digest(o1))))
        #expect(!Self.exists(FormatTwoFixture.objectPath(dest, digest(o2))))
        #expect(Self.exists(FormatTwoFixture.objectPath(dest, digest(shared))))
        #expect(Self.exists(FormatTwoFixture.objectPath(dest, digest(o4))))
        #expect(!Self.exists("\(dest)/\(older.id)"))
        #expect(try FormatTwoFixture.problemsOfListedSets(destination: dest) == [])
        // The remaining set reads back in full.
        let check = try CheckJob(config: w.config, clock: FixedClock(Self.now)).run(
            id: newer.id.description, all: false)
        #expect(check.passed, "\(check.text)")
        // The JSON carries it, and the history event counts it.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(outcome), as: UTF8.self)
        #expect(json.contains("\"freed_bytes\":3000"), "\(json)")
        #expect(json.contains("\"removed_objects\":["), "\(json)")
        let prune = try HistoryStore(destination: dest).events().last { $0.kind == .prune }
        #expect(prune?.details["bytes_freed"] == "3000")
    }

    @Test func noObjectIsCollectedWhileAnyReferenceIsUnknownAndTheOutputSaysWhy() throws {
        let w = try Self.workspace(daily: 1)
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let fm = FileManager.default
        let unique = FormatTwoFixture.payload(10)
        try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 12), payloads: [unique])
        try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 13), payloads: [FormatTwoFixture.payload(11)])
        // A backup writing now: its objects are in objects/ but no manifest lists them yet.
        let writing = "\(dest)/.partial-full_20250614_110000"
        try fm.createDirectory(atPath: writing, withIntermediateDirectories: true)
        try fm.setAttributes([.modificationDate: Self.now.addingTimeInterval(-3600)], ofItemAtPath: writing)
        var outcome = try PruneJob(config: w.config, clock: FixedClock(Self.now)).run(dryRun: false)
        #expect(outcome.removedSets.count == 1)
        #expect(outcome.objects?.collected == false)
        #expect(outcome.objects?.skippedBecause.count == 1)
        #expect(outcome.objects?.skippedBecause.first?.hasPrefix(writing) == true, "\(outcome.text)")
        #expect(outcome.text.contains("objects not collected: \(writing): an unfinished backup"), "\(outcome.text)")
        #expect(Self.exists(FormatTwoFixture.objectPath(dest, ObjectDigest(of: unique))))

        // A folder named like a set whose manifest cannot be read: its objects are unknown.
        try fm.removeItem(atPath: writing)
        let unreadable = "\(dest)/full_20250613_040000"
        try fm.createDirectory(atPath: unreadable, withIntermediateDirectories: true)
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: "\(unreadable)/manifest.json"))
        outcome = try PruneJob(config: w.config, clock: FixedClock(Self.now)).run(dryRun: true)
        #expect(outcome.objects?.collected == false)
        #expect(outcome.objects?.removedObjects == [])
        #expect(outcome.objects?.skippedBecause.first?.hasPrefix(unreadable) == true, "\(outcome.text)")
        #expect(outcome.text.contains("its manifest cannot be read"), "\(outcome.text)")
        outcome = try PruneJob(config: w.config, clock: FixedClock(Self.now)).run(dryRun: false)
        #expect(Self.exists(FormatTwoFixture.objectPath(dest, ObjectDigest(of: unique))))

        // A partial older than a day is removed by this prune and no longer holds collection back;
        // the unreadable look-alike gone, the orphan goes.
        try fm.removeItem(atPath: unreadable)
        let stale = "\(dest)/.partial-full_20250610_030000"
        try fm.createDirectory(atPath: stale, withIntermediateDirectories: true)
        try fm.setAttributes([.modificationDate: Self.now.addingTimeInterval(-2 * 86400)], ofItemAtPath: stale)
        outcome = try PruneJob(config: w.config, clock: FixedClock(Self.now)).run(dryRun: false)
        #expect(outcome.objects?.collected == true, "\(outcome.text)")
        #expect(outcome.objects?.freedBytes == 4096)
        #expect(!Self.exists(FormatTwoFixture.objectPath(dest, ObjectDigest(of: unique))))
        #expect(try FormatTwoFixture.problemsOfListedSets(destination: dest) == [])
    }

    /// Thrown by the seam: a prune stopped there, as a kill would stop it.
    struct Stopped: Error {}

    /// Counts removals and throws at the `stopAt`-th (0-based); never when nil.
    final class Counter: @unchecked Sendable {
        let lock = NSLock()
        var seen: [String] = []
        let stopAt: Int?
        init(stopAt: Int?) { self.stopAt = stopAt }
        func step(_ removal: PruneJob.Removal) throws {
            try lock.withLock {
                if seen.count == stopAt { throw Stopped() }
                seen.append(removal.description)
            }
        }
    }

    @Test func aPruneStoppedAtAnyRemovalLeavesEveryRemainingSetIntactAndTheNextPruneFinishes() async throws {
        // Four format-2 sets on four days sharing objects in a chain, and a format-1 set; daily 2
        // keeps the two newest days: three sets and their unique objects go.
        let w = try Self.workspace(daily: 2)
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let template = w.config.destination
        _ = try await BackupJob(config: w.config, clock: FixedClock(Timestamp.date("2025-06-09T03:00:00Z")!)).run()
        let p = (0..<8).map { FormatTwoFixture.payload(100 + $0, count: 512 * ($0 + 1)) }
        let sets = [
            try FormatTwoFixture.writeSet(destination: template, id: Self.id(day: 10), payloads: [p[0], p[1], p[2]]),
            try FormatTwoFixture.writeSet(destination: template, id: Self.id(day: 11), payloads: [p[2], p[3]]),
            try FormatTwoFixture.writeSet(destination: template, id: Self.id(day: 12), payloads: [p[3], p[4], p[5]]),
            try FormatTwoFixture.writeSet(
                destination: template, id: Self.id(day: 13), payloads: [p[5], p[6], p[7], p[0]]),
        ]
        // An orphan a killed backup left (no set lists it) and a day-old temporary file.
        let orphan = try ObjectStore(destination: AbsolutePath(validating: template)).put(
            FormatTwoFixture.payload(999), existing: .digest)
        let temporary = "\(template)/objects/.tmp-0a1b2c3d-dead-beef-0000-000000000000"
        try Data(repeating: 7, count: 33).write(to: URL(fileURLWithPath: temporary))
        try FileManager.default.setAttributes(
            [.modificationDate: Self.now.addingTimeInterval(-2 * 86400)], ofItemAtPath: temporary)

        /// A copy of the template destination under a fresh folder, with a config pointing at it.
        func copy(_ n: Int) throws -> RestoreDrillConfig {
            let target = "\(w.folder)/run-\(n)"
            let cp = try runTool("/bin/cp", ["-a", template, target])
            #expect(cp.status == 0, "\(cp.error)")
            var config = w.config
            config.destination = target
            return config
        }

        // A full run first, counting the removals it makes.
        let full = Counter(stopAt: nil)
        let fullConfig = try copy(0)
        var job = PruneJob(config: fullConfig, clock: FixedClock(Self.now))
        job.beforeRemoval = { try full.step($0) }
        let outcome = try job.run(dryRun: false)
        let removedSets = Set(outcome.removedSets.map { ($0 as NSString).lastPathComponent })
        #expect(
            removedSets == Set([sets[0].id, sets[1].id].map(\.description) + ["full_20250609_030000"]),
            "\(outcome.text)")
        // p[1] (only in the 10th), p[2] (10th, 11th): gone; p[0] (10th and 13th), p[3] (11th, 12th): kept.
        let expectedGone = Set([p[1], p[2]].map(ObjectDigest.init(of:)) + [orphan.ref.digest])
        #expect(
            Set(outcome.objects?.removedObjects ?? []) == Set(expectedGone.map { "objects/\($0.fanOut)/\($0.hex)" }))
        #expect(outcome.objects?.removedTemporaries.count == 1)
        #expect(full.seen.count == 3 + 3 + 1, "\(full.seen)")
        let finalObjects = try FileManager.default.subpathsOfDirectory(atPath: "\(fullConfig.destination)/objects")
            .filter { $0.count == 67 }.sorted()

        // Then one run stopped at each removal: after it, every listed set is intact; the next
        // prune (no stop) finishes the job and ends where the full run ended.
        for stop in 0..<full.seen.count {
            let config = try copy(stop + 1)
            let counter = Counter(stopAt: stop)
            var stopped = PruneJob(config: config, clock: FixedClock(Self.now))
            stopped.beforeRemoval = { try counter.step($0) }
            #expect(throws: Stopped.self) { try stopped.run(dryRun: false) }
            let problems = try FormatTwoFixture.problemsOfListedSets(destination: config.destination)
            #expect(problems == [], "stopped before removal \(stop) (\(full.seen[stop])): \(problems)")
            // Every set still listed reads back in full through check.
            let check = try CheckJob(config: config, clock: FixedClock(Self.now)).run(id: nil, all: true)
            #expect(check.passed, "stopped before removal \(stop): \(check.text)")
            _ = try PruneJob(config: config, clock: FixedClock(Self.now)).run(dryRun: false)
            let left = try FileManager.default.subpathsOfDirectory(atPath: "\(config.destination)/objects")
                .filter { $0.count == 67 }.sorted()
            #expect(left == finalObjects, "stopped before removal \(stop)")
            let listed = try SetCatalogue(LocalDestination(path: config.destination)).sets().map(\.id.description)
            #expect(listed == [sets[2].id, sets[3].id].map(\.description), "stopped before removal \(stop)")
            try? FileManager.default.removeItem(atPath: config.destination)
        }
    }
}

/// The same operations on format-2 sets the backup engine wrote (`set_format: 2`).
@Suite(.serialized) struct EngineFormatTwoOperationsTests {
    @Test(.needsTool("sha256sum", package: "coreutils"))
    func engineSetsSharingObjectsArePrunedCheckedListedAndExported() async throws {
        let sha256sum = try requireTool("sha256sum", package: "coreutils")
        var w = try FormatTwoPruneTests.workspace(daily: 1)
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        var config = w.config
        config.setFormat = 2
        w = PruneJobTests.Workspace(folder: w.folder, config: config)
        let root = config.root
        for i in 0..<40 {
            try Data("print(\(i))\n".utf8).write(to: URL(fileURLWithPath: "\(root)/src/m\(i).py"))
        }
        let first = try await BackupJob(config: config, clock: FixedClock(Timestamp.date("2025-06-12T03:00:00Z")!))
            .run().manifest
        try Data("x = 2\n".utf8).write(to: URL(fileURLWithPath: "\(root)/src/a.py"))
        let second = try await BackupJob(config: config, clock: FixedClock(Timestamp.date("2025-06-13T03:00:00Z")!))
            .run().manifest
        #expect(first.formatVersion == 2 && second.formatVersion == 2)
        let dest = config.destination
        let firstRefs = Set(first.objectRefs().map(\.digest))
        let secondRefs = Set(second.objectRefs().map(\.digest))
        #expect(!firstRefs.intersection(secondRefs).isEmpty, "the two sets share no object")
        let onlyFirst = firstRefs.subtracting(secondRefs)

        // list: the second set's new bytes are its folder plus what it did not share.
        let listing = try SetListing.make(destination: dest, now: FormatTwoPruneTests.now)
        #expect(listing.sets.map(\.formatVersion) == [2, 2])
        #expect(listing.sets[1].newBytes < listing.sets[0].newBytes, "\(listing.text)")
        // check --all reads each shared object once and passes.
        let check = try CheckJob(config: config, clock: FixedClock(FormatTwoPruneTests.now)).run(id: nil, all: true)
        #expect(check.passed, "\(check.text)")
        #expect(check.objectsRead == firstRefs.union(secondRefs).count)

        // export the second set: sha256sum -c checks the copy.
        let out = "\(w.folder)/usb"
        _ = try ExportJob(config: config).run(id: second.id.description, to: out)
        let sums = try runTool(sha256sum, ["-c", "--quiet", "SHA256SUMS"], directory: "\(out)/\(second.id)")
        #expect(sums.status == 0, "\(sums.output)\(sums.error)")

        // prune (daily 1) removes the first set and exactly its unshared objects.
        let pruned = try PruneJob(config: config, clock: FixedClock(FormatTwoPruneTests.now)).run(dryRun: false)
        #expect(pruned.removedSets == ["\(dest)/\(first.id)"])
        #expect(Set(pruned.objects?.removedObjects ?? []) == Set(onlyFirst.map { "objects/\($0.fanOut)/\($0.hex)" }))
        for d in onlyFirst { #expect(!FileManager.default.fileExists(atPath: FormatTwoFixture.objectPath(dest, d))) }
        #expect(try FormatTwoFixture.problemsOfListedSets(destination: dest) == [])
        let after = try CheckJob(config: config, clock: FixedClock(FormatTwoPruneTests.now)).run(id: nil, all: true)
        #expect(after.passed && after.sets.map(\.id) == [second.id.description], "\(after.text)")
    }
}
