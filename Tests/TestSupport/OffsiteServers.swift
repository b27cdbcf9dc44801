import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Real off-site servers for the tests of issue 16, each started by the test on `127.0.0.1` on a
/// free port and reached only there, with an rclone configuration file naming them:
///
/// | remote      | server                                                   | root                       |
/// |-------------|----------------------------------------------------------|----------------------------|
/// | `sftp`      | `/usr/sbin/sshd -D -e` (internal-sftp), a test key       | `sftp:<temp>/sftp/plain`   |
/// | `sftpcrypt` | rclone `crypt` over `sftp:<temp>/sftp/crypt`             | `sftpcrypt:backups`        |
/// | `webdav`    | `rclone serve webdav <temp>/webdav`                      | `webdav:backups`           |
/// | `s3`        | moto's server mode (`$RESTORE_DRILL_MOTO`, see .ci/run)  | `s3:restore-drill/backups` |
///
/// ```swift
/// @Test(.needsOffsiteServers(.sftp))
/// func push() throws {
///     let servers = try OffsiteServers()
///     defer { servers.stop() }
///     try servers.start(.sftp)
///     let rclone = Rclone(environment: servers.environment)
///     // … RcloneRemote(rclone: rclone, root: servers.root(.sftp)) …
/// }
/// ```
///
/// rclone 1.60 as Debian 12 packages it offers MD5 and SHA-1 on `sftp` (it runs `md5sum` and
/// `sha1sum` over SSH), MD5 on `s3`, none on `rclone serve webdav` and none on `crypt`.
///
/// Nothing is started by `init`; ``start(_:)`` starts one server (a test may need only one).
/// ``stopServer(_:)`` kills one server and every process it forked (an SSH session in progress
/// too), so a fault test can cut a push off; ``restart(_:)`` starts it again on the same port.
/// moto keeps its buckets in memory: after ``stopServer(_:)`` or ``restart(_:)`` of `s3` the
/// bucket is made again, empty; ``pause(_:)``/``resume(_:)`` (SIGSTOP/SIGCONT) cut a server off
/// and keep what it holds. ``stop()`` kills every server and removes the temporary folder; so does
/// `deinit`. A test process killed outright can leave servers behind (they listen on 127.0.0.1
/// only and serve its removed temporary folder).
///
/// Thread-safe: every method takes one lock, so tests running in parallel may share an instance.
public final class OffsiteServers: @unchecked Sendable {
    /// A server process.
    public enum Server: String, CaseIterable, Sendable {
        /// OpenSSH's `sshd` with the `internal-sftp` subsystem; the remotes `sftp` and `sftpcrypt`.
        case sftp
        /// `rclone serve webdav`; the remote `webdav`.
        case webdav
        /// moto's S3 API in server mode; the remote `s3`.
        case s3
    }

    /// A remote of the generated rclone configuration file.
    public enum Remote: String, CaseIterable, Sendable {
        /// rclone's `sftp` backend over the ``Server/sftp`` server.
        case sftp
        /// rclone's `webdav` backend (`vendor = other`) over the ``Server/webdav`` server.
        case webdav
        /// rclone's `s3` backend (`provider = Other`, path style, region `us-east-1`) over moto.
        case s3
        /// rclone's `crypt` backend over `sftp:<temp>/sftp/crypt` (file names and contents encrypted).
        case sftpcrypt

        /// The server this remote needs.
        public var server: Server {
            switch self {
            case .sftp, .sftpcrypt: .sftp
            case .webdav: .webdav
            case .s3: .s3
            }
        }
    }

    /// The thrown error when a server does not start or rclone cannot prepare it; the text names
    /// the server and ends with the last lines of its log.
    public struct StartFailed: Error, CustomStringConvertible {
        /// What failed, with the server's log tail.
        public var description: String
    }

    /// The bucket the `s3` root lives in; ``start(_:)`` makes it with `rclone mkdir`.
    public static let bucket = "restore-drill"
    /// Seconds ``start(_:)`` waits for a server to answer before it fails.
    public static let startTimeout: Double = 20

