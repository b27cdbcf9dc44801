import Destination
import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// The restore script of a format-2 set (issue 15, "Restore script"): objects read from
/// `../objects` beside the set folder or from `--objects DIR`, packs extracted in one background
/// job, gzip-compressed database pieces joined and always checked as a whole, with the real tools
/// (dash, `bash --posix`, zsh × GNU tar, bsdtar × openssl, sha256sum, shasum).
@Suite struct Format2RestoreScriptTests {
    /// The workspace's backup with a vault (``VaultFixture``, its large database grown to 7 pieces
    /// of 256 KiB), made into a format-2 set (``Format2Set``), and restore targets with a space and
    /// `&` in their names.
    final class Fixture {
        let source: VaultFixture
        let built: Format2Set
        let scratch: TempFolder
        let newHome: String
        let newRoot: String
        let shellHome: String

        init() async throws {
            source = try await VaultFixture { ws in
                try SQL.with(ws.root + "/data/big/large.db") { db in
                    try SQL.exec(
                        db,
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 400) "
                            + "INSERT INTO blobs(b) SELECT randomblob(3000) FROM n")
                }
            }
            scratch = try TempFolder("rd-format2")
            built = try await Format2Set(
                from: source.outcome.manifest, at: source.outcome.setPath, in: scratch.path + "/dest",
                scratch: scratch.path)
            newHome = scratch.path + "/new h&o.me"
            newRoot = newHome + "/work dir/maia"
            shellHome = scratch.path + "/shell-home"
            try FileManager.default.createDirectory(atPath: shellHome, withIntermediateDirectories: true)
        }

        func run(
            _ c: RestoreCase = RestoreCase(shell: ["/usr/bin/dash"], tar: "/usr/bin/tar", hasher: "openssl"),
            script: String? = nil, cwd: String? = nil, password: Bool = true, extra: [String] = ["--yes"],
            reader: String? = nil
        ) throws -> Shell.Result {
            let bin = try ToolBin(
                in: scratch.path + "/tools-\(UUID().uuidString.prefix(6))", tar: c.tar, hasher: c.hasher,
                reader: reader)
            return try Shell.run(
                c.shell[0],
                Array(c.shell.dropFirst()) + [script ?? built.script, "--home", newHome, "--root", newRoot]
                    + (password ? ["--password-file", source.passwordFile] : []) + extra,
                environment: ["PATH": bin.path, "HOME": shellHome, "LANG": "C.UTF-8"], cwd: cwd ?? scratch.path)
        }

        /// What differs from the format-1 set's manifest (the same files, databases, LaunchAgents).
        /// The folder the restored credential is in is no record of the manifest: not counted.
        func problems() throws -> [String] {
            try RestoredTree.problems(
                manifest: source.outcome.manifest, setPath: source.outcome.setPath, home: newHome, root: newRoot
            ).filter { $0 != "secrets: extra in the restored root" }
        }

        func tempLeftovers() -> [String] {
            (FileManager.default.subpaths(atPath: newHome) ?? []).filter { $0.contains(".restore-drill-") }
        }

        /// The big database's piece artifacts, in order.
        var bigChunks: [String] {
            built.manifest.databases.first { $0.path == "data/big/large.db" }?.chunks ?? []
        }

