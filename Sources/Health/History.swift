import Destination
import DrillCore
import Foundation

/// What an event records.
public enum HistoryEventKind: String, Codable, Sendable, CaseIterable {
    /// A backup ran; ``HistoryEvent/status`` is `complete`, `partial` or `failed`.
    case backup
    /// A drill ran; status `pass` or `fail` (the drill's verdict).
    case drill
    /// `restore-drill check` read sets back; status `pass` or `fail`.
    case check
    /// A prune ran; status `ok` or `failed`.
    case prune
    /// A set was pushed to an off-site remote (`details.remote` names it); status `ok`, `failed`,
    /// or `retry` for an attempt that failed and was tried again after a pause.
    case push
    /// `offsite check` compared a remote's copy with the manifests (`details.remote`); status
    /// `pass` (hash-checked or read back), `unverified` (sizes only: the remote offers no hash)
    /// or `fail`.
    case offsiteCheck = "offsite_check"
    /// Parts of one set that a drill proved (issue 17, docs/PROOF.md): ``HistoryEvent/parts`` lists
    /// them, ``HistoryEvent/drillID`` names the drill; status `pass`. Written after every full or
    /// sampled drill that proved at least one part.
    case proof
    /// One set's drill within `drill --sample`: status `pass` or `fail`; details `sample` (the
    /// sample's id), `seed`, `parts` (restored of the set's) and `bytes`. Not a full drill: health's
    /// drill age, the SLA's drill weeks and RTO count only `drill` events.
    case sampledDrill = "sampled_drill"
    /// `restore-drill spot` compared the live workspace with the newest complete set; status
    /// `pass` or `fail`.
    case spot
    /// `restore-drill history note EVENT "text"`: what a person recorded about an earlier event
    /// (the remediation log); details `event` (the id it is about) and `text` (free text, data:
    /// escaped wherever shown); status `ok`.
    case note
}

/// The outcome recorded in an event. Which values a kind uses: see ``HistoryEventKind``.
public enum HistoryEventStatus: String, Codable, Sendable, CaseIterable {
    case complete, partial, failed, pass, fail, ok
    /// A push attempt failed and is tried again (``HistoryEventKind/push``).
    case retry
    /// A remote copy whose sizes match but whose bytes were not hashed or read back.
    case unverified
}

/// One event of the history: one JSON file `<destination>/.restore-drill/events/<id>.json`.
///
/// JSON shape (keys snake_case, times ISO 8601 UTC with milliseconds):
/// `{"format": "restore-drill/event", "format_version": 1, "id": "20251020T175019.123Z-drill-3f9a2c1b",
/// "kind": "drill", "time": "2025-10-20T17:50:19.123Z", "backup_id": "full_…", "drill_id": "drill_…",
/// "status": "pass", "rpo_seconds": 3600, "rto_seconds": 12.5, "report_folder": "/…/reports/drill_…",
/// "tool_version": "0.1.0", "host": "…", "details": {"removed": "3"}}`.
/// `time` is when the run finished (for a backup: when its set was complete or failed).
/// Chained events (issue 18, docs/EVIDENCE.md) also carry `"seq": 12` (1-based position in the
/// destination's chain) and `"prev": "<64 hex>"` (SHA-256 of the previous event file's exact bytes,
/// 64 zeros for seq 1); events written before the chain began, or to an unchained destination, have
/// neither. Both are set by ``HistoryStore/append(_:)``, never by the caller.
/// Events never hold secrets: ``HistoryStore/append(_:)`` refuses detail keys that name one.
public struct HistoryEvent: Codable, Sendable, Equatable {
    /// The value of `format`.
    public static let formatName = "restore-drill/event"
    /// The `format_version` this build reads and writes.
    public static let formatVersion = 1

