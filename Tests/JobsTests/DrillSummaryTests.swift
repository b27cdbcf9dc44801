import DrillCore
import Foundation
import Jobs
import Testing

/// The drill summary on the terminal shows names from a set with their control characters as
/// control pictures, as the reports do: a hostile file name neither drives the terminal (ESC)
/// nor fakes a summary line (LF), nor hides characters (DEL).
@Suite struct DrillSummaryTests {
    static let hostileName = "src/evil\u{1B}[2J\nPASS restore.tree all\u{7F}.txt"

    @Test func controlCharactersInNamesAndMessagesAreShownAsControlPictures() throws {
        let started = Date(timeIntervalSince1970: 1_760_929_800)
        var result = DrillResult(
            drillID: DrillID(date: started, sequence: 1), backupID: nil,
            setPath: "/sets/full\u{1B}]0;title\u{07}", startedAt: started, isolation: .none)
        result.checks = [
            CheckResult(
                check: .restoreTree, subject: Self.hostileName, verdict: .fail,
                message: "\(Self.hostileName): size 3 → 4"),
            CheckResult(check: .setManifest, subject: "full_x", verdict: .pass, message: "ok"),
        ]
        result.reportFolder = "/reports/\u{1B}x"
        let summary = DrillJob.summary(result)
        let controls = summary.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }
        #expect(controls.isEmpty, "raw control characters: \(controls.map(\.value))")
        #expect(summary.contains("src/evil␛[2J␊PASS restore.tree all␡.txt"))
        #expect(summary.contains("/sets/full␛]0;title␇"))
        #expect(summary.contains("reports: /reports/␛x/"))
        // Every line of the summary is one of its own: the name's LF made no new line.
        #expect(!summary.split(separator: "\n").contains { $0.hasPrefix("PASS") })
    }

    /// The replay's limits follow the isolation, when the restore script ran (issue 11).
    @Test func theLimitsFollowTheIsolation() {
        let started = Date(timeIntervalSince1970: 1_760_929_800)
        var result = DrillResult(
            drillID: DrillID(date: started, sequence: 1), backupID: nil, setPath: "/sets/full_x", startedAt: started,
            isolation: .bubblewrap)
        func lines() -> [Substring] { DrillJob.summary(result).split(separator: "\n") }
        #expect(lines().contains("  isolation bubblewrap, authenticated no"))
        result.limits = "partial (memory cgroup, pids cgroup)"
        #expect(
            lines().contains("  isolation bubblewrap, authenticated no, limits partial (memory cgroup, pids cgroup)"))
    }
}
