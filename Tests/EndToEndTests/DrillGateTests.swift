import DrillCore
import Foundation
import Testing

/// `ci/drill-gate` against a real configuration and reports folder. The built
/// `.build/debug/restore-drill` answers `config check --json` and `health --json`; a stub in front
/// of it answers `list --json` from a file, so the test decides each set's age and status without
/// writing real backup sets. Drill reports are `DrillResult`s encoded as `report.json` is.
final class DrillGateFixture {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let binary = packageRoot + "/.build/debug/restore-drill"
    static let gate = packageRoot + "/ci/drill-gate"

    let base: String
    let reports: String
    let config: String
    let stub: String
    let now = Date(timeIntervalSince1970: 1_760_947_200)  // 2025-10-20T08:00:00Z

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("drillgate-\(UUID().uuidString)").path
        reports = base + "/reports"
        config = base + "/restore-drill.yml"
        stub = base + "/restore-drill"
        try FileManager.default.createDirectory(atPath: reports, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/dest", withIntermediateDirectories: true)
        let yaml = """
            home: \(base)/home
            root: \(base)/home/git/maia
            destination: \(base)/dest
            objectives: {rpo: 24h, rto: 30m}
            health: {drill_warning: 5d, drill_critical: 7d}
            reports: {folder: reports}

            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: config))
        let script = """
            #!/bin/sh
            if [ "$1" = list ]; then cat '\(base)/list.json'; exit 0; fi
            exec '\(Self.binary)' "$@"

            """
        try Data(script.utf8).write(to: URL(fileURLWithPath: stub))
        chmod(stub, 0o755)
        try sets([])
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    /// Writes what `list --json` prints: sets with an age in seconds and a status.
    func sets(_ sets: [(age: Double, status: String)]) throws {
        let entries: [[String: Any]] = sets.map { s in
            let finished = now.addingTimeInterval(-s.age)
            let id = BackupID(date: finished).description
            return [
                "id": id, "path": "\(base)/dest/\(id)", "status": s.status, "finished_at": Timestamp.string(finished),
                "age_seconds": s.age, "bytes": 1000, "components": ["code": "ok"],
            ]
        }
        let document: [String: Any] = [
            "format": "restore-drill/set-list", "format_version": 1, "destination": base + "/dest", "sets": entries,
        ]
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: base + "/list.json"))
    }

    /// Writes `<reports>/<drill-id>/report.json` for a drill that finished `age` seconds ago.
    @discardableResult
    func drill(age: Double, passed: Bool) throws -> DrillResult {
        let finished = now.addingTimeInterval(-age)
        var result = DrillResult(
            drillID: DrillID(date: finished), backupID: BackupID(date: finished.addingTimeInterval(-7200)),
            setPath: base + "/dest/x", startedAt: finished.addingTimeInterval(-60), isolation: .bubblewrap)
        result.finishedAt = Timestamp.string(finished)
        result.checks = [
            CheckResult(check: .setManifest, subject: "x", verdict: .pass, message: "ok"),
            CheckResult(check: .restoreScript, subject: "x", verdict: passed ? .pass : .fail, message: "exit 1"),
        ]
        let folder = reports + "/" + result.drillID.description
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try JSONEncoder().encode(result).write(to: URL(fileURLWithPath: folder + "/report.json"))
        return result
    }

    /// Runs the gate; returns its exit status, stdout and stderr.
    func gate(_ arguments: [String] = [], tool: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.gate)
        process.arguments = ["--config", config] + arguments
        var env = ProcessInfo.processInfo.environment
        env["RESTORE_DRILL"] = tool ?? stub
        env["RESTORE_DRILL_NOW"] = Timestamp.string(now)
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

@Suite(.serialized) struct DrillGateTests {
    init() {
        #expect(
            FileManager.default.isExecutableFile(atPath: DrillGateFixture.binary),
            "build the tool first (swift build): \(DrillGateFixture.binary)")
    }

    @Test func freshSetWithAPassingDrillIsOK() throws {
        let f = try DrillGateFixture()
        try f.sets([(age: 30 * 3600, status: "complete"), (age: 3 * 3600, status: "complete")])
        let drill = try f.drill(age: 2 * 86400, passed: true)
        let r = try f.gate()
        #expect(r.status == 0, "\(r)")
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("OK: newest complete set") == true)
        #expect(r.out.contains("is 3h00m old (RPO 1d00h)"))
        #expect(r.out.contains("last drill \(drill.drillID) of \(drill.backupID!) passed 2d00h ago"))
    }

    @Test func staleSetFailsOnTheRPO() throws {
        let f = try DrillGateFixture()
        try f.sets([(age: 50 * 3600, status: "complete"), (age: 3600, status: "partial")])
        try f.drill(age: 3600, passed: true)
        let r = try f.gate()
        #expect(r.status == 1)
        let id = BackupID(date: f.now.addingTimeInterval(-50 * 3600)).description
        #expect(r.out == "FAIL: newest complete set \(id) is 2d02h old, at or over the RPO of 1d00h\n")
        // Exactly at the RPO fails too; --rpo overrides the configuration.
        try f.sets([(age: 86400, status: "complete")])
        #expect(try f.gate().status == 1)
        #expect(try f.gate(["--rpo", "25h"]).status == 0)
    }

    @Test func mostRecentFailedDrillFailsEvenAfterAnEarlierPass() throws {
        let f = try DrillGateFixture()
        try f.sets([(age: 3600, status: "complete")])
        try f.drill(age: 3 * 86400, passed: true)
        let failed = try f.drill(age: 86400, passed: false)
        let r = try f.gate()
        #expect(r.status == 1)
        #expect(
            r.out.hasPrefix(
                "FAIL: the most recent drill \(failed.drillID) of \(failed.backupID!) failed (\(f.reports)/")
        )
        // A newer pass clears it.
        try f.drill(age: 600, passed: true)
        #expect(try f.gate().status == 0)
    }

    @Test func noPassingDrillWithinTheConfiguredCriticalAge() throws {
        let f = try DrillGateFixture()
        try f.sets([(age: 3600, status: "complete")])
        let old = try f.drill(age: 8 * 86400, passed: true)
        let r = try f.gate()
        #expect(r.status == 1)
        #expect(r.out == "FAIL: no drill passed within 7d00h (newest passing drill \(old.drillID) is 8d00h old)\n")
        #expect(try f.gate(["--drill-critical", "9d"]).status == 0)
    }

    @Test func missingSetsOrReportsAndBrokenToolsAreNamed() throws {
        let f = try DrillGateFixture()
        var r = try f.gate()
        #expect(r.status == 1)
        #expect(r.out == "FAIL: no complete backup set in \(f.base)/dest\n")
        try f.sets([(age: 3600, status: "partial")])
        #expect(try f.gate().out.hasPrefix("FAIL: no complete backup set"))
        try f.sets([(age: 3600, status: "complete")])
        r = try f.gate()
        #expect(r.out == "FAIL: no drill report in \(f.reports)\n")
        r = try f.gate(tool: "/bin/false")
        #expect(r.status == 3)
        #expect(r.err.hasPrefix("drill-gate: cannot run: /bin/false list --json failed"))
        r = try f.gate(["--rpo", "soon"])
        #expect(r.status == 2)
        r = try f.gate(["--bogus"])
        #expect(r.status == 2)
    }
}
