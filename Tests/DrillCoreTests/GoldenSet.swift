import Foundation
import Vault

@testable import DrillCore

/// The format-1 backup set the golden files under `Snapshots/` are made from, built in code with
/// fixed times, host, tool version, salt and password, so every byte is reproducible.
///
/// Artifact and file contents are short stand-in texts (``GoldenSet/artifactContents``), not real
/// archives or databases: the golden files pin the manifest and checksum formats, and real bytes
/// behind every digest let `sha256sum -c` check the golden `SHA256SUMS`.
enum GoldenSet {
    /// The test password the keyed golden is made with (never a real secret).
    static func password() throws -> VaultPassword { try VaultPassword("golden-test-password", origin: "golden test") }
    /// PBKDF2 iterations of the vault and the manifest HMAC: low, so the test derives the key fast.
    static let iterations = 1_000
    /// The run's HMAC salt: 16 bytes 0x00…0x0f, hex `000102…0f`.
    static let salt: [UInt8] = Array(0..<16)
    /// The key of every HMAC in the keyed golden (vault tag, credential digests, manifest HMAC).
    static func key() throws -> [UInt8] { try Vault.hmacKey(password: password(), salt: salt, iterations: iterations) }

    /// 2025-10-20T17:50:19.250Z.
    static let started = Date(timeIntervalSince1970: 1_760_982_619.25)
    static let home = "/Users/alice"
    static let root = "/Users/alice/git/maia"

    /// Bytes of every artifact of the keyed golden, by path inside the set.
    static let artifactContents: [String: Data] = [
        "code.tar.gz": Data("golden stand-in for code.tar.gz\n".utf8),
        "databases/claude/data/store_01.db": Data("golden stand-in for store_01.db\n".utf8),
        "databases/claude/data/store_03.db.chunk-0001": Data("golden stand-in, first half of store_03.db\n".utf8),
        "databases/claude/data/store_03.db.chunk-0002": Data("golden stand-in, second half of store_03.db\n".utf8),
        "launchagents/com.maia.sync.plist": Data("golden stand-in for com.maia.sync.plist\n".utf8),
        "dependencies/python.txt": Data("requests==2.32.3\nPyYAML==6.0.2\n".utf8),
        "shell/.zshrc": Data("export PATH=\"$HOME/bin:$PATH\"\n".utf8),
        "credentials.vault": Data("Salted__".utf8) + Data(Array(UInt8(0x10)..<0x18))
            + Data("golden stand-in ciphertext".utf8),
        "restore_maia.sh": Data("#!/bin/sh\n# golden stand-in for restore_maia.sh\n".utf8),
    ]

    /// A decomposed (NFD) name: `e` + U+0301 COMBINING ACUTE ACCENT, as HFS+ stores it
    /// (bytes `Re\xcc\x81sume\xcc\x81.md`); the golden pins that it is written so, not recomposed.
    static let decomposedName = "notes/Re\u{301}sume\u{301}.md"
    /// A name that is not UTF-8 (Latin-1 `é`, the byte 0xE9), in ``FileNameBytes``' marker form:
    /// written as `path` `notes/caf\xe9-latin1.md` and `path_bytes`.
    static let latin1Name = FileNameBytes.string(Array("notes/caf".utf8) + [0xE9] + Array("-latin1.md".utf8))

    /// Contents of the restored files of the keyed golden, by path relative to its base.
    static let restored: [String: Data] = [
        "README.md": Data("# maia\n".utf8),
        "notes/café.md": Data("ünïcødé in a path and in content\n".utf8),
        decomposedName: Data("a decomposed name\n".utf8),
        latin1Name: Data("a name that is not UTF-8\n".utf8),
        "bin/sync": Data("#!/bin/sh\necho sync\n".utf8),
        "Library/LaunchAgents/com.maia.sync.plist": Data("<plist/> as restored, paths rewritten\n".utf8),
        ".zshrc": Data("export PATH=\"$HOME/bin:$PATH\"\n".utf8),
        "claude/data/credentials/token.json": Data("{\"token\":\"golden-not-a-secret\"}\n".utf8),
        ".config/maia/api.key": Data("golden-not-a-key\n".utf8),
    ]

