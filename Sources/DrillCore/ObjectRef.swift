import Foundation

/// The name of one content-addressed object of backup set format 2 (issue 15, in progress; no set
/// uses objects yet): the SHA-256 (FIPS 180-4) of the object's bytes as 64 lowercase hex
/// characters, as `sha256sum` prints it.
///
/// Only a well-formed digest can be made, so a digest read from a hostile manifest can never
/// name a path outside `objects/` (no `/`, no `..`, no uppercase twin of another name).
package struct ObjectDigest: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// 64 lowercase hex characters.
    package let hex: String

    /// - Parameter hex: 64 lowercase hex characters.
    /// - Returns: nil for anything else (uppercase, shorter, longer, other characters).
    package init?(_ hex: String) {
        guard SHA256Digest.isWellFormed(hex) else { return nil }
        self.hex = hex
    }

    /// The SHA-256 of `data`.
    package init(of data: Data) {
        hex = SHA256Digest.hex(of: data)
    }

    /// The fan-out folder's name: the first 2 hex characters (256 folders of about equal size).
    package var fanOut: String { String(hex.prefix(2)) }

    package var description: String { hex }

    /// Byte order of the hex text (the order `ls` shows the object files in).
    package static func < (lhs: ObjectDigest, rhs: ObjectDigest) -> Bool { lhs.hex < rhs.hex }
}

/// A reference to one object: its digest and its size, as a format-2 manifest will record each
/// object a set uses. The size lets a reader refuse a truncated or extended object without
/// reading a byte of it.
package struct ObjectRef: Hashable, Sendable, CustomStringConvertible {
    /// The SHA-256 of the object's bytes.
    package var digest: ObjectDigest
    /// The object's size in bytes.
    package var size: Int64

    /// - Parameters: as the properties.
    package init(digest: ObjectDigest, size: Int64) {
        self.digest = digest
        self.size = size
    }

    /// The reference of `data` (its SHA-256 and its byte count).
    package init(of data: Data) {
        self.init(digest: ObjectDigest(of: data), size: Int64(data.count))
    }

    /// `<digest> (<size> bytes)`.
    package var description: String { "\(digest) (\(size) bytes)" }
}
