import DrillCore
import Foundation
import Testing

@testable import Retention

/// Builds a set id from an ISO 8601 UTC time, e.g. `at("2025-03-29T22:30:00Z")`.
func at(_ iso: String, sequence: Int = 1) -> BackupID {
    BackupID(date: Timestamp.date(iso)!, sequence: sequence)
}

func zone(_ name: String) -> TimeZone { TimeZone(identifier: name)! }

/// Decisions keyed by id, for lookups in assertions.
func decide(
    _ sets: [RetainedSetInfo], _ rules: RetentionRules, now: String, zone name: String
) -> [BackupID: RetentionDecision] {
    let decisions = RetentionPolicy.apply(sets: sets, rules: rules, now: Timestamp.date(now)!, timeZone: zone(name))
    #expect(decisions.count == sets.count)
    #expect(decisions.map(\.id) == sets.map(\.id).sorted(by: >), "decisions come newest first")
    return Dictionary(uniqueKeysWithValues: decisions.map { ($0.id, $0) })
}

func complete(_ ids: [BackupID]) -> [RetainedSetInfo] { ids.map { RetainedSetInfo(id: $0, complete: true) } }

@Suite struct RetentionGoldenTests {
    @Test func springForwardInBerlinUsesLocalDaysAndWeeks() {
        // DST starts Sun 2025-03-30 at 01:00 UTC (02:00 CET → 03:00 CEST).
        let sat = at("2025-03-29T22:30:00Z")  // 23:30 CET Saturday 29
        let sunEarly = at("2025-03-29T23:30:00Z")  // 00:30 CET Sunday 30 (same UTC day as `sat`)
        let sunLate = at("2025-03-30T21:59:00Z")  // 23:59 CEST Sunday 30
        let mon = at("2025-03-30T22:30:00Z")  // 00:30 CEST Monday 31, ISO week 14
        let d = decide(
            complete([sat, sunEarly, sunLate, mon]), RetentionRules(last: 0, daily: 7, weekly: 4, monthly: 0),
            now: "2025-03-31T12:00:00Z", zone: "Europe/Berlin")
        #expect(d[mon]?.reasons == ["newest complete set", "daily 2025-03-31", "weekly 2025-W14"])
        #expect(d[sunLate]?.reasons == ["daily 2025-03-30", "weekly 2025-W13"])
        #expect(d[sunEarly]?.keep == false)
        #expect(d[sunEarly]?.reasons == ["weekly 2025-W13 keeps \(sunLate)", "daily 2025-03-30 keeps \(sunLate)"])
        // daily 7 finds 3 days and weekly 4 finds 2 weeks: `sat` is the oldest set and already the
        // daily keeper of its day; the weekly rule, short of weeks, keeps it as the oldest set.
        #expect(d[sat]?.reasons == ["daily 2025-03-29", "weekly oldest set (2 of 4 weeks hold sets)"])
    }

    @Test func fallBackInBerlinRepeatsAnHourWithinOneDay() {
        // DST ends Sun 2025-10-26 at 01:00 UTC (03:00 CEST → 02:00 CET): 02:30 local happens twice.
        let prevNight = at("2025-10-25T21:59:00Z")  // 23:59 CEST Saturday 25
        let first0230 = at("2025-10-26T00:30:00Z")  // 02:30 CEST Sunday 26
        let second0230 = at("2025-10-26T01:30:00Z")  // 02:30 CET Sunday 26
        let lastOfDay = at("2025-10-26T22:59:00Z")  // 23:59 CET Sunday 26
        let monday = at("2025-10-26T23:00:00Z")  // 00:00 CET Monday 27, still UTC day 26
        let d = decide(
            complete([prevNight, first0230, second0230, lastOfDay, monday]),
            RetentionRules(last: 0, daily: 3, weekly: 0, monthly: 0), now: "2025-10-27T06:00:00Z",
            zone: "Europe/Berlin")
        #expect(d[monday]?.reasons == ["newest complete set", "daily 2025-10-27"])
        #expect(d[lastOfDay]?.reasons == ["daily 2025-10-26"])
        #expect(d[second0230]?.keep == false)
        #expect(d[first0230]?.reasons == ["daily 2025-10-26 keeps \(lastOfDay)"])
        #expect(d[prevNight]?.reasons == ["daily 2025-10-25"])
        // In UTC the same sets fall on other days: the zone decides.
        let utc = decide(
            complete([prevNight, first0230, second0230, lastOfDay, monday]),
            RetentionRules(last: 0, daily: 3, weekly: 0, monthly: 0), now: "2025-10-27T06:00:00Z", zone: "UTC")
        #expect(utc[monday]?.reasons == ["newest complete set", "daily 2025-10-26"])
        #expect(utc[lastOfDay]?.keep == false)
    }

