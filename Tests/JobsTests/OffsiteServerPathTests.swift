import Destination
import DrillCore
import Foundation
import Health
import TestSupport
import Testing
import Vault

@testable import Jobs

/// Issue 16, "Must show", over the REAL servers the tests start on 127.0.0.1 (TestSupport's
/// ``OffsiteServers``: OpenSSH's sshd, `rclone serve webdav`, moto's S3, and an rclone `crypt`
/// remote over the SFTP server): the whole path (a real backup pushed, `offsite check`, the local
/// destination removed, `drill --offsite` PASS) for each remote, and the faults (the server stopped
/// mid-push, a byte flipped on the remote, the remote manifest missing, a conflict copy on the
/// remote, a push to an unencrypted remote refused).
///
/// Serialized: each test starts its own servers (free ports), and the drills share the machine.
@Suite(.serialized) struct OffsiteServerPathTests {
    /// rclone's flags that bound a call to a server that is gone or frozen: seconds, not minutes.
    static let bounded = ["--contimeout", "2s", "--timeout", "4s", "--retries", "1", "--low-level-retries", "1"]

    /// A format-2 workspace with a vault password (``VaultWorkspace``) whose one off-site remote,
    /// `far-<remote>`, is `remote` on the servers (`encrypted: false` unless it is `sftpcrypt`).
    final class Fixture {
        let servers: OffsiteServers
        let ws: VaultWorkspace
        let kind: OffsiteServers.Remote
        let rclone: Rclone
        var base: String { ws.base }
        var remote: RestoreDrillConfig.OffsiteRemote { ws.config.offsite[0] }
        var name: String { remote.name }

        init(_ kind: OffsiteServers.Remote) throws {
            self.kind = kind
            servers = try OffsiteServers(label: "rd-offpath")
            try servers.start(kind.server)
            ws = try VaultWorkspace()
            ws.config.setFormat = 2
            rclone = try Rclone(
                executable: try requireTool("rclone", package: "rclone"), environment: servers.environment)
            var remote = RestoreDrillConfig.OffsiteRemote(name: "far-\(kind.rawValue)", rclone: servers.root(kind))
            if kind != .sftpcrypt { remote.encrypted = false }
            ws.config.offsite = [remote]
        }

        /// A real backup (format 2; the files cache in `<base>/cache`), not pushed.
        func backup(at date: Date = Date()) async throws -> BackupJob.Outcome {
            var job = BackupJob(config: ws.config, clock: FixedClock(date))
            job.dependencyCache = base + "/cache"
            job.objectCache = base + "/cache"
            job.vaultIterations = 2000
            return try await job.run()
        }

        func authenticator() async throws -> SetAuthenticator? {
            try await SetTrust.authenticator(config: ws.config)
        }

        /// A real backup pushed with ``OffsitePushJob/pushToEveryRemote``, as `backup` does after
        /// sealing the set; the push succeeded and sent every object.
        func backupAndPush(at date: Date = Date()) async throws -> BackupJob.Outcome {
            let made = try await backup(at: date)
            let outcomes = OffsitePushJob.pushToEveryRemote(
                config: ws.config, id: made.manifest.id.description, rclone: rclone,
                authenticator: try await authenticator(), clock: FixedClock(date))
            #expect(outcomes.count == 1)
            let pushed = try #require(outcomes.first)
            #expect(pushed.remote == name && pushed.id == made.manifest.id.description)
            #expect(pushed.status == "pushed", "\(pushed.text)")
            #expect(pushed.objectsSent == made.manifest.objectRefs().count && pushed.objectsPresent == 0)
            #expect(pushed.attempts == 1)
            return made
        }

