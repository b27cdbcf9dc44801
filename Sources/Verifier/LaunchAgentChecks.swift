import DrillCore
import Foundation

/// The rules of `launchagents.lint` (docs/ARCHITECTURE.md, "The checks"; `restore-drill
/// lint-agents` reuses them): `Label` equals the file name without `.plist`; no argument holds what only a
/// shell could mean (unbalanced quotes or parentheses, `$(`, backticks, `&&`, `|`, `;`) except the
/// script argument of an explicit `sh -c`/`bash -c`/`zsh -c`; `StartCalendarInterval` (a
/// dictionary or an array of them) holds only Minute 0–59, Hour 0–23, Day 1–31, Weekday 0–7,
/// Month 1–12.
public enum LaunchAgentLint {
    /// Shells whose `-c` argument is a script, not a plain argument.
    public static let shells: Set<String> = ["sh", "bash", "zsh", "dash", "ksh"]
    /// The accepted range of each `StartCalendarInterval` key (launchd.plist(5)).
    public static let calendarRanges: [String: ClosedRange<Int>] = [
        "Minute": 0...59, "Hour": 0...23, "Day": 1...31, "Weekday": 0...7, "Month": 1...12,
    ]

    /// Every finding in one LaunchAgent.
    /// - Parameters:
    ///   - plist: the top-level dictionary.
    ///   - fileName: the plist's file name, e.g. `com.maia.backup.plist`.
    /// - Returns: one line per finding, naming the key; empty when clean.
    public static func findings(in plist: [String: Any], fileName: String) -> [String] {
        ruledFindings(in: plist, fileName: fileName).map(\.message)
    }

    /// ``findings(in:fileName:)`` with the ``AgentLintRule`` each finding breaks (`label`,
    /// `arguments`, `calendar`, or `program` for a plist that names no program), in the same order.
    public static func ruledFindings(in plist: [String: Any], fileName: String)
        -> [(rule: AgentLintRule, message: String)]
    {
        var out: [(rule: AgentLintRule, message: String)] = []
        let stem = fileName.hasSuffix(".plist") ? String(fileName.dropLast(6)) : fileName
        switch plist["Label"] {
        case let label as String where label == stem: break
        case let label as String: out.append((.label, "Label \"\(label)\" does not match the file name \(fileName)"))
        default: out.append((.label, "Label is missing or not a string"))
        }
        var argv: [String] = []
        if let args = plist["ProgramArguments"] {
            if let strings = args as? [String] {
                argv = strings
            } else {
                out.append((.program, "ProgramArguments is not an array of strings"))
            }
        }
        if argv.isEmpty && plist["Program"] == nil {
            out.append((.program, "neither ProgramArguments nor Program is set"))
        }
        let scriptIndex = shellScriptIndex(argv)
        for (index, argument) in argv.enumerated() where index != scriptIndex {
            let why = shellSyntax(in: argument)
            if !why.isEmpty {
                out.append(
                    (
                        .arguments,
                        "ProgramArguments[\(index)] \"\(argument)\" holds shell syntax (\(why.joined(separator: ", "))) but is not run by a shell"
                    ))
            }
        }
        if let scriptIndex, let why = wrappedInQuotes(argv[scriptIndex]) {
            out.append(
                (
                    .arguments,
                    "ProgramArguments[\(scriptIndex)] \"\(argv[scriptIndex])\" is the shell's script but \(why): the shell runs it as one command name"
                ))
        }
        if let program = plist["Program"] as? String, !shellSyntax(in: program).isEmpty {
            out.append((.arguments, "Program \"\(program)\" holds shell syntax"))
        }
        if let calendar = plist["StartCalendarInterval"] {
            let entries: [Any] = (calendar as? [Any]) ?? [calendar]
            for (i, entry) in entries.enumerated() {
                let location =
                    entries.count > 1 || calendar is [Any] ? "StartCalendarInterval[\(i)]" : "StartCalendarInterval"
                guard let dict = entry as? [String: Any] else {
                    out.append((.calendar, "\(location) is not a dictionary"))
                    continue
                }
                for (key, value) in dict.sorted(by: { $0.key < $1.key }) {
                    guard let range = calendarRanges[key] else {
                        out.append((.calendar, "\(location) has unknown key \(key)"))
                        continue
                    }
                    guard let number = integer(value) else {
                        out.append((.calendar, "\(location).\(key) is not an integer"))
                        continue
                    }
                    if !range.contains(number) {
                        out.append(
                            (
                                .calendar,
                                "\(location).\(key) = \(number) is outside \(range.lowerBound)–\(range.upperBound)"
                            ))
                    }
                }
            }
        }
        return out
    }

