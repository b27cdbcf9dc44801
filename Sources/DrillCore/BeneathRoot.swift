import CSyscall
import Foundation

/// One folder, opened once, beneath which paths are opened without following a symbolic link at
/// any component: the way the tool, running as root, reads a tree that someone else wrote — the
/// restored tree a hostile restore script may have seeded with links (`home/proj -> /root`, a
/// database that is a link to one outside, a plist that is a link to `/etc/shadow`), FIFOs or
/// devices (issue 11, "Checks that run as root over the restored tree follow links").
///
/// Names reach the system calls as their exact bytes (``FileNameBytes``: NFD stays NFD, a name
/// that is not UTF-8 is carried in its marker form and handed over as the bytes it stands for).
///
/// Every operation takes a ``RelativePath`` beneath ``path`` and either works on what is really
/// there or returns a ``Refusal`` naming the component that stopped it:
/// - the folders on the way are resolved with `openat2(2)` and `RESOLVE_BENEATH |
///   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` (Linux 5.6 and later, in one call:
///   ``Resolution/openat2``), or else one component at a time with `openat(dirfd, component,
///   O_NOFOLLOW | O_DIRECTORY)` (``Resolution/componentWalk``: older kernels, a seccomp filter
///   that refuses `openat2`, macOS). When `openat2` refuses or misses, the component walk is run
///   to name the component and the reason;
/// - the last component is looked at with `fstatat(AT_SYMLINK_NOFOLLOW)` (``entry(_:)``, like
///   `lstat`: a link is reported as a link, never followed) or opened with `openat(O_NOFOLLOW |
///   O_NONBLOCK)` and checked with `fstat` on the descriptor (``openFile(_:)``: a regular file
///   only, so a FIFO cannot block the reader and a device is refused before it is read).
///
/// Sizes, digests and contents then come from the descriptor (``OpenedFile``), so a file swapped
/// for a link after it was looked at is never read through. The folder itself (``path``) is opened
/// with `O_NOFOLLOW`; the folders above it are the caller's to trust (the tool's own sandboxes
/// folder).
///
/// A hard link to a file outside is not a link to a path and is not detected here; Linux refuses
/// to make one to a file the maker cannot write (`fs.protected_hardlinks = 1`, the default).
package final class BeneathRoot: Sendable {
    /// How the folders on a path's way are resolved.
    package enum Resolution: String, Sendable {
        /// One `openat2(2)` call with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`.
        case openat2
        /// `openat(2)` with `O_NOFOLLOW | O_DIRECTORY`, one component at a time.
        case componentWalk
    }

    /// The folder everything is opened beneath.
    package let path: AbsolutePath
    /// How this instance resolves folders: ``Resolution/openat2`` only when it was asked for and
    /// the kernel answers it.
    package let resolution: Resolution
    private let descriptor: Int32

    /// Opens `path` (not following a link at its last component).
    /// - Parameters:
    ///   - path: the folder; its own ancestors are trusted.
    ///   - preferring: ``Resolution/openat2`` (the default) uses `openat2` where the kernel has
    ///     it; ``Resolution/componentWalk`` forces the walk (tests exercise both).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when `path` is not a folder that can be
    ///   opened (missing, a link, a file).
    package init(_ path: AbsolutePath, preferring: Resolution = .openat2) throws {
        let fd = FileNameBytes.withFileSystemRepresentation(path.pathString) {
            open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else {
            throw RestoreDrillError.io(
                path: path.pathString, message: "cannot open the folder without following links: \(errnoText())")
        }
        self.path = path
        descriptor = fd
        resolution = preferring == .openat2 && Self.openat2Answers(fd) ? .openat2 : .componentWalk
    }

    deinit { close(descriptor) }

    // MARK: - What is there

    /// What lies at `relative`, as `lstat(2)` would say but with no link followed on the way.
    /// - Returns: the entry (a link is ``EntryKind/symbolicLink``), or why it cannot be looked at:
    ///   ``Refusal/missing(at:)`` when nothing is there, ``Refusal/symbolicLink(at:)`` or
    ///   ``Refusal/notFolder(at:kind:)`` for a component on the way.
    package func entry(_ relative: RelativePath) -> Result<Entry, Refusal> {
        guard let name = relative.components.last else {
            guard let found = Self.status(of: descriptor) else { return .failure(.failed(at: relative, code: errno)) }
            return .success(found)
        }
        return parentFolder(of: relative).flatMap { $0.entry(name, shownAs: relative) }
    }

    /// The target of the link at `relative` (read with `readlinkat`, not followed).
    /// - Returns: the target text, or a refusal (``Refusal/wrongKind(at:kind:wanted:)`` when it is
    ///   no link).
    package func linkTarget(_ relative: RelativePath) -> Result<String, Refusal> {
        guard let name = relative.components.last else {
            return .failure(.wrongKind(at: relative, kind: .directory, wanted: .symbolicLink))
        }
        return parentFolder(of: relative).flatMap { $0.linkTarget(name, shownAs: relative) }
    }

    /// Opens the regular file at `relative` for reading.
    /// - Returns: the open file, or a refusal: ``Refusal/wrongKind(at:kind:wanted:)`` for a link,
    ///   FIFO, device, socket or folder there, or a refusal of a component on the way.
    package func openFile(_ relative: RelativePath) -> Result<OpenedFile, Refusal> {
        guard let name = relative.components.last else {
            return .failure(.wrongKind(at: relative, kind: .directory, wanted: .file))
        }
        return parentFolder(of: relative).flatMap { $0.openFile(name, shownAs: relative) }
    }

    /// Opens the folder at `relative` (`.` is ``path`` itself).
    package func openFolder(_ relative: RelativePath) -> Result<OpenedFolder, Refusal> {
        guard !relative.climbsAbove else { return .failure(.outside(relative)) }
        if relative == .dot {
            let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else { return .failure(.failed(at: relative, code: errno)) }
            return .success(OpenedFolder(descriptor: copy, relative: relative, root: path))
        }
        if resolution == .openat2 {
            let (fd, _) = Self.openat2(beneath: descriptor, relative.pathString, flags: O_RDONLY | O_DIRECTORY)
            if fd >= 0 { return .success(OpenedFolder(descriptor: fd, relative: relative, root: path)) }
            // Refused (a link, a file on the way) or missing: the walk names the component and why.
        }
        return walk(to: relative)
    }

    /// The names in the folder at `relative` (without `.` and `..`), unsorted.
    package func names(in relative: RelativePath) -> Result<[String], Refusal> {
        openFolder(relative).flatMap { $0.names() }
    }

    /// Makes a new folder `<prefix><random>` (mode 0700, this process's owner) directly in ``path``
    /// and opens it; nothing that was there is reused, so a link or folder planted under a guessed
    /// name is never written through.
    /// - Returns: the open folder and its name.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when no folder can be made.
    package func makePrivateFolder(prefix: String) throws -> (folder: OpenedFolder, name: String) {
        for _ in 0..<16 {
            let name = prefix + String(UInt64.random(in: 0...UInt64.max), radix: 36)
            guard mkdirat(descriptor, name, 0o700) == 0 else {
                if errno == EEXIST { continue }
                throw RestoreDrillError.io(path: path.appending(component: name).pathString, message: errnoText())
            }
            switch openFolder(RelativePath.dot.appending(component: name)) {
            case .success(let folder):
                fchmod(folder.descriptor, 0o700)
                return (folder, name)
            case .failure(let refusal):
                throw RestoreDrillError.io(path: path.appending(component: name).pathString, message: "\(refusal)")
            }
        }
        throw RestoreDrillError.io(path: path.pathString, message: "no unused name for a private folder")
    }

    /// Removes the empty folder `name` directly in ``path`` (`unlinkat(AT_REMOVEDIR)`: a link or a
    /// file of that name is left, and so is a folder that is not empty).
    /// - Returns: whether it was removed.
    @discardableResult
    package func removeEmptyFolder(named name: String) -> Bool {
        unlinkat(descriptor, name, AT_REMOVEDIR) == 0
    }

    // MARK: - Resolution

    /// `openat2(folder, path, {flags | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
    /// RESOLVE_NO_MAGICLINKS})`: the one call ``Resolution/openat2`` makes.
    /// - Returns: the new descriptor (the caller closes it) and 0, or -1 and the `errno`: `ELOOP`
    ///   for a link at any component, `EXDEV` for a path that leaves `folder` (absolute, `..`),
    ///   `ENOENT`, `ENOTDIR`; `ENOSYS` outside Linux and before Linux 5.6.
    package static func openat2(beneath folder: Int32, _ path: String, flags: Int32) -> (
        descriptor: Int32, error: Int32
    ) {
        #if os(Linux)
            let resolve = RD_RESOLVE_BENEATH | RD_RESOLVE_NO_SYMLINKS | RD_RESOLVE_NO_MAGICLINKS
            let fd = FileNameBytes.withFileSystemRepresentation(path) {
                rd_openat2(folder, $0, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), 0, resolve)
            }
            return fd >= 0 ? (fd, 0) : (-1, errno)
        #else
            return (-1, ENOSYS)
        #endif
    }

    /// Whether `openat2` works here: ENOSYS before Linux 5.6, EPERM (or another error) under a
    /// seccomp filter that does not know it; always false outside Linux.
    static func openat2Answers(_ folder: Int32) -> Bool {
        let (fd, _) = openat2(beneath: folder, ".", flags: O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// The folder holding the last component of `relative`.
    private func parentFolder(of relative: RelativePath) -> Result<OpenedFolder, Refusal> {
        guard !relative.climbsAbove else { return .failure(.outside(relative)) }
        let parts = relative.components
        var parent = RelativePath.dot
        for part in parts.dropLast() { parent = parent.appending(component: part) }
        return openFolder(parent)
    }

    /// Opens `relative`'s folders one by one with `O_NOFOLLOW | O_DIRECTORY`.
    private func walk(to relative: RelativePath) -> Result<OpenedFolder, Refusal> {
        var current = OpenedFolder(descriptor: fcntl(descriptor, F_DUPFD_CLOEXEC, 0), relative: .dot, root: path)
        guard current.descriptor >= 0 else { return .failure(.failed(at: .dot, code: errno)) }
        for part in relative.components {
            switch current.openFolder(part) {
            case .success(let next): current = next
            case .failure(let refusal): return .failure(refusal)
            }
        }
        return .success(current)
    }

    /// `fstat` of a descriptor; nil with `errno` set when it fails.
    static func status(of fd: Int32) -> Entry? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return Entry(info)
    }
}

extension BeneathRoot {
    /// What kind of thing a directory entry is (`st_mode & S_IFMT`).
    package enum EntryKind: String, Sendable, Equatable {
        case file = "regular file"
        case directory = "folder"
        case symbolicLink = "symbolic link"
        case fifo = "FIFO"
        case characterDevice = "character device"
        case blockDevice = "block device"
        case socket
        case unknown = "file of unknown type"

        /// The kind `mode` (`st_mode`, as `stat`/`lstat` give it) says.
        package init(mode: mode_t) {
            switch mode & S_IFMT {
            case S_IFREG: self = .file
            case S_IFDIR: self = .directory
            case S_IFLNK: self = .symbolicLink
            case S_IFIFO: self = .fifo
            case S_IFCHR: self = .characterDevice
            case S_IFBLK: self = .blockDevice
            case S_IFSOCK: self = .socket
            default: self = .unknown
            }
        }
    }

    /// The facts of one entry, as `fstat`/`fstatat` give them.
    package struct Entry: Sendable, Equatable {
        package var kind: EntryKind
        /// Bytes (`st_size`; for a link, the length of its target).
        package var size: Int64
        /// Permission bits with setuid, setgid and sticky (`st_mode & 0o7777`).
        package var mode: Int
        /// The owner's uid.
        package var owner: UInt32
        /// Device and inode: the identity of the file.
        package var device: UInt64
        package var inode: UInt64
        /// Hard links to it (`st_nlink`).
        package var links: UInt64
        /// Its last modification, whole seconds since 1970-01-01 UTC (`st_mtime`; for a link, the
        /// link's own).
        package var modifiedSeconds: Int64

        init(_ info: stat) {
            kind = EntryKind(mode: info.st_mode)
            size = Int64(info.st_size)
            mode = Int(info.st_mode & 0o7777)
            owner = UInt32(info.st_uid)
            device = UInt64(truncatingIfNeeded: info.st_dev)
            inode = UInt64(truncatingIfNeeded: info.st_ino)
            links = UInt64(truncatingIfNeeded: info.st_nlink)
            #if canImport(Darwin)
                modifiedSeconds = Int64(info.st_mtimespec.tv_sec)
            #else
                modifiedSeconds = Int64(info.st_mtim.tv_sec)
            #endif
        }
    }

    /// Why a path beneath the folder was not opened or looked at. Each case names the component
    /// (relative to ``BeneathRoot/path``) where it stopped, which is the path asked for or one of
    /// the folders on its way.
    package enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        /// Nothing is at `at`.
        case missing(at: RelativePath)
        /// `at` is a symbolic link, which is never followed.
        case symbolicLink(at: RelativePath)
        /// `at`, a folder on the way, is something else (`kind`).
        case notFolder(at: RelativePath, kind: EntryKind)
        /// `at`, the path asked for, is a `kind`, not the `wanted` kind.
        case wrongKind(at: RelativePath, kind: EntryKind, wanted: EntryKind)
        /// The path climbs above the folder (`..`): nothing is looked at.
        case outside(RelativePath)
        /// The system refused with `errno` `code`.
        case failed(at: RelativePath, code: Int32)

        /// The component where resolution stopped.
        package var at: RelativePath {
            switch self {
            case .missing(let at), .symbolicLink(let at), .notFolder(let at, _), .wrongKind(let at, _, _),
                .outside(let at), .failed(let at, _):
                at
            }
        }

        /// Why, without the path: `is a symbolic link, not followed`, `is a FIFO, not a regular
        /// file`, `is missing`, …
        package var reason: String {
            switch self {
            case .missing: "is missing"
            case .symbolicLink: "is a symbolic link, not followed"
            case .notFolder(_, let kind): "is a \(kind.rawValue), not a folder"
            case .wrongKind(_, let kind, let wanted):
                kind == .symbolicLink
                    ? "is a symbolic link, not followed" : "is a \(kind.rawValue), not a \(wanted.rawValue)"
            case .outside: "climbs above the folder, not looked at"
            case .failed(_, let code): "cannot be opened: \(String(cString: strerror(code)))"
            }
        }

        /// Whether a link (at the path or on its way) stopped it.
        package var isLink: Bool {
            switch self {
            case .symbolicLink: true
            case .wrongKind(_, let kind, _): kind == .symbolicLink
            default: false
            }
        }

        /// `<component> <reason>`, e.g. `home/proj is a symbolic link, not followed`.
        package var description: String { "\(at) \(reason)" }
    }
}

