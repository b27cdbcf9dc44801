import Archive
import BackupEngine
import CArchive
import CSQLite
import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Rewrites a damaged copy of a set so that its digests agree again, as a buggy engine (or a corrupt
/// source) would have written it: the "sealed" damages of the selftest.
enum SetSealer {
    /// Recomputes every listed artifact's size and SHA-256 from the files on disk (an artifact that
    /// is gone keeps its record), re-renders the restore script from `manifest` with
    /// ``RestoreScript/render(_:)`` when `renderScript` is true (so a changed database digest, chunk
    /// list or rewrite prefix reaches the script, as the engine would have written it), then writes
    /// `SHA256SUMS` and `manifest.json` with a fresh self-checksum.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when a file cannot be read or written.
    ///
    /// Format 2: an object whose bytes changed (a damage edited it in place, at the path
    /// ``DamageContext/path(_:)`` gave) is renamed after its new digest, as the engine would have
    /// stored those bytes, and every artifact that named it names the new object
    /// (``renameChangedObjects(of:manifest:)``).
    static func seal(setPath: AbsolutePath, manifest: inout Manifest, renderScript: Bool) throws {
        let scriptName = manifest.restoreScript
        var artifacts = manifest.artifacts.filter { !(renderScript && $0.path == scriptName) }
        if manifest.storesObjects {
            try renameChangedObjects(of: &artifacts, manifest: manifest, objects: objectsFolder(of: setPath))
        }
        for i in artifacts.indices where !manifest.isObject(artifacts[i]) {
            guard let inside = try? RelativePath(validatingBeneath: artifacts[i].path) else { continue }
            let path = setPath.appending(inside).pathString
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let (sha, size) = try SHA256Digest.file(at: path)
            artifacts[i].sha256 = sha
            artifacts[i].size = size
        }
        manifest.artifacts = artifacts
        if renderScript {
            let path = setPath.appending(component: scriptName).pathString
            let text = Data(RestoreScript.render(manifest).utf8)
            try write(text, to: path, mode: 0o755)
            manifest.artifacts.append(
                ArtifactRecord(
                    path: scriptName, component: .code, kind: .script, size: Int64(text.count),
                    sha256: SHA256Digest.hex(of: text)))
        }
        try write(
            manifest.renderedChecksumList(), to: setPath.appending(component: Manifest.checksumListFileName).pathString,
            mode: 0o644)
        try write(
            try manifest.encodedForDisk(), to: setPath.appending(component: Manifest.fileName).pathString, mode: 0o644)
    }

    /// Format 2: the objects folder a set at `setPath` reads, `<setPath>/../objects`.
    static func objectsFolder(of setPath: AbsolutePath) -> AbsolutePath {
        setPath.parentDirectory.appending(component: Manifest.objectsFolderName)
    }

    /// The file of object `digest` beneath `objects`: `<objects>/<ab>/<sha256>`.
    static func objectFile(_ digest: ObjectDigest, in objects: AbsolutePath) -> AbsolutePath {
        objects.appending(components: digest.fanOut, digest.hex)
    }

    /// Stores `data` as an object beneath `objects` (mode 0600, its fan-out folder made), as the
    /// engine stores one; an object of that name already there is kept (same name, same bytes).
    /// - Returns: the object's digest and size in bytes.
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    static func putObject(_ data: Data, in objects: AbsolutePath) throws -> (sha256: String, size: Int64) {
        let digest = ObjectDigest(of: data)
        let file = objectFile(digest, in: objects)
        if !FileManager.default.fileExists(atPath: file.pathString) {
            try SelftestJob.mkdir(file.parentDirectory.pathString)
            try write(data, to: file.pathString, mode: 0o600)
        }
        return (digest.hex, Int64(data.count))
    }

    /// Copies the objects `manifest` uses from the objects folder `from` into `to` (format 2; a
    /// damaged copy gets objects of its own, so damaging one never touches another copy's or the
    /// good set's). An object missing in `from` is skipped (the drill names it).
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    static func copyObjects(of manifest: Manifest, from: AbsolutePath, to: AbsolutePath) throws {
        for ref in manifest.objectRefs() {
            let source = objectFile(ref.digest, in: from)
            let target = objectFile(ref.digest, in: to)
            guard FileManager.default.fileExists(atPath: source.pathString),
                !FileManager.default.fileExists(atPath: target.pathString)
            else { continue }
            try SelftestJob.mkdir(target.parentDirectory.pathString)
            do {
                try FileManager.default.copyItem(atPath: source.pathString, toPath: target.pathString)
            } catch {
                throw RestoreDrillError.io(path: target.pathString, message: "cannot copy: \(error)")
            }
        }
    }

    /// Format 2: hashes each object `artifacts` name (once per object); an object whose bytes no
    /// longer have its name is moved to the name of its new digest (all moved aside first, so
    /// two objects whose bytes were swapped trade names), and every artifact naming it gets the
    /// new digest and size. An object that is gone keeps its records.
    static func renameChangedObjects(of artifacts: inout [ArtifactRecord], manifest: Manifest, objects: AbsolutePath)
        throws
    {
        var now: [String: (sha256: String, size: Int64)] = [:]
        for artifact in artifacts where manifest.isObject(artifact) && now[artifact.sha256] == nil {
            guard let digest = ObjectDigest(artifact.sha256) else { continue }
            let file = objectFile(digest, in: objects).pathString
            guard FileManager.default.fileExists(atPath: file) else { continue }
            now[artifact.sha256] = try SHA256Digest.file(at: file)
        }
        let changed = now.filter { $0.key != $0.value.sha256 }.sorted { $0.key < $1.key }
        func aside(_ old: String) -> String { objects.appending(component: ".selftest-\(old)").pathString }
        for (old, _) in changed {
            guard let digest = ObjectDigest(old), rename(objectFile(digest, in: objects).pathString, aside(old)) == 0
            else { throw RestoreDrillError.io(path: old, message: "cannot move the changed object aside") }
        }
        for (old, new) in changed {
            guard let digest = ObjectDigest(new.sha256) else { continue }
            let target = objectFile(digest, in: objects)
            try SelftestJob.mkdir(target.parentDirectory.pathString)
            if FileManager.default.fileExists(atPath: target.pathString) {
                unlink(aside(old))
            } else if rename(aside(old), target.pathString) != 0 {
                throw RestoreDrillError.io(path: target.pathString, message: "cannot rename the changed object")
            }
        }
        for i in artifacts.indices where manifest.isObject(artifacts[i]) {
            guard let new = now[artifacts[i].sha256] else { continue }
            artifacts[i].sha256 = new.sha256
            artifacts[i].size = new.size
        }
    }

    /// Replaces the file at `path` with `data` and sets its mode.
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    static func write(_ data: Data, to path: String, mode: Int) throws {
        unlink(path)
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: mode])
        else { throw RestoreDrillError.io(path: path, message: "cannot write") }
        chmod(path, mode_t(mode))
    }
}

