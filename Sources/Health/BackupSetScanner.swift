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

/// Finds the backup sets of a destination by reading their manifests (never by file times).
public enum BackupSetScanner {
    /// Lists `destination`: set folders, look-alike folders that are not usable sets, and
    /// `.partial-*` folders. Other entries (`.restore-drill`, files, anything else) are ignored.
    ///
    /// With an active `authenticator` (a vault password is configured), a set whose manifest
    /// HMAC does not verify is a ``RejectedFolder`` with `unauthenticated` set: it never counts
    /// for health, the SLA or a retention bucket, and prune never removes it (so forged sets with
    /// newer ids cannot push real sets out of the 7/4/12 buckets).
    /// - Returns: an empty scan when `destination` does not exist.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it exists but cannot be listed.
    public static func scan(destination: String, authenticator: SetAuthenticator? = nil) throws -> DestinationScan {
        guard FileManager.default.fileExists(atPath: destination) else {
            return DestinationScan(sets: [], rejected: [], partials: [])
        }
        var sets: [ScannedSet] = []
        var rejected: [RejectedFolder] = []
        var partials: [PartialFolder] = []
        for entry in try SetFolders.scan(destination: destination) {
            switch entry.kind {
            case .partial(let modified):
                partials.append(PartialFolder(name: entry.name, path: entry.path, modified: modified))
            case .unusable(let reason, _):
                rejected.append(RejectedFolder(name: entry.name, path: entry.path, reason: reason))
            case .set(let manifest):
                guard let id = entry.id, let finished = Timestamp.date(manifest.finishedAt) else {
                    rejected.append(
                        RejectedFolder(
                            name: entry.name, path: entry.path,
                            reason: "finished_at \"\(manifest.finishedAt)\" is not a time"))
                    continue
                }
                sets.append(
                    ScannedSet(
                        id: id, path: entry.path, status: manifest.status, finishedAt: finished,
                        sizeBytes: manifest.artifacts.reduce(0) { $0 + $1.size }, manifest: manifest))
            }
        }
        sets.sort { $0.id < $1.id }
        if let authenticator, authenticator.isActive {
            let verdicts = authenticator.authenticateAll(sets.map(\.manifest))
            var proven: [ScannedSet] = []
            for (set, verdict) in zip(sets, verdicts) {
                if case .unauthenticated(let reason) = verdict {
                    rejected.append(
                        RejectedFolder(
                            name: set.id.description, path: set.path, reason: "unauthenticated: \(reason)",
                            unauthenticated: true))
                } else {
                    proven.append(set)
                }
            }
            sets = proven
            rejected.sort { $0.name < $1.name }
        }
        return DestinationScan(sets: sets, rejected: rejected, partials: partials)
    }
}
