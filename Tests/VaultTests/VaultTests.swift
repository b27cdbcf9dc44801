import Foundation
import TestSupport
import Testing

@testable import DrillCore
@testable import Vault

/// Iterations used where the count does not matter (PBKDF2 at the default costs 0.3 s a key).
private let fastIterations = 1000
private let openssl = "/usr/bin/openssl"

/// Plaintext sizes around the 16-byte AES block and the 1 MiB streaming block.
private let sizes = [0, 1, 15, 16, 17, 1000, 1 << 20, (1 << 20) + 5, 3 * (1 << 20) + 16]

private func decryptWithCLI(vault: String, output: String, passwordFile: String, iterations: Int) throws -> ToolRun {
    try runTool(
        openssl,
        [
            "enc", "-d", "-aes-256-cbc", "-pbkdf2", "-iter", String(iterations), "-md", "sha256",
            "-pass", "file:\(passwordFile)", "-in", vault, "-out", output,
        ])
}

private func vaultRecord(tag: String, salt: [UInt8], iterations: Int) -> VaultRecord {
    VaultRecord(
        artifact: Vault.fileName, cipher: Vault.cipherName, kdf: Vault.kdfName, iterations: iterations, hmac: tag,
        hmacSalt: Hex.encode(salt))
}

@Suite struct VaultTests {
    let password = try! VaultPassword("correct horse battery staple ✓", origin: "test")
    let wrongPassword = try! VaultPassword("correct horse battery stapler", origin: "test")

    @Test(arguments: sizes)
    func ourVaultDecryptsWithTheOpenSSLCLI(size: Int) throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let plain = randomBytes(size)
        try plain.write(to: URL(fileURLWithPath: scratch.file("plain")))
        let summary = try Vault.encrypt(
            input: scratch.file("plain"), output: scratch.file("v.vault"), password: password,
            iterations: fastIterations)

        let vault = try Data(contentsOf: URL(fileURLWithPath: scratch.file("v.vault")))
        #expect(Array(vault.prefix(8)) == Array("Salted__".utf8))
        #expect(vault.count == 16 + (size / 16 + 1) * 16)  // header + PKCS#7-padded ciphertext
        #expect(summary.size == Int64(vault.count))
        #expect(summary.sha256 == SHA256Digest.hex(of: vault))
        // The vault artifact's remote hashes come from the same pass.
        #expect(summary.digests == ArtifactDigests.of(vault))
        #expect(summary.tag == nil)

