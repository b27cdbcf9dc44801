import DrillCore
import Foundation
import Jobs
import Sandbox
import Testing
import Verifier

/// Issue 15 end to end: sets the backup engine writes in format 2 (`set_format: 2`), with a vault
/// password, judged by `drill` and `check`. The drill replays its private copy, beside which it
/// put only the drilled set's objects: another set's objects in the same destination stay out of
/// the sandbox (issue 11's rule).
@Suite(.serialized) struct FormatTwoDrillJobTests {
    /// Replays through `inner` and records, before it runs, the set folder the replay was given and
    /// the objects beside it.
    final class Recorder: RestoreReplayer, @unchecked Sendable {
        let inner: any RestoreReplayer
        var setFolder: AbsolutePath?
        var sandbox: AbsolutePath?
        var objects: Set<String> = []

        init(_ inner: any RestoreReplayer) { self.inner = inner }

        var replayIdentity: (uid: UInt32, gid: UInt32)? { inner.replayIdentity }

        func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
            setFolder = request.setFolder
            sandbox = request.sandboxFolder
            objects = Self.objectFiles(request.setFolder.parentDirectory.pathString)
            return try await inner.replay(request)
        }

        /// `ab/<sha256>` of every file in `<folder>/objects`.
        static func objectFiles(_ folder: String) -> Set<String> {
            var out = Set<String>()
            let objects = folder + "/objects"
            for fan in (try? FileManager.default.contentsOfDirectory(atPath: objects)) ?? [] {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: objects + "/" + fan)) ?? [] {
                    out.insert(fan + "/" + name)
                }
            }
            return out
        }
    }

    static func names(_ manifest: Manifest) -> Set<String> {
        Set(manifest.objectRefs().map { "\($0.digest.fanOut)/\($0.digest.hex)" })
    }

    @Test func drillOfAnEngineWrittenFormatTwoSetSeesOnlyItsOwnObjects() async throws {
        let ws = try VaultWorkspace()
        defer { ws.remove() }
        ws.config.setFormat = 2
        let first = try await ws.backup(at: Date().addingTimeInterval(-7200))
        #expect(first.manifest.formatVersion == 2)
        // A second set with content the first does not have.
        try Data("print('only in the second set')\n".utf8).write(
            to: URL(fileURLWithPath: ws.workspace.root + "/second-only.py"))
        let second = try await ws.backup(at: Date().addingTimeInterval(-3600))
        let foreign = Self.names(second.manifest).subtracting(Self.names(first.manifest))
        #expect(!foreign.isEmpty)

        // `check` of the first set (object reads): every artifact passes.
        let setFolder = try AbsolutePath(validating: first.setPath)
        let checks = SetReadBack.check(setPath: setFolder)
        #expect(checks.allSatisfy { $0.verdict == .pass }, "\(checks.problems.map { "\($0.subject): \($0.message)" })")
        #expect(checks.filter { $0.check == .setArtifacts }.count == first.manifest.artifacts.count + 1)

        let recorder = Recorder(IsolatedReplayer())
        let result = try await ws.drill(.init(pick: .id(first.manifest.id.description)), replayer: recorder)
        let problems = result.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
        // Everything before the replay judges the engine's set.
        for check in [CheckID.setManifest, .setArtifacts, .restoreArchives] {
            #expect(result.results(check).allSatisfy { $0.verdict == .pass }, "\(check.rawValue): \(problems)")
        }
        #expect(result.result(.restoreArchives, "code")?.verdict == .pass)
        #expect(result.authenticated == true)
        // The replay was given the private copy, and beside it exactly the first set's objects.
        let given = try #require(recorder.setFolder)
        let sandbox = try #require(recorder.sandbox)
        #expect(given.isDescendant(of: sandbox))
        #expect(recorder.objects == Self.names(first.manifest))
        #expect(recorder.objects.isDisjoint(with: foreign))
        // The vault's tag was read from its object and verified, and the whole drill passes.
        let vault = try #require(result.result(.credentialsVault, "credentials.vault"))
        #expect(vault.evidence.contains("HMAC tag verified before decryption"), "\(vault.evidence)")
        #expect(result.verdict == .pass, "\(problems)")
    }
}
