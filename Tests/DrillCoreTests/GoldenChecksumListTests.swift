import Foundation
import TestSupport
import Testing
import Vault

@testable import DrillCore

/// Golden `Snapshots/SHA256SUMS`: ``Manifest/renderedChecksumList()`` (what the engine writes
/// beside `manifest.json`) for the keyed golden manifest's artifacts, compared byte for byte. It
/// pins the `sha256sum -c` format (64 lowercase hex, two spaces, the path inside the set, LF, in
/// manifest order), and real `sha256sum -c` (or `shasum -a 256 -c`) checks it against the
/// golden artifact contents. Re-record after an intended change:
/// `RECORD_SNAPSHOTS=1 swift test --filter DrillCoreTests.GoldenChecksumListTests`, then review the diff.
@Suite struct GoldenChecksumListTests {
    @Test func theChecksumListRendersToTheGoldenBytes() throws {
        let manifest = try GoldenSet.keyedManifest()
        try GoldenFile.assertMatches(manifest.renderedChecksumList(), named: "SHA256SUMS")
    }

    @Test func theCommittedChecksumListListsTheGoldenManifestsArtifactsInSha256sumFormat() throws {
        let text = String(decoding: try GoldenFile.committed("SHA256SUMS"), as: UTF8.self)
        let manifest = try Manifest.decode(try GoldenFile.committed("manifest.json"), path: "manifest.json")
        #expect(text.hasSuffix("\n"))
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == manifest.artifacts.count)
        for (line, artifact) in zip(lines, manifest.artifacts) {
            #expect(line == "\(artifact.sha256)  \(artifact.path)")
            let digest = line.prefix(64)
            #expect(digest.count == 64 && digest.allSatisfy { "0123456789abcdef".contains($0) }, "\(line)")
            #expect(line.dropFirst(64).hasPrefix("  ") && !line.dropFirst(66).hasPrefix(" "), "\(line)")
        }
        #expect(!lines.contains { $0.hasSuffix(" manifest.json") || $0.hasSuffix(" SHA256SUMS") })
    }

    @Test func realSha256sumAcceptsTheCommittedChecksumList() throws {
        let folder = try TempFolder("vault-test")
        defer { folder.remove() }
        for (path, data) in GoldenSet.artifactContents {
            let target = folder.file(path)
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: target))
        }
        try GoldenFile.committed("SHA256SUMS").write(to: URL(fileURLWithPath: folder.file("SHA256SUMS")))
        let (tool, arguments) = try checker()
        let ok = try run(tool, arguments, in: folder.path)
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.components(separatedBy: "\n").filter { $0.hasSuffix(": OK") }.count == 9)
        // The same check fails when one artifact differs: the tool really compares.
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: folder.file("shell/.zshrc")))
        let damaged = try run(tool, arguments, in: folder.path)
        #expect(damaged.status != 0)
        #expect(damaged.output.contains("shell/.zshrc: FAILED"))
    }

    /// `sha256sum -c SHA256SUMS`, or `shasum -a 256 -c SHA256SUMS` where only that exists (macOS).
    /// - Throws: when neither is installed: a failure, never a silent pass.
    func checker() throws -> (String, [String]) {
        for folder in ["/usr/bin", "/bin", "/usr/local/bin", "/opt/homebrew/bin"] {
            if FileManager.default.isExecutableFile(atPath: folder + "/sha256sum") {
                return (folder + "/sha256sum", ["-c", "SHA256SUMS"])
            }
        }
        let shasum = "/usr/bin/shasum"
        try #require(
            FileManager.default.isExecutableFile(atPath: shasum),
            "neither sha256sum nor shasum is installed (Debian package coreutils)")
        return (shasum, ["-a", "256", "-c", "SHA256SUMS"])
    }

    /// Runs `tool` in `folder`; standard output and error together.
    func run(_ tool: String, _ arguments: [String], in folder: String) throws -> (status: Int32, output: String) {
        let run = try runTool(tool, arguments, directory: folder, mergingError: true)
        return (run.status, run.output)
    }
}
