import DrillCore
import Foundation
import Jobs
import Sandbox
import Testing
import Vault
import Verifier

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Issue 11, "Secrets and permissions at rest": a drill killed with SIGKILL never reaches its
/// end, so its sandbox keeps the restored credentials, the restore script's decryption folder
/// and any password copy. The next drill and the next prune wipe them.
@Suite(.serialized) struct InterruptedDrillSecretsTests {
    /// What a killed drill leaves, planted where a real drill's restore put them: the paths come
    /// from the secrets record that drill wrote (`.restore-drill-secrets`), the contents are the
    /// real plaintexts and the real password.
    struct Leftovers {
        var paths: [String]
        var secrets: [Data]
    }

    static func plant(in sandbox: String, w: VaultWorkspace) throws -> Leftovers {
        let record = try String(contentsOfFile: sandbox + "/.restore-drill-secrets", encoding: .utf8)
        let lines = record.split(separator: "\n").map(String.init)
        let root = try #require(lines.first { $0.hasPrefix("root ") }.map { sandbox + "/" + $0.dropFirst(5) })
        let secretFiles = lines.filter { $0.hasPrefix("secret ") }.map { sandbox + "/" + $0.dropFirst(7) }
        #expect(secretFiles.count == 2, "\(record)")
        let plaintexts = Array(try w.credentialFiles().values)
        var paths: [String] = []
        let fm = FileManager.default
        // The restored credential files, mode 0600, at their places in the new home and root.
        for (index, file) in secretFiles.enumerated() {
            try fm.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            #expect(fm.createFile(atPath: file, contents: plaintexts[index % plaintexts.count]))
            chmod(file, 0o600)
            paths.append(file)
        }
        // The restore script's private folder, killed while decrypting: the tar and unpacked files.
        let decrypting = root + "/.restore-drill-credentials-4242"
        try fm.createDirectory(atPath: decrypting + "/files/root", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: decrypting + "/vault.tar", contents: plaintexts[0]))
        #expect(fm.createFile(atPath: decrypting + "/files/root/token", contents: plaintexts[1 % plaintexts.count]))
        paths.append(decrypting)
        // A password copy an earlier version made for a replay running as another uid.
        try fm.createDirectory(atPath: sandbox + "/readonly", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: sandbox + "/readonly/0-password", contents: Data(w.password.bytes)))
        chmod(sandbox + "/readonly/0-password", 0o400)
        paths.append(sandbox + "/readonly")
        return Leftovers(paths: paths, secrets: plaintexts + [Data(w.password.bytes)])
    }

    /// Files under `folder` holding any of `secrets`.
    static func holders(of secrets: [Data], under folder: String) -> [String] {
        regularFiles(under: folder).filter { file in
            guard let data = FileManager.default.contents(atPath: file) else { return false }
            return secrets.contains { data.range(of: $0) != nil }
        }
    }

    /// The review's finding: a replay owns its sandbox folder, so it can put a FIFO (or a link,
    /// or a folder) where the drill's secrets record was. A later sweep never waits on it and
    /// still wipes the known places (the `readonly` copies).
    @Test(arguments: ["fifo", "link", "folder"])
    func aRecordTheReplayReplacedNeverStopsTheSweep(kind: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rd-fifo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let sandboxes = try AbsolutePath(validating: folder.path)
        try FileManager.default.createDirectory(atPath: sandboxes.pathString, withIntermediateDirectories: true)
        let sandbox = try RestoreSandbox.create(in: sandboxes, drillID: DrillID(date: Date(), sequence: 7))
        let record = sandbox.path.appending(component: ".restore-drill-secrets").pathString
        unlink(record)
        switch kind {
        case "fifo": #expect(mkfifo(record, 0o666) == 0)
        case "link": #expect(symlink("/etc/passwd", record) == 0)
        default: #expect(mkdir(record, 0o755) == 0)
        }
        let copy = sandbox.path.appending(components: "readonly", "0-password").pathString
        try FileManager.default.createDirectory(
            atPath: (copy as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("copied-password".utf8).write(to: URL(fileURLWithPath: copy))
        let started = Date()
        let wiped = InterruptedDrills.wipeSecrets(in: sandboxes)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(wiped.contains { $0.hasSuffix("/readonly") || $0.hasSuffix("0-password") }, "\(wiped)")
        #expect(!FileManager.default.fileExists(atPath: copy))
    }

    @Test func theNextDrillAndAPruneWipeTheSecretsAKilledDrillLeftButNotARunningDrills() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        w.config.sandbox.keep = .always
        let first = try await w.drill()
        #expect(first.verdict == .pass, "\(first.checks.filter { $0.verdict == .fail || $0.verdict == .error })")
        let sandbox = try #require(first.sandboxPath)
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: sandbox + "/" + RestoreSandbox.markerName))

        // The next drill wipes them before it makes its own sandbox, and keeps the rest.
        var left = try Self.plant(in: sandbox, w: w)
        #expect(!Self.holders(of: left.secrets, under: sandbox).isEmpty, "the plant must be findable")
        let second = try await w.drill()
        #expect(second.verdict == .pass)
        for path in left.paths { #expect(!fm.fileExists(atPath: path), "\(path) survived the next drill") }
        #expect(Self.holders(of: left.secrets, under: w.config.sandbox.folder).isEmpty)
        #expect(fm.fileExists(atPath: sandbox + "/" + RestoreSandbox.markerName), "the sandbox itself is kept")
        #expect(fm.fileExists(atPath: sandbox + "/home"))

        // A password copy an earlier version left in the temporary folder goes too.
        var template = Array((NSTemporaryDirectory() + "/restore-drill-password.XXXXXX").utf8CString)
        let made = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
        let temporaryCopy = String(cString: made)
        #expect(fm.createFile(atPath: temporaryCopy + "/password", contents: Data(w.password.bytes)))

        // A prune does the same, and says what it wiped.
        left = try Self.plant(in: sandbox, w: w)
        let prune = try PruneJob(config: w.config, clock: FixedClock(Date())).run(dryRun: false)
        for path in left.paths {
            #expect(!fm.fileExists(atPath: path), "\(path) survived the prune")
            #expect(prune.wipedSecrets.contains { $0 == path || $0.hasPrefix(path + "/") }, "\(prune.wipedSecrets)")
        }
        #expect(!fm.fileExists(atPath: temporaryCopy))
        #expect(Self.holders(of: left.secrets, under: w.config.sandbox.folder).isEmpty)
        #expect(prune.text.contains("wiped a secret left by an interrupted drill"))

        // A drill still running holds its record locked: nothing of its sandbox is touched.
        left = try Self.plant(in: sandbox, w: w)
        let fd = open(sandbox + "/.restore-drill-secrets", O_RDONLY | O_CLOEXEC)
        #expect(fd >= 0)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let whileRunning = try PruneJob(config: w.config, clock: FixedClock(Date())).run(dryRun: false)
        #expect(!whileRunning.wipedSecrets.contains { $0.hasPrefix(sandbox + "/") })
        for path in left.paths { #expect(fm.fileExists(atPath: path), "\(path) of a running drill was wiped") }
        close(fd)
        // Once it is gone (a SIGKILL releases the lock the same way), the next prune wipes them. A
        // child another test forks at that moment holds a copy of the descriptor (and so the lock)
        // until it execs: a prune that finds it held leaves the sandbox, as it must, and the next
        // one wipes it; a few tries, 100 ms apart, absorb that.
        var after = try PruneJob(config: w.config, clock: FixedClock(Date())).run(dryRun: false)
        for _ in 0..<20 where after.wipedSecrets.isEmpty {
            try await Task.sleep(nanoseconds: 100_000_000)
            after = try PruneJob(config: w.config, clock: FixedClock(Date())).run(dryRun: false)
        }
        for path in left.paths { #expect(!fm.fileExists(atPath: path)) }
        #expect(!after.wipedSecrets.isEmpty)
    }
}
