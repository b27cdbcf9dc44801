import DrillCore
import Foundation
import Testing

@testable import Health

/// A 30-day window (2025-10-02 … 2025-10-31, UTC) of daily backups at 03:00 finishing at 03:10,
/// with no complete backup on 2025-10-15 (a failed run instead), weekly drills on Sundays, one
/// of which (2025-10-19) fails, an extra passing drill on Wednesday 2025-10-29, and runs before
/// the window that must not count. The last day's backup is only a set (no event), the day
/// before has both an event and its set.
@Suite struct SLAScorecardTests {
    static let now = date("2025-11-01T10:00:00Z")

    static func day(_ d: Int, _ time: String) -> Date { date(String(format: "2025-10-%02dT%@Z", d, time)) }

    struct History {
        var events: [HistoryEvent] = []
        var sets: [ScannedSet] = []
        var backupEvent: [Int: String] = [:]  // day of October → event id
        var drillEvent: [Int: String] = [:]
        var failedBackup = ""
    }

    static func history() throws -> History {
        var h = History()
        for d in 1...31 where d != 15 {
            let id = BackupID(date: day(d, "03:00:00"))
            if d != 31 {
                let e = HistoryEvent(kind: .backup, time: day(d, "03:10:00"), status: .complete, backupID: id)
                h.events.append(e)
                h.backupEvent[d] = e.id
            }
            if d >= 30 {
                var m = Manifest(
                    id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
                m.finishedAt = Timestamp.string(day(d, "03:10:00"))
                h.sets.append(
                    ScannedSet(
                        id: id, path: "/d/\(id)", status: .complete, finishedAt: day(d, "03:10:00"), sizeBytes: 1,
                        manifest: m))
            }
        }
        let failed = HistoryEvent(kind: .backup, time: day(15, "03:04:00"), status: .failed)
        h.events.append(failed)
        h.failedBackup = failed.id
        let drills: [(Int, HistoryEventStatus, Double)] = [
            (5, .pass, 60), (12, .pass, 70), (19, .fail, 2000), (26, .pass, 65), (29, .pass, 75),
        ]
        for (d, status, rto) in drills {
            let e = HistoryEvent(
                kind: .drill, time: day(d, "05:02:00"), status: status, backupID: BackupID(date: day(d, "03:00:00")),
                drillID: DrillID(date: day(d, "05:00:00")), rtoSeconds: rto)
            h.events.append(e)
            h.drillEvent[d] = e.id
        }
        // Before the window: a drill on 2025-09-28 and a prune; neither counts.
        h.events.append(HistoryEvent(kind: .drill, time: date("2025-09-28T05:02:00Z"), status: .fail, rtoSeconds: 9999))
        h.events.append(HistoryEvent(kind: .prune, time: day(20, "04:00:00"), status: .ok))
        h.events.shuffle()
        return h
    }

    static func scorecard(_ h: History) -> SLAScorecard {
        SLAScorecard.compute(
            events: h.events, sets: h.sets, since: 30 * 86400, now: now, timeZone: TimeZone(identifier: "UTC")!,
            objectives: RestoreDrillConfig.Objectives())  // rpo 24h, rto 30m
    }

    @Test func figureByFigure() throws {
        let h = try Self.history()
        let card = Self.scorecard(h)

        // Window: the 30 whole days before 2025-11-01.
        #expect(card.firstDay == "2025-10-02")
        #expect(card.lastDay == "2025-10-31")
        #expect(card.days.count == 30)

        // Backup success: every day but the 15th.
        #expect(card.backupSuccess.numerator == 29)
        #expect(card.backupSuccess.denominator == 30)
        #expect(card.days.filter { !$0.completeBackup }.map(\.date) == ["2025-10-15"])
        let day15 = card.days.first { $0.date == "2025-10-15" }!
        #expect(day15.sources.isEmpty)
        #expect(day15.failedRuns == [h.failedBackup])
        let expectedSources = (2...30).filter { $0 != 15 }.map { h.backupEvent[$0]! } + ["set:full_20251031_030000"]
        #expect(card.backupSuccess.sources == expectedSources)

        // RPO per day: a normal day peaks just before its backup finishes (24 h since yesterday's);
        // the 15th peaks at midnight (44 h 50 m since the 14th's); the 16th just before its backup (48 h).
        let day = Dictionary(uniqueKeysWithValues: card.days.map { ($0.date, $0) })
        #expect(day["2025-10-02"]?.maxRPOSeconds == 86400)
        #expect(day["2025-10-02"]?.rpoSources == [h.backupEvent[1]!, h.backupEvent[2]!])
        #expect(day["2025-10-15"]?.maxRPOSeconds == Double(44 * 3600 + 50 * 60))
        #expect(day["2025-10-15"]?.rpoSources == [h.backupEvent[14]!])
        #expect(day["2025-10-16"]?.maxRPOSeconds == Double(48 * 3600))
        #expect(day["2025-10-16"]?.rpoSources == [h.backupEvent[14]!, h.backupEvent[16]!])
        #expect(day["2025-10-31"]?.rpoSources == [h.backupEvent[30]!, "set:full_20251031_030000"])
        #expect(card.rpoDaysWithin.numerator == 28)
        #expect(card.rpoDaysWithin.denominator == 30)
        #expect(card.worstRPOSeconds == Double(48 * 3600))
        #expect(card.worstRPODay == "2025-10-16")

        // Weeks: the whole ISO weeks inside 2 … 31 October are W41, W42, W43; W42's drill failed.
        #expect(card.weeks.map(\.week) == ["2025-W41", "2025-W42", "2025-W43"])
        #expect(card.weeks.map(\.firstDay) == ["2025-10-06", "2025-10-13", "2025-10-20"])
        #expect(card.weeks.map(\.passingDrill) == [true, false, true])
        #expect(card.weeksWithPassingDrill.numerator == 2)
        #expect(card.weeksWithPassingDrill.denominator == 3)
        #expect(card.weeksWithPassingDrill.sources == [h.drillEvent[12]!, h.drillEvent[26]!])

        // Restore validation: 4 of the 5 drills in the window passed (the September one is outside).
        #expect(card.restoreValidation.numerator == 4)
        #expect(card.restoreValidation.denominator == 5)
        #expect(card.restoreValidation.sources == [5, 12, 19, 26, 29].map { h.drillEvent[$0]! })

        // RTO trend: in time order; median of 60, 65, 70, 75, 2000 is 70; one over 30 m.
        #expect(card.drills.map(\.rtoSeconds) == [60, 70, 2000, 65, 75])
        #expect(card.drills.map(\.status) == [.pass, .pass, .fail, .pass, .pass])
        #expect(card.rtoMedianSeconds == 70)
        #expect(card.rtoMaxSeconds == 2000)
        #expect(card.rtoOverObjective.numerator == 1)
        #expect(card.rtoOverObjective.denominator == 5)
        #expect(card.rtoOverObjective.sources == [h.drillEvent[19]!])
    }

    @Test func markdownAndJSONCarryTheFigures() throws {
        let h = try Self.history()
        let card = Self.scorecard(h)
        let md = card.markdown()
        #expect(md.contains("| Backup success rate | 29/30 days (96.7 %); missed: 2025-10-15 |"))
        #expect(md.contains("| Weeks with a passing drill | 2/3 weeks (66.7 %) |"))
        #expect(md.contains("| Restore validation rate | 4/5 drills passed (80.0 %) |"))
        #expect(md.contains("| 2025-10-15 | **no** | 1 d 20 h | – | `\(h.failedBackup)` | `\(h.backupEvent[14]!)` |"))
        #expect(md.contains("| 2025-W42 | 2025-10-13 to 2025-10-19 | **no** | – |"))

        let json = try JSONSerialization.jsonObject(with: card.json()) as! [String: Any]
        #expect(json["format"] as? String == "restore-drill/sla")
        #expect(json["format_version"] as? Int == 1)
        let success = json["backup_success"] as! [String: Any]
        #expect(abs((success["rate"] as? Double ?? 0) - 29.0 / 30.0) < 1e-12)
        #expect((success["sources"] as? [String])?.count == 29)
        let decoded = try JSONDecoder().decode(SLAScorecard.self, from: card.json())
        #expect(decoded == card)
    }

    /// Spot checks: a pass in W41, a failure in W42, nothing in W43, a pass before the window.
    @Test func weeksWithAPassingSpotCheck() throws {
        var h = try Self.history()
        let pass = HistoryEvent(kind: .spot, time: Self.day(8, "06:00:00"), status: .pass)
        let fail = HistoryEvent(kind: .spot, time: Self.day(14, "06:00:00"), status: .fail)
        let early = HistoryEvent(kind: .spot, time: date("2025-09-29T06:00:00Z"), status: .pass)
        h.events += [pass, fail, early]
        let card = Self.scorecard(h)
        #expect(card.weeks.map(\.passingSpot) == [true, false, false])
        #expect(card.weeks.map(\.spotSources) == [[pass.id], [], []])
        let spot = try #require(card.weeksWithPassingSpot)
        #expect(spot.numerator == 1 && spot.denominator == 3)
        #expect(spot.sources == [pass.id])
        #expect(card.markdown().contains("| Weeks with a passing spot check | 1/3 weeks (33.3 %) |"))
        // A spot check is not a drill: the drill weeks are unchanged.
        #expect(card.weeks.map(\.passingDrill) == [true, false, true])
        let json = try JSONSerialization.jsonObject(with: card.json()) as! [String: Any]
        #expect((json["weeks_with_passing_spot"] as? [String: Any])?["numerator"] as? Int == 1)
    }

    @Test func emptyHistoryIsAllMisses() {
        let card = SLAScorecard.compute(
            events: [], sets: [], since: 7 * 86400, now: Self.now, timeZone: TimeZone(identifier: "Europe/Berlin")!,
            objectives: .init())
        #expect(card.days.count == 7)
        #expect(card.backupSuccess.numerator == 0)
        #expect(card.restoreValidation.rate == nil)
        #expect(card.days.allSatisfy { $0.maxRPOSeconds == nil })
        #expect(card.markdown().contains("| Restore validation rate | none in the window |"))
    }
}
