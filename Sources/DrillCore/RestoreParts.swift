import Foundation

/// One part of a backup set: the unit a drill proves and a sampled drill restores on its own
/// (issue 17, docs/PROOF.md). A set is the sum of its parts; every artifact but the restore script
/// belongs to exactly one part (an artifact no step reads, which only a forged manifest has,
/// belongs to none).
///
/// Parts are numbered 1… in the order the restore script restores them (``Manifest/restoreParts()``):
/// the code packs (format 2) or `code.tar.gz` (format 1) in the manifest's artifact order, then the
/// databases, the LaunchAgents, the shell files and the vault in the manifest's order, then the
/// dependency lists. A format-2 script whose manifest says so (`script_takes_only`) takes
/// `--only N,M,…` and restores just those parts.
public struct RestorePart: Sendable, Hashable, Codable {
    /// What a part holds.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A code pack (format 2) or the code archive (format 1); ``RestorePart/name`` is its
        /// artifact path.
        case pack
        /// A database, all its pieces; ``RestorePart/name`` is its path relative to its base.
        case database
        /// A LaunchAgent; ``RestorePart/name`` is its path relative to `$HOME`.
        case launchAgent = "launchagent"
        /// A shell file; ``RestorePart/name`` is its path relative to `$HOME`.
        case shellFile = "shell"
        /// The credentials vault; ``RestorePart/name`` is its artifact path.
        case vault
        /// A dependency list (printed by the script, checked by its checksum); ``RestorePart/name``
        /// is its artifact path.
        case list
    }

    /// 1-based position in the script's order; what `--only` takes.
    public var number: Int
    /// What the part holds.
    public var kind: Kind
    /// The part's name within its set (see ``Kind``); with ``kind``, its identity across drills.
    public var name: String
    /// The artifact paths the part reads, in the order the script reads them.
    public var artifacts: [String]
    /// Stored bytes of those artifacts (each distinct artifact once), as the manifest records them.
    public var bytes: Int64

    /// Creates a part.
    public init(number: Int, kind: Kind, name: String, artifacts: [String], bytes: Int64) {
        self.number = number
        self.kind = kind
        self.name = name
        self.artifacts = artifacts
        self.bytes = bytes
    }

    /// `kind:name`, the part's identity within its set (what the proof ledger keys on).
    public var key: String { "\(kind.rawValue):\(name)" }
}

extension Manifest {
    /// The set's parts in the restore script's order (``RestorePart``), numbered from 1. The vault
    /// is a part only when the set has one with credential files to restore.
    public func restoreParts() -> [RestorePart] {
        let sizes = Dictionary(artifacts.map { ($0.path, $0.size) }, uniquingKeysWith: { first, _ in first })
        var parts: [RestorePart] = []
        func add(_ kind: RestorePart.Kind, _ name: String, _ paths: [String]) {
            var seen = Set<String>()
            let distinct = paths.filter { seen.insert($0).inserted }
            let bytes = distinct.reduce(Int64(0)) { $0 + (sizes[$1] ?? 0) }
            parts.append(
                RestorePart(number: parts.count + 1, kind: kind, name: name, artifacts: paths, bytes: bytes))
        }
        for artifact in artifacts where artifact.kind == .pack || artifact.kind == .archive {
            add(.pack, artifact.path, [artifact.path])
        }
        for db in databases {
            add(.database, db.path, db.chunks.isEmpty ? [db.artifact].compactMap { $0 } : db.chunks)
        }
        for agent in launchAgents { add(.launchAgent, agent.path, [agent.artifact]) }
        for (file, artifact) in shellFileArtifacts() {
            guard let artifact else { continue }
            add(.shellFile, file.path, [artifact])
        }
        if let vault, artifact(vault.artifact) != nil,
            files.contains(where: { $0.component == .credentials && $0.type == .file })
        {
            add(.vault, vault.artifact, [vault.artifact])
        }
        for list in artifacts where list.kind == .list { add(.list, list.path, [list.path]) }
        return parts
    }
}

/// One part a drill proved (issue 17): the payload of a `proof` history event, one entry per part.
///
/// JSON: `{"kind": "database", "name": "data/app.db", "bytes": 1234, "checks": ["set.artifacts",
/// "restore.script", "restore.tree", "db.integrity"], "objects": ["<sha256>", …]}`; `objects` (format 2)
/// are the SHA-256s of the objects the part reads, so the ledger can tell which of the destination's
/// bytes a proof covers.
public struct ProvenPart: Sendable, Hashable, Codable {
    /// What the part holds.
    public var kind: RestorePart.Kind
    /// The part's name within its set (``RestorePart/name``).
    public var name: String
    /// Stored bytes of the part (``RestorePart/bytes``).
    public var bytes: Int64
    /// The check ids that passed on it in the drill that proved it, in the drill's order.
    public var checks: [String]
    /// Format 2: the objects (SHA-256, 64 lowercase hex) the part reads; nil for format 1.
    public var objects: [String]?

    /// Creates a proven part.
    public init(kind: RestorePart.Kind, name: String, bytes: Int64, checks: [String], objects: [String]? = nil) {
        self.kind = kind
        self.name = name
        self.bytes = bytes
        self.checks = checks
        self.objects = objects
    }

