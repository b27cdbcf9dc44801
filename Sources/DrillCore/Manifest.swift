import Foundation

/// The component ids of a backup set (docs/ARCHITECTURE.md, "Vocabulary"). The same id names the
/// configuration section and the folder inside the set.
public enum ComponentID: String, Codable, Sendable, CaseIterable, Comparable {
    case code, databases, launchagents, dependencies, shell, credentials

    public static func < (lhs: ComponentID, rhs: ComponentID) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Whether a component made it into the set.
public enum ComponentStatus: String, Codable, Sendable, CaseIterable {
    /// Backed up.
    case ok
    /// Not backed up by configuration or because an optional tool is missing; `reason` says which.
    case skipped
    /// Tried and failed; `reason` holds the error. A set with a failed component is partial.
    case failed
}

/// A complete set has a valid manifest and no failed component; a partial one has a failed component.
public enum SetStatus: String, Codable, Sendable, CaseIterable {
    case complete, partial
}

/// Where a restored path is anchored: the restore's `$HOME` or its `$ROOT`.
public enum PathBase: String, Codable, Sendable, CaseIterable {
    case home, root
}

/// What an artifact is; used to pick the damage kinds and checks that apply.
public enum ArtifactKind: String, Codable, Sendable, CaseIterable {
    /// `code.tar.gz`: a gzip-compressed tar (pax) archive.
    case archive
    /// A whole SQLite database copy under `databases/`.
    case database
    /// One piece of a large database, `<name>.chunk-NNNN`.
    case chunk
    /// A LaunchAgent property list under `launchagents/` (always XML form).
    case plist
    /// A dependency list under `dependencies/`.
    case list
    /// A shell configuration file under `shell/`.
    case config
    /// `credentials.vault`.
    case vault
    /// The restore script.
    case script
    /// Format 2: one pack of the code component, `code/pack-NNNN.tar.gz` (an independent pax
    /// tar.gz of a run of files and links in path order) or `code/folders.tar.gz` (every folder,
    /// extracted last so the folders' modes and times are set after their contents).
    case pack
}

/// How an artifact's stored bytes are compressed (format 2, ``ArtifactRecord/compression``).
public enum ArtifactCompression: String, Codable, Sendable, CaseIterable {
    /// gzip (RFC 1952); the restore decompresses it with `gzip -dc`. Format 2's database chunks.
    case gzip
}

/// The `manifest.json` of a backup set, format 1 or 2 (docs/SET-FORMAT.md).
///
/// Format 2 (issue 15) keeps every field of format 1 and stores every artifact but the restore
/// script as a content-addressed object shared by the destination's sets,
/// `<destination>/objects/<ab>/<sha256>` (``storedPath(of:)``), instead of a file in the set
/// folder; the code component is in packs (``ArtifactKind/pack``) and every database in
/// gzip-compressed chunks (``ArtifactRecord/compression``).
///
/// JSON keys are snake_case as listed in each `CodingKeys`. Sizes are bytes, digests are
/// SHA-256 as 64 lowercase hex characters, times are ISO 8601 UTC with milliseconds, paths
/// inside the set are relative with `/` separators, restored paths are relative to `$HOME` or
/// `$ROOT` (see ``PathBase``).
///
/// Self-checksum: ``manifestSHA256`` is the SHA-256 of ``canonicalBody()``, the manifest encoded
/// with sorted keys and without the two self-describing fields; ``manifestHMAC`` is an
/// HMAC-SHA-256 of the same bytes, keyed from the vault password (only when one is configured).
public struct Manifest: Codable, Sendable, Equatable {
    /// The value of `format`.
    public static let formatName = "restore-drill/backup-set"
    /// The newest `format_version` this build reads and writes.
    public static let supportedFormatVersion = 2
    /// Every `format_version` this build reads (docs/SET-FORMAT.md, "Format versions").
    public static let readableFormatVersions = 1...2
    /// The file name inside a set.
    public static let fileName = "manifest.json"

