import DrillCore
import Foundation
import Vault

/// One set of a destination as the ``SetCatalogue`` sees it: a folder named by a ``BackupID``
/// whose `manifest.json` decodes and names that folder.
public struct CataloguedSet: Sendable, Equatable {
    public var id: BackupID
    /// Where the set is: the absolute set folder for a local destination
    /// (``Destination/location(of:)``).
    public var path: String
    /// Its manifest, decoded.
    public var manifest: Manifest
    /// Whether its manifest HMAC verified with a configured vault password
    /// (``SetAuthentication/notChecked`` when the catalogue was given no password).
    public var authentication: SetAuthentication
    /// Why the set does not count for health, the SLA and retention, or nil when it counts.
    public var rejection: SetRejection?

    /// - Parameters: as the properties; ``rejection`` is worked out from the manifest and the
    ///   authentication.
    ///   The manifest's self-checksum is computed here.
    public init(id: BackupID, path: String, manifest: Manifest, authentication: SetAuthentication = .notChecked) {
        self.init(id: id, path: path, manifest: manifest, authentication: authentication, checksumMatches: nil)
    }

    /// - Parameter checksumMatches: what the destination's verdict said of the self-checksum; nil
    ///   to compute it.
    init(
        id: BackupID, path: String, manifest: Manifest, authentication: SetAuthentication, checksumMatches: Bool?
    ) {
        self.id = id
        self.path = path
        self.manifest = manifest
        self.authentication = authentication
        rejection = Self.rejection(
            manifest: manifest, authentication: authentication, checksumMatches: checksumMatches)
    }

    /// The one checksum-and-trust rule of the catalogue.
    /// - Parameter checksumMatches: nil to compute it from the manifest.
    static func rejection(manifest: Manifest, authentication: SetAuthentication, checksumMatches: Bool?)
        -> SetRejection?
    {
        if !(checksumMatches ?? ((try? manifest.verifySelfChecksum()) == true)) { return .selfChecksumMismatch }
        if Timestamp.date(manifest.finishedAt) == nil { return .finishedAtNotATime(manifest.finishedAt) }
        if case .unauthenticated(let reason) = authentication { return .unauthenticated(reason) }
        return nil
    }

    /// True when the manifest says `complete` and the set is not unauthenticated: with a vault
    /// password configured, a set whose manifest HMAC does not verify never counts as complete.
    public var isComplete: Bool { manifest.status == .complete && !authentication.isUnauthenticated }

    /// True unless the set is ``SetAuthentication/unauthenticated(reason:)``.
    public var counts: Bool { !authentication.isUnauthenticated }

    /// The manifest's `finished_at`; nil when it is not a time.
    public var finishedAt: Date? { Timestamp.date(manifest.finishedAt) }

    /// Sum of the manifest's artifact sizes, bytes.
    public var sizeBytes: Int64 { manifest.artifacts.reduce(0) { $0 + $1.size } }
}

/// Why a set whose manifest decodes does not count for health, the SLA and retention (prune
/// never removes it either). Checked in this order; the first that holds is the reason.
public enum SetRejection: Sendable, Equatable, CustomStringConvertible {
    /// The manifest's `manifest_sha256` does not match its body.
    case selfChecksumMismatch
    /// The manifest's `finished_at` (given) is not a time.
    case finishedAtNotATime(String)
    /// With a vault password configured, the manifest HMAC does not verify (the reason).
    case unauthenticated(String)

    /// The reason as health and prune print it.
    public var description: String {
        switch self {
        case .selfChecksumMismatch: "manifest self-checksum does not match"
        case .finishedAtNotATime(let text): "finished_at \"\(text)\" is not a time"
        case .unauthenticated(let reason): "unauthenticated: \(reason)"
        }
    }
}

/// Everything a destination holds, as the catalogue classifies it.
public struct CatalogueContents: Sendable {
    /// A folder named like a set that is not usable at all.
    public struct Unusable: Sendable, Equatable {
        public var name: String
        public var path: String
        public var reason: String
    }

