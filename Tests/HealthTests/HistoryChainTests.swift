import Destination
import DrillCore
import Foundation
import Testing

@testable import Health

/// The tamper-evident history (issue 18): appends chain every event, `verify` names the first broken
/// place for each kind of tampering, events from before the chain are listed, not failed.
@Suite struct HistoryChainTests {
    /// A history of `count` chained events an hour apart, kinds cycling, from 2025-10-01 03:00 UTC.
    static func chained(_ count: Int, in dest: TempDestination) throws -> (HistoryStore, [HistoryEvent]) {
        let store = HistoryStore(destination: dest.path)
        var events: [HistoryEvent] = []
        let start = date("2025-10-01T03:00:00Z")
        for i in 0..<count {
            let kind: HistoryEventKind = [.backup, .drill, .check, .prune][i % 4]
            let event = HistoryEvent(
                kind: kind, time: start.addingTimeInterval(Double(i) * 3600),
                status: kind == .backup ? .complete : kind == .prune ? .ok : .pass, details: ["n": String(i)])
            try store.append(event)
            events.append(event)
        }
        return (store, events)
    }

    static func path(_ store: HistoryStore, _ event: HistoryEvent) -> String { "\(store.folder)/\(event.id).json" }

    static func read(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    static func write(_ data: Data, _ path: String) throws { try data.write(to: URL(fileURLWithPath: path)) }

    @Test func appendsChainEveryEventAndTheHeadIsTheNewestFilesHash() throws {
        let dest = try TempDestination()
        let (store, events) = try Self.chained(5, in: dest)
        var previous = HistoryChainHead.genesis
        for (i, event) in events.enumerated() {
            let bytes = try Self.read(Self.path(store, event))
            let json = try JSONSerialization.jsonObject(with: bytes) as! [String: Any]
            #expect(json["seq"] as? Int == i + 1)
            #expect(json["prev"] as? String == previous)
            previous = SHA256Digest.hex(of: bytes)
        }
        let head = try #require(try store.head())
        #expect(head == HistoryChainHead(seq: 5, eventID: events[4].id, sha256: previous))
        let result = try store.verify()
        #expect(result.intact)
        #expect(result.head == head)
        #expect(result.chainedEvents == 5)
        #expect(result.text.contains("chain head: seq 5 sha256 \(previous)"))
        // An event as made equals it as read back (seq and prev are the store's).
        #expect(try store.events() == events)
        // head.json is cross-checked: removing it makes the next append scan and continue the chain.
        try FileManager.default.removeItem(atPath: "\(dest.path)/.restore-drill/head.json")
        #expect(try store.head() == head)
        let sixth = HistoryEvent(kind: .backup, time: date("2025-10-02T03:00:00Z"), status: .complete)
        let written = try store.appendChained(sixth)
        #expect(written.head?.seq == 6)
        #expect(try store.verify().intact)
    }

    @Test func thirtyAppendsFromThreeThreadsAtOnceMakeOneUnforkedChain() async throws {
        let dest = try TempDestination()
        let store = HistoryStore(destination: dest.path)
        let base = date("2025-10-01T03:00:00Z")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<3 {
                group.addTask {
                    // Each writer on its own thread, as three processes would be: flock(2) locks belong
                    // to the open file, so threads contend as processes do.
                    try await Task.detached {
                        for i in 0..<10 {
                            try store.append(
                                HistoryEvent(
                                    kind: .drill, time: base.addingTimeInterval(Double(t * 10 + i)), status: .pass,
                                    details: ["writer": String(t), "i": String(i)]))
                        }
                    }.value
                }
            }
            try await group.waitForAll()
        }
        let result = try store.verify()
        #expect(result.intact, "\(result.breaks)")
        #expect(result.chainedEvents == 30)
        #expect(result.head?.seq == 30)
        let seqs = try store.events().compactMap(\.seq).sorted()
        #expect(seqs == Array(1...30))
    }

