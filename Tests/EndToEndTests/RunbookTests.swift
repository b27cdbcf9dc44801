import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 19: `restore-drill runbook` and the runbook the schedule keeps, followed literally on a
/// fake new machine.
@Suite(.serialized)
struct RunbookTests {
    /// The ```sh blocks of a Markdown runbook, their lines in order.
    static func commands(_ markdown: String) -> [String] {
        var out: [String] = []
        var inside = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "```sh" {
                inside = true
            } else if line == "```" {
                inside = false
            } else if inside {
                out.append(String(line))
            }
        }
        return out
    }

    /// The ```sh blocks of a Markdown runbook, each its lines in order.
    static func blocks(_ markdown: String) -> [[String]] {
        var out: [[String]] = []
        var current: [String]?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "```sh" {
                current = []
            } else if line == "```", let block = current {
                out.append(block)
                current = nil
            } else if current != nil {
                current?.append(String(line))
            }
        }
        return out
    }

    /// A fake new machine: `<scratch>/home` (empty), `<scratch>/work` (where the runbook is run),
    /// `<scratch>/stubs` with `brew`, `launchctl` and `pip3` stand-ins that append each argument on
    /// its own line, then `--`, to `<scratch>/<name>.log`.
    struct NewMachine {
        let base: String
        var home: String { base + "/home" }
        var work: String { base + "/work" }
        var stubs: String { base + "/stubs" }

        init() throws {
            base = try Tool.scratch("new-machine")
            for folder in [base, home, work, stubs] {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                chmod(folder, 0o755)
            }
            for name in ["brew", "launchctl", "pip3"] {
                let stub =
                    "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '\(base)/\(name).log'\n"
                    + "printf -- '--\\n' >> '\(base)/\(name).log'\n"
                try Data(stub.utf8).write(to: URL(fileURLWithPath: "\(stubs)/\(name)"))
                chmod("\(stubs)/\(name)", 0o755)
            }
        }

        /// What the stand-in `name` recorded: one array of arguments per call.
        func calls(_ name: String) -> [[String]] {
            guard let text = try? String(contentsOfFile: "\(base)/\(name).log", encoding: .utf8) else { return [] }
            var out: [[String]] = []
            var current: [String] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                if line == "--" {
                    out.append(current)
                    current = []
                } else {
                    current.append(String(line))
                }
            }
            return out
        }

        /// Runs `lines` as one sh script in ``work`` with HOME the new home and the stand-ins and
        /// the built tool first on PATH.
        func run(_ lines: [String], exitOnError: Bool, environment: [String: String] = [:]) throws -> ToolRun {
            let script = base + "/runbook.sh"
            try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: script))
            var env = [
                "HOME": home,
                "PATH": "\(stubs):\((try Tool.binary as NSString).deletingLastPathComponent):/usr/bin:/bin",
            ]
            for (k, v) in environment { env[k] = v }
            return try runTool("/bin/sh", (exitOnError ? ["-e"] : []) + [script], environment: env, directory: work)
        }
    }

    /// A format-2 workspace with a database, a LaunchAgent, a vault (password from the variable
    /// RD_RUNBOOK_PW) and two formulas in the homebrew list.
    static func workspace(
        _ name: String, format: Int = 2, databases: [String] = ["data/app.db"], agent: String = "com.maia.runbook"
    )
        throws -> SmallWorkspace
    {
        let ws = try SmallWorkspace.make(name, format: format)
        var config = try String(contentsOfFile: ws.config, encoding: .utf8)
        config = config.replacingOccurrences(of: "launchagents: {include: []}\n", with: "")
        config = config.replacingOccurrences(
            of: "dependencies: {python: [/bin/echo, \"requests==2.31.0\"], homebrew: [/bin/echo, \"git 2.42.0\"]}\n",
            with: "")
        config += """
            launchagents: {include: ["~/Library/LaunchAgents/*.plist"]}
            dependencies:
              python: [/bin/echo, "requests==2.31.0"]
              homebrew: [/usr/bin/printf, '%s\\n', 'git 2.42.0', 'sqlite 3.45.1', "it's`touch pwned` 1", '$(touch pwned) 2']
            credentials:
              include: [secret.txt]
              password: {env: RD_RUNBOOK_PW}

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: ws.config))
        try ws.write("notes.txt", "hello\n")
        try ws.write("secret.txt", "token=42\n")
        let sqlite = try requireTool("sqlite3", package: "sqlite3")
        for db in databases {
            let path = ws.root + "/" + db
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let made = try runTool(sqlite, [path, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2);"])
            #expect(made.status == 0, "\(made.error)")
        }
        let agents = ws.home + "/Library/LaunchAgents"
        try FileManager.default.createDirectory(atPath: agents, withIntermediateDirectories: true)
        let plist: [String: Any] = ["Label": agent, "ProgramArguments": ["/bin/sh", "-c", "true"]]
        try PropertyListSerialization.data(fromPropertyList: plist, format: .xml, options: 0).write(
            to: URL(fileURLWithPath: "\(agents)/\(agent).plist"))
        return ws
    }

    static let password = ["RD_RUNBOOK_PW": "correct horse battery staple"]

    @Test(.needsTool("sqlite3", package: "sqlite3"))
    func followedLiterallyOnANewMachineRestoresAndDrillsPass() throws {
        let ws = try Self.workspace("runbook-literal")
        defer { ws.remove() }
        let backup = try ws.run(["backup"], environment: Self.password)
        try #require(backup.status == 0, "\(backup.stdout)\(backup.stderr)")
        let drill = try ws.run(["drill", "--json"], environment: Self.password)
        try #require(drill.status == 0, "\(drill.stderr)")
        let drillID = try Tool.drillReport(drill.stdout).drillID.description

        // The schedule's copy: written after the full drill, 0600, naming that drill.
        let kept = ws.base + "/reports/RUNBOOK.md"
        let keptText = try String(contentsOfFile: kept, encoding: .utf8)
        #expect(keptText.contains(drillID))
        #expect((try FileManager.default.attributesOfItem(atPath: kept)[.posixPermissions] as? Int) == 0o600)

        // A copy of the destination stands for the synced folder on the new machine.
        let copy = ws.base + "/synced-copy"
        try FileManager.default.copyItem(atPath: ws.base + "/backups", toPath: copy)
        var config = try String(contentsOfFile: ws.config, encoding: .utf8)
        config = config.replacingOccurrences(of: "destination: backups", with: "destination: synced-copy")
        let copyConfig = ws.base + "/copy.yml"
        try Data(config.utf8).write(to: URL(fileURLWithPath: copyConfig))
        let made = try Tool.run(["runbook", "--config", copyConfig], in: ws.base, environment: Self.password)
        try #require(made.status == 0, "\(made.stderr)")
        let markdown = made.stdout
        #expect(markdown.hasPrefix("# Runbook: restore full_"), "\(markdown.prefix(200))")
        #expect(markdown.contains(drillID))
        #expect(markdown.contains("measured RTO"))
        #expect(!markdown.contains("WARNING"))
        #expect(!markdown.contains(Self.password["RD_RUNBOOK_PW"]!))

        let machine = try NewMachine()
        defer { try? FileManager.default.removeItem(atPath: machine.base) }
        let lines = Self.commands(markdown)
        let run = try machine.run(lines, exitOnError: true, environment: Self.password)
        #expect(run.status == 0, "\(run.output)\n\(run.error)\n\(markdown)")
        #expect(run.output.contains("ok"), "integrity_check prints ok: \(run.output)")
        #expect(
            (try? String(contentsOfFile: machine.home + "/git/maia/notes.txt", encoding: .utf8)) == "hello\n")
        #expect(machine.calls("brew") == [["install", "git"], ["install", "sqlite"]])
        #expect(
            machine.calls("launchctl") == [
                ["bootstrap", "gui/\(getuid())", machine.home + "/Library/LaunchAgents/com.maia.runbook.plist"]
            ])
        let pip = machine.calls("pip3")
        #expect(pip.count == 1 && pip.first?.prefix(2) == ["install", "-r"])
        #expect(!FileManager.default.fileExists(atPath: machine.work + "/pwned"))
    }

    /// The schedule's runbook is also kept beside the sets on each off-site remote, and its rclone
    /// block, followed literally with the local destination gone, fetches a set that restores and
    /// drills PASS. The remote is an rclone `alias` remote over a local folder, as a person's
    /// `RCLONE_CONFIG` would name a cloud one.
    @Test(.needsTool("sqlite3", package: "sqlite3"), .needsTool("rclone", package: "rclone"))
    func keptBesideTheSetsOnEachRemoteWhoseRcloneStepsFetchARestorableSet() throws {
        let ws = try Self.workspace("runbook-remote")
        defer { ws.remove() }
        let rcloneConfig = ws.base + "/rclone.conf"
        try Data("[here]\ntype = alias\nremote = \(ws.base)/remote\n".utf8).write(
            to: URL(fileURLWithPath: rcloneConfig))
        chmod(rcloneConfig, 0o600)
        var config = try String(contentsOfFile: ws.config, encoding: .utf8)
        config += "offsite:\n  - {name: copy1, rclone: \"here:sets\", encrypted: false}\n"
        try Data(config.utf8).write(to: URL(fileURLWithPath: ws.config))
        var env = Self.password
        env["RCLONE_CONFIG"] = rcloneConfig
        let backup = try ws.run(["backup"], environment: env)
        try #require(backup.status == 0, "\(backup.stdout)\(backup.stderr)")
        let push = try ws.run(["offsite", "push"], environment: env)
        try #require(push.status == 0, "\(push.stdout)\(push.stderr)")
        let drill = try ws.run(["drill", "--json"], environment: env)
        try #require(drill.status == 0, "\(drill.stderr)")
        #expect(!drill.stderr.contains("runbook not"), "\(drill.stderr)")
        let drillID = try Tool.drillReport(drill.stdout).drillID.description

        let kept = try String(contentsOfFile: ws.base + "/reports/RUNBOOK.md", encoding: .utf8)
        let remote = try String(contentsOfFile: ws.base + "/remote/sets/RUNBOOK.md", encoding: .utf8)
        #expect(remote == kept)
        #expect(remote.contains(drillID))
        #expect(remote.contains("rclone copy 'here:sets/full_"), "\(remote)")
        // The remote's check counts the runbook as the tool's own file, not a stray.
        let check = try ws.run(["offsite", "check", "--all"], environment: env)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(!check.stdout.contains("RUNBOOK"), "\(check.stdout)")

        // The machine is gone: only the remote is left. Every block but the local copy's.
        try FileManager.default.moveItem(atPath: ws.base + "/backups", toPath: ws.base + "/backups-gone")
        let blocks = Self.blocks(remote)
        let local = blocks.filter { $0.contains { $0.hasPrefix("cp -R ") } }
        #expect(local.count == 1, "\(blocks)")
        let lines = blocks.filter { block in !block.contains { $0.hasPrefix("cp -R ") } }.flatMap { $0 }
        let machine = try NewMachine()
        defer { try? FileManager.default.removeItem(atPath: machine.base) }
        let run = try machine.run(lines, exitOnError: true, environment: env)
        #expect(run.status == 0, "\(run.output)\n\(run.error)\n\(remote)")
        #expect(run.output.contains("PASS"), "the fetched copy drills PASS: \(run.output)")
        #expect(
            (try? String(contentsOfFile: machine.home + "/git/maia/notes.txt", encoding: .utf8)) == "hello\n")
        #expect(
            (try? String(contentsOfFile: machine.home + "/git/maia/secret.txt", encoding: .utf8)) == "token=42\n")
    }

    @Test(.needsTool("sqlite3", package: "sqlite3"))
    func warnsFirstWhenNeverDrilledOrLastDrillFailed() throws {
        let ws = try Self.workspace("runbook-warn", format: 1)
        defer { ws.remove() }
        let backup = try ws.run(["backup"], environment: Self.password)
        try #require(backup.status == 0, "\(backup.stderr)")
        let never = try ws.run(["runbook"], environment: Self.password)
        try #require(never.status == 0, "\(never.stderr)")
        #expect(never.stdout.hasPrefix("# WARNING: this set has never passed a drill\n"), "\(never.stdout.prefix(300))")

        let pass = try ws.run(["drill", "--json"], environment: Self.password)
        try #require(pass.status == 0, "\(pass.stderr)")
        let passID = try Tool.drillReport(pass.stdout).drillID.description
        let set = try #require(
            try FileManager.default.contentsOfDirectory(atPath: ws.base + "/backups").first { $0.hasPrefix("full_") })
        try SetSurgery.flipByte(ws.base + "/backups/\(set)/code.tar.gz")
        let fail = try ws.run(["drill"], environment: Self.password)
        #expect(fail.status == 1, "\(fail.stderr)")

        let failed = try ws.run(["runbook", set], environment: Self.password)
        try #require(failed.status == 0, "\(failed.stderr)")
        let first = failed.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("# WARNING: this set's last drill FAILED on "), "\(first)")
        #expect(first.contains("set.artifacts"), "\(first)")
        #expect(failed.stdout.contains(passID), "the passing drill is still named")

        let out = ws.base + "/runbook.html"
        let html = try ws.run(["runbook", set, "--format", "html", out], environment: Self.password)
        try #require(html.status == 0, "\(html.stderr)")
        let page = try String(contentsOfFile: out, encoding: .utf8)
        #expect(
            page.contains("<h1 class=\"warning\">WARNING: this set&#39;s last drill FAILED on "), "\(page.prefix(900))")
        #expect(!page.contains("<script"))
        #expect((try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int) == 0o600)
    }

    @Test(.needsTool("sqlite3", package: "sqlite3"))
    func hostileNamesStayInsideTheirQuotes() throws {
        let hostile = "it's '$(touch pwned)' `touch pwned`"
        let ws = try Self.workspace(
            "runbook-hostile", databases: ["data/\(hostile).db"], agent: "com.maia.x'$(touch pwned)'")
        defer { ws.remove() }
        let backup = try ws.run(["backup", "--no-push"], environment: Self.password)
        try #require(backup.status == 0, "\(backup.stdout)\(backup.stderr)")
        let made = try ws.run(["runbook"], environment: Self.password)
        try #require(made.status == 0, "\(made.stderr)")
        let machine = try NewMachine()
        defer { try? FileManager.default.removeItem(atPath: machine.base) }
        _ = try machine.run(Self.commands(made.stdout), exitOnError: false, environment: Self.password)
        let found = FileManager.default.enumerator(atPath: machine.base)?.compactMap { $0 as? String } ?? []
        #expect(!found.contains { ($0 as NSString).lastPathComponent == "pwned" }, "\(found)")
        #expect(!FileManager.default.fileExists(atPath: ws.base + "/pwned"))
        #expect(
            machine.calls("launchctl").last?.last
                == machine.home + "/Library/LaunchAgents/com.maia.x'$(touch pwned)'.plist")
        #expect(machine.calls("brew") == [["install", "git"], ["install", "sqlite"]])
        #expect(made.stdout.contains("# not a formula name, not installed: it's`touch pwned` 1"))
    }
}