    /// The index of the script argument of an explicit `sh -c SCRIPT` (also `bash -lc SCRIPT`), or nil.
    static func shellScriptIndex(_ argv: [String]) -> Int? {
        guard let first = argv.first, shells.contains(PathText.lastComponent(of: first)) else { return nil }
        var i = 1
        while i < argv.count, argv[i].hasPrefix("-"), argv[i] != "--" {
            if argv[i].dropFirst().contains("c") { return i + 1 < argv.count ? i + 1 : nil }
            i += 1
        }
        return nil
    }

    /// Why `argument` is one element wrapped whole in literal quotes (`"--config=/p"` with the
    /// quote characters inside the element), or nil. launchd passes the quotes on: the program
    /// sees them (a shell would have removed them).
    static func wrappedInQuotes(_ argument: String) -> String? {
        for quote: Character in ["\"", "'"] where argument.count >= 2 {
            if argument.first == quote, argument.last == quote {
                return "is wrapped whole in literal \(quote == "\"" ? "double" : "single") quotes"
            }
        }
        return nil
    }

    /// What in `argument` only a shell would interpret, or what a shell would have removed and
    /// launchd passes on as it is; empty when nothing. Beyond shell operators: an element wrapped
    /// whole in literal quotes (`"--config=/p"`), a flag whose value carries literal quotes
    /// (`--config="/p"`, `-o'/p'`), and a backslash-escaped space (`/Application\ Support/x`).
    public static func shellSyntax(in argument: String) -> [String] {
        var out: [String] = []
        if let wrapped = wrappedInQuotes(argument) {
            out.append(wrapped.replacingOccurrences(of: "is wrapped", with: "wrapped"))
        } else if let equals = argument.firstIndex(of: "="), argument.hasPrefix("-") {
            let value = argument[argument.index(after: equals)...]
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                out.append("the value after `=` in literal quotes")
            }
        } else if argument.hasPrefix("-"), !argument.hasPrefix("--"), argument.count > 4 {
            // A short option glued to a quoted value: `-o'/p'`, `-o"/p"`.
            let value = argument.dropFirst(2)
            if let first = value.first, first == value.last, first == "\"" || first == "'" {
                out.append("the option's value in literal quotes")
            }
        }
        if argument.contains("\\ ") { out.append("a backslash-escaped space (launchd keeps the backslash)") }
        if argument.filter({ $0 == "\"" }).count % 2 == 1 { out.append("unbalanced double quote") }
        if argument.filter({ $0 == "'" }).count % 2 == 1 { out.append("unbalanced single quote") }
        var depth = 0
        var unbalanced = false
        for c in argument {
            if c == "(" { depth += 1 }
            if c == ")" {
                depth -= 1
                if depth < 0 { unbalanced = true }
            }
        }
        if unbalanced || depth != 0 { out.append("unbalanced parentheses") }
        if argument.contains("$(") { out.append("`$(`") }
        if argument.contains("`") { out.append("backtick") }
        if argument.contains("&&") { out.append("`&&`") }
        if argument.contains("|") { out.append("`|`") }
        if argument.contains(";") { out.append("`;`") }
        return out
    }

    /// An integer property-list value (not a Boolean), or nil.
    static func integer(_ value: Any) -> Int? {
        // Foundation bridges NSNumber 0/1 to Bool, so ask for the dynamic type, not `is Bool`.
        if type(of: value) == Bool.self { return nil }
        if let n = value as? NSNumber, String(cString: n.objCType) == "c" { return nil }
        return value as? Int
    }
}

