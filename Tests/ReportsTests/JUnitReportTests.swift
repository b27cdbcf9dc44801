import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Reports

/// The schema the JUnit report must satisfy (../shared/schemas/junit-10.xsd, from the worktree's
/// parent folder); overridable with `$JUNIT_XSD`.
let junitSchemaPath: String = {
    if let p = ProcessInfo.processInfo.environment["JUNIT_XSD"], !p.isEmpty { return p }
    let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    return package.deletingLastPathComponent().appendingPathComponent("shared/schemas/junit-10.xsd").path
}()

/// What junitparser read from a JUnit file (see `junitparserScript`).
struct ParsedJUnit: Decodable {
    struct Suite: Decodable {
        var name: String
        var tests: Int
        var failures: Int
        var errors: Int
        var skipped: Int
        var counted: [String: Int]
        var properties: [String: String]
        var cases: [Case]
    }
    struct Case: Decodable {
        var classname: String
        var name: String
        var time: Double
        var kinds: [String]
        var messages: [String?]
        var systemOut: String?

        enum CodingKeys: String, CodingKey {
            case classname, name, time, kinds, messages
            case systemOut = "system_out"
        }
    }
    var suites: [Suite]
}

/// Reads a JUnit file with junitparser and prints what it saw as JSON. Exit 3 when junitparser is
/// not installed, so the test can say so.
let junitparserScript = """
    import json, sys
    try:
        from junitparser import JUnitXml, TestSuite, Failure, Error, Skipped
    except ImportError as e:
        print("junitparser is not installed: install the Debian package python3-junitparser (CI installs it): %s" % e, file=sys.stderr)
        sys.exit(3)
    xml = JUnitXml.fromfile(sys.argv[1])
    suites = [xml] if isinstance(xml, TestSuite) else list(xml)
    out = []
    for suite in suites:
        counted = {"failure": 0, "error": 0, "skipped": 0}
        cases = []
        for case in suite:
            kinds, messages = [], []
            for r in case.result:
                kind = "failure" if isinstance(r, Failure) else "error" if isinstance(r, Error) else "skipped" if isinstance(r, Skipped) else "other"
                counted[kind] = counted.get(kind, 0) + 1
                kinds.append(kind)
                messages.append(r.message)
            cases.append({"classname": case.classname, "name": case.name, "time": case.time,
                          "kinds": kinds, "messages": messages, "system_out": case.system_out})
        out.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                    "errors": suite.errors, "skipped": suite.skipped, "counted": counted,
                    "properties": {p.name: p.value for p in suite.properties()}, "cases": cases})
    print(json.dumps({"suites": out}))
    """

func parseWithJunitparser(_ xml: String) throws -> ParsedJUnit {
    let folder = try TempFolder()
    defer { folder.remove() }
    let file = try folder.write(xml, "junit.xml")
    let script = try folder.write(junitparserScript, "read.py")
    let outcome = try ExternalTool.run("/usr/bin/python3", [script, file], package: "python3 python3-junitparser")
    try #require(outcome.status == 0, "junitparser could not read the report: \(outcome.stderr)")
    return try JSONDecoder().decode(ParsedJUnit.self, from: Data(outcome.stdout.utf8))
}

func validateAgainstSchema(_ xml: String) throws -> ExternalTool.Outcome {
    try #require(
        FileManager.default.fileExists(atPath: junitSchemaPath),
        "the JUnit schema is missing at \(junitSchemaPath) (set JUNIT_XSD)")
    let folder = try TempFolder()
    defer { folder.remove() }
    let file = try folder.write(xml, "junit.xml")
    return try ExternalTool.run("xmllint", ["--noout", "--schema", junitSchemaPath, file], package: "libxml2-utils")
}

@Suite struct JUnitReportTests {
    @Test(.needsTool("xmllint", package: "libxml2-utils"))
    func hostileReportValidatesAgainstJenkinsSchema() throws {
        let xml = JUnitReport.render([Fixture.mixed(), Fixture.passing(), Fixture.allSkipped()])
        let outcome = try validateAgainstSchema(xml)
        #expect(outcome.status == 0, "xmllint rejected the report: \(outcome.stderr)")
        #expect(outcome.stderr.contains("validates"))
    }

    @Test(.needsTool("xmllint", package: "libxml2-utils"))
    func schemaValidationCatchesAnAttributeTheSchemaForbids() throws {
        // The validation above is only worth something if xmllint rejects what the XSD forbids.
        let xml = JUnitReport.render([Fixture.passing()])
            .replacingOccurrences(of: "<testsuites name=", with: "<testsuites skipped=\"1\" name=")
        let outcome = try validateAgainstSchema(xml)
        #expect(outcome.status != 0)
    }

