import DrillCore
import Foundation
import Testing

/// Issue 5: a scorecard from 31 days of history made by running the tool with an injected clock
/// (`RESTORE_DRILL_NOW`): a backup every day at 03:00 UTC but one, a drill every Sunday at 05:00,
/// one of them on a damaged set; then `report sla --since 30d`, checked figure by figure.
@Suite(.serialized) struct SLAHistoryTests {
    static let start = Timestamp.date("2025-06-02T00:00:00Z")!  // a Monday

    static func at(day: Int, hour: Int) -> String {
        Timestamp.string(start.addingTimeInterval(Double(day) * 86400 + Double(hour) * 3600))
    }

    @Test func thirtyDaysOfHistoryMakeTheExpectedScorecard() throws {
        let scratch = try Tool.scratch("sla")
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
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(scratch)/restore-drill.yml"))

        let missedDay = 10  // 2025-06-12: no backup
        let damagedSunday = 20  // 2025-06-22: the drill of a damaged set fails
        var drills: [Int: Int32] = [:]
        for day in 0...30 {
            if day != missedDay {
                let b = try Tool.run(
                    ["backup"], in: scratch, environment: ["RESTORE_DRILL_NOW": Self.at(day: day, hour: 3)])
                #expect(b.status == 0, "day \(day): \(b.stderr)")
            }
            if day % 7 == 6 {  // Sundays
                if day == damagedSunday {
                    let sets = try FileManager.default.contentsOfDirectory(atPath: "\(scratch)/backups")
                        .filter { BackupID($0) != nil }.sorted()
                    try SetSurgery.flipByte("\(scratch)/backups/\(sets.last!)/code.tar.gz")
                }
                let d = try Tool.run(
                    ["drill", "--latest"], in: scratch, environment: ["RESTORE_DRILL_NOW": Self.at(day: day, hour: 5)])
                drills[day] = d.status
            }
        }
        #expect(drills == [6: 0, 13: 0, 20: 1, 27: 0])

        let r = try Tool.run(
            ["report", "sla", "--since", "30d", "--json"], in: scratch,
            environment: ["RESTORE_DRILL_NOW": Self.at(day: 31, hour: 12)])
        #expect(r.status == 0, "\(r.stderr)")
        let card = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        func rate(_ key: String) -> (Int, Int, [String]) {
            let v = card[key] as? [String: Any] ?? [:]
            return (v["numerator"] as? Int ?? -1, v["denominator"] as? Int ?? -1, v["sources"] as? [String] ?? [])
        }
        #expect(card["format"] as? String == "restore-drill/sla")
        #expect(card["first_day"] as? String == "2025-06-03")
        #expect(card["last_day"] as? String == "2025-07-02")
        // 30 days in the window, one without a backup.
        let backups = rate("backup_success")
        #expect(backups.0 == 29 && backups.1 == 30, "\(backups)")
        #expect(backups.2.count == 29)
        // Whole ISO weeks in the window: 2025-W24, W25, W26; the W25 drill failed.
        let weeks = rate("weeks_with_passing_drill")
        #expect(weeks.0 == 2 && weeks.1 == 3, "\(weeks)")
        // Four drills in the window (the 8th, 15th, 22nd, 29th), three passed.
        let validation = rate("restore_validation")
        #expect(validation.0 == 3 && validation.1 == 4, "\(validation)")
        #expect(validation.2.count == 4)
        // The missed day makes the worst RPO two days: 2025-06-11 03:00 to 2025-06-13 03:00.
        #expect(card["worst_rpo_seconds"] as? Double == 172_800.0)
        #expect(card["worst_rpo_day"] as? String == "2025-06-13")
        let rpo = rate("rpo_days_within")
        #expect(rpo.0 == 28 && rpo.1 == 30, "\(rpo)")
        let days = card["days"] as? [[String: Any]] ?? []
        #expect(days.count == 30)
        #expect(days.first { $0["date"] as? String == "2025-06-12" }?["complete_backup"] as? Bool == false)
    }
}
