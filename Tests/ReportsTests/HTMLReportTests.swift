import DrillCore
import Foundation
import Reports
import TestSupport
import Testing

/// `report.html` (``HTMLReport``) and the history page (``HTMLHistoryReport``): escaping with the
/// JUnit tests' hostile inputs, failures first, one chart mark per week, and the pages as headless
/// Chromium builds and draws them.
@Suite struct HTMLReportTests {
    /// A name long enough to overflow any column that does not wrap.
    static let longName = String(repeating: "very_long_directory_name_", count: 160) + "end.db"

    /// ``Fixture/mixed()`` plus a failure whose subject is ``longName`` and whose message tries to
    /// close a script and open one.
    static func hostile() -> DrillResult {
        var r = Fixture.mixed()
        r.checks.append(
            CheckResult(
                check: .dbIntegrity, subject: longName, verdict: .fail,
                message: "</script><script>alert('x')</script> & \"quoted\" <img src=x onerror=alert(1)>",
                evidence: ["</style><h1>owned</h1>"], seconds: 0.5))
        return r
    }

    /// `hostile` as text in the page: control characters as control pictures, U+FFFE as U+FFFD.
    static let hostileText = Fixture.hostileAsMarkdownLine.replacingOccurrences(of: "\u{FFFE}", with: "\u{FFFD}")

