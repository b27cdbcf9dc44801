import DrillCore
import Foundation
import Jobs
import Testing

/// Records the one replay request a drill makes and answers as a script that exited 0.
final class RequestRecorder: RestoreReplayer, @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [ReplayRequest] = []

    var recorded: [ReplayRequest] { lock.withLock { requests } }

    func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
        lock.withLock { requests.append(request) }
        return ReplayOutcome(
            process: ProcessOutcome(exitCode: 0), isolation: .none, notes: ["recorded, not run"])
    }
}

@Suite struct DrillJobPathTests {
    /// `drill --set RELATIVE` resolves the path once, against the job's injected working folder
    /// (here a temporary folder, never the test process's working folder), and that one path
    /// reaches the drill's result and the replay request unchanged.
    @Test func aRelativeSetPathIsResolvedAgainstTheInjectedWorkingFolder() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        let base = try AbsolutePath(validating: w.base)
        let processFolder = try AbsolutePath(validating: FileManager.default.currentDirectoryPath)
        #expect(processFolder != base, "the test needs a working folder other than the process's")
        let setFolder = try AbsolutePath(validating: backup.setPath)
        let relative = try #require(setFolder.relative(to: base))
        #expect(!FileManager.default.fileExists(atPath: processFolder.appending(relative).pathString))

        let recorder = RequestRecorder()
        let job = DrillJob(
            config: nil, clock: FixedClock(Date()), replayer: recorder, currentDirectory: base.pathString)
        // `./` and a detour through `..` are folded lexically, against the injected folder.
        let typed = "./\(relative.components[0])/../\(relative.pathString)"
        let result = try await job.run(.init(pick: .path(typed)))
        #expect(result.setPath == setFolder.pathString)
        let request = try #require(recorder.recorded.first)
        #expect(request.setFolder == setFolder)
        #expect(request.script == setFolder.appending(component: backup.manifest.restoreScript))
        // Sandboxes and reports went below the injected folder too (there is no configuration).
        #expect(request.sandboxFolder.isDescendant(of: base.resolvingSymlinks().appending(component: "sandboxes")))
        #expect(try AbsolutePath(validating: #require(result.reportFolder)).isDescendant(of: base))

    }
}
