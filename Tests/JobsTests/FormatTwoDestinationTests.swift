import Destination
import DrillCore
import Foundation
import Health
import TestSupport
import Testing
import Vault

@testable import Jobs

/// `list`, `check --all`, `export`, `health` and `history` in a destination holding format-1 and
/// format-2 sets side by side (issue 15), format-2 sets made by hand (``FormatTwoFixture``).
@Suite(.serialized) struct FormatTwoDestinationTests {
    static let now = FormatTwoPruneTests.now
    static func id(day: Int) -> BackupID { FormatTwoPruneTests.id(day: day) }

    /// A workspace with one format-1 set (made by the backup engine on June 9) and, when asked,
    /// format-2 sets added by the test.
    static func mixedWorkspace() async throws -> (PruneJobTests.Workspace, BackupID) {
        let w = try PruneJobTests.workspace()
        let made = try await BackupJob(config: w.config, clock: FixedClock(Timestamp.date("2025-06-09T03:00:00Z")!))
            .run()
        #expect(made.manifest.formatVersion == 1)
        return (w, made.manifest.id)
    }

    /// The apparent sizes of the regular files under `paths`, summed, as GNU find prints them.
    static func findBytes(_ paths: [String]) throws -> Int64 {
        let find = try runTool("/usr/bin/find", paths + ["-type", "f", "-printf", "%s\\n"])
        #expect(find.status == 0, "\(find.error)")
        return find.output.split(separator: "\n").compactMap { Int64($0) }.reduce(0, +)
    }

