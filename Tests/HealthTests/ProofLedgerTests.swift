import Destination
import DrillCore
import Foundation
import Testing

@testable import Health

/// Manifests and proof events made by hand for the ledger's rules (issue 17, docs/PROOF.md,
/// "The ledger").
enum LedgerFixture {
    static let week: Double = 7 * 86400
    static let maxAge: Double = 4 * week
    static let now = date("2025-10-20T12:00:00Z")

    /// A 64-hex object name from a short tag (`"a"` → `aaaa…`).
    static func hex(_ tag: Character) -> String { String(repeating: tag, count: 64) }

    /// A set finished `ageDays` before ``now`` (its id 10 minutes before that).
    static func id(daysAgo: Double, sequence: Int = 1) -> BackupID {
        BackupID(date: now.addingTimeInterval(-daysAgo * 86400 - 600), sequence: sequence)
    }

    /// A complete manifest with one code part and one database part. Format 1: `code.tar.gz` and
    /// `databases/0001.db` (files of the set); format 2: a pack and a database object named by
    /// `packObject`/`dbObject` (so two sets can share one).
    static func manifest(
        _ id: BackupID, format: Int = 1, packBytes: Int64 = 1000, dbBytes: Int64 = 300, packObject: Character = "a",
        dbObject: Character = "d"
    ) -> Manifest {
        var m = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "test", home: "/home/a", root: "/home/a/r")
        m.formatVersion = format
        m.status = .complete
        m.finishedAt = Timestamp.string(id.date.addingTimeInterval(600))
        let pack = format == 1 ? "code.tar.gz" : "code/pack-0001.tar.gz"
        m.artifacts = [
            ArtifactRecord(
                path: pack, component: .code, kind: format == 1 ? .archive : .pack, size: packBytes,
                sha256: hex(packObject)),
            ArtifactRecord(
                path: "databases/0001.db", component: .databases, kind: .database, size: dbBytes,
                sha256: hex(dbObject)),
            ArtifactRecord(
                path: "restore.sh", component: .code, kind: .script, size: 50, sha256: hex("5")),
        ]
        m.databases = [
            DatabaseRecord(
                base: .home, path: "data/app.db", size: dbBytes, sha256: hex("e"), artifact: "databases/0001.db",
                chunks: [], tables: [], mode: 0o600)
        ]
        return m
    }

    static func entry(_ m: Manifest) -> (id: BackupID, finishedAt: Date, manifest: Manifest) {
        (m.id, Timestamp.date(m.finishedAt)!, m)
    }

    /// A `proof` event of set `id` at `time` proving `parts` (`(kind, name, bytes)`).
    static func proof(
        _ id: BackupID, at time: Date, drill: DrillID? = nil, parts: [(RestorePart.Kind, String, Int64)],
        checks: [String] = ["set.artifacts", "restore.script", "restore.tree"], details: [String: String] = [:],
        kind: HistoryEventKind = .proof
    ) -> HistoryEvent {
        var event = HistoryEvent(
            kind: kind, time: time, status: .pass, backupID: id,
            drillID: drill ?? DrillID(date: time.addingTimeInterval(-60), sequence: 1), details: details)
        event.parts = parts.map { ProvenPart(kind: $0.0, name: $0.1, bytes: $0.2, checks: checks) }
        return event
    }

    /// Both parts of a format-1 ``manifest(_:format:packBytes:dbBytes:packObject:dbObject:)``.
    static let bothParts: [(RestorePart.Kind, String, Int64)] = [
        (.pack, "code.tar.gz", 1000), (.database, "data/app.db", 300),
    ]

    static func daysAgo(_ days: Double) -> Date { now.addingTimeInterval(-days * 86400) }
}

@Suite struct ProofLedgerTests {
    typealias F = LedgerFixture

