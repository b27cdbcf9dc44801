import Destination
import DrillCore
import Foundation
import Sandbox
import Testing

@testable import Verifier

/// Issue 15: the verifier judges format-2 sets (``FormatTwoFixture``, built by hand with real
/// objects, packs, gzip chunks of a real SQLite database and `renderedChecksumList()`), every set
/// hostile until proven (issue 11): objects are opened beneath `objects/`, never through a link.
@Suite struct FormatTwoCheckTests {
    static func result(_ checks: [CheckResult], _ subject: String) -> CheckResult? {
        checks.first { $0.subject == subject }
    }

    static func codes(_ result: CheckResult?) -> [Finding.Code] { result?.findings.map(\.code) ?? [] }

    @Test func goodSetPassesEveryArtifactCheck() async throws {
        let f = try FormatTwoFixture()
        let checks = f.artifactChecks()
        #expect(checks.allSatisfy { $0.verdict == .pass }, "\(checks.problems.map { "\($0.subject): \($0.message)" })")
        // One result per artifact (shared objects too), then SHA256SUMS; nothing unlisted.
        #expect(checks.map(\.subject) == f.manifest.artifacts.map(\.path) + ["SHA256SUMS"])
        // The mirror's chunks are the store's objects: named, with both users.
        let shared = try #require(Self.result(checks, "databases/mirror.db.chunk-0001"))
        #expect(shared.evidence.contains("object \(f.objectName("databases/store.db.chunk-0001"))"))
        #expect(
            shared.evidence.contains(
                "object shared by databases/store.db.chunk-0001, databases/mirror.db.chunk-0001"))
        #expect(ArtifactAccounting(f.manifest).byArtifact.isEmpty)
        #expect(ArtifactAccounting(f.manifest).byDatabase.isEmpty)
        // The concurrent way (the drill's) gives the same results; each object is read once.
        let concurrent = await ArtifactCheck.runConcurrently(setPath: f.setFolder, manifest: f.manifest)
        #expect(concurrent.map(\.subject) == checks.map(\.subject))
        #expect(concurrent.allSatisfy { $0.verdict == .pass })
        let distinct = Set(f.manifest.artifacts.map(\.sha256)).count
        #expect(ArtifactCheck.units(f.manifest).count == distinct)
        #expect(f.manifest.databases[0].chunks.count == 3)
        // `check` (read back) passes the same set.
        #expect(SetReadBack.check(setPath: f.setFolder).allSatisfy { $0.verdict == .pass })
    }

    @Test func missingObjectFailsNamingIt() throws {
        let f = try FormatTwoFixture()
        let plist = "launchagents/com.maia.agent.plist"
        #expect(unlink(f.objectPath(plist)) == 0)
        let checks = f.artifactChecks()
        let failed = try #require(Self.result(checks, plist))
        #expect(failed.verdict == .fail)
        let finding = try #require(failed.findings.first)
        #expect(finding.code == .objectMissing)
        #expect(finding.data["object"] == f.objectName(plist))
        #expect(finding.data["used_by"] == plist)
        #expect(checks.problems.map(\.subject) == [plist])
    }

    @Test func truncatedObjectFailsBeforeItIsRead() throws {
        let f = try FormatTwoFixture()
        let pack = "code/pack-0001.tar.gz"
        #expect(truncate(f.objectPath(pack), 10) == 0)
        let failed = try #require(Self.result(f.artifactChecks(), pack))
        #expect(Self.codes(failed) == [.artifactSizeMismatch, .objectDamaged])
        #expect(failed.evidence.contains("actual size 10 (not read: the size differs)"))
        #expect(failed.findings[1].data["object"] == f.objectName(pack))
    }

    /// One flipped bit in an object two artifacts (of two databases) share: both fail, each naming
    /// the object and both artifacts.
    @Test func bitFlippedSharedObjectFailsEveryArtifactUsingIt() throws {
        let f = try FormatTwoFixture()
        let chunk = "databases/store.db.chunk-0002"
        let object = f.objectPath(chunk)
        var data = try Data(contentsOf: URL(fileURLWithPath: object))
        data[data.count / 2] ^= 0x01
        chmod(object, 0o600)
        try data.write(to: URL(fileURLWithPath: object))
        let checks = f.artifactChecks()
        #expect(checks.problems.map(\.subject) == [chunk, "databases/mirror.db.chunk-0002"])
        for subject in [chunk, "databases/mirror.db.chunk-0002"] {
            let failed = try #require(Self.result(checks, subject))
            #expect(Self.codes(failed) == [.artifactDigestMismatch, .objectDamaged])
            #expect(failed.findings[1].data["object"] == f.objectName(chunk))
            #expect(failed.findings[1].data["used_by"] == "\(chunk)\ndatabases/mirror.db.chunk-0002")
            #expect(failed.message.contains(f.objectName(chunk)))
        }
    }

    /// A link in place of an object, to a host file: never followed (no size or digest of the host
    /// file in any evidence).
    @Test func linkInPlaceOfAnObjectIsNotFollowed() throws {
        let f = try FormatTwoFixture()
        let shell = "shell/.zshrc"
        let host = f.base + "/host-secret"
        let secret = Data("export MAIA=2\n".utf8)  // the recorded size, another digest
        try secret.write(to: URL(fileURLWithPath: host))
        #expect(unlink(f.objectPath(shell)) == 0)
        #expect(symlink(host, f.objectPath(shell)) == 0)
        let failed = try #require(Self.result(f.artifactChecks(), shell))
        #expect(Self.codes(failed) == [.objectNotFollowed])
        #expect(failed.findings[0].data["reason"]?.contains("symbolic link") == true)
        #expect(!failed.evidence.joined().contains(SHA256Digest.hex(of: secret)))
    }

    /// `objects` itself a link to a folder holding the very same objects: every object artifact
    /// fails, nothing is read; the script (in the set folder) still passes.
    @Test func linkInPlaceOfTheObjectsFolderIsNotFollowed() throws {
        let f = try FormatTwoFixture()
        let moved = f.base + "/elsewhere"
        #expect(rename(f.destination + "/objects", moved) == 0)
        #expect(symlink(moved, f.destination + "/objects") == 0)
        let checks = f.artifactChecks()
        let objects = f.manifest.artifacts.filter { $0.kind != .script }.map(\.path)
        #expect(checks.problems.map(\.subject) == objects)
        for subject in objects {
            let failed = try #require(Self.result(checks, subject))
            #expect(Self.codes(failed) == [.objectNotFollowed], "\(subject)")
            #expect(failed.findings[0].data["reason"] == "objects is a symbolic link, not followed")
            #expect(!failed.evidence.contains { $0.hasPrefix("actual") })
        }
        #expect(Self.result(checks, "restore_maia.sh")?.verdict == .pass)
    }

    /// A recorded digest that is not 64 lowercase hex (here one that would climb out) names no
    /// object: no path is built, nothing opened.
    @Test(arguments: ["../../../../etc/passwd", String(repeating: "A", count: 64), "abc"])
    func malformedDigestFailsWithoutAPath(_ digest: String) throws {
        let f = try FormatTwoFixture()
        let index = f.manifest.artifacts.firstIndex { $0.path == "shell/.zshrc" }!
        f.manifest.artifacts[index].sha256 = digest
        try f.seal()
        #expect(f.manifest.storedPath(of: f.manifest.artifacts[index]) == nil)
        let checks = f.artifactChecks()
        let failed = try #require(Self.result(checks, "shell/.zshrc"))
        #expect(Self.codes(failed) == [.objectDigestMalformed])
        #expect(failed.findings[0].data["recorded"] == digest)
        #expect(checks.problems.map(\.subject) == ["shell/.zshrc"])
    }

    /// The set folder holds only manifest.json, SHA256SUMS and the script: a `code.tar.gz` (or any
    /// other file) there is unlisted, even though format 1 would list it.
    @Test(arguments: ["code.tar.gz", "databases/store.db.chunk-0001", "notes.txt"])
    func extraFileInTheSetFolderIsUnlisted(_ name: String) throws {
        let f = try FormatTwoFixture()
        try FileManager.default.createDirectory(
            atPath: (f.path(name) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("planted\n".utf8).write(to: URL(fileURLWithPath: f.path(name)))
        let checks = f.artifactChecks()
        #expect(checks.problems.map(\.subject) == [name])
        // (A file named like an artifact is no artifact of format 2: the artifact's object passes.)
        #expect(Self.codes(checks.problems.first) == [.artifactUnlisted])
    }

    /// SHA256SUMS must list exactly the distinct objects (name == digest) and the script.
    @Test func checksumListNamesExactlyTheObjects() throws {
        let f = try FormatTwoFixture()
        let good = f.manifest.renderedChecksumList()
        let text = String(decoding: good, as: UTF8.self)
        #expect(text.split(separator: "\n").count == Set(f.manifest.artifacts.map(\.sha256)).count)
        let sha = f.manifest.artifacts[0].sha256
        // A line naming `../objects/../x`.
        try (good + Data("\(sha)  ../objects/../x\n".utf8)).write(to: URL(fileURLWithPath: f.path("SHA256SUMS")))
        var sums = ArtifactCheck.checkSums(setPath: f.setFolder, manifest: f.manifest)
        #expect(Self.codes(sums) == [.sumsEntryExtra])
        #expect(sums.findings[0].data["path"] == "../objects/../x")
        // An object listed under another object's name: that name's digest disagrees.
        let other = f.manifest.artifacts[1].sha256
        let object = "../objects/\(sha.prefix(2))/\(sha)"
        let swapped = text.replacingOccurrences(of: "\(sha)  \(object)", with: "\(other)  \(object)")
        try Data(swapped.utf8).write(to: URL(fileURLWithPath: f.path("SHA256SUMS")))
        sums = ArtifactCheck.checkSums(setPath: f.setFolder, manifest: f.manifest)
        #expect(Self.codes(sums) == [.sumsDigestMismatch])
        #expect(sums.findings[0].data["path"] == object)
        // A format-1 line for an object artifact is no entry of format 2.
        let artifactLine = "\(sha)  \(f.manifest.artifacts[0].path)\n"
        try (good + Data(artifactLine.utf8)).write(to: URL(fileURLWithPath: f.path("SHA256SUMS")))
        sums = ArtifactCheck.checkSums(setPath: f.setFolder, manifest: f.manifest)
        #expect(Self.codes(sums) == [.sumsEntryExtra])
        // An object missing from the list.
        let missing = text.split(separator: "\n").dropFirst().map { $0 + "\n" }.joined()
        try Data(missing.utf8).write(to: URL(fileURLWithPath: f.path("SHA256SUMS")))
        sums = ArtifactCheck.checkSums(setPath: f.setFolder, manifest: f.manifest)
        #expect(Self.codes(sums) == [.sumsEntryMissing])
        #expect(sums.findings[0].data["path"] == object)
    }

    /// A member of one pack that another pack holds too fails, naming both packs; the union of the
    /// packs is what the manifest's files are compared with.
    @Test func duplicatedPackMemberFailsNamingBothPacks() async throws {
        let f = try FormatTwoFixture()
        var checks = await Drill.inspectArchives(f.manifest, setPath: f.setFolder).checks
        #expect(
            checks.map(\.subject) == ["code/pack-0001.tar.gz", "code/pack-0002.tar.gz", "code/folders.tar.gz", "code"])
        #expect(checks.allSatisfy { $0.verdict == .pass }, "\(checks.problems.map(\.message))")
        #expect(checks.last?.message.hasPrefix("5 members in 3 packs, together exactly the manifest's files") == true)

        // pack-0002 gains src/main.py, which pack-0001 holds.
        let staging = f.base + "/staging"
        let index = f.manifest.artifacts.firstIndex { $0.path == "code/pack-0002.tar.gz" }!
        let bytes = try FormatTwoFixture.tar(staging, ["bin/run.sh", "src/main.py"], scratch: f.base)
        let stored = try f.store.put(bytes, existing: .digest)
        f.manifest.artifacts[index].sha256 = stored.ref.digest.hex
        f.manifest.artifacts[index].size = stored.ref.size
        try f.seal()
        #expect(f.artifactChecks().allSatisfy { $0.verdict == .pass })
        checks = await Drill.inspectArchives(f.manifest, setPath: f.setFolder).checks
        let failed = try #require(Self.result(checks, "code/pack-0002.tar.gz"))
        #expect(failed.verdict == .fail)
        let finding = try #require(failed.findings.first { $0.code == .archiveMemberInTwoPacks })
        #expect(finding.data["member"] == "src/main.py")
        #expect(finding.data["packs"] == "code/pack-0001.tar.gz\ncode/pack-0002.tar.gz")
        #expect(failed.message.contains("a pack holding a member of another pack"))
        #expect(Self.result(checks, "code/pack-0001.tar.gz")?.verdict == .pass)
        #expect(Self.result(checks, "code")?.verdict == .pass)

        // A pack dropped from the manifest: its member is missing from the union.
        f.manifest.artifacts.remove(at: index)
        checks = await Drill.inspectArchives(f.manifest, setPath: f.setFolder).checks
        #expect(Self.codes(Self.result(checks, "code")) == [.archiveMembersMissing])
    }

    /// Format 2 accounting: every database chunked, chunks gzip, sizes not added up, objects
    /// shared, a chunk path of two databases and an unused artifact still fail.
    @Test func accountingFollowsFormatTwoRules() throws {
        let f = try FormatTwoFixture()
        // Compressed chunk sizes do not add up to the database's size, and that is right.
        #expect(
            f.manifest.databases[0].chunks.compactMap { f.manifest.artifact($0)?.size }.reduce(0, +)
                != f.manifest.databases[0].size)
        var manifest = f.manifest
        // A database stored whole.
        manifest.databases[1].artifact = manifest.databases[1].chunks[0]
        manifest.databases[1].chunks = []
        var accounting = ArtifactAccounting(manifest)
        #expect(accounting.byDatabase.map(\.database) == ["data/mirror.db"])
        #expect(accounting.byDatabase.first?.findings.map(\.code) == [.databaseNotChunked])
        // A chunk not recorded gzip-compressed.
        manifest = f.manifest
        let chunk = manifest.artifacts.firstIndex { $0.path == "databases/store.db.chunk-0003" }!
        manifest.artifacts[chunk].compression = nil
        accounting = ArtifactAccounting(manifest)
        #expect(accounting.byArtifact["databases/store.db.chunk-0003"]?.map(\.code) == [.chunkNotCompressed])
        // One chunk path listed by two databases.
        manifest = f.manifest
        manifest.databases[1].chunks[0] = "databases/store.db.chunk-0001"
        accounting = ArtifactAccounting(manifest)
        #expect(accounting.byArtifact["databases/store.db.chunk-0001"]?.map(\.code) == [.chunkShared])
        #expect(accounting.byArtifact["databases/mirror.db.chunk-0001"]?.map(\.code) == [.chunkUnowned])
        // A `code.tar.gz` object nothing in format 2 extracts, and a list, which the script prints.
        manifest = f.manifest
        manifest.artifacts.append(
            ArtifactRecord(
                path: "code.tar.gz", component: .code, kind: .archive, size: 1,
                sha256: String(repeating: "0", count: 64)
            ))
        accounting = ArtifactAccounting(manifest)
        #expect(accounting.byArtifact["code.tar.gz"]?.map(\.code) == [.artifactUnreferenced])
    }

    /// The drill's private copy: each distinct object written once beside the copy of the set
    /// folder, which holds only the three files.
    @Test func verifiedCopyWritesEachObjectOnce() async throws {
        let f = try FormatTwoFixture()
        let sandbox = try AbsolutePath(validating: f.base).appending(component: "sandbox")
        try FileManager.default.createDirectory(atPath: sandbox.pathString, withIntermediateDirectories: true)
        let copy = try VerifiedSetCopy.make(in: sandbox, setName: f.setFolder.basename)
        let checks = await ArtifactCheck.runConcurrently(setPath: f.setFolder, manifest: f.manifest, copy: copy)
        #expect(checks.allSatisfy { $0.verdict == .pass }, "\(checks.problems.map(\.message))")
        #expect(ArtifactCheck.filesInSet(copy.root).sorted() == ["SHA256SUMS", "restore_maia.sh"])
        let objects = ArtifactCheck.filesInSet(copy.root.parentDirectory.appending(component: "objects"))
        let expected = Set(f.manifest.objectRefs().map { "\($0.digest.fanOut)/\($0.digest.hex)" })
        #expect(objects.count == expected.count)
        #expect(Set(objects) == expected)
        #expect(!objects.contains { $0.hasSuffix(f.foreignObject.hex) })
    }
}

