import DrillCore
import Foundation

/// One rule of `restore-drill lint-agents` (README, "Use"). The first four are the rules of
/// `launchagents.lint` in docs/ARCHITECTURE.md, "The checks" (``LaunchAgentLint/findings(in:fileName:)``);
/// the others are what an agent needs before launchd ever runs it.
public enum AgentLintRule: String, CaseIterable, Codable, Sendable {
    /// The file parses as an XML or binary property list with a dictionary at the top. An old-style
    /// (OpenStep) text plist is refused: launchd does not read it, and a file holding just
    /// `garbage` parses as one (the toolchain's `plutil -lint` accepts it).
    case parse
    /// `Label` equals the file name without `.plist`.
    case label
    /// No argument holds what only a shell could mean, outside the script of `sh -c`.
    case arguments
    /// `StartCalendarInterval` keys known and in range (launchd.plist(5)).
    case calendar
    /// `Program`, else `ProgramArguments[0]`, is an executable file: an absolute path, or a bare
    /// name found in launchd's `PATH` (`EnvironmentVariables.PATH`, else `/usr/bin:/bin:/usr/sbin:/sbin`).
    case program
    /// The script of `sh -c` / `bash -c` / `zsh -c` passes the shell's `-n` (parse only).
    case script
    /// The folders of `StandardOutPath` and `StandardErrorPath` exist (launchd does not create them).
    case logFolders = "log-folders"
    /// No path-like string starts with `~`: launchd does not expand it (a `sh -c` script may: the shell does).
    case tilde

    /// Rules whose answer depends on this host's files (the program, the log folders), as opposed
    /// to the content of the plist alone.
    public var isHostRule: Bool { self == .program || self == .logFolders }
}

/// What one rule said about one file.
public struct AgentRuleOutcome: Codable, Sendable, Equatable {
    public var rule: AgentLintRule
    /// `pass`, `fail` or `skip` (the rule had nothing to look at; ``reason`` says why).
    public var verdict: Verdict
    /// One line per finding (empty unless `fail`), each naming the key it is about.
    public var findings: [String]
    /// Why the rule was skipped.
    public var reason: String?

    public init(rule: AgentLintRule, verdict: Verdict, findings: [String] = [], reason: String? = nil) {
        self.rule = rule
        self.verdict = verdict
        self.findings = findings
        self.reason = reason
    }
}

/// The lint of one LaunchAgent file: one outcome per rule, in ``AgentLintRule/allCases`` order.
public struct AgentLintFile: Codable, Sendable, Equatable {
    /// The path as given (absolute when found from the configuration).
    public var path: String
    public var outcomes: [AgentRuleOutcome]

    public init(path: String, outcomes: [AgentRuleOutcome]) {
        self.path = path
        self.outcomes = outcomes
    }

    /// Every finding, as (rule, message).
    public var findings: [(rule: AgentLintRule, message: String)] {
        outcomes.flatMap { o in o.findings.map { (o.rule, $0) } }
    }

    /// The outcome of one rule.
    public func outcome(_ rule: AgentLintRule) -> AgentRuleOutcome? { outcomes.first { $0.rule == rule } }

    /// `fail` when any rule failed, else `pass`.
    public var verdict: Verdict { Verdict.rollup(outcomes.map(\.verdict), requirePass: false) }
}

/// Lints LaunchAgent files: the rules of ``AgentLintRule``. Shared by `restore-drill lint-agents`,
/// `restore-drill schedule install` (each generated plist is linted before it is written) and the
/// drill's `launchagents.lint` check (content rules only, see ``LaunchAgentLint/allFindings(in:fileName:)``).
///
/// Findings are values, never throws. The only side effect is the script rule: the script is
/// written to a 0600 temporary file that becomes the shell's standard input (never a command-line
/// argument), and the file is removed afterwards.
public struct AgentLinter: Sendable {
    /// Checks one shell script's syntax: `(shell path, script) → nil when it parses, else the
    /// shell's message`.
    public typealias ScriptSyntaxChecker = @Sendable (_ shell: String, _ script: String) -> String?

