import DrillCore
import Foundation

extension SLAScorecard {
    /// The JSON form: `{"format": "restore-drill/sla", "format_version": 1, …}` with the keys of
    /// ``CodingKeys`` (snake_case), sorted, pretty-printed, with a final newline. Each rate has
    /// `numerator`, `denominator`, `rate` (absent when the denominator is 0) and `sources`.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0a)
        return data
    }

    /// The Markdown form for an auditor: the figures first (one table), then the days, the weeks
    /// and the drills, each row naming the history events (file `<id>.json` under
    /// `<destination>/.restore-drill/events/`) it came from.
    public func markdown() -> String {
        func rate(_ r: SLARate, _ unit: String) -> String {
            guard let value = r.rate else { return "none in the window" }
            return "\(r.numerator)/\(r.denominator) \(unit) (\(String(format: "%.1f", value * 100)) %)"
        }
        func dur(_ s: Double?) -> String { s.map { Units.humanSeconds($0) } ?? "–" }
        func cell(_ items: [String]) -> String { items.isEmpty ? "–" : items.map { "`\($0)`" }.joined(separator: " ") }

        var out: [String] = []
        out.append("# Restore SLA scorecard")
        out.append("")
        out.append(
            "Window: \(firstDay) to \(lastDay) (\(days.count) days, \(timeZone)); generated \(generatedAt) by \(ToolInfo.name) \(ToolInfo.version)."
        )
        out.append(
            "Sources are history events (`<destination>/.restore-drill/events/<id>.json`) or `set:<id>` for a set without an event."
        )
        out.append("")
        out.append("| figure | value |")
        out.append("|---|---|")
        let missed = days.filter { !$0.completeBackup }.map(\.date)
        out.append(
            "| Backup success rate | \(rate(backupSuccess, "days"))\(missed.isEmpty ? "" : "; missed: \(missed.joined(separator: ", "))") |"
        )
        var rpoText =
            "\(rate(rpoDaysWithin, "days")) at or below the RPO objective of \(Units.humanSeconds(rpoObjectiveSeconds))"
        if let worst = worstRPOSeconds, let day = worstRPODay {
            rpoText += "; worst \(Units.humanSeconds(worst)) on \(day)"
        }
        out.append("| RPO achieved | \(rpoText) |")
        out.append("| Weeks with a passing drill | \(rate(weeksWithPassingDrill, "weeks")) |")
        if let offsite = weeksWithPassingOffsiteDrill {
            out.append("| Weeks with a passing drill of the off-site copy | \(rate(offsite, "weeks")) |")
        }
        if let spot = weeksWithPassingSpot {
            out.append("| Weeks with a passing spot check | \(rate(spot, "weeks")) |")
        }
        out.append("| Restore validation rate | \(rate(restoreValidation, "drills passed")) |")
        out.append(
            "| RTO | median \(dur(rtoMedianSeconds)), max \(dur(rtoMaxSeconds)), objective \(Units.humanSeconds(rtoObjectiveSeconds)); \(rtoOverObjective.numerator) of \(rtoOverObjective.denominator) over |"
        )
        out.append("")
        out.append("## Days")
        out.append("")
        out.append("| day | complete backup | largest RPO | backups | failed runs | RPO from |")
        out.append("|---|---|---|---|---|---|")
        for d in days {
            out.append(
                "| \(d.date) | \(d.completeBackup ? "yes" : "**no**") | \(dur(d.maxRPOSeconds)) | \(cell(d.sources)) | \(cell(d.failedRuns)) | \(cell(d.rpoSources)) |"
            )
        }
        out.append("")
        out.append("## Weeks")
        out.append("")
        out.append("| week | days | passing drill | drills |")
        out.append("|---|---|---|---|")
        for w in weeks {
            out.append(
                "| \(w.week) | \(w.firstDay) to \(w.lastDay) | \(w.passingDrill ? "yes" : "**no**") | \(cell(w.sources)) |"
            )
        }
        out.append("")
        out.append("## Drills (RTO trend)")
        out.append("")
        out.append("| finished | drill | set | verdict | RTO | event |")
        out.append("|---|---|---|---|---|---|")
        for d in drills {
            out.append(
                "| \(d.time) | \(d.drillID.map { "\($0)" } ?? "–") | \(d.backupID.map { "\($0)" } ?? "–") | \(d.status.rawValue) | \(dur(d.rtoSeconds)) | `\(d.source)` |"
            )
        }
        return out.joined(separator: "\n") + "\n"
    }
}
