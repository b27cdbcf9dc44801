import COpenSSL
import DrillCore
import Foundation

/// Every PBKDF2 derivation of one run (a backup or a drill), each done once.
///
/// A derivation of PBKDF2-HMAC-SHA256 at ``Vault/defaultIterations`` (600 000) costs 0.21 s of one
/// core here for a 32-byte key, 0.37 s for the vault's 48-byte key and IV (README, "What a
/// derivation costs"), and a drill asks for the same key from several
/// places: the set's pick (`drill --latest` passes over unauthenticated sets), `set.manifest`, the
/// vault's tag, the restored credential files' digests, `set.coverage` and `rpo` (which judge
/// other sets). One keyring per run answers all of them: one derivation per distinct
/// (password, salt, iteration count, output length). Two callers asking for the same key at once
/// get one derivation: the second waits for the first's result instead of deriving again.
///
/// Thread-safe. Holds the derived keys in memory only (never written anywhere); they are wiped
/// (`OPENSSL_cleanse`) when the keyring is released. Nothing it returns or throws holds a secret.
public final class VaultKeyring: @unchecked Sendable {
    /// A derivation: (password, salt, iterations, output bytes) → output.
    public typealias Derivation = @Sendable (VaultPassword, [UInt8], Int, Int) throws -> [UInt8]

    private struct Request: Hashable {
        var password: [UInt8]
        var salt: [UInt8]
        var iterations: Int
        var length: Int
    }

    private enum Slot {
        case deriving
        case done([UInt8])
        case failed(any Error)
    }

    private let derive: Derivation
    private let condition = NSCondition()
    private var slots: [Request: Slot] = [:]
    private var count = 0

    /// - Parameter derive: the derivation; ``Vault/pbkdf2(password:salt:iterations:length:)``
    ///   unless a test counts or slows the derivations.
    public init(derive: @escaping Derivation = { try Vault.pbkdf2(password: $0, salt: $1, iterations: $2, length: $3) })
    {
        self.derive = derive
    }

    deinit {
        for case .done(var key) in slots.values {
            key.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        }
    }

    /// How many derivations this keyring ran (a key asked for again is not counted again).
    public var derivations: Int { condition.withLock { count } }

    /// PBKDF2-HMAC-SHA256(password, salt, iterations, `length` bytes), derived on the first
    /// request and remembered; a request made while the same key is being derived waits for it.
    /// Blocks the calling thread for the derivation (about 0.3 s at the default count): call it
    /// from a thread of ``BlockingWork``, not from a cooperative task.
    /// - Throws: what the derivation throws (``RestoreDrillError/runtime(_:)`` for an iteration
    ///   count out of range); a failure is remembered like a key.
    public func key(password: VaultPassword, salt: [UInt8], iterations: Int, length: Int = 32) throws -> [UInt8] {
        let request = Request(password: password.bytes, salt: salt, iterations: iterations, length: length)
        condition.lock()
        while true {
            switch slots[request] {
            case .done(let key):
                condition.unlock()
                return key
            case .failed(let error):
                condition.unlock()
                throw error
            case .deriving:
                condition.wait()
            case nil:
                slots[request] = .deriving
                count += 1
                condition.unlock()
                let outcome = Result { try derive(password, salt, iterations, length) }
                condition.lock()
                switch outcome {
                case .success(let key): slots[request] = .done(key)
                case .failure(let error): slots[request] = .failed(error)
                }
                condition.broadcast()
                condition.unlock()
                return try outcome.get()
            }
        }
    }

    /// The 32-byte HMAC key of ``Vault/hmacKey(password:salt:iterations:)``, once.
    /// - Throws: as ``key(password:salt:iterations:length:)``.
    public func hmacKey(password: VaultPassword, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        try key(password: password, salt: salt, iterations: iterations, length: 32)
    }
}

/// A vault's encryption salt and the key ‖ IV the openssl format derives from it:
/// PBKDF2-HMAC-SHA256(password, salt, iterations, 48 bytes), bytes 0–31 the AES-256 key, 32–47
/// the IV (``Vault``). Deriving it ahead lets a backup run the derivation beside other work and
/// start the vault (``VaultWriter/init(output:key:tagKey:mode:)``) without waiting; the vault's
/// bytes are the same as with ``VaultWriter/init(output:password:iterations:tagKey:mode:)``.
public struct VaultEncryptionKey: Sendable {
    /// The 8 random bytes written after `Salted__`.
    public let salt: [UInt8]
    /// PBKDF2 iterations the key was derived with (the restore script passes them to `openssl -iter`).
    public let iterations: Int
    /// 48 bytes: key then IV.
    let keyAndIV: [UInt8]

    /// Draws a new 8-byte salt and derives the key and IV.
    /// - Parameters:
    ///   - iterations: 1 … ``Vault/maximumIterations``.
    ///   - keyring: runs (and counts) the derivation; nil derives directly.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` for an iteration count out of range or a
    ///   failing random generator.
    public static func derive(password: VaultPassword, iterations: Int, keyring: VaultKeyring? = nil) throws
        -> VaultEncryptionKey
    {
        try derive(password: password, iterations: iterations, keyring: keyring, salt: nil)
    }

    static func derive(password: VaultPassword, iterations: Int, keyring: VaultKeyring?, salt: [UInt8]?) throws
        -> VaultEncryptionKey
    {
        try Vault.checkIterations(iterations)
        let salt = try salt ?? Vault.newSalt(count: Vault.encryptionSaltLength)
        precondition(salt.count == Vault.encryptionSaltLength, "the openssl format has an 8-byte salt")
        let derived =
            try keyring?.key(password: password, salt: salt, iterations: iterations, length: 48)
            ?? Vault.pbkdf2(password: password, salt: salt, iterations: iterations, length: 48)
        return VaultEncryptionKey(salt: salt, iterations: iterations, keyAndIV: derived)
    }
}
