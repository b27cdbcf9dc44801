import Destination
import DrillCore
import Foundation
import Health
import Vault

/// `restore-drill proof`: the proof ledger of the destination's complete sets (``ProofLedger``,
/// docs/PROOF.md, "The ledger"). Reads the sets' manifests and the history; writes nothing and
/// never reaches a remote.
public enum ProofJob {
    /// What `proof` prints: the ledger, the destination, and the history files it could not read.
    ///
    /// `--json`: `{"format": "restore-drill/proof", "format_version": 1, "destination": "/…",
    /// "now": "…Z", "max_age_seconds": 2419200, "remote": null, "destination_bytes": …,
    /// "proven_bytes": …, "proven_ratio": 0.75, "all_proven": false, "history_problems": [],
    /// "sets": [ … ]}`; each set and part as ``ProofLedger`` encodes them.
    public struct Report: Encodable, Sendable {
        /// The value of `format`.
        public static let formatName = "restore-drill/proof"
        /// The `format_version` this build writes.
        public static let formatVersion = 1

        /// The destination's location (for a local folder its absolute path).
        public var destination: String
        /// The ledger of the complete sets that count, oldest first.
        public var ledger: ProofLedger
        /// History files that could not be read, as `file: message` (their proofs do not count).
        public var historyProblems: [String]

        /// Text for people (``ProofLedger/text(destination:parts:)``), then a note per unreadable
        /// history file.
        public func text(parts: Bool) -> String {
            ledger.text(destination: destination, parts: parts)
                + historyProblems.map { "note: history event unreadable (its proofs do not count): \($0)\n" }.joined()
        }

        /// 0 when every set is proven, 1 when one is not.
        public var exitStatus: ExitStatus { ledger.allProven ? .success : .findings }

        enum CodingKeys: String, CodingKey {
            case format, destination, now, remote, sets
            case formatVersion = "format_version"
            case maxAge = "max_age_seconds"
            case destinationBytes = "destination_bytes"
            case provenBytes = "proven_bytes"
            case provenRatio = "proven_ratio"
            case allProven = "all_proven"
            case historyProblems = "history_problems"
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Self.formatName, forKey: .format)
            try c.encode(Self.formatVersion, forKey: .formatVersion)
            try c.encode(destination, forKey: .destination)
            try c.encode(Timestamp.string(ledger.now), forKey: .now)
            try c.encode(ledger.maxAge, forKey: .maxAge)
            try c.encode(ledger.remote, forKey: .remote)
            try c.encode(ledger.destinationBytes, forKey: .destinationBytes)
            try c.encode(ledger.provenBytes, forKey: .provenBytes)
            try c.encode(ledger.provenRatio, forKey: .provenRatio)
            try c.encode(ledger.allProven, forKey: .allProven)
            try c.encode(historyProblems, forKey: .historyProblems)
            try c.encode(ledger.sets, forKey: .sets)
        }
    }

    /// Builds the ledger of `destination`'s complete sets that count (``BackupSetScanner``: with a
    /// vault password configured, unauthenticated sets are left out) from its history, with the
    /// window `config.proof.maxAge`.
    /// - Parameters:
    ///   - config: the configuration (`destination`, `proof.max_age`).
    ///   - now: the instant to judge at.
    ///   - authenticator: with a vault password configured, unauthenticated sets never count.
    ///   - destination: where the sets and the history are; nil for the ``LocalDestination`` of
    ///     `config.destination`.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination or its events folder
    ///   exists but cannot be listed.
    public static func run(
        config: RestoreDrillConfig, now: Date, authenticator: SetAuthenticator? = nil,
        destination: (any Destination)? = nil
    ) throws -> Report {
        let store = destination ?? LocalDestination(path: config.destination)
        // A destination that is not there has no sets to be proven: that is no 100 % (exit 3).
        if let local = store as? LocalDestination, !local.status().exists {
            throw RestoreDrillError.io(path: local.location, message: "the destination does not exist")
        }
        let scan = try BackupSetScanner.scan(store, authenticator: authenticator)
        let history = try HistoryStore(store).eventsForProof(
            drillReports: LocalDrillReports.load(folder: config.reports.folder, now: now), now: now)
        let ledger = ProofLedger.build(
            sets: scan.sets.filter { $0.status == .complete }.map { ($0.id, $0.finishedAt, $0.manifest) },
            events: history.events, now: now, maxAge: config.proof.maxAge)
        return Report(
            destination: store.location, ledger: ledger,
            historyProblems: history.problems.map { "\($0.file): \($0.message)" } + history.ignored)
    }
}
