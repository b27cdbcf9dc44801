import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The throwaway folder one drill restores into: `<sandboxes>/<drill-id>/` with `home/` and
/// `work/` inside, each mode 0700 (docs/ARCHITECTURE.md, "A drill", step 3).
///
/// ``create(in:drillID:)`` writes a marker file, ``markerName``, holding the drill id; the marker
/// is what lets ``remove()`` delete the folder, so nothing that this type did not make is ever
/// removed. An interrupted drill leaves the folder and its marker; a later `remove()` of the
/// same sandbox (same folder and id) still works.
public struct RestoreSandbox: Sendable, Equatable {
    /// The name of the marker file inside the sandbox: `.restore-drill-sandbox`.
    public static let markerName = ".restore-drill-sandbox"

    /// The sandboxes folder this sandbox was made in, with links resolved.
    public let sandboxesFolder: AbsolutePath
    /// The drill the sandbox belongs to; also its folder name.
    public let drillID: DrillID
    /// `<sandboxes>/<drill-id>`.
    public let path: AbsolutePath
    /// `<sandboxes>/<drill-id>/home`: the restored home.
    public let home: AbsolutePath
    /// `<sandboxes>/<drill-id>/work`: the restored root (code, databases).
    public let work: AbsolutePath

    /// Describes the sandbox of `drillID` under `folder` (for ``remove()`` of a sandbox made by an
    /// earlier run too). The only disk access is the resolution of links on `folder`'s way
    /// (realpath(3), on purpose): the sandbox's paths are handed to a replay that bubblewrap runs
    /// with the sandbox bound at its real path under a fresh /tmp, where a link would dangle.
    public init(folder: AbsolutePath, drillID: DrillID) {
        let base = folder.resolvingSymlinks()
        sandboxesFolder = base
        self.drillID = drillID
        path = base.appending(component: drillID.description)
        home = path.appending(component: "home")
        work = path.appending(component: "work")
    }