    public var format: String = Manifest.formatName
    /// 1 (every artifact a file in the set folder) or 2 (artifacts are shared objects); a new
    /// manifest is format 1 until its writer says otherwise.
    public var formatVersion: Int = 1
    /// The set's id; equals its folder name.
    public var id: BackupID
    /// The configured `name`; the restore script is `restore_<name>.sh`.
    public var name: String
    /// When the backup started and finished, ISO 8601 UTC.
    public var startedAt: String
    public var finishedAt: String
    /// The IANA time zone recorded at backup time (retention buckets use the configured one).
    public var timeZone: String
    public var toolVersion: String
    public var host: String
    /// The original absolute `home` and `root` (what LaunchAgent paths are rewritten from).
    public var home: String
    public var root: String
    public var status: SetStatus
    /// The restore script's file name inside the set, e.g. `restore_maia.sh`.
    public var restoreScript: String
    /// One record per component, in ``ComponentID`` order.
    public var components: [ComponentRecord]
    /// Every artifact except `manifest.json` and `SHA256SUMS`, with size and digest.
    public var artifacts: [ArtifactRecord]
    /// Every file a correct restore produces.
    public var files: [FileRecord]
    public var databases: [DatabaseRecord]
    public var launchAgents: [LaunchAgentRecord]
    /// Messages a person should read (e.g. an unmatched SQLite file left in code.tar.gz).
    public var warnings: [String]
    /// The credentials vault, when the component is ok.
    public var vault: VaultRecord?
    /// SHA-256 of ``canonicalBody()``.
    public var manifestSHA256: String?
    /// HMAC-SHA-256 of ``canonicalBody()`` keyed from the vault password, hex; nil without a password.
    public var manifestHMAC: String?
    /// Salt (hex) of the key the manifest HMAC uses; nil without a password.
    public var manifestHMACSalt: String?
    /// `script_takes_only` (issue 17; optional, so it keeps `format_version`): `true` when the set's
    /// restore script takes `--only N,M,…` and `--list-parts` (``RestorePart``), which the engine
    /// writes for every new format-2 set. Absent (nil) or `false`: the script restores only the
    /// whole set, so a drill of some of its parts drills all of it. See ``restoresSubsets``.
    public var scriptTakesOnly: Bool?

    enum CodingKeys: String, CodingKey {
        case format, id, name, host, home, root, status, components, artifacts, files, databases, warnings, vault
        case formatVersion = "format_version"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case timeZone = "time_zone"
        case toolVersion = "tool_version"
        case restoreScript = "restore_script"
        case launchAgents = "launchagents"
        case manifestSHA256 = "manifest_sha256"
        case manifestHMAC = "manifest_hmac"
        case manifestHMACSalt = "manifest_hmac_salt"
        case scriptTakesOnly = "script_takes_only"
    }

    /// A manifest with the given identity and empty contents.
    public init(
        id: BackupID, name: String, startedAt: Date, timeZone: String, host: String, home: String, root: String
    ) {
        self.id = id
        self.name = name
        self.startedAt = Timestamp.string(startedAt)
        self.finishedAt = self.startedAt
        self.timeZone = timeZone
        self.toolVersion = ToolInfo.version
        self.host = host
        self.home = home
        self.root = root
        self.status = .complete
        self.restoreScript = "restore_\(name).sh"
        self.components = []
        self.artifacts = []
        self.files = []
        self.databases = []
        self.launchAgents = []
        self.warnings = []
    }

    /// True when the set's restore script restores a subset of its parts (`--only`): a format-2
    /// set whose manifest says `script_takes_only: true`.
    public var restoresSubsets: Bool { storesObjects && scriptTakesOnly == true }

    /// The record of component `id`, if present.
    public func component(_ id: ComponentID) -> ComponentRecord? { components.first { $0.id == id } }

