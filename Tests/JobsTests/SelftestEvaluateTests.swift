import DrillCore
import Foundation
import Testing
import Verifier

@testable import Selftest

/// The selftest decides whether a damage was caught by the expected check's finding code and
/// data, not by the wording of its message.
@Suite struct SelftestEvaluateTests {
    let id = BackupID(date: Date(timeIntervalSince1970: 1_700_000_000))

    func evaluate(expecting finding: (Finding.Code, [String: String]), got findings: [Finding]) throws -> SelftestRow {
        let manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        func path(_ text: String) throws -> AbsolutePath { try AbsolutePath(validating: text) }
        let context = DamageContext(
            setPath: try path("/nonexistent/set"), manifest: manifest, scratch: try path("/nonexistent/scratch"),
            sandboxFolder: try path("/nonexistent/sandboxes"), realTemp: try path("/nonexistent/tmp"),
            realHome: try path("/nonexistent/home"))
        context.expectedFinding = finding
        let damage = SelftestDamage(id: "test", title: "test", kind: .sealed, expected: .restoreScript) { _ in }
        var result = DrillResult(
            drillID: DrillID(date: id.date, sequence: 1), backupID: id, setPath: "/nonexistent/set",
            startedAt: id.date, isolation: .none)
        result.checks = [CheckResult(check: .restoreScript, subject: "restore.sh", findings: findings)]
        let row = SelftestRow(
            damage: "test", title: "test", kind: .sealed, expected: .restoreScript, verdict: nil, failedChecks: [],
            caught: false, evidence: "", problems: [], deviation: nil, seconds: 0, isolation: nil)
        return SelftestJob.evaluate(row, damage: damage, context: context, result: result)
    }

    @Test func caughtOnlyWhenTheCodeAndDataMatch() throws {
        let exit1 = Finding(.scriptExitStatus, data: ["status": "1"], message: "exited with status 1")
        #expect(try evaluate(expecting: (.scriptExitStatus, ["status": "1"]), got: [exit1]).caught)
        #expect(try evaluate(expecting: (.scriptExitStatus, [:]), got: [exit1]).caught)

        // The wording alone does not count: a finding of another code saying the same words.
        let lookalike = Finding(.scriptDidNotExit, data: ["status": "1"], message: "exited with status 1")
        let missed = try evaluate(expecting: (.scriptExitStatus, ["status": "1"]), got: [lookalike])
        #expect(!missed.caught)
        #expect(
            missed.problems == [
                "restore.script failed without finding script.exit_status with status=1: restore.sh: exited with status 1"
            ])

        let exit2 = Finding(.scriptExitStatus, data: ["status": "2"], message: "exited with status 2")
        #expect(try !evaluate(expecting: (.scriptExitStatus, ["status": "1"]), got: [exit2]).caught)
    }
}
