import Destination
import DrillCore
import Foundation
import Testing

@testable import Verifier

@Suite struct LaunchAgentLintTests {
    let base: [String: Any] = [
        "Label": "com.x.job", "ProgramArguments": ["/bin/sh", "-c", "echo $(date) | tee -a /tmp/x; true && false"],
    ]

    @Test func scriptOfAnExplicitShellIsExempt() {
        #expect(LaunchAgentLint.findings(in: base, fileName: "com.x.job.plist").isEmpty)
    }

    @Test func incidentArgumentIsFlagged() {
        var plist = base
        plist["ProgramArguments"] = ["/usr/bin/env", "python3 ~/get_vault_password.sh)\""]
        let findings = LaunchAgentLint.findings(in: plist, fileName: "com.x.job.plist")
        #expect(findings.count == 1)
        #expect(findings[0].contains("unbalanced double quote"))
        #expect(findings[0].contains("unbalanced parentheses"))
    }

    @Test func eachShellOnlySyntaxIsNamed() {
        #expect(LaunchAgentLint.shellSyntax(in: "a && b") == ["`&&`"])
        #expect(LaunchAgentLint.shellSyntax(in: "a | b") == ["`|`"])
        #expect(LaunchAgentLint.shellSyntax(in: "a; b") == ["`;`"])
        #expect(LaunchAgentLint.shellSyntax(in: "`id`") == ["backtick"])
        #expect(LaunchAgentLint.shellSyntax(in: "$(id)") == ["`$(`"])
        #expect(LaunchAgentLint.shellSyntax(in: "it's") == ["unbalanced single quote"])
        #expect(LaunchAgentLint.shellSyntax(in: "--opt=/Users/alice/x (1)").isEmpty)
    }

    /// Issue 12: quoting mistakes launchd runs without complaint, several variants of each; the
    /// finding names the element's index and text. Legitimate quotes and spaces stay clean.
    @Test(arguments: [
        ("\"--config=/p\"", "wrapped whole in literal double quotes"),
        ("'--config=/p'", "wrapped whole in literal single quotes"),
        ("\"/Users/alice/Library/Application Support/x\"", "wrapped whole in literal double quotes"),
        ("--config=\"/p\"", "the value after `=` in literal quotes"),
        ("--log='/Users/alice/Library/Logs/maia.log'", "the value after `=` in literal quotes"),
        ("-o'/tmp/out file'", "the option's value in literal quotes"),
        ("-f\"/etc/x.conf\"", "the option's value in literal quotes"),
        ("/Users/alice/Library/Application\\ Support/x", "a backslash-escaped space"),
        ("--dir=/Volumes/My\\ Drive", "a backslash-escaped space"),
    ])
    func literalQuotesAndEscapesLaunchdKeepAreNamed(argument: String, why: String) {
        var plist = base
        plist["ProgramArguments"] = ["/usr/local/bin/maia", "--verbose", argument]
        let findings = LaunchAgentLint.ruledFindings(in: plist, fileName: "com.x.job.plist")
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.rule == .arguments)
        #expect(findings.first?.message.hasPrefix("ProgramArguments[2] \"\(argument)\"") == true, "\(findings)")
        #expect(findings.first?.message.contains(why) == true, "\(findings)")
    }

    @Test(arguments: [
        "--json={\"a\": 1}", "--name=O'Brien's", "say \"hi\" now", "/Users/alice/Library/Application Support/x",
        "--opt=/Users/alice/x (1)", "-", "\"", "--title=\"",
    ])
    func quotesThatAreDataAreNotFlaggedAsWrapped(argument: String) {
        let said = LaunchAgentLint.shellSyntax(in: argument)
        #expect(!said.contains { $0.contains("literal") || $0.contains("backslash") }, "\(argument): \(said)")
    }

    /// The script of `sh -c` that is one quoted string: the shell looks for a command named after
    /// the whole script.
    @Test(arguments: ["\"echo hi; date\"", "'cd /tmp && ./run.sh'"])
    func shellScriptWrappedWholeInQuotesIsNamed(script: String) {
        var plist = base
        plist["ProgramArguments"] = ["/bin/zsh", "-lc", script]
        let findings = LaunchAgentLint.ruledFindings(in: plist, fileName: "com.x.job.plist")
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.message.hasPrefix("ProgramArguments[2] \"\(script)\" is the shell's script") == true)
    }

    @Test func labelMustMatchFileName() {
        let findings = LaunchAgentLint.findings(in: base, fileName: "com.x.other.plist")
        #expect(findings == ["Label \"com.x.job\" does not match the file name com.x.other.plist"])
    }

    @Test func calendarArrayRangesAreChecked() {
        var plist = base
        plist["StartCalendarInterval"] = [
            ["Weekday": 7, "Hour": 5], ["Month": 13], ["Day": 0], ["Minute": 60], ["Second": 1],
        ]
        let findings = LaunchAgentLint.findings(in: plist, fileName: "com.x.job.plist")
        #expect(findings.count == 4)
        #expect(findings.contains("StartCalendarInterval[1].Month = 13 is outside 1–12"))
        #expect(findings.contains("StartCalendarInterval[2].Day = 0 is outside 1–31"))
        #expect(findings.contains("StartCalendarInterval[3].Minute = 60 is outside 0–59"))
        #expect(findings.contains("StartCalendarInterval[4] has unknown key Second"))
    }
}

