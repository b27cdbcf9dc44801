import Destination
import DrillCore
import Foundation

/// One drill as this host's own report of it says: `<reports>/<drill id>/report.json`
/// (docs/ARCHITECTURE.md, "Reports"), written by the drill into the reports folder (mode 0700),
/// which is on this machine and never in the destination.
///
/// The history lives in the destination, often a synced folder anyone with access can write to,
/// and its hash chain has no key: a dropped-in or re-chained event file can claim any verdict.
/// What says "this set was proven" to a person (the runbook, `compat`) therefore believes a
/// drill only when this host's report of it agrees (issue 19; issue 11, "every set is hostile
/// until proven").
public struct LocalDrillReport: Sendable, Equatable {
    /// The drill's id (the report folder's name).
    public var drillID: DrillID
    /// The set drilled.
    public var backupID: BackupID
    /// True when the drill passed (`verdict` `pass`).
    public var passed: Bool
    /// When the drill finished (`finished_at`).
    public var finishedAt: Date
    /// SHA-256 (hex) of the `manifest.json` bytes the drill judged (`manifest_sha256`); nil when
    /// the drill read none.
    public var manifestSHA256: String?
    /// Whether the set's manifest HMAC verified under the vault password (`authenticated`); nil
    /// when the report does not say.
    public var authenticated: Bool?
    /// The tools the replay recorded (`tools`: `sh`, `tar`, …, `os`, `arch` → version text); nil
    /// when none.
    public var tools: [String: String]?
    /// The measured RTO (`rto_seconds`), seconds; nil when not measured.
    public var rtoSeconds: Double?
    /// The checks that failed, ids such as `set.artifacts`, sorted.
    public var failedChecks: [String]
    /// The report folder.
    public var folder: String
    /// The set folder the drill read (`set_path`); nil when the report does not say.
    public var setPath: String? = nil
}

/// Reads this host's drill reports.
public enum LocalDrillReports {
    /// The largest `report.json` read: 64 MiB (a drill of a set with tens of thousands of files).
    public static let reportSizeLimit = 64 << 20

    /// The drill reports in `folder`: every `drill_*` folder (not a link) holding a readable
    /// `report.json` (a regular file, not a link, at most ``reportSizeLimit`` bytes) of format
    /// `restore-drill/drill-report` whose `drill_id` is the folder's name, owned by this user and
    /// not finished ahead of `now` (``SetClock/futureSkew``). Sampled drills write their per-set
    /// reports there too. Unreadable or malformed reports are left out; a reports folder that is
    /// not this user's own or that others can write to gives none.
    /// - Parameters:
    ///   - folder: the reports folder (`reports.folder`).
    ///   - now: the instant of the check.
    /// - Returns: the reports by drill id (its text form); empty when the folder is missing.
    public static func load(folder: String, now: Date = Date()) -> [String: LocalDrillReport] {
        // Only a folder of this user that others cannot write to holds reports this machine wrote.
        var folderInfo = stat()
        guard lstat(folder, &folderInfo) == 0, (folderInfo.st_mode & S_IFMT) == S_IFDIR,
            folderInfo.st_uid == geteuid(), (folderInfo.st_mode & 0o022) == 0,
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder)
        else { return [:] }
        var out: [String: LocalDrillReport] = [:]
        for name in names where DrillID(name) != nil {
            let path = (folder as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            let file = (path as NSString).appendingPathComponent("report.json")
            guard info.st_uid == geteuid(),
                let data = UntrustedFile.read(file, limit: reportSizeLimit, requirements: [.ownedByEffectiveUser]),
                let report = parse(data, folder: path), report.drillID.description == name,
                report.finishedAt.timeIntervalSince(now) <= SetClock.futureSkew
            else { continue }
            out[name] = report
        }
        return out
    }