    /// `kind:name`, as ``RestorePart/key``.
    public var key: String { "\(kind.rawValue):\(name)" }
}

/// What a sampled drill may spend (`drill --sample --budget`, `proof.budget`). JSON:
/// `{"seconds": 600}` or `{"bytes": 2147483648}`.
public enum SampleBudget: Sendable, Equatable, Codable {
    /// Wall time, seconds.
    case seconds(Double)
    /// Stored bytes of the parts restored.
    case bytes(Int64)

    enum CodingKeys: String, CodingKey { case seconds, bytes }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) {
            self = .seconds(seconds)
        } else {
            self = .bytes(try c.decode(Int64.self, forKey: .bytes))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .seconds(let seconds): try c.encode(seconds, forKey: .seconds)
        case .bytes(let bytes): try c.encode(bytes, forKey: .bytes)
        }
    }

    /// Parses `10m`, `1h`, `90` (a bare number is seconds) or `2GiB`, `500MB` (bytes: a unit ending
    /// in B); nil for anything else, zero or negative.
    public static func parse(_ text: String) -> SampleBudget? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasSuffix("b") { return Units.bytes(t).flatMap { $0 > 0 ? .bytes($0) : nil } }
        return Units.seconds(t).flatMap { $0 > 0 ? .seconds($0) : nil }
    }
}

extension DrillResult {
    /// The parts this drill proved (docs/PROOF.md, "What proves a part"): when `set.manifest` and
    /// `restore.script` passed and no check other than `rpo`, `rto` and `set.coverage` failed or
    /// errored, every restored part (``restoredParts``) is proven, except the vault, proven only
    /// when `credentials.vault` passed (a skip proves nothing); otherwise none. Each part names the
    /// checks that passed on it and, for format 2, the objects it reads (from `manifest`, the
    /// drilled set's).
    public func provenParts(manifest: Manifest) -> [ProvenPart] {
        guard let restoredParts, manifest.id == backupID else { return [] }
        let passed = { (id: CheckID) in self.checks.contains { $0.check == id && $0.verdict == .pass } }
        guard passed(.setManifest), passed(.restoreScript) else { return [] }
        let outside: Set<CheckID> = [.rpo, .rto, .setCoverage]
        guard !checks.contains(where: { !outside.contains($0.check) && ($0.verdict == .fail || $0.verdict == .error) })
        else { return [] }
        let byPath = Dictionary(manifest.artifacts.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let all = Dictionary(manifest.restoreParts().map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var proven: [ProvenPart] = []
        for restored in restoredParts {
            // The manifest's own part (its artifacts), matched by kind and name.
            guard let part = all[restored.key] else { continue }
            var ids: [CheckID] = [.setManifest, .setArtifacts, .restoreScript, .restoreTree]
            switch part.kind {
            case .pack: ids.insert(.restoreArchives, at: 2)
            case .database: ids.append(.dbIntegrity)
            case .launchAgent: ids += [.launchAgentsRewrite, .launchAgentsLint]
            case .vault:
                guard passed(.credentialsVault) else { continue }
                ids.append(.credentialsVault)
            case .shellFile, .list: break
            }
            let objects =
                manifest.storesObjects
                ? part.artifacts.compactMap { byPath[$0].flatMap { manifest.objectDigest(of: $0)?.hex } } : nil
            proven.append(
                ProvenPart(
                    kind: part.kind, name: part.name, bytes: part.bytes, checks: ids.filter(passed).map(\.rawValue),
                    objects: objects))
        }
        return proven
    }
}

extension Manifest {
    /// This manifest as a drill of `parts` checks it (issue 17): the artifacts those parts read and
    /// the restore script; the databases, LaunchAgents and shell files among them; the vault and
    /// the credential files only when the vault is one of them; and the code files that are
    /// members of the chosen packs (`codeMembers`, names as ``FileNameBytes/key(_:)`` bytes; nil:
    /// every code file when a code part is chosen). Everything else (id, times, checksum, HMAC) is
    /// unchanged: the narrowed value is never written or authenticated, only compared with.
    public func narrowed(to parts: [RestorePart], codeMembers: Set<[UInt8]>?) -> Manifest {
        var out = self
        var paths = Set(parts.flatMap(\.artifacts))
        paths.insert(restoreScript)
        out.artifacts = artifacts.filter { paths.contains($0.path) }
        let names = { (kind: RestorePart.Kind) in Set(parts.filter { $0.kind == kind }.map(\.name)) }
        let databases = names(.database)
        let agents = names(.launchAgent)
        let shells = names(.shellFile)
        let code = parts.contains { $0.kind == .pack }
        let vaultChosen = !names(.vault).isEmpty
        out.databases = self.databases.filter { databases.contains($0.path) }
        out.launchAgents = launchAgents.filter { agents.contains($0.path) }
        if !vaultChosen { out.vault = nil }
        out.files = files.filter { file in
            switch file.component {
            case .code: return code && (codeMembers.map { $0.contains(FileNameBytes.key(file.path)) } ?? true)
            case .shell: return shells.contains(file.path)
            case .launchagents: return agents.contains(file.path)
            case .credentials: return vaultChosen
            default: return false
            }
        }
        return out
    }
}
