import Foundation
import TestSupport
import Testing

@testable import DrillCore
@testable import Vault

private let iterations = 1000

@Suite struct VaultManifestTests {
    let password = try! VaultPassword("manifest password", origin: "test")

    /// Writes a small set: one artifact, SHA256SUMS and a keyed manifest. Returns the set folder and the salt.
    private func makeSet(in scratch: TempFolder) throws -> (set: String, salt: [UInt8]) {
        let set = scratch.file("full_20251020_175019")
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: false)
        let archive = Data("pretend this is code.tar.gz".utf8)
        try archive.write(to: URL(fileURLWithPath: (set as NSString).appendingPathComponent("code.tar.gz")))

        let salt = try Vault.newSalt()
        let key = try Vault.hmacKey(password: password, salt: salt, iterations: iterations)
        var manifest = Manifest(
            id: try #require(BackupID("full_20251020_175019")), name: "maia",
            startedAt: Date(timeIntervalSince1970: 1_760_982_619),
            timeZone: "UTC", host: "test-host", home: "/Users/alice", root: "/Users/alice/git/maia")
        manifest.artifacts = [
            ArtifactRecord(
                path: "code.tar.gz", component: .code, kind: .archive, size: Int64(archive.count),
                sha256: SHA256Digest.hex(of: archive))
        ]
        manifest.files = [
            FileRecord(
                component: .credentials, base: .root, path: "claude/data/credentials/token", size: 12,
                hmacSHA256: Vault.hmacHex(key: key, data: Data("token-secret".utf8)), mode: 0o600)
        ]
        manifest.vault = VaultRecord(
            artifact: Vault.fileName, cipher: Vault.cipherName, kdf: Vault.kdfName, iterations: iterations,
            hmac: String(repeating: "0", count: 64), hmacSalt: Hex.encode(salt))
        try manifest.applyHMAC(key: key, salt: salt)
        try write(manifest, to: set)
        return (set, salt)
    }

    /// Writes manifest.json (self-checksum recomputed) and a SHA256SUMS that agrees with the artifacts.
    private func write(_ manifest: Manifest, to set: String) throws {
        try manifest.encodedForDisk().write(
            to: URL(fileURLWithPath: (set as NSString).appendingPathComponent("manifest.json")))
        let sums = try manifest.artifacts.map { artifact in
            "\(try SHA256Digest.file(at: (set as NSString).appendingPathComponent(artifact.path)).sha256)  \(artifact.path)\n"
        }.joined()
        try Data(sums.utf8).write(to: URL(fileURLWithPath: (set as NSString).appendingPathComponent("SHA256SUMS")))
    }

    @Test func aKeyedManifestVerifiesWithThePasswordOnly() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let (set, salt) = try makeSet(in: scratch)
        let loaded = try Manifest.load(setPath: set)
        #expect(loaded.manifestHMACSalt == Hex.encode(salt))
        #expect(loaded.hmacIterations == iterations)
        #expect(try loaded.verifySelfChecksum())
        #expect(try loaded.verifyHMAC(password: password, iterations: loaded.hmacIterations))
        #expect(try loaded.verifyHMAC(key: Vault.hmacKey(password: password, salt: salt, iterations: iterations)))
        #expect(try !loaded.verifyHMAC(password: VaultPassword("wrong", origin: "test"), iterations: iterations))
        #expect(try !loaded.verifyHMAC(password: password, iterations: iterations + 1))
        // The recorded HMAC is what the key computes over the canonical body.
        let key = try Vault.hmacKey(password: password, salt: salt, iterations: iterations)
        #expect(loaded.manifestHMAC == (try loaded.computedHMAC(key: key)))
    }

    /// An attacker swaps code.tar.gz and rewrites its digest in the manifest, the manifest's own
    /// SHA-256 and SHA256SUMS consistently: every unkeyed check passes, the HMAC does not.
    @Test func aCoordinatedEditOfManifestChecksumAndSumsIsCaught() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let (set, _) = try makeSet(in: scratch)
        var forged = try Manifest.load(setPath: set)
        let evil = Data("evil archive".utf8)
        try evil.write(to: URL(fileURLWithPath: (set as NSString).appendingPathComponent("code.tar.gz")))
        forged.artifacts[0].size = Int64(evil.count)
        forged.artifacts[0].sha256 = SHA256Digest.hex(of: evil)
        try write(forged, to: set)

        let loaded = try Manifest.load(setPath: set)
        #expect(try loaded.verifySelfChecksum())  // the unkeyed checksum is fooled
        let sums = try String(contentsOfFile: (set as NSString).appendingPathComponent("SHA256SUMS"), encoding: .utf8)
        #expect(sums.hasPrefix(SHA256Digest.hex(of: evil)))
        #expect(try !loaded.verifyHMAC(password: password, iterations: loaded.hmacIterations))
    }

    @Test(arguments: ["remove hmac", "remove salt", "new salt", "edit credential digest", "lower iterations"])
    func otherEditsOfAKeyedManifestFail(edit: String) throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let (set, _) = try makeSet(in: scratch)
        var forged = try Manifest.load(setPath: set)
        switch edit {
        case "remove hmac": forged.manifestHMAC = nil
        case "remove salt": forged.manifestHMACSalt = nil
        case "new salt": forged.manifestHMACSalt = Hex.encode(try Vault.newSalt())
        case "edit credential digest": forged.files[0].hmacSHA256 = String(repeating: "a", count: 64)
        default: forged.vault?.iterations = 1
        }
        try write(forged, to: set)
        let loaded = try Manifest.load(setPath: set)
        #expect(try loaded.verifySelfChecksum())
        #expect(try !loaded.verifyHMAC(password: password, iterations: loaded.hmacIterations))
    }

    @Test func aMalformedSaltIsAnError() throws {
        var manifest = Manifest(
            id: BackupID(date: Date(timeIntervalSince1970: 0)), name: "maia", startedAt: Date(timeIntervalSince1970: 0),
            timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        manifest.manifestHMAC = String(repeating: "0", count: 64)
        manifest.manifestHMACSalt = "not hex"
        let error = #expect(throws: RestoreDrillError.self) {
            try manifest.verifyHMAC(password: password, iterations: iterations)
        }
        #expect(error?.description.contains("manifest_hmac_salt") == true)
        #expect(error?.description.contains("full_19700101_000000") == true)
    }
}
