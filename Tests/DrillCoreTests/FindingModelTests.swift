import DrillCore
import Foundation
import Testing

/// The findings model: one verdict rollup, messages rendered from findings, findings kept out of
/// report.json, and the narrower error case (secrets scrubbed from findings: `Tests/VaultTests`,
/// beside ``SecretScrubber``).
@Suite struct FindingModelTests {
    @Test func rollupFailsOnAProblemAndNeedsAPassUnlessToldOtherwise() {
        #expect(Verdict.rollup([.pass, .skip]) == .pass)
        #expect(Verdict.rollup([.pass, .fail]) == .fail)
        #expect(Verdict.rollup([.pass, .error]) == .fail)
        #expect(Verdict.rollup([.skip, .skip]) == .fail)
        #expect(Verdict.rollup([]) == .fail)
        #expect(Verdict.rollup([.skip], requirePass: false) == .pass)
        #expect(Verdict.rollup([], requirePass: false) == .pass)
        #expect(Verdict.rollup([.skip, .error], requirePass: false) == .fail)
        #expect(Verdict.allCases.filter(\.isProblem) == [.fail, .error])
    }

    @Test func drillVerdictIsTheRollupOfItsChecks() {
        var result = DrillResult(
            drillID: DrillID(date: Date(timeIntervalSince1970: 1_700_000_000), sequence: 1), backupID: nil,
            setPath: "/s", startedAt: Date(timeIntervalSince1970: 1_700_000_000), isolation: .none)
        for verdicts: [Verdict] in [[], [.skip], [.pass], [.pass, .skip], [.pass, .error], [.fail]] {
            result.checks = verdicts.map { CheckResult(check: .rpo, subject: "s", verdict: $0, message: "m") }
            #expect(result.verdict == Verdict.rollup(verdicts))
            #expect(result.checks.problems.map(\.verdict) == verdicts.filter(\.isProblem))
        }
    }

    @Test func messageIsRenderedFromFindingsAndFindingsStayOutOfTheReport() throws {
        let findings = [
            Finding(Finding.Code("test.one"), data: ["n": "1"], message: "first"),
            Finding(Finding.Code("test.two"), message: "second"),
            Finding(Finding.Code("test.three"), message: "third"),
        ]
        let result = CheckResult(check: .dbIntegrity, subject: "a.db", findings: findings, shown: 2)
        #expect(result.verdict == .fail)
        #expect(result.message == "a.db: first; second")
        #expect(result.findings == findings)
        #expect(result.has(Finding.Code("test.three")))
        #expect(result.has(Finding.Code("test.one"), data: ["n": "1"]))
        #expect(!result.has(Finding.Code("test.one"), data: ["n": "2"]))

        // report.json format 1 is unchanged: the keys of a check are those of before.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(result)) as? [String: Any]
        #expect(Set(json?.keys.map { $0 } ?? []) == ["check", "subject", "verdict", "message", "evidence", "seconds"])
        let decoded = try JSONDecoder().decode(CheckResult.self, from: JSONEncoder().encode(result))
        #expect(decoded.message == result.message && decoded.findings.isEmpty)
    }

    @Test func listDataRoundTrip() {
        let finding = Finding(Finding.Code("test.list"), data: ["paths": Finding.listValue(["a", "b c"])], message: "")
        #expect(finding.list("paths") == ["a", "b c"])
        #expect(finding.list("absent").isEmpty)
    }

    @Test func alreadyExistsPrintsAndMapsLikeIO() {
        let exists = RestoreDrillError.alreadyExists(path: "/s/x", message: "cannot create sandbox: already exists")
        let io = RestoreDrillError.io(path: "/s/x", message: "cannot create sandbox: already exists")
        #expect(exists.description == io.description)
        #expect(exists.exitStatus == io.exitStatus && exists.exitStatus == .runtime)
    }

    @Test func defaultsLiveOnTheConfigurationTypes() {
        let sandbox = RestoreDrillConfig.SandboxSettings(baseFolder: "/b")
        #expect(sandbox.folder == "/b/sandboxes")
        #expect(sandbox.timeout == 3600 && sandbox.keep == .onFailure && sandbox.isolation == .auto)
        let reports = RestoreDrillConfig.ReportSettings(baseFolder: "/b")
        #expect(reports.folder == "/b/reports" && reports.keep == 50)
        #expect(RestoreDrillConfig.CoverageSettings().maxShrink == 0.5)
        #expect(RestoreDrillConfig.SandboxSettings.defaultOutputCap == 8 << 20)
    }
}