    /// An unfinished `.partial-*` build.
    public struct Partial: Sendable, Equatable {
        public var name: String
        public var path: String
        /// Its modification time.
        public var modified: Date
    }

    /// Every set whose manifest decodes and names its folder, oldest first (also those with a
    /// ``CataloguedSet/rejection``: a drill of one fails `set.manifest` visibly).
    public var sets: [CataloguedSet]
    /// Folders named like sets whose manifest is missing, does not decode or names another id.
    public var unusable: [Unusable]
    public var partials: [Partial]

    /// The sets that count for health, the SLA and retention (no rejection), oldest first.
    public var counted: [CataloguedSet] { sets.filter { $0.rejection == nil } }
}

/// The one view of a destination's sets, over a ``Destination``: what `drill --latest`, `list`,
/// `check`, `rpo`, `set.coverage`, `health`, `report sla`, `prune` and `vault verify` see.
///
/// **The clock rule** (``SetClock``): a set is in the future when its id's instant lies more than
/// ``SetClock/futureSkew`` (5 minutes) after now; ``isFuture(_:now:)`` is the only test.
///
/// **Authentication**: with an active ``SetAuthenticator`` (a vault password is configured), each
/// set carries its ``SetAuthentication``; an unauthenticated set never counts (it is passed over by
/// ``latest(now:)`` while an authenticated set exists, never complete, never in a retention bucket,
/// never removed by prune); ``byID(_:)`` still finds it (drilling it by name fails, with no secret).
public struct SetCatalogue: Sendable {
    /// Where the sets are.
    public let destination: any Destination
    /// Authenticates manifests; nil or inactive without a vault password.
    public let authenticator: SetAuthenticator?

    /// - Parameters: as the properties.
    public init(_ destination: any Destination, authenticator: SetAuthenticator? = nil) {
        self.destination = destination
        self.authenticator = authenticator
    }

    /// How far past now a set's id may lie and still count (``SetClock/futureSkew``, 300 s).
    public static let futureSkew = SetClock.futureSkew

    /// True when `id` lies more than ``futureSkew`` after `now` (``SetClock/isFuture(_:now:)``).
    public static func isFuture(_ id: BackupID, now: Date) -> Bool { SetClock.isFuture(id, now: now) }

    /// Lists and classifies everything (reads every manifest).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be listed.
    public func contents() throws -> CatalogueContents {
        var sets: [CataloguedSet] = []
        var checksums: [Bool] = []
        var unusable: [CatalogueContents.Unusable] = []
        var partials: [CatalogueContents.Partial] = []
        for entry in try destination.listEntries() {
            switch entry.verdict {
            case .partial(let modified):
                partials.append(.init(name: entry.name, path: entry.location, modified: modified))
            case .set(let manifest):
                if let id = entry.id {
                    sets.append(
                        CataloguedSet(
                            id: id, path: entry.location, manifest: manifest, authentication: .notChecked,
                            checksumMatches: true))
                    checksums.append(true)
                }
            case .unusable(_, .some(let manifest)):
                if let id = entry.id {
                    sets.append(
                        CataloguedSet(
                            id: id, path: entry.location, manifest: manifest, authentication: .notChecked,
                            checksumMatches: false))
                    checksums.append(false)
                }
            case .unusable(let reason, .none):
                unusable.append(.init(name: entry.name, path: entry.location, reason: reason))
            }
        }
        let order = sets.indices.sorted { sets[$0].id < sets[$1].id }
        sets = order.map { sets[$0] }
        checksums = order.map { checksums[$0] }
        if let authenticator, authenticator.isActive {
            let verdicts = authenticator.authenticateAll(sets.map(\.manifest))
            for i in sets.indices { sets[i].authentication = verdicts[i] }
        }
        for i in sets.indices {
            sets[i].rejection = CataloguedSet.rejection(
                manifest: sets[i].manifest, authentication: sets[i].authentication, checksumMatches: checksums[i])
        }
        return CatalogueContents(sets: sets, unusable: unusable, partials: partials)
    }

