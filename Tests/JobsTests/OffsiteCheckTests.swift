import Destination
import DrillCore
import Foundation
import Health
import TestSupport
import Testing

@testable import Jobs

/// `offsite check` against real rclone remotes made by the tests: a local path (the `local`
/// backend gives sha256, md5 and quickxor), an rclone `crypt` remote over a local path
/// (cryptcheck), and `rclone serve webdav` on 127.0.0.1 (no hash at all). Each remote gets a real
/// format-2 set pushed by ``OffsitePushJob`` first.
@Suite(.serialized) struct OffsiteCheckTests {
    /// A workspace with one format-2 set made by the backup engine, an rclone configuration file
    /// of its own (`RCLONE_CONFIG`), and the remote `remote` configured.
    struct Fixture {
        let folder: String
        var config: RestoreDrillConfig
        let rclone: Rclone
        let id: BackupID
        let manifest: Manifest

        var remote: RestoreDrillConfig.OffsiteRemote { config.offsite[0] }

        /// The job, its clock at `minute` past 12:00 on June 10 (events sort by time).
        func job(_ minute: Int = 0) -> OffsiteCheckJob {
            var job = OffsiteCheckJob(config: config, remote: remote, rclone: rclone)
            job.clock = FixedClock(Timestamp.date("2025-06-10T12:00:00Z")!.addingTimeInterval(Double(minute) * 60))
            return job
        }

        func push() throws {
            var push = OffsitePushJob(config: config, remote: remote, rclone: rclone)
            push.attempts = 1
            let outcome = try push.push(id: id.description)
            #expect(outcome.status == "pushed", "\(outcome.text)")
        }

        /// The set's largest object, `objects/<ab>/<hex>`.
        var largestObject: String {
            let ref = manifest.objectRefs().max { $0.size < $1.size }!
            return "objects/\(ref.digest.fanOut)/\(ref.digest.hex)"
        }

        func events() throws -> [HistoryEvent] {
            try HistoryStore(destination: config.destination).events().filter { $0.kind == .offsiteCheck }
        }
    }

    static func fixture(
        remoteRoot: (String) -> String, rcloneConfig: (String, Rclone) throws -> String = { _, _ in "" }
    )
        async throws -> Fixture
    {
        let w = try PruneJobTests.workspace()
        var config = w.config
        config.setFormat = 2
        let made = try await BackupJob(config: config, clock: FixedClock(Timestamp.date("2025-06-09T03:00:00Z")!))
            .run()
        #expect(made.manifest.formatVersion == 2)
        let configFile = "\(w.folder)/rclone.conf"
        var environment = ProcessInfo.processInfo.environment
        environment["RCLONE_CONFIG"] = configFile
        environment.removeValue(forKey: "AWS_CA_BUNDLE")
        let rclone = try Rclone(executable: try requireTool("rclone", package: "rclone"), environment: environment)
        try Data(try rcloneConfig(w.folder, rclone).utf8).write(to: URL(fileURLWithPath: configFile))
        chmod(configFile, 0o600)
        var remote = RestoreDrillConfig.OffsiteRemote(name: "far", rclone: remoteRoot(w.folder))
        remote.encrypted = false
        config.offsite = [remote]
        return Fixture(folder: w.folder, config: config, rclone: rclone, id: made.manifest.id, manifest: made.manifest)
    }

