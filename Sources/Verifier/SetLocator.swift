import DrillCore
import Foundation
import Vault

/// One backup set found in a destination.
public struct LocatedSet: Sendable, Equatable {
    public var id: BackupID
    /// Absolute path of the set folder.
    public var path: String
    /// Its manifest (decoded; the self-checksum is not verified here — the drill does that).
    public var manifest: Manifest
    /// Whether its manifest HMAC verified with a configured vault password
    /// (``SetAuthentication/notChecked`` when the locator was given no password).
    public var authentication: SetAuthentication

    public init(id: BackupID, path: String, manifest: Manifest, authentication: SetAuthentication = .notChecked) {
        self.id = id
        self.path = path
        self.manifest = manifest
        self.authentication = authentication
    }

    /// True when the manifest says `complete` and the set is not unauthenticated: with a vault
    /// password configured, a set whose manifest HMAC does not verify never counts as complete.
    public var isComplete: Bool { manifest.status == .complete && !authentication.isUnauthenticated }

    /// True unless the set is ``SetAuthentication/unauthenticated(reason:)``.
    public var counts: Bool { !authentication.isUnauthenticated }
}

/// Finds backup sets in a destination (../shared/DESIGN.md, "The backup set"): a set is a folder
/// named by a ``BackupID`` holding a `manifest.json` that decodes and whose id equals the folder
/// name. `.partial-*` folders, other folders and files are ignored. Reads only.
///
/// Every function takes an optional ``SetAuthenticator``: with a vault password configured, each
/// located set carries its ``SetAuthentication``, and an unauthenticated set (no manifest HMAC, or
/// one no configured password verifies) is passed over by ``latest(in:now:authenticator:)`` while
/// an authenticated set exists, and never counts for ``latestComplete(in:authenticator:)``,
/// ``previousComplete(before:in:authenticator:)`` or ``randomWithin(days:now:in:authenticator:)``:
/// forged sets with newer ids cannot take over `drill --latest`, RPO or `set.coverage`.
/// ``byID(_:in:authenticator:)`` still finds one (drilling it by name fails, with no secret).
public enum SetLocator {
    /// The valid sets in `destination`, oldest first (newest last), each with its authentication.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be listed.
    public static func sets(in destination: String, authenticator: SetAuthenticator? = nil) throws -> [LocatedSet] {
        // A set whose self-checksum fails is still listed: drilling it fails `set.manifest`
        // visibly instead of falling back to an older set in silence.
        var sets: [LocatedSet] = try SetFolders.scan(destination: destination).compactMap { entry in
            switch entry.kind {
            case .set(let manifest), .unusable(_, .some(let manifest)):
                return entry.id.map { LocatedSet(id: $0, path: entry.path, manifest: manifest) }
            default:
                return nil
            }
        }.sorted { $0.id < $1.id }
        if let authenticator, authenticator.isActive {
            let verdicts = authenticator.authenticateAll(sets.map(\.manifest))
            for i in sets.indices { sets[i].authentication = verdicts[i] }
        }
        return sets
    }

    /// The valid sets in `destination`, newest first, each manifest read only when the sequence
    /// reaches it (what ``latest(in:now:)``, ``latestComplete(in:)`` and
    /// ``previousComplete(before:in:)`` need is the newest one or two).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be listed.
    public static func newestFirst(in destination: String, authenticator: SetAuthenticator? = nil) throws
        -> LazyMapSequence<
            LazyFilterSequence<LazyMapSequence<[(id: BackupID, path: String)], LocatedSet?>>, LocatedSet
        >
    {
        try SetFolders.setFoldersNewestFirst(destination: destination).lazy.map { folder -> LocatedSet? in
            switch SetFolders.classify(path: folder.path, id: folder.id) {
            case .set(let manifest), .unusable(_, .some(let manifest)):
                return LocatedSet(
                    id: folder.id, path: folder.path, manifest: manifest,
                    authentication: authenticator?.authenticate(manifest) ?? .notChecked)
            default:
                return nil
            }
        }.filter { $0 != nil }.map { $0! }
    }

    /// How far past `now` a set's id may lie before it counts as dated in the future: 5 minutes.
    public static let clockSkew: Double = 300

    /// The newest set (complete or partial). With `now`, sets dated more than ``clockSkew`` after
    /// it (a clock that was wrong) are passed over while an older set exists, so one bad clock
    /// does not take over every later `--latest`. With an active `authenticator`, unauthenticated
    /// sets are passed over while an authenticated one exists; when none is, the newest is
    /// returned (its drill then fails `set.manifest`, visibly, and gets no secret).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the destination holds none; `io` as ``sets(in:authenticator:)``.
    public static func latest(in destination: String, now: Date? = nil, authenticator: SetAuthenticator? = nil)
        throws -> LocatedSet
    {
        let all = try newestFirst(in: destination, authenticator: authenticator)
        let present = { (set: LocatedSet) in now.map { !isFuture(set.id, now: $0) } ?? true }
        let current = all.first { present($0) && $0.counts } ?? all.first(where: present)
        guard let set = current ?? all.first else {
            throw RestoreDrillError.setNotFound("no backup set in \(destination)")
        }
        return set
    }

    /// True when the set's id lies more than ``clockSkew`` after `now`.
    public static func isFuture(_ id: BackupID, now: Date) -> Bool {
        id.date.timeIntervalSince(now) > clockSkew
    }

    /// The newest complete set, or nil.
    public static func latestComplete(in destination: String, authenticator: SetAuthenticator? = nil) throws
        -> LocatedSet?
    {
        try newestFirst(in: destination, authenticator: authenticator).first { $0.isComplete }
    }

    /// The set with id `id` (e.g. `full_20251020_175019`).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when no valid set has that id.
    public static func byID(_ id: String, in destination: String, authenticator: SetAuthenticator? = nil) throws
        -> LocatedSet
    {
        guard
            let set = try newestFirst(in: destination, authenticator: authenticator).first(where: {
                $0.id.description == id
            })
        else {
            throw RestoreDrillError.setNotFound("\(id) in \(destination)")
        }
        return set
    }

    /// A random set among those started within `days` days before `now` (`--random-within`).
    /// - Parameter days: the window, days (86 400 s each).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the window holds no set.
    public static func randomWithin<G: RandomNumberGenerator>(
        days: Double, now: Date, in destination: String, authenticator: SetAuthenticator? = nil,
        using generator: inout G
    ) throws -> LocatedSet {
        let cutoff = now.addingTimeInterval(-days * 86400)
        let candidates = try sets(in: destination, authenticator: authenticator).filter {
            $0.id.date >= cutoff && $0.id.date <= now && $0.counts
        }
        guard let set = candidates.randomElement(using: &generator) else {
            throw RestoreDrillError.setNotFound("no backup set within \(days) days in \(destination)")
        }
        return set
    }

    /// ``randomWithin(days:now:in:using:)`` with the system's random generator.
    public static func randomWithin(
        days: Double, now: Date, in destination: String, authenticator: SetAuthenticator? = nil
    ) throws -> LocatedSet {
        var generator = SystemRandomNumberGenerator()
        return try randomWithin(
            days: days, now: now, in: destination, authenticator: authenticator, using: &generator)
    }

    /// The newest complete set older than `id` (what `set.coverage` compares with), or nil.
    public static func previousComplete(
        before id: BackupID, in destination: String, authenticator: SetAuthenticator? = nil
    ) throws -> LocatedSet? {
        try newestFirst(in: destination, authenticator: authenticator).first { $0.id < id && $0.isComplete }
    }
}