    /// moto's `moto_server` executable: `$RESTORE_DRILL_MOTO`, else `/opt/restore-drill-venv/bin/moto_server`
    /// (the virtual environment `.ci/run` makes).
    public static var motoServer: String {
        let value = ProcessInfo.processInfo.environment["RESTORE_DRILL_MOTO"] ?? ""
        return value.isEmpty ? "/opt/restore-drill-venv/bin/moto_server" : value
    }

    /// The executables a server needs, with what installs each (for the missing-tool message).
    public static func tools(for server: Server) -> [(name: String, installedBy: String)] {
        let rclone = (name: "rclone", installedBy: "Debian package rclone, in ci/setup")
        switch server {
        case .sftp:
            return [
                rclone, (name: "sshd", installedBy: "Debian package openssh-server, in ci/setup"),
                (name: "ssh-keygen", installedBy: "Debian package openssh-client, in ci/setup"),
            ]
        case .webdav: return [rclone]
        case .s3: return [rclone, (name: motoServer, installedBy: "moto[server] 5.2.1 in the venv .ci/run makes")]
        }
    }

    /// The temporary folder holding everything: served folders, keys, configurations, logs.
    public let folder: TempFolder
    /// The generated rclone configuration file (mode 0600); it names only servers started so far.
    public let configFile: String
    private let rclone: String
    private let cryptPasswords = (UUID().uuidString, UUID().uuidString)
    private let lock = NSLock()
    private var ports: [Server: Int] = [:]
    private var processes: [Server: Process] = [:]
    private var obscured: (String, String)?
    private var stopped = false

    /// Makes the temporary folder (`<temp>/<label>-<8 hex>`); starts nothing.
    /// - Parameter label: the start of the temporary folder's name.
    /// - Throws: ``MissingTool`` when rclone is not installed; what ``TempFolder`` throws.
    public init(label: String = "rd-offsite") throws {
        rclone = try requireTool("rclone", package: "rclone")
        folder = try TempFolder(label)
        configFile = folder.file("rclone.conf")
        for sub in ["sftp/plain", "sftp/crypt", "sshd", "webdav", "logs"] {
            try FileManager.default.createDirectory(
                atPath: folder.file(sub), withIntermediateDirectories: true)
        }
        try writeConfig()
    }

    deinit { stop() }

    /// The environment to run rclone with: this process's, without `AWS_CA_BUNDLE` (rclone 1.60
    /// fails every s3 call with `LoadCustomCABundleError` when it is set) and without any `RCLONE_*`
    /// variable, plus `RCLONE_CONFIG=`` configFile``.
    public var environment: [String: String] {
        var result = ProcessInfo.processInfo.environment.filter { key, _ in
            key != "AWS_CA_BUNDLE" && !key.hasPrefix("RCLONE_")
        }
        result["RCLONE_CONFIG"] = configFile
        return result
    }

    /// The remote root a test pushes to, as rclone takes it: `sftp:/abs/temp/sftp/plain`,
    /// `sftpcrypt:backups`, `webdav:backups`, `s3:restore-drill/backups`. Empty until pushed to.
    public func root(_ remote: Remote) -> String {
        switch remote {
        case .sftp: "sftp:" + folder.file("sftp/plain")
        case .sftpcrypt: "sftpcrypt:backups"
        case .webdav: "webdav:backups"
        case .s3: "s3:\(Self.bucket)/backups"
        }
    }

    /// The folder on this disk that holds what ``root(_:)`` names, so a test can damage the
    /// "remote" directly: for `sftp` and `webdav` a file `<root>/x` is `<folder>/x`; for
    /// `sftpcrypt` it is the crypt's underlying folder (encrypted names and contents, `backups`
    /// included); `s3` has none (moto keeps objects in memory): nil.
    public func servedFolder(_ remote: Remote) -> String? {
        switch remote {
        case .sftp: folder.file("sftp/plain")
        case .sftpcrypt: folder.file("sftp/crypt")
        case .webdav: folder.file("webdav/backups")
        case .s3: nil
        }
    }

