import DrillCore
import Foundation
import Health
import Jobs
import Testing
import Vault

/// Issue 17, `restore-drill proof` with a vault password: a set whose manifest HMAC does not verify
/// never enters the ledger (README, "Every set is hostile until proven"), whatever the history
/// says of it.
@Suite(.serialized) struct ProofJobTests {
    @Test func anUnauthenticatedSetIsLeftOutAndItsProofsDoNotCount() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let now = Date()
        let real = try await w.backup(at: now.addingTimeInterval(-3600))
        let forged = try DerivationCountTests.forgeNewerCopy(of: real, in: w)
        // Both sets "proven" in the history, each by a passing drill: only the real one's proof may count.
        let history = HistoryStore(destination: w.config.destination)
        for (i, manifest) in [real.manifest, forged].enumerated() {
            let drillID = DrillID(date: now.addingTimeInterval(-60), sequence: i + 1)
            try history.append(
                HistoryEvent(
                    kind: .drill, time: now.addingTimeInterval(-60), status: .pass, backupID: manifest.id,
                    drillID: drillID))
            var event = HistoryEvent(
                kind: .proof, time: now.addingTimeInterval(-60), status: .pass, backupID: manifest.id, drillID: drillID)
            event.parts = manifest.restoreParts().map {
                ProvenPart(
                    kind: $0.kind, name: $0.name, bytes: $0.bytes,
                    checks: ["set.manifest", "restore.script", "restore.tree"])
            }
            try history.append(event)
        }

        let trusted = try ProofJob.run(
            config: w.config, now: now, authenticator: SetAuthenticator(passwords: [w.password]))
        #expect(trusted.ledger.sets.map(\.id) == [real.manifest.id])
        #expect(trusted.ledger.allProven)
        #expect(trusted.exitStatus == .success)
        #expect(trusted.ledger.sets[0].parts.count == real.manifest.restoreParts().count)
        #expect(trusted.ledger.provenRatio == 1)

        // Without a password both sets are listed (nothing can tell them apart).
        let untrusted = try ProofJob.run(config: w.config, now: now)
        #expect(untrusted.ledger.sets.map(\.id) == [real.manifest.id, forged.id])

        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(trusted)) as? [String: Any]
        #expect(json?["format"] as? String == "restore-drill/proof")
        #expect((json?["format_version"] as? NSNumber)?.intValue == 1)
        #expect((json?["all_proven"] as? NSNumber)?.boolValue == true)
        #expect(json?["destination"] as? String == w.config.destination)
    }
}
