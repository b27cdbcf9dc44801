import DrillCore
import Foundation
import Sandbox
import Selftest
import Vault

/// `restore-drill demo`: a ``SampleWorkspace`` backed up and drilled end to end, with the counts
/// a person (and a test) can hold against the sample.
public struct DemoJob: Sendable {
    public let folder: String?
    public let small: Bool
    public let clock: any WallClock
    public let progress: (@Sendable (String) -> Void)?

    /// - Parameters:
    ///   - folder: where to work (created; must be empty or absent); nil makes a new temporary folder.
    ///   - small: a quick sample (300 files, 10 databases, a 12 MiB database chunked at 4 MiB).
    ///
    /// The credentials are backed up into the vault with a random password kept in a 0600 file
    /// beside the sample (`<folder>/vault-password`), and the drill checks the vault with it.
    public init(
        folder: String?, small: Bool = false, clock: any WallClock, progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.folder = folder
        self.small = small
        self.clock = clock
        self.progress = progress
    }

    /// What the demo did.
    public struct Outcome: Sendable {
        public var folder: String
        public var workspace: SampleWorkspace
        public var backup: BackupSummary
        public var drill: DrillResult

        /// Verdict first, then the counts of what was checked and where the reports are.
        public var text: String {
            let databases = drill.counts(for: .dbIntegrity)[.pass] ?? 0
            let agents = drill.counts(for: .launchAgentsRewrite)[.pass] ?? 0
            return [
                "demo: \(drill.verdict == .pass ? "PASS" : "FAIL") — backup \(backup.backupID) restored and checked",
                "  workspace   \(workspace.home) (\(workspace.sourceFiles) source files, \(workspace.databases.count) databases, \(workspace.agents.count) LaunchAgents)",
                "  backup      \(backup.status), \(Units.humanBytes(backup.bytes)) in \(Units.humanSeconds(backup.seconds)): \(backup.setPath)",
                "  checked     \(backup.files) restored paths, \(databases)/\(workspace.databases.count) databases, \(agents)/\(workspace.agents.count) LaunchAgents",
                DrillJob.summary(drill),
                "  kept        \(folder) (\(Units.humanBytes((try? AbsolutePath(validating: folder)).map(TreeBytes.apparent) ?? 0))): the sample, its set and the "
                    + "reports, to look at; remove it with: rm -rf '\(folder.replacingOccurrences(of: "'", with: "'\\''"))'",
            ].joined(separator: "\n")
        }
    }

    /// Builds the sample, backs it up while one database holds a live WAL, drills the set.
    /// - Throws: ``RestoreDrillError`` when a stage cannot run at all.
    public func run() async throws -> Outcome {
        let base =
            folder
            ?? (NSTemporaryDirectory() as NSString).appendingPathComponent(
                "restore-drill-demo-\(Int(clock.now().timeIntervalSince1970))-\(getpid())")
        let fm = FileManager.default
        if fm.fileExists(atPath: base), let items = try? fm.contentsOfDirectory(atPath: base), !items.isEmpty {
            throw RestoreDrillError.usage("\(base) is not empty: the demo only works in an empty or new folder")
        }
        var options = SampleWorkspace.Options()
        if small {
            options.sourceFiles = 300
            options.smallDatabases = 10
            options.largeDatabaseBytes = 12 << 20
            options.agents = 6
        }
        progress?("demo: generating the sample workspace in \(base)")
        let workspace = try SampleWorkspace.make(at: base, options: options)
        var config = workspace.config(
            destination: (base as NSString).appendingPathComponent("backups"), baseFolder: base)
        // The vault password lives beside the sample, never inside it: a 0600 file, as a user keeps one.
        let passwordFile = (base as NSString).appendingPathComponent("vault-password")
        try VaultPassword(Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) }), origin: "demo")
            .write(toNewFileAt: passwordFile)
        config.credentials.password = .file(passwordFile)
        if small { config.databases.chunkSize = 4 << 20 }
        try fm.createDirectory(atPath: config.destination, withIntermediateDirectories: true)

        let live = try LiveWAL(databases: workspace.walDatabases.map { "\(workspace.root)/\($0)" })
        let backup: BackupJob.Outcome
        do {
            backup = try await BackupJob(config: config, clock: clock, progress: progress).run()
            live.close()
        } catch {
            live.close()
            throw error
        }
        let drill = try await DrillJob(config: config, clock: clock, progress: progress, currentDirectory: base)
            .run(.init(pick: .latest))
        return Outcome(folder: base, workspace: workspace, backup: backup.summary, drill: drill)
    }
}
