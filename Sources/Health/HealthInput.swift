import Destination
import DrillCore
import Foundation
import Vault

/// Every fact health is judged on, gathered once so evaluation is a pure function of it
/// (tests build one by hand with a fixed `now`).
public struct HealthInput: Sendable, Equatable {
    /// The newest complete set.
    public struct SetFact: Sendable, Equatable {
        public var id: BackupID
        /// Its manifest's `finished_at`, UTC.
        public var finishedAt: Date
        /// Sum of its artifact sizes, bytes.
        public var sizeBytes: Int64

        public init(id: BackupID, finishedAt: Date, sizeBytes: Int64) {
            self.id = id
            self.finishedAt = finishedAt
            self.sizeBytes = sizeBytes
        }
    }

    /// One run of a backup or a drill, from the history (or, for a backup with no history, from
    /// the newest set).
    public struct RunFact: Sendable, Equatable {
        /// When the run finished, UTC.
        public var time: Date
        public var status: HistoryEventStatus
        public var backupID: BackupID?
        public var drillID: DrillID?
        /// Measured restore time of a drill, seconds.
        public var rtoSeconds: Double?
        public var reportFolder: String?
        /// The history event it came from; nil when taken from a set.
        public var eventID: String?

        public init(
            time: Date, status: HistoryEventStatus, backupID: BackupID? = nil, drillID: DrillID? = nil,
            rtoSeconds: Double? = nil, reportFolder: String? = nil, eventID: String? = nil
        ) {
            self.time = time
            self.status = status
            self.backupID = backupID
            self.drillID = drillID
            self.rtoSeconds = rtoSeconds
            self.reportFolder = reportFolder
            self.eventID = eventID
        }

        init(_ event: HistoryEvent) {
            self.init(
                time: event.time, status: event.status, backupID: event.backupID, drillID: event.drillID,
                rtoSeconds: event.rtoSeconds, reportFolder: event.reportFolder, eventID: event.id)
        }
    }

    /// The instant health is judged at (injected clock).
    public var now: Date
    /// The destination folder.
    public var destination: String
    /// The newest complete set not in the future (its id at most ``SetClock/futureSkew``, five
    /// minutes, after `now`): the backup age is judged on it.
    public var newestComplete: SetFact?
    /// The newest complete set in the future (its id more than ``SetClock/futureSkew``, five
    /// minutes, after `now`: made on a machine whose clock was wrong), when there is one: it is
    /// reported, but it does not stand for a recent backup.
    public var futureComplete: SetFact?
    /// The newest set's id when the newest set is partial; nil when it is complete or there is none.
    public var newestPartial: BackupID?
    /// Number of usable sets (complete and partial).
    public var setCount: Int
    /// The newest drill whose verdict was pass.
    public var newestPassingDrill: RunFact?
    public var lastBackup: RunFact?
    public var lastDrill: RunFact?
    public var destinationExists: Bool
    public var destinationWritable: Bool
    /// Bytes available to this user on the destination's file system; nil when unknown.
    public var freeBytes: Int64?
    /// Folders named like sets that are not usable sets, as `name: reason`.
    public var rejectedFolders: [String]
    /// Names of sets whose manifest HMAC does not verify with the configured vault password.
    public var unauthenticatedSets: [String] = []
    /// History files that could not be read, as `file: message`.
    public var historyProblems: [String]
    /// What the history says of each configured off-site remote (``RemoteFact``), in
    /// configuration order; empty when none is configured.
    public var remotes: [RemoteFact] = []
    /// What a sync client left in a local destination (``SyncedFolderScan``); nil when not
    /// looked at (another kind of destination, or an input built by hand).
    public var sync: SyncedFolderScan?
    /// The proof ledger of the complete sets (``ProofLedger``, issue 17) from the history's
    /// `proof` events; nil when not looked at (an input built by hand).
    public var proof: ProofLedger?

