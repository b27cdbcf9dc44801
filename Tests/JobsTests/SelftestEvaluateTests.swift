import DrillCore
import Foundation
import Testing
import Verifier

@testable import Jobs

/// The selftest decides whether a damage was caught by the expected check's finding code and
/// data, not by the wording of its message.
@Suite struct SelftestEvaluateTests {
    let id = BackupID(date: Date(timeIntervalSince1970: 1_700_000_000))

    func evaluate(expecting finding: (Finding.Code, [String: String]), got findings: [Finding]) -> SelftestRow {
        let manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        let context = DamageContext(
            setPath: "/nonexistent/set", manifest: manifest, scratch: "/nonexistent/scratch",
            sandboxFolder: "/nonexistent/sandboxes", realTemp: "/nonexistent/tmp", realHome: "/nonexistent/home")
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

    @Test func caughtOnlyWhenTheCodeAndDataMatch() {
        let exit1 = Finding(.scriptExitStatus, data: ["status": "1"], message: "exited with status 1")
        #expect(evaluate(expecting: (.scriptExitStatus, ["status": "1"]), got: [exit1]).caught)
        #expect(evaluate(expecting: (.scriptExitStatus, [:]), got: [exit1]).caught)

        // The wording alone does not count: a finding of another code saying the same words.
        let lookalike = Finding(.scriptDidNotExit, data: ["status": "1"], message: "exited with status 1")
        let missed = evaluate(expecting: (.scriptExitStatus, ["status": "1"]), got: [lookalike])
        #expect(!missed.caught)
        #expect(
            missed.problems == [
                "restore.script failed without finding script.exit_status with status=1: restore.sh: exited with status 1"
            ])

        let exit2 = Finding(.scriptExitStatus, data: ["status": "2"], message: "exited with status 2")
        #expect(!evaluate(expecting: (.scriptExitStatus, ["status": "1"]), got: [exit2]).caught)
    }
}