    /// The artifact stored at `path` (relative to the set), if listed.
    public func artifact(_ path: String) -> ArtifactRecord? { artifacts.first { $0.path == path } }

    /// The shell files a restore copies (component `shell`, type `file`), in manifest order, each
    /// with the path of the artifact it is copied from: its ``FileRecord/artifact`` field. A set
    /// written before that field existed (no shell file has it) pairs them with the `shell`
    /// artifacts by position instead, as it was written; a shell file without the field in a set
    /// that has it elsewhere has no artifact (nil), and so is not restored.
    public func shellFileArtifacts() -> [(file: FileRecord, artifact: String?)] {
        let files = self.files.filter { $0.component == .shell && $0.type == .file }
        if files.contains(where: { $0.artifact != nil }) { return files.map { ($0, $0.artifact) } }
        let positional = artifacts.filter { $0.component == .shell }.map(\.path)
        return files.enumerated().map { i, file in (file, i < positional.count ? positional[i] : nil) }
    }

    /// The bytes the self-checksum and HMAC cover: this manifest with ``manifestSHA256``,
    /// ``manifestHMAC`` removed, encoded as sorted-key JSON.
    public func canonicalBody() throws -> Data {
        var copy = self
        copy.manifestSHA256 = nil
        copy.manifestHMAC = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(copy)
    }

    /// SHA-256 hex of ``canonicalBody()``.
    public func computedSHA256() throws -> String { SHA256Digest.hex(of: try canonicalBody()) }

    /// The bytes written to `manifest.json`: pretty-printed sorted-key JSON with the self-checksum
    /// filled in (the HMAC, if any, must be set by the caller beforehand), ending with a newline.
    public func encodedForDisk() throws -> Data {
        var copy = self
        copy.manifestSHA256 = try computedSHA256()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(copy)
        data.append(0x0a)
        return data
    }

    /// Reads and validates `manifest.json` bytes: JSON shape, `format`, `format_version`.
    /// Does not check the self-checksum; see ``verifySelfChecksum()``.
    /// - Parameter path: used in error messages only.
    /// - Throws: ``RestoreDrillError/invalidSet(path:message:)`` naming what is wrong.
    public static func decode(_ data: Data, path: String) throws -> Manifest {
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch let error as DecodingError {
            throw RestoreDrillError.invalidSet(path: path, message: "manifest does not parse: \(describe(error))")
        } catch {
            throw RestoreDrillError.invalidSet(path: path, message: "manifest does not parse: \(error)")
        }
        guard manifest.format == formatName else {
            throw RestoreDrillError.invalidSet(
                path: path, message: "format is \"\(manifest.format)\", expected \"\(formatName)\"")
        }
        guard readableFormatVersions.contains(manifest.formatVersion) else {
            throw RestoreDrillError.invalidSet(
                path: path,
                message:
                    "format_version \(manifest.formatVersion) is not supported (this build reads "
                    + "\(readableFormatVersions.map(String.init).joined(separator: " and ")))"
            )
        }
        return manifest
    }

    /// Loads `<setPath>/manifest.json`.
    /// - Throws: ``RestoreDrillError/invalidSet(path:message:)`` when missing or invalid.
    public static func load(setPath: String) throws -> Manifest {
        let path = (setPath as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RestoreDrillError.invalidSet(path: path, message: "manifest.json is missing or unreadable")
        }
        return try decode(data, path: path)
    }

    /// True when ``manifestSHA256`` is present and equals the SHA-256 of ``canonicalBody()``.
    public func verifySelfChecksum() throws -> Bool {
        guard let recorded = manifestSHA256 else { return false }
        return try recorded == computedSHA256()
    }

