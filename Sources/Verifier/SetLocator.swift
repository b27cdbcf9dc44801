import Destination
import DrillCore
import Foundation
import Vault

/// One backup set found in a destination: the catalogue's one view of a set
/// (``CataloguedSet``), under the name the verifier has always used.
public typealias LocatedSet = CataloguedSet

/// Finds backup sets in a local destination folder by path: thin adapters over the one
/// ``SetCatalogue`` (with a ``LocalDestination``), kept for callers that have a path, not a
/// ``Destination``. Commands use ``SetCatalogue`` over their injected destination.
///
/// Every function takes an optional ``SetAuthenticator``, with the catalogue's rules: an
/// unauthenticated set never counts, and ``byID(_:in:authenticator:)`` still finds one.
public enum SetLocator {
    static func catalogue(_ destination: String, _ authenticator: SetAuthenticator?) -> SetCatalogue {
        SetCatalogue(LocalDestination(path: destination), authenticator: authenticator)
    }

    /// The sets in `destination`, oldest first (newest last), each with its authentication (also
    /// those whose self-checksum fails: drilling one fails `set.manifest` visibly).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be listed.
    public static func sets(in destination: String, authenticator: SetAuthenticator? = nil) throws -> [LocatedSet] {
        try catalogue(destination, authenticator).sets()
    }

    /// The sets in `destination`, newest first, each manifest read only when the sequence reaches
    /// it (``SetCatalogue/newestFirst()``).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination cannot be listed.
    public static func newestFirst(in destination: String, authenticator: SetAuthenticator? = nil) throws
        -> LazyMapSequence<LazyFilterSequence<LazyMapSequence<[BackupID], LocatedSet?>>, LocatedSet>
    {
        try catalogue(destination, authenticator).newestFirst()
    }

    /// How far past `now` a set's id may lie before it counts as dated in the future: 5 minutes
    /// (``SetClock/futureSkew``, the one clock rule).
    public static let clockSkew: Double = SetClock.futureSkew

    /// ``SetCatalogue/latest(now:)`` of `destination`.
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the destination holds none; `io` when
    ///   it cannot be listed.
    public static func latest(in destination: String, now: Date? = nil, authenticator: SetAuthenticator? = nil)
        throws -> LocatedSet
    {
        try catalogue(destination, authenticator).latest(now: now)
    }

    /// True when the set's id lies more than ``clockSkew`` after `now` (``SetClock/isFuture(_:now:)``).
    public static func isFuture(_ id: BackupID, now: Date) -> Bool { SetClock.isFuture(id, now: now) }

    /// The newest complete set, or nil.
    /// - Throws: `io` when the destination cannot be listed.
    public static func latestComplete(in destination: String, authenticator: SetAuthenticator? = nil) throws
        -> LocatedSet?
    {
        try catalogue(destination, authenticator).latestComplete()
    }

    /// The set with id `id` (e.g. `full_20251020_175019`).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when no valid set has that id.
    public static func byID(_ id: String, in destination: String, authenticator: SetAuthenticator? = nil) throws
        -> LocatedSet
    {
        try catalogue(destination, authenticator).byID(id)
    }

    /// A random set among those started within `days` days before `now` (`--random-within`).
    /// - Parameter days: the window, days (86 400 s each).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the window holds no set.
    public static func randomWithin<G: RandomNumberGenerator>(
        days: Double, now: Date, in destination: String, authenticator: SetAuthenticator? = nil,
        using generator: inout G
    ) throws -> LocatedSet {
        try catalogue(destination, authenticator).randomWithin(days: days, now: now, using: &generator)
    }

    /// ``randomWithin(days:now:in:authenticator:using:)`` with the system's random generator.
    /// - Throws: as that function.
    public static func randomWithin(
        days: Double, now: Date, in destination: String, authenticator: SetAuthenticator? = nil
    ) throws -> LocatedSet {
        var generator = SystemRandomNumberGenerator()
        return try randomWithin(
            days: days, now: now, in: destination, authenticator: authenticator, using: &generator)
    }

    /// The newest complete set older than `id` (what `set.coverage` compares with), or nil.
    /// - Throws: `io` when the destination cannot be listed.
    public static func previousComplete(
        before id: BackupID, in destination: String, authenticator: SetAuthenticator? = nil
    ) throws -> LocatedSet? {
        try catalogue(destination, authenticator).previousComplete(before: id)
    }
}
