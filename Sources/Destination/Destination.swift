import DrillCore
import Foundation

/// What one entry of a destination is, as its manifest says: a usable set, a folder named like a
/// set that is not usable (and why), or an unfinished `.partial-<id>` build.
public typealias SetVerdict = SetFolderEntry.Kind

/// One entry of a destination's listing (``Destination/listEntries()``).
public struct DestinationEntry: Sendable {
    /// The entry's name in the destination: a ``BackupID`` or `.partial-<id>`.
    public var name: String
    /// The id the name carries (nil for a `.partial-*` entry).
    public var id: BackupID?
    /// Where a person finds it: the absolute folder path for a local destination.
    public var location: String
    /// What its manifest says.
    public var verdict: SetVerdict

    /// - Parameters: as the properties.
    public init(name: String, id: BackupID?, location: String, verdict: SetVerdict) {
        self.name = name
        self.id = id
        self.location = location
        self.verdict = verdict
    }
}

/// A set opened for reading by ``Destination/openSet(id:)``: a local folder that holds the set's
/// files while it is open.
public struct OpenedSet: Sendable {
    /// The id of the set.
    public var id: BackupID
    /// A local folder holding the set's files (the set folder itself for a local destination; a
    /// copy for a remote one). Read only; valid until ``close()``.
    public var folder: AbsolutePath
    /// Bytes fetched from a remote to open the set, and the seconds that took; nil for a local
    /// destination (nothing was fetched).
    public var fetchedBytes: Int64?
    public var fetchSeconds: Double?
    private let closing: @Sendable () -> Void

    /// - Parameter close: what ``close()`` does (a remote destination removes its copy).
    public init(id: BackupID, folder: AbsolutePath, close: @escaping @Sendable () -> Void = {}) {
        self.id = id
        self.folder = folder
        closing = close
    }

    /// Gives the folder back; its path must not be read afterwards.
    public func close() { closing() }
}

/// A set being written by ``Destination/stageSet(startedAt:)``: built in a local staging folder
/// no listing shows as a set, published by ``Destination/publish(_:)`` in one step.
public struct StagedSet: Sendable, Equatable {
    /// The id reserved for the set (unique in the destination).
    public var id: BackupID
    /// The local folder the writer builds the set in (for a local destination
    /// `<destination>/.partial-<id>`).
    public var folder: AbsolutePath
    /// Where the set will be once published (for a local destination `<destination>/<id>`).
    public var final: AbsolutePath

    /// - Parameters: as the properties.
    public init(id: BackupID, folder: AbsolutePath, final: AbsolutePath) {
        self.id = id
        self.folder = folder
        self.final = final
    }
}

/// One raw history event file (``Destination/eventFiles()``).
public struct EventFile: Sendable, Equatable {
    /// The file's name in the events folder (`<event id>.json`).
    public var name: String
    /// Its bytes; nil when it cannot be read.
    public var contents: Data?

    /// - Parameters: as the properties.
    public init(name: String, contents: Data?) {
        self.name = name
        self.contents = contents
    }
}

/// What health needs to know of the destination itself.
public struct DestinationStatus: Sendable, Equatable {
    /// True when the destination exists (a folder, for a local destination).
    public var exists: Bool
    /// True when this user may write to it (a read-only mount is not).
    public var writable: Bool
    /// Free bytes for this user; nil when unknown.
    public var freeBytes: Int64?
    /// True when nothing at all is there (a destination not made yet lists as empty); false for
    /// a destination that exists, and for something else in its place (a file), which cannot be
    /// listed.
    public var absent: Bool

    /// - Parameters: as the properties; `absent` defaults to `!exists`.
    public init(exists: Bool, writable: Bool, freeBytes: Int64?, absent: Bool? = nil) {
        self.exists = exists
        self.writable = writable
        self.freeBytes = freeBytes
        self.absent = absent ?? !exists
    }
}

/// A held destination lock (``Destination/lock(_:)``).
public protocol DestinationLease: Sendable {
    /// Gives the lock up (also done when the process dies).
    func release()
}

extension DestinationLock: DestinationLease {}

/// Where backup sets live, and the only way commands reach them: every command that touches sets
/// (backup, drill, list, check, health, prune, report sla, vault verify, schedule status) goes
/// through this seam, so another kind of destination (an rclone remote) is one more conformance.
///
/// Requirements every implementation keeps:
/// - **Listing reads only**, and shows a set only once it is published: a set being built
///   (``stageSet(startedAt:)``) or being removed (``removeSet(id:)``) is never listed as a set.
/// - **Writing is atomic**: a set is built aside and published by one final step
///   (``publish(_:)``). A crash before that step leaves at most a staging entry (`.partial-<id>`
///   for a local folder) that no listing takes for a set and that prune removes after a day.
/// - **Removal is crash-safe**: a set first stops being a set in one step (renamed to
///   `.removing-<id>`), then its files go; a crash in between leaves a `.removing-<id>` that
///   ``finishRemovals()`` deletes on the next prune.
/// - **History events are files written once**: ``appendEvent(name:contents:)`` never rewrites
///   an event, so two machines or a sync client never merge into one file.
public protocol Destination: Sendable {
    /// How messages name the destination (the folder's absolute path for a local one).
    var location: String { get }

