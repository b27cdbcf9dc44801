import DrillCore
import Foundation
import TestSupport
import Testing
import Vault

@testable import BackupEngine

/// A password file (mode 0600) and the workspace's backup with the vault.
final class VaultFixture {
    let ws: Workspace
    let password: VaultPassword
    let passwordFile: String
    let outcome: BackupOutcome
    let scratch: TempFolder

    /// - Parameter iterations: PBKDF2 count (small in most tests: each derivation at the default
    ///   costs about 0.3 s).
    /// - Parameter prepare: changes the workspace before the backup (e.g. more credential files).
    init(iterations: Int = 1000, prepare: (Workspace) throws -> Void = { _ in }) async throws {
        ws = try Workspace()
        try prepare(ws)
        scratch = try TempFolder("rd-vault")
        password = try VaultPassword("pw-\(UUID().uuidString)", origin: "test")
        passwordFile = scratch.path + "/password"
        try password.write(toNewFileAt: passwordFile)
        ws.config.credentials.password = .file(passwordFile)
        var engine = BackupEngine(config: ws.config, clock: FixedClock(Date()), runner: ws.runner)
        engine.vaultIterations = iterations
        outcome = try await engine.run()
    }

    var vaultPath: String { outcome.setPath + "/" + Vault.fileName }

    func close() {
        ws.close()
        scratch.remove()
    }
}

/// Every regular file under `folder` whose bytes contain `needle`.
func filesContaining(_ needle: Data, under folder: String) -> [String] {
    var hits: [String] = []
    guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
    for case let relative as String in walker {
        let path = folder + "/" + relative
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG,
            let data = FileManager.default.contents(atPath: path)
        else { continue }
        if data.range(of: needle) != nil { hits.append(relative) }
    }
    return hits
}

@Suite struct CredentialsTests {
    @Test func vaultHoldsTheCredentialsEncryptedWithKeyedDigestsOnly() async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let m = f.outcome.manifest
        let component = try #require(m.component(.credentials))
        #expect(component.status == .ok)
        #expect(component.files == 1)
        let vault = try #require(m.vault)
        #expect(vault.iterations == 1000)
        #expect(vault.cipher == "aes-256-cbc")
        #expect(vault.kdf == "pbkdf2-hmac-sha256")
        #expect(m.artifact(Vault.fileName)?.kind == .vault)

        // The credential file: base root, mode 0600, an HMAC digest and no plain SHA-256.
        let record = try #require(m.files.first { $0.component == .credentials })
        #expect(record.base == .root)
        #expect(record.path == "secrets/token.txt")
        #expect(record.mode == 0o600)
        #expect(record.sha256 == nil)
        let content = Data((f.ws.secret + "\n").utf8)
        let key = try Vault.hmacKey(
            password: f.password, salt: try #require(Hex.decode(vault.hmacSalt)), iterations: vault.iterations)
        #expect(record.hmacSHA256 == Vault.hmacHex(key: key, data: content))
        #expect(try Vault.verifyTag(file: f.vaultPath, record: vault, password: f.password))

        // The manifest is keyed, with the vault's salt and count, after every other field.
        #expect(m.manifestHMACSalt == vault.hmacSalt)
        let onDisk = try Manifest.load(setPath: f.outcome.setPath)
        #expect(try onDisk.verifySelfChecksum())
        #expect(try onDisk.verifyHMAC(password: f.password, iterations: onDisk.hmacIterations))
        let wrong = try VaultPassword("not-the-password", origin: "test")
        #expect(try !onDisk.verifyHMAC(password: wrong, iterations: onDisk.hmacIterations))

        // Nothing in the set holds the secret, in plain or as its SHA-256.
        let sha = SHA256Digest.hex(of: content)
        #expect(filesContaining(Data(f.ws.secret.utf8), under: f.outcome.setPath).isEmpty)
        #expect(filesContaining(Data(sha.utf8), under: f.outcome.setPath).isEmpty)
        #expect(filesContaining(Data(f.password.bytes), under: f.outcome.setPath).isEmpty)
        // No temporary file was left beside the vault.
        let names = try FileManager.default.contentsOfDirectory(atPath: f.outcome.setPath)
        #expect(!names.contains { $0.hasPrefix(".") })
    }

