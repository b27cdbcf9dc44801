import DrillCore
import Foundation

/// The part of `set.artifacts` that reads the manifest only (issue 12, "Chunked databases"): every
/// listed artifact is used by something in the manifest, every chunk belongs to a database, and
/// each database's pieces add up to its recorded size. A file in the set that the manifest lists
/// but nothing uses is never read by a restore, so a set that passes only because such a file is
/// intact proves nothing; a chunk outside every chunk list is the classic case.
///
/// What uses an artifact (by its path in the set, whatever its recorded kind):
/// - `code.tar.gz`, which the restore script extracts by that name;
/// - a database's ``DatabaseRecord/artifact`` or one of its ``DatabaseRecord/chunks``;
/// - a LaunchAgent's ``LaunchAgentRecord/artifact``;
/// - a shell file's artifact (``Manifest/shellFileArtifacts()``);
/// - the vault's ``VaultRecord/artifact``;
/// - the restore script (``Manifest/restoreScript``);
/// - any artifact of kind `list` (the restore script prints every dependency list).
///
/// Format 1 gives every chunk exactly one database; a later format whose sets share objects may
/// let one object serve several references, so that rule is keyed on the format version.
struct ArtifactAccounting {
    /// Findings about one listed artifact, by its path in the set.
    var byArtifact: [String: [Finding]] = [:]
    /// Findings about one database, by its restored path, in manifest order.
    var byDatabase: [(database: String, findings: [Finding])] = []
    /// The database (restored path) that lists each chunk first, by chunk path.
    var chunkOwners: [String: String] = [:]

    /// Accounts for every artifact and database of `manifest`.
    init(_ manifest: Manifest) {
        var used: Set<String> = ["code.tar.gz", manifest.restoreScript]
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
            if manifest.formatVersion == 1, chunkLike || chunkOwners[artifact.path] != nil,
                let dbs = owners[artifact.path], dbs.count > 1
            {
                found.append(.chunkShared(dbs))
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
            let sizes = pieces.compactMap { listed[$0]?.size }
            if !pieces.isEmpty, sizes.count == pieces.count, sizes.reduce(0, +) != db.size {
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
