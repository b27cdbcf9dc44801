import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Verifier

/// A replayer that runs as another uid reads the set from a copy the drill wrote while it hashed
/// the artifacts (``VerifiedSetCopy``): exactly the bytes verified, only what the manifest lists.
@Suite struct VerifiedSetCopyTests {
    /// Runs the script as ``LocalReplayer`` does, but says it replays as another uid (so the drill
    /// makes the copy) and records what the replay was given to read.
    final class CopyRecordingReplayer: RestoreReplayer, @unchecked Sendable {
        var setFolder: String?
        var sandbox: String?
        var files: [String: String] = [:]  // relative path -> SHA-256
        var sizes: [String: Int64] = [:]  // relative path -> bytes

        var replayIdentity: (uid: UInt32, gid: UInt32)? { (getuid(), getgid()) }

        func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
            setFolder = request.setFolder.pathString
            sandbox = request.sandboxFolder.pathString
            let root = request.setFolder.pathString
            let walker = FileManager.default.enumerator(atPath: root)
            while let relative = walker?.nextObject() as? String {
                var info = stat()
                guard lstat(root + "/" + relative, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                files[relative] = try SHA256Digest.file(at: root + "/" + relative).sha256
                sizes[relative] = Int64(info.st_size)
            }
            // The fixture's script copies with `cp`, which keeps the source's mode: give the copy
            // the modes the set had (the IsolatedReplayer makes it readable by the replay's group).
            for relative in files.keys { chmod(root + "/" + relative, 0o644) }
            return try await LocalReplayer().replay(request)
        }
    }

    @Test func theReplayReadsExactlyTheVerifiedArtifactsAndNothingUnlisted() async throws {
        let fixture = try Fixture()
        try fixture.write("planted", to: "unlisted.txt")
        let replayer = CopyRecordingReplayer()
        let result = try await Drill(options: fixture.drillOptions(), clock: FixedClock(Date()), replayer: replayer)
            .run()
        let setName = (fixture.setPath as NSString).lastPathComponent
        let sandbox = try #require(replayer.sandbox)
        #expect(replayer.setFolder == sandbox + "/set/" + setName)
        // Every artifact and SHA256SUMS, with the set's own digests; nothing else.
        var expected = Dictionary(uniqueKeysWithValues: fixture.manifest.artifacts.map { ($0.path, $0.sha256) })
        expected["SHA256SUMS"] = try SHA256Digest.file(at: fixture.path("SHA256SUMS")).sha256
        #expect(replayer.files == expected)
        #expect(only(result, .setArtifacts, "unlisted.txt")?.verdict == .fail)
        // The restore itself passed from the copy, which went with the sandbox.
        #expect(only(result, .restoreScript, fixture.manifest.restoreScript)?.verdict == .pass)
        let tree = result.checks.filter { $0.check == .restoreTree }
        #expect(tree.allSatisfy { $0.verdict != .fail }, "\(tree.map { "\($0.subject): \($0.message)" })")
        // The unlisted file fails the drill, so the sandbox is kept (keep: on_failure).
        #expect(result.verdict == .fail && result.sandboxKept == true)
    }

    @Test func aDamagedArtifactReachesTheReplayAsTheBytesTheCheckJudged() async throws {
        let fixture = try Fixture()
        let chunk = "databases/big.db.chunk-0001"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.path(chunk)))
        bytes[100] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: fixture.path(chunk)))
        let replayer = CopyRecordingReplayer()
        let result = try await Drill(options: fixture.drillOptions(), clock: FixedClock(Date()), replayer: replayer)
            .run()
        let check = try #require(only(result, .setArtifacts, chunk))
        #expect(check.verdict == .fail)
        let actual = try #require(check.evidence.first { $0.hasPrefix("actual sha256 ") }).dropFirst(14)
        #expect(replayer.files[chunk] == String(actual))
        #expect(replayer.files[chunk] == SHA256Digest.hex(of: bytes))
    }
}

/// A planted artifact whose size is not the recorded one is judged without a byte read or copied,
/// and the copy never takes more than its budget (the sandbox file system's free space less a
/// reserve), however large the sizes a forged manifest records.
@Suite struct VerifiedSetCopyBoundsTests {
    @Test func anArtifactOfAnotherSizeIsNeitherReadNorCopied() async throws {
        let fixture = try Fixture()
        let chunk = "databases/big.db.chunk-0001"
        let recorded = try #require(fixture.manifest.artifacts.first { $0.path == chunk }).size
        // Sparse terabytes would take hours to hash and fill the disk when copied.
        let fd = open(fixture.path(chunk), O_WRONLY)
        #expect(ftruncate(fd, 1 << 40) == 0)
        close(fd)
        let replayer = VerifiedSetCopyTests.CopyRecordingReplayer()
        let started = Date()
        let result = try await Drill(options: fixture.drillOptions(), clock: FixedClock(Date()), replayer: replayer)
            .run()
        #expect(Date().timeIntervalSince(started) < 60)
        let check = try #require(only(result, .setArtifacts, chunk))
        #expect(check.verdict == .fail)
        #expect(check.evidence.contains("recorded size \(recorded)"))
        #expect(check.evidence.contains("actual size \(1 << 40) (not read: the size differs)"))
        #expect(replayer.sizes[chunk] == nil)
        #expect(replayer.files["SHA256SUMS"] != nil)
    }

    @Test func theBudgetRefusesWhatDoesNotFit() throws {
        let folder = try TempFolder("rd-copy-budget").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try AbsolutePath(validating: folder)
        let copy = VerifiedSetCopy(root: root, budget: .init(1000))
        let first = copy.file(RelativePath.dot.appending(component: "a"), reserving: 600)
        #expect((try? first.get()) != nil)
        // 600 + 1 taken: 399 left, so 400 bytes (plus the byte past) do not fit, 398 do.
        switch copy.file(RelativePath.dot.appending(component: "b"), reserving: 400) {
        case .success: Issue.record("400 bytes fit in a budget of 399")
        case .failure(let problem): #expect(problem.message.contains("no room for 400 more bytes"))
        }
        #expect((try? copy.file(RelativePath.dot.appending(component: "c"), reserving: 398).get()) != nil)
        #expect(!FileManager.default.fileExists(atPath: folder + "/b"))
        // A recorded size near Int64.max does not overflow into a fit.
        #expect(!copy.budget.take(Int64.max))
    }
}
