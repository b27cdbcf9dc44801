import Destination
import DrillCore
import Foundation
import Health
import Verifier

/// `restore-drill schedule install` and `schedule status`.
///
/// Install generates the files of ``ScheduleGenerator``, lints each LaunchAgent with
/// ``AgentLinter`` (the rules of `lint-agents`) before anything is written, refuses to replace a
/// file that lacks ``ScheduleGenerator/marker``, creates the log folder, and writes each file
/// atomically (``AtomicFile``). It does not load the jobs: it returns the `launchctl` or
/// `systemctl --user` commands that do. An interrupted install leaves some files written in full
/// and the others untouched (no half-written file); running it again completes it.
public struct ScheduleInstaller: Sendable {
    public let config: RestoreDrillConfig
    /// Absolute path of the running `restore-drill` (see ``runningExecutable()``).
    public let toolPath: String
    /// The user's home (where LaunchAgents and systemd user units live).
    public let home: String
    public let environment: [String: String]
    /// Where the history `status` reads is kept. Defaults to the ``LocalDestination`` of
    /// `config.destination`.
    public var destination: any Destination

    public init(
        config: RestoreDrillConfig, toolPath: String, home: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.config = config
        self.toolPath = toolPath
        self.home = home
        self.environment = environment
        destination = LocalDestination(path: config.destination)
    }

    /// What the command line asked for.
    public struct Request: Sendable {
        public var system: ScheduleSystem
        /// Print the files instead of writing them.
        public var printOnly: Bool
        /// Folder the files go to; nil for ``ScheduleSystem/defaultTarget(home:)``.
        public var target: String?
        /// Folder of the log files; nil for ``ScheduleSystem/defaultLogFolder(home:environment:)``.
        public var logFolder: String?

        public init(system: ScheduleSystem, printOnly: Bool = false, target: String? = nil, logFolder: String? = nil) {
            self.system = system
            self.printOnly = printOnly
            self.target = target
            self.logFolder = logFolder
        }
    }

    /// What install did.
    public struct Outcome: Sendable {
        /// Every generated file with its absolute path and contents.
        public var files: [(path: String, file: ScheduleFile)]
        /// Paths written (empty with `--print`); files whose content was already identical are not rewritten.
        public var written: [String]
        public var unchanged: [String]
        /// Commands that load the jobs (not run by install).
        public var nextSteps: [String]

        /// `--print`: each file under a `# path` header; otherwise one line per file and the next steps.
        public func text(printOnly: Bool) -> String {
            if printOnly {
                return files.map { "# \($0.path)\n" + String(decoding: $0.file.contents, as: UTF8.self) }
                    .joined(separator: "\n")
            }
            var lines = written.map { "wrote \($0)" } + unchanged.map { "unchanged \($0)" }
            lines.append("to load the jobs, run:")
            lines += nextSteps.map { "  \($0)" }
            return lines.joined(separator: "\n")
        }
    }

    /// The generator for this configuration and request.
    /// - Throws: ``RestoreDrillError/usage(_:)`` when the configuration was not read from a file.
    public func generator(for request: Request) throws -> ScheduleGenerator {
        guard let file = config.file else {
            throw RestoreDrillError.usage("schedule install needs a configuration file (give --config FILE)")
        }
        let logs =
            request.logFolder.map { absolute($0) }
            ?? request.system.defaultLogFolder(home: home, environment: environment)
        return try ScheduleGenerator(
            toolPath: toolPath, configPath: absolute(file), logFolder: logs, schedule: config.schedule)
    }

