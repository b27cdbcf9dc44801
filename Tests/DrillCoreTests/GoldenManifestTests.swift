import Foundation
import Testing
import Vault

@testable import DrillCore

/// Golden format-1 manifests: `Snapshots/manifest.json` (keyed, every field of format 1 present)
/// and `Snapshots/manifest-unkeyed.json` (no vault password, every optional field absent), made
/// by ``GoldenSet``.
///
/// Both directions are pinned: ``Manifest/encodedForDisk()`` must write the committed bytes
/// exactly, and ``Manifest/decode(_:path:)`` must read the committed file back to the same values,
/// with its self-checksum and HMAC verifying. A renamed `CodingKey` fails both; a new field shows
/// as a diff. Re-record after an intended change (a new optional field keeps format 1; see
/// docs/SET-FORMAT.md, "Format versions"):
/// `RECORD_SNAPSHOTS=1 swift test --filter DrillCoreTests.GoldenManifestTests`, then review the diff.
@Suite struct GoldenManifestTests {
    @Test func theKeyedManifestEncodesToTheGoldenBytes() throws {
        try GoldenFile.assertMatches(try GoldenSet.keyedManifest().encodedForDisk(), named: "manifest.json")
    }

    @Test func theUnkeyedManifestEncodesToTheGoldenBytes() throws {
        try GoldenFile.assertMatches(try GoldenSet.unkeyedManifest().encodedForDisk(), named: "manifest-unkeyed.json")
    }

    @Test func theFormatTwoManifestAndItsChecksumListEncodeToTheGoldenBytes() throws {
        let m = try GoldenSet.formatTwoManifest()
        try GoldenFile.assertMatches(try m.encodedForDisk(), named: "manifest-format2.json")
        try GoldenFile.assertMatches(m.renderedChecksumList(), named: "SHA256SUMS-format2")
    }

    @Test func theCommittedFormatTwoManifestDecodesAndNamesItsObjects() throws {
        let m = try Manifest.decode(try GoldenFile.committed("manifest-format2.json"), path: "manifest-format2.json")
        var built = try GoldenSet.formatTwoManifest()
        built.manifestSHA256 = try built.computedSHA256()
        #expect(m == built)
        #expect(try m.verifySelfChecksum())
        #expect(m.formatVersion == 2 && m.storesObjects)
        #expect(m.artifacts.filter { $0.kind == .pack }.map(\.path).last == "code/folders.tar.gz")
        #expect(m.artifacts.filter { $0.kind == .chunk }.allSatisfy { $0.compression == .gzip })
        #expect(m.databases.allSatisfy { $0.artifact == nil && !$0.chunks.isEmpty })
        // Two artifacts, one object: listed once; the script stays a file of the set.
        let chunk = try #require(m.artifact("databases/claude/data/store_01.db.chunk-0001"))
        #expect(m.storedPath(of: chunk) == "../objects/\(chunk.sha256.prefix(2))/\(chunk.sha256)")
        #expect(m.storedPath(of: m.artifact("restore_maia.sh")!) == "restore_maia.sh")
        #expect(m.objectRefs().count == m.artifacts.count - 2)
        let sums = String(decoding: try GoldenFile.committed("SHA256SUMS-format2"), as: UTF8.self)
        #expect(sums.split(separator: "\n").count == m.objectRefs().count + 1)
        #expect(sums.hasSuffix("  restore_maia.sh\n"))
        // A digest that is not 64 lowercase hex names no object at all.
        var forged = chunk
        forged.sha256 = "../../../etc/passwd"
        #expect(m.storedPath(of: forged) == nil)
        forged.sha256 = chunk.sha256.uppercased()
        #expect(m.storedPath(of: forged) == nil)
    }

    @Test func aFormatVersionThisBuildDoesNotKnowIsRefusedNamingWhatItReads() throws {
        var m = GoldenSet.unkeyedManifest()
        m.formatVersion = 3
        let data = try m.encodedForDisk()
        #expect(throws: RestoreDrillError.self) { try Manifest.decode(data, path: "x") }
        do {
            _ = try Manifest.decode(data, path: "x")
        } catch {
            #expect("\(error)".contains("format_version 3 is not supported (this build reads 1 and 2)"))
        }
    }

