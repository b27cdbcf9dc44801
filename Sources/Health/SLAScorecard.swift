import DrillCore
import Foundation
import Retention

/// A ratio with the evidence behind it.
public struct SLARate: Sendable, Equatable, Codable {
    public var numerator: Int
    public var denominator: Int
    /// `numerator ÷ denominator`; nil when the denominator is 0.
    public var rate: Double? { denominator == 0 ? nil : Double(numerator) / Double(denominator) }
    /// Event ids (and `set:<id>` for a set with no event) the figure came from.
    public var sources: [String]

    public init(numerator: Int, denominator: Int, sources: [String]) {
        self.numerator = numerator
        self.denominator = denominator
        self.sources = sources
    }

    enum CodingKeys: String, CodingKey { case numerator, denominator, rate, sources }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numerator = try c.decode(Int.self, forKey: .numerator)
        denominator = try c.decode(Int.self, forKey: .denominator)
        sources = try c.decode([String].self, forKey: .sources)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numerator, forKey: .numerator)
        try c.encode(denominator, forKey: .denominator)
        try c.encodeIfPresent(rate, forKey: .rate)
        try c.encode(sources, forKey: .sources)
    }
}

/// One calendar day of the window.
public struct SLADay: Sendable, Equatable, Codable {
    /// `2025-10-12` in the scorecard's zone.
    public var date: String
    /// True when a complete backup started on this day.
    public var completeBackup: Bool
    /// The complete backups of the day (event ids, or `set:<id>` for a set with no event).
    public var sources: [String]
    /// Backup events of the day that failed or were partial.
    public var failedRuns: [String]
    /// The largest age the newest complete set reached during the day, seconds; nil when no
    /// complete backup had finished yet.
    public var maxRPOSeconds: Double?
    /// The backups whose gap (or the one whose age at the end of the day) gave ``maxRPOSeconds``.
    public var rpoSources: [String]

    enum CodingKeys: String, CodingKey {
        case date, sources
        case completeBackup = "complete_backup"
        case failedRuns = "failed_runs"
        case maxRPOSeconds = "max_rpo_seconds"
        case rpoSources = "rpo_sources"
    }
}

/// One whole ISO week of the window.
public struct SLAWeek: Sendable, Equatable, Codable {
    /// `2025-W41`.
    public var week: String
    /// Its Monday and Sunday, `YYYY-MM-DD`.
    public var firstDay: String
    public var lastDay: String
    public var passingDrill: Bool
    /// The passing drill events of the week.
    public var sources: [String]
    /// Whether a drill of an off-site copy (``HistoryEvent/details`` `copy: offsite`) passed in the
    /// week; nil in a scorecard of a version before off-site copies.
    public var passingOffsiteDrill: Bool?
    /// Those drills' events.
    public var offsiteSources: [String]?
    /// Whether a `restore-drill spot` passed in the week (a ``HistoryEventKind/spot`` event with
    /// status `pass`); nil in a scorecard of a version before spot checks.
    public var passingSpot: Bool?
    /// Those spot checks' events.
    public var spotSources: [String]?

    enum CodingKeys: String, CodingKey {
        case week, sources
        case firstDay = "first_day"
        case lastDay = "last_day"
        case passingDrill = "passing_drill"
        case passingOffsiteDrill = "passing_offsite_drill"
        case offsiteSources = "offsite_sources"
        case passingSpot = "passing_spot"
        case spotSources = "spot_sources"
    }
}

/// One drill of the window (the RTO trend).
public struct SLADrill: Sendable, Equatable, Codable {
    public var drillID: DrillID?
    public var backupID: BackupID?
    /// When the drill finished, ISO 8601 UTC.
    public var time: String
    public var status: HistoryEventStatus
    /// Measured restore time, seconds; nil when the replay did not run.
    public var rtoSeconds: Double?
    /// The event it came from.
    public var source: String

    enum CodingKeys: String, CodingKey {
        case time, status, source
        case drillID = "drill_id"
        case backupID = "backup_id"
        case rtoSeconds = "rto_seconds"
    }
}