/// `launchagents.rewrite` and `launchagents.lint` on the restored LaunchAgents.
///
/// A restored plist is read through ``RestoredTree`` (no link followed at any component, a regular
/// file of at most ``plistLimit`` bytes): a plist that is a link (to `/etc/shadow`, say) is
/// reported as one and never read; the stored artifact is what `launchagents.lint` then reads. A
/// program inside the sandbox is looked at the same way; a link there is resolved by reading its
/// target, never by following it.
struct LaunchAgentChecks {
    /// System folders a restored LaunchAgent may point into.
    static let systemPrefixes = [
        "/usr", "/bin", "/sbin", "/System", "/Library", "/opt", "/Applications", "/private/tmp", "/tmp", "/dev",
        "/etc", "/var",
    ]

    /// ``systemPrefixes`` as paths.
    static let systemFolders = systemPrefixes.compactMap { try? AbsolutePath(validating: $0) }

    let manifest: Manifest
    let setPath: AbsolutePath
    let tree: RestoredTree
    /// A drill of some parts (issue 17): the files of the whole set, so a program that is a file
    /// of the set the drill did not restore (it lies in a pack not chosen) is known by its record.
    var unrestored: [String: FileRecord] = [:]

    /// - Parameter unrestored: files of the whole set this drill did not restore, keyed by
    ///   ``unrestoredKey(_:_:)``.
    init(manifest: Manifest, setPath: AbsolutePath, tree: RestoredTree, unrestored: [String: FileRecord] = [:]) {
        self.manifest = manifest
        self.setPath = setPath
        self.tree = tree
        self.unrestored = unrestored
    }

    var newHome: AbsolutePath { tree.home }
    var newRoot: AbsolutePath { tree.root }

    /// The largest restored plist read: 16 MiB (LaunchAgents are a few KiB).
    static let plistLimit = 16 << 20

    /// Reads the stored plist of `agent` (its artifact in the set; format 2 its object) without
    /// following links: the set is hostile until proven too (``ArtifactSource``).
    func readStoredPlist(_ agent: LaunchAgentRecord) -> (plist: [String: Any]?, problem: String?) {
        guard
            let data = ArtifactSource(setPath: setPath, manifest: manifest).read(
                path: agent.artifact, limit: Self.plistLimit)
        else { return (nil, "missing or unreadable") }
        return Self.parsePlist(data)
    }

    /// Reads the restored plist of `agent` (its path under the new home) without following links.
    func readRestoredPlist(_ agent: LaunchAgentRecord) -> (plist: [String: Any]?, problem: String?) {
        guard let relative = tree.place(agent.path, .home) else { return (nil, "missing or unreadable") }
        switch tree.beneath.openFile(relative) {
        case .failure(.missing):
            return (nil, "missing or unreadable")
        case .failure(let refusal):
            return (nil, tree.explain(refusal, for: relative))
        case .success(let file):
            do {
                return Self.parsePlist(try file.readAll(limit: Self.plistLimit))
            } catch {
                return (nil, "cannot be read: \(error)")
            }
        }
    }

    /// Parses property list bytes; nil and a reason when they do not parse to a dictionary.
    static func parsePlist(_ data: Data) -> (plist: [String: Any]?, problem: String?) {
        do {
            let value = try PropertyListSerialization.propertyList(from: data, options: [], format: nil)
            guard let dict = value as? [String: Any] else { return (nil, "top level is not a dictionary") }
            return (dict, nil)
        } catch {
            return (nil, "does not parse as a property list")
        }
    }