    @Test func partsFollowTheScriptOrderAndANeverProvenSetIsUnprovenSinceItFinished() throws {
        let set = F.manifest(F.id(daysAgo: 10))
        let ledger = ProofLedger.build(sets: [F.entry(set)], events: [], now: F.now, maxAge: F.maxAge)
        let status = try #require(ledger.sets.first)
        #expect(status.parts.map(\.part.key) == ["pack:code.tar.gz", "database:data/app.db"])
        #expect(status.parts.map(\.part.number) == [1, 2])
        #expect(status.parts.allSatisfy { $0.lastProof == nil && $0.ageSeconds == nil && !$0.proven })
        #expect(!status.proven)
        #expect(status.bytes == 1300)
        #expect(status.provenBytes == 0)
        // Finished 10 days ago (the id is 10 minutes before the finish).
        #expect(status.unprovenSeconds == 10 * 86400)
        #expect(ledger.destinationBytes == 1300, "the restore script belongs to no part")
        #expect(ledger.provenBytes == 0)
        #expect(ledger.provenRatio == 0)
        #expect(!ledger.allProven)
    }

    @Test func theNewestProofWinsWhateverTheEventOrder() throws {
        let id = F.id(daysAgo: 40)
        let older = F.proof(id, at: F.daysAgo(30), parts: F.bothParts, checks: ["old.check"])
        let newer = F.proof(id, at: F.daysAgo(2), parts: [(.pack, "code.tar.gz", 1000)], checks: ["new.check"])
        for events in [[older, newer], [newer, older]] {
            let ledger = ProofLedger.build(
                sets: [F.entry(F.manifest(id))], events: events, now: F.now, maxAge: F.maxAge)
            let parts = try #require(ledger.sets.first).parts
            #expect(parts[0].lastProof == F.daysAgo(2))
            #expect(parts[0].drillID == newer.drillID)
            #expect(parts[0].checks == ["new.check"])
            #expect(abs((parts[0].ageSeconds ?? 0) - 2 * 86400) < 1e-6)
            #expect(parts[0].proven)
            // The database's newest proof is the older event: 30 days > 28, not proven.
            #expect(parts[1].lastProof == F.daysAgo(30))
            #expect(parts[1].checks == ["old.check"])
            #expect(!parts[1].proven)
            #expect(ledger.sets[0].unprovenSeconds == 30 * 86400)
            #expect(ledger.sets[0].provenBytes == 1000)
        }
    }

    @Test func aProofOfAnotherSizeOrAnotherSetOrKindDoesNotCount() throws {
        let id = F.id(daysAgo: 5)
        let other = F.id(daysAgo: 6)
        let events = [
            // Same kind:name, another size: another part.
            F.proof(id, at: F.daysAgo(1), parts: [(.pack, "code.tar.gz", 999)]),
            // Same part, another set.
            F.proof(other, at: F.daysAgo(1), parts: [(.database, "data/app.db", 300)]),
            // Same part, another name.
            F.proof(id, at: F.daysAgo(1), parts: [(.database, "data/other.db", 300)]),
            // A sampled drill's own event with parts is not a proof.
            F.proof(id, at: F.daysAgo(1), parts: F.bothParts, kind: .sampledDrill),
        ]
        let ledger = ProofLedger.build(sets: [F.entry(F.manifest(id))], events: events, now: F.now, maxAge: F.maxAge)
        #expect(ledger.sets[0].parts.allSatisfy { $0.lastProof == nil })
        #expect(!ledger.sets[0].proven)
    }

    /// A drill cannot start before its set was made: a proof naming an older drill id (one taken
    /// at the chain's word because its report is pruned) is a borrowed one and proves nothing.
    @Test func aProofNamingADrillOlderThanItsSetIsIgnored() throws {
        let id = F.id(daysAgo: 2)
        let before = DrillID(date: id.date.addingTimeInterval(-86400))
        let after = DrillID(date: id.date.addingTimeInterval(3600))
        let borrowed = F.proof(id, at: F.daysAgo(1), drill: before, parts: F.bothParts)
        let ledger = ProofLedger.build(
            sets: [F.entry(F.manifest(id))], events: [borrowed], now: F.now, maxAge: F.maxAge)
        #expect(!ledger.sets[0].proven)
        let real = F.proof(id, at: F.daysAgo(1), drill: after, parts: F.bothParts)
        let proven = ProofLedger.build(sets: [F.entry(F.manifest(id))], events: [real], now: F.now, maxAge: F.maxAge)
        #expect(proven.sets[0].proven)
    }