/// One tar member held in memory: selftest sets are a few hundred KiB, so the archive crafting
/// below never streams.
struct TarMember {
    /// The name as stored (may be `../x` or `/abs` when a damage wants it).
    var name: String
    /// `RD_AE_IFREG`, `RD_AE_IFDIR` or `RD_AE_IFLNK`.
    var type: UInt32
    /// Permission bits.
    var perm: Int
    var data: Data
    /// The link target of a symlink.
    var symlink: String?
    /// Modification time, seconds since 1970.
    var mtime: Int

    static func file(_ name: String, _ text: String, perm: Int = 0o644) -> TarMember {
        TarMember(name: name, type: RD_AE_IFREG, perm: perm, data: Data(text.utf8), symlink: nil, mtime: 1_700_000_000)
    }
}

/// Reads and writes gzip tar archives with libarchive, for crafting damaged `code.tar.gz` copies.
enum SelftestArchive {
    /// Every member of the (gzip) tar at `path`, with data.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the archive does not read to its end.
    static func read(_ path: String) throws -> [TarMember] {
        try ArchiveNameLocale.withUTF8 {
            guard let reader = ArchiveReader(formats: [.all], allFilters: true) else {
                throw RestoreDrillError.runtime("archive_read_new failed")
            }
            let a = reader.handle
            guard reader.open(path: path, blockSize: 1 << 16) == ARCHIVE_OK else { throw error(a, path) }
            var out: [TarMember] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let (status, header) = reader.nextHeader()
                if status == ARCHIVE_EOF { break }
                guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry = header else { throw error(a, path) }
                let name =
                    archive_entry_pathname_utf8(entry).map { String(cString: $0) }
                    ?? archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
                var data = Data()
                while true {
                    let n = buffer.withUnsafeMutableBytes { reader.readData(into: $0) }
                    if n < 0 { throw error(a, path) }
                    if n == 0 { break }
                    data.append(contentsOf: buffer[0..<n])
                }
                out.append(
                    TarMember(
                        name: name, type: UInt32(archive_entry_filetype(entry)),
                        perm: Int(archive_entry_perm(entry)), data: data,
                        symlink: archive_entry_symlink_utf8(entry).map { String(cString: $0) },
                        mtime: Int(archive_entry_mtime(entry))))
            }
            return out
        }
    }

    /// Writes `members` as a pax tar (gzip-compressed when `gzip`) to `path`, replacing it.
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    static func write(_ members: [TarMember], to path: String, gzip: Bool = true) throws {
        unlink(path)
        try ArchiveNameLocale.withUTF8 {
            guard let writer = ArchiveWriter(format: .paxRestricted, gzip: gzip) else {
                throw RestoreDrillError.runtime("archive_write_new failed")
            }
            defer { writer.free() }
            let a = writer.handle
            guard writer.open(path: path) == ARCHIVE_OK else { throw error(a, path) }
            for m in members {
                guard let entry = archive_entry_new() else { throw RestoreDrillError.runtime("archive_entry_new") }
                defer { archive_entry_free(entry) }
                archive_entry_set_pathname_utf8(entry, m.name)
                archive_entry_set_filetype(entry, m.type)
                archive_entry_set_perm(entry, mode_t(m.perm))
                archive_entry_set_mtime(entry, time_t(m.mtime), 0)
                archive_entry_set_size(entry, m.type == RD_AE_IFREG ? Int64(m.data.count) : 0)
                if let target = m.symlink, m.type == RD_AE_IFLNK { archive_entry_set_symlink_utf8(entry, target) }
                let status = archive_write_header(a, entry)
                guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw error(a, path) }
                if m.type == RD_AE_IFREG && !m.data.isEmpty {
                    let written = m.data.withUnsafeBytes { archive_write_data(a, $0.baseAddress, $0.count) }
                    guard written == m.data.count else { throw error(a, path) }
                }
            }
            guard archive_write_close(a) == ARCHIVE_OK else { throw error(a, path) }
        }
    }

    /// Writes `members` as a gzip tar that ends right before member `keep` (its header included),
    /// with no end-of-archive blocks: a tar cut on a member boundary, compressed again.
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    static func writeCut(_ members: [TarMember], keep: Int, to path: String, scratch: String) throws {
        let tar = scratch + "/cut.tar"
        try write(members, to: tar, gzip: false)
        defer { unlink(tar) }
        // Where each member's headers (pax extension included) start in the plain tar.
        var offsets: [Int64] = []
        try ArchiveNameLocale.withUTF8 {
            guard let reader = ArchiveReader(formats: [.tar], allFilters: false) else {
                throw RestoreDrillError.runtime("archive_read_new failed")
            }
            guard reader.open(path: tar, blockSize: 1 << 16) == ARCHIVE_OK else { throw error(reader.handle, tar) }
            while reader.nextHeader().status == ARCHIVE_OK {
                offsets.append(reader.headerPosition)
                reader.skipData()
            }
        }
        guard keep < offsets.count, let whole = FileManager.default.contents(atPath: tar) else {
            throw RestoreDrillError.io(path: tar, message: "cannot cut before member \(keep) of \(offsets.count)")
        }
        try gzipRaw(whole.prefix(Int(offsets[keep])), to: path)
    }

    /// Writes `data` gzip-compressed (one gzip member) to `path`, replacing it.
    static func gzipRaw(_ data: Data, to path: String) throws {
        unlink(path)
        guard let writer = ArchiveWriter(format: .raw, gzip: true) else {
            throw RestoreDrillError.runtime("archive_write_new failed")
        }
        defer { writer.free() }
        let a = writer.handle
        guard writer.open(path: path) == ARCHIVE_OK else { throw error(a, path) }
        guard let entry = archive_entry_new() else { throw RestoreDrillError.runtime("archive_entry_new") }
        defer { archive_entry_free(entry) }
        archive_entry_set_filetype(entry, RD_AE_IFREG)
        archive_entry_set_size(entry, Int64(data.count))
        guard archive_write_header(a, entry) == ARCHIVE_OK else { throw error(a, path) }
        let written = data.withUnsafeBytes { archive_write_data(a, $0.baseAddress, $0.count) }
        guard written == data.count, archive_write_close(a) == ARCHIVE_OK else { throw error(a, path) }
    }

    private static func error(_ a: OpaquePointer, _ path: String) -> RestoreDrillError {
        .io(path: path, message: archive_error_string(a).map { String(cString: $0) } ?? "libarchive error")
    }
}