    /// The report in `data` (a drill's `report.json`), or nil when it is not one.
    static func parse(_ data: Data, folder: String) -> LocalDrillReport? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            object["format"] as? String == "restore-drill/drill-report",
            let drill = (object["drill_id"] as? String).flatMap(DrillID.init),
            let set = (object["backup_id"] as? String).flatMap(BackupID.init),
            let verdict = object["verdict"] as? String,
            let finished = (object["finished_at"] as? String).flatMap(Timestamp.date)
        else { return nil }
        var failed: Set<String> = []
        for check in object["checks"] as? [[String: Any]] ?? [] where check["verdict"] as? String == "fail" {
            if let id = check["check"] as? String ?? check["id"] as? String { failed.insert(id) }
        }
        let tools = (object["tools"] as? [String: String]).flatMap { $0.isEmpty ? nil : $0 }
        return LocalDrillReport(
            drillID: drill, backupID: set, passed: verdict == "pass", finishedAt: finished,
            manifestSHA256: object["manifest_sha256"] as? String, authenticated: object["authenticated"] as? Bool,
            tools: tools, rtoSeconds: object["rto_seconds"] as? Double, failedChecks: failed.sorted(),
            folder: folder, setPath: object["set_path"] as? String)
    }
}

/// Whether a drill event in the history is one this machine can believe (issue 19): the rule
/// `health` and the proof ledger apply to every `drill` and `sampled_drill` event.
///
/// - An event dated more than ``SetClock/futureSkew`` after now never counts (one dated in the
///   future would hide every later failure).
/// - Its time must lie within ``maxDrillSeconds`` after its drill id's start (a drill cannot
///   take longer), so an event cannot borrow an old drill id to pass as a new drill.
/// - When this machine has a report of that drill, it must agree (same set, same verdict) and the
///   event's time must be the report's end (within ``SetClock/futureSkew``): a passing drill's
///   event replayed with a new date is not that drill's.
/// - When its drill id is no older than the oldest report this machine keeps, that report must
///   exist. An older drill's report may have been pruned (`reports.keep`): its event is taken at
///   the chain's word, but only when it is dated before the oldest kept drill began (so it can
///   never pass for a drill newer than one this machine reported).
/// - Readers count one event per drill id (the first in history order).
/// - With no report at all (a machine that only watches the folder), only the first two rules
///   apply.
public struct DrillVouching: Sendable {
    /// The longest a drill's event may follow its start: one day.
    public static let maxDrillSeconds: Double = 86400

    /// This machine's drill reports by drill id.
    public let reports: [String: LocalDrillReport]
    /// The oldest drill this machine still has a report of; nil when it has none.
    public let oldest: DrillID?

    /// - Parameter reports: ``LocalDrillReports/load(folder:now:)``.
    public init(reports: [String: LocalDrillReport]) {
        self.reports = reports
        oldest = reports.values.map(\.drillID).min()
    }

    /// The checks that failed in `event`'s drill: this machine's report's when it has one (the
    /// event's own `failed_checks` is anyone's to write), else the event's, taken at the chain's
    /// word as the event itself is (``problem(with:now:)`` refuses an event that should have a
    /// report and has none).
    public func failedChecks(of event: HistoryEvent) -> Set<String> {
        if let id = event.drillID, let report = reports[id.description] { return Set(report.failedChecks) }
        return Set((event.details["failed_checks"] ?? "").split(separator: ",").map(String.init))
    }

