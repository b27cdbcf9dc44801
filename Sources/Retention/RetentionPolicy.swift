import DrillCore
import Foundation

/// The retention rule of `restore-drill prune` (README, "Retention, health and history").
///
/// **The rule.** Each set is placed by its id's date (the backup's start, UTC) into a calendar
/// day, an ISO week (Monday to Sunday, numbered in the ISO week-numbering year, so 2021-01-01
/// falls in `2020-W53`) and a month, all in the given IANA time zone (so a set at 00:30 local
/// time during summer time belongs to that local day, whatever its UTC date). `daily N` keeps the
/// newest complete set of each of the N newest days that hold a complete set; days without a set
/// are not counted, so a gap of several weeks does not use up the count. `weekly N` and
/// `monthly N` do the same with weeks and months. `last N` keeps the N newest sets, complete or
/// partial. The rules are applied independently to the same list: one set may satisfy several
/// rules at once (the newest set is usually `last 1`, `daily`, `weekly` and `monthly` together).
/// When a bucket rule runs out of sets before its count is reached (fewer buckets hold sets than
/// it asks for), it also keeps the oldest complete set, so a young destination keeps its first
/// backup. Whatever the rules say, the newest complete set and the newest set whose drill passed
/// are never removed. A set dated more than 5 minutes after `now` (``SetClock``, the one clock rule of
/// every command: a clock that was wrong) is always kept and never counted into a bucket or into
/// `last`; a set up to 5 minutes ahead is clock skew and counts like any other. A partial set counts only for `last`: it can never stand
/// for a day, week or month, because it does not restore everything.
///
/// **How it differs from borg.** `borg prune` applies its rules in sequence (secondly … yearly)
/// and a set kept by one rule is not counted again by the next: with `--keep-daily 7
/// --keep-weekly 4`, the weekly rule starts below the sets the daily rule took, so borg keeps
/// 4 weeks *beyond* the 7 days. Here every rule looks at all sets, so `weekly 4` covers the newest
/// four weeks, including the week the daily sets lie in; fewer sets are kept, and the promise
/// "7 daily, 4 weekly, 12 monthly" means what it says about the calendar. (restic's `forget`
/// counts the same way as this rule; its releases after 0.14 also keep the oldest snapshot for a
/// rule that runs short.)
public enum RetentionPolicy {
    /// Applies `rules` to `sets` at instant `now` with buckets in `timeZone`.
    /// - Parameters:
    ///   - sets: every set in the destination with a valid manifest, in any order; ids are unique.
    ///   - rules: counts per rule.
    ///   - now: the instant of the prune (injected clock); sets dated more than
    ///     ``SetClock/futureSkew`` after it are kept, uncounted.
    ///   - timeZone: the zone of the calendar buckets (configuration `retention.timezone`).
    /// - Returns: one decision per set, newest first.
    public static func apply(
        sets: [RetainedSetInfo], rules: RetentionRules, now: Date, timeZone: TimeZone
    ) -> [RetentionDecision] {
        let calendar = isoCalendar(timeZone)
        let newestFirst = sets.sorted { $0.id > $1.id }
        let isFuture: (RetainedSetInfo) -> Bool = { SetClock.isFuture($0.id, now: now) }
        let present = newestFirst.filter { !isFuture($0) }
        let completePresent = present.filter(\.complete)

        var reasons: [BackupID: [String]] = [:]
        func add(_ id: BackupID, _ reason: String) { reasons[id, default: []].append(reason) }

        for set in newestFirst where isFuture(set) {
            add(set.id, "dated in the future (\(Timestamp.string(set.id.date))), not counted")
        }
        if let newest = completePresent.first { add(newest.id, "newest complete set") }
        if let verified = present.first(where: \.drillPassed) { add(verified.id, "newest verified set") }
        for (index, set) in present.prefix(rules.last).enumerated() { add(set.id, "last \(index + 1)") }

        // Per bucket rule: the kept bucket keys (newest first) and the set that stands for each.
        var keepers: [RetentionBucket: [String: BackupID]] = [:]
        for bucket in RetentionBucket.allCases {
            let count = rules.count(of: bucket)
            guard count > 0 else { continue }
            var kept: [String: BackupID] = [:]
            var lastKey: String?
            for set in completePresent {
                let key = bucket.key(of: set.id.date, in: calendar)
                guard key != lastKey else { continue }
                if kept.count == count { break }
                lastKey = key
                kept[key] = set.id
                add(set.id, "\(bucket.rawValue) \(key)")
            }
            keepers[bucket] = kept
            if kept.count < count, let oldest = completePresent.last, !kept.values.contains(oldest.id) {
                add(oldest.id, "\(bucket.rawValue) oldest set (\(kept.count) of \(count) \(bucket.unit)s hold sets)")
            }
        }

        return newestFirst.map { set in
            if let why = reasons[set.id] { return RetentionDecision(id: set.id, keep: true, reasons: why) }
            var why: [String] = []
            if !set.complete { why.append("partial set: counts only for last") }
            for bucket in RetentionBucket.allCases.reversed() where set.complete {
                let count = rules.count(of: bucket)
                guard count > 0 else { continue }
                let key = bucket.key(of: set.id.date, in: calendar)
                if let keeper = keepers[bucket]?[key] {
                    why.append("\(bucket.rawValue) \(key) keeps \(keeper)")
                } else {
                    why.append("beyond \(bucket.rawValue) \(count)")
                }
            }
            if rules.last > 0 { why.append("beyond last \(rules.last)") }
            if why.isEmpty { why.append("no rule keeps it") }
            return RetentionDecision(id: set.id, keep: false, reasons: why)
        }
    }

    /// The bucket key of `date` for `bucket` in `timeZone`, as reasons print it
    /// (`2025-10-12`, `2025-W41`, `2025-10`).
    public static func bucketKey(_ bucket: RetentionBucket, of date: Date, timeZone: TimeZone) -> String {
        bucket.key(of: date, in: isoCalendar(timeZone))
    }

    /// Resolves the configured zone: nil means the machine's zone.
    /// - Throws: ``RestoreDrillError/config(file:line:key:message:)`` for `retention.timezone` when
    ///   the name is not an IANA zone this system knows.
    public static func timeZone(named name: String?) throws -> TimeZone {
        guard let name else { return TimeZone.current }
        guard let zone = TimeZone(identifier: name) else {
            throw RestoreDrillError.config(
                file: "", line: nil, key: "retention.timezone", message: "unknown IANA time zone \"\(name)\"")
        }
        return zone
    }

    /// A Gregorian calendar with ISO 8601 week rules (weeks start on Monday; week 1 holds the
    /// year's first Thursday) in `timeZone`.
    static func isoCalendar(_ timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        return calendar
    }
}

extension RetentionRules {
    /// The count of a bucket rule.
    public func count(of bucket: RetentionBucket) -> Int {
        switch bucket {
        case .daily: daily
        case .weekly: weekly
        case .monthly: monthly
        }
    }
}
