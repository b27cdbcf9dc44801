import Destination
import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// A format-2 set (docs/SET-FORMAT.md, "Format 2") built by hand from a real format-1 backup, until
/// the backup engine writes format 2: every artifact's real bytes become objects through
/// ``ObjectStore/put(_:existing:)`` in `<destination>/objects/`, and the set folder holds only
/// `manifest.json`, `SHA256SUMS` (``Manifest/renderedChecksumList()``) and the rendered script.
///
/// - Code: `code.tar.gz` is extracted with GNU tar, walked (``WorkspaceWalk``), and written again as
///   packs by ``CodePackWriter`` (files and links planned by ``PackPlanner`` with small parameters,
///   so a small tree makes several packs), then `code/folders.tar.gz` with every folder.
/// - Databases: each one's format-1 pieces are joined (the online-backup copy), cut into pieces of
///   ``chunkSize`` bytes (256 KiB as format 2 writes them), each gzip-compressed
///   (``GzipMember/compress(_:level:)``), `compression: gzip`.
/// - LaunchAgents, shell files, dependency lists and the vault: their bytes, same paths and kinds.
final class Format2Set {
    /// The database piece size format 2 writes: 256 KiB.
    static let chunkSize = 256 << 10
    /// Pack sizes that cut the test workspace's few kilobytes of code into several packs.
    static let packParameters = PackPlanner.Parameters(target: 512, floor: 256, ceiling: 2_048)

    /// The destination: `objects/` and the set folder.
    let destination: String
    let store: ObjectStore
    /// `<destination>/<id>`.
    let setPath: String
    private(set) var manifest: Manifest

    /// Builds the set from the format-1 set `source` (its manifest `old`) in `destination` (made).
    init(from old: Manifest, at source: String, in destination: String, scratch: String) async throws {
        self.destination = destination
        let fm = FileManager.default
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        store = ObjectStore(destination: try AbsolutePath(validating: destination))
        setPath = destination + "/" + old.id.description
        var m = old
        m.formatVersion = 2
        m.scriptTakesOnly = true
        m.manifestSHA256 = nil
        m.manifestHMAC = nil
        m.manifestHMACSalt = nil
        var artifacts: [ArtifactRecord] = []

        // Code: packs of files and links, then the folders.
        if old.artifact("code.tar.gz") != nil {
            let staging = scratch + "/format2-code"
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
            let untar = try runTool("/usr/bin/tar", ["-xpzf", source + "/code.tar.gz", "-C", staging])
            try #require(untar.status == 0, "\(untar.error)")
            var walk = WorkspaceWalk()
            walk.run(base: try AbsolutePath(validating: staging))
            let entries = walk.entries
            let contents = entries.filter { $0.type != .directory }
            var groups = CodePackWriter.plan(contents, parameters: Self.packParameters).map {
                Array(contents[$0.entries])
            }
            groups.append(entries.filter { $0.type == .directory })
            for (i, group) in groups.enumerated() {
                let last = i == groups.count - 1
                let name = last ? "code/folders.tar.gz" : String(format: "code/pack-%04d.tar.gz", i + 1)
                let file = scratch + "/format2-pack-\(i)"
                let written = try await CodePackWriter(level: 6).write(group[...], to: file)
                let stored = try store.put(contentsOf: file, existing: .digest)
                #expect(stored.ref.digest.hex == written.sha256)
                artifacts.append(
                    ArtifactRecord(
                        path: name, component: .code, kind: .pack, size: stored.ref.size, sha256: written.sha256))
            }
        }

        // Databases: every one in gzip-compressed pieces.
        for (d, db) in old.databases.enumerated() {
            var whole = Data()
            for piece in db.chunks.isEmpty ? [db.artifact ?? ""] : db.chunks {
                whole.append(try Data(contentsOf: URL(fileURLWithPath: source + "/" + piece)))
            }
            #expect(SHA256Digest.hex(of: whole) == db.sha256)
            var chunks: [String] = []
            var offset = 0
            repeat {
                let piece = Array(whole[offset..<min(whole.count, offset + Self.chunkSize)])
                let gz = Data(try GzipMember.compress(piece, level: 6))
                let stored = try store.put(gz, existing: .digest)
                let name = "databases/\(db.path).chunk-" + String(format: "%04d", chunks.count + 1)
                artifacts.append(
                    ArtifactRecord(
                        path: name, component: .databases, kind: .chunk, size: stored.ref.size,
                        sha256: stored.ref.digest.hex, compression: .gzip))
                chunks.append(name)
                offset += Self.chunkSize
            } while offset < whole.count
            m.databases[d].artifact = nil
            m.databases[d].chunks = chunks
        }

        // Everything else: the same bytes as objects.
        for artifact in old.artifacts where [.plist, .list, .config, .vault].contains(artifact.kind) {
            let data = try Data(contentsOf: URL(fileURLWithPath: source + "/" + artifact.path))
            let stored = try store.put(data, existing: .digest)
            #expect(stored.ref.digest.hex == artifact.sha256)
            artifacts.append(artifact)
        }
        m.artifacts = artifacts
        manifest = m
        try fm.createDirectory(atPath: setPath, withIntermediateDirectories: true)
        try seal()
    }

    /// Renders the script for the manifest's artifacts (the script's own record is added after),
    /// writes it, `SHA256SUMS` and `manifest.json`.
    func seal() throws {
        manifest.artifacts.removeAll { $0.kind == .script }
        let script = Data(RestoreScript.render(manifest).utf8)
        let scriptPath = setPath + "/" + manifest.restoreScript
        try script.write(to: URL(fileURLWithPath: scriptPath))
        chmod(scriptPath, 0o700)
        manifest.artifacts.append(
            ArtifactRecord(
                path: manifest.restoreScript, component: .code, kind: .script, size: Int64(script.count),
                sha256: SHA256Digest.hex(of: script)))
        try manifest.renderedChecksumList().write(to: URL(fileURLWithPath: setPath + "/SHA256SUMS"))
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: setPath + "/manifest.json"))
    }

    /// Changes the manifest (then the script, `SHA256SUMS` and `manifest.json` are written again).
    func edit(_ change: (inout Manifest) throws -> Void) throws {
        try change(&manifest)
        try seal()
    }

    var script: String { setPath + "/" + manifest.restoreScript }

    /// Where the object of the artifact at `path` is.
    func objectPath(_ path: String) throws -> String {
        let record = try #require(manifest.artifact(path), "\(path)")
        return destination + "/objects/" + String(record.sha256.prefix(2)) + "/" + record.sha256
    }

    /// The artifacts of `kind`, in manifest order.
    func artifacts(_ kind: ArtifactKind) -> [ArtifactRecord] { manifest.artifacts.filter { $0.kind == kind } }
}
