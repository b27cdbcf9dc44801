import Foundation

/// `SHA256SUMS`, the checksum list beside `manifest.json` (docs/SET-FORMAT.md, "`SHA256SUMS`"):
/// every artifact in `sha256sum -c` format, so a person can check a set by hand.
extension Manifest {
    /// The file name of the checksum list inside a set.
    public static let checksumListFileName = "SHA256SUMS"

    /// The bytes of `SHA256SUMS` for this manifest's ``artifacts``, in manifest order: per
    /// artifact one line `<sha256>  <path>\n` (64 lowercase hex characters as `sha256sum` prints,
    /// two spaces, the path relative to the set). `manifest.json` and `SHA256SUMS` are not listed.
    /// - Returns: UTF-8 text; empty when the manifest lists no artifact.
    public func renderedChecksumList() -> Data {
        Data(artifacts.map { "\($0.sha256)  \($0.path)\n" }.joined().utf8)
    }
}