    @Test func anAppendKilledBeforeMovingTheHeadDoesNotForkTheChain() throws {
        // A writer killed between writing its event and moving head.json: simulated by putting the
        // old head.json back after an append.
        let dest = try TempDestination()
        let (store, events) = try Self.chained(3, in: dest)
        let headPath = "\(dest.path)/.restore-drill/head.json"
        let staleHead = try Self.read(headPath)
        try store.append(HistoryEvent(kind: .check, time: date("2025-10-02T00:00:00Z"), status: .pass))
        try Self.write(staleHead, headPath)  // as if the writer died before moving head.json
        let noted = try store.verify()
        #expect(noted.intact)
        #expect(noted.notes.contains { $0.contains("head.json is at seq 3, the newest event at seq 4") })
        // The next append sees the folder changed, scans, and continues at 5, not 4 (no fork).
        let fifth = try store.appendChained(
            HistoryEvent(kind: .check, time: date("2025-10-02T01:00:00Z"), status: .pass))
        #expect(fifth.head?.seq == 5)
        let result = try store.verify()
        #expect(result.intact, "\(result.breaks)")
        #expect(events.count == 3)
    }

    @Test func editingOneByteOfAnEventNamesThatEvent() throws {
        let dest = try TempDestination()
        let (store, events) = try Self.chained(6, in: dest)
        let target = Self.path(store, events[2])
        var bytes = try Self.read(target)
        // "n" : "2" → "n" : "3": still valid JSON, one byte changed.
        let range = try #require(bytes.range(of: Data("\"n\" : \"2\"".utf8)))
        bytes[range.upperBound - 2] = UInt8(ascii: "3")
        try Self.write(bytes, target)
        let result = try store.verify()
        #expect(!result.intact)
        let first = try #require(result.breaks.first)
        #expect(first.kind == .edited)
        #expect(first.seq == 3)
        #expect(first.event == events[2].id)
        #expect(result.text.contains("BROKEN: first at seq 3 (edited)"))

        // The newest event edited: only head.json can tell.
        let newest = Self.path(store, events[5])
        var last = try Self.read(newest)
        let r = try #require(last.range(of: Data("\"n\" : \"5\"".utf8)))
        last[r.upperBound - 2] = UInt8(ascii: "7")
        try Self.write(last, newest)
        let again = try store.verify()
        #expect(again.breaks.contains { $0.kind == .edited && $0.seq == 6 && $0.event == events[5].id })
    }

    @Test func removingAnEventNamesTheGap() throws {
        let dest = try TempDestination()
        let (store, events) = try Self.chained(6, in: dest)
        try FileManager.default.removeItem(atPath: Self.path(store, events[3]))
        let result = try store.verify()
        let first = try #require(result.breaks.first)
        #expect(first.kind == .removed)
        #expect(first.seq == 4)
        #expect(first.message.contains("next event is \(events[4].id), seq 5"))
    }

    @Test func removingTheNewestEventIsCaughtByTheHead() throws {
        let dest = try TempDestination()
        let (store, events) = try Self.chained(4, in: dest)
        try FileManager.default.removeItem(atPath: Self.path(store, events[3]))
        let result = try store.verify()
        let first = try #require(result.breaks.first)
        #expect(first.kind == .removed)
        #expect(first.seq == 4)
        #expect(first.event == events[3].id)
        #expect(result.head?.seq == 3)
    }

    @Test func swappingTwoFilesContentsNamesBothFiles() throws {
        let dest = try TempDestination()
        let (store, events) = try Self.chained(5, in: dest)
        let a = Self.path(store, events[1])
        let b = Self.path(store, events[3])
        let (da, db) = (try Self.read(a), try Self.read(b))
        try Self.write(db, a)
        try Self.write(da, b)
        let result = try store.verify()
        let first = try #require(result.breaks.first)
        #expect(first.kind == .reordered)
        #expect(first.seq == 2)
        // Seq 2's event now sits in seq 4's file, and seq 4's in seq 2's: both named.
        #expect(first.file == "\(events[3].id).json")
        #expect(first.event == events[1].id)
        #expect(result.breaks.contains { $0.kind == .reordered && $0.seq == 4 && $0.file == "\(events[1].id).json" })
    }

