import Foundation

/// Makes written files reach the disk before anything declares them complete: a backup set is
/// renamed into place (and a history event says "complete") only after every file and folder in
/// it is on stable storage, so a crash or power loss right after a backup cannot leave a set that
/// looks complete but has missing or zero-filled artifacts (POSIX `fsync(2)`; on Linux a folder's
/// entries are made durable by `fsync` on the folder itself).
///
/// To keep the final wait short, writers call ``startWriteback(_:)`` when a file is finished: on
/// Linux that starts the disk writes at once (`sync_file_range(2)` with `SYNC_FILE_RANGE_WRITE`,
/// which does not wait), so by the time ``syncTree(_:)`` runs most bytes are already written.
public enum Durability {
    /// Starts writing the dirty pages of `fd` to disk without waiting for them. Linux only (a
    /// no-op elsewhere and when the call is unavailable); never an error, because the later
    /// `fsync` is what guarantees durability.
    public static func startWriteback(_ fd: Int32) {
        #if os(Linux)
            // SYNC_FILE_RANGE_WRITE = 2 (linux/fs.h); offset 0 and length 0 mean the whole file.
            _ = syncFileRange?(fd, 0, 0, 2)
        #endif
    }

    /// Starts the writeback of the file at `path` (see ``startWriteback(_:)``).
    public static func startWriteback(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        startWriteback(fd)
        close(fd)
    }

    /// `fsync`s every regular file and folder under `folder` (links are not followed), then
    /// `folder` itself, spreading the calls over a few threads (each waits on the disk, not the CPU).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the first file or folder that could
    ///   not be opened or synced (e.g. an I/O error on the destination drive).
    public static func syncTree(_ folder: String) async throws {
        let paths = syncOrder(folder)
        let failures = await BlockingWork.map(paths, width: 4, takesSlot: false) { path -> (any Error)? in
            do {
                try sync(path)
                return nil
            } catch {
                return error
            }
        }
        if let first = failures.compactMap({ $0 }).first { throw first }
    }

    /// `fsync`s one file or folder.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be opened or synced.
    public static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw RestoreDrillError.io(
                path: path, message: "cannot be synced to disk: \(String(cString: strerror(errno)))")
        }
    }

    /// Every regular file under `folder`, then every folder from the deepest up to `folder`
    /// itself: an entry is made durable before the folder that names it.
    static func syncOrder(_ folder: String) -> [String] {
        var files: [String] = []
        var folders: [String] = []
        collect(folder, files: &files, folders: &folders)
        return files + folders.reversed()
    }

    private static func collect(_ folder: String, files: inout [String], folders: inout [String]) {
        folders.append(folder)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names.sorted() {
            let path = folder + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: collect(path, files: &files, folders: &folders)
            case S_IFREG: files.append(path)
            default: break
            }
        }
    }

    #if os(Linux)
        /// glibc's `sync_file_range(2)`, looked up at run time (Swift's Glibc module does not
        /// declare it); nil when absent.
        private static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
        }()
    #endif
}
