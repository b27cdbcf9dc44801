import Foundation
import Testing

/// `restore-drill selftest` as CI runs it, on sets of each format: exit 0, every damage caught by
/// its expected check, the good set passing, in well under two minutes.
@Suite(.serialized) struct HostileSelftestTests {
    /// Runs `selftest --json` with `arguments` and checks what every run must show.
    /// - Returns: the report's rows.
    func selftest(_ arguments: [String], format: Int) throws -> [[String: Any]] {
        let started = Date()
        let run = try HostileWorld.run(HostileWorld.binary, ["selftest", "--json"] + arguments)
        let seconds = Date().timeIntervalSince(started)
        let start = run.output.firstIndex(of: "{") ?? run.output.startIndex
        let data = Data(run.output[start...].utf8)
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(run.output)")
        let rows = try #require(report["rows"] as? [[String: Any]])
        let missed = rows.filter { $0["caught"] as? Bool != true }.map {
            "\($0["damage"] ?? "?"): \($0["problems"] ?? "")"
        }
        #expect(missed.isEmpty, "\(missed)")
        #expect((report["good"] as? [String: Any])?["verdict"] as? String == "pass")
        #expect(report["format"] as? String == "restore-drill/selftest")
        #expect(report["set_format"] as? Int == format)
        #expect(report["passed"] as? Bool == true)
        #expect(run.status == 0)
        // Every damage kind of the catalogue (README, "Selftest") has at least one row.
        let expected = Set(rows.compactMap { $0["expected"] as? String })
        #expect(
            expected == [
                "set.artifacts", "set.manifest", "set.coverage", "restore.archives", "restore.script", "restore.tree",
                "db.integrity", "launchagents.rewrite", "launchagents.lint",
            ])
        #expect(rows.count >= 32)
        // The hostile sets of issue 11 are among them, each caught.
        let ids = Set(rows.compactMap { $0["damage"] as? String })
        for id in [
            "forged-script-exfiltrates", "script-fills-shm", "script-reads-host", "restore-over-stale-wal",
        ] {
            #expect(ids.contains(id), "\(id) is not in the catalogue")
        }
        #expect(seconds < 120, "selftest took \(seconds) s")
        return rows
    }

    @Test func selftestCatchesEveryDamageByItsExpectedCheckInUnderTwoMinutes() throws {
        let rows = try selftest(["--set-format", "1"], format: 1)
        #expect(rows.contains { $0["damage"] as? String == "chunks-swapped" })
    }

    /// Issue 15: format 2 (shared objects) with the damages of its own, each caught where named.
    @Test func formatTwoSelftestCatchesEveryDamageByItsExpectedCheck() throws {
        let rows = try selftest(["--set-format", "2"], format: 2)
        let expected = Dictionary(
            rows.compactMap { row in (row["damage"] as? String).map { ($0, row["expected"] as? String ?? "") } },
            uniquingKeysWith: { a, _ in a })
        #expect(expected["object-missing"] == "set.artifacts")
        #expect(expected["pack-member-in-two-packs"] == "restore.archives")
        #expect(expected["chunk-objects-swapped"] == "restore.script")
        #expect(rows.count == 35)
    }
}
