import Destination
import DrillCore
import Foundation
import TestSupport
import Testing

/// A temporary destination folder with hand-made sets.
final class Folder {
    let path: String
    var destination: LocalDestination { LocalDestination(path: path) }

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("rd-dest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A valid manifest for `id` (complete, finished 10 minutes after its start).
    static func manifest(_ id: BackupID) -> Manifest {
        var manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "test", home: "/home/a", root: "/home/a/r")
        manifest.status = .complete
        manifest.finishedAt = Timestamp.string(id.date.addingTimeInterval(600))
        return manifest
    }

    /// Writes `<folder>/manifest.json` for `id`.
    static func writeManifest(_ id: BackupID, in folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try manifest(id).encodedForDisk().write(to: URL(fileURLWithPath: folder + "/manifest.json"))
    }

    /// Writes the set `<path>/<id>` and returns its folder.
    @discardableResult
    func writeSet(_ id: BackupID) throws -> String {
        try Self.writeManifest(id, in: "\(path)/\(id)")
        return "\(path)/\(id)"
    }
}

func id(_ text: String) -> BackupID { BackupID(text)! }

@Suite struct LocalDestinationTests {
    /// Nothing of a staged set is listed as a set until the one publishing step.
    @Test func aStagedSetIsListedOnlyOnceItIsPublished() throws {
        let f = try Folder()
        let started = Timestamp.date("2025-10-20T03:00:00Z")!
        let staged = try f.destination.stageSet(startedAt: started)
        #expect(staged.id == id("full_20251020_030000"))
        #expect(staged.folder.pathString == "\(f.path)/.partial-full_20251020_030000")
        #expect(staged.final.pathString == "\(f.path)/full_20251020_030000")
        try Folder.writeManifest(staged.id, in: staged.folder.pathString)
        let before = try f.destination.listEntries()
        #expect(before.map(\.name) == [".partial-full_20251020_030000"])
        if case .partial = before[0].verdict {} else { Issue.record("a staged set was listed as \(before[0].verdict)") }
        #expect(try f.destination.setIDsNewestFirst().isEmpty)
        // A second backup in the same second gets the next sequence number.
        let second = try f.destination.stageSet(startedAt: started)
        #expect(second.id != staged.id && second.id.date == staged.id.date)

        try f.destination.publish(staged)
        #expect(!FileManager.default.fileExists(atPath: staged.folder.pathString))
        let after = try f.destination.listEntries().filter { $0.id == staged.id }
        #expect(after.count == 1)
        if case .set(let manifest) = after.first?.verdict {
            #expect(manifest.id == staged.id)
        } else {
            Issue.record("the published set is not a usable set")
        }
        #expect(try f.destination.readManifest(id: staged.id).id == staged.id)
    }

    /// A removal stops the set being a set in one step; what a crash leaves is finished later.
    @Test func removalIsCrashSafeAndLeftoversAreFinished() throws {
        let f = try Folder()
        let a = id("full_20251018_030000")
        let b = id("full_20251019_030000")
        try f.writeSet(a)
        try f.writeSet(b)
        try f.destination.removeSet(id: a)
        #expect(!FileManager.default.fileExists(atPath: "\(f.path)/\(a)"))
        #expect(!FileManager.default.fileExists(atPath: "\(f.path)/.removing-\(a)"))
        #expect(try f.destination.setIDsNewestFirst() == [b])
        // A crash between the rename and the end of the delete leaves `.removing-<id>`.
        try FileManager.default.moveItem(atPath: "\(f.path)/\(b)", toPath: "\(f.path)/.removing-\(b)")
        try FileManager.default.createDirectory(atPath: "\(f.path)/.removing-mine", withIntermediateDirectories: true)
        #expect(try f.destination.listEntries().isEmpty)
        #expect(f.destination.finishRemovals() == ["\(f.path)/.removing-\(b)"])
        #expect(!FileManager.default.fileExists(atPath: "\(f.path)/.removing-\(b)"))
        #expect(FileManager.default.fileExists(atPath: "\(f.path)/.removing-mine"), "not this tool's: left alone")
        #expect(throws: RestoreDrillError.self) { try f.destination.removeSet(id: a) }
    }