        /// `offsite check` of `selection` on the remote (clock: `minute` past 12:00, June 10).
        func check(_ selection: OffsiteCheckJob.Selection = .newest, download: Bool = false, minute: Int = 0)
            async throws -> OffsiteCheckReport
        {
            let reports = try OffsiteCheckJob.checkEveryRemote(
                config: ws.config, selection: selection, rclone: rclone, authenticator: try await authenticator(),
                clock: FixedClock(Timestamp.date("2025-06-10T12:00:00Z")!.addingTimeInterval(Double(minute) * 60)),
                download: download)
            #expect(reports.count == 1)
            let report = try #require(reports.first)
            #expect(report.error == nil, "\(report.text)")
            return report
        }

        /// The local history's `offsite_check` events, oldest first.
        func checkEvents() throws -> [HistoryEvent] {
            try HistoryStore(destination: ws.config.destination).events().filter { $0.kind == .offsiteCheck }
        }

        /// Removes the local destination folder entirely (sets, objects, history): the laptop is gone.
        func removeLocalDestination() throws {
            try FileManager.default.removeItem(atPath: ws.config.destination)
            #expect(!FileManager.default.fileExists(atPath: ws.config.destination))
        }

        func drill(_ pick: DrillJob.Pick) async throws -> DrillResult {
            var job = DrillJob(config: ws.config, clock: FixedClock(Date()), currentDirectory: base)
            job.keyCache = base + "/cache"
            job.rclone = rclone
            return try await job.run(.init(pick: pick, offsite: name))
        }

        /// The path on this disk of `sub` on the remote (sftp, webdav only).
        func served(_ sub: String) throws -> String {
            try #require(servers.servedFolder(kind)) + "/" + sub
        }

        /// `objects/<ab>/<hex>` of the set's largest object.
        static func largestObject(_ manifest: Manifest) -> String {
            let ref = manifest.objectRefs().max { $0.size < $1.size }!
            return "objects/\(ref.digest.fanOut)/\(ref.digest.hex)"
        }

        func remove() {
            ws.remove()
            servers.stop()
        }
    }

    static func problems(_ r: DrillResult) -> [String] {
        r.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
    }

    static func failing(_ check: OffsiteSetCheck) -> [String] {
        check.findings.filter { $0.fails ?? true }.map { "\($0.code.rawValue) \($0.path)" }
    }

