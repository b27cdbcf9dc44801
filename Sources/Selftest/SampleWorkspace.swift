import CSQLite
import DrillCore
import Foundation

/// A generated sample workspace: `<folder>/home` with the project root at `home/git/maia`.
public struct SampleWorkspace: Sendable {
    /// What to generate. Defaults make the demo's workspace (about 90 MB).
    public struct Options: Sendable {
        /// Source files under `root/src` (text, 0.5–8 KiB each).
        public var sourceFiles = 3000
        /// Small databases under `root/claude/data/store_NN.db`.
        public var smallDatabases = 40
        /// Indexes of small databases left in WAL mode with rows only in the `-wal` file.
        public var walDatabases: [Int] = [3]
        /// Bytes of the large database `servicedesk_tickets.db` (0 for none); it is at least this big.
        public var largeDatabaseBytes: Int64 = 56 << 20
        /// LaunchAgents under `home/Library/LaunchAgents` (every 5th is a binary plist).
        public var agents = 12
        /// Seed of the generator: the same seed gives the same files.
        public var seed: UInt64 = 134

        public init() {}
    }

    /// The sample home folder (absolute).
    public let home: String
    /// The project root, `home/git/maia`.
    public let root: String
    /// Paths relative to root of every database generated.
    public let databases: [String]
    /// File names of the LaunchAgents generated.
    public let agents: [String]
    /// Number of source files generated.
    public let sourceFiles: Int
    /// Databases that hold rows only in their `-wal` file while ``LiveWAL`` is open, relative to root.
    public let walDatabases: [String]