    @Test func opensslCLIDecryptsTheVaultIntoATarOfTheCredentials() async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let vault = try #require(f.outcome.manifest.vault)
        let tarPath = f.scratch.path + "/vault.tar"
        let dec = try Shell.run(
            "/usr/bin/openssl",
            [
                "enc", "-d", "-aes-256-cbc", "-pbkdf2", "-iter", String(vault.iterations), "-md", "sha256", "-pass",
                "file:" + f.passwordFile, "-in", f.vaultPath, "-out", tarPath,
            ])
        #expect(dec.code == 0, "\(dec.err)")
        let list = try Shell.run("/usr/bin/tar", ["-tvf", tarPath])
        #expect(list.code == 0)
        #expect(list.out.contains("root/secrets/token.txt"))
        #expect(list.out.hasPrefix("-rw-------"), "\(list.out)")
        let out = f.scratch.path + "/x"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        #expect(try Shell.run("/usr/bin/tar", ["-xf", tarPath, "-C", out]).code == 0)
        #expect(try String(contentsOfFile: out + "/root/secrets/token.txt", encoding: .utf8) == f.ws.secret + "\n")
    }

    @Test func credentialsAreNeverInTheCodeArchive() async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let list = try Shell.run("/usr/bin/tar", ["-tzf", f.outcome.setPath + "/code.tar.gz"])
        #expect(list.code == 0)
        #expect(list.out.contains("src/main.py"))
        #expect(!list.out.contains("secrets"))
        #expect(!f.outcome.manifest.files.contains { $0.component == .code && $0.path.hasPrefix("secrets") })
    }

    @Test func withoutAPasswordSourceTheComponentIsSkippedAndTheManifestIsNotKeyed() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let outcome = try await ws.backup()
        let component = try #require(outcome.manifest.component(.credentials))
        #expect(component.status == .skipped)
        #expect(component.reason?.contains("vault not configured") == true)
        #expect(outcome.manifest.vault == nil)
        #expect(outcome.manifest.manifestHMAC == nil)
        #expect(!FileManager.default.fileExists(atPath: outcome.setPath + "/" + Vault.fileName))
        #expect(filesContaining(Data(ws.secret.utf8), under: outcome.setPath).isEmpty)
        #expect(outcome.manifest.status == .complete)
    }

    @Test func aSourceThatGivesNoPasswordFailsTheComponentNamingIt() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let variable = "RD_TEST_NO_SUCH_VARIABLE_\(UUID().uuidString.prefix(6))"
        ws.config.credentials.password = .environment(variable)
        let outcome = try await ws.backup()
        let component = try #require(outcome.manifest.component(.credentials))
        #expect(component.status == .failed)
        #expect(component.reason?.contains(variable) == true)
        #expect(outcome.manifest.status == .partial)
        #expect(outcome.manifest.vault == nil)
    }

    @Test func aPasswordCommandGetsNoPasswordInItsArgvAndItsOutputIsThePassword() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let secretPassword = "cmd-pw-\(UUID().uuidString)"
        let runner = FakeRunner([
            "pip3-rd-fake": .output("requests==2.31.0\n"), "brew-rd-fake": .output("git 2.42.0\n"),
            "vault-pass-fake": .output(secretPassword + "\n"),
        ])
        ws.config.credentials.password = .command(["vault-pass-fake", "-w", "-s", "maia_vault_password"])
        var engine = BackupEngine(config: ws.config, clock: FixedClock(Date()), runner: runner)
        engine.vaultIterations = 1000
        let outcome = try await engine.run()
        #expect(outcome.manifest.component(.credentials)?.status == .ok)
        let password = try VaultPassword(secretPassword, origin: "test")
        let manifest = try Manifest.load(setPath: outcome.setPath)
        #expect(try manifest.verifyHMAC(password: password, iterations: manifest.hmacIterations))
        #expect(runner.requests.contains { $0.executable == "vault-pass-fake" })
        for request in runner.requests {
            #expect(!request.argv.joined(separator: " ").contains(secretPassword))
            #expect(request.standardInput == nil)
        }
    }

    @Test func theDefaultCountIsAtLeast600000AndRecorded() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let folder = try TempFolder("rd-pw")
        defer { folder.remove() }
        let password = try VaultPassword("default-count", origin: "test")
        try password.write(toNewFileAt: folder.path + "/pw")
        ws.config.credentials.password = .file(folder.path + "/pw")
        let outcome = try await ws.backup()
        let vault = try #require(outcome.manifest.vault)
        #expect(vault.iterations == Vault.defaultIterations)
        #expect(vault.iterations >= 600_000)
        #expect(try Vault.verifyTag(file: outcome.setPath + "/" + Vault.fileName, record: vault, password: password))
    }

    @Test func credentialsUnderHomeRestoreToHomeAndMissingPathsWarn() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try FileManager.default.createDirectory(atPath: ws.home + "/.aws", withIntermediateDirectories: true)
        try Data("aws-secret\n".utf8).write(to: URL(fileURLWithPath: ws.home + "/.aws/credentials"))
        ws.config.credentials.include = [ws.root + "/secrets", ws.home + "/.aws/credentials", ws.home + "/.nothing"]
        ws.config.shell.files.append(ws.home + "/.aws/credentials")
        var engine = BackupEngine(config: ws.config, clock: FixedClock(Date()), runner: ws.runner)
        engine.vaultPassword = .available(try VaultPassword("home-case", origin: "test"))
        engine.vaultIterations = 1000
        let outcome = try await engine.run()
        let records = outcome.manifest.files.filter { $0.component == .credentials }
        #expect(records.map(\.base) == [.root, .home])
        #expect(records.map(\.path) == ["secrets/token.txt", ".aws/credentials"])
        #expect(outcome.manifest.warnings.contains { $0.contains(".nothing") && $0.contains("missing") })
        // Listed as a credential: kept out of shell/.
        #expect(!outcome.manifest.files.contains { $0.component == .shell && $0.path == ".aws/credentials" })
    }
}

