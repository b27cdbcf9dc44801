import DrillCore
import Foundation

/// The outcome of `restore-drill lint-agents` over many files, and its three renderings: text,
/// JSON (`"format": "restore-drill/lint", "format_version": 1`) and JUnit XML
/// (../shared/schemas/junit-10.xsd).
///
/// JUnit layout: one `<testsuite name="lint-agents">`, one
/// `<testcase classname="lint-agents.RULE" name="FILE">` per file and rule
/// (``AgentLintRule``), so a CI page shows which rule each agent broke; a failed rule is a
/// `<failure>` whose text lists its findings, a rule with nothing to look at is `<skipped>`.
public struct AgentLintReport: Sendable, Equatable {
    /// The value of `format` in the JSON rendering.
    public static let formatName = "restore-drill/lint"
    /// The `format_version` of the JSON rendering.
    public static let formatVersion = 1

    /// One entry per file, in the order linted.
    public var files: [AgentLintFile]
    /// Where the paths came from when none were given (e.g. the configured globs); for the text.
    public var searched: [String]

    public init(files: [AgentLintFile], searched: [String] = []) {
        self.files = files
        self.searched = searched
    }

    /// Number of findings over all files.
    public var findingCount: Int { files.reduce(0) { $0 + $1.findings.count } }

    /// The exit status: ``ExitStatus/findings`` when any finding, else ``ExitStatus/success``.
    public var exitStatus: ExitStatus { findingCount > 0 ? .findings : .success }

