import Destination
import DrillCore
import Foundation
import Health
import Testing

@testable import Jobs

/// Issue 16, "Synced folders": a local destination a sync client keeps, with conflict copies of a
/// manifest, a `SHA256SUMS`, an object and a set folder, as `check`, `list`, `health`, `prune` and
/// the drill report them. Real files in temporary folders; format-1 sets by the backup engine,
/// format-2 sets by ``FormatTwoFixture``.
@Suite(.serialized) struct SyncedFolderTests {
    static let now = FormatTwoPruneTests.now
    static func id(day: Int) -> BackupID { FormatTwoPruneTests.id(day: day) }

    struct Synced {
        let w: PruneJobTests.Workspace
        let one: BackupID
        let a: Manifest
        let b: Manifest
        let c: Manifest
        /// `objects/<ab>/<sha> (2)` of b's only object.
        let objectCopy: String
    }

    /// Format 1 `one` (June 9) with `manifest (2).json`; format 2 `a` (June 10) with
    /// `SHA256SUMS-MaiasMacBook`; `b` (June 11) whose object has a copy `<sha> (2)` and whose
    /// folder has a copy `<id> (1)`; `c` (June 12) clean.
    static func synced() async throws -> Synced {
        let (w, one) = try await FormatTwoDestinationTests.mixedWorkspace()
        let dest = w.config.destination
        let a = try FormatTwoFixture.writeSet(
            destination: dest, id: id(day: 10), payloads: [FormatTwoFixture.payload(610)])
        let b = try FormatTwoFixture.writeSet(
            destination: dest, id: id(day: 11), payloads: [FormatTwoFixture.payload(611)])
        let c = try FormatTwoFixture.writeSet(
            destination: dest, id: id(day: 12), payloads: [FormatTwoFixture.payload(612)])
        let fm = FileManager.default
        try fm.copyItem(atPath: "\(dest)/\(one)/manifest.json", toPath: "\(dest)/\(one)/manifest (2).json")
        try fm.copyItem(atPath: "\(dest)/\(a.id)/SHA256SUMS", toPath: "\(dest)/\(a.id)/SHA256SUMS-MaiasMacBook")
        let digest = try #require(b.objectRefs().first?.digest)
        let objectCopy = "objects/\(digest.fanOut)/\(digest.hex) (2)"
        try fm.copyItem(atPath: FormatTwoFixture.objectPath(dest, digest), toPath: "\(dest)/\(objectCopy)")
        try fm.copyItem(atPath: "\(dest)/\(b.id)", toPath: "\(dest)/\(b.id) (1)")
        return Synced(w: w, one: one, a: a, b: b, c: c, objectCopy: objectCopy)
    }

    @Test func checkFailsASetWithACopyBesideItsFilesAndWarnsForObjectAndFolderCopies() async throws {
        let s = try await Self.synced()
        defer { try? FileManager.default.removeItem(atPath: s.w.folder) }
        let outcome = try CheckJob(config: s.w.config, clock: FixedClock(Self.now)).run(id: nil, all: true)
        let byID = Dictionary(uniqueKeysWithValues: outcome.sets.map { ($0.id, $0) })

        let one = try #require(byID[s.one.description])
        #expect(one.shown == "FAIL")
        let manifestCopy = try #require(
            one.checks.first { $0.has(.syncConflictCopy, data: ["path": "\(s.one)/manifest (2).json"]) })
        #expect(manifestCopy.verdict == .fail && manifestCopy.subject == "manifest (2).json")
        #expect(manifestCopy.message.contains("the set's manifest may be the wrong version"), "\(manifestCopy.message)")
        #expect(!one.checks.contains { $0.has(.artifactUnlisted) })

