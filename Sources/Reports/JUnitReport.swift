import DrillCore
import Foundation

/// The JUnit XML rendering of drills (`junit.xml`), for CI systems (Jenkins, GitLab
/// `artifacts:reports:junit`, GitHub test reporters).
///
/// Shape (docs/ARCHITECTURE.md, "Reports and metrics"), using only the elements and attributes of the Jenkins
/// xUnit schema `junit-10.xsd` (../shared/schemas/junit-10.xsd):
/// ```xml
/// <testsuites name="restore-drill" tests="…" failures="…" errors="…" time="…">
///   <testsuite name="drill_… of full_…" tests failures errors skipped time timestamp hostname id package>
///     <properties> backup_id, manifest_sha256, isolation, limits, authenticated, rpo_seconds, rto_seconds,
///                  tool_version, drill_id, verdict, rpo_objective_seconds, rto_objective_seconds, set_path,
///                  sandbox_path, sandbox_kept, report_folder, tools; for a drill of an off-site copy also
///                  copy, remote, remote_path, fetch_seconds, fetched_bytes; for a drill of some parts
///                  (issue 17) also parts_restored ("N of M") </properties>
///     <testcase classname="CHECK-ID" name="SUBJECT" time="…">
///       <failure type="CHECK-ID" message="…">what failed, where</failure>   (fail)
///       <error type="CHECK-ID" message="…">…</error>                         (error)
///       <skipped message="reason"/>                                          (skip)
///       <system-out>evidence, one line each</system-out>
///     </testcase>
///     <system-out>drill summary</system-out>
///   </testsuite>
/// </testsuites>
/// ```
/// - `testsuites` carries no `skipped` attribute: the schema does not allow one there.
/// - `id` is the 0-based position of the suite (the Ant/surefire convention); `package` is
///   `restore-drill`; `timestamp` is the drill's recorded start (UTC ISO 8601).
/// - Times are seconds with a dot and three decimals, whatever the locale.
/// - A property whose value is unknown (no manifest digest, replay did not run) has `value=""`.
/// - `limits` is `full`, or `partial (NAMES)` naming the replay limits not applied (`memory cgroup`,
///   `pids cgroup`, `shm cap`, `byte bound`, `seccomp`); `""` when the restore script did not run.
/// - `tools` is what the replay ran with as the set's script recorded it (``ToolsRecord/compact(_:)``,
///   `sh=dash; tar=tar (GNU tar) 1.34; …`); `""` when the script recorded nothing (an older set).
/// - `authenticated` is `true` only when the manifest HMAC verified with the vault password;
///   `false` when it did not, or when no password was configured (nothing can be authenticated).
/// - A drill whose verdict is `fail` although no check failed or errored (every check skipped,
///   or none ran) gets one extra `<testcase classname="drill.verdict">` with a `<failure>`, so a CI
///   gate reading the file agrees with the tool's exit code: a drill that verified nothing fails.
/// - Text from the backup set is escaped; characters XML 1.0 forbids (§2.2 `Char`: C0 controls
///   other than tab, LF, CR; U+FFFE, U+FFFF) become visible stand-ins (`␛` for ESC, U+FFFD for the
///   non-characters), so a hostile file name cannot make the file invalid. Tab, LF and CR inside
///   attributes are written as character references so parsers keep them.
public enum JUnitReport {
    /// The classname of the extra test case added when a drill verified nothing.
    public static let verdictClassname = "drill.verdict"

    /// Renders drills as one `<testsuites>` document with one `<testsuite>` per drill, in order.
    /// - Parameter results: the drills; an empty list gives an empty `<testsuites>`.
    /// - Returns: a complete UTF-8 XML document ending in a newline.
    public static func render(_ results: [DrillResult]) -> String {
        let suites = results.enumerated().map { Suite(result: $0.element, index: $0.offset) }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites"
        out += attribute("name", "restore-drill")
        out += attribute("tests", String(suites.reduce(0) { $0 + $1.cases.count }))
        out += attribute("failures", String(suites.reduce(0) { $0 + $1.count(.fail) }))
        out += attribute("errors", String(suites.reduce(0) { $0 + $1.count(.error) }))
        out += attribute("time", ReportText.decimal(suites.reduce(0) { $0 + $1.seconds }))
        out += suites.isEmpty ? "/>\n" : ">\n"
        guard !suites.isEmpty else { return out }
        for suite in suites { out += suite.xml() }
        out += "</testsuites>\n"
        return out
    }

