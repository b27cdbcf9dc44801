import DrillCore
import Foundation

// MARK: - The folder the lock objects live in

/// A folder of lock objects on a remote that has no atomic lock (S3, WebDAV, OneDrive through
/// rclone), e.g. `<remote root>/.restore-drill/locks/`. ``RemoteLock`` builds the lock protocol on
/// these four operations only; each must be consistent with the ones before it (a name written is
/// listed by the next ``names()``, a name deleted is not).
public protocol LockFolder: Sendable {
    /// The file names in the folder (names only, no path), in any order; `[]` when the folder is
    /// missing.
    /// - Throws: an error (``RestoreDrillError/io(path:message:)``) when the folder cannot be listed.
    func names() throws -> [String]
    /// Writes (creates or replaces) the object `name` with `contents`, making the folder if needed.
    /// A reader sees the old or the new contents, or (on a backend without atomic uploads) a
    /// partial one, which ``RemoteLock`` treats as an exclusive lock held by the name's writer.
    /// - Throws: an error when it cannot be written.
    func write(name: String, contents: Data) throws
    /// The contents of the object `name`; nil when it is gone.
    /// - Throws: an error when it exists but cannot be read.
    func read(name: String) throws -> Data?
    /// Removes the object `name`; no error when it is already gone.
    /// - Throws: an error when it exists and cannot be removed.
    func delete(name: String) throws
}

/// A ``LockFolder`` that is a folder on this machine (tests, and a remote that is a local path).
/// Objects are written to a temporary name in the folder, flushed and renamed (``AtomicFile``),
/// files 0600, the folder made 0700 when missing; the temporary names
/// (`.<name>.tmp-<pid>-<random>`) are not listed by ``names()``.
public struct LocalLockFolder: LockFolder {
    /// The folder's absolute path.
    public let path: String

    /// - Parameter path: the folder, e.g. `<destination>/.restore-drill/locks`; it need not exist.
    public init(path: String) { self.path = path }