    @Test func statusTellsAMissingDestinationFromAFileInItsPlace() throws {
        let f = try Folder()
        let here = f.destination.status()
        #expect(here.exists && here.writable && !here.absent && (here.freeBytes ?? 0) > 0)
        let missing = LocalDestination(path: f.path + "/missing").status()
        #expect(!missing.exists && missing.absent && missing.freeBytes == nil)
        try Data("x".utf8).write(to: URL(fileURLWithPath: f.path + "/file"))
        let file = LocalDestination(path: f.path + "/file")
        #expect(!file.status().exists && !file.status().absent)
        #expect(throws: RestoreDrillError.self) { _ = try file.listEntries() }
    }

    @Test func onlyPartialsOfThisToolAreRemoved() throws {
        let f = try Folder()
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(f.path)/.partial-evil", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(f.path)/.partial-full_20251020_030000", withIntermediateDirectories: true)
        #expect(throws: RestoreDrillError.self) { try f.destination.removePartial(name: ".partial-evil") }
        #expect(throws: RestoreDrillError.self) { try f.destination.removePartial(name: "full_20251020_030000") }
        try f.destination.removePartial(name: ".partial-full_20251020_030000")
        #expect(fm.fileExists(atPath: "\(f.path)/.partial-evil"))
        #expect(!fm.fileExists(atPath: "\(f.path)/.partial-full_20251020_030000"))
    }

    @Test func eventsAreWrittenOnceAndHiddenFilesAreSkipped() throws {
        let f = try Folder()
        #expect(try f.destination.eventFiles().isEmpty)
        try f.destination.appendEvent(name: "e1.json", contents: Data("{}\n".utf8))
        // Private, as sets and reports are: the history names sets, report folders, failed checks.
        func mode(_ path: String) -> Int {
            var info = stat()
            return lstat(path, &info) == 0 ? Int(info.st_mode & 0o7777) : -1
        }
        #expect(mode("\(f.path)/.restore-drill") == 0o700)
        #expect(mode("\(f.path)/.restore-drill/events") == 0o700)
        #expect(mode("\(f.path)/.restore-drill/events/e1.json") == 0o600)
        _ = try f.destination.lock(.shared)
        #expect(mode("\(f.path)/.restore-drill/lock") == 0o600)
        #expect(throws: RestoreDrillError.self) {
            try f.destination.appendEvent(name: "e1.json", contents: Data("other".utf8))
        }
        try Data("tmp".utf8).write(to: URL(fileURLWithPath: "\(f.path)/.restore-drill/events/.e2.json.tmp"))
        #expect(try f.destination.eventFiles() == [EventFile(name: "e1.json", contents: Data("{}\n".utf8))])
    }

    @Test func anExclusiveLockKeepsOthersOut() throws {
        let f = try Folder()
        let prune = try #require(try f.destination.lock(.exclusive))
        #expect(throws: RestoreDrillError.self) { _ = try f.destination.lock(.shared) }
        prune.release()
        let backup = try #require(try f.destination.lock(.shared))
        let drill = try #require(try f.destination.lock(.shared))
        #expect(throws: RestoreDrillError.self) { _ = try f.destination.lock(.exclusive) }
        backup.release()
        drill.release()
    }

    @Test func artifactsAreReadInsideTheSetOnly() throws {
        let f = try Folder()
        let a = id("full_20251018_030000")
        let folder = try f.writeSet(a)
        try Data("sums\n".utf8).write(to: URL(fileURLWithPath: folder + "/SHA256SUMS"))
        #expect(
            try f.destination.readArtifact(id: a, path: RelativePath(validating: "SHA256SUMS")) == Data("sums\n".utf8))
        #expect(throws: RestoreDrillError.self) {
            _ = try f.destination.readArtifact(id: a, path: RelativePath(validating: "../x"))
        }
        let opened = try f.destination.openSet(id: a)
        #expect(opened.folder.pathString == folder)
        opened.close()
        #expect(throws: RestoreDrillError.self) { _ = try f.destination.openSet(id: id("full_20251019_030000")) }
    }
}