    /// The artifact record of `path` with the size and the three digests (SHA-256, MD5,
    /// QuickXorHash) of its stand-in content.
    static func artifact(_ path: String, _ component: ComponentID, _ kind: ArtifactKind) -> ArtifactRecord {
        let data = artifactContents[path]!
        return ArtifactRecord(
            path: path, component: component, kind: kind, size: Int64(data.count), digests: ArtifactDigests.of(data))
    }

    /// A regular restored file with the size and SHA-256 (or, with `key`, the HMAC) of its content.
    static func file(
        _ component: ComponentID, _ base: PathBase, _ path: String, mode: Int, key: [UInt8]? = nil,
        rewritten: Bool? = nil, artifact: String? = nil
    ) -> FileRecord {
        let data = restored[path]!
        return FileRecord(
            component: component, base: base, path: path, type: .file, size: Int64(data.count),
            sha256: key == nil && rewritten == nil ? SHA256Digest.hex(of: data) : nil,
            hmacSHA256: key.map { Vault.hmacHex(key: $0, data: data) }, mode: mode, rewritten: rewritten,
            artifact: artifact)
    }

    /// The keyed golden (`Snapshots/manifest.json`): a partial set made with a vault password,
    /// every artifact kind, every optional field present, as ``Manifest/encodedForDisk()`` receives
    /// it from the engine (HMAC applied last; the self-checksum is filled in by the encoder).
    static func keyedManifest() throws -> Manifest {
        let key = try key()
        var m = Manifest(
            id: BackupID(date: started), name: "maia", startedAt: started, timeZone: "Australia/Perth",
            host: "backup-host.example", home: home, root: root)
        m.finishedAt = Timestamp.string(started.addingTimeInterval(83.5))
        m.toolVersion = "9.9.9-golden"
        m.artifacts = [
            artifact("code.tar.gz", .code, .archive),
            artifact("databases/claude/data/store_01.db", .databases, .database),
            artifact("databases/claude/data/store_03.db.chunk-0001", .databases, .chunk),
            artifact("databases/claude/data/store_03.db.chunk-0002", .databases, .chunk),
            artifact("launchagents/com.maia.sync.plist", .launchagents, .plist),
            artifact("dependencies/python.txt", .dependencies, .list),
            artifact("shell/.zshrc", .shell, .config),
            artifact("credentials.vault", .credentials, .vault),
            artifact("restore_maia.sh", .code, .script),
        ]
        let code = [
            file(.code, .root, "README.md", mode: 0o644),
            FileRecord(component: .code, base: .root, path: "bin", type: .directory, mode: 0o755),
            file(.code, .root, "bin/sync", mode: 0o755),
            FileRecord(
                component: .code, base: .root, path: "latest", type: .symlink, mode: 0o777, linkTarget: "README.md"),
            file(.code, .root, "notes/café.md", mode: 0o600),
            file(.code, .root, decomposedName, mode: 0o644),
            file(.code, .root, latin1Name, mode: 0o644),
            // A link whose target is not UTF-8: `link_target` (display) and `link_target_bytes`.
            FileRecord(
                component: .code, base: .root, path: "latest-latin1", type: .symlink, mode: 0o777,
                linkTarget: latin1Name),
        ]
        let agents = [
            file(.launchagents, .home, "Library/LaunchAgents/com.maia.sync.plist", mode: 0o644, rewritten: true)
        ]
        let shell = [file(.shell, .home, ".zshrc", mode: 0o644, artifact: "shell/.zshrc")]
        let credentials = [
            file(.credentials, .root, "claude/data/credentials/token.json", mode: 0o600, key: key),
            file(.credentials, .home, ".config/maia/api.key", mode: 0o600, key: key),
        ]
        m.files = code + agents + shell + credentials
        let whole = artifactContents["databases/claude/data/store_01.db"]!
        let chunked =
            artifactContents["databases/claude/data/store_03.db.chunk-0001"]!
            + artifactContents["databases/claude/data/store_03.db.chunk-0002"]!
        m.databases = [
            DatabaseRecord(
                base: .root, path: "claude/data/store_01.db", size: Int64(whole.count),
                sha256: SHA256Digest.hex(of: whole),
                artifact: "databases/claude/data/store_01.db", chunks: [],
                tables: [TableCount(name: "messages", rows: 3), TableCount(name: "sessions", rows: 1)], mode: 0o644),
            DatabaseRecord(
                base: .root, path: "claude/data/store_03.db", size: Int64(chunked.count),
                sha256: SHA256Digest.hex(of: chunked), artifact: nil,
                chunks: [
                    "databases/claude/data/store_03.db.chunk-0001", "databases/claude/data/store_03.db.chunk-0002",
                ],
                tables: [TableCount(name: "events", rows: 5_000_000_000)], mode: 0o600),
        ]
        m.launchAgents = [
            LaunchAgentRecord(
                path: "Library/LaunchAgents/com.maia.sync.plist", artifact: "launchagents/com.maia.sync.plist",
                label: "com.maia.sync", rewritePrefixes: [root, home], wasBinary: true, mode: 0o644)
        ]
        func bytes(_ files: [FileRecord]) -> Int64 { files.reduce(0) { $0 + $1.size } }
        m.components = [
            ComponentRecord(
                id: .code, status: .ok, files: 6, bytes: bytes(code),
                vanished: ["claude/notes/deleted-during-the-backup.md"]),
            ComponentRecord(id: .databases, status: .ok, files: 2, bytes: Int64(whole.count + chunked.count)),
            ComponentRecord(id: .launchagents, status: .ok, files: 1, bytes: bytes(agents)),
            ComponentRecord(
                id: .dependencies, status: .failed, reason: "brew list --versions exited 1: Error: brew is locked",
                files: 1, bytes: Int64(artifactContents["dependencies/python.txt"]!.count)),
            ComponentRecord(id: .shell, status: .ok, files: 1, bytes: bytes(shell)),
            ComponentRecord(id: .credentials, status: .ok, files: 2, bytes: bytes(credentials)),
        ]
        m.warnings = [
            "claude/cache/index.sqlite: a SQLite database no databases.include glob matches; stored in code.tar.gz as a plain file"
        ]
        m.status = .partial
        m.vault = VaultRecord(
            artifact: "credentials.vault", cipher: "aes-256-cbc", kdf: "pbkdf2-hmac-sha256", iterations: iterations,
            hmac: Vault.hmacHex(key: key, data: artifactContents["credentials.vault"]!), hmacSalt: Hex.encode(salt))
        try m.applyHMAC(key: key, salt: salt)
        return m
    }