    /// Whether every artifact of the manifest records an MD5 (the optional `md5` field; the hashes
    /// a backend such as S3 or SFTP checks without reading the bytes back).
    static func recordsMD5(_ manifestFile: String) throws -> Bool {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: manifestFile))
        let recorded = OffsiteCheckJob.recordedHashes(bytes)
        return !recorded.isEmpty && recorded.values.allSatisfy { $0.md5 != nil }
    }

    /// Flips the byte in the middle of the file at `path` (same size: only a hash or a read-back tells).
    static func flipByte(_ path: String) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    // MARK: - The whole path

    /// Backup, push, `offsite check` (by hash where the backend hashes what the manifest records,
    /// cryptcheck on the crypt remote, sizes only otherwise and then `--download`), the local
    /// destination removed, `drill --offsite` PASS with reports naming the remote.
    @Test(
        "backup + push, offsite check, drill --offsite with the local destination removed",
        .needsOffsiteServers(.sftp, .webdav, .s3),
        arguments: OffsiteServers.Remote.allCases)
    func wholePath(remote kind: OffsiteServers.Remote) async throws {
        let f = try Fixture(kind)
        defer { f.remove() }
        let set = try await f.backupAndPush()
        let id = set.manifest.id
        // The remote holds the set complete: its manifest byte for byte the local one.
        #expect(
            try OffsitePushJob(config: f.ws.config, remote: f.remote, rclone: f.rclone).completeRemoteSets() == [id])
        let localManifest = f.ws.config.destination + "/\(id)/manifest.json"
        #expect(
            try RcloneRemote(rclone: f.rclone, root: f.remote.rclone).cat("\(id)/manifest.json")
                == (try Data(contentsOf: URL(fileURLWithPath: localManifest))))

        // offsite check.
        let md5 = try Self.recordsMD5(localManifest)
        let report = try await f.check()
        let check = try #require(report.sets.first)
        #expect(report.sets.count == 1 && check.id == id.description)
        #expect(check.findings.isEmpty && report.findings.isEmpty, "\(report.text)")
        #expect(check.files == set.manifest.objectRefs().count + 3, "\(check.text)")
        let expected: (OffsiteSetCheck.Status, String)
        switch kind {
        case .sftp, .s3: expected = md5 ? (.pass, "hash:md5") : (.unverified, "size")
        case .webdav: expected = (.unverified, "size")
        case .sftpcrypt: expected = (.pass, "cryptcheck")
        }
        #expect(check.status == expected.0 && check.method == expected.1, "\(check.text)")
        #expect(report.hashes.contains("md5") == (kind == .sftp || kind == .s3), "\(report.hashes)")
        var events = try f.checkEvents()
        #expect(events.count == 1)
        #expect(events.last?.backupID == id)
        #expect(events.last?.status.rawValue == expected.0.rawValue)
        #expect(events.last?.details == ["remote": f.name, "method": expected.1])
        if kind == .webdav {
            // Sizes only: --download reads every byte back and proves it.
            let read = try await f.check(download: true, minute: 1)
            let back = try #require(read.sets.first)
            #expect(back.status == .pass && back.method == "download", "\(back.text)")
            events = try f.checkEvents()
            #expect(events.count == 2)
            #expect(events.last?.status == .pass && events.last?.details["method"] == "download")
        }

        // The laptop is gone: drill the off-site copy.
        try f.removeLocalDestination()
        let result = try await f.drill(.latest)
        #expect(result.verdict == .pass, "\(Self.problems(result))")
        #expect(result.backupID == id)
        let copy = try #require(result.copy)
        #expect(copy.kind == "offsite" && copy.remote == f.name && copy.remotePath == f.servers.root(kind))
        #expect(copy.fetchSeconds > 0)
        #expect(copy.fetchedBytes > set.manifest.objectRefs().reduce(Int64(0)) { $0 + $1.size })
        let folder = try #require(result.reportFolder)
        let json = try JSONDecoder().decode(
            DrillResult.self, from: try Data(contentsOf: URL(fileURLWithPath: folder + "/report.json")))
        #expect(json.copy == copy)
        #expect(json.copy?.remotePath == f.servers.root(kind))
        let markdown = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(
            markdown.contains("off-site copy on remote `\(f.name)` (`\(f.servers.root(kind))`)"), "\(markdown)")
        // The event, in the (re-made) local history.
        let all = try HistoryStore(LocalDestination(path: f.ws.config.destination)).events()
        // The drill's event, then the proof of the remote's copy it made (issue 17).
        #expect(all.map(\.kind) == [.drill, .proof])
        #expect(all.last?.details["remote"] == f.name)
        let history = all.filter { $0.kind == .drill }
        let event = try #require(history.first)
        #expect(event.kind == .drill && event.status == .pass && event.backupID == id)
        #expect(event.details["copy"] == "offsite" && event.details["remote"] == f.name, "\(event.details)")
        #expect((Double(event.details["fetch_seconds"] ?? "") ?? 0) > 0, "\(event.details)")
    }

    // MARK: - Faults

    /// A format-2 set made by hand in a plain destination (no vault), `remote` configured over the
    /// servers with `bwlimit`, and the push job (one attempt, bounded rclone time-outs).
    struct PushSetup {
        let servers: OffsiteServers
        let folder: TempFolder
        var config: RestoreDrillConfig
        let rclone: Rclone
        let id: BackupID
        let manifest: Manifest

        init(_ kind: OffsiteServers.Remote, payloads: [Data], bandwidthLimit: String? = nil, encrypted: Bool? = false)
            throws
        {
            servers = try OffsiteServers(label: "rd-offpush")
            try servers.start(kind.server)
            folder = try TempFolder("rd-offpush-dest")
            let destination = folder.file("backups")
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
            id = BackupID(date: Timestamp.date("2025-06-14T03:00:00Z")!, sequence: 1)
            manifest = try FormatTwoFixture.writeSet(destination: destination, id: id, payloads: payloads)
            config = RestoreDrillConfig(
                home: folder.file("home"), root: folder.file("home/maia"), destination: destination,
                baseFolder: folder.path)
            var remote = RestoreDrillConfig.OffsiteRemote(name: "far-\(kind.rawValue)", rclone: servers.root(kind))
            remote.encrypted = encrypted
            remote.bandwidthLimit = bandwidthLimit
            config.offsite = [remote]
            var rclone = try Rclone(
                executable: try requireTool("rclone", package: "rclone"), environment: servers.environment)
            rclone.extraFlags = OffsiteServerPathTests.bounded
            self.rclone = rclone
        }

        func job(bandwidthLimit: String?? = nil) -> OffsitePushJob {
            var remote = config.offsite[0]
            if let bandwidthLimit { remote.bandwidthLimit = bandwidthLimit }
            var job = OffsitePushJob(config: config, remote: remote, rclone: rclone)
            job.attempts = 1
            job.backoff = 0.05
            return job
        }

        func pushEvents() throws -> [HistoryEvent] {
            try HistoryStore(destination: config.destination).events().filter { $0.kind == .push }
        }

        func remove() {
            servers.stop()
            folder.remove()
        }
    }

    /// The remote's objects, `<ab>/<hex>` → size (a listing through rclone: S3 shows an object only
    /// once its upload completed; SFTP shows a file being written with its size so far).
    static func remoteObjects(_ job: OffsitePushJob) -> [String: Int64] {
        let entries = (try? job.rcloneRemote.list("objects", recursive: true)) ?? []
        return Dictionary(entries.filter { !$0.isDir }.map { ($0.path, $0.size) }, uniquingKeysWith: { a, _ in a })
    }

    /// The set's objects the listing shows whole (their recorded size).
    static func whole(_ listed: [String: Int64], _ manifest: Manifest) -> Set<String> {
        Set(
            manifest.objectRefs().filter { listed["\($0.digest.fanOut)/\($0.digest.hex)"] == $0.size }
                .map { "\($0.digest.fanOut)/\($0.digest.hex)" })
    }

    /// The server cut off while a bandwidth-limited push runs (sftp: sshd killed with its sessions;
    /// s3: moto frozen, since a restarted moto forgets its buckets): the push fails naming the
    /// remote, the set is not complete there, and once the server is back the next push finishes it
    /// without sending again an object that arrived whole.
    @Test(
        "server stopped mid-push: no complete set, the next push finishes it",
        .needsOffsiteServers(.sftp, .s3), arguments: [OffsiteServers.Remote.sftp, .s3])
    func serverStoppedMidPush(remote kind: OffsiteServers.Remote) throws {
        // 2 small objects, then 6 of 512 KiB; at 512 KiB/s the push needs about 6 s.
        let payloads =
            (1...2).map { FormatTwoFixture.payload($0, count: 8 << 10) }
            + (3...8).map { FormatTwoFixture.payload($0, count: 512 << 10) }
        let s = try PushSetup(kind, payloads: payloads, bandwidthLimit: "512k")
        defer { s.remove() }
        let total = s.manifest.objectRefs().count
        #expect(total == 8)
        var job = s.job()
        // A frozen server is noticed after --timeout: keep the cut push's short.
        job.rclone.extraFlags += ["--timeout", "2s", "--contimeout", "1s"]
        // No remote `md5sum` over SSH during the push that is cut: killing sshd then kills the
        // user's shell mid-start, which can leave its startup files' locks behind (a pyenv rehash
        // lock made every later SSH command wait 60 s on one machine).
        job.rclone.extraFlags += ["--sftp-disable-hashcheck"]

        // The push on another thread; this one watches the remote and cuts the server off once an
        // object is there whole and the set is not.
        final class Box: @unchecked Sendable { var outcome: Result<OffsitePushJob.Outcome, any Error>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let started = Date()
        let id = s.id.description
        let cut = job
        Thread {
            box.outcome = Result { try cut.push(id: id) }
            done.signal()
        }.start()
        var arrived = Set<String>()
        while Date().timeIntervalSince(started) < 30 {
            arrived = Self.whole(Self.remoteObjects(job), s.manifest)
            if !arrived.isEmpty && Date().timeIntervalSince(started) > 0.8 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(!arrived.isEmpty && arrived.count < total, "objects whole before the cut: \(arrived.count)")
        let cutAt = Date().timeIntervalSince(started)
        if kind == .s3 { s.servers.pause(.s3) } else { s.servers.stopServer(.sftp) }
        #expect(done.wait(timeout: .now() + 60) == .success, "the push did not end after the cut")
        if kind == .s3 { s.servers.resume(.s3) } else { try s.servers.restart(.sftp) }

        let failed = try #require(try box.outcome?.get())
        #expect(failed.status == "failed", "\(failed.text) (cut at \(cutAt) s)")
        #expect(failed.attempts == 1)
        #expect(failed.error?.contains(s.servers.root(kind).split(separator: ":")[0] + ":") == true, "\(failed.text)")
        #expect(failed.text.contains("far-\(kind.rawValue)"))
        let events = try s.pushEvents()
        #expect(events.map(\.status) == [.failed])
        #expect(events.first?.details["remote"] == "far-\(kind.rawValue)")

        // Not complete on the remote: no manifest, so no listing takes it for a set.
        #expect(try job.completeRemoteSets().isEmpty)
        let entries = try RcloneDestination(remote: job.rcloneRemote).listEntries()
        #expect(
            !entries.contains {
                if case .set = $0.verdict { return true }
                return false
            }, "\(entries.map(\.name))")
        #expect(!(try job.rcloneRemote.list("\(s.id)")).contains { $0.path == Manifest.fileName })
        // Whole objects survived the cut (sftp: the very files, by inode).
        let there = Self.whole(Self.remoteObjects(job), s.manifest)
        #expect(there.isSuperset(of: arrived), "\(there.count) of \(total)")
        // sftp: the objects being written when sshd died stay short. s3: a frozen moto still has
        // in its sockets what rclone wrote before it gave up, and completes those uploads when it
        // resumes; only the manifest, never sent, is certain to be missing.
        if kind == .sftp { #expect(there.count < total, "\(there.count) of \(total)") }
        var inodes: [String: Int] = [:]
        if kind == .sftp, let served = s.servers.servedFolder(.sftp) {
            for path in there {
                inodes[path] =
                    try FileManager.default.attributesOfItem(atPath: "\(served)/objects/\(path)")[
                        .systemFileNumber] as? Int
            }
        }

        // The next push (no bandwidth limit) finishes the set and sends only what was missing.
        let resumed = try s.job(bandwidthLimit: .some(nil)).push(id: s.id.description)
        #expect(resumed.status == "pushed", "\(resumed.text)")
        #expect(resumed.objectsPresent == there.count, "\(resumed.text)")
        #expect(resumed.objectsSent == total - there.count)
        #expect(try job.completeRemoteSets() == [s.id])
        #expect(Self.whole(Self.remoteObjects(job), s.manifest).count == total)
        for (path, inode) in inodes {
            let now = try FileManager.default.attributesOfItem(
                atPath: "\(s.servers.servedFolder(.sftp)!)/objects/\(path)")
            #expect(now[.systemFileNumber] as? Int == inode, "\(path) was written again")
        }
        #expect(try s.pushEvents().map(\.status) == [.failed, .ok])
    }

    /// One byte flipped in an object on the SFTP server: `offsite check` alone fails naming it when
    /// the manifest records the MD5 SFTP computes (else it is `unverified`, sizes only, and says
    /// so); `offsite check --download` fails naming it either way.
    @Test(.needsOffsiteServers(.sftp))
    func aByteFlippedOnTheSFTPServerIsNamedByTheCheck() async throws {
        let f = try Fixture(.sftp)
        defer { f.remove() }
        let set = try await f.backupAndPush()
        let object = Fixture.largestObject(set.manifest)
        try Self.flipByte(try f.served(object))
        let md5 = try Self.recordsMD5(f.ws.config.destination + "/\(set.manifest.id)/manifest.json")

        let alone = try #require(try await f.check().sets.first)
        if md5 {
            #expect(alone.status == .fail && alone.method == "hash:md5", "\(alone.text)")
            #expect(Self.failing(alone) == ["wrong_hash \(object)"], "\(alone.text)")
        } else {
            // The remote's MD5 has nothing to be compared with: not a pass.
            #expect(alone.status == .unverified && alone.method == "size", "\(alone.text)")
            #expect(alone.text.contains("UNVERIFIED (sizes only"))
        }
        let read = try #require(try await f.check(download: true, minute: 1).sets.first)
        #expect(read.status == .fail && read.method == "download", "\(read.text)")
        #expect(Self.failing(read) == ["wrong_hash \(object)"], "\(read.text)")
        let events = try f.checkEvents()
        #expect(events.last?.status == .fail && events.last?.details["findings"] == "wrong_hash")
    }

    /// One byte flipped in an object on the WebDAV server (no hash at all): `offsite check` says
    /// `unverified`; `offsite check --download` and `drill --offsite` fail naming the object.
    @Test(.needsOffsiteServers(.webdav))
    func aByteFlippedOnTheWebDAVServerFailsTheDownloadCheckAndTheDrill() async throws {
        let f = try Fixture(.webdav)
        defer { f.remove() }
        let set = try await f.backupAndPush()
        let object = Fixture.largestObject(set.manifest)
        try Self.flipByte(try f.served(object))

        let alone = try #require(try await f.check().sets.first)
        #expect(alone.status == .unverified && alone.method == "size", "\(alone.text)")
        let read = try #require(try await f.check(download: true, minute: 1).sets.first)
        #expect(read.status == .fail && read.method == "download", "\(read.text)")
        #expect(Self.failing(read) == ["wrong_hash \(object)"], "\(read.text)")

        try f.removeLocalDestination()
        let result = try await f.drill(.id(set.manifest.id.description))
        #expect(result.verdict == .fail)
        #expect(result.copy?.remote == f.name)
        let hex = String(object.split(separator: "/").last!)
        let failed = result.results(.setArtifacts).filter { $0.verdict == .fail }
        #expect(
            failed.contains { $0.findings.contains { $0.code == .objectDamaged && $0.message.contains(hex) } },
            "\(Self.problems(result))")
        let events = try HistoryStore(LocalDestination(path: f.ws.config.destination)).events()
        #expect(events.map(\.status) == [.fail])
        #expect(events.first?.details["remote"] == f.name)
    }

    /// The remote manifest removed on the SFTP server: the check says the set is not complete
    /// there, the remote lists the folder as unusable, and a drill of that id finds no set.
    @Test(.needsOffsiteServers(.sftp))
    func aMissingRemoteManifestIsNotACompleteSet() async throws {
        let f = try Fixture(.sftp)
        defer { f.remove() }
        let set = try await f.backupAndPush()
        let id = set.manifest.id
        try FileManager.default.removeItem(atPath: try f.served("\(id)/manifest.json"))

        let check = try #require(try await f.check(.id(id.description)).sets.first)
        #expect(check.status == .fail)
        #expect(Self.failing(check) == ["manifest_missing \(id)/manifest.json"], "\(check.text)")
        #expect(try f.checkEvents().last?.details["findings"] == "manifest_missing")
        let push = OffsitePushJob(config: f.ws.config, remote: f.remote, rclone: f.rclone)
        #expect(try push.completeRemoteSets().isEmpty)
        let entries = try RcloneDestination(remote: push.rcloneRemote).listEntries()
        #expect(entries.count == 1 && entries.first?.id == id)
        guard case .unusable = entries.first?.verdict else {
            Issue.record("the folder without a manifest lists as \(String(describing: entries.first?.verdict))")
            return
        }

        try f.removeLocalDestination()
        await #expect {
            _ = try await f.drill(.id(id.description))
        } throws: { error in
            guard case .setNotFound(let what) = error as? RestoreDrillError else { return false }
            return what.contains(id.description) && what.contains(f.remote.rclone)
        }
    }

    /// Conflict copies on the WebDAV server, named as sync clients name them (the one classifier a
    /// local synced folder uses): a numbered copy of the manifest, a Dropbox copy of `SHA256SUMS`,
    /// and a numbered copy of an object. Sizes only, the object's copy shadows an object not proven
    /// by content and fails the set; with `--download` every original is proven and the copies are
    /// findings that do not fail it.
    @Test(.needsOffsiteServers(.webdav))
    func conflictCopiesOnTheRemoteAreFindings() async throws {
        let f = try Fixture(.webdav)
        defer { f.remove() }
        let set = try await f.backupAndPush()
        let id = set.manifest.id
        let object = Fixture.largestObject(set.manifest)
        let copies = [
            ("\(id)/manifest.json", "\(id)/manifest (2).json"),
            ("\(id)/SHA256SUMS", "\(id)/SHA256SUMS (Maia's conflicted copy 2025-06-10)"),
            (object, "\(object) (2)"),
        ]
        // Made through the server (rclone serve webdav caches its listings: a file made beside it
        // on disk would not be listed for minutes).
        let root = f.remote.rclone
        for (original, copy) in copies {
            let run = try f.rclone.run(["copyto", "\(root)/\(original)", "\(root)/\(copy)"], timeout: 60)
            #expect(run.succeeded, "\(run.reason)")
        }

        let sizes = try #require(try await f.check().sets.first)
        let found = sizes.findings.filter { $0.code == .conflictCopy }
        #expect(Set(found.map(\.path)) == Set(copies.map(\.1)), "\(sizes.text)")
        #expect(sizes.status == .fail, "\(sizes.text)")
        #expect(Self.failing(sizes) == ["conflict_copy \(object) (2)"], "\(sizes.text)")
        #expect(try f.checkEvents().last?.details["findings"]?.contains("conflict_copy") == true)

        let read = try #require(try await f.check(download: true, minute: 1).sets.first)
        #expect(Set(read.findings.filter { $0.code == .conflictCopy }.map(\.path)) == Set(copies.map(\.1)))
        #expect(read.status == .pass && Self.failing(read).isEmpty, "\(read.text)")
    }

    /// A push over SFTP to a remote whose configuration has no `encrypted:` key is refused before
    /// anything is sent, naming the remote and crypt; the refusal is in the history.
    @Test(.needsOffsiteServers(.sftp))
    func aPushToAnUnencryptedRemoteIsRefused() throws {
        let s = try PushSetup(.sftp, payloads: [FormatTwoFixture.payload(1)], encrypted: nil)
        defer { s.remove() }
        #expect(s.config.offsite[0].encrypted == nil)
        #expect(throws: RestoreDrillError.self) { try s.job().checkEncryption() }
        let outcomes = OffsitePushJob.pushToEveryRemote(
            config: s.config, id: s.id.description, rclone: s.rclone, authenticator: nil, clock: FixedClock(Date()))
        let refused = try #require(outcomes.first)
        #expect(outcomes.count == 1 && refused.status == "failed")
        let error = refused.error ?? ""
        #expect(
            error.contains("\"far-sftp\"") && error.contains("crypt") && error.contains("encrypted: false"), "\(error)")
        #expect(error.contains("rclone type sftp"), "\(error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.servers.servedFolder(.sftp)!).isEmpty)
        let events = try s.pushEvents()
        #expect(events.map(\.status) == [.failed])
        #expect(events.first?.details["remote"] == "far-sftp" && events.first?.details["error"] == error)
    }
}
