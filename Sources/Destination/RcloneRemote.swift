import DrillCore
import Foundation

/// One entry of a remote listing (`rclone lsjson`).
public struct RemoteEntry: Sendable, Equatable, Decodable {
    /// Path relative to the folder listed, `/`-separated.
    public var path: String
    /// Bytes; -1 for a folder (and for a size the backend cannot tell).
    public var size: Int64
    /// True for a folder.
    public var isDir: Bool
    /// The hashes the backend gave (lower-case rclone hash names such as `md5`, `sha1`,
    /// `quickxor`, each hex); empty unless asked for.
    public var hashes: [String: String]
    /// The modification time the backend gives; nil when it gives none (times before 2000 are
    /// what backends without times print, and count as none).
    public var modTime: Date?

    enum CodingKeys: String, CodingKey {
        case path = "Path", size = "Size", isDir = "IsDir", hashes = "Hashes", modTime = "ModTime"
    }

    /// - Parameters: as the properties.
    public init(path: String, size: Int64, isDir: Bool, hashes: [String: String] = [:], modTime: Date? = nil) {
        self.path = path
        self.size = size
        self.isDir = isDir
        self.hashes = hashes
        self.modTime = modTime
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        size = try c.decodeIfPresent(Int64.self, forKey: .size) ?? -1
        isDir = try c.decodeIfPresent(Bool.self, forKey: .isDir) ?? false
        hashes = try c.decodeIfPresent([String: String].self, forKey: .hashes) ?? [:]
        modTime = (try? c.decodeIfPresent(String.self, forKey: .modTime)).flatMap { $0.flatMap(Self.date) }
    }

    /// An RFC 3339 time as rclone prints it (fractional seconds of any length, `Z` or an offset);
    /// nil for anything else and for times before 2000 (what backends without folder times print).
    public static func date(_ text: String) -> Date? {
        var plain = text
        if let dot = plain.firstIndex(of: ".") {
            let rest = plain[plain.index(after: dot)...]
            let zone = rest.firstIndex { !$0.isNumber } ?? rest.endIndex
            plain = String(plain[..<dot]) + String(rest[zone...])
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let date = formatter.date(from: plain), date.timeIntervalSince1970 > 946_684_800 else { return nil }
        return date
    }
}

/// What a remote's backend offers (`rclone backend features`).
public struct RemoteFeatures: Sendable, Equatable {
    /// The backend's rclone type (`sftp`, `s3`, `webdav`, `onedrive`, `crypt`, `local`, …); nil
    /// when rclone's configuration does not name it.
    public var type: String?
    /// Hash names the backend gives (`md5`, `sha1`, `quickxor`, …); empty for none (WebDAV served
    /// by rclone, a `crypt` remote).
    public var hashes: [String]
    /// True when the backend computes hashes slowly (sftp runs a command per file): a listing
    /// with hashes is then not cheap.
    public var slowHash: Bool

    /// True when the remote encrypts at rest (type `crypt`).
    public var isCrypt: Bool { type == "crypt" }

    /// - Parameters: as the properties.
    public init(type: String?, hashes: [String], slowHash: Bool) {
        self.type = type
        self.hashes = hashes
        self.slowHash = slowHash
    }
}

/// One remote root `name:sub/path` reached through ``Rclone``: list, read, write and delete, each
/// one rclone command. Paths given to the methods are relative to the root, `/`-separated, and
/// never climb out of it.
///
/// Errors are ``RestoreDrillError/io(path:message:)`` naming `<root>/<sub>` with rclone's reason.
public struct RcloneRemote: Sendable {
    /// The rclone runner.
    public var rclone: Rclone
    /// The remote root, as configured (`onedrive:MaiaBackups`).
    public var root: String
    /// rclone's `--bwlimit` for transfers; nil for none.
    public var bandwidthLimit: String?

    /// - Parameters: as the properties.
    public init(rclone: Rclone, root: String, bandwidthLimit: String? = nil) {
        self.rclone = rclone
        self.root = root
        self.bandwidthLimit = bandwidthLimit
    }

    /// `<root>/<sub>` as rclone takes it (no `/` doubled after `remote:`).
    public func path(_ sub: String) -> String {
        guard !sub.isEmpty, sub != "." else { return root }
        if root.hasSuffix(":") || root.hasSuffix("/") { return root + sub }
        return root + "/" + sub
    }

