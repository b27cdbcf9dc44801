import DrillCore
import Foundation

/// The compatibility matrix `restore-drill compat` prints (issue 19): for each combination of
/// tools the history's drills replayed with, the newest passing and the newest failing drill.
///
/// A combination is the `tools` detail of a `drill` or `sampled_drill` event
/// (``HistoryEvent/init(drill:finishedAt:)``) cut to ``ToolsRecord/combinationKeys`` (os, arch,
/// sh, tar, gzip, hash, openssl), version text exactly as the set's script recorded it. Events
/// without a `tools` detail (drills of sets whose script predates the record) are counted in
/// ``unrecorded`` and belong to no combination. Pure: built from events, no disk access.
public struct CompatMatrix: Codable, Sendable, Equatable {
    /// `"restore-drill/compat"`.
    public static let formatName = "restore-drill/compat"
    public static let formatVersion = 1

    /// One drill as the matrix names it.
    public struct DrillRef: Codable, Sendable, Equatable {
        /// The drill's id.
        public var drillID: String
        /// When the drill finished (the event's time), UTC ISO 8601.
        public var time: String
        /// The set drilled, or nil when the event names none.
        public var backupID: String?
        /// `drill` or `sampled_drill`.
        public var kind: String

        enum CodingKeys: String, CodingKey {
            case time, kind
            case drillID = "drill_id"
            case backupID = "backup_id"
        }
    }

    /// One combination of tools and its newest verdicts.
    public struct Combination: Codable, Sendable, Equatable {
        /// The tools, keys of ``ToolsRecord/combinationKeys`` that were recorded.
        public var tools: [String: String]
        /// The newest passing drill with these tools, or nil.
        public var newestPass: DrillRef?
        /// The newest failing drill with these tools, or nil.
        public var newestFail: DrillRef?
        /// How many drills replayed with these tools.
        public var drills: Int

        /// `pass` when the newest drill with these tools passed, else `fail`.
        public var verdict: String {
            guard let fail = newestFail else { return "pass" }
            guard let pass = newestPass else { return "fail" }
            return pass.time >= fail.time ? "pass" : "fail"
        }

        enum CodingKeys: String, CodingKey {
            case tools, drills, verdict
            case newestPass = "newest_pass"
            case newestFail = "newest_fail"
        }

        public init(
            tools: [String: String], newestPass: DrillRef? = nil, newestFail: DrillRef? = nil, drills: Int = 0
        ) {
            self.tools = tools
            self.newestPass = newestPass
            self.newestFail = newestFail
            self.drills = drills
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            tools = try c.decode([String: String].self, forKey: .tools)
            newestPass = try c.decodeIfPresent(DrillRef.self, forKey: .newestPass)
            newestFail = try c.decodeIfPresent(DrillRef.self, forKey: .newestFail)
            drills = try c.decode(Int.self, forKey: .drills)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(tools, forKey: .tools)
            try c.encode(newestPass, forKey: .newestPass)
            try c.encode(newestFail, forKey: .newestFail)
            try c.encode(drills, forKey: .drills)
            try c.encode(verdict, forKey: .verdict)
        }
    }

    public var format = CompatMatrix.formatName
    public var formatVersion = CompatMatrix.formatVersion
    /// The combinations, the one with the newest drill first.
    public var combinations: [Combination]
    /// Drill events without a tools record (older sets' scripts, or the script never ran).
    public var unrecorded: Int
    /// Drill events this host's reports do not vouch for (no local report of that drill, or one
    /// that names another set or verdict): pruned reports, another host's drills, or forged
    /// events; they belong to no combination. Nil when the matrix was built from events alone.
    public var unvouched: Int?

    enum CodingKeys: String, CodingKey {
        case format, combinations, unrecorded, unvouched
        case formatVersion = "format_version"
    }

    /// The matrix of `events` (any order; only `drill` and `sampled_drill` events count), each
    /// taken at its word: for tests and for a history already trusted.
    public init(events: [HistoryEvent]) {
        self.init(events: events) { event in
            guard let text = event.details["tools"] else { return .some(nil) }
            var tools = Self.parseCompact(text)
            // The event's own os and arch details win (they are written apart for this).
            if let os = event.details["tool_os"] { tools["os"] = os }
            if let arch = event.details["tool_arch"] { tools["arch"] = arch }
            return .some(tools)
        }
        unvouched = nil
    }

