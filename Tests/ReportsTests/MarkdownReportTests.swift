import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Reports

/// What cmark-gfm's HTML holds, read with Python's html.parser (see `htmlScript`).
struct RenderedMarkdown: Decodable {
    /// Per table, per row, the text of each cell.
    var tables: [[[String]]]
    /// Each heading as [tag, text].
    var headings: [[String]]
    /// The text of each `<pre>` block.
    var pres: [String]
    /// Tags that are not part of what the report writes (raw HTML that got through).
    var unexpectedTags: [String]

    enum CodingKeys: String, CodingKey {
        case tables, headings, pres
        case unexpectedTags = "unexpected_tags"
    }
}

let htmlScript = """
    import json, sys
    from html.parser import HTMLParser
    ALLOWED = {"table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "p", "ul", "li", "strong",
               "em", "code", "pre", "a"}
    class Reader(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.tables, self.headings, self.pres, self.unexpected = [], [], [], []
            self.row = self.cell = self.heading = self.pre = None
        def handle_starttag(self, tag, attrs):
            if tag not in ALLOWED: self.unexpected.append(tag)
            if tag == "table": self.tables.append([])
            elif tag == "tr": self.row = []
            elif tag in ("td", "th"): self.cell = ""
            elif tag in ("h1", "h2", "h3"): self.heading = [tag, ""]
            elif tag == "pre": self.pre = ""
        def handle_endtag(self, tag):
            if tag in ("td", "th"): self.row.append(self.cell); self.cell = None
            elif tag == "tr": self.tables[-1].append(self.row); self.row = None
            elif tag in ("h1", "h2", "h3") and self.heading: self.headings.append(self.heading); self.heading = None
            elif tag == "pre": self.pres.append(self.pre); self.pre = None
        def handle_data(self, data):
            if self.cell is not None: self.cell += data
            if self.heading is not None: self.heading[1] += data
            if self.pre is not None: self.pre += data
    reader = Reader()
    reader.feed(open(sys.argv[1], encoding="utf-8").read())
    print(json.dumps({"tables": reader.tables, "headings": reader.headings, "pres": reader.pres,
                      "unexpected_tags": reader.unexpected}))
    """

/// Renders `markdown` with `cmark-gfm -e table` and reads the HTML back.
func renderWithCmark(_ markdown: String) throws -> RenderedMarkdown {
    let folder = try TempFolder()
    defer { folder.remove() }
    let md = try folder.write(markdown, "report.md")
    let html = try ExternalTool.run("cmark-gfm", ["-e", "table", md], package: "cmark-gfm")
    try #require(html.status == 0, "cmark-gfm failed: \(html.stderr)")
    let htmlFile = try folder.write(html.stdout, "report.html")
    let script = try folder.write(htmlScript, "read.py")
    let read = try ExternalTool.run("/usr/bin/python3", [script, htmlFile], package: "python3")
    try #require(read.status == 0, "could not read cmark-gfm's HTML: \(read.stderr)")
    return try JSONDecoder().decode(RenderedMarkdown.self, from: Data(read.stdout.utf8))
}

@Suite struct MarkdownReportTests {
    @Test func verdictComesFirst() {
        let fail = MarkdownReport.render(Fixture.mixed())
        #expect(fail.hasPrefix("# FAIL: restore drill drill_20251020_175019 of `full_20251020_030001`\n"))
        let pass = MarkdownReport.render(Fixture.passing())
        #expect(pass.hasPrefix("# PASS: "))
        let nothing = MarkdownReport.render(Fixture.allSkipped())
        #expect(nothing.hasPrefix("# FAIL: "))
        #expect(nothing.contains("no check passed"))
    }

    @Test(.needsTool("cmark-gfm", package: "cmark-gfm"), .needsTool("python3", package: "python3"))
    func cmarkRendersTheChecksTableIntactWithHostileStrings() throws {
        let result = Fixture.mixed()
        let html = try renderWithCmark(MarkdownReport.render(result))
        #expect(html.unexpectedTags.isEmpty, "raw HTML got through: \(html.unexpectedTags)")
        try #require(html.tables.count == 1)
        let table = html.tables[0]
        let present = Set(result.checks.map(\.check))
        #expect(table.count == 1 + present.count)
        #expect(table.allSatisfy { $0.count == 8 }, "a row has a different number of cells: \(table)")
        #expect(table.dropFirst().map { $0[0] } == CheckID.allCases.filter(present.contains).map(\.rawValue))
        for row in table.dropFirst() {
            let id = try #require(CheckID(rawValue: row[0]))
            let counts = result.counts(for: id)
            #expect(Int(row[2]) == counts.values.reduce(0, +))
            #expect(Int(row[3]) == counts[.pass] ?? 0)
            #expect(Int(row[4]) == counts[.fail] ?? 0)
            #expect(Int(row[5]) == counts[.skip] ?? 0)
            #expect(Int(row[6]) == counts[.error] ?? 0)
        }
        let treeRow = try #require(table.first { $0[0] == "restore.tree" })
        #expect(treeRow[1] == "FAIL")
        #expect(treeRow[7] == "claude/" + Fixture.hostileAsMarkdownLine)
        let integrityRow = try #require(table.first { $0[0] == "db.integrity" })
        #expect(integrityRow[1] == "ERROR")
        #expect(integrityRow[7] == "claude/data/locked.db")
    }

