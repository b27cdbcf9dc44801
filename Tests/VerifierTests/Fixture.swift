import CSQLite
import DrillCore
import Foundation
import TestSupport

@testable import Verifier

/// A small backup set made by code, in a temporary folder, and the means to damage it.
///
/// Old workspace: home `/Users/alice`, root `/Users/alice/git/maia`. The set holds `code.tar.gz`
/// (made by /usr/bin/tar: `src/main.py`, `src/link -> main.py`, `bin/run.sh`), optionally two
/// databases (`data/store.db` whole, `data/big.db` in two chunks), one LaunchAgent, `.zshrc`,
/// and a tiny POSIX restore script.
final class Fixture {
    struct Options {
        var databases = true
        /// The restore script rewrites the old home in plists (false leaves it: a damage).
        var rewriteHome = true
        /// Shell lines appended to the restore script.
        var scriptExtra = ""
        /// ProgramArguments after the program (old paths are written literally).
        var agentArguments = ["--log", "/Users/alice/Library/Logs/maia.log"]
        var calendar: [String: Int] = ["Hour": 3, "Minute": 0]
    }

    static let oldHome = "/Users/alice"
    static let oldRoot = "/Users/alice/git/maia"

    let base: String
    let destination: String
    let setPath: String
    var manifest: Manifest
    let options: Options

    init(_ options: Options = Options(), age: TimeInterval = 3600, now: Date = Date()) throws {
        self.options = options
        base = FileManager.default.temporaryDirectory.appendingPathComponent("verifier-\(UUID().uuidString)").path
        destination = base + "/destination"
        let id = BackupID(date: now.addingTimeInterval(-age))
        setPath = destination + "/" + id.description
        manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "test", home: Self.oldHome,
            root: Self.oldRoot)
        try build()
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    func path(_ relative: String) -> String { setPath + "/" + relative }

    func write(_ text: String, to relative: String, mode: Int = 0o644) throws {
        try write(Data(text.utf8), to: relative, mode: mode)
    }

