import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Verifier

/// Text of a set or a replay with CR line ends: `"\r\n"` is one Swift `Character`, so splitting at
/// the `Character` `"\n"` left such a text one line.
@Suite struct CRLFTextTests {
    /// A `SHA256SUMS` with CRLF line ends lists every artifact, as `sha256sum -c` reads it.
    @Test func aCRLFChecksumListListsEachArtifact() throws {
        let first = Data("first artifact\n".utf8)
        let (folder, record) = try FindingTests.setWithArtifact(first)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let second = Data("second".utf8)
        try second.write(to: URL(fileURLWithPath: folder + "/other.bin"))
        let id = BackupID(date: Date(timeIntervalSince1970: 1_700_000_000))
        var manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        manifest.artifacts = [
            record,
            ArtifactRecord(
                path: "other.bin", component: .code, kind: .archive, size: Int64(second.count),
                sha256: SHA256Digest.hex(of: second)),
        ]
        let text = "\(record.sha256)  data.bin\r\n\(SHA256Digest.hex(of: second))  other.bin\r\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/SHA256SUMS"))
        let sums = ArtifactCheck.checkSums(setPath: try AbsolutePath(validating: folder), manifest: manifest)
        #expect(sums.verdict == .pass, "\(sums.message)")
        #expect(sums.findings.isEmpty)
        // The restore script's own check agrees.
        let checked = try runTool("/usr/bin/sha256sum", ["-c", "SHA256SUMS"], directory: folder, mergingError: true)
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output == "data.bin: OK\nother.bin: OK\n")
    }

    /// The replay's output tail counts lines ended by CRLF or CR (a progress bar's `\r`).
    @Test func theOutputTailCountsCRLFLines() {
        let output = (1...50).map { "line \($0)\r\n" }.joined()
        let tail = TextFormat.tailLines(output, limit: 3)
        #expect(tail == ["line 48", "line 49", "line 50"])
        #expect(TextFormat.tailLines("10%\r50%\r100%\n", limit: 2) == ["50%", "100%"])
    }
}
