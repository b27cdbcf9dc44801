import Destination
import DrillCore
import Foundation

// The tamper-evident history (issue 18, docs/EVIDENCE.md): every event of a chained destination
// carries `seq` (1-based) and `prev` (the SHA-256 of the previous event file's exact bytes), so an
// edited, removed, reordered or forked event shows as a broken link. Beside the events folder:
// `events.lock` (the appends' own exclusive flock) and `head.json` (the newest link, kept so an
// append need not read every event). An append interrupted between writing its event and moving
// `head.json` leaves a head one behind; the next append sees the events folder changed and scans.

/// The newest link of a destination's chain: the value to anchor outside (every ping's body, every
/// evidence bundle).
///
/// JSON (`head.json` and every `--json` output): `{"seq": 12, "id": "<event id>", "sha256": "<64 hex>"}`.
public struct HistoryChainHead: Codable, Sendable, Equatable {
    /// `prev` of the first event: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// 1-based sequence number of the newest chained event.
    public var seq: Int
    /// That event's id (its file is `<id>.json`).
    public var eventID: String
    /// SHA-256 of that event file's exact bytes, 64 lowercase hex characters as `sha256sum` prints.
    public var sha256: String

    enum CodingKeys: String, CodingKey {
        case seq, sha256
        case eventID = "id"
    }

    /// - Parameters: as the properties.
    public init(seq: Int, eventID: String, sha256: String) {
        self.seq = seq
        self.eventID = eventID
        self.sha256 = sha256
    }

    /// `<seq> <sha256>`, as a ping's `chain-head:` line shows it.
    public var line: String { "\(seq) \(sha256)" }
}

/// The chain's files beside a local events folder: the append lock and `head.json`.
struct HistoryChain {
    /// `<destination>/.restore-drill`.
    let folder: String

    var lockPath: String { (folder as NSString).appendingPathComponent("events.lock") }
    var headPath: String { (folder as NSString).appendingPathComponent("head.json") }
    var eventsFolder: String { (folder as NSString).appendingPathComponent("events") }

    /// What `head.json` holds: the head and how many event files the folder had after it was written.
    struct HeadRecord: Codable {
        var format = "restore-drill/history-head"
        var formatVersion = 1
        var head: HistoryChainHead
        /// Event files (`*.json`, not hidden) in the folder after the append; a different count
        /// means something was written or removed since, so the head is found by a scan.
        var files: Int
        enum CodingKeys: String, CodingKey {
            case format, head, files
            case formatVersion = "format_version"
        }
    }

    /// A held append lock.
    final class Lock {
        private var fd: Int32
        init(fd: Int32) { self.fd = fd }
        func release() {
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
        deinit { release() }
    }

    /// Takes `events.lock` exclusively, polling every 5 ms for up to `wait` seconds.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the lock file when it cannot be
    ///   opened or is still held after `wait` seconds.
    func lockForAppend(wait: Double) throws -> Lock {
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RestoreDrillError.io(path: folder, message: "cannot create: \(error.localizedDescription)")
        }
        let path = lockPath
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw RestoreDrillError.io(
                path: path, message: "cannot open the history append lock: \(String(cString: strerror(errno)))")
        }
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR {
                let message = String(cString: strerror(errno))
                close(fd)
                throw RestoreDrillError.io(path: path, message: "cannot take the history append lock: \(message)")
            }
            if Date() >= deadline {
                var buffer = [UInt8](repeating: 0, count: 16)
                let n = pread(fd, &buffer, 15, 0)
                let holder = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).trimmingCharacters(
                    in: .whitespacesAndNewlines)
                close(fd)
                throw RestoreDrillError.io(
                    path: path,
                    message: "history append lock still held after \(Units.humanSeconds(wait))"
                        + (holder.isEmpty ? "" : " (by process \(holder))")
                        + "; another backup or drill is recording its event, or is stuck")
            }
            usleep(5_000)
        }
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return Lock(fd: fd)
    }

    /// Names of the event files (`*.json`, not hidden) in the events folder; empty when there is none.
    func eventNames() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: eventsFolder)) ?? []).filter {
            !$0.hasPrefix(".") && $0.hasSuffix(".json")
        }
    }

    /// `head.json`'s record; nil when it is missing or does not parse.
    func readHeadRecord() -> HeadRecord? {
        guard let data = LocalDestination.readRegularFile(headPath) else { return nil }
        return try? JSONDecoder().decode(HeadRecord.self, from: data)
    }

    /// Moves `head.json` to `head` (atomically). Best effort: a head that could not be written is
    /// found again by the next append's scan.
    func writeHead(_ head: HistoryChainHead) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard var data = try? encoder.encode(HeadRecord(head: head, files: eventNames().count)) else { return }
        data.append(0x0a)
        try? AtomicFile.write(data, to: headPath, mode: 0o600)
    }

    /// The chain's head: `head.json` when it still matches the folder (same count of event files,
    /// and its event's file has the recorded SHA-256), else found by reading every event.
    /// - Returns: nil when no event is chained yet.
    /// - Throws: as ``Destination/eventFiles()`` (only when a scan is needed).
    func head(store: any Destination) throws -> HistoryChainHead? {
        let names = eventNames()
        let record = readHeadRecord()
        if record == nil && names.isEmpty { return nil }  // a history not begun: nothing to scan
        if let record, record.files == names.count,
            let data = FileManager.default.contents(
                atPath: (eventsFolder as NSString).appendingPathComponent("\(record.head.eventID).json")),
            SHA256Digest.hex(of: data) == record.head.sha256
        {
            return record.head
        }
        return Self.scanHead(try store.eventFiles())
    }

    /// The chained event with the highest `seq` among `files` (for a fork, the first by file name).
    static func scanHead(_ files: [EventFile]) -> HistoryChainHead? {
        var best: HistoryChainHead?
        for file in files where !file.name.hasPrefix(".") && file.name.hasSuffix(".json") {
            guard let data = file.contents, let event = try? JSONDecoder().decode(HistoryEvent.self, from: data),
                let seq = event.seq
            else { continue }
            if best == nil || seq > best!.seq {
                best = HistoryChainHead(seq: seq, eventID: event.id, sha256: SHA256Digest.hex(of: data))
            }
        }
        return best
    }
}

extension HistoryStore {
    /// The chain's head, cheaply (`head.json` cross-checked with the newest event file and the
    /// folder's file count; a scan of every event otherwise). Not a verification: see ``verify()``.
    /// - Returns: nil when the destination is not chained or no event is chained yet.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when a needed scan cannot list the events.
    public func head() throws -> HistoryChainHead? {
        guard let folder = store.historyChainFolder else { return nil }
        return try HistoryChain(folder: folder).head(store: store)
    }
}
