import CSQLite
import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Selftest

#if canImport(Glibc)
    import Glibc
#endif

/// The built `restore-drill` against sealed sets whose restore script is hostile (README,
/// "Selftest"): each drill fails within the configured timeout plus a few seconds, names the cause in
/// report.json, and leaves every canary outside the sandbox unchanged.
///
/// Needs `swift build --build-tests` first (the binary is `.build/debug/restore-drill` under the
/// package root) and bubblewrap (the configuration asks for `isolation: bubblewrap`). Serialized:
/// the fork bomb's process limit counts every process of the replay's uid.
@Suite(.serialized) struct HostileScriptTests {
    static let timeout = 6.0

    @Test func scriptWritingDotDotEscapeFailsWithinTimeoutAndNothingEscapes() async throws {
        let e = try await HostileWorld()
        let target = e.base + "/sandboxes/escape"
        let outcome = try e.drillHostile(
            "set -e\necho escaped > ../../escape\necho 'restore: done'\n", escapeTargets: [target])
        #expect(outcome.exitCode == 1)
        #expect(outcome.seconds < Self.timeout + 5)
        let script = try #require(outcome.check("restore.script"))
        #expect(script.verdict == "fail")
        #expect(script.message.contains("exited with status"), "\(script.message)")
        #expect(script.evidence.contains { $0.contains("escape") }, "the output tail names the refused write")
        #expect(outcome.canaryChanges.isEmpty, "\(outcome.canaryChanges)")
        #expect(outcome.escaped.isEmpty, "\(outcome.escaped)")
    }

    @Test func scriptWritingIntoTheRealTmpFailsWithinTimeoutAndNothingEscapes() async throws {
        try await Self.expectWriteRefused(into: NSTemporaryDirectory())
    }

    @Test func scriptWritingIntoTheRealHomeFailsWithinTimeoutAndNothingEscapes() async throws {
        try await Self.expectWriteRefused(into: ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory())
    }

    /// A sealed set whose script writes `<folder>/restore-drill-e2e-<token>` under `set -e`: the
    /// drill fails within the timeout naming the refused write, and nothing escapes.
    static func expectWriteRefused(into folder: String) async throws {
        let e = try await HostileWorld()
        let target = (folder as NSString).appendingPathComponent("restore-drill-e2e-\(e.token)")
        let outcome = try e.drillHostile("set -e\necho escaped > '\(target)'\n", escapeTargets: [target])
        #expect(outcome.exitCode == 1)
        #expect(outcome.seconds < Self.timeout + 5)
        let script = try #require(outcome.check("restore.script"))
        #expect(script.verdict == "fail")
        #expect(script.message.contains("exited with status"), "\(script.message)")
        #expect(script.evidence.contains { $0.contains(target) }, "the output tail names the refused write")
        #expect(outcome.canaryChanges.isEmpty, "\(outcome.canaryChanges)")
        #expect(outcome.escaped.isEmpty, "\(outcome.escaped)")
    }

    @Test func scriptReachingLoopbackFailsWithinTimeoutAndNoConnectionArrives() async throws {
        let e = try await HostileWorld()
        let listener = try LoopbackListener()
        let probe = "exec 3<>/dev/tcp/127.0.0.1/\(listener.port) && echo hello >&3"
        // The probe reaches the listener from the host: its failure in the drill is the isolation's.
        let host = try HostileWorld.run("/bin/sh", ["-c", "bash -c \"$1\"", "sh", probe])
        #expect(host.status == 0)
        #expect(listener.drain() == 1)
        let outcome = try e.drillHostile(
            """
            if ! bash -c '\(probe)'; then
                echo 'restore: FAILED: cannot reach 127.0.0.1:\(listener.port)' >&2
                exit 1
            fi
            echo 'restore: done'

            """, escapeTargets: [])
        #expect(outcome.exitCode == 1)
        #expect(outcome.seconds < Self.timeout + 5)
        let script = try #require(outcome.check("restore.script"))
        #expect(script.message.contains("exited with status 1"), "\(script.message)")
        #expect(script.evidence.contains { $0.contains("cannot reach 127.0.0.1") })
        #expect(listener.drain() == 0, "the replay reached the host's loopback")
        #expect(outcome.canaryChanges.isEmpty, "\(outcome.canaryChanges)")
    }

