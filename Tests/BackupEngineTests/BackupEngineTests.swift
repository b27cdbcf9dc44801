import CSQLite
import DrillCore
import Foundation
import Testing

@testable import BackupEngine

@Suite struct BackupSetTests {
    @Test func completeSetHasEveryComponentArtifactAndChecksum() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let outcome = try await ws.backup()
        let m = outcome.manifest

        #expect(m.status == .complete)
        #expect(outcome.setPath == ws.destination + "/" + m.id.description)
        #expect(m.components.map(\.id) == ComponentID.allCases)
        let status = Dictionary(uniqueKeysWithValues: m.components.map { ($0.id, $0) })
        #expect(status[.code]?.status == .ok)
        #expect(status[.databases]?.status == .ok)
        #expect(status[.launchagents]?.status == .ok)
        #expect(status[.dependencies]?.status == .ok)
        #expect(status[.shell]?.status == .ok)
        #expect(status[.credentials]?.status == .skipped)
        #expect(status[.credentials]?.reason == "vault not configured")
        #expect(m.timeZone == TimeZone.current.identifier)
        #expect(m.home == ws.home && m.root == ws.root)

        // The destination holds only the set; nothing partial or temporary is left.
        let entries = try FileManager.default.contentsOfDirectory(atPath: ws.destination)
        #expect(entries == [m.id.description])
        #expect(!FileManager.default.fileExists(atPath: outcome.setPath + "/.work"))

        // manifest.json on disk is the returned manifest, with a valid self-checksum.
        let onDisk = try Manifest.load(setPath: outcome.setPath)
        #expect(try onDisk.verifySelfChecksum())
        var withoutSum = onDisk
        withoutSum.manifestSHA256 = nil
        #expect(withoutSum == m)

        // Every artifact matches its record; SHA256SUMS lists exactly the artifacts.
        for artifact in m.artifacts {
            let got = try SHA256Digest.file(at: outcome.setPath + "/" + artifact.path)
            #expect(got.sha256 == artifact.sha256, "\(artifact.path)")
            #expect(got.size == artifact.size, "\(artifact.path)")
        }
        let sums = try String(contentsOfFile: outcome.setPath + "/SHA256SUMS", encoding: .utf8)
        #expect(sums == m.artifacts.map { "\($0.sha256)  \($0.path)\n" }.joined())
        #expect(!sums.contains("manifest.json"))
        #expect(m.artifact("restore_maia.sh")?.kind == .script)
        let check = try Shell.run("/usr/bin/sha256sum", ["-c", "--quiet", "SHA256SUMS"], cwd: outcome.setPath)
        #expect(check.code == 0, "\(check.out)\(check.err)")

        var st = stat()
        #expect(stat(outcome.setPath + "/restore_maia.sh", &st) == 0)
        // Private to the user, as restic and borg make theirs (issue 11): the script 0700.
        #expect(Int(st.st_mode) & 0o777 == 0o700)

