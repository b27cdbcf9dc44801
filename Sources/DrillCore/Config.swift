import Foundation
import Yams

/// The resolved configuration (`restore-drill.yml`, README, "Configuration").
///
/// Every path is absolute once loaded: `~` means the configured ``home``, code, database and
/// credentials paths are relative to ``root``, folders (`sandbox.folder`, `reports.folder`,
/// `destination`) are relative to the config file's folder. Sizes are bytes, durations seconds.
public struct RestoreDrillConfig: Sendable, Equatable {
    /// The file this came from, absolute; nil for a configuration built in code.
    public var file: String?
    /// The restore script is `restore_<name>.sh`.
    public var name = "maia"
    public var home: String
    public var root: String
    public var destination: String
    /// `set_format`: the format new sets are written in (docs/SET-FORMAT.md): 2 (the default), sets
    /// that share content-addressed objects in `<destination>/objects/` (deduplicated across days);
    /// 1, every set a folder that holds all its bytes. Either is read whatever this says.
    public var setFormat = 2
    public var code = CodeSettings()
    public var databases = DatabaseSettings()
    public var launchAgents = LaunchAgentSettings()
    public var shell = ShellSettings()
    public var dependencies = DependencySettings()
    public var credentials = CredentialSettings()
    public var objectives = Objectives()
    public var coverage = CoverageSettings()
    /// `proof`: how long a proof of a set's part counts (issue 17, docs/PROOF.md).
    public var proof = ProofSettings()
    /// `spot`: the spot check of the live workspace against the newest set (issue 17).
    public var spot = SpotSettings()
    public var retention = RetentionSettings()
    public var health = HealthThresholds()
    public var sandbox: SandboxSettings
    public var reports: ReportSettings
    public var schedule = ScheduleSettings()
    public var hooks = HookSettings()
    /// `evidence`: the key that signs evidence bundles (issue 18, docs/EVIDENCE.md, "Evidence bundles").
    public var evidence = EvidenceSettings()
    /// `offsite`: rclone remotes each new set is pushed to, checked on and drilled from (in
    /// configuration order; names unique).
    public var offsite: [OffsiteRemote] = []
    /// Notices for the user (e.g. a section whose feature is not built yet), printed on stderr.
    public var notices: [String] = []

    /// A configuration with defaults for everything but the workspace and destination.
    /// Sandboxes and reports default to `sandboxes/` and `reports/` under `baseFolder`.
    public init(home: String, root: String, destination: String, baseFolder: String) {
        self.home = home
        self.root = root
        self.destination = destination
        self.sandbox = SandboxSettings(baseFolder: baseFolder)
        self.reports = ReportSettings(baseFolder: baseFolder)
        self.launchAgents.include = [(home as NSString).appendingPathComponent("Library/LaunchAgents/*.plist")]
        self.shell.files = [".zshrc", ".zprofile", ".bashrc", ".bash_profile", ".gitconfig"].map {
            (home as NSString).appendingPathComponent($0)
        }
    }

    /// `code`: the project archive.
    public struct CodeSettings: Sendable, Equatable {
        public init() {}
        /// Glob patterns; one without `/` matches any path component's name, one with `/` the
        /// path relative to root.
        public var exclude: [String] = [".git", "__pycache__", "*.pyc", ".venv", "node_modules", ".DS_Store"]
        /// gzip level 1–9.
        public var compressionLevel = 6
    }

    /// `databases`: SQLite files copied with the online backup API.
    public struct DatabaseSettings: Sendable, Equatable {
        public init() {}
        /// Globs relative to root; `**` matches zero or more folders.
        public var include: [String] = ["**/*.db", "**/*.sqlite", "**/*.sqlite3"]
        /// At or over this many bytes a database is stored in chunks.
        public var smallLimit: Int64 = 10 << 20
        /// Bytes per chunk.
        public var chunkSize: Int64 = 50 << 20
    }

    /// `launchagents`.
    public struct LaunchAgentSettings: Sendable, Equatable {
        public init() {}
        /// Absolute globs (after `~` expansion).
        public var include: [String] = []
    }

    /// `shell`.
    public struct ShellSettings: Sendable, Equatable {
        public init() {}
        /// Absolute paths (after `~` expansion); each must lie under home. A missing file is skipped.
        public var files: [String] = []
    }

    /// `dependencies`: argv arrays whose standard output is stored. nil disables one.
    public struct DependencySettings: Sendable, Equatable {
        public init() {}
        public var python: [String]? = ["pip3", "freeze"]
        public var homebrew: [String]? = ["brew", "list", "--versions"]
    }

    /// `credentials`.
    public struct CredentialSettings: Sendable, Equatable {
        public init() {}
        /// Absolute paths of files or folders holding secrets (relative entries are under root).
        public var include: [String] = []
        /// Where the vault password comes from; nil when not configured.
        public var password: PasswordSource?
        /// `credentials.previous_passwords`: sources of earlier vault passwords (each like
        /// `password`), tried in order after the current one to authenticate older sets after a
        /// password change. Never used to write anything.
        public var previousPasswords: [PasswordSource] = []
    }