    /// A one-line description of a decoding error that names the key path.
    public static func describe(_ error: DecodingError) -> String {
        func path(_ p: [any CodingKey]) -> String {
            p.isEmpty ? "top level" : p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let ctx): return "missing key \(path(ctx.codingPath + [key]))"
        case .typeMismatch(_, let ctx): return "wrong type at \(path(ctx.codingPath)): \(ctx.debugDescription)"
        case .valueNotFound(_, let ctx): return "null at \(path(ctx.codingPath))"
        case .dataCorrupted(let ctx): return "invalid data at \(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// One component's outcome in a manifest.
public struct ComponentRecord: Codable, Sendable, Equatable {
    public var id: ComponentID
    public var status: ComponentStatus
    /// Why it was skipped or how it failed; nil when ok.
    public var reason: String?
    /// Number of files the component restores (for `code`: archive members that are files or links).
    public var files: Int
    /// Total bytes of those files before compression.
    public var bytes: Int64
    /// Paths (relative to root, `/`-separated, sorted) that the backup listed but that were gone
    /// when it came to read them (deleted or moved by the user or an application in between):
    /// not stored, and the component stays `ok` (issue 11: a file that vanishes is not a failure
    /// of the whole component). The drill reports each as a skipped `restore.tree` subject.
    /// Absent (nil) when none vanished; a format-1 reader that does not know the key ignores it.
    public var vanished: [String]?

    public init(
        id: ComponentID, status: ComponentStatus, reason: String? = nil, files: Int = 0, bytes: Int64 = 0,
        vanished: [String]? = nil
    ) {
        self.id = id
        self.status = status
        self.reason = reason
        self.files = files
        self.bytes = bytes
        self.vanished = vanished
    }
}

/// One file stored in the set.
public struct ArtifactRecord: Codable, Sendable, Equatable {
    /// Its name in the set, `/`-separated, unique in the set, e.g. `databases/0003.db.chunk-0001`.
    /// Format 1: where the file is, relative to the set folder. Format 2: the name reports and the
    /// manifest use; the bytes are the object ``Manifest/storedPath(of:)`` names (the restore
    /// script's alone stay in the set folder at this path).
    public var path: String
    public var component: ComponentID
    public var kind: ArtifactKind
    /// Bytes stored (on disk; for a compressed artifact, the compressed bytes).
    public var size: Int64
    /// SHA-256 of the stored bytes, 64 lowercase hex; in format 2 also the object's name.
    public var sha256: String
    /// Format 2: how the stored bytes are compressed (database chunks: gzip); absent when they are
    /// stored as they are restored.
    public var compression: ArtifactCompression?
    /// MD5 of the stored bytes (format 2: the object's), 32 lowercase hex as `md5sum` prints: what
    /// an off-site check compares with a remote that reports MD5 (S3, SFTP; issue 16). Optional:
    /// absent in sets written before the field existed, which a remote check then verifies by
    /// another hash or by reading the bytes back. A transfer check only; SHA-256 stays the proof.
    public var md5: String?
    /// QuickXorHash of the stored bytes (format 2: the object's), the 20-byte digest in standard
    /// base64 (RFC 4648 §4, 28 characters) as OneDrive's API reports it (``QuickXorHasher``): the
    /// only hash OneDrive offers. rclone 1.60 prints it as hex
    /// (``ArtifactDigests/quickXorHashHex(fromBase64:)``). Optional, as ``md5`` is.
    public var quickXorHash: String?

    enum CodingKeys: String, CodingKey {
        case path, component, kind, size, sha256, compression, md5
        case quickXorHash = "quickxorhash"
    }

    /// - Parameters: as the properties; `md5` and `quickXorHash` nil leave the keys out.
    public init(
        path: String, component: ComponentID, kind: ArtifactKind, size: Int64, sha256: String,
        compression: ArtifactCompression? = nil, md5: String? = nil, quickXorHash: String? = nil
    ) {
        self.path = path
        self.component = component
        self.kind = kind
        self.size = size
        self.sha256 = sha256
        self.compression = compression
        self.md5 = md5
        self.quickXorHash = quickXorHash
    }

    /// A record with the three digests of its stored bytes (``ArtifactDigests``).
    /// - Parameters: as the properties; `digests` gives ``sha256``, ``md5`` and ``quickXorHash``.
    public init(
        path: String, component: ComponentID, kind: ArtifactKind, size: Int64, digests: ArtifactDigests,
        compression: ArtifactCompression? = nil
    ) {
        self.init(
            path: path, component: component, kind: kind, size: size, sha256: digests.sha256,
            compression: compression, md5: digests.md5, quickXorHash: digests.quickXorHash)
    }

    /// The three digests, when both optional ones are recorded.
    public var digests: ArtifactDigests? {
        guard let md5, let quickXorHash else { return nil }
        return ArtifactDigests(sha256: sha256, md5: md5, quickXorHash: quickXorHash)
    }
}

/// What a restored path is.
public enum FileType: String, Codable, Sendable, CaseIterable {
    case file, symlink, directory
}

/// One path a correct restore produces.
///
/// **Names are bytes** (issue 12). A path is the exact bytes of the name on disk: a decomposed
/// (NFD) name is recorded decomposed, and its composed (NFC) twin in the same folder is another
/// record; readers compare paths byte for byte (``FileNameBytes``), never with Unicode
/// equivalence. A name that is not valid UTF-8 (possible on Linux) cannot be a JSON string as
/// it is, so its record has two keys:
/// - `path_bytes`: the exact bytes of the whole relative path, standard base64 (RFC 4648 §4,
///   with padding). When present it is the path; readers of this build use it and nothing else.
/// - `path`: a display form for people and older readers, the path with every byte that is not
///   part of valid UTF-8 written `\xNN` (``FileNameBytes/display(_:)``), e.g. `docs/caf\xe9.txt`.
///
/// A format-1 reader that ignores `path_bytes` looks for a file literally named like the display
/// form, which the restore does not make, and finds the restored file under no record: it reports
/// one missing and one extra path (a failed drill), never one file taken for another. In memory,
/// ``path`` holds the lossless marker form of such a name (``FileNameBytes/string(_:)``); the
/// coding turns it into the two keys and back. `path_bytes` is absent for every UTF-8 name. A
/// link target that is not UTF-8 is kept the same way: `link_target` (display) and
/// `link_target_bytes` (base64 of the exact bytes).
public struct FileRecord: Codable, Sendable, Equatable {
    public var component: ComponentID
    public var base: PathBase
    /// Relative to `$HOME` or `$ROOT` (see ``base``), `/`-separated, never `..` or absolute; the
    /// exact bytes of the names on disk (a name that is not UTF-8 in the marker form of
    /// ``FileNameBytes``, stored as `path_bytes`).
    public var path: String
    public var type: FileType
    /// Bytes (0 for links and folders).
    public var size: Int64
    /// SHA-256 of the restored content; nil for links, folders, credentials (see ``hmacSHA256``)
    /// and LaunchAgents (whose content depends on the restore target; see ``rewritten``).
    public var sha256: String?
    /// For credentials: HMAC-SHA-256 of the content keyed from the vault password, hex.
    public var hmacSHA256: String?
    /// Permission bits (e.g. 0o644 is 420).
    public var mode: Int
    /// For symlinks: the link target as stored, its exact bytes (a target that is not UTF-8 in
    /// the marker form of ``FileNameBytes``, stored as `link_target_bytes` beside a `\xNN`
    /// display form in `link_target`, as ``path`` is).
    public var linkTarget: String?
    /// True when the restore rewrites paths inside the file (LaunchAgents); `launchagents.rewrite`
    /// checks the content instead of a digest.
    public var rewritten: Bool?
    /// For shell files (component `shell`, type `file`): the artifact the restore copies to
    /// ``path``, relative to the set (e.g. `shell/.zshrc`, or `shell/file-2` for an unsafe name).
    /// Optional, so format 1 keeps its version: a format-1 reader may ignore it. Nil for every other
    /// file, and in sets written before the field existed; for those (no shell file has it) the
    /// shell files pair with the `shell` artifacts in order, the rule they were written with
    /// (``shellFileArtifacts()``).
    public var artifact: String?

    enum CodingKeys: String, CodingKey {
        case component, base, path, type, size, sha256, mode, rewritten, artifact
        case pathBytes = "path_bytes"
        case hmacSHA256 = "hmac_sha256"
        case linkTarget = "link_target"
        case linkTargetBytes = "link_target_bytes"
    }

    /// Reads a record; `path_bytes`, when present, is the path (see the type's description).
    /// - Throws: `DecodingError.dataCorrupted` when `path_bytes` is not base64.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        component = try c.decode(ComponentID.self, forKey: .component)
        base = try c.decode(PathBase.self, forKey: .base)
        path = try Self.name(c, shown: .path, bytes: .pathBytes) ?? ""
        type = try c.decode(FileType.self, forKey: .type)
        size = try c.decode(Int64.self, forKey: .size)
        sha256 = try c.decodeIfPresent(String.self, forKey: .sha256)
        hmacSHA256 = try c.decodeIfPresent(String.self, forKey: .hmacSHA256)
        mode = try c.decode(Int.self, forKey: .mode)
        linkTarget = try Self.name(c, shown: .linkTarget, bytes: .linkTargetBytes)
        rewritten = try c.decodeIfPresent(Bool.self, forKey: .rewritten)
        artifact = try c.decodeIfPresent(String.self, forKey: .artifact)
    }

    /// A name stored as a display form under `shown` and, when it is not UTF-8, its exact bytes
    /// (base64) under `bytes`; the bytes win. `path` is required (a missing one throws), a link
    /// target is optional (nil when absent).
    /// - Throws: `DecodingError` when `bytes` is not base64 or `path` is missing.
    private static func name(
        _ c: KeyedDecodingContainer<CodingKeys>, shown: CodingKeys, bytes: CodingKeys
    ) throws -> String? {
        let text =
            shown == .path
            ? try c.decode(String.self, forKey: shown) : try c.decodeIfPresent(String.self, forKey: shown)
        if let encoded = try c.decodeIfPresent(String.self, forKey: bytes) {
            guard let decoded = Data(base64Encoded: encoded) else {
                throw DecodingError.dataCorruptedError(
                    forKey: bytes, in: c, debugDescription: "\(bytes.stringValue) is not base64")
            }
            return FileNameBytes.string(decoded)
        }
        return text.map { FileNameBytes.string(Array($0.utf8)) }
    }

    /// Writes a record: `path` (the display form for a name that is not UTF-8) and, for such a
    /// name only, `path_bytes`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(component, forKey: .component)
        try c.encode(base, forKey: .base)
        try c.encode(FileNameBytes.display(path), forKey: .path)
        if FileNameBytes.holdsRawBytes(path) {
            try c.encode(Data(FileNameBytes.bytes(path)).base64EncodedString(), forKey: .pathBytes)
        }
        try c.encode(type, forKey: .type)
        try c.encode(size, forKey: .size)
        try c.encodeIfPresent(sha256, forKey: .sha256)
        try c.encodeIfPresent(hmacSHA256, forKey: .hmacSHA256)
        try c.encode(mode, forKey: .mode)
        try c.encodeIfPresent(linkTarget.map(FileNameBytes.display), forKey: .linkTarget)
        if let linkTarget, FileNameBytes.holdsRawBytes(linkTarget) {
            try c.encode(Data(FileNameBytes.bytes(linkTarget)).base64EncodedString(), forKey: .linkTargetBytes)
        }
        try c.encodeIfPresent(rewritten, forKey: .rewritten)
        try c.encodeIfPresent(artifact, forKey: .artifact)
    }

