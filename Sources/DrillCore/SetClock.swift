import Foundation

/// The one rule for "a set dated in the future", for every command that looks at sets
/// (`drill --latest`, `rpo`, `set.coverage`, `health`, `prune`, `report sla`).
///
/// A set is in the future when the instant its id names (``BackupID/date``, the backup's start,
/// UTC) lies more than ``futureSkew`` after `now`. Up to that much is clock skew between the
/// machine that made the set and the one looking at it: such a set counts as any other. A set
/// further ahead was made while a clock was wrong: it never takes over `drill --latest`, never
/// counts for the backup age or a retention bucket, and prune always keeps it.
public enum SetClock {
    /// How far past `now` a set's id may lie and still count: 300 seconds (5 minutes).
    public static let futureSkew: TimeInterval = 300

    /// True when `id`'s instant lies more than ``futureSkew`` after `now`.
    public static func isFuture(_ id: BackupID, now: Date) -> Bool {
        id.date.timeIntervalSince(now) > futureSkew
    }
}