    /// Whether it exists, may be written, and its free space. Never throws: what cannot be
    /// learned reads as absent.
    func status() -> DestinationStatus

    /// Every set-like entry with its manifest verdict: set folders (usable, or unusable with the
    /// reason), and unfinished `.partial-*` builds. Other entries are left out.
    /// - Returns: entries sorted by name.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination is missing or
    ///   cannot be listed.
    func listEntries() throws -> [DestinationEntry]

    /// The ids of the entries named like sets, newest first, without reading any manifest (finding
    /// the newest set reads one manifest, not every set's).
    /// - Throws: as ``listEntries()``.
    func setIDsNewestFirst() throws -> [BackupID]

    /// What set `id`'s manifest says (the same verdict ``listEntries()`` gives it).
    func verdict(of id: BackupID) -> SetVerdict

    /// Where a person finds set `id` (for a local destination `<destination>/<id>`).
    func location(of id: BackupID) -> String

    /// Set `id`'s decoded `manifest.json` (its self-checksum is not verified here).
    /// - Throws: ``RestoreDrillError/invalidSet(path:message:)`` when it is missing, unreadable or
    ///   does not decode.
    func readManifest(id: BackupID) throws -> Manifest

    /// The bytes of one file of set `id` (an artifact, `SHA256SUMS`, the restore script).
    /// - Parameter path: relative to the set folder, never climbing out of it.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be read.
    func readArtifact(id: BackupID, path: RelativePath) throws -> Data

    /// Opens set `id` for reading as a local folder (a drill replays its script there, checks
    /// read its artifacts). Call ``OpenedSet/close()`` when done.
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when there is no such set folder.
    func openSet(id: BackupID) throws -> OpenedSet

    /// Makes the destination ready for a new set and returns the local folder in which
    /// ``stageSet(startedAt:)`` makes staging folders (for a local destination the destination
    /// folder itself, created when missing, but never its parent: a missing parent is most often
    /// a drive that is not mounted, and writing onto the disk underneath its mount point would
    /// look like success).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it cannot be made or read.
    func prepareForWriting() throws -> AbsolutePath

    /// Reserves a fresh id for a set started at `startedAt` (the first free sequence number) and
    /// makes its staging folder. Nothing is listed as a set until ``publish(_:)``.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be written.
    func stageSet(startedAt: Date) throws -> StagedSet

    /// Publishes a staged set in one step (for a local folder: one `rename(2)` of `.partial-<id>`
    /// to `<id>`, then the destination folder synced). Before it, nothing of the set is listed;
    /// after it, the whole set is.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the step fails (the staging folder is
    ///   then left as it is, for the writer to discard).
    func publish(_ staged: StagedSet) throws

    /// Removes set `id` crash-safely: it stops being a set in one step (renamed to
    /// `.removing-<id>`), then its files are deleted. A crash between the steps leaves a
    /// `.removing-<id>` that ``finishRemovals()`` deletes.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when either step fails (after the first,
    ///   the set is no longer listed).
    func removeSet(id: BackupID) throws

    /// Deletes what interrupted removals left (`.removing-<id>`) and the temporary files of
    /// history events whose writer was killed (for a local folder, once older than an hour).
    /// - Returns: the locations deleted.
    func finishRemovals() -> [String]

    /// Removes an unfinished build (an entry ``listEntries()`` gave as `.partial`), by its name.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when `name` is not `.partial-<backup id>`;
    ///   `io` when it cannot be removed.
    func removePartial(name: String) throws

    /// Takes the destination's lock without waiting: shared for backup and drill, exclusive for
    /// prune.
    /// - Returns: nil when the destination cannot be written (nothing can be removed from it).
    /// - Throws: ``RestoreDrillError/lockHeld(path:pid:)`` when another process holds it in a
    ///   conflicting mode.
    func lock(_ mode: DestinationLock.Mode) throws -> (any DestinationLease)?

    /// Writes one history event file, once (`name` is `<event id>.json`), atomically.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it exists already (events are never
    ///   rewritten) or cannot be written.
    func appendEvent(name: String, contents: Data) throws

    /// The history's event files (names not starting with a dot), sorted by name; empty when
    /// there is no history.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the history exists but cannot be
    ///   listed.
    func eventFiles() throws -> [EventFile]

    /// The local folder beside the events folder that holds the history chain's lock
    /// (`events.lock`) and head (`head.json`), when this destination's history is chained; nil when
    /// it is not. Only a destination every writer reaches through one file system can be chained:
    /// appends need a lock they all honour. A local folder returns `<destination>/.restore-drill`;
    /// an rclone remote returns nil (its events are written unchained, docs/EVIDENCE.md).
    var historyChainFolder: String? { get }
}

extension Destination {
    /// Not chained unless the destination says where (``Destination/historyChainFolder``).
    public var historyChainFolder: String? { nil }
}