    /// Generates, lints and (unless `printOnly`) writes the schedule.
    /// - Throws: ``RestoreDrillError/config(file:line:key:message:)`` for a bad `schedule` value;
    ///   ``RestoreDrillError/io(path:message:)`` when a target file exists without the marker or
    ///   cannot be written; ``RestoreDrillError/runtime(_:)`` when a generated plist fails lint.
    public func install(_ request: Request) throws -> Outcome {
        let generator = try generator(for: request)
        let target = request.target.map { absolute($0) } ?? request.system.defaultTarget(home: home)
        let files = try generator.files(for: request.system)
        let placed = files.map { (path: (target as NSString).appendingPathComponent($0.name), file: $0) }
        if !request.printOnly {
            // Refuse before writing anything, so a refusal leaves the target as it was.
            for (path, _) in placed {
                guard let existing = FileManager.default.contents(atPath: path) else { continue }
                guard String(decoding: existing, as: UTF8.self).contains(ScheduleGenerator.marker) else {
                    throw RestoreDrillError.io(
                        path: path,
                        message:
                            "exists and was not generated by restore-drill schedule install; not overwritten (move it away first)"
                    )
                }
            }
            try createFolder(generator.logFolder)
        }
        // Lint every LaunchAgent as it would be installed. With --print the log folder is not
        // created yet, so that one rule is left out.
        for (path, file) in placed where request.system == .launchd {
            let lint = AgentLinter().lint(data: file.contents, path: path)
            let findings = lint.findings.filter { !(request.printOnly && $0.rule == .logFolders) }
            if !findings.isEmpty {
                throw RestoreDrillError.runtime(
                    "generated \(file.name) fails lint: "
                        + findings.map { "[\($0.rule.rawValue)] \($0.message)" }.joined(separator: "; "))
            }
        }
        var written: [String] = []
        var unchanged: [String] = []
        if !request.printOnly {
            try createFolder(target)
            for (path, file) in placed {
                if FileManager.default.contents(atPath: path) == file.contents {
                    unchanged.append(path)
                    continue
                }
                try AtomicFile.write(file.contents, to: path, mode: 0o644)
                written.append(path)
            }
        }
        return Outcome(
            files: placed, written: written, unchanged: unchanged,
            nextSteps: nextSteps(request.system, placed.map(\.path)))
    }

    func nextSteps(_ system: ScheduleSystem, _ paths: [String]) -> [String] {
        switch system {
        case .launchd:
            return paths.map {
                "launchctl bootout gui/$(id -u) '\($0)' 2>/dev/null; launchctl bootstrap gui/$(id -u) '\($0)'"
            }
        case .systemd:
            let timers = paths.filter { $0.hasSuffix(".timer") }.map { PathText.lastComponent(of: $0) }
            return ["systemctl --user daemon-reload", "systemctl --user enable --now \(timers.joined(separator: " "))"]
        }
    }

