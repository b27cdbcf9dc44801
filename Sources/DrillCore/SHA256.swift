import COpenSSL
import Foundation

/// A streaming SHA-256 (FIPS 180-4) through OpenSSL's EVP interface, which uses the CPU's SHA
/// extensions where present (about 1.5 GB/s here).
///
/// Not thread-safe: one hasher per stream.
public final class SHA256Hasher {
    private let context: OpaquePointer

    /// Starts an empty hash.
    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `count` bytes at `pointer`.
    public func update(_ pointer: UnsafeRawPointer, count: Int) {
        if count > 0 { EVP_DigestUpdate(context, pointer, count) }
    }

    /// Adds the bytes of `data`.
    public func update(_ data: Data) {
        data.withUnsafeBytes { raw in
            if let base = raw.baseAddress { update(base, count: raw.count) }
        }
    }

    /// Adds the bytes of `bytes`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress { update(base, count: bytes.count) }
    }

    /// Finishes the hash; the hasher must not be used afterwards.
    /// - Returns: 64 lowercase hex characters, as `sha256sum` prints.
    public func finalizeHex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return Hex.encode(out)
    }
}

/// SHA-256 helpers over whole values and files.
public enum SHA256Digest {
    /// The digest of `data` as 64 lowercase hex characters.
    public static func hex(of data: Data) -> String {
        let h = SHA256Hasher()
        h.update(data)
        return h.finalizeHex()
    }

    /// The digest of a file, read in 1 MiB blocks (memory stays constant).
    /// - Returns: the digest (64 lowercase hex characters) and the size in bytes.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be read.
    public static func file(at path: String) throws -> (sha256: String, size: Int64) {
        let h = SHA256Hasher()
        let size = try FileBlocks.forEach(path: path) { h.update($0) }
        return (h.finalizeHex(), size)
    }

    /// True when `text` is 64 lowercase hex characters.
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// Reads a file block by block without loading it whole.
public enum FileBlocks {
    /// The block size used for streaming reads and copies: 1 MiB.
    public static let blockSize = 1 << 20

    /// Calls `body` with each block of the file at `path`, in order.
    /// - Returns: the number of bytes read.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on open or read errors, or what `body` throws.
    @discardableResult
    public static func forEach(path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = read(fd, buffer.baseAddress, blockSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
        return total
    }
}

/// Lowercase hexadecimal encoding.
public enum Hex {
    /// Encodes bytes as lowercase hex, two characters per byte.
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes lowercase or uppercase hex; nil on odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
