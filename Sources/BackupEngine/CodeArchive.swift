import Archive
import CArchive
import DrillCore
import Foundation

/// The `code` component: writes `code.tar.gz`, a pax tar (libarchive) compressed by
/// ``ParallelGzipWriter`` (independent gzip members compressed on every core), from walk entries
/// already filtered by the engine, with ``CodeTarWriter`` (the entry writer format 2's packs share),
/// and makes its component record.
///
/// Member names are the exact bytes on disk (issue 12). libarchive's UTF-8 setter
/// (`archive_entry_set_pathname_utf8`) recomposes a decomposed name (NFD `Re\xcc\x81sume\xcc\x81`
/// became NFC `R\xc3\xa9sum\xc3\xa9`), and a pax `path` in UTF-8 is recomposed again by bsdtar
/// when it reads it under a UTF-8 locale (and refused under the C locale). So names are set in
/// their raw form (`archive_entry_copy_pathname`, the bytes of ``FileNameBytes/bytes(_:)``) and
/// the writer declares `hdrcharset=BINARY` (POSIX pax: names are bytes, no conversion): GNU tar
/// (1.34) and bsdtar (3.6) then both create exactly those bytes, NFD, NFC and names that are not
/// UTF-8 alike, under any locale (measured; EndToEndTests `FileNameTests`). GNU tar says
/// `Ignoring unknown extended header keyword 'hdrcharset'` on stderr and still exits 0; the
/// restore script drops that line.
struct CodeArchiveWriter {
    /// The first 16 bytes of every SQLite 3 database file.
    static let sqliteHeader = CodeTarWriter.sqliteHeader

    struct Result: Sendable {
        /// Format 1: `code.tar.gz`. Format 2: the first pack (``artifacts`` are all of them).
        var artifact: ArtifactRecord
        /// The component's artifacts: format 1 `[artifact]`; format 2 every pack, the folders' last
        /// (none for an empty root).
        var artifacts: [ArtifactRecord]
        var files: [FileRecord]
        var record: ComponentRecord
        /// Unmatched SQLite files (relative paths) found in the archive.
        var sqliteFiles: [String]
        /// Warnings for the manifest (changed files, dropped special bits).
        var warnings: [String]
        /// Files that changed while this attempt read them (relative paths).
        var changed: [String] = []
        /// Files listed by the walk that were gone when this attempt opened them (relative paths,
        /// ``ComponentRecord/vanished``).
        var vanished: [String] = []
    }

    /// How many times the archive is written when a file changes while it is read (a change
    /// is detected, retried, then reported).
    static let attempts = CodeTarWriter.attempts
    /// Called right after a file's bytes were read, with its relative path (tests change the file here).
    var afterRead: ((String) -> Void)?

    let entries: [WalkEntry]
    let level: Int
    /// Reasons that make the component failed (unreadable paths found by the walk).
    var problems: [String] = []
    /// Paths the walk listed but found gone (``WorkspaceWalk/vanished``): recorded with those
    /// this writer finds gone when it opens them.
    var vanished: [String] = []
    /// Receives the identity of every artifact written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil
    /// Awaited each time the archive's file has been created, before anything is written into it
    /// (a test seam: ``BackupPhase/writingArtifacts``); nil for none.
    var opened: (@Sendable () async -> Void)? = nil

    /// Writes the archive to `<setFolder>/code.tar.gz`. A file whose size, modification or change
    /// time differ after it was read (or that shrank) changed while it was read: the whole archive is
    /// written again, up to ``attempts`` times; the file is then stored as last read and a warning
    /// names it (and says whether it settled).
    /// - Parameters:
    ///   - progress: one-line messages every 500 paths.
    ///   - bytes: called with the number of source bytes just archived (for a byte meter).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the artifact cannot be written.
    func write(
        setFolder: String, progress: @Sendable (String) -> Void, bytes: @Sendable (Int64) -> Void = { _ in }
    ) async throws -> Result {
        let writer = CodeTarWriter(level: level, afterRead: afterRead, log: log, opened: opened)
        let written = try await writer.writeSettled(
            entries, to: setFolder + "/code.tar.gz", failures: problems, progress: progress, bytes: bytes)
        let artifact = ArtifactRecord(
            path: "code.tar.gz", component: .code, kind: .archive, size: written.size, digests: written.digests)
        return Self.result(of: written, artifact: artifact, vanished: vanished)
    }

