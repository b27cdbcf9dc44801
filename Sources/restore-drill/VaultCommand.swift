import ArgumentParser
import DrillCore
import Foundation
import Jobs

/// `restore-drill vault …`: the credentials vault of a set.
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "Check the credentials vault of a backup set.",
        subcommands: [VaultVerifyCommand.self])
}

/// `restore-drill vault verify [ID] [--password-file F] [--config F] [--json]`.
struct VaultVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify one set's manifest HMAC and vault (HMAC tag, then decryption) without a full drill.",
        discussion: """
            The password comes from --password-file (mode 0600 or stricter, owned by you) or from \
            credentials.password; it never appears on a command line. Nothing is restored or written. \
            Exit 0 when the checks pass (a set without a vault is a skip), 1 when one fails (wrong password, \
            tampered vault or manifest), 2 without a password or configuration, 3 when the set is not found.
            """)

    @OptionGroup var config: ConfigOption
    @Argument(help: "The backup id to verify (default: the newest set).") var id: String?
    @Option(help: ArgumentHelp("Vault password file (mode 0600).", valueName: "file")) var passwordFile: String?
    @Flag(help: "Print as JSON (format restore-drill/vault-verify).") var json = false

    func run() async throws {
        let outcome = try await VaultVerifyJob(config: try config.load()).run(id: id, passwordFile: passwordFile)
        if json { try Terminal.json(outcome) } else { Terminal.out(outcome.text) }
        if outcome.verdict != .pass { throw ExitCode(ExitStatus.findings.rawValue) }
    }
}