@Suite struct SetCatalogueTests {
    /// One checksum rule: a set whose self-checksum fails is in the catalogue (a drill of it fails
    /// `set.manifest` visibly) but never counts.
    @Test func aSetWhoseSelfChecksumFailsIsListedButNeverCounts() throws {
        let f = try Folder()
        let good = id("full_20251018_030000")
        let bad = id("full_20251019_030000")
        try f.writeSet(good)
        let badFolder = try f.writeSet(bad)
        let file = badFolder + "/manifest.json"
        let text = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(
            of: "\"maia\"", with: "\"maib\"")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let catalogue = SetCatalogue(f.destination)
        let contents = try catalogue.contents()
        #expect(contents.sets.map(\.id) == [good, bad])
        #expect(contents.sets.map(\.rejection) == [nil, .selfChecksumMismatch])
        #expect(contents.counted.map(\.id) == [good])
        #expect(try catalogue.latest().id == bad, "drill --latest still picks it, and fails set.manifest")
        // The lazy view says the same as the full listing.
        #expect(try catalogue.newestFirst().map(\.rejection) == [.selfChecksumMismatch, nil])
    }

    @Test func theClockRuleIsFiveMinutesOnTheID() throws {
        let f = try Folder()
        let now = Timestamp.date("2025-10-20T12:00:00Z")!
        let old = id("full_20251019_120000")
        try f.writeSet(old)
        try f.writeSet(id("full_20251020_120600"))
        #expect(try SetCatalogue(f.destination).latest(now: now).id == old)
        let skewed = id("full_20251020_120200")
        try f.writeSet(skewed)
        #expect(try SetCatalogue(f.destination).latest(now: now).id == skewed)
        #expect(SetCatalogue.futureSkew == 300)
        #expect(!SetCatalogue.isFuture(id("full_20251020_120500"), now: now))
        #expect(SetCatalogue.isFuture(id("full_20251020_120501"), now: now))
    }
}

/// Issue 18 review: an event file is read only as a regular file of at most 1 MiB: a link planted
/// in a synced destination (to the evidence key, say) is never followed, so nothing reads, copies
/// or signs what it points to; a FIFO is never waited on; a huge file is never loaded.
@Suite struct EventFileReadTests {
    @Test func onlyRegularFilesUpToTheLimitAreRead() throws {
        let folder = try TempFolder("event-read").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let destination = LocalDestination(path: folder)
        let events = destination.eventsFolder
        try FileManager.default.createDirectory(atPath: events, withIntermediateDirectories: true)
        let secret = folder + "/evidence.key"
        try Data("-----BEGIN PRIVATE KEY-----\n".utf8).write(to: URL(fileURLWithPath: secret))
        try Data("{\"ok\": true}\n".utf8).write(to: URL(fileURLWithPath: events + "/a-regular.json"))
        #expect(symlink(secret, events + "/b-link.json") == 0)
        #expect(mkfifo(events + "/c-fifo.json", 0o600) == 0)
        let big = events + "/d-big.json"
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, off_t(LocalDestination.eventSizeLimit + 1)) == 0)
        let read = Dictionary(uniqueKeysWithValues: try destination.eventFiles().map { ($0.name, $0.contents) })
        #expect(read["a-regular.json"] == Data("{\"ok\": true}\n".utf8))
        #expect(read["b-link.json"] == .some(nil))
        #expect(read["c-fifo.json"] == .some(nil))
        #expect(read["d-big.json"] == .some(nil))
        #expect(LocalDestination.readRegularFile(big, limit: LocalDestination.eventSizeLimit + 1)?.count
            == LocalDestination.eventSizeLimit + 1)
    }
}
