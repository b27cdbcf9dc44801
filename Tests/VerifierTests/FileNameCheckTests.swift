import DrillCore
import Foundation
import Testing

@testable import Verifier

/// Issue 12: `restore.archives` and `restore.tree` compare names by their bytes. Swift's `String`
/// equality takes `Résumé.txt` in NFC and in NFD for one name, so with `String` keys an archive
/// (or a restored tree) holding the composed name passed for a manifest recording the decomposed
/// one, and an NFC/NFD pair collapsed into one entry.
@Suite struct FileNameCheckTests {
    static let nfc = "src/R\u{e9}sum\u{e9}.txt"
    static let nfd = "src/Re\u{301}sume\u{301}.txt"

    static func record(_ path: String, _ content: String) -> FileRecord {
        FileRecord(
            component: .code, base: .root, path: path, size: Int64(content.utf8.count),
            sha256: SHA256Digest.hex(of: Data(content.utf8)), mode: 0o644)
    }

    /// Inspects the fixture's code archive holding `members` against its manifest plus `records`.
    static func inspect(members: [[String]], records: [FileRecord]) throws -> CheckResult {
        let fixture = try Fixture()
        fixture.manifest.files += records
        try Fixture.writeTar(fixture.path("code.tar.gz"), Fixture.goodCodeMembers + members)
        try fixture.seal()
        let artifact = try #require(fixture.manifest.artifact("code.tar.gz"))
        return ArchiveInspection.check(
            archive: artifact, setPath: try AbsolutePath(validating: fixture.setPath),
            expected: fixture.manifest.files.filter { $0.component == .code })
    }

    @Test func anNFCAndNFDPairInTheArchiveAndTheManifestPasses() throws {
        let check = try Self.inspect(
            members: [[Self.nfd, "file", "nfd-content\n"], [Self.nfc, "file", "nfc-content\n"]],
            records: [Self.record(Self.nfd, "nfd-content\n"), Self.record(Self.nfc, "nfc-content\n")])
        #expect(check.verdict == .pass, "\(check.message)")
    }

    /// The manifest records the pair, the archive holds the composed name twice (what libarchive's
    /// UTF-8 setter made of the decomposed one): the decomposed one is missing.
    @Test func aRecomposedMemberIsMissingItsDecomposedName() throws {
        let check = try Self.inspect(
            members: [[Self.nfc, "file", "was decomposed\n"], [Self.nfc, "file", "nfc-content\n"]],
            records: [Self.record(Self.nfd, "was decomposed\n"), Self.record(Self.nfc, "nfc-content\n")])
        #expect(check.verdict == .fail)
        #expect(check.findings.contains { $0.code == .archiveMembersMissing }, "\(check.message)")
        #expect(check.findings.contains { $0.code == .archiveMembersDuplicated }, "\(check.message)")
        #expect(check.evidence.contains("missing: \(Self.nfd)"))
        #expect(
            !check.evidence.contains { $0.hasPrefix("missing: ") && FileNameBytes.same($0, "missing: \(Self.nfc)") })
    }

    /// One name recorded decomposed, archived composed: one missing and one extra, never a match.
    @Test func aComposedMemberForADecomposedRecordIsMissingAndExtra() throws {
        let check = try Self.inspect(
            members: [["src/u\u{308}ber", "dir", ""], ["src/\u{fc}ber/x.txt", "file", "x\n"]],
            records: [
                FileRecord(component: .code, base: .root, path: "src/u\u{308}ber", type: .directory, mode: 0o755),
                Self.record("src/u\u{308}ber/x.txt", "x\n"),
            ])
        #expect(check.verdict == .fail)
        let missing = check.evidence.filter { $0.hasPrefix("missing: ") }.map { Array($0.utf8) }
        let extra = check.evidence.filter { $0.hasPrefix("extra: ") }.map { Array($0.utf8) }
        #expect(missing.contains(Array("missing: src/u\u{308}ber/x.txt".utf8)), "\(check.evidence)")
        #expect(extra.contains(Array("extra: src/\u{fc}ber/x.txt".utf8)), "\(check.evidence)")
    }

    /// A drill of a set whose archive holds the pair (extracted by the fixture's real tar) passes
    /// `restore.tree` with both files checked by their own digests; the same set whose manifest
    /// swaps the two contents fails both, by name.
    @Test func theRestoredTreeIsCheckedByBytes() async throws {
        let fixture = try Fixture()
        fixture.manifest.files += [Self.record(Self.nfd, "nfd-content\n"), Self.record(Self.nfc, "nfc-content\n")]
        try Fixture.writeTar(
            fixture.path("code.tar.gz"),
            Fixture.goodCodeMembers + [[Self.nfd, "file", "nfd-content\n"], [Self.nfc, "file", "nfc-content\n"]])
        try fixture.seal()
        let good = try await fixture.drill()
        let tree = try #require(good.checks.first { $0.check == .restoreTree && $0.subject == "code" })
        #expect(tree.verdict == .pass, "\(tree.message) \(tree.evidence)")
        #expect(good.checks.first { $0.check == .restoreArchives }?.verdict == .pass)

        let count = fixture.manifest.files.count
        fixture.manifest.files[count - 2] = Self.record(Self.nfd, "nfc-content\n")
        fixture.manifest.files[count - 1] = Self.record(Self.nfc, "nfd-content\n")
        try fixture.seal()
        let swapped = try await fixture.drill()
        let failed = try #require(swapped.checks.first { $0.check == .restoreTree && $0.subject == "code" })
        #expect(failed.verdict == .fail)
        #expect(failed.findings.filter { $0.code == .treeDigestMismatch }.count == 2, "\(failed.evidence)")
    }
}