/// gzip streams for the format-2 database chunks (each chunk one gzip stream of a piece of the
/// database), read and written with libarchive.
enum SelftestGzip {
    /// The decompressed bytes of the gzip file at `path`.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it is not a whole gzip stream.
    static func decompress(_ path: String) throws -> Data {
        guard let a = archive_read_new() else { throw RestoreDrillError.runtime("archive_read_new failed") }
        defer { archive_read_free(a) }
        archive_read_support_filter_gzip(a)
        archive_read_support_format_raw(a)
        func failure() -> RestoreDrillError {
            .io(path: path, message: archive_error_string(a).map { String(cString: $0) } ?? "not gzip")
        }
        guard archive_read_open_filename(a, path, 1 << 16) == ARCHIVE_OK else { throw failure() }
        var entry: OpaquePointer?
        guard archive_read_next_header(a, &entry) == ARCHIVE_OK else { throw failure() }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress, $0.count) }
            if n < 0 { throw failure() }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    /// `data` as one gzip stream (written through `scratch`, a file path that is removed).
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    static func compress(_ data: Data, scratch: String) throws -> Data {
        try SelftestArchive.gzipRaw(data, to: scratch)
        defer { unlink(scratch) }
        guard let out = FileManager.default.contents(atPath: scratch) else {
            throw RestoreDrillError.io(path: scratch, message: "unreadable")
        }
        return out
    }
}

