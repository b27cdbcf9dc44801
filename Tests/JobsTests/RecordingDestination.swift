import Destination
import DrillCore
import Foundation

/// A ``Destination`` that serves a ``LocalDestination`` and records every call, by name and
/// argument (`listEntries`, `openSet full_…`, `lock exclusive`, …), so a test sees which set
/// accesses a command made through the seam.
final class RecordingDestination: Destination, @unchecked Sendable {
    let inner: LocalDestination
    private let lock = NSLock()
    private var recorded: [String] = []
    private var eventError: RestoreDrillError?

    /// - Parameter folder: the folder holding the real sets.
    init(folder: String) { inner = LocalDestination(path: folder) }

    /// The calls since the last ``reset()``, in order.
    var calls: [String] { lock.withLock { recorded } }

    /// The names of the calls since the last ``reset()`` (the part before the first space), once each.
    var names: Set<String> { Set(calls.map { String($0.split(separator: " ")[0]) }) }

    /// When set, ``appendEvent(name:contents:)`` throws it instead of writing (a destination whose
    /// history cannot be written: read-only, full).
    var failingEvents: RestoreDrillError? {
        get { lock.withLock { eventError } }
        set { lock.withLock { eventError = newValue } }
    }

    /// Forgets the recorded calls.
    func reset() { lock.withLock { recorded = [] } }

    private func record(_ call: String) { lock.withLock { recorded.append(call) } }

    var location: String { inner.location }

    func status() -> DestinationStatus {
        record("status")
        return inner.status()
    }

    func listEntries() throws -> [DestinationEntry] {
        record("listEntries")
        return try inner.listEntries()
    }

    func setIDsNewestFirst() throws -> [BackupID] {
        record("setIDsNewestFirst")
        return try inner.setIDsNewestFirst()
    }

    func verdict(of id: BackupID) -> SetVerdict {
        record("verdict \(id)")
        return inner.verdict(of: id)
    }

    func location(of id: BackupID) -> String { inner.location(of: id) }

    func readManifest(id: BackupID) throws -> Manifest {
        record("readManifest \(id)")
        return try inner.readManifest(id: id)
    }

    func readArtifact(id: BackupID, path: RelativePath) throws -> Data {
        record("readArtifact \(id) \(path)")
        return try inner.readArtifact(id: id, path: path)
    }

    func openSet(id: BackupID) throws -> OpenedSet {
        record("openSet \(id)")
        let opened = try inner.openSet(id: id)
        return OpenedSet(id: id, folder: opened.folder) { [self] in
            record("closeSet \(id)")
            opened.close()
        }
    }

    func prepareForWriting() throws -> AbsolutePath {
        record("prepareForWriting")
        return try inner.prepareForWriting()
    }

    func stageSet(startedAt: Date) throws -> StagedSet {
        record("stageSet")
        return try inner.stageSet(startedAt: startedAt)
    }

    func publish(_ staged: StagedSet) throws {
        record("publish \(staged.id)")
        try inner.publish(staged)
    }

    func removeSet(id: BackupID) throws {
        record("removeSet \(id)")
        try inner.removeSet(id: id)
    }

    func finishRemovals() -> [String] {
        record("finishRemovals")
        return inner.finishRemovals()
    }

    func removePartial(name: String) throws {
        record("removePartial \(name)")
        try inner.removePartial(name: name)
    }

    func lock(_ mode: DestinationLock.Mode) throws -> (any DestinationLease)? {
        record("lock \(mode == .shared ? "shared" : "exclusive")")
        return try inner.lock(mode)
    }

    func appendEvent(name: String, contents: Data) throws {
        record("appendEvent")
        if let failingEvents { throw failingEvents }
        try inner.appendEvent(name: name, contents: contents)
    }

    func eventFiles() throws -> [EventFile] {
        record("eventFiles")
        return try inner.eventFiles()
    }

    var historyChainFolder: String? { inner.historyChainFolder }
}
