import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Issue 11, "The sandbox sees the host": under bubblewrap a replay sees the system's programs and
/// libraries, a minimal /etc, its set and its sandbox, and nothing else. A probe script tries a
/// fixed list of host places; every probe must fail. The same probe run with `isolation: none`
/// reaches the places made readable to it, which shows the list tests something.
@Suite("Host visibility", .serialized)
struct HostVisibilityTests {
    /// One place a probe tries, and the shell command that succeeds only when it is reachable.
    struct Probe {
        var name: String
        var command: String
        /// True when the place is made readable to the replay's uid on the host, so that a replay
        /// without bubblewrap reaches it.
        var reachableWithoutIsolation: Bool
    }

    /// The host places the probes try: made here, removed by ``cleanUp()``.
    struct HostPlaces {
        let fixture: ReplayFixture
        let otherSandbox: RestoreSandbox
        let otherSandboxFile: String
        let otherSet: String
        let eventsFolder: String
        let eventFile: String
        let shmMarker: String
        let socket: UnixListener

        init(_ fixture: ReplayFixture) throws {
            self.fixture = fixture
            let fm = FileManager.default
            // Another drill's kept sandbox, beside this one, made world-readable: only the binds
            // can keep it out of reach.
            otherSandbox = try RestoreSandbox.create(
                in: fixture.sandbox.sandboxesFolder, drillID: DrillID(date: Date(), sequence: 1))
            otherSandboxFile = otherSandbox.work.appending(component: "restored.db").pathString
            try Data("another drill's restored database\n".utf8).write(to: URL(fileURLWithPath: otherSandboxFile))
            for folder in [otherSandbox.path, otherSandbox.work] { chmod(folder.pathString, 0o755) }
            chmod(otherSandboxFile, 0o644)
            // Another set in the same destination.
            otherSet = (fixture.destination as NSString).appendingPathComponent("full_20240101_000000")
            try fm.createDirectory(atPath: otherSet, withIntermediateDirectories: true)
            chmod(otherSet, 0o755)
            let otherData = (otherSet as NSString).appendingPathComponent("data.txt")
            try Data("another set's data\n".utf8).write(to: URL(fileURLWithPath: otherData))
            chmod(otherData, 0o644)
            // The destination's events folder.
            eventsFolder = (fixture.destination as NSString).appendingPathComponent(".restore-drill/events")
            try fm.createDirectory(atPath: eventsFolder, withIntermediateDirectories: true)
            chmod((fixture.destination as NSString).appendingPathComponent(".restore-drill"), 0o755)
            chmod(eventsFolder, 0o755)
            eventFile = (eventsFolder as NSString).appendingPathComponent("20250101T000000Z-drill.json")
            try Data("{\"kind\":\"drill\"}\n".utf8).write(to: URL(fileURLWithPath: eventFile))
            chmod(eventFile, 0o644)
            // A marker in the host's /dev/shm, and a daemon-like socket under /run (root) or /tmp.
            shmMarker = "/dev/shm/restore-drill-test-\(fixture.token)"
            try Data("host shared memory\n".utf8).write(to: URL(fileURLWithPath: shmMarker))
            chmod(shmMarker, 0o644)
            let socketFolder = access("/run", W_OK) == 0 ? "/run" : "/tmp"
            socket = try UnixListener(path: "\(socketFolder)/rd-\(fixture.token.suffix(12)).sock")
        }

        func cleanUp() {
            socket.stop()
            unlink(shmMarker)
            unlink("/dev/shm/restore-drill-fill-\(fixture.token)")
            try? otherSandbox.remove()
        }

        /// The fixed list of probes.
        var probes: [Probe] {
            let home = fixture.canary(in: ReplayFixture.realHome)
            let connect =
                "/usr/bin/python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.settimeout(2); "
                + "s.connect(sys.argv[1])' '\(socket.path)'"
            return [
                Probe(
                    name: "real home", command: "ls -a '\(ReplayFixture.realHome)'", reachableWithoutIsolation: false),
                Probe(name: "file in the real home", command: "cat '\(home.file)'", reachableWithoutIsolation: false),
                Probe(name: "/root", command: "ls -a /root", reachableWithoutIsolation: false),
                Probe(name: "/etc/shadow", command: "cat /etc/shadow", reachableWithoutIsolation: false),
                Probe(
                    name: "another kept sandbox", command: "cat '\(otherSandboxFile)'", reachableWithoutIsolation: true),
                Probe(
                    name: "another sandbox's folder", command: "ls '\(otherSandbox.path.pathString)/work'",
                    reachableWithoutIsolation: true),
                Probe(name: "another set", command: "cat '\(otherSet)/data.txt'", reachableWithoutIsolation: true),
                Probe(name: "the events folder", command: "ls '\(eventsFolder)'", reachableWithoutIsolation: true),
                Probe(name: "an event", command: "cat '\(eventFile)'", reachableWithoutIsolation: true),
                Probe(name: "/run", command: "ls /run", reachableWithoutIsolation: true),
                Probe(name: "/var/run", command: "ls /var/run/", reachableWithoutIsolation: true),
                Probe(
                    name: "/proc/1/root's home file", command: "cat '/proc/1/root\(home.file)'",
                    reachableWithoutIsolation: false),
                Probe(
                    name: "/proc/1/root's /etc/shadow", command: "cat /proc/1/root/etc/shadow",
                    reachableWithoutIsolation: false),
                Probe(name: "the host's /dev/shm", command: "cat '\(shmMarker)'", reachableWithoutIsolation: true),
                Probe(
                    name: "a host unix socket's path", command: "test -e '\(socket.path)'",
                    reachableWithoutIsolation: true),
                Probe(name: "a host unix socket", command: connect, reachableWithoutIsolation: true),
            ]
        }

