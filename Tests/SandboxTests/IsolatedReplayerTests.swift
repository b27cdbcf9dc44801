import DrillCore
import Foundation
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A backup-set folder in a destination, a sandbox, and canaries in the real /tmp, the real
/// home, the destination and the sandboxes folder, for one replay.
struct ReplayFixture {
    let root: TemporaryFolder
    let destination: String
    let set: String
    let sandbox: RestoreSandbox
    let canaries: Canaries
    /// Put in the replay's environment, so every process it started can be found in /proc.
    let token = "rdtest-" + UUID().uuidString
    let replayer: IsolatedReplayer
    static let realTmp = "/tmp"
    static let realHome = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()

    init(replayer: IsolatedReplayer = IsolatedReplayer(), setMode: mode_t = 0o755) throws {
        self.replayer = replayer
        root = try TemporaryFolder("replay")
        chmod(root.path, 0o755)
        destination = root.file("destination")
        set = (destination as NSString).appendingPathComponent("full_20250101_000000")
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: true)
        chmod(destination, 0o755)
        try Data("payload from the set\n".utf8).write(
            to: URL(fileURLWithPath: (set as NSString).appendingPathComponent("data.txt")))
        chmod((set as NSString).appendingPathComponent("data.txt"), 0o644)
        chmod(set, setMode)
        let id = DrillID(date: Date(), sequence: Int.random(in: 2...999_999))
        sandbox = try RestoreSandbox.create(in: AbsolutePath(validating: root.file("sandboxes")), drillID: id)
        canaries = try Canaries.plant(
            in: [Self.realTmp, Self.realHome, destination].map { try AbsolutePath(validating: $0) }
                + [sandbox.sandboxesFolder],
            owner: replayer.replayIdentity)
    }

    /// The canary folder and loose canary file planted directly in `folder`.
    func canary(in folder: String) -> (folder: String, file: String) {
        let top = canaries.records.filter { $0.path.parentDirectory.pathString == folder }
        return (top.first { $0.isFolder }!.path.pathString, top.first { !$0.isFolder }!.path.pathString)
    }

    /// Writes `body` as the set's restore script and replays it.
    func replay(
        _ body: String, isolation: RestoreDrillConfig.IsolationMode, timeout: Double = 5, outputCap: Int = 256 << 10,
        limits: RestoreDrillConfig.ResourceLimits = ReplayFixture.smallLimits
    ) async throws -> ReplayOutcome {
        let script = (set as NSString).appendingPathComponent("restore_test.sh")
        let mode = currentMode(set)
        chmod(set, 0o755)
        try Data(("#!/bin/sh\n" + body + "\n").utf8).write(to: URL(fileURLWithPath: script))
        chmod(script, 0o644)
        chmod(set, mode)
        let request = ReplayRequest(
            script: try AbsolutePath(validating: script),
            arguments: ["--home", sandbox.home.pathString, "--root", sandbox.work.pathString, "--yes"],
            setFolder: try AbsolutePath(validating: set),
            sandboxFolder: sandbox.path, environment: ["RESTORE_DRILL_TEST_TOKEN": token],
            workingDirectory: sandbox.work,
            limits: limits, timeout: timeout, outputCap: outputCap, isolation: isolation)
        return try await replayer.replay(request)
    }

    static var smallLimits: RestoreDrillConfig.ResourceLimits {
        var limits = RestoreDrillConfig.ResourceLimits()
        limits.cpu = 5
        limits.memory = 1 << 30
        limits.fileSize = 8 << 20
        limits.openFiles = 64
        limits.processes = 32
        return limits
    }

    /// Processes still alive whose environment holds this fixture's token.
    func survivors() -> [Int32] {
        #if os(Linux)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return names.compactMap(Int32.init).filter { pid in
                guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
                return environ.range(of: Data(token.utf8)) != nil && processIsAlive(pid)
            }
        #else
            return []
        #endif
    }

    func cleanUp() {
        try? canaries.remove()
        try? sandbox.remove()
        if let path = try? AbsolutePath(validating: root.path) { RestoreSandbox.makeWritable(path) }
        root.remove()
    }
}

