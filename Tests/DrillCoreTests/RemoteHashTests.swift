import DrillCore
import Foundation
import TestSupport
import Testing
import Vault

/// The remote hashes of issue 16 (``ArtifactDigests``): QuickXorHash (``QuickXorHasher``) against
/// the real `rclone hashsum quickxor`, MD5 against `md5sum`, and the manifest fields they fill.
@Suite struct RemoteHashTests {
    /// Files whose sizes cross QuickXorHash's edges: empty, 1 byte, around the 20-byte digest,
    /// around the 160-byte period, 1 MiB + 7 and an odd size of random bytes.
    static func sampleFiles(in folder: TempFolder) throws -> [String: Data] {
        var generator = SystemRandomNumberGenerator()
        func random(_ n: Int) -> Data { Data((0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
        let files: [String: Data] = [
            "empty": Data(), "one": Data([0x61]), "b19": random(19), "b20": random(20), "b21": random(21),
            "b159": random(159), "b160": random(160), "b161": random(161),
            "mib7": Data((0..<((1 << 20) + 7)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }),
            "random": random(300_007),
        ]
        for (name, data) in files { try data.write(to: URL(fileURLWithPath: folder.file(name))) }
        return files
    }

    /// `<hash>  <name>` lines of a tool run in `folder`, by name.
    static func sums(_ output: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            out[parts[1].trimmingCharacters(in: .whitespaces)] = String(parts[0])
        }
        return out
    }

    @Test(.needsTool("rclone", package: "rclone"))
    func quickXorHashIsWhatRcloneComputesForEveryEdgeSize() throws {
        let rclone = try requireTool("rclone", package: "rclone")
        let folder = try TempFolder("rd-qxh")
        defer { folder.remove() }
        let files = try Self.sampleFiles(in: folder)
        let base64 = try runTool(rclone, ["hashsum", "quickxor", "--base64", folder.path])
        #expect(base64.status == 0, "\(base64.error)")
        let hex = try runTool(rclone, ["hashsum", "quickxor", folder.path])
        #expect(hex.status == 0, "\(hex.error)")
        // rclone's `--base64` is the URL-safe alphabet (RFC 4648 §5: `-` and `_`); the manifest
        // records the standard one (§4, as OneDrive's API reports the hash).
        let rcloneBase64 = Self.sums(base64.output).mapValues {
            $0.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        }
        let rcloneHex = Self.sums(hex.output)
        #expect(Set(rcloneBase64.keys) == Set(files.keys))
        for (name, data) in files {
            let ours = QuickXorHasher.base64(of: data)
            #expect(ours == rcloneBase64[name], "\(name) (\(data.count) bytes)")
            #expect(ArtifactDigests.quickXorHashHex(fromBase64: ours) == rcloneHex[name], "\(name)")
            #expect(ArtifactDigests.isWellFormedQuickXorHash(ours))
            // Fed in uneven pieces (1, 7, 150, 161, 4096 … bytes): the same digest as in one piece.
            let pieces = QuickXorHasher()
            var offset = 0
            var step = 1
            while offset < data.count {
                let end = min(data.count, offset + step)
                pieces.update(data.subdata(in: offset..<end))
                offset = end
                step = step * 7 % 4099 + 3
            }
            #expect(pieces.finalizeBase64() == ours, "\(name) in pieces")
        }
        #expect(base64.output.contains("_") || base64.output.contains("-"))  // the alphabets differ here
        // Known values, as rclone 1.60 printed them here.
        #expect(QuickXorHasher.base64(of: Data()) == "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        #expect(QuickXorHasher.base64(of: Data("a".utf8)) == "YQAAAAAAAAAAAAAAAQAAAAAAAAA=")
    }

    @Test(.needsTool("md5sum", package: "coreutils"))
    func md5AndTheOnePassDigestsAreWhatMd5sumAndSha256sumPrint() throws {
        let md5sum = try requireTool("md5sum", package: "coreutils")
        let sha256sum = try requireTool("sha256sum", package: "coreutils")
        let folder = try TempFolder("rd-md5")
        defer { folder.remove() }
        let files = try Self.sampleFiles(in: folder)
        let names = files.keys.sorted()
        let md5 = Self.sums(try runTool(md5sum, names, directory: folder.path).output)
        let sha = Self.sums(try runTool(sha256sum, names, directory: folder.path).output)
        for name in names {
            let (digests, size) = try ArtifactDigests.file(at: folder.file(name))
            #expect(size == Int64(files[name]!.count))
            #expect(digests.md5 == md5[name] && ArtifactDigests.isWellFormedMD5(digests.md5), "\(name)")
            #expect(digests.sha256 == sha[name], "\(name)")
            #expect(digests == ArtifactDigests.of(files[name]!), "\(name)")
            #expect(digests.quickXorHash == QuickXorHasher.base64(of: files[name]!))
        }
    }

    /// An artifact entry written before the fields existed reads with both absent, writes them
    /// absent again, and the set's self-checksum and HMAC still verify; the fields, when present,
    /// are covered by the self-checksum.
    @Test func anArtifactWithoutRemoteHashesDecodesAndTheFieldsAreCoveredByTheChecksum() throws {
        let old = try Manifest.decode(
            try GoldenFile.committed("manifest-before-file-artifact.json"), path: "manifest-before-file-artifact.json")
        #expect(old.artifacts.allSatisfy { $0.md5 == nil && $0.quickXorHash == nil && $0.digests == nil })
        #expect(try old.verifySelfChecksum())
        #expect(try old.verifyHMAC(password: GoldenSet.password(), iterations: old.hmacIterations))
        let reencoded = String(decoding: try old.encodedForDisk(), as: UTF8.self)
        #expect(!reencoded.contains("\"md5\"") && !reencoded.contains("\"quickxorhash\""))

        let new = try Manifest.decode(try GoldenFile.committed("manifest.json"), path: "manifest.json")
        #expect(new.artifacts.allSatisfy { $0.digests != nil })
        #expect(try new.verifySelfChecksum())
        for field in [\ArtifactRecord.md5, \ArtifactRecord.quickXorHash] {
            var forged = new
            forged.artifacts[0][keyPath: field] = nil
            #expect(try !forged.verifySelfChecksum())
            #expect(try !forged.verifyHMAC(password: GoldenSet.password(), iterations: forged.hmacIterations))
        }
        let text = String(decoding: try GoldenFile.committed("manifest.json"), as: UTF8.self)
        #expect(text.contains("\"md5\" : \"") && text.contains("\"quickxorhash\" : \""))
    }
}