    public init(
        now: Date, destination: String, newestComplete: SetFact? = nil, newestPartial: BackupID? = nil,
        setCount: Int = 0, newestPassingDrill: RunFact? = nil, lastBackup: RunFact? = nil, lastDrill: RunFact? = nil,
        destinationExists: Bool = true, destinationWritable: Bool = true, freeBytes: Int64? = nil,
        rejectedFolders: [String] = [], historyProblems: [String] = []
    ) {
        self.now = now
        self.destination = destination
        self.newestComplete = newestComplete
        self.newestPartial = newestPartial
        self.setCount = setCount
        self.newestPassingDrill = newestPassingDrill
        self.lastBackup = lastBackup
        self.lastDrill = lastDrill
        self.destinationExists = destinationExists
        self.destinationWritable = destinationWritable
        self.freeBytes = freeBytes
        self.rejectedFolders = rejectedFolders
        self.historyProblems = historyProblems
    }

    /// Gathers the facts of the local folder `destination` (``gather(_:now:authenticator:remotes:proofMaxAge:)``
    /// over a ``LocalDestination``).
    /// - Parameters:
    ///   - destination: absolute path of the destination.
    ///   - now: the instant of the check.
    ///   - authenticator: with a vault password, unauthenticated sets never count.
    ///   - proofMaxAge: the proof ledger's window, seconds (`proof.max_age`; default 4 weeks).
    /// - Throws: as ``gather(_:now:authenticator:remotes:proofMaxAge:)``.
    public static func gather(
        destination: String, now: Date, authenticator: SetAuthenticator? = nil,
        proofMaxAge: Double = RestoreDrillConfig.ProofSettings().maxAge
    ) throws -> HealthInput {
        try gather(
            LocalDestination(path: destination), now: now, authenticator: authenticator, proofMaxAge: proofMaxAge)
    }

    /// Gathers the facts of `destination`: its sets (by manifest, ``BackupSetScanner``), its
    /// history (``HistoryStore``), whether this user may write to it and its free bytes
    /// (``Destination/status()``: for a local folder `access(W_OK)`, which also sees a read-only
    /// mount, and `statvfs`: `f_bavail × f_frsize`).
    /// The last backup is the newest `backup` event; with no backup event at all, the newest set
    /// stands for it. Nothing is written.
    /// - Parameters:
    ///   - destination: where the sets are.
    ///   - now: the instant of the check.
    ///   - authenticator: with a vault password, unauthenticated sets never count (they are
    ///     rejected folders, which health warns about).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination or its events folder
    ///   exists but cannot be listed (health reports that as UNKNOWN).
    ///   - remotes: the configured off-site remotes' names (``RemoteFact/gather(name:events:)``).
    ///   - proofMaxAge: the proof ledger's window, seconds (`proof.max_age`; default 4 weeks).
    ///   - drillReports: this machine's drill reports (``LocalDrillReports/load(folder:now:)``): a drill
    ///     event counts only by ``DrillVouching`` (the history is in the destination, which others
    ///     may write to), for the drill facts and the proof ledger alike.
    public static func gather(
        _ destination: any Destination, now: Date, authenticator: SetAuthenticator? = nil, remotes: [String] = [],
        proofMaxAge: Double = RestoreDrillConfig.ProofSettings().maxAge,
        drillReports: [String: LocalDrillReport]? = nil
    ) throws -> HealthInput {
        let scan = try BackupSetScanner.scan(destination, authenticator: authenticator)
        let log = try HistoryStore(destination).load()
        var input = assemble(
            destination, now: now, scan: scan, log: log, proofMaxAge: proofMaxAge, drillReports: drillReports)
        // The ledger counts only the proofs the history can vouch for (``HistoryStore/eventsForProof()``);
        // one left out is a history problem health reports.
        let forProof = try HistoryStore(destination).eventsForProof(drillReports: drillReports ?? [:], now: now)
        if input.proof != nil {
            input.proof = ProofLedger.build(
                sets: scan.sets.filter { $0.status == .complete }.map { ($0.id, $0.finishedAt, $0.manifest) },
                events: forProof.events, now: now, maxAge: proofMaxAge)
        }
        input.historyProblems += forProof.ignored
        input.remotes = remotes.map { RemoteFact.gather(name: $0, events: log.events) }
        if let local = destination as? LocalDestination {
            input.sync = SyncedFolderScan.scan(destination: local.location)
        }
        return input
    }