    public func names() throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { !($0.hasPrefix(".") && $0.contains(".tmp-")) }
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            return []
        } catch {
            if !FileManager.default.fileExists(atPath: path) { return [] }
            throw RestoreDrillError.io(path: path, message: "cannot list the lock folder: \(error)")
        }
    }

    public func write(name: String, contents: Data) throws {
        if !FileManager.default.fileExists(atPath: path) {
            do {
                try FileManager.default.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                if !FileManager.default.fileExists(atPath: path) {
                    throw RestoreDrillError.io(path: path, message: "cannot create the lock folder: \(error)")
                }
            }
        }
        try AtomicFile.write(contents, to: objectPath(name), mode: 0o600)
    }

    public func read(name: String) throws -> Data? {
        let file = objectPath(name)
        guard let handle = FileHandle(forReadingAtPath: file) else {
            if errno == ENOENT || !FileManager.default.fileExists(atPath: file) { return nil }
            throw RestoreDrillError.io(path: file, message: String(cString: strerror(errno)))
        }
        defer { try? handle.close() }
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw RestoreDrillError.io(path: file, message: "cannot read: \(error)")
        }
    }

    public func delete(name: String) throws {
        let file = objectPath(name)
        guard unlink(file) == 0 || errno == ENOENT else {
            throw RestoreDrillError.io(path: file, message: String(cString: strerror(errno)))
        }
    }

    private func objectPath(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

// MARK: - Names and contents of lock objects

/// Whether a lock may be held beside others: `shared` for push and drill (any number at once),
/// `exclusive` for prune (alone). Shared conflicts with exclusive; exclusive with everything.
public enum RemoteLockMode: String, Codable, Sendable, CaseIterable {
    /// Push, drill, check: any number of shared holders at once.
    case shared
    /// Prune: no other holder at all.
    case exclusive

    /// Whether a lock in this mode and one in `other` cannot be held at once.
    public func conflicts(with other: RemoteLockMode) -> Bool { self == .exclusive || other == .exclusive }
}

/// The name of one lock object: `<UTC time YYYYMMDDTHHMMSSZ>-<host>-<pid>-<random 8 hex>.json`,
/// e.g. `20251020T030000Z-maia-mbp.local-4242-0a1b2c3d.json`. The time is when its writer started
/// to take the lock (whole seconds, the writer's clock); `host` is the writer's host name with every
/// character but `A-Z a-z 0-9 . _ -` replaced by `_` (at most 64 characters; `host` when empty).
/// Names order the locks: by time, then by the whole name (byte order), which is the name's own
/// byte order since the time has a fixed width. Any other name in the folder is foreign.
public struct RemoteLockName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The object's file name.
    public let name: String
    /// The time in the name (UTC, whole seconds).
    public let time: Date
    /// The host part of the name (sanitised as described above).
    public let host: String
    /// The writer's process id.
    public let pid: Int32
    /// The 8 lowercase hex characters that make the name unique.
    public let nonce: String

    /// Parses a file name; nil when it is not a lock object's name (a foreign name).
    public init?(_ name: String) {
        let bytes = Array(name.utf8)
        guard name.hasSuffix(".json"), bytes.count > 16 + 1 + 1 + 1 + 1 + 1 + 8 + 5 else { return nil }
        guard let time = Self.parseTime(String(decoding: bytes[0..<16], as: UTF8.self)), bytes[16] == UInt8(ascii: "-")
        else { return nil }
        // From the right: ".json", 8 hex, "-", pid digits, "-", then the host (which may hold '-').
        let stem = bytes[17..<(bytes.count - 5)]
        let parts = stem.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        let nonce = String(decoding: parts[parts.count - 1], as: UTF8.self)
        let pidText = String(decoding: parts[parts.count - 2], as: UTF8.self)
        let host = String(decoding: stem.dropLast(nonce.utf8.count + 1 + pidText.utf8.count + 1), as: UTF8.self)
        guard nonce.utf8.count == 8, nonce.utf8.allSatisfy({ Self.isLowerHex($0) }),
            !pidText.isEmpty, pidText.utf8.count <= 10, pidText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let pid = Int32(pidText),
            !host.isEmpty, host == Self.sanitisedHost(host)
        else { return nil }
        self.name = name
        self.time = time
        self.host = host
        self.pid = pid
        self.nonce = nonce
    }

    /// A new name for a lock taken at `time` by `pid` on `host`.
    /// - Parameters:
    ///   - time: truncated to whole seconds.
    ///   - host: sanitised as described in the type's documentation.
    ///   - nonce: its 8 lowercase hex digits make the name unique.
    public init(time: Date, host: String, pid: Int32, nonce: UInt32) {
        let hex = String(nonce, radix: 16)
        let name =
            "\(Self.timeText(time))-\(Self.sanitisedHost(host))-\(pid)-"
            + String(repeating: "0", count: 8 - hex.count) + hex + ".json"
        self = RemoteLockName(name)!
    }

    public var description: String { name }

    /// Older first: by the time in the name, then by the whole name.
    public static func < (a: RemoteLockName, b: RemoteLockName) -> Bool {
        a.time != b.time ? a.time < b.time : Array(a.name.utf8).lexicographicallyPrecedes(Array(b.name.utf8))
    }

    /// `host` with every character but `A-Z a-z 0-9 . _ -` replaced by `_`, cut to 64 characters;
    /// `host` when empty.
    public static func sanitisedHost(_ host: String) -> String {
        let cleaned = String(
            String.UnicodeScalarView(
                host.unicodeScalars.prefix(64).map { scalar in
                    let ok =
                        (scalar >= "A" && scalar <= "Z") || (scalar >= "a" && scalar <= "z")
                        || (scalar >= "0" && scalar <= "9") || scalar == "." || scalar == "_" || scalar == "-"
                    return ok ? scalar : "_"
                }))
        return cleaned.isEmpty ? "host" : cleaned
    }

    /// `YYYYMMDDTHHMMSSZ` for `date` in UTC.
    public static func timeText(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    private static func parseTime(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                n = n * 10 + Int(b[i] - 48)
            }
            return n
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
            let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        // timegm normalises 31 February into March: such a name is not one this tool writes.
        return timeText(date) == text ? date : nil
    }

    private static func isLowerHex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 102) }
}

