import DrillCore
import Foundation
import Health
import TestSupport
import Testing
import Verifier

@testable import Schedule

/// A temporary home, configuration file and executable "tool" for schedule tests.
final class ScheduleFixture {
    let base: String
    let home: String
    let configPath: String
    let tool: String
    let target: String
    let logs: String
    var config: RestoreDrillConfig

    init(schedule: String = "{backup: \"03:00\", prune: \"04:00\", drill: \"Sun 05:00\", health: hourly}") throws {
        base = try TempFolder("schedule").path
        home = base + "/home"
        // A space and a `%` in the folder: the units must carry them exactly.
        let bin = base + "/tool dir%"
        tool = bin + "/restore-drill"
        target = base + "/target"
        logs = base + "/logs"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: URL(fileURLWithPath: tool))
        chmod(tool, 0o755)
        configPath = base + "/restore-drill.yml"
        let text = "home: \(home)\nroot: \(home)/git/maia\ndestination: \(base)/dest\nschedule: \(schedule)\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
        config = try RestoreDrillConfig.load(path: configPath)
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    var installer: ScheduleInstaller { ScheduleInstaller(config: config, toolPath: tool, home: home, environment: [:]) }

    func request(_ system: ScheduleSystem, print: Bool = false) -> ScheduleInstaller.Request {
        .init(system: system, printOnly: print, target: target, logFolder: logs)
    }
}

/// Runs `argv` (an absolute path, then arguments); standard output and error together.
func run(_ argv: [String]) throws -> (status: Int32, output: String) {
    let run = try runTool(argv[0], Array(argv.dropFirst()), mergingError: true)
    return (run.status, run.output)
}

@Suite struct ScheduleTimeTests {
    @Test func theThreeFormsParse() throws {
        #expect(try ScheduleTime.parse("03:00", key: "k") == .daily(hour: 3, minute: 0))
        #expect(try ScheduleTime.parse("7:05", key: "k") == .daily(hour: 7, minute: 5))
        #expect(try ScheduleTime.parse("Sun 05:00", key: "k") == .weekly(weekday: 0, hour: 5, minute: 0))
        #expect(try ScheduleTime.parse("saturday 23:59", key: "k") == .weekly(weekday: 6, hour: 23, minute: 59))
        #expect(try ScheduleTime.parse("hourly", key: "k") == .hourly)
    }

    @Test(arguments: ["24:00", "03:60", "3", "Sunday", "Sun", "Sonntag 05:00", "03:00 Sun", "", "daily", "03:0"])
    func badValuesNameTheKey(_ text: String) {
        #expect(throws: RestoreDrillError.self) { try ScheduleTime.parse(text, key: "schedule.drill", file: "/c.yml") }
        do {
            _ = try ScheduleTime.parse(text, key: "schedule.drill", file: "/c.yml")
        } catch let error as RestoreDrillError {
            #expect(error.description.hasPrefix("/c.yml: schedule.drill: "))
            #expect(error.exitStatus == .usage)
        } catch { Issue.record("\(error)") }
    }

    @Test func launchdAndSystemdForms() throws {
        #expect(
            try ScheduleTime.parse("Sun 05:00", key: "k").launchdInterval == ["Weekday": 0, "Hour": 5, "Minute": 0])
        #expect(try ScheduleTime.parse("Sun 05:00", key: "k").onCalendar == "Sun *-*-* 05:00:00")
        #expect(try ScheduleTime.parse("03:00", key: "k").onCalendar == "*-*-* 03:00:00")
        #expect(ScheduleTime.hourly.onCalendar == "*-*-* *:00:00")
        #expect(ScheduleTime.hourly.launchdInterval == ["Minute": 0])
    }

    /// systemd's own parser agrees with each OnCalendar value (`systemd-analyze calendar`).
    @Test(.needsTool("systemd-analyze", package: "systemd"))
    func systemdAcceptsEachOnCalendar() throws {
        let analyze = try requireTool("systemd-analyze", package: "systemd")
        for text in ["03:00", "Sun 05:00", "hourly", "Wed 23:59"] {
            let value = try ScheduleTime.parse(text, key: "k").onCalendar
            let result = try run([analyze, "calendar", value])
            #expect(result.status == 0, "\(value): \(result.output)")
        }
    }
}

