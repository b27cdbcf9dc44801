import DrillCore
import Foundation
import Jobs
import Selftest
import TestSupport
import Testing
import Vault

/// A small sample workspace (``SampleWorkspace``, its two fake credential files) with a vault
/// password in a 0600 file, configured for a backup and drills in one temporary folder.
final class VaultWorkspace {
    let base: String
    let workspace: SampleWorkspace
    var config: RestoreDrillConfig
    let password: VaultPassword
    let passwordFile: String

    /// - Parameter iterations: none here: the iteration count is a property of the backup (see
    ///   ``backup(iterations:runner:)``).
    init() throws {
        base = try TempFolder("rd-vault-jobs").path
        var options = SampleWorkspace.Options()
        options.sourceFiles = 40
        options.smallDatabases = 2
        options.walDatabases = []
        options.largeDatabaseBytes = 0
        options.agents = 2
        workspace = try SampleWorkspace.make(at: base + "/ws", options: options)
        config = workspace.config(destination: base + "/backups", baseFolder: base)
        config.setFormat = 1
        config.dependencies.python = nil
        config.dependencies.homebrew = nil
        config.sandbox.timeout = 120
        // The password in a private folder outside everything searched for secrets.
        let secretFolder = base + "/secret"
        try FileManager.default.createDirectory(atPath: secretFolder, withIntermediateDirectories: true)
        chmod(secretFolder, 0o700)
        password = try VaultPassword("pw-\(UUID().uuidString)", origin: "test")
        passwordFile = secretFolder + "/password"
        try password.write(toNewFileAt: passwordFile)
        config.credentials.password = .file(passwordFile)
        try FileManager.default.createDirectory(atPath: config.destination, withIntermediateDirectories: true)
    }

    /// The credential files of the sample: absolute path → content.
    func credentialFiles() throws -> [String: Data] {
        let folder = workspace.root + "/claude/data/credentials"
        var out: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) {
            out[folder + "/" + name] = FileManager.default.contents(atPath: folder + "/" + name)
        }
        return out
    }

    /// Writes a new password file (0600) holding `text`.
    func otherPasswordFile(_ text: String) throws -> String {
        let path = base + "/secret/other-\(UUID().uuidString.prefix(6))"
        try VaultPassword(text, origin: "test").write(toNewFileAt: path)
        return path
    }

    /// - Parameter sharedSalt: true (the default) keeps the machine's cache in `<base>/cache`, so the
    ///   workspace's sets share one manifest-HMAC salt (``BackupJob/dependencyCache``); false gives
    ///   the run no cache, hence a salt of its own, as sets made before the salt was shared have.
    func backup(
        iterations: Int = 2000, runner: (any ProcessRunner)? = nil, at date: Date = Date(),
        keyring: VaultKeyring? = nil, sharedSalt: Bool = true
    ) async throws -> BackupJob.Outcome {
        var job =
            runner.map { BackupJob(config: config, clock: FixedClock(date), runner: $0) }
            ?? BackupJob(config: config, clock: FixedClock(date))
        job.dependencyCache = sharedSalt ? base + "/cache" : nil
        job.vaultIterations = iterations
        if let keyring { job.keyring = keyring }
        return try await job.run()
    }

    func drill(
        _ request: DrillJob.Request = .init(pick: .latest), config: RestoreDrillConfig? = nil,
        replayer: (any RestoreReplayer)? = nil, runner: (any ProcessRunner)? = nil, keyring: VaultKeyring? = nil
    ) async throws -> DrillResult {
        var job =
            replayer.map {
                DrillJob(config: config ?? self.config, clock: FixedClock(Date()), replayer: $0, currentDirectory: base)
            } ?? DrillJob(config: config ?? self.config, clock: FixedClock(Date()), currentDirectory: base)
        if let runner { job.runner = runner }
        if let keyring { job.keyring = keyring }
        job.keyCache = base + "/cache"
        return try await job.run(request)
    }

    func remove() {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwx", base]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: base)
    }
}

extension DrillResult {
    /// The results of one check.
    func results(_ check: CheckID) -> [CheckResult] { checks.filter { $0.check == check } }

    /// The single result of `check` for `subject`.
    func result(_ check: CheckID, _ subject: String) -> CheckResult? {
        checks.first { $0.check == check && $0.subject == subject }
    }
}

/// Every regular file under `folder` (links not followed).
func regularFiles(under folder: String) -> [String] {
    var out: [String] = []
    guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
    for case let relative as String in walker {
        let path = folder + "/" + relative
        var st = stat()
        if lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG { out.append(path) }
    }
    return out
}