/// A tool folder for a restore with credentials: the restore tools plus `openssl`.
func credentialToolBin(in folder: String, tar: String) throws -> ToolBin {
    let bin = try ToolBin(in: folder, tar: tar, hasher: "sha256sum")
    try FileManager.default.createSymbolicLink(atPath: bin.path + "/openssl", withDestinationPath: "/usr/bin/openssl")
    return bin
}

@Suite struct CredentialsRestoreScriptTests {
    static let cases: [RestoreCase] = [["/usr/bin/dash"], ["/usr/bin/bash", "--posix"], ["/usr/bin/zsh"]].flatMap {
        shell in ["/usr/bin/tar", "/usr/bin/bsdtar"].map { RestoreCase(shell: shell, tar: $0, hasher: "sha256sum") }
    }

    /// - Parameter openssl: the text of a stand-in `openssl` to put on `PATH` instead of the real
    ///   one, and files to put beside it.
    func restore(
        _ f: VaultFixture, _ c: RestoreCase, passwordFile: String?, openssl: (String, [String: String])? = nil
    ) throws -> (Shell.Result, String, String) {
        let target = f.scratch.path + "/restore-\(UUID().uuidString.prefix(6))"
        let home = target + "/home"
        let root = home + "/git/maia"
        let bin = try credentialToolBin(in: target + "-tools", tar: c.tar)
        if let (text, files) = openssl {
            unlink(bin.path + "/openssl")
            try Data(text.utf8).write(to: URL(fileURLWithPath: bin.path + "/openssl"))
            chmod(bin.path + "/openssl", 0o755)
            for (name, content) in files {
                try Data(content.utf8).write(to: URL(fileURLWithPath: bin.path + "/" + name))
            }
        }
        var arguments =
            Array(c.shell.dropFirst()) + [
                f.outcome.setPath + "/" + f.outcome.manifest.restoreScript, "--home", home, "--root", root, "--yes",
            ]
        if let passwordFile { arguments += ["--password-file", passwordFile] }
        let result = try Shell.run(
            c.shell[0], arguments, environment: ["PATH": bin.path, "HOME": f.scratch.path, "LANG": "C.UTF-8"])
        return (result, home, root)
    }

