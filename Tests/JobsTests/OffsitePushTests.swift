import Destination
import DrillCore
import Foundation
import Health
import TestSupport
import Testing

@testable import Jobs

/// Pushing sets to an off-site remote (issue 16) with the real rclone, over a local-path remote
/// and a `crypt` remote over one: the order (objects, files, manifest last), resuming, the
/// encryption rule, retries in the history, and refusing a damaged local object.
@Suite(.serialized) struct OffsitePushTests {
    /// A destination with one hand-made format-2 set, an rclone configuration with a plain
    /// local remote `loc` and a crypt remote `cr` over `<folder>/encrypted`.
    struct Setup {
        var folder: TempFolder
        var config: RestoreDrillConfig
        var rclone: Rclone
        var id: BackupID
        var manifest: Manifest
        var remoteFolder: String { folder.file("remote") }

        func job(_ remote: RestoreDrillConfig.OffsiteRemote) -> OffsitePushJob {
            var job = OffsitePushJob(config: config, remote: remote, rclone: rclone)
            job.backoff = 0.05
            job.clock = FixedClock(Timestamp.date("2025-06-14T12:00:00Z")!)
            return job
        }

        var plain: RestoreDrillConfig.OffsiteRemote {
            var r = RestoreDrillConfig.OffsiteRemote(name: "usb", rclone: "loc:\(remoteFolder)")
            r.encrypted = false
            return r
        }

        func events() throws -> [HistoryEvent] { try HistoryStore(destination: config.destination).events() }
    }

