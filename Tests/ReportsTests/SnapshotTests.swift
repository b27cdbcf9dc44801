import DrillCore
import Foundation
import Testing

@testable import Reports

/// Golden reports under Tests/ReportsTests/Snapshots. Re-record after an intended change with
/// `RECORD_SNAPSHOTS=1 swift test --filter ReportsTests`, then review the diff.
///
/// The three `report*.json` files pin drill report format 1 in both directions (rendered byte for
/// byte, and the committed files decoded back to the fixtures): `report.json` every field present
/// (`authenticated` true, `limits` full, an off-site copy), `report-unauthenticated.json` `authenticated` false,
/// `limits` partial and the check ids the first lacks, `report-minimal.json` every optional field
/// absent (no `authenticated`, no `limits`, no `backup_id`).
@Suite struct SnapshotTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Snapshots").path
    static let recording = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"

    func assertSnapshot(_ actual: Data, named name: String) throws {
        let path = (Self.folder as NSString).appendingPathComponent(name)
        if Self.recording {
            try FileManager.default.createDirectory(atPath: Self.folder, withIntermediateDirectories: true)
            try actual.write(to: URL(fileURLWithPath: path))
            return
        }
        let expected = try #require(
            FileManager.default.contents(atPath: path),
            "snapshot \(name) is missing: record it with RECORD_SNAPSHOTS=1 swift test --filter ReportsTests")
        if expected != actual {
            let actualPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).actual").path
            try? actual.write(to: URL(fileURLWithPath: actualPath))
            Issue.record(
                "\(name) differs from its snapshot; see diff \(path) \(actualPath), re-record with RECORD_SNAPSHOTS=1")
        }
    }

    @Test func junitSnapshot() throws {
        try assertSnapshot(Data(JUnitReport.render([Fixture.mixed(), Fixture.passing()]).utf8), named: "junit.xml")
    }

    @Test func markdownSnapshot() throws {
        try assertSnapshot(Data(MarkdownReport.render(Fixture.mixed()).utf8), named: "report.md")
    }

    @Test func jsonSnapshot() throws {
        try assertSnapshot(try JSONReport.render(Fixture.mixed()), named: "report.json")
    }

    @Test func unauthenticatedJSONSnapshot() throws {
        try assertSnapshot(try JSONReport.render(Fixture.unauthenticated()), named: "report-unauthenticated.json")
    }

    @Test func minimalJSONSnapshot() throws {
        try assertSnapshot(try JSONReport.render(Fixture.allSkipped()), named: "report-minimal.json")
    }

    /// The committed file `name`, decoded with the real decoder and as a plain JSON object.
    func committedReport(_ name: String) throws -> (result: DrillResult, object: [String: Any]) {
        let path = (Self.folder as NSString).appendingPathComponent(name)
        let data = try #require(FileManager.default.contents(atPath: path), "snapshot \(name) is missing")
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (try JSONDecoder().decode(DrillResult.self, from: data), object)
    }

    @Test(arguments: [
        ("report.json", Fixture.mixed()), ("report-unauthenticated.json", Fixture.unauthenticated()),
        ("report-minimal.json", Fixture.allSkipped()),
    ])
    func committedJSONDecodesToItsFixture(name: String, fixture: DrillResult) throws {
        let (result, object) = try committedReport(name)
        #expect(result == fixture)
        #expect(object["format"] as? String == "restore-drill/drill-report")
        #expect(object["format_version"] as? Int == 1)
        #expect(object["verdict"] as? String == fixture.verdict.rawValue)
    }

    @Test func committedJSONHoldsAuthenticatedTrueFalseAndAbsent() throws {
        #expect(try committedReport("report.json").object["authenticated"] as? Bool == true)
        #expect(try committedReport("report.json").result.authenticated == true)
        #expect(try committedReport("report-unauthenticated.json").object["authenticated"] as? Bool == false)
        #expect(try committedReport("report-unauthenticated.json").result.authenticated == false)
        let minimal = try committedReport("report-minimal.json")
        #expect(minimal.object["authenticated"] == nil)
        #expect(minimal.result.authenticated == nil)
    }

    /// `limits` is `full`, `partial (NAMES)`, or absent when the restore script did not run.
    @Test func committedJSONHoldsLimitsFullPartialAndAbsent() throws {
        #expect(try committedReport("report.json").object["limits"] as? String == "full")
        #expect(
            try committedReport("report-unauthenticated.json").object["limits"] as? String
                == "partial (memory cgroup, pids cgroup)")
        let minimal = try committedReport("report-minimal.json")
        #expect(minimal.object["limits"] == nil && minimal.result.limits == nil)
    }

    /// Every key of report format 1 appears in `report.json`, and only the required ones in
    /// `report-minimal.json`; every check id and verdict appears in one of the committed files.
    @Test func committedJSONCoversEveryFieldCheckAndVerdict() throws {
        let all: Set<String> = [
            "authenticated", "backup_id", "checks", "drill_id", "finished_at", "format", "format_version", "host",
            "isolation", "limits", "manifest_sha256", "report_folder", "rpo_objective_seconds", "rpo_seconds",
            "rto_objective_seconds", "rto_seconds", "sandbox_kept", "sandbox_path", "set_path", "started_at",
            "tool_version", "verdict", "copy", "remote", "remote_path", "fetch_seconds", "fetched_bytes",
            "restored_parts", "parts_total", "sampled", "tools",
        ]
        let required: Set<String> = [
            "checks", "drill_id", "finished_at", "format", "format_version", "host", "isolation", "sandbox_kept",
            "set_path", "started_at", "tool_version", "verdict",
        ]
        let full = try committedReport("report.json")
        #expect(Set(full.object.keys) == all)
        // A new optional field of DrillResult that the full fixture leaves nil fails here.
        let unset = Mirror(reflecting: full.result).children.filter { child in
            let inner = Mirror(reflecting: child.value)
            return inner.displayStyle == .optional && inner.children.isEmpty
        }
        #expect(unset.map { $0.label ?? "?" } == [])
        let minimal = try committedReport("report-minimal.json")
        #expect(Set(minimal.object.keys) == required)
        let checks = try ["report.json", "report-unauthenticated.json", "report-minimal.json"].flatMap {
            try committedReport($0).result.checks
        }
        #expect(Set(checks.map(\.check)) == Set(CheckID.drillCatalogue))
        #expect(Set(checks.map(\.verdict)) == Set(Verdict.allCases))
        let check = try #require((full.object["checks"] as? [[String: Any]])?.first)
        #expect(Set(check.keys) == ["check", "evidence", "message", "seconds", "subject", "verdict"])
    }

    @Test func renderingIsDeterministic() throws {
        #expect(MarkdownReport.render(Fixture.mixed()) == MarkdownReport.render(Fixture.mixed()))
        #expect(JUnitReport.render([Fixture.mixed()]) == JUnitReport.render([Fixture.mixed()]))
        #expect(try JSONReport.render(Fixture.mixed()) == (try JSONReport.render(Fixture.mixed())))
    }
}