/// The contents of a lock object (JSON, keys sorted):
/// ```json
/// {"created": "2025-10-20T03:00:00.000Z", "format": "restore-drill/remote-lock", "format_version": 1,
///  "host": "maia-mbp.local", "mode": "exclusive", "operation": "prune", "pid": 4242,
///  "refreshed": "2025-10-20T03:30:00.000Z", "state": "held", "tool_version": "0.1.0"}
/// ```
/// Times are UTC ISO 8601 with milliseconds, from the writer's clock. `state` is `pending` while
/// the writer is still deciding whether it won, `held` once it did (see ``RemoteLock``).
public struct RemoteLockRecord: Codable, Equatable, Sendable {
    /// Whether the writer is still deciding (`pending`) or holds the lock (`held`).
    public enum State: String, Codable, Sendable {
        /// Written, not yet known to have won.
        case pending
        /// Won; the writer is working under the lock.
        case held
    }

    /// `restore-drill/remote-lock`.
    public var format = "restore-drill/remote-lock"
    /// 1.
    public var formatVersion = 1
    /// The writer's host name, unsanitised.
    public var host: String
    /// The writer's process id.
    public var pid: Int32
    /// Shared (push, drill) or exclusive (prune).
    public var mode: RemoteLockMode
    /// What the writer does under the lock: `push`, `drill`, `check`, `prune`.
    public var operation: String
    /// Pending or held.
    public var state: State
    /// When the writer started to take the lock (its clock).
    public var created: Date
    /// When the writer last wrote the object (its clock); staleness is judged from this.
    public var refreshed: Date
    /// The writer's ``ToolInfo/version``.
    public var toolVersion: String

    /// A record; `format` and `formatVersion` take their current values.
    public init(
        host: String, pid: Int32, mode: RemoteLockMode, operation: String, state: State, created: Date,
        refreshed: Date, toolVersion: String = ToolInfo.version
    ) {
        self.host = host
        self.pid = pid
        self.mode = mode
        self.operation = operation
        self.state = state
        self.created = created
        self.refreshed = refreshed
        self.toolVersion = toolVersion
    }

    enum CodingKeys: String, CodingKey {
        case format, host, pid, mode, operation, state, created, refreshed
        case formatVersion = "format_version"
        case toolVersion = "tool_version"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        guard format == "restore-drill/remote-lock" else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription: "not a lock")
        }
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        host = try c.decode(String.self, forKey: .host)
        pid = try c.decode(Int32.self, forKey: .pid)
        mode = try c.decode(RemoteLockMode.self, forKey: .mode)
        operation = try c.decode(String.self, forKey: .operation)
        state = try c.decode(State.self, forKey: .state)
        func date(_ key: CodingKeys) throws -> Date {
            guard let d = Timestamp.date(try c.decode(String.self, forKey: key)) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not an ISO 8601 time")
            }
            return d
        }
        created = try date(.created)
        refreshed = try date(.refreshed)
        toolVersion = try c.decode(String.self, forKey: .toolVersion)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(host, forKey: .host)
        try c.encode(pid, forKey: .pid)
        try c.encode(mode, forKey: .mode)
        try c.encode(operation, forKey: .operation)
        try c.encode(state, forKey: .state)
        try c.encode(Timestamp.string(created), forKey: .created)
        try c.encode(Timestamp.string(refreshed), forKey: .refreshed)
        try c.encode(toolVersion, forKey: .toolVersion)
    }

    /// The JSON bytes of the object.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// Parses an object's bytes; nil when they are not a lock record.
    public static func decode(_ data: Data) -> RemoteLockRecord? {
        try? JSONDecoder().decode(RemoteLockRecord.self, from: data)
    }
}

/// What one lock object says about its holder, as judged by a writer at one instant.
public struct RemoteLockHolder: Equatable, Sendable, CustomStringConvertible {
    /// The object's name.
    public let name: RemoteLockName
    /// Its contents; nil when they could not be parsed (a foreign or half-written object), in which
    /// case the lock counts as exclusive and held.
    public let record: RemoteLockRecord?
    /// Seconds from its last refresh (the later of the time in its name and `refreshed`) to now, by
    /// the judging writer's clock; negative when that time is ahead of this clock.
    public let age: TimeInterval

    /// Host name (from the record, else from the name).
    public var host: String { record?.host ?? name.host }
    /// Process id (from the record, else from the name).
    public var pid: Int32 { record?.pid ?? name.pid }
    /// The mode it counts as: the record's, exclusive when there is no record.
    public var mode: RemoteLockMode { record?.mode ?? .exclusive }
    /// The state it counts as: the record's, held when there is no record.
    public var state: RemoteLockRecord.State { record?.state ?? .held }
    /// The instant of its last refresh (the writer's clock).
    public var lastRefresh: Date { max(name.time, record?.refreshed ?? name.time) }

