import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// The bytes of `code.tar.gz` are pinned: the format-1 archive and the format-2 packs share one
/// entry writer, and sharing it must not change a byte of what format 1 writes.
@Suite struct CodeArchiveBytesTests {
    /// SHA-256 of `code.tar.gz` for ``FixedTree`` seed 1 at level 6, as written before the pack
    /// writer shared the entry code (commit "Pin code.tar.gz's bytes"), by libarchive 3.6.2 and
    /// libdeflate 1.14 (Debian 12, what ci/setup installs). Another version of either library may
    /// write other (equally valid) bytes: then re-record it from a build of that commit.
    static let golden = "3aec0b9dd3fbb582c125b71173cf860ebdbfbb451bfe97d91e70e927b4b3fe3e"

    @Test func codeArchiveOfAFixedTreeHasThePinnedBytes() async throws {
        let scratch = try TempFolder("rd-code-bytes")
        defer { scratch.remove() }
        let tree = scratch.file("tree")
        let set = scratch.file("set")
        for folder in [tree, set] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try FixedTree(seed: 1).create(below: tree)
        let entries = try FixedTree.walk(tree)
        #expect(entries.count == 75)
        let result = try await CodeArchiveWriter(entries: entries, level: 6).write(setFolder: set, progress: { _ in })
        let onDisk = try SHA256Digest.file(at: set + "/code.tar.gz")
        #expect(onDisk.sha256 == result.artifact.sha256 && onDisk.size == result.artifact.size)
        #expect(result.artifact.sha256 == Self.golden, "code.tar.gz is \(result.artifact.size) bytes")
        #expect(result.record.files == 66)
    }
}
