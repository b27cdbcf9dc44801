import DrillCore
import Foundation
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
