import CZlib
import DrillCore
import Foundation

/// Writes one artifact file, hashing the bytes as they are written so no artifact is read back
/// to be checksummed.
///
/// Not thread-safe: one writer per file. The file is created with `O_EXCL`; a writer that is
/// never finished leaves a file behind inside the `.partial-<id>` folder only.
final class HashingFileWriter {
    let path: String
    private var fd: Int32
    private let hasher = SHA256Hasher()
    /// Bytes written so far.
    private(set) var size: Int64 = 0

    /// Creates `path` (it must not exist).
    /// - Parameter mode: permission bits of the new file.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be created.
    init(path: String, mode: mode_t = 0o644) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends `count` bytes at `pointer`.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a write error (e.g. a full disk).
    func write(_ pointer: UnsafeRawPointer, count: Int) throws {
        guard count > 0 else { return }
        hasher.update(pointer, count: count)
        var offset = 0
        while offset < count {
            let n = Foundation.write(fd, pointer + offset, count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
            }
            offset += n
        }
        size += Int64(count)
    }

    /// Appends the bytes of `buffer`.
    func write(_ buffer: UnsafeRawBufferPointer) throws {
        if let base = buffer.baseAddress { try write(base, count: buffer.count) }
    }

    /// Appends the bytes of `data`.
    func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Closes the file.
    /// - Returns: the bytes written and their SHA-256 (64 lowercase hex).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when closing fails.
    func finish() throws -> (size: Int64, sha256: String) {
        let result = close(fd)
        fd = -1
        guard result == 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        return (size, hasher.finalizeHex())
    }
}

/// A gzip (RFC 1952) compressor that writes its output through a ``HashingFileWriter``, so the
/// compressed artifact is hashed while it is written. Uses zlib's deflate with windowBits 15+16
/// (what `gzip -d` and `tar xzf` read).
final class GzipWriter {
    private var stream = z_stream()
    private let output: HashingFileWriter
    private let buffer: UnsafeMutablePointer<UInt8>
    private let bufferSize = 256 << 10
    private var finished = false

    /// - Parameters:
    ///   - output: where compressed bytes go.
    ///   - level: zlib level 1–9.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when zlib cannot start.
    init(output: HashingFileWriter, level: Int) throws {
        self.output = output
        buffer = .allocate(capacity: bufferSize)
        let status = deflateInit2_(
            &stream, Int32(max(1, min(9, level))), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            buffer.deallocate()
            throw RestoreDrillError.runtime("zlib deflateInit2 failed (\(status))")
        }
    }

    deinit {
        deflateEnd(&stream)
        buffer.deallocate()
    }

    /// Compresses `count` bytes at `pointer`.
    /// - Throws: what the output writer throws, or ``RestoreDrillError/runtime(_:)`` on a zlib error.
    func write(_ pointer: UnsafeRawPointer, count: Int) throws {
        guard count > 0 else { return }
        stream.next_in = UnsafeMutablePointer(mutating: pointer.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(count)
        try pump(flush: Z_NO_FLUSH)
    }

    /// Ends the gzip stream (writes the trailer). The output writer stays open.
    func finish() throws {
        guard !finished else { return }
        finished = true
        stream.next_in = nil
        stream.avail_in = 0
        try pump(flush: Z_FINISH)
    }

    private func pump(flush: Int32) throws {
        while true {
            stream.next_out = buffer
            stream.avail_out = uInt(bufferSize)
            let status = deflate(&stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw RestoreDrillError.runtime("zlib deflate failed (\(status)) writing \(output.path)")
            }
            let produced = bufferSize - Int(stream.avail_out)
            if produced > 0 { try output.write(buffer, count: produced) }
            if flush == Z_FINISH {
                if status == Z_STREAM_END { return }
            } else if stream.avail_in == 0 && stream.avail_out != 0 {
                return
            }
        }
    }
}
