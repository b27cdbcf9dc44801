import DrillCore
import Foundation
import Testing

@testable import Health

@Suite struct HistoryTests {
    @Test func appendWritesOneFilePerEventAndReadsThemBackInTimeOrder() throws {
        let dest = try TempDestination()
        let store = HistoryStore(destination: dest.path)
        #expect(try store.events().isEmpty, "no history yet is an empty history")
        let later = HistoryEvent(
            kind: .drill, time: date("2025-10-20T17:50:19.123Z"), status: .pass,
            backupID: BackupID("full_20251020_030000"),
            drillID: DrillID("drill_20251020_174900"), rpoSeconds: 53419, rtoSeconds: 12.5,
            reportFolder: "/r/drill_20251020_174900",
            details: ["isolation": "bubblewrap"])
        let earlier = HistoryEvent(
            kind: .backup, time: date("2025-10-20T03:10:00Z"), status: .complete,
            backupID: BackupID("full_20251020_030000"))
        let laterPath = try store.append(later)
        try store.append(earlier)

        #expect(laterPath == "\(dest.path)/.restore-drill/events/\(later.id).json")
        #expect(later.id.hasPrefix("20251020T175019.123Z-drill-"))
        #expect(!later.id.contains(":"))
        let names = try FileManager.default.contentsOfDirectory(atPath: store.folder).sorted()
        #expect(names == [earlier.id + ".json", later.id + ".json"].sorted())

        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: laterPath))) as! [String: Any]
        #expect(json["format"] as? String == "restore-drill/event")
        #expect(json["format_version"] as? Int == 1)
        #expect(json["time"] as? String == "2025-10-20T17:50:19.123Z")
        #expect(json["backup_id"] as? String == "full_20251020_030000")
        #expect(json["rto_seconds"] as? Double == 12.5)

        let events = try store.events()
        #expect(events == [earlier, later])
    }

    @Test func eventsAreNeverRewrittenAndNeverHoldSecrets() throws {
        let dest = try TempDestination()
        let store = HistoryStore(destination: dest.path)
        let event = HistoryEvent(kind: .prune, time: Date(), status: .ok, details: ["removed": "3"])
        try store.append(event)
        #expect(throws: RestoreDrillError.self) { try store.append(event) }
        let secret = HistoryEvent(
            kind: .backup, time: Date(), status: .complete, details: ["vault_password": "hunter2"])
        #expect(throws: RestoreDrillError.self) { try store.append(secret) }
        #expect(try store.events().count == 1)
    }

    @Test func unreadableFilesAreSkippedAndReportedAndConflictCopiesCountOnce() throws {
        let dest = try TempDestination()
        let store = HistoryStore(destination: dest.path)
        let good = HistoryEvent(kind: .backup, time: date("2025-10-01T03:10:00Z"), status: .complete)
        let goodPath = try store.append(good)
        try FileManager.default.copyItem(atPath: goodPath, toPath: "\(store.folder)/\(good.id) (1).json")
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: "\(store.folder)/broken.json"))
        var foreign = HistoryEvent(kind: .backup, time: Date(), status: .complete)
        foreign.formatVersion = 9
        try JSONEncoder().encode(foreign).write(to: URL(fileURLWithPath: "\(store.folder)/future.json"))
        try Data("half".utf8).write(to: URL(fileURLWithPath: "\(store.folder)/.x.json.tmp-1-2"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: "\(store.folder)/README.txt"))

        let log = try store.load()
        #expect(log.events == [good])
        #expect(Set(log.problems.map(\.file)) == ["broken.json", "future.json", "\(good.id) (1).json"])
        #expect(log.problems.first { $0.file == "future.json" }?.message.contains("version 9") == true)
        #expect(log.problems.first { $0.file.hasSuffix("(1).json") }?.message.contains("duplicate") == true)
    }

    @Test func drillEventCarriesVerdictTimesAndFailingChecks() {
        var result = DrillResult(
            drillID: DrillID("drill_20251020_174900")!, backupID: BackupID("full_20251020_030000"),
            setPath: "/d/full_20251020_030000",
            startedAt: date("2025-10-20T17:49:00Z"), isolation: .none)
        result.rtoSeconds = 42
        result.rpoSeconds = 3600
        result.reportFolder = "/r/drill_20251020_174900"
        result.checks = [
            CheckResult(check: .setManifest, subject: "s", verdict: .pass, message: "ok"),
            CheckResult(check: .dbIntegrity, subject: "a.db", verdict: .fail, message: "bad page"),
        ]
        let event = HistoryEvent(drill: result, finishedAt: date("2025-10-20T17:50:00Z"))
        #expect(event.kind == .drill)
        #expect(event.status == .fail)
        #expect(event.rtoSeconds == 42)
        #expect(event.details["failed_checks"] == "db.integrity")
        #expect(event.details["isolation"] == "none")
        #expect(event.reportFolder == "/r/drill_20251020_174900")
    }
}
