import Foundation

/// File names as the exact bytes the file system holds, carried in a Swift `String` without loss.
///
/// Linux takes any bytes but `/` and NUL in a name: a name stored decomposed (NFD: `e` followed by
/// U+0301, as files from HFS+, archives and some applications are) is a different name from its
/// composed (NFC) twin, both may sit side by side in one folder, and a name need not be UTF-8 at
/// all (`caf\xe9.txt` from a Latin-1 system). Two consequences for the whole project (issue 12):
///
/// - **Compare bytes, never `String ==`.** Swift's `String` equality, hashing, ordering and
///   `hasPrefix` treat canonically equivalent strings as equal: NFC and NFD `Résumé.txt` are one
///   key in a `Set<String>`. Wherever names are keys, key by ``key(_:)`` (the UTF-8 bytes);
///   ``AbsolutePath`` and ``RelativePath`` compare that way.
/// - **Names that are not UTF-8 are carried losslessly.** ``string(_:)`` turns a name's bytes into
///   a `String`: every valid UTF-8 sequence stays itself; every byte that is not part of one (a
///   Latin-1 `\xe9`, a lone continuation byte `\x80`, the overlong `\xc0\xaf`) becomes one
///   *marker* scalar, U+10FF00 plus the byte (U+10FF80–U+10FFFF, the end of the last private use
///   plane); a real character in that range is itself stored as the markers of its four bytes, so
///   the mapping is one to one. ``bytes(_:)`` undoes it exactly. Valid UTF-8 without such a
///   character (nearly every name) is its own string, byte for byte.
///
/// The marker form lives only in memory. At every boundary a name crosses it is turned back into
/// bytes: system calls (``withFileSystemRepresentation(_:_:)``), archive member names, and the
/// manifest (`FileRecord.path_bytes`, base64 of the bytes; docs/SET-FORMAT.md). People see
/// ``display(_:)``: the name with every byte that is not UTF-8 written `\xNN`.
public enum FileNameBytes {
    /// A marker is this plus the byte it stands for.
    static let markerBase: UInt32 = 0x10FF00
    /// The scalars that stand for single bytes (bytes 0x80–0xFF; a byte below 0x80 is always ASCII).
    static let markers: ClosedRange<UInt32> = 0x10FF80...0x10FFFF

    /// The lossless string of a name's bytes (see the type's description).
    /// - Parameter bytes: a name or path as the file system holds it (any bytes).
    /// - Returns: a string whose ``bytes(_:)`` are `bytes`.
    public static func string(_ bytes: some Collection<UInt8>) -> String {
        let b = Array(bytes)
        if let valid = String(validating: b, as: UTF8.self), !holdsMarkers(valid) { return valid }
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < b.count {
            if let (scalar, length) = decodeScalar(b, at: i) {
                if markers.contains(scalar.value) {
                    for k in i..<(i + length) { scalars.append(marker(b[k])) }
                } else {
                    scalars.append(scalar)
                }
                i += length
            } else {
                scalars.append(marker(b[i]))
                i += 1
            }
        }
        return String(scalars)
    }

