import DrillCore
import Foundation

/// The keyed manifest (docs/SET-FORMAT.md, "`manifest.json`": `manifest_hmac` and the canonical
/// body): ``Manifest/manifestHMAC`` is HMAC-SHA-256 of ``Manifest/canonicalBody()`` keyed with
/// PBKDF2-HMAC-SHA256(password, ``Manifest/manifestHMACSalt``, iterations, 32 bytes)
/// (``Vault/hmacKey(password:salt:iterations:)``).
///
/// The salt is inside the canonical body, so it is covered by both the SHA-256 and the HMAC. A
/// coordinated edit of the manifest, its `manifest_sha256` and SHA256SUMS passes the self-checksum
/// but not the HMAC, which nobody without the password can recompute.
extension Manifest {
    /// PBKDF2 iterations of the manifest HMAC key: the vault's count when the set has a vault,
    /// else ``Vault/defaultIterations``. The engine derives the key with this count; the verifier
    /// passes it to ``verifyHMAC(password:iterations:)``.
    public var hmacIterations: Int { vault?.iterations ?? Vault.defaultIterations }

    /// HMAC-SHA-256 of ``canonicalBody()`` with `key`.
    /// - Returns: 64 lowercase hex characters.
    /// - Throws: what JSON encoding throws (nothing for a well-formed manifest).
    public func computedHMAC(key: [UInt8]) throws -> String {
        Vault.hmacHex(key: key, data: try canonicalBody())
    }

    /// Records the keyed checksum: sets ``manifestHMACSalt`` to `salt` (hex), then
    /// ``manifestHMAC`` to ``computedHMAC(key:)``. Call after every other field is final and
    /// before ``encodedForDisk()``.
    /// - Parameters:
    ///   - key: ``Vault/hmacKey(password:salt:iterations:)`` of the same `salt` and ``hmacIterations``.
    ///   - salt: the salt `key` was derived with.
    public mutating func applyHMAC(key: [UInt8], salt: [UInt8]) throws {
        manifestHMACSalt = Hex.encode(salt)
        manifestHMAC = try computedHMAC(key: key)
    }

    /// True when ``manifestHMAC`` is present and equals ``computedHMAC(key:)`` (constant-time compare).
    /// False when the manifest has no HMAC: a caller that holds the password must treat a missing
    /// HMAC as a failure, since deleting it is the easiest forgery.
    public func verifyHMAC(key: [UInt8]) throws -> Bool {
        guard let recorded = manifestHMAC else { return false }
        return Vault.tagsEqual(recorded, try computedHMAC(key: key))
    }

    /// Derives the key from `password` and ``manifestHMACSalt`` (about 0.3 s at the default
    /// count), then verifies as ``verifyHMAC(key:)``. With the key at hand (e.g. the vault's HMAC
    /// salt is the same), use ``verifyHMAC(key:)``.
    /// - Parameter iterations: PBKDF2 iterations, usually ``hmacIterations``.
    /// - Returns: false when the HMAC or its salt is missing, or the HMAC does not match (wrong
    ///   password or edited manifest).
    /// - Throws: ``RestoreDrillError/invalidSet(path:message:)`` naming the set when the salt is
    ///   not hex or the iteration count is out of range.
    public func verifyHMAC(password: VaultPassword, iterations: Int) throws -> Bool {
        guard manifestHMAC != nil, let saltHex = manifestHMACSalt else { return false }
        let place = "\(id)/\(Manifest.fileName)"
        guard let salt = Hex.decode(saltHex), !salt.isEmpty else {
            throw RestoreDrillError.invalidSet(path: place, message: "manifest_hmac_salt is not hex")
        }
        guard (1...Vault.maximumIterations).contains(iterations) else {
            throw RestoreDrillError.invalidSet(
                path: place, message: "HMAC iteration count \(iterations) out of range 1…\(Vault.maximumIterations)")
        }
        return try verifyHMAC(key: Vault.hmacKey(password: password, salt: salt, iterations: iterations))
    }
}