        let a = try #require(byID[s.a.id.description])
        #expect(a.shown == "FAIL")
        #expect(
            a.checks.contains {
                $0.verdict == .fail
                    && $0.has(
                        .syncConflictCopy,
                        data: [
                            "path": "\(s.a.id)/SHA256SUMS-MaiasMacBook", "original": "\(s.a.id)/SHA256SUMS",
                            "rule": "device_name", "severity": "fail",
                        ])
            }, "\(a.checks)")

        // b's own files and its object verify; the copies keep it from a clean PASS.
        let b = try #require(byID[s.b.id.description])
        #expect(b.verdict == .pass && b.shown == "WARN")
        #expect(Set((b.warnings ?? []).compactMap { $0.data["path"] }) == [s.objectCopy, "\(s.b.id) (1)"])
        #expect((b.warnings ?? []).allSatisfy { $0.code == .syncConflictCopy && $0.data["severity"] == "warn" })
        #expect(byID[s.c.id.description]?.shown == "PASS")
        #expect(!outcome.passed)
        #expect(outcome.text.contains("\(s.b.id): WARN"), "\(outcome.text)")
        #expect(outcome.text.contains("WARN sync.conflict_copy: \(s.objectCopy) is a sync conflict copy (numbered)"))
        #if os(Linux)
            let notes = outcome.text.components(separatedBy: "\n").filter { $0.hasPrefix("note: ") }
            #expect(notes.count == 1 && notes[0].contains("cannot tell on this system"), "\(notes)")
        #endif

        // One set alone: the same verdicts.
        let single = try CheckJob(config: s.w.config, clock: FixedClock(Self.now)).run(
            id: s.b.id.description, all: false)
        #expect(single.sets.map(\.shown) == ["WARN"])
    }

    @Test func listShowsEachCopyNextToWhatItShadowsAndHealthWarnsNamingThem() async throws {
        let s = try await Self.synced()
        defer { try? FileManager.default.removeItem(atPath: s.w.folder) }
        let listing = try SetListing.make(destination: s.w.config.destination, now: Self.now)
        let byID = Dictionary(uniqueKeysWithValues: listing.sets.map { ($0.id, $0) })
        #expect(byID[s.one.description]?.syncConflicts?.map(\.path) == ["\(s.one)/manifest (2).json"])
        #expect(byID[s.a.id.description]?.syncConflicts?.map(\.path) == ["\(s.a.id)/SHA256SUMS-MaiasMacBook"])
        #expect(byID[s.b.id.description]?.syncConflicts?.map(\.path) == ["\(s.b.id) (1)", s.objectCopy])
        #expect(byID[s.c.id.description]?.syncConflicts == nil)
        #expect(listing.syncConflicts == nil)
        let lines = listing.text.components(separatedBy: "\n")
        let row = try #require(lines.firstIndex { $0.hasPrefix(s.b.id.description + " ") })
        #expect(lines[row + 1] == "    conflict copy (WARN): \(s.b.id) (1) (numbered) of \(s.b.id)")
        #expect(lines[row + 2] == "    conflict copy (WARN): \(s.objectCopy) (numbered) of \(s.objectCopy.dropLast(4))")
        #expect(
            listing.text.contains(
                "conflict copy (FAIL): \(s.one)/manifest (2).json (numbered) of \(s.one)/manifest.json"))
        let json = String(decoding: try JSONEncoder().encode(listing), as: UTF8.self)
        #expect(json.contains("\"sync_conflicts\""))
        #if os(Linux)
            #expect(listing.syncNote?.contains("cannot tell on this system") == true)
        #endif

        let health = HealthJob.run(config: s.w.config, now: Self.now)
        let conflicts = health.findings.filter { $0.code == "sync_conflict" }
        #expect(conflicts.allSatisfy { $0.status == .warning })
        #expect(
            Set(conflicts.compactMap(\.subject)) == [
                "\(s.one)/manifest (2).json", "\(s.a.id)/SHA256SUMS-MaiasMacBook", "\(s.b.id) (1)", s.objectCopy,
            ])
        #expect(health.status >= .warning)
        #if os(Linux)
            #expect(
                health.findings.contains {
                    $0.code == "sync_placeholder" && $0.status == .ok
                        && $0.message.contains("cannot tell on this system")
                })
        #endif
    }

    @Test func pruneLeavesEveryCopyReportsItAndKeepsASetWithACopyInItsFolder() async throws {
        let s = try await Self.synced()
        defer { try? FileManager.default.removeItem(atPath: s.w.folder) }
        var config = s.w.config
        config.retention.last = 1
        config.retention.daily = 1
        config.retention.weekly = 0
        config.retention.monthly = 0
        let dest = config.destination
        let outcome = try PruneJob(config: config, clock: FixedClock(Self.now)).run(dryRun: false)
        // The policy keeps only c: b goes; one and a hold copies in their folders and stay.
        #expect(outcome.removedSets == ["\(dest)/\(s.b.id)"])
        #expect(outcome.keptForConflicts == [s.one.description, s.a.id.description])
        #expect(FileManager.default.fileExists(atPath: "\(dest)/\(s.one)/manifest (2).json"))
        #expect(FileManager.default.fileExists(atPath: "\(dest)/\(s.a.id)/SHA256SUMS-MaiasMacBook"))
        // b's object went with it (no set lists it); its copy and b's folder copy stay, reported.
        let digest = try #require(s.b.objectRefs().first?.digest)
        #expect(outcome.objects?.removedObjects == ["objects/\(digest.fanOut)/\(digest.hex)"])
        #expect(FileManager.default.fileExists(atPath: "\(dest)/\(s.objectCopy)"))
        #expect(FileManager.default.fileExists(atPath: "\(dest)/\(s.b.id) (1)/manifest.json"))
        #expect(outcome.syncConflicts.contains("\(s.objectCopy) (numbered) of \(s.objectCopy.dropLast(4))"))
        #expect(outcome.text.contains("left (sync conflict copy, never removed): \(s.objectCopy)"), "\(outcome.text)")
        #expect(!outcome.text.contains("ignored in objects/ (not an object, never removed): \(s.objectCopy)"))
        #expect(outcome.text.contains("kept \(s.one): its folder holds a sync conflict copy"))
    }

    @Test func namesInsideCodePacksAndSetIdsAreNeverTakenForCopies() async throws {
        let w = try PruneJobTests.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        // Workspace files shaped like copies: they travel inside code.tar.gz, never scanned.
        for name in ["manifest (2).json", "SHA256SUMS-MaiasMacBook", "a (1).py", "notes 2.txt"] {
            try Data("x\n".utf8).write(to: URL(fileURLWithPath: "\(w.config.root)/src/\(name)"))
        }
        let clock = FixedClock(Timestamp.date("2025-06-09T03:00:00Z")!)
        let first = try await BackupJob(config: w.config, clock: clock).run().manifest.id
        let second = try await BackupJob(config: w.config, clock: clock).run().manifest.id
        #expect(second.description == first.description + "_2")
        let scan = SyncedFolderScan.scan(destination: w.config.destination)
        #expect(scan.conflictCopies.isEmpty, "\(scan.conflictCopies)")
        let outcome = try CheckJob(config: w.config, clock: FixedClock(Self.now)).run(id: nil, all: true)
        #expect(outcome.sets.map(\.shown) == ["PASS", "PASS"], "\(outcome.text)")
        #expect(outcome.passed)
        let listing = try SetListing.make(destination: w.config.destination, now: Self.now)
        #expect(listing.sets.allSatisfy { $0.syncConflicts == nil } && listing.syncConflicts == nil)
        // Not a synced-looking folder, no copies: no note either.
        #expect(listing.syncNote == nil)
    }

    @Test func theDrillFailsASetWhoseManifestHasACopyAndWarnsForAFolderCopy() async throws {
        let w = try PruneJobTests.workspace()
        defer { try? FileManager.default.removeItem(atPath: w.folder) }
        let dest = w.config.destination
        let made = try await BackupJob(config: w.config, clock: FixedClock(Timestamp.date("2025-06-14T03:00:00Z")!))
            .run().manifest.id
        try FileManager.default.copyItem(atPath: "\(dest)/\(made)", toPath: "\(dest)/\(made) (1)")
        let warned = try await DrillJob(config: w.config, clock: FixedClock(Self.now), currentDirectory: w.folder)
            .run(.init(pick: .latest))
        #expect(warned.verdict == .pass, "\(DrillJob.summary(warned))")
        let note = try #require(warned.checks.first { $0.has(.syncConflictCopy, data: ["path": "\(made) (1)"]) })
        #expect(note.verdict == .skip && note.check == .setArtifacts)
        #expect(
            DrillJob.summary(warned).contains(
                "WARN sync.conflict_copy \(made) (1): \(made) (1) is a sync conflict copy"))

        try FileManager.default.copyItem(
            atPath: "\(dest)/\(made)/manifest.json", toPath: "\(dest)/\(made)/manifest-MaiasMacBook.json")
        let failed = try await DrillJob(config: w.config, clock: FixedClock(Self.now), currentDirectory: w.folder)
            .run(.init(pick: .latest))
        #expect(failed.verdict == .fail)
        let copy = try #require(
            failed.checks.first {
                $0.has(.syncConflictCopy, data: ["path": "\(made)/manifest-MaiasMacBook.json", "rule": "device_name"])
            })
        #expect(copy.verdict == .fail && copy.subject == "manifest-MaiasMacBook.json")
        #expect(DrillJob.summary(failed).contains("FAIL set.artifacts manifest-MaiasMacBook.json"))
    }
}
