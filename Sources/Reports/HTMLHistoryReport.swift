import DrillCore
import Foundation

/// What `restore-drill report html` shows: the figures of a window of the history, gathered by
/// the Jobs target (history events, the SLA scorecard, the sets in the destination) so this target
/// stays a pure renderer over DrillCore.
public struct HistoryPage: Sendable, Equatable {
    /// One ISO week of the window (a partial week at either end counts too).
    public struct Week: Sendable, Equatable {
        /// `2025-W24`, in the scorecard's zone.
        public var week: String
        /// Its first and last day inside the window, `YYYY-MM-DD`.
        public var firstDay: String
        public var lastDay: String
        /// Drill events of the week by verdict.
        public var drillsPassed: Int
        public var drillsFailed: Int
        /// The largest measured RTO of the week's drills, seconds; nil when none was measured.
        public var maxRTOSeconds: Double?
        /// The largest daily RPO of the week (``SLADay``'s `max_rpo_seconds`), seconds.
        public var maxRPOSeconds: Double?
        /// The largest complete set finished in the week, bytes (the backup event's `bytes`, or the
        /// set's size in the destination); nil when no backup completed.
        public var largestSetBytes: Int64?
        /// The bytes of the sets still in the destination that had finished by the week's end
        /// (pruned sets left no size behind, so earlier weeks may read low).
        public var destinationBytes: Int64
        /// Age of the newest complete set at the week's end (or at the report's time for the
        /// current week), seconds; nil before the first complete backup.
        public var backupAgeSeconds: Double?

        /// - Parameters: as the properties.
        public init(
            week: String, firstDay: String, lastDay: String, drillsPassed: Int, drillsFailed: Int,
            maxRTOSeconds: Double?, maxRPOSeconds: Double?, largestSetBytes: Int64?, destinationBytes: Int64,
            backupAgeSeconds: Double?
        ) {
            self.week = week
            self.firstDay = firstDay
            self.lastDay = lastDay
            self.drillsPassed = drillsPassed
            self.drillsFailed = drillsFailed
            self.maxRTOSeconds = maxRTOSeconds
            self.maxRPOSeconds = maxRPOSeconds
            self.largestSetBytes = largestSetBytes
            self.destinationBytes = destinationBytes
            self.backupAgeSeconds = backupAgeSeconds
        }
    }

    /// A run of the window that failed (a drill that failed, a backup that failed or was partial,
    /// a check or spot check that failed), with what the history recorded about it.
    public struct Failure: Sendable, Equatable {
        /// The event's time, ISO 8601 UTC.
        public var time: String
        /// The event's kind (`drill`, `backup`, …) and status (`fail`, `partial`, …).
        public var kind: String
        public var status: String
        /// The drill id or backup id it concerns; empty when the event has neither.
        public var subject: String
        /// What failed, e.g. `failed checks: restore.tree, set.artifacts` or the error text.
        public var text: String
        /// The drill's report folder (absolute), when it has one.
        public var reportFolder: String?
        /// The history event id.
        public var event: String

        /// - Parameters: as the properties.
        public init(
            time: String, kind: String, status: String, subject: String, text: String, reportFolder: String?,
            event: String
        ) {
            self.time = time
            self.kind = kind
            self.status = status
            self.subject = subject
            self.text = text
            self.reportFolder = reportFolder
            self.event = event
        }
    }

    /// One headline figure of the SLA scorecard.
    public struct Figure: Sendable, Equatable {
        public var label: String
        /// The figure as a person reads it, e.g. `29 of 30 days (96.7 %)`.
        public var value: String
        /// Whether it meets its target; nil when it has none.
        public var ok: Bool?

        /// - Parameters: as the properties.
        public init(label: String, value: String, ok: Bool?) {
            self.label = label
            self.value = value
            self.ok = ok
        }
    }

    /// The newest drill of the window.
    public struct LastDrill: Sendable, Equatable {
        public var drillID: String
        public var backupID: String
        /// ISO 8601 UTC.
        public var time: String
        public var passed: Bool
        public var reportFolder: String?

