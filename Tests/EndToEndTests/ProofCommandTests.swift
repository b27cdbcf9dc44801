import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 17, `restore-drill proof`: a set the tool made and drilled (the drill writes the proof
/// events), the clock pinned with `RESTORE_DRILL_NOW`.
@Suite(.serialized) struct ProofCommandTests {
    /// Writes a `proof` event file for `set` at `time` proving `parts` (`kind`, `name`, `bytes`).
    @Test func proofShowsUnprovenThenProvenSetsWithTheExitCodesAndHealthJudgesTheAge() throws {
        let ws = try SmallWorkspace.make("proof")
        defer { ws.remove() }
        try ws.write("src/a.py", "print(1)\n")
        try ws.write("README.md", String(repeating: "words ", count: 2000))
        let backup = try ws.run(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let destination = ws.base + "/backups"
        let id = try #require(
            try FileManager.default.contentsOfDirectory(atPath: destination).first { BackupID($0) != nil })
        let manifest = try Manifest.load(setPath: destination + "/" + id)
        let finished = try #require(Timestamp.date(manifest.finishedAt))
        let parts = manifest.restoreParts()
        #expect(parts.count >= 3, "code and two dependency lists: \(parts.map(\.key))")
        let total = parts.reduce(Int64(0)) { $0 + $1.bytes }
        func at(_ seconds: Double) -> [String: String] {
            ["RESTORE_DRILL_NOW": Timestamp.string(finished.addingTimeInterval(seconds))]
        }

        // Never proven: exit 1, every part "never".
        let never = try ws.run(["proof", "--json"], environment: at(3600))
        #expect(never.status == 1, "\(never.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(never.stdout.utf8)) as? [String: Any])
        #expect(json["format"] as? String == "restore-drill/proof")
        #expect((json["format_version"] as? NSNumber)?.intValue == 1)
        #expect((json["max_age_seconds"] as? NSNumber)?.doubleValue == 28.0 * 86400)
        #expect((json["destination_bytes"] as? NSNumber)?.int64Value == total)
        #expect((json["proven_bytes"] as? NSNumber)?.int64Value == 0)
        #expect((json["all_proven"] as? NSNumber)?.boolValue == false)
        let sets = try #require(json["sets"] as? [[String: Any]])
        #expect(sets.map { $0["id"] as? String } == [id])
        #expect((sets[0]["unproven_seconds"] as? NSNumber)?.doubleValue == 3600)
        let jsonParts = try #require(sets[0]["parts"] as? [[String: Any]])
        #expect(jsonParts.count == parts.count)
        #expect(jsonParts.allSatisfy { $0["last_proof"] is NSNull && ($0["proven"] as? NSNumber)?.boolValue == false })

        // Every part proven by a drill an hour after the backup: exit 0, PROVEN, 100%.
        let drill = try ws.run(["drill", id], environment: at(3600))
        #expect(drill.status == 0, "\(drill.stdout)\(drill.stderr)")
        let drillID = DrillID(date: finished.addingTimeInterval(3600)).description
        let proven = try ws.run(["proof", "--parts"], environment: at(86400))
        #expect(proven.status == 0, "\(proven.stderr)")
        let lines = proven.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("restore-drill proof: 1 of 1 sets proven within 28d") == true, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("proven share: 100.0% of the destination's bytes") })
        let setLine = try #require(lines.first { $0.hasPrefix(id) })
        #expect(setLine.contains("parts \(parts.count)/\(parts.count)"))
        #expect(setLine.contains("oldest proof 23h00m ago"))
        #expect(setLine.hasSuffix("PROVEN"))
        for part in parts {
            #expect(
                lines.contains { $0.contains(" \(part.number)  \(part.kind.rawValue)") && $0.contains(part.name) },
                "part \(part.number) listed")
        }
        #expect(lines.filter { $0.contains("(23h00m ago)  \(drillID)") }.count == parts.count, "\(lines)")

        // 30 days on, the proof is past the 4-week window: exit 1, UNPROVEN; health warns.
        let old = try ws.run(["proof"], environment: at(30 * 86400))
        #expect(old.status == 1)
        #expect(old.stdout.contains("0 of 1 sets proven within 28d"))
        #expect(old.stdout.contains("UNPROVEN"))
        let health = try ws.run(["health", "--json"], environment: at(30 * 86400))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(health.stdout.utf8)) as? [String: Any])
        let findings = try #require(report["findings"] as? [[String: Any]])
        let proof = try #require(findings.first { $0["code"] as? String == "proof_age" })
        #expect(proof["status"] as? String == "WARNING")
        #expect(proof["subject"] as? String == id)
        let metrics = try #require(report["metrics"] as? [String: Any])
        #expect((metrics["proven_bytes_ratio"] as? NSNumber)?.doubleValue == 0)
        // Past twice the window: CRITICAL.
        let later = try ws.run(["health", "--json"], environment: at(60 * 86400))
        let laterReport = try JSONSerialization.jsonObject(with: Data(later.stdout.utf8)) as? [String: Any]
        let laterProof = (laterReport?["findings"] as? [[String: Any]])?.first { $0["code"] as? String == "proof_age" }
        #expect(laterProof?["status"] as? String == "CRITICAL")
    }

    @Test func usageIsTwoAndAnUnreadableHistoryIsThree() throws {
        let ws = try SmallWorkspace.make("proof-codes")
        defer { ws.remove() }
        let usage = try ws.run(["proof", "--no-such-flag"])
        #expect(usage.status == 2, "\(usage.stderr)")
        // The events folder is a file: the history cannot be listed, the tool cannot do its job.
        try FileManager.default.createDirectory(
            atPath: ws.base + "/backups/.restore-drill", withIntermediateDirectories: true)
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: ws.base + "/backups/.restore-drill/events"))
        let runtime = try ws.run(["proof"])
        #expect(runtime.status == 3, "\(runtime.stdout) \(runtime.stderr)")
        #expect(runtime.stderr.contains("is not a folder"))
    }
}
