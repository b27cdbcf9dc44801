/// # Retention
///
/// Decides which backup sets a prune keeps (README, "Retention, health and
/// history"; docs/ARCHITECTURE.md, "Targets").
/// Terms: a **rule** is one of `last`, `daily`, `weekly`, `monthly` with a count (the
/// configuration's `retention` keys); a **bucket** is one calendar day, ISO week or month in the
/// configured IANA time zone; a **decision** is keep or remove for one set, with every reason.
///
/// This target is a pure function, ``RetentionPolicy/apply(sets:rules:now:timeZone:)``: it reads
/// no files and removes nothing, so an interrupted run leaves nothing behind. Removing the sets it
/// marks, the lock and the `.partial-*` clean-up belong to the `prune` command.
import DrillCore
import Foundation

/// How many sets each rule keeps: the `retention` section of the configuration
/// (`{last: 1, daily: 7, weekly: 4, monthly: 12}` by default). A count of 0 turns a rule off.
public struct RetentionRules: Sendable, Equatable, Codable {
    /// Keep the N newest sets (complete or partial).
    public var last: Int
    /// Keep the newest complete set of each of the N newest calendar days that hold one.
    public var daily: Int
    /// Keep the newest complete set of each of the N newest ISO weeks (Monday–Sunday) that hold one.
    public var weekly: Int
    /// Keep the newest complete set of each of the N newest calendar months that hold one.
    public var monthly: Int

    /// Creates rules; negative counts are treated as 0.
    public init(last: Int = 1, daily: Int = 7, weekly: Int = 4, monthly: Int = 12) {
        self.last = max(0, last)
        self.daily = max(0, daily)
        self.weekly = max(0, weekly)
        self.monthly = max(0, monthly)
    }

    /// The rules of a parsed configuration's `retention` section.
    public init(_ settings: RestoreDrillConfig.RetentionSettings) {
        self.init(last: settings.last, daily: settings.daily, weekly: settings.weekly, monthly: settings.monthly)
    }
}

/// What retention needs to know about one backup set.
public struct RetainedSetInfo: Sendable, Equatable, Codable {
    /// The set's id; its UTC date (the backup's start) places the set in buckets.
    public var id: BackupID
    /// True for a complete set (valid manifest, no failed component); false for a partial one.
    public var complete: Bool
    /// True when at least one drill of this set passed (from the history).
    public var drillPassed: Bool

    public init(id: BackupID, complete: Bool, drillPassed: Bool = false) {
        self.id = id
        self.complete = complete
        self.drillPassed = drillPassed
    }
}

/// Keep or remove one set, and why.
public struct RetentionDecision: Sendable, Equatable, Codable {
    public var id: BackupID
    public var keep: Bool
    /// Every reason, in a fixed order. For a kept set: `dated in the future (…)`,
    /// `newest complete set`, `newest verified set`, `last N`, `daily 2025-10-12`,
    /// `weekly 2025-W41`, `monthly 2025-10`, `daily oldest set (3 of 7 days hold sets)`.
    /// For a removed set, one per rule from the coarsest: `beyond monthly 12`,
    /// `weekly 2025-W41 keeps full_20251012_030001`, `partial set: counts only for last`, `beyond last 1`.
    public var reasons: [String]

    public init(id: BackupID, keep: Bool, reasons: [String]) {
        self.id = id
        self.keep = keep
        self.reasons = reasons
    }

    /// One line as `prune` prints it: `keep full_20251012_030001: weekly 2025-W41, daily 2025-10-12`
    /// or `remove full_20250801_030001: beyond monthly 12; …`.
    public var summary: String {
        keep
            ? "keep \(id): \(reasons.joined(separator: ", "))"
            : "remove \(id): \(reasons.joined(separator: "; "))"
    }
}

/// The calendar buckets of the bucket rules.
public enum RetentionBucket: String, Sendable, CaseIterable, Codable {
    case daily, weekly, monthly

    /// The bucket's name in a reason: `day`, `week`, `month` (plural with an `s`).
    var unit: String {
        switch self {
        case .daily: "day"
        case .weekly: "week"
        case .monthly: "month"
        }
    }

    /// The bucket key of `date` in `calendar`: `2025-10-12` (day), `2025-W41` (ISO week, with the
    /// ISO week-numbering year, so 2021-01-01 is `2020-W53`), `2025-10` (month).
    func key(of date: Date, in calendar: Calendar) -> String {
        switch self {
        case .daily:
            let c = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
        case .weekly:
            let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            return String(format: "%04d-W%02d", c.yearForWeekOfYear!, c.weekOfYear!)
        case .monthly:
            let c = calendar.dateComponents([.year, .month], from: date)
            return String(format: "%04d-%02d", c.year!, c.month!)
        }
    }
}
