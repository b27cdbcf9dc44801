import Foundation

/// Writes files so that a reader never sees half of one: the bytes go to a temporary name in the
/// same folder, are flushed, then renamed over the target.
public enum AtomicFile {
    /// Writes `data` to `path` atomically.
    /// - Parameter mode: permission bits of the new file (default 0o644).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder is not writable or the disk is full.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        let folder = PathText.parent(of: path)
        let temp = (folder as NSString).appendingPathComponent(
            ".\(PathText.lastComponent(of: path)).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        do {
            try data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
                    }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else {
                throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
            }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
        }
        ok = true
    }
}