    /// Issue 11, "The sandbox sees the host", through the built binary: a sealed set whose script
    /// probes the real home, /root, /etc/shadow, another kept sandbox, the original set, the
    /// destination's events, /run, /var/run, /proc/1/root, the host's /dev/shm and a listening host
    /// unix socket (each made readable to any uid here, so only the sandbox's binds keep them out
    /// of reach). Every probe fails.
    @Test func scriptProbingTheHostReachesNothingOfIt() async throws {
        let e = try await HostileWorld()
        let fm = FileManager.default
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let kept = e.base + "/sandboxes/kept-earlier-drill/work"
        try fm.createDirectory(atPath: kept, withIntermediateDirectories: true)
        try Data("another drill's database\n".utf8).write(to: URL(fileURLWithPath: kept + "/restored.db"))
        let events = e.base + "/dest/.restore-drill/events"
        try fm.createDirectory(atPath: events, withIntermediateDirectories: true)
        let event = events + "/probe-\(e.token).json"
        try Data("{}\n".utf8).write(to: URL(fileURLWithPath: event))
        let shm = "/dev/shm/restore-drill-e2e-\(e.token)"
        try Data("host shared memory\n".utf8).write(to: URL(fileURLWithPath: shm))
        defer { unlink(shm) }
        let socket = try UnixListener(path: (access("/run", W_OK) == 0 ? "/run" : "/tmp") + "/rd-e2e-\(e.token).sock")
        defer { socket.stop() }
        for path in [
            e.base, e.base + "/sandboxes", e.base + "/sandboxes/kept-earlier-drill", kept, e.base + "/dest",
            e.base + "/dest/.restore-drill", events, e.setPath,
        ] {
            chmod(path, 0o755)
        }
        for path in [kept + "/restored.db", event, shm, e.setPath + "/manifest.json"] { chmod(path, 0o644) }
        let probes = [
            ("home", "ls -a '\(home)'"), ("root", "ls -a /root"), ("shadow", "cat /etc/shadow"),
            ("kept-sandbox", "cat '\(kept)/restored.db'"), ("other-set", "cat '\(e.setPath)/manifest.json'"),
            ("events", "ls '\(events)'"), ("event", "cat '\(event)'"), ("run", "ls /run"), ("var-run", "ls /var/run/"),
            ("proc1-root", "cat '/proc/1/root\(e.setPath)/manifest.json'"), ("host-shm", "cat '\(shm)'"),
            ("socket-path", "test -e '\(socket.path)'"),
            (
                "socket",
                "python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.settimeout(2); "
                    + "s.connect(sys.argv[1])' '\(socket.path)'"
            ),
        ]
        var body = "reached=''\nprobe() { if sh -c \"$2\" >/dev/null 2>&1; then reached=\"$reached [$1]\"; fi; }\n"
        for (name, command) in probes { body += "probe \(name) \"\(command)\"\n" }
        body += "echo \"probes reached:${reached:- none}\" >&2\nexit 7\n"
        let outcome = try e.drillHostile(body, escapeTargets: [])
        #expect(outcome.exitCode == 1)
        let script = try #require(outcome.check("restore.script"))
        #expect(script.message.contains("exited with status 7"), "\(script.message)")
        #expect(script.evidence.contains { $0.contains("probes reached: none") }, "\(script.evidence)")
        #expect(socket.drain() == 0, "the replay connected to \(socket.path)")
        #expect(outcome.canaryChanges.isEmpty, "\(outcome.canaryChanges)")
    }

