import DrillCore
import Foundation

/// One path found under a walked folder, described by `lstat` (links are never followed).
struct WalkEntry: Sendable {
    /// Relative to the walked folder, `/`-separated, no leading `./`: the exact bytes of the names
    /// (``FileNameBytes``: NFD stays NFD; a name that is not UTF-8 is in the marker form).
    var relative: String
    var absolute: AbsolutePath
    var type: FileType
    /// All of `st_mode & 0o7777` (the caller decides what to keep).
    var mode: Int
    /// Bytes, for regular files; 0 otherwise.
    var size: Int64
    var mtimeSeconds: Int
    var mtimeNanoseconds: Int
    /// For symlinks, the target as stored.
    var linkTarget: String?
    /// True when `code.exclude` removes this path (or a folder above it) from the archive.
    var excludedFromCode: Bool
    /// The change time (`st_ctim`), inode and device, for format 2's files cache (``ObjectReuseCache``).
    var ctimeSeconds = 0
    var ctimeNanoseconds = 0
    var inode: UInt64 = 0
    var device: UInt64 = 0
}

/// A depth-first walk of one folder with names in byte order (never Unicode order: an NFC name
/// and its NFD twin are two entries in a fixed order, the NFD one first since `e` < `\xc3`).
///
/// Names are the bytes `readdir` gives, kept exactly (``FileNameBytes``); a name that is not UTF-8
/// is an entry like any other (issue 12), and every system call gets the bytes back.
///
/// `skip` removes a path and everything under it (the destination, credentials); `exclude`
/// marks a path (and everything under it) as excluded from the code archive; an excluded folder is
/// only entered when `enterExcluded` says something below it is still wanted (a database glob).
/// Paths that cannot be read are collected in ``problems`` instead of stopping the walk; other
/// file types (sockets, fifos, devices) in ``ignored``.
struct WorkspaceWalk {
    /// The modification and change times of `st` as (seconds, nanoseconds), on Linux and macOS
    /// alike (the walk's entries and the files cache's database signatures read them).
    static func times(_ st: stat) -> (mtime: (Int, Int), ctime: (Int, Int)) {
        #if os(Linux)
            ((Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)), (Int(st.st_ctim.tv_sec), Int(st.st_ctim.tv_nsec)))
        #else
            (
                (Int(st.st_mtimespec.tv_sec), Int(st.st_mtimespec.tv_nsec)),
                (Int(st.st_ctimespec.tv_sec), Int(st.st_ctimespec.tv_nsec))
            )
        #endif
    }

    var skip: (AbsolutePath) -> Bool = { _ in false }
    var exclude: (_ relative: String, _ name: String) -> Bool = { _, _ in false }
    var enterExcluded: (_ relative: String) -> Bool = { _ in false }

    private(set) var entries: [WalkEntry] = []
    /// `path: reason` for every path that could not be read.
    private(set) var problems: [String] = []
    /// Relative paths of entries that are neither files, folders nor links.
    private(set) var ignored: [String] = []
    /// Relative paths listed in a folder but gone (`ENOENT`, `ENOTDIR`) when the walk looked at
    /// them: deleted or moved in between. Not a problem (``ComponentRecord/vanished``).
    private(set) var vanished: [String] = []

    /// Walks `base`; the base itself is not an entry.
    mutating func run(base: AbsolutePath) {
        walk(folder: base, relative: "", excluded: false)
    }

    /// Walks one folder.
    /// - Returns: false when the folder was gone (recorded in ``vanished`` unless excluded).
    @discardableResult
    private mutating func walk(folder: AbsolutePath, relative: String, excluded: Bool) -> Bool {
        guard let dir = FileNameBytes.withFileSystemRepresentation(folder.pathString, { opendir($0) }) else {
            if !relative.isEmpty, Self.isVanished(errno) {
                if !excluded { vanished.append(relative) }
                return false
            }
            problems.append("\(Self.shown(folder)): \(String(cString: strerror(errno)))")
            return true
        }
        var names: [String] = []
        while let item = readdir(dir) {
            let bytes = withUnsafePointer(to: &item.pointee.d_name) {
                Array(
                    UnsafeRawBufferPointer(
                        start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))))
            }
            // Exactly the bytes on disk; a name that is not UTF-8 in the marker form.
            let name = FileNameBytes.string(bytes)
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        names.sort(by: FileNameBytes.precedes)
        for name in names {
            // A name from readdir: one component, never empty, `.`, `..`, or holding `/` or NUL.
            let abs = folder.appending(component: name)
            let rel = relative.isEmpty ? name : "\(relative)/\(name)"
            if skip(abs) { continue }
            let isExcluded = excluded || exclude(rel, name)
            var st = stat()
            guard FileNameBytes.withFileSystemRepresentation(abs.pathString, { lstat($0, &st) }) == 0 else {
                if Self.isVanished(errno) {
                    if !isExcluded { vanished.append(rel) }
                } else {
                    problems.append("\(Self.shown(abs)): \(String(cString: strerror(errno)))")
                }
                continue
            }
            let (mtime, ctime) = Self.times(st)
            var entry = WalkEntry(
                relative: rel, absolute: abs, type: .file, mode: Int(st.st_mode) & 0o7777, size: 0,
                mtimeSeconds: mtime.0, mtimeNanoseconds: mtime.1, linkTarget: nil, excludedFromCode: isExcluded,
                ctimeSeconds: ctime.0, ctimeNanoseconds: ctime.1, inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                entry.size = Int64(st.st_size)
                entries.append(entry)
            case S_IFLNK:
                entry.type = .symlink
                guard let target = Self.readLink(abs.pathString) else {
                    if Self.isVanished(errno) {
                        if !isExcluded { vanished.append(rel) }
                    } else {
                        problems.append("\(Self.shown(abs)): cannot read link: \(String(cString: strerror(errno)))")
                    }
                    continue
                }
                entry.linkTarget = target
                entries.append(entry)
            case S_IFDIR:
                entry.type = .directory
                let index = entries.count
                entries.append(entry)
                if !isExcluded || enterExcluded(rel), !walk(folder: abs, relative: rel, excluded: isExcluded) {
                    entries.remove(at: index)  // gone before it could be listed: not a member
                }
            default:
                ignored.append(rel)
            }
        }
        return true
    }

    /// True for the `errno` of a path that is no longer there: `ENOENT` (removed), `ENOTDIR` (a
    /// folder on its way was replaced by a file), `EINVAL` from readlink (replaced by a non-link).
    static func isVanished(_ code: Int32) -> Bool {
        code == ENOENT || code == ENOTDIR || code == EINVAL
    }

    /// A path as messages show it: bytes that are not UTF-8 as `\xNN` (``FileNameBytes/display(_:)``).
    static func shown(_ path: AbsolutePath) -> String { FileNameBytes.display(path.pathString) }

    /// The target of the link at `path` (decoded as UTF-8; a target that is not UTF-8 is not kept
    /// exactly), nil with `errno` set when it cannot be read.
    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = FileNameBytes.withFileSystemRepresentation(path) { readlink($0, &buffer, buffer.count - 1) }
        guard n >= 0 else { return nil }
        // Lossless: a target that is not UTF-8 keeps its bytes (``FileNameBytes``), as names do.
        return FileNameBytes.string(buffer[0..<n].map { UInt8(bitPattern: $0) })
    }
}

/// Glob helpers the engine needs beyond ``GlobPattern``.
enum GlobSupport {
    /// True when some path below folder `relative` could still match `pattern` (so a walk must
    /// enter the folder): each folder component matches a pattern segment, or a `**` is reached.
    static func couldMatchBelow(_ pattern: String, folder relative: String) -> Bool {
        let segments = pattern.split(separator: "/").map(String.init)
        let parts = relative.split(separator: "/").map(String.init)
        var i = 0
        for part in parts {
            guard i < segments.count else { return false }
            if segments[i] == "**" { return true }
            guard GlobPattern.matchesName(segments[i], part) else { return false }
            i += 1
        }
        return i < segments.count
    }

    /// `code.exclude` rule: a pattern without `/` matches any component's name; one with `/`
    /// matches the path relative to root.
    static func excluded(relative: String, name: String, patterns: [String]) -> Bool {
        for p in patterns {
            if p.contains("/") {
                if GlobPattern(p).matches(relative) { return true }
            } else if GlobPattern.matchesName(p, name) {
                return true
            }
        }
        return false
    }
}