    /// Exactly one of `env`, `file`, `command`.
    public enum PasswordSource: Sendable, Equatable {
        case environment(String)
        case file(String)
        case command([String])
    }

    /// `objectives`, seconds.
    public struct Objectives: Sendable, Equatable {
        public init() {}
        public var rpo: Double = 24 * 3600
        public var rto: Double = 30 * 60
    }

    /// `coverage`.
    public struct CoverageSettings: Sendable, Equatable {
        public init() {}
        /// ``maxShrink`` when the configuration says nothing: 0.5 (50 %).
        public static let defaultMaxShrink = 0.5
        /// Largest accepted drop of a component's bytes or files, 0…1.
        public var maxShrink = defaultMaxShrink
    }

    /// `proof`: the proof ledger's window (docs/PROOF.md).
    public struct ProofSettings: Sendable, Equatable {
        public init() {}
        /// `max_age`: seconds a part's newest proof counts for; a retained set with a part proven
        /// longer ago (or never) is unproven. Default 4 weeks. Health warns past it and is
        /// critical past twice it.
        public var maxAge: Double = 28 * 86400
        /// `budget`: what `drill --sample` spends when `--budget` is not given (the scheduled
        /// sampled drill): a time (`10m`) or bytes (`2GiB`). Default 10 minutes.
        public var budget = SampleBudget.seconds(600)
    }

    /// `spot`: what `restore-drill spot` samples and tolerates (as borgmatic's `spot` check).
    public struct SpotSettings: Sendable, Equatable {
        public init() {}
        /// `sample`: files hashed on disk against the manifest when `--sample` is not given.
        public var sample = 100
        /// `count_tolerance`: accepted difference of file counts (per component and per top
        /// folder) between the workspace and the set, 0…1 of the set's count. Default 0.05 (5 %).
        public var countTolerance = 0.05
        /// `size_tolerance`: accepted difference of total bytes, 0…1 of the set's. Default 0.10 (10 %).
        public var sizeTolerance = 0.10
    }

    /// `retention`: counts of sets kept per rule.
    public struct RetentionSettings: Sendable, Equatable {
        public init() {}
        public var last = 1
        public var daily = 7
        public var weekly = 4
        public var monthly = 12
        /// IANA zone for calendar buckets; nil means the machine's.
        public var timeZone: String?
    }

    /// One `offsite` entry: an rclone remote that holds a copy of the destination's layout
    /// (`objects/`, one folder per set), pushed after every backup.
    public struct OffsiteRemote: Sendable, Equatable {
        /// `name`: `[A-Za-z0-9_.-]+`, unique; names the remote in messages, the history and metrics.
        public var name: String
        /// `rclone`: the rclone path of the remote's root, `remote:sub/path` (a remote of rclone's
        /// own configuration). Never holds a secret: the parser refuses inline credentials.
        public var rclone: String
        /// `encrypted`: nil when not given. A push needs the rclone remote to be of type `crypt`, or
        /// this set to false explicitly (the person chose to store code and databases in clear).
        public var encrypted: Bool?
        /// `prune`: false for an append-only remote that another, trusted host prunes.
        public var prune = true
        /// `retention`: this remote's rule; nil uses the main one.
        public var retention: RetentionSettings?
        /// `bwlimit`: rclone's `--bwlimit` value (e.g. `10M`, bytes per second with a suffix); nil
        /// for no limit.
        public var bandwidthLimit: String?

        /// - Parameters: as the properties.
        public init(name: String, rclone: String) {
            self.name = name
            self.rclone = rclone
        }
    }

    /// `health` thresholds, seconds. At or above warning warns; at or above critical is critical.
    public struct HealthThresholds: Sendable, Equatable {
        public init() {}
        public var backupWarning: Double = 25 * 3600
        public var backupCritical: Double = 36 * 3600
        public var drillWarning: Double = 8 * 86400
        public var drillCritical: Double = 10 * 86400
    }

    /// `sandbox`.
    public struct SandboxSettings: Sendable, Equatable {
        public init(folder: String) { self.folder = folder }
        /// The defaults with ``folder`` `<baseFolder>/sandboxes` (``defaultFolderName``).
        public init(baseFolder: String) {
            self.init(folder: (baseFolder as NSString).appendingPathComponent(Self.defaultFolderName))
        }
        /// The folder's name in the base folder when the configuration names none: `sandboxes`.
        public static let defaultFolderName = "sandboxes"
        /// ``isolation`` when the configuration says nothing: ``IsolationMode/auto``.
        public static let defaultIsolation = IsolationMode.auto
        /// ``timeout`` when the configuration says nothing: 3600 seconds.
        public static let defaultTimeout: Double = 3600
        /// ``keep`` when the configuration says nothing: ``KeepPolicy/onFailure``.
        public static let defaultKeep = KeepPolicy.onFailure
        /// Bytes of replay output kept, past which `restore.script` fails: 8 MiB (not configurable).
        public static let defaultOutputCap = 8 << 20

