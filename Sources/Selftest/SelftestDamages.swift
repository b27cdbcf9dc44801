import CArchive
import DrillCore
import Foundation
import Vault
import Verifier

/// Where a damage happened (README, "Selftest"): "at rest" changes the set after it was written and leaves
/// its digests alone; "sealed" also rewrites the manifest digests, `SHA256SUMS` and the manifest
/// self-checksum consistently, as a buggy engine or a corrupt source would, so that only a deeper
/// check can catch it.
public enum DamageKind: String, Codable, Sendable {
    case atRest = "at rest"
    case sealed
}

/// What one damage works on: a private copy of a good set, never the good set itself.
final class DamageContext {
    /// The damaged copy, `<selftest>/damaged/<damage-id>/<set-id>`.
    let setPath: AbsolutePath
    /// Its manifest; a damage edits it and calls ``seal(renderScript:)``.
    var manifest: Manifest
    /// A scratch folder for this damage.
    let scratch: AbsolutePath
    /// The folder sandboxes are made in (a script writing `../../x` from its work folder lands here).
    let sandboxFolder: AbsolutePath
    /// The real temporary folder and home of this process (where hostile scripts try to write).
    let realTemp: AbsolutePath
    let realHome: AbsolutePath
    /// A random token naming the files a hostile script tries to create.
    let token: String
    /// The subject the expected check must name (e.g. the damaged artifact), when it matters.
    var expectedSubject: String?
    /// The finding the expected check must hold (e.g. ``Finding/Code/scriptTimedOut``), when it
    /// matters, with data it must include (e.g. `status` `1`).
    var expectedFinding: (code: Finding.Code, data: [String: String])?
    /// Checks made after the drill (nothing escaped, nobody connected); each returns a problem or nil.
    var afterDrill: [(DrillResult) -> String?] = []
    /// Kept alive for the network damage.
    var listener: LoopbackListener?
    /// The vault password the drill of this damage is given (damages with
    /// ``SelftestDamage/vault``: the good set was made with it); nil otherwise.
    var password: VaultPassword?
    /// The report folder of this damage's drill, once it ran (for checks that read the reports).
    var reportFolder: String?
    /// Format 2: bytes of each piece of a database before compression, by its index in
    /// `manifest.databases`, as ``databaseFile(_:)`` found them (the first piece's size; nil for
    /// a database of one piece).
    var pieceBytes: [Int: Int] = [:]