func currentMode(_ path: String) -> mode_t {
    var info = stat()
    return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0o755
}

/// True when bubblewrap is installed and works here (tests of `.bubblewrap` need it on Linux CI).
let bubblewrapAvailable: Bool = {
    #if os(Linux)
        return SubprocessRunner.which("bwrap", path: nil) != nil
    #else
        return false
    #endif
}()

/// True when a replay in `mode` cannot write the user's files: under bubblewrap, or as the
/// unprivileged uid when the tests run as root (as CI does).
func contained(_ mode: RestoreDrillConfig.IsolationMode) -> Bool {
    mode == .bubblewrap || geteuid() == 0
}

/// The isolation modes to test: both where bubblewrap exists, else `none` only.
let testedModes: [RestoreDrillConfig.IsolationMode] = bubblewrapAvailable ? [.bubblewrap, .none] : [.none]

/// A TCP listener on 127.0.0.1 that tells whether anything connected.
struct LoopbackListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        #if os(Linux)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else { throw RestoreDrillError.runtime("cannot listen") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    /// True when a connection is waiting to be accepted.
    func receivedConnection() -> Bool {
        let client = accept(fd, nil, nil)
        if client >= 0 {
            #if canImport(Glibc)
                _ = Glibc.close(client)
            #else
                _ = Darwin.close(client)
            #endif
            return true
        }
        return false
    }

    func stop() {
        #if canImport(Glibc)
            _ = Glibc.close(fd)
        #else
            _ = Darwin.close(fd)
        #endif
    }
}

