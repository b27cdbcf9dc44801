import Destination
import DrillCore
import Foundation
import Health
import TestSupport
import Testing
import Vault

@testable import Jobs

/// Pruning an off-site remote (issue 16, "Prune on a remote") with the real rclone against the
/// real test servers (sshd, moto) and, for the logic of ages and locks, a local-path remote: the
/// remote's own retention, what it protects, shared objects, forged sets, `prune: false`, the lock
/// against a push, dry runs.
@Suite(.serialized) struct OffsitePruneTests {
    /// "Now" for every job and lock of these tests.
    static let now = Timestamp.date("2025-06-14T12:00:00Z")!
    static let shared = FormatTwoFixture.payload(99, count: 6000)

    /// Set `day` of June 2025 at 03:00 UTC.
    static func id(day: Int) -> BackupID {
        BackupID(date: Timestamp.date(String(format: "2025-06-%02dT03:00:00Z", day))!, sequence: 1)
    }

    /// A local destination with one format-2 set a day (June 10 to 14), each holding the shared
    /// payload and one of its own; with `password`, each manifest carries its HMAC.
    struct Setup {
        var folder: TempFolder
        var config: RestoreDrillConfig
        var rclone: Rclone
        var manifests: [BackupID: Manifest]
        var authenticator: SetAuthenticator?

        func pushJob(_ remote: RestoreDrillConfig.OffsiteRemote) -> OffsitePushJob {
            var job = OffsitePushJob(config: config, remote: remote, rclone: rclone)
            job.backoff = 0.05
            job.attempts = 1
            job.clock = FixedClock(OffsitePruneTests.now)
            job.authenticator = authenticator
            return job
        }

        func pruneJob(_ remote: RestoreDrillConfig.OffsiteRemote) -> OffsitePruneJob {
            var job = OffsitePruneJob(config: config, remote: remote, rclone: rclone)
            job.clock = FixedClock(OffsitePruneTests.now)
            job.authenticator = authenticator
            job.stagingFolder = folder.file("staging")
            return job
        }

        func events() throws -> [HistoryEvent] { try HistoryStore(destination: config.destination).events() }

        func record(_ event: HistoryEvent) throws { try HistoryStore(destination: config.destination).append(event) }

        /// The unique object of set `id` (its second pack).
        func unique(_ id: BackupID) -> ObjectDigest { manifests[id]!.objectRefs()[1].digest }

        var sharedDigest: ObjectDigest { manifests.values.first!.objectRefs()[0].digest }
    }

    static func setup(environment: [String: String]? = nil, password: String? = nil, days: ClosedRange<Int> = 10...14)
        throws -> Setup
    {
        let binary = try requireTool("rclone", package: "rclone")
        let folder = try TempFolder("offsite-prune")
        let destination = folder.file("backups")
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        var env = environment ?? ProcessInfo.processInfo.environment
        if environment == nil {
            env["RCLONE_CONFIG"] = try folder.write("[loc]\ntype = local\n", "rclone.conf")
            env.removeValue(forKey: "AWS_CA_BUNDLE")
        }
        var authenticator: SetAuthenticator?
        var key: (key: [UInt8], salt: [UInt8])?
        if let password {
            let vaultPassword = try VaultPassword(password, origin: "test")
            authenticator = SetAuthenticator(passwords: [vaultPassword])
            let salt = try Vault.newSalt()
            key = (try Vault.hmacKey(password: vaultPassword, salt: salt, iterations: Vault.defaultIterations), salt)
        }
        var manifests: [BackupID: Manifest] = [:]
        for day in days {
            let id = Self.id(day: day)
            var manifest = try FormatTwoFixture.writeSet(
                destination: destination, id: id, payloads: [shared, FormatTwoFixture.payload(day, count: 3000 + day)])
            if let key {
                try manifest.applyHMAC(key: key.key, salt: key.salt)
                try manifest.encodedForDisk().write(to: URL(fileURLWithPath: "\(destination)/\(id)/manifest.json"))
                manifest = try Manifest.load(setPath: "\(destination)/\(id)")
            }
            manifests[id] = manifest
        }
        let config = RestoreDrillConfig(
            home: folder.file("home"), root: folder.file("home/maia"), destination: destination,
            baseFolder: folder.path)
        return Setup(
            folder: folder, config: config, rclone: try Rclone(executable: binary, environment: env),
            manifests: manifests, authenticator: authenticator)
    }

