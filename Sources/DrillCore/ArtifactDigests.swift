import COpenSSL
import Foundation

/// A streaming MD5 (RFC 1321) through OpenSSL's EVP interface: the hash S3 (a single-part upload's
/// ETag), SFTP (`md5sum` on the server) and many other rclone backends report. Used as a transfer
/// check of what a remote holds, never as a security check (SHA-256 stays that).
///
/// Not thread-safe: one hasher per stream.
public final class MD5Hasher {
    private let context: OpaquePointer

    /// Starts an empty hash.
    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_md5(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `count` bytes at `pointer`.
    public func update(_ pointer: UnsafeRawPointer, count: Int) {
        if count > 0 { EVP_DigestUpdate(context, pointer, count) }
    }

    /// Finishes the hash; the hasher must not be used afterwards.
    /// - Returns: 32 lowercase hex characters, as `md5sum` prints.
    public func finalizeHex() -> String {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Hex.encode(out)
    }
}

/// The three digests a backup records per artifact (``ArtifactRecord``): SHA-256 (the artifact's
/// identity, the object's name in format 2, what `check` and the drill verify), and the two hashes
/// remote storage reports, so an off-site check can compare what a remote holds without reading it
/// back (issue 16): MD5 (S3, SFTP, most backends) and QuickXorHash (OneDrive, which offers no other).
public struct ArtifactDigests: Sendable, Equatable, Codable {
    /// SHA-256, 64 lowercase hex characters as `sha256sum` prints.
    public var sha256: String
    /// MD5, 32 lowercase hex characters as `md5sum` prints.
    public var md5: String
    /// QuickXorHash, 28 characters of standard base64 as OneDrive reports it (``QuickXorHasher``).
    public var quickXorHash: String

    /// - Parameters: as the properties.
    public init(sha256: String, md5: String, quickXorHash: String) {
        self.sha256 = sha256
        self.md5 = md5
        self.quickXorHash = quickXorHash
    }

    /// The digests of `data`.
    public static func of(_ data: Data) -> ArtifactDigests {
        let h = ArtifactHasher()
        h.update(data)
        return h.finalize()
    }

    /// The digests of a file, read once in 1 MiB blocks (memory stays constant).
    /// - Returns: the digests and the size in bytes.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be read.
    public static func file(at path: String) throws -> (digests: ArtifactDigests, size: Int64) {
        let h = ArtifactHasher()
        let size = try FileBlocks.forEach(path: path) { h.update($0) }
        return (h.finalize(), size)
    }

    /// True when `text` is 32 lowercase hex characters (an MD5 as `md5sum` prints it).
    public static func isWellFormedMD5(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// True when `text` is the standard base64 of 20 bytes (28 characters, one `=`): a QuickXorHash.
    public static func isWellFormedQuickXorHash(_ text: String) -> Bool {
        text.utf8.count == 28 && Data(base64Encoded: text)?.count == QuickXorHasher.digestSize
    }

    /// A QuickXorHash recorded as base64 (``quickXorHash``) in the form rclone 1.60 prints by
    /// default (`rclone hashsum quickxor` without `--base64`, and the `quickxor` entry of
    /// `rclone lsjson --hash`): 40 lowercase hex characters.
    /// - Returns: nil when `base64` is not the base64 of 20 bytes.
    public static func quickXorHashHex(fromBase64 base64: String) -> String? {
        guard isWellFormedQuickXorHash(base64), let bytes = Data(base64Encoded: base64) else { return nil }
        return Hex.encode(bytes)
    }
}

/// SHA-256, MD5 and QuickXorHash of one stream in one pass (``ArtifactDigests``): what every
/// writer of a backup's artifacts feeds the bytes to as they go by, so no artifact is read again
/// for its remote hashes.
///
/// Not thread-safe: one hasher per stream.
public final class ArtifactHasher {
    private let sha256 = SHA256Hasher()
    private let md5 = MD5Hasher()
    private let quickXor = QuickXorHasher()

    /// Starts an empty hash.
    public init() {}

    /// Adds `count` bytes at `pointer`.
    public func update(_ pointer: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        sha256.update(pointer, count: count)
        md5.update(pointer, count: count)
        quickXor.update(pointer, count: count)
    }

    /// Adds the bytes of `bytes`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress { update(base, count: bytes.count) }
    }

    /// Adds the bytes of `data`.
    public func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    /// Finishes the three hashes; the hasher must not be used afterwards.
    public func finalize() -> ArtifactDigests {
        ArtifactDigests(sha256: sha256.finalizeHex(), md5: md5.finalizeHex(), quickXorHash: quickXor.finalizeBase64())
    }
}