    static func setup(rcloneArgs: [String] = []) throws -> Setup {
        let rcloneBinary = try requireTool("rclone", package: "rclone")
        let folder = try TempFolder("offsite-push")
        let destination = folder.file("backups")
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let id = BackupID(date: Timestamp.date("2025-06-14T03:00:00Z")!, sequence: 1)
        let manifest = try FormatTwoFixture.writeSet(
            destination: destination, id: id,
            payloads: [FormatTwoFixture.payload(1, count: 5000), FormatTwoFixture.payload(2, count: 7000)])
        let obscured = try runTool(rcloneBinary, ["obscure", "-"], standardInput: Data("test-password\n".utf8))
        let configText = """
            [loc]
            type = local

            [cr]
            type = crypt
            remote = loc:\(folder.file("encrypted"))
            password = \(obscured.output.trimmingCharacters(in: .whitespacesAndNewlines))

            """
        let rcloneConfig = try folder.write(configText, "rclone.conf")
        var environment = ProcessInfo.processInfo.environment
        environment["RCLONE_CONFIG"] = rcloneConfig
        environment.removeValue(forKey: "AWS_CA_BUNDLE")
        var rclone = try Rclone(executable: rcloneBinary, environment: environment)
        rclone.extraFlags = rcloneArgs
        let config = RestoreDrillConfig(
            home: folder.file("home"), root: folder.file("home/maia"), destination: destination,
            baseFolder: folder.path)
        return Setup(folder: folder, config: config, rclone: rclone, id: id, manifest: manifest)
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aPushedSetIsOnTheRemoteByteForByteAndASecondPushSendsNothing() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        let outcome = try s.job(s.plain).push(id: s.id.description)
        #expect(outcome.status == "pushed")
        #expect(outcome.objectsSent == 2)
        #expect(outcome.attempts == 1)
        let local = "\(s.config.destination)/\(s.id)"
        for file in ["manifest.json", "SHA256SUMS", s.manifest.restoreScript] {
            #expect(
                FileManager.default.contents(atPath: "\(s.remoteFolder)/\(s.id)/\(file)")
                    == FileManager.default.contents(atPath: "\(local)/\(file)"), "\(file)")
        }
        for ref in s.manifest.objectRefs() {
            let path = "\(s.remoteFolder)/objects/\(ref.digest.fanOut)/\(ref.digest.hex)"
            let bytes = try #require(FileManager.default.contents(atPath: path))
            #expect(SHA256Digest.hex(of: bytes) == ref.digest.hex)
        }
        #expect(try s.job(s.plain).completeRemoteSets() == [s.id])
        let again = try s.job(s.plain).push(id: "latest")
        #expect(again.status == "already_there")
        #expect(again.objectsSent == 0)
        let pushes = try s.events().filter { $0.kind == .push }
        #expect(pushes.map(\.status) == [.ok, .ok])
        #expect(pushes.allSatisfy { $0.details["remote"] == "usb" && $0.backupID == s.id })
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aRemoteThatIsNotCryptIsRefusedUnlessTheConfigurationSaysEncryptedFalse() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        var remote = s.plain
        remote.encrypted = nil
        #expect {
            try s.job(remote).push(id: s.id.description)
        } throws: { error in
            let text = "\(error)"
            return text.contains("\"usb\"") && text.contains("rclone type local") && text.contains("crypt")
                && text.contains("encrypted: false")
        }
        #expect(!FileManager.default.fileExists(atPath: s.remoteFolder))
        remote.encrypted = true
        #expect(throws: RestoreDrillError.self) { try s.job(remote).push(id: s.id.description) }
        // pushToEveryRemote gives a failed outcome and a failed event instead of throwing.
        var config = s.config
        config.offsite = [remote]
        let outcomes = OffsitePushJob.pushToEveryRemote(
            config: config, id: s.id.description, rclone: s.rclone, authenticator: nil,
            clock: FixedClock(Date()))
        #expect(outcomes.map(\.status) == ["failed"])
        #expect(try s.events().filter { $0.kind == .push }.map(\.status) == [.failed])
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aCryptRemoteIsPushedToWithoutAFlagAndHoldsNoClearNameOrByte() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        let remote = RestoreDrillConfig.OffsiteRemote(name: "vault", rclone: "cr:sets")
        let outcome = try s.job(remote).push(id: s.id.description)
        #expect(outcome.status == "pushed")
        let underlying = s.folder.file("encrypted")
        let names = try #require(FileManager.default.subpaths(atPath: underlying))
        #expect(names.count >= 6)
        let ids = s.manifest.objectRefs().map(\.digest.hex) + [s.id.description, "manifest.json", "SHA256SUMS"]
        for name in names {
            #expect(!ids.contains { name.contains($0) }, "clear name on the remote: \(name)")
        }
        let clearManifest = try #require(
            FileManager.default.contents(atPath: "\(s.config.destination)/\(s.id)/manifest.json"))
        for name in names {
            let bytes = FileManager.default.contents(atPath: "\(underlying)/\(name)") ?? Data()
            #expect(bytes.range(of: clearManifest.prefix(40)) == nil)
        }
        // Read back through the crypt remote: the same bytes.
        let back = try RcloneRemote(rclone: s.rclone, root: "cr:sets").cat("\(s.id)/manifest.json")
        #expect(back == clearManifest)
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aPushCutOffBeforeTheManifestLeavesNoSetAndTheNextPushSendsOnlyWhatIsMissing() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        // The set folder's place on the remote is a file: objects go up, the set's files cannot.
        try FileManager.default.createDirectory(atPath: s.remoteFolder, withIntermediateDirectories: true)
        try Data("in the way".utf8).write(to: URL(fileURLWithPath: "\(s.remoteFolder)/\(s.id)"))
        var job = s.job(s.plain)
        job.attempts = 2
        let failed = try job.push(id: s.id.description)
        #expect(failed.status == "failed")
        #expect(failed.attempts == 2)
        #expect(failed.error?.contains(s.id.description) == true)
        #expect(try job.completeRemoteSets().isEmpty)
        #expect(
            FileManager.default.fileExists(
                atPath: "\(s.remoteFolder)/objects/\(s.manifest.objectRefs()[0].digest.fanOut)"))
        // Both events carry the test's fixed time: compare them without their order.
        let statuses = try s.events().filter { $0.kind == .push }.map(\.status.rawValue).sorted()
        #expect(statuses == ["failed", "retry"])
        try FileManager.default.removeItem(atPath: "\(s.remoteFolder)/\(s.id)")
        let resumed = try job.push(id: s.id.description)
        #expect(resumed.status == "pushed")
        #expect(resumed.objectsSent == 0)
        #expect(resumed.objectsPresent == 2)
        #expect(try job.completeRemoteSets() == [s.id])
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aPushWaitsOutAPruneHoldingTheRemoteLockAndFailsNamingIt() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        let remote = RcloneDestination(remote: RcloneRemote(rclone: s.rclone, root: s.plain.rclone))
        let lock = RemoteLock(
            folder: RcloneLockFolder(remote: remote.remote), location: "locks",
            clock: try SystemClock(environment: [:]),
            host: "pruner.example", pid: 4242)
        let lease = try lock.acquire(mode: .exclusive, operation: "prune")
        var job = s.job(s.plain)
        job.attempts = 2
        job.clock = try SystemClock(environment: [:])
        let blocked = try job.push(id: s.id.description)
        #expect(blocked.status == "failed")
        #expect(blocked.error?.contains("pruner.example") == true, "\(blocked.error ?? "")")
        #expect(!FileManager.default.fileExists(atPath: "\(s.remoteFolder)/\(s.id)/manifest.json"))
        #expect(!FileManager.default.fileExists(atPath: "\(s.remoteFolder)/objects"))
        try lock.release(lease)
        let pushed = try job.push(id: s.id.description)
        #expect(pushed.status == "pushed")
        // The push's own lock object is gone after it.
        #expect(try RcloneLockFolder(remote: remote.remote).names().isEmpty)
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func noSecretReachesRclonesCommandLineOrTheHistory() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        // rclone through a wrapper that records every argv, then runs the real one.
        let argvLog = s.folder.file("argv.log")
        let wrapper = try s.folder.write(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '\(argvLog)'\nexec '\(s.rclone.executable)' \"$@\"\n", "rclone-wrapper"
        )
        chmod(wrapper, 0o755)
        var recorded = s
        recorded.rclone = try Rclone(executable: wrapper, environment: s.rclone.environment)
        let remote = RestoreDrillConfig.OffsiteRemote(name: "vault", rclone: "cr:sets")
        #expect(try recorded.job(remote).push(id: s.id.description).status == "pushed")
        let argv = try String(contentsOfFile: argvLog, encoding: .utf8)
        #expect(argv.contains("copy"))
        let configText = try String(contentsOfFile: s.rclone.environment["RCLONE_CONFIG"]!, encoding: .utf8)
        let obscured = try #require(configText.split(separator: "\n").first { $0.hasPrefix("password = ") })
            .dropFirst("password = ".count)
        #expect(!argv.contains(obscured))
        #expect(!argv.contains("test-password"))
        let history = try s.events().map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            .joined()
        #expect(!history.contains(obscured) && !history.contains("test-password"))
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aHugeOrLinkedManifestOnTheRemoteIsUnusableAndTheOtherSetsStillList() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        #expect(try s.job(s.plain).push(id: s.id.description).status == "pushed")
        let huge = BackupID(date: Timestamp.date("2025-06-15T03:00:00Z")!, sequence: 1)
        let linked = BackupID(date: Timestamp.date("2025-06-16T03:00:00Z")!, sequence: 1)
        for id in [huge, linked] {
            try FileManager.default.createDirectory(
                atPath: "\(s.remoteFolder)/\(id)", withIntermediateDirectories: true)
        }
        // A sparse 600 MiB manifest (over the 512 MiB limit) and a link to the real one.
        let handle = try #require(
            FileHandle(
                forWritingAtPath: {
                    let path = "\(s.remoteFolder)/\(huge)/manifest.json"
                    FileManager.default.createFile(atPath: path, contents: nil)
                    return path
                }()))
        try handle.truncate(atOffset: 600 << 20)
        try handle.close()
        try FileManager.default.createSymbolicLink(
            atPath: "\(s.remoteFolder)/\(linked)/manifest.json",
            withDestinationPath: "\(s.config.destination)/\(s.id)/manifest.json")
        let remote = RcloneDestination(
            remote: RcloneRemote(rclone: s.rclone, root: s.plain.rclone), stagingFolder: s.folder.file("staging"))
        let entries = try remote.listEntries()
        #expect(entries.map(\.id) == [s.id, huge, linked])
        guard case .set = entries[0].verdict else {
            Issue.record("the pushed set does not list as a set: \(entries[0].verdict)")
            return
        }
        for entry in entries.dropFirst() {
            guard case .unusable(let reason, nil) = entry.verdict else {
                Issue.record("\(entry.name) lists as \(entry.verdict)")
                continue
            }
            #expect(reason.contains("manifest.json"))
        }
        #expect {
            try remote.readManifest(id: huge)
        } throws: { "\($0)".contains("larger than") }
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func aDamagedLocalObjectIsNeverPushed() throws {
        let s = try Self.setup()
        defer { s.folder.remove() }
        let ref = s.manifest.objectRefs()[1]
        let path = FormatTwoFixture.objectPath(s.config.destination, ref.digest)
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[10] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect {
            try s.job(s.plain).push(id: s.id.description)
        } throws: { error in
            "\(error)".contains(ref.digest.hex) && "\(error)".contains("not pushed")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(s.remoteFolder)/\(s.id)/manifest.json"))
    }

    @Test func theConfigurationRefusesInlineCredentialsAndReadsEachKey() throws {
        let folder = try TempFolder("offsite-config")
        defer { folder.remove() }
        func load(_ offsite: String) throws -> RestoreDrillConfig {
            let file = try folder.write(
                "home: /home/alice\nroot: ~/maia\ndestination: /backups\nretention: {daily: 9}\n" + offsite,
                "c-\(UUID().uuidString).yml")
            return try RestoreDrillConfig.load(path: file)
        }
        let config = try load(
            """
            offsite:
              - name: onedrive
                rclone: "onedrive:MaiaBackups"
                encrypted: false
                prune: false
                bwlimit: 10M
                retention: {weekly: 2}
              - name: b2
                rclone: "b2crypt:sets"

            """)
        #expect(config.offsite.map(\.name) == ["onedrive", "b2"])
        #expect(config.offsite[0].encrypted == false && config.offsite[0].prune == false)
        #expect(config.offsite[0].bandwidthLimit == "10M")
        #expect(config.offsite[0].retention?.weekly == 2)
        #expect(config.offsite[0].retention?.daily == 9)
        #expect(config.offsite[1].encrypted == nil && config.offsite[1].prune && config.offsite[1].retention == nil)
        #expect {
            try load("offsite:\n  - name: s\n    rclone: \":sftp,host=h,pass=abc:/x\"\n")
        } throws: { error in
            "\(error)".contains("offsite[1].rclone") && "\(error)".contains("credential") && !"\(error)".contains("abc")
        }
        #expect(throws: RestoreDrillError.self) {
            try load("offsite:\n  - name: a\n    rclone: \"a:x\"\n  - name: a\n    rclone: \"b:y\"\n")
        }
        #expect(throws: RestoreDrillError.self) { try load("offsite:\n  - name: a\n    rclone: nocolon\n") }
        #expect(throws: RestoreDrillError.self) {
            try load("offsite:\n  - name: a\n    rclone: \"a:x\"\n    encrypted: maybe\n")
        }
    }
}
