import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 18, "Signed evidence": 13 weeks of history made by running the tool with an injected clock
/// (`RESTORE_DRILL_NOW`) — a backup every Monday at 03:00 UTC, a drill every Sunday at 05:00, one of
/// them of a damaged set with a `history note` about it — then `evidence export --since 90d`,
/// verified by the tool, by the README's `openssl pkeyutl -rawin` command and by `sha256sum -c`;
/// then one tampering per copy of the bundle, each named by `evidence verify` (and the chain's
/// breaks by `history verify` over the bundled history).
@Suite(.serialized) struct EvidenceBundleTests {
    static let start = Timestamp.date("2025-06-02T00:00:00Z")!  // a Monday
    static let password = "Vault-Pw-9c1e77d2"
    static let pingPath = "ping-capability-5e0b"

    static func at(day: Int, hour: Int) -> String {
        Timestamp.string(start.addingTimeInterval(Double(day) * 86400 + Double(hour) * 3600))
    }

    /// A workspace with 13 weeks of history and a key pair; returns the scratch folder.
    static func history() throws -> String {
        let scratch = try Tool.scratch("evidence")
        let root = "\(scratch)/home/proj"
        try FileManager.default.createDirectory(atPath: "\(root)/src", withIntermediateDirectories: true)
        try Data("print('hello')\n".utf8).write(to: URL(fileURLWithPath: "\(root)/src/app.py"))
        try FileManager.default.createDirectory(atPath: "\(scratch)/backups", withIntermediateDirectories: true)
        let config = """
            home: \(scratch)/home
            root: \(root)
            destination: \(scratch)/backups
            set_format: 1
            launchagents: {include: []}
            dependencies: {python: [], homebrew: []}
            retention: {timezone: UTC}
            objectives: {rpo: 8d, rto: 30m}
            credentials: {password: {env: RD_EVIDENCE_PW}}
            hooks: {ping: "http://127.0.0.1:9/\(pingPath)"}
            evidence: {key: keys/evidence.key}
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(scratch)/restore-drill.yml"))
        let damagedSunday = 34  // 2025-07-06
        var drills: [Int: Int32] = [:]
        for week in 0..<13 {
            let monday = week * 7
            let b = try Tool.run(["backup"], in: scratch, environment: env(day: monday, hour: 3))
            #expect(b.status == 0, "day \(monday): \(b.stderr)")
            let sunday = monday + 6
            if sunday == damagedSunday {
                let sets = try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/backups")
                    .filter { BackupID($0) != nil }.sorted()
                try SetSurgery.flipByte("\(scratch)/backups/\(sets.last!)/code.tar.gz")
            }
            let d = try Tool.run(["drill", "--latest"], in: scratch, environment: env(day: sunday, hour: 5))
            drills[sunday] = d.status
        }
        #expect(drills.filter { $0.value != 0 }.map(\.key) == [damagedSunday], "\(drills)")
        let list = try Tool.run(["history", "--json"], in: scratch, environment: env(day: 90, hour: 1))
        let events = try #require(
            (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["events"]
                as? [[String: Any]])
        let failed = try #require(
            events.first { $0["kind"] as? String == "drill" && $0["status"] as? String == "fail" })
        let note = try Tool.run(
            [
                "history", "note", failed["id"] as! String,
                "code.tar.gz damaged on disk; set re-made, next drill passed",
            ],
            in: scratch, environment: env(day: 36, hour: 9))
        #expect(note.status == 0, "\(note.stderr)")
        return scratch
    }

    static func env(day: Int, hour: Int) -> [String: String] {
        ["RESTORE_DRILL_NOW": at(day: day, hour: hour), "RD_EVIDENCE_PW": password]
    }

    static func verify(_ bundle: String, key: String, in scratch: String) throws -> Tool.Result {
        try Tool.run(["evidence", "verify", bundle, "--key", key], in: scratch)
    }

    /// A copy of the bundle to damage.
    static func copy(_ bundle: String, _ name: String) throws -> String {
        let target = (bundle as NSString).deletingLastPathComponent + "/" + name
        try FileManager.default.copyItem(atPath: bundle, toPath: target)
        return target
    }

    static func eventFiles(_ bundle: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(bundle)/history/.restore-drill/events").sorted()
    }

    static func event(_ path: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// `history verify` over a bundle's history folder, through a configuration naming it.
    static func historyVerify(_ bundle: String, in scratch: String) throws -> Tool.Result {
        let config = "\(bundle)-audit.yml"
        try Data("home: \(scratch)/home\nroot: \(scratch)/home/proj\ndestination: \(bundle)/history\n".utf8)
            .write(to: URL(fileURLWithPath: config))
        return try Tool.run(["history", "verify", "--config", config], in: scratch)
    }

    @Test(.needsTool("openssl", package: "openssl"), .needsTool("sha256sum", package: "coreutils"))
    func ninetyDaysExportVerifyAndEveryTamperingIsNamed() throws {
        let scratch = try Self.history()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let now = Self.env(day: 91, hour: 12)

        // keygen: a key pair, the public key printed; never over an existing key.
        let keygen = try Tool.run(["evidence", "keygen", "--out", "keys"], in: scratch)
        #expect(keygen.status == 0, "\(keygen.stderr)")
        #expect(keygen.stdout.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        let pub = "\(scratch)/keys/evidence.pub"
        #expect(try String(contentsOfFile: pub, encoding: .utf8) == keygen.stdout)
        var info = stat()
        #expect(stat("\(scratch)/keys/evidence.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(
            try String(contentsOfFile: "\(scratch)/keys/evidence.key", encoding: .utf8)
                .hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let again = try Tool.run(["evidence", "keygen", "--out", "keys"], in: scratch)
        #expect(again.status == 3 && again.stderr.contains("never overwritten"), "\(again.stderr)")

        // export (evidence.key from the configuration) and verify.
        let bundle = "\(scratch)/bundle"
        let export = try Tool.run(["evidence", "export", "--since", "90d", bundle], in: scratch, environment: now)
        #expect(export.status == 0, "\(export.stderr)")
        let events = try Self.eventFiles(bundle)
        let head = events.count  // every event of the history is chained: the head's seq is their count
        #expect(head >= 27, "13 backups, 13 drills, a note, and the drills' proofs: \(events.count)")
        #expect(export.stdout.contains("history: intact, head seq \(head) "), "\(export.stdout)")
        let again2 = try Tool.run(["evidence", "export", "--since", "90d", bundle], in: scratch, environment: now)
        #expect(again2.status == 3 && again2.stderr.contains("never written over"), "\(again2.stderr)")
        let ok = try Self.verify(bundle, key: pub, in: scratch)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout.contains("history chain intact, head seq \(head) "), "\(ok.stdout)")

        // The README's commands, without the tool.
        let readme = try String(contentsOfFile: "\(Tool.packageRoot)/README.md", encoding: .utf8)
        let command = "openssl pkeyutl -verify -pubin -inkey evidence.pub -rawin -in index -sigfile index.sig"
        #expect(readme.contains(command) && readme.contains("sha256sum -c index"))
        try FileManager.default.copyItem(atPath: pub, toPath: "\(scratch)/evidence.pub")
        let openssl = try runTool(
            try requireTool("openssl"),
            [
                "pkeyutl", "-verify", "-pubin", "-inkey", "\(scratch)/evidence.pub", "-rawin", "-in", "index",
                "-sigfile", "index.sig",
            ], directory: bundle)
        #expect(openssl.status == 0 && openssl.output.contains("Signature Verified Successfully"), "\(openssl)")
        let sums = try runTool(try requireTool("sha256sum"), ["-c", "index"], directory: bundle)
        #expect(sums.status == 0 && !sums.output.contains("FAILED"), "\(sums.output)")
        let listed = sums.output.split(separator: "\n").count

        // What the bundle holds.
        let index = try String(contentsOfFile: "\(bundle)/index", encoding: .utf8)
        #expect(listed == index.split(separator: "\n").count)
        #expect(!index.contains(" /") && !index.contains(".."))
        for name in ["junit.xml", "report.md", "report.json", "report.html"] {
            #expect(index.contains("  reports/drill_20250706_050000/\(name)\n"), "\(name)")
        }
        #expect(index.contains("  sla.json\n") && index.contains("  sla.md\n") && index.contains("  proof.json\n"))
        #expect(index.contains("  history/verify.json\n") && index.contains("  config.json\n"))
        let manifests = try String(contentsOfFile: "\(bundle)/manifests.txt", encoding: .utf8)
        #expect(manifests.split(separator: "\n").count == 13)
        let remediation = try String(contentsOfFile: "\(bundle)/remediation.md", encoding: .utf8)
        #expect(remediation.contains("drill fail drill_20250706_050000"), "\(remediation)")
        #expect(remediation.contains("code.tar.gz damaged on disk; set re-made, next drill passed"))
        let config = try String(contentsOfFile: "\(bundle)/config.json", encoding: .utf8)
        #expect(config.contains("\"password_source\" : \"env\"") && config.contains("\"ping\" : \"http://127.0.0.1\""))
        // No secret anywhere in the bundle.
        for file in index.split(separator: "\n").map({ String($0.dropFirst(66)) }) {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(bundle)/\(file)")), as: UTF8.self)
            #expect(!text.contains(Self.password), "\(file) holds the vault password")
            #expect(!text.contains(Self.pingPath), "\(file) holds the ping URL's path")
        }

        // One byte of a report changed.
        let flipped = try Self.copy(bundle, "t-byte")
        try SetSurgery.flipByte("\(flipped)/reports/drill_20250706_050000/report.json", at: 10)
        let r1 = try Self.verify(flipped, key: pub, in: scratch)
        #expect(r1.status == 1)
        #expect(
            r1.stdout.contains("first problem: reports/drill_20250706_050000/report.json was changed"), "\(r1.stdout)")

        // An event removed: the file is missing, and the bundled chain has a gap.
        let removed = try Self.copy(bundle, "t-removed")
        let fifth = try Self.eventFiles(removed).first {
            try Self.event("\(removed)/history/.restore-drill/events/\($0)")["seq"] as? Int == 5
        }!
        try FileManager.default.removeItem(atPath: "\(removed)/history/.restore-drill/events/\(fifth)")
        let r2 = try Self.verify(removed, key: pub, in: scratch)
        #expect(r2.status == 1)
        #expect(
            r2.stdout.contains(
                "first problem: history/.restore-drill/events/\(fifth) is listed in the index but missing"),
            "\(r2.stdout)")
        #expect(r2.stdout.contains("chain: history chain removed at seq 5: seq 5 is missing"), "\(r2.stdout)")
        let h2 = try Self.historyVerify(removed, in: scratch)
        #expect(h2.status == 1 && h2.stdout.contains("seq 5 is missing"), "\(h2.stdout)")

        // Two events swapped (their files' contents).
        let swapped = try Self.copy(bundle, "t-swapped")
        let names = try Self.eventFiles(swapped)
        let bySeq = try Dictionary(
            uniqueKeysWithValues: names.map {
                (try Self.event("\(swapped)/history/.restore-drill/events/\($0)")["seq"] as! Int, $0)
            })
        let a = "\(swapped)/history/.restore-drill/events/\(bySeq[7]!)"
        let b = "\(swapped)/history/.restore-drill/events/\(bySeq[8]!)"
        let da = try Data(contentsOf: URL(fileURLWithPath: a))
        try Data(contentsOf: URL(fileURLWithPath: b)).write(to: URL(fileURLWithPath: a))
        try da.write(to: URL(fileURLWithPath: b))
        let r3 = try Self.verify(swapped, key: pub, in: scratch)
        #expect(r3.status == 1)
        #expect(
            r3.stdout.contains("first problem: history/.restore-drill/events/\(bySeq[7]!) was changed"), "\(r3.stdout)")
        #expect(r3.stdout.contains("history chain reordered at seq 7"), "\(r3.stdout)")
        let h3 = try Self.historyVerify(swapped, in: scratch)
        #expect(h3.status == 1 && h3.stdout.contains("files were swapped or renamed"), "\(h3.stdout)")

        // A fork: an extra event that claims an existing seq.
        let forked = try Self.copy(bundle, "t-forked")
        var extra = try Self.event("\(forked)/history/.restore-drill/events/\(bySeq[10]!)")
        extra["id"] = "20250701T000000.000Z-drill-0badf00d"
        extra["status"] = "pass"
        let extraData = try JSONSerialization.data(withJSONObject: extra, options: [.sortedKeys, .prettyPrinted])
        try extraData.write(
            to: URL(fileURLWithPath: "\(forked)/history/.restore-drill/events/20250701T000000.000Z-drill-0badf00d.json")
        )
        let r4 = try Self.verify(forked, key: pub, in: scratch)
        #expect(r4.status == 1)
        #expect(
            r4.stdout.contains(
                "first problem: history/.restore-drill/events/20250701T000000.000Z-drill-0badf00d.json is in the bundle but not in the index"
            ), "\(r4.stdout)")
        #expect(r4.stdout.contains("history chain forked at seq 10"), "\(r4.stdout)")
        let h4 = try Self.historyVerify(forked, in: scratch)
        #expect(h4.status == 1 && h4.stdout.contains("seq 10 is claimed by 2 events"), "\(h4.stdout)")

        // A wrong public key.
        let other = try Tool.run(["evidence", "keygen", "--out", "other"], in: scratch)
        #expect(other.status == 0)
        let r5 = try Self.verify(bundle, key: "\(scratch)/other/evidence.pub", in: scratch)
        #expect(
            r5.status == 1 && r5.stdout.contains("first problem: index.sig does not verify with the given key"),
            "\(r5.stdout)")

        // A tar bundle verifies.
        let tar = "\(scratch)/bundle.tar.gz"
        let t = try Tool.run(["evidence", "export", "--tar", "--since", "90d", tar], in: scratch, environment: now)
        #expect(t.status == 0, "\(t.stderr)")
        let rt = try Self.verify(tar, key: pub, in: scratch)
        #expect(
            rt.status == 0 && rt.stdout.contains("history chain intact, head seq \(head) "), "\(rt.stdout)\(rt.stderr)")
        let listing = try runTool(try requireTool("tar"), ["tzf", tar], directory: scratch)
        #expect(listing.status == 0 && listing.output.contains("index.sig") && !listing.output.contains(".."))
        // Edited at the source before export: the signature holds, the chain names the place.
        let sourceEvents = "\(scratch)/backups/.restore-drill/events"
        let sourceFifth = try FileManager.default.contentsOfDirectory(atPath: sourceEvents).first {
            try Self.event("\(sourceEvents)/\($0)")["seq"] as? Int == 5
        }!
        try FileManager.default.removeItem(atPath: "\(sourceEvents)/\(sourceFifth)")
        let later = try Tool.run(["evidence", "export", "\(scratch)/bundle-later"], in: scratch, environment: now)
        #expect(later.status == 0 && later.stdout.contains("history: BROKEN"), "\(later.stdout)\(later.stderr)")
        let r6 = try Self.verify("\(scratch)/bundle-later", key: pub, in: scratch)
        #expect(r6.status == 1 && r6.stdout.contains("first problem: history chain removed at seq 5"), "\(r6.stdout)")

    }
}
