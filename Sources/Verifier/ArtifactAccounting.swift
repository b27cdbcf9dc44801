import DrillCore
import Foundation

/// The part of `set.artifacts` that reads the manifest only (issue 12, "Chunked databases"): every
/// listed artifact is used by something in the manifest, every chunk belongs to a database, and
/// each database's pieces add up to its recorded size. A file in the set that the manifest lists
/// but nothing uses is never read by a restore, so a set that passes only because such a file is
/// intact proves nothing; a chunk outside every chunk list is the classic case.
///
/// What uses an artifact (by its path in the set, whatever its recorded kind):
/// - `code.tar.gz`, which the restore script extracts by that name (format 2: every `pack`);
/// - a database's ``DatabaseRecord/artifact`` or one of its ``DatabaseRecord/chunks``;
/// - a LaunchAgent's ``LaunchAgentRecord/artifact``;
/// - a shell file's artifact (``Manifest/shellFileArtifacts()``);
/// - the vault's ``VaultRecord/artifact``;
/// - the restore script (``Manifest/restoreScript``);
/// - any artifact of kind `list` (the restore script prints every dependency list).
///
/// A chunk (one artifact path) belongs to exactly one database in every format. Format 2 (issue
/// 15) differs in what is used and what adds up:
/// - the code component is its packs (every artifact of kind `pack`, extracted in manifest order);
///   no `code.tar.gz` is read, so one listed is unused;
/// - every database is chunked (``DatabaseRecord/artifact`` nil, ``DatabaseRecord/chunks`` not
///   empty), each chunk recorded gzip-compressed (``ArtifactRecord/compression``);
/// - the chunks' sizes are compressed bytes, so they do not add up to the database's size (not
///   checked: the restore script checks the whole database's SHA-256 and `db.integrity` the rest);
/// - two chunks (of one database or of two) may record one object (the same SHA-256 under other
///   paths); the same chunk path listed by two databases still fails.
struct ArtifactAccounting {
    /// Findings about one listed artifact, by its path in the set.
    var byArtifact: [String: [Finding]] = [:]
    /// Findings about one database, by its restored path, in manifest order.
    var byDatabase: [(database: String, findings: [Finding])] = []
    /// The database (restored path) that lists each chunk first, by chunk path.
    var chunkOwners: [String: String] = [:]

    /// Accounts for every artifact and database of `manifest`.
    init(_ manifest: Manifest) {
        let format2 = manifest.storesObjects
        var used: Set<String> = [manifest.restoreScript]
        if format2 {
            used.formUnion(manifest.artifacts.filter { $0.kind == .pack }.map(\.path))
        } else {
            used.insert("code.tar.gz")
        }
        var owners: [String: [String]] = [:]
        for db in manifest.databases {
            if let artifact = db.artifact {
                used.insert(artifact)
                owners[artifact, default: []].append(db.path)
            }
            for chunk in db.chunks {
                used.insert(chunk)
                if owners[chunk]?.last != db.path { owners[chunk, default: []].append(db.path) }
                if chunkOwners[chunk] == nil { chunkOwners[chunk] = db.path }
            }
        }
        used.formUnion(manifest.launchAgents.map(\.artifact))
        used.formUnion(manifest.shellFileArtifacts().compactMap(\.artifact))
        if let vault = manifest.vault { used.insert(vault.artifact) }

        let listed = Dictionary(manifest.artifacts.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for artifact in manifest.artifacts {
            var found: [Finding] = []
            let chunkLike = artifact.kind == .chunk || Self.looksLikeChunk(artifact.path)
            if !used.contains(artifact.path) && artifact.kind != .list {
                found.append(chunkLike ? .chunkUnowned : .artifactUnreferenced(kind: artifact.kind))
            }
            if chunkLike || chunkOwners[artifact.path] != nil, let dbs = owners[artifact.path], dbs.count > 1 {
                found.append(.chunkShared(dbs))
            }
            if format2, let owner = chunkOwners[artifact.path], artifact.compression != .gzip {
                found.append(.chunkNotCompressed(artifact.path, database: owner))
            }
            if let owner = chunkOwners[artifact.path], artifact.size == 0 {
                found.append(.chunkEmpty(artifact.path, database: owner, recorded: 0))
            }
            if !found.isEmpty { byArtifact[artifact.path, default: []] += found }
        }
        for db in manifest.databases {
            var found: [Finding] = []
            let pieces = db.chunks.isEmpty ? (db.artifact.map { [$0] } ?? []) : db.chunks
            for chunk in db.chunks where listed[chunk] == nil {
                found.append(.chunkMissing(chunk, database: db.path, whereMissing: "manifest"))
            }
            if format2 && (db.artifact != nil || db.chunks.isEmpty) {
                found.append(.databaseNotChunked(db.path))
            }
            let sizes = pieces.compactMap { listed[$0]?.size }
            if !format2, !pieces.isEmpty, sizes.count == pieces.count, sizes.reduce(0, +) != db.size {
                found.append(.chunkSizesMismatch(pieces: pieces.count, sum: sizes.reduce(0, +), recorded: db.size))
            }
            if !found.isEmpty { byDatabase.append((db.path, found)) }
        }
    }

    /// `result` (one artifact's `set.artifacts` result) with this accounting's findings about its
    /// artifact added: a pass becomes a failure, a failure or error keeps its verdict.
    func merged(into result: CheckResult) -> CheckResult {
        guard let extra = byArtifact[result.subject], !extra.isEmpty else { return result }
        return CheckResult(
            check: .setArtifacts, subject: result.subject, verdict: result.verdict == .pass ? .fail : result.verdict,
            findings: result.findings + extra, evidence: result.evidence, seconds: result.seconds)
    }

    /// One failed `set.artifacts` result per database with findings, subject its restored path.
    func databaseResults() -> [CheckResult] {
        byDatabase.map { CheckResult(check: .setArtifacts, subject: $0.database, findings: $0.findings) }
    }

    /// True when `path` ends with `.chunk-` and four digits, the names the engine gives chunks.
    static func looksLikeChunk(_ path: String) -> Bool {
        let tail = Array(path.utf8.suffix(11))
        guard tail.count == 11, tail.starts(with: Array(".chunk-".utf8)) else { return false }
        return tail.dropFirst(7).allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
