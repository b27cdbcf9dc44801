import DrillCore
import Foundation

/// A job that `restore-drill schedule install` schedules, one per key of the configuration's
/// `schedule` section (README, "Configuration").
public enum ScheduledJob: String, CaseIterable, Sendable, Codable {
    case backup, prune, drill, health
    /// The sampled drill (`drill --sample`), proving the retained sets' parts over time.
    case sample
    /// The spot check of the live workspace against the newest set (`spot`), for the SLA's spot row.
    case spot

    /// The arguments after the tool's path (before `--config FILE`).
    public var arguments: [String] {
        switch self {
        case .backup: ["backup"]
        case .prune: ["prune"]
        case .drill: ["drill", "--latest"]
        case .health: ["health"]
        case .sample: ["drill", "--sample"]
        case .spot: ["spot"]
        }
    }

    /// The `kind` of the history events this job records (README, "Retention, health and history"); nil for `health`,
    /// which records none.
    public var historyKind: String? {
        switch self {
        case .health: nil
        case .sample: "sampled_drill"
        case .spot: "spot"
        default: rawValue
        }
    }

    /// The configured time of this job.
    public func setting(in schedule: RestoreDrillConfig.ScheduleSettings) -> String {
        switch self {
        case .backup: schedule.backup
        case .prune: schedule.prune
        case .drill: schedule.drill
        case .health: schedule.health
        case .sample: schedule.sample
        case .spot: schedule.spot
        }
    }
}