    public var format: String = HistoryEvent.formatName
    public var formatVersion: Int = HistoryEvent.formatVersion
    /// `<UTC time as YYYYMMDDTHHMMSS.mmmZ>-<kind>-<8 random hex>`; the file is `<id>.json`.
    public var id: String
    public var kind: HistoryEventKind
    /// When the run finished, UTC.
    public var time: Date
    public var backupID: BackupID?
    public var drillID: DrillID?
    public var status: HistoryEventStatus
    /// Age of the newest complete set when the run finished, seconds (drills record it).
    public var rpoSeconds: Double?
    /// Measured restore time of a drill, seconds.
    public var rtoSeconds: Double?
    /// The drill's report folder (absolute).
    public var reportFolder: String?
    public var toolVersion: String
    public var host: String
    /// Free-form facts (counts, the failing check, …); never secrets.
    public var details: [String: String]
    /// A `proof` event's parts (``HistoryEventKind/proof``); nil for every other kind.
    public var parts: [ProvenPart]?
    /// 1-based position in the destination's chain; nil for an unchained event. Set by
    /// ``HistoryStore/append(_:)``.
    public var seq: Int?
    /// SHA-256 (64 lowercase hex) of the previous chained event file's bytes, 64 zeros for seq 1;
    /// nil for an unchained event. Set by ``HistoryStore/append(_:)``.
    public var prev: String?

    enum CodingKeys: String, CodingKey {
        case format, id, kind, time, status, host, details, parts, seq, prev
        case formatVersion = "format_version"
        case backupID = "backup_id"
        case drillID = "drill_id"
        case rpoSeconds = "rpo_seconds"
        case rtoSeconds = "rto_seconds"
        case reportFolder = "report_folder"
        case toolVersion = "tool_version"
    }

    /// A new event with a fresh id made from `time` and `kind`.
    public init(
        kind: HistoryEventKind, time: Date, status: HistoryEventStatus, backupID: BackupID? = nil,
        drillID: DrillID? = nil, rpoSeconds: Double? = nil, rtoSeconds: Double? = nil, reportFolder: String? = nil,
        details: [String: String] = [:], host: String = ToolInfo.hostName
    ) {
        self.id = Self.makeID(kind: kind, time: time)
        self.kind = kind
        self.time = time
        self.status = status
        self.backupID = backupID
        self.drillID = drillID
        self.rpoSeconds = rpoSeconds
        self.rtoSeconds = rtoSeconds
        self.reportFolder = reportFolder
        self.toolVersion = ToolInfo.version
        self.host = host
        self.details = details
    }

    /// The event of a finished drill: verdict, ids, RPO, RTO, report folder, and the failing checks;
    /// for a drill of an off-site copy also `copy` (`offsite`), `remote` (its name), `fetch_seconds`
    /// (three decimals) and `fetched_bytes`; when the set's script recorded what the replay ran with
    /// (``DrillResult/tools``), `tools` (``ToolsRecord/compact(_:)``), `tool_os` and `tool_arch`.
    public init(drill result: DrillResult, finishedAt: Date) {
        var details: [String: String] = [:]
        let failing = result.checks.problems
        if !failing.isEmpty {
            details["failed_checks"] = Array(Set(failing.map(\.check.rawValue))).sorted().joined(separator: ",")
        }
        details["isolation"] = result.isolation.rawValue
        // What the replay ran with (issue 19): the compact text, and the OS and architecture
        // apart, for `compat`.
        if let tools = result.tools {
            details["tools"] = ToolsRecord.compact(tools)
            details["tool_os"] = tools["os"]
            details["tool_arch"] = tools["arch"]
        }
        // A drill of an off-site copy says which copy and how long its download took (the
        // download is inside `rto_seconds`).
        if let copy = result.copy {
            details["copy"] = copy.kind
            details["remote"] = copy.remote
            details["fetch_seconds"] = String(format: "%.3f", copy.fetchSeconds)
            details["fetched_bytes"] = String(copy.fetchedBytes)
        }
        self.init(
            kind: .drill, time: finishedAt, status: result.verdict == .pass ? .pass : .fail, backupID: result.backupID,
            drillID: result.drillID, rpoSeconds: result.rpoSeconds, rtoSeconds: result.rtoSeconds,
            reportFolder: result.reportFolder, details: details, host: result.host)
    }

