import ArgumentParser
import DrillCore
import Foundation
import Verifier

struct LintAgentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint-agents",
        abstract: "Lint LaunchAgent plists before launchd runs them.",
        discussion: """
            Rules (those of the launchagents.lint check, plus): the file parses as an XML or binary plist with a \
            dictionary at the top; Label matches the file name; no argument holds shell syntax outside an \
            explicit sh -c/bash -c script; that script passes `sh -n`; StartCalendarInterval in range; \
            Program/ProgramArguments[0] exists and is executable; the folders of StandardOutPath and \
            StandardErrorPath exist; no path starts with ~ (launchd does not expand it).
            Default paths: the configured launchagents.include globs (configuration optional), else \
            ~/Library/LaunchAgents/*.plist. A folder stands for the *.plist files in it.
            --junit writes one testcase per file and rule (classname lint-agents.RULE, name FILE).
            Exit 0 clean, 1 findings, 2 usage.
            """)

    @Argument(help: ArgumentHelp("Plist files or folders to lint.", valueName: "path")) var paths: [String] = []
    @Option(
        name: .customLong("config"),
        help:
            "Configuration file (default: $RESTORE_DRILL_CONFIG, ./restore-drill.yml, ~/.config/restore-drill/config.yml; optional)."
    )
    var configPath: String?
    @Flag(help: "Print as JSON (format restore-drill/lint).") var json = false
    @Option(help: ArgumentHelp("Also write a JUnit XML report here.", valueName: "file")) var junit: String?

    func run() throws {
        var report: AgentLintReport
        if paths.isEmpty {
            // The configuration is optional here: an explicit --config must load, a default one may be absent.
            let config: RestoreDrillConfig?
            if let configPath {
                config = try ConfigOption.loading(configPath)
            } else {
                config = try? RestoreDrillConfig.locate(explicit: nil)
            }
            let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            let (found, globs) = AgentLintReport.defaultPaths(config: config, home: home)
            report = AgentLintReport.lint(paths: found)
            report.searched = globs
        } else {
            report = AgentLintReport.lint(paths: paths)
        }
        if let junit {
            try AtomicFile.write(Data(report.junit(timestamp: try SystemClock().now()).utf8), to: absolutePath(junit))
        }
        if json {
            try Terminal.json(report.json)
        } else {
            Terminal.out(report.text)
        }
        if report.exitStatus != .success { throw ExitCode(report.exitStatus.rawValue) }
    }

    func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }
}

extension ConfigOption {
    /// Loads an explicit configuration file and prints its notices.
    static func loading(_ path: String) throws -> RestoreDrillConfig {
        var option = ConfigOption()
        option.path = path
        return try option.load()
    }
}