@Suite("IsolatedReplayer", .serialized)
struct IsolatedReplayerTests {
    @Test(arguments: testedModes)
    func benignScriptRestoresIntoTheSandboxWithAScrubbedEnvironment(mode: RestoreDrillConfig.IsolationMode) async throws
    {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let outcome = try await fixture.replay(
            """
            set -e
            cat "$(dirname "$0")/data.txt" > "$4/restored.txt"
            echo home > "$2/home.txt"
            env > "$4/env.txt"
            echo done
            """, isolation: mode)
        #expect(outcome.process.exitCode == 0, "\(String(decoding: outcome.process.tail, as: UTF8.self))")
        #expect(outcome.isolation == (mode == .bubblewrap ? .bubblewrap : .none))
        // As root: a uid of this replayer's own, from the documented range; else the tool's own.
        #expect(outcome.uid == fixture.replayer.replayIdentity?.uid)
        if geteuid() == 0 {
            let uid = try #require(outcome.uid)
            #expect((ReplayUIDLease.first...ReplayUIDLease.last).contains(uid))
        } else {
            #expect(outcome.uid == nil)
        }
        #expect(String(decoding: outcome.process.standardOutput, as: UTF8.self) == "done\n")
        let restored = try String(
            contentsOfFile: (fixture.sandbox.work.pathString as NSString).appendingPathComponent("restored.txt"),
            encoding: .utf8)
        #expect(restored == "payload from the set\n")
        #expect(
            FileManager.default.fileExists(
                atPath: (fixture.sandbox.home.pathString as NSString).appendingPathComponent("home.txt")))
        let env = try String(
            contentsOfFile: (fixture.sandbox.work.pathString as NSString).appendingPathComponent("env.txt"),
            encoding: .utf8)
        var variables: [String: String] = [:]
        for line in env.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { variables[parts[0]] = parts[1] }
        }
        #expect(variables["PATH"] == "/usr/local/bin:/usr/bin:/bin")
        #expect(variables["HOME"] == fixture.sandbox.home.pathString)
        #expect(variables["TMPDIR"] == (fixture.sandbox.path.pathString as NSString).appendingPathComponent("tmp"))
        #expect(variables["LC_ALL"] == "C")
        #expect(variables["RESTORE_DRILL_TEST_TOKEN"] == fixture.token)
        let allowed: Set<String> = [
            "PATH", "HOME", "TMPDIR", "LC_ALL", "RESTORE_DRILL_TEST_TOKEN", IsolatedReplayer.markVariable, "PWD",
            "OLDPWD", "SHLVL", "_",
        ]
        #expect(Set(variables.keys).subtracting(allowed).isEmpty, "leaked: \(Set(variables.keys).subtracting(allowed))")
        #expect(fixture.canaries.verify() == [])
    }

    /// A set reached through a symbolic link is replayed, in every isolation mode.
    @Test(arguments: testedModes)
    func aSetReachedThroughALinkIsReplayed(mode: RestoreDrillConfig.IsolationMode) async throws {
        try await replayThroughALink(try ReplayFixture(), mode: mode)
    }

    /// As root, a set the replay's uid cannot read, reached through a link, is judged where it
    /// really is (the replayer resolves links on purpose) and replayed from a read-only copy.
    @Test(.enabled(if: geteuid() == 0, "needs root: the set is unreadable only to the unprivileged uid"))
    func anUnreadableSetReachedThroughALinkIsReplayedFromACopy() async throws {
        let notes = try await replayThroughALink(try ReplayFixture(setMode: 0o700), mode: testedModes[0])
        #expect(notes.contains { $0.contains("read-only copy") })
    }

    /// Replays a script of `fixture`'s set through a link to the set folder.
    /// - Returns: the replay's notes.
    @discardableResult
    func replayThroughALink(_ fixture: ReplayFixture, mode: RestoreDrillConfig.IsolationMode) async throws -> [String] {
        defer { fixture.cleanUp() }
        let link = try AbsolutePath(validating: fixture.root.file("set-link"))
        try FileManager.default.createSymbolicLink(atPath: link.pathString, withDestinationPath: fixture.set)
        let script = try AbsolutePath(validating: fixture.set).appending(component: "restore_link.sh")
        try Data("#!/bin/sh\ncat \"$(dirname \"$0\")/data.txt\" > \"$4/restored.txt\" || exit 3\n".utf8)
            .write(to: URL(fileURLWithPath: script.pathString))
        chmod(script.pathString, 0o644)
        let request = ReplayRequest(
            script: link.appending(component: "restore_link.sh"),
            arguments: ["--home", fixture.sandbox.home.pathString, "--root", fixture.sandbox.work.pathString, "--yes"],
            setFolder: link, sandboxFolder: fixture.sandbox.path, workingDirectory: fixture.sandbox.work,
            limits: ReplayFixture.smallLimits, timeout: 5, isolation: mode)
        let outcome = try await fixture.replayer.replay(request)
        #expect(outcome.process.exitCode == 0, "\(String(decoding: outcome.process.tail, as: UTF8.self))")
        let restored = try String(
            contentsOfFile: fixture.sandbox.work.appending(component: "restored.txt").pathString, encoding: .utf8)
        #expect(restored == "payload from the set\n")
        #expect(fixture.canaries.verify() == [])
        return outcome.notes
    }

    @Test(arguments: testedModes)
    func writingDotDotEscapeFails(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        // The sandboxes folder lives under /tmp here: under bubblewrap that is the private /tmp,
        // which must be read-only as well.
        let outcome = try await fixture.replay(
            "set -e\ncd \"$4\"\necho escaped > ../../escape\necho escaped > /tmp/escape\n", isolation: mode)
        #expect(outcome.process.seconds < 5)
        let escape = (fixture.sandbox.sandboxesFolder.pathString as NSString).appendingPathComponent("escape")
        if contained(mode) {
            #expect(outcome.process.exitCode != 0 && outcome.process.exitCode != nil)
            #expect(!FileManager.default.fileExists(atPath: escape))
        }
        #expect(fixture.canaries.verify() == [])
    }

    @Test(arguments: testedModes)
    func writingTheRealHomeFails(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let home = fixture.canary(in: ReplayFixture.realHome)
        let outcome = try await fixture.replay(
            "set -e\necho escaped >> '\(home.file)'\necho escaped > '\(home.folder)/escape'\n", isolation: mode)
        if contained(mode) {
            #expect(outcome.process.exitCode != 0)
            #expect(fixture.canaries.verify() == [])
        } else {
            // Without bubblewrap and without root, the replay runs as the user: the canaries catch it.
            #expect(fixture.canaries.verify().contains { $0.hasSuffix(home.file) })
        }
    }

    /// Under bubblewrap, the real /tmp and the destination are out of reach. Without it, the
    /// canaries (owned by the replay's uid, so writable by it) must catch the writes: this is what
    /// makes `restore.script` fail for a script that escapes with `isolation: none`.
    @Test(arguments: testedModes)
    func writingTheRealTmpAndTheDestinationIsCaughtOrPrevented(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let tmp = fixture.canary(in: ReplayFixture.realTmp)
        let destination = fixture.canary(in: fixture.destination)
        let outcome = try await fixture.replay(
            """
            failed=0
            echo escaped > '\(tmp.folder)/escape' || failed=1
            echo escaped >> '\(tmp.file)' || failed=1
            echo escaped >> '\(destination.file)' || failed=1
            rm -f '\(destination.folder)/canary-1' || failed=1
            echo escaped > '\(fixture.set)/data.txt' || failed=1
            exit $failed
            """, isolation: mode)
        let changes = fixture.canaries.verify()
        let setData = try String(
            contentsOfFile: (fixture.set as NSString).appendingPathComponent("data.txt"), encoding: .utf8)
        #expect(setData == "payload from the set\n", "the set was written")
        if mode == .bubblewrap {
            #expect(outcome.process.exitCode == 1)
            #expect(changes == [])
        } else {
            #expect(changes.contains("new file in canary folder: \(tmp.folder)/escape"))
            #expect(changes.contains { $0.hasPrefix("modified (content") && $0.hasSuffix(tmp.file) })
            #expect(changes.contains { $0.hasPrefix("modified (content") && $0.hasSuffix(destination.file) })
            #expect(changes.contains("deleted: \(destination.folder)/canary-1"))
        }
    }

    @Test(arguments: testedModes)
    func reachingLoopbackFailsUnderBubblewrap(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let listener = try LoopbackListener()
        defer { listener.stop() }
        let outcome = try await fixture.replay(
            """
            exec /usr/bin/python3 -c 'import socket; socket.create_connection(("127.0.0.1", \(listener.port)), timeout=2); print("connected")'
            """, isolation: mode)
        let connected = listener.receivedConnection()
        if mode == .bubblewrap {
            #expect(outcome.process.exitCode != 0)
            #expect(!connected, "a connection reached 127.0.0.1:\(listener.port) from the sandbox")
        } else {
            // isolation none is not network isolation: the report says so, and this shows it.
            #expect(connected == (outcome.process.exitCode == 0))
        }
        #expect(outcome.process.seconds < 5)
        #expect(fixture.canaries.verify() == [])
    }

    @Test(arguments: testedModes)
    func forkBombIsBoundedAndKilled(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let timeout = 2.0
        let outcome = try await fixture.replay("f() { f | f & }\nf\nsleep 1000\n", isolation: mode, timeout: timeout)
        #expect(!outcome.process.succeeded)
        #expect(outcome.process.timedOut || outcome.process.exitCode != 0)
        #expect(outcome.process.seconds < timeout + 3)
        #expect(await eventually(3) { fixture.survivors().isEmpty }, "survivors: \(fixture.survivors())")
        #expect(fixture.canaries.verify() == [])
    }

    @Test(arguments: testedModes)
    func sleepingForeverTimesOut(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let timeout = 1.5
        let outcome = try await fixture.replay("sleep 1000 &\nsleep 1000\n", isolation: mode, timeout: timeout)
        #expect(outcome.process.timedOut)
        #expect(!outcome.process.succeeded)
        #expect(outcome.process.seconds >= timeout && outcome.process.seconds < timeout + 3)
        #expect(outcome.notes.contains { $0.hasPrefix("timed out") })
        #expect(await eventually(3) { fixture.survivors().isEmpty }, "survivors: \(fixture.survivors())")
        #expect(fixture.canaries.verify() == [])
    }

    /// A process that leaves the replay's process group (setsid) must not outlive the replay:
    /// under bubblewrap the PID namespace ends it, without bubblewrap the sweep does.
    @Test(.enabled(if: SubprocessRunner.which("setsid", path: "/usr/bin:/bin") != nil), arguments: testedModes)
    func processesThatLeaveTheProcessGroupAreKilled(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let outcome = try await fixture.replay(
            "setsid sleep 1000 >/dev/null 2>&1 < /dev/null &\nsleep 0.3\nexit 0\n", isolation: mode)
        #expect(outcome.process.exitCode == 0)
        #expect(await eventually(3) { fixture.survivors().isEmpty }, "survivors: \(fixture.survivors())")
        if mode == .none {
            #expect(outcome.notes.contains { $0.hasPrefix("killed ") }, "\(outcome.notes)")
        }
    }

    @Test(arguments: testedModes)
    func printingAGigabyteIsCappedAndTheTailKept(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let cap = 256 << 10
        let outcome = try await fixture.replay(
            "echo starting\nyes 'flood line' | head -c 1073741824\necho finished\n", isolation: mode, timeout: 20,
            outputCap: cap)
        #expect(outcome.process.outputTruncated)
        #expect(!outcome.process.timedOut && !outcome.process.succeeded)
        #expect(outcome.process.seconds < 10)
        #expect(outcome.process.standardOutput.count <= cap)
        #expect(outcome.process.standardOutput.starts(with: Data("starting\n".utf8)))
        #expect(String(decoding: outcome.process.tail, as: UTF8.self).contains("flood line\nflood line\n"))
        #expect(outcome.notes.contains { $0.hasPrefix("output passed the cap") })
        #expect(await eventually(3) { fixture.survivors().isEmpty })
        #expect(fixture.canaries.verify() == [])
    }

    @Test(arguments: testedModes)
    func resourceLimitsApply(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        var limits = ReplayFixture.smallLimits

        // CPU: one second of CPU, then SIGKILL; well before the 10 s timeout.
        limits.cpu = 1
        let cpu = try await fixture.replay("while :; do :; done\n", isolation: mode, timeout: 10, limits: limits)
        #expect(!cpu.process.timedOut && !cpu.process.succeeded)
        #expect(cpu.process.seconds < 6)

        // File size: a 4 MiB write under a 1 MiB limit fails, and the file stops at the limit.
        limits = ReplayFixture.smallLimits
        limits.fileSize = 1 << 20
        let big = (fixture.sandbox.work.pathString as NSString).appendingPathComponent("big")
        let fsize = try await fixture.replay(
            "head -c 4194304 /dev/zero > \"$4/big\"\n", isolation: mode, limits: limits)
        #expect(fsize.process.exitCode != 0)
        let size = (try? FileManager.default.attributesOfItem(atPath: big)[.size] as? Int) ?? 0
        #expect(size <= 1 << 20)

        // Processes: 64 background sleeps under a limit of 16 cannot all start.
        limits = ReplayFixture.smallLimits
        limits.processes = 16
        let nproc = try await fixture.replay(
            "i=0\nwhile [ $i -lt 64 ]; do sleep 3 & i=$((i+1)); done\nwait\n", isolation: mode, limits: limits)
        #expect(nproc.process.exitCode != 0)
        #expect(String(decoding: nproc.process.standardError, as: UTF8.self).lowercased().contains("fork"))

        // Open files: 64 descriptors under a limit of 16.
        limits = ReplayFixture.smallLimits
        limits.openFiles = 16
        let nofile = try await fixture.replay(
            "exec /usr/bin/python3 -c 'fs=[open(\"/dev/null\") for _ in range(64)]'\n", isolation: mode, limits: limits)
        #expect(nofile.process.exitCode != 0)
        #expect(String(decoding: nofile.process.standardError, as: UTF8.self).contains("Too many open files"))
        #expect(fixture.canaries.verify() == [])
    }

    @Test(.enabled(if: geteuid() == 0, "needs root: the set is unreadable only to the unprivileged uid"))
    func unreadableSetIsReplayedFromAReadOnlyCopy() async throws {
        let fixture = try ReplayFixture(setMode: 0o700)
        defer { fixture.cleanUp() }
        let outcome = try await fixture.replay(
            """
            cat "$(dirname "$0")/data.txt" > "$4/restored.txt" || exit 3
            echo tampered > "$(dirname "$0")/data.txt" && exit 4
            exit 0
            """, isolation: testedModes[0])
        #expect(outcome.process.exitCode == 0, "\(String(decoding: outcome.process.tail, as: UTF8.self))")
        #expect(outcome.notes.contains { $0.contains("read-only copy") })
        let restored = try String(
            contentsOfFile: (fixture.sandbox.work.pathString as NSString).appendingPathComponent("restored.txt"),
            encoding: .utf8)
        #expect(restored == "payload from the set\n")
        #expect(currentMode(fixture.set) == 0o700)

        // A second replay in the same sandbox reads a copy again, which is root's and read-only,
        // readable by the replay's group only (issue 11: a copy of a private set is private too),
        // and removed after the replay.
        let again = try await fixture.replay(
            """
            cat "$(dirname "$0")/data.txt" > "$4/again.txt" || exit 3
            stat -c 'copy %u %g %a' "$(dirname "$0")/data.txt"
            stat -c 'folder %a' "$(dirname "$0")"
            """, isolation: testedModes[0])
        #expect(again.process.exitCode == 0, "\(String(decoding: again.process.tail, as: UTF8.self))")
        if let identity = fixture.replayer.replayIdentity {
            let said = String(decoding: again.process.standardOutput, as: UTF8.self)
            // root's, seen as the overflow uid 65534 inside bubblewrap's user namespace.
            let owner = again.isolation == .bubblewrap ? 65534 : 0
            #expect(said == "copy \(owner) \(identity.gid) 440\nfolder 550\n")
            let copies = (fixture.sandbox.path.pathString as NSString).appendingPathComponent("set")
            #expect(!FileManager.default.fileExists(atPath: copies), "the set's copy outlived the replay")
            #expect(again.notes.contains { $0.contains("removed after the replay") })
        }
    }

    /// The review's race (issue 11, HIGH): a script swapped in the set after the drill verified it
    /// never runs and never gets the secret; the verified one runs from a copy made after the
    /// check, and reads the secret on descriptor 3.
    @Test(arguments: testedModes)
    func aSecretGoesOnlyToTheScriptTheDrillVerified(mode: RestoreDrillConfig.IsolationMode) async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let script = (fixture.set as NSString).appendingPathComponent("restore_test.sh")
        let ran = fixture.sandbox.work.appending(component: "ran").pathString
        func request(_ digest: String) throws -> ReplayRequest {
            ReplayRequest(
                script: try AbsolutePath(validating: script), arguments: ["--password-fd", "3"],
                setFolder: try AbsolutePath(validating: fixture.set), sandboxFolder: fixture.sandbox.path,
                workingDirectory: fixture.sandbox.work, limits: ReplayFixture.smallLimits, timeout: 10,
                isolation: mode, secret: Data("the-secret-\(fixture.token)".utf8), scriptSHA256: digest)
        }
        let verified = "#!/bin/sh\n: > '\(ran)'; echo \"got $(cat <&3)\"\n"
        let mode0 = currentMode(fixture.set)
        chmod(fixture.set, 0o755)
        try Data(verified.utf8).write(to: URL(fileURLWithPath: script))
        chmod(fixture.set, mode0)
        let digest = SHA256Digest.hex(of: Data(verified.utf8))
        // Swapped after the check: the digest the drill verified is no longer the script's.
        chmod(fixture.set, 0o755)
        try Data("#!/bin/sh\n: > '\(ran)'; cat <&3\n".utf8).write(to: URL(fileURLWithPath: script))
        chmod(fixture.set, mode0)
        await #expect(throws: RestoreDrillError.self) { _ = try await fixture.replayer.replay(try request(digest)) }
        #expect(!FileManager.default.fileExists(atPath: ran), "the swapped script ran")
        #expect(!FileManager.default.fileExists(atPath: fixture.sandbox.path.appending(component: "set").pathString))
        // Put back: the verified script runs, from the copy, and reads the secret.
        chmod(fixture.set, 0o755)
        try Data(verified.utf8).write(to: URL(fileURLWithPath: script))
        chmod(fixture.set, mode0)
        let outcome = try await fixture.replayer.replay(try request(digest))
        let said = String(decoding: outcome.process.standardOutput, as: UTF8.self)
        #expect(said == "got the-secret-\(fixture.token)\n", "\(said) \(outcome.notes)")
        #expect(outcome.notes.contains { $0.contains("copy") && $0.contains("removed after the replay") })
    }

    /// Issue 11, "Keep drills apart from each other": as root, every replayer (one per drill) runs
    /// its scripts as a uid of its own, so a replay cannot read what another, running at the same
    /// time, restored into its 0700 sandbox, even without bubblewrap's mount namespace.
    @Test(.enabled(if: geteuid() == 0, "a uid per drill exists only when the tool runs as root (CI runs as root)"))
    func concurrentDrillsRunAsUidsOfTheirOwnAndCannotReadEachOther() async throws {
        let first = try ReplayFixture()
        let second = try ReplayFixture()
        defer {
            first.cleanUp()
            second.cleanUp()
        }
        let a = try #require(first.replayer.replayIdentity)
        let b = try #require(second.replayer.replayIdentity)
        #expect(a.uid != b.uid && a.gid != b.gid)
        #expect(first.replayer.replayIdentity?.uid == a.uid, "one replayer keeps its uid")
        // While the first replay holds a restored file, the second tries to read it and to list
        // the first's sandbox (isolation none: only the uids keep them apart).
        let secret = first.sandbox.work.appending(component: "restored-secret.txt").pathString
        let ready = first.sandbox.path.appending(component: "ready").pathString
        async let holder = first.replay(
            "echo 'restored by the first drill' > \"$4/restored-secret.txt\"; : > \"\(ready)\"; sleep 3; echo held",
            isolation: .none)
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: ready) { usleep(30_000) }
        let reader = try await second.replay(
            """
            id -u
            cat '\(secret)' 2>/dev/null && echo READ-OTHER
            ls '\(first.sandbox.path.pathString)' 2>/dev/null && echo LISTED-OTHER
            echo done
            """, isolation: .none)
        let held = try await holder
        let said = String(decoding: reader.process.standardOutput, as: UTF8.self)
        #expect(said == "\(b.uid)\ndone\n", "\(said)")
        #expect(String(decoding: held.process.standardOutput, as: UTF8.self) == "held\n")
        #expect(held.uid == a.uid && reader.uid == b.uid)
    }

    /// A uid whose lock is taken, or that still owns a process, is never handed out.
    @Test(.enabled(if: geteuid() == 0, "the lock folder lives in /run, root's"))
    func aUidInUseIsPassedOver() throws {
        let folder = try TemporaryFolder("uid-locks")
        defer { folder.remove() }
        let locks = folder.file("locks")
        let first = ReplayUIDLease(lockFolder: locks)
        let uid = try first.uid()
        #expect(try first.uid() == uid)
        var info = stat()
        #expect(lstat(locks, &info) == 0 && info.st_mode & 0o7777 == 0o700 && info.st_uid == 0)
        // 200 more leases while the first is held: none gets its uid, all differ.
        var others: [ReplayUIDLease] = []
        var seen: Set<UInt32> = [uid]
        for _ in 0..<200 {
            let lease = ReplayUIDLease(lockFolder: locks)
            let other = try lease.uid()
            #expect(!seen.contains(other))
            seen.insert(other)
            others.append(lease)
        }
        // This process's own uid (0) owns processes; a uid nobody runs does not.
        #expect(ReplayUIDLease.ownsProcesses(0))
        #expect(!ReplayUIDLease.ownsProcesses(uid))
    }

    @Test func bubblewrapRequiredButMissingIsAnErrorAndAutoFallsBack() async throws {
        let tools = try TemporaryFolder("tools")
        defer { tools.remove() }
        for tool in ["prlimit", "setpriv"] {
            if let real = SubprocessRunner.which(tool, path: nil) {
                try FileManager.default.createSymbolicLink(atPath: tools.file(tool), withDestinationPath: real)
            }
        }
        let replayer = IsolatedReplayer(toolPath: tools.path)
        let fixture = try ReplayFixture(replayer: replayer)
        defer { fixture.cleanUp() }
        #if os(Linux)
            await #expect(throws: RestoreDrillError.self) {
                _ = try await fixture.replay("exit 0\n", isolation: .bubblewrap)
            }
        #endif
        let outcome = try await fixture.replay("exit 0\n", isolation: .auto)
        #expect(outcome.isolation == .none)
        #expect(outcome.process.exitCode == 0)
        #expect(outcome.notes.contains { $0.contains("isolation none") })
    }

    @Test(.enabled(if: bubblewrapAvailable))
    func bubblewrapArgvPutsTmpfsBeforeTheSandboxAndDropsRoot() async throws {
        let recorder = RecordingRunner()
        let fixture = try ReplayFixture(replayer: IsolatedReplayer(runner: recorder))
        defer { fixture.cleanUp() }
        let outcome = try await fixture.replay("exit 0\n", isolation: .auto)
        #expect(outcome.isolation == .bubblewrap)
        let full = try #require(recorder.recordedArgv.last)
        // The prelude (entering the cgroups, opening the seccomp filter) runs first, then prlimit.
        #expect(full[0] == "/bin/sh" && full[2] == IsolatedReplayer.preludeScript)
        let start = try #require(full.firstIndex { ($0 as NSString).lastPathComponent == "prlimit" })
        let argv = Array(full[start...])
        #expect(full[..<start].contains("--"))
        if outcome.limits.applied.contains(.seccomp) {
            let filter = try #require(full[..<start].first { $0.hasPrefix("seccomp=") })
            #expect(filter.hasSuffix("/\(IsolatedReplayer.etcFolder)/\(IsolatedReplayer.seccompFileName)"))
            let flag = try #require(argv.firstIndex(of: "--seccomp"))
            #expect(argv[flag + 1] == "4")
        }
        // With the pids cgroup in force, the cgroup bounds the processes, not RLIMIT_NPROC.
        let pidsCgroup = outcome.limits.applied.contains(.pidsCgroup)
        #expect(argv.contains("--nproc=32:32") == !pidsCgroup)
        #expect(argv.contains("--cpu=5:5") && argv.contains("--nofile=64:64"))
        #expect(argv.contains("--as=\(1 << 30):\(1 << 30)") && argv.contains("--fsize=\(8 << 20):\(8 << 20)"))
        for flag in ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"] {
            #expect(argv.contains(flag))
        }
        let tmpfs = try #require(argv.firstIndex(of: "--tmpfs"))
        let bind = try #require(argv.firstIndex(of: "--bind"))
        #expect(tmpfs < bind && argv[bind + 1] == fixture.sandbox.path.pathString)
        if geteuid() == 0 {
            let uid = try #require(fixture.replayer.replayIdentity?.uid)
            #expect(argv.contains("--reuid=\(uid)") && argv.contains("--regid=\(uid)"))
            #expect(argv.contains("--clear-groups"))
        }
        // The probe ran once, before the replay; a second replay reuses it.
        let before = recorder.recorded.count
        _ = try await fixture.replay("exit 0\n", isolation: .auto)
        #expect(recorder.recorded.count == before + 1)
    }
}
