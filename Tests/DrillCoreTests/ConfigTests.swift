import Foundation
import Testing

@testable import DrillCore

/// The full configuration example, every key of README, "Configuration": every key must be accepted.
let designExample = """
    # restore-drill.yml
    name: maia                          # the restore script is restore_<name>.sh
    home: /Users/alice                  # "~" in any path below means this home
    root: /Users/alice/git/maia         # code/databases/credentials paths are relative to root
    destination: /Users/alice/OneDrive/MaiaBackups
    code:
      exclude: [.git, __pycache__, "*.pyc", .venv]
      compression_level: 6
    databases:
      include: ["claude/data/**/*.db"]  # ** matches zero or more folders
      small_limit: 10MiB                # at or over this, a database is chunked
      chunk_size: 50MiB
    launchagents:
      include: ["~/Library/LaunchAgents/com.maia.*.plist"]
    shell:
      files: [~/.zshrc, ~/.zprofile, ~/.gitconfig]
    dependencies:                       # argv arrays, never shell strings
      python: [pip3, freeze]
      homebrew: [brew, list, --versions]
    credentials:
      include: [claude/data/credentials]
      password:                         # exactly one of env / file / command
        command: [security, find-generic-password, -w, -s, maia_vault_password]
    objectives: {rpo: 24h, rto: 30m}
    coverage: {max_shrink: 50%}          # set.coverage: largest accepted drop of a component's bytes or files
    retention: {last: 1, daily: 7, weekly: 4, monthly: 12, timezone: Australia/Perth}
    health: {backup_warning: 25h, backup_critical: 36h, drill_warning: 8d, drill_critical: 10d}
    sandbox:
      folder: sandboxes                 # relative folders are relative to this file's folder
      isolation: auto                   # auto | bubblewrap | none
      timeout: 60m
      limits: {cpu: 30m, memory: 4GiB, file_size: 16GiB, open_files: 1024, processes: 256}
      keep: on-failure                  # always | on-failure | never
    reports: {folder: reports, keep: 50}
    schedule: {backup: "03:00", prune: "04:00", drill: "Sun 05:00", health: hourly}
    hooks: {on_failure: [], on_success: []}   # argv arrays run after backup/drill

    """

