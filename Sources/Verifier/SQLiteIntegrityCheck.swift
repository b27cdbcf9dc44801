import CSQLite
import DrillCore
import Foundation

/// `db.integrity` on one restored database: `PRAGMA integrity_check` says `ok`,
/// `PRAGMA foreign_key_check` is empty, the tables and their row counts equal the manifest's (a
/// database with no table at all where the manifest records some is named as such,
/// ``Finding/Code/databaseNoTables``: an empty database passes both pragmas), and no `-wal` or
/// `-shm` file lies beside it (the set stores rollback-journal copies).
///
/// The restored database is opened through ``RestoredTree`` (no link followed at any component,
/// a regular file only: a FIFO or device is never opened) and copied from that descriptor into a
/// private folder the check makes in the sandbox folder (mode 0700, the tool's own, removed after
/// the check); SQLite reads only that copy, so a database swapped for a link after it was opened
/// cannot lead SQLite outside the sandbox. The copy is opened read-only, `immutable=1` and
/// `SQLITE_OPEN_NOFOLLOW`, so nothing is written beside it and no journal is read: the sidecars
/// (`-wal`, `-shm`) are only looked for beside the restored database (never followed, never read)
/// and are a finding when present; a `-journal` is ignored, as `immutable=1` ignores it.
struct SQLiteIntegrityCheck {
    /// The prefix of the private folder a check copies its database into, in the sandbox folder.
    static let copyFolderPrefix = ".restore-drill-db-check-"