    @Test func newYorkBothChangesOfTheYear() {
        // Spring: 2025-03-09 07:00 UTC (02:00 EST → 03:00 EDT). Fall: 2025-11-02 06:00 UTC (02:00 EDT → 01:00 EST).
        let sat = at("2025-03-09T04:59:00Z")  // 23:59 EST Sat 8
        let sunMidnight = at("2025-03-09T05:00:00Z")  // 00:00 EST Sun 9
        let sunLast = at("2025-03-10T03:59:00Z")  // 23:59 EDT Sun 9
        let mon = at("2025-03-10T04:00:00Z")  // 00:00 EDT Mon 10 (ISO week 11)
        let fallEDT = at("2025-11-02T05:30:00Z")  // 01:30 EDT Sun 2
        let fallEST = at("2025-11-02T06:30:00Z")  // 01:30 EST Sun 2, second time
        let fallLast = at("2025-11-03T04:59:00Z")  // 23:59 EST Sun 2
        let novMon = at("2025-11-03T05:00:00Z")  // 00:00 EST Mon 3
        let all = [sat, sunMidnight, sunLast, mon, fallEDT, fallEST, fallLast, novMon]
        let d = decide(
            complete(all), RetentionRules(last: 0, daily: 5, weekly: 3, monthly: 2), now: "2025-11-03T12:00:00Z",
            zone: "America/New_York")
        #expect(
            d[novMon]?.reasons == ["newest complete set", "daily 2025-11-03", "weekly 2025-W45", "monthly 2025-11"])
        #expect(d[fallLast]?.reasons == ["daily 2025-11-02", "weekly 2025-W44"])
        #expect(d[fallEST]?.keep == false)
        #expect(d[fallEDT]?.keep == false)
        #expect(d[mon]?.reasons == ["daily 2025-03-10", "weekly 2025-W11", "monthly 2025-03"])
        #expect(d[sunLast]?.reasons == ["daily 2025-03-09"])
        #expect(d[sunMidnight]?.keep == false)
        #expect(
            d[sunMidnight]?.reasons == [
                "monthly 2025-03 keeps \(mon)", "beyond weekly 3", "daily 2025-03-09 keeps \(sunLast)",
            ])
        #expect(d[sat]?.reasons == ["daily 2025-03-08"])
    }

    @Test func isoWeek53Of2020And2026() {
        let thu2020 = at("2020-12-31T12:00:00Z")  // 2020-W53
        let sat2021 = at("2021-01-02T12:00:00Z")  // still 2020-W53
        let mon2021 = at("2021-01-04T12:00:00Z")  // 2021-W01
        var d = decide(
            complete([thu2020, sat2021, mon2021]), RetentionRules(last: 0, daily: 0, weekly: 2, monthly: 2),
            now: "2021-01-05T00:00:00Z", zone: "Europe/Berlin")
        #expect(d[mon2021]?.reasons == ["newest complete set", "weekly 2021-W01", "monthly 2021-01"])
        #expect(d[sat2021]?.reasons == ["weekly 2020-W53"])
        #expect(d[thu2020]?.reasons == ["monthly 2020-12"])

        let mon2025 = at("2025-12-29T09:00:00Z")  // ISO year 2026, week 1, calendar month 2025-12
        let thu2026 = at("2026-12-31T09:00:00Z")  // 2026-W53
        let sun2027 = at("2027-01-03T09:00:00Z")  // 2026-W53
        d = decide(
            complete([mon2025, thu2026, sun2027]), RetentionRules(last: 0, daily: 0, weekly: 3, monthly: 0),
            now: "2027-01-03T12:00:00Z", zone: "America/New_York")
        #expect(d[sun2027]?.reasons == ["newest complete set", "weekly 2026-W53"])
        #expect(d[thu2026]?.reasons == ["weekly 2026-W53 keeps \(sun2027)"])
        // Only 2 of 3 weeks hold sets; the oldest set is already the keeper of its week.
        #expect(d[mon2025]?.reasons == ["weekly 2026-W01"])
    }

    @Test func gapsOfSeveralWeeksDoNotUseUpCounts() {
        let jan = at("2025-01-05T03:00:00Z")
        let mar10 = at("2025-03-10T03:00:00Z")
        let mar11 = at("2025-03-11T03:00:00Z")
        let may = at("2025-05-20T03:00:00Z")
        let d = decide(
            complete([jan, mar10, mar11, may]), RetentionRules(last: 0, daily: 2, weekly: 2, monthly: 2),
            now: "2025-05-21T00:00:00Z", zone: "Europe/Berlin")
        #expect(d[may]?.reasons == ["newest complete set", "daily 2025-05-20", "weekly 2025-W21", "monthly 2025-05"])
        #expect(d[mar11]?.reasons == ["daily 2025-03-11", "weekly 2025-W11", "monthly 2025-03"])
        #expect(
            d[mar10]?.summary
                == "remove \(mar10): monthly 2025-03 keeps \(mar11); weekly 2025-W11 keeps \(mar11); beyond daily 2")
        #expect(d[jan]?.summary == "remove \(jan): beyond monthly 2; beyond weekly 2; beyond daily 2")
    }

    @Test func ruleThatRunsShortKeepsTheOldestSet() {
        let a = at("2025-06-01T03:00:00Z")
        let b = at("2025-06-01T09:00:00Z")
        let c = at("2025-06-02T03:00:00Z")
        let d = decide(
            complete([a, b, c]), RetentionRules(last: 0, daily: 7, weekly: 0, monthly: 0),
            now: "2025-06-03T00:00:00Z", zone: "UTC")
        #expect(d[c]?.reasons == ["newest complete set", "daily 2025-06-02"])
        #expect(d[b]?.reasons == ["daily 2025-06-01"])
        #expect(d[a]?.reasons == ["daily oldest set (2 of 7 days hold sets)"])
    }

    @Test func severalSetsOnOneDayKeepTheNewestCompleteOne() {
        // Perth is UTC+8 all year: 2025-10-12 local runs from 2025-10-11T16:00Z to 2025-10-12T16:00Z.
        let early = at("2025-10-11T16:00:00Z")  // 00:00 local
        let three = at("2025-10-12T03:00:01Z")
        let threeAgain = at("2025-10-12T03:00:01Z", sequence: 2)
        let evening = at("2025-10-12T10:00:00Z")  // 18:00 local, partial
        let nextDay = at("2025-10-12T16:00:00Z")  // 00:00 local 13th, partial
        let sets = [
            RetainedSetInfo(id: early, complete: true), RetainedSetInfo(id: three, complete: true),
            RetainedSetInfo(id: threeAgain, complete: true), RetainedSetInfo(id: evening, complete: false),
            RetainedSetInfo(id: nextDay, complete: false),
        ]
        let d = decide(
            sets, RetentionRules(last: 1, daily: 1, weekly: 0, monthly: 0), now: "2025-10-12T20:00:00Z",
            zone: "Australia/Perth")
        #expect(d[nextDay]?.reasons == ["last 1"])
        #expect(d[evening]?.summary == "remove \(evening): partial set: counts only for last; beyond last 1")
        #expect(d[threeAgain]?.reasons == ["newest complete set", "daily 2025-10-12"])
        #expect(d[three]?.keep == false)
        #expect(d[early]?.reasons == ["daily 2025-10-12 keeps \(threeAgain)", "beyond last 1"])
    }

    @Test func futureSetIsKeptAndNotCounted() {
        let days = (8...12).map { at(String(format: "2025-10-%02dT03:00:00Z", $0)) }
        let future = at("2030-01-01T03:00:00Z")
        let d = decide(
            complete(days + [future]), RetentionRules(last: 1, daily: 3, weekly: 0, monthly: 0),
            now: "2025-10-12T12:00:00Z", zone: "UTC")
        #expect(d[future]?.reasons == ["dated in the future (2030-01-01T03:00:00.000Z), not counted"])
        #expect(d[days[4]]?.reasons == ["newest complete set", "last 1", "daily 2025-10-12"])
        #expect(d[days[3]]?.reasons == ["daily 2025-10-11"])
        #expect(d[days[2]]?.reasons == ["daily 2025-10-10"])
        #expect(d[days[1]]?.keep == false)
        #expect(d[days[0]]?.summary == "remove \(days[0]): beyond daily 3; beyond last 1")
    }

    /// The one clock rule: up to 5 minutes after now is clock skew and counts; more is the future.
    @Test func aSetTwoMinutesAheadCountsAndSixMinutesAheadIsTheFuture() {
        let yesterday = at("2025-10-11T12:00:00Z")
        let twoAhead = at("2025-10-12T12:02:00Z")
        let sixAhead = at("2025-10-12T12:06:00Z")
        let rules = RetentionRules(last: 1, daily: 0, weekly: 0, monthly: 0)
        let counted = decide(complete([yesterday, twoAhead]), rules, now: "2025-10-12T12:00:00Z", zone: "UTC")
        #expect(counted[twoAhead]?.reasons == ["newest complete set", "last 1"])
        #expect(counted[yesterday]?.keep == false)
        let future = decide(complete([yesterday, sixAhead]), rules, now: "2025-10-12T12:00:00Z", zone: "UTC")
        #expect(future[sixAhead]?.reasons == ["dated in the future (2025-10-12T12:06:00.000Z), not counted"])
        #expect(future[yesterday]?.reasons == ["newest complete set", "last 1"])
        // Exactly 5 minutes ahead is still skew.
        let edge = at("2025-10-12T12:05:00Z")
        #expect(
            decide(complete([edge]), rules, now: "2025-10-12T12:00:00Z", zone: "UTC")[edge]?.reasons
                == ["newest complete set", "last 1"])
    }

    @Test func newestVerifiedAndNewestCompleteSurviveEveryRule() {
        let days = (1...10).map { at(String(format: "2025-10-%02dT03:00:00Z", $0)) }
        var sets = days.map { RetainedSetInfo(id: $0, complete: true) }
        sets[2].drillPassed = true  // 2025-10-03
        sets[0].drillPassed = true  // older, passed too
        sets[9].complete = false  // newest is partial
        let d = decide(
            sets, RetentionRules(last: 0, daily: 0, weekly: 0, monthly: 0), now: "2025-10-11T00:00:00Z", zone: "UTC")
        #expect(d[days[9]]?.summary == "remove \(days[9]): partial set: counts only for last")
        #expect(d[days[8]]?.reasons == ["newest complete set"])
        #expect(d[days[2]]?.reasons == ["newest verified set"])
        #expect(d[days[0]]?.summary == "remove \(days[0]): no rule keeps it")
        #expect(d.values.filter(\.keep).count == 2)
    }

    @Test func emptyDestinationDecidesNothing() {
        #expect(RetentionPolicy.apply(sets: [], rules: RetentionRules(), now: Date(), timeZone: zone("UTC")).isEmpty)
    }

    @Test func configuredRulesAndZone() throws {
        var settings = RestoreDrillConfig.RetentionSettings()
        settings.daily = 3
        settings.weekly = -2
        #expect(RetentionRules(settings) == RetentionRules(last: 1, daily: 3, weekly: 0, monthly: 12))
        #expect(try RetentionPolicy.timeZone(named: "Australia/Perth").identifier == "Australia/Perth")
        #expect(throws: RestoreDrillError.self) { try RetentionPolicy.timeZone(named: "Mars/Olympus") }
    }

    /// 400 days of one backup a day, pruned after each backup as `prune` would (each day: add the
    /// new set, apply, drop what is removed). The weekly and monthly buckets must fill: the old
    /// system kept nothing older than ten days after four months.
    @Test func fourHundredDaysPrunedDayAfterDay() {
        let berlin = zone("Europe/Berlin")
        let rules = RetentionRules()  // 1 / 7 / 4 / 12
        let start = Timestamp.date("2024-01-01T02:00:00Z")!
        var held: [RetainedSetInfo] = []
        var all: [RetainedSetInfo] = []
        var now = start
        for day in 0..<400 {
            let backupTime = start.addingTimeInterval(Double(day) * 86400)
            let set = RetainedSetInfo(id: BackupID(date: backupTime), complete: true)
            held.append(set)
            all.append(set)
            now = backupTime.addingTimeInterval(3600)
            let decisions = RetentionPolicy.apply(sets: held, rules: rules, now: now, timeZone: berlin)
            let kept = Set(decisions.filter(\.keep).map(\.id))
            held.removeAll { !kept.contains($0.id) }
            #expect(held.count <= 1 + 7 + 4 + 12 + 1, "day \(day): \(held.count) sets held")
        }
        func keys(_ bucket: RetentionBucket, _ ids: [BackupID]) -> Set<String> {
            Set(ids.map { RetentionPolicy.bucketKey(bucket, of: $0.date, timeZone: berlin) })
        }
        let heldIDs = held.map(\.id)
        // The newest 7 days, 4 ISO weeks and 12 months of the whole history are all represented.
        let allIDs = all.map(\.id).sorted(by: >)
        for (bucket, count) in [(RetentionBucket.daily, 7), (.weekly, 4), (.monthly, 12)] {
            var wanted: [String] = []
            for id in allIDs {
                let key = RetentionPolicy.bucketKey(bucket, of: id.date, timeZone: berlin)
                if wanted.last != key { wanted.append(key) }
            }
            let newest = Set(wanted.prefix(count))
            #expect(newest.count == count)
            #expect(
                newest.isSubset(of: keys(bucket, heldIDs)),
                "\(bucket) buckets \(newest.subtracting(keys(bucket, heldIDs)))")
        }
        // The oldest set held is about a year old, not ten days.
        let oldest = heldIDs.min()!
        #expect(now.timeIntervalSince(oldest.date) > 300 * 86400)
        // Pruning day by day ends where one prune of the whole history ends.
        let oneShot = RetentionPolicy.apply(sets: all, rules: rules, now: now, timeZone: berlin)
        #expect(Set(oneShot.filter(\.keep).map(\.id)) == Set(heldIDs))
        #expect(heldIDs.count == Set(heldIDs).count)
    }
}