    func createFolder(_ folder: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw RestoreDrillError.io(path: folder, message: "cannot create the folder: \(error.localizedDescription)")
        }
    }

    func absolute(_ path: String) -> String {
        // `~` and `~/…` below the home, anything else below this process's working folder.
        let tilde = path == "~" || path.hasPrefix("~/")
        let text = tilde ? String(path.dropFirst(2)) : path
        guard let folder = try? AbsolutePath(validating: tilde ? home : FileManager.default.currentDirectoryPath),
            let resolved = try? AbsolutePath(text.isEmpty ? "." : text, relativeTo: folder)
        else { return path }
        return resolved.pathString
    }

    /// The absolute, symlink-free path of the running executable (`/proc/self/exe` on Linux).
    public static func runningExecutable() -> String {
        #if os(Linux)
            if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                return resolved
            }
        #endif
        let url = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        return url.resolvingSymlinksInPath().path
    }

    // MARK: status

    /// `schedule status` (`--json`: format `restore-drill/schedule-status`, version 1).
    public struct Status: Codable, Sendable {
        public var format = "restore-drill/schedule-status"
        public var formatVersion = 1
        public var destination: String
        public var jobs: [Job]
        /// Event files of the history that could not be read, with the reason.
        public var historyProblems: [String]

        /// One job on one system.
        public struct Job: Codable, Sendable {
            public var job: ScheduledJob
            public var system: ScheduleSystem
            /// The configured `schedule` value.
            public var schedule: String
            /// `installed` (generated by us, identical to what install would write now), `outdated`
            /// (generated by us, differs: rerun install), `foreign` (a file we did not generate),
            /// `missing`, or `partial` (some of the unit's files missing).
            public var state: String
            public var files: [String]
            /// When the job last ran according to the history (UTC ISO 8601), its status; nil when
            /// the history has no event of this kind (health records none).
            public var lastRun: String?
            public var lastStatus: String?
            /// When its log file last changed (UTC ISO 8601), nil when there is none.
            public var logModified: String?

            enum CodingKeys: String, CodingKey {
                case job, system, schedule, state, files
                case lastRun = "last_run"
                case lastStatus = "last_status"
                case logModified = "log_modified"
            }
        }

        enum CodingKeys: String, CodingKey {
            case format, destination, jobs
            case formatVersion = "format_version"
            case historyProblems = "history_problems"
        }

        /// One line per job: system, job, state, schedule, last run (from history), log time.
        public var text: String {
            var lines: [String] = []
            for j in jobs {
                let last =
                    j.lastRun.map { "last ran \($0) (\(j.lastStatus ?? "?"))" }
                    ?? (j.job.historyKind == nil ? "runs are not recorded in history" : "no run in history")
                let log = j.logModified.map { ", log written \($0)" } ?? ""
                lines.append(
                    "\(j.system.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(j.job.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(j.state.padding(toLength: 9, withPad: " ", startingAt: 0)) \(j.schedule.padding(toLength: 10, withPad: " ", startingAt: 0)) \(last)\(log)"
                )
            }
            for p in historyProblems { lines.append("history: \(p)") }
            return lines.joined(separator: "\n")
        }
    }

    /// What is installed for each system and job, and when each job last ran.
    /// - Parameters:
    ///   - systems: the systems to look at (default both).
    ///   - target: one folder to look in instead of each system's default.
    ///   - logFolder: the log folder instead of each system's default.
    public func status(
        systems: [ScheduleSystem] = ScheduleSystem.allCases, target: String? = nil, logFolder: String? = nil
    )
        -> Status
    {
        var lastByKind: [String: (time: Date, status: String)] = [:]
        var problems: [String] = []
        do {
            let log = try HistoryStore(destination).load()
            for event in log.events {
                let kind = event.kind.rawValue
                if let seen = lastByKind[kind], seen.time >= event.time { continue }
                lastByKind[kind] = (event.time, event.status.rawValue)
            }
            problems = log.problems.map { "\($0.file): \($0.message)" }
        } catch {
            problems = ["cannot read the history: \(error)"]
        }
        var jobs: [Status.Job] = []
        for system in systems {
            let request = Request(system: system, target: target, logFolder: logFolder)
            let folder = target.map { absolute($0) } ?? system.defaultTarget(home: home)
            let expected = (try? generator(for: request).files(for: system)) ?? []
            for job in ScheduledJob.allCases {
                let paths = system.fileNames(for: job).map { (folder as NSString).appendingPathComponent($0) }
                let contents = paths.map { FileManager.default.contents(atPath: $0) }
                let present = contents.compactMap { $0 }
                let state: String
                if present.isEmpty {
                    state = "missing"
                } else if present.contains(where: {
                    !String(decoding: $0, as: UTF8.self).contains(ScheduleGenerator.marker)
                }) {
                    state = "foreign"
                } else if present.count < paths.count {
                    state = "partial"
                } else {
                    let wanted = expected.filter { $0.job == job }.map(\.contents)
                    state = wanted == present ? "installed" : "outdated"
                }
                let generator = try? generator(for: request)
                let logTimes = (generator?.logs(job) ?? []).compactMap {
                    (try? FileManager.default.attributesOfItem(atPath: $0))?[.modificationDate] as? Date
                }
                let last = job.historyKind.flatMap { lastByKind[$0] }
                jobs.append(
                    Status.Job(
                        job: job, system: system, schedule: job.setting(in: config.schedule), state: state,
                        files: paths, lastRun: last.map { Timestamp.string($0.time) }, lastStatus: last?.status,
                        logModified: logTimes.max().map { Timestamp.string($0) }))
            }
        }
        return Status(destination: destination.location, jobs: jobs, historyProblems: problems)
    }
}