        /// - Parameters: as the properties.
        public init(drillID: String, backupID: String, time: String, passed: Bool, reportFolder: String?) {
            self.drillID = drillID
            self.backupID = backupID
            self.time = time
            self.passed = passed
            self.reportFolder = reportFolder
        }
    }

    /// A set in the destination now.
    public struct SetRow: Sendable, Equatable {
        public var id: String
        /// `complete` or `partial`.
        public var status: String
        /// ISO 8601 UTC.
        public var finishedAt: String
        public var sizeBytes: Int64

        /// - Parameters: as the properties.
        public init(id: String, status: String, finishedAt: String, sizeBytes: Int64) {
            self.id = id
            self.status = status
            self.finishedAt = finishedAt
            self.sizeBytes = sizeBytes
        }
    }

    /// When the page was made (ISO 8601 UTC), the destination it describes, and the window's first
    /// and last day (`YYYY-MM-DD`) and zone.
    public var generatedAt: String
    public var destination: String
    public var firstDay: String
    public var lastDay: String
    public var timeZone: String
    /// The RPO and RTO objectives, seconds.
    public var rpoObjectiveSeconds: Double
    public var rtoObjectiveSeconds: Double
    public var lastDrill: LastDrill?
    public var figures: [Figure]
    /// Newest first.
    public var failures: [Failure]
    /// Oldest first; every week of the window, with or without runs.
    public var weeks: [Week]
    /// Newest first.
    public var sets: [SetRow]
    /// The history chain as `history verify` finds it (issue 18): true intact, false broken (the
    /// page then says so at the top and FAILs: a removed or edited event could hide a failure),
    /// nil when the history is not chained.
    public var historyIntact: Bool?
    /// What `history verify` says, one line: the head (seq, SHA-256) or the first break.
    public var historyLine: String?

    /// - Parameters: as the properties.
    public init(
        generatedAt: String, destination: String, firstDay: String, lastDay: String, timeZone: String,
        rpoObjectiveSeconds: Double, rtoObjectiveSeconds: Double, lastDrill: LastDrill?, figures: [Figure],
        failures: [Failure], weeks: [Week], sets: [SetRow]
    ) {
        self.generatedAt = generatedAt
        self.destination = destination
        self.firstDay = firstDay
        self.lastDay = lastDay
        self.timeZone = timeZone
        self.rpoObjectiveSeconds = rpoObjectiveSeconds
        self.rtoObjectiveSeconds = rtoObjectiveSeconds
        self.lastDrill = lastDrill
        self.figures = figures
        self.failures = failures
        self.weeks = weeks
        self.sets = sets
    }

    /// The verdict of the window: pass when the last drill passed and every figure with a target
    /// meets it; false when there was no drill.
    public var passed: Bool {
        (lastDrill?.passed ?? false) && !figures.contains { $0.ok == false } && historyIntact != false
    }
}

