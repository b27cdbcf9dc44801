import DrillCore
import Foundation
import TestSupport
import Testing

/// The off-site test servers (TestSupport's `OffsiteServers`) against the real rclone: each remote
/// stores, lists, returns and hashes what rclone 1.60 is expected to, and a stopped or paused
/// server makes rclone fail within its bounded timeouts. The off-site tests of issue 16 build on
/// these facts.
@Suite(.serialized) struct OffsiteServersTests {
    /// rclone's flags that bound a call to a server that is gone: a few seconds, not minutes.
    static let bounded = ["--contimeout", "2s", "--timeout", "5s", "--retries", "1", "--low-level-retries", "1"]

    /// 300 000 bytes that are not all alike, with a marker at the start.
    static let payload: Data = {
        var generator = SeededGenerator(seed: 16)
        return Data("offsite".utf8) + Data((0..<299_993).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }()

    static func rclone(_ servers: OffsiteServers, _ arguments: [String]) throws -> ToolRun {
        try runTool(try requireTool("rclone", package: "rclone"), arguments, environment: servers.environment)
    }

    /// `rclone cat SOURCE`'s standard output, byte for byte (``runTool`` decodes output as text).
    static func cat(_ servers: OffsiteServers, _ source: String) throws -> (status: Int32, bytes: Data) {
        let output = servers.folder.file("cat-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try requireTool("rclone", package: "rclone"))
        process.arguments = ["cat"] + bounded + [source]
        process.environment = servers.environment
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        defer { try? FileManager.default.removeItem(atPath: output) }
        return (process.terminationStatus, try Data(contentsOf: URL(fileURLWithPath: output)))
    }

    /// MD5 of `file`, 32 lowercase hex characters, by OpenSSL (not rclone).
    static func md5(_ file: String) throws -> String {
        let run = try runTool(try requireTool("openssl", package: "openssl"), ["dgst", "-md5", "-r", file])
        return String(run.output.prefix(32))
    }

    /// `rclone backend features REMOTE:` as JSON.
    static func features(_ servers: OffsiteServers, _ remote: OffsiteServers.Remote) throws -> [String: Any] {
        let run = try rclone(servers, ["backend", "features", remote.rawValue + ":"])
        #expect(run.status == 0, "\(run.error)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
    }

    @Test(
        "copy up, lsjson, cat back, backend features",
        .needsOffsiteServers(.sftp, .webdav, .s3), arguments: OffsiteServers.Remote.allCases)
    func roundTrip(remote: OffsiteServers.Remote) throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start(remote.server)
        let local = servers.folder.file("payload.bin")
        try Self.payload.write(to: URL(fileURLWithPath: local))
        let root = servers.root(remote)

        let copy = try Self.rclone(servers, ["copyto", local, root + "/set-1/payload.bin"])
        #expect(copy.status == 0, "\(copy.error)")

        let list = try Self.rclone(servers, ["lsjson", "-R", "--hash", root])
        #expect(list.status == 0, "\(list.error)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]])
        let file = try #require(entries.first { ($0["Path"] as? String) == "set-1/payload.bin" }, "\(entries)")
        #expect(file["Size"] as? Int == Self.payload.count)
        #expect(file["IsDir"] as? Bool == false)
        let hashes = (file["Hashes"] as? [String: String]) ?? [:]
        let md5 = try Self.md5(local)
        switch remote {
        case .sftp:
            #expect(hashes["md5"] == md5)
            #expect(hashes["sha1"]?.count == 40)
        case .s3: #expect(hashes["md5"] == md5)
        case .webdav, .sftpcrypt: #expect(hashes.isEmpty)
        }

        let cat = try Self.cat(servers, root + "/set-1/payload.bin")
        #expect(cat.status == 0)
        #expect(cat.bytes == Self.payload)
        let back = servers.folder.file("back.bin")
        let download = try Self.rclone(servers, ["copyto", root + "/set-1/payload.bin", back])
        #expect(download.status == 0, "\(download.error)")
        #expect(FileManager.default.contents(atPath: back) == Self.payload)

        // The served folder is the remote: what rclone wrote is there, and a byte flipped there is
        // what rclone reads back.
        switch remote {
        case .sftp, .webdav:
            let served = try #require(servers.servedFolder(remote)) + "/set-1/payload.bin"
            var bytes = try #require(FileManager.default.contents(atPath: served))
            #expect(bytes == Self.payload)
            bytes[100] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: served))
            // `cat`, not `copyto`: over webdav (no modification times) copyto would skip a file of
            // the same size.
            let damaged = try Self.cat(servers, root + "/set-1/payload.bin")
            #expect(damaged.status == 0)
            #expect(damaged.bytes == bytes)
        case .sftpcrypt:
            let served = try #require(servers.servedFolder(remote))
            let stored = try #require(FileManager.default.enumerator(atPath: served)?.allObjects as? [String])
            #expect(stored.count == 3, "\(stored)")  // backups/, set-1/, the file, all with encrypted names
            #expect(!stored.contains { $0.contains("payload") || $0.contains("set-1") || $0.contains("backups") })
            let encrypted = try #require(
                stored.compactMap { FileManager.default.contents(atPath: "\(served)/\($0)") }
                    .first { $0.count > Self.payload.count })
            #expect(encrypted.range(of: Data("offsite".utf8)) == nil)
        case .s3:
            #expect(servers.servedFolder(remote) == nil)
        }

        let features = try Self.features(servers, remote)
        let offered = Set((features["Hashes"] as? [String]) ?? [])
        let flags = (features["Features"] as? [String: Any]) ?? [:]
        let isCrypt =
            (features["String"] as? String)?.hasPrefix("Encrypted drive") == true && flags["UnWrap"] as? Bool == true
        switch remote {
        case .sftp: #expect(offered.isSuperset(of: ["md5", "sha1"]), "\(offered)")
        case .s3: #expect(offered.contains("md5"), "\(offered)")
        case .webdav, .sftpcrypt: #expect(offered.isEmpty, "\(offered)")
        }
        #expect(isCrypt == (remote == .sftpcrypt), "\(features)")
    }

    @Test(
        "the config file is 0600, names 127.0.0.1 only and holds no clear crypt password",
        .needsOffsiteServers(.sftp, .webdav, .s3))
    func configFile() throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start([.sftp, .webdav, .s3])
        let mode = try FileManager.default.attributesOfItem(atPath: servers.configFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let text = try String(contentsOfFile: servers.configFile, encoding: .utf8)
        for remote in OffsiteServers.Remote.allCases { #expect(text.contains("[\(remote.rawValue)]")) }
        let hosts = text.split(separator: "\n").filter {
            $0.hasPrefix("host =") || $0.hasPrefix("url =") || $0.hasPrefix("endpoint =")
        }
        #expect(hosts.count == 3)
        #expect(hosts.allSatisfy { $0.contains("127.0.0.1") }, "\(hosts)")
        #expect(servers.environment["RCLONE_CONFIG"] == servers.configFile)
        #expect(servers.environment["AWS_CA_BUNDLE"] == nil)
        // rclone reads the crypt passwords, and it does not rewrite the file (no shell probe).
        let before = try Data(contentsOf: URL(fileURLWithPath: servers.configFile))
        let list = try Self.rclone(servers, ["lsjson", "--hash", servers.root(.sftpcrypt)])
        #expect(list.status == 0 || list.error.contains("directory not found"), "\(list.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: servers.configFile)) == before)
        #if os(Linux)
            // Every listening socket on the servers' ports is bound to 127.0.0.1 (0100007F).
            let table =
                try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
                + ((try? String(contentsOfFile: "/proc/net/tcp6", encoding: .utf8)) ?? "")
            for server in OffsiteServers.Server.allCases {
                let port = String(format: "%04X", try #require(servers.port(server)))
                // Fields: sl, local address, remote address, state (0A: LISTEN).
                let rows: [[Substring]] = table.split(separator: "\n").map { $0.split(separator: " ") }
                let listening: [String] = rows.filter { row in
                    row.count > 3 && row[1].hasSuffix(":" + port) && row[3] == "0A"
                }.map { String($0[1]) }
                #expect(!listening.isEmpty, "\(server) listens on \(port)")
                #expect(listening.allSatisfy { $0 == "0100007F:" + port }, "\(server): \(listening)")
            }
        #endif
    }

    @Test(
        "a stopped sftp server makes rclone fail within its timeouts; restarted, it serves the same files",
        .needsOffsiteServers(.sftp))
    func stoppedServer() throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start(.sftp)
        let root = servers.root(.sftp)
        let local = servers.folder.file("payload.bin")
        try Self.payload.write(to: URL(fileURLWithPath: local))
        #expect(try Self.rclone(servers, ["copyto", local, root + "/a.bin"]).status == 0)
        let port = servers.port(.sftp)

        servers.stopServer(.sftp)
        #expect(!servers.isRunning(.sftp))
        let started = Date()
        let failed = try Self.rclone(servers, ["lsjson"] + Self.bounded + [root])
        #expect(failed.status != 0)
        #expect(failed.error.contains("connection refused"), "\(failed.error)")
        #expect(Date().timeIntervalSince(started) < 30)

        try servers.restart(.sftp)
        #expect(servers.port(.sftp) == port)
        let cat = try Self.cat(servers, root + "/a.bin")
        #expect(cat.status == 0)
        #expect(cat.bytes == Self.payload)
    }

    @Test("stopping sftp mid-upload cuts the SSH session off too", .needsOffsiteServers(.sftp))
    func stoppedMidUpload() throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start(.sftp)
        let local = servers.folder.file("big.bin")
        try Data(count: 4_000_000).write(to: URL(fileURLWithPath: local))
        // At 200 KiB/s the upload takes about 20 s; it is cut off after 2 s.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try requireTool("rclone", package: "rclone"))
        process.arguments = ["copyto", "--bwlimit", "200k"] + Self.bounded + [local, servers.root(.sftp) + "/big.bin"]
        process.environment = servers.environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 2)
        #expect(process.isRunning)
        let stopped = Date()
        servers.stopServer(.sftp)
        while process.isRunning && Date().timeIntervalSince(stopped) < 15 { Thread.sleep(forTimeInterval: 0.1) }
        let finished = !process.isRunning
        if !finished { process.terminate() }
        process.waitUntilExit()
        #expect(finished, "rclone still uploading 15 s after the server stopped: its session survived")
        #expect(process.terminationStatus != 0)
        let served = try #require(servers.servedFolder(.sftp)) + "/big.bin"
        let size = (try? FileManager.default.attributesOfItem(atPath: served)[.size] as? Int) ?? 0
        #expect(size < 4_000_000)
    }

    @Test(
        "a paused s3 server makes rclone fail within its timeouts; resumed, it still holds the bucket",
        .needsOffsiteServers(.s3))
    func pausedServer() throws {
        let servers = try OffsiteServers()
        defer { servers.stop() }
        try servers.start(.s3)
        let local = servers.folder.file("payload.bin")
        try Self.payload.write(to: URL(fileURLWithPath: local))
        #expect(try Self.rclone(servers, ["copyto", local, servers.root(.s3) + "/a.bin"]).status == 0)

        // A frozen server accepts the connection and never answers: rclone 1.60 waits about twice
        // --timeout for each attempt, two attempts each for a HEAD and a listing (about 40 s with the
        // 5 s of `bounded`), so this test asks for 1 s.
        servers.pause(.s3)
        let started = Date()
        let quick = ["--contimeout", "1s", "--timeout", "1s", "--retries", "1", "--low-level-retries", "1"]
        let failed = try Self.rclone(servers, ["lsjson"] + quick + [servers.root(.s3)])
        #expect(failed.status != 0)
        #expect(failed.error.contains("timeout"), "\(failed.error)")
        #expect(Date().timeIntervalSince(started) < 20)
        servers.resume(.s3)
        let list = try Self.rclone(servers, ["lsjson", "--hash"] + Self.bounded + [servers.root(.s3)])
        #expect(list.status == 0, "\(list.error)")
        #expect(list.output.contains(try Self.md5(local)))

        // A restart of moto starts empty: the bucket is made again, without the object.
        try servers.restart(.s3)
        let empty = try Self.rclone(servers, ["lsjson"] + Self.bounded + [servers.root(.s3)])
        #expect(!empty.output.contains("a.bin"), "\(empty.output) \(empty.error)")
    }
}
