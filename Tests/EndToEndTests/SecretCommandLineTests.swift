import DrillCore
import Foundation
import TestSupport
import Testing
import Vault

/// The built `restore-drill` binary with a vault: the password comes from the environment
/// variable the configuration names (never from an argument), and `vault verify` maps its
/// outcomes to the exit codes of ``ExitStatus``.
@Suite(.serialized) struct SecretCommandLineTests {
    /// `.build/<config>/restore-drill` beside the test bundle, or under the package's `.build/debug`.
    static func binary() throws -> String {
        let fm = FileManager.default
        var candidates: [String] = []
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(runner.appendingPathComponent("restore-drill").path)
        candidates.append(runner.deletingLastPathComponent().appendingPathComponent("restore-drill").path)
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(package.appendingPathComponent(".build/debug/restore-drill").path)
        return try #require(
            candidates.first { fm.isExecutableFile(atPath: $0) },
            "build the tool first (swift build): looked in \(candidates)")
    }

    struct Run {
        var status: Int32
        var out: String
        var err: String
    }

    /// Runs the binary with `arguments` and the given environment variables added to ours.
    static func run(_ arguments: [String], environment: [String: String] = [:], cwd: String) throws -> Run {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        env["RESTORE_DRILL_CONFIG"] = nil
        let run = try runTool(try binary(), arguments, environment: env, directory: cwd)
        return Run(status: run.status, out: run.output, err: run.error)
    }

    @Test func backupDrillAndVaultVerifyWithThePasswordFromTheEnvironment() throws {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("rd-e2e-vault-\(UUID().uuidString)").path
        defer { try? fm.removeItem(atPath: base) }
        let home = base + "/home"
        let root = home + "/git/maia"
        try fm.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/secrets", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try Data("print('hi')\n".utf8).write(to: URL(fileURLWithPath: root + "/src/main.py"))
        let token = "tok-\(UUID().uuidString)"
        try Data("{\"token\": \"\(token)\"}\n".utf8).write(to: URL(fileURLWithPath: root + "/secrets/api.json"))
        try Data("[default]\nkey = \(token)-aws\n".utf8).write(to: URL(fileURLWithPath: home + "/.aws/credentials"))
        let config = base + "/restore-drill.yml"
        let text =
            """
            name: maia
            home: \(home)
            root: ~/git/maia
            destination: backups
            set_format: 1
            shell: {files: []}
            launchagents: {include: []}
            dependencies: {python: [/bin/echo, "requests==2.31.0"], homebrew: [/bin/echo, "git 2.42.0"]}
            credentials:
              include: [secrets, ~/.aws/credentials]
              password:
                env: RD_E2E_VAULT_PASSWORD
            sandbox: {timeout: 2m}

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: config))
        // The same workspace with no password source.
        let unkeyed = base + "/unkeyed.yml"
        try Data(text.replacingOccurrences(of: "  password:\n    env: RD_E2E_VAULT_PASSWORD\n", with: "").utf8)
            .write(to: URL(fileURLWithPath: unkeyed))
        let password = "e2e-pw-\(UUID().uuidString)"
        let env = ["RD_E2E_VAULT_PASSWORD": password]

        let backup = try Self.run(["backup", "--config", config, "--json"], environment: env, cwd: base)
        #expect(backup.status == 0, "\(backup.err)")
        #expect(backup.out.contains("\"credentials\""))
        #expect(!backup.out.contains(password) && !backup.err.contains(password))

        let drill = try Self.run(["drill", "--config", config], environment: env, cwd: base)
        #expect(drill.status == 0, "\(drill.out)\n\(drill.err)")
        #expect(drill.out.contains("credentials.vault"))
        #expect(!drill.out.contains(password) && !drill.err.contains(password))

        let verify = try Self.run(["vault", "verify", "--config", config, "--json"], environment: env, cwd: base)
        #expect(verify.status == 0, "\(verify.out)\n\(verify.err)")
        #expect(verify.out.contains("\"format\" : \"restore-drill/vault-verify\""))

        // A wrong password: the checks fail (1) and say so.
        let wrongFile = base + "/wrong"
        try VaultPassword("wrong", origin: "test").write(toNewFileAt: wrongFile)
        let wrong = try Self.run(
            ["vault", "verify", "--config", config, "--password-file", wrongFile], environment: env, cwd: base)
        #expect(wrong.status == ExitStatus.findings.rawValue, "\(wrong.out)\n\(wrong.err)")
        #expect(wrong.out.contains("wrong password"))
        let wrongDrill = try Self.run(
            ["drill", "--config", config, "--password-file", wrongFile], environment: env, cwd: base)
        #expect(wrongDrill.status == ExitStatus.findings.rawValue)
        #expect(wrongDrill.out.contains("FAIL credentials.vault"))

        // No password source at all: a usage error (2).
        let none = try Self.run(["vault", "verify", "--config", unkeyed], cwd: base)
        #expect(none.status == ExitStatus.usage.rawValue, "\(none.err)")
        #expect(none.err.contains("needs the vault password"))
        // A configured source that gives nothing: the tool cannot do its job (3), naming the source.
        let unset = try Self.run(["vault", "verify", "--config", config], cwd: base)
        #expect(unset.status == ExitStatus.runtime.rawValue, "\(unset.err)")
        #expect(unset.err.contains("RD_E2E_VAULT_PASSWORD is not set"))

        // A password file others can read is refused (3), naming its mode.
        let loose = base + "/loose"
        try Data(password.utf8).write(to: URL(fileURLWithPath: loose))
        chmod(loose, 0o644)
        let refused = try Self.run(
            ["vault", "verify", "--config", config, "--password-file", loose], environment: env, cwd: base)
        #expect(refused.status == ExitStatus.runtime.rawValue)
        #expect(refused.err.contains("0644"))
        #expect(!refused.err.contains(password))

        // An unknown set: runtime error (3).
        let missing = try Self.run(
            ["vault", "verify", "full_19990101_000000", "--config", config], environment: env, cwd: base)
        #expect(missing.status == ExitStatus.runtime.rawValue)

        // Nothing the tool wrote holds the password or a token.
        for folder in [base + "/backups", base + "/reports", base + "/sandboxes"] {
            for relative in fm.subpaths(atPath: folder) ?? [] {
                guard let data = fm.contents(atPath: folder + "/" + relative) else { continue }
                #expect(data.range(of: Data(password.utf8)) == nil, "\(relative) holds the password")
                #expect(data.range(of: Data(token.utf8)) == nil, "\(relative) holds a token")
            }
        }
    }
}