@Suite struct RewriteCheckTests {
    /// A new home that contains the old home as a substring must not count as a trace.
    @Test func newPathContainingTheOldOneIsNotATrace() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rw-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let oldHome = folder + "/old"
        let newHome = oldHome + "/sandbox/home"
        let newRoot = newHome + "/proj"
        let fm = FileManager.default
        try fm.createDirectory(atPath: folder + "/set/launchagents", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: newRoot, withIntermediateDirectories: true)
        try fm.createDirectory(atPath: newHome + "/Library/LaunchAgents", withIntermediateDirectories: true)
        try "#!/bin/sh\n".write(toFile: newRoot + "/run", atomically: false, encoding: .utf8)
        chmod(newRoot + "/run", 0o755)
        let stored: [String: Any] = [
            "Label": "a", "ProgramArguments": [oldHome + "/proj/run", "--in=" + oldHome + "/x"],
        ]
        try PropertyListSerialization.data(fromPropertyList: stored, format: .xml, options: 0)
            .write(to: URL(fileURLWithPath: folder + "/set/launchagents/a.plist"))
        var manifest = Manifest(
            id: BackupID(date: Date()), name: "t", startedAt: Date(), timeZone: "UTC", host: "h", home: oldHome,
            root: oldHome + "/proj")
        let agent = LaunchAgentRecord(
            path: "Library/LaunchAgents/a.plist", artifact: "launchagents/a.plist", label: "a",
            rewritePrefixes: [], wasBinary: false, mode: 0o644)
        manifest.launchAgents = [agent]
        let tree = try RestoredTree(
            folder: try AbsolutePath(validating: oldHome + "/sandbox"), home: try AbsolutePath(validating: newHome),
            root: try AbsolutePath(validating: newRoot))
        let checks = LaunchAgentChecks(
            manifest: manifest, setPath: try AbsolutePath(validating: folder + "/set"), tree: tree)
        let restored: [String: Any] = ["Label": "a", "ProgramArguments": [newRoot + "/run", "--in=" + newHome + "/x"]]
        let restoredPath = newHome + "/Library/LaunchAgents/a.plist"
        try PropertyListSerialization.data(fromPropertyList: restored, format: .xml, options: 0)
            .write(to: URL(fileURLWithPath: restoredPath))
        #expect(checks.rewrite(agent).verdict == .pass, "\(checks.rewrite(agent).message)")

        // A path outside the sandbox and system folders fails; so does a missing program.
        let wrong: [String: Any] = ["Label": "a", "ProgramArguments": [newRoot + "/missing", "--in=/home/bob/x"]]
        try PropertyListSerialization.data(fromPropertyList: wrong, format: .xml, options: 0)
            .write(to: URL(fileURLWithPath: restoredPath))
        let failed = checks.rewrite(agent)
        #expect(failed.verdict == .fail)
        #expect(failed.evidence.contains { $0.contains("/home/bob/x") })
        #expect(failed.evidence.contains { $0.contains("missing or not executable") })

        // Not a dictionary at the top.
        try "garbage".write(toFile: restoredPath, atomically: false, encoding: .utf8)
        #expect(checks.rewrite(agent).verdict == .fail)
    }
}

