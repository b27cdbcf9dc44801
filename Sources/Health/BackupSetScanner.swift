import Destination
import DrillCore
import Foundation
import Retention
import Vault

/// One backup set found in a destination: a folder named by a ``BackupID`` whose `manifest.json`
/// ``Manifest/load(setPath:)`` accepts, whose id equals the folder name and whose self-checksum matches.
public struct ScannedSet: Sendable, Equatable {
    public var id: BackupID
    /// Absolute path of the set folder.
    public var path: String
    public var status: SetStatus
    /// The manifest's `finished_at`, UTC.
    public var finishedAt: Date
    /// Sum of the manifest's artifact sizes, bytes (what the set occupies, but for the manifest,
    /// SHA256SUMS and the restore script).
    public var sizeBytes: Int64
    public var manifest: Manifest

    public init(id: BackupID, path: String, status: SetStatus, finishedAt: Date, sizeBytes: Int64, manifest: Manifest) {
        self.id = id
        self.path = path
        self.status = status
        self.finishedAt = finishedAt
        self.sizeBytes = sizeBytes
        self.manifest = manifest
    }
}

/// A folder that looks like a set (named by a ``BackupID``) but is not a usable one. Retention never
/// counts it, prune never removes it, health warns about it.
public struct RejectedFolder: Sendable, Equatable, Codable {
    public var name: String
    public var path: String
    public var reason: String
    /// True when the folder is a well-formed set whose manifest HMAC does not verify with the
    /// configured vault password (a forged or foreign set); nil/absent otherwise.
    public var unauthenticated: Bool?

    public init(name: String, path: String, reason: String, unauthenticated: Bool? = nil) {
        self.name = name
        self.path = path
        self.reason = reason
        self.unauthenticated = unauthenticated
    }
}

/// A `.partial-<id>` folder: a backup in progress, or the leftovers of one that crashed.
public struct PartialFolder: Sendable, Equatable, Codable {
    public var name: String
    public var path: String
    /// The folder's modification time (prune removes those older than a day).
    public var modified: Date
}

/// What a destination holds.
public struct DestinationScan: Sendable, Equatable {
    /// Usable sets, oldest first.
    public var sets: [ScannedSet]
    public var rejected: [RejectedFolder]
    public var partials: [PartialFolder]

    /// The newest set whose status is complete.
    public var newestComplete: ScannedSet? { sets.last { $0.status == .complete } }

    /// The retention view of the sets: complete or not, and whether a drill of the set passed
    /// according to `events` (a `drill` event with status `pass` and that backup id).
    ///
    /// A set whose most recent read-back (`check` or `drill` event) failed counts as not complete:
    /// it is damaged, so it must not stand for a day, week or month and push intact sets of the
    /// same bucket out (it still counts for `last`, and nothing removes it for being damaged).
    public func retentionInput(events: [HistoryEvent]) -> [RetainedSetInfo] {
        let passed = Set(events.filter { $0.kind == .drill && $0.status == .pass }.compactMap(\.backupID))
        var lastReadBack: [BackupID: HistoryEventStatus] = [:]
        for e in events.sorted(by: { $0.time < $1.time }) where e.kind == .check || e.kind == .drill {
            if let id = e.backupID { lastReadBack[id] = e.status }
        }
        return sets.map {
            RetainedSetInfo(
                id: $0.id, complete: $0.status == .complete && lastReadBack[$0.id] != .fail,
                drillPassed: passed.contains($0.id) && lastReadBack[$0.id] != .fail)
        }
    }
}

/// The health, SLA and retention view of a destination's sets: an adapter over the one
/// ``SetCatalogue`` (reads manifests, never file times).
public enum BackupSetScanner {
    /// ``scan(_:authenticator:)`` of the local folder `destination`.
    /// - Returns: an empty scan when `destination` does not exist.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it exists but cannot be listed.
    public static func scan(destination: String, authenticator: SetAuthenticator? = nil) throws -> DestinationScan {
        try scan(LocalDestination(path: destination), authenticator: authenticator)
    }

    /// Lists `destination`: sets that count, look-alike folders that are not usable sets, and
    /// `.partial-*` folders. Other entries (`.restore-drill`, files, anything else) are ignored.
    ///
    /// A set the catalogue rejects (``SetRejection``: self-checksum mismatch, `finished_at` not a
    /// time, or, with an active `authenticator`, a manifest HMAC that does not verify) is a
    /// ``RejectedFolder`` (`unauthenticated` set for the last): it never counts for health, the SLA
    /// or a retention bucket, and prune never removes it (so forged sets with newer ids cannot push
    /// real sets out of the 7/4/12 buckets).
    /// - Returns: an empty scan when `destination` does not exist.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it exists but cannot be listed.
    public static func scan(_ destination: any Destination, authenticator: SetAuthenticator? = nil) throws
        -> DestinationScan
    {
        guard !destination.status().absent else { return DestinationScan(sets: [], rejected: [], partials: []) }
        let contents = try SetCatalogue(destination, authenticator: authenticator).contents()
        var rejected = contents.unusable.map { RejectedFolder(name: $0.name, path: $0.path, reason: $0.reason) }
        var sets: [ScannedSet] = []
        for set in contents.sets {
            if let rejection = set.rejection {
                var unauthenticated: Bool?
                if case .unauthenticated = rejection { unauthenticated = true }
                rejected.append(
                    RejectedFolder(
                        name: set.id.description, path: set.path, reason: rejection.description,
                        unauthenticated: unauthenticated))
            } else if let finished = set.finishedAt {
                sets.append(
                    ScannedSet(
                        id: set.id, path: set.path, status: set.manifest.status, finishedAt: finished,
                        sizeBytes: set.sizeBytes, manifest: set.manifest))
            }
        }
        rejected.sort { $0.name < $1.name }
        return DestinationScan(
            sets: sets, rejected: rejected,
            partials: contents.partials.map { PartialFolder(name: $0.name, path: $0.path, modified: $0.modified) })
    }
}
