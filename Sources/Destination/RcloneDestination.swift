import DrillCore
import Foundation

/// A destination on an rclone remote (docs/OFFSITE.md): the second ``Destination``, holding the
/// same layout as a local one (`objects/<ab>/<sha256>`, one folder per set, the history under
/// `.restore-drill/`), filled by ``push`` (the Jobs module's OffsitePushJob) rather than by a backup.
///
/// **What is a set here.** A set folder is a set once its `manifest.json` is there: a push sends
/// it last, so a push cut off leaves a folder without one, which lists as unusable ("a push that
/// did not finish") and never as a set. Listing reads every set's manifest in one rclone copy
/// into a temporary folder and judges each with the local rule (``SetFolders``).
///
/// **Reading** copies what is read to this machine first: ``openSet(id:)`` fetches the set folder
/// and, for a format-2 set, exactly the objects its manifest lists into a fresh local folder in
/// the export layout (`<staging>/<id>/`, `<staging>/objects/`), so the drill and the checks read a
/// local copy and never the remote.
///
/// **Writing** a set is not done through ``stageSet(startedAt:)``: a backup is built locally and
/// pushed. ``removeSet(id:)`` deletes the manifest first (one step: the set stops being a set),
/// then the folder.
public struct RcloneDestination: Destination {
    /// The remote root and its rclone runner.
    public let remote: RcloneRemote
    /// Where copies fetched from the remote are made (a fresh folder below it per open set);
    /// defaults to the system's temporary folder.
    public var stagingFolder: String

    /// - Parameters:
    ///   - remote: the remote root.
    ///   - stagingFolder: the local folder fetched copies go below.
    public init(remote: RcloneRemote, stagingFolder: String = FileManager.default.temporaryDirectory.path) {
        self.remote = remote
        self.stagingFolder = stagingFolder
    }

    public var location: String { remote.root }

    public func status() -> DestinationStatus {
        let outcome = try? remote.rclone.run(["lsjson", remote.path(""), "--dirs-only", "--max-depth", "1"])
        guard let outcome else { return DestinationStatus(exists: false, writable: false, freeBytes: nil) }
        if outcome.succeeded { return DestinationStatus(exists: true, writable: true, freeBytes: nil) }
        let missing = outcome.exitCode == 3 || outcome.standardError.contains("directory not found")
        return DestinationStatus(exists: false, writable: false, freeBytes: nil, absent: missing)
    }

    /// Set-like folders of the root, from one listing.
    private func setFolders() throws -> [BackupID] {
        try remote.list("").filter(\.isDir).compactMap { BackupID($0.path) }
    }

    /// The largest `manifest.json` read from a remote: 512 MiB, the limit `export` reads a local
    /// one with. A larger one is not fetched (a hostile remote could offer one of any size).
    public static let manifestLimit: Int64 = 512 << 20

