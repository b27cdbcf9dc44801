import Foundation

/// `SHA256SUMS`, the checksum list beside `manifest.json` (docs/SET-FORMAT.md, "`SHA256SUMS`"),
/// and where each artifact's bytes are stored (format 1: in the set folder; format 2: a shared
/// object), so a person can check a set by hand with `sha256sum -c SHA256SUMS` run in the set.
extension Manifest {
    /// The file name of the checksum list inside a set.
    public static let checksumListFileName = "SHA256SUMS"
    /// The destination's folder of shared objects (format 2), beside the sets: `objects`.
    public static let objectsFolderName = "objects"

    /// True for format 2 and later: every artifact but the restore script is a shared object.
    public var storesObjects: Bool { formatVersion >= 2 }

    /// True when `artifact`'s bytes are a shared object (format 2, every kind but ``ArtifactKind/script``).
    public func isObject(_ artifact: ArtifactRecord) -> Bool { storesObjects && artifact.kind != .script }

    /// The object holding `artifact`'s bytes, or nil when it is a file of the set folder (format 1,
    /// or the restore script) or its recorded digest is not well-formed (a hostile manifest: such
    /// an artifact names no file at all).
    package func objectDigest(of artifact: ArtifactRecord) -> ObjectDigest? {
        isObject(artifact) ? ObjectDigest(artifact.sha256) : nil
    }

    /// Where `artifact`'s bytes are, relative to the set folder: format 1 (and the restore script)
    /// its ``ArtifactRecord/path``; format 2 `../objects/<ab>/<sha256>` (`<ab>` the digest's first
    /// two hex characters), or nil for an object whose recorded digest is not 64 lowercase hex.
    public func storedPath(of artifact: ArtifactRecord) -> String? {
        guard isObject(artifact) else { return artifact.path }
        return objectDigest(of: artifact).map { "../\(Self.objectsFolderName)/\($0.fanOut)/\($0.hex)" }
    }

    /// The distinct objects the set uses (format 2), in the order of their first artifact; empty
    /// for format 1. An artifact whose digest is not well-formed has no object and is left out
    /// (`set.artifacts` fails it). A digest recorded with two sizes (only a damaged or forged
    /// manifest says that) is listed with the first.
    package func objectRefs() -> [ObjectRef] {
        var seen = Set<ObjectDigest>()
        var refs: [ObjectRef] = []
        for artifact in artifacts {
            guard let digest = objectDigest(of: artifact), seen.insert(digest).inserted else { continue }
            refs.append(ObjectRef(digest: digest, size: artifact.size))
        }
        return refs
    }

    /// The bytes of `SHA256SUMS`: one line `<sha256>  <name>\n` (64 lowercase hex characters as
    /// `sha256sum` prints, two spaces, the name relative to the set). Format 1: one line per
    /// artifact, in manifest order, named by its path. Format 2: one line per distinct object
    /// (``objectRefs()``), named `../objects/<ab>/<sha256>`, then the restore script's line.
    /// `manifest.json` and `SHA256SUMS` are not listed.
    /// - Returns: UTF-8 text; empty when the manifest lists no artifact.
    public func renderedChecksumList() -> Data {
        guard storesObjects else { return Data(artifacts.map { "\($0.sha256)  \($0.path)\n" }.joined().utf8) }
        var lines = objectRefs().map {
            "\($0.digest.hex)  ../\(Self.objectsFolderName)/\($0.digest.fanOut)/\($0.digest.hex)\n"
        }
        lines += artifacts.filter { !isObject($0) }.map { "\($0.sha256)  \($0.path)\n" }
        return Data(lines.joined().utf8)
    }
}