    /// `host maia-mbp.local process 4242 (exclusive lock for prune, held, 2 h 10 m since its last
    /// refresh; 20251020T030000Z-maia-mbp.local-4242-0a1b2c3d.json)`.
    public var description: String {
        let what =
            record.map { "\($0.mode.rawValue) lock for \($0.operation), \($0.state.rawValue)" }
            ?? "unreadable contents, counted as an exclusive lock"
        let since =
            age >= 0 ? "\(Units.humanSeconds(age)) since its last refresh" : "refreshed in the future by this clock"
        return "host \(host) process \(pid) (\(what), \(since); \(name.name))"
    }
}

/// A stale lock that a writer removed to take the lock: what the caller records in the history.
public struct RemoteLockTakeover: Equatable, Sendable, CustomStringConvertible {
    /// The lock folder (``RemoteLock/location``).
    public let location: String
    /// The removed object and what it said, with its age when it was removed.
    public let holder: RemoteLockHolder
    /// When it was removed (the remover's clock).
    public let at: Date
    /// The stale age in force (seconds).
    public let staleAfter: TimeInterval

    /// One line for the history and the terminal.
    public var description: String {
        "took over a stale remote lock in \(location): \(holder) — older than \(Units.humanSeconds(staleAfter))"
    }
}

/// A remote lock could not be taken: a conflicting lock is held (or being taken) by another writer.
/// The writer's own lock object has been removed. Exit 3 (``exitStatus``), like
/// ``RestoreDrillError/lockHeld(path:pid:)``, which ``restoreDrillError`` gives.
public struct RemoteLockHeld: Error, Equatable, Sendable, CustomStringConvertible {
    /// The lock folder (``RemoteLock/location``).
    public let location: String
    /// The lock that won: the oldest conflicting one, or a conflicting held one.
    public let holder: RemoteLockHolder
    /// What this writer asked for.
    public let mode: RemoteLockMode
    /// Stale locks this writer removed before it backed off (record them in the history too).
    public let takeovers: [RemoteLockTakeover]
    /// Names in the folder that are not lock objects, ignored (sorted).
    public let ignoredNames: [String]

    public var description: String {
        var text = "\(location): remote lock held by \(holder); cannot take it \(mode.rawValue)"
        if !ignoredNames.isEmpty { text += "; ignored in the lock folder: \(ignoredNames.joined(separator: ", "))" }
        return text
    }

    /// Always ``ExitStatus/runtime`` (3).
    public var exitStatus: ExitStatus { .runtime }

    /// The same as ``RestoreDrillError/lockHeld(path:pid:)``: the holder's object and process id.
    public var restoreDrillError: RestoreDrillError {
        .lockHeld(path: "\(location)/\(holder.name.name)", pid: holder.pid)
    }
}

/// A lock taken with ``RemoteLock/acquire(mode:operation:)``; give it back with
/// ``RemoteLock/release(_:)``.
public struct RemoteLockLease: Equatable, Sendable {
    /// This writer's object.
    public let name: RemoteLockName
    /// What it holds (state `held`).
    public let record: RemoteLockRecord
    /// Stale locks removed to take it: the caller writes each to the history.
    public let takeovers: [RemoteLockTakeover]
    /// Names in the folder that are not lock objects, ignored (sorted; for debugging output).
    public let ignoredNames: [String]
}

// MARK: - The protocol

