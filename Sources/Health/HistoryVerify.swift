import Destination
import DrillCore
import Foundation

/// How a chain is broken at one place (``HistoryChainBreak``).
public enum HistoryChainBreakKind: String, Codable, Sendable, CaseIterable {
    /// An event's bytes changed: its SHA-256 is not its successor's `prev` (or, for the newest,
    /// not `head.json`'s).
    case edited
    /// An event is gone: a `seq` with no event, or `head.json` beyond the newest event.
    case removed
    /// Events were moved: an event's `prev` is the hash of an event that is not its predecessor, or
    /// a file holds another event than its name says (two files' contents swapped).
    case reordered
    /// Two events claim one place: one `seq`, or one `prev`.
    case forked
    /// An event file that cannot be read, parsed, or is not `restore-drill/event` version 1.
    case unreadable
    /// An event without `seq` dated after the chain began: written by a tool without the chain, or
    /// inserted.
    case unchained
}

/// One broken place of a chain.
///
/// JSON: `{"kind": "edited", "seq": 4, "event": "<id>", "file": "<id>.json", "message": "…"}`.
public struct HistoryChainBreak: Codable, Sendable, Equatable {
    public var kind: HistoryChainBreakKind
    /// The 1-based chain position where it is broken; nil for a file with no usable `seq`.
    public var seq: Int?
    /// The event id it names, when known.
    public var event: String?
    /// The event file's name inside the events folder, when known.
    public var file: String?
    /// For a person: what does not match, with both values.
    public var message: String

    /// - Parameters: as the properties.
    public init(kind: HistoryChainBreakKind, seq: Int?, event: String?, file: String?, message: String) {
        self.kind = kind
        self.seq = seq
        self.event = event
        self.file = file
        self.message = message
    }
}

/// What `restore-drill history verify` found: format `restore-drill/history-verify` version 1.
///
/// JSON: `{"format": "restore-drill/history-verify", "format_version": 1, "destination": "…",
/// "chained": true, "intact": true, "head": {"seq": 12, "id": "…", "sha256": "…"} | null,
/// "events": 14, "chained_events": 12, "before_chain": ["<id>", …], "breaks": [HistoryChainBreak, …],
/// "notes": ["…"]}`; `breaks` is in chain order, the first is the first broken place.
public struct HistoryVerification: Codable, Sendable, Equatable {
    public var format = "restore-drill/history-verify"
    public var formatVersion = 1
    /// The destination's location.
    public var destination: String
    /// False for a destination whose history is not chained (an rclone remote).
    public var chained: Bool
    /// True when nothing is broken (events before the chain began and notes do not break it).
    public var intact: Bool { breaks.isEmpty }
    /// The newest chained event as the files show it (not `head.json`); nil when none is chained.
    public var head: HistoryChainHead?
    /// Event files read (chained, unchained and unreadable).
    public var events: Int
    /// Events with a `seq`.
    public var chainedEvents: Int
    /// Ids of events without `seq` dated before the first chained event: written before the chain
    /// began; reported, never a break (their content is not protected).
    public var beforeChain: [String]
    /// Broken places, first (lowest `seq`) first; files with no `seq` after those with one.
    public var breaks: [HistoryChainBreak]
    /// Facts that are not breaks (`head.json` missing or one append behind, sync-conflict copies).
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case format, destination, chained, intact, head, events, breaks, notes
        case formatVersion = "format_version"
        case chainedEvents = "chained_events"
        case beforeChain = "before_chain"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        destination = try c.decode(String.self, forKey: .destination)
        chained = try c.decode(Bool.self, forKey: .chained)
        head = try c.decodeIfPresent(HistoryChainHead.self, forKey: .head)
        events = try c.decode(Int.self, forKey: .events)
        chainedEvents = try c.decode(Int.self, forKey: .chainedEvents)
        beforeChain = try c.decode([String].self, forKey: .beforeChain)
        breaks = try c.decode([HistoryChainBreak].self, forKey: .breaks)
        notes = try c.decode([String].self, forKey: .notes)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(destination, forKey: .destination)
        try c.encode(chained, forKey: .chained)
        try c.encode(intact, forKey: .intact)
        try c.encode(head, forKey: .head)
        try c.encode(events, forKey: .events)
        try c.encode(chainedEvents, forKey: .chainedEvents)
        try c.encode(beforeChain, forKey: .beforeChain)
        try c.encode(breaks, forKey: .breaks)
        try c.encode(notes, forKey: .notes)
    }

    init(destination: String, chained: Bool) {
        self.destination = destination
        self.chained = chained
        events = 0
        chainedEvents = 0
        beforeChain = []
        breaks = []
        notes = []
    }

    /// For a person: the verdict, the head (the value to anchor outside), then each break and note.
    /// Event ids and file names are shown with control characters replaced (they come from files).
    public var text: String {
        var lines: [String] = []
        if !chained {
            lines.append("history of \(destination) is not chained (\(events) events): nothing to verify")
        } else if intact {
            lines.append(
                "history chain intact: \(chainedEvents) chained events"
                    + (beforeChain.isEmpty ? "" : ", \(beforeChain.count) before the chain began"))
        } else {
            let first = breaks[0]
            lines.append(
                "history chain BROKEN: first at "
                    + (first.seq.map { "seq \($0)" } ?? "file \(HistoryText.visible(first.file ?? "?"))")
                    + " (\(first.kind.rawValue))")
        }
        if let head {
            lines.append(
                "chain head: seq \(head.seq) sha256 \(head.sha256) (event \(HistoryText.visible(head.eventID)))")
        } else if chained {
            lines.append("chain head: none (no chained event yet)")
        }
        for b in breaks {
            lines.append("  \(b.kind.rawValue): \(HistoryText.visible(b.message))")
        }
        for id in beforeChain { lines.append("  before the chain began: \(HistoryText.visible(id))") }
        for note in notes { lines.append("  note: \(HistoryText.visible(note))") }
        return lines.joined(separator: "\n")
    }
}

