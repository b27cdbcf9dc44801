import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// Issue 11, "A file that vanishes between listing and reading": a file or folder deleted while
/// the backup runs (after the walk listed it, before the archive read it) leaves a complete set,
/// a warning naming it, the path in the manifest's `vanished` list, and a drill that passes and
/// reports each such path as a skipped `restore.tree` subject.
@Suite(.serialized) struct VanishedFileTests {
    @Test func filesDeletedDuringTheBackupAreListedAsVanishedAndTheDrillSkipsThemByName() async throws {
        let ws = try SmallWorkspace.make("vanished")
        defer { ws.remove() }
        let root = ws.root
        let files = [
            "src/main.py": "print('hi')\n", "src/gone.py": "print('soon gone')\n",
            "gone-folder/a.txt": "a\n", "gone-folder/deeper/b.txt": "b\n", "zz-last.txt": "stays\n",
        ]
        for (relative, text) in files { try ws.write(relative, text) }
        let configPath = ws.config
        let config = try RestoreDrillConfig.load(path: configPath)
        var engine = BackupEngine(
            config: config, clock: FixedClock(Date()),
            runner: FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0, standardOutput: Data("x==1\n".utf8))))
        // The walk has listed everything; the archive is about to read the files: delete some.
        engine.phaseHook = { phase in
            guard phase == .writingArtifacts else { return }
            try? FileManager.default.removeItem(atPath: root + "/src/gone.py")
            try? FileManager.default.removeItem(atPath: root + "/gone-folder")
        }
        let outcome = try await engine.run()
        let expected = ["gone-folder/a.txt", "gone-folder/deeper/b.txt", "src/gone.py"]
        #expect(outcome.manifest.status == .complete)
        let code = try #require(outcome.manifest.component(.code))
        #expect(code.status == .ok)
        #expect(code.vanished == expected)
        for path in expected {
            #expect(outcome.warnings.contains { $0.hasPrefix(path + ": vanished between listing and reading") })
            #expect(!outcome.manifest.files.contains { $0.path == path })
        }
        #expect(outcome.manifest.files.contains { $0.path == "zz-last.txt" })
        // What was written is what the manifest says: the key survives a reload.
        #expect(try Manifest.load(setPath: outcome.setPath).component(.code)?.vanished == expected)

        let drill = try ws.run(["drill", "--latest", "--json"])
        #expect(drill.status == 0, "\(drill.stderr)")
        let report = try Tool.drillReport(drill.stdout)
        #expect(report.verdict == .pass)
        let skipped = report.checks.filter { $0.check == .restoreTree && $0.verdict == .skip }
        for path in expected {
            let result = try #require(skipped.first { $0.subject == "code/" + path }, "\(path) not reported")
            #expect(result.message.contains("vanished from the workspace during the backup"))
        }
        #expect(!report.checks.contains { $0.verdict == .fail || $0.verdict == .error })
    }
}
