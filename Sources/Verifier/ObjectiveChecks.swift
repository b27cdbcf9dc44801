import Destination
import DrillCore
import Foundation
import Vault

/// `rpo`, `rto` and `set.coverage` (docs/ARCHITECTURE.md, "The checks").
enum ObjectiveChecks {
    /// The paths of `before` that are not in `now`, compared byte for byte (a database renamed
    /// from NFC to NFD spelling is gone under its old name: ``FileNameBytes``), in byte order.
    static func gone(_ before: [String], now: [String]) -> [String] {
        let present = Set(now.map(FileNameBytes.key))
        var seen = Set<[UInt8]>()
        return before.filter { !present.contains(FileNameBytes.key($0)) && seen.insert(FileNameBytes.key($0)).inserted }
            .sorted(by: FileNameBytes.precedes)
    }

    /// When a set's data was captured: its `started_at`, else the instant in its id.
    static func capturedAt(_ manifest: Manifest) -> Date {
        Timestamp.date(manifest.startedAt) ?? manifest.id.date
    }

    /// `rpo`: the newest complete set in the destination is younger than the objective at `now`.
    ///
    /// Without a destination (`--set PATH`) the destination's newest set is unknown: the check is
    /// a skip, and the returned age is this set's own age (an upper bound of the RPO when the set
    /// is complete), said so in the message.
    /// - Returns: the result and the age in seconds that goes into ``DrillResult/rpoSeconds``.
    /// - Parameter authenticator: with a vault password, unauthenticated sets never count as the
    ///   newest complete one.
    static func rpo(
        destination store: (any Destination)?, drilled: Manifest, objective: Double, now: Date,
        authenticator: SetAuthenticator? = nil
    ) -> (CheckResult, Double?) {
        guard let store else {
            let age = now.timeIntervalSince(capturedAt(drilled))
            return (
                .noSubject(
                    .rpo, subject: "set",
                    reason:
                        "no destination given (--set): the newest set is unknown; this set is \(Units.humanSeconds(age)) old (objective \(Units.humanSeconds(objective)))"
                ), age
            )
        }
        let destination = store.location
        do {
            // Ids are times: when any complete set is dated in the future, the newest one is.
            let newestComplete = try SetCatalogue(store, authenticator: authenticator).latestComplete()
            if let future = newestComplete, SetCatalogue.isFuture(future.id, now: now) {
                return (
                    CheckResult(
                        check: .rpo, subject: destination,
                        findings: [.rpoFutureSet(future.id.description, now: Timestamp.string(now))],
                        evidence: ["now \(Timestamp.string(now))"]), nil
                )
            }
            guard let newest = newestComplete else {
                return (CheckResult(check: .rpo, subject: destination, findings: [.rpoNoCompleteSet]), nil)
            }
            let age = now.timeIntervalSince(capturedAt(newest.manifest))
            let evidence = ["newest complete set \(newest.id)", "age \(Int(age)) s", "objective \(Int(objective)) s"]
            if age < objective {
                return (
                    CheckResult(
                        check: .rpo, subject: destination, verdict: .pass,
                        message:
                            "newest complete set \(newest.id) is \(Units.humanSeconds(age)) old, objective \(Units.humanSeconds(objective))",
                        evidence: evidence), age
                )
            }
            return (
                CheckResult(
                    check: .rpo, subject: destination,
                    findings: [.rpoExceeded(set: newest.id.description, age: age, objective: objective)],
                    evidence: evidence), age
            )
        } catch {
            let finding = Finding.rpoUnmeasurable(error)
            var out = CheckResult(check: .rpo, subject: destination, verdict: .error, message: finding.message)
            out.findings = [finding]
            return (out, nil)
        }
    }

