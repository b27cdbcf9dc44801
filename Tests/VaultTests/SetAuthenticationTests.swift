import Foundation
import Testing

@testable import DrillCore
@testable import Vault

/// ``SetAuthenticator`` (which configured password, if any, made a manifest) and
/// ``SecretScrubber`` (what never reaches a report).
@Suite struct SetAuthenticationTests {
    let current = try! VaultPassword("the current password", origin: "test")
    let previous = try! VaultPassword("the password of last year", origin: "test")
    let stranger = try! VaultPassword("an attacker's password", origin: "test")

    /// A manifest keyed with `password` at 1000 iterations (no vault, so ``Manifest/hmacIterations``
    /// is the default; the vault record pins the count instead).
    func manifest(keyedWith password: VaultPassword?, id: String = "full_20251020_175019") throws -> Manifest {
        var m = Manifest(
            id: try #require(BackupID(id)), name: "maia", startedAt: Date(timeIntervalSince1970: 1_760_982_619),
            timeZone: "UTC", host: "test-host", home: "/Users/alice", root: "/Users/alice/git/maia")
        let salt = try Vault.newSalt()
        m.vault = VaultRecord(
            artifact: Vault.fileName, cipher: Vault.cipherName, kdf: Vault.kdfName, iterations: 1000,
            hmac: String(repeating: "0", count: 64), hmacSalt: Hex.encode(salt))
        if let password {
            try m.applyHMAC(key: try Vault.hmacKey(password: password, salt: salt, iterations: 1000), salt: salt)
        }
        return m
    }

    @Test func withoutAPasswordNothingIsChecked() throws {
        let auth = SetAuthenticator(passwords: [])
        #expect(!auth.isActive)
        #expect(auth.authenticate(try manifest(keyedWith: nil)) == .notChecked)
        #expect(auth.authenticate(try manifest(keyedWith: stranger)) == .notChecked)
    }

    @Test func theCurrentPasswordVerifiesItsOwnSets() throws {
        let auth = SetAuthenticator(passwords: [current])
        let verdict = auth.authenticate(try manifest(keyedWith: current))
        #expect(verdict == .verified(passwordIndex: 0))
        #expect(verdict.matchedPassword == "current password")
    }

    @Test func aMissingOrForeignHMACIsUnauthenticatedWithItsReason() throws {
        let auth = SetAuthenticator(passwords: [current])
        guard case .unauthenticated(let missing) = auth.authenticate(try manifest(keyedWith: nil)) else {
            Issue.record("a manifest without an HMAC was not refused")
            return
        }
        #expect(missing.contains("no HMAC"))
        guard case .unauthenticated(let foreign) = auth.authenticate(try manifest(keyedWith: stranger)) else {
            Issue.record("a manifest keyed by another password was not refused")
            return
        }
        #expect(foreign.contains("does not match"))
        // An edit after keying (the id moved to a newer date, every checksum recomputed) is refused too.
        var edited = try manifest(keyedWith: current)
        edited.id = try #require(BackupID("full_20251021_175019"))
        edited.manifestSHA256 = try edited.computedSHA256()
        #expect(auth.authenticate(edited).isUnauthenticated)
        // A salt that is not hex is a reason, not a crash.
        var badSalt = try manifest(keyedWith: current)
        badSalt.manifestHMACSalt = "not hex"
        #expect(auth.authenticate(badSalt).isUnauthenticated)
    }

    @Test func previousPasswordsVerifyOlderSetsAndSayWhichMatched() throws {
        let auth = SetAuthenticator(passwords: [current, stranger, previous])
        let old = auth.authenticate(try manifest(keyedWith: previous))
        #expect(old == .verified(passwordIndex: 2))
        #expect(old.matchedPassword == "previous password 2")
        // Many sets at once (keys derived on every core) give the same verdicts in order.
        let manifests = try [current, previous, stranger].map { try manifest(keyedWith: $0) } + [
            try manifest(keyedWith: nil)
        ]
        let only = SetAuthenticator(passwords: [current, previous])
        let verdicts = only.authenticateAll(manifests)
        #expect(verdicts[0] == .verified(passwordIndex: 0))
        #expect(verdicts[1] == .verified(passwordIndex: 1))
        #expect(verdicts[2].isUnauthenticated)
        #expect(verdicts[3].isUnauthenticated)
    }

    @Test func theScrubberRemovesThePasswordInEveryFormAndVaultPlaintextFragments() throws {
        let password = try VaultPassword("s3cret-Passw0rd", origin: "test")
        let plaintext = Array("[default]\naws_secret_access_key = AKIAEXAMPLESECRET123\nregion = eu\n".utf8)
        let scrubber = SecretScrubber(password: password, plaintexts: [plaintext])
        let bytes = password.bytes
        let forms = [
            "s3cret-Passw0rd", Hex.encode(bytes), Hex.encode(bytes).uppercased(), Data(bytes).base64EncodedString(),
            SHA256Digest.hex(of: Data(bytes)), "AKIAEXAMPLESECRET123", "aws_secret_access_key = AKIAEXAMPLESECRET123",
        ]
        for form in forms {
            let line = "the script printed <\(form)> here"
            let scrubbed = scrubber.scrub(line)
            #expect(!scrubbed.contains(form), "\(form) survived: \(scrubbed)")
            #expect(scrubbed.contains(SecretScrubber.redaction))
            #expect(scrubber.finds(in: line))
        }
        // Short ordinary words of the plaintext ("eu", "region = eu" is 11 bytes but "eu" is 2) stay.
        #expect(scrubber.scrub("region eu-west") == "region eu-west")
        var check = CheckResult(
            check: .restoreScript, subject: "restore_maia.sh", verdict: .fail, message: "printed s3cret-Passw0rd",
            evidence: ["output tail:", "AKIAEXAMPLESECRET123"])
        check = scrubber.scrub(check)
        #expect(!check.message.contains("s3cret") && !check.evidence.joined().contains("AKIA"))
    }
}