    /// Generates the workspace under `folder` (created if missing; must be empty or absent).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on any write or SQLite error.
    public static func make(at folder: String, options: Options = Options()) throws -> SampleWorkspace {
        let fm = FileManager.default
        let home = (folder as NSString).appendingPathComponent("home")
        let root = (home as NSString).appendingPathComponent("git/maia")
        var rng = SeededGenerator(seed: options.seed)
        func mkdir(_ p: String) throws {
            do { try fm.createDirectory(atPath: p, withIntermediateDirectories: true) } catch {
                throw RestoreDrillError.io(path: p, message: "cannot create folder: \(error.localizedDescription)")
            }
        }
        func write(_ text: String, _ p: String, mode: Int = 0o644) throws {
            try mkdir(PathText.parent(of: p))
            guard fm.createFile(atPath: p, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
                throw RestoreDrillError.io(path: p, message: "cannot write file")
            }
        }

        // Source files: packages of modules with plausible code.
        let words = Self.words
        for i in 0..<options.sourceFiles {
            let package = "pkg\(i / 100)"
            let ext = ["py", "swift", "md", "json", "sh"][i % 5]
            var body = "# module \(i) of \(package)\n"
            let lines = 10 + Int(rng.next() % 150)
            for l in 0..<lines {
                let w1 = words[Int(rng.next() % UInt64(words.count))]
                let w2 = words[Int(rng.next() % UInt64(words.count))]
                body += "def \(w1)_\(l)(\(w2)): return \"\(w1) \(w2) \(rng.next() % 10000)\"\n"
            }
            try write(body, "\(root)/src/\(package)/module_\(i).\(ext)")
        }
        try write("# Maia\nSample project of the RestoreDrill demo.\n", "\(root)/README.md")
        try fm.createSymbolicLink(atPath: "\(root)/src/latest", withDestinationPath: "pkg0")
        try write("ok\n", "\(root)/src/naïve résumé ünïcode.txt")
        try write("long\n", "\(root)/src/" + String(repeating: "very_long_name_", count: 8) + ".txt")

        // Databases.
        let data = "\(root)/claude/data"
        try mkdir(data)
        var databases: [String] = []
        var wal: [String] = []
        for i in 0..<options.smallDatabases {
            let rel = String(format: "claude/data/store_%02d.db", i)
            let rows = 200 + Int(rng.next() % 3000)
            try Self.makeDatabase(
                at: "\(root)/\(rel)", rows: rows, blobBytes: 0, wal: options.walDatabases.contains(i), rng: &rng)
            databases.append(rel)
            if options.walDatabases.contains(i) { wal.append(rel) }
        }
        if options.largeDatabaseBytes > 0 {
            let rel = "claude/data/servicedesk_tickets.db"
            let rows = Int(options.largeDatabaseBytes / 1400) + 1
            try Self.makeDatabase(at: "\(root)/\(rel)", rows: rows, blobBytes: 1024, wal: false, rng: &rng)
            databases.append(rel)
        }

        // Credentials (fake) and the scripts the agents run.
        for name in ["confluence", "jira"] {
            try write(
                "{\"user\": \"svc-\(name)\", \"token\": \"\(Hex.encode((0..<16).map { _ in UInt8(rng.next() & 0xff) }))\"}\n",
                "\(root)/claude/data/credentials/\(name).json", mode: 0o600)
        }
        try mkdir("\(root)/claude/logs/production")
        let agentFolder = "\(home)/Library/LaunchAgents"
        try mkdir(agentFolder)
        var agents: [String] = []
        let jobs = [
            "disaster-recovery", "backup-pruning", "health-monitor", "email-indexer", "confluence-sync",
            "daily-briefing", "meeting-notes", "servicedesk-etl", "jira-sync", "calendar-digest", "log-rotate",
            "metrics-push", "inbox-triage", "weekly-report", "security-scan", "cert-expiry",
        ]
        for n in 0..<options.agents {
            let job = n < jobs.count ? jobs[n] : "job-\(n)"
            let label = "com.maia.\(job)"
            let script = "\(root)/claude/tools/sre/\(job.replacingOccurrences(of: "-", with: "_")).sh"
            try write("#!/bin/sh\necho '\(job) ran'\n", script, mode: 0o755)
            var plist: [String: Any] = [
                "Label": label,
                "ProgramArguments": ["/bin/sh", script] + (job == "disaster-recovery" ? ["backup"] : []),
                "WorkingDirectory": root,
                "StandardOutPath": "\(root)/claude/logs/production/\(job).log",
                "StandardErrorPath": "\(root)/claude/logs/production/\(job).error.log",
                "EnvironmentVariables": ["MAIA_ROOT": root, "PATH": "\(root)/bin:\(home)/.local/bin:/usr/bin:/bin"],
                "RunAtLoad": false,
            ]
            switch n % 3 {
            case 0: plist["StartCalendarInterval"] = ["Hour": 3 + n % 4, "Minute": 0]
            case 1: plist["StartCalendarInterval"] = [1, 3, 5].map { ["Weekday": $0, "Hour": 8, "Minute": 30] }
            default: plist["StartInterval"] = 3600
            }
            let format: PropertyListSerialization.PropertyListFormat = n % 5 == 2 ? .binary : .xml
            let bytes: Data
            do {
                bytes = try PropertyListSerialization.data(fromPropertyList: plist, format: format, options: 0)
            } catch {
                throw RestoreDrillError.io(path: "\(agentFolder)/\(label).plist", message: "\(error)")
            }
            let name = "\(label).plist"
            guard fm.createFile(atPath: "\(agentFolder)/\(name)", contents: bytes) else {
                throw RestoreDrillError.io(path: "\(agentFolder)/\(name)", message: "cannot write file")
            }
            agents.append(name)
        }

        // Dotfiles.
        try write("export MAIA_ROOT=\"\(root)\"\nexport PATH=\"$MAIA_ROOT/bin:$PATH\"\n", "\(home)/.zshrc")
        try write("export LANG=en_AU.UTF-8\n", "\(home)/.zprofile")
        try write("[user]\n\tname = Alice Example\n\temail = alice@example.com\n", "\(home)/.gitconfig")

        return SampleWorkspace(
            home: home, root: root, databases: databases, agents: agents.sorted(), sourceFiles: options.sourceFiles,
            walDatabases: wal)
    }

    /// A configuration that backs this workspace up into `destination`.
    public func config(destination: String, baseFolder: String) -> RestoreDrillConfig {
        var config = RestoreDrillConfig(home: home, root: root, destination: destination, baseFolder: baseFolder)
        config.databases.include = ["claude/data/**/*.db"]
        config.launchAgents.include = ["\(home)/Library/LaunchAgents/com.maia.*.plist"]
        config.shell.files = ["\(home)/.zshrc", "\(home)/.zprofile", "\(home)/.gitconfig"]
        config.credentials.include = ["\(root)/claude/data/credentials"]
        config.dependencies.python = ["pip3", "freeze"]
        config.dependencies.homebrew = ["brew", "list", "--versions"]
        return config
    }

    static let words =
        ("backup restore verify ticket server printer password reset vpn email outlook teams license laptop "
        + "monitor dock network latency outage disk quota sync keychain agent schedule failure success "
        + "escalate resolved pending customer engineer priority critical warning").split(separator: " ").map(
            String.init)

