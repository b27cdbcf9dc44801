import Archive
import CArchive
import DrillCore
import Foundation
import Health

/// An evidence bundle as a gzip-compressed tar (`evidence export --tar`), written and read with
/// libarchive. Reading never extracts outside a private folder: members are checked before a
/// byte is written (a plain relative path, no `..`, regular files and folders only, no member
/// twice), and files are created with `O_EXCL` below folders this code made itself.
enum EvidenceTar {
    /// Writes every regular file below `folder` (paths relative to it, sorted) as a pax-restricted
    /// tar, gzip-compressed, to `path` (created; mode 0600 until renamed by the caller).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when a file cannot be read or the archive written.
    static func write(folder: String, to path: String) throws {
        guard let writer = ArchiveWriter(format: .paxRestricted, gzip: true) else {
            throw RestoreDrillError.io(path: path, message: "libarchive cannot allocate a writer")
        }
        defer { writer.free() }
        guard writer.open(path: path) == ARCHIVE_OK else {
            throw RestoreDrillError.io(path: path, message: writer.errorString ?? "cannot open")
        }
        let now = time(nil)
        for relative in try regularFiles(below: folder) {
            let full = (folder as NSString).appendingPathComponent(relative)
            guard let data = FileManager.default.contents(atPath: full) else {
                throw RestoreDrillError.io(path: full, message: "cannot read")
            }
            guard let entry = archive_entry_new() else {
                throw RestoreDrillError.io(path: path, message: "libarchive cannot allocate an entry")
            }
            defer { archive_entry_free(entry) }
            archive_entry_set_pathname(entry, relative)
            archive_entry_set_size(entry, Int64(data.count))
            archive_entry_set_filetype(entry, RD_AE_IFREG)
            archive_entry_set_perm(entry, 0o644)
            archive_entry_set_mtime(entry, now, 0)
            guard archive_write_header(writer.handle, entry) == ARCHIVE_OK else {
                throw RestoreDrillError.io(path: path, message: writer.errorString ?? "cannot write \(relative)")
            }
            let written = data.withUnsafeBytes { archive_write_data(writer.handle, $0.baseAddress, $0.count) }
            guard written == data.count else {
                throw RestoreDrillError.io(path: path, message: writer.errorString ?? "cannot write \(relative)")
            }
        }
        guard writer.close() == ARCHIVE_OK else {
            throw RestoreDrillError.io(path: path, message: writer.errorString ?? "cannot finish the archive")
        }
    }

    /// Paths (relative, sorted by bytes) of the regular files below `folder`; links are not followed.
    static func regularFiles(below folder: String) throws -> [String] {
        var out: [String] = []
        func walk(_ relative: String) throws {
            let full = relative.isEmpty ? folder : (folder as NSString).appendingPathComponent(relative)
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: full)
            } catch {
                throw RestoreDrillError.io(path: full, message: "cannot list: \(error)")
            }
            for name in names.sorted() {
                let child = relative.isEmpty ? name : "\(relative)/\(name)"
                var st = stat()
                guard lstat((folder as NSString).appendingPathComponent(child), &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    try walk(child)
                } else if (st.st_mode & S_IFMT) == S_IFREG {
                    out.append(child)
                }
            }
        }
        try walk("")
        return out.sorted(by: EvidenceJob.byteOrder)
    }

    /// Extracts the tar at `path` into `folder` (an empty private folder), member by member.
    /// - Returns: one problem per member refused (unsafe path, a link or special file, a member
    ///   twice) or a read error; refused members are not written.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the archive cannot be opened or a
    ///   file cannot be written.
    ///
    /// A member over ``memberLimit`` bytes (by its header or as read), or one past ``totalLimit``
    /// in all, is refused unread: a small compressed bundle must not fill the auditor's disk.
    static func extract(_ path: String, into folder: String) throws -> [EvidenceVerification.Problem] {
        guard let reader = ArchiveReader(formats: [.tar], allFilters: true) else {
            throw RestoreDrillError.io(path: path, message: "libarchive cannot allocate a reader")
        }
        guard reader.open(path: path) == ARCHIVE_OK else {
            throw RestoreDrillError.io(path: path, message: reader.errorString ?? "not a tar archive")
        }
        var problems: [EvidenceVerification.Problem] = []
        var seen = Set<String>()
        var total: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let (status, entry) = reader.nextHeader()
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                problems.append(
                    .init(kind: .tar, path: nil, message: "the archive cannot be read: \(reader.errorString ?? "?")"))
                break
            }
            var name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            while name.hasPrefix("./") { name.removeFirst(2) }
            let type = archive_entry_filetype(entry)
            if type == RD_AE_IFDIR {
                while name.hasSuffix("/") { name.removeLast() }
                if name.isEmpty || name == "." { continue }
            }
            guard EvidenceJob.isSafeRelativePath(name) else {
                problems.append(
                    .init(
                        kind: .unsafe, path: HistoryText.visible(name),
                        message: "tar member \(HistoryText.visible(name)) is not a plain relative path; not extracted"))
                _ = reader.skipData()
                continue
            }
            let full = (folder as NSString).appendingPathComponent(name)
            if type == RD_AE_IFDIR {
                try EvidenceJob.makeFolder(full)
                continue
            }
            guard type == RD_AE_IFREG else {
                problems.append(
                    .init(
                        kind: .notRegular, path: name,
                        message: "tar member \(name) is a link or special file; not extracted"))
                _ = reader.skipData()
                continue
            }
            guard seen.insert(name).inserted else {
                problems.append(.init(kind: .unsafe, path: name, message: "tar member \(name) appears twice"))
                _ = reader.skipData()
                continue
            }
            let declared = archive_entry_size(entry)
            guard declared <= memberLimit, total + declared <= totalLimit else {
                problems.append(
                    .init(
                        kind: .tar, path: name,
                        message: "tar member \(name) is \(declared) bytes, more than a bundle holds; not extracted"))
                _ = reader.skipData()
                continue
            }
            try EvidenceJob.makeFolder(PathText.parent(of: full))
            var data = Data()
            while true {
                let n = buffer.withUnsafeMutableBytes { reader.readData(into: $0) }
                if n == 0 { break }
                guard Int64(data.count + max(n, 0)) <= memberLimit else {
                    problems.append(
                        .init(kind: .tar, path: name, message: "tar member \(name) is larger than its header says"))
                    return problems
                }
                guard n > 0 else {
                    problems.append(
                        .init(
                            kind: .tar, path: name,
                            message: "tar member \(name) cannot be read: \(reader.errorString ?? "?")"))
                    return problems
                }
                data.append(contentsOf: buffer[0..<n])
            }
            total += Int64(data.count)
            try EvidenceJob.writeNew(data, to: full, mode: 0o600)
        }
        return problems
    }

    /// The largest member extracted: 256 MiB (reports, events and lists are far smaller).
    static let memberLimit: Int64 = 256 << 20
    /// The most extracted from one bundle: 2 GiB.
    static let totalLimit: Int64 = 2 << 30
}