    /// Lints every path: a folder stands for the `*.plist` files directly inside it.
    /// - Parameters:
    ///   - paths: files or folders, absolute or relative to `currentDirectory`.
    public static func lint(
        paths: [String], linter: AgentLinter = AgentLinter(),
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) -> AgentLintReport {
        var files: [String] = []
        for given in paths {
            let path = given.hasPrefix("/") ? given : (currentDirectory as NSString).appendingPathComponent(given)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".plist") }.sorted().map {
                    (path as NSString).appendingPathComponent($0)
                }
            } else {
                files.append(path)
            }
        }
        return AgentLintReport(files: files.map { linter.lint(file: $0) })
    }

    /// The files the default of `lint-agents` means: every match of the configured
    /// `launchagents.include` globs (absolute, `~` already expanded), else of
    /// `<home>/Library/LaunchAgents/*.plist`.
    /// - Returns: matching existing files, sorted; empty when none match.
    public static func defaultPaths(config: RestoreDrillConfig?, home: String) -> (paths: [String], globs: [String]) {
        let globs =
            config?.launchAgents.include.isEmpty == false
            ? config!.launchAgents.include
            : [(home as NSString).appendingPathComponent("Library/LaunchAgents/*.plist")]
        var found: Set<String> = []
        for glob in globs { found.formUnion(expand(glob)) }
        return (found.sorted(), globs)
    }

    /// Existing files matching one absolute glob (``GlobPattern``: `*`, `?`, `[…]`, `**`).
    static func expand(_ glob: String) -> [String] {
        let pattern = GlobPattern(glob)
        let start = "/" + pattern.literalPrefix
        let segments = glob.split(separator: "/").count
        let prefixSegments = pattern.literalPrefix.split(separator: "/").count
        if segments == prefixSegments { return FileManager.default.fileExists(atPath: glob) ? [glob] : [] }
        let maxDepth = glob.contains("**") ? Int.max : segments - prefixSegments
        guard let walker = FileManager.default.enumerator(atPath: start) else { return [] }
        var out: [String] = []
        while let relative = walker.nextObject() as? String {
            let depth = relative.split(separator: "/").count
            if depth >= maxDepth { walker.skipDescendants() }
            let full = (start as NSString).appendingPathComponent(relative)
            if depth <= maxDepth && pattern.matches(full) {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue {
                    out.append(full)
                }
            }
        }
        return out
    }

    // MARK: renderings

    /// One line per finding (`FILE: [RULE] message`), `FILE: ok` for a clean file, then a summary line.
    public var text: String {
        var lines: [String] = []
        if files.isEmpty {
            let where_ = searched.isEmpty ? "" : " matching \(searched.joined(separator: ", "))"
            return "no LaunchAgent files found\(where_); nothing to lint"
        }
        for file in files {
            let findings = file.findings
            if findings.isEmpty {
                lines.append("\(file.path): ok")
            } else {
                for f in findings { lines.append("\(file.path): [\(f.rule.rawValue)] \(f.message)") }
            }
        }
        let bad = files.filter { $0.verdict == .fail }.count
        lines.append(
            "\(files.count) file\(files.count == 1 ? "" : "s") linted, \(bad) with findings, \(findingCount) finding\(findingCount == 1 ? "" : "s")"
        )
        return lines.joined(separator: "\n")
    }

    /// The `--json` document.
    public var json: Document { Document(self) }

    /// The JSON shape: `{"format", "format_version", "verdict", "finding_count",
    /// "files": [{"path", "verdict", "findings": [{"rule", "message"}], "rules": [{"rule", "verdict", "findings", "reason"}]}]}`.
    public struct Document: Codable, Sendable, Equatable {
        public var format = AgentLintReport.formatName
        public var formatVersion = AgentLintReport.formatVersion
        /// `pass` when no finding, else `fail`.
        public var verdict: Verdict
        public var findingCount: Int
        public var files: [File]

        /// One file.
        public struct File: Codable, Sendable, Equatable {
            public var path: String
            public var verdict: Verdict
            public var findings: [Finding]
            public var rules: [AgentRuleOutcome]
        }

        /// One finding.
        public struct Finding: Codable, Sendable, Equatable {
            public var rule: AgentLintRule
            public var message: String
        }

        enum CodingKeys: String, CodingKey {
            case format, verdict, files
            case formatVersion = "format_version"
            case findingCount = "finding_count"
        }

        init(_ report: AgentLintReport) {
            verdict = report.findingCount > 0 ? .fail : .pass
            findingCount = report.findingCount
            files = report.files.map { f in
                File(
                    path: f.path, verdict: f.verdict,
                    findings: f.findings.map { Finding(rule: $0.rule, message: $0.message) }, rules: f.outcomes)
            }
        }
    }

    /// The JUnit XML (layout in the type's doc).
    /// - Parameters:
    ///   - timestamp: when the lint ran (ISO 8601 without zone, as Jenkins expects, UTC).
    ///   - host: the `hostname` attribute.
    public func junit(timestamp: Date, host: String = ToolInfo.hostName) -> String {
        var cases: [String] = []
        var failures = 0
        var skipped = 0
        for file in files {
            for o in file.outcomes {
                let open =
                    "    <testcase classname=\(Self.attr("lint-agents.\(o.rule.rawValue)")) name=\(Self.attr(file.path)) time=\"0\""
                switch o.verdict {
                case .fail:
                    failures += 1
                    let message = "\(file.path): " + o.findings.joined(separator: "; ")
                    cases.append(
                        open + ">\n      <failure type=\"lint\" message=\(Self.attr(message))>"
                            + Self.text(o.findings.joined(separator: "\n")) + "</failure>\n    </testcase>")
                case .skip:
                    skipped += 1
                    cases.append(
                        open
                            + ">\n      <skipped message=\(Self.attr(o.reason ?? "nothing to check"))/>\n    </testcase>"
                    )
                default:
                    cases.append(open + "/>")
                }
            }
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let tests = cases.count
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites name="restore-drill lint-agents" tests="\(tests)" failures="\(failures)" errors="0" time="0">
              <testsuite name="lint-agents" tests="\(tests)" failures="\(failures)" errors="0" skipped="\(skipped)" time="0" timestamp="\(formatter.string(from: timestamp))" hostname=\(Self.attr(host))>
            \(cases.joined(separator: "\n"))
              </testsuite>
            </testsuites>

            """
    }

    /// A quoted XML attribute value.
    static func attr(_ value: String) -> String {
        "\""
            + escape(value).replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "\n", with: "&#10;")
            + "\""
    }

    /// Element text.
    static func text(_ value: String) -> String { escape(value) }

    /// `&`, `<`, `>` escaped; characters XML 1.0 forbids replaced by U+FFFD.
    static func escape(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let v = scalar.value
                let legal = (v >= 0x20 && v <= 0xD7FF) || (v >= 0xE000 && v <= 0xFFFD) || v >= 0x10000
                out.unicodeScalars.append(legal ? scalar : "\u{FFFD}")
            }
        }
        return out
    }
}
