import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// Opt-in: backs up and restores the output of `../shared/bench/make-workspace.py DIR`
/// (`RD_BENCH_HOME=DIR swift test --filter BenchWorkspaceTests`). Skipped when the variable is unset.
@Suite struct BenchWorkspaceTests {
    static let home = ProcessInfo.processInfo.environment["RD_BENCH_HOME"]

    @Test(.enabled(if: home != nil, "set RD_BENCH_HOME to a make-workspace.py folder"))
    func benchWorkspaceBacksUpAndRestoresWithItsWalRows() async throws {
        let home = try #require(Self.home)
        let scratch = try TempFolder("rd-bench")
        defer { scratch.remove() }
        var config = RestoreDrillConfig(
            home: home, root: home + "/git/maia", destination: scratch.path + "/dest", baseFolder: scratch.path)
        config.databases.include = ["claude/data/**/*.db"]
        config.credentials.include = [home + "/git/maia/claude/data/credentials"]
        config.launchAgents.include = [home + "/Library/LaunchAgents/*.plist"]
        let started = Date()
        let runner = FakeRunner(["pip3": .output("requests==2.31.0\n"), "brew": .output("git 2.42.0\n")])
        let outcome = try await BackupEngine(config: config, clock: FixedClock(Date()), runner: runner).run()
        let backupSeconds = Date().timeIntervalSince(started)
        let m = outcome.manifest
        #expect(m.status == .complete, "\(m.components)")
        #expect(m.databases.count == 41)
        #expect(m.launchAgents.count == 23)
        // Row counts of every copy equal what a reader of the live source (WAL included) sees now.
        for db in m.databases {
            for table in db.tables {
                let live = try SQL.with(home + "/git/maia/" + db.path) {
                    try SQL.scalar($0, "SELECT count(*) FROM \"\(table.name)\"")
                }
                #expect(String(table.rows) == live, "\(db.path).\(table.name)")
            }
        }
        let newHome = scratch.path + "/restored home"
        let newRoot = newHome + "/git/maia"
        let restoreStarted = Date()
        let result = try Shell.run(
            "/bin/sh", [outcome.setPath + "/" + m.restoreScript, "--home", newHome, "--root", newRoot, "--yes"])
        let restoreSeconds = Date().timeIntervalSince(restoreStarted)
        #expect(result.code == 0, "\(result.err)")
        let problems = try RestoredTree.problems(manifest: m, setPath: outcome.setPath, home: newHome, root: newRoot)
        #expect(problems.isEmpty, "\(problems.prefix(20))")
        if let report = ProcessInfo.processInfo.environment["RD_BENCH_REPORT"] {
            let line = String(
                format: "backup %.2f s, restore script %.2f s, set %@\n", backupSeconds, restoreSeconds,
                Units.humanBytes(m.artifacts.reduce(0) { $0 + $1.size }))
            try Data(line.utf8).write(to: URL(fileURLWithPath: report))
        }
    }
}
