/// # Health
///
/// What the operator and the auditor see between drills (README, "Retention, health and
/// history"; docs/ARCHITECTURE.md, "Targets" and "Reports and metrics"). Terms:
/// - **history**: one small JSON file per event (backup, drill, check, prune) under
///   `<destination>/.restore-drill/events/`, so it travels with the sets and survives the loss of
///   the machine (``HistoryStore``, ``HistoryEvent``);
/// - **scan**: the sets of a destination as their manifests describe them (``BackupSetScanner``);
/// - **health**: the age of the newest complete set and of the newest passing drill against the
///   `health` thresholds, the last backup and drill results, the destination's state
///   (``HealthInput``, ``HealthReport``), rendered as text, JSON, a Nagios status line or a
///   Prometheus text file;
/// - **SLA scorecard**: backup success rate, RPO achieved, weeks with a passing drill, restore
///   validation rate and RTO trend over a window, each figure listing the events it came from
///   (``SLAScorecard``).
///
/// Interrupted runs: an event file and the Prometheus file are written with ``AtomicFile`` (a
/// temporary dot-file renamed into place), so an interruption leaves at most a hidden
/// `.…tmp-…` file, which readers skip. Nothing else here writes.
import DrillCore
import Foundation

/// Compact durations for status lines: `42s`, `12m`, `3h12m` (hours up to 2 days, `25h00m`),
/// then `2d`, `2d5h` (rounded down).
public enum CompactDuration {
    /// Formats `seconds` (negative values count as 0).
    public static func string(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded(.down)))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 2 * 86400 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        let hours = (s % 86400) / 3600
        return hours == 0 ? "\(s / 86400)d" : "\(s / 86400)d\(hours)h"
    }

    /// Formats a threshold: whole hours below 3 days (`25h`, `36h`), whole days above (`8d`),
    /// else as ``string(_:)``.
    public static func threshold(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.down))
        if s > 0, s % 86400 == 0, s >= 3 * 86400 { return "\(s / 86400)d" }
        if s > 0, s % 3600 == 0 { return "\(s / 3600)h" }
        return string(seconds)
    }
}