    init(
        setPath: AbsolutePath, manifest: Manifest, scratch: AbsolutePath, sandboxFolder: AbsolutePath,
        realTemp: AbsolutePath, realHome: AbsolutePath
    ) {
        self.setPath = setPath
        self.manifest = manifest
        self.scratch = scratch
        self.sandboxFolder = sandboxFolder
        self.realTemp = realTemp
        self.realHome = realHome
        self.token = Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255) })
    }

    /// How the drill names the object of `artifact` (format 2): `objects/<ab>/<sha256>`; nil for a
    /// file of the set folder.
    func objectName(_ artifact: ArtifactRecord) -> String? {
        manifest.objectDigest(of: artifact).map { "\(Manifest.objectsFolderName)/\($0.fanOut)/\($0.hex)" }
    }

    /// Format 2: the damaged copy's own objects folder, `<selftest>/damaged/<damage-id>/objects`
    /// (copies of the good set's objects: a damage never touches another copy's).
    var objects: AbsolutePath { SetSealer.objectsFolder(of: setPath) }

    /// Where the bytes of the artifact `relative` (an artifact name of the good set, or a file of
    /// the set folder) are now: format 1, and every file of the set folder, the file `relative` of
    /// the copy; format 2, the object the manifest names for that artifact. A damage edits them in
    /// place: an object edited in place and sealed (``seal(renderScript:)``) takes its new
    /// digest's name.
    func path(_ relative: String) -> String {
        if let artifact = manifest.artifact(relative), let digest = manifest.objectDigest(of: artifact) {
            return SetSealer.objectFile(digest, in: objects).pathString
        }
        guard let inside = try? RelativePath(validatingBeneath: relative) else {
            preconditionFailure("not a name inside the set: \(relative)")
        }
        return setPath.appending(inside).pathString
    }

    /// Rewrites digests, SHA256SUMS and the manifest checksum (see ``SetSealer``).
    func seal(renderScript: Bool = true) throws {
        try SetSealer.seal(setPath: setPath, manifest: &manifest, renderScript: renderScript)
    }

    /// The first artifact of `kind`.
    func artifact(_ kind: ArtifactKind, where filter: (ArtifactRecord) -> Bool = { _ in true }) throws
        -> ArtifactRecord
    {
        guard let a = manifest.artifacts.first(where: { $0.kind == kind && filter($0) }) else {
            throw RestoreDrillError.runtime("the good set has no \(kind.rawValue) artifact to damage")
        }
        return a
    }

    /// Inverts one byte in the middle of an artifact.
    func flipByte(_ relative: String) throws {
        guard var data = FileManager.default.contents(atPath: path(relative)), !data.isEmpty else {
            throw RestoreDrillError.io(path: path(relative), message: "empty or unreadable")
        }
        data[data.count / 2] ^= 0xff
        try SetSealer.write(data, to: path(relative), mode: 0o644)
    }

    /// A small database to damage whole, and its index in `manifest.databases`: format 1 the whole
    /// (unchunked) one with the most tables; format 2 (every database chunked) the one of fewest
    /// chunks.
    func wholeDatabase() throws -> (Int, DatabaseRecord) {
        let all = Array(manifest.databases.enumerated())
        let best =
            manifest.storesObjects
            ? all.filter { !$0.element.chunks.isEmpty }.min { $0.element.chunks.count < $1.element.chunks.count }
            : all.filter { $0.element.artifact != nil }.max { $0.element.tables.count < $1.element.tables.count }
        guard let best else {
            throw RestoreDrillError.runtime("the good set has no whole database to damage")
        }
        return (best.offset, best.element)
    }

    /// A file holding the bytes database `index` restores to, for a damage to read or edit: format
    /// 1 its artifact itself (edited in place); format 2 its gzip chunks decompressed and joined
    /// into `<scratch>/database-<index>.db` (``storeDatabase(_:from:)`` stores it back).
    /// - Throws: ``RestoreDrillError`` when the database or a chunk cannot be read.
    func databaseFile(_ index: Int) throws -> String {
        let record = manifest.databases[index]
        if !manifest.storesObjects, let artifact = record.artifact { return path(artifact) }
        var whole = Data()
        for chunk in record.chunks {
            let file = path(chunk)
            let piece =
                manifest.artifact(chunk)?.compression == .gzip
                ? try SelftestGzip.decompress(file) : try Data(contentsOf: URL(fileURLWithPath: file))
            if whole.isEmpty && record.chunks.count > 1 { pieceBytes[index] = piece.count }
            whole.append(piece)
        }
        let file = scratch.appending(component: "database-\(index).db").pathString
        try SetSealer.write(whole, to: file, mode: 0o644)
        return file
    }

    /// After the file of ``databaseFile(_:)`` changed: the record's size and digest follow it
    /// (format 1: its artifact; the seal rehashes it). Format 2 stores the file again as the
    /// engine does, as gzip chunks of the pieces' size the set had (``pieceBytes``; the last one
    /// shorter), each a new object, named `<name>.chunk-0001`, … like the chunks they replace and
    /// listed where those were.
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    func storeDatabase(_ index: Int, from file: String) throws {
        let (sha, size) = try SHA256Digest.file(at: file)
        manifest.databases[index].sha256 = sha
        manifest.databases[index].size = size
        guard manifest.storesObjects else { return }
        let old = manifest.databases[index].chunks
        guard let first = old.first, let at = manifest.artifacts.firstIndex(where: { $0.path == first }) else {
            throw RestoreDrillError.runtime("\(manifest.databases[index].path) lists no chunk")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let stem = String(first.dropLast(4))
        let pieceSize = max(1, pieceBytes[index] ?? data.count)
        var records: [ArtifactRecord] = []
        for (n, start) in stride(from: 0, to: max(data.count, 1), by: pieceSize).enumerated() {
            let piece = data.subdata(in: start..<min(start + pieceSize, data.count))
            let gz = try SelftestGzip.compress(piece, scratch: scratch.appending(component: "chunk.gz").pathString)
            let (hex, bytes) = try SetSealer.putObject(gz, in: objects)
            records.append(
                ArtifactRecord(
                    path: stem + String(format: "%04d", n + 1), component: .databases, kind: .chunk, size: bytes,
                    sha256: hex, compression: .gzip))
        }
        manifest.artifacts.removeAll { old.contains($0.path) }
        manifest.artifacts.insert(contentsOf: records, at: min(at, manifest.artifacts.count))
        manifest.databases[index].chunks = records.map(\.path)
    }

    /// The artifacts that hold the code: format 1 `code.tar.gz`; format 2 the packs, in manifest
    /// order (`code/folders.tar.gz` last).
    var codeArchives: [String] {
        manifest.storesObjects ? manifest.artifacts.filter { $0.kind == .pack }.map(\.path) : ["code.tar.gz"]
    }

    /// The archive an archive damage aims at: `code.tar.gz`, or format 2 the first pack.
    var codeArchive: String { codeArchives.first ?? "code.tar.gz" }

    /// The subject `restore.archives` compares the members with the manifest under: the archive
    /// (format 1), or `code`, the union of the packs (format 2).
    var memberListSubject: String { manifest.storesObjects ? ComponentID.code.rawValue : "code.tar.gz" }

    /// Reads `archive` (``codeArchive`` by default), lets `change` edit the members, writes it back.
    func editArchive(_ archive: String? = nil, _ change: (inout [TarMember]) throws -> Void) throws {
        let file = path(archive ?? codeArchive)
        var members = try SelftestArchive.read(file)
        try change(&members)
        try SelftestArchive.write(members, to: file)
    }

    /// Replaces the restore script with `body` (a hostile script), keeping its name and mode.
    func replaceScript(_ body: String) throws {
        try SetSealer.write(Data(body.utf8), to: path(manifest.restoreScript), mode: 0o755)
    }

    /// The current restore script without its first (`#!`) line, to run after a hostile prefix.
    func scriptBody() throws -> String {
        guard let data = FileManager.default.contents(atPath: path(manifest.restoreScript)) else {
            throw RestoreDrillError.io(path: path(manifest.restoreScript), message: "unreadable")
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropFirst().joined(separator: "\n")
    }
}

/// One damage of the selftest's catalogue: how to make it, and which check must catch it.
struct SelftestDamage {
    /// Short stable id, e.g. `flip-chunk`.
    var id: String
    /// What was done, for the table.
    var title: String
    var kind: DamageKind
    /// The check that must fail.
    var expected: CheckID
    /// The row of the damage table this damage stands for, when our expectation differs from it.
    var deviation: String?
    /// Needs a previous complete set beside the damaged copy (`set.coverage`).
    var needsPrevious = false
    /// Works on a good set made with a vault password (its manifest keyed, its credentials in a
    /// vault), drilled with that password.
    var vault = false
    /// Makes the damage in the context's copy; throws when the damage cannot be made (a selftest
    /// failure: a damage that was not made proves nothing).
    var apply: (DamageContext) async throws -> Void
}

extension SelftestDamage {
    /// Every damage of the catalogue (README, "Selftest") for sets of format `format` (1 or 2;
    /// docs/SET-FORMAT.md), in its order. `timeout` is the drill's replay timeout, used by the
    /// timing checks of the hostile scripts.
    ///
    /// Format 2 has no `code.tar.gz` and no whole database: the archive damages aim at a pack, the
    /// database damages rebuild a database's gzip chunks, and the damages of the format itself
    /// replace the format-1 rows they stand for (``objectDamages()``): `object-missing` (for
    /// `delete-chunk`), `pack-member-in-two-packs`, `chunk-objects-swapped` (for `chunks-swapped`).
    static func catalogue(timeout: Double, format: Int = 1) -> [SelftestDamage] {
        var out: [SelftestDamage] = []
        let objects = format >= 2

        // At rest: one flipped byte in each kind of artifact, a deleted artifact, an edited manifest.
        let kinds: [(ArtifactKind, String)] =
            objects
            ? [
                (.pack, "code pack"), (.chunk, "chunk"), (.plist, "plist"), (.list, "list"), (.config, "shell file"),
                (.script, "restore script"),
            ]
            : [
                (.archive, "archive"), (.chunk, "chunk"), (.database, "database"), (.plist, "plist"),
                (.list, "list"), (.config, "shell file"), (.script, "restore script"),
            ]
        for (kind, name) in kinds {
            out.append(
                SelftestDamage(
                    id: "flip-\(kind.rawValue)", title: "one flipped byte in the \(name)", kind: .atRest,
                    expected: .setArtifacts
                ) { c in
                    let a = try c.artifact(kind)
                    try c.flipByte(a.path)
                    c.expectedSubject = a.path
                    if let object = c.objectName(a) {
                        // Format 2: the object is named as damaged (with every artifact using it).
                        c.expectedFinding = (.objectDamaged, ["object": object])
                    } else {
                        c.expectedFinding = (.artifactDigestMismatch, [:])
                    }
                })
        }
        if objects { out += objectDamages() }
        if !objects {
            out.append(
                SelftestDamage(
                    id: "delete-chunk", title: "a listed artifact deleted (a chunk)", kind: .atRest,
                    expected: .setArtifacts
                ) { c in
                    let a = try c.artifact(.chunk)
                    guard unlink(c.path(a.path)) == 0 else {
                        throw RestoreDrillError.io(path: a.path, message: "cannot delete")
                    }
                    c.expectedSubject = a.path
                    // Named as a missing chunk of its database, not as any missing artifact (issue 12).
                    c.expectedFinding = (.chunkMissing, ["chunk": a.path, "where": "set"])
                })
        }
        out.append(
            SelftestDamage(
                id: "manifest-edited", title: "manifest edited, its checksum not (a row count)", kind: .atRest,
                expected: .setManifest
            ) { c in
                var edited = c.manifest
                guard !edited.databases.isEmpty, !edited.databases[0].tables.isEmpty else {
                    throw RestoreDrillError.runtime("no table to edit")
                }
                edited.databases[0].tables[0].rows += 1
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                // manifest_sha256 stays the old one: the edit is not re-sealed.
                try SetSealer.write(try encoder.encode(edited), to: c.path(Manifest.fileName), mode: 0o644)
                c.expectedFinding = (.manifestChecksumMismatch, [:])
            })

        // Sealed: archives.
        out.append(
            SelftestDamage(
                id: "archive-truncated", title: "archive truncated mid-stream", kind: .sealed,
                expected: .restoreArchives,
                deviation:
                    "the damage table expects restore.script; the inspection decompresses every member before the replay, so the cut is caught one step earlier and the script never runs"
            ) { c in
                let archive = c.codeArchive
                guard let data = FileManager.default.contents(atPath: c.path(archive)) else {
                    throw RestoreDrillError.io(path: archive, message: "unreadable")
                }
                try SetSealer.write(data.prefix(data.count / 2), to: c.path(archive), mode: 0o644)
                try c.seal()
                c.expectedSubject = archive
            })
        out.append(
            SelftestDamage(
                id: "archive-cut-between-members", title: "archive cut between members", kind: .sealed,
                expected: .restoreArchives
            ) { c in
                let archive = c.codeArchive
                let members = try SelftestArchive.read(c.path(archive))
                try SelftestArchive.writeCut(
                    members, keep: members.count / 2, to: c.path(archive), scratch: c.scratch.pathString)
                try c.seal()
                // Format 2: the cut pack reads as a shorter pack; the packs together lack its tail.
                c.expectedSubject = c.memberListSubject
                if c.manifest.storesObjects { c.expectedFinding = (.archiveMembersMissing, [:]) }
            })
        let dangerous: [(String, String, TarMember, Finding.Code)] = [
            (
                "archive-member-dotdot", "archive member ../x", .file("../restore-drill-selftest-x", "escaped\n"),
                .archiveMemberDotDot
            ),
            (
                "archive-member-absolute", "archive member /abs",
                .file("/tmp/restore-drill-selftest-abs", "escaped\n"), .archiveMemberAbsolute
            ),
            (
                "archive-link-escapes", "archive symlink leaving the sandbox",
                TarMember(
                    name: "src/escape", type: RD_AE_IFLNK, perm: 0o777, data: Data(), symlink: "../../../../../etc",
                    mtime: 1_700_000_000),
                .archiveLinkEscapes
            ),
        ]
        for (id, title, member, code) in dangerous {
            out.append(
                SelftestDamage(id: id, title: title, kind: .sealed, expected: .restoreArchives) { c in
                    try c.editArchive { $0.append(member) }
                    // The buggy engine listed what it stored.
                    c.manifest.files.append(
                        FileRecord(
                            component: .code, base: .root, path: member.name,
                            type: member.type == RD_AE_IFLNK ? .symlink : .file, size: Int64(member.data.count),
                            sha256: member.type == RD_AE_IFLNK ? nil : SHA256Digest.hex(of: member.data),
                            mode: member.perm, linkTarget: member.symlink))
                    try c.seal()
                    c.expectedSubject = c.codeArchive
                    c.expectedFinding = (code, [:])
                })
        }

        // Sealed: databases.
        if !objects {
            out.append(
                SelftestDamage(
                    id: "chunks-swapped", title: "chunks swapped", kind: .sealed, expected: .restoreScript
                ) { c in
                    guard let db = c.manifest.databases.first(where: { $0.chunks.count >= 2 }) else {
                        throw RestoreDrillError.runtime("no chunked database")
                    }
                    let (a, b) = (c.path(db.chunks[0]), c.path(db.chunks[1]))
                    guard let da = FileManager.default.contents(atPath: a),
                        let dbb = FileManager.default.contents(atPath: b),
                        da != dbb
                    else { throw RestoreDrillError.runtime("chunks unreadable or equal") }
                    try SetSealer.write(dbb, to: a, mode: 0o644)
                    try SetSealer.write(da, to: b, mode: 0o644)
                    try c.seal()  // chunk digests follow; the whole-database digest does not
                    c.expectedFinding = (.scriptExitStatus, [:])
                })
        }
        out.append(
            SelftestDamage(
                id: "sqlite-index-page", title: "corrupted SQLite page that quick_check misses", kind: .sealed,
                expected: .dbIntegrity
            ) { c in
                let (i, record) = try c.wholeDatabase()
                let path = try c.databaseFile(i)
                let indexes = try SelftestSQL.rows(
                    path, "SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL")
                guard let index = indexes.first else { throw RestoreDrillError.runtime("\(record.path) has no index") }
                let page = try SelftestSQL.clobberIndexEntry(path, index: index)
                let quick = try SelftestSQL.rows(path, "PRAGMA quick_check")
                let full = try SelftestSQL.rows(path, "PRAGMA integrity_check")
                guard quick == ["ok"], full != ["ok"] else {
                    throw RestoreDrillError.runtime(
                        "page \(page) of \(record.path): quick_check \(quick.prefix(1)), integrity_check \(full.prefix(1)): not the damage wanted"
                    )
                }
                try c.storeDatabase(i, from: path)
                try c.seal()
                c.expectedSubject = record.path
                c.expectedFinding = (.databaseIntegrity, [:])
            })
        out.append(
            SelftestDamage(
                id: "stale-wal", title: "a stale -wal shipped beside a database", kind: .sealed,
                expected: .restoreTree,
                deviation:
                    "the damage table expects db.integrity; the restore script moves every -wal, -shm and -journal beside a restored database aside (the backup stores none), so the database restores intact and restore.tree names the -wal the manifest lists as missing"
            ) { c in
                let (i, record) = try c.wholeDatabase()
                // A genuine WAL of this database: a copy switched to WAL mode, written, read while open.
                let copy = c.scratch.appending(component: "wal-source.db").pathString
                try FileManager.default.copyItem(atPath: try c.databaseFile(i), toPath: copy)
                let wal = try SelftestSQL.walWhileOpen(
                    copy, "CREATE TABLE late(x); INSERT INTO late VALUES ('written after the copy');")
                let name = record.path + "-wal"
                try c.editArchive {
                    $0.append(
                        TarMember(
                            name: name, type: RD_AE_IFREG, perm: 0o644, data: wal, symlink: nil, mtime: 1_700_000_000))
                }
                c.manifest.files.append(
                    FileRecord(
                        component: .code, base: .root, path: name, size: Int64(wal.count),
                        sha256: SHA256Digest.hex(of: wal), mode: 0o644))
                try c.seal()
            })
        out.append(
            SelftestDamage(
                id: "rows-deleted", title: "rows deleted from a database", kind: .sealed, expected: .dbIntegrity
            ) { c in
                let (i, record) = try c.wholeDatabase()
                guard let table = record.tables.first(where: { $0.rows > 3 }) else {
                    throw RestoreDrillError.runtime("no table with rows")
                }
                let file = try c.databaseFile(i)
                try SelftestSQL.exec(file, "DELETE FROM \"\(table.name)\" WHERE rowid % 3 = 0;")
                try c.storeDatabase(i, from: file)
                try c.seal()
                c.expectedSubject = record.path
                c.expectedFinding = (.databaseRowCount, [:])
            })

        // Sealed: LaunchAgents.
        out.append(
            SelftestDamage(
                id: "plist-prefix-dropped", title: "a plist whose old-home prefix was dropped from the manifest",
                kind: .sealed, expected: .launchAgentsRewrite
            ) { c in
                guard
                    let i = c.manifest.launchAgents.firstIndex(where: { $0.rewritePrefixes.contains(c.manifest.home) })
                else { throw RestoreDrillError.runtime("no LaunchAgent rewrites the home") }
                let home = c.manifest.home
                c.manifest.launchAgents[i].rewritePrefixes.removeAll { $0 == home }
                try c.seal()
                c.expectedSubject = c.manifest.launchAgents[i].path
                c.expectedFinding = (.agentOldPathLeft, [:])
            })
        out.append(
            SelftestDamage(
                id: "binary-plist-mangled", title: "a binary plist mangled by text substitution", kind: .sealed,
                expected: .launchAgentsRewrite
            ) { c in
                guard let agent = c.manifest.launchAgents.first(where: \.wasBinary) else {
                    throw RestoreDrillError.runtime("no binary LaunchAgent")
                }
                let stored = try Data(contentsOf: URL(fileURLWithPath: c.path(agent.artifact)))
                let plist = try PropertyListSerialization.propertyList(from: stored, options: [], format: nil)
                let binary = try PropertyListSerialization.data(fromPropertyList: plist, format: .binary, options: 0)
                // What `sed s|OLD_HOME|/Users/alice|g` does to a binary plist: string lengths and the
                // offset table no longer agree.
                let mangled = Self.replace(binary, Data(c.manifest.home.utf8), with: Data("/Users/alice".utf8))
                guard mangled != binary,
                    (try? PropertyListSerialization.propertyList(from: mangled, options: [], format: nil)) == nil
                else { throw RestoreDrillError.runtime("the substitution left a readable plist") }
                try SetSealer.write(mangled, to: c.path(agent.artifact), mode: 0o644)
                try c.seal()
                c.expectedSubject = agent.path
                c.expectedFinding = (.agentUnreadable, [:])
            })
        out.append(
            SelftestDamage(
                id: "agent-argv-quoting", title: "a LaunchAgent argv broken by shell quoting", kind: .sealed,
                expected: .launchAgentsLint
            ) { c in
                guard let agent = c.manifest.launchAgents.first(where: { !$0.wasBinary }) else {
                    throw RestoreDrillError.runtime("no XML LaunchAgent")
                }
                let stored = try Data(contentsOf: URL(fileURLWithPath: c.path(agent.artifact)))
                guard
                    var plist = try PropertyListSerialization.propertyList(from: stored, options: [], format: nil)
                        as? [String: Any], var argv = plist["ProgramArguments"] as? [String]
                else { throw RestoreDrillError.runtime("\(agent.artifact) has no ProgramArguments") }
                // The incident: a shell fragment split into launchd arguments.
                argv.append("\(c.manifest.root)/claude/tools/get_vault_password.sh)\"")
                plist["ProgramArguments"] = argv
                let xml = try PropertyListSerialization.data(fromPropertyList: plist, format: .xml, options: 0)
                try SetSealer.write(xml, to: c.path(agent.artifact), mode: 0o644)
                try c.seal()
                c.expectedSubject = agent.path
                c.expectedFinding = (.agentLint(.arguments), [:])
            })

        // Sealed: the member list against the manifest.
        out.append(
            SelftestDamage(
                id: "file-absent-from-archive", title: "a file listed in the manifest but absent from the archive",
                kind: .sealed, expected: .restoreArchives
            ) { c in
                var removed = ""
                let isMarkdown = { (m: TarMember) in m.type == RD_AE_IFREG && m.name.hasSuffix(".md") }
                // The archive (format 2: the first pack) that holds a Markdown file.
                let archive = try c.codeArchives.first {
                    try SelftestArchive.read(c.path($0)).contains(where: isMarkdown)
                }
                guard let archive else { throw RestoreDrillError.runtime("no file member") }
                try c.editArchive(archive) { members in
                    guard let i = members.firstIndex(where: isMarkdown) else {
                        throw RestoreDrillError.runtime("no file member")
                    }
                    removed = members.remove(at: i).name
                }
                try c.seal()
                c.expectedSubject = c.memberListSubject
                c.expectedFinding = (.archiveMembersMissing, ["paths": removed])
            })
        out.append(
            SelftestDamage(
                id: "extra-file-in-archive", title: "an extra file in the archive", kind: .sealed,
                expected: .restoreArchives
            ) { c in
                try c.editArchive { $0.append(.file("src/not-in-the-manifest.txt", "surprise\n")) }
                try c.seal()
                c.expectedSubject = c.memberListSubject
                c.expectedFinding = (.archiveMembersExtra, [:])
            })

        // Sealed: coverage against the previous set.
        out.append(
            SelftestDamage(
                id: "component-missing", title: "a component missing compared with the previous set", kind: .sealed,
                expected: .setCoverage, needsPrevious: true
            ) { c in
                let gone = Set(c.manifest.artifacts.filter { $0.component == .shell }.map(\.path))
                guard !gone.isEmpty else { throw RestoreDrillError.runtime("the good set has no shell files") }
                // Format 2: their objects stay (unused objects are any destination's; nothing reads them).
                if !c.manifest.storesObjects { for p in gone { unlink(c.path(p)) } }
                c.manifest.components.removeAll { $0.id == .shell }
                c.manifest.artifacts.removeAll { gone.contains($0.path) }
                c.manifest.files.removeAll { $0.component == .shell }
                try c.seal()
                c.expectedSubject = ComponentID.shell.rawValue
                c.expectedFinding = (.coverageComponentGone, [:])
            })

        // Sealed: hostile restore scripts.
        out.append(
            SelftestDamage(
                id: "script-writes-outside", title: "restore script that writes outside the sandbox under set -e",
                kind: .sealed, expected: .restoreScript
            ) { c in
                let targets = [
                    c.sandboxFolder.appending(component: "restore-drill-escape-\(c.token)").pathString,
                    c.realTemp.appending(component: "restore-drill-escape-\(c.token)").pathString,
                    c.realHome.appending(component: "restore-drill-escape-\(c.token)").pathString,
                ]
                try c.replaceScript(
                    """
                    #!/bin/sh
                    # selftest: a restore script that writes outside its sandbox
                    set -e
                    echo escaped > ../../restore-drill-escape-\(c.token)
                    echo escaped > '\(targets[1])'
                    echo escaped > '\(targets[2])'
                    echo 'restore: done'

                    """)
                try c.seal(renderScript: false)
                c.afterDrill.append { result in
                    let escaped = targets.filter { FileManager.default.fileExists(atPath: $0) }
                    for p in escaped { unlink(p) }
                    if !escaped.isEmpty {
                        return "files written outside the sandbox: " + escaped.joined(separator: ", ")
                    }
                    let script = result.checks.first { $0.check == .restoreScript }
                    if script?.has(.scriptChangedOutside) == true {
                        return "a canary changed: \(script!.message)"
                    }
                    return nil
                }
            })
        out.append(
            SelftestDamage(
                id: "script-network", title: "restore script that opens a network connection", kind: .sealed,
                expected: .restoreScript
            ) { c in
                let listener = try LoopbackListener()
                c.listener = listener
                let probe = "exec 3<>/dev/tcp/127.0.0.1/\(listener.port) && echo selftest-\(c.token) >&3"
                // The probe works where the network is reachable: check it outside the sandbox first,
                // so its failure inside proves the isolation, not a broken probe.
                let host = Process()
                host.executableURL = URL(fileURLWithPath: "/bin/sh")
                host.arguments = ["-c", "command -v bash >/dev/null && bash -c \"$1\"", "sh", probe]
                try host.run()
                host.waitUntilExit()
                guard host.terminationStatus == 0, listener.drain() == 1 else {
                    throw RestoreDrillError.runtime(
                        "the connection probe does not reach 127.0.0.1 even outside the sandbox")
                }
                // Needs the network before it restores: with it, the restore goes on and passes.
                try c.replaceScript(
                    """
                    #!/bin/sh
                    # selftest: a restore script that needs 127.0.0.1:\(listener.port) before it restores
                    if ! bash -c '\(probe)'; then
                        echo 'restore: FAILED: cannot reach 127.0.0.1:\(listener.port)' >&2
                        exit 1
                    fi
                    \(try c.scriptBody())
                    """)
                try c.seal(renderScript: false)
                c.expectedFinding = (.scriptExitStatus, ["status": "1"])
                c.afterDrill.append { _ in
                    let seen = listener.drain()
                    return seen == 0 ? nil : "the replay reached 127.0.0.1:\(listener.port) (\(seen) connections)"
                }
            })
        let timing: (DamageContext) -> Void = { c in
            c.afterDrill.append { result in
                let script = result.checks.first { $0.check == .restoreScript }
                if let seconds = script?.seconds, seconds > timeout + 5 {
                    return String(format: "the replay took %.1f s, over the timeout %.0f s plus 5 s", seconds, timeout)
                }
                return nil
            }
        }
        out.append(
            SelftestDamage(
                id: "script-fork-bomb", title: "restore script that forks without end", kind: .sealed,
                expected: .restoreScript
            ) { c in
                try c.replaceScript(
                    """
                    #!/bin/sh
                    # selftest: a fork bomb that never stops
                    bomb() { bomb | bomb & }
                    while :; do bomb 2>/dev/null; sleep 1 2>/dev/null; done

                    """)
                try c.seal(renderScript: false)
                timing(c)
            })
        out.append(
            SelftestDamage(
                id: "script-sleeps", title: "restore script that sleeps forever", kind: .sealed,
                expected: .restoreScript
            ) { c in
                try c.replaceScript("#!/bin/sh\n# selftest: never finishes\nsleep 1000\n")
                try c.seal(renderScript: false)
                c.expectedFinding = (.scriptTimedOut, [:])
                timing(c)
            })
        out.append(
            SelftestDamage(
                id: "script-floods-output", title: "restore script that prints a gigabyte", kind: .sealed,
                expected: .restoreScript
            ) { c in
                try c.replaceScript(
                    "#!/bin/sh\n# selftest: a gigabyte of output\nyes 'restore: flooding the output' | head -c 1073741824\n"
                )
                try c.seal(renderScript: false)
                c.expectedFinding = (.scriptOutputCapped, [:])
                timing(c)
            })
        out += trustDamages()
        out.append(
            SelftestDamage(
                id: "restore-over-stale-wal",
                title: "a restore over an old copy whose -wal the script leaves beside the database", kind: .sealed,
                expected: .dbIntegrity
            ) { c in
                let (i, record) = try c.wholeDatabase()
                guard record.base == .root else { throw RestoreDrillError.runtime("\(record.path) is not under root") }
                // The old copy's genuine WAL: a table and a row written after the old copy's last checkpoint.
                let copy = c.scratch.appending(component: "old-copy.db").pathString
                try FileManager.default.copyItem(atPath: try c.databaseFile(i), toPath: copy)
                let wal = try SelftestSQL.walWhileOpen(
                    copy, "CREATE TABLE left_by_the_old_copy(x); INSERT INTO left_by_the_old_copy VALUES (1);")
                // A script of an older kind: it does not move sidecars aside, and the target it
                // restores into already holds the old copy's -wal (written here by printf, so the
                // set needs no extra file).
                var body = try c.scriptBody()
                let sweep = "rd_db_sidecars root '\(record.path)'\n"
                guard let at = body.range(of: sweep) else {
                    throw RestoreDrillError.runtime("the restore script does not move \(record.path)'s sidecars aside")
                }
                body.removeSubrange(at)
                // Format 2 restores it from its objects (rd_restore_db_objects).
                let calls = ["rd_restore_db root '\(record.path)'", "rd_restore_db_objects root '\(record.path)'"]
                guard let at = calls.lazy.compactMap({ body.range(of: $0) }).first else {
                    throw RestoreDrillError.runtime("the restore script does not restore \(record.path)")
                }
                let octal = wal.map { String(format: "\\%03o", $0) }.joined()
                let plant =
                    "mkdir -p \"$(dirname \"$RD_ROOT/\(record.path)\")\"\n"
                    + "printf '\(octal)' >\"$RD_ROOT/\(record.path)-wal\"\n"
                body.insert(contentsOf: plant, at: at.lowerBound)
                try c.replaceScript("#!/bin/sh\n" + body)
                try c.seal(renderScript: false)
                c.expectedSubject = record.path
            })
        out += chunkAccountingDamages()
        return out
    }

    /// The damages of format 2 itself (issue 15): what a store of shared objects can suffer that a
    /// set folder cannot.
    static func objectDamages() -> [SelftestDamage] {
        var out: [SelftestDamage] = []
        out.append(
            SelftestDamage(
                id: "object-missing", title: "an object deleted (a shared one, else a code pack's)", kind: .atRest,
                expected: .setArtifacts
            ) { c in
                // The first object two artifacts share (one digest, two paths), else the first pack's.
                let stored = c.manifest.artifacts.filter { c.objectName($0) != nil }
                let users = Dictionary(grouping: stored, by: \.sha256)
                guard
                    let first = stored.first(where: { users[$0.sha256, default: []].count > 1 })
                        ?? stored.first(where: { $0.kind == .pack }),
                    let object = c.objectName(first)
                else { throw RestoreDrillError.runtime("the good set has no object to delete") }
                guard unlink(c.path(first.path)) == 0 else {
                    throw RestoreDrillError.io(path: object, message: "cannot delete")
                }
                let usedBy = c.manifest.artifacts.filter { $0.sha256 == first.sha256 }.map(\.path)
                c.expectedSubject = first.path
                // Named as the object missing, with every artifact that used it.
                c.expectedFinding = (.objectMissing, ["object": object, "used_by": Finding.listValue(usedBy)])
            })
        out.append(
            SelftestDamage(
                id: "pack-member-in-two-packs",
                title: "a pack holding a member of another pack (an older copy of its file)", kind: .sealed,
                expected: .restoreArchives
            ) { c in
                let packs = c.codeArchives
                guard packs.count >= 2, let from = packs.first, let into = packs.last else {
                    throw RestoreDrillError.runtime("the good set has fewer than two packs")
                }
                guard let member = try SelftestArchive.read(c.path(from)).first(where: { $0.type == RD_AE_IFREG })
                else { throw RestoreDrillError.runtime("\(from) holds no file") }
                // The member again in a later pack, with other bytes: extracted after the first, it
                // would overwrite the file the manifest lists with what an older set stored.
                var older = member
                older.data = Data("an older copy of \(member.name)\n".utf8)
                try c.editArchive(into) { $0.append(older) }
                try c.seal()
                c.expectedSubject = into
                c.expectedFinding = (.archiveMemberInTwoPacks, ["member": member.name])
            })
        out.append(
            SelftestDamage(
                id: "chunk-objects-swapped",
                title: "two chunk objects swapped (each chunk names the other's object)", kind: .sealed,
                expected: .restoreScript
            ) { c in
                guard let db = c.manifest.databases.first(where: { $0.chunks.count >= 2 }),
                    let a = c.manifest.artifacts.firstIndex(where: { $0.path == db.chunks[0] }),
                    let b = c.manifest.artifacts.firstIndex(where: { $0.path == db.chunks[1] }),
                    c.manifest.artifacts[a].sha256 != c.manifest.artifacts[b].sha256
                else { throw RestoreDrillError.runtime("no database with two different chunk objects") }
                // Every object is intact and listed; only the order the pieces are joined in is wrong.
                let first = c.manifest.artifacts[a]
                c.manifest.artifacts[a].sha256 = c.manifest.artifacts[b].sha256
                c.manifest.artifacts[a].size = c.manifest.artifacts[b].size
                c.manifest.artifacts[b].sha256 = first.sha256
                c.manifest.artifacts[b].size = first.size
                try c.seal()
                // The restore script joins the pieces and checks the whole database's SHA-256 before it
                // moves the database into place: it fails, and the database is never restored.
                c.expectedFinding = (.scriptExitStatus, [:])
                c.afterDrill.append { result in
                    let named = result.checks.contains {
                        $0.check == .dbIntegrity && $0.subject == db.path && $0.has(.databaseNotRestored)
                    }
                    return named ? nil : "db.integrity does not say \(db.path) was not restored"
                }
            })
        return out
    }

    /// Chunks the manifest does not account for (issue 12): sealed, so every digest agrees and only
    /// the accounting of `set.artifacts` can tell.
    static func chunkAccountingDamages() -> [SelftestDamage] {
        var out: [SelftestDamage] = []
        out.append(
            SelftestDamage(
                id: "orphan-chunk", title: "a chunk-named artifact that no database lists", kind: .sealed,
                expected: .setArtifacts
            ) { c in
                guard let db = c.manifest.databases.first(where: { !$0.chunks.isEmpty }), let last = db.chunks.last
                else { throw RestoreDrillError.runtime("no chunked database") }
                // The next chunk name of that database, holding a copy of its last chunk: what a
                // crash between writing a chunk and listing it would leave, listed anyway.
                let number = Int(last.suffix(4)).map { $0 + 1 } ?? 9999
                let name = String(last.dropLast(4)) + String(format: "%04d", number)
                guard let bytes = FileManager.default.contents(atPath: c.path(last)),
                    let lastRecord = c.manifest.artifact(last)
                else {
                    throw RestoreDrillError.io(path: last, message: "unreadable")
                }
                // Format 2: the same object as the last chunk (two chunks may share one object).
                if !c.manifest.storesObjects { try SetSealer.write(bytes, to: c.path(name), mode: 0o644) }
                c.manifest.artifacts.append(
                    ArtifactRecord(
                        path: name, component: .databases, kind: .chunk, size: Int64(bytes.count),
                        sha256: SHA256Digest.hex(of: bytes), compression: lastRecord.compression))
                try c.seal()
                c.expectedSubject = name
                c.expectedFinding = (.chunkUnowned, [:])
            })
        out.append(
            SelftestDamage(
                id: "empty-chunk", title: "a chunk emptied to 0 bytes", kind: .sealed, expected: .setArtifacts
            ) { c in
                let a = try c.artifact(.chunk)
                try SetSealer.write(Data(), to: c.path(a.path), mode: 0o644)
                try c.seal()
                c.expectedSubject = a.path
                c.expectedFinding = (.chunkEmpty, ["chunk": a.path, "expected": "0"])
            })
        return out
    }

    /// The hostile sets of issue 11: a forged set that tries to take the vault password, a script
    /// that fills shared memory, and one that reads the host.
    static func trustDamages() -> [SelftestDamage] {
        var out: [SelftestDamage] = []
        out.append(
            SelftestDamage(
                id: "forged-script-exfiltrates",
                title: "a forged set (no HMAC) whose script hunts for the vault password", kind: .sealed,
                expected: .setManifest, vault: true
            ) { c in
                guard let password = c.password, let text = String(bytes: password.bytes, encoding: .utf8) else {
                    throw RestoreDrillError.runtime("no vault password for the forged set")
                }
                // Everything the script can see, printed reversed (`rev`), so that a password it
                // got would reach the report in a form no scrubber knows, and be found below.
                try c.replaceScript(
                    """
                    #!/bin/sh
                    # selftest: a forged restore script that prints what it could take
                    {
                      echo "args: $*"
                      env
                      for f in /proc/self/fd/*; do
                        case ${f##*/} in 0|1|2) continue ;; esac
                        echo "fd $f -> $(readlink "$f")"
                        timeout 2 head -c 4096 "$f" 2>/dev/null
                      done
                      for a in "$@"; do [ -f "$a" ] && head -c 4096 "$a"; done
                      for p in $PPID 1; do tr '\0' '\n' < /proc/$p/environ 2>/dev/null; done
                      for f in /tmp/* /tmp/*/* "$HOME"/*; do [ -f "$f" ] && head -c 4096 "$f"; done
                    } 2>/dev/null | rev
                    echo 'restore: done'

                    """)
                // Whoever forged it has no password: the HMAC goes (a stale one fails the same way).
                c.manifest.manifestHMAC = nil
                c.manifest.manifestHMACSalt = nil
                try c.seal(renderScript: false)
                c.expectedFinding = (.manifestHMACMissing, [:])
                let forms = SecretScrubber(password: password).secrets + [String(text.reversed())]
                c.afterDrill.append { result in
                    var places: [(String, String)] = []
                    if let json = try? JSONEncoder().encode(result) {
                        places.append(("the drill result", String(decoding: json, as: UTF8.self)))
                    }
                    if let folder = c.reportFolder {
                        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                            let path = (folder as NSString).appendingPathComponent(name)
                            if let data = FileManager.default.contents(atPath: path) {
                                places.append((path, String(decoding: data, as: UTF8.self)))
                            }
                        }
                    }
                    let leaks = places.filter { place in forms.contains { place.1.contains($0) } }.map(\.0)
                    if !leaks.isEmpty { return "the vault password reached " + leaks.joined(separator: ", ") }
                    if result.authenticated != false { return "the forged set was not reported unauthenticated" }
                    return nil
                }
            })
        out.append(
            SelftestDamage(
                id: "script-fills-shm", title: "restore script that needs 64 MiB of shared memory first",
                kind: .sealed, expected: .restoreScript
            ) { c in
                let name = "restore-drill-selftest-\(c.token)"
                try c.replaceScript(
                    """
                    #!/bin/sh
                    # selftest: holds memory in /dev/shm, outside its memory limit, before it restores
                    if ! head -c 67108864 /dev/zero > /dev/shm/\(name); then
                        echo 'restore: FAILED: /dev/shm refused 64 MiB' >&2
                        exit 1
                    fi
                    rm -f /dev/shm/\(name)
                    \(try c.scriptBody())
                    """)
                try c.seal(renderScript: false)
                c.expectedFinding = (.scriptExitStatus, ["status": "1"])
                c.afterDrill.append { _ in
                    let host = "/dev/shm/\(name)"
                    guard FileManager.default.fileExists(atPath: host) else { return nil }
                    unlink(host)
                    return "the replay wrote into the host's /dev/shm (\(host))"
                }
            })
        out.append(
            SelftestDamage(
                id: "script-reads-host", title: "restore script that needs a file of the host first", kind: .sealed,
                expected: .restoreScript
            ) { c in
                // A world-readable file of the host, outside the set and the sandbox, with a token.
                let secret = "host-only-\(c.token)"
                let file = c.scratch.appending(component: "host-file.txt").pathString
                try SetSealer.write(Data((secret + "\n").utf8), to: file, mode: 0o644)
                for folder in [c.scratch, c.scratch.parentDirectory, c.scratch.parentDirectory.parentDirectory] {
                    chmod(folder.pathString, 0o755)
                }
                // It must be readable outside the sandbox, or its failure inside proves nothing.
                guard FileManager.default.contents(atPath: file) == Data((secret + "\n").utf8) else {
                    throw RestoreDrillError.runtime("the host file \(file) cannot be read even outside the sandbox")
                }
                try c.replaceScript(
                    """
                    #!/bin/sh
                    # selftest: a restore script that reads the host before it restores
                    if ! cat '\(file)'; then
                        echo 'restore: FAILED: cannot read \(file)' >&2
                        exit 1
                    fi
                    cat /etc/shadow 2>/dev/null
                    \(try c.scriptBody())
                    """)
                try c.seal(renderScript: false)
                c.expectedFinding = (.scriptExitStatus, ["status": "1"])
                c.afterDrill.append { result in
                    guard let json = try? JSONEncoder().encode(result),
                        String(decoding: json, as: UTF8.self).contains(secret)
                    else { return nil }
                    return "the replay read \(file) and printed it into the report"
                }
            })
        return out
    }

    /// `data` with every occurrence of `old` replaced by `new`.
    static func replace(_ data: Data, _ old: Data, with new: Data) -> Data {
        guard !old.isEmpty else { return data }
        var out = Data()
        var rest = data[...]
        while let r = rest.range(of: old) {
            out.append(rest[rest.startIndex..<r.lowerBound])
            out.append(new)
            rest = rest[r.upperBound...]
        }
        out.append(rest)
        return out
    }
}