    @Test(arguments: cases)
    func withThePasswordFileTheCredentialsAreRestoredWithMode0600(_ c: RestoreCase) async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let (result, _, root) = try restore(f, c, passwordFile: f.passwordFile)
        #expect(result.code == 0, "\(c.testDescription): \(result.err)")
        #expect(result.out.contains("credentials: restored 1 files (mode 0600)"))
        let path = root + "/secrets/token.txt"
        #expect(try String(contentsOfFile: path, encoding: .utf8) == f.ws.secret + "\n")
        var st = stat()
        #expect(lstat(path, &st) == 0)
        #expect(Int(st.st_mode) & 0o7777 == 0o600)
        let leftovers = (FileManager.default.subpaths(atPath: root) ?? []).filter {
            $0.contains(".restore-drill-")
        }
        #expect(leftovers.isEmpty)
        // The password file's content is never echoed.
        #expect(!result.out.contains(String(decoding: f.password.bytes, as: UTF8.self)))
        #expect(!result.err.contains(String(decoding: f.password.bytes, as: UTF8.self)))
    }

    @Test func aWrongPasswordStopsTheRestoreSayingSo() async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let wrong = f.scratch.path + "/wrong"
        try VaultPassword("wrong-password", origin: "test").write(toNewFileAt: wrong)
        let (result, _, root) = try restore(f, CredentialsRestoreScriptTests.cases[0], passwordFile: wrong)
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: credentials: wrong password or damaged vault"))
        #expect(!FileManager.default.fileExists(atPath: root + "/secrets/token.txt"))
        let leftovers = (FileManager.default.subpaths(atPath: root) ?? []).filter {
            $0.contains(".restore-drill-")
        }
        #expect(leftovers.isEmpty)
    }

    /// Issues 12 and 19: an openssl whose `enc` lacks `-pbkdf2`/`-iter` (older LibreSSL as on some
    /// macOS releases, OpenSSL before 1.1.1) is named as too old by the tool check, with its version
    /// and what to install, before anything is written, never as a wrong password; each stand-in
    /// prints what such a release prints and exits 1. Other commands go to the real openssl.
    @Test(arguments: [
        ("LibreSSL 2.8.3", "enc: Unrecognized flag pbkdf2\nusage: enc -ciphername [-AadePp] [-base64]"),
        ("OpenSSL 1.0.2k-fips  26 Jan 2017", "unknown option '-pbkdf2'\noptions are\n-in <file>     input file"),
        ("LibreSSL 2.6.5", "enc: Unrecognized flag iter"),
    ])
    func anOpensslTooOldIsNamedWithItsVersion(version: String, said: String) async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let (result, _, root) = try restore(
            f, Self.cases[0], passwordFile: f.passwordFile,
            openssl: (
                """
                #!/bin/sh
                case $1 in
                    enc) cat "${0%/*}/enc.err" >&2; exit 1 ;;
                    version) cat "${0%/*}/version.txt" ;;
                    *) exec /usr/bin/openssl "$@" ;;
                esac
                """, ["enc.err": said + "\n", "version.txt": version + "\n"]
            ))
        #expect(result.code == 1)
        let line = result.err.split(separator: "\n").first { $0.contains("restore: FAILED") }.map(String.init) ?? ""
        // Issue 19: the tool check names it before anything is written, with what to install.
        #expect(
            line
                == "restore: FAILED: tools: openssl (\(version)) lacks -pbkdf2 and -iter (LibreSSL before 2.9.1 or "
                + "OpenSSL before 1.1.1): install OpenSSL 3 (brew install openssl@3, apt install openssl)",
            "\(result.err)")
        #expect(!line.contains("wrong password"))
        #expect(!FileManager.default.fileExists(atPath: root))
        #expect(!result.out.contains("verified"))
    }

    /// A wrong password says so, with openssl's own words; a vault without openssl's `Salted__`
    /// header (truncated to nothing, overwritten, replaced by plain text) is named before any
    /// decryption is tried.
    @Test func aWrongPasswordKeepsOpensslsWordsAndAVaultWithoutItsHeaderIsNamed() async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let wrong = f.scratch.path + "/wrong-\(UUID().uuidString.prefix(4))"
        try VaultPassword("wrong-password", origin: "test").write(toNewFileAt: wrong)
        let (bad, _, _) = try restore(f, Self.cases[0], passwordFile: wrong)
        #expect(bad.err.contains("credentials: wrong password or damaged vault"))
        #expect(bad.err.contains("openssl said: bad decrypt"), "\(bad.err)")

        let vault = try #require(f.outcome.manifest.artifacts.first { $0.component == .credentials })
        let path = f.outcome.setPath + "/" + vault.path
        let script = f.outcome.setPath + "/" + f.outcome.manifest.restoreScript
        let sums = f.outcome.setPath + "/SHA256SUMS"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        var digest = SHA256Digest.hex(of: original)
        for replacement in [Data(), Data("token=plain text, not a vault\n".utf8), Data(original.dropFirst(8))] {
            // The damaged vault with its digest resealed in the script and SHA256SUMS, so only
            // the header check can tell.
            try replacement.write(to: URL(fileURLWithPath: path))
            let next = SHA256Digest.hex(of: replacement)
            #expect(try String(contentsOfFile: sums, encoding: .utf8).contains(digest))
            for file in [script, sums] {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                try text.replacingOccurrences(of: digest, with: next).write(
                    toFile: file, atomically: false, encoding: .utf8)
            }
            digest = next
            for c in [Self.cases[0], Self.cases[4]] {  // dash and zsh read the header alike
                let (result, _, _) = try restore(f, c, passwordFile: f.passwordFile)
                #expect(result.code == 1)
                #expect(
                    result.err.contains("\(vault.path) is not an openssl-encrypted vault (no Salted__ header)"),
                    "\(c.testDescription): \(result.err)")
            }
        }
    }

    /// Issue 12 in the vault: a credential stored under a decomposed (NFD) name and its composed
    /// (NFC) twin beside it come back as two files with the exact bytes of their names, through
    /// GNU tar and bsdtar.
    @Test(arguments: [cases[0], cases[1]])
    func decomposedCredentialNamesComeBackByteForByte(_ c: RestoreCase) async throws {
        let nfd = "secrets/Re\u{301}sume\u{301}.key"
        let nfc = "secrets/R\u{E9}sum\u{E9}.key"
        let f = try await VaultFixture { ws in
            try ws.write(nfd, "decomposed\n", mode: 0o600)
            try ws.write(nfc, "composed\n", mode: 0o600)
        }
        defer { f.close() }
        let (result, _, root) = try restore(f, c, passwordFile: f.passwordFile)
        #expect(result.code == 0, "\(c.testDescription): \(result.err)")
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/secrets").map { Array($0.utf8) }
        #expect(names.contains(Array("Re\u{301}sume\u{301}.key".utf8)), "\(names)")
        #expect(names.contains(Array("R\u{E9}sum\u{E9}.key".utf8)), "\(names)")
        for (name, text) in [(nfd, "decomposed\n"), (nfc, "composed\n")] {
            let data = FileManager.default.contents(atPath: root + "/" + name)
            #expect(data == Data(text.utf8), "\(Array(name.utf8))")
        }
    }

    /// An empty password file (an unset variable written into it) stops the restore before
    /// anything is written, not after the code and databases are in place.
    @Test func anEmptyPasswordFileStopsTheRestoreBeforeAnythingIsWritten() async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let empty = f.scratch.path + "/empty-password"
        FileManager.default.createFile(atPath: empty, contents: Data(), attributes: [.posixPermissions: 0o600])
        let (result, home, _) = try restore(f, CredentialsRestoreScriptTests.cases[0], passwordFile: empty)
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: --password-file \(empty): empty"), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: home))
    }

    @Test func withoutAPasswordTheCredentialsAreSkippedAndTheRestoreSucceeds() async throws {
        let f = try await VaultFixture()
        defer { f.close() }
        let (result, _, root) = try restore(f, CredentialsRestoreScriptTests.cases[0], passwordFile: nil)
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out.contains("credentials: skipped (no --password-file)"))
        #expect(FileManager.default.fileExists(atPath: root + "/src/main.py"))
        #expect(!FileManager.default.fileExists(atPath: root + "/secrets"))
    }
}
