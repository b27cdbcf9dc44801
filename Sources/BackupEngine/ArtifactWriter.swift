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

/// One complete gzip member (RFC 1952: header, raw deflate, CRC-32 and length trailer) made from
/// one block of input. Members compressed independently and concatenated are one valid gzip file:
/// RFC 1952 §2.2 ("a gzip file consists of a series of members"), read by `gzip -d`, GNU
/// `tar xzf`, bsdtar and libarchive. This is how pigz compresses on several cores.
enum GzipMember {
    /// Compresses `input` at zlib `level` (1–9) into one gzip member.
    /// - Returns: the member's bytes.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` on a zlib error.
    static func compress(_ input: [UInt8], level: Int) throws -> [UInt8] {
        var stream = z_stream()
        let status = deflateInit2_(
            &stream, Int32(max(1, min(9, level))), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw RestoreDrillError.runtime("zlib deflateInit2 failed (\(status))") }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 64
        var output = [UInt8](repeating: 0, count: bound)
        let produced: Int = try input.withUnsafeBufferPointer { inBuffer in
            try output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                let rc = deflate(&stream, Z_FINISH)
                guard rc == Z_STREAM_END else { throw RestoreDrillError.runtime("zlib deflate failed (\(rc))") }
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        output.removeSubrange(produced...)
        return output
    }
}

/// Gzip on several cores: the byte stream is cut into blocks of ``blockSize`` bytes; each block is
/// compressed into an independent ``GzipMember`` by a child task of one task group, at most
/// ``width`` at once, and the members are written to the output in stream order.
///
/// Use: ``append(_:count:)`` from synchronous code (e.g. libarchive's write callback) buffers
/// bytes; ``flush(group:)`` (awaited after each synchronous step) hands full blocks to the group;
/// ``finish(group:)`` compresses the last block and writes every member still in flight.
/// Memory stays bounded: at most `width` blocks in flight plus the block being filled, each at most
/// ``blockSize`` bytes in and about as many out.
///
/// Not thread-safe: one producer. The output writer hashes the members as they are written.
final class ParallelGzipWriter {
    /// Bytes of input per gzip member: 1 MiB (the ratio lost at member boundaries is about 0.1 %).
    static let defaultBlockSize = 1 << 20

    typealias Group = ThrowingTaskGroup<(Int, [UInt8]), any Error>

    let output: HashingFileWriter
    let level: Int
    let width: Int
    let blockSize: Int
    private var pending: [UInt8] = []
    private var full: [[UInt8]] = []
    private var submitted = 0
    private var written = 0
    private var inFlight = 0
    private var done: [Int: [UInt8]] = [:]
    /// Input bytes taken so far.
    private(set) var bytesIn: Int64 = 0

    /// - Parameters:
    ///   - output: where members go, in order.
    ///   - level: zlib level 1–9.
    ///   - width: most blocks compressed at once (default: active cores).
    init(
        output: HashingFileWriter, level: Int, width: Int = ProcessInfo.processInfo.activeProcessorCount,
        blockSize: Int = ParallelGzipWriter.defaultBlockSize
    ) {
        self.output = output
        self.level = level
        self.width = max(1, width)
        self.blockSize = max(1 << 12, blockSize)
        pending.reserveCapacity(self.blockSize)
    }

    /// Buffers `count` bytes at `pointer` (synchronous; never compresses).
    func append(_ pointer: UnsafeRawPointer, count: Int) {
        var offset = 0
        while offset < count {
            let n = min(blockSize - pending.count, count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: pointer + offset, count: n))
            offset += n
            if pending.count == blockSize {
                full.append(pending)
                pending = []
                pending.reserveCapacity(blockSize)
            }
        }
        bytesIn += Int64(count)
    }

    /// Starts compressing every full block, waiting for (and writing) finished members whenever
    /// `width` are in flight.
    /// - Throws: what compression or the output writer throws.
    func flush(group: inout Group) async throws {
        guard !full.isEmpty else { return }
        let blocks = full
        full = []
        for block in blocks { try await submit(block, group: &group) }
    }

    /// Compresses what is left (an empty stream still gets one member) and writes every member.
    func finish(group: inout Group) async throws {
        try await flush(group: &group)
        if !pending.isEmpty || submitted == 0 {
            let last = pending
            pending = []
            try await submit(last, group: &group)
        }
        while inFlight > 0 { try await collect(group: &group) }
    }

    private func submit(_ block: [UInt8], group: inout Group) async throws {
        while inFlight >= width { try await collect(group: &group) }
        let index = submitted
        let level = self.level
        // Compression is long CPU work: a thread of its own, so the cooperative threads stay free.
        group.addTask { (index, try await BlockingWork.run { try GzipMember.compress(block, level: level) }) }
        submitted += 1
        inFlight += 1
    }

    private func collect(group: inout Group) async throws {
        guard let (index, member) = try await group.next() else { return }
        inFlight -= 1
        done[index] = member
        while let next = done.removeValue(forKey: written) {
            try next.withUnsafeBytes { try output.write($0) }
            written += 1
        }
    }
}
