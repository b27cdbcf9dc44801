import Destination
import DrillCore
import Foundation
import TestSupport
import Testing

/// The machine's clock (``SystemClock`` reads the environment and can throw).
private struct RealClock: WallClock {
    func now() -> Date { Date() }
}

private let t0 = Timestamp.date("2025-10-20T03:00:00Z")!

/// A lock folder in a temporary folder, and locks on it for given clocks, hosts and pids.
private struct LockBench {
    let temp: TempFolder
    let folder: LocalLockFolder

    init() throws {
        temp = try TempFolder("rd-lock")
        folder = LocalLockFolder(path: temp.path + "/.restore-drill/locks")
    }

    func lock(at date: Date, host: String = "alpha", pid: Int32 = 100, patience: TimeInterval = 0.2) -> RemoteLock {
        RemoteLock(
            folder: folder, location: "test:root/.restore-drill/locks", clock: FixedClock(date), host: host, pid: pid,
            pendingPatience: patience, pollInterval: 0.01)
    }

    /// The names in the folder, sorted.
    func names() throws -> [String] { try folder.names().sorted() }

    /// Writes another writer's lock object as it would (or a raw one with `contents`).
    @discardableResult
    func plant(
        at created: Date, refreshed: Date? = nil, host: String = "other-host.lan", pid: Int32 = 777,
        mode: RemoteLockMode = .exclusive, state: RemoteLockRecord.State = .held, contents: Data? = nil
    ) throws -> RemoteLockName {
        let name = RemoteLockName(time: created, host: host, pid: pid, nonce: 0xdead_beef)
        let record = RemoteLockRecord(
            host: host, pid: pid, mode: mode, operation: mode == .exclusive ? "prune" : "push", state: state,
            created: created, refreshed: refreshed ?? created)
        try folder.write(name: name.name, contents: contents ?? record.encoded())
        return name
    }

    func remove() { temp.remove() }
}

/// Runs `body` expecting ``RemoteLockHeld`` and returns it (nil, with an issue recorded, otherwise).
private func held(_ body: () throws -> RemoteLockLease) -> RemoteLockHeld? {
    do {
        let lease = try body()
        Issue.record("the lock was taken: \(lease.name)")
    } catch let error as RemoteLockHeld {
        return error
    } catch {
        Issue.record("unexpected error: \(error)")
    }
    return nil
}

@Suite struct RemoteLockNameTests {
    /// A name is made and parsed back with a host that holds dashes; foreign names are not locks.
    @Test func namesRoundTripAndForeignNamesAreRefused() throws {
        let name = RemoteLockName(time: t0.addingTimeInterval(0.9), host: "maia-mbp.local", pid: 4242, nonce: 0xa1b2c)
        #expect(name.name == "20251020T030000Z-maia-mbp.local-4242-000a1b2c.json")
        let parsed = try #require(RemoteLockName(name.name))
        #expect(parsed == name && parsed.host == "maia-mbp.local" && parsed.pid == 4242 && parsed.nonce == "000a1b2c")
        #expect(parsed.time == t0)
        #expect(RemoteLockName(time: t0, host: "Maia's Mac/é", pid: 1, nonce: 1).host == "Maia_s_Mac__")
        for foreign in [
            "README.txt", "20251020T030000Z-bad.json", "20251020T030000Z-h-12-0A1B2C3D.json",
            "20251020T030000Z-h-12-0a1b2c3.json", "20251320T030000Z-h-12-0a1b2c3d.json",
            "20250231T030000Z-h-12-0a1b2c3d.json", "20251020T030000Z--12-0a1b2c3d.json",
            "20251020T030000Z-h-x-0a1b2c3d.json", "20251020T030000Z-h-12-0a1b2c3d.json.tmp",
        ] {
            #expect(RemoteLockName(foreign) == nil, "\(foreign) parsed as a lock name")
        }
        // Order: by time, then by the whole name.
        let later = RemoteLockName(time: t0.addingTimeInterval(1), host: "aaa", pid: 1, nonce: 0)
        let sameSecond = RemoteLockName(time: t0, host: "zzz", pid: 1, nonce: 0)
        #expect(name < later && name < sameSecond && !(later < name))
    }

