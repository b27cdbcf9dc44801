import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 18 review: a backup whose history event cannot be recorded (the append lock is not a
/// lock file) still writes its set, but says so, naming the lock, instead of leaving a silent gap
/// in the audit trail; and `report html` over a history with a removed event says BROKEN at the top.
@Suite(.serialized) struct HistoryGapTests {
    @Test func aBackupThatCannotRecordItsEventSaysSoAndAPageOverABrokenChainFails() throws {
        let ws = try SmallWorkspace.make("history-gap")
        defer { ws.remove() }
        try ws.write("src/a.py", "print(1)\n")
        let first = try ws.run(["backup"])
        #expect(first.status == 0, "\(first.stderr)")
        let lock = ws.base + "/backups/.restore-drill/events.lock"
        try? FileManager.default.removeItem(atPath: lock)
        try FileManager.default.createDirectory(atPath: lock, withIntermediateDirectories: true)
        let second = try ws.run(["backup"])
        #expect(second.status == 0, "the set is written: \(second.stderr)")
        #expect(second.stderr.contains("history event could not be recorded"), "\(second.stderr)")
        #expect(second.stderr.contains("events.lock"), "\(second.stderr)")
        try FileManager.default.removeItem(atPath: lock)

        // Two more events, then the middle one of three removed: the page says BROKEN and FAILs.
        #expect(try ws.run(["backup"]).status == 0)
        #expect(try ws.run(["drill", "--latest"]).status == 0)
        let events = ws.base + "/backups/.restore-drill/events"
        let names = try FileManager.default.contentsOfDirectory(atPath: events).filter { $0.hasSuffix(".json") }
            .sorted()
        #expect(names.count >= 3)
        try FileManager.default.removeItem(atPath: events + "/" + names[1])
        let page = try ws.run(["report", "html", "--since", "30d", "-"])
        #expect(page.status == 0, "\(page.stderr)")
        #expect(page.stdout.contains("History chain: <strong>BROKEN</strong>"), "\(page.stdout.prefix(3000))")
        #expect(page.stdout.contains("<span class=\"word\">FAIL</span>"))
    }
}
