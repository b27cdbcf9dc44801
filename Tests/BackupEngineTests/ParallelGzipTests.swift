import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// The parallel gzip writer makes one standard gzip file out of independent members.
@Suite struct ParallelGzipTests {
    /// Writes `input` through a ParallelGzipWriter with small blocks; returns the file's path.
    func compress(_ input: [UInt8], blockSize: Int, width: Int, in folder: String) async throws -> (String, String) {
        let path = folder + "/out.gz"
        let file = try HashingFileWriter(path: path)
        let gzip = ParallelGzipWriter(output: file, level: 6, width: width, blockSize: blockSize)
        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            var offset = 0
            while offset < input.count {
                let n = min(3000, input.count - offset)  // odd pieces, as libarchive hands them over
                input.withUnsafeBytes { gzip.append($0.baseAddress! + offset, count: n) }
                offset += n
                try await gzip.flush(group: &group)
            }
            try await gzip.finish(group: &group)
        }
        let (_, digests) = try file.finish()
        return (path, digests.sha256)
    }

    func folder() throws -> String {
        let path = try TempFolder("rd-pgz").path
        return path
    }

    func run(_ argv: [String]) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(argv) exited \(p.terminationStatus)")
        return data
    }

    @Test func manyMembersDecompressWithGzipInOrder() async throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 300 KiB of text-like bytes cut into 16 KiB blocks: 19 members, compressed 4 at once.
        var input: [UInt8] = []
        var state: UInt32 = 12345
        while input.count < 300 << 10 {
            state = state &* 1_103_515_245 &+ 12345
            input += Array("line \(state % 1000) of the stream\n".utf8)
        }
        let (path, sha) = try await compress(input, blockSize: 16 << 10, width: 4, in: dir)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(sha == SHA256Digest.hex(of: bytes))
        // Each member starts with the gzip magic and deflate method: 1f 8b 08.
        let magic = bytes.indices.dropLast(2).filter {
            bytes[$0] == 0x1f && bytes[$0 + 1] == 0x8b && bytes[$0 + 2] == 0x08
        }
        #expect(magic.count >= (input.count + (16 << 10) - 1) / (16 << 10))
        #expect(try run(["gzip", "-dc", path]) == Data(input))
        // (bsdtar and GNU tar reading multi-member archives: the restore-script tests run both.)
    }

    @Test func anEmptyStreamIsOneValidMember() async throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (path, _) = try await compress([], blockSize: 16 << 10, width: 2, in: dir)
        #expect(try run(["gzip", "-t", path]).isEmpty)
        #expect(try run(["gzip", "-dc", path]).isEmpty)
    }

    @Test func chunkCopyHashesTheRangeItCopies() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = dir + "/source"
        let content = Data((0..<(700 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try content.write(to: URL(fileURLWithPath: source))
        let whole = SHA256Hasher()
        let first = try ChunkCopy.copy(from: source, offset: 0, length: 300 << 10, to: dir + "/c1", alsoHashing: whole)
        let second = try ChunkCopy.copy(
            from: source, offset: 300 << 10, length: 400 << 10, to: dir + "/c2", alsoHashing: whole)
        let c1 = try Data(contentsOf: URL(fileURLWithPath: dir + "/c1"))
        let c2 = try Data(contentsOf: URL(fileURLWithPath: dir + "/c2"))
        #expect(c1 + c2 == content)
        #expect(first == ArtifactDigests.of(c1) && first.sha256 == SHA256Digest.hex(of: c1))
        #expect(second == ArtifactDigests.of(c2) && second.sha256 == SHA256Digest.hex(of: c2))
        #expect(whole.finalizeHex() == SHA256Digest.hex(of: content))
        #expect(throws: RestoreDrillError.self) {
            try ChunkCopy.copy(from: source, offset: 600 << 10, length: 200 << 10, to: dir + "/c3")
        }
    }
}