    /// `rto`: the measured replay time is within the objective; a skip when the replay did not run.
    /// - Parameter fetchSeconds: for a drill of an off-site copy, the download's share of
    ///   `seconds` (which includes it), named in the evidence; nil for a local drill.
    static func rto(
        setID: String, seconds: Double?, objective: Double, skipReason: String, fetchSeconds: Double? = nil
    ) -> CheckResult {
        guard let seconds else { return .noSubject(.rto, subject: setID, reason: skipReason) }
        var evidence = ["measured \(String(format: "%.3f", seconds)) s", "objective \(Int(objective)) s"]
        if let fetchSeconds {
            evidence.insert(
                "download from the remote \(String(format: "%.3f", fetchSeconds)) s + replay "
                    + "\(String(format: "%.3f", seconds - fetchSeconds)) s", at: 1)
        }
        if seconds <= objective {
            return CheckResult(
                check: .rto, subject: setID, verdict: .pass,
                message: "restored in \(Units.humanSeconds(seconds))"
                    + (fetchSeconds.map { " (download \(Units.humanSeconds($0)) included)" } ?? "")
                    + ", objective \(Units.humanSeconds(objective))",
                evidence: evidence)
        }
        return CheckResult(
            check: .rto, subject: setID, findings: [.rtoExceeded(seconds: seconds, objective: objective)],
            evidence: evidence)
    }

    /// `set.coverage`: compared with the previous complete set in the same destination, nothing
    /// backed up is gone (a component, a database, a LaunchAgent) and no component's files or bytes
    /// dropped by more than `maxShrink` (a fraction). One result per component of either set.
    static func coverage(current: Manifest, previous: Manifest?, maxShrink: Double, skipReason: String) -> [CheckResult]
    {
        guard let previous else {
            return [.noSubject(.setCoverage, subject: current.id.description, reason: skipReason)]
        }
        let ids = Set(current.components.map(\.id)).union(previous.components.map(\.id)).sorted()
        var out: [CheckResult] = []
        for id in ids {
            let now = current.component(id)
            let before = previous.component(id)
            var findings: [Finding] = []
            var evidence = ["previous set \(previous.id)"]
            guard let before, before.status == .ok else {
                if now?.status == .ok {
                    out.append(
                        CheckResult(
                            check: .setCoverage, subject: id.rawValue, verdict: .pass,
                            message: "new since \(previous.id)", evidence: evidence))
                } else {
                    out.append(
                        .noSubject(
                            .setCoverage, subject: id.rawValue,
                            reason: "not backed up in this set nor in \(previous.id)"))
                }
                continue
            }
            guard let now, now.status == .ok else {
                let state = current.component(id).map { "\($0.status.rawValue): \($0.reason ?? "")" } ?? "absent"
                out.append(
                    CheckResult(
                        check: .setCoverage, subject: id.rawValue,
                        findings: [.coverageComponentGone(previous: previous.id.description, state: state)],
                        evidence: evidence))
                continue
            }
            evidence += [
                "files \(before.files) → \(now.files)", "bytes \(before.bytes) → \(now.bytes)",
            ]
            if before.files > 0, Double(before.files - now.files) / Double(before.files) > maxShrink {
                findings.append(.coverageFilesDropped(before: before.files, now: now.files))
            }
            if before.bytes > 0, Double(before.bytes - now.bytes) / Double(before.bytes) > maxShrink {
                findings.append(.coverageBytesDropped(before: before.bytes, now: now.bytes))
            }
            if id == .databases {
                let gone = Self.gone(previous.databases.map(\.path), now: current.databases.map(\.path))
                if !gone.isEmpty { findings.append(.coverageDatabasesGone(gone)) }
            }
            if id == .launchagents {
                let gone = Self.gone(previous.launchAgents.map(\.path), now: current.launchAgents.map(\.path))
                if !gone.isEmpty { findings.append(.coverageAgentsGone(gone)) }
            }
            if findings.isEmpty {
                out.append(
                    CheckResult(
                        check: .setCoverage, subject: id.rawValue, verdict: .pass,
                        message: "nothing gone since \(previous.id), shrink within \(Int(maxShrink * 100))%",
                        evidence: evidence))
            } else {
                var failed = CheckResult(
                    check: .setCoverage, subject: id.rawValue, verdict: .fail,
                    message: Finding.coverageMessage(subject: id.rawValue, findings, previous: previous.id.description),
                    evidence: evidence + findings.map(\.message))
                failed.findings = findings
                out.append(failed)
            }
        }
        return out
    }
}
