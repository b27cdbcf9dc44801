import DrillCore
import Foundation
import Sandbox

/// A private copy of a set made by `set.artifacts` itself: each artifact is copied by the kernel
/// (`copy_file_range`, ``KernelCopy``) from the descriptor the check opened without following
/// links, into a file only root (or the tool's user) can write, and the check hashes the copy's
/// bytes (``Writer/copyHashing(from:limit:into:)``): the copy holds exactly the bytes verified,
/// even if the set's file changes meanwhile (one kernel copy and one read, instead of a hash and a
/// later copy), and nothing else of the set folder: an unlisted file, a link or a FIFO in the set
/// is never copied.
///
/// The drill makes one when the replay would otherwise copy the set itself (the tool runs as root
/// and replays as an unprivileged uid that cannot read the private set, or a vault password may be
/// handed, issue 11): at `<sandbox>/set/<set folder name>` (``ReplayRequest/verifiedCopyFolder``),
/// where the replayer finds it, gives its group read access, replays from it and removes it after
/// the replay. Folders are made 0700 and files 0400, root's (or the tool user's), until then.
///
/// Safe to use from several threads at once: each artifact is its own file, and folders are made
/// with `mkdir`, which tolerates a folder another thread made first.
struct VerifiedSetCopy: Sendable {
    /// The copy's top folder (`<sandbox>/set/<set folder name>`).
    let root: AbsolutePath
    /// What may still be copied, bytes: the sandbox file system's free space when the copy was
    /// made, less ``reserve``. Each artifact reserves its recorded size before it is copied; an
    /// artifact past the budget is not copied (its check is an error). A forged manifest that
    /// records terabytes cannot fill the disk.
    let budget: Budget
    /// What the copy leaves free on the sandbox's file system: 1 GiB or 5 % of it, the larger.
    static func reserve(totalBytes: Int64) -> Int64 { max(1 << 30, totalBytes / 20) }

    /// The bytes left to copy, shared by the threads that copy.
    final class Budget: @unchecked Sendable {
        private let lock = NSLock()
        private var left: Int64

        init(_ bytes: Int64) { left = bytes }

        /// Takes `bytes` (plus one, the byte past a recorded size) from what is left; false when
        /// there is not that much.
        func take(_ bytes: Int64) -> Bool {
            lock.withLock {
                let want = bytes.addingReportingOverflow(1)
                guard !want.overflow, want.partialValue <= left else { return false }
                left -= want.partialValue
                return true
            }
        }
    }

    /// Why an artifact was not copied.
    struct NotCopied: Error {
        var message: String
    }

    /// Makes `<sandbox folder>/set/<set name>` (the parent 0711, the copy 0700).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when a folder cannot be made (one already
    ///   there is refused: a sandbox is new for each drill).
    static func make(in sandbox: AbsolutePath, setName: String) throws -> VerifiedSetCopy {
        let parent = sandbox.appending(component: ReplayRequest.verifiedCopyFolder)
        let root = parent.appending(component: setName)
        for (folder, mode) in [(parent, mode_t(0o711)), (root, mode_t(0o700))] {
            guard mkdir(folder.pathString, mode) == 0 else {
                throw RestoreDrillError.io(
                    path: folder.pathString, message: "cannot create: \(String(cString: strerror(errno)))")
            }
            chmod(folder.pathString, mode)
        }
        guard let space = FileSystemSpace.of(root.pathString) else {
            throw RestoreDrillError.io(path: root.pathString, message: "statvfs: \(String(cString: strerror(errno)))")
        }
        return VerifiedSetCopy(
            root: root, budget: Budget(max(0, space.available - reserve(totalBytes: space.total))))
    }

    /// Removes the copy's folder (`<sandbox>/set`) and all in it (``FileSystem/removeTree(_:)``:
    /// folders made writable first, links removed, never followed). Nothing when it is gone.
    func remove() {
        _ = FileSystem.removeTree(root.parentDirectory)
    }

    /// One file of the copy being written.
    final class Writer {
        let path: String
        private var descriptor: Int32
        /// The first write error, if any; later blocks are dropped.
        private(set) var failure: String?

        fileprivate init(path: String, descriptor: Int32) {
            self.path = path
            self.descriptor = descriptor
        }