        // Component counts.
        let codeFiles = m.files.filter { $0.component == .code && $0.type != .directory }
        #expect(status[.code]?.files == codeFiles.count)
        #expect(status[.code]?.bytes == codeFiles.reduce(0) { $0 + $1.size })
        #expect(status[.databases]?.files == 3)
        #expect(status[.shell]?.files == 3)
        #expect(status[.launchagents]?.files == 2)
    }

    @Test func codeArchiveHoldsExactlyTheManifestMembersAndNothingExcluded() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let outcome = try await ws.backup()
        let m = outcome.manifest
        let archive = outcome.setPath + "/code.tar.gz"

        #expect(try Shell.run("/usr/bin/gzip", ["-t", archive]).code == 0)
        let expected = Set(
            m.files.filter { $0.component == .code }.map { $0.type == .directory ? $0.path + "/" : $0.path })
        for tar in ["/usr/bin/tar", "/usr/bin/bsdtar"] {
            let listing = try Shell.run(tar, ["-tzf", archive])
            #expect(listing.code == 0, "\(tar): \(listing.err)")
            let members = Set(
                listing.out.split(separator: "\n").map { name -> String in
                    // bsdtar lists folders with a trailing slash too; normalise both.
                    String(name)
                })
            #expect(members == expected, "\(tar) lists \(members.symmetricDifference(expected).sorted())")
        }
        let paths = Set(m.files.filter { $0.component == .code }.map(\.path))
        for present in [
            "src/main.py", "link-to-readme", "dangling", "deep/" + Workspace.longName, "docs/" + Workspace.unicodeName,
            "empty-folder", "cache/keep.txt", "misc/cache.sqlite", "data", "data/wal",
        ] {
            #expect(paths.contains(present), "\(present) should be in code.tar.gz")
        }
        for absent in [
            ".git", ".git/config", "src/__pycache__", "src/stale.pyc", "cache/tmp", "cache/tmp/blob.bin",
            "data/app.db", "data/wal/live.db", "data/wal/live.db-wal", "data/wal/live.db-shm", "data/big/large.db",
            "secrets", "secrets/token.txt",
        ] {
            #expect(!paths.contains(absent), "\(absent) must not be in code.tar.gz")
        }
        let link = m.files.first { $0.path == "link-to-readme" }
        #expect(link?.type == .symlink && link?.linkTarget == "README.md")
        #expect(m.files.first { $0.path == "bin/run.sh" }?.mode == 0o755)
        #expect(m.files.first { $0.path == "private.txt" }?.mode == 0o600)
        let main = m.files.first { $0.path == "src/main.py" }
        #expect(main?.sha256 == SHA256Digest.hex(of: Data("print('hello')\n".utf8)))
        #expect(main?.size == 15)

        // The unmatched SQLite file stays and is named in a warning.
        #expect(m.warnings.contains { $0.contains("misc/cache.sqlite") })
        #expect(outcome.warnings == m.warnings)

        // No credential anywhere in the set, compressed or not.
        let tarBytes = try Shell.run("/bin/sh", ["-c", "gzip -dc '\(archive)'"]).out
        #expect(!tarBytes.contains(ws.secret))
        let grep = try Shell.run("/usr/bin/grep", ["-r", "-l", ws.secret, outcome.setPath])
        #expect(grep.code == 1, "secret found in \(grep.out)")
    }

    @Test func walDatabaseCopyHoldsRowsStillOnlyInTheWal() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        // The rows are in the -wal file, not yet in the main file, while the backup runs.
        let wal = try Workspace.size(ws.root + "/data/wal/live.db-wal")
        #expect(wal > 0)
        let outcome = try await ws.backup()
        let record = try #require(outcome.manifest.databases.first { $0.path == "data/wal/live.db" })
        #expect(record.tables == [TableCount(name: "events", rows: Int64(ws.liveRows))])
        let artifact = try #require(record.artifact)
        let copy = outcome.setPath + "/" + artifact
        let header = try #require(FileManager.default.contents(atPath: copy))
        // Bytes 18 and 19 of the header are 1 in rollback-journal mode (2 in WAL mode).
        #expect(header[18] == 1 && header[19] == 1)
        let rows = try SQL.with(copy) { try SQL.scalar($0, "SELECT count(*) FROM events") }
        #expect(rows == String(ws.liveRows))
        let last = try SQL.with(copy) { try SQL.scalar($0, "SELECT what FROM events ORDER BY id DESC LIMIT 1") }
        #expect(last == "only in the wal 24")
        #expect(!FileManager.default.fileExists(atPath: copy + "-wal"))

        let app = try #require(outcome.manifest.databases.first { $0.path == "data/app.db" })
        #expect(app.tables == [TableCount(name: "odd \"name", rows: 2), TableCount(name: "users", rows: 3)])
        #expect(app.mode == 0o640)
        #expect(app.artifact == "databases/data/app.db")
        #expect(app.chunks.isEmpty)
    }

    @Test func largeDatabaseIsStoredInTwelveChunksWhoseListedOrderMatters() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let outcome = try await ws.backup()
        let record = try #require(outcome.manifest.databases.first { $0.path == "data/big/large.db" })
        #expect(record.artifact == nil)
        #expect(record.chunks == (1...12).map { String(format: "databases/data/big/large.db.chunk-%04d", $0) })
        #expect(record.tables == [TableCount(name: "blobs", rows: 40)])
        for chunk in record.chunks {
            let a = try #require(outcome.manifest.artifact(chunk))
            #expect(a.kind == .chunk)
            #expect(a.size <= ws.config.databases.chunkSize)
        }
        func concatenated(_ order: [String]) throws -> Data {
            var data = Data()
            for chunk in order { data += try Data(contentsOf: URL(fileURLWithPath: outcome.setPath + "/" + chunk)) }
            return data
        }
        let whole = try concatenated(record.chunks)
        #expect(Int64(whole.count) == record.size)
        #expect(SHA256Digest.hex(of: whole) == record.sha256)
        // Ordered as a glob over unpadded numbers would be (chunk-1, chunk-10, chunk-11, chunk-12, chunk-2, …):
        // the bytes are the same, the database is not.
        let lexical = record.chunks.sorted { a, b in
            String(Int(a.suffix(4))!) < String(Int(b.suffix(4))!)
        }
        #expect(lexical != record.chunks)
        #expect(SHA256Digest.hex(of: try concatenated(lexical)) != record.sha256)
        // The temporary whole copy is gone.
        let stored = try FileManager.default.subpathsOfDirectory(atPath: outcome.setPath + "/databases/data/big")
        #expect(Set(stored) == Set(record.chunks.map { ($0 as NSString).lastPathComponent }))
    }

    @Test func lockedDatabaseFailsItsComponentNamingItAndOthersContinue() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let locker = try SQL.open(ws.root + "/data/app.db")
        defer { SQL.close(locker) }
        try SQL.exec(locker, "BEGIN EXCLUSIVE; INSERT INTO users(name) VALUES ('pending')")
        let started = Date()
        let outcome = try await ws.backup(busyTimeout: 0.5)
        // Only proves the backup does not wait for the lock without end (a 0.5 s busy timeout);
        // speed is measured in ci/bench. On a loaded two-core machine this test took 72 s.
        #expect(Date().timeIntervalSince(started) < 300)
        let m = outcome.manifest
        #expect(m.status == .partial)
        let db = try #require(m.component(.databases))
        #expect(db.status == .failed)
        #expect(db.reason?.contains("data/app.db") == true)
        #expect(db.reason?.contains("locked") == true)
        #expect(m.databases.map(\.path).sorted() == ["data/big/large.db", "data/wal/live.db"])
        #expect(FileManager.default.fileExists(atPath: outcome.setPath + "/manifest.json"))
    }

    @Test func fileMatchedByIncludeThatIsNotADatabaseFailsAndStaysInTheArchive() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try ws.write("data/notes.db", "just text, not SQLite\n")
        let outcome = try await ws.backup()
        let m = outcome.manifest
        #expect(m.status == .partial)
        #expect(m.component(.databases)?.status == .failed)
        #expect(m.component(.databases)?.reason?.contains("data/notes.db: not a SQLite database") == true)
        #expect(m.files.contains { $0.path == "data/notes.db" && $0.component == .code })
        #expect(m.databases.map(\.path) == ["data/app.db"])
    }

    @Test func binaryPlistIsStoredAsXMLAndBrokenPlistFailsNamingIt() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let outcome = try await ws.backup()
        let m = outcome.manifest
        let bin = try #require(m.launchAgents.first { $0.label == "com.maia.bin" })
        #expect(bin.wasBinary)
        #expect(bin.artifact == "launchagents/com.maia.bin.plist")
        #expect(bin.path == "Library/LaunchAgents/com.maia.bin.plist")
        #expect(bin.rewritePrefixes == [ws.root, ws.home])
        let stored = try Data(contentsOf: URL(fileURLWithPath: outcome.setPath + "/" + bin.artifact))
        #expect(String(decoding: stored.prefix(5), as: UTF8.self) == "<?xml")
        var format = PropertyListSerialization.PropertyListFormat.binary
        let parsed = try PropertyListSerialization.propertyList(from: stored, format: &format)
        #expect(format == .xml)
        let original = try PropertyListSerialization.propertyList(
            from: try Data(contentsOf: URL(fileURLWithPath: ws.home + "/Library/LaunchAgents/com.maia.bin.plist")),
            format: nil)
        #expect(RestoredTree.plistEqual(parsed, original))
        let xml = try #require(m.launchAgents.first { $0.label == "com.maia.xml" })
        #expect(!xml.wasBinary)
        let file = try #require(m.files.first { $0.path == bin.path })
        #expect(file.component == .launchagents && file.base == .home && file.rewritten == true && file.sha256 == nil)
        #expect(m.artifact(bin.artifact)?.kind == .plist)

        // A second backup with a broken plist: the component fails naming it, the others are kept.
        try Data("<?xml version=\"1.0\"?><plist><dict><key>Label".utf8)
            .write(to: URL(fileURLWithPath: ws.home + "/Library/LaunchAgents/com.maia.broken.plist"))
        try Data("garbage".utf8).write(
            to: URL(fileURLWithPath: ws.home + "/Library/LaunchAgents/com.maia.garbage.plist"))
        let second = try await ws.backup()
        let agents = try #require(second.manifest.component(.launchagents))
        #expect(agents.status == .failed)
        #expect(agents.reason?.contains("com.maia.broken.plist") == true)
        #expect(agents.reason?.contains("com.maia.garbage.plist") == true)
        #expect(second.manifest.launchAgents.count == 2)
        #expect(second.manifest.status == .partial)
    }

    @Test func dependencyListsFoundNotFoundAndFailing() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }

        let found = FakeRunner(["pip3-rd-fake": .output("requests==2.31.0\n")])
        let one = try await ws.backup(runner: found)
        #expect(one.manifest.component(.dependencies)?.status == .ok)
        let list = try String(contentsOfFile: one.setPath + "/dependencies/python.txt", encoding: .utf8)
        #expect(list == "requests==2.31.0\n")
        #expect(one.manifest.artifact("dependencies/python.txt")?.kind == .list)
        #expect(one.manifest.artifact("dependencies/homebrew.txt") == nil)
        #expect(one.manifest.warnings.contains { $0.contains("brew-rd-fake not found") })
        // Both tools start at once (independent subprocesses): in either order.
        #expect(
            Set(found.requests.map(\.argv)) == [["pip3-rd-fake", "freeze"], ["brew-rd-fake", "list", "--versions"]])
        #expect(found.requests.allSatisfy { $0.timeout == 120 })
        #expect(!one.manifest.files.contains { $0.path.hasPrefix("dependencies") })

        let none = try await ws.backup(runner: FakeRunner([:]), at: Date().addingTimeInterval(10))
        let skipped = try #require(none.manifest.component(.dependencies))
        #expect(skipped.status == .skipped)
        #expect(skipped.reason == "pip3-rd-fake not found; brew-rd-fake not found")
        #expect(none.manifest.status == .complete)

        let failing = FakeRunner([
            "pip3-rd-fake": .failure(2, "Traceback …\nImportError: pip is broken\n"),
            "brew-rd-fake": .output("git 2.42.0\n"),
        ])
        let bad = try await ws.backup(runner: failing, at: Date().addingTimeInterval(20))
        let failed = try #require(bad.manifest.component(.dependencies))
        #expect(failed.status == .failed)
        #expect(failed.reason?.contains("pip3-rd-fake freeze exited 2") == true)
        #expect(failed.reason?.contains("ImportError: pip is broken") == true)
        #expect(bad.manifest.status == .partial)
        #expect(bad.manifest.artifact("dependencies/homebrew.txt") != nil)
    }

    @Test func shellIsSkippedWhenNoConfiguredFileExists() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        ws.config.shell.files = [ws.home + "/.nothing-here"]
        let outcome = try await ws.backup()
        let shell = try #require(outcome.manifest.component(.shell))
        #expect(shell.status == .skipped)
        #expect(shell.reason == "none of the configured shell files exists")
        #expect(outcome.manifest.status == .complete)
    }

    @Test func shellFilesAreStoredRelativeToHome() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let m = try await ws.backup().manifest
        let shell = m.files.filter { $0.component == .shell }
        #expect(shell.map(\.path) == [".zshrc", ".gitconfig", ".config/git/ignore"])
        #expect(shell.allSatisfy { $0.base == .home && $0.sha256 != nil })
        #expect(shell.first { $0.path == ".gitconfig" }?.mode == 0o600)
        #expect(m.artifacts.filter { $0.component == .shell }.map(\.path) == shell.map { "shell/" + $0.path })
    }

    @Test func aSecondSetInTheSameSecondGetsASuffix() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let when = Date(timeIntervalSince1970: 1_760_982_619)
        let first = try await ws.backup(at: when)
        let second = try await ws.backup(at: when)
        let third = try await ws.backup(at: when)
        #expect(first.manifest.id.description == "full_20251020_175019")
        #expect(second.manifest.id.description == "full_20251020_175019_2")
        #expect(third.manifest.id.description == "full_20251020_175019_3")
        #expect(FileManager.default.fileExists(atPath: third.setPath + "/manifest.json"))
    }

    @Test func destinationInsideRootIsLeftOutOfTheArchive() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        ws.config.destination = ws.root + "/backups"
        let first = try await ws.backup()
        let second = try await ws.backup(at: Date().addingTimeInterval(5))
        #expect(!first.manifest.files.contains { $0.path.hasPrefix("backups") })
        #expect(!second.manifest.files.contains { $0.path.hasPrefix("backups") })
        #expect(second.manifest.status == .complete)
    }

    @Test func unsafeDatabaseNamesUseNumberedArtifacts() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try FileManager.default.createDirectory(atPath: ws.root + "/data/-odd", withIntermediateDirectories: true)
        try SQL.with(ws.root + "/data/-odd/ünï cödé.db") { try SQL.exec($0, "CREATE TABLE t(x)") }
        let m = try await ws.backup().manifest
        let odd = try #require(m.databases.first { $0.path == "data/-odd/ünï cödé.db" })
        #expect(odd.artifact?.hasPrefix("databases/db-") == true)
        #expect(odd.artifact?.hasSuffix(".db") == true)
        #expect(SetNames.isSafe("data/app.db"))
        #expect(!SetNames.isSafe("-x.db"))
        #expect(!SetNames.isSafe("a\\b.db"))
        #expect(!SetNames.isSafe("a/../b.db"))
    }

    @Test func progressReportsEachDatabase() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        let lines = LineCollector()
        var engine = BackupEngine(
            config: ws.config, clock: FixedClock(Date()), runner: ws.runner, progress: { lines.add($0) })
        engine.busyTimeout = 5
        _ = try await engine.run()
        #expect(lines.all.contains("databases: 1/3 data/app.db"))
        #expect(lines.all.contains { $0.hasPrefix("databases: 3/3 ") })
    }
}

