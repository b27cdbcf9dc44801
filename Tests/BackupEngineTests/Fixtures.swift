import CSQLite
import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// Runs a child process with its output captured (TestSupport's `runTool`).
enum Shell {
    struct Result {
        var code: Int32
        var out: String
        var err: String
    }

    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil
    ) throws -> Result {
        let run = try runTool(executable, arguments, environment: environment, directory: cwd)
        return Result(code: run.status, out: run.output, err: run.error)
    }
}

/// Small SQLite helpers over CSQLite.
enum SQL {
    static func open(_ path: String) throws -> OpaquePointer {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let db else {
            throw RestoreDrillError.io(path: path, message: "cannot open")
        }
        return db
    }

    static func exec(_ db: OpaquePointer, _ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "?"
            sqlite3_free(error)
            throw RestoreDrillError.runtime("\(sql): \(message)")
        }
    }

    static func scalar(_ db: OpaquePointer, _ sql: String) throws -> String {
        var stmt: OpaquePointer?
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, sqlite3_step(stmt) == SQLITE_ROW else {
            throw RestoreDrillError.runtime("\(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        return sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? ""
    }

    static func close(_ db: OpaquePointer) { sqlite3_close_v2(db) }

    /// Opens `path`, runs `body`, closes.
    static func with<T>(_ path: String, _ body: (OpaquePointer) throws -> T) throws -> T {
        let db = try open(path)
        defer { close(db) }
        return try body(db)
    }
}

/// A fake process runner: answers by executable name and records every request.
final class FakeRunner: ProcessRunner, @unchecked Sendable {
    enum Answer {
        case output(String)
        case notFound
        case failure(Int32, String)
    }

    private let answers: [String: Answer]
    private let lock = NSLock()
    private var recorded: [ProcessRequest] = []

    init(_ answers: [String: Answer]) { self.answers = answers }

    var requests: [ProcessRequest] { lock.withLock { recorded } }

    func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
        lock.withLock { recorded.append(request) }
        switch answers[request.executable] ?? .notFound {
        case .output(let text):
            return ProcessOutcome(exitCode: 0, standardOutput: Data(text.utf8))
        case .notFound:
            throw RestoreDrillError.runtime("\(request.executable): No such file or directory")
        case .failure(let code, let err):
            return ProcessOutcome(exitCode: code, standardError: Data(err.utf8))
        }
    }
}

/// A realistic small workspace: home (with `.` and `&` in its name) holding root, code with a
/// symlink, a long and a non-ASCII name, excluded folders, an unmatched SQLite file, three
/// databases (small, WAL with uncheckpointed rows held by a live connection, large in 12 chunks),
/// credentials, two LaunchAgents (XML and binary), shell files.
final class Workspace {
    let folder: TempFolder
    let home: String
    let root: String
    let destination: String
    var config: RestoreDrillConfig
    /// The connection that keeps rows in `data/wal/live.db-wal`; closed by ``close()``.
    private(set) var liveConnection: OpaquePointer?
    /// Rows in `events` of live.db, including the uncheckpointed ones.
    private(set) var liveRows = 0
    let secret = "s3cr3t-token-\(UUID().uuidString)"
    static let longName = String(repeating: "n", count: 120) + ".txt"
    static let unicodeName = "résumé-日本.txt"

