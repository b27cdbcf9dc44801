import Foundation

/// QuickXorHash, the content hash OneDrive (and OneDrive for Business, SharePoint) reports for a
/// file: the 20-byte digest in standard base64 with padding (RFC 4648 §4), 28 characters, as
/// OneDrive's API gives it. rclone 1.60 prints the same digest as 40 lowercase hex characters
/// (`rclone hashsum quickxor`, the `quickxor` of `rclone lsjson --hash`;
/// ``ArtifactDigests/quickXorHashHex(fromBase64:)`` converts), or with `--base64` in the URL-safe
/// alphabet (RFC 4648 §5: `-` for `+`, `_` for `/`).
///
/// The algorithm is Microsoft's published one ("QuickXorHash", OneDrive developer documentation,
/// code snippet `QuickXorHash.cs`, MIT licence; rclone's `backend/onedrive/quickxorhash` follows
/// it and was read to confirm the details, not copied): a 160-bit register; byte number `k` of
/// the stream (0-based) is XORed into the register at bit `(11 · k) mod 160`, wrapping round from
/// bit 159 to bit 0; the register is output as 20 bytes, bit `g` being bit `g mod 8` of byte
/// `g / 8` (little endian); finally the stream's length in bytes, a 64-bit little-endian integer,
/// is XORed into the last 8 of those bytes (bytes 12–19).
///
/// Because 11 and 160 are coprime and `11 · 160 ≡ 0 (mod 160)`, bytes 160 apart land at the same
/// bit: this implementation XORs the stream into 160 byte lanes (8 bytes at a time) and spreads
/// the lanes over the register once, when finished, so it runs at memory speed.
///
/// Not thread-safe: one hasher per stream.
public final class QuickXorHasher {
    /// Bytes in a digest: 20 (160 bits).
    public static let digestSize = 20
    /// Bits the insertion point advances per byte: 11.
    public static let shift = 11
    /// Lanes: the period of the insertion point, 160 bytes.
    static let width = 160

    /// `lanes[j]` is the XOR of every byte `k` with `k mod 160 == j`.
    private var lanes = [UInt8](repeating: 0, count: QuickXorHasher.width)
    /// Bytes hashed so far.
    private(set) var length: UInt64 = 0

    /// Starts an empty hash.
    public init() {}

    /// Adds `count` bytes at `pointer`.
    public func update(_ pointer: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        let width = Self.width
        var phase = Int(length % UInt64(width))
        var i = 0
        lanes.withUnsafeMutableBytes { laneBytes in
            let lane = laneBytes.baseAddress!
            // Up to the next multiple of 160 in the stream, byte by byte.
            while i < count && phase != 0 {
                let byte = pointer.load(fromByteOffset: i, as: UInt8.self)
                lane.storeBytes(
                    of: lane.load(fromByteOffset: phase, as: UInt8.self) ^ byte, toByteOffset: phase, as: UInt8.self)
                i += 1
                phase = phase + 1 == width ? 0 : phase + 1
            }
            // Whole periods, 8 bytes at a time (160 = 20 × 8).
            while count - i >= width {
                var w = 0
                while w < width {
                    let a = lane.loadUnaligned(fromByteOffset: w, as: UInt64.self)
                    let b = pointer.loadUnaligned(fromByteOffset: i + w, as: UInt64.self)
                    lane.storeBytes(of: a ^ b, toByteOffset: w, as: UInt64.self)
                    w += 8
                }
                i += width
            }
            // The rest (phase is 0 here unless the input ended above).
            while i < count {
                let byte = pointer.load(fromByteOffset: i, as: UInt8.self)
                lane.storeBytes(
                    of: lane.load(fromByteOffset: phase, as: UInt8.self) ^ byte, toByteOffset: phase, as: UInt8.self)
                i += 1
                phase = phase + 1 == width ? 0 : phase + 1
            }
        }
        length += UInt64(count)
    }

    /// Adds the bytes of `bytes`.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let base = bytes.baseAddress { update(base, count: bytes.count) }
    }

    /// Adds the bytes of `data`.
    public func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    /// The digest of what was added so far (the hasher may still be used afterwards).
    /// - Returns: 20 bytes.
    public func digest() -> [UInt8] {
        let bits = Self.width
        var register = [UInt8](repeating: 0, count: Self.digestSize)
        for j in 0..<Self.width where lanes[j] != 0 {
            let start = (Self.shift * j) % bits
            for bit in 0..<8 where lanes[j] >> bit & 1 == 1 {
                let g = (start + bit) % bits
                register[g >> 3] ^= 1 << UInt8(g & 7)
            }
        }
        for k in 0..<8 { register[Self.digestSize - 8 + k] ^= UInt8(truncatingIfNeeded: length >> (8 * UInt64(k))) }
        return register
    }

    /// The digest in standard base64 with padding, 28 characters (OneDrive's form).
    public func finalizeBase64() -> String { Data(digest()).base64EncodedString() }

    /// The QuickXorHash of `data` in standard base64 (``finalizeBase64()``).
    public static func base64(of data: Data) -> String {
        let h = QuickXorHasher()
        h.update(data)
        return h.finalizeBase64()
    }
}