    /// One test case before rendering: a check result or the synthetic verdict case.
    struct Case {
        var classname: String
        var name: String
        var verdict: Verdict
        var message: String
        var evidence: [String]
        var seconds: Double
    }

    /// One drill as a test suite.
    struct Suite {
        let result: DrillResult
        let index: Int
        let cases: [Case]

        init(result: DrillResult, index: Int) {
            self.result = result
            self.index = index
            var cases = result.checks.map {
                Case(
                    classname: $0.check.rawValue, name: $0.subject, verdict: $0.verdict, message: $0.message,
                    evidence: $0.evidence, seconds: $0.seconds)
            }
            let failedOrErrored = !result.checks.problems.isEmpty
            if result.verdict == .fail && !failedOrErrored {
                let message =
                    result.checks.isEmpty
                    ? "no check ran: a drill that verified nothing fails"
                    : "no check passed (\(result.checks.count) skipped): a drill that verified nothing fails"
                cases.append(
                    Case(
                        classname: JUnitReport.verdictClassname, name: result.backupID?.description ?? result.setPath,
                        verdict: .fail, message: message, evidence: [], seconds: 0))
            }
            self.cases = cases
        }

        func count(_ verdict: Verdict) -> Int { cases.filter { $0.verdict == verdict }.count }

        /// Drill wall time: finished − started when both parse, else the sum of the checks' times.
        var seconds: Double {
            ReportText.elapsed(from: result.startedAt, to: result.finishedAt)
                ?? result.checks.reduce(0) { $0 + ($1.seconds.isFinite && $1.seconds > 0 ? $1.seconds : 0) }
        }

        func xml() -> String {
            let r = result
            let setName = r.backupID?.description ?? r.setPath
            var out = "  <testsuite"
            out += attribute("name", "\(r.drillID) of \(setName)")
            out += attribute("tests", String(cases.count))
            out += attribute("failures", String(count(.fail)))
            out += attribute("errors", String(count(.error)))
            out += attribute("skipped", String(count(.skip)))
            out += attribute("time", ReportText.decimal(seconds))
            out += attribute("timestamp", r.startedAt)
            out += attribute("hostname", r.host)
            out += attribute("id", String(index))
            out += attribute("package", ToolInfo.name)
            out += ">\n"
            out += "    <properties>\n"
            for (name, value) in properties {
                out += "      <property" + attribute("name", name) + attribute("value", value) + "/>\n"
            }
            out += "    </properties>\n"
            for c in cases { out += testcase(c) }
            out += "    <system-out>" + JUnitReport.text(summary) + "</system-out>\n"
            out += "  </testsuite>\n"
            return out
        }

        var properties: [(String, String)] {
            let r = result
            func seconds(_ s: Double?) -> String { s.map { ReportText.decimal($0) } ?? "" }
            // Only a drill of an off-site copy has these (a local drill's properties are unchanged).
            let copy: [(String, String)] =
                r.copy.map {
                    [
                        ("copy", $0.kind), ("remote", $0.remote), ("remote_path", $0.remotePath),
                        ("fetch_seconds", seconds($0.fetchSeconds)), ("fetched_bytes", String($0.fetchedBytes)),
                    ]
                } ?? []
            return [
                ("backup_id", r.backupID?.description ?? ""),
                ("manifest_sha256", r.manifestSHA256 ?? ""),
                ("isolation", r.isolation.rawValue),
                ("limits", r.limits ?? ""),
                ("authenticated", r.authenticated == true ? "true" : "false"),
                ("rpo_seconds", seconds(r.rpoSeconds)),
                ("rto_seconds", seconds(r.rtoSeconds)),
                ("tool_version", r.toolVersion),
                ("drill_id", r.drillID.description),
                ("verdict", r.verdict.rawValue),
                ("rpo_objective_seconds", seconds(r.rpoObjectiveSeconds)),
                ("rto_objective_seconds", seconds(r.rtoObjectiveSeconds)),
                ("set_path", r.setPath),
                ("sandbox_path", r.sandboxPath ?? ""),
                ("sandbox_kept", r.sandboxKept ? "true" : "false"),
                ("report_folder", r.reportFolder ?? ""),
                ("tools", r.tools.map(ToolsRecord.compact) ?? ""),
            ] + copy + (r.sampled ? [("parts_restored", r.partsLine ?? "")] : [])
        }

