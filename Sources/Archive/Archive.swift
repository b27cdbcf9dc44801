/// # Archive
///
/// One small Swift wrapper over libarchive's reader and writer set-up, so the stages that read or
/// write tar archives (the backup engine's `code.tar.gz` and vault tar, the verifier's archive
/// inspection and vault check, the selftest's damaged copies) allocate, configure, open, report
/// errors and free a libarchive handle one way.
///
/// - ``ArchiveReader``: `archive_read_new` with the formats and filters asked for, opened on a
///   file or on bytes in memory, freed when the reader is released.
/// - ``ArchiveWriter``: `archive_write_new` with a format (and gzip when asked), opened on a file
///   or on an ``ArchiveByteSink``, freed by ``ArchiveWriter/free()`` or when released.
///
/// Entries (`archive_entry_*`) and the `RD_AE_*` file-type constants stay libarchive's own
/// (`import CArchive`); the wrapper hands out its ``ArchiveReader/handle`` for calls it does not
/// cover. Nothing here writes anywhere but where a writer is opened; an interrupted write leaves
/// what libarchive wrote so far.
import CArchive

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The locale libarchive converts member names through. It converts through the thread's
/// `LC_CTYPE`; under the C locale a non-ASCII name cannot be converted (and crashes the pax
/// writer), so every synchronous stretch of archive calls on UTF-8 names runs under a UTF-8
/// `LC_CTYPE` set for its thread only (`uselocale`), never across an `await`.
public enum ArchiveNameLocale {
    /// A new thread-usable UTF-8 `LC_CTYPE` locale (`C.UTF-8` on Linux, `UTF-8` on macOS), or nil
    /// when the system has none. The caller frees it with `freelocale`.
    public static func utf8() -> locale_t? {
        for name in ["C.UTF-8", "C.utf8", "UTF-8", "en_US.UTF-8"] {
            if let loc = newlocale(LC_CTYPE_MASK, name, nil) { return loc }
        }
        return nil
    }

    /// Runs `body` with `locale` as this thread's locale, restoring the previous one; with a nil
    /// `locale`, runs it under the current one.
    public static func with<T>(_ locale: locale_t?, _ body: () throws -> T) rethrows -> T {
        guard let locale else { return try body() }
        let previous = uselocale(locale)
        defer { uselocale(previous) }
        return try body()
    }

    /// Runs `body` under a new UTF-8 locale (``utf8()``), freed afterwards.
    public static func withUTF8<T>(_ body: () throws -> T) rethrows -> T {
        let utf8 = utf8()
        defer { if let utf8 { freelocale(utf8) } }
        return try with(utf8, body)
    }
}

/// A libarchive reader (`struct archive *` from `archive_read_new`), freed when released.
/// Not thread-safe: one reader belongs to one thread at a time.
public final class ArchiveReader {
    /// Archive formats a reader accepts (`archive_read_support_format_*`).
    public enum Format: Sendable {
        /// `archive_read_support_format_tar` (ustar, pax, and GNU tar's common forms).
        case tar
        /// `archive_read_support_format_gnutar`.
        case gnutar
        /// `archive_read_support_format_all`.
        case all
    }

    /// The libarchive handle, for the `archive_read_*` calls the wrapper does not cover.
    public let handle: OpaquePointer

    /// Allocates a reader and enables, in this order, every decompression filter (when
    /// `allFilters`) and then `formats`.
    /// - Returns: nil when libarchive cannot allocate a reader.
    public init?(formats: [Format], allFilters: Bool) {
        guard let handle = archive_read_new() else { return nil }
        self.handle = handle
        if allFilters { archive_read_support_filter_all(handle) }
        for format in formats {
            switch format {
            case .tar: archive_read_support_format_tar(handle)
            case .gnutar: archive_read_support_format_gnutar(handle)
            case .all: archive_read_support_format_all(handle)
            }
        }
    }

    deinit { archive_read_free(handle) }

    /// Opens the archive file at `path`, read in blocks of `blockSize` bytes.
    /// - Returns: libarchive's status (`ARCHIVE_OK` when open; see ``errorString`` otherwise).
    public func open(path: String, blockSize: Int = 1 << 16) -> Int32 {
        archive_read_open_filename(handle, path, blockSize)
    }

    /// Opens the archive already open on `descriptor` (read from its current offset in blocks of
    /// `blockSize` bytes; the caller keeps and closes the descriptor).
    /// - Returns: libarchive's status (`ARCHIVE_OK` when open; see ``errorString`` otherwise).
    public func open(descriptor: Int32, blockSize: Int = 1 << 16) -> Int32 {
        archive_read_open_fd(handle, descriptor, blockSize)
    }

    /// Opens an archive held in memory. The bytes must stay valid and unchanged until the reader
    /// is released.
    /// - Returns: libarchive's status (`ARCHIVE_OK` when open).
    public func open(memory: UnsafeMutableRawBufferPointer) -> Int32 {
        archive_read_open_memory(handle, memory.baseAddress, memory.count)
    }

