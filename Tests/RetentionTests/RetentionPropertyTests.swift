import DrillCore
import Foundation
import Testing

@testable import Retention


/// The retention rule (README, "Retention, health and history") written again, by hand and differently: bucket keys from `DateFormatter`
/// patterns with Foundation's ISO 8601 calendar (not the policy's Gregorian calendar and
/// `dateComponents`), buckets grouped in a dictionary and sorted (not scanned in order).
func referenceKept(sets: [RetainedSetInfo], rules: RetentionRules, now: Date, zone: TimeZone) -> Set<BackupID> {
    func formatter(_ pattern: String) -> DateFormatter {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = zone
        let f = DateFormatter()
        f.calendar = calendar
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = pattern
        return f
    }
    let patterns = [("yyyy-MM-dd", rules.daily), ("YYYY-'W'ww", rules.weekly), ("yyyy-MM", rules.monthly)]

    var kept = Set<BackupID>()
    // The one clock rule: more than 5 minutes (300 s) after now is the future.
    let present = sets.filter { $0.id.date.timeIntervalSince(now) <= 300 }
    kept.formUnion(sets.filter { $0.id.date.timeIntervalSince(now) > 300 }.map(\.id))
    let complete = present.filter(\.complete)
    if let newest = complete.map(\.id).max() { kept.insert(newest) }
    if let verified = present.filter(\.drillPassed).map(\.id).max() { kept.insert(verified) }
    kept.formUnion(present.map(\.id).sorted(by: >).prefix(rules.last))
    for (pattern, count) in patterns where count > 0 {
        let f = formatter(pattern)
        let groups = Dictionary(grouping: complete.map(\.id)) { f.string(from: $0.date) }
        for key in groups.keys.sorted(by: >).prefix(count) { kept.insert(groups[key]!.max()!) }
        if groups.count < count, let oldest = complete.map(\.id).min() { kept.insert(oldest) }
    }
    return kept
}

@Suite struct RetentionPropertyTests {
    static let zones = [
        "UTC", "Europe/Berlin", "America/New_York", "Australia/Perth", "Australia/Lord_Howe", "Pacific/Auckland",
    ]

    /// A random history: bursts of sets minutes apart, daily runs, and gaps of weeks; some partial,
    /// some drilled, some sharing a second, some dated after `now`.
    static func history(_ rng: inout SeededGenerator) -> (sets: [RetainedSetInfo], now: Date) {
        var t = Timestamp.date("2019-06-01T00:00:00Z")!.addingTimeInterval(
            Double.random(in: 0...(3 * 365 * 86400), using: &rng))
        var sets: [RetainedSetInfo] = []
        var seen = Set<BackupID>()
        for _ in 0..<Int.random(in: 0...70, using: &rng) {
            let step: Double
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: step = Double.random(in: 60...3600, using: &rng)
            case 1: step = Double.random(in: 7...60, using: &rng) * 86400
            case 2: step = 0
            default: step = Double.random(in: 0.5...2.0, using: &rng) * 86400
            }
            t = t.addingTimeInterval(step.rounded())
            var sequence = 1
            while seen.contains(BackupID(date: t, sequence: sequence)) { sequence += 1 }
            let id = BackupID(date: t, sequence: sequence)
            seen.insert(id)
            sets.append(
                RetainedSetInfo(
                    id: id, complete: Int.random(in: 0..<5, using: &rng) > 0,
                    drillPassed: Int.random(in: 0..<6, using: &rng) == 0))
        }
        let newest = sets.map(\.id.date).max() ?? t
        let now =
            Int.random(in: 0..<8, using: &rng) == 0
            ? newest.addingTimeInterval(-Double.random(in: 0...(20 * 86400), using: &rng))
            : newest.addingTimeInterval(Double.random(in: 0...(3 * 86400), using: &rng))
        sets.shuffle(using: &rng)
        return (sets, now)
    }

    @Test func randomHistoriesMatchTheReferenceAndKeepWhatMustSurvive() {
        var rng = SeededGenerator(seed: 0x5EED_2025)
        var checked = 0
        var sawShortRule = false
        var sawFuture = false
        for caseNumber in 0..<300 {
            let (sets, now) = Self.history(&rng)
            let zone = TimeZone(identifier: Self.zones.randomElement(using: &rng)!)!
            let rules = RetentionRules(
                last: Int.random(in: 0...3, using: &rng), daily: Int.random(in: 0...9, using: &rng),
                weekly: Int.random(in: 0...6, using: &rng), monthly: Int.random(in: 0...14, using: &rng))
            let decisions = RetentionPolicy.apply(sets: sets, rules: rules, now: now, timeZone: zone)
            let kept = Set(decisions.filter(\.keep).map(\.id))
            let context = "case \(caseNumber): \(sets.count) sets, \(rules), zone \(zone.identifier)"

            #expect(decisions.count == sets.count, "\(context)")
            #expect(decisions.allSatisfy { !$0.reasons.isEmpty }, "\(context)")
            let present = sets.filter { $0.id.date.timeIntervalSince(now) <= 300 }
            if let newestComplete = present.filter(\.complete).map(\.id).max() {
                #expect(kept.contains(newestComplete), "\(context): newest complete \(newestComplete) removed")
            }
            if let newestVerified = present.filter(\.drillPassed).map(\.id).max() {
                #expect(kept.contains(newestVerified), "\(context): newest verified \(newestVerified) removed")
            }
            let reference = referenceKept(sets: sets, rules: rules, now: now, zone: zone)
            #expect(
                kept == reference,
                "\(context): extra \(kept.subtracting(reference)), missing \(reference.subtracting(kept))")
            sawFuture = sawFuture || sets.contains { $0.id.date.timeIntervalSince(now) > 300 }
            sawShortRule = sawShortRule || decisions.contains { $0.reasons.contains { $0.contains("oldest set") } }
            checked += 1
        }
        #expect(checked == 300)
        #expect(sawFuture && sawShortRule, "the generator must reach future sets and rules that run short")
    }
}
