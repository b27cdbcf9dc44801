import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a file someone else may have put in place: a set folder's event file in a synced
/// destination, what a hostile replay wrote into its sandbox, a cache in a folder another user can
/// reach. One place for the rules every such read follows (issue 11, "every set is hostile until
/// proven"):
/// - opened with `O_NOFOLLOW` (a link in the file's place is refused, never followed to a host
///   file), `O_NONBLOCK` (a FIFO in its place never blocks the reader) and `O_NOCTTY`;
/// - only a regular file is read, judged on the opened descriptor (`fstat`), so nothing can be
///   swapped in between the check and the read;
/// - at most a stated number of bytes is read, so a huge or growing file cannot exhaust memory.
public enum UntrustedFile {
    /// What a read does with a file longer than its limit.
    public enum Overflow: Sendable {
        /// Nil: the file is not what the reader expects (an event file, a head record).
        case refuse
        /// The first `limit` bytes: the reader parses a prefix (a tools record, a list of lines).
        case truncate
    }

    /// More the file must be, beyond a regular file, for a reader that trusts its contents.
    public struct Requirements: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// Owned by the effective user (another user's file is not this user's cache).
        public static let ownedByEffectiveUser = Requirements(rawValue: 1)
        /// Not writable by group or others (mode `& 0o022 == 0`).
        public static let notWritableByOthers = Requirements(rawValue: 2)
    }

    /// The contents of the regular file at `path`.
    /// - Parameters:
    ///   - path: the file's path; a symbolic link as its last component is refused.
    ///   - limit: the most bytes read, in bytes.
    ///   - overflow: what a longer file gives (``Overflow/refuse``: nil; ``Overflow/truncate``: its
    ///     first `limit` bytes).
    ///   - requirements: owner and mode conditions checked on the opened file.
    /// - Returns: the bytes, or nil when the file is missing, unreadable, a link, not a regular
    ///   file, fails `requirements`, or (``Overflow/refuse``) longer than `limit`.
    public static func read(
        _ path: String, limit: Int, overflow: Overflow = .refuse, requirements: Requirements = []
    ) -> Data? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        if requirements.contains(.ownedByEffectiveUser), info.st_uid != geteuid() { return nil }
        if requirements.contains(.notWritableByOthers), (info.st_mode & 0o022) != 0 { return nil }
        if overflow == .refuse, info.st_size > off_t(limit) { return nil }
        return contents(of: fd, limit: limit, overflow: overflow)
    }

    /// The bytes left in the open file `fd`, read to its end: for a reader that must hold the file
    /// open (a lock on it) and has judged it itself.
    /// - Parameters:
    ///   - fd: an open, readable descriptor; not closed here.
    ///   - limit: the most bytes read, in bytes.
    ///   - overflow: as ``read(_:limit:overflow:requirements:)``.
    /// - Returns: the bytes; nil on a read error with ``Overflow/refuse`` or a file longer than
    ///   `limit` with it. With ``Overflow/truncate`` a read error ends the read with the bytes so far.
    public static func contents(of fd: Int32, limit: Int, overflow: Overflow) -> Data? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        // One byte past the limit tells a longer file from one of exactly `limit` bytes.
        let stop = overflow == .refuse ? limit + 1 : limit
        while data.count < stop {
            let n = buffer.withUnsafeMutableBytes { raw in
                systemRead(fd, raw.baseAddress, min(raw.count, stop - data.count))
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return overflow == .refuse ? nil : data }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        if overflow == .refuse, data.count > limit { return nil }
        return data
    }
}

#if canImport(Glibc)
    private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        Glibc.read(fd, buffer, count)
    }
#elseif canImport(Darwin)
    private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        Darwin.read(fd, buffer, count)
    }
#endif
