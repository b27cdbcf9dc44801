import DrillCore
import Foundation
import Testing

@testable import BackupEngine

/// The rendered restore script pinned byte for byte: `Snapshots/restore_full.sh` (every step with
/// something to do) and `Snapshots/restore_empty.sh` (every step's "none in this set" branch),
/// rendered by ``RestoreScript/render(_:)`` from the manifests built here with fixed values.
///
/// A change to the script's template (`Sources/BackupEngine/RestoreScript/restore.sh`) or to the
/// generated steps shows here as a diff. Re-record after an intended change with
/// `RECORD_SNAPSHOTS=1 swift test --filter BackupEngineTests.RestoreScriptGoldenTests`, then
/// review the diff.
@Suite struct RestoreScriptGoldenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Snapshots").path
    static let recording = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"

    /// Compares `text` with golden file `name` byte for byte (or writes it when recording).
    static func assertMatches(_ text: String, named name: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let path = (folder as NSString).appendingPathComponent(name)
        let actual = Data(text.utf8)
        if recording {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try actual.write(to: URL(fileURLWithPath: path))
            return
        }
        let expected = try #require(
            FileManager.default.contents(atPath: path),
            "golden \(name) is missing: record it with RECORD_SNAPSHOTS=1", sourceLocation: sourceLocation)
        guard expected != actual else { return }
        let old = String(decoding: expected, as: UTF8.self).components(separatedBy: "\n")
        let new = text.components(separatedBy: "\n")
        let line = (0..<min(old.count, new.count)).first { old[$0] != new[$0] } ?? min(old.count, new.count)
        Issue.record(
            """
            \(name) differs from its golden file at line \(line + 1):
              golden: \(line < old.count ? old[line] : "<end of file>")
              now:    \(line < new.count ? new[line] : "<end of file>")
            If the change is intended, re-record with RECORD_SNAPSHOTS=1 and review the diff.
            """, sourceLocation: sourceLocation)
    }

    /// 64 hex characters made of `c`.
    static func digest(_ c: Character) -> String { String(repeating: c, count: 64) }

    /// A set with every step doing something: code, a whole and a chunked database (one under
    /// home), a LaunchAgent rewritten for the root, the home and a third prefix the script
    /// ignores, two shell files (one stored under a made-up name), two credentials in a vault,
    /// three dependency lists; a host name with a newline and non-ASCII characters, a quote in a path.
    static func fullManifest() -> Manifest {
        let when = Date(timeIntervalSince1970: 1_760_982_619.25)  // 2025-10-20T17:50:19.250Z
        let home = "/Users/alice"
        let root = "/Users/alice/git/maia"
        var m = Manifest(
            id: BackupID(date: when), name: "maia", startedAt: when, timeZone: "UTC",
            host: "büld-host\n.example", home: home, root: root)
        m.toolVersion = "9.9.9-golden"
        m.artifacts = [
            ArtifactRecord(path: "code.tar.gz", component: .code, kind: .archive, size: 9_000, sha256: digest("1")),
            ArtifactRecord(
                path: "databases/claude/data/store_01.db", component: .databases, kind: .database, size: 4_096,
                sha256: digest("2")),
            ArtifactRecord(
                path: "databases/claude/data/store_03.db.chunk-0001", component: .databases, kind: .chunk,
                size: 3_000, sha256: digest("3")),
            ArtifactRecord(
                path: "databases/claude/data/store_03.db.chunk-0002", component: .databases, kind: .chunk,
                size: 2_000, sha256: digest("4")),
            ArtifactRecord(
                path: "databases/.local/it's.db", component: .databases, kind: .database, size: 100,
                sha256: digest("5")),
            ArtifactRecord(
                path: "launchagents/com.maia.sync.plist", component: .launchagents, kind: .plist, size: 700,
                sha256: digest("6")),
            ArtifactRecord(
                path: "dependencies/python.txt", component: .dependencies, kind: .list, size: 30, sha256: digest("7")),
            ArtifactRecord(
                path: "dependencies/homebrew.txt", component: .dependencies, kind: .list, size: 20,
                sha256: digest("8")),
            ArtifactRecord(
                path: "dependencies/npm.txt", component: .dependencies, kind: .list, size: 10, sha256: digest("9")),
            ArtifactRecord(path: "shell/.zshrc", component: .shell, kind: .config, size: 40, sha256: digest("a")),
            ArtifactRecord(path: "shell/file-2", component: .shell, kind: .config, size: 50, sha256: digest("b")),
            ArtifactRecord(
                path: "credentials.vault", component: .credentials, kind: .vault, size: 300, sha256: digest("c")),
            ArtifactRecord(path: "restore_maia.sh", component: .code, kind: .script, size: 20_000, sha256: digest("d")),
        ]
        m.files = [
            FileRecord(component: .code, base: .root, path: "README.md", size: 7, sha256: digest("e"), mode: 0o644),
            FileRecord(
                component: .launchagents, base: .home, path: "Library/LaunchAgents/com.maia.sync.plist", size: 700,
                mode: 0o644, rewritten: true),
            FileRecord(
                component: .shell, base: .home, path: ".zshrc", size: 40, sha256: digest("a"), mode: 0o644,
                artifact: "shell/.zshrc"),
            FileRecord(component: .shell, base: .home, path: ".config/odd\tname", type: .directory, mode: 0o755),
            FileRecord(
                component: .shell, base: .home, path: ".config/odd\tname/it's", size: 50, sha256: digest("b"),
                mode: 0o600, artifact: "shell/file-2"),
            FileRecord(
                component: .credentials, base: .root, path: "claude/data/credentials/token.json", size: 30,
                hmacSHA256: digest("f"), mode: 0o600),
            FileRecord(
                component: .credentials, base: .home, path: ".config/maia/api.key", size: 17, hmacSHA256: digest("0"),
                mode: 0o600),
        ]
        m.databases = [
            DatabaseRecord(
                base: .root, path: "claude/data/store_01.db", size: 4_096, sha256: digest("2"),
                artifact: "databases/claude/data/store_01.db", chunks: [], tables: [], mode: 0o644),
            DatabaseRecord(
                base: .root, path: "claude/data/store_03.db", size: 5_000, sha256: digest("9"), artifact: nil,
                chunks: [
                    "databases/claude/data/store_03.db.chunk-0001", "databases/claude/data/store_03.db.chunk-0002",
                ],
                tables: [], mode: 0o600),
            DatabaseRecord(
                base: .home, path: ".local/it's.db", size: 100, sha256: digest("5"),
                artifact: "databases/.local/it's.db", chunks: [], tables: [], mode: 0o640),
        ]
        m.launchAgents = [
            LaunchAgentRecord(
                path: "Library/LaunchAgents/com.maia.sync.plist", artifact: "launchagents/com.maia.sync.plist",
                label: "com.maia.sync", rewritePrefixes: [root, home, "/opt/elsewhere"], wasBinary: false,
                mode: 0o644),
            LaunchAgentRecord(
                path: "Library/LaunchAgents/com.maia.a&b.plist", artifact: "launchagents/com.maia.sync.plist",
                label: "com.maia.a&b", rewritePrefixes: [], wasBinary: true, mode: 0o600),
        ]
        m.vault = VaultRecord(
            artifact: "credentials.vault", cipher: "aes-256-cbc", kdf: "pbkdf2-hmac-sha256", iterations: 600_000,
            hmac: digest("c"), hmacSalt: String(repeating: "0", count: 32))
        return m
    }

    /// A set with nothing but the script: every step's "none in this set" branch, no vault.
    static func emptyManifest() -> Manifest {
        let when = Date(timeIntervalSince1970: 1_761_015_601)  // 2025-10-21T03:00:01Z
        var m = Manifest(
            id: BackupID(date: when, sequence: 2), name: "bare", startedAt: when, timeZone: "UTC",
            host: "host", home: "/home/bob", root: "/home/bob/src")
        m.toolVersion = "9.9.9-golden"
        return m
    }

    @Test func theFullScriptRendersToTheGoldenBytes() throws {
        try Self.assertMatches(RestoreScript.render(Self.fullManifest()), named: "restore_full.sh")
    }

    /// A set written before file entries named their artifact: the shell files pair with the
    /// `shell` artifacts by position, and the script is the same.
    @Test func aSetWithoutArtifactFieldsRendersTheSameScriptByPosition() throws {
        var legacy = Self.fullManifest()
        for i in legacy.files.indices { legacy.files[i].artifact = nil }
        try Self.assertMatches(RestoreScript.render(legacy), named: "restore_full.sh")
    }

    /// With the field, position no longer matters: shell artifacts listed in another order than
    /// their files (or with other shell artifacts between them) restore each file from its own.
    @Test func theArtifactFieldWinsOverPosition() throws {
        var m = Self.fullManifest()
        let shell = m.artifacts.filter { $0.component == .shell }
        m.artifacts.removeAll { $0.component == .shell }
        m.artifacts.insert(
            ArtifactRecord(path: "shell/extra", component: .shell, kind: .config, size: 1, sha256: Self.digest("e")),
            at: 0)
        m.artifacts.insert(contentsOf: shell.reversed(), at: 0)
        let script = RestoreScript.render(m)
        #expect(script.contains("rd_restore_file 'shell/.zshrc' '.zshrc' 644\n"))
        #expect(script.contains("rd_restore_file 'shell/file-2' '.config/odd\tname/it'\\''s' 600\n"))
        #expect(!script.contains("shell/extra"))
        // The same reordering without the field would pair by position, wrongly: the reason for it.
        for i in m.files.indices { m.files[i].artifact = nil }
        #expect(RestoreScript.render(m).contains("rd_restore_file 'shell/file-2' '.zshrc' 644\n"))
    }

    /// ``fullManifest()`` as format 2: the code in two packs and the folders' pack, every database in
    /// gzip-compressed pieces (two databases sharing one object), every other artifact an object
    /// (two LaunchAgents sharing one), read from the objects folder.
    static func fullManifestFormat2() -> Manifest {
        var m = fullManifest()
        m.formatVersion = 2
        m.scriptTakesOnly = true
        m.artifacts.removeAll { $0.path == "code.tar.gz" || $0.component == .databases }
        let code = [
            ("code/pack-0001.tar.gz", "1", 5_000), ("code/pack-0002.tar.gz", "e", 3_000),
            ("code/folders.tar.gz", "f", 200),
        ].map {
            ArtifactRecord(
                path: $0.0, component: .code, kind: .pack, size: Int64($0.2), sha256: digest(Character($0.1)))
        }
        let chunks = [
            ("databases/claude/data/store_01.db.chunk-0001", "2"),
            ("databases/claude/data/store_03.db.chunk-0001", "3"),
            ("databases/claude/data/store_03.db.chunk-0002", "4"), ("databases/.local/it's.db.chunk-0001", "2"),
        ].map {
            ArtifactRecord(
                path: $0.0, component: .databases, kind: .chunk, size: 900, sha256: digest(Character($0.1)),
                compression: .gzip)
        }
        m.artifacts.insert(contentsOf: code + chunks, at: 0)
        m.databases[0].artifact = nil
        m.databases[0].chunks = [chunks[0].path]
        m.databases[2].artifact = nil
        m.databases[2].chunks = [chunks[3].path]
        return m
    }

    @Test func theFormat2ScriptRendersToTheGoldenBytes() throws {
        try Self.assertMatches(RestoreScript.render(Self.fullManifestFormat2()), named: "restore_full_format2.sh")
    }

    @Test func theEmptyFormat2ScriptRendersToTheGoldenBytes() throws {
        try Self.assertMatches(
            RestoreScript.render(Self.emptyManifest().formatTwo()), named: "restore_empty_format2.sh")
    }

    @Test func theEmptyScriptRendersToTheGoldenBytes() throws {
        try Self.assertMatches(RestoreScript.render(Self.emptyManifest()), named: "restore_empty.sh")
    }
}