    @Test func listShowsNewAndUniqueBytesPerSetAndTheDestinationTotal() async throws {
        let (w, formatOne) = try await Self.mixedWorkspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let p = (0..<4).map { FormatTwoFixture.payload(200 + $0, count: 1000 * ($0 + 1)) }
        let a = try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 10), payloads: [p[0], p[1]])
        let b = try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 11), payloads: [p[1], p[2], p[1]])
        let c = try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 12), payloads: [p[2], p[3]])
        // A stray temporary in objects/: counted in the total, as a quota counts it.
        try Data(repeating: 1, count: 77).write(to: URL(fileURLWithPath: "\(dest)/objects/.tmp-stray"))

        let listing = try SetListing.make(destination: dest, now: Self.now)
        let entries = Dictionary(uniqueKeysWithValues: listing.sets.map { ($0.id, $0) })
        let folder = { (id: BackupID) in try Self.findBytes(["\(dest)/\(id)"]) }
        // Format 1: its folder, as both.
        let one = try #require(entries[formatOne.description])
        #expect(one.formatVersion == 1)
        #expect(one.newBytes == (try folder(formatOne)) && one.uniqueBytes == one.newBytes && one.newBytes > 0)
        // Format 2: its folder's three files, plus objects first stored / only it uses.
        let ea = try #require(entries[a.id.description])
        let eb = try #require(entries[b.id.description])
        let ec = try #require(entries[c.id.description])
        #expect(ea.formatVersion == 2)
        #expect(ea.newBytes == (try folder(a.id)) + 1000 + 2000)
        #expect(ea.uniqueBytes == (try folder(a.id)) + 1000)
        #expect(eb.newBytes == (try folder(b.id)) + 3000)
        #expect(eb.uniqueBytes == (try folder(b.id)))
        #expect(eb.bytes == 2000 + 3000 + 2000 + Int64(FormatTwoFixture.script.count))
        #expect(ec.newBytes == (try folder(c.id)) + 4000)
        #expect(ec.uniqueBytes == (try folder(c.id)) + 4000)
        // The total: every set folder's files and everything in objects/, as find counts them.
        let setFolders = [formatOne, a.id, b.id, c.id].map { "\(dest)/\($0)" }
        #expect(listing.setFolderBytes == (try Self.findBytes(setFolders)))
        #expect(listing.objectBytes == (try Self.findBytes(["\(dest)/objects"])))
        #expect(listing.objectBytes == 1000 + 2000 + 3000 + 4000 + 77)
        #expect(listing.totalBytes == (try Self.findBytes(setFolders + ["\(dest)/objects"])))
        // Pruning a set alone frees its unique bytes: the sum of new bytes is every byte listed.
        #expect(listing.sets.map(\.newBytes).reduce(0, +) == listing.totalBytes - 77)

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(listing), as: UTF8.self)
        for key in [
            "\"total_bytes\":", "\"new_bytes\":", "\"unique_bytes\":", "\"set_folder_bytes\":", "\"object_bytes\":",
        ] {
            #expect(json.contains(key), "\(key) in \(json)")
        }
        #expect(listing.text.contains("destination total"), "\(listing.text)")
        #expect(listing.text.split(separator: "\n").first?.contains("unique") == true, "\(listing.text)")
    }

    /// Wraps the real object store's read and counts it.
    final class ReadCounter: @unchecked Sendable {
        let lock = NSLock()
        var reads: [ObjectDigest: Int] = [:]
        func count(_ ref: ObjectRef) { lock.withLock { reads[ref.digest, default: 0] += 1 } }
    }

    @Test func checkAllReadsEachSharedObjectOnceAndADamagedOneFailsEverySetUsingIt() async throws {
        let (w, formatOne) = try await Self.mixedWorkspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let shared = FormatTwoFixture.payload(300, count: 5000)
        let p = (1..<4).map { FormatTwoFixture.payload(300 + $0) }
        let sets = [
            try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 10), payloads: [shared, p[0]]),
            try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 11), payloads: [shared, p[1], shared]),
            try FormatTwoFixture.writeSet(destination: dest, id: Self.id(day: 12), payloads: [p[2], shared]),
        ]
        let store = ObjectStore(destination: try AbsolutePath(validating: dest))
        let counter = ReadCounter()
        var job = CheckJob(config: w.config, clock: FixedClock(Self.now))
        job.verifyObject = { ref in
            counter.count(ref)
            return store.verify(ref)
        }
        let outcome = try job.run(id: nil, all: true)
        #expect(outcome.passed, "\(outcome.text)")
        #expect(outcome.sets.map(\.id) == [formatOne.description] + sets.map(\.id.description))
        // 4 distinct objects, listed 7 times by 3 sets: each read once.
        #expect(counter.reads.count == 4 && counter.reads.values.allSatisfy { $0 == 1 }, "\(counter.reads)")
        #expect(outcome.objectsRead == 4)

        // Damage the shared object (one byte flipped, size kept): every set using it fails,
        // naming the object and the three sets; the format-1 set still passes.
        let digest = ObjectDigest(of: shared)
        let path = FormatTwoFixture.objectPath(dest, digest)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[100] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        let damaged = try CheckJob(config: w.config, clock: FixedClock(Self.now)).run(id: nil, all: true)
        #expect(!damaged.passed)
        let verdicts = Dictionary(uniqueKeysWithValues: damaged.sets.map { ($0.id, $0.verdict) })
        #expect(verdicts[formatOne.description] == .pass)
        let object = "objects/\(digest.fanOut)/\(digest.hex)"
        for set in sets {
            #expect(verdicts[set.id.description] == .fail)
            let failures =
                damaged.sets.first { $0.id == set.id.description }?.checks.filter { $0.verdict == .fail } ?? []
            // One failure per artifact that names the object (the 11th lists it twice).
            let naming = set.artifacts.filter { $0.sha256 == digest.hex }.map(\.path)
            #expect(failures.map(\.subject) == naming, "\(failures)")
            for message in failures.map(\.message) {
                #expect(message.contains(object), "\(message)")
                for other in sets { #expect(message.contains(other.id.description), "\(message)") }
            }
        }
        #expect(
            damaged.damagedObjects == [
                .init(
                    object: object, state: ObjectState.wrongDigest(actual: ObjectDigest(of: bytes)).description,
                    sets: sets.map(\.id.description))
            ])
        #expect(damaged.text.contains("damaged object \(object)"), "\(damaged.text)")
        // A single-set check names every set of the destination that uses the object too.
        let one = try CheckJob(config: w.config, clock: FixedClock(Self.now)).run(
            id: sets[0].id.description, all: false)
        #expect(one.damagedObjects.first?.sets == sets.map(\.id.description))
        // A missing object is named as missing.
        try FileManager.default.removeItem(atPath: path)
        let missing = try CheckJob(config: w.config, clock: FixedClock(Self.now)).run(id: nil, all: true)
        #expect(missing.damagedObjects.first?.state == "missing")
        #expect(missing.sets.filter { $0.verdict == .fail }.count == 3)
    }

    @Test func healthListAndHistoryWorkOnADestinationHoldingBothFormats() async throws {
        let (w, formatOne) = try await Self.mixedWorkspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let two = try FormatTwoFixture.writeSet(
            destination: dest, id: Self.id(day: 10), payloads: [FormatTwoFixture.payload(400)])
        let at = Timestamp.date("2025-06-10T04:00:00Z")!
        let health = HealthJob.run(config: w.config, now: at)
        #expect(health.status != .unknown, "\(health.text())")
        #expect(!health.text().contains(two.id.description + " is not"), "\(health.text())")
        let scan = try BackupSetScanner.scan(destination: dest)
        #expect(scan.sets.map(\.id) == [formatOne, two.id])
        #expect(scan.rejected == [])
        #expect(scan.newestComplete?.id == two.id)
        let listing = try SetListing.make(destination: dest, now: at)
        #expect(listing.sets.map(\.formatVersion) == [1, 2])
        _ = try CheckJob(config: w.config, clock: FixedClock(at)).run(id: nil, all: true)
        let history = try HistoryStore(destination: dest).load()
        #expect(history.problems.isEmpty)
        #expect(Set(history.events.filter { $0.kind == .check }.compactMap(\.backupID)) == [formatOne, two.id])
        #expect(history.events.filter { $0.kind == .check }.allSatisfy { $0.status == .pass })
    }

    // MARK: - export

    @Test(.needsTool("sha256sum", package: "coreutils"))
    func exportWritesAFolderThatSha256sumChecksAndRefusesWhatItCannotTrust() async throws {
        let sha256sum = try requireTool("sha256sum", package: "coreutils")
        let (w, formatOne) = try await Self.mixedWorkspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let shared = FormatTwoFixture.payload(500)
        let a = try FormatTwoFixture.writeSet(
            destination: dest, id: Self.id(day: 10), payloads: [shared, FormatTwoFixture.payload(501), shared])
        let b = try FormatTwoFixture.writeSet(
            destination: dest, id: Self.id(day: 11), payloads: [shared, FormatTwoFixture.payload(502)])
        let out = "\(w.folder)/usb"

        let exported = try ExportJob(config: w.config).run(id: a.id.description, to: out)
        #expect(exported.setPath == "\(out)/\(a.id)")
        #expect(exported.objectsWritten == 2 && exported.objectsPresent == 0)
        #expect(exported.authenticated == false)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: "\(out)/\(a.id)").sorted() == [
                "SHA256SUMS", "manifest.json", a.restoreScript,
            ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted() == ["\(a.id)", "objects"])
        // The script keeps its 0700: `./restore_<name>.sh` runs from the copy too.
        var info = stat()
        #expect(stat("\(out)/\(a.id)/\(a.restoreScript)", &info) == 0 && info.st_mode & 0o777 == 0o700)
        let check = try runTool(sha256sum, ["-c", "SHA256SUMS"], directory: "\(out)/\(a.id)")
        #expect(check.status == 0, "\(check.output)\(check.error)")
        #expect(check.output.split(separator: "\n").count == 3, "\(check.output)")
        // The manifest is the set's own bytes.
        #expect(
            FileManager.default.contents(atPath: "\(out)/\(a.id)/manifest.json")
                == FileManager.default.contents(atPath: "\(dest)/\(a.id)/manifest.json"))
        // A second set into the same folder shares the object already there (checked, kept).
        let second = try ExportJob(config: w.config).run(id: b.id.description, to: out)
        #expect(second.objectsWritten == 1 && second.objectsPresent == 1)
        #expect(try runTool(sha256sum, ["-c", "SHA256SUMS"], directory: "\(out)/\(b.id)").status == 0)
        // A format-1 set: its folder, checked the same way.
        _ = try ExportJob(config: w.config).run(id: formatOne.description, to: out)
        let one = try runTool(sha256sum, ["-c", "SHA256SUMS"], directory: "\(out)/\(formatOne)")
        #expect(one.status == 0, "\(one.output)\(one.error)")

        // Refused: a set folder there already (nothing written over).
        #expect(throws: RestoreDrillError.self) { try ExportJob(config: w.config).run(id: a.id.description, to: out) }
        // Refused: a damaged object (its bytes hashed while copied); nothing named like the set.
        let other = "\(w.folder)/other"
        let path = FormatTwoFixture.objectPath(dest, ObjectDigest(of: shared))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[0] ^= 1
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: RestoreDrillError.self) { try ExportJob(config: w.config).run(id: a.id.description, to: other) }
        #expect(!FileManager.default.fileExists(atPath: "\(other)/\(a.id)"))
        #expect(!FileManager.default.fileExists(atPath: "\(other)/.partial-\(a.id)"))
        bytes[0] ^= 1
        try bytes.write(to: URL(fileURLWithPath: path))
        // Refused: an object that is a link (never followed).
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(
            atPath: path,
            withDestinationPath: FormatTwoFixture.objectPath(dest, ObjectDigest(of: FormatTwoFixture.payload(502))))
        #expect(throws: RestoreDrillError.self) { try ExportJob(config: w.config).run(id: a.id.description, to: other) }
        #expect(!FileManager.default.fileExists(atPath: "\(other)/\(a.id)"))
        try FileManager.default.removeItem(atPath: path)
        try bytes.write(to: URL(fileURLWithPath: path))
        // Refused: with a vault password configured, a manifest without a valid HMAC.
        var job = ExportJob(config: w.config)
        job.authenticator = SetAuthenticator(passwords: [try VaultPassword("correct horse", origin: "test")])
        #expect(throws: RestoreDrillError.self) { try job.run(id: a.id.description, to: other) }
        #expect(!FileManager.default.fileExists(atPath: "\(other)/\(a.id)"))
        // Refused: a manifest whose self-checksum no longer matches.
        let manifestPath = "\(dest)/\(b.id)/manifest.json"
        let text = String(decoding: FileManager.default.contents(atPath: manifestPath)!, as: UTF8.self)
        try Data(text.replacingOccurrences(of: "\"fixture\"", with: "\"forged\"").utf8).write(
            to: URL(fileURLWithPath: manifestPath))
        #expect(throws: RestoreDrillError.self) { try ExportJob(config: w.config).run(id: b.id.description, to: other) }
        #expect(!FileManager.default.fileExists(atPath: "\(other)/\(b.id)"))
    }

    /// Stops an export at its `stopAt`-th step (0-based); counts every step.
    final class StepCounter: @unchecked Sendable {
        let lock = NSLock()
        var steps = 0
        let stopAt: Int?
        init(stopAt: Int?) { self.stopAt = stopAt }
        func step() throws {
            try lock.withLock {
                if steps == stopAt { throw ExportJob.Interrupted() }
                steps += 1
            }
        }
    }

    @Test(.needsTool("sha256sum", package: "coreutils"))
    func anExportStoppedAtAnyStepLeavesNothingThatLooksLikeASetAndTheNextOneCompletes() async throws {
        let sha256sum = try requireTool("sha256sum", package: "coreutils")
        let (w, formatOne) = try await Self.mixedWorkspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let two = try FormatTwoFixture.writeSet(
            destination: dest, id: Self.id(day: 10),
            payloads: (0..<4).map { FormatTwoFixture.payload(600 + $0, count: 70_000) })
        for id in [two.id, formatOne] {
            let counting = StepCounter(stopAt: nil)
            var job = ExportJob(config: w.config)
            job.beforeStep = { _ in try counting.step() }
            _ = try job.run(id: id.description, to: "\(w.folder)/count-\(id)")
            #expect(counting.steps >= 4, "\(id)")
            for stop in 0..<counting.steps {
                let out = "\(w.folder)/stop-\(id)-\(stop)"
                let counter = StepCounter(stopAt: stop)
                var stopped = ExportJob(config: w.config)
                stopped.beforeStep = { _ in try counter.step() }
                #expect(throws: ExportJob.Interrupted.self) { try stopped.run(id: id.description, to: out) }
                // Nothing named like the set: at most a .partial-<id> and whole objects.
                #expect(!FileManager.default.fileExists(atPath: "\(out)/\(id)"), "\(id) stopped at \(stop)")
                let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
                #expect(names.allSatisfy { $0 == "objects" || $0 == ".partial-\(id)" }, "\(names)")
                // The next export completes over what the stopped one left.
                _ = try ExportJob(config: w.config).run(id: id.description, to: out)
                let check = try runTool(sha256sum, ["-c", "--quiet", "SHA256SUMS"], directory: "\(out)/\(id)")
                #expect(check.status == 0, "\(id) stopped at \(stop): \(check.output)\(check.error)")
                #expect(!FileManager.default.fileExists(atPath: "\(out)/.partial-\(id)"))
                try? FileManager.default.removeItem(atPath: out)
            }
        }
    }
}