    /// Stand-in bytes of the format-2 golden's objects that format 1 does not have: two packs and
    /// the pack of folders instead of `code.tar.gz`, and gzip chunks (made by `gzip -n`, so the
    /// bytes are fixed) instead of the databases' files.
    static let formatTwoContents: [String: Data] = [
        "code/pack-0001.tar.gz": Data("golden stand-in for the first pack\n".utf8),
        "code/pack-0002.tar.gz": Data("golden stand-in for the second pack\n".utf8),
        "code/folders.tar.gz": Data("golden stand-in for the pack of folders\n".utf8),
        // The same piece in two databases: two artifacts, one object.
        "databases/claude/data/store_01.db.chunk-0001": Data("golden stand-in for a gzip chunk\n".utf8),
        "databases/claude/data/store_03.db.chunk-0001": Data("golden stand-in for a gzip chunk\n".utf8),
        "databases/claude/data/store_03.db.chunk-0002": Data("golden stand-in, a second gzip chunk\n".utf8),
    ]

    /// The format-2 golden (`Snapshots/manifest-format2.json`, `SHA256SUMS-format2`): the keyed
    /// golden as format 2 writes it (docs/SET-FORMAT.md, "Format 2"): packs (kind `pack`, the
    /// folders' last) instead of `code.tar.gz`, every database in gzip chunks (`compression`), two
    /// artifacts naming one object; every other field as the keyed golden's, HMAC included.
    static func formatTwoManifest() throws -> Manifest {
        var m = try keyedManifest()
        m.formatVersion = 2
        m.scriptTakesOnly = true
        func object(_ path: String, _ component: ComponentID, _ kind: ArtifactKind) -> ArtifactRecord {
            let data = formatTwoContents[path]!
            return ArtifactRecord(
                path: path, component: component, kind: kind, size: Int64(data.count),
                digests: ArtifactDigests.of(data), compression: kind == .chunk ? .gzip : nil)
        }
        let chunks = [
            "databases/claude/data/store_01.db.chunk-0001", "databases/claude/data/store_03.db.chunk-0001",
            "databases/claude/data/store_03.db.chunk-0002",
        ]
        m.artifacts =
            ["code/pack-0001.tar.gz", "code/pack-0002.tar.gz", "code/folders.tar.gz"].map { object($0, .code, .pack) }
            + chunks.map { object($0, .databases, .chunk) }
            + m.artifacts.filter { ![.archive, .database, .chunk].contains($0.kind) }
        m.databases[0].artifact = nil
        m.databases[0].chunks = [chunks[0]]
        m.databases[1].chunks = Array(chunks[1...])
        m.warnings = [
            "claude/cache/index.sqlite: a SQLite database no databases.include glob matches; stored in a code pack as a plain file"
        ]
        try m.applyHMAC(key: try key(), salt: salt)
        return m
    }

