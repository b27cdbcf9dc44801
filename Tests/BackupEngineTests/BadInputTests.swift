import CSQLite
import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

#if canImport(Glibc)
    import Glibc
#endif

/// The backup engine meets bad input with a clear outcome: one test per bad
/// input, the expected outcome in its name. Shared rule: no folder that looks like a set is ever
/// left half-written (only `<id>/` with a manifest, or nothing), and a failed component makes a
/// partial set.
@Suite struct BadInputTests {
    /// Names in the destination: every entry must be a finished set with a valid manifest.
    static func destinationEntries(_ ws: Workspace) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: ws.destination)) ?? []).filter {
            $0 != ".restore-drill"
        }.sorted()
    }

    /// Issue 12: a file the database glob matches that is not a database (0 bytes, shorter than
    /// a page, a page of text, a page of zeros, another format's header) is never turned into a
    /// new empty database: its exact bytes stay in code.tar.gz, the databases component fails
    /// naming it and why, and the set is partial.
    @Test(arguments: [
        (Data(), "0 bytes"),
        (Data("SQLite format 3\0".utf8), "16 bytes, under the 512 bytes of a database's first page"),
        (Data(repeating: 0x41, count: 511), "511 bytes, under the 512 bytes"),
        (Data(repeating: 0, count: 4096), "no \"SQLite format 3\" header"),
        (Data("PK\u{3}\u{4}".utf8) + Data(repeating: 7, count: 2000), "no \"SQLite format 3\" header"),
    ])
    func fileTheGlobMatchesThatIsNotADatabaseIsKeptAsItIsAndFailsDatabases(bytes: Data, why: String)
        async throws
    {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try bytes.write(to: URL(fileURLWithPath: ws.root + "/data/empty.db"))
        let outcome = try await ws.backup()
        let m = outcome.manifest
        #expect(m.status == .partial)
        #expect(!m.databases.contains { $0.path == "data/empty.db" }, "stored as a database")
        let reason = try #require(m.component(.databases)?.reason)
        #expect(reason.contains("data/empty.db: not a SQLite database (\(why)"), "\(reason)")
        #expect(m.component(.databases)?.status == .failed)
        let kept = try #require(m.files.first { $0.path == "data/empty.db" })
        #expect(kept.component == .code && kept.size == Int64(bytes.count))
        #expect(kept.sha256 == SHA256Digest.hex(of: bytes))
        // The archive holds those exact bytes (read back by GNU tar).
        let out = try TempFolder("rd-notdb")
        defer { out.remove() }
        let tar = try Shell.run(
            "/usr/bin/tar", ["-xzf", outcome.setPath + "/code.tar.gz", "-C", out.path, "data/empty.db"])
        #expect(tar.code == 0, "\(tar.err)")
        #expect(FileManager.default.contents(atPath: out.path + "/data/empty.db") == bytes)
    }

    @Test func fileNamedDbThatIsNotADatabaseFailsDatabasesStaysInCodeAndTheSetIsPartial() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try ws.write("data/notes.db", "meeting notes, not SQLite\n")
        let outcome = try await ws.backup()
        let m = outcome.manifest
        #expect(m.status == .partial)
        #expect(m.component(.databases)?.reason?.contains("data/notes.db: not a SQLite database") == true)
        let kept = try #require(m.files.first { $0.path == "data/notes.db" })
        #expect(kept.component == .code)
        #expect(kept.sha256 == SHA256Digest.hex(of: Data("meeting notes, not SQLite\n".utf8)))
        #expect(Self.destinationEntries(ws) == [m.id.description])
    }

    @Test func lockedDatabaseWaitsTheBusyTimeoutThenFailsNamingItAndTheSetIsPartial() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let locker = try SQL.open(ws.root + "/data/app.db")
        defer { SQL.close(locker) }
        try SQL.exec(locker, "BEGIN EXCLUSIVE; INSERT INTO users(name) VALUES ('pending')")
        let started = Date()
        let outcome = try await ws.backup(busyTimeout: 1.5)
        let seconds = Date().timeIntervalSince(started)
        #expect(seconds >= 1.4, "gave up before the busy timeout: \(seconds) s")
        // An upper bound that only proves it does not hang: the suite runs tests in parallel and
        // blocking work (SQLite, hashing) shares a pool as wide as the machine (2 cores here).
        // With the remote-hash backups (rclone hashsum over every stored file) in the same group,
        // this backup waited 64 s for the pool twice in full runs (1.6 s alone): 300 s still
        // tells a hang from a wait.
        #expect(seconds < 300)
        let m = outcome.manifest
        #expect(m.status == .partial)
        let reason = try #require(m.component(.databases)?.reason)
        #expect(reason.contains("data/app.db: locked by another process for more than 1 s"), "\(reason)")
        #expect(!m.databases.contains { $0.path == "data/app.db" })
    }

    @Test func unreadableFileFailsCodeNamingItAndTheSetIsPartial() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try ws.write("src/secret-notes.txt", "cannot read me\n", mode: 0)
        let manifest: Manifest
        if geteuid() == 0 {
            // Root reads a mode-000 file: run the real binary as `nobody` instead, as a user would.
            manifest = try Self.backupAsNobody(ws)
        } else {
            manifest = try await ws.backup().manifest
        }
        #expect(manifest.status == .partial)
        let code = try #require(manifest.component(.code))
        #expect(code.status == .failed)
        #expect(code.reason?.contains("src/secret-notes.txt: Permission denied") == true, "\(code.reason ?? "")")
        #expect(manifest.files.contains { $0.path == "src/main.py" }, "the readable files are still stored")
        #expect(Self.destinationEntries(ws) == [manifest.id.description])
    }

    /// Issue 12 changed the last: a name that is not UTF-8 is stored by its bytes (it made the set
    /// partial before), recorded with `path_bytes`.
    @Test func namesWithSpacesAndNewlinesAreStoredNewlineWarnedAndInvalidUTF8IsStoredByItsBytes() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try ws.write("src/with space/a b.txt", "spaces\n")
        try ws.write("src/line\nbreak.txt", "newline\n")
        // "café.txt" with a Latin-1 é (0xE9): not UTF-8.
        var path = Array((ws.root + "/src/caf").utf8) + [0xE9] + Array(".txt".utf8) + [0]
        let fd = path.withUnsafeMutableBufferPointer {
            open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644)
        }
        #expect(fd >= 0)
        close(fd)
        let outcome = try await ws.backup()
        let m = outcome.manifest
        #expect(m.files.contains { $0.path == "src/with space/a b.txt" })
        #expect(m.files.contains { $0.path == "src/line\nbreak.txt" })
        // Stored, and the backup says now what the drill will say later (restore.archives refuses it).
        #expect(
            m.warnings.contains { $0.contains("line\\nbreak.txt") && $0.contains("control character") }, "\(m.warnings)"
        )
        #expect(m.status == .complete, "\(m.components)")
        #expect(m.component(.code)?.reason == nil)
        let latin1 = Array("src/caf".utf8) + [0xE9] + Array(".txt".utf8)
        let record = try #require(m.files.first { FileNameBytes.bytes($0.path) == latin1 })
        #expect(FileNameBytes.display(record.path) == "src/caf\\xe9.txt")
        #expect(record.size == 0)
    }

    @Test func symlinkLoopIsStoredAsLinksWithoutFollowingAndTheSetIsComplete() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: ws.root + "/loop", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: ws.root + "/loop/a", withDestinationPath: "b")
        try fm.createSymbolicLink(atPath: ws.root + "/loop/b", withDestinationPath: "a")
        try fm.createSymbolicLink(atPath: ws.root + "/loop/self", withDestinationPath: "../loop")
        let outcome = try await ws.backup()
        let m = outcome.manifest
        #expect(m.status == .complete)
        for (name, target) in [("a", "b"), ("b", "a"), ("self", "../loop")] {
            let record = try #require(m.files.first { $0.path == "loop/\(name)" })
            #expect(record.type == .symlink)
            #expect(record.linkTarget == target)
        }
    }

    /// A path deleted after its folder was listed and before the walk looked at it (a file, a
    /// link, a folder) is vanished, not a problem; an excluded one is neither; others stay.
    @Test func pathsDeletedDuringTheWalkAreVanishedNotProblems() throws {
        let folder = try TempFolder("rd-walk-vanish")
        defer { folder.remove() }
        let fm = FileManager.default
        for relative in ["a/file.txt", "a/keep.txt", "b/sub/inner.txt", "cache/x.txt", "c.txt"] {
            let path = folder.path + "/" + relative
            try fm.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data("x\n".utf8).write(to: URL(fileURLWithPath: path))
        }
        try fm.createSymbolicLink(atPath: folder.path + "/a/link", withDestinationPath: "keep.txt")
        let doomed: Set<String> = ["a/file.txt", "a/link", "b", "cache"]
        var walk = WorkspaceWalk()
        let base = try AbsolutePath(validating: folder.path)
        walk.skip = { path in
            // Called for each name after its folder was listed, before lstat: delete it now.
            if let relative = path.relative(to: base)?.pathString, doomed.contains(relative) {
                try? FileManager.default.removeItem(atPath: path.pathString)
            }
            return false
        }
        walk.exclude = { _, name in name == "cache" }
        walk.run(base: base)
        #expect(walk.vanished.sorted() == ["a/file.txt", "a/link", "b"])
        #expect(walk.problems.isEmpty, "\(walk.problems)")
        #expect(walk.entries.map(\.relative).sorted() == ["a", "a/keep.txt", "c.txt"])
    }

    @Test func fileChangingWhileReadIsRetriedAndStoredAsItIsOnceStable() async throws {
        let folder = try TempFolder("rd-change")
        defer { folder.remove() }
        let path = folder.path + "/growing.log"
        try Data(repeating: 0x61, count: 3 << 20).write(to: URL(fileURLWithPath: path))
        let set = folder.path + "/set"
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: true)
        var writer = CodeArchiveWriter(entries: [try Self.entry(path, "growing.log")], level: 1)
        var reads = 0
        writer.afterRead = { _ in
            reads += 1
            // During the first attempt only: the application appends a line.
            if reads == 1, let h = FileHandle(forWritingAtPath: path) {
                h.seekToEndOfFile()
                h.write(Data("appended while the backup read the file\n".utf8))
                try? h.close()
            }
        }
        let result = try await writer.write(setFolder: set, progress: { _ in })
        let final = try Data(contentsOf: URL(fileURLWithPath: path))
        let record = try #require(result.files.first { $0.path == "growing.log" })
        #expect(record.size == Int64(final.count))
        #expect(record.sha256 == SHA256Digest.hex(of: final))
        #expect(result.record.status == .ok)
        #expect(result.warnings.contains { $0.contains("growing.log") && $0.contains("changed while it was read") })
        #expect(reads >= 2, "the file was read again")
    }

    @Test func fileThatNeverStopsChangingIsStoredAsLastReadWithAWarning() async throws {
        let folder = try TempFolder("rd-change")
        defer { folder.remove() }
        let path = folder.path + "/busy.log"
        try Data(repeating: 0x62, count: 1 << 20).write(to: URL(fileURLWithPath: path))
        let set = folder.path + "/set"
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: true)
        var writer = CodeArchiveWriter(entries: [try Self.entry(path, "busy.log")], level: 1)
        writer.afterRead = { _ in
            if let h = FileHandle(forWritingAtPath: path) {
                h.seekToEndOfFile()
                h.write(Data("more\n".utf8))
                try? h.close()
            }
        }
        let result = try await writer.write(setFolder: set, progress: { _ in })
        #expect(result.record.status == .ok)
        let warning = try #require(result.warnings.first { $0.contains("busy.log") })
        #expect(warning.contains("changed while it was read in all \(CodeArchiveWriter.attempts) attempts"))
        // The archive holds exactly what the manifest records.
        let members = try Shell.run("/usr/bin/tar", ["-xzOf", set + "/code.tar.gz", "busy.log"])
        let record = try #require(result.files.first)
        #expect(SHA256Digest.hex(of: Data(members.out.utf8)) == record.sha256)
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a small tmpfs needs root (CI runs as root)"))
    func fullDestinationThrowsNoSpaceNamingTheFileAndLeavesNoPartialFolder() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        // Incompressible content larger than the destination.
        var random = [UInt8](repeating: 0, count: 3 << 20)
        for i in random.indices { random[i] = UInt8.random(in: 0...255) }
        try Data(random).write(to: URL(fileURLWithPath: ws.root + "/src/blob.bin"))
        let mount = try Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", ws.destination])
        try #require(mount.code == 0, "mount: \(mount.err)")
        defer { _ = try? Shell.run("/bin/umount", [ws.destination]) }
        do {
            _ = try await ws.backup()
            Issue.record("the backup did not fail on a full destination")
        } catch let error as RestoreDrillError {
            #expect("\(error)".contains("No space left on device"), "\(error)")
            #expect("\(error)".contains(ws.destination), "the error names the file")
            Self.expectOneFullDestinationError(error, ws)
        }
        #expect(Self.destinationEntries(ws).isEmpty, "\(Self.destinationEntries(ws))")
    }

    /// A database copy that runs out of space (SQLite's `SQLITE_FULL`, whole or through the chunk
    /// VFS) used to fail only its component, giving a `partial` set (exit 1), while an artifact
    /// write gave an I/O error (exit 3): now both are the one full-destination error.
    @Test(
        .enabled(if: geteuid() == 0, "mounting a small tmpfs needs root (CI runs as root)"),
        arguments: [false, true])
    func aDatabaseCopyOnAFullDestinationIsTheSameErrorAsAnArtifactWrite(chunked: Bool) async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        // A database of incompressible rows, larger than the destination: copied whole, or cut
        // into chunks by the chunk VFS.
        try SQL.with(ws.root + "/data/huge.db") { db in
            try SQL.exec(db, "CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")
            try SQL.exec(
                db,
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1000) "
                    + "INSERT INTO blobs(b) SELECT randomblob(3000) FROM n")
        }
        ws.config.databases.chunkSize = chunked ? 512 << 10 : 64 << 20
        let mount = try Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", ws.destination])
        try #require(mount.code == 0, "mount: \(mount.err)")
        defer { _ = try? Shell.run("/bin/umount", [ws.destination]) }
        do {
            let outcome = try await ws.backup()
            Issue.record("the backup did not fail on a full destination: \(outcome.manifest.status)")
        } catch let error as RestoreDrillError {
            Self.expectOneFullDestinationError(error, ws)
        }
        #expect(Self.destinationEntries(ws).isEmpty, "\(Self.destinationEntries(ws))")
    }

    /// The one full-destination error: a path in the destination, the free bytes, exit 3.
    static func expectOneFullDestinationError(_ error: RestoreDrillError, _ ws: Workspace) {
        guard case .destinationFull(let path, let free) = error else {
            Issue.record("expected destinationFull, got \(error)")
            return
        }
        #expect(path.hasPrefix(ws.destination + "/"), "\(path)")
        // The free bytes of the 1 MiB file system the destination is: measured when the error is
        // made, which may be after the failed copy's temporary file was removed (then all of it).
        #expect(free != nil && free! <= 1 << 20, "\(String(describing: free))")
        #expect(error.exitStatus == .runtime)
        let text = error.description
        #expect(text.contains("the destination is full") && text.contains("free on its file system"), "\(text)")
    }

    // MARK: - Helpers

    static func entry(_ path: String, _ relative: String) throws -> WalkEntry {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw RestoreDrillError.io(path: path, message: "lstat") }
        return WalkEntry(
            relative: relative, absolute: try AbsolutePath(validating: path), type: .file,
            mode: Int(st.st_mode) & 0o7777, size: Int64(st.st_size),
            mtimeSeconds: Int(st.st_mtim.tv_sec), mtimeNanoseconds: Int(st.st_mtim.tv_nsec), linkTarget: nil,
            excludedFromCode: false)
    }

    /// Runs `restore-drill backup` as uid/gid 65534 over the workspace (given to that uid) and
    /// returns the manifest of the set it wrote (exit 1: partial).
    static func backupAsNobody(_ ws: Workspace) throws -> Manifest {
        let binary =
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/.build/debug/restore-drill"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "run `swift build --build-tests` first")
        let config = ws.folder.path + "/restore-drill.yml"
        let yaml = """
            home: \(ws.home)
            root: \(ws.root)
            destination: \(ws.destination)
            set_format: 1
            databases:
              include: ["data/**/*.db"]
            dependencies:
              python: [/bin/echo, requests==2.32.3]
              homebrew: [/bin/echo, git 2.42.0]

            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: config))
        _ = try Shell.run("/bin/chown", ["-R", "65534:65534", ws.folder.path])
        let run = try Shell.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", binary, "backup", "--config", config, "--json"])
        #expect(run.code == 1, "a partial set exits 1: \(run.err)")
        let sets = destinationEntries(ws)
        try #require(sets.count == 1, "\(sets) \(run.err)")
        return try Manifest.load(setPath: ws.destination + "/" + sets[0])
    }
}