/// Text from history files made safe for a terminal or a report line.
public enum HistoryText {
    /// Replaces every C0 control character (tab and newline too) and DEL by its Unicode control
    /// picture (ESC → `␛`, LF → `␊`), so text from an event cannot change a line's layout or drive
    /// a terminal.
    public static func visible(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x7F: out.append("\u{2421}")
            case 0x00...0x1F: out.append(Unicode.Scalar(0x2400 + scalar.value) ?? "\u{FFFD}")
            default: out.append(scalar)
            }
        }
        return String(out)
    }
}

extension HistoryStore {
    /// Walks the chain in `seq` order and reports every broken place (``HistoryChainBreakKind``),
    /// first (lowest `seq`) first, and the head as the files show it.
    ///
    /// Unchained events dated before the first chained event are listed as before the chain began;
    /// unchained events dated at or after it are breaks (`unchained`). A `head.json` one append
    /// behind the newest event is a note (an append interrupted after writing its event); beyond
    /// it, or with another SHA-256, a break. An rclone destination gives `chained: false`.
    /// - Returns: the verification (``HistoryVerification/intact`` when nothing is broken).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the events cannot be listed.
    public func verify() throws -> HistoryVerification {
        let chainFolder = store.historyChainFolder
        var out = HistoryVerification(destination: destination, chained: chainFolder != nil)
        let files = try store.eventFiles().filter { !$0.name.hasPrefix(".") && $0.name.hasSuffix(".json") }
        out.events = files.count

        struct Link {
            var file: String
            var event: HistoryEvent
            var seq: Int
            var sha256: String
        }
        var links: [Link] = []
        var unchained: [(file: String, event: HistoryEvent)] = []
        var unnumbered: [HistoryChainBreak] = []
        var bytesSeen: [String: String] = [:]  // sha256 → first file name
        for file in files {
            guard let data = file.contents else {
                unnumbered.append(
                    HistoryChainBreak(
                        kind: .unreadable, seq: nil, event: nil, file: file.name,
                        message: "event file \(file.name) cannot be read"))
                continue
            }
            guard let event = try? JSONDecoder().decode(HistoryEvent.self, from: data),
                event.format == HistoryEvent.formatName, event.formatVersion == HistoryEvent.formatVersion
            else {
                unnumbered.append(
                    HistoryChainBreak(
                        kind: .unreadable, seq: nil, event: nil, file: file.name,
                        message: "event file \(file.name) is not a restore-drill/event version 1 (edited?)"))
                continue
            }
            let sha = SHA256Digest.hex(of: data)
            if let first = bytesSeen[sha] {
                // A sync client's conflict copy: the same bytes under another name.
                out.notes.append("\(file.name) is a byte-for-byte copy of \(first) (a sync conflict copy?)")
                continue
            }
            bytesSeen[sha] = file.name
            guard let seq = event.seq else {
                unchained.append((file.name, event))
                continue
            }
            links.append(Link(file: file.name, event: event, seq: seq, sha256: sha))
        }
        // A sync conflict copy is named `<id> (conflict).json` or similar; keep `<id>.json` first.
        links.sort { ($0.seq, $0.file) < ($1.seq, $1.file) }
        out.chainedEvents = links.count

        var breaks: [HistoryChainBreak] = []
        // Files whose name is not their event's id: contents swapped or renamed.
        for link in links where link.file != "\(link.event.id).json" {
            breaks.append(
                HistoryChainBreak(
                    kind: .reordered, seq: link.seq, event: link.event.id, file: link.file,
                    message:
                        "file \(link.file) holds event \(link.event.id) (seq \(link.seq)): files were swapped or renamed"
                ))
        }
        let bySeq = Dictionary(grouping: links, by: \.seq)
        let seqOfHash = Dictionary(links.map { ($0.sha256, $0.seq) }, uniquingKeysWith: { a, _ in a })
        let maxSeq = links.last?.seq ?? 0
        if let bad = links.first(where: { $0.seq < 1 }) {
            breaks.append(
                HistoryChainBreak(
                    kind: .edited, seq: bad.seq, event: bad.event.id, file: bad.file,
                    message: "event \(bad.event.id) has seq \(bad.seq); a chain starts at 1 (edited)"))
        }
        let unreadable = unnumbered.compactMap(\.file)
        if maxSeq >= 1 {
            for s in 1...maxSeq {
                guard let here = bySeq[s] else {
                    let next = links.first { $0.seq > s }
                    breaks.append(
                        HistoryChainBreak(
                            kind: .removed, seq: s, event: nil, file: nil,
                            message: "seq \(s) is missing (removed"
                                + (unreadable.isEmpty
                                    ? ""
                                    : ", or edited so it no longer parses: "
                                        + unreadable.joined(separator: ", ")) + ")"
                                + (next.map { "; the next event is \($0.event.id), seq \($0.seq)" } ?? "")))
                    continue
                }
                if here.count > 1 {
                    breaks.append(
                        HistoryChainBreak(
                            kind: .forked, seq: s, event: here[1].event.id, file: here[1].file,
                            message: "seq \(s) is claimed by \(here.count) events: "
                                + here.map { "\($0.event.id) (\($0.file))" }.joined(separator: ", ")))
                }
                let expected: Set<String>? =
                    s == 1 ? [HistoryChainHead.genesis] : bySeq[s - 1].map { Set($0.map(\.sha256)) }
                guard let expected else { continue }  // the gap is reported already
                for link in here where !expected.contains(link.event.prev ?? "") {
                    let prev = link.event.prev ?? "(none)"
                    if let other = seqOfHash[prev] {
                        breaks.append(
                            HistoryChainBreak(
                                kind: .reordered, seq: s, event: link.event.id, file: link.file,
                                message: "event \(link.event.id) (seq \(s)) follows the event at seq \(other), "
                                    + "not seq \(s - 1): events were reordered"))
                    } else if s == 1 {
                        breaks.append(
                            HistoryChainBreak(
                                kind: .edited, seq: s, event: link.event.id, file: link.file,
                                message: "event \(link.event.id) (seq 1) has prev \(prev), not 64 zeros (edited)"))
                    } else if let before = bySeq[s - 1], before.count == 1 {
                        let p = before[0]
                        breaks.append(
                            HistoryChainBreak(
                                kind: .edited, seq: p.seq, event: p.event.id, file: p.file,
                                message: "event \(p.event.id) (seq \(p.seq)) was edited: its SHA-256 is \(p.sha256), "
                                    + "but event \(link.event.id) (seq \(s)) records \(prev)"))
                    } else {
                        breaks.append(
                            HistoryChainBreak(
                                kind: .edited, seq: s - 1, event: link.event.id, file: link.file,
                                message: "event \(link.event.id) (seq \(s)) records prev \(prev), the hash of no "
                                    + "event at seq \(s - 1) (edited)"))
                    }
                }
            }
        }
        // Two events with one prev at different seqs: a fork the seq walk cannot see.
        for (prev, group) in Dictionary(grouping: links, by: { $0.event.prev ?? "" })
        where group.count > 1 && Set(group.map(\.seq)).count > 1 {
            let sorted = group.sorted { $0.seq < $1.seq }
            breaks.append(
                HistoryChainBreak(
                    kind: .forked, seq: sorted[1].seq, event: sorted[1].event.id, file: sorted[1].file,
                    message: "events " + sorted.map { "\($0.event.id) (seq \($0.seq))" }.joined(separator: ", ")
                        + " all follow \(prev.isEmpty ? "nothing" : prev)"))
        }
        if let newest = bySeq[maxSeq], newest.count == 1 {
            out.head = HistoryChainHead(seq: maxSeq, eventID: newest[0].event.id, sha256: newest[0].sha256)
        } else if let newest = bySeq[maxSeq]?.first {
            out.head = HistoryChainHead(seq: maxSeq, eventID: newest.event.id, sha256: newest.sha256)
        }

        // head.json: the newest link as the last append left it.
        if let chainFolder {
            let chain = HistoryChain(folder: chainFolder)
            if FileManager.default.fileExists(atPath: chain.headPath) {
                if let record = chain.readHeadRecord() {
                    let head = record.head
                    if head.seq > maxSeq {
                        breaks.append(
                            HistoryChainBreak(
                                kind: .removed, seq: head.seq, event: head.eventID, file: "\(head.eventID).json",
                                message: "head.json records seq \(head.seq) (event \(head.eventID)) but the newest "
                                    + "event is seq \(maxSeq): the newest events were removed"))
                    } else if let at = bySeq[head.seq], at.count == 1, at[0].sha256 != head.sha256 {
                        breaks.append(
                            HistoryChainBreak(
                                kind: .edited, seq: head.seq, event: at[0].event.id, file: at[0].file,
                                message: "event \(at[0].event.id) (seq \(head.seq)) was edited: its SHA-256 is "
                                    + "\(at[0].sha256), head.json records \(head.sha256)"))
                    } else if head.seq < maxSeq {
                        out.notes.append(
                            "head.json is at seq \(head.seq), the newest event at seq \(maxSeq) "
                                + "(an append was interrupted after writing its event; the next append moves it)")
                    }
                } else {
                    out.notes.append("head.json does not parse; the next append rewrites it")
                }
            } else if maxSeq > 0 {
                out.notes.append("head.json is missing; the next append rewrites it")
            }
        }

        // Unchained events: before the chain began, or inserted after.
        let chainStart = links.map(\.event.time).min()
        for (file, event) in unchained.sorted(by: { ($0.event.time, $0.file) < ($1.event.time, $1.file) }) {
            if chainFolder == nil { continue }
            if let chainStart, event.time >= chainStart {
                unnumbered.append(
                    HistoryChainBreak(
                        kind: .unchained, seq: nil, event: event.id, file: file,
                        message: "event \(event.id) has no seq but is dated \(Timestamp.string(event.time)), after "
                            + "the chain began (\(Timestamp.string(chainStart))): inserted, or written by a tool "
                            + "without the chain"))
            } else {
                out.beforeChain.append(event.id)
            }
        }
        out.breaks = breaks.sorted { ($0.seq ?? Int.max) < ($1.seq ?? Int.max) } + unnumbered
        return out
    }
}