    static func verdictOrder(_ html: String) -> [String] {
        html.components(separatedBy: "data-verdict=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test func hostileStringsAreEscapedAsTextAndNothingElse() {
        let html = HTMLReport.render(Self.hostile())
        // Markup from the set never becomes markup.
        for raw in ["<b>", "</script>", "<script", "<img", "</style><h1>", "<h1>owned"] {
            #expect(!html.contains(raw), "\(raw)")
        }
        #expect(
            html.contains("&lt;/script&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"))
        // No control character but tab (kept as in the Markdown) and the newlines between elements.
        let controls = html.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F }
        #expect(controls.isEmpty, "\(controls.map(\.value))")
        #expect(!html.unicodeScalars.contains("\u{FFFE}"))
        // The hostile name, escaped, in the subject, the message and the evidence.
        let escaped = Self.hostileText.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
        #expect(Chromium.count("<code>claude/" + escaped + "</code>", in: html) == 1)
        #expect(Chromium.count("missing: " + escaped + "</div>", in: html) == 1)
        #expect(Chromium.count(escaped, in: html) == 3)
        // The content security policy, and long names wrap.
        #expect(
            html.contains(
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    + "style-src 'unsafe-inline'; img-src data:\">"))
        #expect(html.contains("overflow-wrap:anywhere") && html.contains("table-layout:fixed"))
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains(" src=\""))
    }

    @Test func checksAreOrderedFailErrorSkipPass() {
        let html = HTMLReport.render(Fixture.mixed())
        #expect(
            Self.verdictOrder(html) == [
                "fail", "fail", "error", "skip", "skip", "skip", "pass", "pass", "pass", "pass", "pass", "pass",
            ])
        // Within a verdict, the drill's order.
        let artifacts = html.range(of: "databases/store_03.db.chunk-0002")!.lowerBound
        let tree = html.range(of: "<code>claude/evil")!.lowerBound
        #expect(artifacts < tree)
        #expect(html.contains("<header class=\"verdict fail\" id=\"verdict\">"))
        #expect(html.contains("<span class=\"word\">FAIL</span>"))
    }

    @Test func passingDrillShowsPassFirst() {
        let html = HTMLReport.render(Fixture.passing())
        #expect(html.contains("<header class=\"verdict pass\" id=\"verdict\">"))
        #expect(html.contains("<span class=\"word\">PASS</span>"))
        #expect(Self.verdictOrder(html) == ["skip", "pass"])
        #expect(html.contains("<code>full_20251020_030001</code>"))
        #expect(html.hasPrefix("<!DOCTYPE html>\n") && html.hasSuffix("</html>\n"))
    }

    // MARK: - Chromium

    @Test(.needsTool(Chromium.name, package: Chromium.package), .needsTool("python3", package: "python3"))
    func failingDrillRendersInChromium() throws {
        let page = try Chromium.render(html: HTMLReport.render(Self.hostile()), name: "drill-fail")
        let dom = page.dom
        #expect(dom.contains("<span class=\"word\">FAIL</span>"))
        #expect(dom.contains("full_20251020_030001"))
        #expect(dom.contains("drill_20251020_175019"))
        // The failure text is text, once, as Chromium serialises text nodes.
        #expect(Chromium.count("missing: " + Chromium.serialised(Self.hostileText), in: dom) == 1)
        #expect(
            Chromium.count(
                Chromium.serialised("</script><script>alert('x')</script> & \"quoted\" <img src=x onerror=alert(1)>"),
                in: dom) == 1)
        #expect(
            !dom.contains("<b>") && !dom.contains("<img") && !dom.contains("<script") && !dom.contains("owned</h1>"))
        // Failures before passes, by position in the DOM.
        let order = Self.verdictOrder(dom)
        #expect(order.count == 13)
        let rank = ["fail": 0, "error": 1, "skip": 2, "pass": 3]
        #expect(order == order.sorted { rank[$0]! < rank[$1]! })
        #expect(order.first == "fail" && order.last == "pass")
        let firstPass = try #require(dom.range(of: "data-verdict=\"pass\""))
        let lastFail = try #require(dom.range(of: "data-verdict=\"fail\"", options: .backwards))
        #expect(lastFail.lowerBound < firstPass.lowerBound)
        // Pixels: the expected size, not blank, the banner red.
        #expect(page.image.signature)
        #expect(page.image.width == 1200 && page.image.height == 1600, "\(page.image)")
        #expect(page.image.distinctPixels > 8, "\(page.image)")
        #expect(page.image.probe == "cf222e", "\(page.image)")
    }

    @Test(.needsTool(Chromium.name, package: Chromium.package), .needsTool("python3", package: "python3"))
    func passingDrillRendersInChromium() throws {
        let page = try Chromium.render(html: HTMLReport.render(Fixture.passing()), name: "drill-pass")
        #expect(page.dom.contains("<span class=\"word\">PASS</span>"))
        #expect(page.dom.contains("full_20251020_030001"))
        #expect(Self.verdictOrder(page.dom) == ["skip", "pass"])
        #expect(page.image.signature)
        #expect(page.image.width == 1200 && page.image.height == 1600, "\(page.image)")
        #expect(page.image.distinctPixels > 8, "\(page.image)")
        #expect(page.image.probe == "1a7f37", "\(page.image)")
    }

    // MARK: - History page

    static func week(_ n: Int, passed: Int, failed: Int) -> HistoryPage.Week {
        HistoryPage.Week(
            week: "2025-W\(23 + n)", firstDay: "d\(n)", lastDay: "e\(n)", drillsPassed: passed, drillsFailed: failed,
            maxRTOSeconds: passed + failed > 0 ? Double(60 + n) : nil, maxRPOSeconds: Double(80_000 + n * 1000),
            largestSetBytes: 1_000 + Int64(n), destinationBytes: 5_000 * Int64(n + 1), backupAgeSeconds: 3600)
    }

    static func historyPage() -> HistoryPage {
        HistoryPage(
            generatedAt: "2025-09-01T12:00:00.000Z", destination: "/backups/<dest>", firstDay: "2025-06-03",
            lastDay: "2025-08-31", timeZone: "UTC", rpoObjectiveSeconds: 86_400, rtoObjectiveSeconds: 1_800,
            lastDrill: HistoryPage.LastDrill(
                drillID: "drill_20250831_050000", backupID: "full_20250831_030000", time: "2025-08-31T05:00:01.000Z",
                passed: true, reportFolder: "/r/drill_20250831_050000"),
            figures: [HistoryPage.Figure(label: "Weekly drill", value: "12 of 13 whole weeks", ok: false)],
            failures: [
                HistoryPage.Failure(
                    time: "2025-06-22T05:00:01.000Z", kind: "drill", status: "fail", subject: "drill_20250622_050000",
                    text: "failed checks: " + Fixture.hostile, reportFolder: "/r/drill_20250622_050000", event: "e1")
            ],
            weeks: (0..<13).map { week($0, passed: $0 == 3 ? 0 : 1, failed: $0 == 3 ? 1 : 0) },
            sets: [HistoryPage.SetRow(id: "full_20250831_030000", status: "complete", finishedAt: "t", sizeBytes: 42)])
    }

    @Test func historyPageHasOneMarkPerWeekInEveryChart() throws {
        let html = HTMLHistoryReport.render(Self.historyPage())
        let charts = html.components(separatedBy: "<figure id=\"chart-").dropFirst()
        #expect(
            charts.map { String($0.prefix { $0 != "\"" }) } == [
                "verdicts", "rto", "rpo", "set-bytes", "destination-bytes", "backup-age",
            ])
        for chart in charts {
            let weeks = chart.components(separatedBy: "<g class=\"mark\" data-week=\"").dropFirst()
                .map { String($0.prefix { $0 != "\"" }) }
            #expect(weeks == (0..<13).map { "2025-W\(23 + $0)" })
            #expect(chart.contains("<text class=\"axis-label\""))
        }
        // The failed week's bar, the objective lines, the verdict (a missed figure fails the page).
        #expect(html.contains("data-week=\"2025-W26\" data-passed=\"0\" data-failed=\"1\""))
        #expect(Chromium.count("class=\"objective\"", in: html) == 3)
        #expect(html.contains("<header class=\"verdict fail\" id=\"verdict\">"))
        #expect(html.contains("/backups/&lt;dest&gt;"))
        #expect(!html.contains("<b>"))
        let failures = try #require(html.range(of: "id=\"failures\""))
        let charts0 = try #require(html.range(of: "id=\"charts\""))
        #expect(failures.lowerBound < charts0.lowerBound)
    }
}