extension Fixture {
    /// A second set in the same destination: a copy of this one under the id of `now` − 60 s.
    /// - Returns: the new id and the new set's path.
    func copyAsNewerSet(now: Date) throws -> (BackupID, String) {
        let newer = BackupID(date: now.addingTimeInterval(-60))
        let newerPath = destination + "/" + newer.description
        try FileManager.default.copyItem(atPath: setPath, toPath: newerPath)
        var copy = manifest
        copy.id = newer
        try copy.encodedForDisk().write(to: URL(fileURLWithPath: newerPath + "/manifest.json"))
        return (newer, newerPath)
    }
}

@Suite struct SetLocatorTests {
    @Test func findsValidSetsNewestLastAndIgnoresTheRest() async throws {
        let now = Date()
        let older = try Fixture(age: 7200, now: now)
        let destination = older.destination
        let (newer, newerPath) = try older.copyAsNewerSet(now: now)
        // Things that are not sets.
        try FileManager.default.copyItem(atPath: older.setPath, toPath: destination + "/.partial-full_20990101_000000")
        try FileManager.default.createDirectory(
            atPath: destination + "/full_20200101_000000", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: destination + "/notes", withIntermediateDirectories: true)

        let sets = try SetLocator.sets(in: destination)
        #expect(sets.map(\.id) == [older.manifest.id, newer])
        #expect(try SetLocator.latest(in: destination).id == newer)
        #expect(try SetLocator.byID(older.manifest.id.description, in: destination).path == older.setPath)
        #expect(throws: RestoreDrillError.self) { try SetLocator.byID("full_20000101_000000", in: destination) }
        #expect(try SetLocator.previousComplete(before: newer, in: destination)?.id == older.manifest.id)
        #expect(try SetLocator.randomWithin(days: 1.0 / 24 / 60 * 5, now: now, in: destination).id == newer)
        #expect(throws: RestoreDrillError.self) {
            try SetLocator.randomWithin(days: 1.0 / 86400, now: now, in: destination)
        }

        // The newer set drilled: coverage compares it with the older one.
        var options = older.drillOptions()
        options.setPath = try AbsolutePath(validating: newerPath)
        let result = try await Drill(options: options, clock: FixedClock(now), replayer: LocalReplayer()).run()
        #expect(result.verdict == .pass)
        #expect(result.counts(for: .setCoverage) == [.pass: 4, .skip: 2])
    }

    @Test func missingDestinationThrows() {
        #expect(throws: RestoreDrillError.self) { try SetLocator.sets(in: "/nonexistent/restore-drill-dest") }
    }

    /// Finding the newest set reads the newest manifests first and stops there; what was read is
    /// remembered only while the manifest file stays the same file.
    @Test func newestFirstStopsEarlyAndARewrittenManifestIsReadAgain() throws {
        let now = Date()
        let older = try Fixture(age: 7200, now: now)
        let destination = older.destination
        let (newer, newerPath) = try older.copyAsNewerSet(now: now)
        // An old folder named like a set whose manifest is not JSON: never reached below.
        let broken = destination + "/full_20000101_000000"
        try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
        try Data("not json".utf8).write(to: URL(fileURLWithPath: broken + "/manifest.json"))

        #expect(try SetLocator.newestFirst(in: destination).map(\.id) == [newer, older.manifest.id])
        #expect(try SetLocator.latestComplete(in: destination)?.id == newer)
        #expect(try SetLocator.previousComplete(before: newer, in: destination)?.id == older.manifest.id)

        // The newest manifest is replaced (a new file, as AtomicFile writes): it is read again.
        let path = newerPath + "/manifest.json"
        var damaged = try String(contentsOfFile: path, encoding: .utf8)
        damaged = damaged.replacingOccurrences(of: "\"status\" : \"complete\"", with: "\"status\" : \"partial\"")
        try FileManager.default.removeItem(atPath: path)
        try damaged.write(toFile: path, atomically: true, encoding: .utf8)
        if case .set = SetFolders.classify(path: newerPath, id: newer) {
            Issue.record("a manifest edited after its checksum still classified as a usable set")
        }
        // Still listed (drilling it fails set.manifest visibly), but it is not complete any more.
        #expect(try SetLocator.latest(in: destination).id == newer)
    }
}