        /// Copies `source` from its current offset to its end, at most `limit` bytes, and feeds
        /// `hasher` the copy's bytes: block by block, the kernel copies a block
        /// (`copy_file_range`, ``KernelCopy``) and the block is read back from the copy while it
        /// is still in the CPU's cache; where the kernel cannot copy, the block read from the
        /// source is written and hashed from the same buffer. Either way what is hashed is what
        /// the copy holds.
        /// - Returns: the bytes copied, nil after a failure (``failure`` says which).
        func copyHashing(from source: Int32, limit: Int64, into hasher: SHA256Hasher) -> Int64? {
            guard failure == nil, descriptor >= 0 else { return nil }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileBlocks.blockSize, alignment: 16)
            defer { buffer.deallocate() }
            var done: Int64 = 0
            var kernel = KernelCopy.copyFileRange != nil
            func fail(_ text: String) -> Int64? {
                failure = text
                return nil
            }
            while done < limit {
                let want = Int(min(Int64(FileBlocks.blockSize), limit - done))
                if kernel, let kernelCopy = KernelCopy.copyFileRange {
                    let n = kernelCopy(source, nil, descriptor, nil, want, 0)
                    if n == 0 { return done }
                    if n < 0 {
                        if errno == EINTR { continue }
                        guard done == 0, [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP].contains(errno) else {
                            return fail(String(cString: strerror(errno)))
                        }
                        kernel = false
                        continue
                    }
                    var got = 0
                    while got < n {
                        let r = pread(descriptor, buffer.baseAddress! + got, n - got, off_t(done) + off_t(got))
                        if r < 0 && errno == EINTR { continue }
                        guard r > 0 else { return fail(r < 0 ? String(cString: strerror(errno)) : "copy shrank") }
                        got += r
                    }
                    hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                    done += Int64(n)
                    continue
                }
                let n = read(source, buffer.baseAddress, want)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return fail(String(cString: strerror(errno))) }
                if n == 0 { return done }
                if let problem = KernelCopy.append(from: -1, at: 0, buffer.baseAddress!, count: n, to: descriptor) {
                    return fail(problem)
                }
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                done += Int64(n)
            }
            return done
        }

        /// Appends `block` (bytes that came from no file).
        func write(_ block: UnsafeRawBufferPointer) {
            guard failure == nil, descriptor >= 0, let base = block.baseAddress else { return }
            failure = KernelCopy.append(from: -1, at: 0, base, count: block.count, to: descriptor)
        }

        /// Closes the file; returns the first error, or nil when every byte was written.
        func finish() -> String? {
            if descriptor >= 0 {
                if close(descriptor) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
                descriptor = -1
            }
            return failure
        }

        deinit { _ = finish() }
    }

    /// Opens a new file for the artifact at `relative` (a plain relative path the check validated),
    /// making its folders; nil when it cannot be made (the replay then misses that artifact, and
    /// the script's own check and the drill's tree checks say so).
    /// - Parameters:
    ///   - executable: the artifact has an execute bit (the copy is made 0500, else 0400).
    ///   - reserving: the bytes it will take (its recorded size), taken from ``budget``.
    ///   - base: the folder `relative` is in: the copy (``root``) unless given.
    /// - Returns: the new file, or why it could not be made (over the budget, or the folder or
    ///   file could not be created: e.g. a name listed twice).
    func file(
        _ relative: RelativePath, executable: Bool = false, reserving bytes: Int64, in base: AbsolutePath? = nil
    ) -> Result<Writer, NotCopied> {
        let components = relative.components
        guard !components.isEmpty else { return .failure(NotCopied(message: "no name")) }
        guard budget.take(bytes) else {
            return .failure(
                NotCopied(message: "the sandbox's file system has no room for \(bytes) more bytes (it keeps a reserve)")
            )
        }
        var folder = base ?? root
        for name in components.dropLast() {
            folder = folder.appending(component: name)
            if mkdir(folder.pathString, 0o700) != 0 && errno != EEXIST {
                return .failure(NotCopied(message: "cannot create \(folder): \(String(cString: strerror(errno)))"))
            }
        }
        let path = folder.appending(component: components[components.count - 1]).pathString
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, executable ? 0o500 : 0o400)
        guard fd >= 0 else {
            return .failure(NotCopied(message: "cannot create \(path): \(String(cString: strerror(errno)))"))
        }
        return .success(Writer(path: path, descriptor: fd))
    }

    /// Opens a new file for the object `digest` (format 2) at
    /// `<sandbox>/set/objects/<ab>/<sha256>`: beside the copy of the set folder, where the restore
    /// script's default `--objects` (`<set>/../objects`) finds it, the layout `export` writes. Each
    /// distinct object is written once (a second open of one fails: `O_EXCL`).
    /// - Parameter reserving: the object's recorded size, bytes, taken from ``budget``.
    /// - Returns: the new file, or why it could not be made.
    func objectFile(_ digest: ObjectDigest, reserving bytes: Int64) -> Result<Writer, NotCopied> {
        file(Self.objectPath(digest), reserving: bytes, in: root.parentDirectory)
    }

    /// `objects/<ab>/<sha256>`, relative to the copy's parent (`<sandbox>/set`).
    static func objectPath(_ digest: ObjectDigest) -> RelativePath {
        RelativePath.dot.appending(component: Manifest.objectsFolderName).appending(component: digest.fanOut)
            .appending(component: digest.hex)
    }

    /// Writes `data` as the file `name` directly in the copy (e.g. `SHA256SUMS`, read whole).
    /// - Returns: nil when written, else why not.
    func write(_ data: Data, as name: String) -> String? {
        switch file(RelativePath.dot.appending(component: name), reserving: Int64(data.count)) {
        case .failure(let problem): return problem.message
        case .success(let writer):
            data.withUnsafeBytes { writer.write($0) }
            if let failure = writer.finish() {
                unlink(writer.path)
                return failure
            }
            return nil
        }
    }
}