    /// Reads the next member's header.
    /// - Returns: libarchive's status (`ARCHIVE_OK`, `ARCHIVE_WARN`, `ARCHIVE_EOF` at the end,
    ///   `ARCHIVE_RETRY` or `ARCHIVE_FATAL`) and the entry, valid until the next call.
    public func nextHeader() -> (status: Int32, entry: OpaquePointer?) {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        return (status, entry)
    }

    /// Reads up to `buffer.count` bytes of the current member's data into `buffer`.
    /// - Returns: the number of bytes read, 0 at the member's end, negative on an error.
    public func readData(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        archive_read_data(handle, buffer.baseAddress, buffer.count)
    }

    /// Reads past the current member's data without returning it (decompressing it, so a damaged
    /// stream shows here).
    /// - Returns: libarchive's status.
    @discardableResult
    public func skipData() -> Int32 { archive_read_data_skip(handle) }

    /// The byte offset of the current member's first header in the uncompressed archive.
    public var headerPosition: Int64 { archive_read_header_position(handle) }

    /// libarchive's description of the last error; nil when it has none.
    public var errorString: String? { archive_error_string(handle).map { String(cString: $0) } }
}

/// Where an ``ArchiveWriter`` opened with ``ArchiveWriter/open(sink:)`` sends its bytes.
public protocol ArchiveByteSink: AnyObject {
    /// Takes `length` bytes at `buffer` (the archive's next bytes, compressed if a filter is on).
    /// - Returns: `length` when they were taken, or -1 to make libarchive fail the write.
    func write(_ buffer: UnsafeRawPointer?, _ length: Int) -> Int
}

/// A libarchive writer (`struct archive *` from `archive_write_new`), freed by ``free()`` or when
/// released. Not thread-safe: one writer belongs to one thread at a time.
public final class ArchiveWriter {
    /// Archive formats a writer writes (`archive_write_set_format_*`).
    public enum Format: Sendable {
        /// `archive_write_set_format_pax_restricted`: ustar, with pax headers only where needed.
        case paxRestricted
        /// `archive_write_set_format_raw`: one member's bytes, no archive structure.
        case raw
    }

    /// The libarchive handle, for the `archive_write_*` calls the wrapper does not cover.
    public let handle: OpaquePointer
    private var freed = false
    /// Keeps the sink alive while libarchive holds a pointer to it (also while ``free()`` closes
    /// the archive from `deinit`).
    private var sinkBox: SinkBox?

    /// Allocates a writer, sets its `format` and then, when `gzip`, the gzip filter.
    /// - Returns: nil when libarchive cannot allocate a writer.
    public init?(format: Format, gzip: Bool = false) {
        guard let handle = archive_write_new() else { return nil }
        self.handle = handle
        switch format {
        case .paxRestricted: archive_write_set_format_pax_restricted(handle)
        case .raw: archive_write_set_format_raw(handle)
        }
        if gzip { archive_write_add_filter_gzip(handle) }
    }

    deinit { free() }

    /// Opens the file at `path` for writing (created or truncated).
    /// - Returns: libarchive's status (`ARCHIVE_OK` when open).
    public func open(path: String) -> Int32 { archive_write_open_filename(handle, path) }

    /// Opens the writer on `sink`: every block libarchive writes goes to ``ArchiveByteSink/write(_:_:)``.
    /// The writer keeps `sink` alive until it is freed.
    /// - Returns: libarchive's status (`ARCHIVE_OK` when open).
    public func open(sink: any ArchiveByteSink) -> Int32 {
        let box = SinkBox(sink)
        sinkBox = box
        return archive_write_open2(
            handle, Unmanaged.passUnretained(box).toOpaque(), nil,
            { _, client, buffer, length in
                Unmanaged<SinkBox>.fromOpaque(client!).takeUnretainedValue().sink.write(buffer, length)
            }, nil, nil)
    }

    /// Finishes the archive (end-of-archive blocks, filter trailers) and closes its output.
    /// - Returns: libarchive's status (`ARCHIVE_OK` when everything was written).
    @discardableResult
    public func close() -> Int32 { archive_write_close(handle) }

    /// Frees the handle (closing it first if ``close()`` was not called, as `archive_write_free`
    /// does). Calling it again does nothing; the writer must not be used after it.
    public func free() {
        guard !freed else { return }
        freed = true
        archive_write_free(handle)
    }

    /// libarchive's description of the last error; nil when it has none.
    public var errorString: String? { archive_error_string(handle).map { String(cString: $0) } }
}

/// The object libarchive's write callback reaches an ``ArchiveByteSink`` through.
private final class SinkBox {
    let sink: any ArchiveByteSink
    init(_ sink: any ArchiveByteSink) { self.sink = sink }
}