    @Test func theWindowEdgeCountsAndOneSecondPastDoesNot() throws {
        let id = F.id(daysAgo: 60)
        for (age, proven) in [(F.maxAge, true), (F.maxAge + 1, false)] {
            let event = F.proof(id, at: F.now.addingTimeInterval(-age), parts: F.bothParts)
            let ledger = ProofLedger.build(
                sets: [F.entry(F.manifest(id))], events: [event], now: F.now, maxAge: F.maxAge)
            let set = ledger.sets[0]
            #expect(set.parts.allSatisfy { $0.proven == proven && $0.ageSeconds == age }, "age \(age)")
            #expect(set.proven == proven)
            #expect(set.unprovenSeconds == (proven ? 0 : age))
            #expect(ledger.provenRatio == (proven ? 1 : 0))
        }
    }

    @Test func eventsFromTheFutureDoNotCountBeyondFiveMinutes() throws {
        let id = F.id(daysAgo: 3)
        let ahead = F.proof(id, at: F.now.addingTimeInterval(301), parts: [(.pack, "code.tar.gz", 1000)])
        let skew = F.proof(id, at: F.now.addingTimeInterval(299), parts: [(.database, "data/app.db", 300)])
        let ledger = ProofLedger.build(
            sets: [F.entry(F.manifest(id))], events: [ahead, skew], now: F.now, maxAge: F.maxAge)
        let parts = ledger.sets[0].parts
        #expect(parts[0].lastProof == nil, "301 s ahead does not count")
        #expect(parts[1].lastProof == F.now.addingTimeInterval(299))
        #expect(parts[1].ageSeconds == 0, "skew within 5 minutes is age 0")
        #expect(parts[1].proven)
        #expect(!ledger.sets[0].proven)
    }

    @Test func aSetIsProvenAcrossTwoProofsOfDifferentParts() throws {
        let id = F.id(daysAgo: 20)
        let first = F.proof(id, at: F.daysAgo(14), parts: [(.pack, "code.tar.gz", 1000)])
        let second = F.proof(id, at: F.daysAgo(7), parts: [(.database, "data/app.db", 300)])
        let ledger = ProofLedger.build(
            sets: [F.entry(F.manifest(id))], events: [first, second], now: F.now, maxAge: F.maxAge)
        let set = ledger.sets[0]
        #expect(set.proven)
        #expect(set.unprovenSeconds == 0)
        #expect(set.parts.map(\.drillID) == [first.drillID, second.drillID])
        #expect(set.oldestProof == F.daysAgo(14))
        #expect(set.provenBytes == 1300)
        #expect(ledger.allProven)
        #expect(ledger.provenRatio == 1)
    }

    @Test func aSharedObjectCountsOnceInTheDestinationAndIsProvenOnlyForTheSetThatRestoredIt() throws {
        // Format 2: both sets read pack object "a" (1000 bytes); each has its own database object.
        let old = F.manifest(F.id(daysAgo: 9), format: 2, dbObject: "b")
        let new = F.manifest(F.id(daysAgo: 2), format: 2, dbObject: "c")
        let proof = F.proof(new.id, at: F.daysAgo(1), parts: [(.pack, "code/pack-0001.tar.gz", 1000)])
        let ledger = ProofLedger.build(
            sets: [F.entry(old), F.entry(new)], events: [proof], now: F.now, maxAge: F.maxAge)
        #expect(ledger.destinationBytes == 1000 + 300 + 300, "object a once")
        #expect(ledger.provenBytes == 1000, "read and proven by the newer set's own script")
        #expect(abs(ledger.provenRatio - 1000.0 / 1600.0) < 1e-12)
        // The older set never had its own script restore the pack: not proven there.
        #expect(ledger.sets[0].parts[0].lastProof == nil)
        #expect(ledger.sets[0].provenBytes == 0)
        #expect(ledger.sets[1].parts[0].proven)
        #expect(ledger.sets[1].provenBytes == 1000)
        #expect(ledger.sets.map(\.proven) == [false, false])
    }