    @Test func reorderingTheLinksIsNamed() throws {
        // Two events' seq and prev exchanged and their names kept: seq 3's prev is seq 3's hash's…
        // simpler and as telling: a chained event re-pointed at an older event.
        let dest = try TempDestination()
        let (store, events) = try Self.chained(5, in: dest)
        let firstHash = SHA256Digest.hex(of: try Self.read(Self.path(store, events[0])))
        let target = Self.path(store, events[3])
        var json = try JSONSerialization.jsonObject(with: Self.read(target)) as! [String: Any]
        json["prev"] = firstHash
        try Self.write(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), target)
        let result = try store.verify()
        #expect(result.breaks.first?.kind == .reordered)
        #expect(result.breaks.first?.seq == 4)
        #expect(result.breaks.first?.event == events[3].id)
    }

    @Test func aForkWithAnExistingSeqIsNamed() throws {
        let dest = try TempDestination()
        let (store, events) = try Self.chained(5, in: dest)
        // A second event claiming seq 3, linked to seq 2 as a second writer without the lock would.
        var fork = HistoryEvent(kind: .drill, time: date("2025-10-01T05:30:00Z"), status: .pass)
        fork.seq = 3
        fork.prev = SHA256Digest.hex(of: try Self.read(Self.path(store, events[1])))
        try Self.write(try HistoryStore.encode(fork), "\(store.folder)/\(fork.id).json")
        let result = try store.verify()
        let first = try #require(result.breaks.first)
        #expect(first.kind == .forked)
        #expect(first.seq == 3)
        #expect(first.message.contains(fork.id) && first.message.contains(events[2].id))
    }

    @Test func eventsFromBeforeTheChainAreListedNotFailedAndLaterUnchainedOnesAre() throws {
        let dest = try TempDestination()
        let store = HistoryStore(destination: dest.path)
        // Written as the tool did before the chain: no seq, no prev.
        let legacy = HistoryEvent(kind: .backup, time: date("2025-09-01T03:00:00Z"), status: .complete)
        try FileManager.default.createDirectory(atPath: store.folder, withIntermediateDirectories: true)
        try Self.write(try HistoryStore.encode(legacy), "\(store.folder)/\(legacy.id).json")
        let chainedEvent = HistoryEvent(kind: .drill, time: date("2025-10-01T03:00:00Z"), status: .pass)
        let written = try store.appendChained(chainedEvent)
        #expect(written.head?.seq == 1, "the chain begins at 1 after legacy events")
        var result = try store.verify()
        #expect(result.intact)
        #expect(result.beforeChain == [legacy.id])
        #expect(result.text.contains("1 before the chain began"))
        // An unchained event dated after the chain began: inserted (or an old tool).
        let inserted = HistoryEvent(kind: .drill, time: date("2025-10-02T03:00:00Z"), status: .pass)
        try Self.write(try HistoryStore.encode(inserted), "\(store.folder)/\(inserted.id).json")
        result = try store.verify()
        #expect(!result.intact)
        #expect(result.breaks.first?.kind == .unchained)
        #expect(result.breaks.first?.event == inserted.id)
    }

    @Test func aDestinationWithoutAChainFolderWritesUnchainedEvents() throws {
        let dest = try TempDestination()
        let store = HistoryStore(UnchainedDestination(inner: LocalDestination(path: dest.path)))
        let written = try store.appendChained(HistoryEvent(kind: .push, time: Date(), status: .ok))
        #expect(written.head == nil)
        #expect(try store.events().first?.seq == nil)
        #expect(try store.head() == nil)
        let result = try store.verify()
        #expect(!result.chained)
        #expect(result.intact)
        #expect(result.text.contains("is not chained"))
        #expect(!FileManager.default.fileExists(atPath: "\(dest.path)/.restore-drill/head.json"))
        // An rclone remote is such a destination: writers on several machines share no lock there.
        let rclone = RcloneDestination(
            remote: RcloneRemote(rclone: try Rclone(executable: "/bin/false"), root: "remote:backups"))
        #expect(rclone.historyChainFolder == nil)
        #expect(LocalDestination(path: dest.path).historyChainFolder == "\(dest.path)/.restore-drill")
    }

    @Test func aHeldAppendLockIsWaitedForThenNamed() throws {
        let dest = try TempDestination()
        var store = HistoryStore(destination: dest.path)
        store.appendLockWait = 0.2
        let folder = "\(dest.path)/.restore-drill"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fd = open("\(folder)/events.lock", O_RDWR | O_CREAT, 0o600)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        let started = Date()
        #expect {
            try store.append(HistoryEvent(kind: .backup, time: Date(), status: .complete))
        } throws: { error in
            "\(error)".contains("events.lock") && "\(error)".contains("history append lock still held")
        }
        #expect(Date().timeIntervalSince(started) >= 0.2)
    }

    @Test func noteTextIsDataAndShownEscaped() throws {
        let dest = try TempDestination()
        let (store, events) = try Self.chained(2, in: dest)
        let hostile = "fixed\u{1B}[2J\nline two </script>"
        let note = try store.note(about: events[1].id, text: hostile, time: date("2025-10-03T00:00:00Z"))
        #expect(note.kind == .note)
        #expect(note.seq == 3)
        #expect(note.details == ["event": events[1].id, "text": hostile])
        #expect(HistoryText.visible(hostile) == "fixed\u{241B}[2J\u{240A}line two </script>")
        #expect(try store.verify().intact)
        #expect {
            try store.note(about: "20990101T000000.000Z-drill-00000000", text: "x", time: Date())
        } throws: { error in
            guard case RestoreDrillError.usage(let message) = error else { return false }
            return message.contains("20990101T000000.000Z-drill-00000000")
        }
    }
}