/// A drill of a hand-built format-2 set: the replay sees only the set's private copy and its own
/// objects beside it, never the destination's `objects/` (which holds another set's object).
@Suite struct FormatTwoDrillTests {
    /// Runs scripts as ``LocalReplayer`` does and records what the replay was given.
    final class Recorder: RestoreReplayer, @unchecked Sendable {
        var setFolder: AbsolutePath?
        var objects: [String] = []
        var setFiles: [String] = []
        func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
            setFolder = request.setFolder
            setFiles = ArtifactCheck.filesInSet(request.setFolder)
            objects = ArtifactCheck.filesInSet(request.setFolder.parentDirectory.appending(component: "objects"))
            return try await LocalReplayer().replay(request)
        }
    }

    @Test func drillOfAFormatTwoSetPassesFromItsPrivateCopy() async throws {
        let f = try FormatTwoFixture()
        let recorder = Recorder()
        let result = try await Drill(options: f.drillOptions(), clock: FixedClock(Date()), replayer: recorder).run()
        #expect(
            result.verdict == .pass,
            "\(result.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" })")
        let sandbox = try #require(result.sandboxPath)
        let replayed = try #require(recorder.setFolder)
        #expect(replayed.pathString.hasPrefix(sandbox + "/set/"))
        #expect(recorder.setFiles.sorted() == ["SHA256SUMS", "manifest.json", "restore_maia.sh"])
        let expected = Set(f.manifest.objectRefs().map { "\($0.digest.fanOut)/\($0.digest.hex)" })
        #expect(Set(recorder.objects) == expected)
        // The destination's objects/ holds another set's object; the sandbox never saw it.
        #expect(
            FileManager.default.fileExists(
                atPath: f.destination + "/objects/\(f.foreignObject.fanOut)/\(f.foreignObject.hex)"))
        #expect(!recorder.objects.contains { $0.hasSuffix(f.foreignObject.hex) })
        #expect(result.checks.contains { $0.check == .restoreArchives && $0.subject == "code" && $0.verdict == .pass })
        #expect(result.checks.filter { $0.check == .dbIntegrity }.map(\.verdict) == [.pass, .pass])
    }

    /// A damaged object fails the drill before anything is unpacked or replayed.
    @Test func drillOfASetWithAMissingPackObjectFails() async throws {
        let f = try FormatTwoFixture()
        #expect(unlink(f.objectPath("code/pack-0002.tar.gz")) == 0)
        let recorder = Recorder()
        let result = try await Drill(options: f.drillOptions(), clock: FixedClock(Date()), replayer: recorder).run()
        #expect(result.verdict == .fail)
        let artifacts = result.checks.filter { $0.check == .setArtifacts && $0.verdict != .pass }
        #expect(artifacts.map(\.subject) == ["code/pack-0002.tar.gz"])
        #expect(artifacts.first?.findings.first?.code == .objectMissing)
        #expect(
            result.checks.first { $0.check == .restoreArchives && $0.subject == "code/pack-0002.tar.gz" }?.verdict
                == .fail)
        #expect(recorder.setFolder == nil)
    }
}