@Suite struct ConfigTests {
    @Test func designExampleIsAcceptedAndResolved() throws {
        let c = try RestoreDrillConfig.parse(designExample, file: "/etc/rd/restore-drill.yml")
        #expect(c.name == "maia")
        #expect(c.home == "/Users/alice")
        #expect(c.root == "/Users/alice/git/maia")
        #expect(c.destination == "/Users/alice/OneDrive/MaiaBackups")
        #expect(c.code.exclude == [".git", "__pycache__", "*.pyc", ".venv"])
        #expect(c.databases.smallLimit == 10 << 20)
        #expect(c.databases.chunkSize == 50 << 20)
        #expect(c.launchAgents.include == ["/Users/alice/Library/LaunchAgents/com.maia.*.plist"])
        #expect(c.shell.files == ["/Users/alice/.zshrc", "/Users/alice/.zprofile", "/Users/alice/.gitconfig"])
        #expect(c.dependencies.python == ["pip3", "freeze"])
        #expect(c.credentials.include == ["/Users/alice/git/maia/claude/data/credentials"])
        #expect(
            c.credentials.password
                == .command(["security", "find-generic-password", "-w", "-s", "maia_vault_password"]))
        #expect(c.objectives.rpo == 86400)
        #expect(c.objectives.rto == 1800)
        #expect(c.coverage.maxShrink == 0.5)
        #expect(c.retention.timeZone == "Australia/Perth")
        #expect(c.health.drillCritical == 10 * 86400)
        #expect(c.sandbox.folder == "/etc/rd/sandboxes")
        #expect(c.sandbox.limits.memory == 4 << 30)
        #expect(c.sandbox.keep == .onFailure)
        #expect(c.reports.folder == "/etc/rd/reports")
        #expect(c.reports.keep == 50)
        #expect(c.schedule.drill == "Sun 05:00")
    }

    /// The reports are this machine's word on its drills: a reports folder inside the destination,
    /// where anyone who can write could plant them, is refused; one beside it is fine.
    @Test func aReportsFolderInsideTheDestinationIsRefused() throws {
        let base = "home: /h\nroot: /h/r\ndestination: /d/backups\n"
        for inside in ["/d/backups", "/d/backups/reports", "/d/backups/./x/../reports"] {
            do {
                _ = try RestoreDrillConfig.parse(base + "reports: {folder: \(inside)}\n", file: "/c.yml")
                Issue.record("accepted \(inside)")
            } catch let e as RestoreDrillError {
                guard case .config(_, _, let key, let message) = e else {
                    Issue.record("wrong case \(e)")
                    continue
                }
                #expect(key == "reports.folder")
                #expect(message.contains("inside the destination"), "\(message)")
            }
        }
        let beside = try RestoreDrillConfig.parse(base + "reports: {folder: /d/backups-reports}\n", file: "/c.yml")
        #expect(beside.reports.folder == "/d/backups-reports")
    }

    @Test func evidenceKeyResolvesBesideTheFileOrDefaultsUnderHome() throws {
        let base = "home: /h\nroot: /h/r\ndestination: /d\n"
        let relative = try RestoreDrillConfig.parse(
            base + "evidence: {key: keys/evidence.key}\n", file: "/etc/rd/c.yml")
        #expect(relative.evidence.key == "/etc/rd/keys/evidence.key")
        #expect(relative.evidence.keyPath == "/etc/rd/keys/evidence.key")
        let tilde = try RestoreDrillConfig.parse(base + "evidence: {key: ~/k/ev.key}\n", file: "/etc/rd/c.yml")
        #expect(tilde.evidence.key == "/h/k/ev.key")
        let none = try RestoreDrillConfig.parse(base, file: "/etc/rd/c.yml")
        #expect(none.evidence.key == nil)
        #expect(
            RestoreDrillConfig.EvidenceSettings.defaultKeyPath(environment: ["HOME": "/home/a"])
                == "/home/a/.config/restore-drill/evidence.key")
        #expect(throws: RestoreDrillError.self) {
            try RestoreDrillConfig.parse(base + "evidence: {keys: x}\n", file: "/c.yml")
        }
    }

    @Test func unknownKeyNamesKeyAndLine() {
        let text = "home: /h\nroot: /h/r\ndestination: /d\ndatabases:\n  includ: [x]\n"
        #expect(throws: RestoreDrillError.self) { try RestoreDrillConfig.parse(text, file: "/c.yml") }
        do {
            _ = try RestoreDrillConfig.parse(text, file: "/c.yml")
        } catch let e as RestoreDrillError {
            guard case .config(let file, let line, let key, _) = e else {
                Issue.record("wrong case \(e)")
                return
            }
            #expect(file == "/c.yml")
            #expect(line == 5)
            #expect(key == "databases.includ")
            #expect(e.exitStatus == .usage)
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test(arguments: [
        ("sandbox:\n  timeout: soon\n", 5, "sandbox.timeout"),
        ("databases:\n  small_limit: big\n", 5, "databases.small_limit"),
        ("sandbox:\n  isolation: docker\n", 5, "sandbox.isolation"),
        ("retention:\n  timezone: Mars/Base\n", 5, "retention.timezone"),
        ("dependencies:\n  python: pip3 freeze\n", 5, "dependencies.python"),
        ("credentials:\n  password: {env: X, file: /f}\n", 5, "credentials.password"),
        ("credentials:\n  password: {env: X}\n  previous_passwords: {env: Y}\n", 6, "credentials.previous_passwords"),
        (
            "credentials:\n  password: {env: X}\n  previous_passwords:\n    - {env: Y}\n    - {smell: Z}\n", 8,
            "credentials.previous_passwords[2].smell"
        ),
        ("credentials:\n  previous_passwords: [{env: Y}]\n", 5, "credentials.previous_passwords"),
        ("code:\n  compression_level: 12\n", 5, "code.compression_level"),
        ("retention:\n  daily: -1\n", 5, "retention.daily"),
        ("schedule:\n  backup: \"25:00\"\n", 5, "schedule.backup"),
        ("schedule:\n  drill: Sunday 5am\n", 5, "schedule.drill"),
        ("databases:\n  chunk_size: 4KiB\n", 5, "databases.chunk_size"),
        ("sandbox:\n  limits: {memory: 1KiB}\n", 5, "sandbox.limits.memory"),
    ])
    func badValuesNameKeyAndLine(_ tail: String, _ line: Int, _ key: String) {
        let text = "home: /h\nroot: /h/r\ndestination: /d\n" + tail
        do {
            _ = try RestoreDrillConfig.parse(text, file: "/c.yml")
            Issue.record("accepted \(tail)")
        } catch let RestoreDrillError.config(_, l, k, _) {
            #expect(l == line)
            #expect(k == key)
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func previousPasswordsAreReadInOrder() throws {
        let c = try RestoreDrillConfig.parse(
            "home: /h\nroot: /h/r\ndestination: /d\ncredentials:\n  password: {env: NOW}\n"
                + "  previous_passwords:\n    - {env: LAST_YEAR}\n    - {file: old.pw}\n    - {command: [pass, show, old]}\n",
            file: "/etc/rd/c.yml")
        #expect(c.credentials.password == .environment("NOW"))
        #expect(
            c.credentials.previousPasswords == [
                .environment("LAST_YEAR"), .file("/etc/rd/old.pw"), .command(["pass", "show", "old"]),
            ])
    }

    @Test func missingRequiredKeyIsNamed() {
        do {
            _ = try RestoreDrillConfig.parse("home: /h\nroot: /h/r\n", file: "/c.yml")
            Issue.record("accepted")
        } catch let RestoreDrillError.config(_, _, k, m) {
            #expect(k == "destination")
            #expect(m == "is required")
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func yamlSyntaxErrorHasALine() {
        do {
            _ = try RestoreDrillConfig.parse("home: /h\nroot: [unclosed\n", file: "/c.yml")
            Issue.record("accepted")
        } catch let RestoreDrillError.config(_, l, _, _) {
            #expect(l != nil)
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func tildeAndRelativePathsResolve() throws {
        let c = try RestoreDrillConfig.parse(
            "home: /h\nroot: ~/git/p\ndestination: ../backups\nsandbox: {folder: sb}\nshell: {files: [~/.zshrc]}\n",
            file: "/etc/rd/c.yml")
        #expect(c.root == "/h/git/p")
        #expect(c.destination == "/etc/backups")
        #expect(c.sandbox.folder == "/etc/rd/sb")
        #expect(c.shell.files == ["/h/.zshrc"])
    }

    @Test func scheduleAndHooksAreBuiltSoNoNotice() throws {
        let c = try RestoreDrillConfig.parse(designExample, file: "/c.yml")
        #expect(c.schedule.drill == "Sun 05:00")
        #expect(!c.notices.contains { $0.hasPrefix("schedule:") || $0.hasPrefix("hooks:") })
    }

    @Test func searchOrder() {
        let paths = RestoreDrillConfig.searchPaths(
            environment: ["RESTORE_DRILL_CONFIG": "/x.yml", "HOME": "/home/u"], currentDirectory: "/cwd")
        #expect(paths == ["/x.yml", "/cwd/restore-drill.yml", "/home/u/.config/restore-drill/config.yml"])
    }
}

@Suite struct ManifestTests {
    func sample() -> Manifest {
        var m = Manifest(
            id: BackupID(date: Date(timeIntervalSince1970: 1_760_982_619)), name: "maia",
            startedAt: Date(timeIntervalSince1970: 1_760_982_619), timeZone: "UTC", host: "h", home: "/Users/alice",
            root: "/Users/alice/git/maia")
        m.components = [ComponentRecord(id: .code, status: .ok, files: 1, bytes: 3)]
        m.artifacts = [
            ArtifactRecord(
                path: "code.tar.gz", component: .code, kind: .archive, size: 10,
                sha256: String(repeating: "a", count: 64))
        ]
        m.files = [
            FileRecord(
                component: .code, base: .root, path: "a/b.txt", size: 3, sha256: String(repeating: "b", count: 64),
                mode: 0o644)
        ]
        return m
    }

    @Test func roundTripsWithSelfChecksum() throws {
        let data = try sample().encodedForDisk()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"format\" : \"restore-drill/backup-set\""))
        #expect(text.contains("\"format_version\" : 1"))
        #expect(text.contains("\"id\" : \"full_20251020_175019\""))
        let back = try Manifest.decode(data, path: "m.json")
        #expect(try back.verifySelfChecksum())
        #expect(back.files == sample().files)
    }

    @Test func editWithoutChecksumIsCaught() throws {
        let text = String(decoding: try sample().encodedForDisk(), as: UTF8.self)
            .replacingOccurrences(of: "\"size\" : 3", with: "\"size\" : 4")
        let back = try Manifest.decode(Data(text.utf8), path: "m.json")
        #expect(try back.verifySelfChecksum() == false)
    }

    @Test func unsupportedVersionAndFormatAreNamed() throws {
        let text = String(decoding: try sample().encodedForDisk(), as: UTF8.self)
        for (from, to, needle) in [
            ("\"format_version\" : 1", "\"format_version\" : 3", "format_version 3"),
            ("restore-drill/backup-set", "other", "format is \"other\""),
        ] {
            do {
                _ = try Manifest.decode(Data(text.replacingOccurrences(of: from, with: to).utf8), path: "m.json")
                Issue.record("accepted \(to)")
            } catch let RestoreDrillError.invalidSet(path, message) {
                #expect(path == "m.json")
                #expect(message.contains(needle))
            }
        }
    }

    @Test func garbageNamesTheKey() {
        do {
            _ = try Manifest.decode(Data("{\"format\": \"restore-drill/backup-set\"}".utf8), path: "m.json")
            Issue.record("accepted")
        } catch let RestoreDrillError.invalidSet(_, message) {
            #expect(message.contains("missing key"))
        } catch { Issue.record("unexpected \(error)") }
    }
}

@Suite struct ConfiguredPathTests {
    /// Foundation's standardizingPath resolves links on Linux; configured paths must not be.
    @Test func linksInConfiguredPathsStayAsWritten() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rd-links-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/real/dotfiles", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/home", withDestinationPath: "\(dir)/real")
        try FileManager.default.createSymbolicLink(
            atPath: "\(dir)/real/.gitconfig", withDestinationPath: "\(dir)/real/dotfiles/gitconfig")
        let c = try RestoreDrillConfig.parse(
            "home: \(dir)/home\nroot: ~/git/../git/p\ndestination: \(dir)/home/./b\nshell: {files: [~/.gitconfig]}\n",
            file: "\(dir)/c.yml")
        #expect(c.home == "\(dir)/home")
        #expect(c.root == "\(dir)/home/git/p")
        #expect(c.destination == "\(dir)/home/b")
        #expect(c.shell.files == ["\(dir)/home/.gitconfig"])
    }

    @Test func lexicalNormalisation() {
        #expect(LexicalPath.normalize("/a/./b//c/../d/") == "/a/b/d")
        #expect(LexicalPath.normalize("/../x") == "/x")
        #expect(LexicalPath.normalize("a/../../b") == "../b")
        #expect(LexicalPath.normalize("") == ".")
    }
}