    init(chunked: Bool = true, live: Bool = true) throws {
        folder = try TempFolder("rd-ws")
        home = folder.path + "/Users/al.i&ce"
        root = home + "/git/maia"
        destination = folder.path + "/backups"
        let fm = FileManager.default
        for dir in [root, destination] { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        config = RestoreDrillConfig(home: home, root: root, destination: destination, baseFolder: folder.path)
        // These tests are about format 1 (FormatTwoBackupTests set 2).
        config.setFormat = 1
        config.code.exclude = [".git", "__pycache__", "*.pyc", "cache/tmp"]
        config.databases.include = ["data/**/*.db"]
        config.databases.smallLimit = 20 << 10
        config.credentials.include = [root + "/secrets"]
        config.launchAgents.include = [home + "/Library/LaunchAgents/com.maia.*.plist"]
        config.shell.files = [
            home + "/.zshrc", home + "/.zprofile", home + "/.gitconfig", home + "/.config/git/ignore",
        ]
        config.dependencies.python = ["pip3-rd-fake", "freeze"]
        config.dependencies.homebrew = ["brew-rd-fake", "list", "--versions"]

        try write("src/main.py", "print('hello')\n")
        try write("src/lib/util.py", "def f():\n    return 42\n")
        try write("README.md", "# maia\n")
        try write("bin/run.sh", "#!/bin/sh\necho run\n", mode: 0o755)
        try write("private.txt", "only me\n", mode: 0o600)
        try fm.createSymbolicLink(atPath: root + "/link-to-readme", withDestinationPath: "README.md")
        try fm.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: "../nowhere/at/all")
        try write("deep/" + Self.longName, "long\n")
        try write("docs/" + Self.unicodeName, "unicode\n")
        try fm.createDirectory(atPath: root + "/empty-folder", withIntermediateDirectories: true)
        try write(".git/config", "[core]\n")
        try write("src/__pycache__/main.cpython-311.pyc", "bytecode")
        try write("src/stale.pyc", "bytecode")
        try write("cache/tmp/blob.bin", "cache")
        try write("cache/keep.txt", "kept")
        try write("secrets/token.txt", secret + "\n", mode: 0o600)
        try fm.createDirectory(atPath: root + "/misc", withIntermediateDirectories: true)
        try SQL.with(root + "/misc/cache.sqlite") { db in
            try SQL.exec(db, "CREATE TABLE c(x); INSERT INTO c VALUES (1)")
        }

        // Databases.
        try fm.createDirectory(atPath: root + "/data/wal", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/data/big", withIntermediateDirectories: true)
        try SQL.with(root + "/data/app.db") { db in
            try SQL.exec(
                db,
                "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE \"odd \"\"name\"(v);"
                    + "INSERT INTO users(name) VALUES ('a'),('b'),('c'); INSERT INTO \"odd \"\"name\" VALUES (1),(2)")
        }
        chmod(root + "/data/app.db", 0o640)
        if chunked {
            try SQL.with(root + "/data/big/large.db") { db in
                try SQL.exec(db, "CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")
                try SQL.exec(
                    db,
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 40) "
                        + "INSERT INTO blobs(b) SELECT randomblob(3000) FROM n")
            }
            let size = try Self.size(root + "/data/big/large.db")
            config.databases.chunkSize = (size + 11) / 12
        }
        if live {
            let db = try SQL.open(root + "/data/wal/live.db")
            try SQL.exec(db, "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0")
            try SQL.exec(db, "CREATE TABLE events(id INTEGER PRIMARY KEY, what TEXT)")
            try SQL.exec(db, "INSERT INTO events(what) VALUES ('checkpointed 1'),('checkpointed 2')")
            try SQL.exec(db, "PRAGMA wal_checkpoint(TRUNCATE)")
            for i in 0..<25 { try SQL.exec(db, "INSERT INTO events(what) VALUES ('only in the wal \(i)')") }
            liveConnection = db
            liveRows = 27
        }

        // LaunchAgents and shell files.
        let agents = home + "/Library/LaunchAgents"
        try fm.createDirectory(atPath: agents, withIntermediateDirectories: true)
        let xmlAgent: [String: Any] = [
            "Label": "com.maia.xml",
            "ProgramArguments": [
                root + "/bin/run.sh", "--config=" + root + "/etc/app.conf", home + "2/not-mine", "/opt" + home + "/x",
                "a>" + home + "/gt", home.replacingOccurrences(of: ".", with: "X") + "/dot-is-literal",
                home + "&amp;/entity",
            ],
            "EnvironmentVariables": [
                "PATH": root + "/bin:" + home + "/bin:/usr/bin",
                "TWICE": ":" + home + ":" + home + ":" + home + ":",
                "BOTH": home + " " + root,
                "EXACT": home,
                home + "/as-key": "value",
            ],
            "WorkingDirectory": root,
            "StandardOutPath": home + "/Library/Logs/maia.log",
            "RunAtLoad": true,
            "StartInterval": 300,
        ]
        try PropertyListSerialization.data(fromPropertyList: xmlAgent, format: .xml, options: 0)
            .write(to: URL(fileURLWithPath: agents + "/com.maia.xml.plist"))
        let binaryAgent: [String: Any] = [
            "Label": "com.maia.bin",
            "ProgramArguments": ["/bin/sh", "-c", "cd '" + root + "' && ./bin/run.sh"],
            "StandardErrorPath": home + "/Library/Logs/maia-bin.log",
            "StartCalendarInterval": ["Hour": 3, "Minute": 0],
        ]
        try PropertyListSerialization.data(fromPropertyList: binaryAgent, format: .binary, options: 0)
            .write(to: URL(fileURLWithPath: agents + "/com.maia.bin.plist"))
        try Data("not an agent".utf8).write(to: URL(fileURLWithPath: agents + "/org.other.plist"))
        try Data("export PATH=\"$HOME/bin:$PATH\"\n".utf8).write(to: URL(fileURLWithPath: home + "/.zshrc"))
        try Data("[user]\n\tname = Alice\n".utf8).write(to: URL(fileURLWithPath: home + "/.gitconfig"))
        chmod(home + "/.gitconfig", 0o600)
        try fm.createDirectory(atPath: home + "/.config/git", withIntermediateDirectories: true)
        try Data("*.swp\n".utf8).write(to: URL(fileURLWithPath: home + "/.config/git/ignore"))
    }