/// The HTML page of `restore-drill report html`: the verdict of the window first (the last drill
/// and the SLA figures), then the failures with their evidence (newest first, with their report
/// folders), then the charts, then the sets in the destination.
///
/// Same rules as ``HTMLReport``: one self-contained file, inline CSS, the same CSP, no script;
/// every string from the history or a set escaped with ``HTMLText/escape(_:)``.
///
/// Charts are inline SVG, one per figure: drill verdicts per ISO week (passed and failed bars),
/// the largest measured RTO per week against the RTO objective (a dashed line), the largest daily
/// RPO per week against the RPO objective, the largest set and the destination's bytes per week,
/// and the backup age at each week's end. Each chart holds exactly one mark per week of
/// ``HistoryPage/weeks`` — an SVG `<g class="mark" data-week="2025-W24">` with a `<title>`
/// giving the value — so a week without data still has its (empty) mark; axis labels are SVG
/// `<text>`.
public enum HTMLHistoryReport {
    /// Renders `page` as a complete HTML5 document (UTF-8) ending in a newline.
    public static func render(_ page: HistoryPage) -> String {
        let e = HTMLText.escape
        let p = page
        var out: [String] = []
        out.append(HTMLText.head(title: "Restore drills \(p.firstDay) to \(p.lastDay): \(p.passed ? "PASS" : "FAIL")"))
        out.append("<header class=\"verdict \(p.passed ? "pass" : "fail")\" id=\"verdict\">")
        out.append("<h1><span class=\"word\">\(p.passed ? "PASS" : "FAIL")</span> restore drills</h1>")
        let last: String
        if let d = p.lastDrill {
            last =
                "Last drill <code>\(e(d.drillID))</code> of set <code>\(e(d.backupID))</code> at "
                + "<code>\(e(d.time))</code>: \(d.passed ? "passed" : "FAILED")"
        } else {
            last = "No drill in the window: nothing proves the backups restore."
        }
        out.append("<p>\(last)</p>")
        if let line = p.historyLine {
            let broken = p.historyIntact == false
            out.append(
                "<p id=\"history\"\(broken ? " class=\"over\"" : "")>History chain: "
                    + "\(broken ? "<strong>BROKEN</strong> " : "")\(e(line))</p>")
        }
        out.append(
            "<p>\(e("\(p.firstDay) to \(p.lastDay) (\(p.timeZone)), destination \(p.destination)"))</p></header>")

        out.append("<section id=\"sla\"><h2>SLA</h2><dl>")
        for f in p.figures {
            let mark = f.ok.map { $0 ? " (met)" : " (MISSED)" } ?? ""
            out.append(
                "<dt>\(e(f.label))</dt><dd\(f.ok == false ? " class=\"over\"" : "")>\(e(f.value + mark))</dd>")
        }
        out.append("</dl></section>")

        out.append("<section id=\"failures\"><h2>Failures, newest first</h2>")
        if p.failures.isEmpty {
            out.append("<p>None in the window.</p>")
        } else {
            out.append(
                "<table><colgroup><col class=\"c-check\"><col class=\"c-check\"><col class=\"c-subject\"><col>"
                    + "</colgroup><thead><tr><th>time</th><th>run</th><th>subject</th><th>what failed</th></tr>"
                    + "</thead><tbody>")
            for f in p.failures {
                var cell = "<div class=\"message\">\(e(f.text))</div>"
                if let folder = f.reportFolder { cell += "<pre class=\"evidence\">report folder \(e(folder))</pre>" }
                cell += "<pre class=\"evidence\">event \(e(f.event))</pre>"
                out.append(
                    "<tr class=\"check fail\" data-verdict=\"fail\"><td><code>\(e(f.time))</code></td>"
                        + "<td class=\"result\">\(e(f.kind)) \(e(f.status))</td><td><code>\(e(f.subject))</code></td>"
                        + "<td>\(cell)</td></tr>")
            }
            out.append("</tbody></table>")
        }
        out.append("</section>")

        out.append("<section id=\"charts\"><h2>Charts, one mark per ISO week</h2>")
        out.append(verdictChart(p.weeks))
        out.append(
            lineChart(
                id: "rto", title: "Measured RTO (largest per week) against the objective", weeks: p.weeks,
                values: p.weeks.map(\.maxRTOSeconds), objective: p.rtoObjectiveSeconds, unit: seconds))
        out.append(
            lineChart(
                id: "rpo", title: "RPO (largest daily per week) against the objective", weeks: p.weeks,
                values: p.weeks.map(\.maxRPOSeconds), objective: p.rpoObjectiveSeconds, unit: seconds))
        out.append(
            lineChart(
                id: "set-bytes", title: "Largest set per week", weeks: p.weeks,
                values: p.weeks.map { $0.largestSetBytes.map(Double.init) }, objective: nil, unit: bytes))
        out.append(
            lineChart(
                id: "destination-bytes", title: "Destination bytes (sets still present) at the week's end",
                weeks: p.weeks, values: p.weeks.map { Double($0.destinationBytes) }, objective: nil, unit: bytes))
        out.append(
            lineChart(
                id: "backup-age", title: "Backup age at the week's end against the RPO objective", weeks: p.weeks,
                values: p.weeks.map(\.backupAgeSeconds), objective: p.rpoObjectiveSeconds, unit: seconds))
        out.append("</section>")

