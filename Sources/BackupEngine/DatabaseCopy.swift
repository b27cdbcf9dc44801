import CSQLite
import DrillCore
import Foundation

/// The `databases` component for one database: an online-backup copy, switched to rollback-journal
/// mode, counted, then stored whole or in chunks.
///
/// The copy is made with `sqlite3_backup_step(-1)` from a read-only connection, so it is one
/// consistent snapshot that includes transactions still only in the source's `-wal` file. The
/// temporary copy lives in the set's `.partial-<id>/.work/` folder and is moved or chunked from
/// there; nothing is held in memory.
struct DatabaseCopier {
    let root: String
    let smallLimit: Int64
    let chunkSize: Int64
    /// Seconds to wait for a lock held by another connection before giving up.
    let busyTimeout: Double

    struct Stored {
        var record: DatabaseRecord
        var artifacts: [ArtifactRecord]
    }

    /// Copies one database.
    /// - Parameters:
    ///   - entry: the source file (relative to root).
    ///   - index: 1-based number, used for temp names and for `databases/db-<n>.db` fallbacks.
    /// - Returns: the record and its artifacts.
    /// - Throws: ``DatabaseCopyFailure`` for a problem with the source (the component fails, other
    ///   databases continue); ``RestoreDrillError/io(path:message:)`` when the set cannot be written.
    func copy(_ entry: WalkEntry, index: Int, setFolder: String, workFolder: String) throws -> Stored {
        let temp = "\(workFolder)/db-\(index).sqlite"
        defer {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temp + suffix) }
        }
        let tables = try snapshot(source: entry.absolute, into: temp, name: entry.relative)
        let base = SetNames.isSafe(entry.relative) ? "databases/\(entry.relative)" : "databases/db-\(index).db"
        let mode = entry.mode & 0o777
        var st = stat()
        guard stat(temp, &st) == 0 else {
            throw RestoreDrillError.io(path: temp, message: String(cString: strerror(errno)))
        }
        let size = Int64(st.st_size)
        let target = "\(setFolder)/\(base)"
        try SetNames.makeParent(of: target)
        if size < smallLimit {
            let (sha, _) = try SHA256Digest.file(at: temp)
            guard rename(temp, target) == 0 else {
                throw RestoreDrillError.io(path: target, message: String(cString: strerror(errno)))
            }
            let record = DatabaseRecord(
                base: .root, path: entry.relative, size: size, sha256: sha, artifact: base, chunks: [],
                tables: tables, mode: mode)
            return Stored(
                record: record,
                artifacts: [ArtifactRecord(path: base, component: .databases, kind: .database, size: size, sha256: sha)]
            )
        }
        // Stream the copy into chunks, hashing the whole file and each chunk in the same pass.
        let whole = SHA256Hasher()
        var artifacts: [ArtifactRecord] = []
        var writer: HashingFileWriter?
        var writerName = ""
        func closeChunk() throws {
            guard let w = writer else { return }
            let (n, sha) = try w.finish()
            artifacts.append(
                ArtifactRecord(path: writerName, component: .databases, kind: .chunk, size: n, sha256: sha))
            writer = nil
        }
        let total = try FileBlocks.forEach(path: temp) { block in
            whole.update(block)
            var offset = 0
            while offset < block.count {
                if writer == nil {
                    writerName = base + ".chunk-" + String(format: "%04d", artifacts.count + 1)
                    writer = try HashingFileWriter(path: "\(setFolder)/\(writerName)")
                }
                let room = Int(chunkSize - writer!.size)
                let n = min(room, block.count - offset)
                try writer!.write(UnsafeRawBufferPointer(rebasing: block[offset..<(offset + n)]))
                offset += n
                if writer!.size >= chunkSize { try closeChunk() }
            }
        }
        try closeChunk()
        let record = DatabaseRecord(
            base: .root, path: entry.relative, size: total, sha256: whole.finalizeHex(), artifact: nil,
            chunks: artifacts.map(\.path), tables: tables, mode: mode)
        return Stored(record: record, artifacts: artifacts)
    }

    /// Makes the consistent copy at `temp`, sets `journal_mode=DELETE`, and counts rows.
    /// - Returns: tables (sorted by name) and their row counts.
    private func snapshot(source: String, into temp: String, name: String) throws -> [TableCount] {
        var srcHandle: OpaquePointer?
        defer { sqlite3_close_v2(srcHandle) }
        var rc = sqlite3_open_v2(source, &srcHandle, SQLITE_OPEN_READONLY, nil)
        guard rc == SQLITE_OK, let src = srcHandle else {
            throw DatabaseCopyFailure(path: name, message: "cannot open: \(Self.message(srcHandle, rc))")
        }
        sqlite3_busy_timeout(src, Int32(busyTimeout * 1000))
        var dstHandle: OpaquePointer?
        defer { sqlite3_close_v2(dstHandle) }
        rc = sqlite3_open_v2(temp, &dstHandle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard rc == SQLITE_OK, let dst = dstHandle else {
            throw RestoreDrillError.io(path: temp, message: "cannot create the copy: \(Self.message(dstHandle, rc))")
        }
        guard let backup = sqlite3_backup_init(dst, "main", src, "main") else {
            throw DatabaseCopyFailure(
                path: name, message: "backup cannot start: \(Self.message(dst, sqlite3_errcode(dst)))")
        }
        let deadline = Date().addingTimeInterval(busyTimeout)
        repeat {
            rc = sqlite3_backup_step(backup, -1)
            if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && Date() < deadline { usleep(50_000) }
        } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && Date() < deadline
        let finish = sqlite3_backup_finish(backup)
        guard rc == SQLITE_DONE, finish == SQLITE_OK else {
            let code = rc == SQLITE_DONE ? finish : rc
            if code == SQLITE_BUSY || code == SQLITE_LOCKED {
                throw DatabaseCopyFailure(
                    path: name,
                    message:
                        "locked by another process for more than \(Int(busyTimeout)) s (\(String(cString: sqlite3_errstr(code))))"
                )
            }
            throw DatabaseCopyFailure(path: name, message: "backup failed: \(String(cString: sqlite3_errstr(code)))")
        }
        let mode = try Self.query(dst, "PRAGMA journal_mode=DELETE", path: temp).first ?? ""
        guard mode.lowercased() == "delete" else {
            throw DatabaseCopyFailure(path: name, message: "the copy stayed in journal mode \(mode)")
        }
        let names = try Self.query(
            dst, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            path: temp)
        var tables: [TableCount] = []
        for table in names {
            let quoted = "\"" + table.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            let count = try Self.query(dst, "SELECT count(*) FROM \(quoted)", path: temp).first ?? "0"
            tables.append(TableCount(name: table, rows: Int64(count) ?? 0))
        }
        rc = sqlite3_close(dst)
        dstHandle = nil
        guard rc == SQLITE_OK else { throw RestoreDrillError.io(path: temp, message: "cannot close the copy (\(rc))") }
        return tables
    }

    /// Runs `sql` and returns the first column of each row as text.
    private static func query(_ db: OpaquePointer, _ sql: String, path: String) throws -> [String] {
        var stmt: OpaquePointer?
        defer { sqlite3_finalize(stmt) }
        var rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK else {
            throw DatabaseCopyFailure(path: path, message: "\(sql): \(message(db, rc))")
        }
        var out: [String] = []
        while true {
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw DatabaseCopyFailure(path: path, message: "\(sql): \(message(db, rc))") }
            out.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "")
        }
        return out
    }

    private static func message(_ db: OpaquePointer?, _ rc: Int32) -> String {
        if let db, let text = sqlite3_errmsg(db) { return String(cString: text) }
        return String(cString: sqlite3_errstr(rc))
    }
}

/// A problem with one source database; the `databases` component fails, the others continue.
struct DatabaseCopyFailure: Error, CustomStringConvertible {
    /// The database, relative to root.
    var path: String
    var message: String
    var description: String { "\(path): \(message)" }
}

/// Naming rules for paths inside a set.
enum SetNames {
    /// True when `relative` can be used as-is inside a set path and a `SHA256SUMS` line: printable
    /// ASCII (0x20–0x7E) without a backslash, no leading `-`, no empty, `.` or `..` component.
    static func isSafe(_ relative: String) -> Bool {
        guard !relative.isEmpty, !relative.hasPrefix("-") else { return false }
        guard relative.utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7e && $0 != 0x5c }) else { return false }
        return !relative.split(separator: "/", omittingEmptySubsequences: false).contains {
            $0.isEmpty || $0 == "." || $0 == ".."
        }
    }

    /// Creates the folders above `path`.
    static func makeParent(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw RestoreDrillError.io(path: parent, message: "cannot create the folder: \(error.localizedDescription)")
        }
    }
}
