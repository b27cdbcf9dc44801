import DrillCore
import Foundation
import Testing

@testable import Verifier

/// Issue 12, "Chunked databases": `set.artifacts` accounts for every artifact of a sealed set (the
/// damage rewrites the manifest's digests, `SHA256SUMS` and the self-checksum, so every digest
/// agrees and only the accounting can tell). The fixture has `databases/store.db` (whole, record 0,
/// `data/store.db`) and `databases/big.db.chunk-0001`, `-0002` (record 1, `data/big.db`).
@Suite struct ChunkAccountingTests {
    /// `set.artifacts` of the fixture's set as it is on disk.
    static func artifactChecks(_ fixture: Fixture) throws -> [CheckResult] {
        ArtifactCheck.run(setPath: try AbsolutePath(validating: fixture.setPath), manifest: fixture.manifest)
    }

    static func result(_ checks: [CheckResult], _ subject: String) -> CheckResult? {
        checks.first { $0.subject == subject }
    }

    @Test func goodSetHasNothingToAccountFor() async throws {
        let fixture = try Fixture()
        let accounting = ArtifactAccounting(fixture.manifest)
        #expect(accounting.byArtifact.isEmpty, "\(accounting.byArtifact)")
        #expect(accounting.byDatabase.isEmpty)
        #expect(
            accounting.chunkOwners == [
                "databases/big.db.chunk-0001": "data/big.db", "databases/big.db.chunk-0002": "data/big.db",
            ])
        #expect(try Self.artifactChecks(fixture).allSatisfy { $0.verdict == .pass })
        // And concurrently, the drill's way: the same results.
        let concurrent = await ArtifactCheck.runConcurrently(
            setPath: try AbsolutePath(validating: fixture.setPath), manifest: fixture.manifest)
        #expect(concurrent.map(\.subject) == (try Self.artifactChecks(fixture)).map(\.subject))
    }

    /// The committed golden format-1 manifest (Tests/DrillCoreTests/Snapshots) accounts for every
    /// artifact: sets written before the rule stay valid.
    @Test func goldenFormatOneManifestHasNothingToAccountFor() throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DrillCoreTests/Snapshots/manifest.json")
        let manifest = try Manifest.decode(try Data(contentsOf: golden), path: golden.path)
        #expect(manifest.artifacts.count == 9)
        #expect(manifest.databases.contains { $0.chunks.count == 2 })
        let accounting = ArtifactAccounting(manifest)
        #expect(accounting.byArtifact.isEmpty, "\(accounting.byArtifact)")
        #expect(accounting.byDatabase.isEmpty, "\(accounting.byDatabase)")
    }

    /// Artifacts named like chunks that no database lists, each sealed into the set: every one fails
    /// as `chunk.unowned`, the rest of the set still passes.
    @Test(arguments: [
        "databases/big.db.chunk-0003",  // one past the database's last chunk
        "databases/other.db.chunk-0001",  // a database the manifest does not have
        "databases/store.db.chunk-0001",  // a chunk of a database stored whole
        "big.db.chunk-0009",  // outside the databases folder
    ])
    func orphanChunkFails(_ name: String) async throws {
        let fixture = try Fixture()
        try fixture.write(Data(repeating: 0x5a, count: 4096), to: name)
        try fixture.seal()
        #expect(fixture.manifest.artifact(name)?.kind == .chunk)
        let checks = try Self.artifactChecks(fixture)
        let orphan = try #require(Self.result(checks, name))
        #expect(orphan.verdict == .fail)
        #expect(orphan.findings.map(\.code) == [.chunkUnowned])
        #expect(
            orphan.message == "\(name): named like a chunk, but no database lists it among its chunks: "
                + "a restore never reads it")
        #expect(checks.problems.map(\.subject) == [name])
        // Through a whole drill: the set is refused at set.artifacts.
        let result = try await fixture.drill()
        #expect(verdicts(result, .setArtifacts)[name] == .fail)
        #expect(result.verdict == .fail)
    }

    /// A chunk-named artifact recorded under another kind is still a chunk nobody owns; an
    /// artifact of kind `chunk` with another name too.
    @Test func chunkByKindOrByNameEitherWay() throws {
        let fixture = try Fixture()
        try fixture.write(Data(repeating: 1, count: 10), to: "databases/big.db.chunk-0003")
        try fixture.write(Data(repeating: 2, count: 10), to: "databases/piece-7")
        try fixture.seal()
        for i in fixture.manifest.artifacts.indices {
            switch fixture.manifest.artifacts[i].path {
            case "databases/big.db.chunk-0003": fixture.manifest.artifacts[i].kind = .database
            case "databases/piece-7": fixture.manifest.artifacts[i].kind = .chunk
            default: break
            }
        }
        let checks = try Self.artifactChecks(fixture)
        #expect(Self.result(checks, "databases/big.db.chunk-0003")?.findings.map(\.code) == [.chunkUnowned])
        #expect(Self.result(checks, "databases/piece-7")?.findings.map(\.code) == [.chunkUnowned])
    }

    /// Listed artifacts of other kinds that nothing uses: `artifact.unreferenced` with the kind.
    @Test(arguments: [
        ("launchagents/com.maia.ghost.plist", "plist"),  // no LaunchAgent record names it
        ("databases/extra.db", "database"),  // no database record names it
        ("code-old.tar.gz", "archive"),  // the restore script extracts only code.tar.gz
    ])
    func unreferencedArtifactFails(_ name: String, _ kind: String) throws {
        let fixture = try Fixture()
        try fixture.write("left over\n", to: name)
        try fixture.seal()
        // As an engine would have recorded it (the fixture's seal guesses kinds from the folder).
        let i = try #require(fixture.manifest.artifacts.firstIndex { $0.path == name })
        fixture.manifest.artifacts[i].kind = try #require(ArtifactKind(rawValue: kind))
        fixture.manifest.artifacts[i].component = [
            "plist": .launchagents, "database": .databases, "archive": .code,
        ][kind]!
        let checks = try Self.artifactChecks(fixture)
        let check = try #require(Self.result(checks, name))
        #expect(check.verdict == .fail)
        #expect(check.has(.artifactUnreferenced, data: ["kind": kind]), "\(check.message)")
        #expect(check.message.hasPrefix("\(name): listed among the artifacts (\(kind)) but nothing in the manifest"))
        #expect(checks.problems.count == 1)
    }

    /// What every kind of reference covers: a set with a vault, a dependency list and a shell file
    /// named by its `artifact` field has nothing unreferenced; drop the references and each
    /// artifact is named.
    @Test func everyKindOfReferenceCounts() throws {
        let id = BackupID(date: Date(timeIntervalSince1970: 1_700_000_000))
        var manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        func artifact(_ path: String, _ kind: ArtifactKind, size: Int64 = 1) -> ArtifactRecord {
            ArtifactRecord(
                path: path, component: .code, kind: kind, size: size, sha256: String(repeating: "0", count: 64))
        }
        manifest.artifacts = [
            artifact("code.tar.gz", .archive), artifact("restore_maia.sh", .script),
            artifact("dependencies/python.txt", .list), artifact("shell/file-2", .config),
            artifact("credentials.vault", .vault), artifact("launchagents/a.plist", .plist),
            artifact("databases/a.db", .database, size: 3),
        ]
        manifest.files = [
            FileRecord(component: .shell, base: .home, path: ".zshrc", mode: 0o644, artifact: "shell/file-2")
        ]
        manifest.vault = VaultRecord(
            artifact: "credentials.vault", cipher: "aes-256-cbc", kdf: "pbkdf2-hmac-sha256", iterations: 1, hmac: "",
            hmacSalt: "")
        manifest.launchAgents = [
            LaunchAgentRecord(
                path: "Library/LaunchAgents/a.plist", artifact: "launchagents/a.plist", label: "a", rewritePrefixes: [],
                wasBinary: false, mode: 0o644)
        ]
        manifest.databases = [
            DatabaseRecord(
                base: .root, path: "a.db", size: 3, sha256: "", artifact: "databases/a.db", chunks: [], tables: [],
                mode: 0o644)
        ]
        #expect(ArtifactAccounting(manifest).byArtifact.isEmpty)
        #expect(ArtifactAccounting(manifest).byDatabase.isEmpty)

        manifest.files = []
        manifest.vault = nil
        manifest.launchAgents = []
        manifest.databases = []
        manifest.restoreScript = "restore_other.sh"
        let found = ArtifactAccounting(manifest).byArtifact
        #expect(
            found.keys.sorted() == [
                "credentials.vault", "databases/a.db", "launchagents/a.plist", "restore_maia.sh", "shell/file-2",
            ])
        #expect(found["databases/a.db"] == [.artifactUnreferenced(kind: .database)])
        // The code archive and the lists need no record: the restore script reads them by name and kind.
        #expect(found["code.tar.gz"] == nil && found["dependencies/python.txt"] == nil)
    }

    /// Format 1: one chunk in the chunk lists of two databases fails on that chunk, naming both.
    @Test func chunkOfTwoDatabasesFails() throws {
        let fixture = try Fixture()
        var twin = fixture.manifest.databases[1]
        twin.path = "data/big-copy.db"
        fixture.manifest.databases.append(twin)
        try fixture.seal()
        let checks = try Self.artifactChecks(fixture)
        for chunk in twin.chunks {
            let check = try #require(Self.result(checks, chunk))
            #expect(check.verdict == .fail)
            #expect(check.has(.chunkShared, data: ["databases": "data/big.db\ndata/big-copy.db"]), "\(check.message)")
            #expect(check.message.contains("chunk listed by 2 databases (data/big.db, data/big-copy.db)"))
        }
        #expect(checks.problems.count == 2)
    }

    /// Pieces that do not add up to the database's recorded size: for chunks and for a whole copy.
    @Test func piecesNotAddingUpFail() throws {
        let fixture = try Fixture()
        let big = fixture.manifest.databases[1].size
        fixture.manifest.databases[1].size += 4096
        fixture.manifest.databases[0].size -= 1
        let store = fixture.manifest.databases[0].size
        try fixture.seal()
        let checks = try Self.artifactChecks(fixture)
        let chunked = try #require(Self.result(checks, "data/big.db"))
        #expect(chunked.verdict == .fail)
        #expect(chunked.has(.chunkSizesMismatch, data: ["actual": "\(big)", "expected": "\(big + 4096)"]))
        #expect(
            chunked.message
                == "data/big.db: its 2 chunks add up to \(big) bytes, the database's recorded size is \(big + 4096)")
        let whole = try #require(Self.result(checks, "data/store.db"))
        #expect(whole.has(.chunkSizesMismatch, data: ["actual": "\(store + 1)", "expected": "\(store)"]))
        #expect(whole.message.contains("its artifact is \(store + 1) bytes"))
        #expect(checks.problems.map(\.subject).sorted() == ["data/big.db", "data/store.db"])
    }

    /// A chunk deleted (at rest) is named as the missing chunk of its database.
    @Test func deletedChunkIsNamedAsMissing() throws {
        let fixture = try Fixture()
        try FileManager.default.removeItem(atPath: fixture.path("databases/big.db.chunk-0002"))
        let check = try #require(Self.result(try Self.artifactChecks(fixture), "databases/big.db.chunk-0002"))
        #expect(check.verdict == .fail)
        #expect(check.findings.map(\.code) == [.chunkMissing])
        #expect(check.has(.chunkMissing, data: ["database": "data/big.db", "where": "set"]))
        #expect(
            check.message
                == "databases/big.db.chunk-0002: chunk databases/big.db.chunk-0002 of database data/big.db is missing from the set"
        )
    }

    /// A chunk dropped from the set and from the artifacts, the manifest resealed: the database
    /// names it, and its remaining chunk no longer adds up.
    @Test func chunkDroppedFromTheManifestIsNamedAsMissing() throws {
        let fixture = try Fixture()
        try FileManager.default.removeItem(atPath: fixture.path("databases/big.db.chunk-0001"))
        try fixture.seal()
        #expect(fixture.manifest.artifact("databases/big.db.chunk-0001") == nil)
        let checks = try Self.artifactChecks(fixture)
        let check = try #require(Self.result(checks, "data/big.db"))
        #expect(check.verdict == .fail)
        #expect(
            check.has(
                .chunkMissing,
                data: ["chunk": "databases/big.db.chunk-0001", "database": "data/big.db", "where": "manifest"]))
        #expect(
            check.message.contains(
                "chunk databases/big.db.chunk-0001 of database data/big.db is missing from the manifest's artifacts"))
        #expect(checks.problems.map(\.subject) == ["data/big.db"])
    }

    /// A chunk emptied: at rest (the manifest still records its size) and sealed (the manifest
    /// records 0 bytes): named as a 0-byte chunk, never as a generic size or digest mismatch.
    @Test func emptiedChunkIsNamedAsZeroBytes() async throws {
        let fixture = try Fixture()
        let name = "databases/big.db.chunk-0002"
        let recorded = try #require(fixture.manifest.artifact(name)).size
        try fixture.write(Data(), to: name)
        var check = try #require(Self.result(try Self.artifactChecks(fixture), name))
        #expect(check.findings.map(\.code) == [.chunkEmpty])
        #expect(check.has(.chunkEmpty, data: ["database": "data/big.db", "expected": "\(recorded)"]))
        #expect(
            check.message
                == "\(name): chunk \(name) of database data/big.db is 0 bytes (the manifest records \(recorded); no chunk is ever empty)"
        )

        try fixture.seal()
        let checks = try Self.artifactChecks(fixture)
        check = try #require(Self.result(checks, name))
        #expect(check.verdict == .fail)
        #expect(check.has(.chunkEmpty, data: ["expected": "0"]), "\(check.message)")
        #expect(check.message.contains("is 0 bytes (the manifest records it empty"))
        #expect(Self.result(checks, "data/big.db")?.has(.chunkSizesMismatch) == true)
        #expect(!checks.contains { $0.has(.artifactDigestMismatch) || $0.has(.artifactSizeMismatch) })
        let result = try await fixture.drill()
        #expect(verdicts(result, .setArtifacts)[name] == .fail)
    }
}
