import Destination
import DrillCore
import Foundation

/// Format-2 sets made by hand (issue 15), until the backup engine writes them: objects through
/// ``ObjectStore/put(_:existing:)``, a format-2 manifest whose artifacts are those objects, the
/// restore script, and ``Manifest/renderedChecksumList()`` as `SHA256SUMS`.
enum FormatTwoFixture {
    /// The restore script every hand-made set carries (bytes of the set folder, not an object).
    static let script = Data("#!/bin/sh\n# restore a hand-made format-2 set\nexit 0\n".utf8)

    /// Writes set `id` into `destination`: one `pack` artifact per payload (`code/pack-0001.tar.gz`,
    /// …), each stored as an object, then the set folder (built as `.partial-<id>`, renamed).
    /// - Returns: the manifest written.
    @discardableResult
    static func writeSet(destination: String, id: BackupID, payloads: [Data]) throws -> Manifest {
        let store = ObjectStore(destination: try AbsolutePath(validating: destination))
        var manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "fixture", home: "/home/alice",
            root: "/home/alice/maia")
        manifest.formatVersion = 2
        manifest.finishedAt = Timestamp.string(id.date.addingTimeInterval(1))
        manifest.components = [ComponentRecord(id: .code, status: .ok, files: payloads.count)]
        for (i, payload) in payloads.enumerated() {
            let stored = try store.put(payload, existing: .digest)
            manifest.artifacts.append(
                ArtifactRecord(
                    path: String(format: "code/pack-%04d.tar.gz", i + 1), component: .code, kind: .pack,
                    size: stored.ref.size, sha256: stored.ref.digest.hex))
        }
        manifest.artifacts.append(
            ArtifactRecord(
                path: manifest.restoreScript, component: .code, kind: .script, size: Int64(script.count),
                sha256: SHA256Digest.hex(of: script)))
        let partial = (destination as NSString).appendingPathComponent(".partial-\(id)")
        try FileManager.default.createDirectory(atPath: partial, withIntermediateDirectories: true)
        try script.write(to: URL(fileURLWithPath: "\(partial)/\(manifest.restoreScript)"))
        try manifest.renderedChecksumList().write(to: URL(fileURLWithPath: "\(partial)/SHA256SUMS"))
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: "\(partial)/manifest.json"))
        try FileManager.default.moveItem(
            atPath: partial, toPath: (destination as NSString).appendingPathComponent("\(id)"))
        return manifest
    }

    /// `count` bytes of a pattern seeded by `seed` (distinct seeds give distinct objects).
    static func payload(_ seed: Int, count: Int = 4096) -> Data {
        var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return Data(
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return UInt8(truncatingIfNeeded: state >> 33)
            })
    }

    /// The path of object `digest` in `destination`.
    static func objectPath(_ destination: String, _ digest: ObjectDigest) -> String {
        "\(destination)/objects/\(digest.fanOut)/\(digest.hex)"
    }

    /// Every object of every set the catalogue lists is in `destination` with its recorded size
    /// and digest (``ObjectStore/verify(_:)`` reads each in full), and each set's `SHA256SUMS` is
    /// what its manifest renders: `set.artifacts`-level proof that the set still restores.
    /// - Returns: one line per problem; empty when every set is intact.
    static func problemsOfListedSets(destination: String) throws -> [String] {
        let store = ObjectStore(destination: try AbsolutePath(validating: destination))
        var problems: [String] = []
        for set in try SetCatalogue(LocalDestination(path: destination)).sets() {
            for ref in set.manifest.objectRefs() {
                let state = store.verify(ref)
                if state != .ok { problems.append("\(set.id): object \(ref.digest): \(state)") }
            }
            let sums = FileManager.default.contents(atPath: "\(set.path)/SHA256SUMS")
            if sums != set.manifest.renderedChecksumList() { problems.append("\(set.id): SHA256SUMS differs") }
        }
        return problems
    }
}