    /// Makes `<folder>/<drill-id>/{home,work}`, each 0700, and the marker file.
    ///
    /// The sandboxes folder itself is created (0755) when missing, so that an unprivileged replay
    /// uid can traverse it.
    /// - Throws: ``RestoreDrillError/alreadyExists(path:message:)`` when `<folder>/<drill-id>`
    ///   already exists; ``RestoreDrillError/io(path:message:)`` when a folder cannot be made.
    public static func create(in folder: AbsolutePath, drillID: DrillID) throws -> RestoreSandbox {
        let sandbox = RestoreSandbox(folder: folder, drillID: drillID)
        let fm = FileManager.default
        do {
            try fm.createDirectory(
                atPath: sandbox.sandboxesFolder.pathString, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755])
        } catch {
            throw RestoreDrillError.io(
                path: sandbox.sandboxesFolder.pathString, message: "cannot create: \(error.localizedDescription)")
        }
        guard mkdir(sandbox.path.pathString, 0o700) == 0 else {
            if errno == EEXIST {
                throw RestoreDrillError.alreadyExists(
                    path: sandbox.path.pathString, message: "cannot create sandbox: already exists")
            }
            throw RestoreDrillError.io(
                path: sandbox.path.pathString, message: "cannot create sandbox: \(String(cString: strerror(errno)))")
        }
        for folder in [sandbox.home, sandbox.work] {
            guard mkdir(folder.pathString, 0o700) == 0 else {
                throw RestoreDrillError.io(path: folder.pathString, message: String(cString: strerror(errno)))
            }
        }
        // mkdir's mode is masked by umask; make it exact.
        for folder in [sandbox.path, sandbox.home, sandbox.work] { chmod(folder.pathString, 0o700) }
        let marker = sandbox.path.appending(component: markerName)
        guard
            fm.createFile(
                atPath: marker.pathString, contents: Data((drillID.description + "\n").utf8),
                attributes: [.posixPermissions: 0o444])
        else {
            throw RestoreDrillError.io(path: marker.pathString, message: "cannot write the sandbox marker")
        }
        return sandbox
    }

    /// Removes the sandbox folder and everything in it.
    ///
    /// Refuses unless the folder is directly under ``sandboxesFolder``, is named for ``drillID``,
    /// is a real folder (not a link), and holds the marker file (a regular file) with this drill's
    /// id. Folders the replay made unwritable are made writable first. A sandbox that is already
    /// gone is not an error.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the sandbox when it refuses or
    ///   removal fails.
    public func remove() throws {
        let fm = FileManager.default
        var info = stat()
        if lstat(path.pathString, &info) != 0 {
            if errno == ENOENT { return }
            throw RestoreDrillError.io(path: path.pathString, message: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw RestoreDrillError.io(path: path.pathString, message: "refusing to remove: not a folder")
        }
        // Both sides resolved (realpath): the folder's real parent must be the real sandboxes folder.
        guard path.parentDirectory.resolvingSymlinks() == sandboxesFolder.resolvingSymlinks(),
            path.basename == drillID.description
        else {
            throw RestoreDrillError.io(
                path: path.pathString, message: "refusing to remove: not a sandbox under \(sandboxesFolder)")
        }
        let marker = path.appending(component: Self.markerName)
        var markerInfo = stat()
        guard lstat(marker.pathString, &markerInfo) == 0, (markerInfo.st_mode & S_IFMT) == S_IFREG,
            let text = try? String(contentsOfFile: marker.pathString, encoding: .utf8),
            text.trimmingCharacters(in: .whitespacesAndNewlines) == drillID.description
        else {
            throw RestoreDrillError.io(
                path: path.pathString, message: "refusing to remove: no sandbox marker for \(drillID)")
        }
        Self.makeWritable(path)
        do {
            try fm.removeItem(atPath: path.pathString)
        } catch {
            throw RestoreDrillError.io(
                path: path.pathString, message: "cannot remove sandbox: \(error.localizedDescription)")
        }
    }

    /// Overwrites regular files with zeros, flushes them, then deletes them; folders are wiped
    /// file by file and removed. Used for decrypted credentials in a sandbox kept after a failure.
    ///
    /// Links are removed, never followed. Every path is attempted even when one fails.
    /// - Parameter paths: paths inside this sandbox; a path that does not exist is skipped.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the first path outside the sandbox
    ///   or that could not be wiped.
    public func wipe(paths: [AbsolutePath]) throws {
        try Self.wipe(paths, inside: path)
    }

    /// ``wipe(paths:)`` for paths inside the folder `sandbox`.
    static func wipe(_ paths: [AbsolutePath], inside sandbox: AbsolutePath) throws {
        var firstError: RestoreDrillError?
        // Resolved on purpose (realpath): a link inside the sandbox that leads out of it, on the
        // way or at the end, must not get anything outside the sandbox overwritten.
        let root = sandbox.resolvingSymlinks()
        for raw in paths {
            let target = raw.resolvingSymlinks()
            guard target.isDescendant(of: root) else {
                firstError =
                    firstError ?? .io(path: raw.pathString, message: "refusing to wipe: outside the sandbox \(sandbox)")
                continue
            }
            if let error = Self.wipe(target) { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    private static func wipe(_ path: AbsolutePath) -> RestoreDrillError? {
        let target = path.pathString
        var info = stat()
        guard lstat(target, &info) == 0 else {
            return errno == ENOENT ? nil : .io(path: target, message: String(cString: strerror(errno)))
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            chmod(target, 0o700)
            var firstError: RestoreDrillError?
            let names = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []
            for name in names {
                if let error = wipe(path.appending(component: name)) {
                    firstError = firstError ?? error
                }
            }
            if rmdir(target) != 0 {
                firstError = firstError ?? .io(path: target, message: String(cString: strerror(errno)))
            }
            return firstError
        case S_IFREG:
            chmod(target, 0o600)
            let fd = open(target, O_WRONLY | O_NOFOLLOW)
            guard fd >= 0 else {
                return .io(path: target, message: "cannot open to wipe: \(String(cString: strerror(errno)))")
            }
            var remaining = Int(info.st_size)
            let zeros = [UInt8](repeating: 0, count: 64 << 10)
            var failed = false
            while remaining > 0 {
                let n = zeros.withUnsafeBytes { write(fd, $0.baseAddress, min(remaining, $0.count)) }
                if n <= 0 {
                    failed = true
                    break
                }
                remaining -= n
            }
            fsync(fd)
            close(fd)
            if failed { return .io(path: target, message: "cannot overwrite: \(String(cString: strerror(errno)))") }
            return unlink(target) == 0 ? nil : .io(path: target, message: String(cString: strerror(errno)))
        default:
            return unlink(target) == 0 ? nil : .io(path: target, message: String(cString: strerror(errno)))
        }
    }

    /// Adds owner rwx to every folder under `root` (not following links), so a tree a replay made
    /// read-only can be removed by a non-root tool.
    static func makeWritable(_ root: AbsolutePath) {
        var info = stat()
        guard lstat(root.pathString, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { return }
        chmod(root.pathString, (info.st_mode & 0o7777) | 0o700)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root.pathString)) ?? [] {
            makeWritable(root.appending(component: name))
        }
    }
}