    /// Flips the byte at `offset` of `path`.
    static func flipByte(_ path: String, at offset: UInt64 = 10) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: offset)
        try handle.write(contentsOf: Data([byte ^ 0xFF]))
    }

    static func failing(_ check: OffsiteSetCheck) -> [String] {
        check.findings.filter { $0.fails ?? true }.map { "\($0.code.rawValue) \($0.path)" }
    }

    // MARK: - A local path (sha256, md5, quickxor)

    @Test(.needsTool("rclone", package: "rclone"))
    func localPathPassesByHashThenFailsNamingAFlippedObject() async throws {
        let f = try await Self.fixture(remoteRoot: { "\($0)/remote" })
        defer { try? FileManager.default.removeItem(atPath: f.folder) }
        try f.push()

        let report = try f.job().run(.newest)
        let check = try #require(report.sets.first)
        #expect(report.sets.count == 1 && check.id == f.id.description)
        #expect(check.status == .pass && check.method == "hash:sha256", "\(check.text)")
        #expect(check.findings.isEmpty && report.findings.isEmpty, "\(report.text)")
        #expect(check.files == f.manifest.objectRefs().count + 3)
        #expect(OffsiteCheckJob.exitStatus([report]) == .success)
        let first = try #require(try f.events().last)
        #expect(first.status == .pass && first.backupID == f.id)
        #expect(first.details == ["remote": "far", "method": "hash:sha256"])

        // One byte flipped in a remote object: same size, so only the hash can tell.
        let object = f.largestObject
        try Self.flipByte("\(f.folder)/remote/\(object)")
        let damaged = try f.job(1).run(.id(f.id.description))
        let bad = try #require(damaged.sets.first)
        #expect(bad.status == .fail)
        #expect(Self.failing(bad) == ["wrong_hash \(object)"], "\(bad.text)")
        #expect(OffsiteCheckJob.exitStatus([damaged]) == .findings)
        let second = try #require(try f.events().last)
        #expect(second.status == .fail && second.details["findings"] == "wrong_hash")
        #expect(try f.events().count == 2)

        // And one in the restore script, a file of the set folder (its own hashed listing).
        let script = "\(f.id)/\(f.manifest.restoreScript)"
        try Self.flipByte("\(f.folder)/remote/\(script)")
        let both = try #require(try f.job(2).run(.newest).sets.first)
        #expect(
            Self.failing(both).sorted() == ["wrong_hash \(object)", "wrong_hash \(script)"].sorted(), "\(both.text)")
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func md5WhereTheManifestRecordsItElseSizesOnly() async throws {
        let f = try await Self.fixture(remoteRoot: { "\($0)/remote" })
        defer { try? FileManager.default.removeItem(atPath: f.folder) }
        try f.push()
        var job = f.job()
        job.hashPreference = ["md5"]
        let check = try #require(try job.run(.newest).sets.first)
        // The optional md5 field (branch off-hashes): with it the objects are md5-checked; a manifest
        // without it leaves the objects (not the manifest and SHA256SUMS, read back) unverified.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(f.config.destination)/\(f.id)/manifest.json"))
        let recordsMD5 = OffsiteCheckJob.recordedHashes(bytes).values.allSatisfy { $0.md5 != nil }
        if recordsMD5 {
            #expect(check.status == .pass && check.method == "hash:md5", "\(check.text)")
        } else {
            #expect(check.status == .unverified && check.method == "size", "\(check.text)")
        }
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func missingRemoteManifestConflictCopyAndStrays() async throws {
        let f = try await Self.fixture(remoteRoot: { "\($0)/remote" })
        defer { try? FileManager.default.removeItem(atPath: f.folder) }
        try f.push()
        let root = "\(f.folder)/remote"
        let setFolder = "\(root)/\(f.id)"
        // A sync client's copy beside the manifest, a stray at the root, one in objects/, a conflict
        // copy of an object, and the tool's own folder (never a finding).
        try FileManager.default.copyItem(atPath: "\(setFolder)/manifest.json", toPath: "\(setFolder)/manifest (2).json")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: "\(root)/notes.txt"))
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(root)/objects/stray.bin"))
        let object = f.largestObject
        try FileManager.default.copyItem(
            atPath: "\(root)/\(object)", toPath: "\(root)/\(object).sync-conflict-20250609-120000-ABCDEF1")
        try FileManager.default.createDirectory(
            atPath: "\(root)/.restore-drill/locks", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(root)/.restore-drill/locks/a.json"))
        // The runbook the schedule keeps beside the sets is the tool's own; a sync client's copy of
        // it is a conflict copy.
        try Data("# Runbook".utf8).write(to: URL(fileURLWithPath: "\(root)/RUNBOOK.md"))
        try Data("# Runbook".utf8).write(to: URL(fileURLWithPath: "\(root)/RUNBOOK (2).md"))

        let report = try f.job().run(.newest)
        let check = try #require(report.sets.first)
        #expect(check.status == .pass, "\(report.text)")
        let setFindings = check.findings.map { "\($0.code.rawValue) \($0.path)" }.sorted()
        #expect(
            setFindings == [
                "conflict_copy \(f.id)/manifest (2).json",
                "conflict_copy \(object).sync-conflict-20250609-120000-ABCDEF1",
            ], "\(check.text)")
        #expect(
            report.findings.map { "\($0.code.rawValue) \($0.path)" } == [
                "conflict_copy RUNBOOK (2).md", "stray notes.txt", "stray objects/stray.bin",
            ],
            "\(report.text)")
        #expect(OffsiteCheckJob.exitStatus([report]) == .success)
        #expect(try f.events().last?.details["findings"] == "conflict_copy")

        // The manifest removed on the remote: the set is not complete there.
        try FileManager.default.removeItem(atPath: "\(setFolder)/manifest.json")
        let cut = try #require(try f.job(1).run(.newest).sets.first)
        #expect(cut.status == .fail)
        #expect(Self.failing(cut).contains("manifest_missing \(f.id)/manifest.json"), "\(cut.text)")
        // Its conflict copy now shadows a file that is not there.
        #expect(Self.failing(cut).contains("conflict_copy \(f.id)/manifest (2).json"), "\(cut.text)")
        #expect(try f.events().last?.status == .fail)
    }

    // MARK: - crypt over a local path (cryptcheck)

    @Test(.needsTool("rclone", package: "rclone"))
    func cryptRemoteIsCryptcheckedAndAFlippedByteFails() async throws {
        let f = try await Self.fixture(
            remoteRoot: { _ in "secret:set" },
            rcloneConfig: { folder, rclone in
                let obscured = try rclone.run(["obscure", "-"], input: Data("test password".utf8))
                let password = String(decoding: obscured.standardOutput, as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                return "[secret]\ntype = crypt\nremote = \(folder)/under\npassword = \(password)\n"
            })
        defer { try? FileManager.default.removeItem(atPath: f.folder) }
        try f.push()
        let report = try f.job().run(.newest)
        let check = try #require(report.sets.first)
        #expect(report.backendType == "crypt")
        #expect(check.status == .pass && check.method == "cryptcheck", "\(report.text)")
        #expect(check.findings.isEmpty)

        // Flip a byte of the encrypted object under the crypt remote.
        let object = f.largestObject
        let encoded = try f.rclone.run(["cryptdecode", "--reverse", "secret:", "set/\(object)"])
        let encryptedName = try #require(
            String(decoding: encoded.standardOutput, as: UTF8.self).split(separator: "\t").last
        )
        .trimmingCharacters(in: .whitespacesAndNewlines)
        try Self.flipByte("\(f.folder)/under/\(encryptedName)", at: 60)
        let bad = try #require(try f.job().run(.newest).sets.first)
        #expect(bad.status == .fail)
        #expect(Self.failing(bad) == ["wrong_hash \(object)"], "\(bad.text)")
    }

    // MARK: - WebDAV served by rclone (no hash)

    @Test(.needsTool("rclone", package: "rclone"))
    func webdavWithoutHashesIsUnverifiedAndDownloadReadsItBack() async throws {
        let served = FileManager.default.temporaryDirectory.appendingPathComponent("rd-dav-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: served) }
        let server = try WebDAVServer(folder: served)
        defer { server.stop() }
        let f = try await Self.fixture(
            remoteRoot: { _ in "dav:backups" },
            rcloneConfig: { _, _ in "[dav]\ntype = webdav\nurl = http://127.0.0.1:\(server.port)/\nvendor = other\n" })
        defer { try? FileManager.default.removeItem(atPath: f.folder) }
        try server.waitUntilServing(f.rclone)
        try f.push()

        let plain = try f.job().run(.newest)
        let check = try #require(plain.sets.first)
        #expect(plain.hashes.isEmpty)
        #expect(check.status == .unverified && check.method == "size", "\(plain.text)")
        #expect(OffsiteCheckJob.exitStatus([plain]) == .findings)
        #expect(try f.events().last?.status == .unverified)

        var download = f.job(1)
        download.download = true
        download.downloadBatchBytes = 4096  // several batches
        let read = try #require(try download.run(.newest).sets.first)
        #expect(read.status == .pass && read.method == "download", "\(read.text)")
        #expect(try f.events().last?.details["method"] == "download")

        let object = f.largestObject
        try Self.flipByte("\(served)/backups/\(object)")
        let still = try #require(try f.job().run(.newest).sets.first)
        #expect(still.status == .unverified, "\(still.text)")
        download.clock = FixedClock(Timestamp.date("2025-06-10T13:00:00Z")!)
        let bad = try #require(try download.run(.newest).sets.first)
        #expect(bad.status == .fail)
        #expect(Self.failing(bad) == ["wrong_hash \(object)"], "\(bad.text)")
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func unreachableRemoteIsExitThree() async throws {
        var f = try await Self.fixture(
            remoteRoot: { _ in "gone:backups" },
            rcloneConfig: { _, _ in "[gone]\ntype = webdav\nurl = http://127.0.0.1:9/\nvendor = other\n" })
        defer { try? FileManager.default.removeItem(atPath: f.folder) }
        f.config.offsite[0].encrypted = false
        var rclone = f.rclone
        rclone.extraFlags = ["--low-level-retries", "1", "--retries", "1", "--contimeout", "2s"]
        let reports = try OffsiteCheckJob.checkEveryRemote(
            config: f.config, selection: .newest, rclone: rclone, authenticator: nil, clock: FixedClock(Date()))
        #expect(reports.count == 1 && reports[0].error != nil, "\(reports.map(\.text))")
        #expect(OffsiteCheckJob.exitStatus(reports) == .runtime)
        #expect(try f.events().isEmpty)
    }

    // MARK: - Names

    @Test func conflictCopyNamesAreJudgedAgainstExpectedNames() {
        let expected: Set<String> = ["manifest.json", "SHA256SUMS", "restore_maia.sh", "code.tar.gz"]
        let cases: [(String, String?)] = [
            ("manifest (2).json", "manifest.json"),
            ("manifest-MaiasMacBook.json", "manifest.json"),
            ("SHA256SUMS (1)", "SHA256SUMS"),
            ("SHA256SUMS-DESKTOP-1A2B3C", "SHA256SUMS"),
            ("code (2).tar.gz", "code.tar.gz"),
            ("code.tar (3).gz", "code.tar.gz"),
            ("restore_maia.sync-conflict-20250609-120000-ABCDEF1.sh", "restore_maia.sh"),
            // The rules a local synced folder has too (one classifier): Dropbox and iCloud.
            ("manifest (Maia's conflicted copy 2025-06-10).json", "manifest.json"),
            ("SHA256SUMS (Case Conflict)", "SHA256SUMS"),
            ("manifest 2.json", "manifest.json"),
            ("code 3.tar.gz", "code.tar.gz"),
            ("manifest 1.json", nil),
            // Syncthing's device id part is upper case, as a local folder's rule says.
            ("restore_maia.sync-conflict-20250609-120000-abcdef1.sh", nil),
            ("manifest.json", nil),
            ("notes (2).txt", nil),
            ("manifest-.json", nil),
            ("manifest-123.json", nil),
        ]
        for (name, original) in cases {
            #expect(SyncConflicts.match(name, isExpected: expected.contains)?.original == original, "\(name)")
        }
        #expect(
            OffsiteCheckJob.quickXorHex("aCgDG9jwBgUAAAAABgAAAAAAAAA=") == "6828031bd8f00605000000000600000000000000")
        #expect(
            OffsiteCheckJob.quickXorHex("6828031BD8F00605000000000600000000000000")
                == "6828031bd8f00605000000000600000000000000")
    }
}

/// `rclone serve webdav <folder>` on 127.0.0.1 at a free port, stopped by ``stop()``.
final class WebDAVServer: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(folder: String) throws {
        port = try Self.freePort()
        process.executableURL = URL(fileURLWithPath: try requireTool("rclone", package: "rclone"))
        process.arguments = ["serve", "webdav", folder, "--addr", "127.0.0.1:\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Waits (up to 20 s) until rclone lists the server's root.
    func waitUntilServing(_ rclone: Rclone) throws {
        for _ in 0..<100 {
            if (try? rclone.run(["lsjson", "dav:"], timeout: 10))?.succeeded == true { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw RestoreDrillError.runtime("rclone serve webdav did not answer on port \(port)")
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// A port the kernel gave a socket bound to 127.0.0.1:0 (closed again).
    static func freePort() throws -> Int {
        #if os(Linux)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw RestoreDrillError.runtime("no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