    public init(
        component: ComponentID, base: PathBase, path: String, type: FileType = .file, size: Int64 = 0,
        sha256: String? = nil, hmacSHA256: String? = nil, mode: Int, linkTarget: String? = nil,
        rewritten: Bool? = nil, artifact: String? = nil
    ) {
        self.component = component
        self.base = base
        self.path = path
        self.type = type
        self.size = size
        self.sha256 = sha256
        self.hmacSHA256 = hmacSHA256
        self.mode = mode
        self.linkTarget = linkTarget
        self.rewritten = rewritten
        self.artifact = artifact
    }
}

/// Rows in one table of a database, as counted at backup time.
public struct TableCount: Codable, Sendable, Equatable {
    public var name: String
    public var rows: Int64

    public init(name: String, rows: Int64) {
        self.name = name
        self.rows = rows
    }
}

/// One SQLite database in the set.
public struct DatabaseRecord: Codable, Sendable, Equatable {
    public var base: PathBase
    /// Where the database is restored, relative to ``base``.
    public var path: String
    /// Whole-file bytes and SHA-256 of the copy (rollback-journal mode) as the restore produces it.
    public var size: Int64
    public var sha256: String
    /// The single artifact holding the copy, or nil when chunked.
    public var artifact: String?
    /// The chunk artifacts in the order they are concatenated (`…chunk-0001` first); empty when whole.
    public var chunks: [String]
    /// Tables and row counts, sorted by table name.
    public var tables: [TableCount]
    /// Permission bits of the original file.
    public var mode: Int