/// The lock that keeps a prune of a remote from running beside a push or a drill of that remote,
/// where the remote has no atomic lock (S3, WebDAV, OneDrive through rclone). The local
/// destination's lock is a `flock` (``DestinationLock``); this one is objects in a ``LockFolder``.
///
/// The protocol (docs/ARCHITECTURE.md, "Remote lock protocol"):
/// 1. A writer writes its own object, with a new unique ``RemoteLockName`` and a
///    ``RemoteLockRecord`` in state `pending`.
/// 2. It lists the folder and reads every other lock object. Foreign names are ignored (and
///    reported). A conflicting lock (``RemoteLockMode/conflicts(with:)``) whose last refresh is
///    more than ``staleAfter`` ago by this writer's clock is removed (a takeover, reported to the
///    caller). It backs off when a conflicting lock is older than its own (by name order) or
///    already `held`.
/// 3. Otherwise it rewrites its object as `held` and lists again: it backs off when a conflicting
///    lock older than its own is `held`; while older conflicting ones are `pending` (writers still
///    in step 2 or 3) it lists again every ``pollInterval`` up to ``pendingPatience``, then backs
///    off. With none left it holds the lock.
/// 4. Backing off: it removes its own object and throws ``RemoteLockHeld`` naming the winner.
/// 5. While holding, it may refresh (``refresh(_:)``: rewrite under the same name, more often than
///    ``staleAfter``); ``release(_:)`` removes its object.
///
/// Step 3's second listing is what makes "the oldest wins" safe when a later writer's name sorts
/// first (the same second, or a clock behind): the earlier writer already marked itself `held`, so
/// the later one backs off in step 2. Two writers never both hold conflicting locks as long as each
/// listing shows every object written before it began (S3 has listed strongly since December 2020;
/// WebDAV and SFTP list the server's folder); clocks matter only for staleness. An unreadable
/// object (half-written, foreign contents under a lock name) counts as exclusive and held.
///
/// Clocks: a lock's age is now (this writer's clock) minus the time recorded by its holder (the
/// later of the time in its name and `refreshed`), never the remote's modification time. Hosts
/// sharing a remote are assumed to agree within minutes (NTP), far below ``staleAfter``; a lock
/// dated ahead of this clock is fresh, unless it is dated more than ``staleAfter`` ahead: no
/// writer's clock is that far off, so it is junk (or a broken clock) and is taken over as stale,
/// or anyone who can write to the remote could block every push and prune until that date.
public struct RemoteLock: Sendable {
    /// Six hours: a lock not refreshed for longer is stale and may be taken over.
    public static let defaultStaleAfter: TimeInterval = 6 * 3600

    /// The folder of lock objects.
    public let folder: any LockFolder
    /// The folder as messages name it, e.g. `onedrive:MaiaBackups/.restore-drill/locks`.
    public let location: String
    /// Seconds without refresh after which a lock is stale.
    public let staleAfter: TimeInterval
    /// Seconds step 3 waits at most for older `pending` locks to be decided.
    public let pendingPatience: TimeInterval
    /// Seconds between listings while waiting.
    public let pollInterval: TimeInterval
    /// This writer's host name (recorded as is; sanitised in the name).
    public let host: String
    /// This writer's process id.
    public let pid: Int32
    private let clock: any WallClock

    /// - Parameters:
    ///   - folder: where the lock objects live.
    ///   - location: how messages name the folder.
    ///   - clock: "now" for names, records and ages.
    ///   - host: recorded in names and records (default: this machine's).
    ///   - pid: recorded in names and records (default: this process's).
    ///   - staleAfter: seconds (default 6 h).
    ///   - pendingPatience: seconds (default 60: a few rclone calls of another writer).
    ///   - pollInterval: seconds (default 2).
    public init(
        folder: any LockFolder, location: String, clock: any WallClock, host: String = ToolInfo.hostName,
        pid: Int32 = getpid(), staleAfter: TimeInterval = RemoteLock.defaultStaleAfter,
        pendingPatience: TimeInterval = 60, pollInterval: TimeInterval = 2
    ) {
        self.folder = folder
        self.location = location
        self.clock = clock
        self.host = host
        self.pid = pid
        self.staleAfter = staleAfter
        self.pendingPatience = pendingPatience
        self.pollInterval = pollInterval
    }