        /// The suite's system-out: what was drilled, where it ran, and the verdict.
        var summary: String {
            let r = result
            var lines = [
                "verdict: \(r.verdict.rawValue)",
                "drill: \(r.drillID)",
                "set: \(r.setPath)",
                "isolation: \(r.isolation.rawValue)",
                "limits: " + (r.limits ?? ReportText.limitsUnknown),
                "authenticated: " + ReportText.authenticated(r.authenticated),
                "started: \(r.startedAt)",
                "finished: \(r.finishedAt)",
            ]
            if let copy = r.copy {
                lines.insert("copy: \(copy.text)", at: 3)
                lines.insert(
                    "download: \(ReportText.decimal(copy.fetchSeconds)) s, \(copy.fetchedBytes) bytes "
                        + "(inside the measured RTO)", at: 4)
            }
            if let sandbox = r.sandboxPath {
                lines.append("sandbox: \(sandbox) (\(r.sandboxKept ? "kept" : "removed"))")
            }
            if let folder = r.reportFolder { lines.append("reports: \(folder)") }
            return lines.joined(separator: "\n")
        }

        func testcase(_ c: Case) -> String {
            var out = "    <testcase"
            out += attribute("classname", c.classname)
            out += attribute("name", c.name)
            out += attribute("time", ReportText.decimal(c.seconds))
            // One line per evidence entry: a newline inside one (a hostile file name) is shown as
            // `␊`, so it cannot start a line of its own.
            let evidence = c.evidence.map { ReportText.visible($0, keepNewlines: false) }.joined(separator: "\n")
            if c.verdict == .pass && evidence.isEmpty { return out + "/>\n" }
            out += ">\n"
            switch c.verdict {
            case .pass: break
            case .fail, .error:
                let element = c.verdict == .fail ? "failure" : "error"
                let what = c.verdict == .fail ? "failed" : "could not run"
                out += "      <\(element)" + attribute("type", c.classname) + attribute("message", c.message) + ">"
                out += JUnitReport.text("\(c.classname) \(what) for \(c.name): \(c.message)")
                out += "</\(element)>\n"
            case .skip:
                out += "      <skipped" + attribute("message", c.message) + "/>\n"
            }
            if !evidence.isEmpty {
                out += "      <system-out>" + JUnitReport.text(evidence) + "</system-out>\n"
            }
            out += "    </testcase>\n"
            return out
        }
    }

    /// ` name="value"` with the value escaped for an attribute.
    static func attribute(_ name: String, _ value: String) -> String {
        " \(name)=\"\(attributeValue(value))\""
    }

    /// Escapes `text` for element content: `&`, `<`, `>` (so `]]>` cannot appear), CR as `&#13;`
    /// (parsers would turn a raw CR into LF), and characters XML 1.0 forbids replaced.
    static func text(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(legal(scalar))
            }
        }
        return out
    }

    /// Escapes `value` for a double-quoted attribute: also `"` and `'`, and tab, LF and CR as
    /// character references (attribute-value normalisation would turn raw ones into spaces).
    static func attributeValue(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t": out += "&#9;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(legal(scalar))
            }
        }
        return out
    }

    /// `scalar` when XML 1.0 allows it (§2.2: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD,
    /// U+10000–U+10FFFF), else its visible stand-in: the control picture for C0 controls,
    /// U+FFFD for U+FFFE and U+FFFF.
    static func legal(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return scalar
        case 0x00...0x1F: return ReportText.controlPicture(scalar)
        case 0xFFFE, 0xFFFF: return "\u{FFFD}"
        default: return scalar
        }
    }
}