@Suite struct ScheduleInstallTests {
    @Test func launchdPlistsPassPlutilAndOurLint() throws {
        let f = try ScheduleFixture()
        let outcome = try f.installer.install(f.request(.launchd))
        let names = outcome.written.map { ($0 as NSString).lastPathComponent }
        #expect(names == ScheduledJob.allCases.map { "com.restore-drill.\($0.rawValue).plist" })
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: f.logs, isDirectory: &isDir) && isDir.boolValue)
        for path in outcome.written {
            let plutil = try run(["/opt/swift/usr/bin/plutil", "-lint", path])
            #expect(plutil.status == 0, "\(plutil.output)")
            let lint = AgentLinter().lint(file: path)
            #expect(lint.findings.isEmpty, "\(path): \(lint.findings)")
            #expect(lint.outcome(.program)?.verdict == .pass)
            #expect(lint.outcome(.logFolders)?.verdict == .pass)
        }
        // The drill job: argv array with the absolute tool and config, weekly on Sunday 05:00.
        let drill = f.target + "/com.restore-drill.drill.plist"
        let plist =
            try PropertyListSerialization.propertyList(
                from: try Data(contentsOf: URL(fileURLWithPath: drill)), format: nil) as? [String: Any]
        #expect(plist?["ProgramArguments"] as? [String] == [f.tool, "drill", "--latest", "--config", f.configPath])
        #expect(plist?["StartCalendarInterval"] as? [String: Int] == ["Weekday": 0, "Hour": 5, "Minute": 0])
        #expect(plist?["StandardOutPath"] as? String == f.logs + "/drill.log")
        #expect(plist?["StandardErrorPath"] as? String == f.logs + "/drill.err.log")
        #expect(plist?["Label"] as? String == "com.restore-drill.drill")
        let hourly =
            try PropertyListSerialization.propertyList(
                from: try Data(contentsOf: URL(fileURLWithPath: f.target + "/com.restore-drill.health.plist")),
                format: nil)
            as? [String: Any]
        #expect(hourly?["StartCalendarInterval"] as? [String: Int] == ["Minute": 0])
        // A second install changes nothing.
        let again = try f.installer.install(f.request(.launchd))
        #expect(again.written.isEmpty)
        #expect(again.unchanged.count == ScheduledJob.allCases.count)
    }

    @Test func printWritesNothing() throws {
        let f = try ScheduleFixture()
        let outcome = try f.installer.install(f.request(.systemd, print: true))
        #expect(outcome.written.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: f.target))
        #expect(!FileManager.default.fileExists(atPath: f.logs))
        let text = outcome.text(printOnly: true)
        #expect(text.contains("# \(f.target)/restore-drill-backup.timer\n"))
        #expect(text.contains("OnCalendar=Sun *-*-* 05:00:00"))
        _ = try f.installer.install(f.request(.launchd, print: true))
        #expect(!FileManager.default.fileExists(atPath: f.target))
    }

    @Test func aFileWeDidNotGenerateIsNeverOverwritten() throws {
        let f = try ScheduleFixture()
        try FileManager.default.createDirectory(atPath: f.target, withIntermediateDirectories: true)
        let theirs = f.target + "/com.restore-drill.prune.plist"
        try Data("<plist>mine</plist>".utf8).write(to: URL(fileURLWithPath: theirs))
        #expect(throws: RestoreDrillError.self) { try f.installer.install(f.request(.launchd)) }
        #expect(
            String(decoding: FileManager.default.contents(atPath: theirs) ?? Data(), as: UTF8.self)
                == "<plist>mine</plist>")
        #expect(
            !FileManager.default.fileExists(atPath: f.target + "/com.restore-drill.backup.plist"), "nothing written")
        // A file we generated earlier (marker present) is replaced when the schedule changes.
        try FileManager.default.removeItem(atPath: theirs)
        _ = try f.installer.install(f.request(.launchd))
        f.config.schedule.backup = "02:30"
        let outcome = try f.installer.install(f.request(.launchd))
        #expect(outcome.written == [f.target + "/com.restore-drill.backup.plist"])
        let plist =
            try PropertyListSerialization.propertyList(
                from: try Data(contentsOf: URL(fileURLWithPath: outcome.written[0])), format: nil) as? [String: Any]
        #expect(plist?["StartCalendarInterval"] as? [String: Int] == ["Hour": 2, "Minute": 30])
    }

    /// A bad schedule is caught when the configuration is read (so `config check` reports it with
    /// its line), before anything could be installed.
    @Test func aBadScheduleValueIsAConfigurationError() throws {
        do {
            _ = try ScheduleFixture(schedule: "{drill: \"Sun 25:00\"}")
            Issue.record("expected an error")
        } catch let error as RestoreDrillError {
            #expect(error.description.contains("restore-drill.yml:4: schedule.drill"))
            #expect(error.exitStatus == .usage)
        }
    }

    @Test func systemdUnitsReadBackAsWritten() throws {
        let f = try ScheduleFixture()
        let outcome = try f.installer.install(f.request(.systemd))
        #expect(outcome.written.count == 2 * ScheduledJob.allCases.count)
        // Parsed back: sections and keys as systemd reads them.
        let service = try UnitFile(path: f.target + "/restore-drill-backup.service")
        #expect(service.value("Service", "Type") == "oneshot")
        #expect(service.execStartArgv() == [f.tool, "backup", "--config", f.configPath])
        #expect(service.value("Service", "StandardOutput") == "append:" + f.logs + "/backup.log")
        #expect(service.value("Service", "StandardError") == "append:" + f.logs + "/backup.err.log")
        let timer = try UnitFile(path: f.target + "/restore-drill-drill.timer")
        #expect(timer.value("Timer", "OnCalendar") == "Sun *-*-* 05:00:00")
        #expect(timer.value("Timer", "Persistent") == "true")
        #expect(timer.value("Timer", "Unit") == "restore-drill-drill.service")
        #expect(timer.value("Install", "WantedBy") == "timers.target")
        #expect(outcome.nextSteps.last?.contains("restore-drill-backup.timer") == true)
    }

    /// systemd's own parser reads our units without a complaint, and complains about a broken one.
    @Test(.needsTool("systemd-analyze", package: "systemd"))
    func systemdUnitsPassSystemdAnalyzeVerify() throws {
        let analyze = try requireTool("systemd-analyze", package: "systemd")
        let f = try ScheduleFixture()
        let outcome = try f.installer.install(f.request(.systemd))
        let units = outcome.written
        #expect(units.count == 2 * ScheduledJob.allCases.count)
        let verify = try run([analyze, "verify"] + units)
        #expect(verify.status == 0, "\(verify.output)")
        #expect(!verify.output.contains(f.target), "no complaint about our units: \(verify.output)")
        // And it would have complained about a broken unit (the test can fail).
        let broken = f.base + "/broken.service"
        try Data("[Service]\nExecStart=relative/path\n".utf8).write(to: URL(fileURLWithPath: broken))
        let bad = try run([analyze, "verify", broken])
        #expect(bad.status != 0 || bad.output.contains("broken.service"))
    }

    @Test func generatorRefusesRelativeOrControlPaths() {
        #expect(throws: RestoreDrillError.self) {
            try ScheduleGenerator(toolPath: "restore-drill", configPath: "/c", logFolder: "/l", schedule: .init())
        }
        #expect(throws: RestoreDrillError.self) {
            try ScheduleGenerator(toolPath: "/t", configPath: "/c\nx", logFolder: "/l", schedule: .init())
        }
    }

    @Test func withoutAConfigFileInstallIsAUsageError() throws {
        let config = RestoreDrillConfig(home: "/h", root: "/h/r", destination: "/d", baseFolder: "/b")
        let installer = ScheduleInstaller(config: config, toolPath: "/t", home: "/h", environment: [:])
        do {
            _ = try installer.install(.init(system: .launchd, printOnly: true))
            Issue.record("expected an error")
        } catch let error as RestoreDrillError {
            #expect(error.exitStatus == .usage)
        }
    }

    @Test func statusShowsWhatIsInstalledAndWhenEachJobLastRan() throws {
        let f = try ScheduleFixture()
        var status = f.installer.status(systems: [.launchd], target: f.target, logFolder: f.logs)
        #expect(status.jobs.map(\.state) == Array(repeating: "missing", count: 6))
        _ = try f.installer.install(f.request(.launchd))
        // History: two backups (the newer one partial), one drill; nothing for prune and health.
        let store = HistoryStore(destination: f.config.destination)
        let t1 = Date(timeIntervalSince1970: 1_760_000_000)
        _ = try store.append(HistoryEvent(kind: .backup, time: t1, status: .complete))
        _ = try store.append(HistoryEvent(kind: .backup, time: t1.addingTimeInterval(86400), status: .partial))
        _ = try store.append(HistoryEvent(kind: .drill, time: t1.addingTimeInterval(3600), status: .fail))
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: f.logs + "/health.log"))
        // The prune agent edited by hand: outdated.
        let prune = f.target + "/com.restore-drill.prune.plist"
        let edited = String(decoding: FileManager.default.contents(atPath: prune)!, as: UTF8.self)
            .replacingOccurrences(of: "<integer>4</integer>", with: "<integer>5</integer>")
        try Data(edited.utf8).write(to: URL(fileURLWithPath: prune))
        status = f.installer.status(systems: [.launchd], target: f.target, logFolder: f.logs)
        let byJob = Dictionary(uniqueKeysWithValues: status.jobs.map { ($0.job, $0) })
        #expect(byJob[.backup]?.state == "installed")
        #expect(byJob[.prune]?.state == "outdated")
        #expect(byJob[.backup]?.lastRun == Timestamp.string(t1.addingTimeInterval(86400)))
        #expect(byJob[.backup]?.lastStatus == "partial")
        #expect(byJob[.drill]?.lastRun == Timestamp.string(t1.addingTimeInterval(3600)))
        #expect(byJob[.drill]?.lastStatus == "fail")
        #expect(byJob[.prune]?.lastRun == nil)
        #expect(byJob[.health]?.lastRun == nil)
        #expect(byJob[.health]?.logModified != nil)
        #expect(status.text.contains("health  installed"))
        #expect(status.text.contains("runs are not recorded in history"))
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(status)) as? [String: Any]
        #expect(json?["format"] as? String == "restore-drill/schedule-status")
        #expect(json?["format_version"] as? Int == 1)
    }
}

