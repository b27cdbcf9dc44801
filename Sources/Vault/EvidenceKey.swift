import COpenSSL
import DrillCore
import Foundation

/// Ed25519 keys and signatures for evidence bundles (issue 18, docs/EVIDENCE.md, "Evidence
/// bundles"), made with OpenSSL's libcrypto so that `openssl pkeyutl -verify -pubin -rawin`
/// (OpenSSL 3) checks the same signature.
///
/// Keys travel as PEM: the private key as PKCS#8 (`-----BEGIN PRIVATE KEY-----`), the public key
/// as SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`). A signature is Ed25519's raw 64 bytes
/// over the message itself (PureEdDSA: no separate digest).
public enum EvidenceKey {
    /// Bytes of an Ed25519 signature.
    public static let signatureLength = 64

    /// A new key pair.
    /// - Returns: the private key (PKCS#8 PEM) and the public key (SPKI PEM), both ASCII text.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when libcrypto cannot make or write the key.
    public static func generate() throws -> (privatePEM: Data, publicPEM: Data) {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else { throw failure("EVP_PKEY_CTX_new_id") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_keygen_init(ctx) == 1 else { throw failure("EVP_PKEY_keygen_init") }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen(ctx, &key) == 1, let key else { throw failure("EVP_PKEY_keygen") }
        defer { EVP_PKEY_free(key) }
        let priv = try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        let pub = try pem { PEM_write_bio_PUBKEY($0, key) }
        return (priv, pub)
    }

    /// The public key (SPKI PEM) of a private key.
    /// - Parameter privatePEM: a PKCS#8 PEM Ed25519 private key.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when it is not an Ed25519 private key.
    public static func publicKey(ofPrivate privatePEM: Data) throws -> Data {
        let key = try readKey(privatePEM, isPrivate: true)
        defer { EVP_PKEY_free(key) }
        return try pem { PEM_write_bio_PUBKEY($0, key) }
    }

    /// Signs `message` with an Ed25519 private key.
    /// - Parameters:
    ///   - message: the bytes signed (the bundle's `index` file).
    ///   - privatePEM: a PKCS#8 PEM Ed25519 private key.
    /// - Returns: the raw 64-byte signature.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when the key is not an Ed25519 private key or
    ///   libcrypto fails.
    public static func sign(_ message: Data, privatePEM: Data) throws -> Data {
        let key = try readKey(privatePEM, isPrivate: true)
        defer { EVP_PKEY_free(key) }
        guard let md = EVP_MD_CTX_new() else { throw failure("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestSignInit(md, nil, nil, nil, key) == 1 else { throw failure("EVP_DigestSignInit") }
        var signature = [UInt8](repeating: 0, count: signatureLength)
        var length = signatureLength
        let status = message.withUnsafeBytes { m in
            EVP_DigestSign(md, &signature, &length, m.bindMemory(to: UInt8.self).baseAddress, m.count)
        }
        guard status == 1, length == signatureLength else { throw failure("EVP_DigestSign") }
        return Data(signature)
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by the key `publicPEM`.
    /// - Parameters:
    ///   - signature: the raw signature (anything but 64 bytes is invalid).
    ///   - publicPEM: an SPKI PEM Ed25519 public key.
    /// - Throws: ``RestoreDrillError/usage(_:)`` when `publicPEM` is not an Ed25519 public key.
    public static func verify(_ message: Data, signature: Data, publicPEM: Data) throws -> Bool {
        let key: OpaquePointer
        do {
            key = try readKey(publicPEM, isPrivate: false)
        } catch {
            throw RestoreDrillError.usage("the public key is not an Ed25519 public key in PEM (SPKI) form")
        }
        defer { EVP_PKEY_free(key) }
        guard signature.count == signatureLength else { return false }
        guard let md = EVP_MD_CTX_new() else { throw failure("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(md) }
        guard EVP_DigestVerifyInit(md, nil, nil, nil, key) == 1 else { throw failure("EVP_DigestVerifyInit") }
        let sig = [UInt8](signature)
        let status = message.withUnsafeBytes { m in
            EVP_DigestVerify(md, sig, sig.count, m.bindMemory(to: UInt8.self).baseAddress, m.count)
        }
        ERR_clear_error()
        return status == 1
    }

    /// Decodes a PEM key and checks it is Ed25519; the caller frees it.
    static func readKey(_ pemData: Data, isPrivate: Bool) throws -> OpaquePointer {
        let bytes = [UInt8](pemData)
        guard let bio = BIO_new_mem_buf(bytes, Int32(bytes.count)) else { throw failure("BIO_new_mem_buf") }
        defer { BIO_free(bio) }
        let key = isPrivate ? PEM_read_bio_PrivateKey(bio, nil, nil, nil) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        guard let key else {
            ERR_clear_error()
            throw RestoreDrillError.runtime(
                "not a PEM \(isPrivate ? "private (PKCS#8)" : "public (SPKI)") key")
        }
        guard EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(key)
            throw RestoreDrillError.runtime("the key is not an Ed25519 key")
        }
        return key
    }

    /// What `write` put into a memory BIO.
    static func pem(_ write: (OpaquePointer) -> Int32) throws -> Data {
        guard let bio = BIO_new(BIO_s_mem()) else { throw failure("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw failure("PEM_write_bio") }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = BIO_read(bio, &buffer, Int32(buffer.count))
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<Int(n)])
        }
        return out
    }

    static func failure(_ call: String) -> RestoreDrillError {
        let code = ERR_get_error()
        ERR_clear_error()
        return RestoreDrillError.runtime("libcrypto \(call) failed (error \(code))")
    }
}