    /// `launchagents.rewrite` for one agent.
    func rewrite(_ agent: LaunchAgentRecord) -> CheckResult {
        let watch = Stopwatch()
        var findings: [Finding] = []
        var evidence: [String] = []
        func result() -> CheckResult {
            guard findings.isEmpty else {
                return CheckResult(
                    check: .launchAgentsRewrite, subject: agent.path, findings: findings, shown: 4,
                    evidence: findings.map(\.message) + evidence, seconds: watch.seconds)
            }
            return CheckResult(
                check: .launchAgentsRewrite, subject: agent.path, verdict: .pass,
                message: "paths rewritten into the sandbox, program exists", evidence: evidence,
                seconds: watch.seconds)
        }
        let (restored, problem) = readRestoredPlist(agent)
        guard let restored else {
            findings.append(.agentUnreadable("restored plist", problem: problem ?? ""))
            return result()
        }
        // What a correct restore holds: the stored plist with the rule applied.
        let pairs: [(old: String, new: String)] = [
            (manifest.root, newRoot.pathString), (manifest.home, newHome.pathString),
        ]
        let (stored, storedProblem) = readStoredPlist(agent)
        if let stored {
            let expected = PathRewrite.applyToPlist(stored, pairs)
            if !(NSDictionary(dictionary: restored)).isEqual(to: expected as? [String: Any] ?? [:]) {
                findings.append(.agentContentDiffers)
            }
        } else {
            findings.append(.agentUnreadable("stored artifact \(agent.artifact)", problem: storedProblem ?? ""))
        }
        // No trace of the old home or root, once the new paths (which may contain them) are masked.
        let masks = [newRoot.pathString, newHome.pathString].sorted { $0.count > $1.count }
        var traces: Set<String> = []
        for string in PathRewrite.strings(in: restored) {
            var masked = string
            for mask in masks { masked = masked.replacingOccurrences(of: mask, with: "\u{1}") }
            for old in [manifest.root, manifest.home] where PathRewrite.containsPrefix(masked, old) {
                traces.insert(string)
            }
        }
        if !traces.isEmpty {
            findings.append(.agentOldPathLeft(traces.sorted()))
        }
        // Every absolute path inside the new home/root or a system folder.
        var outside: Set<String> = []
        for string in PathRewrite.strings(in: restored) {
            for token in absolutePaths(in: string) where !isAllowed(token) { outside.insert(token) }
        }
        if !outside.isEmpty {
            findings.append(.agentPathsOutside(outside.sorted()))
        }
        // The program exists and is executable.
        let program = (restored["ProgramArguments"] as? [Any])?.first as? String ?? restored["Program"] as? String
        if let program {
            let (ok, location) = resolveProgram(program)
            if ok {
                evidence.append("program \(program) found at \(location)")
            } else {
                findings.append(.agentProgramUnusable(program, location))
            }
        } else {
            findings.append(.agentNoProgram)
        }
        return result()
    }

    /// `launchagents.lint` for one agent: the restored plist when it parses, else the stored one.
    func lint(_ agent: LaunchAgentRecord) -> CheckResult {
        let watch = Stopwatch()
        let fileName = PathText.lastComponent(of: agent.path)
        var source = "restored plist"
        var (plist, problem) = readRestoredPlist(agent)
        if plist == nil {
            (plist, problem) = readStoredPlist(agent)
            source = "stored artifact \(agent.artifact)"
        }
        guard let plist else {
            return CheckResult(
                check: .launchAgentsLint, subject: agent.path, findings: [.agentLint(.parse, problem ?? "unreadable")],
                seconds: watch.seconds)
        }
        let findings = LaunchAgentLint.ruleFindings(in: plist, fileName: fileName).map { Finding.agentLint($0, $1) }
        guard findings.isEmpty else {
            return CheckResult(
                check: .launchAgentsLint, subject: agent.path, findings: findings, shown: 3,
                evidence: ["linted the \(source)"] + findings.map(\.message), seconds: watch.seconds)
        }
        return CheckResult(
            check: .launchAgentsLint, subject: agent.path, verdict: .pass,
            message: "label matches, arguments need no shell, calendar in range",
            evidence: ["linted the \(source)"], seconds: watch.seconds)
    }