/// A folder beneath a ``BeneathRoot``, open; its descriptor is closed when the value goes.
package final class OpenedFolder {
    /// The open descriptor (`O_DIRECTORY`), owned by this value.
    package let descriptor: Int32
    /// Where it is, relative to the root folder.
    package let relative: RelativePath
    /// The root folder's path (for messages).
    package let root: AbsolutePath

    init(descriptor: Int32, relative: RelativePath, root: AbsolutePath) {
        self.descriptor = descriptor
        self.relative = relative
        self.root = root
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The names in this folder (without `.` and `..`), unsorted; read from a duplicate of the
    /// descriptor with `fdopendir`. Each name is its exact bytes (``FileNameBytes/string(_:)``:
    /// a name that is not UTF-8 in the marker form), so compare them byte for byte.
    package func names() -> Result<[String], BeneathRoot.Refusal> {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0, let stream = fdopendir(copy) else {
            let code = errno
            if copy >= 0 { close(copy) }
            return .failure(.failed(at: relative, code: code))
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var out: [String] = []
        while let item = readdir(stream) {
            let name = withUnsafePointer(to: &item.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: item.pointee.d_name)) {
                    FileNameBytes.string(cString: $0)
                }
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return .success(out)
    }

    /// What `name` in this folder is (`fstatat` with `AT_SYMLINK_NOFOLLOW`).
    package func entry(_ name: String) -> Result<BeneathRoot.Entry, BeneathRoot.Refusal> {
        entry(name, shownAs: relative.appending(component: name))
    }

    func entry(_ name: String, shownAs shown: RelativePath) -> Result<BeneathRoot.Entry, BeneathRoot.Refusal> {
        var info = stat()
        let status = FileNameBytes.withFileSystemRepresentation(name) {
            fstatat(descriptor, $0, &info, AT_SYMLINK_NOFOLLOW)
        }
        guard status == 0 else {
            return .failure(errno == ENOENT ? .missing(at: shown) : .failed(at: shown, code: errno))
        }
        return .success(BeneathRoot.Entry(info))
    }

    /// Opens the folder `name` in this folder with `O_NOFOLLOW | O_DIRECTORY`.
    package func openFolder(_ name: String) -> Result<OpenedFolder, BeneathRoot.Refusal> {
        let shown = relative.appending(component: name)
        let fd = FileNameBytes.withFileSystemRepresentation(name) {
            openat(descriptor, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else { return .failure(diagnose(name, shown: shown, wanted: .directory, code: errno)) }
        return .success(OpenedFolder(descriptor: fd, relative: shown, root: root))
    }

    /// Opens the regular file `name` in this folder: `fstatat` first (no link, FIFO or device is
    /// opened at all), then `openat(O_NOFOLLOW | O_NONBLOCK)` and `fstat` on the descriptor (what
    /// was opened is a regular file even if the name was swapped in between).
    package func openFile(_ name: String) -> Result<OpenedFile, BeneathRoot.Refusal> {
        openFile(name, shownAs: relative.appending(component: name))
    }

    func openFile(_ name: String, shownAs shown: RelativePath) -> Result<OpenedFile, BeneathRoot.Refusal> {
        switch entry(name, shownAs: shown) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let found) where found.kind != .file:
            return .failure(.wrongKind(at: shown, kind: found.kind, wanted: .file))
        case .success: break
        }
        let fd = FileNameBytes.withFileSystemRepresentation(name) {
            openat(descriptor, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        }
        guard fd >= 0 else { return .failure(diagnose(name, shown: shown, wanted: .file, code: errno)) }
        switch BeneathRoot.status(of: fd) {
        case nil:
            let code = errno
            close(fd)
            return .failure(.failed(at: shown, code: code))
        case let opened? where opened.kind != .file:
            close(fd)
            return .failure(.wrongKind(at: shown, kind: opened.kind, wanted: .file))
        case let opened?:
            // Regular files never block; clear O_NONBLOCK so reads behave as usual.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            return .success(
                OpenedFile(descriptor: fd, entry: opened, relative: shown, path: root.appending(shown)))
        }
    }

    /// The target of the link `name` in this folder (`readlinkat`).
    func linkTarget(_ name: String, shownAs shown: RelativePath) -> Result<String, BeneathRoot.Refusal> {
        switch entry(name, shownAs: shown) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let found) where found.kind != .symbolicLink:
            return .failure(.wrongKind(at: shown, kind: found.kind, wanted: .symbolicLink))
        case .success: break
        }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = FileNameBytes.withFileSystemRepresentation(name) {
            readlinkat(descriptor, $0, &buffer, buffer.count - 1)
        }
        guard n >= 0 else { return .failure(.failed(at: shown, code: errno)) }
        return .success(FileNameBytes.string(buffer[0..<n].map { UInt8(bitPattern: $0) }))
    }

    /// Why `openat` of `name` failed with `code`, from what `fstatat` finds there.
    private func diagnose(_ name: String, shown: RelativePath, wanted: BeneathRoot.EntryKind, code: Int32)
        -> BeneathRoot.Refusal
    {
        switch entry(name, shownAs: shown) {
        case .failure(let refusal): return refusal
        case .success(let found) where found.kind == .symbolicLink: return .symbolicLink(at: shown)
        case .success(let found) where found.kind != wanted:
            return wanted == .directory
                ? .notFolder(at: shown, kind: found.kind) : .wrongKind(at: shown, kind: found.kind, wanted: wanted)
        case .success: return .failed(at: shown, code: code)
        }
    }
}

