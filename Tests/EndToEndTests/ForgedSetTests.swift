import DrillCore
import Foundation
import Testing
import Vault

/// HIGH-A of the trust work: a set dropped into the destination by someone without the vault
/// password (a forged newer copy of a real set, resealed: artifact digests, `manifest_sha256` and
/// SHA256SUMS recomputed, the HMAC either removed or left stale) gets no secret, does not count,
/// and is never removed because of it.
@Suite(.serialized) struct ForgedSetTests {
    /// The forged script: prints its arguments, environment and open descriptors (and where each
    /// leads, `/proc/self/fd` targets), then tries to read every file it can name (its arguments,
    /// every descriptor but its own output, pipes included, the drill's password folders,
    /// its parents' environments, the real home, /root, /tmp) and prints what it read.
    static let probe = #"""
        #!/bin/sh
        echo "PROBE-RAN"
        echo "ARGS: $*"
        echo "ENV:"; env
        echo "FDS:"; ls -l /proc/self/fd 2>&1
        echo "FD TARGETS:"; for f in /proc/self/fd/*; do echo "$f -> $(readlink "$f" 2>&1)"; done
        for f in /proc/self/fd/*; do
          case ${f##*/} in 1|2) continue ;; esac
          [ -r "$f" ] && [ ! -d "$f" ] && { echo "FD READ $f:"; timeout 2 head -c 4096 "$f" 2>/dev/null; echo; }
        done
        for a in "$@"; do [ -f "$a" ] && { echo "READ $a:"; cat "$a" 2>&1; }; done
        for f in /proc/self/fd/*; do [ -f "$f" ] && { echo "FD $f:"; head -c 4096 "$f" 2>/dev/null; echo; }; done
        for f in /tmp/restore-drill-password.*/password /tmp/*/password /tmp/*/*/password; do
          [ -e "$f" ] && { echo "TMP $f:"; cat "$f" 2>&1; }
        done
        for p in $PPID 1; do echo "ENVIRON $p:"; tr '\0' '\n' < /proc/$p/environ 2>&1; done
        for f in "$PROBE_HOME"/* /root/* /root/.*; do [ -f "$f" ] && { echo "HOME $f:"; head -c 4096 "$f" 2>&1; }; done
        # Again at the end: the report keeps the output's last 40 lines, and what came first may
        # have scrolled out of them (the arguments must be seen to hold no password option).
        echo "PROBE-RAN ARGS: $*"
        exit 0
        """#

    /// The probe's `FD TARGETS:` lines for descriptors above 2 that lead to a pipe, a socket or a
    /// file named like a password (what a handed-in password would be); the shell's own
    /// descriptors (the script it reads, on 10 for dash) are not among them.
    static func descriptorsBeyondOutput(_ output: String) -> [String] {
        output.split(separator: "\n").filter { line in
            guard line.hasPrefix("/proc/self/fd/"), let arrow = line.range(of: " -> ") else { return false }
            let number = Int(line[line.index(line.startIndex, offsetBy: 14)..<arrow.lowerBound]) ?? 0
            let target = line[arrow.upperBound...]
            return number > 2
                && (target.hasPrefix("pipe:") || target.hasPrefix("socket:") || target.contains("password"))
        }.map(String.init)
    }

    struct World {
        var base: String
        var config: String
        var destination: String
        var password: String
        var env: [String: String]
        var realSet: String
        var realID: BackupID

        func run(_ arguments: [String]) throws -> SecretCommandLineTests.Run {
            try SecretCommandLineTests.run(arguments + ["--config", config], environment: env, cwd: base)
        }

        /// Every file under `folder` that holds the password in any form a scrubber knows.
        func filesHoldingThePassword(under folder: String) -> [String] {
            let forms = SecretScrubber(password: try? VaultPassword(password, origin: "test")).secrets
            var hits: [String] = []
            let fm = FileManager.default
            guard let walker = fm.enumerator(atPath: folder) else { return [] }
            for case let relative as String in walker {
                let path = (folder as NSString).appendingPathComponent(relative)
                guard let data = fm.contents(atPath: path) else { continue }
                let text = String(decoding: data, as: UTF8.self)
                if forms.contains(where: { text.contains($0) }) { hits.append(path) }
            }
            return hits
        }

        /// A copy of the real set under an id `hours` later, its script replaced by ``probe``,
        /// resealed; `keepStaleHMAC` leaves the (now wrong) HMAC in, else it is removed.
        func forge(hoursLater hours: Double, keepStaleHMAC: Bool) throws -> (id: BackupID, path: String) {
            let id = BackupID(date: realID.date.addingTimeInterval(hours * 3600))
            let path = (destination as NSString).appendingPathComponent(id.description)
            try FileManager.default.copyItem(atPath: realSet, toPath: path)
            let manifest = try Manifest.load(setPath: path)
            let script = "\(path)/\(manifest.restoreScript)"
            try Data(Self.probeText(home: base + "/home").utf8).write(to: URL(fileURLWithPath: script))
            chmod(script, 0o755)
            try SetSurgery.seal(path) { m in
                m.id = id
                if !keepStaleHMAC {
                    m.manifestHMAC = nil
                    m.manifestHMACSalt = nil
                }
            }
            return (id, path)
        }

        static func probeText(home: String) -> String {
            probe.replacingOccurrences(of: "\"$PROBE_HOME\"", with: "'\(home)'")
        }
    }

    /// A workspace with credentials, a vault password from the environment, and one real set.
    static func world() throws -> World {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("rd-e2e-forged-\(UUID().uuidString.prefix(8))").path
        let home = base + "/home"
        let root = home + "/git/maia"
        try fm.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/secrets", withIntermediateDirectories: true)
        try Data("print('hi')\n".utf8).write(to: URL(fileURLWithPath: root + "/src/main.py"))
        try Data("{\"token\": \"tok-\(UUID().uuidString)\"}\n".utf8).write(
            to: URL(fileURLWithPath: root + "/secrets/api.json"))
        // The probe runs as another uid when the tests run as root: let it reach the sandbox.
        chmod(base, 0o755)
        let config = base + "/restore-drill.yml"
        try Data(
            """
            name: maia
            home: \(home)
            root: ~/git/maia
            destination: backups
            set_format: 1
            shell: {files: []}
            launchagents: {include: []}
            dependencies: {python: [/bin/echo, "requests==2.31.0"], homebrew: [/bin/echo, "git 2.42.0"]}
            credentials:
              include: [secrets]
              password:
                env: RD_E2E_FORGED_PASSWORD
            retention: {last: 1, daily: 1, weekly: 0, monthly: 0, timezone: UTC}
            sandbox: {timeout: 2m}

            """.utf8
        ).write(to: URL(fileURLWithPath: config))
        let password = "forged-pw-\(UUID().uuidString)"
        let env = ["RD_E2E_FORGED_PASSWORD": password]
        let backup = try SecretCommandLineTests.run(
            ["backup", "--config", config, "--json"], environment: env, cwd: base)
        #expect(backup.status == 0, "\(backup.err)")
        let destination = base + "/backups"
        let names = try fm.contentsOfDirectory(atPath: destination).filter { BackupID($0) != nil }
        let name = try #require(names.first)
        return World(
            base: base, config: config, destination: destination, password: password, env: env,
            realSet: destination + "/" + name, realID: try #require(BackupID(name)))
    }

    @Test(arguments: [false, true])
    func aForgedSetDrilledByIdGetsNoSecretAndFails(keepStaleHMAC: Bool) throws {
        let w = try Self.world()
        defer { try? FileManager.default.removeItem(atPath: w.base) }
        let forged = try w.forge(hoursLater: 1, keepStaleHMAC: keepStaleHMAC)

        let drill = try w.run(["drill", forged.id.description, "--json"])
        #expect(drill.status == ExitStatus.findings.rawValue, "\(drill.err)")
        let report = try Tool.drillReport(drill.out)
        #expect(report.verdict == .fail)
        #expect(report.authenticated == false)
        let manifest = try #require(report.checks.first { $0.check == .setManifest })
        #expect(manifest.verdict == .fail)
        #expect(manifest.message.contains("HMAC"))
        let vault = try #require(report.checks.first { $0.check == .credentialsVault })
        #expect(vault.verdict == .skip && vault.message.contains("got no password"), "\(vault.message)")
        // The probe ran (its output is in the report), was handed no password file, and read nothing secret.
        let script = try #require(report.checks.first { $0.check == .restoreScript })
        let output = script.evidence.joined(separator: "\n")
        #expect(output.contains("PROBE-RAN"), "\(output)")
        #expect(!output.contains("--password-file") && !output.contains("--password-fd"), "\(output)")
        #expect(output.contains("FD TARGETS:"), "\(output)")
        #expect(Self.descriptorsBeyondOutput(output).isEmpty, "\(output)")
        // Scrubbing is the second line of defence: the first is that nothing reached the probe.
        #expect(!output.contains(SecretScrubber.redaction), "\(output)")
        #expect(!drill.out.contains(w.password) && !drill.err.contains(w.password))

        // No report, event, kept sandbox or log holds the password in any form.
        for folder in ["reports", "sandboxes", "backups/.restore-drill"] {
            let hits = w.filesHoldingThePassword(under: w.base + "/" + folder)
            #expect(hits.isEmpty, "password found in \(hits)")
        }
    }

    @Test func forgedNewerSetsDoNotCountAndAreNeverRemoved() throws {
        let w = try Self.world()
        defer { try? FileManager.default.removeItem(atPath: w.base) }
        let forged = try (1...3).map { try w.forge(hoursLater: Double($0) * 24, keepStaleHMAC: $0 == 2) }
        // Everything after the real set is dated in the future for the real clock: pin it after them.
        let now = Timestamp.string(w.realID.date.addingTimeInterval(4 * 86400))
        var env = w.env
        env["RESTORE_DRILL_NOW"] = now
        let world = World(
            base: w.base, config: w.config, destination: w.destination, password: w.password, env: env,
            realSet: w.realSet, realID: w.realID)

        // drill --latest passes over the forged sets and drills the real one, with its secret.
        let latest = try world.run(["drill", "--latest", "--json"])
        let report = try Tool.drillReport(latest.out)
        #expect(report.backupID == w.realID, "\(latest.err)")
        #expect(report.authenticated == true)
        #expect(report.checks.first { $0.check == .credentialsVault }?.verdict == .pass)

        // list names them unauthenticated.
        let list = try world.run(["list", "--json"])
        #expect(list.status == 0, "\(list.err)")
        for f in forged {
            #expect(list.out.contains("\"\(f.id)\""))
        }
        #expect(list.out.components(separatedBy: "\"unauthenticated\"").count - 1 == forged.count, "\(list.out)")
        // The table says it whole (it was cut to `unauthen`).
        let table = try world.run(["list"])
        for f in forged {
            let line = table.out.split(separator: "\n").first { $0.hasPrefix(f.id.description) }.map(String.init) ?? ""
            #expect(line.contains(" unauthenticated "), "\(table.out)")
        }

        // health warns about each and judges the backup age on the real set only.
        let health = try world.run(["health", "--json"])
        #expect(health.out.contains("unauthenticated_set"), "\(health.out)")
        for f in forged { #expect(health.out.contains(f.id.description)) }

        // prune (daily: 1) keeps the real set and never removes a forged one.
        let prune = try world.run(["prune", "--json"])
        #expect(prune.status == 0, "\(prune.err)")
        #expect(FileManager.default.fileExists(atPath: w.realSet))
        for f in forged { #expect(FileManager.default.fileExists(atPath: f.path), "\(prune.out)") }

        // The same prune without a password would have let the forged sets push the real one out.
        var unkeyed = env
        unkeyed["RD_E2E_FORGED_PASSWORD"] = nil
        let config = try String(contentsOfFile: w.config, encoding: .utf8).replacingOccurrences(
            of: "  password:\n    env: RD_E2E_FORGED_PASSWORD\n", with: "")
        try Data(config.utf8).write(to: URL(fileURLWithPath: w.base + "/unkeyed.yml"))
        let dry = try SecretCommandLineTests.run(
            ["prune", "--dry-run", "--json", "--config", w.base + "/unkeyed.yml"], environment: unkeyed, cwd: w.base)
        #expect(dry.out.contains("remove \(w.realID)"), "\(dry.out)")
    }

    @Test func aSetWithADamagedArtifactGetsNoSecretEvenWhenItsManifestIsAuthentic() throws {
        let w = try Self.world()
        defer { try? FileManager.default.removeItem(atPath: w.base) }
        // An authentic manifest (HMAC intact) whose script was swapped without resealing: the
        // artifact check catches the script, so the replay must get no password. The probe is
        // padded to the script's recorded size, so only its digest differs (a script of another
        // size is not even copied for the replay).
        let manifest = try Manifest.load(setPath: w.realSet)
        let script = "\(w.realSet)/\(manifest.restoreScript)"
        let recorded = try #require(manifest.artifacts.first { $0.path == manifest.restoreScript }).size
        var probe = Array(World.probeText(home: w.base + "/home").utf8)
        #expect(Int64(probe.count + 2) <= recorded)
        probe += Array("\n#".utf8) + [UInt8](repeating: UInt8(ascii: "#"), count: Int(recorded) - probe.count - 2)
        try Data(probe).write(to: URL(fileURLWithPath: script))
        let drill = try w.run(["drill", w.realID.description, "--json"])
        #expect(drill.status == ExitStatus.findings.rawValue)
        let report = try Tool.drillReport(drill.out)
        #expect(report.checks.first { $0.check == .setManifest }?.verdict == .pass)
        #expect(report.checks.contains { $0.check == .setArtifacts && $0.verdict == .fail })
        let output = report.checks.first { $0.check == .restoreScript }?.evidence.joined(separator: "\n") ?? ""
        #expect(output.contains("PROBE-RAN"), "\(output)")
        #expect(!output.contains("--password-file") && !output.contains(SecretScrubber.redaction), "\(output)")
        #expect(!output.contains("--password-fd"), "\(output)")
        #expect(Self.descriptorsBeyondOutput(output).isEmpty, "\(output)")
        let vault = report.checks.first { $0.check == .credentialsVault }
        #expect(
            vault?.verdict == .skip && vault?.message.contains("got no password") == true, "\(vault?.message ?? "")")
        for folder in ["reports", "sandboxes", "backups/.restore-drill"] {
            #expect(w.filesHoldingThePassword(under: w.base + "/" + folder).isEmpty)
        }
    }
}