        out.append("<section id=\"sets\"><h2>Sets in the destination, newest first</h2>")
        if p.sets.isEmpty {
            out.append("<p>None.</p>")
        } else {
            out.append(
                "<table><thead><tr><th>set</th><th>status</th><th>finished</th><th>size</th></tr></thead><tbody>")
            for s in p.sets {
                out.append(
                    "<tr><td><code>\(e(s.id))</code></td><td>\(e(s.status))</td><td><code>\(e(s.finishedAt))</code>"
                        + "</td><td class=\"num\">\(e(Units.humanBytes(s.sizeBytes))) (\(s.sizeBytes) bytes)</td></tr>")
            }
            out.append("</tbody></table>")
        }
        out.append("</section>")
        out.append("<p>Generated \(e(p.generatedAt)).</p>")
        out.append("</body>\n</html>")
        return out.joined(separator: "\n") + "\n"
    }

    static let seconds: @Sendable (Double) -> String = { Units.humanSeconds(max(0, $0)) }
    static let bytes: @Sendable (Double) -> String = { Units.humanBytes(Int64(max(0, $0))) }

    /// Chart geometry, SVG user units.
    static let width = 1100.0
    static let height = 220.0
    static let left = 90.0
    static let right = 20.0
    static let top = 14.0
    static let bottom = 40.0

    static func x(_ i: Int, of n: Int) -> Double {
        let plot = width - left - right
        return left + plot * (Double(i) + 0.5) / Double(max(n, 1))
    }

    static func number(_ v: Double) -> String { ReportText.decimal(v, places: 1) }

    static func frame(id: String, title: String, weeks: [HistoryPage.Week], top yMax: String) -> [String] {
        var out: [String] = []
        out.append("<figure id=\"chart-\(id)\"><figcaption>\(HTMLText.escape(title))</figcaption>")
        out.append(
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(number(width)) "
                + "\(number(height))\" width=\"\(number(width))\" height=\"\(number(height))\" role=\"img\">")
        let base = height - bottom
        out.append(
            "<line class=\"axis\" x1=\"\(number(left))\" y1=\"\(number(base))\" x2=\"\(number(width - right))\" "
                + "y2=\"\(number(base))\" stroke=\"#57606a\"/>")
        out.append(
            "<line class=\"axis\" x1=\"\(number(left))\" y1=\"\(number(top))\" x2=\"\(number(left))\" "
                + "y2=\"\(number(base))\" stroke=\"#57606a\"/>")
        out.append(
            "<text class=\"axis-label\" x=\"\(number(left - 6))\" y=\"\(number(top + 10))\" text-anchor=\"end\">"
                + "\(HTMLText.escape(yMax))</text>")
        out.append(
            "<text class=\"axis-label\" x=\"\(number(left - 6))\" y=\"\(number(base))\" text-anchor=\"end\">0</text>")
        // Week labels: every week when they fit, else every other one.
        let step = weeks.count > 16 ? 2 : 1
        for (i, w) in weeks.enumerated() where i % step == 0 {
            out.append(
                "<text class=\"axis-label\" x=\"\(number(x(i, of: weeks.count)))\" y=\"\(number(base + 16))\" "
                    + "text-anchor=\"middle\">\(HTMLText.escape(String(w.week.suffix(3))))</text>")
        }
        if let first = weeks.first, let last = weeks.last {
            out.append(
                "<text class=\"axis-label\" x=\"\(number(left))\" y=\"\(number(base + 32))\">"
                    + "\(HTMLText.escape("ISO weeks \(first.week) to \(last.week)"))</text>")
        }
        return out
    }

    /// Passed (green) and failed (red) drills per week, stacked bars.
    static func verdictChart(_ weeks: [HistoryPage.Week]) -> String {
        let most = max(1, weeks.map { $0.drillsPassed + $0.drillsFailed }.max() ?? 1)
        var out = frame(
            id: "verdicts", title: "Drill verdicts per week (passed green, failed red)", weeks: weeks,
            top: "\(most) drills")
        let plot = height - top - bottom
        let barWidth = max(2, (width - left - right) / Double(max(weeks.count, 1)) * 0.6)
        for (i, w) in weeks.enumerated() {
            let cx = x(i, of: weeks.count)
            let passH = plot * Double(w.drillsPassed) / Double(most)
            let failH = plot * Double(w.drillsFailed) / Double(most)
            let base = height - bottom
            let label = "\(w.week) (\(w.firstDay) to \(w.lastDay)): \(w.drillsPassed) passed, \(w.drillsFailed) failed"
            out.append(
                "<g class=\"mark\" data-week=\"\(HTMLText.escape(w.week))\" data-passed=\"\(w.drillsPassed)\" "
                    + "data-failed=\"\(w.drillsFailed)\"><title>\(HTMLText.escape(label))</title>"
                    + "<rect x=\"\(number(cx - barWidth / 2))\" y=\"\(number(base - passH))\" "
                    + "width=\"\(number(barWidth))\" height=\"\(number(passH))\" fill=\"#1a7f37\"/>"
                    + "<rect x=\"\(number(cx - barWidth / 2))\" y=\"\(number(base - passH - failH))\" "
                    + "width=\"\(number(barWidth))\" height=\"\(number(failH))\" fill=\"#cf222e\"/></g>")
        }
        out.append("</svg></figure>")
        return out.joined(separator: "\n")
    }

    /// One value per week as a dot joined by a line, with the objective as a dashed line; a week
    /// without a value has an empty mark. Dots above the objective are red.
    static func lineChart(
        id: String, title: String, weeks: [HistoryPage.Week], values: [Double?], objective: Double?,
        unit: @Sendable (Double) -> String
    ) -> String {
        let highest = max(values.compactMap { $0 }.max() ?? 0, objective ?? 0)
        let scale = highest > 0 ? highest * 1.1 : 1
        var out = frame(id: id, title: title, weeks: weeks, top: unit(scale))
        let plot = height - top - bottom
        let base = height - bottom
        func y(_ v: Double) -> Double { base - plot * max(0, v) / scale }
        if let o = objective {
            out.append(
                "<line class=\"objective\" x1=\"\(number(left))\" y1=\"\(number(y(o)))\" x2=\"\(number(width - right))\" "
                    + "y2=\"\(number(y(o)))\" stroke=\"#9a6700\" stroke-dasharray=\"6 4\"/>")
            out.append(
                "<text class=\"axis-label\" x=\"\(number(width - right))\" y=\"\(number(y(o) - 4))\" "
                    + "text-anchor=\"end\">\(HTMLText.escape("objective \(unit(o))"))</text>")
        }
        let points = zip(weeks.indices, values).compactMap { i, v in v.map { (x(i, of: weeks.count), y($0)) } }
        if points.count > 1 {
            let d = points.map { "\(number($0.0)),\(number($0.1))" }.joined(separator: " ")
            out.append("<polyline points=\"\(d)\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\"/>")
        }
        for (i, (w, v)) in zip(weeks, values).enumerated() {
            let text = "\(w.week) (\(w.firstDay) to \(w.lastDay)): " + (v.map(unit) ?? "no value")
            var mark =
                "<g class=\"mark\" data-week=\"\(HTMLText.escape(w.week))\""
                + (v.map { " data-value=\"\(number($0))\"" } ?? "") + "><title>\(HTMLText.escape(text))</title>"
            if let v {
                let over = objective.map { v > $0 } ?? false
                mark +=
                    "<circle cx=\"\(number(x(i, of: weeks.count)))\" cy=\"\(number(y(v)))\" r=\"4.5\" "
                    + "fill=\"\(over ? "#cf222e" : "#0969da")\"/>"
            }
            out.append(mark + "</g>")
        }
        out.append("</svg></figure>")
        return out.joined(separator: "\n")
    }
}
