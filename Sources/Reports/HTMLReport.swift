import DrillCore
import Foundation

/// The HTML rendering of one drill (`report.html`), for a person who opens it in a browser.
///
/// One self-contained file: inline CSS, no script, no network, no external fonts or images; a
/// Content-Security-Policy `<meta>` (`default-src 'none'; style-src 'unsafe-inline'; img-src data:`)
/// forbids everything else, so even a string that escaped escaping could not load or run anything.
///
/// Order: the verdict as a large coloured banner with its word (`PASS`/`FAIL`, never colour alone);
/// the set id, drill id, times, RPO and measured RTO against their objectives, isolation, limits
/// and authentication; the checks table, failures first (fail, then error, then skip, then pass;
/// catalogue order within a verdict), each row with its message and evidence; the evidence of the
/// run (manifest SHA-256, tool version, host, paths).
///
/// Escaping (``HTMLText/escape(_:)``): every string from a backup set is text content or a
/// quoted attribute value with `&`, `<`, `>`, `"` and `'` as character references, and control
/// characters shown as control pictures (``ReportText/visible(_:keepNewlines:)``), so `</script>`,
/// markup or an ANSI escape in a file name stays text. Long unbroken names wrap
/// (`overflow-wrap: anywhere`) instead of widening the page.
public enum HTMLReport {
    /// Renders `result` as a complete HTML5 document (UTF-8) ending in a newline.
    public static func render(_ result: DrillResult) -> String {
        let r = result
        let e = HTMLText.escape
        let pass = r.verdict == .pass
        let setName = r.backupID?.description ?? r.setPath
        var out: [String] = []
        out.append(
            HTMLText.head(title: "\(pass ? "PASS" : "FAIL"): restore drill \(r.drillID.description) of \(setName)"))
        out.append("<header class=\"verdict \(pass ? "pass" : "fail")\" id=\"verdict\">")
        out.append("<h1><span class=\"word\">\(pass ? "PASS" : "FAIL")</span> restore drill</h1>")
        out.append("<p>Drill <code>\(e(r.drillID.description))</code> of set <code>\(e(setName))</code></p>")
        out.append("</header>")

        var totals: [Verdict: Int] = [:]
        for c in r.checks { totals[c.verdict, default: 0] += 1 }
        out.append("<section id=\"summary\"><dl>")
        func row(_ label: String, _ html: String) { out.append("<dt>\(e(label))</dt><dd>\(html)</dd>") }
        row("Backup set", "<code>\(e(r.backupID?.description ?? "unknown"))</code>")
        row("Drill", "<code>\(e(r.drillID.description))</code>")
        row("Started", "<code>\(e(r.startedAt))</code>")
        row("Finished", "<code>\(e(r.finishedAt))</code>")
        row(
            "Subjects checked",
            e(
                "\(r.checks.count) (fail \(totals[.fail] ?? 0), error \(totals[.error] ?? 0), "
                    + "skip \(totals[.skip] ?? 0), pass \(totals[.pass] ?? 0))"))
        row("RPO", objective(r.rpoSeconds, objective: r.rpoObjectiveSeconds, check: .rpo, in: r))
        row("Measured RTO", objective(r.rtoSeconds, objective: r.rtoObjectiveSeconds, check: .rto, in: r))
        if let copy = r.copy {
            row(
                "Copy drilled",
                e(
                    "\(copy.text), fetched into the drill's staging folder; download "
                        + "\(ReportText.decimal(copy.fetchSeconds)) s, \(copy.fetchedBytes) bytes, inside the RTO"))
        }
        row("Isolation", e(MarkdownReport.isolationText(r.isolation)))
        row("Limits", e(r.limits ?? ReportText.limitsUnknown))
        row("Authenticated", e(ReportText.authenticated(r.authenticated)))
        if r.verdict == .fail && r.checks.problems.isEmpty {
            row("Why FAIL", "no check passed; a drill that verified nothing fails.")
        }
        out.append("</dl></section>")

        out.append("<section id=\"checks\"><h2>Checks, failures first</h2>")
        if r.checks.isEmpty {
            out.append("<p>No check ran.</p>")
        } else {
            out.append(
                "<table><colgroup><col class=\"c-result\"><col class=\"c-check\"><col class=\"c-subject\">"
                    + "<col class=\"c-message\"><col class=\"c-time\"></colgroup>")
            out.append(
                "<thead><tr><th>result</th><th>check</th><th>subject</th><th>message and evidence</th>"
                    + "<th>time (s)</th></tr></thead><tbody>")
            for c in ordered(r.checks) {
                let v = c.verdict.rawValue
                var cell = "<div class=\"message\">\(e(c.message))</div>"
                if !c.evidence.isEmpty {
                    cell += "<pre class=\"evidence\">\(c.evidence.map(e).joined(separator: "\n"))</pre>"
                }
                out.append(
                    "<tr class=\"check \(v)\" data-verdict=\"\(v)\"><td class=\"result\">\(v.uppercased())</td>"
                        + "<td><code>\(e(c.check.rawValue))</code></td><td><code>\(e(c.subject))</code></td>"
                        + "<td>\(cell)</td><td class=\"num\">\(ReportText.decimal(c.seconds))</td></tr>")
            }
            out.append("</tbody></table>")
        }
        let notRun = CheckID.allCases.filter { id in !r.checks.contains { $0.check == id } }
        if !notRun.isEmpty {
            out.append("<p>Not run: \(e(notRun.map(\.rawValue).joined(separator: ", "))).</p>")
        }
        out.append("</section>")

        out.append("<section id=\"evidence\"><h2>Evidence</h2><dl>")
        row("Manifest SHA-256", "<code>\(e(r.manifestSHA256 ?? "unknown (manifest unreadable)"))</code>")
        row("Tool version", "<code>\(e(r.toolVersion))</code>")
        row("Host", "<code>\(e(r.host))</code>")
        row("Set path", "<code>\(e(r.setPath))</code>")
        row(
            "Sandbox",
            r.sandboxPath.map { "<code>\(e($0))</code> (\(r.sandboxKept ? "kept" : "removed"))" } ?? "none")
        row("Report folder", r.reportFolder.map { "<code>\(e($0))</code>" } ?? "not written")
        out.append("</dl></section>")
        out.append("</body>\n</html>")
        return out.joined(separator: "\n") + "\n"
    }