        func close() {
            source.close()
            scratch.remove()
        }
    }

    static let dash = RestoreCase(shell: ["/usr/bin/dash"], tar: "/usr/bin/tar", hasher: "openssl")

    @Test func theFixtureIsAFormat2Set() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let m = f.built.manifest
        #expect(m.formatVersion == 2)
        let names = try FileManager.default.contentsOfDirectory(atPath: f.built.setPath).sorted()
        #expect(names == ["SHA256SUMS", "manifest.json", m.restoreScript].sorted())
        #expect(f.built.artifacts(.pack).count >= 3)
        #expect(f.built.artifacts(.pack).last?.path == "code/folders.tar.gz")
        #expect(f.bigChunks.count == 7)
        #expect(m.artifacts.filter { $0.kind == .chunk }.allSatisfy { $0.compression == .gzip })
        let sums = try String(contentsOfFile: f.built.setPath + "/SHA256SUMS", encoding: .utf8)
        #expect(sums.hasSuffix("  \(m.restoreScript)\n"))
        #expect(sums.split(separator: "\n").count == m.objectRefs().count + 1)
        // sha256sum -c reads it from the set folder.
        let check = try runTool("/usr/bin/sha256sum", ["-c", "--quiet", "SHA256SUMS"], directory: f.built.setPath)
        #expect(check.status == 0, "\(check.output)\(check.error)")
    }

    /// Every shell, tar and hashing tool; the vault (which needs openssl) with openssl.
    @Test(arguments: RestoreCase.all)
    func aFormat2SetRestoresExactly(_ c: RestoreCase) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let result = try f.run(c, password: c.hasher == "openssl")
        #expect(result.code == 0, "\(c.testDescription): \(result.err)")
        let objects = f.built.manifest.objectRefs().count
        let objectsFolder = URL(fileURLWithPath: f.built.destination + "/objects").resolvingSymlinksInPath().path
        #expect(
            result.out.contains(
                "restore: verified \(objects) objects in \(objectsFolder) and 1 files of the set (SHA-256 with \(c.hasher))"
            ),
            "\(result.out)")
        #expect(result.out.contains("code: extracting \(f.built.artifacts(.pack).count) packs"), "\(result.out)")
        #expect(result.out.contains("code: extracted the code packs"), "\(result.out)")
        var problems = try f.problems()
        if c.hasher != "openssl" {
            #expect(problems == ["secrets/token.txt: missing"])
            #expect(result.out.contains("credentials: skipped (no --password-file)"))
            problems = []
        } else {
            // The credential came out of the vault object.
            let token = try String(contentsOfFile: f.newRoot + "/secrets/token.txt", encoding: .utf8)
            #expect(token == f.source.ws.secret + "\n")
            #expect(result.out.contains("credentials: restored 1 files (mode 0600)"))
        }
        #expect(problems.isEmpty, "\(c.testDescription): \(problems.joined(separator: "\n"))")
        #expect(f.tempLeftovers().isEmpty, "\(f.tempLeftovers())")
        let rows = try SQL.with(f.newRoot + "/data/wal/live.db") { try SQL.scalar($0, "SELECT count(*) FROM events") }
        #expect(rows == String(f.source.ws.liveRows))
        let big = try SQL.with(f.newRoot + "/data/big/large.db") { try SQL.scalar($0, "SELECT count(*) FROM blobs") }
        #expect(big == "440")
        let python = try #require(f.built.manifest.artifact("dependencies/python.txt")).sha256
        #expect(
            result.out.contains(
                "pip3 install -r '\(objectsFolder)/\(python.prefix(2))/\(python)'"), "\(result.out)")
    }

    @Test(arguments: ["igzip", "pigz"])
    func aFasterGzipReaderExtractsThePacks(_ reader: String) async throws {
        let f = try await Fixture()
        defer { f.close() }
        for tar in ["/usr/bin/tar", "/usr/bin/bsdtar"] {
            try? FileManager.default.removeItem(atPath: f.newHome)
            let result = try f.run(RestoreCase(shell: ["/usr/bin/dash"], tar: tar, hasher: "openssl"), reader: reader)
            #expect(result.code == 0, "\(reader) \(tar): \(result.err)")
            let problems = try f.problems()
            #expect(problems.isEmpty, "\(reader) \(tar): \(problems.joined(separator: "\n"))")
        }
    }

    @Test func aMissingObjectIsNamedBeforeAnythingIsRestored() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let chunk = f.bigChunks[1]
        let object = try f.built.objectPath(chunk)
        try FileManager.default.removeItem(atPath: object)
        let hex = (object as NSString).lastPathComponent
        // No password: without openssl on PATH the tool check (issue 19) would stop a restore
        // with one before the objects are read.
        let result = try f.run(
            RestoreCase(shell: ["/usr/bin/zsh"], tar: "/usr/bin/bsdtar", hasher: "sha256sum"), password: false)
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: \(chunk): object \(hex): missing from "), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newRoot))
    }

    /// A damaged object in either half of the two hashing processes is named with the artifacts it
    /// holds, by each hashing tool.
    @Test(arguments: ["openssl", "sha256sum", "shasum"])
    func aDamagedObjectIsNamed(_ hasher: String) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let refs = f.built.manifest.objectRefs()
        let split = RestoreScript.sumsSplit(refs.map(\.size))
        #expect(split > 0 && split < refs.count)
        for (artifact, label) in [(f.built.artifacts(.pack)[0].path, "first half"), ("credentials.vault", "last")] {
            let object = try f.built.objectPath(artifact)
            let original = try Data(contentsOf: URL(fileURLWithPath: object))
            var damaged = original
            damaged[damaged.count / 2] ^= 0xff
            try damaged.write(to: URL(fileURLWithPath: object))
            // A password only with openssl on PATH (the tool check of issue 19 requires it then).
            let result = try f.run(
                RestoreCase(shell: ["/usr/bin/bash", "--posix"], tar: "/usr/bin/tar", hasher: hasher),
                password: hasher == "openssl")
            #expect(result.code == 1)
            let hex = (object as NSString).lastPathComponent
            #expect(
                result.err.contains("restore: FAILED: \(artifact): object \(hex): checksum mismatch"),
                "\(label): \(result.err)")
            #expect(!FileManager.default.fileExists(atPath: f.newRoot), "\(label)")
            try original.write(to: URL(fileURLWithPath: object))
        }
        #expect(refs.last?.digest.hex == f.built.manifest.artifact("credentials.vault")?.sha256)
    }

    /// Two chunk objects listed in each other's place (a manifest and script that say so, every
    /// object intact): only the whole database's SHA-256 can tell, and it does.
    @Test func swappedChunkObjectsFailTheWholeDatabaseCheck() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let (a, b) = (f.bigChunks[1], f.bigChunks[2])
        try f.built.edit { m in
            let i = try #require(m.artifacts.firstIndex { $0.path == a })
            let j = try #require(m.artifacts.firstIndex { $0.path == b })
            (m.artifacts[i].sha256, m.artifacts[j].sha256) = (m.artifacts[j].sha256, m.artifacts[i].sha256)
            (m.artifacts[i].size, m.artifacts[j].size) = (m.artifacts[j].size, m.artifacts[i].size)
        }
        let result = try f.run(
            RestoreCase(shell: ["/usr/bin/bash", "--posix"], tar: "/usr/bin/tar", hasher: "shasum"), password: false)
        #expect(result.code == 1)
        #expect(
            result.err.contains(
                "restore: FAILED: data/big/large.db: reassembled database checksum mismatch (7 pieces)"),
            "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newRoot + "/data/big/large.db"))
        #expect(f.tempLeftovers().isEmpty, "\(f.tempLeftovers())")
    }

    /// A `SHA256SUMS` line naming anything but a plain name of the set or exactly
    /// `../objects/<ab>/<its own sum>` is refused before anything is read.
    @Test(arguments: ["../objects/../../etc/passwd", "uppercase", "other-sum", "../objects/ab", "sub/dir", ".."])
    func anUnsafeNameInSHA256SUMSIsRefused(_ kind: String) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let sumsPath = f.built.setPath + "/SHA256SUMS"
        var lines = try String(contentsOfFile: sumsPath, encoding: .utf8).split(separator: "\n").map(String.init)
        let sum = String(lines[0].prefix(64))
        let other = String(lines[1].prefix(64))
        let name: String
        switch kind {
        case "uppercase": name = "../objects/\(sum.prefix(2).uppercased())/\(sum.uppercased())"
        case "other-sum": name = "../objects/\(other.prefix(2))/\(other)"
        default: name = kind
        }
        lines[0] = "\(sum)  \(name)"
        try (lines.joined(separator: "\n") + "\n").write(toFile: sumsPath, atomically: true, encoding: .utf8)
        let result = try f.run()
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: SHA256SUMS: unsafe name: \(name)\n"), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newRoot))
    }

    /// The set folder alone elsewhere: without `--objects` the script says where it looked; with
    /// `--objects DIR` (or `--objects=DIR`, relative to the current folder) it restores; a folder
    /// laid out as `export` writes one (`DIR/<id>/`, `DIR/objects/`) needs no option.
    @Test func theObjectsFolderComesFromTheOptionOrBesideTheSet() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let fm = FileManager.default
        let lone = f.scratch.path + "/lone/" + f.built.manifest.id.description
        try fm.createDirectory(atPath: f.scratch.path + "/lone", withIntermediateDirectories: true)
        try fm.copyItem(atPath: f.built.setPath, toPath: lone)
        let script = lone + "/" + f.built.manifest.restoreScript
        let missing = try f.run(script: script)
        #expect(missing.code == 1)
        #expect(
            missing.err.contains("restore: FAILED: objects: \(lone)/../objects is not a folder"), "\(missing.err)")

        let moved = f.scratch.path + "/elsewhere/objs"
        try fm.createDirectory(atPath: f.scratch.path + "/elsewhere", withIntermediateDirectories: true)
        try fm.copyItem(atPath: f.built.destination + "/objects", toPath: moved)
        let given = try f.run(script: script, extra: ["--yes", "--objects", moved])
        #expect(given.code == 0, "\(given.err)")
        #expect(try f.problems().isEmpty)
        try fm.removeItem(atPath: f.newHome)
        let relative = try f.run(script: script, cwd: f.scratch.path, extra: ["--objects=elsewhere/objs", "--yes"])
        #expect(relative.code == 0, "\(relative.err)")
        #expect(try f.problems().isEmpty)

        let export = f.scratch.path + "/usb stick"
        try fm.createDirectory(atPath: export, withIntermediateDirectories: true)
        try fm.copyItem(atPath: f.built.setPath, toPath: export + "/" + f.built.manifest.id.description)
        try fm.copyItem(atPath: moved, toPath: export + "/objects")
        try fm.removeItem(atPath: f.newHome)
        let exported = try f.run(
            script: export + "/" + f.built.manifest.id.description + "/" + f.built.manifest.restoreScript)
        #expect(exported.code == 0, "\(exported.err)")
        #expect(try f.problems().isEmpty)

        let control = try f.run(script: script, extra: ["--yes", "--objects", moved + "\n"])
        #expect(control.code == 1)
        #expect(control.err.contains("a control character in the objects path is not supported"), "\(control.err)")
        let empty = try f.run(script: script, extra: ["--yes", "--objects="])
        #expect(empty.err.contains("restore: FAILED: --objects needs a folder"), "\(empty.err)")
    }

    /// Format 1's script is the one it always was: it does not know `--objects`.
    @Test func aFormat1ScriptRefusesTheObjectsOption() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let result = try f.run(extra: ["--yes", "--objects", f.scratch.path])
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: unknown argument: --objects"), "\(result.err)")
        let script = RestoreScript.render(f.outcome.manifest)
        #expect(!script.contains("objects"), "a format-1 script says nothing of objects")
    }

    /// A pack cut short (stored as its own object, so step (1) passes) stops the restore naming
    /// that pack, with tar reading it and with a faster gzip reader.
    @Test(arguments: [
        ("/usr/bin/tar", nil), ("/usr/bin/bsdtar", nil), ("/usr/bin/tar", "igzip"), ("/usr/bin/tar", "pigz"),
    ])
    func aDamagedPackStopsTheRestoreNamingIt(_ tar: String, _ reader: String?) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let pack = f.built.artifacts(.pack)[1].path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try f.built.objectPath(pack)))
        let cut = bytes.prefix(bytes.count / 2)
        let stored = try f.built.store.put(Data(cut), existing: .digest)
        try f.built.edit { m in
            let i = try #require(m.artifacts.firstIndex { $0.path == pack })
            m.artifacts[i].sha256 = stored.ref.digest.hex
            m.artifacts[i].size = stored.ref.size
        }
        let result = try f.run(RestoreCase(shell: ["/usr/bin/dash"], tar: tar, hasher: "openssl"), reader: reader)
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: \(pack): extraction failed"), "\(result.err)")
        if let reader { #expect(result.err.contains("(\(reader) -d could not read it)"), "\(result.err)") }
        #expect(!result.out.contains("restore: done"))
        #expect(f.tempLeftovers().isEmpty, "\(f.tempLeftovers())")
    }

    /// Without a password the vault object is not read; the rest is restored.
    @Test func withoutAPasswordTheCredentialsAreSkipped() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let result = try f.run(password: false)
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out.contains("credentials: skipped (no --password-file)"))
        #expect(!FileManager.default.fileExists(atPath: f.newRoot + "/secrets/token.txt"))
        let wrong = f.scratch.path + "/wrong"
        try Data("not-it\n".utf8).write(to: URL(fileURLWithPath: wrong))
        try FileManager.default.removeItem(atPath: f.newHome)
        let bad = try f.run(password: false, extra: ["--yes", "--password-file", wrong])
        #expect(bad.code == 1)
        #expect(bad.err.contains("restore: FAILED: credentials: wrong password or damaged vault (credentials.vault"))
        #expect(f.tempLeftovers().isEmpty, "\(f.tempLeftovers())")
    }
}