    /// The facts of an already made scan and history log, plus the local folder's own state.
    public static func assemble(
        destination: String, now: Date, scan: DestinationScan, log: HistoryLog,
        proofMaxAge: Double = RestoreDrillConfig.ProofSettings().maxAge
    ) -> HealthInput {
        assemble(LocalDestination(path: destination), now: now, scan: scan, log: log, proofMaxAge: proofMaxAge)
    }

    /// The facts of an already made scan and history log, plus the destination's own state
    /// (``Destination/status()``).
    ///
    /// The clock rule is the catalogue's (``SetClock``): a complete set whose id lies more than
    /// ``SetClock/futureSkew`` (5 minutes) after `now` is in the future: it is reported, and the
    /// backup age is judged on the newest complete set that is not. The proof ledger covers every
    /// complete set (``ProofLedger/build(sets:events:now:maxAge:remote:)`` with window
    /// `proofMaxAge`, seconds).
    ///
    /// A drill event counts only by ``DrillVouching`` with `drillReports` (none given: only its
    /// clock rules); each left out is a history problem (`drill event …`).
    public static func assemble(
        _ destination: any Destination, now: Date, scan: DestinationScan, log: HistoryLog,
        proofMaxAge: Double = RestoreDrillConfig.ProofSettings().maxAge,
        drillReports: [String: LocalDrillReport]? = nil
    ) -> HealthInput {
        var input = HealthInput(now: now, destination: destination.location)
        let complete = scan.sets.filter { $0.status == .complete }
        if let newest = complete.last(where: { !SetClock.isFuture($0.id, now: now) }) {
            input.newestComplete = SetFact(id: newest.id, finishedAt: newest.finishedAt, sizeBytes: newest.sizeBytes)
        }
        if let future = complete.last(where: { SetClock.isFuture($0.id, now: now) }) {
            input.futureComplete = SetFact(id: future.id, finishedAt: future.finishedAt, sizeBytes: future.sizeBytes)
        }
        if let newest = scan.sets.last, newest.status == .partial { input.newestPartial = newest.id }
        input.setCount = scan.sets.count
        let events = log.events
        let believed = DrillVouching(reports: drillReports ?? [:]).believed(
            events, now: now, destination: destination.location)
        let ignoredDrills = believed.problems
        let drills = believed.events.filter { $0.kind == .drill }
        input.newestPassingDrill = drills.last { $0.status == .pass }.map(RunFact.init)
        input.lastDrill = drills.last.map(RunFact.init)
        if let backup = events.last(where: { $0.kind == .backup }) {
            input.lastBackup = RunFact(backup)
        } else if let newest = scan.sets.last {
            input.lastBackup = RunFact(
                time: newest.finishedAt, status: newest.status == .complete ? .complete : .partial, backupID: newest.id)
        }
        let status = destination.status()
        input.destinationExists = status.exists
        input.destinationWritable = status.writable
        input.freeBytes = status.exists ? status.freeBytes : nil
        input.rejectedFolders = scan.rejected.filter { $0.unauthenticated != true }.map { "\($0.name): \($0.reason)" }
        input.unauthenticatedSets = scan.rejected.filter { $0.unauthenticated == true }.map(\.name)
        input.historyProblems = log.problems.map { "\($0.file): \($0.message)" } + ignoredDrills
        input.proof = ProofLedger.build(
            sets: complete.map { ($0.id, $0.finishedAt, $0.manifest) }, events: events, now: now, maxAge: proofMaxAge)
        return input
    }
}