@Suite struct CoverageTests {
    func manifest(_ id: BackupID) -> Manifest {
        var m = Manifest(id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        m.components = [
            ComponentRecord(id: .code, status: .ok, files: 100, bytes: 1_000_000),
            ComponentRecord(id: .databases, status: .ok, files: 2, bytes: 5000),
            ComponentRecord(id: .launchagents, status: .ok, files: 1, bytes: 300),
        ]
        m.databases = [
            DatabaseRecord(
                base: .root, path: "a.db", size: 1, sha256: "", artifact: "databases/a.db", chunks: [], tables: [],
                mode: 0o644),
            DatabaseRecord(
                base: .root, path: "b.db", size: 1, sha256: "", artifact: "databases/b.db", chunks: [], tables: [],
                mode: 0o644),
        ]
        return m
    }

    @Test func unchangedSetPasses() {
        let previous = manifest(BackupID(date: Date(timeIntervalSince1970: 1_000_000)))
        let current = manifest(BackupID(date: Date(timeIntervalSince1970: 1_086_400)))
        let results = ObjectiveChecks.coverage(current: current, previous: previous, maxShrink: 0.5, skipReason: "")
        #expect(results.map(\.verdict) == [.pass, .pass, .pass])
    }

    @Test func vanishedComponentDatabaseAndShrinkFail() {
        let previous = manifest(BackupID(date: Date(timeIntervalSince1970: 1_000_000)))
        var current = manifest(BackupID(date: Date(timeIntervalSince1970: 1_086_400)))
        current.components[0].bytes = 400_000  // code shrank by 60 %
        current.databases.removeLast()
        current.components.removeLast()  // launchagents gone
        let results = ObjectiveChecks.coverage(current: current, previous: previous, maxShrink: 0.5, skipReason: "")
        let byID = Dictionary(uniqueKeysWithValues: results.map { ($0.subject, $0) })
        #expect(byID["code"]?.verdict == .fail)
        #expect(byID["code"]?.message.contains("bytes dropped") == true)
        #expect(byID["databases"]?.verdict == .fail)
        #expect(byID["databases"]?.message.contains("b.db") == true)
        #expect(byID["launchagents"]?.verdict == .fail)
        #expect(byID["launchagents"]?.message.contains("gone") == true)
        // The same, by code and data.
        #expect(byID["code"]?.has(.coverageBytesDropped, data: ["before": "1000000", "now": "400000"]) == true)
        #expect(byID["databases"]?.has(.coverageDatabasesGone) == true)
        #expect(byID["databases"]?.findings.first?.list("paths").contains { $0.hasSuffix("b.db") } == true)
        #expect(byID["launchagents"]?.has(.coverageComponentGone) == true)
    }

    @Test func noPreviousSetIsASkip() {
        let results = ObjectiveChecks.coverage(
            current: manifest(BackupID(date: Date())), previous: nil, maxShrink: 0.5, skipReason: "no previous set")
        #expect(results.count == 1)
        #expect(results[0].verdict == .skip)
    }
}

/// The path rules the checks rely on (once `PathText`'s, now the typed paths' of DrillCore).
@Suite struct PathRulesTests {
    @Test func boundariesAndNormalisation() throws {
        let a = try AbsolutePath(validating: "/a")
        #expect(try AbsolutePath(validating: "/a/b").isDescendantOrSelf(of: a))
        #expect(try !AbsolutePath(validating: "/ab").isDescendantOrSelf(of: a))
        #expect(try AbsolutePath(validating: "/a/b/c").relative(to: a)?.pathString == "b/c")
        #expect((try? RelativePath(validatingBeneath: "a/../../b")) == nil)
        #expect(try RelativePath(validatingBeneath: "a/./b/../c").pathString == "a/c")
        #expect(try RelativePath(validating: "a/b/c").ancestors.map(\.pathString) == ["a", "a/b"])
        let folder = try AbsolutePath(validating: "/s/d")
        #expect(
            DrillSandbox.newRoot(folder: folder, oldHome: "/Users/a", oldRoot: "/Users/a/git/m").pathString
                == "/s/d/home/git/m")
        #expect(
            DrillSandbox.newRoot(folder: folder, oldHome: "/Users/a", oldRoot: "/srv/m").pathString == "/s/d/work/root")
        // The old root equal to the old home is no place inside it.
        #expect(
            DrillSandbox.newRoot(folder: folder, oldHome: "/Users/a", oldRoot: "/Users/a/").pathString
                == "/s/d/work/root")
    }
}