        public var folder: String
        public var isolation: IsolationMode = defaultIsolation
        /// Seconds before the replay's process group is killed.
        public var timeout: Double = defaultTimeout
        public var limits = ResourceLimits()
        public var keep: KeepPolicy = defaultKeep
    }

    /// `sandbox.isolation`.
    public enum IsolationMode: String, Sendable, Equatable, CaseIterable {
        case auto, bubblewrap, none
    }

    /// `sandbox.keep`.
    public enum KeepPolicy: String, Sendable, Equatable, CaseIterable {
        case always
        case onFailure = "on-failure"
        case never
    }

    /// `sandbox.limits` for the restore replay.
    public struct ResourceLimits: Sendable, Equatable {
        public init() {}
        /// CPU seconds.
        public var cpu: Double = 1800
        /// Memory, bytes: each process's address space (`RLIMIT_AS`) and, where a memory cgroup
        /// can be made, the memory of all the replay's processes together.
        public var memory: Int64 = 4 << 30
        /// Largest file the replay may write, bytes.
        public var fileSize: Int64 = 16 << 30
        public var openFiles = 1024
        /// Processes: of the replay's own, in a pids cgroup where one can be made; of its uid
        /// (`RLIMIT_NPROC`) otherwise.
        public var processes = 256
    }

    /// `reports`.
    public struct ReportSettings: Sendable, Equatable {
        public init(folder: String) { self.folder = folder }
        /// The defaults with ``folder`` `<baseFolder>/reports` (``defaultFolderName``).
        public init(baseFolder: String) {
            self.init(folder: (baseFolder as NSString).appendingPathComponent(Self.defaultFolderName))
        }
        /// The folder's name in the base folder when the configuration names none: `reports`.
        public static let defaultFolderName = "reports"
        /// ``keep`` when the configuration says nothing: 50 drill report folders.
        public static let defaultKeep = 50

        public var folder: String
        /// Drill report folders kept.
        public var keep = defaultKeep
    }

    /// `schedule`: when jobs run (`HH:MM`, `Sun HH:MM`, `hourly`).
    public struct ScheduleSettings: Sendable, Equatable {
        public init() {}
        public var backup = "03:00"
        public var prune = "04:00"
        public var drill = "Sun 05:00"
        /// `sample`: the sampled drill (`drill --sample`, budget `proof.budget`), after the full
        /// drill of the newest set, proving the other retained sets over time.
        public var sample = "Sun 06:00"
        /// `spot`: the spot check of the live workspace against the newest set (`restore-drill spot`).
        public var spot = "Sun 07:00"
        public var health = "hourly"
    }

    /// `evidence`: signing evidence bundles (`restore-drill evidence`).
    public struct EvidenceSettings: Sendable, Equatable {
        public init() {}
        /// `key`: the Ed25519 private key (PKCS#8 PEM) that signs bundles, absolute; nil when not
        /// configured: ``defaultKeyPath(environment:)``.
        public var key: String?

        /// Where `evidence keygen` writes and `evidence export` reads the key when `evidence.key` is
        /// not set: `$HOME/.config/restore-drill/evidence.key`.
        public static func defaultKeyPath(environment: [String: String] = ProcessInfo.processInfo.environment)
            -> String
        {
            let home = environment["HOME"] ?? NSHomeDirectory()
            return (home as NSString).appendingPathComponent(".config/restore-drill/evidence.key")
        }

        /// ``key``, or ``defaultKeyPath(environment:)``.
        public var keyPath: String { key ?? Self.defaultKeyPath() }
    }

    /// `hooks`: argv arrays run after a backup or drill, and the dead-man's switch.
    public struct HookSettings: Sendable, Equatable {
        public init() {}
        public var onFailure: [[String]] = []
        public var onSuccess: [[String]] = []
        /// `hooks.ping`: an http or https URL in the healthchecks.io convention (`URL/start`, `URL`,
        /// `URL/fail`), POSTed around every backup and drill; nil for none. A capability: messages
        /// show only its scheme and host.
        public var ping: URL?
    }
}

extension RestoreDrillConfig {
    /// Where a configuration is looked for when `--config` is not given, in order.
    /// - Returns: `$RESTORE_DRILL_CONFIG`, `./restore-drill.yml`, `~/.config/restore-drill/config.yml`.
    public static func searchPaths(environment: [String: String], currentDirectory: String) -> [String] {
        var out: [String] = []
        if let env = environment["RESTORE_DRILL_CONFIG"], !env.isEmpty { out.append(env) }
        out.append((currentDirectory as NSString).appendingPathComponent("restore-drill.yml"))
        if let home = environment["HOME"] {
            out.append((home as NSString).appendingPathComponent(".config/restore-drill/config.yml"))
        }
        return out
    }