    static func makeDatabase(at path: String, rows: Int, blobBytes: Int, wal: Bool, rng: inout SeededGenerator) throws {
        let db = try SQLiteHandle(path: path)
        defer { db.close() }
        if wal { try db.exec("PRAGMA journal_mode=WAL") }
        try db.exec(
            """
            CREATE TABLE tickets(id INTEGER PRIMARY KEY, created TEXT, priority INTEGER, status TEXT,
                                 title TEXT, body TEXT, attachment BLOB);
            CREATE INDEX tickets_status ON tickets(status, priority);
            CREATE TABLE comments(id INTEGER PRIMARY KEY, ticket_id INTEGER REFERENCES tickets(id),
                                  author TEXT, body TEXT);
            BEGIN;
            """)
        let insert = try db.prepare("INSERT INTO tickets VALUES (?,?,?,?,?,?,?)")
        defer { sqlite3_finalize(insert) }
        let statuses = ["open", "pending", "resolved", "closed"]
        var blob = [UInt8](repeating: 0, count: blobBytes)
        for i in 0..<rows {
            sqlite3_reset(insert)
            sqlite3_bind_int64(insert, 1, Int64(i))
            try db.bindText(insert, 2, "2025-\(1 + rng.next() % 12)-\(1 + rng.next() % 28)T03:00:00Z")
            sqlite3_bind_int64(insert, 3, Int64(1 + rng.next() % 5))
            try db.bindText(insert, 4, statuses[Int(rng.next() % 4)])
            try db.bindText(
                insert, 5, (0..<8).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " "))
            try db.bindText(
                insert, 6, (0..<40).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " "))
            if blobBytes > 0 {
                for j in stride(from: 0, to: blobBytes, by: 8) {
                    let v = rng.next()
                    for k in 0..<min(8, blobBytes - j) { blob[j + k] = UInt8((v >> (8 * UInt64(k))) & 0xff) }
                }
                _ = blob.withUnsafeBytes { sqlite3_bind_blob(insert, 7, $0.baseAddress, Int32(blobBytes), nil) }
            } else {
                sqlite3_bind_null(insert, 7)
            }
            guard sqlite3_step(insert) == SQLITE_DONE else { throw db.error("insert") }
        }
        try db.exec(
            "INSERT INTO comments(ticket_id, author, body) SELECT id, 'user' || (id % 50), title FROM tickets WHERE id % 2 = 0; COMMIT;"
        )
    }
}

/// Holds a connection to a WAL database with automatic checkpoints off and rows written after the
/// last checkpoint, as a running application does. While it is open the newest rows exist only in
/// the `-wal` file; a raw file copy of the database would lose them.
public final class LiveWAL: @unchecked Sendable {
    private var handles: [SQLiteHandle] = []
    /// Rows added to the `comments` table of each database (author `late`).
    public let lateRows: Int

    /// Opens each database, disables automatic checkpoints and appends `lateRows` comments.
    public init(databases: [String], lateRows: Int = 3) throws {
        self.lateRows = lateRows
        for path in databases {
            let db = try SQLiteHandle(path: path)
            try db.exec("PRAGMA wal_autocheckpoint=0")
            for _ in 0..<lateRows {
                try db.exec(
                    "INSERT INTO comments(ticket_id, author, body) VALUES (1, 'late', 'written after the last checkpoint')"
                )
            }
            handles.append(db)
        }
    }

    /// Closes the connections (the last close checkpoints the WAL into the database file).
    public func close() {
        for h in handles { h.close() }
        handles = []
    }

    deinit { close() }
}

/// A minimal SQLite connection for the sample data and the selftest's damages.
final class SQLiteHandle {
    private(set) var db: OpaquePointer?
    let path: String

    /// Opens `path` read-write (created when `create`), or read-only.
    init(path: String, readOnly: Bool = false, create: Bool = true) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0))
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw RestoreDrillError.io(path: path, message: message)
        }
        sqlite3_busy_timeout(db, 5000)
    }

    func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw error(sql) }
    }

    /// The first column of each row of `sql`, as text.
    func rows(_ sql: String) throws -> [String] {
        let stmt = try prepare(sql)
        defer { sqlite3_finalize(stmt) }
        var out: [String] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(sql) }
            out.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "")
        }
        return out
    }

    func prepare(_ sql: String) throws -> OpaquePointer? {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else { throw error(sql) }
        return stmt
    }

    func bindText(_ stmt: OpaquePointer?, _ index: Int32, _ text: String) throws {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        guard sqlite3_bind_text(stmt, index, text, -1, transient) == SQLITE_OK else { throw error("bind") }
    }

    func error(_ what: String) -> RestoreDrillError {
        .io(path: path, message: "SQLite: \(String(cString: sqlite3_errmsg(db))) (\(what.prefix(60)))")
    }

    func close() {
        if let db { sqlite3_close(db) }
        db = nil
    }

}