    /// The name of the rclone remote the root is on (`onedrive` for `onedrive:MaiaBackups`), or
    /// the backend type of a connection string (`sftp` for `:sftp,host=…:path`).
    public var remoteName: String {
        if root.hasPrefix(":") {
            return String(root.dropFirst().prefix { $0 != "," && $0 != ":" })
        }
        return String(root.prefix { $0 != ":" })
    }

    private func fail(_ sub: String, _ outcome: RcloneOutcome) -> RestoreDrillError {
        .io(path: path(sub), message: outcome.reason)
    }

    /// The flags of a many-file copy (objects to or from the remote).
    /// - `--transfers 16 --checkers 16`: objects are small (256 KiB packs, 128 KiB database
    ///   pieces), so a copy waits on round trips far more than on bandwidth.
    /// - `--sftp-disable-hashcheck`: on an sftp backend rclone otherwise runs one remote `md5sum`
    ///   command (a new SSH session, the user's shell) per object after each transfer; over the
    ///   bench's 2 300 objects that was 170 s of a 185 s push. SSH's own MAC protects the bytes in
    ///   transit, and what the remote holds is proven by `offsite check` (which keeps the hashes)
    ///   and by `drill --offsite` (SHA-256 of every byte fetched). Other backends keep their
    ///   checks (S3's MD5 comes with the upload's reply).
    /// - No `--no-traverse`: the listed files' folders are listed once instead of one lookup per
    ///   file (6 s instead of 15 s for those 2 300 objects to an empty remote).
    static let manyFileFlags = ["--transfers", "16", "--checkers", "16", "--sftp-disable-hashcheck"]

    private var transferFlags: [String] {
        var flags = ["--retries", "1"]
        if let bandwidthLimit { flags += ["--bwlimit", bandwidthLimit] }
        return flags
    }

    /// Lists `sub` (the one `rclone lsjson` runner and decoder of the off-site code).
    /// - Parameters:
    ///   - recursive: every level below, not only the first.
    ///   - hashes: ask the backend for its hashes (slow on sftp).
    ///   - hashType: ask for this one hash only (`--hash --hash-type`); implies `hashes`.
    ///   - filesOnly: leave folders out (`--files-only`).
    ///   - excluding: rclone `--exclude` patterns.
    /// - Returns: the entries; empty when `sub` does not exist.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the remote cannot be listed.
    public func list(
        _ sub: String, recursive: Bool = false, hashes: Bool = false, hashType: String? = nil,
        filesOnly: Bool = false, excluding: [String] = []
    ) throws -> [RemoteEntry] {
        var args = ["lsjson", path(sub)]
        if recursive { args.append("--recursive") }
        if filesOnly { args.append("--files-only") }
        if let hashType {
            args += ["--hash", "--hash-type", hashType]
        } else if hashes {
            args.append("--hash")
        }
        for pattern in excluding { args += ["--exclude", pattern] }
        let outcome = try rclone.run(args)
        if outcome.exitCode == 3 || (outcome.exitCode != 0 && outcome.standardError.contains("directory not found")) {
            return []
        }
        guard outcome.succeeded else { throw fail(sub, outcome) }
        do {
            return try JSONDecoder().decode([RemoteEntry].self, from: outcome.standardOutput)
        } catch {
            throw RestoreDrillError.io(path: path(sub), message: "rclone lsjson gave a listing that does not decode")
        }
    }

    /// The bytes of the file `sub`.
    /// - Parameter limit: the most bytes read (rclone's `--count`); a longer file is refused, so a
    ///   hostile remote cannot make this process hold a file of any size. Nil for no limit.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it is missing, cannot be read, or
    ///   is longer than `limit`.
    public func cat(_ sub: String, limit: Int64? = nil) throws -> Data {
        var args = ["cat", path(sub)] + transferFlags
        if let limit { args += ["--count", "\(limit + 1)"] }
        let outcome = try rclone.run(args)
        guard outcome.succeeded else { throw fail(sub, outcome) }
        if let limit, outcome.standardOutput.count > limit {
            throw RestoreDrillError.io(path: path(sub), message: "is larger than \(Units.humanBytes(limit)): not read")
        }
        return outcome.standardOutput
    }

    /// Writes `data` as the file `sub` (`rclone rcat`, from standard input).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be written.
    public func write(_ data: Data, to sub: String) throws {
        let outcome = try rclone.run(["rcat", path(sub)] + transferFlags, input: data)
        guard outcome.succeeded else { throw fail(sub, outcome) }
    }