    /// `20251020T175019.123Z-drill-3f9a2c1b`: sorts by time, has no `:` (synced folders on other
    /// systems refuse it), and a random part so two runs in one millisecond never collide.
    static func makeID(kind: HistoryEventKind, time: Date) -> String {
        let compact = Timestamp.string(time).replacingOccurrences(of: "-", with: "").replacingOccurrences(
            of: ":", with: "")
        return "\(compact)-\(kind.rawValue)-\(String(format: "%08x", UInt32.random(in: 0...UInt32.max)))"
    }

    /// Equal when the recorded facts are: `seq` and `prev` are not compared, because the store, not
    /// the caller, sets them (an event as made equals the same event as read back);
    /// ``HistoryStore/verify()`` is what checks them.
    public static func == (a: HistoryEvent, b: HistoryEvent) -> Bool {
        a.format == b.format && a.formatVersion == b.formatVersion && a.id == b.id && a.kind == b.kind
            && a.time == b.time && a.backupID == b.backupID && a.drillID == b.drillID && a.status == b.status
            && a.rpoSeconds == b.rpoSeconds && a.rtoSeconds == b.rtoSeconds && a.reportFolder == b.reportFolder
            && a.toolVersion == b.toolVersion && a.host == b.host && a.details == b.details && a.parts == b.parts
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        id = try c.decode(String.self, forKey: .id)
        kind = try c.decode(HistoryEventKind.self, forKey: .kind)
        let text = try c.decode(String.self, forKey: .time)
        guard let date = Timestamp.date(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .time, in: c, debugDescription: "not an ISO 8601 time: \(text)")
        }
        time = date
        backupID = try c.decodeIfPresent(BackupID.self, forKey: .backupID)
        drillID = try c.decodeIfPresent(DrillID.self, forKey: .drillID)
        status = try c.decode(HistoryEventStatus.self, forKey: .status)
        rpoSeconds = try c.decodeIfPresent(Double.self, forKey: .rpoSeconds)
        rtoSeconds = try c.decodeIfPresent(Double.self, forKey: .rtoSeconds)
        reportFolder = try c.decodeIfPresent(String.self, forKey: .reportFolder)
        toolVersion = try c.decode(String.self, forKey: .toolVersion)
        host = try c.decode(String.self, forKey: .host)
        details = try c.decodeIfPresent([String: String].self, forKey: .details) ?? [:]
        parts = try c.decodeIfPresent([ProvenPart].self, forKey: .parts)
        seq = try c.decodeIfPresent(Int.self, forKey: .seq)
        prev = try c.decodeIfPresent(String.self, forKey: .prev)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(id, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encode(Timestamp.string(time), forKey: .time)
        try c.encodeIfPresent(backupID, forKey: .backupID)
        try c.encodeIfPresent(drillID, forKey: .drillID)
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(rpoSeconds, forKey: .rpoSeconds)
        try c.encodeIfPresent(rtoSeconds, forKey: .rtoSeconds)
        try c.encodeIfPresent(reportFolder, forKey: .reportFolder)
        try c.encode(toolVersion, forKey: .toolVersion)
        try c.encode(host, forKey: .host)
        try c.encode(details, forKey: .details)
        try c.encodeIfPresent(parts, forKey: .parts)
        try c.encodeIfPresent(seq, forKey: .seq)
        try c.encodeIfPresent(prev, forKey: .prev)
    }
}

/// An event file that could not be used, and why (events never stop the reader).
public struct HistoryProblem: Sendable, Equatable, Codable {
    /// The file's name inside the events folder.
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }
}

/// The events of a destination, oldest first, and the files that could not be read.
public struct HistoryLog: Sendable, Equatable {
    public var events: [HistoryEvent]
    public var problems: [HistoryProblem]
}