    /// The checks in page order: fail, error, skip, pass; within a verdict, the drill's order.
    /// - Parameter checks: a drill's results.
    /// - Returns: the same results, reordered (stable).
    package static func ordered(_ checks: [CheckResult]) -> [CheckResult] {
        let rank: [Verdict: Int] = [.fail: 0, .error: 1, .skip: 2, .pass: 3]
        return checks.enumerated().sorted {
            (rank[$0.element.verdict]!, $0.offset) < (rank[$1.element.verdict]!, $1.offset)
        }.map(\.element)
    }

    /// The RPO or RTO line with its objective and check verdicts, escaped; the value is marked
    /// `over` when it exceeds the objective.
    static func objective(_ value: Double?, objective: Double?, check: CheckID, in r: DrillResult) -> String {
        let text = HTMLText.escape(MarkdownReport.objectiveLine(value, objective: objective, check: check, in: r))
        if let v = value, let o = objective, v.isFinite, o.isFinite, v > o {
            return "<span class=\"over\">\(text)</span>"
        }
        return text
    }
}

/// HTML escaping and the shared page head of ``HTMLReport`` and ``HTMLHistoryReport``.
package enum HTMLText {
    /// The Content-Security-Policy every page carries: nothing may load but inline styles and
    /// `data:` images.
    package static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

    /// `text` as HTML text or a quoted attribute value: C0 controls and DEL as control pictures
    /// (``ReportText/visible(_:keepNewlines:)``, newlines too), C1 controls (U+0080–U+009F) as
    /// `\u{85}`-style text, non-characters U+FFFE and U+FFFF as U+FFFD, and `&`, `<`, `>`, `"`,
    /// `'` as character references.
    /// - Parameter text: any text, often from a backup set (hostile).
    /// - Returns: text safe in an element's content or a quoted attribute.
    package static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in ReportText.visible(text, keepNewlines: false).unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\u{80}"..."\u{9F}": out += "\\u{\(String(scalar.value, radix: 16))}"
            case "\u{FFFE}", "\u{FFFF}": out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The document up to and including `<body>`: doctype, UTF-8, the CSP, the viewport and the
    /// inline style sheet; `title` is escaped.
    static func head(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="\(contentSecurityPolicy)">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(style)</style>
        </head>
        <body>
        """
    }

    /// The one style sheet: system fonts only, verdict colours with their words, wrapping of long
    /// names, and the chart marks.
    static let style = """
        body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;padding:16px;\
        max-width:1160px;color:#1b1f24;background:#fff}
        code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
        code,pre,td,dd,li,p,h1{overflow-wrap:anywhere;word-break:break-word}
        pre{white-space:pre-wrap;margin:4px 0 0;padding:6px;background:#f4f5f7;border-radius:4px}
        .verdict{padding:18px 22px;border-radius:8px;color:#fff;margin-bottom:16px}
        .verdict h1{margin:0;font-size:30px}.verdict .word{font-size:44px;font-weight:800;margin-right:10px}
        .verdict p{margin:6px 0 0;font-size:17px}.verdict code{color:#fff;font-size:16px}
        .verdict.pass{background:#1a7f37}.verdict.fail{background:#cf222e}
        dl{display:grid;grid-template-columns:190px 1fr;gap:4px 14px;margin:0}dt{font-weight:600}dd{margin:0}
        table{border-collapse:collapse;width:100%;table-layout:fixed}
        th,td{border:1px solid #d0d7de;padding:5px 7px;text-align:left;vertical-align:top}
        th{background:#f6f8fa}col.c-result{width:70px}col.c-check{width:150px}col.c-subject{width:25%}\
        col.c-time{width:104px}
        tr.fail td.result,tr.error td.result{background:#cf222e;color:#fff;font-weight:700}
        tr.skip td.result{background:#9a6700;color:#fff}tr.pass td.result{background:#1a7f37;color:#fff}
        td.num{text-align:right}.over{color:#cf222e;font-weight:700}
        figure{margin:18px 0}figcaption{font-weight:600;margin-bottom:4px}svg{max-width:100%;height:auto}
        svg text{font:11px system-ui,sans-serif;fill:#1b1f24}
        """
}