/// Bit rot keeps an object's size, and the files cache vouches by size: a `check` that finds a
/// damaged object removes the destination's files cache, so the next backup reads what it reuses
/// and writes the damaged object again (issue 15: "the next backup writes it again").
@Suite struct DamagedObjectRepairTests {
    @Test func checkFindingABitFlipMakesTheNextBackupWriteTheObjectAgain() async throws {
        let w = try PruneJobTests.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        var config = w.config
        config.setFormat = 2
        let cache = w.folder + "/cache"
        // Made now: outside the files cache's racy window only after 2 s.
        try await Task.sleep(nanoseconds: 2_200_000_000)
        var backup = BackupJob(config: config, clock: FixedClock(Timestamp.date("2025-06-09T03:00:00Z")!))
        backup.objectCache = cache
        let first = try await backup.run()
        let pack = try #require(first.manifest.artifacts.first { $0.kind == .pack })
        let object = "\(config.destination)/objects/\(pack.sha256.prefix(2))/\(pack.sha256)"
        // One bit flipped, the size kept.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: object))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: object))
        let cacheFiles = { (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [] }
        #expect(cacheFiles().contains { $0.hasPrefix("objects-") })

        var check = CheckJob(config: config, clock: FixedClock(Timestamp.date("2025-06-09T04:00:00Z")!))
        check.objectCache = cache
        let found = try check.run(id: nil, all: true)
        #expect(found.sets.allSatisfy { $0.verdict == .fail })
        #expect(!cacheFiles().contains { $0.hasPrefix("objects-") }, "the files cache was not removed")

        var next = BackupJob(config: config, clock: FixedClock(Timestamp.date("2025-06-10T03:00:00Z")!))
        next.objectCache = cache
        _ = try await next.run()
        #expect(try SHA256Digest.file(at: object).sha256 == pack.sha256, "the damaged object was not written again")
        let again = try check.run(id: nil, all: true)
        #expect(again.sets.count == 2 && again.sets.allSatisfy { $0.verdict == .pass })
    }
}

/// A hostile destination whose `objects` is a link: `list` still lists the sets, says why the
/// objects were not counted, and follows nothing.
@Suite struct ObjectsLinkListingTests {
    @Test func listListsTheSetsWhenObjectsIsALink() async throws {
        let w = try PruneJobTests.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        var config = w.config
        config.setFormat = 2
        _ = try await BackupJob(config: config, clock: FixedClock(Timestamp.date("2025-06-09T03:00:00Z")!)).run()
        let objects = config.destination + "/objects"
        try FileManager.default.moveItem(atPath: objects, toPath: w.folder + "/moved-objects")
        try FileManager.default.createSymbolicLink(atPath: objects, withDestinationPath: w.folder + "/moved-objects")
        let listing = try SetListing.make(destination: config.destination, now: Date())
        #expect(listing.sets.count == 1)
        #expect(listing.objectBytes == 0)
        #expect(listing.objectsProblem != nil)
        #expect(listing.text.contains("objects not counted: "))
    }
}
