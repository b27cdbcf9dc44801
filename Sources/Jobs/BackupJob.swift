import BackupEngine
import Destination
import DrillCore
import Foundation
import Health
import Sandbox
import Vault

/// `restore-drill backup`: the backup engine with the real process runner.
public struct BackupJob: Sendable {
    public let config: RestoreDrillConfig
    public let clock: any WallClock
    public let runner: any ProcessRunner
    public var progress: (@Sendable (String) -> Void)?
    /// Bytes done of the total, rate and time left (``BackupEngine/byteProgress``); nil for none.
    public var byteProgress: (@Sendable (ByteProgress) -> Void)?
    /// The vault password when the caller has it; nil resolves `credentials.password` (a
    /// `command:` source through ``runner``) at the start of the backup.
    public var vaultPassword: VaultPasswordState?
    /// PBKDF2 iterations of the vault (``Vault/defaultIterations``; tests lower it).
    public var vaultIterations = Vault.defaultIterations
    /// Where dependency lists are remembered for reuse (``BackupEngine/dependencyCache``): the
    /// user's cache folder; nil runs the tools every time.
    public var dependencyCache = BackupEngine.defaultDependencyCache(environment: ProcessInfo.processInfo.environment)
    /// Format 2's files cache folder (``BackupEngine/objectCache``): the user's cache folder, as
    /// for the dependency lists; nil reads and compresses everything every night.
    public var objectCache = BackupEngine.defaultDependencyCache(environment: ProcessInfo.processInfo.environment)
    /// `--no-cache`: the files cache is not trusted this run (``BackupEngine/ignoreObjectCache``).
    public var ignoreObjectCache = false
    /// Runs and counts the run's PBKDF2 derivations (``BackupEngine/keyring``).
    public var keyring = VaultKeyring()
    /// Where the set goes: the lock, the engine's staging and publishing, and the history event go
    /// through it. Defaults to the ``LocalDestination`` of `config.destination`.
    public var destination: any Destination

    /// - Parameter runner: starts `pip3 freeze` and the like; defaults to ``SubprocessRunner``.
    public init(
        config: RestoreDrillConfig, clock: any WallClock, runner: any ProcessRunner = SubprocessRunner(),
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.config = config
        self.clock = clock
        self.runner = runner
        self.progress = progress
        destination = LocalDestination(path: config.destination)
    }

    /// What a backup produced, ready to render.
    public struct Outcome: Sendable {
        public var setPath: String
        public var manifest: Manifest
        public var summary: BackupSummary
    }

    /// Writes one set.
    /// - Throws: ``RestoreDrillError`` when no set could be written at all (a failed component is
    ///   not an error: it makes a partial set, see ``BackupSummary/status``).
    public func run() async throws -> Outcome {
        let started = clock.now()
        let lock = try destination.lock(.shared)
        defer { lock?.release() }
        let history = HistoryStore(destination)
        let outcome: BackupOutcome
        do {
            var engine = BackupEngine(config: config, clock: clock, runner: runner, progress: progress)
            engine.byteProgress = byteProgress
            engine.vaultPassword = vaultPassword
            engine.vaultIterations = vaultIterations
            engine.dependencyCache = dependencyCache
            engine.objectCache = objectCache
            engine.ignoreObjectCache = ignoreObjectCache
            engine.keyring = keyring
            engine.destination = destination
            outcome = try await engine.run()
        } catch {
            _ = try? history.append(
                HistoryEvent(kind: .backup, time: clock.now(), status: .failed, details: ["error": "\(error)"]))
            await runHooks(config.hooks.onFailure, verdict: "failed", setPath: nil, backupID: nil)
            throw error
        }
        let seconds = clock.now().timeIntervalSince(started)
        var warnings = outcome.warnings
        do {
            try history.append(
                HistoryEvent(
                    kind: .backup, time: clock.now(),
                    status: outcome.manifest.status == .complete ? .complete : .partial,
                    backupID: outcome.manifest.id,
                    details: [
                        "seconds": String(format: "%.3f", seconds),
                        "bytes": String(outcome.manifest.artifacts.reduce(0) { $0 + $1.size }),
                        "failed_components": outcome.manifest.components.filter { $0.status == .failed }.map(
                            \.id.rawValue
                        )
                        .joined(separator: ","),
                    ]))
        } catch {
            // The set is written; only its record is missing: said, never silent (the history is the
            // audit trail, and health and the SLA count backups from it).
            let text = "the set is written, but its history event could not be recorded: \(error)"
            warnings.append(text)
            progress?(text)
        }
        let complete = outcome.manifest.status == .complete
        await runHooks(
            complete ? config.hooks.onSuccess : config.hooks.onFailure, verdict: complete ? "complete" : "partial",
            setPath: outcome.setPath, backupID: outcome.manifest.id.description)
        let summary = BackupSummary(
            manifest: outcome.manifest, setPath: outcome.setPath, seconds: seconds, warnings: warnings)
        return Outcome(setPath: outcome.setPath, manifest: outcome.manifest, summary: summary)
    }
}

