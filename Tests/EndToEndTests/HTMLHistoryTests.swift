import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 18, "A report people look at": 13 weeks of history made by running the tool with an
/// injected clock (`RESTORE_DRILL_NOW`) — a backup every Monday at 03:00 UTC and a drill every
/// Sunday at 05:00 (RPO objective 8 days), one of them of a damaged set — then `report html --since 90d`, rendered by
/// headless Chromium: the verdict and figures on top, the failure with its report folder before
/// the charts, one mark per ISO week of the window in each chart, and a screenshot of the
/// expected size that is not blank (kept in `reports/html-screenshots/history-90d.png`).
@Suite(.serialized) struct HTMLHistoryTests {
    static let start = Timestamp.date("2025-06-02T00:00:00Z")!  // a Monday

    static func at(day: Int, hour: Int) -> String {
        Timestamp.string(start.addingTimeInterval(Double(day) * 86400 + Double(hour) * 3600))
    }

    static func weeks(_ chart: String) -> [String] {
        chart.components(separatedBy: "<g class=\"mark\" data-week=\"").dropFirst().map {
            String($0.prefix { $0 != "\"" })
        }
    }

    @Test(.needsTool(Chromium.name, package: Chromium.package), .needsTool("python3", package: "python3"))
    func ninetyDaysOfHistoryRenderInChromium() throws {
        let scratch = try Tool.scratch("html")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let root = "\(scratch)/home/proj"
        try FileManager.default.createDirectory(atPath: "\(root)/src", withIntermediateDirectories: true)
        try Data("print('hello')\n".utf8).write(to: URL(fileURLWithPath: "\(root)/src/app.py"))
        try FileManager.default.createDirectory(atPath: "\(scratch)/backups", withIntermediateDirectories: true)
        let config = """
            home: \(scratch)/home
            root: \(root)
            destination: \(scratch)/backups
            set_format: 1
            launchagents: {include: []}
            dependencies: {python: [], homebrew: []}
            retention: {timezone: UTC}
            objectives: {rpo: 8d, rto: 30m}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(scratch)/restore-drill.yml"))

        let damagedSunday = 34  // 2025-07-06, ISO week 2025-W27
        var drills: [Int: Int32] = [:]
        for week in 0..<13 {
            let monday = week * 7
            let b = try Tool.run(
                ["backup"], in: scratch, environment: ["RESTORE_DRILL_NOW": Self.at(day: monday, hour: 3)])
            #expect(b.status == 0, "day \(monday): \(b.stderr)")
            let sunday = monday + 6
            if sunday == damagedSunday {
                let sets = try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/backups")
                    .filter { BackupID($0) != nil }.sorted()
                try SetSurgery.flipByte("\(scratch)/backups/\(sets.last!)/code.tar.gz")
            }
            let d = try Tool.run(
                ["drill", "--latest"], in: scratch, environment: ["RESTORE_DRILL_NOW": Self.at(day: sunday, hour: 5)])
            drills[sunday] = d.status
        }
        #expect(drills.filter { $0.value != 0 }.map(\.key) == [damagedSunday], "\(drills)")

        let out = "\(scratch)/history.html"
        let r = try Tool.run(
            ["report", "html", "--since", "90d", out], in: scratch,
            environment: ["RESTORE_DRILL_NOW": Self.at(day: 91, hour: 12)])
        #expect(r.status == 0, "\(r.stderr)")
        var info = stat()
        #expect(stat(out, &info) == 0 && info.st_mode & 0o777 == 0o600)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        let stdout = try Tool.run(
            ["report", "html", "--since", "90d", "-"], in: scratch,
            environment: ["RESTORE_DRILL_NOW": Self.at(day: 91, hour: 12)])
        #expect(stdout.status == 0 && stdout.stdout == html, "- writes the same page to standard output")

        let page = try Chromium.render(html: html, name: "history-90d")
        let dom = page.dom
        // Verdict of the period: one backup a week misses the daily backup figure, so FAIL; the
        // last drill (2025-08-31) passed.
        #expect(dom.contains("<span class=\"word\">FAIL</span> restore drills"))
        #expect(dom.contains("2025-06-03 to 2025-08-31 ("))
        #expect(dom.contains("Last drill <code>drill_20250831_050000</code>"))
        #expect(dom.contains("12 of 90 days with a complete backup"))
        #expect(dom.contains("12 of 13 drills passed"))
        // The failed drill, once, with its report folder holding a report.html, before the charts.
        let failures = try #require(dom.range(of: "id=\"failures\""))
        let charts = try #require(dom.range(of: "id=\"charts\""))
        #expect(failures.lowerBound < charts.lowerBound)
        let failedRows = dom[failures.upperBound..<charts.lowerBound].components(separatedBy: "data-verdict=\"fail\"")
        #expect(failedRows.count == 2, "one failure")
        #expect(Chromium.count("drill_20250706_050000", in: String(dom[failures.upperBound..<charts.lowerBound])) >= 2)
        #expect(dom.contains("failed checks: "))
        let folder = try #require(
            html.components(separatedBy: "report folder ").dropFirst().first.map { String($0.prefix { $0 != "<" }) })
        #expect(folder.hasSuffix("drill_20250706_050000"))
        #expect(FileManager.default.fileExists(atPath: folder + "/report.html"))
        // Six charts, each with one mark per ISO week of the window (2025-W23 … 2025-W35).
        let expected = (23...35).map { "2025-W\($0)" }
        let figures = dom.components(separatedBy: "<figure id=\"chart-").dropFirst()
        #expect(figures.count == 6)
        for chart in figures {
            #expect(Self.weeks(chart) == expected, "\(chart.prefix(40))")
            #expect(chart.contains("<text class=\"axis-label\""))
        }
        let verdicts = try #require(figures.first)
        #expect(verdicts.contains("data-week=\"2025-W27\" data-passed=\"0\" data-failed=\"1\""))
        #expect(Chromium.count("data-passed=\"1\" data-failed=\"0\"", in: verdicts) == 12)
        // Pixels.
        #expect(page.image.signature)
        #expect(page.image.width == 1200 && page.image.height == 1600, "\(page.image)")
        #expect(page.image.distinctPixels > 8, "\(page.image)")
        #expect(page.image.probe == "cf222e", "\(page.image)")
    }
}