    @Test func offsiteProofsCountOnlyForTheirRemote() throws {
        let id = F.id(daysAgo: 3)
        let offsite = F.proof(
            id, at: F.daysAgo(1), parts: F.bothParts, details: ["copy": "offsite", "remote": "onedrive"])
        let local = ProofLedger.build(
            sets: [F.entry(F.manifest(id))], events: [offsite], now: F.now, maxAge: F.maxAge)
        #expect(!local.sets[0].proven)
        let remote = ProofLedger.build(
            sets: [F.entry(F.manifest(id))], events: [offsite], now: F.now, maxAge: F.maxAge, remote: "onedrive")
        #expect(remote.sets[0].proven)
        #expect(remote.remote == "onedrive")
        let otherRemote = ProofLedger.build(
            sets: [F.entry(F.manifest(id))], events: [offsite], now: F.now, maxAge: F.maxAge, remote: "s3")
        #expect(!otherRemote.sets[0].proven)
    }

    @Test func noSetsIsAllProvenWithRatioOne() {
        let ledger = ProofLedger.build(sets: [], events: [], now: F.now, maxAge: F.maxAge)
        #expect(ledger.sets.isEmpty)
        #expect(ledger.allProven)
        #expect(ledger.destinationBytes == 0)
        #expect(ledger.provenRatio == 1)
    }

    @Test func jsonRoundTripsWithTimesAsISO8601() throws {
        let id = F.id(daysAgo: 20)
        let ledger = ProofLedger.build(
            sets: [F.entry(F.manifest(id))],
            events: [F.proof(id, at: F.daysAgo(7), parts: [(.pack, "code.tar.gz", 1000)])], now: F.now,
            maxAge: F.maxAge)
        let data = try JSONEncoder().encode(ledger)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["now"] as? String == "2025-10-20T12:00:00.000Z")
        #expect(object["max_age_seconds"] as? Double == F.maxAge)
        let set = try #require((object["sets"] as? [[String: Any]])?.first)
        let parts = try #require(set["parts"] as? [[String: Any]])
        #expect(parts[0]["last_proof"] as? String == "2025-10-13T12:00:00.000Z")
        #expect(parts[1]["last_proof"] is NSNull)
        #expect(try JSONDecoder().decode(ProofLedger.self, from: data) == ledger)
    }

    @Test func textShowsTheShareAndEveryPart() throws {
        let id = F.id(daysAgo: 20)
        let event = F.proof(id, at: F.daysAgo(7), parts: [(.pack, "code.tar.gz", 1000)])
        let ledger = ProofLedger.build(
            sets: [F.entry(F.manifest(id))], events: [event], now: F.now, maxAge: F.maxAge)
        let text = ledger.text(destination: "/backups", parts: true)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("restore-drill proof: 0 of 1 sets proven within 28d (/backups, "))
        #expect(lines[1].hasPrefix("proven share: 76.9% of the destination's bytes"))
        #expect(lines[2].hasPrefix("\(id)  age 20d  parts 1/2  "))
        #expect(lines[2].hasSuffix("oldest proof never  UNPROVEN"))
        #expect(lines[3].contains("pack") && lines[3].contains("code.tar.gz  2025-10-13T12:00:00.000Z (7d ago)"))
        #expect(lines[3].hasSuffix(event.drillID!.description))
        #expect(lines[4].contains("data/app.db") && lines[4].hasSuffix("never"))
    }
}

@Suite struct ProofHealthTests {
    typealias F = LedgerFixture

    /// A health input with only the ledger of one set unproven for `seconds`.
    static func report(unprovenFor seconds: Double) -> HealthReport {
        let id = F.id(daysAgo: 200)
        let event = F.proof(id, at: F.now.addingTimeInterval(-seconds), parts: F.bothParts)
        var input = HealthInput(now: F.now, destination: "/backups")
        input.proof = ProofLedger.build(sets: [F.entry(F.manifest(id))], events: [event], now: F.now, maxAge: F.maxAge)
        return HealthReport.evaluate(input, thresholds: .init())
    }

    @Test func aSetUnprovenPastTheWindowWarnsAndPastTwiceItIsCritical() throws {
        let cases: [(Double, HealthStatus)] = [
            (F.maxAge, .ok), (F.maxAge + 1, .warning), (2 * F.maxAge, .warning), (2 * F.maxAge + 1, .critical),
        ]
        for (seconds, expected) in cases {
            let findings = Self.report(unprovenFor: seconds).findings.filter { $0.code == "proof_age" }
            #expect(findings.count == 1)
            #expect(findings.first?.status == expected, "unproven for \(seconds) s")
            if expected != .ok {
                let message = try #require(findings.first?.message)
                #expect(message.contains("2 of 2 parts not proven within 28d: code.tar.gz, data/app.db"))
                #expect(findings.first?.subject == F.id(daysAgo: 200).description)
            }
        }
    }