final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

@Suite struct GlobSupportTests {
    @Test func excludePatternsMatchNamesOrRootRelativePaths() {
        let patterns = [".git", "*.pyc", "cache/tmp"]
        #expect(GlobSupport.excluded(relative: "a/b/.git", name: ".git", patterns: patterns))
        #expect(GlobSupport.excluded(relative: "x.pyc", name: "x.pyc", patterns: patterns))
        #expect(GlobSupport.excluded(relative: "cache/tmp", name: "tmp", patterns: patterns))
        #expect(!GlobSupport.excluded(relative: "other/cache/tmp", name: "tmp", patterns: patterns))
        #expect(!GlobSupport.excluded(relative: "src/main.py", name: "main.py", patterns: patterns))
    }

    @Test func aWalkEntersOnlyFoldersADatabaseGlobCanReachBelow() {
        #expect(GlobSupport.couldMatchBelow("claude/data/**/*.db", folder: "claude"))
        #expect(GlobSupport.couldMatchBelow("claude/data/**/*.db", folder: "claude/data/x/y"))
        #expect(!GlobSupport.couldMatchBelow("claude/data/**/*.db", folder: "node_modules"))
        #expect(!GlobSupport.couldMatchBelow("data/*.db", folder: "data/sub"))
        #expect(GlobSupport.couldMatchBelow("**/*.db", folder: ".venv/lib"))
    }

    @Test func databasesInsideAnExcludedFolderAreStillCopied() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        ws.config.code.exclude = ["data"]
        let outcome = try await ws.backup()
        #expect(outcome.manifest.databases.map(\.path) == ["data/app.db"])
        #expect(!outcome.manifest.files.contains { $0.path.hasPrefix("data") })
        #expect(outcome.manifest.status == .complete)
    }
}
