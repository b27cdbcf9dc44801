import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Verifier

/// LaunchAgent fixtures made by code in a temporary folder, each named for its damage, and the
/// finding each must produce (`restore-drill lint-agents`).
final class AgentFixtures {
    let base: String
    let bin: String
    let logs: String
    let agents: String
    /// An executable program (mode 0755) the clean agents run.
    let tool: String

    init() throws {
        base = try TempFolder("agentlint").path
        bin = base + "/bin"
        logs = base + "/Logs"
        agents = base + "/LaunchAgents"
        tool = bin + "/backup-tool"
        for folder in [bin, logs, agents] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: URL(fileURLWithPath: tool))
        chmod(tool, 0o755)
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    /// A clean agent's dictionary for `label`; `change` edits it.
    func agent(_ label: String, _ change: (inout [String: Any]) -> Void = { _ in }) -> [String: Any] {
        var plist: [String: Any] = [
            "Label": label,
            "ProgramArguments": [tool, "--config", base + "/restore-drill.yml"],
            "StartCalendarInterval": ["Hour": 3, "Minute": 0],
            "StandardOutPath": logs + "/\(label).log",
            "StandardErrorPath": logs + "/\(label).err.log",
        ]
        change(&plist)
        return plist
    }

    /// Writes `plist` as `<label>.plist` (XML unless `binary`) and returns its path.
    @discardableResult
    func write(_ plist: [String: Any], name: String? = nil, binary: Bool = false) throws -> String {
        let path = agents + "/" + (name ?? "\(plist["Label"] as? String ?? "x").plist")
        let data = try PropertyListSerialization.data(
            fromPropertyList: plist, format: binary ? .binary : .xml, options: 0)
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func writeRaw(_ text: String, name: String) throws -> String {
        let path = agents + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

@Suite struct AgentLintTests {
    let linter = AgentLinter()

    func messages(_ file: AgentLintFile, _ rule: AgentLintRule) -> [String] {
        file.outcome(rule)?.findings ?? []
    }

    @Test func cleanAgentHasNoFinding() throws {
        let f = try AgentFixtures()
        let file = linter.lint(file: try f.write(f.agent("com.maia.backup")))
        #expect(file.findings.isEmpty, "\(file.findings)")
        #expect(file.verdict == .pass)
        #expect(file.outcome(.script)?.verdict == .skip)
        #expect(file.outcome(.program)?.verdict == .pass)
        #expect(file.outcome(.logFolders)?.verdict == .pass)
    }

    @Test func binaryPlistIsFine() throws {
        let f = try AgentFixtures()
        let path = try f.write(f.agent("com.maia.binary"), binary: true)
        #expect(FileManager.default.contents(atPath: path)?.prefix(6) == Data("bplist".utf8))
        let file = linter.lint(file: path)
        #expect(file.findings.isEmpty, "\(file.findings)")
        #expect(file.outcome(.parse)?.verdict == .pass)
    }

    @Test func incidentBrokenArgumentIsAFinding() throws {
        let f = try AgentFixtures()
        let broken = "python3 /Users/alice/git/maia/scripts/get_vault_password.sh)\""
        let path = try f.write(
            f.agent("com.maia.incident") { $0["ProgramArguments"] = [f.tool, "--vault-password", broken] })
        let file = linter.lint(file: path)
        let found = messages(file, .arguments)
        #expect(found.count == 1)
        #expect(found.first?.contains("ProgramArguments[2]") == true)
        #expect(found.first?.contains("unbalanced double quote") == true)
        #expect(found.first?.contains("unbalanced parentheses") == true)
        #expect(file.findings.count == 1, "only the argument rule fires: \(file.findings)")
    }

    @Test func garbageFileDoesNotParse() throws {
        let f = try AgentFixtures()
        let file = linter.lint(file: try f.writeRaw("garbage", name: "com.maia.garbage.plist"))
        #expect(file.outcome(.parse)?.verdict == .fail)
        #expect(messages(file, .parse).first?.contains("OpenStep") == true)
        #expect(file.outcomes.filter { $0.rule != .parse }.allSatisfy { $0.verdict == .skip })
    }

    @Test func topLevelArrayAndTruncatedXMLDoNotParse() throws {
        let f = try AgentFixtures()
        let array = try PropertyListSerialization.data(fromPropertyList: ["a"], format: .xml, options: 0)
        let arrayPath = f.agents + "/com.maia.array.plist"
        try array.write(to: URL(fileURLWithPath: arrayPath))
        #expect(messages(linter.lint(file: arrayPath), .parse).first?.contains("an array, not a dictionary") == true)
        let whole = String(
            decoding: try PropertyListSerialization.data(
                fromPropertyList: f.agent("com.maia.cut"), format: .xml, options: 0), as: UTF8.self)
        let cut = try f.writeRaw(String(whole.prefix(whole.count / 2)), name: "com.maia.cut.plist")
        #expect(linter.lint(file: cut).outcome(.parse)?.verdict == .fail)
        #expect(messages(linter.lint(file: f.agents + "/absent.plist"), .parse) == ["the file does not exist"])
    }

    @Test func tildeIsFlaggedWhereLaunchdReadsIt() throws {
        let f = try AgentFixtures()
        let path = try f.write(
            f.agent("com.maia.tilde") {
                $0["ProgramArguments"] = [f.tool, "--log=~/Library/Logs/maia.log"]
                $0["StandardOutPath"] = "~/Library/Logs/maia.log"
                $0["EnvironmentVariables"] = ["PATH": "~/bin:/usr/bin"]
            })
        let file = linter.lint(file: path)
        let tilde = messages(file, .tilde)
        #expect(tilde.count == 3, "\(tilde)")
        #expect(tilde.contains { $0.hasPrefix("ProgramArguments[1]") })
        #expect(tilde.contains { $0.hasPrefix("StandardOutPath") })
        #expect(tilde.contains { $0.hasPrefix("EnvironmentVariables.PATH") })
        #expect(messages(file, .logFolders) == ["StandardOutPath \"~/Library/Logs/maia.log\" is not an absolute path"])
    }

    @Test func tildeInsideAShellScriptIsTheShellsBusiness() throws {
        let f = try AgentFixtures()
        let path = try f.write(
            f.agent("com.maia.shell") {
                $0["ProgramArguments"] = ["/bin/sh", "-c", "cd ~/git/maia && ./run.sh | tee x"]
            })
        let file = linter.lint(file: path)
        #expect(file.findings.isEmpty, "\(file.findings)")
        #expect(file.outcome(.script)?.verdict == .pass)
    }

    @Test func missingLogFolderIsAFinding() throws {
        let f = try AgentFixtures()
        let gone = f.base + "/no-such-folder"
        let path = try f.write(f.agent("com.maia.logs") { $0["StandardErrorPath"] = gone + "/err.log" })
        let found = messages(linter.lint(file: path), .logFolders)
        #expect(found == ["StandardErrorPath: folder \(gone) does not exist (launchd does not create it)"])
    }

    @Test func nonExecutableOrMissingProgramIsAFinding() throws {
        let f = try AgentFixtures()
        let plain = f.bin + "/not-executable"
        try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: plain))
        chmod(plain, 0o644)
        let a = try f.write(f.agent("com.maia.noexec") { $0["ProgramArguments"] = [plain] })
        #expect(
            messages(linter.lint(file: a), .program) == ["ProgramArguments[0] \(plain) is not executable (mode 644)"])
        let b = try f.write(f.agent("com.maia.missing") { $0["Program"] = f.bin + "/absent" })
        #expect(messages(linter.lint(file: b), .program) == ["Program \(f.bin)/absent does not exist"])
        let c = try f.write(f.agent("com.maia.bare") { $0["ProgramArguments"] = ["no-such-tool-7f3a"] })
        #expect(messages(linter.lint(file: c), .program).first?.contains("not found in launchd's PATH") == true)
        let d = try f.write(f.agent("com.maia.folder") { $0["ProgramArguments"] = [f.bin] })
        #expect(messages(linter.lint(file: d), .program) == ["ProgramArguments[0] \(f.bin) is a folder, not a program"])
        // A bare name launchd finds in its PATH is fine.
        let e = try f.write(f.agent("com.maia.sh") { $0["ProgramArguments"] = ["sh", "-c", "true"] })
        #expect(linter.lint(file: e).outcome(.program)?.verdict == .pass)
    }