    @Test func forkBombFailsWithinTimeoutAndLeavesNoProcess() async throws {
        let e = try await HostileWorld()
        let outcome = try e.drillHostile(
            "bomb() { bomb | bomb & }\nwhile :; do bomb 2>/dev/null; sleep 1 2>/dev/null; done\n", escapeTargets: [])
        #expect(outcome.exitCode == 1)
        #expect(outcome.seconds < Self.timeout + 5)
        let script = try #require(outcome.check("restore.script"))
        #expect(script.verdict == "fail")
        #expect(
            script.message.contains("timeout") || script.message.contains("exited with status"), "\(script.message)")
        #expect(outcome.canaryChanges.isEmpty, "\(outcome.canaryChanges)")
        // Nothing of the replay survives it: no process still runs the hostile script.
        try await Task.sleep(for: .milliseconds(300))
        #expect(HostileWorld.processesMentioning(e.base).isEmpty, "\(HostileWorld.processesMentioning(e.base))")
    }

    @Test func sleepingScriptIsKilledAtTheTimeoutNamedInTheReport() async throws {
        let e = try await HostileWorld()
        let outcome = try e.drillHostile("sleep 1000\n", escapeTargets: [])
        #expect(outcome.exitCode == 1)
        #expect(outcome.seconds >= Self.timeout - 0.5)
        #expect(outcome.seconds < Self.timeout + 5)
        let script = try #require(outcome.check("restore.script"))
        #expect(script.message.contains("killed after the timeout of 6"), "\(script.message)")
        #expect(outcome.canaryChanges.isEmpty, "\(outcome.canaryChanges)")
        #expect(HostileWorld.processesMentioning(e.base).isEmpty)
    }
}

/// A small workspace backed up by the real binary, and sealed copies of its set with a hostile
/// restore script.
final class HostileWorld {
    /// The package root, from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var binary: String { packageRoot + "/.build/debug/restore-drill" }

