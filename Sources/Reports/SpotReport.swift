import DrillCore
import Foundation

/// The reports of `restore-drill spot` (docs/SPOT.md): `junit.xml`, `report.md`, `report.json` in
/// `<reports>/spot_YYYYMMDD_HHMMSS/`, shaped like a drill's.
///
/// JUnit: one `<testsuite name="spot_… of full_…">` with `<properties>` (backup_id, set_path,
/// set_started_at, seed, sample_size, all, sampled, files_on_disk, files_in_set, count_tolerance,
/// size_tolerance, tool_version, spot_id, verdict, report_folder) and one `<testcase
/// classname="spot.CHECK" name="SUBJECT">` per result, using only what ../shared/schemas/junit-10.xsd
/// allows (as ``JUnitReport``). JSON: ``SpotResult``'s encoding (`restore-drill/spot-report`,
/// format_version 1), keys sorted, pretty-printed. Markdown: the set, the seed, a table per check,
/// the problems, and the sampled files.
public enum SpotReport {
    /// Renders `result` as a complete JUnit XML document ending in a newline.
    public static func junit(_ result: SpotResult) -> String {
        let cases = result.checks.map {
            JUnitReport.Case(
                classname: $0.check.rawValue, name: $0.subject, verdict: $0.verdict, message: $0.message,
                evidence: $0.evidence, seconds: $0.seconds)
        }
        func count(_ v: Verdict) -> Int { cases.filter { $0.verdict == v }.count }
        let seconds =
            ReportText.elapsed(from: result.startedAt, to: result.finishedAt)
            ?? result.checks.reduce(0) { $0 + ($1.seconds.isFinite && $1.seconds > 0 ? $1.seconds : 0) }
        let a = JUnitReport.attribute
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"
        out += a("name", "restore-drill") + a("tests", String(cases.count)) + a("failures", String(count(.fail)))
        out += a("errors", String(count(.error))) + a("time", ReportText.decimal(seconds)) + ">\n"
        out += "  <testsuite" + a("name", "\(result.spotID) of \(result.backupID)") + a("tests", String(cases.count))
        out += a("failures", String(count(.fail))) + a("errors", String(count(.error)))
        out += a("skipped", String(count(.skip))) + a("time", ReportText.decimal(seconds))
        out += a("timestamp", result.startedAt) + a("hostname", result.host) + a("id", "0")
        out += a("package", ToolInfo.name) + ">\n    <properties>\n"
        let properties: [(String, String)] = [
            ("backup_id", result.backupID.description), ("set_path", result.setPath),
            ("set_started_at", result.setStartedAt), ("seed", String(result.seed)),
            ("sample_size", String(result.sampleSize)), ("all", result.all ? "true" : "false"),
            ("sampled", result.sampled.joined(separator: "\n")), ("files_on_disk", String(result.filesOnDisk)),
            ("files_in_set", String(result.filesInSet)), ("count_tolerance", String(result.countTolerance)),
            ("size_tolerance", String(result.sizeTolerance)), ("tool_version", result.toolVersion),
            ("spot_id", result.spotID), ("verdict", result.verdict.rawValue),
            ("report_folder", result.reportFolder ?? ""),
        ]
        for (name, value) in properties {
            out += "      <property" + a("name", name) + a("value", value) + "/>\n"
        }
        out += "    </properties>\n"
        // The suite renders test cases exactly as a drill's (JUnitReport.Suite.testcase).
        let renderer = JUnitReport.Suite(result: Self.emptyDrill, index: 0)
        for c in cases { out += renderer.testcase(c) }
        let summary = [
            "verdict: \(result.verdict.rawValue)", "spot: \(result.spotID)", "set: \(result.setPath)",
            "seed: \(result.seed)", "sampled: \(result.sampled.count) files", "started: \(result.startedAt)",
            "finished: \(result.finishedAt)",
        ].joined(separator: "\n")
        out += "    <system-out>" + JUnitReport.text(summary) + "</system-out>\n"
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    /// A drill result with nothing in it: only to borrow ``JUnitReport``'s test-case rendering.
    static let emptyDrill = DrillResult(
        drillID: DrillID(date: Date(timeIntervalSince1970: 0)), backupID: nil, setPath: "",
        startedAt: Date(timeIntervalSince1970: 0), isolation: .none)

    /// Renders `result` as Markdown for people.
    public static func markdown(_ r: SpotResult) -> String {
        let code = MarkdownReport.code
        var out = ["# Spot check \(r.spotID): \(r.verdict == .pass ? "PASS" : "FAIL")", ""]
        out.append("- live workspace: root \(code(r.root, false)), home \(code(r.home, false))")
        out.append("- set: \(code(r.backupID.description, false)) (\(code(r.setPath, false))), began \(r.setStartedAt)")
        out.append(
            "- seed: \(r.seed) (`restore-drill spot --seed \(r.seed)"
                + (r.all ? " --all" : " --sample \(r.sampleSize)") + "` repeats this sample)")
        out.append("- code files: \(r.filesOnDisk) on disk, \(r.filesInSet) in the set")
        out.append(
            "- tolerances: counts \(Int((r.countTolerance * 100).rounded()))%, "
                + "bytes \(Int((r.sizeTolerance * 100).rounded()))%")
        out.append("- started \(r.startedAt), finished \(r.finishedAt), tool \(r.toolVersion) on \(r.host)")
        out += [
            "", "## Checks", "", "| check | result | subjects | pass | fail | skip | error |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for id in CheckID.spotCatalogue {
            let mine = r.checks.filter { $0.check == id }
            guard !mine.isEmpty else { continue }
            func n(_ v: Verdict) -> Int { mine.filter { $0.verdict == v }.count }
            let result = n(.fail) > 0 ? "FAIL" : n(.error) > 0 ? "ERROR" : n(.pass) > 0 ? "pass" : "skip"
            out.append(
                "| \(id.rawValue) | \(result) | \(mine.count) | \(n(.pass)) | \(n(.fail)) | \(n(.skip)) | \(n(.error)) |"
            )
        }
        out += ["", "## Findings", ""]
        if r.problems.isEmpty { out.append("None.") }
        for c in r.problems {
            out.append("- **\(c.check.rawValue)** \(code(c.subject, false)): \(MarkdownReport.inline(c.message))")
        }
        out += ["", "## Sampled files", ""]
        if r.sampled.isEmpty { out.append("None.") }
        for path in r.sampled {
            let verdict = r.checks.first { $0.check == .spotSample && $0.subject == path }?.verdict.rawValue ?? "?"
            out.append("- \(code(path, false)): \(verdict)")
        }
        out.append("")
        return out.joined(separator: "\n")
    }

    /// Encodes `result` as the `report.json` document (UTF-8, ending in a newline).
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when it cannot be encoded (a NaN time).
    public static func json(_ result: SpotResult) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(result)
            data.append(0x0A)
            return data
        } catch {
            throw RestoreDrillError.runtime("report.json for \(result.spotID): cannot encode the spot result: \(error)")
        }
    }

    /// Writes `<folder>/{junit.xml,report.md,report.json}`, each atomically with mode 0600, making
    /// `folder` (0700). Each document is named with its own file name (never paired by position).
    /// - Returns: the paths written.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming what could not be written.
    @discardableResult
    public static func write(_ result: SpotResult, to folder: String) throws -> [String] {
        var result = result
        if result.reportFolder == nil { result.reportFolder = folder }
        let contents = [
            ("junit.xml", Data(junit(result).utf8)), ("report.md", Data(markdown(result).utf8)),
            ("report.json", try json(result)),
        ]
        return try ReportWriter.writePrivate(contents, to: folder)
    }
}