/// A minimal reader of systemd unit files (systemd.syntax(7)): `[Section]` headers, `Key=Value`
/// lines, `#`/`;` comments; and of `ExecStart=` words (double quotes, `\\` escapes, `%%`, `$$`).
struct UnitFile {
    var sections: [String: [String: String]] = [:]

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var current = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast())
                sections[current, default: [:]] = [:]
                continue
            }
            guard let eq = line.firstIndex(of: "="), !current.isEmpty else {
                throw RestoreDrillError.runtime("\(path): not a unit line: \(line)")
            }
            sections[current, default: [:]][String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
    }

    func value(_ section: String, _ key: String) -> String? { sections[section]?[key] }

    /// The argv of `ExecStart=` as systemd splits and unescapes it.
    func execStartArgv() -> [String]? {
        guard let line = value("Service", "ExecStart") else { return nil }
        var words: [String] = []
        var word = ""
        var inQuotes = false
        var chars = Array(line)[...]
        while let c = chars.popFirst() {
            switch c {
            case "\"": inQuotes.toggle()
            case "\\" where inQuotes: if let n = chars.popFirst() { word.append(n) }
            case "%": if chars.first == "%" { chars.removeFirst() }; word.append("%")
            case "$": if chars.first == "$" { chars.removeFirst() }; word.append("$")
            case " " where !inQuotes:
                if !word.isEmpty { words.append(word) }
                word = ""
            default: word.append(c)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }
}
