import COpenSSL
import DrillCore
import Foundation

/// The credentials vault (docs/SET-FORMAT.md, "Vault entry") and the
/// keyed digests that authenticate it.
///
/// Terms:
/// - **vault**: a file in the format of `openssl enc -aes-256-cbc -pbkdf2 -iter N -md sha256`
///   (OpenSSL 3.0 `apps/enc.c`, measured in ../shared/NOTES-SWIFT-LINUX.md): the 8 bytes
///   `Salted__`, an 8-byte random **encryption salt**, then AES-256-CBC with PKCS#7 padding, where
///   key ‖ IV = PBKDF2-HMAC-SHA256(password, encryption salt, N, 48 bytes) (bytes 0–31 the key,
///   32–47 the IV). So `openssl enc -d -aes-256-cbc -pbkdf2 -iter N -md sha256 -pass file:F`
///   decrypts it with no other tool.
/// - **tag**: HMAC-SHA-256 over every byte of the vault file, keyed with the **HMAC key** =
///   PBKDF2-HMAC-SHA256(password, HMAC salt, N, 32 bytes). The HMAC salt is separate from the
///   encryption salt and recorded in the manifest (``VaultRecord/hmacSalt``). The openssl format
///   has no authentication of its own: the tag is what makes a wrong password or a tampered vault
///   fail for certain, and it is checked before anything is decrypted.
///
/// PBKDF2 at ``defaultIterations`` costs 0.21 s of one core here for a 32-byte key and twice that
/// for the 48-byte key ‖ IV (two blocks; README, "What a derivation costs"): derive each key once
/// per run (``VaultKeyring``) and pass it on (``hmacKey(password:salt:iterations:)``; every function taking a `tagKey` accepts it).
///
/// All primitives are OpenSSL's (`PKCS5_PBKDF2_HMAC`, `EVP_aes_256_cbc`, `EVP_MAC` "HMAC",
/// `RAND_bytes`, `CRYPTO_memcmp`); nothing here is home-made cryptography.
///
/// Interrupted runs: files are written under a temporary name (`.<name>.tmp-<pid>-<random>`) in
/// the output's folder and renamed into place only when complete, so a crash leaves at most such a
/// temporary file, never a truncated vault or a partially decrypted output under the final name.
public enum Vault {
    /// PBKDF2 iterations used when the configuration does not say otherwise (the issue asks for at
    /// least 600 000, OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
    public static let defaultIterations = 600_000
    /// Most PBKDF2 iterations accepted (about 10 s of work here); a higher count in a manifest is
    /// refused rather than hanging a drill.
    public static let maximumIterations = 20_000_000
    /// The vault's file name inside a set.
    public static let fileName = "credentials.vault"
    /// ``VaultRecord/cipher``: the cipher name `openssl enc` takes.
    public static let cipherName = "aes-256-cbc"
    /// ``VaultRecord/kdf``.
    public static let kdfName = "pbkdf2-hmac-sha256"
    /// The first 8 bytes of every vault.
    public static let magic: [UInt8] = Array("Salted__".utf8)
    /// Bytes of the encryption salt after ``magic``.
    public static let encryptionSaltLength = 8
    /// Bytes of a new HMAC salt (``newSalt(count:)``).
    public static let hmacSaltLength = 16
    /// Bytes of the header: ``magic`` plus the encryption salt.
    public static let headerLength = 16

    // MARK: Keys and tags

