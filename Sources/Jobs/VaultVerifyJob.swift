import Destination
import DrillCore
import Foundation
import Sandbox
import Vault
import Verifier

/// `restore-drill vault verify [ID]`: the keyed checks of one set without a drill — the manifest
/// HMAC (`set.manifest`) and the vault (`credentials.vault`: HMAC tag before decryption,
/// decryption, every member against its HMAC digest). Nothing is restored or written; the
/// decrypted tar stays in memory.
public struct VaultVerifyJob: Sendable {
    public let config: RestoreDrillConfig
    /// Starts a `command:` password source.
    public let runner: any ProcessRunner
    /// What an `env:` password source reads.
    public let environment: [String: String]
    /// Folder a relative `--password-file` resolves against.
    public let currentDirectory: String
    /// Where the sets are (the set is picked and opened through it). Defaults to the
    /// ``LocalDestination`` of `config.destination`.
    public var destination: any Destination
    /// Derives the keys, each once per salt (the pick and the checks share it); a test counts them.
    public var keyring = VaultKeyring()

    public init(
        config: RestoreDrillConfig, runner: any ProcessRunner = SubprocessRunner(),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) {
        self.config = config
        self.runner = runner
        self.environment = environment
        self.currentDirectory = currentDirectory
        destination = LocalDestination(path: config.destination)
    }

    /// What `vault verify` found (`--json`: format `restore-drill/vault-verify`).
    public struct Outcome: Codable, Sendable {
        public var format = "restore-drill/vault-verify"
        public var formatVersion = 1
        public var backupID: String
        public var setPath: String
        /// `pass` when no check failed or errored (a set without a vault is a skip, and passes).
        public var verdict: Verdict
        /// `set.manifest`, then `credentials.vault`.
        public var checks: [CheckResult]
        /// Which configured password verified the manifest HMAC: `current password` or
        /// `previous password N` (`credentials.previous_passwords`); nil when none did.
        public var matchedPassword: String?

        enum CodingKeys: String, CodingKey {
            case format, verdict, checks
            case matchedPassword = "matched_password"
            case formatVersion = "format_version"
            case backupID = "backup_id"
            case setPath = "set_path"
        }

        /// Verdict first, then one line per check.
        public var text: String {
            var lines = ["vault verify \(backupID): \(verdict == .pass ? "PASS" : "FAIL")", "  \(setPath)"]
            if let matchedPassword { lines.append("  manifest HMAC verified with the \(matchedPassword)") }
            for c in checks {
                lines.append("  \(c.verdict.rawValue.uppercased()) \(c.check.rawValue) \(c.subject): \(c.message)")
            }
            return lines.joined(separator: "\n")
        }
    }

    /// Verifies set `id` (the newest set when nil).
    /// - Parameter passwordFile: `--password-file`; without it the configured source is used.
    /// - Throws: ``RestoreDrillError/usage(_:)`` when no password is available;
    ///   ``RestoreDrillError/setNotFound(_:)``; what ``SetTrust/password(passwordFile:config:runner:environment:currentDirectory:)``
    ///   throws for a refused password file or a failing source.
    public func run(id: String?, passwordFile: String?) async throws -> Outcome {
        guard
            let current = try await SetTrust.password(
                passwordFile: passwordFile, config: config, runner: runner, environment: environment,
                currentDirectory: currentDirectory)
        else {
            throw RestoreDrillError.usage(
                "vault verify needs the vault password: give --password-file FILE or configure credentials.password")
        }
        let previous = try await SetTrust.previousPasswords(config: config, runner: runner, environment: environment)
        let authenticator = SetAuthenticator(passwords: [current] + previous, keyring: keyring)
        let catalogue = SetCatalogue(destination, authenticator: authenticator)
        let set = try id.map { try catalogue.byID($0) } ?? catalogue.latest()
        var password = current
        if case .verified(let index) = set.authentication { password = authenticator.passwords[index] }
        let opened = try destination.openSet(id: set.id)
        defer { opened.close() }
        // The keyring that authenticated the set at the pick: its HMAC key is not derived again.
        let checks = VaultVerification.check(
            setPath: opened.folder, password: password, keyring: authenticator.keyring)
        return Outcome(
            backupID: set.id.description, setPath: set.path,
            verdict: Verdict.rollup(checks.map(\.verdict), requirePass: false), checks: checks,
            matchedPassword: set.authentication.matchedPassword)
    }
}