    /// The TCP port on 127.0.0.1 of `server`; nil before its first ``start(_:)``.
    public func port(_ server: Server) -> Int? { locked { ports[server] } }

    /// Whether `server`'s process is running (a paused one counts).
    public func isRunning(_ server: Server) -> Bool { locked { processes[server]?.isRunning ?? false } }

    /// The server's standard output and error so far (for a failing test's message).
    public func log(_ server: Server) -> String {
        String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: logFile(server)))) ?? Data(), as: UTF8.self)
    }

    /// Starts `server` (nothing when it runs already) on a free port of 127.0.0.1, or on its
    /// earlier port, waits until it answers its protocol (at most ``startTimeout`` seconds), and
    /// rewrites ``configFile`` with its remotes. For `s3`, makes the bucket ``bucket``.
    /// - Throws: ``MissingTool`` when a tool of ``tools(for:)`` is missing; ``StartFailed`` when
    ///   the server exits or does not answer in time (three free ports are tried), or after ``stop()``.
    public func start(_ server: Server) throws {
        try locked {
            guard !stopped else { throw StartFailed(description: "\(server): the servers were stopped") }
            if processes[server]?.isRunning == true { return }
            var paths: [String] = []
            for tool in Self.tools(for: server) {
                guard let path = RequiredTool.find(tool.name) else {
                    throw MissingTool(
                        name: tool.name,
                        description: "\(tool.name) is not installed (\(tool.installedBy))"
                            + (RequiredTool.isCI ? ": CI is set, so a missing tool fails the test" : ""))
                }
                paths.append(path)
            }
            if server == .sftp { try prepareSSH(sshKeygen: paths[2]) }
            let earlier = ports[server]
            var failure = ""
            for attempt in 0..<3 {
                let port = try earlier ?? Self.freePort()
                if attempt > 0 && earlier != nil { Thread.sleep(forTimeInterval: 0.5) }
                let process = try launch(
                    server, executable: server == .sftp ? paths[1] : paths[paths.count - 1], port: port)
                if let problem = waitUntilAnswering(server, process: process, port: port) {
                    Self.kill(process)
                    failure = problem
                    continue
                }
                processes[server] = process
                ports[server] = port
                try writeConfig()
                if server == .s3 { try makeBucket() }
                return
            }
            throw StartFailed(description: "\(server) did not start: \(failure)\n\(tail(log(server)))")
        }
    }

    /// Starts every server of `servers` (all three by default), one after the other.
    /// - Throws: what ``start(_:)`` throws for the first that fails.
    public func start(_ servers: [Server] = Server.allCases) throws {
        for server in servers { try start(server) }
    }

    /// Kills `server` and every process it forked (SSH sessions included: SIGSTOP, then SIGKILL)
    /// and waits for it; its port stays reserved for ``restart(_:)``. Nothing when it is not running.
    public func stopServer(_ server: Server) {
        locked {
            if let process = processes.removeValue(forKey: server) { Self.kill(process) }
        }
    }

    /// ``stopServer(_:)`` then ``start(_:)`` on the same port (for `s3`: an empty bucket again).
    /// - Throws: what ``start(_:)`` throws.
    public func restart(_ server: Server) throws {
        stopServer(server)
        try start(server)
    }

    /// Freezes `server` and its children (SIGSTOP): connections are accepted by the kernel but never
    /// answered, so rclone fails after its `--contimeout`/`--timeout`; what it holds is kept.
    public func pause(_ server: Server) { signalTree(server, SIGSTOP) }

    /// Undoes ``pause(_:)`` (SIGCONT).
    public func resume(_ server: Server) { signalTree(server, SIGCONT) }

    /// Kills every server (as ``stopServer(_:)``) and removes ``folder``; afterwards ``start(_:)``
    /// fails. Called by `deinit`; a second call does nothing.
    public func stop() {
        locked {
            for process in processes.values { Self.kill(process) }
            processes = [:]
            if !stopped { folder.remove() }
            stopped = true
        }
    }

    // MARK: - Servers

    private func logFile(_ server: Server) -> String { folder.file("logs/\(server.rawValue).log") }

    private func launch(_ server: Server, executable: String, port: Int) throws -> Process {
        let process = Process()
        // Through `sh`, which waits for the server: sshd closes every inherited descriptor at start,
        // and Foundation's Process (Linux) takes that for the child's exit and blocks its monitor
        // thread in waitpid, so no other Process of the test run is ever reaped. `; exit $?` keeps
        // sh from exec-ing the command.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let wrapper = ["-c", "\"$@\"; exit $?", "offsite-\(server.rawValue)", executable]
        switch server {
        case .sftp:
            process.arguments = wrapper + ["-D", "-e", "-f", folder.file("sshd/sshd_config"), "-p", String(port)]
        case .webdav:
            process.arguments = wrapper + ["serve", "webdav", folder.file("webdav"), "--addr", "127.0.0.1:\(port)"]
            process.environment = environment
        case .s3:
            process.arguments = wrapper + ["-H", "127.0.0.1", "-p", String(port)]
            var env = ProcessInfo.processInfo.environment
            env["PYTHONUNBUFFERED"] = "1"
            process.environment = env
        }
        let path = logFile(server)
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        log.seekToEndOfFile()
        log.write(Data("--- \(Date()) starting on 127.0.0.1:\(port)\n".utf8))
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        defer { try? log.close() }
        try process.run()
        return process
    }

    /// Nil once the server answers on `port` with its protocol (an SSH banner, an HTTP status line),
    /// else why not: it exited, or ``startTimeout`` passed.
    private func waitUntilAnswering(_ server: Server, process: Process, port: Int) -> String? {
        let deadline = Date().addingTimeInterval(Self.startTimeout)
        let (request, answer) =
            server == .sftp
            ? ("", "SSH-") : ("GET / HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n", "HTTP/")
        while Date() < deadline {
            guard process.isRunning else { return "it exited with status \(process.terminationStatus)" }
            if Self.probe(port: port, send: request, expect: answer) {
                // Another process may hold the port: ours must still be running.
                Thread.sleep(forTimeInterval: 0.05)
                if process.isRunning { return nil }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return "it did not answer on 127.0.0.1:\(port) within \(Int(Self.startTimeout)) s"
    }

    private func prepareSSH(sshKeygen: String) throws {
        #if os(Linux)
            // sshd's privilege separation needs this empty root-owned folder (Debian makes it at boot).
            if geteuid() == 0 {
                try FileManager.default.createDirectory(
                    atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            }
        #endif
        let ssh = folder.file("sshd")
        for key in ["host_ed25519_key", "user_ed25519_key"]
        where !FileManager.default.fileExists(atPath: "\(ssh)/\(key)") {
            let run = try runTool(sshKeygen, ["-q", "-t", "ed25519", "-N", "", "-C", key, "-f", "\(ssh)/\(key)"])
            guard run.status == 0 else { throw StartFailed(description: "ssh-keygen: \(run.status) \(run.error)") }
        }
        try FileManager.default.copyItem(atPath: "\(ssh)/user_ed25519_key.pub", toPath: "\(ssh)/authorized_keys.new")
        _ = try? FileManager.default.removeItem(atPath: "\(ssh)/authorized_keys")
        try FileManager.default.moveItem(atPath: "\(ssh)/authorized_keys.new", toPath: "\(ssh)/authorized_keys")
        let config = """
            # Generated by OffsiteServers (tests): 127.0.0.1 only, key login only.
            ListenAddress 127.0.0.1
            HostKey \(ssh)/host_ed25519_key
            PidFile \(ssh)/sshd.pid
            AuthorizedKeysFile \(ssh)/authorized_keys
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            AllowTcpForwarding no
            X11Forwarding no
            MaxStartups 64
            MaxSessions 64
            Subsystem sftp internal-sftp

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(ssh)/sshd_config"))
    }

    private func makeBucket() throws {
        let run = try runTool(rclone, ["mkdir", "s3:\(Self.bucket)"], environment: environment)
        guard run.status == 0 else {
            throw StartFailed(description: "rclone mkdir s3:\(Self.bucket): \(run.status) \(tail(run.error))")
        }
    }

    // MARK: - rclone configuration

    /// The clear text obscured as rclone's config file wants it, read by `rclone obscure -` from
    /// standard input (never a command line).
    private func obscure(_ clear: String) throws -> String {
        let run = try runTool(rclone, ["obscure", "-"], standardInput: Data(clear.utf8), environment: environment)
        let value = run.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard run.status == 0, !value.isEmpty else {
            throw StartFailed(description: "rclone obscure: \(run.status) \(tail(run.error))")
        }
        return value
    }

    /// Writes ``configFile`` (0600, replaced by a rename) with the remotes of the servers that have
    /// a port. `shell_type` and the hash commands are set so rclone never probes the shell and
    /// writes what it found back into the file.
    private func writeConfig() throws {
        var text = "# Generated by OffsiteServers (tests).\n"
        let user = Self.userName()
        if let port = ports[.sftp] {
            let ssh = folder.file("sshd")
            let hostKey = try String(contentsOfFile: "\(ssh)/host_ed25519_key.pub", encoding: .utf8)
                .split(separator: " ").prefix(2).joined(separator: " ")
            try Data("[127.0.0.1]:\(port) \(hostKey)\n".utf8).write(
                to: URL(fileURLWithPath: "\(ssh)/known_hosts"))
            if obscured == nil {
                let first = try obscure(cryptPasswords.0)
                obscured = (first, try obscure(cryptPasswords.1))
            }
            text += """

                [sftp]
                type = sftp
                host = 127.0.0.1
                port = \(port)
                user = \(user)
                key_file = \(ssh)/user_ed25519_key
                known_hosts_file = \(ssh)/known_hosts
                shell_type = unix
                md5sum_command = md5sum
                sha1sum_command = sha1sum

                [sftpcrypt]
                type = crypt
                remote = sftp:\(folder.file("sftp/crypt"))
                password = \(obscured?.0 ?? "")
                password2 = \(obscured?.1 ?? "")

                """
        }
        if let port = ports[.webdav] {
            text += "\n[webdav]\ntype = webdav\nurl = http://127.0.0.1:\(port)/\nvendor = other\n"
        }
        if let port = ports[.s3] {
            text += """

                [s3]
                type = s3
                provider = Other
                endpoint = http://127.0.0.1:\(port)
                access_key_id = restore-drill-test
                secret_access_key = restore-drill-test
                region = us-east-1
                force_path_style = true

                """
        }
        let temporary = configFile + ".new"
        _ = try? FileManager.default.removeItem(atPath: temporary)
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw StartFailed(description: "cannot write \(temporary)") }
        _ = rename(temporary, configFile)
    }

    // MARK: - Processes and sockets

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func signalTree(_ server: Server, _ signal: Int32) {
        locked {
            guard let process = processes[server], process.isRunning else { return }
            for pid in Self.tree(of: process.processIdentifier) { _ = posixKill(pid, signal) }
        }
    }

    /// Stops the process and its descendants (SIGSTOP until no new one appears, so none forks
    /// away or is re-parented unseen), SIGKILLs them all, and waits for the process.
    private static func kill(_ process: Process) {
        guard process.isRunning else { return }
        var stoppedPids: Set<Int32> = []
        for _ in 0..<10 {
            let pids = tree(of: process.processIdentifier).subtracting(stoppedPids)
            if pids.isEmpty { break }
            for pid in pids { _ = posixKill(pid, SIGSTOP) }
            stoppedPids.formUnion(pids)
        }
        for pid in stoppedPids { _ = posixKill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// `root` and every process descending from it.
    private static func tree(of root: Int32) -> Set<Int32> {
        var children: [Int32: [Int32]] = [:]
        for (pid, parent) in parentTable() { children[parent, default: []].append(pid) }
        var result: Set<Int32> = [root]
        var queue = [root]
        while let pid = queue.popLast() {
            for child in children[pid] ?? [] where result.insert(child).inserted { queue.append(child) }
        }
        return result
    }

    /// Every process's (pid, parent pid): `/proc/<pid>/stat` on Linux, `ps` elsewhere.
    private static func parentTable() -> [(Int32, Int32)] {
        #if os(Linux)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return names.compactMap { name -> (Int32, Int32)? in
                guard let pid = Int32(name),
                    let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return nil }
                // After "pid (comm)": state, then the parent pid.
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 1, let parent = Int32(fields[1]) else { return nil }
                return (pid, parent)
            }
        #else
            let run = try? runTool("/bin/ps", ["-A", "-o", "pid=", "-o", "ppid="])
            return (run?.output ?? "").split(separator: "\n").compactMap { line -> (Int32, Int32)? in
                let fields = line.split(separator: " ")
                guard fields.count == 2, let pid = Int32(fields[0]), let parent = Int32(fields[1]) else { return nil }
                return (pid, parent)
            }
        #endif
    }

    /// A TCP port of 127.0.0.1 that was free a moment ago (bound to port 0, read, closed).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, socketStreamType, 0)
        guard fd >= 0 else { throw StartFailed(description: "socket: errno \(errno)") }
        defer { _ = close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw StartFailed(description: "cannot bind a port of 127.0.0.1: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether 127.0.0.1:`port` accepts a connection and, after `send`, answers with `expect`
    /// within a second.
    private static func probe(port: Int, send request: String, expect: String) -> Bool {
        let fd = socket(AF_INET, socketStreamType, 0)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return false }
        if !request.isEmpty {
            let bytes = Array(request.utf8)
            guard bytes.withUnsafeBytes({ posixSend(fd, $0.baseAddress, $0.count) }) == bytes.count
            else { return false }
        }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 && String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix(expect)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        #if canImport(Darwin)
            address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        #endif
        return address
    }

    private static var socketStreamType: Int32 {
        #if os(Linux)
            Int32(SOCK_STREAM.rawValue)
        #else
            SOCK_STREAM
        #endif
    }

    /// The name of the effective user (the SSH login; `root` under CI).
    private static func userName() -> String {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }

    private func tail(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: true).suffix(8).joined(separator: "\n")
    }
}

// The C functions whose names the class's own methods shadow.
private func posixKill(_ pid: Int32, _ signal: Int32) -> Int32 { kill(pid, signal) }
private func posixSend(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    send(fd, bytes, count, 0)
}

extension Trait where Self == ConditionTrait {
    /// Runs the test where every tool the servers need is installed (``OffsiteServers/tools(for:)``:
    /// rclone, sshd and ssh-keygen, moto's `moto_server`) or `CI` is set (then ``OffsiteServers/start(_:)``
    /// fails it); elsewhere skips it, naming what is missing.
    /// - Parameter servers: the servers the test starts.
    public static func needsOffsiteServers(_ servers: OffsiteServers.Server...) -> Self {
        let missing = servers.flatMap { OffsiteServers.tools(for: $0) }
            .filter { RequiredTool.find($0.name) == nil }
            .map { "\($0.name) is not installed (\($0.installedBy))" }
        let unique = missing.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return .enabled(
            if: RequiredTool.isCI || unique.isEmpty,
            Comment(rawValue: unique.joined(separator: "; ") + "; skipped (with CI set it fails)"))
    }
}