    /// Copies the files `files` (relative to `localFolder`) into `sub`, keeping their relative
    /// paths. A file already there with the same size (and the same hash, where the backend
    /// has one in common with the local disk: `--checksum`) is not sent again.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when a file cannot be sent.
    public func upload(localFolder: String, files: [String], to sub: String) throws {
        guard !files.isEmpty else { return }
        try withFileList(files) { list in
            let outcome = try rclone.run(
                ["copy", localFolder, path(sub), "--files-from-raw", list, "--checksum"]
                    + Self.manyFileFlags + transferFlags)
            guard outcome.succeeded else { throw fail(sub, outcome) }
        }
    }

    /// Copies one local file to the remote file `sub`.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be sent.
    public func uploadFile(_ local: String, to sub: String) throws {
        let outcome = try rclone.run(["copyto", local, path(sub), "--checksum"] + transferFlags)
        guard outcome.succeeded else { throw fail(sub, outcome) }
    }

    /// Copies the files `files` (relative to `sub`) into `localFolder`, keeping their relative
    /// paths.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when one is missing or cannot be read.
    public func download(files: [String], from sub: String, into localFolder: String) throws {
        guard !files.isEmpty else { return }
        try withFileList(files) { list in
            let outcome = try rclone.run(
                ["copy", path(sub), localFolder, "--files-from-raw", list] + Self.manyFileFlags + transferFlags)
            guard outcome.succeeded else { throw fail(sub, outcome) }
        }
        for file in files where !FileManager.default.fileExists(atPath: "\(localFolder)/\(file)") {
            throw RestoreDrillError.io(path: path("\(sub)/\(file)"), message: "is missing on the remote")
        }
    }

    /// Copies the remote file `sub` to the local path `local`.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it is missing or cannot be read.
    public func downloadFile(_ sub: String, to local: String) throws {
        let outcome = try rclone.run(["copyto", path(sub), local] + transferFlags)
        guard outcome.succeeded, FileManager.default.fileExists(atPath: local) else {
            throw fail(sub, outcome)
        }
    }

    /// Deletes the file `sub`; no error when it is already gone.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be deleted.
    public func deleteFile(_ sub: String) throws {
        let outcome = try rclone.run(["deletefile", path(sub)] + transferFlags)
        if outcome.exitCode == 3 || outcome.exitCode == 4 || outcome.standardError.contains("not found") { return }
        guard outcome.succeeded else { throw fail(sub, outcome) }
    }

    /// Deletes the folder `sub` and everything in it; no error when it is already gone.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be deleted.
    public func purge(_ sub: String) throws {
        let outcome = try rclone.run(["purge", path(sub)] + transferFlags)
        if outcome.exitCode == 3 || outcome.exitCode == 4 || outcome.standardError.contains("not found") { return }
        guard outcome.succeeded else { throw fail(sub, outcome) }
    }

    /// What the remote's backend offers: its type (from rclone's configuration, or the
    /// connection string), its hashes and whether hashing is slow.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when rclone cannot reach the backend.
    public func features() throws -> RemoteFeatures {
        let outcome = try rclone.run(["backend", "features", path("")], timeout: 120)
        guard outcome.succeeded else { throw fail("", outcome) }
        struct Reply: Decodable {
            var Hashes: [String]?
            var Features: [String: Bool]?
        }
        let reply = try? JSONDecoder().decode(Reply.self, from: outcome.standardOutput)
        let type: String?
        if root.hasPrefix(":") {
            type = remoteName
        } else {
            type = try rclone.remoteTypes()[remoteName]
        }
        return RemoteFeatures(
            type: type, hashes: reply?.Hashes ?? [], slowHash: reply?.Features?["SlowHash"] ?? false)
    }

    /// Runs `body` with the path of a temporary file listing `files`, one a line (rclone's
    /// `--files-from-raw`), removed afterwards.
    func withFileList<T>(_ files: [String], _ body: (String) throws -> T) throws -> T {
        let list = FileManager.default.temporaryDirectory.appendingPathComponent(
            "restore-drill-files-\(UUID().uuidString)")
        try Data(files.joined(separator: "\n").appending("\n").utf8).write(to: list)
        defer { try? FileManager.default.removeItem(at: list) }
        return try body(list.path)
    }
}
