import CSQLite
import DrillCore
import Foundation

/// `spot.databases` (issue 17, docs/SPOT.md): a database of the set against its live file. The live
/// file is opened read-only through SQLite's C API (`mode=ro`: nothing is ever written, no journal
/// is made), each recorded table's rows are counted and compared with the manifest's count.
package enum SpotDatabaseCheck {
    /// How often a busy or locked database is tried before the check is an `error`.
    package static let attempts = 5

    /// Compares one recorded database with its live file.
    /// - Parameters:
    ///   - record: the manifest's database (path relative to its base, tables with row counts).
    ///   - live: the live file's absolute path.
    ///   - tolerance: `spot.count_tolerance`, a fraction 0…1: a table may have that share fewer
    ///     rows than recorded (growth is always fine).
    ///   - pause: seconds between attempts on a busy database.
    /// - Returns: `pass` (every table within tolerance), `fail` (a table lost rows beyond it, a
    ///   table or the file is missing, the file is not a database), `error` (still busy after
    ///   ``attempts`` tries).
    package static func check(
        record: DatabaseRecord, live: String, tolerance: Double, pause: Double = 0.2
    ) -> CheckResult {
        let watch = Date()
        func result(_ verdict: Verdict, _ message: String, _ evidence: [String] = []) -> CheckResult {
            CheckResult(
                check: .spotDatabases, subject: record.path, verdict: verdict, message: message, evidence: evidence,
                seconds: Date().timeIntervalSince(watch))
        }
        var st = stat()
        guard lstat(live, &st) == 0 else {
            return result(.fail, "the live database \(live) is missing: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            return result(.fail, "the live database \(live) is not a regular file")
        }
        var lastBusy = ""
        for attempt in 1...attempts {
            if attempt > 1 { usleep(useconds_t(pause * 1_000_000)) }
            switch counts(live: live, tables: record.tables.map(\.name)) {
            case .busy(let message):
                lastBusy = message
                continue
            case .failed(let message):
                return result(.fail, "the live database cannot be read: \(message)")
            case .counted(let live):
                var evidence: [String] = []
                var problems: [String] = []
                for table in record.tables {
                    guard let rows = live[table.name] else {
                        problems.append("table \(table.name) is missing (recorded \(table.rows) rows)")
                        continue
                    }
                    let lost = table.rows - rows
                    let allowed = Double(table.rows) * tolerance
                    evidence.append("table \(table.name): \(rows) rows now, \(table.rows) recorded")
                    if lost > 0 && Double(lost) > allowed {
                        problems.append(
                            "table \(table.name) has \(rows) rows, \(lost) fewer than the \(table.rows) recorded "
                                + "(more than the \(Self.percent(tolerance)) count tolerance)")
                    }
                }
                if problems.isEmpty {
                    return result(
                        .pass, "\(record.tables.count) tables with at least the recorded rows (within tolerance)",
                        evidence)
                }
                return result(.fail, problems.joined(separator: "; "), evidence)
            }
        }
        return result(.error, "the live database stayed busy after \(attempts) attempts: \(lastBusy)")
    }

    enum Counting {
        case counted([String: Int64])
        case busy(String)
        case failed(String)
    }

    /// Counts the rows of each of `tables` that exists in the live file, read-only.
    static func counts(live: String, tables: [String]) -> Counting {
        var handle: OpaquePointer?
        let uri = "file:" + SQLiteIntegrityCheck.percentEncoded(live) + "?mode=ro"
        let rc = sqlite3_open_v2(uri, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOFOLLOW, nil)
        defer { sqlite3_close_v2(handle) }
        guard rc == SQLITE_OK, let db = handle else {
            return .failed(handle.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(rc)")
        }
        sqlite3_busy_timeout(db, 500)
        func busy() -> Bool {
            let code = sqlite3_errcode(db) & 0xFF
            return code == SQLITE_BUSY || code == SQLITE_LOCKED
        }
        do {
            let present = Set(
                try SQLiteIntegrityCheck.query(db, "SELECT name FROM sqlite_master WHERE type = 'table'").compactMap(
                    \.first))
            var out: [String: Int64] = [:]
            for table in tables where present.contains(table) {
                let quoted = "\"" + table.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                let rows = try SQLiteIntegrityCheck.query(db, "SELECT count(*) FROM \(quoted)").first?.first
                out[table] = rows.flatMap { Int64($0) } ?? 0
            }
            return .counted(out)
        } catch {
            return busy() ? .busy("\(error)") : .failed("\(error)")
        }
    }

    /// `5%` for 0.05.
    package static func percent(_ fraction: Double) -> String {
        let value = fraction * 100
        return value == value.rounded() ? "\(Int(value))%" : String(format: "%.1f%%", value)
    }
}
