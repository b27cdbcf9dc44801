import Destination
import DrillCore
import Foundation
import Health
import Vault
import Verifier

/// `restore-drill check [ID | --all]`: `set.manifest` and `set.artifacts` for retained sets.
public struct CheckJob: Sendable {
    public let config: RestoreDrillConfig
    public let clock: any WallClock
    /// With a vault password configured: which sets are authenticated (``SetTrust``).
    public var authenticator: SetAuthenticator?
    /// Where the sets are (picked, opened and read back through it; the history event too).
    /// Defaults to the ``LocalDestination`` of `config.destination`.
    public var destination: any Destination

    public init(config: RestoreDrillConfig, clock: any WallClock) {
        self.config = config
        self.clock = clock
        destination = LocalDestination(path: config.destination)
    }

    /// The results per set (`--json`: format `restore-drill/check`).
    public struct Outcome: Codable, Sendable {
        public var format = "restore-drill/check"
        public var formatVersion = 1
        public var sets: [SetResult]

        public struct SetResult: Codable, Sendable {
            public var id: String
            public var verdict: Verdict
            public var checks: [CheckResult]
        }

        enum CodingKeys: String, CodingKey {
            case format, sets
            case formatVersion = "format_version"
        }

        /// True when every set passed.
        public var passed: Bool { sets.allSatisfy { $0.verdict == .pass } }

        public var text: String {
            guard !sets.isEmpty else { return "no sets to check" }
            return sets.map { s in
                var lines = ["\(s.id): \(s.verdict == .pass ? "PASS" : "FAIL") (\(s.checks.count) checks)"]
                for c in s.checks.problems {
                    lines.append("  \(c.verdict.rawValue.uppercased()) \(c.check.rawValue) \(c.subject): \(c.message)")
                }
                return lines.joined(separator: "\n")
            }.joined(separator: "\n")
        }
    }

    /// Reads back one set (`id`), the newest (`id` nil, `all` false), or every set (`all`).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)``.
    public func run(id: String?, all: Bool) throws -> Outcome {
        let sets: [CataloguedSet]
        if all {
            sets = try SetCatalogue(destination).sets()
        } else if let id {
            sets = [try SetCatalogue(destination).byID(id)]
        } else {
            sets = [try SetCatalogue(destination, authenticator: authenticator).latest(now: clock.now())]
        }
        var outcome = Outcome(sets: [])
        let history = HistoryStore(destination)
        for set in sets {
            let opened = try destination.openSet(id: set.id)
            let checks = SetReadBack.check(setPath: opened.folder)
            opened.close()
            let verdict = Verdict.rollup(checks.map(\.verdict), requirePass: false)
            outcome.sets.append(.init(id: set.id.description, verdict: verdict, checks: checks))
            _ = try? history.append(
                HistoryEvent(
                    kind: .check, time: clock.now(), status: verdict == .pass ? .pass : .fail, backupID: set.id,
                    details: ["checks": String(checks.count)]))
        }
        return outcome
    }
}

/// `restore-drill health`: the destination's health against the configured thresholds.
public enum HealthJob {
    /// Gathers and evaluates; an unreadable destination is UNKNOWN, not a throw.
    /// - Parameters:
    ///   - authenticator: with a vault password configured, unauthenticated sets never count.
    ///   - destination: where the sets and the history are; nil for the ``LocalDestination`` of
    ///     `config.destination`.
    public static func run(
        config: RestoreDrillConfig, now: Date, authenticator: SetAuthenticator? = nil,
        destination: (any Destination)? = nil
    ) -> HealthReport {
        let store = destination ?? LocalDestination(path: config.destination)
        do {
            let input = try HealthInput.gather(store, now: now, authenticator: authenticator)
            return HealthReport.evaluate(input, thresholds: config.health)
        } catch {
            return HealthReport.unknown(String(describing: error), destination: store.location, now: now)
        }
    }
}

/// `restore-drill report sla`: the SLA scorecard over a window.
public enum SLAJob {
    /// - Parameter since: the window, seconds back from `now`.
    /// - Throws: history or destination read errors, a bad time zone.
    /// - Parameter authenticator: with a vault password configured, unauthenticated sets never count.
    /// - Parameter destination: where the sets and the history are; nil for the
    ///   ``LocalDestination`` of `config.destination`.
    public static func run(
        config: RestoreDrillConfig, now: Date, since: Double, authenticator: SetAuthenticator? = nil,
        destination: (any Destination)? = nil
    ) throws -> SLAScorecard {
        let store = destination ?? LocalDestination(path: config.destination)
        let events = try HistoryStore(store).events()
        let scan = try BackupSetScanner.scan(store, authenticator: authenticator)
        let zone = config.retention.timeZone.flatMap(TimeZone.init(identifier:)) ?? .current
        return SLAScorecard.compute(
            events: events, sets: scan.sets, since: since, now: now, timeZone: zone, objectives: config.objectives)
    }
}