    /// Every set whose manifest decodes and names its folder, oldest first.
    /// - Throws: as ``contents()``.
    public func sets() throws -> [CataloguedSet] { try contents().sets }

    /// The sets, newest first, each manifest read only when the sequence reaches it (the newest
    /// one or two are all most commands need).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be listed.
    public func newestFirst() throws -> LazyMapSequence<
        LazyFilterSequence<LazyMapSequence<[BackupID], CataloguedSet?>>, CataloguedSet
    > {
        try newestFirst(among: { _ in true })
    }

    /// ``newestFirst()`` over the ids `among` accepts: a set the caller passes over by its id is
    /// neither read nor authenticated (no key derived for it).
    func newestFirst(among: (BackupID) -> Bool) throws -> LazyMapSequence<
        LazyFilterSequence<LazyMapSequence<[BackupID], CataloguedSet?>>, CataloguedSet
    > {
        let destination = destination
        let authenticator = authenticator
        return try destination.setIDsNewestFirst().filter(among).lazy.map { id -> CataloguedSet? in
            let verdict = destination.verdict(of: id)
            switch verdict {
            case .set(let manifest), .unusable(_, .some(let manifest)):
                var matches = true
                if case .unusable = verdict { matches = false }
                return CataloguedSet(
                    id: id, path: destination.location(of: id), manifest: manifest,
                    authentication: authenticator?.authenticate(manifest) ?? .notChecked, checksumMatches: matches)
            default:
                return nil
            }
        }.filter { $0 != nil }.map { $0! }
    }

    /// The newest set (complete or partial). With `now`, sets in the future (``isFuture(_:now:)``)
    /// are passed over while an older set exists, so one bad clock does not take over every later
    /// `--latest`. Unauthenticated sets are passed over while an authenticated one exists; when
    /// none is, the newest is returned (its drill then fails `set.manifest`, visibly).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the destination holds none; `io` when
    ///   it cannot be listed.
    public func latest(now: Date? = nil) throws -> CataloguedSet {
        let all = try newestFirst()
        let present = { (set: CataloguedSet) in now.map { !Self.isFuture(set.id, now: $0) } ?? true }
        let current = all.first { present($0) && $0.counts } ?? all.first(where: present)
        guard let set = current ?? all.first else {
            throw RestoreDrillError.setNotFound("no backup set in \(destination.location)")
        }
        return set
    }

    /// The newest complete set, or nil (the caller judges whether it is in the future).
    /// - Throws: as ``newestFirst()``.
    public func latestComplete() throws -> CataloguedSet? {
        try newestFirst().first { $0.isComplete }
    }

    /// The set with id `id` (e.g. `full_20251020_175019`).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when no set has that id.
    public func byID(_ id: String) throws -> CataloguedSet {
        guard let set = try newestFirst(among: { $0.description == id }).first(where: { _ in true }) else {
            throw RestoreDrillError.setNotFound("\(id) in \(destination.location)")
        }
        return set
    }

    /// A random set among those started within `days` days before `now` (`--random-within`).
    /// - Parameter days: the window, days (86 400 s each).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the window holds no set.
    public func randomWithin<G: RandomNumberGenerator>(days: Double, now: Date, using generator: inout G) throws
        -> CataloguedSet
    {
        let cutoff = now.addingTimeInterval(-days * 86400)
        let candidates = try sets().filter { $0.id.date >= cutoff && $0.id.date <= now && $0.counts }
        guard let set = candidates.randomElement(using: &generator) else {
            throw RestoreDrillError.setNotFound("no backup set within \(days) days in \(destination.location)")
        }
        return set
    }

    /// The newest complete set older than `id` (what `set.coverage` compares with), or nil.
    /// - Throws: as ``newestFirst()``.
    public func previousComplete(before id: BackupID) throws -> CataloguedSet? {
        try newestFirst(among: { $0 < id }).first { $0.isComplete }
    }
}
