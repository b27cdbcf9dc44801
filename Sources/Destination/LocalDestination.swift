import DrillCore
import Foundation

/// A destination that is a local folder (or a mounted drive, or a synced folder): the first
/// ``Destination``.
///
/// Layout: `<folder>/<backup id>/` per set, `<folder>/.partial-<id>/` while one is built,
/// `<folder>/.removing-<id>/` while one is removed, `<folder>/.restore-drill/lock` and
/// `<folder>/.restore-drill/events/<event id>.json`.
///
/// What a crash leaves: a `.partial-<id>` (a build that never reached its `rename(2)`; prune
/// removes it after a day), a `.removing-<id>` (a removal between its rename and the end of the
/// delete; ``finishRemovals()`` deletes it), a hidden temporary event file
/// (`.<event id>.json.tmp-<pid>-<n>`, ``AtomicFile``'s name; readers skip hidden files, and
/// ``finishRemovals()`` deletes one older than ``eventTemporaryMaxAge``). None of them is ever
/// listed as a set.
public struct LocalDestination: Destination {
    /// The folder as it was given (messages and locations are built from it, as before the seam).
    public let location: String

    /// - Parameter path: the destination folder; a relative path is taken below the process's
    ///   working folder.
    public init(path: String) {
        location = path
    }

    /// - Parameter folder: the destination folder.
    public init(folder: AbsolutePath) {
        location = folder.pathString
    }

    /// The destination folder as an absolute path.
    public var folder: AbsolutePath {
        let cwd = (try? AbsolutePath(validating: FileManager.default.currentDirectoryPath)) ?? .root
        return (try? AbsolutePath(location, relativeTo: cwd)) ?? cwd
    }

    /// `<location>/<name>`, joined as messages always showed it.
    func path(_ name: String) -> String { (location as NSString).appendingPathComponent(name) }

    /// The events folder: `<location>/.restore-drill/events`.
    public var eventsFolder: String { (path(".restore-drill") as NSString).appendingPathComponent("events") }

    /// `<destination>/.restore-drill`: the history of a local folder is chained.
    public var historyChainFolder: String? { path(".restore-drill") }

    public func status() -> DestinationStatus {
        var isFolder: ObjCBool = false
        let present = FileManager.default.fileExists(atPath: location, isDirectory: &isFolder)
        let exists = present && isFolder.boolValue
        let writable = exists && access(location, W_OK) == 0
        let free = exists ? FileSystemSpace.of(location)?.available : nil
        return DestinationStatus(exists: exists, writable: writable, freeBytes: free, absent: !present)
    }

    public func listEntries() throws -> [DestinationEntry] {
        try SetFolders.scan(destination: location).map {
            DestinationEntry(name: $0.name, id: $0.id, location: $0.path, verdict: $0.kind)
        }
    }

    public func setIDsNewestFirst() throws -> [BackupID] {
        try SetFolders.setFoldersNewestFirst(destination: location).map(\.id)
    }

    public func verdict(of id: BackupID) -> SetVerdict {
        SetFolders.classify(path: location(of: id), id: id)
    }

    public func location(of id: BackupID) -> String { path(id.description) }

    public func readManifest(id: BackupID) throws -> Manifest {
        try Manifest.load(setPath: location(of: id))
    }