/// The weekly restore-test SLA, measured (`restore-drill report sla [--since 90d]`; README, "Retention, health and history").
///
/// **Window.** The N = ⌊since ÷ 1 day⌋ (at least 1) whole calendar days before the day of `now`,
/// in the given zone; today is left out because it is not over. Weeks are the whole ISO weeks
/// (Monday–Sunday) inside those days.
///
/// **Sources.** Complete backups are the `backup` events with status `complete` plus the complete
/// sets still in the destination that have no such event (named `set:<id>`); a backup's day is the
/// day of its id (its start), its finish time is the event's time or the manifest's `finished_at`.
/// Drills are the `drill` events.
///
/// **Figures.**
/// - backup success rate: days with a complete backup ÷ days (a day with no run is a miss);
/// - RPO achieved: per day, the largest age the newest complete set reached during the day. The
///   age grows until the next complete backup finishes, so the largest value is the gap between
///   two consecutive complete backups that ends in the day, or the age at the end of the day.
///   This is measured from finish times, not the start of each backup (data is as of the start,
///   so the real figure is up to one backup's duration larger), and a set removed without a history
///   event is invisible. `rpo.days_within` counts the days at or below the RPO objective;
/// - weeks with a passing drill ÷ whole weeks;
/// - restore validation rate: passing drills ÷ drills in the window;
/// - RTO trend: every drill of the window in time order, with its measured RTO, and the median
///   and maximum against the RTO objective.
public struct SLAScorecard: Sendable, Equatable, Codable {
    public static let formatName = "restore-drill/sla"
    public static let formatVersion = 1

    public var format: String = SLAScorecard.formatName
    public var formatVersion: Int = SLAScorecard.formatVersion
    public var generatedAt: String
    /// First day and last day of the window, `YYYY-MM-DD`, and its zone.
    public var firstDay: String
    public var lastDay: String
    public var timeZone: String
    public var days: [SLADay]
    public var weeks: [SLAWeek]
    public var drills: [SLADrill]
    public var backupSuccess: SLARate
    /// Days whose ``SLADay/maxRPOSeconds`` is at or below the objective ÷ days.
    public var rpoDaysWithin: SLARate
    public var rpoObjectiveSeconds: Double
    /// The largest daily RPO of the window, and its day.
    public var worstRPOSeconds: Double?
    public var worstRPODay: String?
    public var weeksWithPassingDrill: SLARate
    /// Whole weeks with a passing drill of an off-site copy (`drill --offsite`) ÷ whole weeks; nil
    /// in a scorecard of a version before off-site copies.
    public var weeksWithPassingOffsiteDrill: SLARate?
    /// Whole weeks with a passing spot check (`restore-drill spot`) ÷ whole weeks; nil in a
    /// scorecard of a version before spot checks.
    public var weeksWithPassingSpot: SLARate?
    public var restoreValidation: SLARate
    public var rtoObjectiveSeconds: Double
    public var rtoMedianSeconds: Double?
    public var rtoMaxSeconds: Double?
    /// Drills whose RTO exceeded the objective ÷ drills with an RTO.
    public var rtoOverObjective: SLARate

    enum CodingKeys: String, CodingKey {
        case format, days, weeks, drills
        case formatVersion = "format_version"
        case generatedAt = "generated_at"
        case firstDay = "first_day"
        case lastDay = "last_day"
        case timeZone = "time_zone"
        case backupSuccess = "backup_success"
        case rpoDaysWithin = "rpo_days_within"
        case rpoObjectiveSeconds = "rpo_objective_seconds"
        case worstRPOSeconds = "worst_rpo_seconds"
        case worstRPODay = "worst_rpo_day"
        case weeksWithPassingDrill = "weeks_with_passing_drill"
        case weeksWithPassingOffsiteDrill = "weeks_with_passing_offsite_drill"
        case weeksWithPassingSpot = "weeks_with_passing_spot"
        case restoreValidation = "restore_validation"
        case rtoObjectiveSeconds = "rto_objective_seconds"
        case rtoMedianSeconds = "rto_median_seconds"
        case rtoMaxSeconds = "rto_max_seconds"
        case rtoOverObjective = "rto_over_objective"
    }

