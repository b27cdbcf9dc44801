import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// A destination with a `.partial-<id>` folder holding two artifacts written the way the engine
/// writes them (``HashingFileWriter`` recording into a ``WrittenFileLog``), and the seal for it.
private struct SealFixture {
    let folder: TempFolder
    let destination: String
    let partial: String
    let manifest: Manifest
    let seal: SetSeal

    init() throws {
        folder = try TempFolder("rd-seal")
        destination = folder.path + "/backups"
        let id = BackupID(date: Date(timeIntervalSince1970: 1_760_000_000))
        partial = destination + "/.partial-\(id)"
        try FileManager.default.createDirectory(atPath: partial + "/shell", withIntermediateDirectories: true)
        let log = WrittenFileLog()
        var manifest = Manifest(
            id: id, name: "maia", startedAt: Date(), timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        for (path, text) in [("code.tar.gz", "archive bytes"), ("shell/.zshrc", "export A=1\n")] {
            let writer = try HashingFileWriter(path: partial + "/" + path, log: log)
            try writer.write(Data(text.utf8))
            let (size, digests) = try writer.finish()
            manifest.artifacts.append(
                ArtifactRecord(path: path, component: .code, kind: .archive, size: size, digests: digests))
        }
        self.manifest = manifest
        seal = SetSeal(
            destination: destination, destinationIdentity: try #require(FileIdentity.following(path: destination)),
            partial: partial, partialIdentity: try #require(FileIdentity.of(path: partial)), written: log)
    }

    var problems: [String] { seal.problems(folder: partial, manifest: manifest) }

    /// The message of the error ``SetSeal/verify(folder:manifest:stage:)`` throws, nil when it passes.
    func verifyMessage() -> String? {
        do {
            try seal.verify(folder: partial, manifest: manifest, stage: "before the manifest was written")
            return nil
        } catch let error as RestoreDrillError {
            guard case .destinationVanished(let path, let message) = error, path == destination else {
                return "unexpected error \(error)"
            }
            #expect(error.exitStatus == .runtime)
            return message
        } catch {
            return "unexpected error \(error)"
        }
    }
}

@Suite struct SetSealTests {
    @Test func anIntactSetPasses() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        #expect(f.problems == [])
        #expect(f.verifyMessage() == nil)
        #expect(f.seal.isOurFolder(f.partial))
        #expect(f.seal.destinationIsUnchanged)
    }

    @Test func aMissingArtifactFailsNamingIt() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        unlink(f.partial + "/shell/.zshrc")
        #expect(f.problems == ["\(f.partial)/shell/.zshrc: missing"])
        let message = try #require(f.verifyMessage())
        #expect(message.contains("\(f.partial)/shell/.zshrc: missing"), "\(message)")
        #expect(message.contains("before the manifest was written"), "\(message)")
    }

    @Test func anArtifactWithAnotherSizeFailsNamingBothSizes() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        #expect(truncate(f.partial + "/code.tar.gz", 0) == 0)
        #expect(f.problems == ["\(f.partial)/code.tar.gz: size 13 → 0"])
        #expect(try #require(f.verifyMessage()).contains("\(f.partial)/code.tar.gz: size 13 → 0"))
    }

    @Test func anArtifactOnAnotherDeviceFails() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        // What a writer records when its descriptor was on a drive unmounted lazily: the file the
        // path names now is on another device.
        let path = f.partial + "/code.tar.gz"
        var fact = try #require(f.seal.written.identity(of: path))
        let local = fact.device
        fact.device = local &+ 1
        f.seal.written.record(path, fact)
        #expect(f.problems == ["\(path): device \(local &+ 1) → \(local)"])
        #expect(try #require(f.verifyMessage()).contains("\(path): device"))
    }

    @Test func anArtifactReplacedByAnotherFileFailsByInode() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        let path = f.partial + "/shell/.zshrc"
        let before = try #require(FileIdentity.of(path: path))
        #expect(rename(path, path + ".old") == 0)
        try Data("export A=1\n".utf8).write(to: URL(fileURLWithPath: path))
        let after = try #require(FileIdentity.of(path: path))
        #expect(f.problems == ["\(path): inode \(before.inode!) → \(after.inode!) (another file at this path)"])
    }

    @Test func thePartialFolderReplacedByAnotherAtTheSamePathFails() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        #expect(rename(f.partial, f.destination + "/moved-away") == 0)
        #expect(mkdir(f.partial, 0o755) == 0)
        let problems = f.problems
        #expect(problems.first?.hasPrefix("\(f.partial): inode ") == true, "\(problems)")
        #expect(problems.first?.hasSuffix("(another folder at this path)") == true, "\(problems)")
        #expect(problems.contains("\(f.partial)/code.tar.gz: missing"))
        #expect(!f.seal.isOurFolder(f.partial))
        #expect(try #require(f.verifyMessage()).contains("\(f.partial): inode"))
    }

    @Test func aPartialFolderThatIsGoneIsNamedOnce() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        #expect(rename(f.partial, f.destination + "/moved-away") == 0)
        #expect(f.problems == ["\(f.partial): missing"])
    }

    @Test func theDestinationReplacedByAnotherFolderFails() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        #expect(rename(f.destination, f.folder.path + "/old-backups") == 0)
        #expect(mkdir(f.destination, 0o755) == 0)
        let problems = f.problems
        #expect(problems.first?.hasPrefix("\(f.destination): inode ") == true, "\(problems)")
        #expect(problems.dropFirst().first == "\(f.partial): missing", "\(problems)")
        #expect(!f.seal.destinationIsUnchanged)
    }

    @Test func cleanUpRemovesOnlyTheFolderTheRunMade() throws {
        let f = try SealFixture()
        defer { f.folder.remove() }
        // A folder at the partial's path that the run did not make is left, and the error says so.
        #expect(rename(f.partial, f.destination + "/moved-away") == 0)
        #expect(mkdir(f.partial, 0o755) == 0)
        let error = BackupEngine.cleanUp(
            after: RestoreDrillError.io(path: f.partial + "/x", message: "No such file or directory"), seal: f.seal,
            folder: f.partial)
        #expect(FileManager.default.fileExists(atPath: f.partial))
        guard case .destinationVanished(let path, let message)? = error as? RestoreDrillError else {
            Issue.record("not destinationVanished: \(error)")
            return
        }
        #expect(path == f.destination)
        #expect(message.contains("is not the folder this run made; left as it is"), "\(message)")
        #expect(message.contains("No such file or directory"), "\(message)")

        // The run's own folder, back in place, is removed; an ordinary error stays what it was.
        #expect(rmdir(f.partial) == 0)
        #expect(rename(f.destination + "/moved-away", f.partial) == 0)
        let full = RestoreDrillError.io(path: f.partial + "/code.tar.gz", message: "No space left on device")
        #expect(BackupEngine.cleanUp(after: full, seal: f.seal, folder: f.partial) as? RestoreDrillError == full)
        #expect(!FileManager.default.fileExists(atPath: f.partial))
    }
}