        /// The probe script: one line `REACHED <name>` or `refused <name>` per probe, in order.
        var script: String {
            var lines = [
                "probe() { name=$1; shift; if sh -c \"$1\" >/dev/null 2>&1; then echo \"REACHED $name\"; "
                    + "else echo \"refused $name\"; fi; }"
            ]
            for probe in probes {
                lines.append(
                    "probe '\(probe.name.replacingOccurrences(of: "'", with: "'\\''"))' \"\(HostVisibilityTests.shellQuoted(probe.command))\""
                )
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// `text` escaped for a double-quoted shell word.
    static func shellQuoted(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\"\\$`".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// Every probe of the list fails under bubblewrap (run as root in CI: the replay drops to
    /// uid of the drill's own); the sandbox is 0700 and the replay's uid's while it runs, and root's after it.
    @Test(.needsTool("bwrap", package: "bubblewrap"), .needsTool("/usr/bin/python3", package: "python3"))
    func everyProbeOfTheHostFailsUnderBubblewrap() async throws {
        _ = try requireTool("bwrap", package: "bubblewrap")
        _ = try requireTool("/usr/bin/python3", package: "python3")
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let places = try HostPlaces(fixture)
        defer { places.cleanUp() }

        let fill = "/dev/shm/restore-drill-fill-\(fixture.token)"
        let overCap = IsolatedReplayer.sharedMemoryCap + (1 << 20)
        let sandbox = fixture.sandbox.path.pathString
        let outcome = try await fixture.replay(
            places.script + """
                if head -c \(overCap) /dev/zero > '\(fill)' 2>/dev/null; then echo "REACHED shm past its cap"; else echo "refused shm past its cap"; fi
                echo "shm holds $(wc -c < '\(fill)')"
                echo "sandbox $(stat -c '%u %a' '\(sandbox)')"
                echo "whoami $(id -un)"
                """, isolation: .bubblewrap, timeout: 20)
        let output = String(decoding: outcome.process.standardOutput, as: UTF8.self)
        #expect(outcome.process.exitCode == 0, "\(String(decoding: outcome.process.tail, as: UTF8.self))")
        #expect(outcome.isolation == .bubblewrap)
        for probe in places.probes {
            #expect(output.contains("refused \(probe.name)\n"), "probe '\(probe.name)': \(output)")
        }
        #expect(!output.contains("REACHED"), "\(output)")
        #expect(output.contains("refused shm past its cap\n"))
        #expect(output.contains("shm holds \(IsolatedReplayer.sharedMemoryCap)\n"), "\(output)")
        #expect(places.socket.drain() == 0, "the replay connected to \(places.socket.path)")
        // The replay's uid, found in the replay's own passwd.
        let uid = fixture.replayer.replayIdentity?.uid ?? getuid()
        #expect(output.contains("sandbox \(uid) 700\n"), "\(output)")
        if (ReplayUIDLease.first...ReplayUIDLease.last).contains(uid) {
            #expect(output.contains("whoami replay\n"), "\(output)")  // named by the replay's own passwd
        }
        // After the replay: 0700, root's again when the tool runs as root, the marker intact,
        // the replay's /etc files gone, and nothing written into the host's /dev/shm.
        var info = stat()
        #expect(stat(sandbox, &info) == 0 && info.st_mode & 0o7777 == 0o700)
        #expect(info.st_uid == geteuid())
        #expect(!FileManager.default.fileExists(atPath: sandbox + "/" + IsolatedReplayer.etcFolder))
        #expect(!FileManager.default.fileExists(atPath: fill))
        #expect(fixture.canaries.verify() == [])
        try fixture.sandbox.remove()
    }

    /// The control: without isolation (as root, still as the drill's own uid), the same probes reach the
    /// places made readable, so each probe above failed because of the binds.
    @Test(.needsTool("/usr/bin/python3", package: "python3"))
    func theSameProbesReachTheHostWithoutIsolation() async throws {
        _ = try requireTool("/usr/bin/python3", package: "python3")
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let places = try HostPlaces(fixture)
        defer { places.cleanUp() }
        let outcome = try await fixture.replay(places.script, isolation: .none, timeout: 20)
        let output = String(decoding: outcome.process.standardOutput, as: UTF8.self)
        #expect(outcome.process.exitCode == 0, "\(String(decoding: outcome.process.tail, as: UTF8.self))")
        for probe in places.probes where probe.reachableWithoutIsolation {
            #expect(output.contains("REACHED \(probe.name)\n"), "probe '\(probe.name)': \(output)")
        }
        #expect(places.socket.drain() == 1)
    }

    /// A replay that removes or rewrites the sandbox's marker (the uid owns the folder while it
    /// runs) does not stop the sandbox from being removed: the marker is put back.
    @Test(.enabled(if: geteuid() == 0, "needs root: the replay's uid owns the sandbox only when the tool drops root"))
    func aMarkerTheReplayRemovedIsPutBack() async throws {
        let fixture = try ReplayFixture()
        defer { fixture.cleanUp() }
        let marker = fixture.sandbox.path.appending(component: RestoreSandbox.markerName).pathString
        let before = FileManager.default.contents(atPath: marker)
        let outcome = try await fixture.replay(
            "rm -f '\(marker)' && mkdir '\(marker)' && echo gone", isolation: testedModes[0])
        #expect(String(decoding: outcome.process.standardOutput, as: UTF8.self) == "gone\n")
        #expect(FileManager.default.contents(atPath: marker) == before)
        try fixture.sandbox.remove()
        #expect(!FileManager.default.fileExists(atPath: fixture.sandbox.path.pathString))
    }
}