    @Test(.needsTool("cmark-gfm", package: "cmark-gfm"), .needsTool("python3", package: "python3"))
    func cmarkShowsEachFailureWithItsEvidence() throws {
        let result = Fixture.mixed()
        let html = try renderWithCmark(MarkdownReport.render(result))
        let problems = result.checks.filter { $0.verdict == .fail || $0.verdict == .error }
        let h3 = html.headings.filter { $0[0] == "h3" }.map { $0[1] }
        #expect(h3.count == problems.count)
        #expect(h3.contains("2. FAIL restore.tree: claude/" + Fixture.hostileAsMarkdownLine))
        #expect(html.pres.count == problems.filter { !$0.evidence.isEmpty }.count)
        // One line per evidence entry, even inside the fenced block.
        #expect(html.pres.contains("expected size 12\n" + Fixture.hostileAsMarkdownLine + "\n"))
        #expect(html.headings.first?[1].hasPrefix("FAIL: restore drill") == true)
        #expect(html.headings.map { $0[1] }.contains("Evidence"))
    }

    @Test(.needsTool("cmark-gfm", package: "cmark-gfm"), .needsTool("python3", package: "python3"))
    func cmarkKeepsTheMessageLiteral() throws {
        var result = Fixture.passing()
        result.checks.append(
            CheckResult(
                check: .restoreTree, subject: "x", verdict: .fail,
                message: "*not bold* [link](http://e.x) <script>alert(1)</script> `code` a|b \\ end"))
        let markdown = MarkdownReport.render(result)
        let folder = try TempFolder()
        defer { folder.remove() }
        let html = try ExternalTool.run(
            "cmark-gfm", ["-e", "table", try folder.write(markdown, "r.md")], package: "cmark-gfm")
        #expect(html.status == 0)
        #expect(
            html.stdout.contains(
                "*not bold* [link](http://e.x) &lt;script&gt;alert(1)&lt;/script&gt; `code` a|b \\ end"))
        #expect(!html.stdout.contains("<a href"))
    }

    /// The tools line is what the set's restore script wrote (`RESTORE_DRILL_TOOLS`): a hostile
    /// script's HTML, links, images and table pipes stay literal text.
    @Test(.needsTool("cmark-gfm", package: "cmark-gfm"))
    func aHostileToolsRecordStaysLiteralText() throws {
        var result = Fixture.passing()
        result.tools = [
            "sh": "<img src=x onerror=alert(1)>", "tar": "[x](javascript:alert(1))",
            "gzip": "![](http://evil.example/p.png)", "hash": "a|b", "openssl": "**bold** _em_ `code` <b>",
            "os": "Linux\nsecond", "arch": "x86_64",
        ]
        let markdown = MarkdownReport.render(result)
        let line = try #require(markdown.split(separator: "\n").first { $0.hasPrefix("- **Tools:** ") })
        #expect(
            line == "- **Tools:** sh=\\<img src=x onerror=alert(1)\\>; tar=\\[x\\](javascript:alert(1)); "
                + "gzip=\\!\\[\\](http://evil.example/p.png); hash=a\\|b; "
                + "openssl=\\*\\*bold\\*\\* \\_em\\_ \\`code\\` \\<b\\>; os=Linux\u{240A}second; arch=x86\\_64")
        let folder = try TempFolder()
        defer { folder.remove() }
        let html = try ExternalTool.run(
            "cmark-gfm", ["-e", "table", try folder.write(markdown, "r.md")], package: "cmark-gfm")
        #expect(html.status == 0)
        for tag in ["<img", "<a ", "<b>", "<strong>bold", "<em>"] {
            #expect(!html.stdout.contains(tag), "\(tag) in \(html.stdout)")
        }
        #expect(
            html.stdout.contains(
                "<li><strong>Tools:</strong> sh=&lt;img src=x onerror=alert(1)&gt;; tar=[x](javascript:alert(1)); "
                    + "gzip=![](http://evil.example/p.png); hash=a|b; openssl=**bold** _em_ `code` &lt;b&gt;; "
                    + "os=Linux\u{240A}second; arch=x86_64</li>"), "\(html.stdout)")
    }

    @Test func evidenceSectionNamesManifestToolHostAndSandbox() {
        let md = MarkdownReport.render(Fixture.mixed())
        #expect(md.contains("- **Manifest SHA-256:** `\(String(repeating: "ab", count: 32))`"))
        #expect(md.contains("- **Tool version:** `9.9.9-test`"))
        #expect(md.contains("- **Host:** `drill-host.example`"))
        #expect(md.contains("- **Sandbox:** `/work/sandboxes/drill_20251020_175019` (kept)"))
        #expect(md.contains("- **Isolation:** bubblewrap"))
        #expect(md.contains("- **RPO:** 14 h 50 m (53418.250 s); objective 1 d 0 h; check rpo: pass"))
        #expect(md.contains("- **Measured RTO:** 41.1 s (41.125 s); objective 30 m 00 s; check rto: pass"))
        #expect(md.contains("Not run: restore.archives, launchagents.lint."))
        #expect(md.contains("- **Limits:** full\n"))
        #expect(
            MarkdownReport.render(Fixture.unauthenticated()).contains(
                "- **Limits:** partial (memory cgroup, pids cgroup)\n"))
        let none = MarkdownReport.render(Fixture.passing())
        #expect(none.contains("- **Isolation:** none"))
        #expect(none.contains("- **Limits:** none (the restore script did not run)\n"))
        #expect(none.contains("not measured"))
    }

    @Test func codeSpansSurviveBackticksAndEdges() {
        #expect(MarkdownReport.code("a`b") == "``a`b``")
        #expect(MarkdownReport.code("`x`") == "`` `x` ``")
        #expect(MarkdownReport.code("") == "*(empty)*")
        #expect(MarkdownReport.code("a|b", inTable: true) == "`a\\|b`")
        #expect(MarkdownReport.code("a\nb\u{1B}") == "`a\u{240A}b\u{241B}`")
        #expect(MarkdownReport.fenced(["```", "x"]) == "````text\n```\nx\n````")
    }
}