extension BackupJob {
    /// Runs `hooks.on_success` / `on_failure`; a failing hook is a warning on the progress stream.
    func runHooks(_ hooks: [[String]], verdict: String, setPath: String?, backupID: String?) async {
        guard !hooks.isEmpty else { return }
        let warnings = await HookRunner().run(
            hooks: hooks, event: "backup", verdict: verdict, reportPath: setPath, backupID: backupID, runner: runner)
        for w in warnings { progress?("hook: \(w)") }
    }
}

/// The rendering of one backup: `--json` output (format `restore-drill/backup-outcome`) and text.
public struct BackupSummary: Codable, Sendable {
    public var format = "restore-drill/backup-outcome"
    public var formatVersion = 1
    public var backupID: String
    public var setPath: String
    /// `complete` or `partial`.
    public var status: String
    /// Seconds the backup took.
    public var seconds: Double
    /// Bytes of all artifacts.
    public var bytes: Int64
    public var components: [ComponentRecord]
    public var databases: Int
    public var launchAgents: Int
    public var files: Int
    public var warnings: [String]
    /// One outcome per configured off-site remote the set was pushed to (empty with `--no-push`
    /// or when none is configured).
    public var pushes: [OffsitePushJob.Outcome] = []

    /// True when a push to a remote failed (the set is complete locally; exit 1).
    public var pushFailed: Bool { pushes.contains { $0.status == "failed" } }

    enum CodingKeys: String, CodingKey {
        case format, status, seconds, bytes, components, databases, files, warnings, pushes
        case formatVersion = "format_version"
        case backupID = "backup_id"
        case setPath = "set_path"
        case launchAgents = "launchagents"
    }

    init(manifest: Manifest, setPath: String, seconds: Double, warnings: [String]) {
        backupID = manifest.id.description
        self.setPath = setPath
        status = manifest.status.rawValue
        self.seconds = seconds
        bytes = manifest.artifacts.reduce(0) { $0 + $1.size }
        components = manifest.components
        databases = manifest.databases.count
        launchAgents = manifest.launchAgents.count
        files = manifest.files.count
        self.warnings = Array(Set(warnings + manifest.warnings)).sorted()
    }

    /// Human-readable lines: the set, its status, one line per component, warnings.
    public var text: String {
        var lines = [
            "backup \(backupID): \(status) (\(Units.humanBytes(bytes)) in \(Units.humanSeconds(seconds)))",
            "  \(setPath)",
        ]
        for c in components {
            let detail = c.status == .ok ? "\(c.files) files, \(Units.humanBytes(c.bytes))" : (c.reason ?? "")
            lines.append(
                "  \(c.id.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(c.status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(detail)"
            )
        }
        for w in warnings { lines.append("  warning: \(w)") }
        for p in pushes { lines.append("  off-site \(p.text)") }
        return lines.joined(separator: "\n")
    }
}