    static func remote(_ name: String, _ root: String, retention: RestoreDrillConfig.RetentionSettings? = nil)
        -> RestoreDrillConfig.OffsiteRemote
    {
        var r = RestoreDrillConfig.OffsiteRemote(name: name, rclone: root)
        r.encrypted = false
        r.retention = retention
        return r
    }

    /// Keeps nothing by rule: only what prune always protects stays.
    static var keepNothing: RestoreDrillConfig.RetentionSettings {
        var r = RestoreDrillConfig.RetentionSettings()
        r.last = 0
        r.daily = 0
        r.weekly = 0
        r.monthly = 0
        r.timeZone = "UTC"
        return r
    }

    /// A passing drill of `remote`'s copy of `id` (what `drill --offsite` records), or of the local
    /// copy when `remote` is nil.
    static func drill(_ id: BackupID, remote: String?, status: HistoryEventStatus = .pass) -> HistoryEvent {
        var details: [String: String] = [:]
        if let remote {
            details["copy"] = "offsite"
            details["remote"] = remote
        }
        return HistoryEvent(
            kind: .drill, time: id.date.addingTimeInterval(3600), status: status, backupID: id, details: details)
    }

    /// Ids of the set folders on `root` that hold a manifest.
    static func setsThere(_ s: Setup, _ root: String) throws -> [BackupID] {
        let remote = RcloneRemote(rclone: s.rclone, root: root)
        return try remote.list("").filter(\.isDir).compactMap { BackupID($0.path) }.filter { id in
            try remote.list(id.description).contains { $0.path == Manifest.fileName }
        }.sorted()
    }

    /// The object digests in `objects/` of `root`.
    static func objectsThere(_ s: Setup, _ root: String) throws -> Set<String> {
        Set(
            try RcloneRemote(rclone: s.rclone, root: root).list("objects", recursive: true).filter { !$0.isDir }
                .map { String($0.path.split(separator: "/").last!) })
    }

    /// The whole scenario over one real server: five sets pushed; the remote's rule keeps nothing
    /// by itself, the main rule keeps every set. The remote keeps the newest complete set (14) and
    /// the newest set whose drill of THIS remote's copy passed (11); a local drill (13) and a drill
    /// of another remote's copy (12) protect nothing there. The shared object stays, the unique
    /// objects of removed sets go; the local destination keeps all five.
    func retentionOfTheRemote(_ server: OffsiteServers.Remote) throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start(server.server)
        let s = try Self.setup(environment: servers.environment)
        defer { s.folder.remove() }
        let root = servers.root(server)
        var config = s.config
        config.retention.timeZone = "UTC"
        let target = Self.remote("far", root, retention: Self.keepNothing)
        config.offsite = [target]
        let pushed = try s.pushJob(target).pushMissing()
        #expect(pushed.map(\.status) == Array(repeating: "pushed", count: 5))
        try s.record(Self.drill(Self.id(day: 11), remote: "far"))
        try s.record(Self.drill(Self.id(day: 12), remote: "elsewhere"))
        try s.record(Self.drill(Self.id(day: 13), remote: nil))

        // The local prune keeps every set (main rule: daily 7).
        let local = try PruneJob(config: config, clock: FixedClock(Self.now)).run(dryRun: false)
        #expect(local.removedSets.isEmpty)