    let base: String
    let configPath: String
    let setPath: String
    let token = Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255) })
    private var copies = 0

    init() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw RestoreDrillError.runtime("\(Self.binary) is missing: run `swift build --build-tests` first")
        }
        base = (NSTemporaryDirectory() as NSString).appendingPathComponent("rd-e2e-hostile-\(UUID().uuidString)")
        let root = base + "/home/git/maia"
        let fm = FileManager.default
        for folder in [root + "/src", root + "/data", base + "/dest"] {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try Data("print('maia')\n".utf8).write(to: URL(fileURLWithPath: root + "/src/main.py"))
        try Data("export MAIA=1\n".utf8).write(to: URL(fileURLWithPath: base + "/home/.zshrc"))
        var db: OpaquePointer?
        #expect(sqlite3_open(root + "/data/store.db", &db) == SQLITE_OK)
        sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);", nil, nil, nil)
        sqlite3_close(db)
        configPath = base + "/restore-drill.yml"
        let yaml = """
            name: maia
            home: \(base)/home
            root: \(root)
            destination: \(base)/dest
            set_format: 1
            databases:
              include: ["data/*.db"]
            shell:
              files: [\(base)/home/.zshrc]
            dependencies:
              python: [/bin/echo, requests==2.32.3]
              homebrew: [/bin/echo, git 2.42.0]
            sandbox:
              folder: \(base)/sandboxes
              isolation: bubblewrap
              timeout: \(Int(HostileScriptTests.timeout))s
              limits: {cpu: 20s, memory: 2GiB, file_size: 64MiB, open_files: 256, processes: 64}
              keep: never
            reports: {folder: \(base)/reports}

            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: configPath))
        let backup = try Self.run(Self.binary, ["backup", "--config", configPath])
        guard backup.status == 0 else { throw RestoreDrillError.runtime("backup failed: \(backup.output)") }
        let sets = try fm.contentsOfDirectory(atPath: base + "/dest").filter { $0.hasPrefix("full_") }
        guard let id = sets.first else { throw RestoreDrillError.runtime("no set in \(base)/dest") }
        setPath = base + "/dest/" + id
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    /// What one drill of a hostile copy did.
    struct Outcome {
        var exitCode: Int32
        /// Wall time of the whole `restore-drill drill` process, seconds.
        var seconds: Double
        var checks: [[String: Any]]
        /// Canaries the test planted itself (real /tmp, real home, destination) that changed.
        var canaryChanges: [String]
        /// Escape targets that exist after the drill (removed again).
        var escaped: [String]

        func check(_ id: String) -> (verdict: String, message: String, evidence: [String])? {
            guard let c = checks.first(where: { $0["check"] as? String == id }) else { return nil }
            return (c["verdict"] as? String ?? "", c["message"] as? String ?? "", c["evidence"] as? [String] ?? [])
        }
    }

    /// Copies the set, replaces its restore script with `body` (after `#!/bin/sh`), reseals it
    /// (artifact digest, SHA256SUMS, manifest self-checksum), and runs `restore-drill drill --set`.
    func drillHostile(_ body: String, escapeTargets: [String]) throws -> Outcome {
        copies += 1
        let fm = FileManager.default
        let folder = base + "/damaged-\(copies)"
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let copy = folder + "/" + (setPath as NSString).lastPathComponent
        try fm.copyItem(atPath: setPath, toPath: copy)
        var manifest = try Manifest.load(setPath: copy)
        let script = copy + "/" + manifest.restoreScript
        try fm.removeItem(atPath: script)
        let text = Data(("#!/bin/sh\n# hostile restore script (end-to-end test)\n" + body).utf8)
        #expect(fm.createFile(atPath: script, contents: text, attributes: [.posixPermissions: 0o755]))
        for i in manifest.artifacts.indices where manifest.artifacts[i].path == manifest.restoreScript {
            manifest.artifacts[i].sha256 = SHA256Digest.hex(of: text)
            manifest.artifacts[i].size = Int64(text.count)
        }
        let sums = manifest.artifacts.map { "\($0.sha256)  \($0.path)\n" }.joined()
        try Data(sums.utf8).write(to: URL(fileURLWithPath: copy + "/SHA256SUMS"))
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: copy + "/manifest.json"))

        // Our own canaries, beside the tool's.
        let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        let canaries = [NSTemporaryDirectory(), home, base + "/dest"].map {
            ($0 as NSString).appendingPathComponent(".rd-e2e-canary-\(token)-\(copies)")
        }
        var before: [String: Data] = [:]
        for path in canaries {
            let content = Data(UUID().uuidString.utf8)
            #expect(fm.createFile(atPath: path, contents: content, attributes: [.posixPermissions: 0o666]))
            before[path] = content
        }
        defer { for path in canaries { try? fm.removeItem(atPath: path) } }

        let started = Date()
        let drill = try Self.run(Self.binary, ["drill", "--config", configPath, "--set", copy, "--json"])
        let seconds = Date().timeIntervalSince(started)
        var changes: [String] = []
        for path in canaries where fm.contents(atPath: path) != before[path] { changes.append(path) }
        let escaped = escapeTargets.filter { fm.fileExists(atPath: $0) }
        for path in escaped { try? fm.removeItem(atPath: path) }

        // report.json, from the report folder the drill names.
        let reports = (try? fm.contentsOfDirectory(atPath: base + "/reports")) ?? []
        var checks: [[String: Any]] = []
        if let newest = reports.filter({ $0.hasPrefix("drill_") }).sorted().last,
            let data = fm.contents(atPath: base + "/reports/\(newest)/report.json"),
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            checks = json["checks"] as? [[String: Any]] ?? []
            try? fm.removeItem(atPath: base + "/reports/\(newest)")
        }
        return Outcome(
            exitCode: drill.status, seconds: seconds, checks: checks, canaryChanges: changes, escaped: escaped)
    }

    /// Runs a program to its end; stdout and stderr together.
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let run = try runTool(executable, arguments, mergingError: true)
        return (run.status, run.output)
    }

    /// Pids of running processes whose command line mentions `text` (read from /proc).
    static func processesMentioning(_ text: String) -> [String] {
        #if os(Linux)
            let fm = FileManager.default
            return ((try? fm.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
                guard Int(pid) != nil, Int32(pid) != getpid(),
                    let cmdline = fm.contents(atPath: "/proc/\(pid)/cmdline")
                else { return false }
                return String(decoding: cmdline, as: UTF8.self).contains(text)
            }
        #else
            return []
        #endif
    }
}