    @Test(.needsTool("python3", package: "python3"))
    func junitparserReadsCountsClassnamesAndHostileNames() throws {
        let results = [Fixture.mixed(), Fixture.passing()]
        let parsed = try parseWithJunitparser(JUnitReport.render(results))
        try #require(parsed.suites.count == 2)
        for (suite, result) in zip(parsed.suites, results) {
            let fails = result.checks.filter { $0.verdict == .fail }.count
            let errors = result.checks.filter { $0.verdict == .error }.count
            let skips = result.checks.filter { $0.verdict == .skip }.count
            #expect(suite.tests == result.checks.count)
            #expect(suite.failures == fails)
            #expect(suite.errors == errors)
            #expect(suite.skipped == skips)
            #expect(suite.counted["failure"] == fails)
            #expect(suite.counted["error"] == errors)
            #expect(suite.counted["skipped"] == skips)
            #expect(suite.cases.map(\.classname) == result.checks.map(\.check.rawValue))
            #expect(suite.properties["backup_id"] == result.backupID?.description)
            #expect(suite.properties["isolation"] == result.isolation.rawValue)
            #expect(suite.properties["limits"] == (result.limits ?? ""))
            #expect(suite.properties["tool_version"] == "9.9.9-test")
            #expect(suite.properties["manifest_sha256"] == (result.manifestSHA256 ?? ""))
            for (c, check) in zip(suite.cases, result.checks) {
                let expectedKind: [String] =
                    switch check.verdict {
                    case .pass: []
                    case .fail: ["failure"]
                    case .error: ["error"]
                    case .skip: ["skipped"]
                    }
                #expect(c.kinds == expectedKind, "\(check.check.rawValue) \(check.subject)")
                #expect(abs(c.time - check.seconds) < 0.0006)
            }
        }
        let mixed = parsed.suites[0]
        #expect(mixed.properties["limits"] == "full")
        #expect(mixed.properties["rpo_seconds"] == "53418.250")
        #expect(mixed.properties["rto_seconds"] == "41.125")
        let tree = try #require(mixed.cases.first { $0.classname == "restore.tree" })
        #expect(tree.name == "claude/" + Fixture.hostileAsXML)
        #expect(tree.messages == ["missing: " + Fixture.hostileAsXML])
        // Each evidence entry one line: its newlines shown as `␊` (so a file name cannot start a
        // line of its own), as in the Markdown line form; U+FFFE read back as U+FFFD.
        #expect(
            tree.systemOut
                == "expected size 12\n"
                + Fixture.hostileAsMarkdownLine.replacingOccurrences(of: "\u{FFFE}", with: "\u{FFFD}"))
        let skip = try #require(mixed.cases.first { $0.classname == "credentials.vault" })
        #expect(skip.messages == ["vault not configured"])
        let error = try #require(mixed.cases.first { $0.classname == "db.integrity" && $0.kinds == ["error"] })
        #expect(error.name == "claude/data/locked.db")
        #expect(error.messages == ["cannot open: database is locked"])
        #expect(parsed.suites[1].properties["rto_seconds"] == "")
    }

    @Test(.needsTool("xmllint", package: "libxml2-utils"), .needsTool("python3", package: "python3"))
    func drillThatVerifiedNothingFailsInJUnitToo() throws {
        let result = Fixture.allSkipped()
        #expect(result.verdict == .fail)
        let xml = JUnitReport.render([result])
        #expect(try validateAgainstSchema(xml).status == 0)
        let suite = try #require(try parseWithJunitparser(xml).suites.first)
        #expect(suite.failures == 1)
        #expect(suite.skipped == 1)
        #expect(suite.tests == 2)
        let verdictCase = try #require(suite.cases.last)
        #expect(verdictCase.classname == JUnitReport.verdictClassname)
        #expect(verdictCase.kinds == ["failure"])
        #expect(verdictCase.name == "/backups/odd set")
    }

    @Test func passingDrillHasNoVerdictCase() throws {
        let xml = JUnitReport.render([Fixture.passing()])
        #expect(!xml.contains(JUnitReport.verdictClassname))
        #expect(xml.contains("failures=\"0\""))
    }

    @Test(.needsTool("xmllint", package: "libxml2-utils"))
    func emptyListIsAValidEmptyDocument() throws {
        let xml = JUnitReport.render([])
        #expect(xml.contains("<testsuites") && xml.contains("tests=\"0\""))
        #expect(try validateAgainstSchema(xml).status == 0)
    }

    @Test func timesUseADotAndThreeDecimalsWhateverTheValue() {
        #expect(ReportText.decimal(12345.678) == "12345.678")
        #expect(ReportText.decimal(0.0005) == "0.001")
        #expect(ReportText.decimal(2) == "2.000")
        #expect(ReportText.decimal(.nan) == "0.000")
        #expect(ReportText.decimal(-.infinity) == "0.000")
        #expect(ReportText.decimal(-3) == "0.000")
        var r = Fixture.passing()
        r.checks[0].seconds = .infinity
        r.checks.append(CheckResult(check: .rto, subject: "x", verdict: .pass, message: "ok", seconds: -1))
        let xml = JUnitReport.render([r])
        #expect(xml.contains("time=\"0.000\""))
        #expect(!xml.contains("inf") && !xml.contains("nan") && !xml.contains("time=\"-"))
    }

    @Test func textCannotCloseMarkupOrSmuggleIllegalCharacters() {
        let escaped = JUnitReport.text("]]></system-out><x a='1'>\u{0}\u{1B}\r")
        #expect(escaped == "]]&gt;&lt;/system-out&gt;&lt;x a='1'&gt;\u{2400}\u{241B}&#13;")
        let attribute = JUnitReport.attributeValue("\"'<&>\t\n\r\u{FFFF}")
        #expect(attribute == "&quot;&apos;&lt;&amp;&gt;&#9;&#10;&#13;\u{FFFD}")
    }
}