    /// Absolute paths inside a string: tokens split at spaces, `:` and `=` that start with `/`
    /// (but not `//`, as in URLs).
    func absolutePaths(in string: String) -> [String] {
        string.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "=" || $0 == "\t" || $0 == "\n" })
            .map(String.init)
            .filter { $0.hasPrefix("/") && !$0.hasPrefix("//") }
    }

    func isAllowed(_ text: String) -> Bool {
        guard let path = try? AbsolutePath(validating: text) else { return false }
        return path.isDescendantOrSelf(of: newHome) || path.isDescendantOrSelf(of: newRoot)
            || Self.systemFolders.contains { path.isDescendantOrSelf(of: $0) }
    }

    /// Finds the program: inside the sandbox when under the new home/root, on the host for
    /// system paths, in the standard `PATH` folders for a bare name.
    /// - Returns: whether it is an executable file, and where it was looked for.
    func resolveProgram(_ program: String) -> (Bool, String) {
        func executable(_ path: String) -> Bool {
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
                && access(path, X_OK) == 0
        }
        if program.hasPrefix("/"), let path = try? AbsolutePath(validating: program) {
            if path.isDescendantOrSelf(of: newHome) || path.isDescendantOrSelf(of: newRoot) {
                return sandboxProgram(path, executable: executable)
            }
            if Self.systemFolders.contains(where: { path.isDescendantOrSelf(of: $0) }) {
                return executable(program)
                    ? (true, "\(program) (host)") : (false, "is missing or not executable on this host")
            }
            return (false, "lies outside the sandbox and the system folders")
        }
        if program.contains("/") { return (false, "is a relative path (launchd needs an absolute one)") }
        // `program` holds no `/` here: one name, unless it is `.` or `..` (which name no program).
        if let name = try? RelativePath(validatingBeneath: program), name.components.count == 1 {
            for folder in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin", "/opt/homebrew/bin"] {
                guard let candidate = try? AbsolutePath(validating: folder).appending(name).pathString else { continue }
                if executable(candidate) { return (true, "\(candidate) (host PATH)") }
            }
        }
        return (false, "is not found in the standard PATH folders")
    }

    /// The key of ``unrestored``: base and path.
    static func unrestoredKey(_ base: PathBase, _ path: String) -> String { "\(base.rawValue):\(path)" }

    /// The record of the whole set's file at `path` (in the sandbox's root or home) that this drill
    /// of some parts did not restore; nil for a whole drill or a path the set does not hold.
    func unrestoredRecord(_ path: AbsolutePath) -> FileRecord? {
        guard !unrestored.isEmpty else { return nil }
        for (base, folder) in [(PathBase.root, newRoot), (PathBase.home, newHome)] where path.isDescendant(of: folder) {
            guard let relative = path.relative(to: folder)?.pathString else { continue }
            if let record = unrestored[Self.unrestoredKey(base, relative)] { return record }
        }
        return nil
    }

    /// Whether `path` inside the sandbox is an executable regular file, looked at through
    /// ``RestoredTree``: a link is resolved by reading its target (at most 8 links), never
    /// followed; a target in a system folder is looked for on the host.
    /// - Parameter executable: the host check for a system path.
    func sandboxProgram(_ path: AbsolutePath, executable: (String) -> Bool) -> (Bool, String) {
        let program = path.pathString
        var current = path
        for _ in 0..<8 {
            guard current.isDescendantOrSelf(of: newHome) || current.isDescendantOrSelf(of: newRoot),
                let relative = tree.relative(current)
            else {
                if Self.systemFolders.contains(where: { current.isDescendantOrSelf(of: $0) }) {
                    return executable(current.pathString)
                        ? (true, "\(program) (sandbox link to \(current) on the host)")
                        : (false, "links to \(current), which is missing or not executable on this host")
                }
                return (false, "links to \(current), outside the sandbox and the system folders")
            }
            switch tree.beneath.entry(relative) {
            case .success(let entry) where entry.kind == .file:
                return entry.mode & 0o111 != 0
                    ? (true, "\(program) (sandbox)") : (false, "is not executable in the sandbox")
            case .success(let entry) where entry.kind == .symbolicLink:
                guard let target = try? tree.beneath.linkTarget(relative).get(),
                    let next = try? AbsolutePath(target, relativeTo: current.parentDirectory)
                else { return (false, "is a link that cannot be read in the sandbox") }
                current = next
            case .success(let entry):
                return (false, "is a \(entry.kind.rawValue) in the sandbox, not a program")
            case .failure(.missing):
                if let record = unrestoredRecord(current) {
                    // Not restored by this drill of some parts: judged by the set's own record (the
                    // drill that restores its pack checks the file itself).
                    return record.type == .file && record.mode & 0o111 != 0
                        ? (
                            true,
                            "\(program) (a file of the set, mode \(String(record.mode & 0o7777, radix: 8)), not restored by this drill of some parts)"
                        )
                        : (
                            false,
                            "is a file of the set that is not an executable regular file (not restored by this drill of some parts)"
                        )
                }
                return (false, "is missing or not executable in the sandbox")
            case .failure(let refusal):
                return (false, "\(tree.explain(refusal, for: relative)) in the sandbox")
            }
        }
        return (false, "is a chain of more than 8 links in the sandbox")
    }
}