    /// The unkeyed golden (`Snapshots/manifest-unkeyed.json`): a complete set made without a vault
    /// password, the second of its second (`_2`), every component but code skipped, so every
    /// optional field is absent (no vault, no HMAC or salt, no reason, link target or rewritten flag).
    static func unkeyedManifest() -> Manifest {
        let when = Date(timeIntervalSince1970: 1_761_015_601)  // 2025-10-21T03:00:01Z
        var m = Manifest(
            id: BackupID(date: when, sequence: 2), name: "maia", startedAt: when, timeZone: "UTC",
            host: "backup-host.example", home: home, root: root)
        m.finishedAt = Timestamp.string(when.addingTimeInterval(1.5))
        m.toolVersion = "9.9.9-golden"
        let readme = restored["README.md"]!
        m.artifacts = [
            ArtifactRecord(
                path: "code.tar.gz", component: .code, kind: .archive, size: 45,
                sha256: String(repeating: "0123456789abcdef", count: 4)),
            ArtifactRecord(
                path: "restore_maia.sh", component: .code, kind: .script, size: 46,
                sha256: String(repeating: "fedcba9876543210", count: 4)),
        ]
        m.files = [
            FileRecord(
                component: .code, base: .root, path: "README.md", size: Int64(readme.count),
                sha256: SHA256Digest.hex(of: readme), mode: 0o644)
        ]
        m.components = [
            ComponentRecord(id: .code, status: .ok, files: 1, bytes: Int64(readme.count)),
            ComponentRecord(id: .databases, status: .skipped, reason: "no database matched claude/data/**/*.db"),
            ComponentRecord(id: .launchagents, status: .skipped, reason: "not configured"),
            ComponentRecord(id: .dependencies, status: .skipped, reason: "pip3 not found; brew not found"),
            ComponentRecord(id: .shell, status: .skipped, reason: "none of the configured shell files exists"),
            ComponentRecord(id: .credentials, status: .skipped, reason: "vault not configured"),
        ]
        return m
    }
}
