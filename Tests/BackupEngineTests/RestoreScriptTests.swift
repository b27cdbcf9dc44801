import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// One way a user's machine runs the restore script.
struct RestoreCase: Sendable, CustomTestStringConvertible {
    var shell: [String]
    var tar: String
    var hasher: String

    var testDescription: String { "\(shell.joined(separator: " ")) + \(tar) + \(hasher)" }

    static let all: [RestoreCase] = {
        var out: [RestoreCase] = []
        for shell in [["/usr/bin/dash"], ["/usr/bin/bash", "--posix"], ["/usr/bin/zsh"]] {
            for tar in ["/usr/bin/tar", "/usr/bin/bsdtar"] {
                for hasher in ["openssl", "sha256sum", "shasum"] {
                    out.append(RestoreCase(shell: shell, tar: tar, hasher: hasher))
                }
            }
        }
        return out
    }()
}

/// A folder of symlinks to only the tools a restore may use, to put alone in `PATH`.
struct ToolBin {
    let path: String

    /// - Parameter reader: a faster gzip reader to offer (`igzip`, `pigz`), or nil for none.
    init(in folder: String, tar: String = "/usr/bin/tar", hasher: String = "openssl", reader: String? = nil) throws {
        path = folder + "/bin"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: path + "/tar", withDestinationPath: tar)
        for tool in ["gzip", "cat", "sed", "mkdir", "chmod", "mv", "rm", hasher] + (reader.map { [$0] } ?? []) {
            let source = ["/usr/bin/" + tool, "/bin/" + tool].first { fm.isExecutableFile(atPath: $0) }
            try fm.createSymbolicLink(atPath: path + "/" + tool, withDestinationPath: try #require(source))
        }
    }
}

/// A backup set of a full workspace plus restore targets with a space and `&` in their names.
final class RestoreFixture {
    let ws: Workspace
    let outcome: BackupOutcome
    let scratch: TempFolder
    let newHome: String
    let newRoot: String
    let shellHome: String

    init() async throws {
        ws = try Workspace()
        outcome = try await ws.backup()
        scratch = try TempFolder("rd-restore")
        newHome = scratch.path + "/new h&o.me"
        newRoot = newHome + "/work dir/maia"
        shellHome = scratch.path + "/shell-home"
        try FileManager.default.createDirectory(atPath: shellHome, withIntermediateDirectories: true)
    }

    var script: String { outcome.setPath + "/" + outcome.manifest.restoreScript }

    func run(
        _ c: RestoreCase = RestoreCase(shell: ["/usr/bin/dash"], tar: "/usr/bin/tar", hasher: "openssl"),
        extra: [String] = ["--yes"], scriptPath: String? = nil, cwd: String? = nil, reader: String? = nil
    ) throws -> Shell.Result {
        let bin = try ToolBin(
            in: scratch.path + "/tools-\(UUID().uuidString.prefix(6))", tar: c.tar, hasher: c.hasher, reader: reader)
        return try Shell.run(
            c.shell[0],
            Array(c.shell.dropFirst()) + [scriptPath ?? script, "--home", newHome, "--root", newRoot] + extra,
            environment: ["PATH": bin.path, "HOME": shellHome, "LANG": "C.UTF-8"], cwd: cwd ?? scratch.path)
    }

    func close() {
        ws.close()
        scratch.remove()
    }

    /// Flips one byte in the middle of an artifact.
    func flipByte(in artifact: String) throws {
        let path = outcome.setPath + "/" + artifact
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count / 2] ^= 0xff
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Cuts `code.tar.gz` in half and puts its new SHA-256 in SHA256SUMS, so only the archive
    /// readers can tell.
    func cutCodeArchiveAndReseal() throws {
        let set = outcome.setPath
        let archive = set + "/code.tar.gz"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        let oldSum = SHA256Digest.hex(of: bytes)
        bytes = bytes.prefix(bytes.count / 2)
        try bytes.write(to: URL(fileURLWithPath: archive))
        var sums = try String(contentsOfFile: set + "/SHA256SUMS", encoding: .utf8)
        sums = sums.replacingOccurrences(
            of: "\(oldSum)  code.tar.gz", with: "\(SHA256Digest.hex(of: bytes))  code.tar.gz")
        try sums.write(toFile: set + "/SHA256SUMS", atomically: true, encoding: .utf8)
    }