    public func readArtifact(id: BackupID, path relative: RelativePath) throws -> Data {
        guard !relative.climbsAbove, relative.pathString != "." else {
            throw RestoreDrillError.io(path: relative.pathString, message: "is not a file inside the set")
        }
        let file = (location(of: id) as NSString).appendingPathComponent(relative.pathString)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw RestoreDrillError.io(path: file, message: "cannot be read")
        }
        return data
    }

    /// The set folder itself: nothing is copied, and ``OpenedSet/close()`` does nothing.
    public func openSet(id: BackupID) throws -> OpenedSet {
        let setPath = location(of: id)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: setPath, isDirectory: &isFolder), isFolder.boolValue else {
            throw RestoreDrillError.setNotFound(setPath)
        }
        return OpenedSet(id: id, folder: folder.appending(component: id.description))
    }

    public func prepareForWriting() throws -> AbsolutePath {
        let destination = folder.pathString
        let parent = folder.parentDirectory.pathString
        guard FileManager.default.fileExists(atPath: destination) || FileManager.default.fileExists(atPath: parent)
        else {
            throw RestoreDrillError.io(
                path: destination,
                message:
                    "the destination's folder \(parent) does not exist (a drive that is not mounted?); create it first")
        }
        do {
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        } catch {
            throw RestoreDrillError.io(
                path: destination, message: "cannot create the destination: \(error.localizedDescription)")
        }
        return folder
    }

    /// Makes `<folder>/.partial-<id>` with `mkdir(2)` (which fails when it exists, so two backups
    /// started in the same second get different sequence numbers), for the first sequence whose
    /// set folder does not exist either.
    public func stageSet(startedAt: Date) throws -> StagedSet {
        let base = folder
        var sequence = 1
        while true {
            let id = BackupID(date: startedAt, sequence: sequence)
            let final = base.appending(component: id.description)
            let partial = base.appending(component: ".partial-\(id)")
            if !FileManager.default.fileExists(atPath: final.pathString) {
                if mkdir(partial.pathString, 0o755) == 0 {
                    return StagedSet(id: id, folder: partial, final: final)
                }
                if errno != EEXIST {
                    throw RestoreDrillError.io(path: partial.pathString, message: String(cString: strerror(errno)))
                }
            }
            sequence += 1
        }
    }

    /// One `rename(2)` of `.partial-<id>` to `<id>`, then the destination folder `fsync`ed so the
    /// new name survives a power cut. The writer syncs the set's files (and checks with
    /// `SetSeal` that they are still the ones it wrote) before calling this.
    public func publish(_ staged: StagedSet) throws {
        guard rename(staged.folder.pathString, staged.final.pathString) == 0 else {
            throw RestoreDrillError.io(path: staged.final.pathString, message: String(cString: strerror(errno)))
        }
        try Durability.sync(staged.final.parentDirectory.pathString)
    }

    public func removeSet(id: BackupID) throws {
        let setPath = location(of: id)
        let doomed = path(".removing-\(id)")
        guard rename(setPath, doomed) == 0 else {
            throw RestoreDrillError.io(
                path: setPath, message: "cannot rename for removal: \(String(cString: strerror(errno)))")
        }
        do { try FileManager.default.removeItem(atPath: doomed) } catch {
            throw RestoreDrillError.io(path: doomed, message: "cannot remove: \(error.localizedDescription)")
        }
    }

    /// Also deletes the temporary event files a killed writer left in the events folder, once
    /// older than ``eventTemporaryMaxAge`` by their modification time (a younger one may belong to
    /// an event being written right now, e.g. by another machine through a synced folder).
    public func finishRemovals() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: location)) ?? []
        let removals = names.sorted().compactMap { name -> String? in
            guard name.hasPrefix(".removing-"), BackupID(String(name.dropFirst(".removing-".count))) != nil else {
                return nil
            }
            let leftover = path(name)
            return (try? FileManager.default.removeItem(atPath: leftover)) == nil ? nil : leftover
        }
        return removals + removeEventTemporaries(now: Date())
    }

    /// Seconds after which a temporary event file is taken for a killed writer's: 1 hour (a
    /// writer holds one for milliseconds).
    public static let eventTemporaryMaxAge: Double = 3600

    /// Whether `name` is a temporary event file: `.<name>.json.tmp-<pid>-<n>` (``AtomicFile``).
    static func isEventTemporary(_ name: String) -> Bool {
        guard name.hasPrefix("."), let marker = name.range(of: ".json.tmp-") else { return false }
        let suffix = name[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        return marker.lowerBound > name.index(after: name.startIndex) && suffix.count == 2
            && suffix.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    /// Deletes temporary event files older than ``eventTemporaryMaxAge`` at `now` (regular files
    /// only, never following a link).
    /// - Returns: their paths.
    func removeEventTemporaries(now: Date) -> [String] {
        let folder = eventsFolder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().compactMap { name -> String? in
            guard Self.isEventTemporary(name) else { return nil }
            let file = (folder as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
            #if canImport(Darwin)
                let modified = Double(info.st_mtimespec.tv_sec)
            #else
                let modified = Double(info.st_mtim.tv_sec)
            #endif
            guard now.timeIntervalSince1970 - modified >= Self.eventTemporaryMaxAge else { return nil }
            return unlink(file) == 0 ? file : nil
        }
    }

    public func removePartial(name: String) throws {
        guard name.hasPrefix(".partial-"), BackupID(String(name.dropFirst(".partial-".count))) != nil else {
            throw RestoreDrillError.runtime("refusing to remove \(name): not a .partial-<backup id> of \(location)")
        }
        let partial = path(name)
        do { try FileManager.default.removeItem(atPath: partial) } catch {
            throw RestoreDrillError.io(path: partial, message: "cannot remove: \(error.localizedDescription)")
        }
    }

    /// ``DestinationLock`` on `<folder>/.restore-drill/lock` (`flock(2)`).
    public func lock(_ mode: DestinationLock.Mode) throws -> (any DestinationLease)? {
        try DestinationLock.acquire(destination: location, mode: mode)
    }

    /// Written through ``AtomicFile`` (a hidden temporary name renamed into place), creating the
    /// events folder.
    public func appendEvent(name: String, contents: Data) throws {
        let folder = eventsFolder
        do {
            // Private, as sets and reports are (0700 folders, 0600 files): events name sets,
            // report folders and the checks that failed.
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for made in [PathText.parent(of: folder), folder] { chmod(made, 0o700) }
        } catch {
            throw RestoreDrillError.io(
                path: folder, message: "cannot create the events folder: \(error.localizedDescription)")
        }
        let file = (folder as NSString).appendingPathComponent(name)
        guard !FileManager.default.fileExists(atPath: file) else {
            throw RestoreDrillError.io(path: file, message: "event file exists already; events are never rewritten")
        }
        try AtomicFile.write(contents, to: file, mode: 0o600)
    }

    public func eventFiles() throws -> [EventFile] {
        let folder = eventsFolder
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else { return [] }
        guard isFolder.boolValue else { throw RestoreDrillError.io(path: folder, message: "is not a folder") }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        } catch {
            throw RestoreDrillError.io(path: folder, message: "cannot list events: \(error.localizedDescription)")
        }
        return names.filter { !$0.hasPrefix(".") }.map {
            EventFile(name: $0, contents: Self.readRegularFile((folder as NSString).appendingPathComponent($0)))
        }
    }

    /// The largest event file read: 1 MiB (an event is a few hundred bytes; a proof of a set with
    /// thousands of objects some hundred KiB). A bigger one is unreadable, never loaded whole.
    public static let eventSizeLimit = 1 << 20

    /// The bytes of the file at `path` (an event, `head.json`), or nil when it is not a regular file (a link is
    /// never followed: a link planted in a synced folder must not make the tool read, copy or sign
    /// what it points to; a FIFO is never waited on) or is larger than `limit` bytes.
    public static func readRegularFile(_ path: String, limit: Int = eventSizeLimit) -> Data? {
        UntrustedFile.read(path, limit: limit)
    }
}