/// A destination that keeps its events in a local folder but offers no chain folder (as an rclone
/// remote does not).
struct UnchainedDestination: Destination {
    let inner: LocalDestination
    var location: String { inner.location }
    func status() -> DestinationStatus { inner.status() }
    func listEntries() throws -> [DestinationEntry] { try inner.listEntries() }
    func setIDsNewestFirst() throws -> [BackupID] { try inner.setIDsNewestFirst() }
    func verdict(of id: BackupID) -> SetVerdict { inner.verdict(of: id) }
    func location(of id: BackupID) -> String { inner.location(of: id) }
    func readManifest(id: BackupID) throws -> Manifest { try inner.readManifest(id: id) }
    func readArtifact(id: BackupID, path: RelativePath) throws -> Data { try inner.readArtifact(id: id, path: path) }
    func openSet(id: BackupID) throws -> OpenedSet { try inner.openSet(id: id) }
    func prepareForWriting() throws -> AbsolutePath { try inner.prepareForWriting() }
    func stageSet(startedAt: Date) throws -> StagedSet { try inner.stageSet(startedAt: startedAt) }
    func publish(_ staged: StagedSet) throws { try inner.publish(staged) }
    func removeSet(id: BackupID) throws { try inner.removeSet(id: id) }
    func finishRemovals() -> [String] { inner.finishRemovals() }
    func removePartial(name: String) throws { try inner.removePartial(name: name) }
    func lock(_ mode: DestinationLock.Mode) throws -> (any DestinationLease)? { try inner.lock(mode) }
    func appendEvent(name: String, contents: Data) throws { try inner.appendEvent(name: name, contents: contents) }
    func eventFiles() throws -> [EventFile] { try inner.eventFiles() }
}