    /// launchd's default `PATH` for agents (launchd.plist(5)).
    public static let launchdPath = "/usr/bin:/bin:/usr/sbin:/sbin"

    /// Whether ``AgentLintRule/program`` and ``AgentLintRule/logFolders`` look at this host's files;
    /// when false they are skipped (a drill looks at plists restored into a sandbox).
    public var hostRules: Bool
    /// Runs `shell -n`; tests may inject a fake.
    public var scriptChecker: ScriptSyntaxChecker

    public init(hostRules: Bool = true, scriptChecker: @escaping ScriptSyntaxChecker = AgentLinter.shellParse) {
        self.hostRules = hostRules
        self.scriptChecker = scriptChecker
    }

    /// Lints the file at `path`.
    /// - Returns: one outcome per rule; when the file does not parse, ``AgentLintRule/parse`` fails
    ///   and every other rule is skipped.
    public func lint(file path: String) -> AgentLintFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            let why =
                FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
                ? (isDir.boolValue ? "is a folder, not a plist file" : "cannot be read") : "does not exist"
            return unparsable(path, why)
        }
        return lint(data: data, path: path)
    }

    /// Lints plist bytes (XML or binary) that would be installed at `path`.
    public func lint(data: Data, path: String) -> AgentLintFile {
        var format = PropertyListSerialization.PropertyListFormat.xml
        let value: Any
        do {
            value = try PropertyListSerialization.propertyList(from: data, options: [], format: &format)
        } catch {
            return unparsable(path, "does not parse as an XML or binary property list")
        }
        if format == .openStep {
            return unparsable(
                path, "is old-style (OpenStep) text, not an XML or binary property list; launchd does not read it")
        }
        guard let plist = value as? [String: Any] else {
            return unparsable(path, "top level is \(Self.kind(of: value)), not a dictionary")
        }
        return lint(plist: plist, path: path)
    }

    /// Lints a parsed plist that lives (or would live) at `path`; the file name is the last component.
    public func lint(plist: [String: Any], path: String) -> AgentLintFile {
        let fileName = PathText.lastComponent(of: path)
        var label: [String] = []
        var arguments: [String] = []
        var calendar: [String] = []
        var program: [String] = []
        for finding in LaunchAgentLint.ruledFindings(in: plist, fileName: fileName) {
            switch finding.rule {
            case .label: label.append(finding.message)
            case .calendar: calendar.append(finding.message)
            case .program: program.append(finding.message)
            default: arguments.append(finding.message)
            }
        }
        var outcomes = [AgentRuleOutcome(rule: .parse, verdict: .pass)]
        outcomes.append(Self.outcome(.label, label))
        outcomes.append(Self.outcome(.arguments, arguments))
        outcomes.append(
            plist["StartCalendarInterval"] == nil
                ? AgentRuleOutcome(rule: .calendar, verdict: .skip, reason: "no StartCalendarInterval")
                : Self.outcome(.calendar, calendar))
        outcomes.append(programOutcome(plist, earlier: program))
        outcomes.append(scriptOutcome(plist))
        outcomes.append(logFolderOutcome(plist))
        outcomes.append(Self.outcome(.tilde, Self.tildeFindings(plist)))
        return AgentLintFile(path: path, outcomes: outcomes)
    }

    // MARK: rules

    func unparsable(_ path: String, _ why: String) -> AgentLintFile {
        AgentLintFile(
            path: path,
            outcomes: AgentLintRule.allCases.map {
                $0 == .parse
                    ? AgentRuleOutcome(rule: .parse, verdict: .fail, findings: ["the file \(why)"])
                    : AgentRuleOutcome(rule: $0, verdict: .skip, reason: "the file does not parse")
            })
    }

    static func outcome(_ rule: AgentLintRule, _ findings: [String]) -> AgentRuleOutcome {
        AgentRuleOutcome(rule: rule, verdict: findings.isEmpty ? .pass : .fail, findings: findings)
    }

    static func kind(of value: Any) -> String {
        switch value {
        case let s as String: "a string (\"\(s.prefix(40))\")"
        case is [Any]: "an array"
        case is Data: "data"
        case is Date: "a date"
        default: "a number or Boolean"
        }
    }

    /// The program launchd starts: `Program`, else `ProgramArguments[0]`.
    static func program(of plist: [String: Any]) -> String? {
        if let p = plist["Program"] as? String { return p }
        return (plist["ProgramArguments"] as? [Any])?.first as? String
    }

    func programOutcome(_ plist: [String: Any], earlier: [String]) -> AgentRuleOutcome {
        if !earlier.isEmpty { return Self.outcome(.program, earlier) }
        guard let program = Self.program(of: plist) else {
            return Self.outcome(.program, ["Program / ProgramArguments[0] is not a string"])
        }
        guard hostRules else {
            return AgentRuleOutcome(
                rule: .program, verdict: .skip, reason: "host rules are off (checked by lint-agents)")
        }
        let key = plist["Program"] is String ? "Program" : "ProgramArguments[0]"
        if program.isEmpty { return Self.outcome(.program, ["\(key) is empty"]) }
        if program.hasPrefix("/") {
            return Self.outcome(.program, Self.executableProblem(program).map { ["\(key) \(program) \($0)"] } ?? [])
        }
        if program.contains("/") || program.hasPrefix("~") {
            return Self.outcome(.program, ["\(key) \"\(program)\" is not an absolute path (launchd needs one)"])
        }
        let environment = plist["EnvironmentVariables"] as? [String: Any]
        let searchPath = environment?["PATH"] as? String ?? Self.launchdPath
        for folder in searchPath.split(separator: ":").map(String.init) where folder.hasPrefix("/") {
            let candidate = (folder as NSString).appendingPathComponent(program)
            if Self.executableProblem(candidate) == nil { return Self.outcome(.program, []) }
        }
        return Self.outcome(.program, ["\(key) \(program) is not found in launchd's PATH (\(searchPath))"])
    }

    /// Why `path` is not an executable file, or nil when it is one.
    static func executableProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return "does not exist" }
        if (info.st_mode & S_IFMT) == S_IFDIR { return "is a folder, not a program" }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return "is not a regular file" }
        guard access(path, X_OK) == 0 else {
            return "is not executable (mode \(String(info.st_mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    func scriptOutcome(_ plist: [String: Any]) -> AgentRuleOutcome {
        let argv = plist["ProgramArguments"] as? [String] ?? []
        guard let index = LaunchAgentLint.shellScriptIndex(argv) else {
            return AgentRuleOutcome(rule: .script, verdict: .skip, reason: "no sh -c / bash -c script")
        }
        let shell = Self.parsingShell(for: argv[0])
        if let message = scriptChecker(shell, argv[index]) {
            return Self.outcome(
                .script, ["ProgramArguments[\(index)] (the \(argv[0]) -c script) fails `\(shell) -n`: \(message)"])
        }
        return Self.outcome(.script, [])
    }

    /// The shell that checks a script: bash, zsh or ksh when the agent names one and this host has
    /// it, else `/bin/sh` (POSIX; `sh` and `dash` scripts, and any shell missing here).
    static func parsingShell(for program: String) -> String {
        let name = PathText.lastComponent(of: program)
        guard ["bash", "zsh", "ksh"].contains(name) else { return "/bin/sh" }
        for candidate in [program, "/bin/\(name)", "/usr/bin/\(name)"] where candidate.hasPrefix("/") {
            if executableProblem(candidate) == nil { return candidate }
        }
        return "/bin/sh"
    }

    func logFolderOutcome(_ plist: [String: Any]) -> AgentRuleOutcome {
        let keys = ["StandardOutPath", "StandardErrorPath"].filter { plist[$0] != nil }
        guard !keys.isEmpty else {
            return AgentRuleOutcome(
                rule: .logFolders, verdict: .skip, reason: "no StandardOutPath or StandardErrorPath")
        }
        var findings: [String] = []
        for key in keys {
            guard let path = plist[key] as? String, !path.isEmpty else {
                findings.append("\(key) is not a path string")
                continue
            }
            guard path.hasPrefix("/") else {
                findings.append("\(key) \"\(path)\" is not an absolute path")
                continue
            }
            guard hostRules else { continue }
            let folder = PathText.parent(of: path)
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) {
                findings.append("\(key): folder \(folder) does not exist (launchd does not create it)")
            } else if !isDir.boolValue {
                findings.append("\(key): \(folder) is not a folder")
            }
        }
        return Self.outcome(.logFolders, findings)
    }

    /// Every string (not the `sh -c` script) with a token that starts with `~`; tokens are split
    /// at spaces, `:` and `=` (so `PATH=~/bin:/usr/bin` and `--log=~/x` are caught).
    static func tildeFindings(_ plist: [String: Any]) -> [String] {
        let scriptIndex = LaunchAgentLint.shellScriptIndex(plist["ProgramArguments"] as? [String] ?? [])
        var out: [String] = []
        func visit(_ value: Any, _ key: String) {
            switch value {
            case let s as String:
                let tokens = s.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "=" })
                if tokens.contains(where: { $0.hasPrefix("~") }) {
                    out.append("\(key) \"\(s)\" uses ~, which launchd does not expand")
                }
            case let a as [Any]:
                for (i, element) in a.enumerated() where !(key == "ProgramArguments" && i == scriptIndex) {
                    visit(element, "\(key)[\(i)]")
                }
            case let d as [String: Any]:
                for (k, v) in d.sorted(by: { $0.key < $1.key }) { visit(v, key.isEmpty ? k : "\(key).\(k)") }
            default: break
            }
        }
        visit(plist, "")
        return out
    }

    /// The default ``ScriptSyntaxChecker``: runs `shell -n` with the script as its standard input
    /// (a 0600 temporary file, removed after), stdout discarded, at most 10 seconds.
    /// - Returns: nil when the shell parses the script; else its first stderr line (or exit status).
    public static func shellParse(shell: String, script: String) -> String? {
        let temp = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "restore-drill-lint-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sh")
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot write a temporary file: \(String(cString: strerror(errno)))" }
        defer { unlink(temp) }
        let bytes = Array((script + "\n").utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        guard written == bytes.count, let input = FileHandle(forReadingAtPath: temp) else {
            return "cannot write a temporary file"
        }
        defer { try? input.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: shell)
        process.arguments = ["-n"]
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return "cannot start \(shell): \(error.localizedDescription)"
        }
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(5000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return "\(shell) -n did not finish within 10 seconds"
        }
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus != 0 else { return nil }
        let line = message.split(separator: "\n").first.map(String.init) ?? ""
        return line.isEmpty ? "exit status \(process.terminationStatus)" : line
    }
}

extension LaunchAgentLint {
    /// The content rules of ``AgentLinter`` on one plist, as the drill's `launchagents.lint` check
    /// reports them: ``findings(in:fileName:)`` plus the `sh -n` script rule and the `~` rule.
    /// The host rules (program, log folders) are left out: a drill looks at a plist restored into
    /// a sandbox, and `launchagents.rewrite` already checks its program there.
    /// - Returns: one line per finding, naming the key; empty when clean.
    public static func allFindings(in plist: [String: Any], fileName: String) -> [String] {
        ruleFindings(in: plist, fileName: fileName).map(\.message)
    }

    /// ``allFindings(in:fileName:)`` with the rule each finding comes from, in the same order.
    public static func ruleFindings(in plist: [String: Any], fileName: String)
        -> [(rule: AgentLintRule, message: String)]
    {
        AgentLinter(hostRules: false).lint(plist: plist, path: fileName).findings
    }
}