        let outcome = try s.pruneJob(target).run(dryRun: false)
        #expect(outcome.status == "pruned")
        #expect(outcome.removedSets == [Self.id(day: 13), Self.id(day: 12), Self.id(day: 10)].map(\.description))
        #expect(outcome.decisions.first { $0.contains("\(Self.id(day: 14))") }?.contains("newest complete set") == true)
        #expect(outcome.decisions.first { $0.contains("\(Self.id(day: 11))") }?.contains("newest verified set") == true)
        #expect(try Self.setsThere(s, root) == [Self.id(day: 11), Self.id(day: 14)])
        let objects = try Self.objectsThere(s, root)
        #expect(objects == [s.sharedDigest.hex, s.unique(Self.id(day: 11)).hex, s.unique(Self.id(day: 14)).hex])
        let collection = try #require(outcome.objects)
        #expect(collection.collected)
        #expect(collection.removedObjects.count == 3)
        #expect(collection.keptObjects == 3)
        let removedBytes = [10, 12, 13].reduce(Int64(0)) { $0 + Int64(3000 + $1) }
        #expect(collection.freedBytes == removedBytes)
        // The local copy is untouched: five sets, every object.
        #expect(try SetCatalogue(LocalDestination(path: config.destination)).sets().count == 5)
        #expect(try FormatTwoFixture.problemsOfListedSets(destination: config.destination).isEmpty)
        // The remote sets that stay are whole: drill-level proof through a fresh open of each.
        let destination = RcloneDestination(
            remote: RcloneRemote(rclone: s.rclone, root: root), stagingFolder: s.folder.file("staging"))
        for id in [Self.id(day: 11), Self.id(day: 14)] {
            let opened = try destination.openSet(id: id)
            defer { opened.close() }
            #expect(
                try FormatTwoFixture.problemsOfListedSets(
                    destination: opened.folder.parentDirectory.pathString
                ).isEmpty)
        }
        // One prune event in the local history naming the remote, with the counts.
        let prunes = try s.events().filter { $0.kind == .prune && $0.details["remote"] == "far" }
        #expect(prunes.count == 1)
        #expect(prunes.first?.status == .ok)
        #expect(prunes.first?.details["removed"] == "3")
        #expect(prunes.first?.details["objects_removed"] == "3")
        #expect(prunes.first?.details["bytes_freed"] == String(removedBytes))
        #expect(prunes.first?.details["dry_run"] == nil)
        // No lock object is left.
        #expect(try RcloneLockFolder(remote: RcloneRemote(rclone: s.rclone, root: root)).names().isEmpty)
    }

    @Test(.needsOffsiteServers(.sftp))
    func overSFTPTheRemotesOwnRuleRemovesSetsAndTheirUniqueObjectsKeepingWhatItProtects() throws {
        try retentionOfTheRemote(.sftp)
    }

    @Test(.needsOffsiteServers(.s3))
    func overS3TheRemotesOwnRuleRemovesSetsAndTheirUniqueObjectsKeepingWhatItProtects() throws {
        try retentionOfTheRemote(.s3)
    }

    @Test(.needsOffsiteServers(.sftp))
    func aForgedNewerSetOnTheRemoteIsNeverRemovedNorCountedAndItsObjectsStay() throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start(.sftp)
        let s = try Self.setup(environment: servers.environment, password: "correct horse", days: 12...14)
        defer { s.folder.remove() }
        let root = servers.root(.sftp)
        let target = Self.remote("far", root, retention: Self.keepNothing)
        #expect(try s.pushJob(target).pushMissing().map(\.status) == ["pushed", "pushed", "pushed"])
        // A forged set dropped on the remote: a newer id, a copy of set 14 with its own object
        // added, no HMAC (nobody without the password can make one), self-checksum resealed.
        let forgedID = BackupID(date: Timestamp.date("2025-06-14T09:00:00Z")!, sequence: 1)
        let forgedFolder = s.folder.file("forged")
        try FileManager.default.createDirectory(atPath: forgedFolder, withIntermediateDirectories: true)
        var forged = try FormatTwoFixture.writeSet(
            destination: forgedFolder, id: forgedID,
            payloads: [Self.shared, FormatTwoFixture.payload(77, count: 2222)])
        forged.manifestHMAC = nil
        forged.manifestHMACSalt = nil
        try forged.encodedForDisk().write(to: URL(fileURLWithPath: "\(forgedFolder)/\(forgedID)/manifest.json"))
        let copy = try s.rclone.run(["copy", forgedFolder, root])
        #expect(copy.succeeded, "\(copy.standardError)")
        #expect(try Self.setsThere(s, root).contains(forgedID))

        let outcome = try s.pruneJob(target).run(dryRun: false)
        #expect(outcome.status == "pruned")
        // Set 14 is the newest complete set (the forged one does not count): kept; 12 and 13 go.
        #expect(outcome.removedSets == [Self.id(day: 13), Self.id(day: 12)].map(\.description))
        #expect(try Self.setsThere(s, root) == [Self.id(day: 14), forgedID])
        #expect(outcome.ignored.contains { $0.contains(forgedID.description) && $0.contains("unauthenticated") })
        // Its objects stay (a folder prune leaves is a folder whose objects stay).
        let objects = try Self.objectsThere(s, root)
        #expect(objects.contains(forged.objectRefs()[1].digest.hex))
        #expect(objects.contains(s.unique(Self.id(day: 14)).hex))
        #expect(!objects.contains(s.unique(Self.id(day: 12)).hex))
        // A second prune still leaves it.
        _ = try s.pruneJob(target).run(dryRun: false)
        #expect(try Self.setsThere(s, root) == [Self.id(day: 14), forgedID])
    }

    @Test(.needsOffsiteServers(.sftp))
    func aPruneWhileAPushHoldsTheRemoteLockFailsNamingItAndRemovesNothing() throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start(.sftp)
        let s = try Self.setup(environment: servers.environment, days: 12...14)
        defer { s.folder.remove() }
        let root = servers.root(.sftp)
        let target = Self.remote("far", root, retention: Self.keepNothing)
        _ = try s.pushJob(target).pushMissing()
        let before = try Self.objectsThere(s, root)
        // A push of another host holds the lock, shared.
        let folder = RcloneLockFolder(remote: RcloneRemote(rclone: s.rclone, root: root))
        let pushLock = RemoteLock(
            folder: folder, location: folder.location, clock: FixedClock(Self.now), host: "pusher.example", pid: 777)
        let lease = try pushLock.acquire(mode: .shared, operation: "push")
        #expect {
            try s.pruneJob(target).run(dryRun: false)
        } throws: { error in
            guard let held = error as? RemoteLockHeld else { return false }
            return held.holder.host == "pusher.example" && held.holder.pid == 777 && held.exitStatus == .runtime
                && "\(held)".contains("shared lock for push")
        }
        #expect(try Self.setsThere(s, root).count == 3)
        #expect(try Self.objectsThere(s, root) == before)
        // Only the push's object is in the lock folder: the prune removed its own.
        #expect(try folder.names() == [lease.name.name])
        var config = s.config
        config.offsite = [target]
        let outcomes = OffsitePruneJob.pruneEveryRemote(
            config: config, rclone: s.rclone, authenticator: nil, clock: FixedClock(Self.now), dryRun: false)
        #expect(outcomes.map(\.status) == ["failed"])
        #expect(outcomes.first?.text.contains("far: prune FAILED") == true)
        #expect(outcomes.first?.error?.contains("pusher.example process 777") == true, "\(outcomes)")
        let failed = try s.events().filter { $0.kind == .prune }
        #expect(failed.map(\.status) == [.failed, .failed])
        #expect(failed.allSatisfy { $0.details["remote"] == "far" && $0.details["error"]?.contains("pusher") == true })
        // Once the push is done, the prune runs.
        try pushLock.release(lease)
        let outcome = try s.pruneJob(target).run(dryRun: false)
        #expect(outcome.removedSets.count == 2)
        #expect(try folder.names().isEmpty)
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aPushWhileAPruneHoldsTheRemoteLockFailsNamingThePrune() throws {
        let s = try Self.setup(days: 13...14)
        defer { s.folder.remove() }
        let root = "loc:" + s.folder.file("remote")
        let target = Self.remote("usb", root, retention: Self.keepNothing)
        // The prune's own lock, exactly as OffsitePruneJob takes it.
        let lock = RcloneDestination(remote: RcloneRemote(rclone: s.rclone, root: root)).remoteLock(
            clock: FixedClock(Self.now))
        let lease = try lock.acquire(mode: .exclusive, operation: "prune")
        let blocked = try s.pushJob(target).push(id: Self.id(day: 14).description)
        #expect(blocked.status == "failed")
        #expect(blocked.error?.contains("exclusive lock for prune") == true, "\(blocked.error ?? "")")
        #expect(try Self.setsThere(s, root).isEmpty)
        try lock.release(lease)
        #expect(try s.pushJob(target).push(id: Self.id(day: 14).description).status == "pushed")
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aDryRunRemovesNothingTakesNoLockAndSaysWhatWouldGo() throws {
        let s = try Self.setup(days: 12...14)
        defer { s.folder.remove() }
        let root = "loc:" + s.folder.file("remote")
        let target = Self.remote("usb", root, retention: Self.keepNothing)
        _ = try s.pushJob(target).pushMissing()
        let remoteFolder = s.folder.file("remote")
        let before = try #require(FileManager.default.subpaths(atPath: remoteFolder)).sorted()
        // A lock held by a push does not stop a dry run: it takes none.
        let folder = RcloneLockFolder(remote: RcloneRemote(rclone: s.rclone, root: root))
        let pushLock = RemoteLock(
            folder: folder, location: folder.location, clock: FixedClock(Self.now), host: "pusher.example", pid: 9)
        let lease = try pushLock.acquire(mode: .shared, operation: "push")
        let outcome = try s.pruneJob(target).run(dryRun: true)
        try pushLock.release(lease)
        #expect(outcome.dryRun)
        #expect(outcome.removedSets == [Self.id(day: 13), Self.id(day: 12)].map(\.description))
        #expect(outcome.objects?.removedObjects.count == 2)
        #expect(outcome.text.contains("would remove unreferenced object objects/"))
        #expect(outcome.text.contains("dry run: 1 kept, 2 to remove"))
        let after = try #require(FileManager.default.subpaths(atPath: remoteFolder)).sorted()
        #expect(after == before)
        #expect(try Self.setsThere(s, root).count == 3)
        let events = try s.events().filter { $0.kind == .prune }
        #expect(events.count == 1)
        #expect(events.first?.details["dry_run"] == "true")
        #expect(events.first?.details["removed"] == "2")
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aRemoteWithPruneFalseIsNeverPrunedByThisHostAndTheOutputSaysSo() throws {
        let s = try Self.setup(days: 12...14)
        defer { s.folder.remove() }
        let root = "loc:" + s.folder.file("remote")
        var target = Self.remote("appendonly", root, retention: Self.keepNothing)
        target.prune = false
        _ = try s.pushJob(target).pushMissing()
        let before = try #require(FileManager.default.subpaths(atPath: s.folder.file("remote"))).sorted()
        var config = s.config
        config.offsite = [target]
        let outcomes = OffsitePruneJob.pruneEveryRemote(
            config: config, rclone: s.rclone, authenticator: nil, clock: FixedClock(Self.now), dryRun: false)
        #expect(outcomes.map(\.status) == ["not_pruned"])
        #expect(
            outcomes.first?.text == "remote appendonly: not pruned by this host (its configuration says prune: false)")
        #expect(try s.pruneJob(target).run(dryRun: false).status == "not_pruned")
        #expect(try #require(FileManager.default.subpaths(atPath: s.folder.file("remote"))).sorted() == before)
        #expect(try s.events().filter { $0.kind == .prune }.isEmpty)
        // `restore-drill prune` carries it in its output.
        var local = try PruneJob(config: config, clock: FixedClock(Self.now)).run(dryRun: false)
        local.offsite = outcomes
        #expect(
            local.text.hasSuffix("remote appendonly: not pruned by this host (its configuration says prune: false)"))
        let json = try JSONEncoder().encode(local)
        let decoded = try JSONDecoder().decode(PruneJob.Outcome.self, from: json)
        #expect(decoded.offsite.map(\.status) == ["not_pruned"])
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aFolderWithoutAManifestYoungerThanADayStopsObjectCollectionAndOlderItIsRemoved() throws {
        let s = try Self.setup(days: 13...14)
        defer { s.folder.remove() }
        let remoteFolder = s.folder.file("remote")
        let root = "loc:" + remoteFolder
        let target = Self.remote("usb", root, retention: Self.keepNothing)
        _ = try s.pushJob(target).pushMissing()
        // A push in progress: its object is up, its set folder has no manifest yet.
        let pending = BackupID(date: Timestamp.date("2025-06-14T11:00:00Z")!, sequence: 1)
        let pendingObject = FormatTwoFixture.payload(55, count: 1234)
        let digest = ObjectDigest(SHA256Digest.hex(of: pendingObject))!
        try FileManager.default.createDirectory(
            atPath: "\(remoteFolder)/objects/\(digest.fanOut)", withIntermediateDirectories: true)
        try pendingObject.write(to: URL(fileURLWithPath: "\(remoteFolder)/objects/\(digest.fanOut)/\(digest.hex)"))
        try FileManager.default.createDirectory(atPath: "\(remoteFolder)/\(pending)", withIntermediateDirectories: true)
        try Data("sums".utf8).write(to: URL(fileURLWithPath: "\(remoteFolder)/\(pending)/SHA256SUMS"))
        try FileManager.default.setAttributes(
            [.modificationDate: Self.now.addingTimeInterval(-3600)],
            ofItemAtPath: "\(remoteFolder)/\(pending)/SHA256SUMS")

        let first = try s.pruneJob(target).run(dryRun: false)
        #expect(first.removedSets == [Self.id(day: 13).description])
        let skipped = try #require(first.objects)
        #expect(!skipped.collected)
        #expect(skipped.skippedBecause.count == 1)
        #expect(skipped.skippedBecause.first?.contains("\(pending)") == true)
        #expect(skipped.skippedBecause.first?.contains("no manifest.json (changed 1 h 00 m ago)") == true, "\(skipped)")
        #expect(FileManager.default.fileExists(atPath: "\(remoteFolder)/objects/\(digest.fanOut)/\(digest.hex)"))
        #expect(FileManager.default.fileExists(atPath: "\(remoteFolder)/\(pending)/SHA256SUMS"))
        // Set 13's unique object is still there too: nothing was collected.
        #expect(try Self.objectsThere(s, root).contains(s.unique(Self.id(day: 13)).hex))

        // Two days later the folder is a push that never finished: removed, and the objects go.
        try FileManager.default.setAttributes(
            [.modificationDate: Self.now.addingTimeInterval(-2 * 86400)],
            ofItemAtPath: "\(remoteFolder)/\(pending)/SHA256SUMS")
        let second = try s.pruneJob(target).run(dryRun: false)
        #expect(second.removedUnfinished == [pending.description])
        #expect(second.objects?.collected == true)
        #expect(!FileManager.default.fileExists(atPath: "\(remoteFolder)/\(pending)"))
        #expect(
            try Self.objectsThere(s, root) == [s.sharedDigest.hex, s.unique(Self.id(day: 14)).hex])
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func anUnreadableManifestOnTheRemoteStopsObjectCollection() throws {
        let s = try Self.setup(days: 13...14)
        defer { s.folder.remove() }
        let remoteFolder = s.folder.file("remote")
        let root = "loc:" + remoteFolder
        let target = Self.remote("usb", root, retention: Self.keepNothing)
        _ = try s.pushJob(target).pushMissing()
        let broken = BackupID(date: Timestamp.date("2025-06-12T03:00:00Z")!, sequence: 1)
        try FileManager.default.createDirectory(atPath: "\(remoteFolder)/\(broken)", withIntermediateDirectories: true)
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: "\(remoteFolder)/\(broken)/manifest.json"))
        let outcome = try s.pruneJob(target).run(dryRun: false)
        #expect(outcome.removedSets == [Self.id(day: 13).description])
        #expect(outcome.objects?.collected == false)
        #expect(outcome.objects?.skippedBecause.first?.contains("its manifest cannot be read") == true)
        #expect(outcome.ignored.contains { $0.contains("\(broken)") })
        #expect(FileManager.default.fileExists(atPath: "\(remoteFolder)/\(broken)/manifest.json"))
        #expect(try Self.objectsThere(s, root).contains(s.unique(Self.id(day: 13)).hex))
    }

    @Test func copyEventsKeepOnlyThisRemotesCopyAndReadChecksAsReadBacks() {
        let id = Self.id(day: 12)
        let events = [
            Self.drill(id, remote: "far"), Self.drill(id, remote: "near"), Self.drill(id, remote: nil),
            HistoryEvent(kind: .offsiteCheck, time: Self.now, status: .fail, backupID: id, details: ["remote": "far"]),
            HistoryEvent(
                kind: .offsiteCheck, time: Self.now, status: .unverified, backupID: id, details: ["remote": "far"]),
            HistoryEvent(kind: .push, time: Self.now, status: .ok, backupID: id, details: ["remote": "far"]),
        ]
        let mine = OffsitePruneJob.copyEvents(events, remote: "far")
        #expect(mine.map(\.kind) == [.drill, .check, .check])
        #expect(mine.map(\.status) == [.pass, .fail, .pass])
    }

    @Test func rcloneTimesWithNanosecondsAndOffsetsParse() {
        let date = RemoteEntry.date
        #expect(date("2025-06-14T12:00:00.123456789Z") == Self.now.addingTimeInterval(0))
        #expect(date("2025-06-14T20:00:00.5+08:00") == Self.now)
        #expect(date("2025-06-14T12:00:00Z") == Self.now)
        #expect(date("0001-01-01T00:00:00Z") == nil)
        #expect(date("yesterday") == nil)
    }
}