    @Test func theCommittedKeyedManifestDecodesToTheGoldenValues() throws {
        let m = try Manifest.decode(try GoldenFile.committed("manifest.json"), path: "golden manifest.json")
        var built = try GoldenSet.keyedManifest()
        built.manifestSHA256 = try built.computedSHA256()
        #expect(m == built)
        // Spot checks against literals, independent of the builder.
        #expect(m.format == "restore-drill/backup-set")
        #expect(m.formatVersion == 1)
        #expect(m.id.description == "full_20251020_175019")
        #expect(m.startedAt == "2025-10-20T17:50:19.250Z")
        #expect(m.finishedAt == "2025-10-20T17:51:42.750Z")
        #expect(m.timeZone == "Australia/Perth")
        #expect(m.status == .partial)
        #expect(m.restoreScript == "restore_maia.sh")
        #expect(m.components.map(\.id) == ComponentID.allCases)
        #expect(m.component(.dependencies)?.reason == "brew list --versions exited 1: Error: brew is locked")
        #expect(m.artifacts.last?.kind == .script)
        let link = try #require(m.files.first { $0.type == .symlink })
        #expect(link.linkTarget == "README.md")
        #expect(link.mode == 0o777)
        #expect(m.files.first { $0.path == "bin/sync" }?.mode == 0o755)
        #expect(m.files.first { $0.path == "notes/café.md" }?.mode == 0o600)
        // Names are bytes (issue 12): the NFD name decodes to its decomposed bytes, not to the
        // composed café.md's; the Latin-1 one to its exact bytes from `path_bytes`.
        let paths = m.files.map { FileNameBytes.bytes($0.path) }
        #expect(paths.contains(Array("notes/Re\u{301}sume\u{301}.md".utf8)))
        #expect(paths.contains(Array("notes/caf".utf8) + [0xE9] + Array("-latin1.md".utf8)))
        #expect(paths.filter { $0 == Array("notes/café.md".utf8) }.count == 1)
        let plist = try #require(m.files.first { $0.component == .launchagents })
        #expect(plist.rewritten == true && plist.sha256 == nil)
        let zshrc = try #require(m.files.first { $0.component == .shell })
        #expect(zshrc.artifact == "shell/.zshrc")
        #expect(m.files.filter { $0.component != .shell }.allSatisfy { $0.artifact == nil })
        #expect(m.files.filter { $0.component == .credentials }.allSatisfy { $0.sha256 == nil && $0.hmacSHA256 != nil })
        let chunked = try #require(m.databases.last)
        #expect(chunked.artifact == nil)
        #expect(
            chunked.chunks == [
                "databases/claude/data/store_03.db.chunk-0001", "databases/claude/data/store_03.db.chunk-0002",
            ])
        #expect(chunked.tables == [TableCount(name: "events", rows: 5_000_000_000)])
        #expect(m.databases.first?.tables.map(\.name) == ["messages", "sessions"])
        let agent = try #require(m.launchAgents.first)
        #expect(agent.label == "com.maia.sync")
        #expect(agent.rewritePrefixes == ["/Users/alice/git/maia", "/Users/alice"])
        #expect(agent.wasBinary)
        #expect(m.vault?.iterations == 1_000)
        #expect(m.vault?.hmacSalt == "000102030405060708090a0b0c0d0e0f")
        #expect(m.manifestHMACSalt == "000102030405060708090a0b0c0d0e0f")
    }

    @Test func theCommittedKeyedManifestVerifiesItsChecksumAndHMACs() throws {
        let m = try Manifest.decode(try GoldenFile.committed("manifest.json"), path: "golden manifest.json")
        #expect(try m.verifySelfChecksum())
        #expect(m.hmacIterations == GoldenSet.iterations)
        #expect(try m.verifyHMAC(password: GoldenSet.password(), iterations: m.hmacIterations))
        #expect(
            try !m.verifyHMAC(password: VaultPassword("not-the-golden-password", origin: "test"), iterations: 1_000))
        // The vault tag and the credential digests are HMACs with the same key.
        let key = try GoldenSet.key()
        let vault = try #require(m.vault)
        #expect(vault.hmac == Vault.hmacHex(key: key, data: GoldenSet.artifactContents[vault.artifact]!))
        for file in m.files where file.component == .credentials {
            #expect(file.hmacSHA256 == Vault.hmacHex(key: key, data: GoldenSet.restored[file.path]!))
        }
    }

    @Test func theCommittedUnkeyedManifestDecodesWithEveryOptionalFieldAbsent() throws {
        let data = try GoldenFile.committed("manifest-unkeyed.json")
        let m = try Manifest.decode(data, path: "golden manifest-unkeyed.json")
        var built = GoldenSet.unkeyedManifest()
        built.manifestSHA256 = try built.computedSHA256()
        #expect(m == built)
        #expect(m.id.description == "full_20251021_030001_2")
        #expect(m.status == .complete)
        #expect(m.vault == nil && m.manifestHMAC == nil && m.manifestHMACSalt == nil)
        #expect(try m.verifySelfChecksum())
        #expect(try !m.verifyHMAC(password: GoldenSet.password(), iterations: m.hmacIterations))
        // Absent means omitted, never `null`.
        let text = String(decoding: data, as: UTF8.self)
        #expect(!text.contains("null"))
        for key in ["\"vault\"", "\"manifest_hmac\"", "\"manifest_hmac_salt\"", "\"reason\" : null", "\"link_target\""]
        {
            #expect(!text.contains(key), "\(key) in manifest-unkeyed.json")
        }
    }

    /// Every optional field of every record, and every value of every manifest enum, appears in
    /// the golden files: a field or case added to format 1 without a golden fails here.
    @Test func theGoldenFilesHoldEveryFieldAndEveryEnumValue() throws {
        let keyed = try Manifest.decode(try GoldenFile.committed("manifest.json"), path: "manifest.json")
        let unkeyed = try Manifest.decode(try GoldenFile.committed("manifest-unkeyed.json"), path: "unkeyed")
        let formatTwo = try Manifest.decode(try GoldenFile.committed("manifest-format2.json"), path: "format2")
        // script_takes_only is format 2's (issue 17): the format-2 golden sets it.
        #expect(absentOptionals(keyed) == ["scriptTakesOnly"])
        #expect(formatTwo.scriptTakesOnly == true)
        #expect(absentOptionals(keyed.vault!) == [])
        for (name, records) in [
            ("components", keyed.components.map { $0 as Any }),
            ("artifacts", (keyed.artifacts + formatTwo.artifacts).map { $0 as Any }),
            ("files", keyed.files.map { $0 as Any }), ("databases", keyed.databases.map { $0 as Any }),
            ("launchagents", keyed.launchAgents.map { $0 as Any }),
        ] {
            let absent = records.map { Set(absentOptionals($0)) }
            let everywhereAbsent = absent.dropFirst().reduce(absent.first ?? []) { $0.intersection($1) }
            #expect(!records.isEmpty && everywhereAbsent == [], "\(name): a field no golden record sets")
        }
        let both = [keyed, unkeyed]
        #expect(Set(both.map(\.status)) == Set(SetStatus.allCases))
        #expect(Set(both.flatMap(\.components).map(\.status)) == Set(ComponentStatus.allCases))
        // Format 1 has every kind but format 2's packs (the format-2 golden has those).
        #expect(Set(keyed.artifacts.map(\.kind)) == Set(ArtifactKind.allCases).subtracting([.pack]))
        #expect(Set((keyed.artifacts + formatTwo.artifacts).map(\.kind)) == Set(ArtifactKind.allCases))
        #expect(Set(formatTwo.artifacts.compactMap(\.compression)) == Set(ArtifactCompression.allCases))
        #expect(Set(keyed.files.map(\.type)) == Set(FileType.allCases))
        #expect(Set(keyed.files.map(\.base)) == Set(PathBase.allCases))
        #expect(Set(keyed.files.map(\.component)) == [.code, .launchagents, .shell, .credentials])
        #expect(Set(keyed.artifacts.map(\.component)) == Set(ComponentID.allCases))
    }

    /// The committed keyed golden spells both kinds of name as docs/SET-FORMAT.md says: the NFD
    /// name's bytes as they are (`e` then `\u0301`, never `é`), and the name that is not UTF-8 as
    /// a display `path` with `\xe9` beside `path_bytes`, the base64 of its bytes.
    @Test func theGoldenSpellsNamesAsTheirBytes() throws {
        let data = try GoldenFile.committed("manifest.json")
        let text = String(decoding: data, as: UTF8.self)
        #expect(data.range(of: Data("notes/Re\u{301}sume\u{301}.md".utf8)) != nil, "NFD bytes written as they are")
        #expect(text.contains(#""path" : "notes/caf\\xe9-latin1.md""#), "display form, backslash escaped by JSON")
        let encoded = Data(Array("notes/caf".utf8) + [0xE9] + Array("-latin1.md".utf8)).base64EncodedString()
        #expect(encoded == "bm90ZXMvY2Fm6S1sYXRpbjEubWQ=")
        #expect(text.contains(#""path_bytes" : "bm90ZXMvY2Fm6S1sYXRpbjEubWQ=""#))
        #expect(text.components(separatedBy: "\"path_bytes\"").count == 2, "only for the name that is not UTF-8")
        // A reader that ignores path_bytes sees no path equal to another record's.
        let shown = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let files = shown["files"] as! [[String: Any]]
        let texts = files.map { $0["path"] as! String }
        #expect(Set(texts.map { Array($0.utf8) }).count == texts.count)
        // A path_bytes that is not base64 is refused, naming the key.
        let broken = text.replacingOccurrences(of: "bm90ZXMvY2Fm6S1sYXRpbjEubWQ=", with: "not base64!")
        #expect {
            try Manifest.decode(Data(broken.utf8), path: "broken")
        } throws: { error in
            String(describing: error).contains("path_bytes")
        }
    }

    /// `Snapshots/manifest-before-file-artifact.json` is the keyed golden as it was committed
    /// before file entries named their artifact (never re-recorded): such a set still reads and
    /// verifies, and its shell files pair with the `shell` artifacts by position.
    @Test func aManifestWrittenBeforeTheFileArtifactFieldStillReadsAndPairsByPosition() throws {
        let old = try Manifest.decode(
            try GoldenFile.committed("manifest-before-file-artifact.json"), path: "manifest-before-file-artifact.json")
        #expect(try old.verifySelfChecksum())
        #expect(try old.verifyHMAC(password: GoldenSet.password(), iterations: old.hmacIterations))
        #expect(old.files.allSatisfy { $0.artifact == nil })
        let pairs = old.shellFileArtifacts()
        #expect(pairs.map(\.file.path) == [".zshrc"])
        #expect(pairs.map(\.artifact) == ["shell/.zshrc"])
        // The same pairing as the current golden states with the field.
        let new = try Manifest.decode(try GoldenFile.committed("manifest.json"), path: "manifest.json")
        #expect(new.shellFileArtifacts().map(\.artifact) == pairs.map(\.artifact))
    }

    /// A renamed required key makes the committed file unreadable with an error naming the key; a
    /// renamed optional key would silently read as absent, which the value checks above catch
    /// (here: the HMAC no longer verifies).
    @Test func aRenamedKeyInTheCommittedFileIsCaught() throws {
        let text = String(decoding: try GoldenFile.committed("manifest.json"), as: UTF8.self)
        #expect(text.contains("\"rewrite_prefixes\""))
        let renamedRequired = text.replacingOccurrences(of: "\"rewrite_prefixes\"", with: "\"rewritePrefixes\"")
        #expect {
            try Manifest.decode(Data(renamedRequired.utf8), path: "renamed")
        } throws: { error in
            String(describing: error).contains("missing key launchagents.[0].rewrite_prefixes")
        }
        let renamedOptional = text.replacingOccurrences(of: "\"manifest_hmac_salt\"", with: "\"manifestHMACSalt\"")
        let read = try Manifest.decode(Data(renamedOptional.utf8), path: "renamed")
        #expect(read.manifestHMACSalt == nil)
        #expect(try !read.verifyHMAC(password: GoldenSet.password(), iterations: read.hmacIterations))
    }

    /// Names of the optional stored properties of `value` that are nil (through `Mirror`).
    func absentOptionals(_ value: Any) -> [String] {
        Mirror(reflecting: value).children.compactMap { child in
            let inner = Mirror(reflecting: child.value)
            guard inner.displayStyle == .optional, inner.children.isEmpty else { return nil }
            return child.label
        }
    }
}
