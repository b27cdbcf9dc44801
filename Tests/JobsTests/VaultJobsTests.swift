import DrillCore
import Foundation
import Jobs
import Sandbox
import TestSupport
import Testing
import Vault

/// Backup and drill of a sample workspace with a vault, end to end through the jobs the
/// command line calls (real restore script, real replay under the tool's isolation).
@Suite struct VaultJobsTests {
    @Test func drillWithTheConfiguredPasswordPassesWithCredentialsVaultPass() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        #expect(backup.manifest.component(.credentials)?.status == .ok)
        #expect(backup.manifest.manifestHMAC != nil)
        let result = try await w.drill()
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
        let vault = try #require(result.results(.credentialsVault).first)
        #expect(vault.verdict == .pass)
        #expect(vault.message.contains("2 restored files match their HMAC digests"))
        let manifest = try #require(result.results(.setManifest).first)
        #expect(manifest.verdict == .pass)
        #expect(manifest.message.contains("HMAC verified"))
        #expect(result.result(.restoreTree, "credentials")?.verdict == .pass)
    }

    @Test func drillWithAWrongPasswordFailsCredentialsVaultAndTheManifestHMACAndHandsTheScriptNoPassword() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let wrong = try w.otherPasswordFile("not-the-password")
        let result = try await w.drill(.init(pick: .latest, passwordFile: wrong))
        #expect(result.verdict == .fail)
        let vault = try #require(result.results(.credentialsVault).first)
        #expect(vault.verdict == .fail)
        #expect(vault.message.contains("wrong password"))
        #expect(vault.message.contains("nothing was decrypted"))
        let manifest = try #require(result.results(.setManifest).first)
        #expect(manifest.verdict == .fail)
        #expect(manifest.message.contains("manifest HMAC does not match"))
        // The set is not authenticated with this password, so the script was handed none: it
        // restored everything but the credentials, and said so.
        #expect(result.authenticated == false)
        let script = try #require(result.results(.restoreScript).first)
        #expect(script.verdict == .pass)
        #expect(script.evidence.joined(separator: "\n").contains("credentials: skipped (no --password-file)"))
        // The sandbox is kept for forensics, without decrypted credentials or leftovers.
        #expect(result.sandboxKept)
        let sandbox = try #require(result.sandboxPath)
        let leftovers = regularFiles(under: sandbox).filter {
            $0.contains("/credentials/") || $0.contains(".restore-drill-credentials-") || $0.hasSuffix("password")
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func drillWithoutAPasswordSkipsTheVaultAndCountsCredentialFilesAsSkipped() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        var noPassword = w.config
        noPassword.credentials.password = nil
        let result = try await w.drill(.init(pick: .latest, keepSandbox: true), config: noPassword)
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict == .fail || $0.verdict == .error })")
        let vault = try #require(result.results(.credentialsVault).first)
        #expect(vault.verdict == .skip)
        #expect(vault.message.contains("no password given"))
        let tree = try #require(result.result(.restoreTree, "credentials"))
        #expect(tree.verdict == .skip)
        #expect(tree.message.contains("no password given"))
        let sandbox = try #require(result.sandboxPath)
        #expect(regularFiles(under: sandbox).filter { $0.contains("/claude/data/credentials/") }.isEmpty)
        #expect(result.results(.restoreScript).first?.evidence.joined().contains("credentials: skipped") == true)
    }

    @Test func aTamperedVaultFailsItsTagBeforeDecryption() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        // One flipped bit in the vault; SHA256SUMS and the manifest resealed consistently (its
        // self-checksum and, as a buggy engine holding the key would, its HMAC).
        let vaultPath = backup.setPath + "/" + Vault.fileName
        var bytes = try Data(contentsOf: URL(fileURLWithPath: vaultPath))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: vaultPath))
        var manifest = try Manifest.load(setPath: backup.setPath)
        let sha = SHA256Digest.hex(of: bytes)
        manifest.artifacts = manifest.artifacts.map {
            var a = $0
            if a.path == Vault.fileName { a.sha256 = sha }
            return a
        }
        let saltHex = try #require(manifest.manifestHMACSalt)
        let salt = try #require(Hex.decode(saltHex))
        let key = try Vault.hmacKey(password: w.password, salt: salt, iterations: manifest.hmacIterations)
        try manifest.applyHMAC(key: key, salt: salt)
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: backup.setPath + "/manifest.json"))
        let sums = manifest.artifacts.map { "\($0.sha256)  \($0.path)\n" }.joined()
        try Data(sums.utf8).write(to: URL(fileURLWithPath: backup.setPath + "/SHA256SUMS"))

        let result = try await w.drill()
        #expect(result.verdict == .fail)
        #expect(result.results(.setManifest).first?.verdict == .pass)
        #expect(result.results(.setArtifacts).allSatisfy { $0.verdict == .pass })
        let vault = try #require(result.results(.credentialsVault).first)
        #expect(vault.verdict == .fail)
        #expect(vault.message.contains("tampered vault"))
        #expect(vault.message.contains("nothing was decrypted"))

        // `vault verify` says the same without a drill.
        let verify = try await VaultVerifyJob(config: w.config).run(id: nil, passwordFile: nil)
        #expect(verify.verdict == .fail)
        #expect(verify.checks.last?.message.contains("tampered vault") == true)
    }

    @Test func aCoordinatedEditOfManifestChecksumAndSumsFailsSetManifestWithThePassword() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        var manifest = try Manifest.load(setPath: backup.setPath)
        manifest.warnings.append("edited by someone without the password")
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: backup.setPath + "/manifest.json"))
        let result = try await w.drill()
        let check = try #require(result.results(.setManifest).first)
        #expect(check.verdict == .fail)
        #expect(check.message.contains("manifest HMAC does not match"))
        // Without the password the same edit passes the self-checksum: only the key catches it.
        var noPassword = w.config
        noPassword.credentials.password = nil
        let unkeyed = try await w.drill(config: noPassword)
        #expect(unkeyed.results(.setManifest).first?.verdict == .pass)
    }

    @Test func vaultVerifyPassesWithThePasswordFailsWithAWrongOneAndNeedsOne() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        let ok = try await VaultVerifyJob(config: w.config).run(id: backup.manifest.id.description, passwordFile: nil)
        #expect(ok.verdict == .pass)
        #expect(ok.checks.map(\.check) == [.setManifest, .credentialsVault])
        #expect(ok.checks.allSatisfy { $0.verdict == .pass })
        let wrong = try w.otherPasswordFile("wrong")
        let bad = try await VaultVerifyJob(config: w.config).run(id: nil, passwordFile: wrong)
        #expect(bad.verdict == .fail)
        #expect(bad.checks.last?.message.contains("wrong password") == true)
        var noPassword = w.config
        noPassword.credentials.password = nil
        await #expect(throws: RestoreDrillError.self) {
            _ = try await VaultVerifyJob(config: noPassword).run(id: nil, passwordFile: nil)
        }
        // A password file other users can read is refused.
        let loose = w.base + "/loose-password"
        try Data("pw".utf8).write(to: URL(fileURLWithPath: loose))
        chmod(loose, 0o644)
        do {
            _ = try await VaultVerifyJob(config: w.config).run(id: nil, passwordFile: loose)
            Issue.record("a 0644 password file was accepted")
        } catch let error as RestoreDrillError {
            #expect(error.description.contains("0644"))
        }
    }

    /// The restore script run by hand with `--password-fd N`: the password comes on a pipe (here
    /// standard input moved to descriptor 3, as the drill's wrapper does), the credentials are
    /// restored, and a descriptor that is no number or given with `--password-file` is refused.
    @Test func theRestoreScriptReadsThePasswordFromAnInheritedDescriptor() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        let script = backup.setPath + "/" + backup.manifest.restoreScript
        let target = w.base + "/by-hand"
        let wrapper = "exec 3<&0 </dev/null; exec /bin/sh \"$@\""
        let targets = ["--home", target + "/home", "--root", target + "/root", "--yes"]
        let run = try runTool(
            "/bin/sh", ["-c", wrapper, "wrap", script] + targets + ["--password-fd", "3"],
            standardInput: Data(w.password.bytes), mergingError: true)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("credentials: restored 2 files (mode 0600)"), "\(run.output)")
        #expect(!run.output.contains(String(decoding: w.password.bytes, as: UTF8.self)))
        let restored = regularFiles(under: target).filter { $0.contains("/credentials/") }
        #expect(restored.count == 2, "\(restored)")
        let originals = Set(try w.credentialFiles().values)
        for file in restored { #expect(originals.contains(FileManager.default.contents(atPath: file) ?? Data())) }

        let notANumber = try runTool(
            "/bin/sh", [script, "--home", target + "/h2", "--root", target + "/r2", "--yes", "--password-fd", "3x"],
            mergingError: true)
        #expect(notANumber.status == 1 && notANumber.output.contains("not a descriptor number"), "\(notANumber.output)")
        let bothFlags = ["--password-fd", "3", "--password-file", w.passwordFile]
        let both = try runTool(
            "/bin/sh", [script, "--home", target + "/h3", "--root", target + "/r3", "--yes"] + bothFlags,
            mergingError: true)
        #expect(both.status == 1 && both.output.contains("not both"), "\(both.output)")
    }

    @Test func noRecordedArgvOrEnvironmentHoldsThePassword() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        // A `command:` source, as `security find-generic-password -w …` would be: its output is
        // the password, its argv is not.
        w.config.credentials.password = .command(["/bin/cat", w.passwordFile])
        w.config.dependencies.python = ["/bin/echo", "requests==2.31.0"]
        let recording = RecordingRunner()
        _ = try await w.backup(runner: recording)
        let result = try await w.drill(
            replayer: IsolatedReplayer(runner: recording), runner: recording)
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict == .fail || $0.verdict == .error })")
        #expect(result.results(.credentialsVault).first?.verdict == .pass)

        let secret = String(decoding: w.password.bytes, as: UTF8.self)
        let requests = recording.recorded
        #expect(requests.contains { $0.argv.contains("/bin/cat") })
        #expect(requests.contains { $0.argv.contains("--password-fd") })
        #expect(!requests.contains { $0.argv.contains("--password-file") })
        for request in requests {
            #expect(!request.argv.contains { $0.contains(secret) }, "argv holds the password: \(request.executable)")
            for (name, value) in request.environment ?? [:] {
                #expect(!value.contains(secret) && !name.contains(secret), "environment \(name) holds the password")
            }
            // The password travels only on the replay's standard input, a pipe the runner fills
            // and closes and the wrapper moves to descriptor 3 (`--password-fd 3`): no file holds it.
            if request.argv.contains("--password-fd") {
                #expect(request.standardInput == Data(w.password.bytes))
                #expect(request.argv.contains { $0.hasPrefix("exec 3<&0") })
            } else {
                #expect(request.standardInput.map { $0.range(of: Data(w.password.bytes)) == nil } ?? true)
            }
        }
    }
}
