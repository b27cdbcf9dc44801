import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// A backup records every artifact's MD5 and QuickXorHash (issue 16) as the stored bytes' own:
/// checked with the real `md5sum` and `rclone hashsum quickxor --base64` on the files a remote
/// would hold (format 2: the object files), also for objects reused through the files cache.
@Suite struct RemoteHashBackupTests {
    /// `md5sum` and `rclone hashsum quickxor --base64` of `paths`, by path.
    static func toolSums(_ paths: [String], in folder: String) throws -> (md5: [String: String], qxh: [String: String])
    {
        let md5sum = try requireTool("md5sum", package: "coreutils")
        let rclone = try requireTool("rclone", package: "rclone")
        let md5 = try Shell.run(md5sum, paths, cwd: folder)
        #expect(md5.code == 0, "\(md5.err)")
        // rclone hashes every file of a folder: the stored files, copied flat under their index.
        let flat = folder + "/.flat-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: flat, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: flat) }
        for (i, path) in paths.enumerated() {
            try FileManager.default.copyItem(atPath: folder + "/" + path, toPath: "\(flat)/\(i)")
        }
        let qxh = try Shell.run(
            rclone, ["hashsum", "quickxor", "--base64", flat],
            environment: ["RCLONE_CONFIG": "/dev/null", "PATH": "/usr/bin:/bin"])
        #expect(qxh.code == 0, "\(qxh.err)")
        var md5s: [String: String] = [:]
        for line in md5.out.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { md5s[parts[1].trimmingCharacters(in: .whitespaces)] = String(parts[0]) }
        }
        var qxhs: [String: String] = [:]
        for line in qxh.out.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2, let i = Int(parts[1].trimmingCharacters(in: .whitespaces)) {
                // rclone's `--base64` alphabet is the URL-safe one; the manifest's the standard one.
                qxhs[paths[i]] = parts[0].replacingOccurrences(of: "-", with: "+").replacingOccurrences(
                    of: "_", with: "/")
            }
        }
        return (md5s, qxhs)
    }

    /// Every artifact of `manifest` has both fields, equal to what the tools compute from its
    /// stored file (relative to `setPath`: format 1 the set's file, format 2 the object).
    static func expectToolsAgree(_ manifest: Manifest, setPath: String) throws {
        let stored = manifest.artifacts.map { manifest.storedPath(of: $0)! }
        let (md5, qxh) = try toolSums(stored, in: setPath)
        #expect(!manifest.artifacts.isEmpty)
        for (artifact, path) in zip(manifest.artifacts, stored) {
            #expect(artifact.md5 != nil && artifact.md5 == md5[path], "\(artifact.path) md5")
            #expect(artifact.quickXorHash != nil && artifact.quickXorHash == qxh[path], "\(artifact.path) quickxorhash")
        }
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func formatTwoRecordsTheObjectsHashesAndAReusedObjectRecordsTheSame() async throws {
        let ws = try Workspace(live: false)
        defer { ws.close() }
        ws.config.setFormat = 2
        let cache = ws.folder.path + "/cache"
        // Files made just now are inside the files cache's racy window: wait it out once.
        try await Task.sleep(nanoseconds: 2_200_000_000)
        let (first, _) = try await ObjectReuseCacheTests.backup(
            ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(first.manifest.formatVersion == 2)
        #expect(Set(first.manifest.artifacts.map(\.kind)).isSuperset(of: [.pack, .chunk, .script]))
        try Self.expectToolsAgree(first.manifest, setPath: first.setPath)

        // The second backup reuses every pack and database from the files cache (nothing read):
        // the same objects with the same recorded hashes.
        let (second, lines) = try await ObjectReuseCacheTests.backup(
            ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_086_400))
        let packs = first.manifest.artifacts.filter { $0.kind == .pack }.count
        #expect(ObjectReuseCacheTests.packLine(lines).hasPrefix("code: \(packs) packs, \(packs) of them reused"))
        #expect(lines.contains { $0.hasSuffix("unchanged: reused from the files cache") })
        let objects = { (m: Manifest) in m.artifacts.filter { $0.kind != .script } }
        #expect(objects(second.manifest) == objects(first.manifest))
        try Self.expectToolsAgree(second.manifest, setPath: second.setPath)

        // Without the cache every object is hashed anew (and found already there): the same values.
        let (third, _) = try await ObjectReuseCacheTests.backup(
            ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_172_800), ignoring: true)
        #expect(objects(third.manifest) == objects(first.manifest))
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func formatOneRecordsEveryFilesHashesTheScriptIncluded() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        ws.config.setFormat = 1
        let outcome = try await ws.backup()
        let m = outcome.manifest
        #expect(m.formatVersion == 1)
        #expect(Set(m.artifacts.map(\.kind)).isSuperset(of: [.archive, .chunk, .script, .database]))
        try Self.expectToolsAgree(m, setPath: outcome.setPath)
    }
}