/// The history of one destination: `<destination>/.restore-drill/events/*.json`.
///
/// Safe in a synced folder: every event is its own file, written once through ``AtomicFile``
/// (a hidden temporary name renamed into place) and never rewritten, so two machines or a sync
/// client never merge into one file; readers skip hidden files and report the rest they cannot use.
/// A sync client's conflict copy of an event (same `id`, another file name) counts once.
public struct HistoryStore: Sendable {
    /// Where the event files are kept (``Destination/appendEvent(name:contents:)``,
    /// ``Destination/eventFiles()``); this store encodes and decodes them.
    public let store: any Destination

    /// The destination's location (for a local folder its absolute path).
    public var destination: String { store.location }

    /// `<destination>/.restore-drill/events` (where a local destination keeps the events).
    public var folder: String { LocalDestination(path: store.location).eventsFolder }

    /// The history of the local folder `destination`.
    public init(destination: String) {
        store = LocalDestination(path: destination)
    }

    /// The history kept in `destination`.
    public init(_ destination: any Destination) {
        store = destination
    }

    /// Detail keys that would name a secret; ``append(_:)`` refuses them.
    static let secretWords = ["password", "passphrase", "secret", "token", "credential_value", "private_key"]

    /// Writes `event` as `<event.id>.json` in the destination's history
    /// (``Destination/appendEvent(name:contents:)``; a local folder creates `<folder>` first).
    ///
    /// On a chained destination (``Destination/historyChainFolder``) the event is chained: under the
    /// history's own exclusive lock (`events.lock`, waited for up to ``appendLockWait`` seconds) it
    /// gets `seq` = head + 1 and `prev` = the head's SHA-256, is written, and `head.json` moves to it.
    /// Any `seq`/`prev` the caller set are replaced. Elsewhere it is written unchained (no `seq`).
    /// - Returns: where it was written (for a local destination the file's path).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder cannot be made, the file
    ///   exists already (events are never rewritten), the write fails, or the append lock stays held
    ///   (the message names `events.lock` and its holder's pid);
    ///   ``RestoreDrillError/runtime(_:)`` when a detail key names a secret or the id is not a
    ///   plain file name.
    @discardableResult
    public func append(_ event: HistoryEvent) throws -> String {
        try appendChained(event).path
    }

    /// As ``append(_:)``, and says where the event went in the chain.
    /// - Returns: the file's path and the chain's head after the append (nil on an unchained
    ///   destination).
    /// - Throws: as ``append(_:)``.
    public func appendChained(_ event: HistoryEvent) throws -> (path: String, head: HistoryChainHead?) {
        for key in event.details.keys {
            let lower = key.lowercased()
            if Self.secretWords.contains(where: { lower.contains($0) }) {
                throw RestoreDrillError.runtime(
                    "history event detail \"\(key)\" names a secret; events never store secrets")
            }
        }
        guard !event.id.isEmpty, !event.id.hasPrefix("."), !event.id.contains("/") else {
            throw RestoreDrillError.runtime("history event id \"\(event.id)\" is not a plain file name")
        }
        let name = "\(event.id).json"
        let path = (folder as NSString).appendingPathComponent(name)
        guard let chainFolder = store.historyChainFolder else {
            var unchained = event
            unchained.seq = nil
            unchained.prev = nil
            try store.appendEvent(name: name, contents: try Self.encode(unchained))
            return (path, nil)
        }
        let chain = HistoryChain(folder: chainFolder)
        let lock = try chain.lockForAppend(wait: appendLockWait)
        defer { lock.release() }
        let head = try chain.head(store: store)
        var chained = event
        chained.seq = (head?.seq ?? 0) + 1
        chained.prev = head?.sha256 ?? HistoryChainHead.genesis
        let data = try Self.encode(chained)
        try store.appendEvent(name: name, contents: data)
        let newHead = HistoryChainHead(seq: chained.seq ?? 1, eventID: event.id, sha256: SHA256Digest.hex(of: data))
        chain.writeHead(newHead)
        return (path, newHead)
    }

