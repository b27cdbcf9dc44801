import Destination
import DrillCore
import Foundation
import Health
import Reports
import Retention
import Vault

/// `restore-drill report html`: gathers the ``HistoryPage`` of a window (history events, the SLA
/// scorecard of `report sla`, the sets in the destination) for ``HTMLHistoryReport``.
public enum HTMLReportJob {
    /// Gathers the page.
    /// - Parameters:
    ///   - config: the configuration (destination, objectives, retention zone).
    ///   - now: the instant of the report (injected clock).
    ///   - since: the window, seconds back from `now` (whole days, as `report sla`).
    ///   - authenticator: with a vault password configured, unauthenticated sets never count.
    ///   - destination: where the sets and the history are; nil for the ``LocalDestination`` of
    ///     `config.destination`.
    /// - Returns: the page: weeks oldest first (every ISO week touching the window, partial ones
    ///   included), failures and sets newest first.
    /// - Throws: history or destination read errors.
    public static func run(
        config: RestoreDrillConfig, now: Date, since: Double, authenticator: SetAuthenticator? = nil,
        destination: (any Destination)? = nil
    ) throws -> HistoryPage {
        let store = destination ?? LocalDestination(path: config.destination)
        let events = try HistoryStore(store).events()
        let scan = try BackupSetScanner.scan(store, authenticator: authenticator)
        let zone = config.retention.timeZone.flatMap(TimeZone.init(identifier:)) ?? .current
        let card = SLAScorecard.compute(
            events: events, sets: scan.sets, since: since, now: now, timeZone: zone, objectives: config.objectives)
        var gathered = page(
            card: card, events: events, sets: scan.sets, now: now, since: since, zone: zone,
            destination: store.location)
        // The chain's state at the top: a page over a history with a removed or edited event
        // must not read as a clean record.
        if let verification = try? HistoryStore(store).verify(), verification.chained {
            gathered.historyIntact = verification.intact
            if let first = verification.breaks.first {
                let seq = first.seq.map(String.init) ?? "?"
                gathered.historyLine = "\(first.kind.rawValue) at seq \(seq): \(first.message)"
            } else if let head = verification.head {
                gathered.historyLine = "intact, head seq \(head.seq) \(head.sha256)"
            } else {
                gathered.historyLine = "no chained event yet"
            }
        }
        return gathered
    }

    /// The page of ``run(config:now:since:authenticator:destination:)`` rendered by
    /// ``HTMLHistoryReport``: a complete HTML document.
    /// - Throws: as ``run(config:now:since:authenticator:destination:)``.
    public static func html(
        config: RestoreDrillConfig, now: Date, since: Double, authenticator: SetAuthenticator? = nil,
        destination: (any Destination)? = nil
    ) throws -> String {
        HTMLHistoryReport.render(
            try run(config: config, now: now, since: since, authenticator: authenticator, destination: destination))
    }

