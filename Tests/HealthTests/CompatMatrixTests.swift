import DrillCore
import Foundation
import Testing

@testable import Health

/// Issue 19: `compat`'s matrix groups drill events by the tools they recorded.
@Suite struct CompatMatrixTests {
    static func event(
        _ time: String, _ status: HistoryEventStatus, tools: String?, os: String? = "Linux", arch: String? = "x86_64",
        kind: HistoryEventKind = .drill, set: String = "full_20251020_120000"
    ) -> HistoryEvent {
        var details: [String: String] = [:]
        if let tools {
            details["tools"] = tools
            details["tool_os"] = os
            details["tool_arch"] = arch
        }
        return HistoryEvent(
            kind: kind, time: date(time), status: status, backupID: BackupID(set), drillID: DrillID(date: date(time)),
            details: details)
    }

    @Test func eachCombinationGetsItsNewestPassAndFailAndItsVerdict() throws {
        let gnu =
            "sh=dash; tar=tar (GNU tar) 1.34; gzip=gzip 1.12; hash=openssl: OpenSSL 3.0.17; openssl=OpenSSL 3.0.17"
        let bsd = "sh=dash; tar=bsdtar 3.6.2 - libarchive 3.6.2; gzip=gzip 1.12; hash=openssl: OpenSSL 3.0.17"
        let events = [
            Self.event("2025-10-20T10:00:00Z", .pass, tools: gnu),
            Self.event("2025-10-20T11:00:00Z", .fail, tools: gnu),
            Self.event("2025-10-20T12:00:00Z", .pass, tools: gnu + "; sqlite3=3.40.1", kind: .sampledDrill),
            Self.event("2025-10-20T09:00:00Z", .fail, tools: bsd),
            Self.event("2025-10-20T13:00:00Z", .pass, tools: nil),
            HistoryEvent(kind: .backup, time: date("2025-10-20T14:00:00Z"), status: .complete),
        ]
        let matrix = CompatMatrix(events: events)
        #expect(matrix.unrecorded == 1)
        #expect(matrix.combinations.count == 2)
        let first = matrix.combinations[0]
        // sqlite3 is not part of a combination: the sampled drill joins the GNU one.
        #expect(first.tools["tar"] == "tar (GNU tar) 1.34")
        #expect(first.tools["os"] == "Linux")
        #expect(first.tools["arch"] == "x86_64")
        #expect(first.tools["sqlite3"] == nil)
        #expect(first.drills == 3)
        #expect(first.newestPass?.drillID == DrillID(date: date("2025-10-20T12:00:00Z")).description)
        #expect(first.newestPass?.kind == "sampled_drill")
        #expect(first.newestFail?.time == Timestamp.string(date("2025-10-20T11:00:00Z")))
        #expect(first.verdict == "pass")
        let second = matrix.combinations[1]
        #expect(second.tools["tar"] == "bsdtar 3.6.2 - libarchive 3.6.2")
        #expect(second.tools["openssl"] == nil)
        #expect(second.verdict == "fail")
        #expect(second.newestPass == nil)
        #expect(second.newestFail?.backupID == "full_20251020_120000")

        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(matrix)) as? [String: Any]
        #expect(json?["format"] as? String == "restore-drill/compat")
        #expect(json?["format_version"] as? Int == 1)
        let combos = json?["combinations"] as? [[String: Any]]
        #expect(combos?.first?["verdict"] as? String == "pass")
        #expect(combos?.last?["newest_pass"] is NSNull)
        #expect(matrix.text.contains("combination 2: FAIL (1 drill)"), "\(matrix.text)")
        #expect(matrix.text.contains("  openssl: (not recorded)"))
        #expect(
            matrix.text.contains(
                "1 drill recorded no tools (the set's script predates the record, or the drill stopped before it ran the script)"
            ))
    }

    /// A value holding `; ` stays whole; control characters from an event are shown as pictures.
    @Test func compactTextSplitsOnlyAtKnownKeysAndTheTableShowsNoControlCharacters() {
        let parsed = CompatMatrix.parseCompact("sh=zsh 5.9; tar=odd; name=x; gzip=gzip 1.12")
        #expect(parsed == ["sh": "zsh 5.9", "tar": "odd; name=x", "gzip": "gzip 1.12"])
        let matrix = CompatMatrix(events: [Self.event("2025-10-20T10:00:00Z", .pass, tools: "tar=a\u{1b}[31m")])
        #expect(!matrix.text.contains("\u{1b}"))
        #expect(CompatMatrix(events: []).text == "no drill in the history recorded its tools")
    }

    /// A failed drill whose event was deleted from the history still counts, from this machine's
    /// report: removing a failure leaves no PASS.
    @Test func aDrillTheHistoryLostCountsFromItsReport() {
        let set = BackupID("full_20251019_030000")!
        let passID = DrillID(date: date("2025-10-20T04:00:00Z"))
        let failID = DrillID(date: date("2025-10-20T05:00:00Z"))
        let tools = ["os": "Linux", "arch": "x86_64", "sh": "dash", "tar": "tar (GNU tar) 1.34"]
        func report(_ id: DrillID, passed: Bool, at time: Date) -> LocalDrillReport {
            LocalDrillReport(
                drillID: id, backupID: set, passed: passed, finishedAt: time, manifestSHA256: nil, authenticated: true,
                tools: tools, rtoSeconds: 1, failedChecks: passed ? [] : ["restore.tree"], folder: "/r/\(id)")
        }
        let passTime = date("2025-10-20T04:00:30Z")
        let pass = HistoryEvent(kind: .drill, time: passTime, status: .pass, backupID: set, drillID: passID)
        let reports = [
            passID.description: report(passID, passed: true, at: passTime),
            failID.description: report(failID, passed: false, at: date("2025-10-20T05:00:30Z")),
        ]
        let matrix = CompatMatrix(events: [pass], reports: reports, now: date("2025-10-21T00:00:00Z"))
        #expect(matrix.combinations.count == 1)
        #expect(matrix.combinations.first?.verdict == "fail")
        #expect(matrix.combinations.first?.drills == 2)
        #expect(matrix.combinations.first?.newestFail?.drillID == failID.description)
    }
}