    public init(
        base: PathBase, path: String, size: Int64, sha256: String, artifact: String?, chunks: [String],
        tables: [TableCount], mode: Int
    ) {
        self.base = base
        self.path = path
        self.size = size
        self.sha256 = sha256
        self.artifact = artifact
        self.chunks = chunks
        self.tables = tables
        self.mode = mode
    }
}

/// One LaunchAgent in the set.
public struct LaunchAgentRecord: Codable, Sendable, Equatable {
    /// Where it is restored, relative to `$HOME` (e.g. `Library/LaunchAgents/com.maia.x.plist`).
    public var path: String
    /// The stored XML plist, relative to the set.
    public var artifact: String
    /// The `Label` key at backup time.
    public var label: String
    /// Absolute prefixes the restore rewrites, longest first (the old root, then the old home).
    public var rewritePrefixes: [String]
    /// True when the original was a binary plist (stored converted to XML).
    public var wasBinary: Bool
    /// Permission bits of the original file.
    public var mode: Int

    enum CodingKeys: String, CodingKey {
        case path, artifact, label, mode
        case rewritePrefixes = "rewrite_prefixes"
        case wasBinary = "was_binary"
    }

    public init(path: String, artifact: String, label: String, rewritePrefixes: [String], wasBinary: Bool, mode: Int) {
        self.path = path
        self.artifact = artifact
        self.label = label
        self.rewritePrefixes = rewritePrefixes
        self.wasBinary = wasBinary
        self.mode = mode
    }
}

/// The credentials vault: how it was encrypted and its authentication tag.
public struct VaultRecord: Codable, Sendable, Equatable {
    /// `credentials.vault`.
    public var artifact: String
    /// `aes-256-cbc` (what `openssl enc` calls it).
    public var cipher: String
    /// `pbkdf2-hmac-sha256`.
    public var kdf: String
    /// PBKDF2 iterations, passed to `openssl enc -iter`.
    public var iterations: Int
    /// HMAC-SHA-256 tag over the whole vault file, hex.
    public var hmac: String
    /// Salt of the HMAC key derivation, hex.
    public var hmacSalt: String

    enum CodingKeys: String, CodingKey {
        case artifact, cipher, kdf, iterations, hmac
        case hmacSalt = "hmac_salt"
    }

    public init(artifact: String, cipher: String, kdf: String, iterations: Int, hmac: String, hmacSalt: String) {
        self.artifact = artifact
        self.cipher = cipher
        self.kdf = kdf
        self.iterations = iterations
        self.hmac = hmac
        self.hmacSalt = hmacSalt
    }
}