/// A database of 1 500 pieces (375 MiB in 256 KiB pieces, gzip objects): the script grows by
/// lines, not their square, and steps (1) and (4) stay a few seconds (hashing the objects in two
/// processes, one `gzip -dc` per 200 pieces, the whole file's SHA-256).
@Suite(.serialized) struct Format2ManyChunksTests {
    @Test func aDatabaseOf1500PiecesRestoresInSeconds() async throws {
        let scratch = try TempFolder("rd-format2-many")
        defer { scratch.remove() }
        let destination = scratch.path + "/dest"
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        let store = ObjectStore(destination: try AbsolutePath(validating: destination))
        let when = Date(timeIntervalSince1970: 1_761_015_601)
        var m = Manifest(
            id: BackupID(date: when), name: "many", startedAt: when, timeZone: "UTC", host: "h", home: "/h",
            root: "/h/r")
        m.formatVersion = 2
        let count = 1_500
        let whole = SHA256Hasher()
        var chunks: [String] = []
        for i in 0..<count {
            // 256 KiB that compress (text with the piece's number), each piece different.
            let line = Array("piece \(i) of the database, compressible text for gzip; ".utf8)
            var piece = [UInt8]()
            piece.reserveCapacity(Format2Set.chunkSize)
            while piece.count < Format2Set.chunkSize { piece += line }
            piece = Array(piece.prefix(Format2Set.chunkSize))
            whole.update(Data(piece))
            let stored = try store.put(Data(try GzipMember.compress(piece, level: 1)), existing: .size)
            let name = "databases/big.db.chunk-" + String(format: "%04d", i + 1)
            chunks.append(name)
            m.artifacts.append(
                ArtifactRecord(
                    path: name, component: .databases, kind: .chunk, size: stored.ref.size,
                    sha256: stored.ref.digest.hex, compression: .gzip))
        }
        m.databases = [
            DatabaseRecord(
                base: .root, path: "big.db", size: Int64(count * Format2Set.chunkSize), sha256: whole.finalizeHex(),
                artifact: nil, chunks: chunks, tables: [], mode: 0o600)
        ]
        let script = RestoreScript.render(m)
        let lines = script.split(separator: "\n", omittingEmptySubsequences: false).count
        let template = RestoreScript.render(
            Manifest(
                id: m.id, name: "many", startedAt: when, timeZone: "UTC", host: "h", home: "/h", root: "/h/r"
            )
            .formatTwo()
        ).split(separator: "\n", omittingEmptySubsequences: false).count
        // One line per piece in step (4) and one in rd_object_names: linear.
        #expect(lines - template <= 2 * count + 10, "\(lines - template) lines for \(count) pieces")
        let setPath = destination + "/" + m.id.description
        try FileManager.default.createDirectory(atPath: setPath, withIntermediateDirectories: true)
        let data = Data(script.utf8)
        try data.write(to: URL(fileURLWithPath: setPath + "/" + m.restoreScript))
        m.artifacts.append(
            ArtifactRecord(
                path: m.restoreScript, component: .code, kind: .script, size: Int64(data.count),
                sha256: SHA256Digest.hex(of: data)))
        try m.renderedChecksumList().write(to: URL(fileURLWithPath: setPath + "/SHA256SUMS"))
        for shell in [["/usr/bin/dash"], ["/usr/bin/bash", "--posix"], ["/usr/bin/zsh"]] {
            let bin = try ToolBin(in: scratch.path + "/tools-\(shell[0].split(separator: "/").last!)")
            let target = scratch.path + "/restore-\(shell[0].split(separator: "/").last!)"
            let started = Date()
            let result = try Shell.run(
                shell[0],
                Array(shell.dropFirst()) + [
                    setPath + "/" + m.restoreScript, "--home", target, "--root", target + "/r", "--yes",
                ], environment: ["PATH": bin.path, "HOME": scratch.path, "LANG": "C.UTF-8"], cwd: scratch.path)
            let seconds = Date().timeIntervalSince(started)
            #expect(result.code == 0, "\(shell): \(result.err)")
            #expect(result.out.contains("verified \(count) objects"), "\(result.out)")
            print(
                "format 2, \(count) pieces of 256 KiB, \(shell.joined(separator: " ")): steps (1) to (8) in "
                    + String(format: "%.2f", seconds) + " s")
            #expect(seconds < 30, "\(shell): \(seconds) s")
            #expect(try SHA256Digest.file(at: target + "/r/big.db").sha256 == m.databases[0].sha256)
            try FileManager.default.removeItem(atPath: target)
        }
    }
}

extension Manifest {
    /// This manifest as format 2.
    func formatTwo() -> Manifest {
        var m = self
        m.formatVersion = 2
        return m
    }
}
