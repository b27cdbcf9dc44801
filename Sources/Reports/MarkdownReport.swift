import DrillCore
import Foundation

/// The Markdown rendering of one drill (`report.md`), for a person; GitHub-flavoured Markdown
/// (tables extension), checked in tests with `cmark-gfm -e table`.
///
/// Order (docs/ARCHITECTURE.md, "Reports and metrics"): the verdict as the first line (`# PASS: …` or `# FAIL: …`); RPO,
/// measured RTO (each with its objective and the verdict of the `rpo`/`rto` check), isolation and
/// the counts of subjects per verdict; `## Checks`, a table with one row per check id present
/// (catalogue order) and its subject counts, plus the check ids that did not run; `## Failures`,
/// each failed or errored subject in detail (check, subject, message, evidence in a fenced block);
/// `## Skipped`, each skipped subject with its reason; `## Evidence` (manifest SHA-256, tool
/// version, host, set path, sandbox path and whether it was kept, report folder, times).
///
/// Escaping: subjects and paths are code spans; messages, the limits and the tools line (which the
/// set's restore script writes) are inline text with Markdown's punctuation backslash-escaped; in table cells `|` is escaped; newlines and other control
/// characters become visible control pictures (`␊`, `␛`) outside fenced blocks, so no string from
/// a backup set can end a table row, open a link or inject HTML. Fenced blocks use a fence longer
/// than any backtick run inside them.
public enum MarkdownReport {
    /// Renders `result` as a Markdown document ending in a newline.
    public static func render(_ result: DrillResult) -> String {
        let r = result
        let setName = r.backupID?.description ?? r.setPath
        var out: [String] = []
        out.append("# \(r.verdict == .pass ? "PASS" : "FAIL"): restore drill \(r.drillID) of \(code(setName))")
        out.append("")

        var totals: [Verdict: Int] = [:]
        for c in r.checks { totals[c.verdict, default: 0] += 1 }
        out.append(
            "- **Subjects checked:** \(r.checks.count) (pass \(totals[.pass] ?? 0), fail \(totals[.fail] ?? 0), "
                + "skip \(totals[.skip] ?? 0), error \(totals[.error] ?? 0))")
        out.append("- **RPO:** " + objectiveLine(r.rpoSeconds, objective: r.rpoObjectiveSeconds, check: .rpo, in: r))
        out.append(
            "- **Measured RTO:** " + objectiveLine(r.rtoSeconds, objective: r.rtoObjectiveSeconds, check: .rto, in: r))
        if let copy = r.copy {
            out.append(
                "- **Copy drilled:** off-site copy on remote \(code(copy.remote)) (\(code(copy.remotePath))), "
                    + "fetched into the drill's staging folder; the local copy was not read")
            out.append(
                "- **Download:** \(ReportText.decimal(copy.fetchSeconds)) s, \(Units.humanBytes(copy.fetchedBytes)) "
                    + "(\(copy.fetchedBytes) bytes); inside the measured RTO")
        }
        if r.sampled, let line = r.partsLine, let parts = r.restoredParts {
            // A drill of some parts (issue 17): which ones; the rest of the set was not restored.
            let names = parts.prefix(20).map { "\($0.number) \($0.kind.rawValue) \(code($0.name))" }
            out.append(
                "- **Parts restored:** \(line): " + names.joined(separator: ", ")
                    + (parts.count > 20 ? ", and \(parts.count - 20) more (report.json lists them)" : ""))
        }
        out.append("- **Isolation:** " + isolationText(r.isolation))
        out.append("- **Limits:** " + inline(r.limits ?? ReportText.limitsUnknown))
        out.append("- **Authenticated:** " + ReportText.authenticated(r.authenticated))
        // What the replay ran with (issue 19), as the set's script recorded it: text a hostile
        // script chose, escaped like every message.
        out.append("- **Tools:** " + inline(r.tools.map(ToolsRecord.compact) ?? ToolsRecord.notRecorded))
        if r.verdict == .fail && r.checks.problems.isEmpty {
            out.append("- **Why FAIL:** no check passed; a drill that verified nothing fails.")
        }
        out.append("")

        out.append("## Checks")
        out.append("")
        let present = CheckID.drillCatalogue.filter { id in r.checks.contains { $0.check == id } }
        if present.isEmpty {
            out.append("No check ran.")
        } else {
            out.append("| check | result | subjects | pass | fail | skip | error | first problem |")
            out.append("|---|---|---:|---:|---:|---:|---:|---|")
            for id in present {
                let counts = r.counts(for: id)
                let subjects = counts.values.reduce(0, +)
                let result: String
                if (counts[.fail] ?? 0) > 0 {
                    result = "FAIL"
                } else if (counts[.error] ?? 0) > 0 {
                    result = "ERROR"
                } else if (counts[.pass] ?? 0) > 0 {
                    result = "pass"
                } else {
                    result = "skip"
                }
                let problem = r.checks.first { $0.check == id && $0.verdict.isProblem }
                out.append(
                    "| \(id.rawValue) | \(result) | \(subjects) | \(counts[.pass] ?? 0) | \(counts[.fail] ?? 0) | "
                        + "\(counts[.skip] ?? 0) | \(counts[.error] ?? 0) | "
                        + "\(problem.map { code($0.subject, inTable: true) } ?? "") |")
            }
        }
        let notRun = CheckID.drillCatalogue.filter { !present.contains($0) }
        if !notRun.isEmpty {
            out.append("")
            out.append("Not run: " + notRun.map(\.rawValue).joined(separator: ", ") + ".")
        }
        out.append("")

        let problems = r.checks.problems
        out.append("## Failures")
        out.append("")
        if problems.isEmpty {
            out.append("None.")
            out.append("")
        }
        for (n, c) in problems.enumerated() {
            out.append("### \(n + 1). \(c.verdict == .fail ? "FAIL" : "ERROR") \(c.check.rawValue): \(code(c.subject))")
            out.append("")
            out.append("- **Check:** \(c.check.rawValue)")
            out.append("- **Subject:** \(code(c.subject))")
            out.append("- **Message:** \(inline(c.message))")
            out.append("- **Time:** \(ReportText.decimal(c.seconds)) s")
            out.append("")
            if c.evidence.isEmpty {
                out.append("No evidence recorded.")
            } else {
                out.append(fenced(c.evidence))
            }
            out.append("")
        }

        let skips = r.checks.filter { $0.verdict == .skip }
        if !skips.isEmpty {
            out.append("## Skipped")
            out.append("")
            for c in skips {
                out.append("- \(c.check.rawValue) \(code(c.subject)): \(inline(c.message))")
            }
            out.append("")
        }

        out.append("## Evidence")
        out.append("")
        out.append("- **Drill:** \(r.drillID)")
        out.append("- **Backup set:** \(r.backupID.map { code($0.description) } ?? "unknown")")
        out.append("- **Manifest SHA-256:** \(r.manifestSHA256.map { code($0) } ?? "unknown (manifest unreadable)")")
        out.append("- **Tool version:** \(code(r.toolVersion))")
        out.append("- **Host:** \(code(r.host))")
        out.append("- **Set path:** \(code(r.setPath))")
        let sandbox = r.sandboxPath.map { "\(code($0)) (\(r.sandboxKept ? "kept" : "removed"))" } ?? "none"
        out.append("- **Sandbox:** \(sandbox)")
        out.append("- **Report folder:** \(r.reportFolder.map { code($0) } ?? "not written")")
        out.append("- **Started:** \(code(r.startedAt))")
        out.append("- **Finished:** \(code(r.finishedAt))")
        return out.joined(separator: "\n") + "\n"
    }