    public func listEntries() throws -> [DestinationEntry] {
        let ids = try setFolders()
        guard !ids.isEmpty else { return [] }
        let mirror = try makeStaging()
        defer { try? FileManager.default.removeItem(atPath: mirror) }
        // One listing of every set folder's manifest with its size, then one copy of those within
        // the limit. A folder without one (a push that did not finish), a manifest over the limit,
        // or one that is not a regular file (a link on a local-path remote, which rclone does not
        // list) is not fetched: that folder lists as unusable, with the reason, and the others are
        // still judged.
        let listing = try remote.rclone.run(
            [
                "lsjson", remote.path(""), "--recursive", "--max-depth", "2", "--files-only", "--include",
                "/*/\(Manifest.fileName)",
            ])
        guard listing.succeeded,
            let listed = try? JSONDecoder().decode([RemoteEntry].self, from: listing.standardOutput)
        else { throw RestoreDrillError.io(path: remote.root, message: listing.reason) }
        var sizes: [String: Int64] = [:]
        for entry in listed { sizes[entry.path] = entry.size }
        let files = ids.map { "\($0)/\(Manifest.fileName)" }.filter {
            (sizes[$0] ?? Int64.max) <= Self.manifestLimit
        }
        let outcome = try remote.withFileList(files) { list in
            try remote.rclone.run(
                ["copy", remote.path(""), mirror, "--files-from-raw", list, "--no-traverse", "--retries", "1"])
        }
        let problem = outcome.succeeded ? nil : outcome.reason
        return ids.sorted { $0.description < $1.description }.map { id in
            let file = "\(mirror)/\(id)/\(Manifest.fileName)"
            let shown = location(of: id) + "/manifest.json"
            var regular: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &regular), !regular.boolValue,
                let data = FileManager.default.contents(atPath: file)
            else {
                let size = sizes["\(id)/\(Manifest.fileName)"]
                var reason = "\(shown) is missing (a push that did not finish, or a removal) or not a regular file"
                if let size, size > Self.manifestLimit {
                    reason =
                        "\(shown) is \(Units.humanBytes(size)), over the \(Units.humanBytes(Self.manifestLimit)) "
                        + "a manifest may be: not read"
                } else if size != nil, let problem {
                    reason = "\(shown) could not be fetched: \(problem)"
                }
                return DestinationEntry(
                    name: id.description, id: id, location: location(of: id),
                    verdict: .unusable(reason: reason, manifest: nil))
            }
            return DestinationEntry(
                name: id.description, id: id, location: location(of: id),
                verdict: SetFolders.classify(manifestData: data, path: shown, id: id))
        }
    }

    public func setIDsNewestFirst() throws -> [BackupID] {
        try setFolders().sorted { $0 > $1 }
    }

    public func verdict(of id: BackupID) -> SetVerdict {
        let data = try? remote.cat("\(id)/\(Manifest.fileName)", limit: Self.manifestLimit)
        return SetFolders.classify(manifestData: data, path: location(of: id) + "/manifest.json", id: id)
    }

    public func location(of id: BackupID) -> String { remote.path(id.description) }

    public func readManifest(id: BackupID) throws -> Manifest {
        let path = "\(id)/\(Manifest.fileName)"
        let data: Data
        do {
            data = try remote.cat(path, limit: Self.manifestLimit)
        } catch {
            throw RestoreDrillError.invalidSet(
                path: remote.path(path),
                message: "manifest.json is missing, unreadable or larger than \(Units.humanBytes(Self.manifestLimit))")
        }
        return try Manifest.decode(data, path: remote.path(path))
    }

    public func readArtifact(id: BackupID, path relative: RelativePath) throws -> Data {
        guard !relative.climbsAbove, relative.pathString != "." else {
            throw RestoreDrillError.io(path: relative.pathString, message: "is not a file inside the set")
        }
        return try remote.cat("\(id)/\(relative.pathString)")
    }

    /// Fetches set `id` into a fresh local folder in the export layout and opens that: the set
    /// folder's files (manifest, `SHA256SUMS`, script; a format-1 set's artifacts) and, for a
    /// format-2 set, every object its manifest lists. Nothing fetched is trusted here: the drill
    /// and the checks judge the copy as they judge a local set. ``OpenedSet/close()`` removes it.
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the remote has no such set folder;
    ///   `invalidSet` when its manifest cannot be read; `io` when a file cannot be fetched.
    public func openSet(id: BackupID) throws -> OpenedSet {
        let started = Date()
        guard try setFolders().contains(id) else {
            throw RestoreDrillError.setNotFound("\(id) on \(remote.root)")
        }
        let staging = try makeStaging()
        do {
            let setFolder = "\(staging)/\(id)"
            try FileManager.default.createDirectory(atPath: setFolder, withIntermediateDirectories: true)
            let manifest = try readManifest(id: id)
            var files = [Manifest.fileName, Manifest.checksumListFileName]
            if FileName.isPlain(manifest.restoreScript) { files.append(manifest.restoreScript) }
            files += manifest.artifacts.filter { !manifest.isObject($0) }.map(\.path).filter {
                (try? RelativePath(validatingBeneath: $0)).map { !$0.climbsAbove } ?? false
            }
            try remote.download(files: files, from: id.description, into: setFolder)
            if manifest.storesObjects {
                let objects = manifest.objectRefs().map { "\($0.digest.fanOut)/\($0.digest.hex)" }
                try remote.download(files: objects, from: "objects", into: "\(staging)/objects")
            }
            var opened = OpenedSet(
                id: id, folder: try AbsolutePath(validating: setFolder),
                close: { try? FileManager.default.removeItem(atPath: staging) })
            opened.fetchedBytes = Self.bytes(below: staging)
            opened.fetchSeconds = Date().timeIntervalSince(started)
            return opened
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Refused: sets are backed up locally and pushed to a remote.
    private var notBuiltHere: RestoreDrillError {
        .runtime("\(remote.root) is an off-site remote: sets are backed up locally and pushed to it (offsite push)")
    }

    /// Refused (``notBuiltHere``): a remote receives sets by push.
    public func prepareForWriting() throws -> AbsolutePath { throw notBuiltHere }

    /// Refused (``notBuiltHere``).
    public func stageSet(startedAt: Date) throws -> StagedSet { throw notBuiltHere }

    /// Refused (``notBuiltHere``).
    public func publish(_ staged: StagedSet) throws { throw notBuiltHere }

    public func removeSet(id: BackupID) throws {
        try remote.deleteFile("\(id)/\(Manifest.fileName)")
        try remote.purge(id.description)
    }

    /// Nothing to finish: a removal deletes the manifest first, so what an interrupted one
    /// leaves lists as unusable, and prune removes it again.
    public func finishRemovals() -> [String] { [] }

    public func removePartial(name: String) throws {
        guard name.hasPrefix(".partial-"), BackupID(String(name.dropFirst(".partial-".count))) != nil else {
            throw RestoreDrillError.runtime("\(name) is not the name of an unfinished set (.partial-<backup id>)")
        }
        try remote.purge(name)
    }

    /// Takes the remote's lock (``RemoteLock`` over ``RcloneLockFolder``): shared for a drill of
    /// the remote's copy (a prune of the remote then never removes what the drill fetches),
    /// exclusive for a prune.
    /// - Throws: ``RestoreDrillError/lockHeld(path:pid:)`` naming the holder's lock object.
    public func lock(_ mode: DestinationLock.Mode) throws -> (any DestinationLease)? {
        let lock = remoteLock(clock: (try? SystemClock()) ?? FixedClock(Date()))
        do {
            let lease = try lock.acquire(mode: mode == .exclusive ? .exclusive : .shared, operation: "\(mode)")
            return RemoteLease(lock: lock, lease: lease)
        } catch let held as RemoteLockHeld {
            throw held.restoreDrillError
        }
    }

    public func appendEvent(name: String, contents: Data) throws {
        let path = ".restore-drill/events/\(name)"
        guard FileName.isPlain(name) else {
            throw RestoreDrillError.io(path: remote.path(path), message: "is not a plain event file name")
        }
        if try remote.list(".restore-drill/events").contains(where: { $0.path == name }) {
            throw RestoreDrillError.io(path: remote.path(path), message: "exists already (events are never rewritten)")
        }
        try remote.write(contents, to: path)
    }

    public func eventFiles() throws -> [EventFile] {
        let names = try remote.list(".restore-drill/events").filter { !$0.isDir && !$0.path.hasPrefix(".") }.map(
            \.path
        ).sorted()
        guard !names.isEmpty else { return [] }
        let mirror = try makeStaging()
        defer { try? FileManager.default.removeItem(atPath: mirror) }
        _ = try? remote.download(files: names, from: ".restore-drill/events", into: mirror)
        return names.map { EventFile(name: $0, contents: FileManager.default.contents(atPath: "\(mirror)/\($0)")) }
    }

    // MARK: -

    private func makeStaging() throws -> String {
        try FileManager.default.createDirectory(atPath: stagingFolder, withIntermediateDirectories: true)
        let folder = (stagingFolder as NSString).appendingPathComponent("remote-\(UUID().uuidString)")
        guard mkdir(folder, 0o700) == 0 else {
            throw RestoreDrillError.io(path: folder, message: "cannot be made: \(String(cString: strerror(errno)))")
        }
        return folder
    }

    static func bytes(below folder: String) -> Int64 {
        var total: Int64 = 0
        let walker = FileManager.default.enumerator(atPath: folder)
        while let name = walker?.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: "\(folder)/\(name)")
            guard attributes?[.type] as? FileAttributeType == .typeRegular else { continue }
            total += (attributes?[.size] as? Int64) ?? 0
        }
        return total
    }
}

