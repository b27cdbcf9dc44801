import DrillCore
import Foundation

/// A private copy of a set written while `set.artifacts` hashes it: each artifact's bytes go to
/// the copy as they are read for the hash, so the copy holds exactly the bytes that were verified
/// (one read of the set instead of a hash and a later copy), and nothing else of the set folder:
/// an unlisted file, a link or a FIFO in the set is never copied.
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
        return VerifiedSetCopy(root: root)
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

        /// Appends `block`, the bytes just read (and hashed) at `offset` of the open file
        /// `source`: the kernel copies the same range where it can (``KernelCopy``), else `block`
        /// is written.
        func append(_ block: UnsafeRawBufferPointer, readFrom source: Int32, at offset: Int64) {
            guard failure == nil, descriptor >= 0, let base = block.baseAddress else { return }
            failure = KernelCopy.append(from: source, at: offset, base, count: block.count, to: descriptor)
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
    /// - Parameter executable: the artifact has an execute bit (the copy is made 0500, else 0400).
    func file(_ relative: RelativePath, executable: Bool = false) -> Writer? {
        let components = relative.components
        guard !components.isEmpty else { return nil }
        var folder = root
        for name in components.dropLast() {
            folder = folder.appending(component: name)
            if mkdir(folder.pathString, 0o700) != 0 && errno != EEXIST { return nil }
        }
        let path = folder.appending(component: components[components.count - 1]).pathString
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, executable ? 0o500 : 0o400)
        guard fd >= 0 else { return nil }
        return Writer(path: path, descriptor: fd)
    }

    /// Writes `data` as the file `name` directly in the copy (e.g. `SHA256SUMS`, read whole).
    func write(_ data: Data, as name: String) {
        guard let writer = file(RelativePath.dot.appending(component: name)) else { return }
        data.withUnsafeBytes { writer.write($0) }
        _ = writer.finish()
    }
}