    /// The component's result from what writing its archive (or, format 2, its packs merged) found.
    /// - Parameters:
    ///   - written: the writer's findings; its failures include the walk's problems.
    ///   - artifact: the artifact the result names (format 1's `code.tar.gz`; format 2's first pack).
    ///   - vanished: the paths the walk listed but found gone.
    static func result(
        of written: CodeTarWriter.Written, artifact: ArtifactRecord, vanished: [String],
        artifacts: [ArtifactRecord]? = nil
    ) -> Result {
        let failures = written.failures
        // Shown as people read them: a name that is not UTF-8 with `\xNN` (the list is for reading).
        let vanished = Set((vanished + written.vanished).map(FileNameBytes.display)).sorted()
        let record = ComponentRecord(
            id: .code, status: failures.isEmpty ? .ok : .failed,
            reason: failures.isEmpty ? nil : "unreadable: " + failures.joined(separator: "; "),
            files: written.fileCount, bytes: written.byteCount, vanished: vanished.isEmpty ? nil : vanished)
        var warnings = written.warnings
        for path in vanished {
            warnings.append("\(path): vanished between listing and reading (deleted or moved meanwhile); not stored")
        }
        warnings += written.settleWarnings
        return Result(
            artifact: artifact, artifacts: artifacts ?? [artifact], files: written.files, record: record,
            sqliteFiles: written.sqliteFiles, warnings: warnings,
            changed: written.changed, vanished: vanished)
    }
}

/// Writes walk entries as one pax tar (libarchive) compressed by ``ParallelGzipWriter``: the one
/// entry writer of the `code` component, for `code.tar.gz` (format 1, ``CodeArchiveWriter``) and
/// for each pack (format 2 in progress, ``CodePackWriter``).
///
/// Each file is read once: its bytes are hashed for the manifest and handed to the archive in the
/// same pass; the compressed archive is hashed while it is written. Member names are relative to
/// root (no `./`), folders are members, symlinks are stored as links with their target as written.
///
/// The bytes depend only on the entries (names, types, modes, modification times, link targets,
/// contents) and the level: no owner, no access or change time, gzip members with mtime 0 and no
/// name, cut every ``ParallelGzipWriter/defaultBlockSize`` bytes of the tar stream whatever the
/// number of cores. Writing the same entries twice gives the same bytes (``CodeArchiveBytesTests``
/// pins them).
struct CodeTarWriter {
    /// The first 16 bytes of every SQLite 3 database file.
    static let sqliteHeader: [UInt8] = Array("SQLite format 3\0".utf8)
    /// How many times an archive is written when a file changes while it is read (a change
    /// is detected, retried, then reported).
    static let attempts = 3

    /// The deflate level, 1–9 (``GzipMember``).
    let level: Int
    /// How warnings name the archive ("dropped in code.tar.gz").
    var archiveName = "code.tar.gz"
    /// Called right after a file's bytes were read, with its relative path (tests change the file here).
    var afterRead: ((String) -> Void)? = nil
    /// Receives the identity of every file written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil
    /// Awaited each time the archive's file has been created, before anything is written into it;
    /// nil for none.
    var opened: (@Sendable () async -> Void)? = nil

    /// What one archive holds and what writing it found.
    struct Written: Sendable {
        /// Bytes of the compressed archive.
        var size: Int64
        /// Its digests (SHA-256, MD5, QuickXorHash), hashed as it was written.
        var digests: ArtifactDigests
        /// Its SHA-256, 64 lowercase hex.
        var sha256: String { digests.sha256 }
        /// One record per member (folders, links and files, in archive order).
        var files: [FileRecord]
        /// Members that begin with the SQLite header (relative paths).
        var sqliteFiles: [String]
        /// Warnings about members (dropped special bits, control characters, links leaving root,
        /// files stored zero-padded).
        var warnings: [String]
        /// The failures given to the writer, then files that could not be opened (`path: error`).
        var failures: [String]
        /// Files that changed while the last attempt read them (relative paths).
        var changed: [String]
        /// Files gone when the last attempt opened them (relative paths, as listed).
        var vanished: [String]
        /// Files and links stored.
        var fileCount: Int
        /// Bytes of the files stored, before compression.
        var byteCount: Int64
        /// From ``CodeTarWriter/writeSettled(_:to:failures:progress:bytes:)``: one warning per file
        /// that changed while it was read, saying on which attempt it settled or that it never did.
        var settleWarnings: [String] = []