    @Test func noFindingAndNoRatioWithoutASet() {
        var input = HealthInput(now: F.now, destination: "/backups")
        input.proof = ProofLedger.build(sets: [], events: [], now: F.now, maxAge: F.maxAge)
        let report = HealthReport.evaluate(input, thresholds: .init())
        #expect(!report.findings.contains { $0.code == "proof_age" })
        #expect(report.metrics.provenBytesRatio == nil)
    }

    @Test func gatherReadsProofEventsFromTheHistory() throws {
        let dest = try TempDestination()
        // Finished 10 days before now; its code.tar.gz (1000 bytes) proven 2 days ago.
        let id = BackupID("full_20251010_115000")!
        try dest.writeSet(id, finishedAt: date("2025-10-10T12:00:00Z"))
        try dest.writeSet(BackupID("full_20251011_115000")!, status: .partial)
        let drillID = DrillID(date: F.daysAgo(2))
        let store = HistoryStore(destination: dest.path)
        try store.append(HistoryEvent(kind: .drill, time: F.daysAgo(2), status: .pass, backupID: id, drillID: drillID))
        var event = HistoryEvent(kind: .proof, time: F.daysAgo(2), status: .pass, backupID: id, drillID: drillID)
        event.parts = [
            ProvenPart(
                kind: .pack, name: "code.tar.gz", bytes: 1000,
                checks: ["set.manifest", "restore.script", "restore.tree"])
        ]
        try store.append(event)

        let input = try HealthInput.gather(destination: dest.path, now: F.now, proofMaxAge: 7 * 86400)
        let ledger = try #require(input.proof)
        #expect(ledger.sets.map(\.id) == [id], "only complete sets")
        #expect(ledger.maxAge == 7 * 86400)
        #expect(ledger.sets[0].proven)
        #expect(ledger.provenRatio == 1)
        // With a 1-day window the 2-day-old proof is past it: unproven for 2 days > 1 day.
        let strict = try HealthInput.gather(destination: dest.path, now: F.now, proofMaxAge: 86400)
        let report = HealthReport.evaluate(strict, thresholds: .init())
        #expect(report.findings.first { $0.code == "proof_age" }?.status == .warning)
        #expect(report.metrics.provenBytesRatio == 0)
    }

    /// A proof the history cannot vouch for proves nothing, and health says why: one dropped into
    /// the events folder by hand (not chained), one naming a drill the history does not have, one
    /// whose checks lack the script's.
    @Test func proofsTheHistoryCannotVouchForAreIgnoredAndReported() throws {
        let dest = try TempDestination()
        let id = BackupID("full_20251010_115000")!
        try dest.writeSet(id, finishedAt: date("2025-10-10T12:00:00Z"))
        let store = HistoryStore(destination: dest.path)
        let part = ProvenPart(
            kind: .pack, name: "code.tar.gz", bytes: 1000, checks: ["set.manifest", "restore.script", "restore.tree"])
        // Chained, but no drill of that id.
        var orphan = HistoryEvent(
            kind: .proof, time: F.daysAgo(2), status: .pass, backupID: id, drillID: DrillID(date: F.daysAgo(2)))
        orphan.parts = [part]
        try store.append(orphan)
        // Chained with its drill, but the checks lack restore.script.
        let drillID = DrillID(date: F.daysAgo(1))
        try store.append(HistoryEvent(kind: .drill, time: F.daysAgo(1), status: .pass, backupID: id, drillID: drillID))
        var thin = HistoryEvent(kind: .proof, time: F.daysAgo(1), status: .pass, backupID: id, drillID: drillID)
        thin.parts = [ProvenPart(kind: .pack, name: "code.tar.gz", bytes: 1000, checks: ["set.manifest"])]
        try store.append(thin)
        // Right in every field, but written into the folder by hand: not chained.
        var forged = HistoryEvent(kind: .proof, time: F.daysAgo(1), status: .pass, backupID: id, drillID: drillID)
        forged.parts = [part]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(forged).write(
            to: URL(fileURLWithPath: LocalDestination(path: dest.path).eventsFolder + "/\(forged.id).json"))

        let forProof = try store.eventsForProof()
        #expect(!forProof.events.contains { $0.kind == .proof })
        #expect(forProof.ignored.count == 3, "\(forProof.ignored)")
        #expect(forProof.ignored.contains { $0.contains(forged.id) && $0.contains("not chained") })
        #expect(forProof.ignored.contains { $0.contains(orphan.id) && $0.contains("that vouches for it") })
        #expect(forProof.ignored.contains { $0.contains(thin.id) && $0.contains("restore.script") })
        let input = try HealthInput.gather(destination: dest.path, now: F.now, proofMaxAge: 7 * 86400)
        #expect(input.proof?.sets.first?.proven == false)
        #expect(input.historyProblems.filter { $0.contains("proof event") }.count == 3)
    }