    func write(_ relative: String, _ text: String, mode: mode_t = 0o644) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
    }

    static func size(_ path: String) throws -> Int64 {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? -1
    }

    var runner: FakeRunner {
        FakeRunner([
            "pip3-rd-fake": .output("requests==2.31.0\nyams==5.0\n"),
            "brew-rd-fake": .output("git 2.42.0\nsqlite 3.45.0\n"),
        ])
    }

    func backup(runner: (any ProcessRunner)? = nil, at date: Date = Date(), busyTimeout: Double = 10) async throws
        -> BackupOutcome
    {
        var engine = BackupEngine(config: config, clock: FixedClock(date), runner: runner ?? self.runner)
        engine.busyTimeout = busyTimeout
        return try await engine.run()
    }

    func close() {
        if let liveConnection { SQL.close(liveConnection) }
        liveConnection = nil
        folder.remove()
    }
}

/// Checks that a restore produced what the manifest says.
enum RestoredTree {
    /// Every manifest file, database and LaunchAgent, plus no extra paths in the restored root.
    /// - Returns: a list of problems; empty when the restore is exact.
    static func problems(manifest: Manifest, setPath: String, home: String, root: String) throws -> [String] {
        var problems: [String] = []
        var expectedRoot = Set<String>()
        func base(_ b: PathBase) -> String { b == .home ? home : root }
        for file in manifest.files {
            let path = base(file.base) + "/" + file.path
            if file.base == .root { expectedRoot.insert(file.path) }
            var st = stat()
            guard lstat(path, &st) == 0 else {
                problems.append("\(file.path): missing")
                continue
            }
            if file.component != .launchagents && Int(st.st_mode) & 0o777 != file.mode {
                problems.append(
                    "\(file.path): mode \(String(Int(st.st_mode) & 0o777, radix: 8)) != \(String(file.mode, radix: 8))")
            }
            switch file.type {
            case .directory:
                if st.st_mode & S_IFMT != S_IFDIR { problems.append("\(file.path): not a folder") }
            case .symlink:
                let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path)
                if st.st_mode & S_IFMT != S_IFLNK || target != file.linkTarget {
                    problems.append("\(file.path): link to \(target ?? "nil") != \(file.linkTarget ?? "nil")")
                }
            case .file:
                guard st.st_mode & S_IFMT == S_IFREG else {
                    problems.append("\(file.path): not a file")
                    continue
                }
                if let sha = file.sha256 {
                    let got = try SHA256Digest.file(at: path)
                    if got.sha256 != sha || got.size != file.size { problems.append("\(file.path): content differs") }
                }
            }
        }
        for db in manifest.databases {
            let path = base(db.base) + "/" + db.path
            if db.base == .root { expectedRoot.insert(db.path) }
            guard let got = try? SHA256Digest.file(at: path) else {
                problems.append("\(db.path): database missing")
                continue
            }
            if got.sha256 != db.sha256 || got.size != db.size { problems.append("\(db.path): database differs") }
            var st = stat()
            if lstat(path, &st) == 0, Int(st.st_mode) & 0o777 != db.mode {
                problems.append("\(db.path): database mode \(String(Int(st.st_mode) & 0o777, radix: 8))")
            }
        }
        for agent in manifest.launchAgents {
            let restoredPath = home + "/" + agent.path
            guard let restored = FileManager.default.contents(atPath: restoredPath),
                let stored = FileManager.default.contents(atPath: setPath + "/" + agent.artifact)
            else {
                problems.append("\(agent.path): LaunchAgent missing")
                continue
            }
            let got = try PropertyListSerialization.propertyList(from: restored, format: nil)
            let original = try PropertyListSerialization.propertyList(from: stored, format: nil)
            let pairs = agent.rewritePrefixes.map { old in (old: old, new: old == manifest.root ? root : home) }
            let want = PathRewrite.applyToPlist(original, pairs)
            if !plistEqual(got, want) {
                problems.append("\(agent.path): rewrite differs:\n got \(got)\nwant \(want)")
            }
            var st = stat()
            if lstat(restoredPath, &st) == 0, Int(st.st_mode) & 0o777 != agent.mode {
                problems.append("\(agent.path): LaunchAgent mode")
            }
        }
        // No extra paths under the restored root.
        if let walker = FileManager.default.enumerator(atPath: root) {
            for case let relative as String in walker where !expectedRoot.contains(relative) {
                problems.append("\(relative): extra in the restored root")
            }
        }
        return problems
    }

    static func plistEqual(_ a: Any, _ b: Any) -> Bool {
        switch (a, b) {
        case (let x as String, let y as String): return x == y
        case (let x as [Any], let y as [Any]): return x.count == y.count && zip(x, y).allSatisfy { plistEqual($0, $1) }
        case (let x as [String: Any], let y as [String: Any]):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { plistEqual(value, $0) } ?? false }
        default: return "\(a)" == "\(b)"
        }
    }
}
