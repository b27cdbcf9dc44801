import DrillCore
import Foundation
import Sandbox
import Vault

/// Where the commands that judge sets (drill, list, check, health, prune, report sla, vault
/// verify) get the vault passwords that authenticate them: `--password-file`, else the configured
/// `credentials.password`, then `credentials.previous_passwords`. With none configured, sets are
/// not authenticated (``SetAuthentication/notChecked``) and count as they always did.
public enum SetTrust {
    /// The current vault password: `passwordFile` when given (relative to `currentDirectory`),
    /// else the configured source; nil when neither is there. Held in memory only.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` for a refused or unreadable password file;
    ///   ``RestoreDrillError/runtime(_:)`` naming the variable or command when a configured source
    ///   gives no password. Messages never hold the password.
    public static func password(
        passwordFile: String?, config: RestoreDrillConfig?, runner: any ProcessRunner,
        environment: [String: String], currentDirectory: String = FileManager.default.currentDirectoryPath
    ) async throws -> VaultPassword? {
        if let passwordFile {
            let absolute: AbsolutePath
            do {
                absolute = try AbsolutePath(passwordFile, relativeTo: AbsolutePath(validating: currentDirectory))
            } catch {
                throw RestoreDrillError.io(path: passwordFile, message: "not a password file: \(error)")
            }
            return try VaultPassword.fromFile(absolute.pathString)
        }
        guard let source = config?.credentials.password else { return nil }
        return try await VaultPassword.resolve(source, runner: runner, environment: environment)
    }

    /// The earlier passwords of `credentials.previous_passwords`, in order.
    /// - Throws: as ``password(passwordFile:config:runner:environment:currentDirectory:)``, naming
    ///   the source that gave nothing.
    public static func previousPasswords(
        config: RestoreDrillConfig?, runner: any ProcessRunner, environment: [String: String]
    ) async throws -> [VaultPassword] {
        var out: [VaultPassword] = []
        for source in config?.credentials.previousPasswords ?? [] {
            out.append(try await VaultPassword.resolve(source, runner: runner, environment: environment))
        }
        return out
    }

    /// The authenticator of a command: the current password first, then the previous ones; nil
    /// when no password is given or configured.
    /// - Throws: as ``password(passwordFile:config:runner:environment:currentDirectory:)``.
    public static func authenticator(
        passwordFile: String? = nil, config: RestoreDrillConfig?, runner: any ProcessRunner = SubprocessRunner(),
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath
    ) async throws -> SetAuthenticator? {
        guard
            let current = try await password(
                passwordFile: passwordFile, config: config, runner: runner, environment: environment,
                currentDirectory: currentDirectory)
        else { return nil }
        let previous = try await previousPasswords(config: config, runner: runner, environment: environment)
        return SetAuthenticator(passwords: [current] + previous)
    }
}