    /// The chain has no key: a drill and proof pair written into the folder and chained by hand
    /// looks right in every field. Once this machine has a report newer than that drill's id, the
    /// pair proves nothing without the drill's own report; with it, it counts.
    @Test func aChainedDrillThisMachineHasNoReportOfProvesNothing() throws {
        let dest = try TempDestination()
        let id = BackupID("full_20251010_115000")!
        try dest.writeSet(id, finishedAt: date("2025-10-10T12:00:00Z"))
        let store = HistoryStore(destination: dest.path)
        let drillID = DrillID(date: F.daysAgo(1))
        try store.append(HistoryEvent(kind: .drill, time: F.daysAgo(1), status: .pass, backupID: id, drillID: drillID))
        var proof = HistoryEvent(kind: .proof, time: F.daysAgo(1), status: .pass, backupID: id, drillID: drillID)
        proof.parts = [
            ProvenPart(kind: .pack, name: "code.tar.gz", bytes: 1000, checks: ["set.manifest", "restore.script"])
        ]
        try store.append(proof)
        func report(_ drill: DrillID) -> LocalDrillReport {
            LocalDrillReport(
                drillID: drill, backupID: id, passed: true, finishedAt: drill.date, manifestSHA256: nil,
                authenticated: true, tools: nil, rtoSeconds: 1, failedChecks: [], folder: "/r/\(drill)")
        }
        let older = DrillID(date: F.daysAgo(3))
        let without = try store.eventsForProof(drillReports: [older.description: report(older)], now: F.now)
        #expect(!without.events.contains { $0.kind == .proof })
        #expect(without.ignored.contains { $0.contains(proof.id) && $0.contains("that vouches for it") })
        let with = try store.eventsForProof(
            drillReports: [older.description: report(older), drillID.description: report(drillID)], now: F.now)
        #expect(with.events.contains { $0.id == proof.id }, "\(with.ignored)")
    }

    /// A failed drill this machine reported vouches for a proof only when the report says it failed
    /// on rpo, rto or set.coverage alone: the event's own failed_checks is anyone's to write.
    @Test func aFailedDrillsChecksAreTheReportsNotTheEvents() throws {
        let dest = try TempDestination()
        let id = BackupID("full_20251010_115000")!
        try dest.writeSet(id, finishedAt: date("2025-10-10T12:00:00Z"))
        let store = HistoryStore(destination: dest.path)
        let drillID = DrillID(date: F.daysAgo(1))
        var drill = HistoryEvent(kind: .drill, time: F.daysAgo(1), status: .fail, backupID: id, drillID: drillID)
        drill.details["failed_checks"] = "rpo"
        try store.append(drill)
        var proof = HistoryEvent(kind: .proof, time: F.daysAgo(1), status: .pass, backupID: id, drillID: drillID)
        proof.parts = [
            ProvenPart(kind: .pack, name: "code.tar.gz", bytes: 1000, checks: ["set.manifest", "restore.script"])
        ]
        try store.append(proof)
        func report(failed: [String]) -> LocalDrillReport {
            LocalDrillReport(
                drillID: drillID, backupID: id, passed: false, finishedAt: F.daysAgo(1), manifestSHA256: nil,
                authenticated: true, tools: nil, rtoSeconds: 1, failedChecks: failed, folder: "/r")
        }
        // No report at all (a machine that only watches the folder): the chain's word.
        #expect((try store.eventsForProof(now: F.now)).events.contains { $0.id == proof.id })
        // The report says it failed on restore.tree: the event's "rpo" is a lie.
        let lied = try store.eventsForProof(
            drillReports: [drillID.description: report(failed: ["restore.tree", "rpo"])], now: F.now)
        #expect(!lied.events.contains { $0.kind == .proof })
        let rpo = try store.eventsForProof(drillReports: [drillID.description: report(failed: ["rpo"])], now: F.now)
        #expect(rpo.events.contains { $0.id == proof.id }, "\(rpo.ignored)")
    }