/// A small SQLite helper for damaging database copies.
enum SelftestSQL {
    /// Runs `sql` on the database at `path`.
    static func exec(_ path: String, _ sql: String) throws {
        let db = try SQLiteHandle(path: path, create: false)
        defer { db.close() }
        try db.exec(sql)
    }

    /// Switches the database at `path` to WAL mode with automatic checkpoints off, runs `sql`, and
    /// returns the bytes of its `-wal` file while the connection is still open (closing it
    /// checkpoints and removes the file).
    static func walWhileOpen(_ path: String, _ sql: String) throws -> Data {
        let db = try SQLiteHandle(path: path, create: false)
        defer { db.close() }
        try db.exec("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; " + sql)
        guard let wal = FileManager.default.contents(atPath: path + "-wal"), !wal.isEmpty else {
            throw RestoreDrillError.io(path: path + "-wal", message: "no WAL was written")
        }
        return wal
    }

    /// The first column of each row of `sql`, as text.
    static func rows(_ path: String, _ sql: String) throws -> [String] {
        let db = try SQLiteHandle(path: path, readOnly: true)
        defer { db.close() }
        return try db.rows(sql)
    }

    /// Flips the lowest bit of the rowid stored in one cell of a leaf page of index `index`: the
    /// b-tree stays well-formed (so `PRAGMA quick_check` says ok), but one index entry no longer
    /// points at its row (so `PRAGMA integrity_check` reports the row missing from the index).
    /// Page and record layout: https://www.sqlite.org/fileformat2.html (b-tree pages, record format).
    /// - Returns: the page number changed.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the index has no usable cell.
    static func clobberIndexEntry(_ path: String, index: String) throws -> Int {
        guard let rootText = try rows(path, "SELECT rootpage FROM sqlite_master WHERE name = '\(index)'").first,
            let root = Int(rootText), let pageSizeText = try rows(path, "PRAGMA page_size").first,
            let pageSize = Int(pageSizeText), var bytes = FileManager.default.contents(atPath: path).map(Array.init)
        else { throw RestoreDrillError.io(path: path, message: "index \(index) not found") }
        func u16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        func u32(_ at: Int) -> Int { u16(at) << 16 | u16(at + 2) }
        func varint(_ at: Int) -> (Int, Int) {
            var value = 0
            for k in 0..<9 {
                let b = Int(bytes[at + k])
                if k == 8 { return (value << 8 | b, at + 9) }
                value = value << 7 | (b & 0x7f)
                if b < 0x80 { return (value, at + k + 1) }
            }
            return (value, at + 9)
        }
        func header(_ page: Int) -> (start: Int, header: Int) {
            let start = (page - 1) * pageSize
            return (start, start + (page == 1 ? 100 : 0))
        }
        // Descend to a leaf in the middle of the index.
        var page = root
        while true {
            let (start, h) = header(page)
            let type = bytes[h]
            if type == 0x0a { break }
            guard type == 0x02 else {
                throw RestoreDrillError.io(path: path, message: "page \(page) is not an index page")
            }
            let count = u16(h + 3)
            let pointer = u16(h + 12 + 2 * (count / 2))
            page = count > 0 ? u32(start + pointer) : u32(h + 8)
        }
        let (start, h) = header(page)
        let count = u16(h + 3)
        guard count > 0 else { throw RestoreDrillError.io(path: path, message: "empty index leaf page \(page)") }
        var cell = start + u16(h + 8 + 2 * (count / 2))
        (_, cell) = varint(cell)  // payload size
        let (headerSize, first) = varint(cell)
        var at = first
        var sizes: [Int] = []
        while at < cell + headerSize {
            let (serial, next) = varint(at)
            at = next
            switch serial {
            case 0, 8, 9: sizes.append(0)
            case 1...4: sizes.append(serial)
            case 5: sizes.append(6)
            case 6, 7: sizes.append(8)
            default: sizes.append((serial - (serial % 2 == 0 ? 12 : 13)) / 2)
            }
        }
        guard let last = sizes.last, last > 0 else {
            throw RestoreDrillError.io(path: path, message: "index cell on page \(page) has no rowid")
        }
        let rowidEnd = cell + headerSize + sizes.reduce(0, +)
        bytes[rowidEnd - 1] ^= 0x01
        try SetSealer.write(Data(bytes), to: path, mode: 0o644)
        return page
    }
}

/// A TCP listener on 127.0.0.1 that nobody is meant to reach: a restore script that connects to
/// it proves the replay had the host's network.
final class LoopbackListener {
    private let fd: Int32
    /// The port it listens on.
    let port: UInt16

    /// - Throws: ``RestoreDrillError/runtime(_:)`` when no socket can be bound.
    init() throws {
        #if canImport(Glibc)
            let stream = Int32(SOCK_STREAM.rawValue)
        #else
            let stream = SOCK_STREAM
        #endif
        let fd = socket(AF_INET, stream, 0)
        self.fd = fd
        guard fd >= 0 else { throw RestoreDrillError.runtime("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        #if canImport(Darwin)
            address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        #endif
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw RestoreDrillError.runtime("bind/listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(fd) }

    /// Accepts (and closes) every connection queued since the last call.
    /// - Returns: how many there were.
    func drain() -> Int {
        var count = 0
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return count }
            close(client)
            count += 1
        }
    }
}