    /// The page from gathered inputs (pure; the tests' seam).
    static func page(
        card: SLAScorecard, events: [HistoryEvent], sets: [ScannedSet], now: Date, since: Double, zone: TimeZone,
        destination: String
    ) -> HistoryPage {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let dayCount = max(1, Int(since / 86400))
        let today = calendar.startOfDay(for: now)
        let windowStart = calendar.date(byAdding: .day, value: -dayCount, to: today)!
        let dayKey = { (d: Date) in RetentionPolicy.bucketKey(.daily, of: d, timeZone: zone) }

        // Complete backups (finish time, size) from events, then sets with no event.
        var complete: [(id: BackupID?, finished: Date, bytes: Int64?)] = []
        var seen = Set<BackupID>()
        for e in events where e.kind == .backup && e.status == .complete {
            let size = sets.first { $0.id == e.backupID }?.sizeBytes
            complete.append((e.backupID, e.time, e.details["bytes"].flatMap { Int64($0) } ?? size))
            if let id = e.backupID { seen.insert(id) }
        }
        for s in sets where s.status == .complete && !seen.contains(s.id) {
            complete.append((s.id, s.finishedAt, s.sizeBytes))
        }

        // Days of the window grouped by ISO week.
        var groups: [(key: String, days: [Date])] = []
        for i in 0..<dayCount {
            let day = calendar.date(byAdding: .day, value: i, to: windowStart)!
            let key = RetentionPolicy.bucketKey(.weekly, of: day, timeZone: zone)
            if groups.last?.key == key {
                groups[groups.count - 1].days.append(day)
            } else {
                groups.append((key, [day]))
            }
        }
        let dailyRPO = Dictionary(card.days.map { ($0.date, $0.maxRPOSeconds) }, uniquingKeysWith: { a, _ in a })
        var weeks: [HistoryPage.Week] = []
        for g in groups {
            let start = g.days.first!
            let end = calendar.date(byAdding: .day, value: 1, to: g.days.last!)!
            let drills = events.filter { $0.kind == .drill && $0.time >= start && $0.time < end }
            let inWeek = complete.filter { ($0.id?.date ?? $0.finished) >= start && ($0.id?.date ?? $0.finished) < end }
            let at = min(end, now)
            let newest = complete.filter { $0.finished <= at }.map(\.finished).max()
            weeks.append(
                HistoryPage.Week(
                    week: g.key, firstDay: dayKey(start), lastDay: dayKey(g.days.last!),
                    drillsPassed: drills.filter { $0.status == .pass }.count,
                    drillsFailed: drills.filter { $0.status != .pass }.count,
                    maxRTOSeconds: drills.compactMap(\.rtoSeconds).max(),
                    maxRPOSeconds: g.days.compactMap { dailyRPO[dayKey($0)] ?? nil }.max(),
                    largestSetBytes: inWeek.compactMap(\.bytes).max(),
                    destinationBytes: sets.filter { $0.finishedAt < end }.reduce(0) { $0 + $1.sizeBytes },
                    backupAgeSeconds: newest.map { at.timeIntervalSince($0) }))
        }

        let failing: Set<HistoryEventStatus> = [.partial, .failed, .fail]
        let failures = events.filter { $0.time >= windowStart && $0.time <= now && failing.contains($0.status) }
            .sorted { ($0.time, $0.id) > ($1.time, $1.id) }
            .map { e in
                HistoryPage.Failure(
                    time: Timestamp.string(e.time), kind: e.kind.rawValue, status: e.status.rawValue,
                    subject: e.drillID?.description ?? e.backupID?.description ?? "", text: failureText(e),
                    reportFolder: e.reportFolder, event: e.id)
            }

        let last = card.drills.last.map { d in
            HistoryPage.LastDrill(
                drillID: d.drillID?.description ?? d.source, backupID: d.backupID?.description ?? "unknown",
                time: d.time, passed: d.status == .pass,
                reportFolder: events.first { $0.id == d.source }?.reportFolder)
        }
        return HistoryPage(
            generatedAt: Timestamp.string(now), destination: destination, firstDay: card.firstDay,
            lastDay: card.lastDay, timeZone: card.timeZone, rpoObjectiveSeconds: card.rpoObjectiveSeconds,
            rtoObjectiveSeconds: card.rtoObjectiveSeconds, lastDrill: last, figures: figures(card), failures: failures,
            weeks: weeks,
            sets: sets.sorted { $0.id > $1.id }.map {
                HistoryPage.SetRow(
                    id: $0.id.description, status: $0.status.rawValue, finishedAt: Timestamp.string($0.finishedAt),
                    sizeBytes: $0.sizeBytes)
            })
    }

    /// What a failed event says: its failing checks, components or error, else its details.
    static func failureText(_ e: HistoryEvent) -> String {
        var parts: [String] = []
        if let checks = e.details["failed_checks"], !checks.isEmpty {
            parts.append("failed checks: " + checks.replacingOccurrences(of: ",", with: ", "))
        }
        if let components = e.details["failed_components"], !components.isEmpty {
            parts.append("failed components: " + components.replacingOccurrences(of: ",", with: ", "))
        }
        if let error = e.details["error"] { parts.append(error) }
        if parts.isEmpty {
            parts = e.details.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        }
        return parts.isEmpty ? "\(e.kind.rawValue) \(e.status.rawValue)" : parts.joined(separator: "; ")
    }

    /// The scorecard's headline figures; a figure meets its target when nothing in the window missed.
    static func figures(_ c: SLAScorecard) -> [HistoryPage.Figure] {
        func rate(_ r: SLARate, _ unit: String) -> String {
            "\(r.numerator) of \(r.denominator) \(unit)"
                + (r.rate.map { " (\(String(format: "%.1f", $0 * 100)) %)" } ?? "")
        }
        var out = [
            HistoryPage.Figure(
                label: "Backup success", value: rate(c.backupSuccess, "days with a complete backup"),
                ok: c.backupSuccess.numerator == c.backupSuccess.denominator),
            HistoryPage.Figure(
                label: "RPO",
                value: rate(c.rpoDaysWithin, "days within \(Units.humanSeconds(c.rpoObjectiveSeconds))")
                    + (c.worstRPOSeconds.map { "; worst \(Units.humanSeconds($0)) on \(c.worstRPODay ?? "?")" } ?? ""),
                ok: c.rpoDaysWithin.numerator == c.rpoDaysWithin.denominator),
            HistoryPage.Figure(
                label: "Weekly drill", value: rate(c.weeksWithPassingDrill, "whole weeks with a passing drill"),
                ok: c.weeksWithPassingDrill.numerator == c.weeksWithPassingDrill.denominator),
            HistoryPage.Figure(
                label: "Restore validation", value: rate(c.restoreValidation, "drills passed"),
                ok: c.restoreValidation.denominator > 0
                    && c.restoreValidation.numerator == c.restoreValidation.denominator),
        ]
        var rto = rate(c.rtoOverObjective, "drills over \(Units.humanSeconds(c.rtoObjectiveSeconds))")
        if let median = c.rtoMedianSeconds, let most = c.rtoMaxSeconds {
            rto += "; median \(Units.humanSeconds(median)), max \(Units.humanSeconds(most))"
        }
        out.append(HistoryPage.Figure(label: "RTO", value: rto, ok: c.rtoOverObjective.numerator == 0))
        return out
    }
}