        /// The digests of no archive at all (merging no pack); never recorded in a manifest.
        static let noDigests = ArtifactDigests(sha256: "", md5: "", quickXorHash: "")

        /// The findings of several archives (format 2's packs) as one: lists joined in order,
        /// counts summed, `failures` after the given ones; size and digest are the first's (each
        /// pack's are its artifact's).
        static func merged(_ parts: [Written], failures: [String]) -> Written {
            var out = Written(
                size: parts.first?.size ?? 0, digests: parts.first?.digests ?? Self.noDigests, files: [],
                sqliteFiles: [],
                warnings: [], failures: failures, changed: [], vanished: [], fileCount: 0, byteCount: 0)
            for part in parts {
                out.files += part.files
                out.sqliteFiles += part.sqliteFiles
                out.warnings += part.warnings
                out.failures += part.failures
                out.changed += part.changed
                out.vanished += part.vanished
                out.fileCount += part.fileCount
                out.byteCount += part.byteCount
                out.settleWarnings += part.settleWarnings
            }
            return out
        }
    }

    /// Writes `entries` to `path` (created; it must not exist), again when a file changed while it
    /// was read: a file whose size, modification or change time differ after it was read (or that
    /// shrank) makes the whole archive be written again, up to ``attempts`` times; the file is then
    /// stored as last read and ``Written/settleWarnings`` names it (and says whether it settled).
    /// - Parameters:
    ///   - failures: failures found before (the walk's unreadable paths), kept first in ``Written/failures``.
    ///   - progress: one-line messages every 500 paths.
    ///   - bytes: called with the number of source bytes just archived (for a byte meter).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the archive cannot be written.
    func writeSettled(
        _ entries: [WalkEntry], to path: String, failures: [String] = [], progress: @Sendable (String) -> Void,
        bytes: @Sendable (Int64) -> Void = { _ in }
    ) async throws -> Written {
        // Keyed by bytes: an NFC name and its NFD twin are two files.
        var earlier: [[UInt8]: String] = [:]
        for attempt in 1...Self.attempts {
            var result = try await write(entries, to: path, failures: failures, progress: progress, bytes: bytes)
            if result.changed.isEmpty || attempt == Self.attempts {
                for name in result.changed {
                    result.settleWarnings.append(
                        "\(FileNameBytes.display(name)): changed while it was read in all \(Self.attempts) attempts; stored as last read"
                    )
                }
                let changedNow = Set(result.changed.map(FileNameBytes.key))
                let settled = earlier.filter { !changedNow.contains($0.key) }.values
                for name in settled.sorted(by: FileNameBytes.precedes) {
                    result.settleWarnings.append(
                        "\(FileNameBytes.display(name)): changed while it was read; stored as read on attempt \(attempt)"
                    )
                }
                return result
            }
            for name in result.changed { earlier[FileNameBytes.key(name)] = name }
            progress("code: \(result.changed.count) files changed while they were read; writing the archive again")
            unlink(path)
        }
        preconditionFailure("unreachable: the last attempt returns")
    }