    /// `3 h 10 m (11400.000 s); objective 24 h 00 m; check rpo: pass`.
    static func objectiveLine(_ value: Double?, objective: Double?, check: CheckID, in r: DrillResult) -> String {
        var text: String
        if let v = value, v.isFinite {
            text = "\(Units.humanSeconds(max(0, v))) (\(ReportText.decimal(v)) s)"
        } else {
            text = check == .rto ? "not measured (the restore did not run)" : "unknown"
        }
        if let o = objective, o.isFinite {
            text += "; objective \(Units.humanSeconds(max(0, o)))"
        } else {
            text += "; no objective"
        }
        let counts = r.counts(for: check)
        if counts.isEmpty {
            text += "; check \(check.rawValue) not run"
        } else {
            let verdicts = Verdict.allCases.filter { counts[$0] != nil }.map(\.rawValue)
            text += "; check \(check.rawValue): " + verdicts.joined(separator: ", ")
        }
        return text
    }

    static func isolationText(_ kind: IsolationKind) -> String {
        switch kind {
        case .bubblewrap:
            "bubblewrap (no network, read-only system, only the sandbox writable, own PID namespace)"
        case .none:
            "none (resource limits, a timeout and a scrubbed environment only; the restore script could reach this machine)"
        }
    }

    /// A code span holding `text` literally: control characters (newlines included) become control
    /// pictures, the fence is one backtick longer than the longest run inside, and in a table cell
    /// `|` is escaped as GFM requires even inside code spans. Empty text renders as `*(empty)*`.
    package static func code(_ text: String, inTable: Bool = false) -> String {
        var body = ReportText.visible(text, keepNewlines: false)
        guard !body.isEmpty else { return "*(empty)*" }
        if inTable { body = body.replacingOccurrences(of: "|", with: "\\|") }
        let fence = String(repeating: "`", count: longestRun(of: "`", in: body) + 1)
        let pad = body.hasPrefix("`") || body.hasSuffix("`") || (body.hasPrefix(" ") && body.hasSuffix(" "))
        return pad ? "\(fence) \(body) \(fence)" : "\(fence)\(body)\(fence)"
    }

    /// Inline text with control characters as control pictures and every character that could
    /// start Markdown or HTML markup (`\ ` * _ [ ] < > | & ~ !`) backslash-escaped.
    static func inline(_ text: String) -> String {
        let special: Set<Character> = ["\\", "`", "*", "_", "[", "]", "<", ">", "|", "&", "~", "!"]
        var out = ""
        for ch in ReportText.visible(text, keepNewlines: false) {
            if special.contains(ch) { out.append("\\") }
            out.append(ch)
        }
        return out
    }

    /// A fenced code block of `lines` (each may hold newlines); CR and control characters other
    /// than tab and LF become control pictures; the fence is longer than any backtick run inside.
    static func fenced(_ lines: [String]) -> String {
        // Each entry is one line: a newline inside one (a hostile file name) is shown as `␊`.
        let body = lines.map { ReportText.visible($0, keepNewlines: false) }.joined(separator: "\n")
        let fence = String(repeating: "`", count: max(3, longestRun(of: "`", in: body) + 1))
        return "\(fence)text\n\(body)\n\(fence)"
    }

    static func longestRun(of mark: Character, in text: String) -> Int {
        var best = 0
        var run = 0
        for ch in text {
            run = ch == mark ? run + 1 : 0
            best = max(best, run)
        }
        return best
    }
}
