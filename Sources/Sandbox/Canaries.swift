import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bait outside the sandbox whose change proves that a replay escaped (`restore.script`,
/// docs/ARCHITECTURE.md, "The checks").
///
/// In each given folder (the real /tmp, the user's home, the destination) ``plant(in:owner:)``
/// makes a canary folder `.restore-drill-canary-<16 hex>` holding two files of random content,
/// and one canary file `.restore-drill-canary-<16 hex>.txt` directly in the folder. For every
/// canary it records the SHA-256, permission bits, modification and change times and inode.
/// ``verify()`` lists every difference: a canary modified (content, mode, a file's times,
/// replaced), deleted, or a new entry created inside a canary folder. Canaries are owned by `owner` when
/// given (the replay's unprivileged uid), so they are writable exactly by the code under test.
///
/// An interrupted run leaves the canaries in place; ``remove()`` (or deleting
/// `.restore-drill-canary-*`) cleans them.
public struct Canaries: Sendable, Equatable {
    /// The prefix of every canary's name: `.restore-drill-canary-`.
    public static let namePrefix = ".restore-drill-canary-"

    /// What was recorded about one canary file or folder.
    public struct Record: Sendable, Equatable {
        /// Where the canary is.
        public var path: AbsolutePath
        /// True for a canary folder, false for a canary file.
        public var isFolder: Bool
        /// SHA-256 of the content, 64 lowercase hex characters; empty for a folder.
        public var sha256: String
        /// Permission bits (`st_mode & 07777`).
        public var mode: UInt32
        /// The inode number: a file deleted and re-created shows as replaced.
        public var inode: UInt64
        /// Modification and status-change times, nanoseconds since 1970 UTC.
        public var modified: Int64
        public var changed: Int64
        /// For a folder: the names inside it.
        public var entries: [String]
    }

    /// Every canary planted, folders and files.
    public let records: [Record]

    /// Plants canaries in each of `folders` and records them.
    /// - Parameters:
    ///   - folders: existing folders outside the sandbox; duplicates are planted once.
    ///   - owner: uid and gid to give the canaries (needs root), or nil to keep the tool's own.
    /// - Returns: the planted canaries.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the folder when planting fails
    ///   (canaries planted before the failure are removed).
    public static func plant(in folders: [AbsolutePath], owner: (uid: UInt32, gid: UInt32)? = nil) throws -> Canaries {
        var planted: [AbsolutePath] = []
        do {
            // Resolved (realpath) on purpose: one folder reached by two names is planted once.
            for folder in Set(folders.map { $0.resolvingSymlinks() }).sorted() {
                let dir = folder.appending(component: namePrefix + Self.randomHex(8))
                guard mkdir(dir.pathString, 0o755) == 0 else {
                    throw RestoreDrillError.io(
                        path: dir.pathString, message: "cannot plant canary: \(String(cString: strerror(errno)))")
                }
                planted.append(dir)
                let loose = folder.appending(component: namePrefix + Self.randomHex(8) + ".txt")
                for file in [dir.appending(component: "canary-1"), dir.appending(component: "canary-2"), loose] {
                    let content = Data((Self.randomHex(32) + "\n").utf8)
                    guard
                        FileManager.default.createFile(
                            atPath: file.pathString, contents: content, attributes: [.posixPermissions: 0o644])
                    else {
                        throw RestoreDrillError.io(path: file.pathString, message: "cannot plant canary file")
                    }
                    if file == loose { planted.append(file) }
                    chmod(file.pathString, 0o644)
                    if let owner { lchown(file.pathString, owner.uid, owner.gid) }
                }
                chmod(dir.pathString, 0o755)
                if let owner { lchown(dir.pathString, owner.uid, owner.gid) }
            }
            var records: [Record] = []
            for top in planted {
                guard let record = Self.record(top) else {
                    throw RestoreDrillError.io(path: top.pathString, message: "cannot read canary")
                }
                records.append(record)
                if record.isFolder {
                    for name in record.entries {
                        let child = top.appending(component: name)
                        guard let r = Self.record(child) else {
                            throw RestoreDrillError.io(path: child.pathString, message: "cannot read canary")
                        }
                        records.append(r)
                    }
                }
            }
            return Canaries(records: records)
        } catch {
            for path in planted { try? FileManager.default.removeItem(atPath: path.pathString) }
            throw error
        }
    }

    /// Compares every canary with what was recorded.
    /// - Returns: one line per change, e.g. `modified (content): /tmp/.restore-drill-canary-…/canary-1`,
    ///   `deleted: …`, `new file in canary folder: …`; empty when nothing changed.
    public func verify() -> [String] {
        var changes: [String] = []
        for expected in records {
            guard let now = Self.record(expected.path) else {
                changes.append("deleted: \(expected.path)")
                continue
            }
            if now.isFolder != expected.isFolder || now.inode != expected.inode {
                changes.append("replaced: \(expected.path)")
                continue
            }
            var what: [String] = []
            if now.sha256 != expected.sha256 { what.append("content") }
            if now.mode != expected.mode {
                what.append("mode \(String(expected.mode, radix: 8)) → \(String(now.mode, radix: 8))")
            }
            // A folder's times change with its entries, reported below by name.
            if !expected.isFolder {
                if now.modified != expected.modified { what.append("mtime") }
                if now.changed != expected.changed && what.isEmpty { what.append("ctime") }
            }
            if !what.isEmpty { changes.append("modified (\(what.joined(separator: ", "))): \(expected.path)") }
            if expected.isFolder {
                for name in Set(now.entries).subtracting(expected.entries).sorted() {
                    changes.append(
                        "new file in canary folder: \(expected.path.appending(component: name))")
                }
            }
        }
        return changes
    }

    /// Removes every canary (folders with whatever is inside them now). Never follows links.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the first canary not removed.
    public func remove() throws {
        var firstError: RestoreDrillError?
        for record in records where !records.contains(where: { $0.isFolder && record.path.isDescendant(of: $0.path) }) {
            var info = stat()
            guard lstat(record.path.pathString, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR { RestoreSandbox.makeWritable(record.path) }
            do {
                try FileManager.default.removeItem(atPath: record.path.pathString)
            } catch {
                firstError =
                    firstError
                    ?? .io(path: record.path.pathString, message: "cannot remove canary: \(error.localizedDescription)")
            }
        }
        if let firstError { throw firstError }
    }

    private static func record(_ place: AbsolutePath) -> Record? {
        let path = place.pathString
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let type = info.st_mode & S_IFMT
        #if canImport(Darwin)
            let modified = Int64(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(info.st_mtimespec.tv_nsec)
            let changed = Int64(info.st_ctimespec.tv_sec) * 1_000_000_000 + Int64(info.st_ctimespec.tv_nsec)
        #else
            let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            let changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        #endif
        var record = Record(
            path: place, isFolder: type == S_IFDIR, sha256: "", mode: UInt32(info.st_mode & 0o7777),
            inode: UInt64(info.st_ino), modified: modified, changed: changed, entries: [])
        if type == S_IFDIR {
            record.entries = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        } else if type == S_IFREG {
            guard let data = FileManager.default.contents(atPath: path) else { return record }
            record.sha256 = SHA256Digest.hex(of: data)
        } else {
            record.sha256 = "not a regular file"
        }
        return record
    }

    private static func randomHex(_ bytes: Int) -> String {
        Hex.encode((0..<bytes).map { _ in UInt8.random(in: 0...255) })
    }
}