    func tempLeftovers() -> [String] {
        (FileManager.default.subpaths(atPath: scratch.path) ?? []).filter { $0.contains(".restore-drill-") }
    }
}

@Suite struct RestoreScriptTests {
    @Test(arguments: RestoreCase.all)
    func restoreScriptRestoresTheManifestExactly(_ c: RestoreCase) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let result = try f.run(c)
        #expect(result.code == 0, "\(c.testDescription): \(result.err)")
        let count = f.outcome.manifest.artifacts.count
        #expect(result.out.contains("restore: verified \(count) artifacts (SHA-256 with \(c.hasher))"))
        #expect(result.out.contains("credentials: skipped (no vault in this set)"))
        let set = f.outcome.setPath
        #expect(result.out.contains("dependencies: Python packages: pip3 install -r '\(set)/dependencies/python.txt'"))
        #expect(result.out.contains("brew install $(cut -d' ' -f1 '\(set)/dependencies/homebrew.txt')"))
        let problems = try RestoredTree.problems(
            manifest: f.outcome.manifest, setPath: f.outcome.setPath, home: f.newHome, root: f.newRoot)
        #expect(problems.isEmpty, "\(c.testDescription): \(problems.joined(separator: "\n"))")
        #expect(f.tempLeftovers().isEmpty)
        // The restored WAL database has the rows that were only in the -wal file at backup time.
        let rows = try SQL.with(f.newRoot + "/data/wal/live.db") { try SQL.scalar($0, "SELECT count(*) FROM events") }
        #expect(rows == String(f.ws.liveRows))
        #expect(FileManager.default.fileExists(atPath: f.newRoot + "/deep/" + Workspace.longName))
        #expect(FileManager.default.fileExists(atPath: f.newRoot + "/docs/" + Workspace.unicodeName))
    }

    @Test func launchAgentPathsAreRewrittenAtBoundariesOnly() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let result = try f.run()
        #expect(result.code == 0, "\(result.err)")
        let data = try Data(contentsOf: URL(fileURLWithPath: f.newHome + "/Library/LaunchAgents/com.maia.xml.plist"))
        let plist = try #require(try PropertyListSerialization.propertyList(from: data, format: nil) as? [String: Any])
        let args = try #require(plist["ProgramArguments"] as? [String])
        let home = f.ws.home
        let root = f.ws.root
        #expect(args[0] == f.newRoot + "/bin/run.sh")
        #expect(args[1] == "--config=" + f.newRoot + "/etc/app.conf")
        #expect(args[2] == home + "2/not-mine")
        #expect(args[3] == "/opt" + home + "/x")
        #expect(args[4] == "a>" + home + "/gt")
        #expect(args[5] == home.replacingOccurrences(of: ".", with: "X") + "/dot-is-literal")
        #expect(args[6] == home + "&amp;/entity")
        #expect(args[6] == PathRewrite.apply(home + "&amp;/entity", [(root, f.newRoot), (home, f.newHome)]))
        let env = try #require(plist["EnvironmentVariables"] as? [String: String])
        #expect(env["PATH"] == f.newRoot + "/bin:" + f.newHome + "/bin:/usr/bin")
        #expect(env["TWICE"] == ":" + f.newHome + ":" + f.newHome + ":" + f.newHome + ":")
        #expect(env["BOTH"] == f.newHome + " " + f.newRoot)
        #expect(env["EXACT"] == f.newHome)
        #expect(env[f.newHome + "/as-key"] == "value")
        #expect(plist["WorkingDirectory"] as? String == f.newRoot)
        let bin = try #require(
            try PropertyListSerialization.propertyList(
                from: try Data(
                    contentsOf: URL(fileURLWithPath: f.newHome + "/Library/LaunchAgents/com.maia.bin.plist")),
                format: nil) as? [String: Any])
        // A quote is not a path boundary in PathRewrite's rule, so a quoted path inside an `sh -c`
        // script stays as it was (the verifier's launchagents.rewrite reports such traces).
        let script = "cd '" + root + "' && ./bin/run.sh"
        #expect(
            (bin["ProgramArguments"] as? [String])?[2]
                == PathRewrite.apply(script, [(root, f.newRoot), (home, f.newHome)]))
        #expect((bin["ProgramArguments"] as? [String])?[2] == script)
        #expect(bin["StandardErrorPath"] as? String == f.newHome + "/Library/Logs/maia-bin.log")
    }

    /// All artifacts are hashed by one process; a mismatch is then found one artifact at a time,
    /// with each of the three tools the script may use.
    @Test(arguments: ["openssl", "sha256sum", "shasum"])
    func flippedByteInAChunkStopsTheRestoreNamingTheChunk(_ hasher: String) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let chunk = "databases/data/big/large.db.chunk-0003"
        try f.flipByte(in: chunk)
        let result = try f.run(RestoreCase(shell: ["/usr/bin/dash"], tar: "/usr/bin/tar", hasher: hasher))
        #expect(result.code != 0)
        #expect(result.err.contains("restore: FAILED: \(chunk): checksum mismatch"), "\(result.err)")
        // Nothing was restored: the check comes first.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: f.newRoot))?.isEmpty ?? true)
    }

    /// The code archive is extracted in the background while the databases are restored; a
    /// damaged archive (resealed so only tar can tell) still stops the restore, naming it.
    @Test(arguments: ["/usr/bin/tar", "/usr/bin/bsdtar"])
    func aDamagedCodeArchiveStopsTheRestoreAfterTheBackgroundExtraction(_ tar: String) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        try f.cutCodeArchiveAndReseal()
        let result = try f.run(RestoreCase(shell: ["/usr/bin/dash"], tar: tar, hasher: "openssl"))
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: code.tar.gz: extraction failed"), "\(result.err)")
        #expect(!result.out.contains("restore: done"))
        #expect(f.tempLeftovers().isEmpty)
    }

    /// Step (1) hashes two halves of SHA256SUMS at once; a damaged artifact in the second half
    /// (the last one listed before the script) is named as well as one in the first.
    @Test(arguments: ["openssl", "sha256sum"])
    func aDamagedArtifactInTheSecondHalfIsNamed(_ hasher: String) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let artifacts = f.outcome.manifest.artifacts.filter { $0.kind != .script }
        let split = RestoreScript.sumsSplit(artifacts.map(\.size))
        #expect(split > 0 && split < artifacts.count)
        let last = try #require(artifacts.last).path
        try f.flipByte(in: last)
        let result = try f.run(RestoreCase(shell: ["/usr/bin/bash", "--posix"], tar: "/usr/bin/tar", hasher: hasher))
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: \(last): checksum mismatch"), "\(result.err)")
    }

    @Test func theSumsAreCutWhereTheBytesAreHalved() {
        #expect(RestoreScript.sumsSplit([29, 50, 50, 50, 37, 3, 3]) == 3)
        #expect(RestoreScript.sumsSplit([100, 1, 1]) == 1)
        #expect(RestoreScript.sumsSplit([1, 1]) == 1)
        #expect(RestoreScript.sumsSplit([1, 1, 1, 97]) == 3)
        #expect(RestoreScript.sumsSplit([5]) == 0)
        #expect(RestoreScript.sumsSplit([]) == 0)
    }

    /// With igzip or pigz installed the code archive is read by it (piped into tar); the
    /// restored tree is the same, under each shell and both tars.
    @Test(arguments: ["igzip", "pigz"])
    func aFasterGzipReaderRestoresTheSameTree(_ reader: String) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        for shell in [["/usr/bin/dash"], ["/usr/bin/bash", "--posix"], ["/usr/bin/zsh"]] {
            for tar in ["/usr/bin/tar", "/usr/bin/bsdtar"] {
                try? FileManager.default.removeItem(atPath: f.newHome)
                let result = try f.run(RestoreCase(shell: shell, tar: tar, hasher: "sha256sum"), reader: reader)
                #expect(result.code == 0, "\(reader) \(shell) \(tar): \(result.err)")
                let problems = try RestoredTree.problems(
                    manifest: f.outcome.manifest, setPath: f.outcome.setPath, home: f.newHome, root: f.newRoot)
                #expect(problems.isEmpty, "\(reader) \(shell) \(tar): \(problems.joined(separator: "\n"))")
            }
        }
    }

    /// A reader that fails (a cut archive, resealed so step (1) passes) fails the restore even
    /// though tar is the last command of the pipe.
    @Test(arguments: ["igzip", "pigz"])
    func aFailingGzipReaderStopsTheRestore(_ reader: String) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        try f.cutCodeArchiveAndReseal()
        let result = try f.run(reader: reader)
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: code.tar.gz: extraction failed"), "\(result.err)")
        #expect(result.err.contains("(\(reader) -d could not read it)"), "\(result.err)")
    }

    /// A restore stopped while the archive is still being extracted (SIGTERM here) leaves no tar
    /// behind writing into the root: the background tar is the process the cleanup stops.
    @Test(arguments: ["/usr/bin/dash", "/usr/bin/zsh"])
    func aStoppedRestoreLeavesNoTarRunning(_ shell: String) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        // A reader that hands tar the start of the archive and then neither writes nor closes the
        // pipe: tar waits mid-archive.
        let bin = try ToolBin(in: f.scratch.path + "/tools-stuck", reader: nil)
        let marker = "37.\(Int.random(in: 100_000...999_999))"
        let reader = bin.path + "/igzip"
        try "#!/bin/sh\n/bin/gzip -dc | /usr/bin/head -c 20000\nexec /bin/sleep \(marker)\n".write(
            toFile: reader, atomically: true, encoding: .utf8)
        chmod(reader, 0o755)
        let p = Process()
        // Through python3 only to clear the signal mask the test process's threads pass on, so
        // the SIGTERM below reaches the shell as it would from a terminal.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [
            "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            shell, f.script, "--home", f.newHome, "--root", f.newRoot, "--yes",
        ]
        p.environment = ["PATH": bin.path, "HOME": f.shellHome, "LANG": "C.UTF-8"]
        let errPath = f.scratch.path + "/stuck-err.txt"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try p.run()
        defer {
            for pid in Self.processes(matching: marker) { kill(pid, SIGKILL) }
        }
        // Wait until the databases are restored (the script then waits for tar), then stop it.
        let deadline = Date().addingTimeInterval(20)
        while Self.processes(matching: "-C " + f.newRoot).isEmpty && Date() < deadline { usleep(20_000) }
        usleep(300_000)
        #expect(!Self.processes(matching: "-C " + f.newRoot).isEmpty, "tar never started")
        p.terminate()
        // The reader still holds the pipe open: a tar that the cleanup did not stop would still
        // be waiting on it now.
        usleep(500_000)
        #expect(Self.processes(matching: "-C " + f.newRoot).isEmpty, "a tar is still running into the root")
        for pid in Self.processes(matching: marker) { kill(pid, SIGKILL) }
        p.waitUntilExit()
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        #expect(p.terminationStatus == 143, "\(err)")
    }

    /// Processes whose command line contains `text`.
    static func processes(matching text: String) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> pid_t? in
            guard let pid = pid_t(name),
                let raw = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
            else { return nil }
            let line = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return line.contains(text) ? pid : nil
        }
    }

    @Test func missingChunkStopsTheRestoreNamingIt() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let chunk = "databases/data/big/large.db.chunk-0005"
        try FileManager.default.removeItem(atPath: f.outcome.setPath + "/" + chunk)
        let result = try f.run(RestoreCase(shell: ["/usr/bin/zsh"], tar: "/usr/bin/bsdtar", hasher: "sha256sum"))
        #expect(result.code != 0)
        #expect(result.err.contains("restore: FAILED: \(chunk): missing"), "\(result.err)")
    }

    @Test func swappedChunksWithResealedSumsFailTheDatabaseCheck() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let set = f.outcome.setPath
        let a = "databases/data/big/large.db.chunk-0009"
        let b = "databases/data/big/large.db.chunk-0010"
        let da = try Data(contentsOf: URL(fileURLWithPath: set + "/" + a))
        let db = try Data(contentsOf: URL(fileURLWithPath: set + "/" + b))
        try db.write(to: URL(fileURLWithPath: set + "/" + a))
        try da.write(to: URL(fileURLWithPath: set + "/" + b))
        // Reseal SHA256SUMS so only the database check can notice.
        var sums = try String(contentsOfFile: set + "/SHA256SUMS", encoding: .utf8)
        let sa = SHA256Digest.hex(of: da)
        let sb = SHA256Digest.hex(of: db)
        sums = sums.replacingOccurrences(of: "\(sa)  \(a)", with: "\(sb)  \(a)")
            .replacingOccurrences(of: "\(sb)  \(b)", with: "\(sa)  \(b)")
        try sums.write(toFile: set + "/SHA256SUMS", atomically: true, encoding: .utf8)
        let result = try f.run(RestoreCase(shell: ["/usr/bin/bash", "--posix"], tar: "/usr/bin/tar", hasher: "shasum"))
        #expect(result.code != 0)
        #expect(
            result.err.contains("restore: FAILED: data/big/large.db: reassembled database checksum mismatch"),
            "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newRoot + "/data/big/large.db"))
        #expect(f.tempLeftovers().isEmpty)
    }

    @Test func nonEmptyTargetIsRefusedWithoutForce() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        try FileManager.default.createDirectory(atPath: f.newRoot, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: f.newRoot + "/keep.txt"))
        let refused = try f.run()
        #expect(refused.code != 0)
        #expect(refused.err.contains("is not empty (use --force"), "\(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newRoot + "/src/main.py"))

        let forced = try f.run(extra: ["--yes", "--force"])
        #expect(forced.code == 0, "\(forced.err)")
        #expect(FileManager.default.fileExists(atPath: f.newRoot + "/src/main.py"))
        #expect(FileManager.default.fileExists(atPath: f.newRoot + "/keep.txt"))
    }

    /// Issue 12: a restore with `--force` over an old copy whose database has a real `-wal` (with
    /// a table only the log holds), a `-shm` and a `-journal` beside it: each sidecar is moved
    /// aside once the archive is extracted, before anything opens it, so SQLite never replays the old log into
    /// the restored database; the sidecars are kept, renamed, not deleted.
    @Test(arguments: [["-wal", "-shm"], ["-wal", "-shm", "-journal"], ["-journal"]])
    func staleSidecarsAtTheTargetAreMovedAsideBeforeAnythingOpensTheDatabase(suffixes: [String]) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        // A database stored in WAL mode (header bytes 18 and 19 are 2), so SQLite reads a -wal
        // beside the restored file: the live one of the workspace.
        let record = try #require(f.outcome.manifest.databases.first { $0.base == .root && !$0.tables.isEmpty })
        let target = f.newRoot + "/" + record.path
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // The old copy: a database in WAL mode whose last writes are only in its -wal.
        let old = try SQL.open(target)
        try SQL.exec(
            old,
            "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE old_only(x); "
                + "INSERT INTO old_only VALUES ('from the old copy'); CREATE TABLE stale_in_wal(y); "
                + "INSERT INTO stale_in_wal VALUES (1);")
        let wal = try #require(FileManager.default.contents(atPath: target + "-wal"))
        let shm = FileManager.default.contents(atPath: target + "-shm") ?? Data(count: 32768)
        let main = try #require(FileManager.default.contents(atPath: target))
        SQL.close(old)  // a clean close checkpoints and removes the -wal: put the old state back
        try main.write(to: URL(fileURLWithPath: target))
        let sidecars: [String: Data] = ["-wal": wal, "-shm": shm, "-journal": Data(repeating: 0xd9, count: 512)]
        for suffix in ["-wal", "-shm", "-journal"] { unlink(target + suffix) }
        for suffix in suffixes { try sidecars[suffix]!.write(to: URL(fileURLWithPath: target + suffix)) }
        #expect(wal.count > 32, "the old copy's -wal holds frames")

        let forced = try f.run(extra: ["--yes", "--force"])
        #expect(forced.code == 0, "\(forced.err)")
        for suffix in suffixes {
            #expect(!FileManager.default.fileExists(atPath: target + suffix), "\(suffix) left beside it")
            let aside =
                (try FileManager.default.contentsOfDirectory(atPath: (target as NSString).deletingLastPathComponent))
                .first { $0.hasPrefix((target as NSString).lastPathComponent + suffix + ".before-restore-") }
            #expect(aside != nil, "\(suffix) was not kept aside")
            #expect(forced.out.contains("a stale \(suffix) not from the backup moved aside"), "\(forced.out)")
        }
        // The restored database is the backup's: intact, its tables only, none of the old log's.
        let restored = try SHA256Digest.file(at: target)
        #expect(restored.0 == record.sha256)
        let tables = try SQL.with(target) { db in
            (
                try SQL.scalar(db, "PRAGMA integrity_check"),
                try SQL.scalar(db, "SELECT group_concat(name) FROM sqlite_master WHERE type='table'")
            )
        }
        #expect(tables.0 == "ok")
        #expect(!tables.1.contains("old_only") && !tables.1.contains("stale_in_wal"), "\(tables.1)")
    }

    @Test func nonEmptyHomeIsRefusedButEmptyFoldersLeadingToRootAreNot() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        // Empty folders down to an empty root: fine.
        try FileManager.default.createDirectory(atPath: f.newRoot, withIntermediateDirectories: true)
        let ok = try f.run()
        #expect(ok.code == 0, "\(ok.err)")
        // A second restore into the now-filled home is refused.
        let again = try f.run()
        #expect(again.code != 0)
        #expect(again.err.contains("home "), "\(again.err)")
        #expect(again.err.contains("is not empty"))
    }

    @Test func withoutYesOffATerminalItRefusesToStart() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let result = try f.run(extra: [])
        #expect(result.code != 0)
        #expect(result.err.contains("pass --yes"), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newRoot))
    }

    @Test func scriptFindsItsSetFromARelativeInvocation() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let result = try f.run(scriptPath: f.outcome.manifest.restoreScript, cwd: f.outcome.setPath)
        #expect(result.code == 0, "\(result.err)")
        #expect(FileManager.default.fileExists(atPath: f.newRoot + "/src/main.py"))
        let usage = try f.run(extra: ["--bogus"])
        #expect(usage.code != 0)
        #expect(usage.err.contains("unknown argument: --bogus"))
    }

    @Test func sedPatternEscapesRegexAndXML() {
        #expect(RestoreScript.sedPattern("/Users/a.b&c") == "/Users/a\\.b&amp;c")
        #expect(RestoreScript.sedPattern("/x/[y]*^$\\<>") == "/x/\\[y]\\*\\^\\$\\\\&lt;&gt;")
        #expect(RestoreScript.sedPattern("/bad\u{1}") == nil)
        #expect(RestoreScript.q("it's") == "'it'\\''s'")
    }
}