    /// After a break in the chain (a benign fork of a synced folder, say), proofs written once the
    /// chain links up to its head again count: only the broken stretch is distrusted.
    @Test func proofsAfterTheLastBreakCountAgain() throws {
        let dest = try TempDestination()
        let id = BackupID("full_20251010_115000")!
        try dest.writeSet(id, finishedAt: date("2025-10-10T12:00:00Z"))
        let store = HistoryStore(destination: dest.path)
        let part = ProvenPart(
            kind: .pack, name: "code.tar.gz", bytes: 1000, checks: ["set.manifest", "restore.script", "restore.tree"])
        func prove(_ days: Double, _ n: Int) throws {
            let drillID = DrillID(date: F.daysAgo(days), sequence: n)
            try store.append(
                HistoryEvent(kind: .drill, time: F.daysAgo(days), status: .pass, backupID: id, drillID: drillID))
            var proof = HistoryEvent(
                kind: .proof, time: F.daysAgo(days), status: .pass, backupID: id, drillID: drillID)
            proof.parts = [part]
            try store.append(proof)
        }
        try prove(3, 1)
        // A fork: a second event claiming seq 2, written by hand.
        let events = LocalDestination(path: dest.path).eventsFolder
        let second = try #require(
            try FileManager.default.contentsOfDirectory(atPath: events).sorted().dropFirst().first)
        var forked = try JSONDecoder().decode(
            HistoryEvent.self, from: try Data(contentsOf: URL(fileURLWithPath: events + "/" + second)))
        forked.id = "20251011T000000.000Z-note-00000001"
        forked.kind = .note
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(forked).write(to: URL(fileURLWithPath: events + "/\(forked.id).json"))
        #expect(try store.verify().intact == false)
        // Proofs of drills after the break: trusted again.
        try prove(1, 2)
        let forProof = try store.eventsForProof()
        #expect(forProof.events.filter { $0.kind == .proof }.count == 1, "\(forProof.ignored)")
        #expect(forProof.ignored.allSatisfy { $0.contains("broken stretch") }, "\(forProof.ignored)")
        let input = try HealthInput.gather(destination: dest.path, now: F.now, proofMaxAge: 7 * 86400)
        #expect(input.proof?.sets.first?.proven == true)
    }

    /// A drill that failed only on `rpo` (the destination's newest set is old, not this set's
    /// restore) vouches for its proof, as the drill judged its parts; one that failed on the
    /// restored tree does not.
    @Test func aDrillFailedOnlyOnRPOVouchesForItsProof() throws {
        let dest = try TempDestination()
        let id = BackupID("full_20251010_115000")!
        try dest.writeSet(id, finishedAt: date("2025-10-10T12:00:00Z"))
        let store = HistoryStore(destination: dest.path)
        let part = ProvenPart(
            kind: .pack, name: "code.tar.gz", bytes: 1000, checks: ["set.manifest", "restore.script", "restore.tree"])
        for (n, failed) in [(1, "rpo"), (2, "restore.tree,rpo")] {
            let drillID = DrillID(date: F.daysAgo(2), sequence: n)
            try store.append(
                HistoryEvent(
                    kind: .sampledDrill, time: F.daysAgo(2), status: .fail, backupID: id, drillID: drillID,
                    details: ["failed_checks": failed]))
            var proof = HistoryEvent(kind: .proof, time: F.daysAgo(2), status: .pass, backupID: id, drillID: drillID)
            proof.parts = [part]
            try store.append(proof)
        }
        let forProof = try store.eventsForProof()
        #expect(
            forProof.events.filter { $0.kind == .proof }.map(\.drillID) == [DrillID(date: F.daysAgo(2), sequence: 1)])
        #expect(
            forProof.ignored.count == 1 && forProof.ignored[0].contains("that vouches for it"), "\(forProof.ignored)")
    }
}