    /// Finds and loads the configuration.
    /// - Parameter explicit: the `--config` value, if given (it must exist).
    /// - Throws: ``RestoreDrillError/config(file:line:key:message:)`` for bad content,
    ///   ``RestoreDrillError/usage(_:)`` when no file is found.
    public static func locate(
        explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> RestoreDrillConfig {
        if let explicit {
            return try load(path: absolute(explicit, relativeTo: currentDirectory))
        }
        let candidates = searchPaths(environment: environment, currentDirectory: currentDirectory)
        if let env = environment["RESTORE_DRILL_CONFIG"], !env.isEmpty {
            return try load(path: absolute(env, relativeTo: currentDirectory))
        }
        for path in candidates where FileManager.default.fileExists(atPath: path) {
            return try load(path: path)
        }
        throw RestoreDrillError.usage(
            "no configuration found; looked for \(candidates.joined(separator: ", ")) (use --config FILE)")
    }

    /// Loads and validates one configuration file.
    /// - Throws: ``RestoreDrillError/config(file:line:key:message:)`` naming the key and line of
    ///   an unknown key or a bad value; ``RestoreDrillError/io(path:message:)`` when unreadable.
    public static func load(path: String) throws -> RestoreDrillConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RestoreDrillError.config(file: path, line: nil, key: "", message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw RestoreDrillError.config(file: path, line: nil, key: "", message: "not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    /// Parses configuration text. Relative folders resolve against the folder of `file`.
    public static func parse(_ text: String, file: String) throws -> RestoreDrillConfig {
        try ConfigParser(file: file).parse(text)
    }

    /// `path` made absolute below `base` (``AbsolutePath/init(_:relativeTo:)``), as text; links
    /// are never resolved.
    static func absolute(_ path: String, relativeTo base: String) -> String {
        let path = path.isEmpty ? "." : path
        if let folder = try? AbsolutePath(validating: base), let resolved = try? AbsolutePath(path, relativeTo: folder)
        {
            return resolved.pathString
        }
        if let resolved = try? AbsolutePath(validating: path) { return resolved.pathString }
        // A configuration file named by a relative path: its folder, and so the value, stay relative.
        guard let folder = try? RelativePath(validating: base), let relative = try? RelativePath(validating: path)
        else { return path }
        return folder.appending(relative).pathString
    }
}

/// Walks the YAML node tree so every error can name its key and line.
struct ConfigParser {
    let file: String

    func fail(_ node: Node?, _ key: String, _ message: String) -> RestoreDrillError {
        .config(file: file, line: node?.mark?.line, key: key, message: message)
    }

    func parse(_ text: String) throws -> RestoreDrillConfig {
        let topNode: Node?
        do {
            topNode = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw RestoreDrillError.config(file: file, line: Self.line(of: error), key: "", message: "YAML: \(error)")
        }
        guard let topNode, case .mapping(let top) = topNode else {
            throw fail(topNode, "", "expected a mapping of keys at the top")
        }
        let fields = try mapping(top, path: "", allowed: Self.topKeys)
        func required(_ key: String) throws -> (Node, String) {
            guard let node = fields[key] else { throw fail(topNode, key, "is required") }
            return (node, try string(node, key))
        }
        let folder = PathText.parent(of: file)
        let (homeNode, homeText) = try required("home")
        guard homeText.hasPrefix("/") else { throw fail(homeNode, "home", "must be an absolute path") }
        guard let home = try? AbsolutePath(validating: homeText).pathString else {
            throw fail(homeNode, "home", "must be an absolute path")
        }
        let (rootNode, rootText) = try required("root")
        let root = expand(rootText, home: home, relativeTo: home)
        guard rootText.hasPrefix("/") || rootText.hasPrefix("~") else {
            throw fail(rootNode, "root", "must be an absolute path or start with ~")
        }
        let (_, destText) = try required("destination")
        let destination = expand(destText, home: home, relativeTo: folder)

        var config = RestoreDrillConfig(home: home, root: root, destination: destination, baseFolder: folder)
        config.file = file
        if let n = fields["name"] {
            let name = try string(n, "name")
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            else { throw fail(n, "name", "must be letters, digits, '-', '_' or '.' (it names restore_<name>.sh)") }
            config.name = name
        }
        if let n = fields["set_format"] {
            let format = try int(n, "set_format")
            guard (1...2).contains(format) else { throw fail(n, "set_format", "must be 1 or 2") }
            config.setFormat = format
        }
        if let n = fields["code"] {
            let m = try section(n, "code", ["exclude", "compression_level"])
            if let v = m["exclude"] { config.code.exclude = try strings(v, "code.exclude") }
            if let v = m["compression_level"] {
                let level = try int(v, "code.compression_level")
                guard (1...9).contains(level) else { throw fail(v, "code.compression_level", "must be 1 to 9") }
                config.code.compressionLevel = level
            }
        }
        if let n = fields["databases"] {
            let m = try section(n, "databases", ["include", "small_limit", "chunk_size"])
            if let v = m["include"] { config.databases.include = try strings(v, "databases.include") }
            if let v = m["small_limit"] { config.databases.smallLimit = try size(v, "databases.small_limit") }
            if let v = m["chunk_size"] {
                config.databases.chunkSize = try size(v, "databases.chunk_size")
                guard config.databases.chunkSize >= 1 << 20 else {
                    throw fail(v, "databases.chunk_size", "must be at least 1MiB (smaller chunks make restores slow)")
                }
            }
        }
        if let n = fields["launchagents"] {
            let m = try section(n, "launchagents", ["include"])
            if let v = m["include"] {
                config.launchAgents.include = try strings(v, "launchagents.include").map {
                    expand($0, home: home, relativeTo: home)
                }
            }
        }
        if let n = fields["shell"] {
            let m = try section(n, "shell", ["files"])
            if let v = m["files"] {
                config.shell.files = try strings(v, "shell.files").map { expand($0, home: home, relativeTo: home) }
            }
        }
        if let n = fields["dependencies"] {
            let m = try section(n, "dependencies", ["python", "homebrew"])
            if let v = m["python"] { config.dependencies.python = try argv(v, "dependencies.python") }
            if let v = m["homebrew"] { config.dependencies.homebrew = try argv(v, "dependencies.homebrew") }
        }
        if let n = fields["credentials"] {
            let m = try section(n, "credentials", ["include", "password", "previous_passwords"])
            if let v = m["include"] {
                config.credentials.include = try strings(v, "credentials.include").map {
                    expand($0, home: home, relativeTo: root)
                }
            }
            if let v = m["password"] {
                config.credentials.password = try passwordSource(v, "credentials.password", home: home, folder: folder)
            }
            if let v = m["previous_passwords"] {
                guard case .sequence(let list) = v else {
                    throw fail(v, "credentials.previous_passwords", "must be a list of password sources")
                }
                config.credentials.previousPasswords = try list.enumerated().map { i, item in
                    try passwordSource(item, "credentials.previous_passwords[\(i + 1)]", home: home, folder: folder)
                }
                if !config.credentials.previousPasswords.isEmpty && config.credentials.password == nil {
                    throw fail(v, "credentials.previous_passwords", "needs credentials.password (the current one)")
                }
            }
        }
        if let n = fields["objectives"] {
            let m = try section(n, "objectives", ["rpo", "rto"])
            if let v = m["rpo"] { config.objectives.rpo = try duration(v, "objectives.rpo") }
            if let v = m["rto"] { config.objectives.rto = try duration(v, "objectives.rto") }
        }
        if let n = fields["coverage"] {
            let m = try section(n, "coverage", ["max_shrink"])
            if let v = m["max_shrink"] {
                guard let f = Units.fraction(try string(v, "coverage.max_shrink")) else {
                    throw fail(v, "coverage.max_shrink", "must be a percentage such as 50%")
                }
                config.coverage.maxShrink = f
            }
        }
        if let n = fields["proof"] {
            let m = try section(n, "proof", ["max_age", "budget"])
            if let v = m["budget"] {
                let text = try string(v, "proof.budget")
                guard let budget = SampleBudget.parse(text) else {
                    throw fail(v, "proof.budget", "\"\(text)\" is neither a time (10m, 1h) nor a size (2GiB)")
                }
                config.proof.budget = budget
            }
            if let v = m["max_age"] {
                config.proof.maxAge = try duration(v, "proof.max_age")
                guard config.proof.maxAge > 0 else { throw fail(v, "proof.max_age", "must be more than 0") }
            }
        }
        if let n = fields["spot"] {
            let m = try section(n, "spot", ["sample", "count_tolerance", "size_tolerance"])
            if let v = m["sample"] {
                guard let count = Int(try string(v, "spot.sample")), count >= 0 else {
                    throw fail(v, "spot.sample", "must be a whole number of files, 0 or more")
                }
                config.spot.sample = count
            }
            for (key, path) in [
                ("count_tolerance", \RestoreDrillConfig.SpotSettings.countTolerance),
                ("size_tolerance", \.sizeTolerance),
            ] {
                guard let v = m[key] else { continue }
                guard let f = Units.fraction(try string(v, "spot.\(key)")) else {
                    throw fail(v, "spot.\(key)", "must be a percentage such as 5%")
                }
                config.spot[keyPath: path] = f
            }
        }
        if let n = fields["retention"] { config.retention = try retention(n, "retention", base: config.retention) }
        if let n = fields["offsite"] { config.offsite = try offsite(n, base: config.retention) }
        if let n = fields["health"] {
            let m = try section(n, "health", ["backup_warning", "backup_critical", "drill_warning", "drill_critical"])
            if let v = m["backup_warning"] { config.health.backupWarning = try duration(v, "health.backup_warning") }
            if let v = m["backup_critical"] { config.health.backupCritical = try duration(v, "health.backup_critical") }
            if let v = m["drill_warning"] { config.health.drillWarning = try duration(v, "health.drill_warning") }
            if let v = m["drill_critical"] { config.health.drillCritical = try duration(v, "health.drill_critical") }
            guard config.health.backupWarning <= config.health.backupCritical else {
                throw fail(n, "health.backup_warning", "must not be above health.backup_critical")
            }
            guard config.health.drillWarning <= config.health.drillCritical else {
                throw fail(n, "health.drill_warning", "must not be above health.drill_critical")
            }
        }
        if let n = fields["sandbox"] {
            let m = try section(n, "sandbox", ["folder", "isolation", "timeout", "limits", "keep"])
            if let v = m["folder"] {
                config.sandbox.folder = expand(try string(v, "sandbox.folder"), home: home, relativeTo: folder)
            }
            if let v = m["isolation"] { config.sandbox.isolation = try choice(v, "sandbox.isolation") }
            if let v = m["timeout"] { config.sandbox.timeout = try duration(v, "sandbox.timeout") }
            if let v = m["keep"] { config.sandbox.keep = try choice(v, "sandbox.keep") }
            if let v = m["limits"] {
                let l = try section(v, "sandbox.limits", ["cpu", "memory", "file_size", "open_files", "processes"])
                if let x = l["cpu"] { config.sandbox.limits.cpu = try duration(x, "sandbox.limits.cpu") }
                if let x = l["memory"] {
                    config.sandbox.limits.memory = try size(x, "sandbox.limits.memory")
                    guard config.sandbox.limits.memory >= 64 << 20 else {
                        throw fail(
                            x, "sandbox.limits.memory", "must be at least 64MiB (a restore needs tar, gzip and openssl)"
                        )
                    }
                }
                if let x = l["file_size"] { config.sandbox.limits.fileSize = try size(x, "sandbox.limits.file_size") }
                if let x = l["open_files"] {
                    config.sandbox.limits.openFiles = try count(x, "sandbox.limits.open_files")
                }
                if let x = l["processes"] { config.sandbox.limits.processes = try count(x, "sandbox.limits.processes") }
            }
        }
        if let n = fields["reports"] {
            let m = try section(n, "reports", ["folder", "keep"])
            if let v = m["folder"] {
                config.reports.folder = expand(try string(v, "reports.folder"), home: home, relativeTo: folder)
            }
            if let v = m["keep"] { config.reports.keep = try count(v, "reports.keep") }
        }
        // The reports are this machine's word on its drills (runbook, compat, health): inside the
        // destination, anyone who can write there could plant them.
        let reportsFolder = (config.reports.folder as NSString).standardizingPath
        let destinationFolder = (config.destination as NSString).standardizingPath
        let below = destinationFolder.hasSuffix("/") ? destinationFolder : destinationFolder + "/"
        if !config.reports.folder.isEmpty, !destinationFolder.isEmpty,
            reportsFolder == destinationFolder || reportsFolder.hasPrefix(below)
        {
            throw fail(
                fields["reports"], "reports.folder",
                "\(config.reports.folder) is inside the destination \(config.destination): anyone who can write there "
                    + "could plant drill reports; keep reports on this machine")
        }
        if let n = fields["schedule"] {
            let m = try section(n, "schedule", ["backup", "prune", "drill", "sample", "spot", "health"])
            func schedule(_ key: String) throws -> String? {
                guard let v = m[key] else { return nil }
                let text = try string(v, "schedule.\(key)")
                do {
                    _ = try ScheduleTime.parse(text, key: "schedule.\(key)", file: file)
                } catch RestoreDrillError.config(_, _, let k, let message) {
                    throw fail(v, k, message)
                }
                return text
            }
            if let v = try schedule("backup") { config.schedule.backup = v }
            if let v = try schedule("prune") { config.schedule.prune = v }
            if let v = try schedule("sample") { config.schedule.sample = v }
            if let v = try schedule("spot") { config.schedule.spot = v }
            if let v = try schedule("drill") { config.schedule.drill = v }
            if let v = try schedule("health") { config.schedule.health = v }
        }
        if let n = fields["evidence"] {
            let m = try section(n, "evidence", ["key"])
            if let v = m["key"] {
                config.evidence.key = expand(try string(v, "evidence.key"), home: home, relativeTo: folder)
            }
        }
        if let n = fields["hooks"] {
            let m = try section(n, "hooks", ["on_failure", "on_success", "ping"])
            if let v = m["ping"] {
                // The URL is a capability: the message never repeats it.
                let text = try string(v, "hooks.ping")
                guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                    scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
                else { throw fail(v, "hooks.ping", "must be an http:// or https:// URL with a host") }
                config.hooks.ping = url
            }
            if let v = m["on_failure"] { config.hooks.onFailure = try argvList(v, "hooks.on_failure") }
            if let v = m["on_success"] { config.hooks.onSuccess = try argvList(v, "hooks.on_success") }
        }
        return config
    }

    static let topKeys: Set<String> = [
        "name", "home", "root", "destination", "code", "databases", "launchagents", "shell", "dependencies",
        "credentials", "objectives", "coverage", "retention", "health", "sandbox", "reports", "schedule", "hooks",
        "set_format", "offsite", "proof", "spot", "evidence",
    ]

    /// A `retention` mapping at `key`, over `base`.
    func retention(_ n: Node, _ key: String, base: RestoreDrillConfig.RetentionSettings) throws
        -> RestoreDrillConfig.RetentionSettings
    {
        var r = base
        let m = try section(n, key, ["last", "daily", "weekly", "monthly", "timezone"])
        if let v = m["last"] { r.last = try count(v, "\(key).last") }
        if let v = m["daily"] { r.daily = try count(v, "\(key).daily") }
        if let v = m["weekly"] { r.weekly = try count(v, "\(key).weekly") }
        if let v = m["monthly"] { r.monthly = try count(v, "\(key).monthly") }
        if let v = m["timezone"] {
            let zone = try string(v, "\(key).timezone")
            guard TimeZone(identifier: zone) != nil else {
                throw fail(v, "\(key).timezone", "unknown IANA time zone \"\(zone)\"")
            }
            r.timeZone = zone
        }
        return r
    }

    /// Words that mark an inline secret in an rclone connection string (`:sftp,pass=…:`).
    static let inlineSecretWords = ["pass", "password", "key", "secret", "token", "client_secret", "sas_url"]

    /// The `offsite` list: each entry's keys, unique names, no inline secret.
    func offsite(_ n: Node, base: RestoreDrillConfig.RetentionSettings) throws -> [RestoreDrillConfig.OffsiteRemote] {
        if case .scalar(let s) = n, s.tag == Tag(.null) || s.string.isEmpty { return [] }
        guard case .sequence(let list) = n else { throw fail(n, "offsite", "must be a list of remotes") }
        var out: [RestoreDrillConfig.OffsiteRemote] = []
        for (i, item) in list.enumerated() {
            let key = "offsite[\(i + 1)]"
            let m = try section(item, key, ["name", "rclone", "encrypted", "prune", "retention", "bwlimit"])
            guard let nameNode = m["name"] else { throw fail(item, "\(key).name", "is required") }
            guard let pathNode = m["rclone"] else { throw fail(item, "\(key).rclone", "is required") }
            let name = try string(nameNode, "\(key).name")
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            else { throw fail(nameNode, "\(key).name", "must be letters, digits, '-', '_' or '.'") }
            guard !out.contains(where: { $0.name == name }) else {
                throw fail(nameNode, "\(key).name", "\"\(name)\" is used by another remote")
            }
            let path = try string(pathNode, "\(key).rclone")
            guard path.contains(":"), !path.hasPrefix("-") else {
                throw fail(pathNode, "\(key).rclone", "must be an rclone path such as \"onedrive:MaiaBackups\"")
            }
            let parameters = path.split(separator: ",").dropFirst().compactMap { part in
                part.firstIndex(of: "=").map { part[..<$0].lowercased() }
            }
            if let secret = parameters.first(where: { p in Self.inlineSecretWords.contains { p.contains($0) } }) {
                throw fail(
                    pathNode, "\(key).rclone",
                    "holds a credential (\(secret)=…) on what becomes a command line: put it in rclone's "
                        + "configuration file (rclone config) and name that remote here")
            }
            var remote = RestoreDrillConfig.OffsiteRemote(name: name, rclone: path)
            if let v = m["encrypted"] { remote.encrypted = try bool(v, "\(key).encrypted") }
            if let v = m["prune"] { remote.prune = try bool(v, "\(key).prune") }
            if let v = m["retention"] { remote.retention = try retention(v, "\(key).retention", base: base) }
            if let v = m["bwlimit"] {
                let limit = try string(v, "\(key).bwlimit")
                guard !limit.isEmpty,
                    limit.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".:,-".contains($0)) })
                else { throw fail(v, "\(key).bwlimit", "must be an rclone --bwlimit value such as 10M") }
                remote.bandwidthLimit = limit
            }
            out.append(remote)
        }
        return out
    }