    /// Checks the database restored at `relative` (beneath the sandbox folder; nil when its
    /// recorded path climbs out of the restored tree) against `record`.
    static func check(tree: RestoredTree, relative: RelativePath?, record: DatabaseRecord) -> CheckResult {
        let watch = Stopwatch()
        var findings: [Finding] = []
        var evidence: [String] = []
        func failed(shown: Int = .max) -> CheckResult {
            CheckResult(
                check: .dbIntegrity, subject: record.path, findings: findings, shown: shown,
                evidence: findings.map(\.message) + evidence, seconds: watch.seconds)
        }
        guard let relative else {
            findings.append(.databaseNotRestored)
            return failed()
        }
        let opened: OpenedFile
        switch tree.beneath.openFile(relative) {
        case .success(let file):
            opened = file
        case .failure(.missing):
            findings.append(.databaseNotRestored)
            return failed()
        case .failure(.wrongKind(_, let kind, _)) where kind != .symbolicLink:
            findings.append(.databaseNotRegularFile(kind))
            return failed()
        case .failure(let refusal):
            findings.append(
                refusal.isLink
                    ? .databaseNotFollowed(tree.explain(refusal, for: relative))
                    : .databaseUnopenable(tree.explain(refusal, for: relative)))
            return failed()
        }
        for suffix in ["-wal", "-shm"] {
            let sidecar = relative.basename + suffix
            let beside = (relative.ancestors.last ?? .dot).appending(component: sidecar)
            if case .success = tree.beneath.entry(beside) { findings.append(.databaseStaleSidecar(suffix)) }
        }
        var header = [UInt8](repeating: 0, count: 20)
        if pread(opened.descriptor, &header, header.count, 0) == header.count {
            // Bytes 18 and 19 are the write/read format versions: 2 means WAL mode.
            if header[18] == 2 || header[19] == 2 {
                findings.append(.databaseWALMode)
            }
        }

        // The private copy SQLite reads.
        let scratch: (folder: OpenedFolder, name: String)
        let copyName = "database"
        do {
            scratch = try tree.beneath.makePrivateFolder(prefix: copyFolderPrefix)
        } catch {
            findings.append(.databaseUnopenable("no private folder for its copy: \(error)"))
            return failed()
        }
        defer {
            unlinkat(scratch.folder.descriptor, copyName, 0)
            tree.beneath.removeEmptyFolder(named: scratch.name)
        }
        do {
            // The opened file itself, hard-linked into the private folder when it may be (no byte
            // copied: 264 MB of databases per drill in the bench); else a copy of its bytes.
            if opened.link(into: scratch.folder, name: copyName) {
                evidence.append("read without following links: checked a private link to the opened file")
            } else {
                let bytes = try opened.copy(into: scratch.folder, name: copyName)
                evidence.append("read without following links: checked a private copy of \(bytes) bytes")
            }
        } catch {
            findings.append(.databaseUnopenable("could not be copied for the check: \(error)"))
            return failed()
        }
        let path = tree.beneath.path.appending(components: scratch.name, copyName).pathString

        var handle: OpaquePointer?
        let uri = "file:" + percentEncoded(path) + "?mode=ro&immutable=1"
        let rc = sqlite3_open_v2(uri, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOFOLLOW, nil)
        defer { sqlite3_close_v2(handle) }
        guard rc == SQLITE_OK, let db = handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(rc)"
            findings.append(.databaseUnopenable(message))
            return failed()
        }
        do {
            let integrity = try query(db, "PRAGMA integrity_check(100)").map { $0.first ?? "" }
            if integrity != ["ok"] {
                findings.append(.databaseIntegrity(integrity))
            } else {
                evidence.append("integrity_check: ok")
            }
        } catch {
            findings.append(.databaseQueryFailed("integrity_check", error))
        }
        do {
            let fk = try query(db, "PRAGMA foreign_key_check")
            if !fk.isEmpty {
                findings.append(
                    .databaseForeignKeys(
                        count: fk.count, table: fk[0].first ?? "?", row: fk[0].count > 1 ? fk[0][1] : "?"))
            } else {
                evidence.append("foreign_key_check: empty")
            }
        } catch {
            findings.append(.databaseQueryFailed("foreign_key_check", error))
        }
        do {
            let recordedInternal = record.tables.contains { $0.name.hasPrefix("sqlite_") }
            var tables = try query(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").compactMap(
                \.first)
            if !recordedInternal { tables.removeAll { $0.hasPrefix("sqlite_") } }
            let recorded = Dictionary(record.tables.map { ($0.name, $0.rows) }, uniquingKeysWith: { a, _ in a })
            let missing = recorded.keys.filter { !tables.contains($0) }.sorted()
            let extra = tables.filter { recorded[$0] == nil }
            if tables.isEmpty && !missing.isEmpty {
                // Every recorded table lost: an empty database in its place (issue 12), which
                // integrity_check and foreign_key_check both call fine.
                findings.append(.databaseNoTables(missing))
            } else if !missing.isEmpty {
                findings.append(.databaseTablesMissing(missing))
            }
            if !extra.isEmpty { findings.append(.databaseTablesExtra(extra)) }
            for table in tables {
                guard let want = recorded[table] else { continue }
                let quoted = "\"" + table.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                let rows = try query(db, "SELECT count(*) FROM \(quoted)").first?.first.flatMap { Int64($0) } ?? -1
                if rows != want {
                    findings.append(.databaseRowCount(table: table, rows: rows, recorded: want))
                } else {
                    evidence.append("table \(table): \(rows) rows")
                }
            }
        } catch {
            findings.append(.databaseQueryFailed("tables", verb: "could not be counted", error))
        }
        if findings.isEmpty {
            return CheckResult(
                check: .dbIntegrity, subject: record.path, verdict: .pass,
                message: "integrity ok, \(record.tables.count) tables with the recorded row counts",
                evidence: evidence, seconds: watch.seconds)
        }
        return failed(shown: 4)
    }

    /// Runs `sql` and returns every row as text columns.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` with SQLite's message.
    static func query(_ db: OpaquePointer, _ sql: String) throws -> [[String]] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw RestoreDrillError.runtime(String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(statement) }
        var rows: [[String]] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw RestoreDrillError.runtime(String(cString: sqlite3_errmsg(db))) }
            let n = sqlite3_column_count(statement)
            rows.append(
                (0..<n).map { i in sqlite3_column_text(statement, i).map { String(cString: $0) } ?? "" })
        }
        return rows
    }

    /// Escapes a path for an SQLite `file:` URI (`%`, `?`, `#` and non-ASCII bytes).
    static func percentEncoded(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0..<0x21, 0x7f...:
                out += String(format: "%%%02X", byte)
            default:
                out.append(Character(Unicode.Scalar(byte)))
            }
        }
        return out
    }
}
