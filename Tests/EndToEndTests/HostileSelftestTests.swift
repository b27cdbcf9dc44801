import Foundation
import Testing

/// `restore-drill selftest` as CI runs it: exit 0, every damage caught by its expected check, the
/// good set passing, in well under two minutes.
@Suite struct HostileSelftestTests {
    @Test func selftestCatchesEveryDamageByItsExpectedCheckInUnderTwoMinutes() throws {
        let started = Date()
        let run = try HostileWorld.run(HostileWorld.binary, ["selftest", "--json"])
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
        #expect(report["passed"] as? Bool == true)
        #expect(run.status == 0)
        // Every damage kind of the catalogue (README, "Selftest") has at least one row.
        let expected = Set(rows.compactMap { $0["expected"] as? String })
        #expect(
            expected == [
                "set.artifacts", "set.manifest", "set.coverage", "restore.archives", "restore.script", "db.integrity",
                "launchagents.rewrite", "launchagents.lint",
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
    }
}