    /// How long ``append(_:)`` waits for the history's append lock, seconds (appends hold it for
    /// milliseconds; a longer wait means a writer is stuck).
    public var appendLockWait: Double = 10

    /// An event's file bytes: sorted keys, pretty-printed, a final newline.
    static func encode(_ event: HistoryEvent) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(event)
        data.append(0x0a)
        return data
    }

    /// Reads every event file.
    /// - Returns: events sorted by time (then id), one per id, and a problem per file that is not
    ///   JSON, not format `restore-drill/event` version 1, or a duplicate id.
    ///   A destination without history gives an empty log.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the events folder exists but cannot be listed.
    public func load() throws -> HistoryLog {
        let files = try store.eventFiles()
        var events: [String: HistoryEvent] = [:]
        var fileOf: [String: String] = [:]
        var problems: [HistoryProblem] = []
        for file in files where !file.name.hasPrefix(".") && file.name.hasSuffix(".json") {
            let name = file.name
            guard let data = file.contents else {
                problems.append(HistoryProblem(file: name, message: "unreadable"))
                continue
            }
            let event: HistoryEvent
            do {
                event = try JSONDecoder().decode(HistoryEvent.self, from: data)
            } catch let error as DecodingError {
                problems.append(HistoryProblem(file: name, message: "does not parse: \(Manifest.describe(error))"))
                continue
            } catch {
                problems.append(HistoryProblem(file: name, message: "does not parse: \(error)"))
                continue
            }
            guard event.format == HistoryEvent.formatName, event.formatVersion == HistoryEvent.formatVersion else {
                problems.append(
                    HistoryProblem(
                        file: name,
                        message:
                            "format \"\(event.format)\" version \(event.formatVersion) is not \(HistoryEvent.formatName) version \(HistoryEvent.formatVersion)"
                    ))
                continue
            }
            if let earlier = fileOf[event.id] {
                // Keep the file named by the id; report the other one.
                let copy = name == "\(event.id).json" ? earlier : name
                problems.append(
                    HistoryProblem(file: copy, message: "duplicate of event \(event.id) (a sync conflict copy?)"))
                if copy == name { continue }
            }
            events[event.id] = event
            fileOf[event.id] = name
        }
        let sorted = events.values.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
        return HistoryLog(events: sorted, problems: problems)
    }

    /// The events, oldest first; see ``load()`` for the files it skips.
    /// - Throws: as ``load()``.
    public func events() throws -> [HistoryEvent] { try load().events }
}

extension HistoryStore {
    /// Appends a ``HistoryEventKind/note`` event about event `eventID`: the remediation log.
    /// - Parameters:
    ///   - eventID: the id of an event of this history (any kind, notes too).
    ///   - text: free text; stored as data (JSON-escaped), shown escaped (``HistoryText/visible(_:)``).
    ///   - time: when it was noted, UTC.
    /// - Returns: the note event as written (with its `seq` and `prev` on a chained destination).
    /// - Throws: ``RestoreDrillError/usage(_:)`` naming `eventID` when no event has that id or the
    ///   text is empty; as ``append(_:)`` otherwise.
    @discardableResult
    public func note(about eventID: String, text: String, time: Date) throws -> HistoryEvent {
        guard try events().contains(where: { $0.id == eventID }) else {
            throw RestoreDrillError.usage(
                "no event \"\(HistoryText.visible(eventID))\" in the history of \(destination) "
                    + "(`restore-drill history --json` lists the ids)")
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw RestoreDrillError.usage("a note needs text: what was found or done about \(eventID)")
        }
        let event = HistoryEvent(kind: .note, time: time, status: .ok, details: ["event": eventID, "text": text])
        let written = try appendChained(event)
        // As written: with the seq and prev the append gave it.
        guard let data = FileManager.default.contents(atPath: written.path),
            let decoded = try? JSONDecoder().decode(HistoryEvent.self, from: data)
        else { return event }
        return decoded
    }
}