    /// The matrix of the drill `events` this host's `reports` vouch for (issue 19): an event
    /// counts only when the local report of its drill names the same set and verdict and ended
    /// when the event says (``DrillVouching``), once per drill, and its tools are the report's (the history in the destination can be written by anyone who can
    /// write there; the reports folder is this machine's).
    /// - Parameters:
    ///   - events: the history's events, any order.
    ///   - reports: ``LocalDrillReports/load(folder:now:)`` of the configured reports folder.
    ///   - now: the instant of the check (``DrillVouching``'s clock rules).
    public init(events: [HistoryEvent], reports: [String: LocalDrillReport], now: Date = Date()) {
        // This machine's drills whose events the history lost (deleted from the synced folder)
        // count too, from their reports: a removed failure must not leave a PASS.
        let believed = DrillVouching(reports: reports).believed(events, now: now) { _ in true }
        var unvouched = believed.leftOut
        self.init(events: believed.events) { event in
            guard let id = event.drillID, let report = reports[id.description] else {
                unvouched += 1
                return nil
            }
            return .some(report.tools)
        }
        self.unvouched = unvouched
    }

    /// The matrix of `events`, each drill's tools from `tools`: nil leaves the event out, `.some(nil)`
    /// counts it as ``unrecorded``.
    init(events: [HistoryEvent], _ tools: (HistoryEvent) -> [String: String]??) {
        var byKey: [String: Combination] = [:]
        var newest: [String: Date] = [:]
        var unrecorded = 0
        for event in events where event.kind == .drill || event.kind == .sampledDrill {
            guard let recorded = tools(event) else { continue }
            guard let all = recorded, !all.isEmpty else {
                unrecorded += 1
                continue
            }
            let tools = all.filter { ToolsRecord.combinationKeys.contains($0.key) }
            let key = ToolsRecord.compact(tools)
            let ref = DrillRef(
                drillID: event.drillID?.description ?? event.id, time: Timestamp.string(event.time),
                backupID: event.backupID?.description, kind: event.kind.rawValue)
            var combination = byKey[key] ?? Combination(tools: tools)
            combination.drills += 1
            if event.status == .pass {
                if combination.newestPass.map({ $0.time < ref.time }) ?? true { combination.newestPass = ref }
            } else if combination.newestFail.map({ $0.time < ref.time }) ?? true {
                combination.newestFail = ref
            }
            byKey[key] = combination
            newest[key] = max(newest[key] ?? .distantPast, event.time)
        }
        combinations = byKey.keys.sorted {
            (newest[$0]!, $0) > (newest[$1]!, $1)
        }.map { byKey[$0]! }
        self.unrecorded = unrecorded
    }

    /// The record in a compact text (``ToolsRecord/compact(_:)``): `key=value` pairs joined by
    /// `; `; a known key starts each pair, so a value holding `; ` stays whole.
    static func parseCompact(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        var key: String?
        var value = ""
        for piece in text.components(separatedBy: "; ") {
            if let eq = piece.firstIndex(of: "="), ToolsRecord.keys.contains(String(piece[..<eq])) {
                if let key { out[key] = value }
                key = String(piece[..<eq])
                value = String(piece[piece.index(after: eq)...])
            } else if key != nil {
                value += "; " + piece
            }
        }
        if let key { out[key] = value }
        return out
    }

    /// The table `compat` prints: one block per combination (its tools, one a line, then the
    /// newest passing and failing drill), then how many drills recorded no tools.
    public var text: String {
        var lines: [String] = []
        if combinations.isEmpty { lines.append("no drill in the history recorded its tools") }
        for (i, c) in combinations.enumerated() {
            if i > 0 { lines.append("") }
            lines.append(
                "combination \(i + 1): \(c.verdict.uppercased()) (\(c.drills) drill\(c.drills == 1 ? "" : "s"))")
            for key in ToolsRecord.combinationKeys {
                lines.append("  \(key): " + HistoryText.visible(c.tools[key] ?? "(not recorded)"))
            }
            func describe(_ ref: DrillRef?) -> String {
                guard let ref else { return "none" }
                return "\(HistoryText.visible(ref.drillID)) at \(ref.time)"
                    + (ref.backupID.map { " of \(HistoryText.visible($0))" } ?? "")
            }
            lines.append("  newest pass: " + describe(c.newestPass))
            lines.append("  newest fail: " + describe(c.newestFail))
        }
        if unrecorded > 0 {
            lines.append("")
            lines.append(
                "\(unrecorded) drill\(unrecorded == 1 ? "" : "s") recorded no tools (the set's script predates the "
                    + "record, or the drill stopped before it ran the script)")
        }
        if let unvouched, unvouched > 0 {
            lines.append("")
            lines.append(
                "\(unvouched) drill event\(unvouched == 1 ? "" : "s") in the history not shown: this machine has no "
                    + "report of \(unvouched == 1 ? "it" : "them") that agrees (reports pruned, drills of another "
                    + "machine, or events written by someone else)")
        }
        return lines.joined(separator: "\n")
    }
}