    @Test func shellScriptWithSyntaxErrorIsAFinding() throws {
        let f = try AgentFixtures()
        let path = try f.write(
            f.agent("com.maia.script") { $0["ProgramArguments"] = ["/bin/sh", "-c", "if true; then echo \"$(date)\""] })
        let file = linter.lint(file: path)
        let found = messages(file, .script)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("ProgramArguments[2] (the /bin/sh -c script) fails `/bin/sh -n`") == true)
        #expect(file.outcome(.arguments)?.verdict == .pass, "the script itself may hold shell syntax")
        // The same script completed parses.
        let good = try f.write(
            f.agent("com.maia.script2") {
                $0["ProgramArguments"] = ["/bin/bash", "-lc", "if true; then echo \"$(date)\"; fi"]
            })
        #expect(linter.lint(file: good).outcome(.script)?.verdict == .pass)
    }

    @Test func theScriptReachesTheShellOnStdinNotTheCommandLine() throws {
        let f = try AgentFixtures()
        let seen = LockedList()
        let spy = AgentLinter(scriptChecker: { shell, script in
            seen.append([shell, script])
            return nil
        })
        _ = spy.lint(
            file: try f.write(f.agent("com.maia.spy") { $0["ProgramArguments"] = ["/bin/sh", "-c", "echo 1"] }))
        #expect(seen.items == [["/bin/sh", "echo 1"]])
        // The real checker: a script that would create a file if it were run leaves nothing behind.
        let marker = f.base + "/ran"
        #expect(AgentLinter.shellParse(shell: "/bin/sh", script: "touch '\(marker)'") == nil)
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(AgentLinter.shellParse(shell: "/bin/sh", script: "case x in") != nil)
    }

    @Test func labelAndCalendarFindingsKeepTheirRules() throws {
        let f = try AgentFixtures()
        let path = try f.write(
            f.agent("com.maia.other") { $0["StartCalendarInterval"] = ["Hour": 25, "Minute": 0] },
            name: "com.maia.label.plist")
        let file = linter.lint(file: path)
        #expect(
            messages(file, .label) == ["Label \"com.maia.other\" does not match the file name com.maia.label.plist"])
        #expect(messages(file, .calendar) == ["StartCalendarInterval.Hour = 25 is outside 0–23"])
    }

    @Test func drillContentRulesAddScriptAndTildeButNotHostRules() throws {
        let plist: [String: Any] = [
            "Label": "com.maia.x", "ProgramArguments": ["/nonexistent/sh", "-c", "if then"],
            "StandardOutPath": "~/x.log",
        ]
        let found = LaunchAgentLint.allFindings(in: plist, fileName: "com.maia.x.plist")
        #expect(found.contains { $0.contains("fails `/bin/sh -n`") })
        #expect(found.contains { $0.hasPrefix("StandardOutPath \"~/x.log\" uses ~") })
        #expect(!found.contains { $0.contains("does not exist") }, "host rules are off in a drill: \(found)")
    }

    @Test func reportRenderingsAndExitStatus() throws {
        let f = try AgentFixtures()
        try f.write(f.agent("com.maia.good"))
        _ = try f.writeRaw("garbage", name: "com.maia.garbage.plist")
        try f.write(f.agent("com.maia.bad") { $0["ProgramArguments"] = [f.tool, "a && b"] })
        let report = AgentLintReport.lint(paths: [f.agents])
        #expect(
            report.files.map { ($0.path as NSString).lastPathComponent } == [
                "com.maia.bad.plist", "com.maia.garbage.plist", "com.maia.good.plist",
            ])
        #expect(report.findingCount == 2)
        #expect(report.exitStatus == .findings)
        let lines = report.text.split(separator: "\n").map(String.init)
        #expect(lines.contains("\(f.agents)/com.maia.good.plist: ok"))
        #expect(lines.contains { $0.hasPrefix("\(f.agents)/com.maia.bad.plist: [arguments] ProgramArguments[1]") })
        #expect(lines.last == "3 files linted, 2 with findings, 2 findings")

        let encoder = JSONEncoder()
        let json = try JSONSerialization.jsonObject(with: try encoder.encode(report.json)) as? [String: Any]
        #expect(json?["format"] as? String == "restore-drill/lint")
        #expect(json?["format_version"] as? Int == 1)
        #expect(json?["finding_count"] as? Int == 2)
        let files = json?["files"] as? [[String: Any]]
        #expect((files?.first?["findings"] as? [[String: Any]])?.first?["rule"] as? String == "arguments")

        // JUnit: valid against the Jenkins schema, one testcase per file and rule, read by junitparser.
        let junit = f.base + "/lint.xml"
        try Data(report.junit(timestamp: Date()).utf8).write(to: URL(fileURLWithPath: junit))
        let xsd = "/work/shared/schemas/junit-10.xsd"
        let xmllint = try runTool("/usr/bin/xmllint", ["--noout", "--schema", xsd, junit], mergingError: true)
        #expect(xmllint.status == 0, "\(xmllint.output)")
        let py = """
            import sys
            from junitparser import JUnitXml, Failure, Skipped
            xml = JUnitXml.fromfile(sys.argv[1])
            cases = [c for s in xml for c in s]
            fails = sorted(c.classname + " " + c.name.rsplit("/", 1)[-1] for c in cases if any(isinstance(r, Failure) for r in c.result))
            skips = sum(1 for c in cases if any(isinstance(r, Skipped) for r in c.result))
            print(len(cases), skips)
            print("\\n".join(fails))
            """
        let parsed = try runTool("/usr/bin/python3", ["-c", py, junit], mergingError: true)
        #expect(parsed.status == 0, "\(parsed.output)")
        let out = parsed.output.split(separator: "\n").map(String.init)
        let total = 3 * AgentLintRule.allCases.count
        let skips = report.files.flatMap(\.outcomes).filter { $0.verdict == .skip }.count
        #expect(out.first == "\(total) \(skips)")
        #expect(
            Array(out.dropFirst()) == [
                "lint-agents.arguments com.maia.bad.plist", "lint-agents.parse com.maia.garbage.plist",
            ])
    }

    @Test func defaultPathsFollowTheConfiguredGlobs() throws {
        let f = try AgentFixtures()
        try f.write(f.agent("com.maia.backup"))
        try f.write(f.agent("com.maia.prune"))
        try f.write(f.agent("com.other.thing"))
        var config = RestoreDrillConfig(home: f.base, root: f.base, destination: f.base + "/d", baseFolder: f.base)
        config.launchAgents.include = [f.agents + "/com.maia.*.plist"]
        let (paths, globs) = AgentLintReport.defaultPaths(config: config, home: "/nonexistent")
        #expect(globs == [f.agents + "/com.maia.*.plist"])
        #expect(paths == [f.agents + "/com.maia.backup.plist", f.agents + "/com.maia.prune.plist"])
        config.launchAgents.include = [f.base + "/**/com.other.*.plist"]
        #expect(AgentLintReport.defaultPaths(config: config, home: "/x").paths == [f.agents + "/com.other.thing.plist"])
        // Without a configuration: <home>/Library/LaunchAgents/*.plist.
        let home = f.base + "/home"
        try FileManager.default.createDirectory(
            atPath: home + "/Library/LaunchAgents", withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: home + "/Library/LaunchAgents/a.plist"))
        #expect(AgentLintReport.defaultPaths(config: nil, home: home).paths == [home + "/Library/LaunchAgents/a.plist"])
    }
}

/// A thread-safe list for spies.
final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [[String]] = []
    func append(_ item: [String]) { lock.withLock { storage.append(item) } }
    var items: [[String]] { lock.withLock { storage } }
}