    /// The record's JSON has the documented keys and reads back.
    @Test func recordJSONHasTheDocumentedKeys() throws {
        let record = RemoteLockRecord(
            host: "maia", pid: 42, mode: .exclusive, operation: "prune", state: .held, created: t0,
            refreshed: t0.addingTimeInterval(1800))
        let text = String(decoding: record.encoded(), as: UTF8.self)
        #expect(
            text == #"{"created":"2025-10-20T03:00:00.000Z","format":"restore-drill/remote-lock","format_version":1,"#
                + #""host":"maia","mode":"exclusive","operation":"prune","pid":42,"#
                + #""refreshed":"2025-10-20T03:30:00.000Z","state":"held","tool_version":"\#(ToolInfo.version)"}"#)
        #expect(RemoteLockRecord.decode(record.encoded()) == record)
        #expect(RemoteLockRecord.decode(Data("{}".utf8)) == nil)
    }
}

@Suite struct RemoteLockTests {
    /// Two shared holders (push and drill) hold the lock at once; each object is in the folder.
    @Test func twoSharedHoldersCoexist() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let push = try bench.lock(at: t0, pid: 1).acquire(mode: .shared, operation: "push")
        let drill = try bench.lock(at: t0.addingTimeInterval(30), host: "beta", pid: 2)
            .acquire(mode: .shared, operation: "drill")
        #expect(try bench.names() == [push.name.name, drill.name.name].sorted())
        #expect(push.record.state == .held && drill.record.state == .held)
        let onDisk = try #require(try bench.folder.read(name: drill.name.name))
        #expect(RemoteLockRecord.decode(onDisk) == drill.record)
        #expect(drill.record.host == "beta" && drill.record.pid == 2 && drill.record.operation == "drill")
        #expect(push.takeovers.isEmpty && drill.takeovers.isEmpty)
    }

    /// A prune after a push backs off naming the push (host, pid, age); its own object is gone.
    @Test func exclusiveAfterSharedBacksOff() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let push = try bench.lock(at: t0, host: "laptop", pid: 11).acquire(mode: .shared, operation: "push")
        let error = try #require(
            held {
                try bench.lock(at: t0.addingTimeInterval(90), host: "server", pid: 22).acquire(
                    mode: .exclusive, operation: "prune")
            })
        #expect(error.holder.name == push.name)
        #expect(error.holder.host == "laptop" && error.holder.pid == 11 && error.holder.age == 90)
        #expect(error.mode == .exclusive)
        #expect(error.description.contains("host laptop process 11 (shared lock for push, held, 1 m 30 s"))
        #expect(error.exitStatus == .runtime)
        #expect(error.restoreDrillError == .lockHeld(path: "test:root/.restore-drill/locks/\(push.name.name)", pid: 11))
        #expect(try bench.names() == [push.name.name])
    }

    /// A push after a prune backs off naming the prune; its own object is gone.
    @Test func sharedAfterExclusiveBacksOff() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let prune = try bench.lock(at: t0, host: "server", pid: 22).acquire(mode: .exclusive, operation: "prune")
        let error = try #require(
            held {
                try bench.lock(at: t0.addingTimeInterval(5), host: "laptop", pid: 11).acquire(
                    mode: .shared, operation: "push")
            })
        #expect(error.holder.name == prune.name && error.holder.mode == .exclusive && error.holder.age == 5)
        #expect(try bench.names() == [prune.name.name])
        // Once the prune releases, the push gets it.
        try bench.lock(at: t0).release(prune)
        let push = try bench.lock(at: t0.addingTimeInterval(6), host: "laptop", pid: 11).acquire(
            mode: .shared, operation: "push")
        #expect(try bench.names() == [push.name.name])
    }

    /// A later writer whose name sorts first (the same second, a host name earlier in byte order)
    /// backs off from a lock already held: "the oldest wins" alone would let both hold.
    @Test func aLaterNameThatSortsFirstBacksOffFromAHeldLock() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let first = try bench.lock(at: t0, host: "zulu", pid: 9).acquire(mode: .exclusive, operation: "prune")
        let error = try #require(
            held { try bench.lock(at: t0, host: "alpha", pid: 1).acquire(mode: .shared, operation: "push") })
        #expect(error.holder.name == first.name)
        #expect(try bench.names() == [first.name.name])
    }

    /// An older lock still pending (its writer deciding) makes a newer writer back off; one that
    /// stays pending past the patience makes a writer in its second listing back off too.
    @Test func anOlderPendingLockWins() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let pending = try bench.plant(at: t0.addingTimeInterval(-10), state: .pending)
        let started = Date()
        let error = try #require(
            held { try bench.lock(at: t0, patience: 0.3).acquire(mode: .exclusive, operation: "prune") })
        #expect(error.holder.name == pending && error.holder.state == .pending)
        #expect(Date().timeIntervalSince(started) < 0.3, "step 2 backs off at once, without waiting")
        #expect(try bench.names() == [pending.name])
    }

    /// Three exclusive writers racing on threads: in every round exactly one holds the lock, the
    /// others got ``RemoteLockHeld``, and only the winner's object is left.
    @Test func threeRacingExclusiveWritersEndWithExactlyOneWinner() throws {
        for round in 0..<40 {
            let bench = try LockBench()
            defer { bench.remove() }
            let results = Results()
            DispatchQueue.concurrentPerform(iterations: 3) { i in
                let lock = RemoteLock(
                    folder: bench.folder, location: "race", clock: RealClock(), host: "racer", pid: Int32(1000 + i),
                    pendingPatience: 10, pollInterval: 0.002)
                do {
                    results.add(.success(try lock.acquire(mode: .exclusive, operation: "prune")))
                } catch {
                    results.add(.failure(error))
                }
            }
            let all = results.all
            let winners = all.compactMap { try? $0.get() }
            let heldErrors = all.compactMap { if case .failure(let e) = $0 { e as? RemoteLockHeld } else { nil } }
            #expect(winners.count == 1, "round \(round): \(winners.count) winners, \(all)")
            #expect(heldErrors.count == 2, "round \(round): \(all)")
            if let winner = winners.first {
                #expect(try bench.names() == [winner.name.name], "round \(round)")
            }
        }
    }

    /// A lock whose last refresh is 7 h old is taken over: removed, and reported in the lease.
    @Test func aStaleLockIsTakenOverAndReported() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let stale = try bench.plant(at: t0.addingTimeInterval(-7 * 3600), host: "old-box", pid: 31)
        let lease = try bench.lock(at: t0).acquire(mode: .shared, operation: "push")
        #expect(lease.takeovers.count == 1)
        let takeover = try #require(lease.takeovers.first)
        #expect(takeover.holder.name == stale && takeover.holder.host == "old-box" && takeover.holder.pid == 31)
        #expect(takeover.holder.age == 7 * 3600 && takeover.at == t0 && takeover.staleAfter == 6 * 3600)
        #expect(takeover.holder.record?.operation == "prune")
        #expect(takeover.description.contains("took over a stale remote lock in test:root/.restore-drill/locks"))
        #expect(try bench.names() == [lease.name.name])
    }

    /// A lock 5 h old, or named 7 h ago but refreshed an hour ago, is not taken over.
    @Test func aFreshLockIsNotTakenOver() throws {
        for (created, refreshed) in [(-5.0 * 3600, -5.0 * 3600), (-7.0 * 3600, -3600.0)] {
            let bench = try LockBench()
            defer { bench.remove() }
            let fresh = try bench.plant(at: t0.addingTimeInterval(created), refreshed: t0.addingTimeInterval(refreshed))
            let error = try #require(held { try bench.lock(at: t0).acquire(mode: .shared, operation: "push") })
            #expect(error.holder.name == fresh && error.holder.age == -refreshed)
            #expect(error.takeovers.isEmpty)
            #expect(try bench.names() == [fresh.name])
        }
    }

    /// A lock dated ahead of this clock (a skewed holder) is fresh, not stale.
    @Test func aLockFromTheFutureIsFresh() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let ahead = try bench.plant(at: t0.addingTimeInterval(600))
        let error = try #require(held { try bench.lock(at: t0).acquire(mode: .exclusive, operation: "prune") })
        #expect(error.holder.name == ahead && error.holder.age == -600)
        #expect(error.description.contains("in the future"))
    }

    /// A lock dated further ahead than the stale period (junk, or a broken clock) would block
    /// every writer until that date: it is taken over as stale and reported.
    @Test func aLockDatedFurtherAheadThanTheStalePeriodIsTakenOver() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let junk = try bench.plant(at: t0.addingTimeInterval(7 * 3600), contents: Data("garbage{".utf8))
        let lease = try bench.lock(at: t0).acquire(mode: .exclusive, operation: "prune")
        #expect(lease.takeovers.map(\.holder.name) == [junk])
        try bench.lock(at: t0).release(lease)
        #expect(try bench.names().isEmpty)
    }

    /// Foreign names are ignored (never removed) and listed in the lease and in the error; an
    /// unreadable object under a lock name counts as an exclusive held lock.
    @Test func foreignNamesAreIgnoredButListed() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let foreign = ["README.txt", "20251020T030000Z-bad.json", ".DS_Store"]
        for name in foreign { try bench.folder.write(name: name, contents: Data("x".utf8)) }
        let lease = try bench.lock(at: t0).acquire(mode: .exclusive, operation: "prune")
        #expect(lease.ignoredNames == foreign.sorted())
        try bench.lock(at: t0).release(lease)
        #expect(try bench.names() == foreign.sorted())

        let garbage = try bench.plant(at: t0.addingTimeInterval(-60), mode: .shared, contents: Data("{half".utf8))
        let error = try #require(held { try bench.lock(at: t0).acquire(mode: .shared, operation: "drill") })
        #expect(error.holder.name == garbage && error.holder.record == nil && error.holder.mode == .exclusive)
        #expect(error.ignoredNames == foreign.sorted())
        #expect(
            error.description.contains("ignored in the lock folder: .DS_Store, 20251020T030000Z-bad.json, README.txt"))
        #expect(try bench.names() == (foreign + [garbage.name]).sorted())
    }

    /// Release removes only the lease's own object, and a second release is no error.
    @Test func releaseRemovesOnlyItsOwnObject() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        try bench.folder.write(name: "notes.txt", contents: Data())
        let a = try bench.lock(at: t0, pid: 1).acquire(mode: .shared, operation: "push")
        let b = try bench.lock(at: t0, pid: 2).acquire(mode: .shared, operation: "drill")
        #expect(a.name != b.name)
        try bench.lock(at: t0).release(a)
        #expect(try bench.names() == [b.name.name, "notes.txt"].sorted())
        try bench.lock(at: t0).release(a)
        #expect(try bench.names() == [b.name.name, "notes.txt"].sorted())
    }

    /// Refresh rewrites the object under the same name with a new refresh time, and fails once the
    /// object is gone (taken over).
    @Test func refreshRewritesTheSameObjectAndNoticesATakeover() throws {
        let bench = try LockBench()
        defer { bench.remove() }
        let lease = try bench.lock(at: t0).acquire(mode: .exclusive, operation: "prune")
        let later = try bench.lock(at: t0.addingTimeInterval(3 * 3600)).refresh(lease)
        #expect(later.name == lease.name && later.record.refreshed == t0.addingTimeInterval(3 * 3600))
        #expect(RemoteLockRecord.decode(try #require(try bench.folder.read(name: lease.name.name))) == later.record)
        #expect(try bench.names() == [lease.name.name])
        // 7 h after the start but 4 h after the refresh: not stale.
        #expect(
            held { try bench.lock(at: t0.addingTimeInterval(7 * 3600)).acquire(mode: .shared, operation: "push") }
                != nil)
        try bench.folder.delete(name: lease.name.name)
        #expect(throws: RestoreDrillError.self) { try bench.lock(at: t0).refresh(later) }
    }

    /// The local folder: missing lists as empty, reads as nil, deletes without error; temporary
    /// names are not listed.
    @Test func localLockFolderBasics() throws {
        let temp = try TempFolder("rd-lockfolder")
        defer { temp.remove() }
        let folder = LocalLockFolder(path: temp.path + "/a/b")
        #expect(try folder.names() == [])
        #expect(try folder.read(name: "x.json") == nil)
        try folder.delete(name: "x.json")
        try folder.write(name: "x.json", contents: Data("1".utf8))
        try folder.write(name: "x.json", contents: Data("2".utf8))
        _ = FileManager.default.createFile(atPath: temp.path + "/a/b/.y.json.tmp-1-2", contents: Data())
        #expect(try folder.names() == ["x.json"])
        #expect(try folder.read(name: "x.json") == Data("2".utf8))
        let mode =
            try FileManager.default.attributesOfItem(atPath: temp.path + "/a/b/x.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}

/// Results collected from several threads.
private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<RemoteLockLease, any Error>] = []
    func add(_ result: Result<RemoteLockLease, any Error>) { lock.withLock { results.append(result) } }
    var all: [Result<RemoteLockLease, any Error>] { lock.withLock { results } }
}