    // MARK: typed readers

    func mapping(_ m: Node.Mapping, path: String, allowed: Set<String>) throws -> [String: Node] {
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard let key = k.scalar?.string else { throw fail(k, path, "keys must be plain strings") }
            let full = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let known = allowed.sorted().joined(separator: ", ")
                throw fail(k, full, "unknown key (known here: \(known))")
            }
            guard out[key] == nil else { throw fail(k, full, "appears twice") }
            out[key] = v
        }
        return out
    }

    /// One password source (`{env: NAME}`, `{file: PATH}` or `{command: [argv…]}`) at `key`.
    func passwordSource(_ v: Node, _ key: String, home: String, folder: String) throws
        -> RestoreDrillConfig.PasswordSource
    {
        let p = try section(v, key, ["env", "file", "command"])
        guard p.count == 1 else { throw fail(v, key, "give exactly one of env, file, command") }
        if let e = p["env"] { return .environment(try string(e, "\(key).env")) }
        if let f = p["file"] { return .file(expand(try string(f, "\(key).file"), home: home, relativeTo: folder)) }
        guard let c = p["command"], let cmd = try argv(c, "\(key).command") else {
            throw fail(p["command"], "\(key).command", "must be a non-empty argv array")
        }
        return .command(cmd)
    }

    func section(_ n: Node, _ key: String, _ allowed: Set<String>) throws -> [String: Node] {
        if case .scalar(let s) = n, s.tag == Tag(.null) || s.string.isEmpty { return [:] }
        guard case .mapping(let m) = n else { throw fail(n, key, "must be a mapping") }
        return try mapping(m, path: key, allowed: allowed)
    }

    func string(_ n: Node, _ key: String) throws -> String {
        guard case .scalar(let s) = n else { throw fail(n, key, "must be a single value") }
        return s.string
    }

    func strings(_ n: Node, _ key: String) throws -> [String] {
        if case .scalar(let s) = n, s.tag == Tag(.null) || s.string.isEmpty { return [] }
        guard case .sequence(let seq) = n else { throw fail(n, key, "must be a list") }
        return try seq.map { try string($0, key) }
    }

    /// An argv array; an empty list disables the entry (nil).
    func argv(_ n: Node, _ key: String) throws -> [String]? {
        if case .scalar = n {
            throw fail(n, key, "must be an argv array such as [pip3, freeze], never a shell string")
        }
        let list = try strings(n, key)
        return list.isEmpty ? nil : list
    }

    /// Either one argv array or a list of argv arrays.
    func argvList(_ n: Node, _ key: String) throws -> [[String]] {
        if case .scalar(let s) = n, s.tag == Tag(.null) || s.string.isEmpty { return [] }
        guard case .sequence(let seq) = n else { throw fail(n, key, "must be an argv array or a list of them") }
        if seq.allSatisfy({ if case .scalar = $0 { return true } else { return false } }) {
            let one = try strings(n, key)
            return one.isEmpty ? [] : [one]
        }
        return try seq.compactMap { try argv($0, key) }
    }

    func int(_ n: Node, _ key: String) throws -> Int {
        guard let v = Int(try string(n, key)) else { throw fail(n, key, "must be a whole number") }
        return v
    }

    func bool(_ n: Node, _ key: String) throws -> Bool {
        guard case .scalar(let s) = n else { throw fail(n, key, "must be true or false") }
        switch s.string.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw fail(n, key, "must be true or false")
        }
    }

    func count(_ n: Node, _ key: String) throws -> Int {
        let v = try int(n, key)
        guard v >= 0 else { throw fail(n, key, "must not be negative") }
        return v
    }

    func size(_ n: Node, _ key: String) throws -> Int64 {
        let text = try string(n, key)
        guard let v = Units.bytes(text), v > 0 else {
            throw fail(n, key, "\"\(text)\" is not a size (use B, KiB, MiB, GiB)")
        }
        return v
    }

    func duration(_ n: Node, _ key: String) throws -> Double {
        let text = try string(n, key)
        guard let v = Units.seconds(text), v > 0 else {
            throw fail(n, key, "\"\(text)\" is not a duration (use s, m, h, d, w)")
        }
        return v
    }

    func choice<T: RawRepresentable & CaseIterable>(_ n: Node, _ key: String) throws -> T where T.RawValue == String {
        let text = try string(n, key)
        guard let v = T(rawValue: text) else {
            throw fail(n, key, "\"\(text)\" is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return v
    }

    /// `~` → home; relative → against `relativeTo`; result standardized.
    func expand(_ path: String, home: String, relativeTo base: String) -> String {
        if path == "~" { return RestoreDrillConfig.absolute(home, relativeTo: base) }
        if path.hasPrefix("~/") { return RestoreDrillConfig.absolute(String(path.dropFirst(2)), relativeTo: home) }
        return RestoreDrillConfig.absolute(path, relativeTo: base)
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default: return nil
        }
    }
}
