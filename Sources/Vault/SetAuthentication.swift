import DrillCore
import Foundation

/// Whether a set's manifest is proven to come from someone who holds the vault password.
///
/// A destination is often a synced folder that anyone with access can drop a folder into, and a
/// set's self-checksum and `SHA256SUMS` can be recomputed by anyone. Only the manifest HMAC
/// (``Manifest/manifestHMAC``, keyed from the vault password) cannot be forged. So with a password
/// configured, a set is hostile until its HMAC verifies: it never counts as complete (`drill
/// --latest`, `health`, the SLA, retention buckets), it is never removed because of it, and a drill
/// hands it no secret.
public enum SetAuthentication: Sendable, Equatable {
    /// No vault password is configured: nothing can be proven or disproven, and every set counts
    /// as it did before passwords existed.
    case notChecked
    /// The manifest HMAC verifies with the configured password (`passwordIndex` 0) or with one of
    /// the earlier passwords (`credentials.previous_passwords`, 1-based position in that list).
    case verified(passwordIndex: Int)
    /// A password is configured and the manifest has no HMAC, a malformed one, or one that no
    /// configured password verifies: `reason` says which (never a secret).
    case unauthenticated(reason: String)

    /// True for ``verified(passwordIndex:)`` only.
    public var isVerified: Bool {
        if case .verified = self { return true }
        return false
    }

    /// True for ``unauthenticated(reason:)`` only: a set that must not count and gets no secret.
    public var isUnauthenticated: Bool {
        if case .unauthenticated = self { return true }
        return false
    }

    /// Which password matched, for reports: `"current password"` or `"previous password N"`; nil
    /// unless verified.
    public var matchedPassword: String? {
        guard case .verified(let index) = self else { return nil }
        return index == 0 ? "current password" : "previous password \(index)"
    }
}

/// Checks manifest HMACs against the configured vault passwords (the current one first, then
/// `credentials.previous_passwords` in order), deriving each PBKDF2 key once per (password, salt,
/// iteration count) through its ``keyring`` and remembering each manifest's verdict by its
/// canonical body's SHA-256.
///
/// A derivation costs about 0.3 s of one core at the default 600 000 iterations (each backup run
/// has its own salt), so ``authenticateAll(_:)`` derives the keys of many sets on every core at
/// once. A drill shares the keyring with its own checks, so the key that authenticated the set
/// when it was picked is the one `set.manifest` and `credentials.vault` use.
/// Thread-safe. Holds the passwords in memory only; nothing it returns holds a secret.
public final class SetAuthenticator: @unchecked Sendable {
    /// The current password first, then the earlier ones. Empty: every set is ``SetAuthentication/notChecked``.
    public let passwords: [VaultPassword]
    /// Derives every key, each once (shared with whoever else works on the same sets).
    public let keyring: VaultKeyring
    private let lock = NSLock()
    private var verdicts: [String: SetAuthentication] = [:]

    /// - Parameters:
    ///   - passwords: the current password first, then `credentials.previous_passwords`.
    ///   - keyring: where keys are derived; a new one unless the caller shares its own.
    public init(passwords: [VaultPassword], keyring: VaultKeyring = VaultKeyring()) {
        self.passwords = passwords
        self.keyring = keyring
    }

    /// True when at least one password is configured (sets can be authenticated).
    public var isActive: Bool { !passwords.isEmpty }

    /// The verdict on `manifest`: ``SetAuthentication/notChecked`` without a password, else verified
    /// or unauthenticated with the reason. Never throws: a malformed salt or count is a reason.
    public func authenticate(_ manifest: Manifest) -> SetAuthentication {
        guard isActive else { return .notChecked }
        guard let recorded = manifest.manifestHMAC, let saltHex = manifest.manifestHMACSalt else {
            return .unauthenticated(
                reason: "the manifest has no HMAC although a vault password is configured: made without the password, "
                    + "or the HMAC was removed")
        }
        guard let body = try? manifest.canonicalBody() else {
            return .unauthenticated(reason: "the manifest cannot be re-encoded to check its HMAC")
        }
        let memo = SHA256Digest.hex(of: body) + "/" + recorded.lowercased()
        if let known = lock.withLock({ verdicts[memo] }) { return known }
        let verdict: SetAuthentication
        let iterations = manifest.hmacIterations
        if Hex.decode(saltHex)?.isEmpty ?? true {
            verdict = .unauthenticated(reason: "manifest_hmac_salt is not hex")
        } else if !(1...Vault.maximumIterations).contains(iterations) {
            verdict = .unauthenticated(
                reason: "HMAC iteration count \(iterations) is out of range 1…\(Vault.maximumIterations)")
        } else {
            var matched: Int?
            for index in passwords.indices {
                guard let key = key(password: index, saltHex: saltHex, iterations: iterations) else { continue }
                if Vault.tagsEqual(recorded, Vault.hmacHex(key: key, data: body)) {
                    matched = index
                    break
                }
            }
            verdict =
                matched.map { .verified(passwordIndex: $0) }
                ?? .unauthenticated(
                    reason: passwords.count == 1
                        ? "the manifest HMAC does not match the vault password: a wrong password, or a set made or "
                            + "edited by someone who does not hold it"
                        : "the manifest HMAC matches none of the \(passwords.count) configured passwords: a set made or "
                            + "edited by someone who does not hold them")
        }
        lock.withLock { verdicts[memo] = verdict }
        return verdict
    }

    /// ``authenticate(_:)`` for every manifest, the key derivations spread over every core.
    /// - Returns: one verdict per manifest, in order.
    public func authenticateAll(_ manifests: [Manifest]) -> [SetAuthentication] {
        guard isActive, manifests.count > 1 else { return manifests.map(authenticate) }
        let results = ResultBox(count: manifests.count)
        DispatchQueue.concurrentPerform(iterations: manifests.count) { i in
            results.set(i, authenticate(manifests[i]))
        }
        return results.values.map { $0 ?? .notChecked }
    }

    /// PBKDF2-HMAC-SHA256(password `index`, salt, iterations, 32 bytes), derived once (``keyring``).
    private func key(password index: Int, saltHex: String, iterations: Int) -> [UInt8]? {
        guard let salt = Hex.decode(saltHex) else { return nil }
        return try? keyring.hmacKey(password: passwords[index], salt: salt, iterations: iterations)
    }

    private final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [SetAuthentication?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ value: SetAuthentication) { lock.withLock { values[i] = value } }
    }
}