    /// Writes `entries` to `path` once (created; it must not exist).
    /// - Parameters:
    ///   - failures: failures found before, kept first in ``Written/failures``.
    ///   - progress: one-line messages every 500 paths.
    ///   - bytes: called with the number of source bytes just archived.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the archive cannot be written.
    func write(
        _ entries: [WalkEntry], to path: String, failures: [String] = [], progress: @Sendable (String) -> Void,
        bytes: @Sendable (Int64) -> Void = { _ in }
    ) async throws -> Written {
        let file = try HashingFileWriter(path: path, log: log)
        if let opened { await opened() }
        let gzip = ParallelGzipWriter(output: file, level: level)
        return try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            try await archive(
                entries, into: gzip, file: file, failures: failures, group: &group, progress: progress, bytes: bytes)
        }
    }

    private func archive(
        _ entries: [WalkEntry], into gzip: ParallelGzipWriter, file: HashingFileWriter, failures: [String],
        group: inout ParallelGzipWriter.Group, progress: @Sendable (String) -> Void, bytes: @Sendable (Int64) -> Void
    ) async throws -> Written {
        let artifactPath = file.path
        let sink = ArchiveSink(gzip: gzip)
        // libarchive converts names through the current locale's character set; under the C
        // locale a non-ASCII name cannot be converted (and crashes the pax writer). Names here are
        // UTF-8, so every synchronous stretch of archive calls runs under a UTF-8 LC_CTYPE set for
        // its thread only (``ArchiveNameLocale``): after an `await` the task may resume on another
        // thread, so the locale is never held across one.
        let utf8 = ArchiveNameLocale.utf8()
        defer { if let utf8 { freelocale(utf8) } }
        let writer: ArchiveWriter = try ArchiveNameLocale.with(utf8) {
            guard let writer = ArchiveWriter(format: .paxRestricted) else {
                throw RestoreDrillError.runtime("archive_write_new failed")
            }
            guard archive_write_set_format_option(writer.handle, "pax", "hdrcharset", "BINARY") == ARCHIVE_OK else {
                let error = archiveError(writer.handle, artifactPath)
                writer.free()
                throw error
            }
            guard writer.open(sink: sink) == ARCHIVE_OK else {
                let error = archiveError(writer.handle, artifactPath)
                writer.free()
                throw error
            }
            return writer
        }
        let archive = writer.handle
        defer { ArchiveNameLocale.with(utf8) { writer.free() } }

        var state = EntryState(failures: failures)
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: FileBlocks.blockSize, alignment: 16)
        defer { block.deallocate() }

        for (index, item) in entries.enumerated() {
            if index % 500 == 0 && index > 0 { progress("code: \(index)/\(entries.count) \(item.relative)") }
            let before = state.byteCount
            let data = try ArchiveNameLocale.with(utf8) {
                try writeHeader(item, archive: archive, sink: sink, path: artifactPath, state: &state)
            }
            if let data {
                defer { close(data.fd) }
                try await writeData(
                    item, file: data, archive: archive, sink: sink, block: block, path: artifactPath,
                    state: &state, gzip: gzip, group: &group)
            }
            if state.byteCount > before { bytes(state.byteCount - before) }
            // Compress the blocks this entry filled; waits only when every core is busy.
            try await gzip.flush(group: &group)
        }
        try ArchiveNameLocale.with(utf8) { try check(archive_write_close(archive), archive, artifactPath, sink) }
        try await gzip.finish(group: &group)
        let (size, digests) = try file.finish()
        return Written(
            size: size, digests: digests, files: state.files, sqliteFiles: state.sqliteFiles, warnings: state.warnings,
            failures: state.failures, changed: state.changed, vanished: state.vanished, fileCount: state.fileCount,
            byteCount: state.byteCount)
    }

    /// What the archive loop accumulates.
    private struct EntryState {
        var files: [FileRecord] = []
        var sqliteFiles: [String] = []
        var warnings: [String] = []
        var failures: [String]
        var changed: [String] = []
        var vanished: [String] = []
        var fileCount = 0
        var byteCount: Int64 = 0
    }

    /// An open regular file whose bytes follow its header.
    private struct OpenFile {
        var fd: Int32
        /// `fstat` when it was opened; its size is the size in the header.
        var before: stat
        var size: Int64
    }

    /// Writes one walk entry's header (and records folders and links). Synchronous and under the
    /// UTF-8 locale: names are converted here.
    /// - Returns: the open file when the entry is a regular file whose bytes must follow; nil
    ///   otherwise (also when the file cannot be opened: recorded as a failure).
    private func writeHeader(
        _ item: WalkEntry, archive: OpaquePointer, sink: ArchiveSink, path artifactPath: String,
        state: inout EntryState
    ) throws -> OpenFile? {
        let shown = FileNameBytes.display(item.absolute.pathString)
        if item.mode & 0o7000 != 0 {
            state.warnings.append("\(shown): setuid/setgid/sticky bits dropped in \(archiveName)")
        }
        if item.relative.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            state.warnings.append(
                "\(shown.debugDescription): the name holds a control character; stored, but restore.archives refuses such names, so drills of this set fail until it is renamed"
            )
        }
        if item.type == .symlink, let target = item.linkTarget,
            CodeArchiveWriter.linkLeavesRoot(item.relative, target)
        {
            state.warnings.append(
                "\(shown): symlink to \(target) leads outside the root; stored as a link, but restore.archives refuses links that leave the restore root, so drills of this set fail until it is excluded (code.exclude) or made relative inside the root"
            )
        }
        let perm = item.mode & 0o777
        guard let entry = archive_entry_new() else { throw RestoreDrillError.runtime("archive_entry_new failed") }
        defer { archive_entry_free(entry) }
        // The exact bytes, never through libarchive's UTF-8 conversion (which recomposes NFD).
        FileNameBytes.withFileSystemRepresentation(item.relative) { archive_entry_copy_pathname(entry, $0) }
        archive_entry_set_perm(entry, mode_t(perm))
        archive_entry_set_mtime(entry, time_t(item.mtimeSeconds), item.mtimeNanoseconds)
        switch item.type {
        case .directory:
            archive_entry_set_filetype(entry, RD_AE_IFDIR)
            archive_entry_set_size(entry, 0)
            try check(archive_write_header(archive, entry), archive, artifactPath, sink)
            state.files.append(
                FileRecord(component: .code, base: .root, path: item.relative, type: .directory, mode: perm))
            return nil
        case .symlink:
            archive_entry_set_filetype(entry, RD_AE_IFLNK)
            archive_entry_set_size(entry, 0)
            FileNameBytes.withFileSystemRepresentation(item.linkTarget ?? "") { archive_entry_copy_symlink(entry, $0) }
            try check(archive_write_header(archive, entry), archive, artifactPath, sink)
            state.files.append(
                FileRecord(
                    component: .code, base: .root, path: item.relative, type: .symlink, mode: perm,
                    linkTarget: item.linkTarget))
            state.fileCount += 1
            return nil
        case .file:
            let fd = FileNameBytes.withFileSystemRepresentation(item.absolute.pathString) {
                open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            }
            guard fd >= 0 else {
                if errno == ENOENT || errno == ENOTDIR {
                    // Deleted or moved since the walk listed it: not a failure (issue 11).
                    state.vanished.append(item.relative)
                } else {
                    state.failures.append("\(shown): \(String(cString: strerror(errno)))")
                }
                return nil
            }
            // The size as the file is now (it may have changed since the walk).
            var before = stat()
            let size = fstat(fd, &before) == 0 ? Int64(before.st_size) : item.size
            archive_entry_set_filetype(entry, RD_AE_IFREG)
            archive_entry_set_size(entry, size)
            do {
                try check(archive_write_header(archive, entry), archive, artifactPath, sink)
            } catch {
                close(fd)
                throw error
            }
            return OpenFile(fd: fd, before: before, size: size)
        }
    }

    /// Streams one regular file's bytes into the archive, hashing them in the same pass, and hands
    /// full gzip blocks to the compressors as they fill, so a large file is never held in memory.
    private func writeData(
        _ item: WalkEntry, file: OpenFile, archive: OpaquePointer, sink: ArchiveSink,
        block: UnsafeMutableRawBufferPointer,
        path artifactPath: String, state: inout EntryState, gzip: ParallelGzipWriter,
        group: inout ParallelGzipWriter.Group
    ) async throws {
        let hasher = SHA256Hasher()
        let fd = file.fd
        let size = file.size
        var done: Int64 = 0
        var first = true
        var readError: String?
        while done < size {
            let want = Int(min(Int64(block.count), size - done))
            let n = read(fd, block.baseAddress, want)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                readError = n < 0 ? String(cString: strerror(errno)) : "file shrank while it was read"
                break
            }
            let chunk = UnsafeRawBufferPointer(rebasing: block[0..<n])
            if first {
                first = false
                if n >= 16 && Array(chunk[0..<16]) == Self.sqliteHeader { state.sqliteFiles.append(item.relative) }
            }
            hasher.update(chunk)
            try writeData(archive, chunk, artifactPath, sink)
            done += Int64(n)
            try await gzip.flush(group: &group)
        }
        afterRead?(item.relative)
        var after = stat()
        if readError != nil || fstat(fd, &after) != 0 || !Self.sameState(file.before, after) {
            state.changed.append(item.relative)
        }
        if let readError {
            // The header promised `size` bytes; pad with zeros so the archive stays
            // well-formed, record the padded content, and say so.
            memset(block.baseAddress!, 0, block.count)
            while done < size {
                let n = Int(min(Int64(block.count), size - done))
                let chunk = UnsafeRawBufferPointer(rebasing: block[0..<n])
                hasher.update(chunk)
                try writeData(archive, chunk, artifactPath, sink)
                done += Int64(n)
                try await gzip.flush(group: &group)
            }
            state.warnings.append(
                "\(FileNameBytes.display(item.absolute.pathString)): \(readError); stored zero-padded in \(archiveName)"
            )
        }
        state.files.append(
            FileRecord(
                component: .code, base: .root, path: item.relative, type: .file, size: size,
                sha256: hasher.finalizeHex(), mode: item.mode & 0o777))
        state.fileCount += 1
        state.byteCount += size
    }

    /// True when size, modification and change time agree.
    static func sameState(_ a: stat, _ b: stat) -> Bool {
        #if os(Linux)
            return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec
                && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec && a.st_ctim.tv_sec == b.st_ctim.tv_sec
                && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec
        #else
            return a.st_size == b.st_size && a.st_mtimespec.tv_sec == b.st_mtimespec.tv_sec
                && a.st_mtimespec.tv_nsec == b.st_mtimespec.tv_nsec && a.st_ctimespec.tv_sec == b.st_ctimespec.tv_sec
                && a.st_ctimespec.tv_nsec == b.st_ctimespec.tv_nsec
        #endif
    }

    private func writeData(
        _ archive: OpaquePointer, _ chunk: UnsafeRawBufferPointer, _ path: String, _ sink: ArchiveSink
    ) throws {
        let written = archive_write_data(archive, chunk.baseAddress, chunk.count)
        if written < 0 { throw sink.error ?? archiveError(archive, path) }
    }

    private func check(_ status: Int32, _ archive: OpaquePointer, _ path: String, _ sink: ArchiveSink) throws {
        if status == ARCHIVE_OK { return }
        if let error = sink.error { throw error }
        if status == ARCHIVE_WARN { return }
        throw archiveError(archive, path)
    }

    private func archiveError(_ archive: OpaquePointer, _ path: String) -> RestoreDrillError {
        let message = archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error"
        return .io(path: path, message: message)
    }
}

/// The bridge from libarchive's write callback to ``ParallelGzipWriter``, which only buffers here
/// (compression and its errors happen when the archive loop awaits `flush`). `error` stays for
/// sinks that can fail.
final class ArchiveSink: ArchiveByteSink {
    let gzip: ParallelGzipWriter
    var error: (any Error)?

    init(gzip: ParallelGzipWriter) { self.gzip = gzip }

    func write(_ buffer: UnsafeRawPointer?, _ length: Int) -> Int {
        guard let buffer, length > 0 else { return 0 }
        gzip.append(buffer, count: length)
        return length
    }
}

extension CodeArchiveWriter {
    /// True when a link at `relative` (inside root) with `target` resolves outside root, by the
    /// same rule `restore.archives` applies: an absolute target, or `..` climbing above root.
    static func linkLeavesRoot(_ relative: String, _ target: String) -> Bool {
        if target.hasPrefix("/") { return true }
        // The target taken from the link's folder, folded lexically: a leading `..` leaves root.
        let folder = (try? RelativePath(validating: relative))?.ancestors.last ?? .dot
        guard let target = try? RelativePath(validating: target) else { return true }
        return folder.appending(target).climbsAbove
    }
}