    /// The exact bytes of a name made by ``string(_:)`` (for any other string, its UTF-8).
    public static func bytes(_ name: String) -> [UInt8] {
        guard holdsMarkers(name) else { return Array(name.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(name.utf8.count)
        for scalar in name.unicodeScalars {
            if markers.contains(scalar.value) {
                out.append(UInt8(scalar.value - markerBase))
            } else {
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        return out
    }

    /// The byte-exact key of a name for sets, dictionaries and sorting: its UTF-8 bytes (one to
    /// one with the name's bytes, markers included). Never `String ==`, which equates NFC and NFD.
    public static func key(_ name: String) -> [UInt8] { Array(name.utf8) }

    /// True when `a` and `b` are the same name byte for byte.
    public static func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

    /// Byte order (`strcmp`'s, as `ls` sorts under the C locale), for a sort that never depends on
    /// Unicode normalisation.
    public static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// True when the name holds bytes that are not UTF-8 (or a character of the marker range): its
    /// bytes differ from its string's UTF-8, and the manifest records them in `path_bytes`.
    public static func holdsRawBytes(_ name: String) -> Bool { holdsMarkers(name) }

    /// The name as people read it: UTF-8 as it is, every byte that is not part of valid UTF-8 as
    /// `\xNN` (two lowercase hex digits), e.g. `caf\xe9.txt`. Control characters are left to the
    /// report that prints it.
    public static func display(_ name: String) -> String {
        guard holdsMarkers(name) else { return name }
        return display(bytes: bytes(name))
    }

    /// ``display(_:)`` of raw bytes.
    public static func display(bytes b: [UInt8]) -> String {
        var out = String.UnicodeScalarView()
        var i = 0
        while i < b.count {
            if let (scalar, length) = decodeScalar(b, at: i) {
                out.append(scalar)
                i += length
            } else {
                out.append(contentsOf: String(format: "\\x%02x", b[i]).unicodeScalars)
                i += 1
            }
        }
        return String(out)
    }

    /// Every byte outside printable ASCII as `\xNN`, e.g. NFC `R\xc3\xa9sum\xc3\xa9.txt` and NFD
    /// `Re\xcc\x81sume\xcc\x81.txt`: for a message that must tell two names apart that look alike.
    public static func escapedBytes(_ name: String) -> String {
        bytes(name).map { $0 >= 0x20 && $0 < 0x7F ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }
            .joined()
    }

    /// The groups of `paths` that differ only by Unicode normalisation (canonically equivalent,
    /// different bytes: `Résumé.txt` in NFC and in NFD), each group in the order of `paths`; groups
    /// in the order of their first member. A normalisation-insensitive file system (macOS APFS and
    /// HFS+) keeps one file of each group.
    public static func normalisationTwins(_ paths: [String]) -> [[String]] {
        // `String` hashing and `==` are canonical equivalence: exactly the grouping wanted here.
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for path in paths {
            if groups[path] == nil { order.append(path) }
            if !(groups[path] ?? []).contains(where: { same($0, path) }) { groups[path, default: []].append(path) }
        }
        return order.compactMap { groups[$0] }.filter { $0.count > 1 }
    }

    /// Calls `body` with the name's exact bytes as a NUL-terminated C string, for a system call.
    public static func withFileSystemRepresentation<R>(
        _ name: String, _ body: (UnsafePointer<CChar>) throws -> R
    ) rethrows -> R {
        guard holdsMarkers(name) else { return try name.withCString(body) }
        let raw = bytes(name).map { CChar(bitPattern: $0) } + [0]
        return try raw.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// The name (lossless form) of the NUL-terminated bytes at `pointer`, as `readdir` and
    /// libarchive hand them out.
    public static func string(cString pointer: UnsafePointer<CChar>) -> String {
        string(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }

    // MARK: - Internals

    /// Whether a marker (or a real character in the marker range) is in `name`; every such scalar
    /// starts with the byte 0xF4 in UTF-8, which nearly no name holds.
    static func holdsMarkers(_ name: String) -> Bool {
        guard name.utf8.contains(0xF4) else { return false }
        return name.unicodeScalars.contains { markers.contains($0.value) }
    }

    static func marker(_ byte: UInt8) -> Unicode.Scalar { Unicode.Scalar(markerBase + UInt32(byte))! }

    /// One strictly valid UTF-8 scalar at `i` (no overlong form, no surrogate, at most U+10FFFF)
    /// and its length in bytes; nil when the bytes there are not one.
    static func decodeScalar(_ b: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = b[i]
        let length: Int
        let minimum: UInt32
        var value: UInt32
        switch lead {
        case 0x00...0x7F: return (Unicode.Scalar(lead), 1)
        case 0xC2...0xDF: (length, minimum, value) = (2, 0x80, UInt32(lead & 0x1F))
        case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, UInt32(lead & 0x0F))
        case 0xF0...0xF4: (length, minimum, value) = (4, 0x10000, UInt32(lead & 0x07))
        default: return nil
        }
        guard i + length <= b.count else { return nil }
        for k in 1..<length {
            let c = b[i + k]
            guard c & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(c & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