/// File-name rules shared by the remote destination.
enum FileName {
    /// True for one plain path component: not empty, no `/`, not `.` or `..`, no NUL.
    static func isPlain(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && name != "." && name != ".." && !name.contains("\0")
    }
}

/// The lock folder of a remote, `<root>/.restore-drill/locks/`, for ``RemoteLock``: each call one
/// rclone command (`lsjson`, `rcat`, `cat`, `deletefile`).
public struct RcloneLockFolder: LockFolder {
    /// The remote root.
    public let remote: RcloneRemote
    /// The folder below the root: `.restore-drill/locks`.
    public static let folder = ".restore-drill/locks"

    /// - Parameter remote: the remote root whose lock folder this is.
    public init(remote: RcloneRemote) { self.remote = remote }

    /// Where the lock objects are, as messages name it.
    public var location: String { remote.path(Self.folder) }

    public func names() throws -> [String] {
        try remote.list(Self.folder).filter { !$0.isDir }.map(\.path)
    }

    public func write(name: String, contents: Data) throws {
        guard FileName.isPlain(name) else {
            throw RestoreDrillError.io(path: location, message: "\(name) is not a plain lock object name")
        }
        try remote.write(contents, to: "\(Self.folder)/\(name)")
    }

    public func read(name: String) throws -> Data? {
        guard FileName.isPlain(name) else { return nil }
        let outcome = try remote.rclone.run(["cat", remote.path("\(Self.folder)/\(name)"), "--retries", "1"])
        if outcome.succeeded { return outcome.standardOutput }
        if outcome.exitCode == 3 || outcome.exitCode == 4 || outcome.standardError.contains("not found") { return nil }
        throw RestoreDrillError.io(path: "\(location)/\(name)", message: outcome.reason)
    }

    public func delete(name: String) throws {
        guard FileName.isPlain(name) else { return }
        try remote.deleteFile("\(Self.folder)/\(name)")
    }
}

/// A held remote lock, given back by ``release()``.
struct RemoteLease: DestinationLease {
    let lock: RemoteLock
    let lease: RemoteLockLease

    func release() { try? lock.release(lease) }
}

extension RcloneDestination {
    /// The remote's lock (``RemoteLock`` over ``RcloneLockFolder``): shared for a push or a drill,
    /// exclusive for a prune.
    /// - Parameter clock: the writer's clock (lock names carry its time).
    public func remoteLock(clock: any WallClock) -> RemoteLock {
        let folder = RcloneLockFolder(remote: remote)
        return RemoteLock(folder: folder, location: folder.location, clock: clock)
    }
}