    /// A complete backup as the scorecard sees it.
    struct CompleteBackup {
        var day: Date  // its start, for the day it counts on
        var finished: Date
        var source: String
    }

    /// Computes the scorecard.
    /// - Parameters:
    ///   - events: the history (any order).
    ///   - sets: the sets now in the destination (``BackupSetScanner``).
    ///   - since: the window's length, seconds (`--since 90d` is 7 776 000).
    ///   - now: the instant of the report (injected clock).
    ///   - timeZone: the zone of days and weeks (the retention zone).
    ///   - objectives: the RPO and RTO objectives, seconds.
    public static func compute(
        events: [HistoryEvent], sets: [ScannedSet], since: TimeInterval, now: Date, timeZone: TimeZone,
        objectives: RestoreDrillConfig.Objectives
    ) -> SLAScorecard {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        let dayCount = max(1, Int(since / 86400))
        let today = calendar.startOfDay(for: now)
        let dayStarts = (0...dayCount).map { calendar.date(byAdding: .day, value: $0 - dayCount, to: today)! }
        let windowStart = dayStarts.first!
        let windowEnd = today
        let dayKey = { (d: Date) in RetentionPolicy.bucketKey(.daily, of: d, timeZone: timeZone) }

        // Complete backups: events first, then sets with no event.
        var backups: [CompleteBackup] = []
        var seen = Set<BackupID>()
        for e in events where e.kind == .backup && e.status == .complete {
            backups.append(CompleteBackup(day: e.backupID?.date ?? e.time, finished: e.time, source: e.id))
            if let id = e.backupID { seen.insert(id) }
        }
        for s in sets where s.status == .complete && !seen.contains(s.id) {
            backups.append(CompleteBackup(day: s.id.date, finished: s.finishedAt, source: "set:\(s.id)"))
        }
        backups.sort { ($0.finished, $0.source) < ($1.finished, $1.source) }

        var days: [SLADay] = []
        for i in 0..<dayCount {
            let start = dayStarts[i]
            let end = dayStarts[i + 1]
            let inDay = backups.filter { $0.day >= start && $0.day < end }
            let failed = events.filter {
                $0.kind == .backup && $0.status != .complete && ($0.backupID?.date ?? $0.time) >= start
                    && ($0.backupID?.date ?? $0.time) < end
            }.sorted { $0.time < $1.time }.map(\.id)
            // Largest age of the newest complete set during [start, end).
            var worst: Double?
            var worstSources: [String] = []
            for (j, b) in backups.enumerated() where b.finished > start && b.finished <= end && j > 0 {
                let gap = b.finished.timeIntervalSince(backups[j - 1].finished)
                if worst == nil || gap > worst! {
                    worst = gap
                    worstSources = [backups[j - 1].source, b.source]
                }
            }
            if let last = backups.last(where: { $0.finished < end }) {
                let age = end.timeIntervalSince(last.finished)
                if worst == nil || age > worst! {
                    worst = age
                    worstSources = [last.source]
                }
            }
            days.append(
                SLADay(
                    date: dayKey(start), completeBackup: !inDay.isEmpty, sources: inDay.map(\.source),
                    failedRuns: failed,
                    maxRPOSeconds: worst, rpoSources: worstSources))
        }

        // Whole ISO weeks inside the window.
        var weeks: [SLAWeek] = []
        let passing = events.filter { $0.kind == .drill && $0.status == .pass }
        let spots = events.filter { $0.kind == .spot && $0.status == .pass }
        for start in dayStarts.dropLast() where calendar.component(.weekday, from: start) == 2 {
            guard let end = calendar.date(byAdding: .day, value: 7, to: start), end <= windowEnd else { continue }
            let drilled = passing.filter { $0.time >= start && $0.time < end }.sorted { $0.time < $1.time }
            let inWeek = drilled.map(\.id)
            let offsite = drilled.filter { $0.details["copy"] == "offsite" }.map(\.id)
            let spotted = spots.filter { $0.time >= start && $0.time < end }.sorted { $0.time < $1.time }.map(\.id)
            weeks.append(
                SLAWeek(
                    week: RetentionPolicy.bucketKey(.weekly, of: start, timeZone: timeZone), firstDay: dayKey(start),
                    lastDay: dayKey(calendar.date(byAdding: .day, value: 6, to: start)!), passingDrill: !inWeek.isEmpty,
                    sources: inWeek, passingOffsiteDrill: !offsite.isEmpty, offsiteSources: offsite,
                    passingSpot: !spotted.isEmpty, spotSources: spotted))
        }

        // Drills of the window.
        let drillEvents = events.filter { $0.kind == .drill && $0.time >= windowStart && $0.time < windowEnd }
            .sorted { ($0.time, $0.id) < ($1.time, $1.id) }
        let drills = drillEvents.map {
            SLADrill(
                drillID: $0.drillID, backupID: $0.backupID, time: Timestamp.string($0.time), status: $0.status,
                rtoSeconds: $0.rtoSeconds, source: $0.id)
        }
        let rtos = drills.compactMap(\.rtoSeconds).sorted()
        let median: Double? =
            rtos.isEmpty
            ? nil : rtos.count % 2 == 1 ? rtos[rtos.count / 2] : (rtos[rtos.count / 2 - 1] + rtos[rtos.count / 2]) / 2
        let withRTO = drills.filter { $0.rtoSeconds != nil }
        let over = withRTO.filter { $0.rtoSeconds! > objectives.rto }

        let rpoKnown = days.filter { $0.maxRPOSeconds != nil }
        let within = days.filter { ($0.maxRPOSeconds ?? .infinity) <= objectives.rpo }
        let worstDay = rpoKnown.max { $0.maxRPOSeconds! < $1.maxRPOSeconds! }

        var card = SLAScorecard(
            generatedAt: Timestamp.string(now), firstDay: days.first!.date, lastDay: days.last!.date,
            timeZone: timeZone.identifier, days: days, weeks: weeks, drills: drills,
            backupSuccess: SLARate(
                numerator: days.filter(\.completeBackup).count, denominator: days.count,
                sources: days.flatMap(\.sources)),
            rpoDaysWithin: SLARate(
                numerator: within.count, denominator: days.count,
                sources: Array(Set(within.flatMap(\.rpoSources))).sorted()),
            rpoObjectiveSeconds: objectives.rpo, worstRPOSeconds: worstDay?.maxRPOSeconds, worstRPODay: worstDay?.date,
            weeksWithPassingDrill: SLARate(
                numerator: weeks.filter(\.passingDrill).count, denominator: weeks.count,
                sources: weeks.flatMap(\.sources)),
            restoreValidation: SLARate(
                numerator: drills.filter { $0.status == .pass }.count, denominator: drills.count,
                sources: drills.map(\.source)),
            rtoObjectiveSeconds: objectives.rto, rtoMedianSeconds: median, rtoMaxSeconds: rtos.last,
            rtoOverObjective: SLARate(numerator: over.count, denominator: withRTO.count, sources: over.map(\.source)))
        let offsiteWeeks = weeks.filter { $0.passingOffsiteDrill == true }
        card.weeksWithPassingOffsiteDrill = SLARate(
            numerator: offsiteWeeks.count, denominator: weeks.count,
            sources: offsiteWeeks.flatMap { $0.offsiteSources ?? [] })
        let spotWeeks = weeks.filter { $0.passingSpot == true }
        card.weeksWithPassingSpot = SLARate(
            numerator: spotWeeks.count, denominator: weeks.count, sources: spotWeeks.flatMap { $0.spotSources ?? [] })
        return card
    }
}