    /// Takes the lock without waiting for a holder (it waits only, up to ``pendingPatience``, for
    /// writers that are still deciding).
    /// - Parameters:
    ///   - mode: shared (push, drill) or exclusive (prune).
    ///   - operation: recorded in the object: `push`, `drill`, `check`, `prune`.
    /// - Returns: the lease, with the stale locks it took over.
    /// - Throws: ``RemoteLockHeld`` when a conflicting lock wins (this writer's object is removed);
    ///   the folder's errors when it cannot be written, listed or read (its object is removed when
    ///   that still works).
    public func acquire(mode: RemoteLockMode, operation: String) throws -> RemoteLockLease {
        let started = clock.now()
        let own = RemoteLockName(time: started, host: host, pid: pid, nonce: UInt32.random(in: 0...UInt32.max))
        var record = RemoteLockRecord(
            host: host, pid: pid, mode: mode, operation: operation, state: .pending, created: started,
            refreshed: started)
        try folder.write(name: own.name, contents: record.encoded())
        var takeovers: [RemoteLockTakeover] = []
        var ignored: Set<String> = []
        do {
            // Step 2.
            let first = try survey(own: own, mode: mode, takeovers: &takeovers, ignored: &ignored)
            if let winner = first.filter({ $0.name < own || $0.state == .held }).min(by: { $0.name < $1.name }) {
                try backOff(own, winner, mode, takeovers, ignored)
            }
            // Step 3.
            record.state = .held
            record.refreshed = clock.now()
            try folder.write(name: own.name, contents: record.encoded())
            let deadline = Date().addingTimeInterval(pendingPatience)
            while true {
                let older = try survey(own: own, mode: mode, takeovers: &takeovers, ignored: &ignored)
                    .filter { $0.name < own }.sorted { $0.name < $1.name }
                if older.isEmpty { break }
                if let held = older.first(where: { $0.state == .held }) ?? (Date() >= deadline ? older.first : nil) {
                    try backOff(own, held, mode, takeovers, ignored)
                }
                Thread.sleep(forTimeInterval: pollInterval)
            }
        } catch let error as RemoteLockHeld {
            throw error
        } catch {
            try? folder.delete(name: own.name)
            throw error
        }
        return RemoteLockLease(name: own, record: record, takeovers: takeovers, ignoredNames: ignored.sorted())
    }

    /// Rewrites the lease's object with `refreshed` = now, so it does not go stale.
    /// - Returns: the lease with the new record.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the object is gone (another writer took
    ///   it over as stale, or someone removed it): stop working under the lock. The folder's errors.
    public func refresh(_ lease: RemoteLockLease) throws -> RemoteLockLease {
        guard try folder.read(name: lease.name.name) != nil else {
            throw RestoreDrillError.io(
                path: "\(location)/\(lease.name.name)",
                message: "the remote lock is gone (taken over as stale or removed by hand): stop")
        }
        var record = lease.record
        record.refreshed = clock.now()
        try folder.write(name: lease.name.name, contents: record.encoded())
        return RemoteLockLease(
            name: lease.name, record: record, takeovers: lease.takeovers, ignoredNames: lease.ignoredNames)
    }

    /// Removes the lease's object (only it); no error when it is already gone.
    /// - Throws: the folder's error when it cannot be removed.
    public func release(_ lease: RemoteLockLease) throws {
        try folder.delete(name: lease.name.name)
    }

    /// Lists the folder and judges every other lock object that conflicts with `mode`: stale ones
    /// are removed and added to `takeovers`; the others are returned. Foreign names go to `ignored`.
    private func survey(
        own: RemoteLockName, mode: RemoteLockMode, takeovers: inout [RemoteLockTakeover], ignored: inout Set<String>
    ) throws -> [RemoteLockHolder] {
        var live: [RemoteLockHolder] = []
        for entry in try folder.names() where entry != own.name {
            guard let name = RemoteLockName(entry) else {
                ignored.insert(entry)
                continue
            }
            guard let data = try folder.read(name: entry) else { continue }  // released meanwhile
            let record = RemoteLockRecord.decode(data)
            let now = clock.now()
            let refreshed = max(name.time, record?.refreshed ?? name.time)
            let holder = RemoteLockHolder(name: name, record: record, age: now.timeIntervalSince(refreshed))
            guard holder.mode.conflicts(with: mode) else { continue }
            if holder.age > staleAfter || holder.age < -staleAfter {
                try folder.delete(name: entry)
                takeovers.append(
                    RemoteLockTakeover(location: location, holder: holder, at: now, staleAfter: staleAfter))
                continue
            }
            live.append(holder)
        }
        return live
    }

    private func backOff(
        _ own: RemoteLockName, _ winner: RemoteLockHolder, _ mode: RemoteLockMode, _ takeovers: [RemoteLockTakeover],
        _ ignored: Set<String>
    ) throws -> Never {
        try folder.delete(name: own.name)
        throw RemoteLockHeld(
            location: location, holder: winner, mode: mode, takeovers: takeovers, ignoredNames: ignored.sorted())
    }
}