    /// Why `event` does not count at `now`, or nil when it does.
    public func problem(with event: HistoryEvent, now: Date) -> String? {
        if event.time.timeIntervalSince(now) > SetClock.futureSkew {
            return "is dated \(Timestamp.string(event.time)), in the future"
        }
        guard let id = event.drillID else { return reports.isEmpty ? nil : "names no drill id" }
        let offset = event.time.timeIntervalSince(id.date)
        if offset < -SetClock.futureSkew || offset > Self.maxDrillSeconds {
            return "is dated \(Timestamp.string(event.time)), not within a day of its drill \(id)'s start"
        }
        if let report = reports[id.description] {
            guard report.backupID == event.backupID, report.passed == (event.status == .pass) else {
                return "disagrees with this machine's report of \(id) (\(report.passed ? "pass" : "fail") of "
                    + "\(report.backupID))"
            }
            // The event is written when the drill ends: a copy dated otherwise (a replay of a
            // passing drill's event, dated now) is not that drill's.
            guard abs(event.time.timeIntervalSince(report.finishedAt)) <= SetClock.futureSkew else {
                return "is dated \(Timestamp.string(event.time)), but this machine's report of \(id) ended at "
                    + Timestamp.string(report.finishedAt)
            }
            return nil
        }
        guard let oldest, id >= oldest else {
            // Taken at the chain's word: a pruned drill, which ended before the oldest kept one
            // began. One dated later would pass for a new drill.
            guard let oldest, event.time > oldest.date else { return nil }
            return "names a drill older than this machine's reports but is dated \(Timestamp.string(event.time)), "
                + "after the oldest of them began"
        }
        return "has no report on this machine (another machine's drill, or written by someone else)"
    }
}

extension DrillVouching {
    /// The history as this machine can believe it: every `drill` and `sampled_drill` event
    /// ``problem(with:now:)`` refuses left out, one event per drill id (the first in history
    /// order), and each failed drill of a set in `destination` this machine reported whose event
    /// is missing (deleted from the synced folder) added back as a `drill` event from its report.
    /// Other events are kept as they are. `health` and `report sla` read it.
    /// - Parameters:
    ///   - events: the history's events, oldest first.
    ///   - now: the instant of the check.
    ///   - destination: the destination folder (a report counts as this destination's when its
    ///     `set_path` lies in it).
    /// - Returns: the events oldest first, and one sentence per drill event left out or added.
    public func believed(_ events: [HistoryEvent], now: Date, destination: String) -> (
        events: [HistoryEvent], problems: [String]
    ) {
        let here = destination.hasSuffix("/") ? destination : destination + "/"
        let result = believed(events, now: now) { !$0.passed && ($0.setPath?.hasPrefix(here) ?? false) }
        return (result.events, result.problems)
    }

    /// ``believed(_:now:destination:)`` with the reports whose missing events are added back
    /// chosen by `restores` (among those whose drill id no event names).
    /// - Returns: the events oldest first, one sentence per drill event left out or added, and
    ///   how many drill events were left out.
    public func believed(
        _ events: [HistoryEvent], now: Date, restoring restores: (LocalDrillReport) -> Bool
    ) -> (events: [HistoryEvent], problems: [String], leftOut: Int) {
        var problems: [String] = []
        var seen: Set<String> = []
        var out = events.filter { event in
            guard event.kind == .drill || event.kind == .sampledDrill else { return true }
            if let problem = problem(with: event, now: now) {
                problems.append("drill event \(event.id) \(problem): it does not count")
                return false
            }
            if let id = event.drillID?.description, !seen.insert(id).inserted {
                problems.append("drill event \(event.id) is a second event of \(id): it does not count")
                return false
            }
            return true
        }
        let leftOut = problems.count
        // This machine's word adds what the history lost.
        let named = Set(events.compactMap { $0.drillID?.description })
        let lost = reports.values.filter { !named.contains($0.drillID.description) && restores($0) }
        for report in lost.sorted(by: { ($0.finishedAt, $0.drillID) < ($1.finishedAt, $1.drillID) }) {
            problems.append(
                "drill event of \(report.drillID) is missing: this machine's report says it "
                    + "\(report.passed ? "PASSED" : "FAILED") on \(report.backupID) at "
                    + Timestamp.string(report.finishedAt))
            out.append(
                HistoryEvent(
                    kind: .drill, time: report.finishedAt, status: report.passed ? .pass : .fail,
                    backupID: report.backupID, drillID: report.drillID, rtoSeconds: report.rtoSeconds,
                    reportFolder: report.folder))
        }
        return (out.sorted { ($0.time, $0.id) < ($1.time, $1.id) }, problems, leftOut)
    }
}
