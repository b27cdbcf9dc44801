import DrillCore
import Foundation
import Testing

@testable import Reports

/// Golden reports under Tests/ReportsTests/Snapshots. Re-record after an intended change with
/// `RECORD_SNAPSHOTS=1 swift test --filter ReportsTests`, then review the diff.
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

    @Test func renderingIsDeterministic() throws {
        #expect(MarkdownReport.render(Fixture.mixed()) == MarkdownReport.render(Fixture.mixed()))
        #expect(JUnitReport.render([Fixture.mixed()]) == JUnitReport.render([Fixture.mixed()]))
        #expect(try JSONReport.render(Fixture.mixed()) == (try JSONReport.render(Fixture.mixed())))
    }
}