/// A regular file beneath a ``BeneathRoot``, open for reading; everything about it comes from the
/// descriptor, which is closed when the value goes.
package final class OpenedFile {
    /// The open descriptor, owned by this value.
    package let descriptor: Int32
    /// `fstat` of the descriptor when it was opened (kind ``BeneathRoot/EntryKind/file``).
    package let entry: BeneathRoot.Entry
    /// Where it is, relative to the root folder.
    package let relative: RelativePath
    /// Its absolute path, for messages only (never opened by path).
    package let path: AbsolutePath

    init(descriptor: Int32, entry: BeneathRoot.Entry, relative: RelativePath, path: AbsolutePath) {
        self.descriptor = descriptor
        self.entry = entry
        self.relative = relative
        self.path = path
    }

    deinit { close(descriptor) }

    /// Calls `body` with each block (up to ``FileBlocks/blockSize`` bytes) from the current
    /// offset to the end.
    /// - Returns: the bytes read.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a read error, or what `body` throws.
    @discardableResult
    package func forEachBlock(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: FileBlocks.blockSize, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = read(descriptor, buffer.baseAddress, FileBlocks.blockSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw RestoreDrillError.io(path: path.pathString, message: errnoText())
            }
            if n == 0 { return total }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
    }

    /// The whole content, refused past `limit` bytes.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a read error or past `limit`.
    package func readAll(limit: Int) throws -> Data {
        var data = Data()
        try forEachBlock { block in
            guard data.count + block.count <= limit else {
                throw RestoreDrillError.io(path: path.pathString, message: "larger than \(limit) bytes")
            }
            data.append(contentsOf: block)
        }
        return data
    }

    /// Links the opened file itself (its inode, never a path that could have changed) as a new
    /// name `name` in `folder`, which should be private: no byte is copied. Linux only, and only
    /// for a process that may `linkat(2)` with `AT_EMPTY_PATH` (root, `CAP_DAC_READ_SEARCH`), on
    /// the same file system.
    /// - Returns: false when the link cannot be made here (the caller copies instead).
    package func link(into folder: OpenedFolder, name: String) -> Bool {
        #if os(Linux)
            // AT_EMPTY_PATH (linux/fcntl.h: 0x1000, every architecture); Glibc's module omits it.
            let atEmptyPath: Int32 = 0x1000
            return linkat(descriptor, "", folder.descriptor, name, atEmptyPath) == 0
        #else
            return false
        #endif
    }

    /// Copies the content into a new file `name` (mode 0600, `O_EXCL`, not following a link) in
    /// `folder`, which should be private (``BeneathRoot/makePrivateFolder(prefix:)``).
    /// - Returns: the bytes copied.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the copy cannot be made or written
    ///   (it is then removed).
    @discardableResult
    package func copy(into folder: OpenedFolder, name: String) throws -> Int64 {
        let target = folder.root.appending(folder.relative).appending(component: name).pathString
        let out = openat(folder.descriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw RestoreDrillError.io(path: target, message: errnoText()) }
        defer { close(out) }
        do {
            return try forEachBlock { block in
                var done = 0
                while done < block.count {
                    let n = write(out, block.baseAddress! + done, block.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw RestoreDrillError.io(path: target, message: errnoText())
                    }
                    done += n
                }
            }
        } catch {
            unlinkat(folder.descriptor, name, 0)
            throw error
        }
    }
}

/// `strerror(errno)`.
private func errnoText() -> String { String(cString: strerror(errno)) }