    /// `count` bytes from OpenSSL's CSPRNG (`RAND_bytes`), e.g. a new HMAC salt.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` if the generator fails (it does not on a
    ///   working system).
    public static func newSalt(count: Int = hmacSaltLength) throws -> [UInt8] {
        var salt = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&salt, Int32(count)) == 1 else {
            throw RestoreDrillError.runtime("vault: the random generator failed")
        }
        return salt
    }

    /// PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) through `PKCS5_PBKDF2_HMAC`.
    /// - Parameters:
    ///   - salt: any length.
    ///   - iterations: 1 … ``maximumIterations``.
    ///   - length: bytes of output.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` for an iteration count out of range.
    public static func pbkdf2(password: VaultPassword, salt: [UInt8], iterations: Int, length: Int) throws -> [UInt8] {
        try checkIterations(iterations)
        var out = [UInt8](repeating: 0, count: length)
        let ok = password.bytes.withUnsafeBufferPointer { pass in
            pass.withMemoryRebound(to: CChar.self) { passChars in
                PKCS5_PBKDF2_HMAC(
                    passChars.baseAddress, Int32(pass.count), salt, Int32(salt.count), Int32(iterations),
                    EVP_sha256(), Int32(length), &out)
            }
        }
        guard ok == 1 else { throw RestoreDrillError.runtime("vault: PBKDF2 key derivation failed") }
        return out
    }

    /// The 32-byte HMAC key: PBKDF2-HMAC-SHA256(password, salt, iterations, 32). Costs about
    /// 0.3 s at ``defaultIterations``; derive it once per run.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` for an iteration count out of range.
    public static func hmacKey(password: VaultPassword, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        try pbkdf2(password: password, salt: salt, iterations: iterations, length: 32)
    }

    /// HMAC-SHA-256 (RFC 2104) of `data`.
    /// - Returns: 64 lowercase hex characters.
    public static func hmacHex(key: [UInt8], data: Data) -> String {
        let mac = VaultHMAC(key: key)
        mac.update(data)
        return mac.finalizeHex()
    }

    /// HMAC-SHA-256 of a whole file, read in 1 MiB blocks (constant memory).
    /// - Returns: 64 lowercase hex characters.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be read.
    public static func hmacHex(key: [UInt8], file: String) throws -> String {
        let mac = VaultHMAC(key: key)
        try FileBlocks.forEach(path: file) { mac.update($0) }
        return mac.finalizeHex()
    }

    /// The vault tag of a file: HMAC-SHA-256 keyed with ``hmacKey(password:salt:iterations:)``.
    /// Derives the key (0.3 s at the default count); with a key at hand use ``hmacHex(key:file:)``.
    /// - Returns: 64 lowercase hex characters.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be read;
    ///   ``RestoreDrillError/runtime(_:)`` for an iteration count out of range.
    public static func tag(file: String, password: VaultPassword, salt: [UInt8], iterations: Int) throws -> String {
        try hmacHex(key: try hmacKey(password: password, salt: salt, iterations: iterations), file: file)
    }

    /// Compares two hex tags in constant time (`CRYPTO_memcmp` over the decoded bytes; only the
    /// lengths are compared in variable time). Case-insensitive.
    /// - Returns: false when either is not hex or the lengths differ.
    public static func tagsEqual(_ a: String, _ b: String) -> Bool {
        guard let x = Hex.decode(a), let y = Hex.decode(b), x.count == y.count, !x.isEmpty else { return false }
        return CRYPTO_memcmp(x, y, x.count) == 0
    }

    /// True when the file's tag equals `record.hmac`.
    /// - Parameters:
    ///   - tagKey: the HMAC key when already derived; nil derives it from `password` and
    ///     `record.hmacSalt` (0.3 s at the default count).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be read;
    ///   ``RestoreDrillError/invalidSet(path:message:)`` when the record is malformed (unsupported
    ///   cipher, bad salt hex, iteration count out of range).
    public static func verifyTag(file: String, record: VaultRecord, password: VaultPassword, tagKey: [UInt8]? = nil)
        throws -> Bool
    {
        let key = try tagKey ?? hmacKey(for: record, password: password, path: file)
        return tagsEqual(try hmacHex(key: key, file: file), record.hmac)
    }

    // MARK: Encryption

    /// Encrypts the file at `input` into a vault at `output` (format: see ``Vault``), reading and
    /// writing in 1 MiB blocks. The vault is written under a temporary name in `output`'s folder,
    /// flushed, and renamed into place; on any error nothing is left behind.
    ///
    /// The plaintext must not be stored in the destination even briefly: when the input is made
    /// on the fly (a tar of credential files), stream it through ``VaultWriter`` instead.
    /// - Parameters:
    ///   - iterations: PBKDF2 iterations, 1 … ``maximumIterations`` (``defaultIterations`` in use).
    ///   - tagKey: when given, the tag is computed while writing and returned in the summary.
    ///   - mode: permission bits of the vault (ciphertext; 0644 so an unprivileged replay can read it).
    /// - Returns: size, SHA-256 and (with `tagKey`) tag of the vault file.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the file that cannot be read or
    ///   written; ``RestoreDrillError/runtime(_:)`` for an iteration count out of range.
    @discardableResult
    public static func encrypt(
        input: String, output: String, password: VaultPassword, iterations: Int, tagKey: [UInt8]? = nil,
        mode: mode_t = 0o644
    ) throws -> VaultFileSummary {
        try encrypt(
            input: input, output: output, password: password, iterations: iterations, tagKey: tagKey, mode: mode,
            salt: nil)
    }

    /// ``encrypt(input:output:password:iterations:tagKey:mode:)`` with a chosen encryption salt
    /// (tests only: a fixed salt makes a wrong-password outcome reproducible).
    static func encrypt(
        input: String, output: String, password: VaultPassword, iterations: Int, tagKey: [UInt8]?, mode: mode_t,
        salt: [UInt8]?
    ) throws -> VaultFileSummary {
        let writer = try VaultWriter(
            output: output, password: password, iterations: iterations, tagKey: tagKey, mode: mode, salt: salt)
        do {
            try FileBlocks.forEach(path: input) { try writer.write($0) }
            return try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
    }

    // MARK: Decryption

    /// Decrypts a vault into a file, without checking a tag. Prefer
    /// ``decrypt(input:output:password:record:tagKey:)``: the openssl format has no
    /// authentication, so a wrong password is caught only by the padding check, which a wrong key
    /// passes about once in 256 tries.
    ///
    /// The output is written under a temporary name (mode 0600) in its folder and renamed into
    /// place only after the padding checked out; on any failure the temporary file is deleted and
    /// no output exists.
    /// - Throws: ``RestoreDrillError/invalidSet(path:message:)`` naming `input` with "wrong
    ///   password or damaged vault" when decryption fails, or when the header is not a vault's;
    ///   ``RestoreDrillError/io(path:message:)`` for read and write errors;
    ///   ``RestoreDrillError/runtime(_:)`` for an iteration count out of range.
    public static func decrypt(input: String, output: String, password: VaultPassword, iterations: Int) throws {
        try decrypt(input: input, output: output, password: password, iterations: iterations, check: nil)
    }

    /// Decrypts a vault block by block into `consume`, without checking a tag (see
    /// ``decrypt(input:output:password:iterations:)`` for why the checked variant is preferred).
    /// `consume` receives plaintext before the final padding check: when this throws, discard
    /// everything it received.
    /// - Throws: as ``decrypt(input:output:password:iterations:)``, or what `consume` throws.
    public static func decrypt(
        input: String, password: VaultPassword, iterations: Int, consume: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try decryptStream(input: input, password: password, iterations: iterations, check: nil, consume: consume)
    }

    /// Checks the tag, then decrypts a vault into a file: the checked way to open a vault.
    ///
    /// The tag over the whole file is compared with `record.hmac` before any byte is decrypted; a
    /// mismatch (wrong password, flipped bit, truncation, swapped file) throws and decrypts
    /// nothing. The tag is computed a second time while decrypting and compared again before the
    /// output is renamed into place, so a file changed between the two reads is caught too.
    /// Output handling as ``decrypt(input:output:password:iterations:)``.
    /// - Parameters:
    ///   - record: the manifest's vault record (iterations, HMAC salt, tag).
    ///   - tagKey: the HMAC key when already derived; nil derives it (0.3 s at the default count).
    /// - Throws: ``RestoreDrillError/invalidSet(path:message:)`` naming `input`: "HMAC tag does not
    ///   match: wrong password or tampered vault", a malformed record, or a decryption failure;
    ///   ``RestoreDrillError/io(path:message:)`` for read and write errors.
    public static func decrypt(
        input: String, output: String, password: VaultPassword, record: VaultRecord, tagKey: [UInt8]? = nil
    ) throws {
        let check = try authenticate(input: input, record: record, password: password, tagKey: tagKey)
        try decrypt(input: input, output: output, password: password, iterations: record.iterations, check: check)
    }

    /// Checks the tag, then decrypts a vault block by block into `consume` (e.g. a tar reader, so
    /// that no plaintext touches a disk). `consume` is called only after the tag matched; if this
    /// still throws (the file changed during the read), discard what `consume` received.
    /// - Throws: as ``decrypt(input:output:password:record:tagKey:)``, or what `consume` throws.
    /// - Parameter keyring: runs (and counts) the decryption key's derivation; nil derives directly.
    public static func decrypt(
        input: String, password: VaultPassword, record: VaultRecord, tagKey: [UInt8]? = nil,
        keyring: VaultKeyring? = nil, consume: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let check = try authenticate(input: input, record: record, password: password, tagKey: tagKey)
        try decryptStream(
            input: input, password: password, iterations: record.iterations, check: check, keyring: keyring,
            consume: consume)
    }

    // MARK: Internals

    /// A key and the tag the vault must have.
    struct TagCheck {
        var key: [UInt8]
        var expected: String
    }

    static func checkIterations(_ iterations: Int) throws {
        guard (1...maximumIterations).contains(iterations) else {
            throw RestoreDrillError.runtime(
                "vault: PBKDF2 iteration count \(iterations) is out of range 1…\(maximumIterations)")
        }
    }

    private static func hmacKey(for record: VaultRecord, password: VaultPassword, path: String) throws -> [UInt8] {
        guard record.cipher == cipherName, record.kdf == kdfName else {
            throw RestoreDrillError.invalidSet(
                path: path,
                message:
                    "vault uses cipher \"\(record.cipher)\" with \"\(record.kdf)\"; this build reads \(cipherName) with \(kdfName)"
            )
        }
        guard let salt = Hex.decode(record.hmacSalt), !salt.isEmpty else {
            throw RestoreDrillError.invalidSet(path: path, message: "vault hmac_salt is not hex")
        }
        guard (1...maximumIterations).contains(record.iterations) else {
            throw RestoreDrillError.invalidSet(
                path: path, message: "vault iterations \(record.iterations) out of range 1…\(maximumIterations)")
        }
        return try hmacKey(password: password, salt: salt, iterations: record.iterations)
    }

    private static func authenticate(input: String, record: VaultRecord, password: VaultPassword, tagKey: [UInt8]?)
        throws -> TagCheck
    {
        let key = try tagKey ?? hmacKey(for: record, password: password, path: input)
        guard tagsEqual(try hmacHex(key: key, file: input), record.hmac) else {
            throw tagMismatch(input)
        }
        return TagCheck(key: key, expected: record.hmac)
    }

    private static func tagMismatch(_ path: String) -> RestoreDrillError {
        .invalidSet(
            path: path, message: "HMAC tag does not match: wrong password or tampered vault (nothing was decrypted)")
    }

    private static func decrypt(
        input: String, output: String, password: VaultPassword, iterations: Int, check: TagCheck?
    ) throws {
        try checkIterations(iterations)
        let file = try VaultOutputFile(path: output, mode: 0o600)
        do {
            try decryptStream(input: input, password: password, iterations: iterations, check: check) {
                try file.write($0)
            }
            try file.commit()
        } catch {
            file.discard()
            throw error
        }
    }

    private static func decryptStream(
        input: String, password: VaultPassword, iterations: Int, check: TagCheck?, keyring: VaultKeyring? = nil,
        consume: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        try checkIterations(iterations)
        let damaged = RestoreDrillError.invalidSet(
            path: input, message: "cannot decrypt: wrong password or damaged vault")
        let mac = check.map { VaultHMAC(key: $0.key) }
        var header = [UInt8]()
        var cipher: VaultCipher?
        var outBuffer = [UInt8](repeating: 0, count: FileBlocks.blockSize + 32)
        defer { outBuffer.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        var cipherBytes: Int64 = 0
        try FileBlocks.forEach(path: input) { block in
            mac?.update(block)
            var rest = block
            if cipher == nil {
                let need = headerLength - header.count
                header.append(contentsOf: block.prefix(need))
                rest = UnsafeRawBufferPointer(rebasing: block.dropFirst(min(need, block.count)))
                guard header.count == headerLength else { return }
                guard Array(header[0..<magic.count]) == magic else {
                    throw RestoreDrillError.invalidSet(
                        path: input, message: "not a vault: no \"Salted__\" header (damaged vault or another format)")
                }
                let salt = Array(header[magic.count...])
                let derived =
                    try keyring?.key(password: password, salt: salt, iterations: iterations, length: 48)
                    ?? pbkdf2(password: password, salt: salt, iterations: iterations, length: 48)
                cipher = try VaultCipher(encrypt: false, keyAndIV: derived)
            }
            guard !rest.isEmpty, let c = cipher else { return }
            cipherBytes += Int64(rest.count)
            let n = try outBuffer.withUnsafeMutableBytes { out in
                try c.update(rest, into: out).orThrow(damaged)
            }
            if n > 0 { try outBuffer.withUnsafeBytes { try consume(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
        }
        guard let c = cipher, cipherBytes > 0, cipherBytes % 16 == 0 else {
            if header.count < headerLength {
                throw RestoreDrillError.invalidSet(
                    path: input, message: "not a vault: shorter than its \(headerLength)-byte header")
            }
            throw damaged
        }
        let n = try outBuffer.withUnsafeMutableBytes { out in try c.finish(into: out).orThrow(damaged) }
        if let check, let mac {
            guard tagsEqual(mac.finalizeHex(), check.expected) else { throw tagMismatch(input) }
        }
        if n > 0 { try outBuffer.withUnsafeBytes { try consume(UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
    }
}

/// What ``Vault/encrypt(input:output:password:iterations:tagKey:mode:)`` and
/// ``VaultWriter/finish()`` wrote: the facts an ``ArtifactRecord`` and a ``VaultRecord`` need.
public struct VaultFileSummary: Sendable, Equatable {
    /// Bytes of the vault file.
    public var size: Int64
    /// SHA-256, MD5 and QuickXorHash of the vault file (``ArtifactDigests``), hashed as it was written.
    public var digests: ArtifactDigests
    /// SHA-256 of the vault file, 64 lowercase hex.
    public var sha256: String { digests.sha256 }
    /// The vault's HMAC tag (hex) when a tag key was given, else nil.
    public var tag: String?
}

/// Encrypts a stream into a vault file (format: see ``Vault``) without the plaintext ever being
/// stored: feed it the bytes of a tar being made, then ``finish()``.
///
/// The vault is written under a temporary name in the output's folder and renamed into place by
/// ``finish()``; ``abandon()`` (or deinitialising an unfinished writer) deletes it. Not
/// thread-safe: one writer per stream. Memory: two 1 MiB-sized buffers at most.
public final class VaultWriter {
    private let file: VaultOutputFile
    private let cipher: VaultCipher
    private let hasher = ArtifactHasher()
    private let mac: VaultHMAC?
    private var size: Int64 = 0
    private var done = false
    private var outBuffer = [UInt8](repeating: 0, count: FileBlocks.blockSize + 32)

    /// Starts a vault at `output`: derives the key (about 0.3 s at the default count) from a new
    /// random 8-byte salt and writes the header.
    /// - Parameters:
    ///   - iterations: PBKDF2 iterations, 1 … ``Vault/maximumIterations``.
    ///   - tagKey: when given, the tag is computed over the bytes written (no second read).
    ///   - mode: permission bits of the vault file.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder is not writable;
    ///   ``RestoreDrillError/runtime(_:)`` for an iteration count out of range.
    public convenience init(
        output: String, password: VaultPassword, iterations: Int, tagKey: [UInt8]? = nil, mode: mode_t = 0o644
    ) throws {
        try self.init(output: output, password: password, iterations: iterations, tagKey: tagKey, mode: mode, salt: nil)
    }

    convenience init(
        output: String, password: VaultPassword, iterations: Int, tagKey: [UInt8]?, mode: mode_t, salt: [UInt8]?
    ) throws {
        let key = try VaultEncryptionKey.derive(password: password, iterations: iterations, keyring: nil, salt: salt)
        try self.init(output: output, key: key, tagKey: tagKey, mode: mode)
    }

    /// Starts a vault at `output` with a key derived ahead
    /// (``VaultEncryptionKey/derive(password:iterations:keyring:)``): writes the header at once, no
    /// derivation here. The same file as the password-taking initialiser writes.
    /// - Parameters:
    ///   - key: the encryption salt and the key and IV derived from it; use each key for one vault.
    ///   - tagKey: when given, the tag is computed over the bytes written (no second read).
    ///   - mode: permission bits of the vault file.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder is not writable.
    public init(output: String, key: VaultEncryptionKey, tagKey: [UInt8]? = nil, mode: mode_t = 0o644) throws {
        cipher = try VaultCipher(encrypt: true, keyAndIV: key.keyAndIV)
        mac = tagKey.map { VaultHMAC(key: $0) }
        file = try VaultOutputFile(path: output, mode: mode)
        do {
            try emit(Vault.magic + key.salt)
        } catch {
            file.discard()
            throw error
        }
    }

    deinit {
        if !done { file.discard() }
    }

    /// Encrypts and writes `bytes`.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a write error (e.g. disk full), after
    ///   which the writer must be abandoned.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!done, "VaultWriter used after finish() or abandon()")
        var offset = 0
        while offset < bytes.count {
            let piece = UnsafeRawBufferPointer(
                rebasing: bytes[offset..<min(bytes.count, offset + FileBlocks.blockSize)])
            offset += piece.count
            let n = try outBuffer.withUnsafeMutableBytes { out in
                try cipher.update(piece, into: out).orThrow(RestoreDrillError.runtime("vault: encryption failed"))
            }
            try emitBuffer(count: n)
        }
    }

    /// Encrypts and writes the bytes of `data`.
    public func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Writes the final padded block, flushes, and renames the vault into place.
    /// - Returns: size, SHA-256 and (with a tag key) tag of the vault file.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be completed (it is
    ///   then deleted).
    public func finish() throws -> VaultFileSummary {
        precondition(!done, "VaultWriter finished twice")
        do {
            let n = try outBuffer.withUnsafeMutableBytes { out in
                try cipher.finish(into: out).orThrow(RestoreDrillError.runtime("vault: encryption failed"))
            }
            try emitBuffer(count: n)
            try file.commit()
        } catch {
            file.discard()
            done = true
            throw error
        }
        done = true
        return VaultFileSummary(size: size, digests: hasher.finalize(), tag: mac?.finalizeHex())
    }

    /// Deletes the unfinished vault. Safe to call more than once, and after ``finish()`` (then it
    /// does nothing).
    public func abandon() {
        if !done { file.discard() }
        done = true
    }

    private func emitBuffer(count: Int) throws {
        guard count > 0 else { return }
        try outBuffer.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    private func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        mac?.update(bytes)
        try file.write(bytes)
        size += Int64(bytes.count)
    }
}

/// A streaming HMAC-SHA-256 through OpenSSL's `EVP_MAC` "HMAC" (the non-deprecated API of 3.0).
/// Not thread-safe: one per stream.
public final class VaultHMAC {
    private let mac: OpaquePointer
    private let context: OpaquePointer

    /// Starts an HMAC-SHA-256 with `key` (any length; 32 bytes from ``Vault/hmacKey(password:salt:iterations:)``).
    public init(key: [UInt8]) {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil), let context = EVP_MAC_CTX_new(mac) else {
            preconditionFailure("OpenSSL has no HMAC implementation")
        }
        self.mac = mac
        self.context = context
        var digestName = Array("SHA256".utf8CString)
        var zero: UInt8 = 0
        // OSSL_PARAM keeps pointers to its key and value: both must outlive EVP_MAC_init.
        let ok = "digest".withCString { paramName in
            digestName.withUnsafeMutableBufferPointer { name -> Int32 in
                var params = [
                    OSSL_PARAM_construct_utf8_string(paramName, name.baseAddress, 0), OSSL_PARAM_construct_end(),
                ]
                if key.isEmpty { return EVP_MAC_init(context, &zero, 0, &params) }
                return key.withUnsafeBufferPointer { EVP_MAC_init(context, $0.baseAddress, $0.count, &params) }
            }
        }
        precondition(ok == 1, "EVP_MAC_init(HMAC, SHA256) failed")
    }

    deinit {
        EVP_MAC_CTX_free(context)
        EVP_MAC_free(mac)
    }

    /// Adds the bytes of `bytes`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress, bytes.count > 0 {
            EVP_MAC_update(context, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
    }

    /// Adds the bytes of `data`.
    public func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    /// Finishes; the object must not be used afterwards.
    /// - Returns: 64 lowercase hex characters.
    public func finalizeHex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        let capacity = out.count
        var length = 0
        EVP_MAC_final(context, &out, &length, capacity)
        return Hex.encode(out[0..<length])
    }
}

/// AES-256-CBC with PKCS#7 padding through `EVP_CipherInit_ex`.
final class VaultCipher {
    private let context: OpaquePointer

    /// - Parameter keyAndIV: 48 bytes: 32 of key, 16 of IV.
    init(encrypt: Bool, keyAndIV: [UInt8]) throws {
        precondition(keyAndIV.count == 48)
        guard let context = EVP_CIPHER_CTX_new() else { throw RestoreDrillError.runtime("vault: out of memory") }
        self.context = context
        let ok = keyAndIV.withUnsafeBufferPointer { p in
            EVP_CipherInit_ex(context, EVP_aes_256_cbc(), nil, p.baseAddress, p.baseAddress! + 32, encrypt ? 1 : 0)
        }
        guard ok == 1 else { throw RestoreDrillError.runtime("vault: cipher initialisation failed") }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Processes `input` into `output` (which must hold `input.count + 16` bytes).
    /// - Returns: bytes written, or nil on failure.
    func update(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        precondition(output.count >= input.count + 16)
        var written: Int32 = 0
        let ok = EVP_CipherUpdate(
            context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
            input.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(input.count))
        return ok == 1 ? Int(written) : nil
    }

    /// Writes the last block (encryption: the padding; decryption: checks and strips it).
    /// - Returns: bytes written, or nil when the padding is wrong (wrong key or damaged data).
    func finish(into output: UnsafeMutableRawBufferPointer) -> Int? {
        precondition(output.count >= 16)
        var written: Int32 = 0
        let ok = EVP_CipherFinal_ex(context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written)
        if ok != 1 { ERR_clear_error() }
        return ok == 1 ? Int(written) : nil
    }
}

/// A file written under a temporary name in its target's folder and renamed into place on
/// ``commit()``; ``discard()`` deletes it.
final class VaultOutputFile {
    let path: String
    let temporaryPath: String
    private var fd: Int32

    init(path: String, mode: mode_t) throws {
        self.path = path
        let folder = PathText.parent(of: path)
        temporaryPath = ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent(
            ".\(PathText.lastComponent(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        // The creation mode is filtered by the umask; set it exactly.
        guard fchmod(fd, mode) == 0 else {
            let message = String(cString: strerror(errno))
            discard()
            throw RestoreDrillError.io(path: path, message: message)
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
            }
            offset += n
        }
    }

    func commit() throws {
        guard fsync(fd) == 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        guard close(fd) == 0 else {
            fd = -1
            throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
        }
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
        }
    }

    func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(temporaryPath)
    }
}

extension Optional {
    /// The wrapped value, or `error` thrown.
    fileprivate func orThrow(_ error: @autoclosure () -> any Error) throws -> Wrapped {
        guard let value = self else { throw error() }
        return value
    }
}