    func write(_ data: Data, to relative: String, mode: Int = 0o644) throws {
        let p = path(relative)
        try FileManager.default.createDirectory(
            atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: p))
        chmod(p, mode_t(mode))
    }

    private func build() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: setPath, withIntermediateDirectories: true)
        // Code.
        let staging = base + "/staging"
        try fm.createDirectory(atPath: staging + "/src", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: staging + "/bin", withIntermediateDirectories: true)
        let mainPy = "print('hello from maia')\n"
        let runSh = "#!/bin/sh\necho run\n"
        try mainPy.write(toFile: staging + "/src/main.py", atomically: false, encoding: .utf8)
        try runSh.write(toFile: staging + "/bin/run.sh", atomically: false, encoding: .utf8)
        chmod(staging + "/src/main.py", 0o644)
        chmod(staging + "/bin/run.sh", 0o755)
        try fm.createSymbolicLink(atPath: staging + "/src/link", withDestinationPath: "main.py")
        try run("/usr/bin/tar", ["-czf", path("code.tar.gz"), "-C", staging, "src", "bin"])
        manifest.files = [
            FileRecord(
                component: .code, base: .root, path: "src/main.py", size: Int64(mainPy.utf8.count),
                sha256: SHA256Digest.hex(of: Data(mainPy.utf8)), mode: 0o644),
            FileRecord(
                component: .code, base: .root, path: "src/link", type: .symlink, mode: 0o777, linkTarget: "main.py"),
            FileRecord(
                component: .code, base: .root, path: "bin/run.sh", size: Int64(runSh.utf8.count),
                sha256: SHA256Digest.hex(of: Data(runSh.utf8)), mode: 0o755),
        ]
        var components = [
            ComponentRecord(id: .code, status: .ok, files: 3, bytes: Int64(mainPy.utf8.count + runSh.utf8.count))
        ]

        // Databases.
        if options.databases {
            try fm.createDirectory(atPath: path("databases"), withIntermediateDirectories: true)
            let store = path("databases/store.db")
            try Self.sqlite(
                store,
                """
                PRAGMA journal_mode=DELETE;
                CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
                CREATE INDEX items_name ON items(name);
                CREATE TABLE notes(id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items(id), body TEXT);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
                  INSERT INTO items(name) SELECT printf('item-%04d-%s', i, hex(randomblob(8))) FROM n;
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
                  INSERT INTO notes(item_id, body) SELECT i, 'note ' || i FROM n;
                """)
            let big = base + "/big.db"
            try Self.sqlite(
                big,
                """
                PRAGMA journal_mode=DELETE;
                CREATE TABLE blobs(id INTEGER PRIMARY KEY, body BLOB);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
                  INSERT INTO blobs(body) SELECT randomblob(1000) FROM n;
                """)
            let bigData = try Data(contentsOf: URL(fileURLWithPath: big))
            let half = bigData.count / 2
            try write(bigData.prefix(half), to: "databases/big.db.chunk-0001")
            try write(bigData.dropFirst(half), to: "databases/big.db.chunk-0002")
            let storeDigest = try SHA256Digest.file(at: store)
            manifest.databases = [
                DatabaseRecord(
                    base: .root, path: "data/store.db", size: storeDigest.size, sha256: storeDigest.sha256,
                    artifact: "databases/store.db", chunks: [],
                    tables: [.init(name: "items", rows: 400), .init(name: "notes", rows: 50)],
                    mode: 0o644),
                DatabaseRecord(
                    base: .root, path: "data/big.db", size: Int64(bigData.count), sha256: SHA256Digest.hex(of: bigData),
                    artifact: nil, chunks: ["databases/big.db.chunk-0001", "databases/big.db.chunk-0002"],
                    tables: [.init(name: "blobs", rows: 60)], mode: 0o644),
            ]
            components.append(
                ComponentRecord(id: .databases, status: .ok, files: 2, bytes: storeDigest.size + Int64(bigData.count)))
        } else {
            components.append(ComponentRecord(id: .databases, status: .ok, files: 0, bytes: 0))
        }

        // LaunchAgent.
        let label = "com.maia.agent"
        let agentPath = "Library/LaunchAgents/\(label).plist"
        let plist: [String: Any] = [
            "Label": label,
            "ProgramArguments": ["\(Self.oldRoot)/bin/run.sh"] + options.agentArguments,
            "EnvironmentVariables": ["PATH": "/usr/bin:/bin:\(Self.oldRoot)/bin"],
            "StartCalendarInterval": options.calendar,
            "StandardOutPath": "\(Self.oldHome)/Library/Logs/maia.out",
        ]
        let xml = try PropertyListSerialization.data(fromPropertyList: plist, format: .xml, options: 0)
        try write(xml, to: "launchagents/\(label).plist")
        manifest.launchAgents = [
            LaunchAgentRecord(
                path: agentPath, artifact: "launchagents/\(label).plist", label: label,
                rewritePrefixes: [Self.oldRoot, Self.oldHome], wasBinary: false, mode: 0o644)
        ]
        manifest.files.append(
            FileRecord(
                component: .launchagents, base: .home, path: agentPath, size: Int64(xml.count), mode: 0o644,
                rewritten: true))
        components.append(ComponentRecord(id: .launchagents, status: .ok, files: 1, bytes: Int64(xml.count)))
        components.append(ComponentRecord(id: .dependencies, status: .skipped, reason: "pip3 not found"))

        // Shell.
        let zshrc = "export MAIA=1\n"
        try write(zshrc, to: "shell/.zshrc")
        manifest.files.append(
            FileRecord(
                component: .shell, base: .home, path: ".zshrc", size: Int64(zshrc.utf8.count),
                sha256: SHA256Digest.hex(of: Data(zshrc.utf8)), mode: 0o644))
        components.append(ComponentRecord(id: .shell, status: .ok, files: 1, bytes: Int64(zshrc.utf8.count)))
        components.append(ComponentRecord(id: .credentials, status: .skipped, reason: "vault not configured"))
        manifest.components = components

        // Restore script.
        let homeRewrite = options.rewriteHome ? " -e \"s#\(Self.oldHome)#$H#g\"" : ""
        var script = """
            #!/bin/sh
            set -eu
            SET=$(cd "$(dirname "$0")" && pwd)
            while [ $# -gt 0 ]; do
              case "$1" in
                --home) H=$2; shift 2 ;;
                --root) R=$2; shift 2 ;;
                --password-file) shift 2 ;;
                --yes) shift ;;
                *) echo "unknown argument $1" >&2; exit 2 ;;
              esac
            done
            mkdir -p "$R" "$H/Library/LaunchAgents"
            tar -xzf "$SET/code.tar.gz" -C "$R"
            sed -e "s#\(Self.oldRoot)#$R#g"\(homeRewrite) "$SET/launchagents/com.maia.agent.plist" > "$H/Library/LaunchAgents/com.maia.agent.plist"
            cp "$SET/shell/.zshrc" "$H/.zshrc"

            """
        if options.databases {
            script += """
                mkdir -p "$R/data"
                cp "$SET/databases/store.db" "$R/data/store.db"
                cat "$SET/databases/big.db.chunk-0001" "$SET/databases/big.db.chunk-0002" > "$R/data/big.db"

                """
        }
        script += options.scriptExtra + "\necho restored\n"
        try write(script, to: "restore_maia.sh", mode: 0o755)
        try seal()
    }

    /// Records every artifact's size and digest, writes SHA256SUMS and the manifest (what a
    /// consistent, "sealed" set looks like).
    func seal() throws {
        var artifacts: [ArtifactRecord] = []
        for rel in ArtifactCheck.filesInSet(try AbsolutePath(validating: setPath))
        where rel != "manifest.json" && rel != "SHA256SUMS" {
            let (sha, size) = try SHA256Digest.file(at: path(rel))
            let kind: ArtifactKind
            let component: ComponentID
            switch rel {
            case "code.tar.gz": (kind, component) = (.archive, .code)
            case "restore_maia.sh": (kind, component) = (.script, .code)
            case _ where rel.contains(".chunk-"): (kind, component) = (.chunk, .databases)
            case _ where rel.hasPrefix("databases/"): (kind, component) = (.database, .databases)
            case _ where rel.hasPrefix("launchagents/"): (kind, component) = (.plist, .launchagents)
            default: (kind, component) = (.config, .shell)
            }
            artifacts.append(ArtifactRecord(path: rel, component: component, kind: kind, size: size, sha256: sha))
        }
        manifest.artifacts = artifacts
        let sums = artifacts.map { "\($0.sha256)  \($0.path)\n" }.joined()
        try write(sums, to: "SHA256SUMS")
        try write(manifest.encodedForDisk(), to: "manifest.json")
    }

    /// Replaces a database artifact and its manifest digest (a "sealed" database damage).
    func resealDatabase(artifact: String, recordIndex: Int) throws {
        let digest = try SHA256Digest.file(at: path(artifact))
        manifest.databases[recordIndex].size = digest.size
        manifest.databases[recordIndex].sha256 = digest.sha256
        try seal()
    }

    /// Flips one bit of byte `offset` of an artifact.
    func flipByte(_ relative: String, at offset: Int) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        data[offset] ^= 0x01
        try data.write(to: URL(fileURLWithPath: path(relative)))
    }

    /// Drill options with sandboxes, reports and a canary folder under the fixture's base.
    func drillOptions(destination: Bool = true) -> DrillOptions {
        try? FileManager.default.createDirectory(atPath: base + "/canary", withIntermediateDirectories: true)
        let folder = try! AbsolutePath(validating: base)
        return DrillOptions(
            setPath: try! AbsolutePath(validating: setPath), sandboxFolder: folder.appending(component: "sandboxes"),
            reportFolder: folder.appending(component: "reports"), timeout: 60,
            destination: destination ? self.destination : nil, canaryFolders: [folder.appending(component: "canary")])
    }

    func drill(_ options: DrillOptions? = nil, now: Date = Date()) async throws -> DrillResult {
        try await Drill(options: options ?? drillOptions(), clock: FixedClock(now), replayer: LocalReplayer()).run()
    }

    // MARK: - Tools

    static func sqlite(_ path: String, _ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw RestoreDrillError.runtime("open \(path)") }
        defer { sqlite3_close(db) }
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "?"
            sqlite3_free(error)
            throw RestoreDrillError.runtime("sqlite: \(message)")
        }
    }

    static func sqliteInt(_ path: String, _ sql: String) throws -> Int {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw RestoreDrillError.runtime("open \(path)") }
        defer { sqlite3_close(db) }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else {
            throw RestoreDrillError.runtime(sql)
        }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { throw RestoreDrillError.runtime(sql) }
        return Int(sqlite3_column_int64(statement, 0))
    }

    @discardableResult
    func run(_ executable: String, _ arguments: [String]) throws -> String { try Self.run(executable, arguments) }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let run = try runTool(executable, arguments, mergingError: true)
        guard run.status == 0 else {
            throw RestoreDrillError.runtime("\(executable) \(arguments): \(run.output)")
        }
        return run.output
    }

    /// Writes a gzip tar with arbitrary members through Python's tarfile (GNU tar refuses `..`
    /// and absolute names). Each member: `[name, type, payload]`, type `file` (payload = content),
    /// `exec` (a file with mode 0755), `dir`, `symlink` or `hardlink` (payload = target), `fifo`, `setuid` (a file with mode 04755).
    static func writeTar(_ path: String, _ members: [[String]]) throws {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: members), as: UTF8.self)
        let script = """
            import io, json, sys, tarfile
            out, members = sys.argv[1], json.loads(sys.argv[2])
            with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as t:
                for name, kind, payload in members:
                    info = tarfile.TarInfo(name)
                    info.mode = 0o644
                    data = None
                    if kind in ("file", "exec", "setuid"):
                        data = payload.encode()
                        info.size = len(data)
                        if kind == "exec": info.mode = 0o755
                        if kind == "setuid": info.mode = 0o4755
                    elif kind == "dir": info.type = tarfile.DIRTYPE; info.mode = 0o755
                    elif kind == "symlink": info.type = tarfile.SYMTYPE; info.linkname = payload; info.mode = 0o777
                    elif kind == "hardlink": info.type = tarfile.LNKTYPE; info.linkname = payload
                    elif kind == "fifo": info.type = tarfile.FIFOTYPE
                    t.addfile(info, io.BytesIO(data) if data is not None else None)
            """
        try run("/usr/bin/python3", ["-c", script, path, json])
    }

    /// The good code members as `writeTar` takes them.
    static let goodCodeMembers: [[String]] = [
        ["src", "dir", ""], ["src/main.py", "file", "print('hello from maia')\n"], ["src/link", "symlink", "main.py"],
        ["bin", "dir", ""], ["bin/run.sh", "exec", "#!/bin/sh\necho run\n"],
    ]
}

/// Replays with `/bin/sh script args` and a minimal environment: no isolation.
struct LocalReplayer: RestoreReplayer {
    func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [request.script.pathString] + request.arguments
        process.environment = [
            "PATH": "/usr/bin:/bin", "HOME": request.sandboxFolder.appending(component: "home").pathString,
            "TMPDIR": request.sandboxFolder.appending(component: "work").pathString, "LC_ALL": "C",
        ].merging(request.environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: request.workingDirectory.pathString)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let start = Date()
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let signalled = process.terminationReason == .uncaughtSignal
        return ReplayOutcome(
            process: ProcessOutcome(
                exitCode: signalled ? nil : process.terminationStatus,
                signal: signalled ? process.terminationStatus : nil,
                standardOutput: output, tail: output.suffix(65536), outputTruncated: output.count > request.outputCap,
                seconds: Date().timeIntervalSince(start)),
            isolation: .none, notes: ["local test replayer"])
    }
}