        let passwordFile = try scratch.passwordFile(password)
        let result = try decryptWithCLI(
            vault: scratch.file("v.vault"), output: scratch.file("out"), passwordFile: passwordFile,
            iterations: fastIterations)
        #expect(result.status == 0, "openssl: \(result.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("out"))) == plain)
        // Nothing else is left in the folder: no temporary file.
        #expect(try scratch.names() == ["out", "password", "plain", "v.vault"])
    }

    @Test(arguments: sizes)
    func aVaultMadeByTheOpenSSLCLIDecryptsWithOurCode(size: Int) throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let plain = randomBytes(size)
        try plain.write(to: URL(fileURLWithPath: scratch.file("plain")))
        let passwordFile = try scratch.passwordFile(password)
        let made = try runTool(
            openssl,
            [
                "enc", "-aes-256-cbc", "-pbkdf2", "-iter", String(fastIterations), "-md", "sha256",
                "-pass", "file:\(passwordFile)", "-in", scratch.file("plain"), "-out", scratch.file("cli.vault"),
            ])
        #expect(made.status == 0, "openssl: \(made.error)")

        try Vault.decrypt(
            input: scratch.file("cli.vault"), output: scratch.file("out"), password: password,
            iterations: fastIterations)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("out"))) == plain)

        // The streaming variant yields the same bytes.
        var streamed = Data()
        try Vault.decrypt(input: scratch.file("cli.vault"), password: password, iterations: fastIterations) {
            streamed.append(contentsOf: $0)
        }
        #expect(streamed == plain)
    }

    @Test func theDefaultIterationCountRoundTripsWithTheCLI() throws {
        #expect(Vault.defaultIterations >= 600_000)
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let plain = randomBytes(4096 + 3)
        try plain.write(to: URL(fileURLWithPath: scratch.file("plain")))
        try Vault.encrypt(
            input: scratch.file("plain"), output: scratch.file("v.vault"), password: password,
            iterations: Vault.defaultIterations)
        let passwordFile = try scratch.passwordFile(password)
        let result = try decryptWithCLI(
            vault: scratch.file("v.vault"), output: scratch.file("out"), passwordFile: passwordFile,
            iterations: Vault.defaultIterations)
        #expect(result.status == 0, "openssl: \(result.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("out"))) == plain)

        // A different iteration count derives a different key: the CLI refuses, or (when the
        // garbage it decrypts happens to end in valid padding, about 1 time in 256) writes
        // something that is not the plaintext.
        let other = try decryptWithCLI(
            vault: scratch.file("v.vault"), output: scratch.file("out2"), passwordFile: passwordFile,
            iterations: 10_000)
        #expect(other.status != 0 || FileManager.default.contents(atPath: scratch.file("out2")) != plain)
    }

    @Test func aWrongPasswordFailsTheTagClearlyAndLeavesNoOutput() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        try randomBytes(5000).write(to: URL(fileURLWithPath: scratch.file("plain")))
        let salt = try Vault.newSalt()
        let key = try Vault.hmacKey(password: password, salt: salt, iterations: fastIterations)
        let summary = try Vault.encrypt(
            input: scratch.file("plain"), output: scratch.file("v.vault"), password: password,
            iterations: fastIterations, tagKey: key)
        let record = vaultRecord(tag: try #require(summary.tag), salt: salt, iterations: fastIterations)
        let vault = scratch.file("v.vault")

        #expect(try Vault.verifyTag(file: vault, record: record, password: password))
        #expect(try !Vault.verifyTag(file: vault, record: record, password: wrongPassword))
        let error = #expect(throws: RestoreDrillError.self) {
            try Vault.decrypt(input: vault, output: scratch.file("out"), password: wrongPassword, record: record)
        }
        guard case .invalidSet(let path, let message)? = error else {
            Issue.record("expected invalidSet, got \(String(describing: error))")
            return
        }
        #expect(path == vault)
        #expect(message.contains("wrong password"))
        #expect(try scratch.names() == ["plain", "v.vault"])

        // The right password opens it.
        try Vault.decrypt(input: vault, output: scratch.file("out"), password: password, record: record)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: scratch.file("out")))
                == Data(contentsOf: URL(fileURLWithPath: scratch.file("plain"))))
    }

    /// Without a tag only the padding can catch a wrong password. A fixed salt and fixed plaintext
    /// make the outcome reproducible (with random plaintext about 1 run in 256 got valid padding:
    /// the flake a fresh-user run found); the openssl CLI must agree that these bytes do not decrypt.
    @Test func aWrongPasswordWithoutTagFailsThePaddingCheckAndLeavesNoOutput() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        try Data((0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).write(
            to: URL(fileURLWithPath: scratch.file("plain")))
        let vault = scratch.file("v.vault")
        _ = try Vault.encrypt(
            input: scratch.file("plain"), output: vault, password: password, iterations: fastIterations,
            tagKey: nil, mode: 0o644, salt: Array("fixedsal".utf8))
        let error = #expect(throws: RestoreDrillError.self) {
            try Vault.decrypt(
                input: vault, output: scratch.file("out"), password: wrongPassword, iterations: fastIterations)
        }
        #expect(error == .invalidSet(path: vault, message: "cannot decrypt: wrong password or damaged vault"))
        #expect(error?.description.contains(vault) == true)
        #expect(try scratch.names() == ["plain", "v.vault"])
        var received = 0
        #expect(throws: RestoreDrillError.self) {
            try Vault.decrypt(input: vault, password: wrongPassword, iterations: fastIterations) {
                received += $0.count
            }
        }

        let wrongFile = try scratch.passwordFile(wrongPassword)
        let cli = try decryptWithCLI(
            vault: vault, output: scratch.file("cli-out"), passwordFile: wrongFile, iterations: fastIterations)
        #expect(cli.status != 0)
        #expect(cli.error.contains("bad decrypt"))
    }

    @Test(arguments: [0, 7, 8, 15, 16, 100, 4111, 4127])
    func oneFlippedBitFailsTheTagBeforeAnyDecryption(byteOffset: Int) throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        try randomBytes(4100).write(to: URL(fileURLWithPath: scratch.file("plain")))
        let salt = try Vault.newSalt()
        let key = try Vault.hmacKey(password: password, salt: salt, iterations: fastIterations)
        let vault = scratch.file("v.vault")
        let summary = try Vault.encrypt(
            input: scratch.file("plain"), output: vault, password: password, iterations: fastIterations, tagKey: key)
        let record = vaultRecord(tag: try #require(summary.tag), salt: salt, iterations: fastIterations)
        #expect(summary.size == 4128)

        var bytes = try Data(contentsOf: URL(fileURLWithPath: vault))
        bytes[byteOffset] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: vault))

        #expect(try !Vault.verifyTag(file: vault, record: record, password: password, tagKey: key))
        // The tag's message, not the padding's: the tag was compared first.
        let error = #expect(throws: RestoreDrillError.self) {
            try Vault.decrypt(
                input: vault, output: scratch.file("out"), password: password, record: record, tagKey: key)
        }
        #expect(
            error
                == .invalidSet(
                    path: vault,
                    message: "HMAC tag does not match: wrong password or tampered vault (nothing was decrypted)"))
        var consumed = 0
        #expect(throws: RestoreDrillError.self) {
            try Vault.decrypt(input: vault, password: password, record: record, tagKey: key) { consumed += $0.count }
        }
        #expect(consumed == 0)
        #expect(try scratch.names() == ["plain", "v.vault"])
    }

    @Test func damagedHeadersAndTruncationsAreNamed() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        try randomBytes(64).write(to: URL(fileURLWithPath: scratch.file("plain")))
        let vault = scratch.file("v.vault")
        try Vault.encrypt(input: scratch.file("plain"), output: vault, password: password, iterations: fastIterations)
        let good = try Data(contentsOf: URL(fileURLWithPath: vault))

        func attempt(_ bytes: Data) -> RestoreDrillError? {
            try? bytes.write(to: URL(fileURLWithPath: vault))
            return #expect(throws: RestoreDrillError.self) {
                try Vault.decrypt(
                    input: vault, output: scratch.file("out"), password: password, iterations: fastIterations)
            }
        }
        var notSalted = good
        notSalted[0] = UInt8(ascii: "X")
        #expect(attempt(notSalted)?.description.contains("no \"Salted__\" header") == true)
        #expect(attempt(good.prefix(10))?.description.contains("shorter than its 16-byte header") == true)
        #expect(
            attempt(good.prefix(16))
                == .invalidSet(path: vault, message: "cannot decrypt: wrong password or damaged vault"))
        #expect(
            attempt(good.dropLast())
                == .invalidSet(path: vault, message: "cannot decrypt: wrong password or damaged vault"))
        #expect(try scratch.names() == ["plain", "v.vault"])
        #expect(throws: RestoreDrillError.io(path: scratch.file("missing"), message: String(cString: strerror(ENOENT))))
        {
            try Vault.decrypt(
                input: scratch.file("missing"), output: scratch.file("out"), password: password,
                iterations: fastIterations)
        }
    }

    @Test func iterationCountsOutOfRangeAreRefused() throws {
        #expect(throws: RestoreDrillError.self) {
            try Vault.hmacKey(password: password, salt: [1, 2, 3], iterations: 0)
        }
        #expect(throws: RestoreDrillError.self) {
            try Vault.hmacKey(password: password, salt: [1, 2, 3], iterations: Vault.maximumIterations + 1)
        }
        let record = VaultRecord(
            artifact: Vault.fileName, cipher: Vault.cipherName, kdf: Vault.kdfName, iterations: Int.max,
            hmac: String(repeating: "0", count: 64), hmacSalt: "00")
        #expect(throws: RestoreDrillError.self) {
            try Vault.verifyTag(file: "/dev/null", record: record, password: password)
        }
        var otherCipher = record
        otherCipher.iterations = 1
        otherCipher.cipher = "aes-128-ecb"
        #expect(throws: RestoreDrillError.self) {
            try Vault.verifyTag(file: "/dev/null", record: otherCipher, password: password)
        }
    }

    /// RFC 4231 test case 2 (an external vector, not our own output).
    @Test func hmacMatchesRFC4231() throws {
        #expect(
            Vault.hmacHex(key: Array("Jefe".utf8), data: Data("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    /// The tag (PBKDF2 key, then HMAC over a file) agrees with Python's hashlib/hmac, given the
    /// password on standard input.
    @Test func theTagAgreesWithAnIndependentImplementation() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let data = randomBytes((1 << 20) + 333)
        try data.write(to: URL(fileURLWithPath: scratch.file("f")))
        let salt = try Vault.newSalt()
        let ours = try Vault.tag(file: scratch.file("f"), password: password, salt: salt, iterations: fastIterations)
        let key = try Vault.hmacKey(password: password, salt: salt, iterations: fastIterations)
        #expect(key.count == 32)
        #expect(try Vault.hmacHex(key: key, file: scratch.file("f")) == ours)
        #expect(Vault.hmacHex(key: key, data: data) == ours)
        let script = """
            import hashlib, hmac, sys
            key = hashlib.pbkdf2_hmac('sha256', sys.stdin.buffer.read(), bytes.fromhex(sys.argv[1]), int(sys.argv[2]), 32)
            print(hmac.new(key, open(sys.argv[3], 'rb').read(), 'sha256').hexdigest())
            """
        let python = try runTool(
            "/usr/bin/python3", ["-c", script, Hex.encode(salt), String(fastIterations), scratch.file("f")],
            standardInput: Data(password.bytes))
        #expect(python.status == 0, "python: \(python.error)")
        #expect(python.output.trimmingCharacters(in: .whitespacesAndNewlines) == ours)
        // Another salt gives another key, hence another tag.
        #expect(
            try Vault.tag(
                file: scratch.file("f"), password: password, salt: Vault.newSalt(), iterations: fastIterations) != ours)
    }

    @Test func tagsCompareByValue() {
        let a = String(repeating: "ab", count: 32)
        #expect(Vault.tagsEqual(a, a))
        #expect(Vault.tagsEqual(a, a.uppercased()))
        #expect(!Vault.tagsEqual(a, String(a.dropLast()) + "c"))
        #expect(!Vault.tagsEqual(a, String(a.dropLast(2))))
        #expect(!Vault.tagsEqual(a, String(a.dropLast()) + "g"))
        #expect(!Vault.tagsEqual("", ""))
    }

    /// The writer encrypts a stream fed in uneven pieces (no plaintext file), computing size,
    /// SHA-256 and tag of what it wrote; the CLI decrypts the result.
    @Test func theWriterStreamsPiecesAndSummarisesWhatItWrote() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let salt = try Vault.newSalt()
        let key = try Vault.hmacKey(password: password, salt: salt, iterations: fastIterations)
        let writer = try VaultWriter(
            output: scratch.file("v.vault"), password: password, iterations: fastIterations, tagKey: key)
        var plain = Data()
        for size in [7, 0, 100_000, 1, (1 << 20) + 17, 3 * (1 << 20)] {
            let piece = randomBytes(size)
            plain.append(piece)
            try writer.write(piece)
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("v.vault")))  // not before finish()
        let summary = try writer.finish()
        let onDisk = try SHA256Digest.file(at: scratch.file("v.vault"))
        #expect(summary.sha256 == onDisk.sha256)
        #expect(summary.size == onDisk.size)
        #expect(summary.tag == (try Vault.hmacHex(key: key, file: scratch.file("v.vault"))))
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.file("v.vault"))[.posixPermissions] as? Int
        #expect(mode == 0o644)

        let passwordFile = try scratch.passwordFile(password)
        let result = try decryptWithCLI(
            vault: scratch.file("v.vault"), output: scratch.file("out"), passwordFile: passwordFile,
            iterations: fastIterations)
        #expect(result.status == 0, "openssl: \(result.error)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("out"))) == plain)

        // An abandoned writer leaves nothing.
        let abandoned = try VaultWriter(output: scratch.file("w.vault"), password: password, iterations: fastIterations)
        try abandoned.write(Data("secret".utf8))
        abandoned.abandon()
        #expect(try scratch.names() == ["out", "password", "v.vault"])
    }

    /// 64 MiB through encrypt and decrypt in 1 MiB blocks; the round trip must be exact and the
    /// decrypted file must have mode 0600.
    @Test func largeInputStreamsThroughBothDirections() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let plainPath = scratch.file("plain")
        #expect(FileManager.default.createFile(atPath: plainPath, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: plainPath))
        let block = randomBytes(1 << 20)
        for i in 0..<64 {
            var piece = block
            piece[i] ^= 0xff  // no two blocks alike
            try handle.write(contentsOf: piece)
        }
        try handle.write(contentsOf: Data([1, 2, 3]))
        try handle.close()

        let salt = try Vault.newSalt()
        let key = try Vault.hmacKey(password: password, salt: salt, iterations: fastIterations)
        let summary = try Vault.encrypt(
            input: plainPath, output: scratch.file("v.vault"), password: password, iterations: fastIterations,
            tagKey: key)
        #expect(summary.size == 16 + Int64((64 << 20) + 16))
        let record = vaultRecord(tag: try #require(summary.tag), salt: salt, iterations: fastIterations)
        try Vault.decrypt(
            input: scratch.file("v.vault"), output: scratch.file("out"), password: password, record: record, tagKey: key
        )
        #expect(try SHA256Digest.file(at: scratch.file("out")).sha256 == SHA256Digest.file(at: plainPath).sha256)
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.file("out"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
