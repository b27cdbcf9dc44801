import DrillCore
import Foundation
import Testing

@testable import Health

@Suite struct HealthEvaluationTests {
    static let now = date("2025-10-20T12:00:00Z")
    static let thresholds = RestoreDrillConfig.HealthThresholds()  // 25h / 36h / 8d / 10d

    /// A healthy input: a complete set and a passing drill at the given ages (seconds).
    static func input(backupAge: Double, drillAge: Double) -> HealthInput {
        let setTime = now.addingTimeInterval(-backupAge)
        let set = BackupID(date: setTime.addingTimeInterval(-600))
        let drill = HealthInput.RunFact(
            time: now.addingTimeInterval(-drillAge), status: .pass, backupID: set,
            drillID: DrillID(date: now.addingTimeInterval(-drillAge - 60)),
            rtoSeconds: 30, eventID: "e-drill")
        return HealthInput(
            now: now, destination: "/dest", newestComplete: .init(id: set, finishedAt: setTime, sizeBytes: 5_000),
            setCount: 3, newestPassingDrill: drill,
            lastBackup: .init(time: setTime, status: .complete, backupID: set, eventID: "e-backup"),
            lastDrill: drill, freeBytes: 1 << 40)
    }

    static func nagios(backupAge: Double, drillAge: Double) -> (line: String, exitCode: Int32) {
        HealthReport.evaluate(input(backupAge: backupAge, drillAge: drillAge), thresholds: thresholds).nagios()
    }

    @Test func nagiosLineForAHealthyDestination() {
        let (line, code) = Self.nagios(backupAge: 3 * 3600 + 12 * 60, drillAge: 2 * 86400)
        #expect(code == 0)
        #expect(
            line
                == "RESTORE-DRILL OK - newest complete set 3h12m old, last drill passed 2d ago | backup_age=11520s;90000;129600 drill_age=172800s;691200;864000 sets=3;;;0 free=1099511627776B;;;0"
        )
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var backupAge: Double
        var drillAge: Double
        var expected: Int32
        var testDescription: String { "backup \(Int(backupAge))s, drill \(Int(drillAge))s → \(expected)" }
    }

    static let cases: [Case] = [
        // backup age: below, exactly at and above the warning and critical thresholds (25h, 36h)
        Case(backupAge: 90000 - 1, drillAge: 0, expected: 0), Case(backupAge: 90000, drillAge: 0, expected: 1),
        Case(backupAge: 90001, drillAge: 0, expected: 1), Case(backupAge: 129600 - 1, drillAge: 0, expected: 1),
        Case(backupAge: 129600, drillAge: 0, expected: 2), Case(backupAge: 200000, drillAge: 0, expected: 2),
        // newest passing drill age: 8d, 10d
        Case(backupAge: 0, drillAge: 691200 - 1, expected: 0), Case(backupAge: 0, drillAge: 691200, expected: 1),
        Case(backupAge: 0, drillAge: 864000 - 1, expected: 1), Case(backupAge: 0, drillAge: 864000, expected: 2),
        // the worse of the two wins
        Case(backupAge: 90000, drillAge: 864000, expected: 2), Case(backupAge: 129600, drillAge: 691200, expected: 2),
    ]

    @Test(arguments: cases)
    func nagiosExitCodeAtEachThreshold(_ c: Case) {
        let (backupAge, drillAge, expected) = (c.backupAge, c.drillAge, c.expected)
        let (line, code) = Self.nagios(backupAge: backupAge, drillAge: drillAge)
        #expect(code == expected, "\(line)")
        let word = ["OK", "WARNING", "CRITICAL"][Int(expected)]
        #expect(line.hasPrefix("RESTORE-DRILL \(word) - "))
        #expect(line.contains("backup_age=\(Int(backupAge))s;90000;129600"))
    }

    @Test func warningNamesTheThreshold() {
        let report = HealthReport.evaluate(Self.input(backupAge: 90000, drillAge: 864000), thresholds: Self.thresholds)
        #expect(report.status == .critical)
        #expect(report.findings.first?.message == "last drill passed 10d ago (critical at 10d)")
        #expect(report.findings[1].message == "newest complete set 25h00m old (warning at 25h)")
        #expect(report.status.exitStatus == .findings)
    }

    @Test func noSetAndNoPassingDrillAreCritical() {
        let empty = HealthInput(now: Self.now, destination: "/dest", freeBytes: 100)
        let report = HealthReport.evaluate(empty, thresholds: Self.thresholds)
        #expect(report.status == .critical)
        #expect(
            report.findings.filter { $0.status == .critical }.map(\.message) == [
                "no complete backup set", "no drill has ever passed",
            ])
        let (line, code) = report.nagios()
        #expect(code == 2)
        #expect(line.contains("backup_age=U;90000;129600 drill_age=U;691200;864000 sets=0;;;0"))
    }

    @Test func partialNewestSetIsAtLeastWarningAndNamed() {
        var input = Self.input(backupAge: 3600, drillAge: 3600)
        let partial = BackupID("full_20251020_110000")!
        input.newestPartial = partial
        input.lastBackup = .init(time: Self.now, status: .partial, backupID: partial, eventID: "e")
        let report = HealthReport.evaluate(input, thresholds: Self.thresholds)
        #expect(report.status == .warning)
        #expect(
            report.findings.filter { $0.status == .warning }.map(\.message) == [
                "newest set full_20251020_110000 is partial"
            ])
        #expect(report.nagios().exitCode == 1)
    }

    @Test func failedLastRunsAndDestinationProblems() {
        var input = Self.input(backupAge: 3600, drillAge: 3 * 86400)
        input.lastBackup = .init(time: Self.now.addingTimeInterval(-1800), status: .failed, eventID: "e-failed")
        input.lastDrill = .init(
            time: Self.now.addingTimeInterval(-7200), status: .fail, drillID: DrillID("drill_20251020_095500"),
            rtoSeconds: 99,
            reportFolder: "/r/drill_20251020_095500")
        var report = HealthReport.evaluate(input, thresholds: Self.thresholds)
        #expect(report.status == .warning)
        #expect(
            report.findings.filter { $0.status == .warning }.map(\.message) == [
                "last backup failed 30m ago",
                "last drill drill_20251020_095500 failed 2h00m ago (report: /r/drill_20251020_095500)",
            ])
        #expect(report.metrics.lastDrillSuccess == 0)
        #expect(report.metrics.lastDrillRTOSeconds == 99)

        input.destinationWritable = false
        input.freeBytes = 4_000  // below the newest set's 5 000 bytes
        report = HealthReport.evaluate(input, thresholds: Self.thresholds)
        #expect(report.status == .critical)
        #expect(report.findings.prefix(2).map(\.code) == ["destination", "free_space"])
        input.freeBytes = 9_000  // below twice
        input.destinationWritable = true
        report = HealthReport.evaluate(input, thresholds: Self.thresholds)
        #expect(report.findings.first { $0.code == "free_space" }?.status == .warning)
    }

    @Test func unknownIsExitThree() {
        let report = HealthReport.unknown("/dest: cannot list: permission denied", destination: "/dest", now: Self.now)
        #expect(report.nagios() == ("RESTORE-DRILL UNKNOWN - /dest: cannot list: permission denied", 3))
        #expect(report.status.exitStatus == .runtime)
    }

    @Test func jsonIsVersioned() throws {
        let report = HealthReport.evaluate(Self.input(backupAge: 100, drillAge: 100), thresholds: Self.thresholds)
        let json = try JSONSerialization.jsonObject(with: report.json()) as! [String: Any]
        #expect(json["format"] as? String == "restore-drill/health")
        #expect(json["format_version"] as? Int == 1)
        #expect(json["status"] as? String == "OK")
        #expect(json["checked_at"] as? String == "2025-10-20T12:00:00.000Z")
        let metrics = json["metrics"] as! [String: Any]
        #expect(metrics["backup_age_seconds"] as? Double == 100)
        #expect(metrics["sets"] as? Int == 3)
        #expect((json["findings"] as! [[String: Any]]).count == report.findings.count)
        #expect(report.text().hasPrefix("restore-drill health: OK (/dest, 2025-10-20T12:00:00.000Z)\n"))
    }
}

@Suite struct HealthGatherTests {
    /// A set from a machine whose clock ran ahead is reported, but the backup age is judged on the
    /// newest set that finished before now: four days without a real backup stays CRITICAL.
    @Test func aFutureDatedSetDoesNotHideAStaleBackup() throws {
        let dest = try TempDestination()
        let real = BackupID("full_20251016_030000")!
        let ahead = BackupID("full_20251022_030000")!
        try dest.writeSet(real, finishedAt: date("2025-10-16T03:20:00Z"), size: 1_000)
        try dest.writeSet(ahead, finishedAt: date("2025-10-22T03:20:00Z"), size: 1_000)
        let now = date("2025-10-20T12:00:00Z")
        let input = try HealthInput.gather(destination: dest.path, now: now)
        #expect(input.newestComplete?.id == real)
        #expect(input.futureComplete?.id == ahead)
        let report = HealthReport.evaluate(input, thresholds: .init())
        #expect(report.status == .critical)
        let age = try #require(report.findings.first { $0.code == "backup_age" })
        #expect(age.status == .critical)
        #expect(age.message.hasPrefix("newest complete set 4d"))
        let future = try #require(report.findings.first { $0.code == "future_set" })
        #expect(future.status == .warning)
        #expect(future.message.contains("full_20251022_030000 finished 39h20m in the future"))
        // A set up to five minutes ahead is clock skew: age 0, not a future set.
        let input2 = HealthInput(
            now: now, destination: dest.path,
            newestComplete: .init(id: ahead, finishedAt: now.addingTimeInterval(120), sizeBytes: 1))
        #expect(HealthReport.evaluate(input2, thresholds: .init()).metrics.backupAgeSeconds == 0)
    }

    @Test func gatherReadsSetsByManifestAndRunsFromHistory() throws {
        let dest = try TempDestination()
        let old = BackupID("full_20251018_030000")!
        let complete = BackupID("full_20251019_030000")!
        let partial = BackupID("full_20251020_030000")!
        try dest.writeSet(old, size: 100)
        try dest.writeSet(complete, finishedAt: date("2025-10-19T03:20:00Z"), size: 2_000)
        try dest.writeSet(partial, status: .partial)
        // A look-alike folder with a damaged manifest, one without any, and a crashed backup.
        let damaged = try dest.writeSet(BackupID("full_20251021_030000")!)
        try Data("{\"format\": 1}".utf8).write(to: URL(fileURLWithPath: "\(damaged)/manifest.json"))
        try FileManager.default.createDirectory(
            atPath: "\(dest.path)/full_20251022_030000", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: "\(dest.path)/.partial-full_20251023_030000", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dest.path)/unrelated", withIntermediateDirectories: true)

        let store = HistoryStore(destination: dest.path)
        let pass = HistoryEvent(
            kind: .drill, time: date("2025-10-19T05:00:00Z"), status: .pass, backupID: complete, rtoSeconds: 10)
        let fail = HistoryEvent(
            kind: .drill, time: date("2025-10-19T06:00:00Z"), status: .fail, backupID: old, rtoSeconds: 20)
        let backup = HistoryEvent(
            kind: .backup, time: date("2025-10-20T03:30:00Z"), status: .partial, backupID: partial)
        for e in [pass, fail, backup] { try store.append(e) }

        let scan = try BackupSetScanner.scan(destination: dest.path)
        #expect(scan.sets.map(\.id) == [old, complete, partial])
        #expect(scan.rejected.map(\.name) == ["full_20251021_030000", "full_20251022_030000"])
        #expect(scan.partials.map(\.name) == [".partial-full_20251023_030000"])
        #expect(
            scan.retentionInput(events: [pass, fail]).map(\.drillPassed) == [false, true, false])

        let now = date("2025-10-20T12:00:00Z")
        let input = try HealthInput.gather(destination: dest.path, now: now)
        #expect(input.newestComplete == .init(id: complete, finishedAt: date("2025-10-19T03:20:00Z"), sizeBytes: 2_000))
        #expect(input.newestPartial == partial)
        #expect(input.setCount == 3)
        #expect(input.newestPassingDrill?.eventID == pass.id)
        #expect(input.lastDrill?.eventID == fail.id)
        #expect(input.lastBackup?.eventID == backup.id)
        #expect(input.destinationWritable)
        #expect((input.freeBytes ?? 0) > 0)
        #expect(input.rejectedFolders.count == 2)

        let report = HealthReport.evaluate(input, thresholds: .init())
        #expect(report.status == .warning)
        #expect(report.metrics.backupAgeSeconds == now.timeIntervalSince(date("2025-10-19T03:20:00Z")))
        #expect(
            Set(report.findings.filter { $0.status == .warning }.map(\.code)) == [
                "backup_age", "partial_set", "last_drill", "rejected_folder",
            ])
    }

    @Test func missingDestinationIsCriticalNotAnError() throws {
        let input = try HealthInput.gather(destination: "/nonexistent/\(UUID().uuidString)", now: Date())
        #expect(!input.destinationExists)
        let report = HealthReport.evaluate(input, thresholds: .init())
        #expect(report.status == .critical)
        #expect(report.findings.contains { $0.code == "destination" && $0.message.hasSuffix("does not exist") })
    }
}

@Suite struct PrometheusTests {
    /// Parses `path` with prometheus_client's text parser; returns family name → (type, help, sample value?).
    static func parse(_ path: String) throws -> [String: (type: String, help: String, value: Double?)] {
        let script = """
            import json, sys
            try:
                from prometheus_client.parser import text_string_to_metric_families
            except ImportError:
                print("prometheus_client is not installed: install Debian's python3-prometheus-client (ci/setup does)")
                sys.exit(3)
            out = {}
            for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
                out[fam.name] = {"type": fam.type, "help": fam.documentation,
                                 "values": [s.value for s in fam.samples if s.name == fam.name]}
            print(json.dumps(out))
            """
        let process = Process()
        // Debian's python3-prometheus-client (installed by ci/setup) for the system interpreter.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            Issue.record("the Prometheus parser did not run (exit \(process.terminationStatus)): \(text)")
            return [:]
        }
        let json = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        return json.mapValues {
            ($0["type"] as! String, $0["help"] as! String, ($0["values"] as! [Double]).first)
        }
    }

    @Test func fileParsesWithPrometheusClientWithTheDesignNames() throws {
        let dest = try TempDestination()
        let now = date("2025-10-20T12:00:00Z")
        let finished = date("2025-10-20T03:10:00Z")
        let drillTime = date("2025-10-19T05:02:30Z")
        let set = BackupID("full_20251020_030000")!
        let drill = HealthInput.RunFact(time: drillTime, status: .pass, backupID: set, rtoSeconds: 12.25)
        var input = HealthInput(
            now: now, destination: dest.path,
            newestComplete: .init(id: set, finishedAt: finished, sizeBytes: 123_456_789), setCount: 9,
            newestPassingDrill: drill, lastDrill: drill)
        // One off-site remote verified (a labelled sample, issue 16).
        input.remotes = [
            RemoteFact.gather(
                name: "onedrive",
                events: [
                    HistoryEvent(
                        kind: .offsiteCheck, time: drillTime, status: .pass, backupID: set,
                        details: ["remote": "onedrive"])
                ])
        ]
        // A proof ledger with 900 of 1200 bytes proven (issue 17).
        let proven = LedgerFixture.id(daysAgo: 3)
        input.proof = ProofLedger.build(
            sets: [LedgerFixture.entry(LedgerFixture.manifest(proven, packBytes: 900))],
            events: [LedgerFixture.proof(proven, at: now, parts: [(.pack, "code.tar.gz", 900)])], now: now,
            maxAge: LedgerFixture.maxAge)
        let report = HealthReport.evaluate(input, thresholds: .init())
        let path = "\(dest.path)/restore_drill.prom"
        try report.writePrometheus(to: path)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dest.path) == ["restore_drill.prom"],
            "no temporary file left")

        let families = try Self.parse(path)
        let expected: [String: Double] = [
            "restore_drill_last_backup_timestamp_seconds": finished.timeIntervalSince1970,
            "restore_drill_last_backup_size_bytes": 123_456_789,
            "restore_drill_backup_age_seconds": now.timeIntervalSince(finished),
            "restore_drill_last_drill_timestamp_seconds": drillTime.timeIntervalSince1970,
            "restore_drill_last_drill_success": 1,
            "restore_drill_last_drill_rto_seconds": 12.25,
            "restore_drill_sets": 9,
            "restore_drill_offsite_last_verified_timestamp_seconds": drillTime.timeIntervalSince1970,
            "restore_drill_proven_bytes_ratio": 0.75,
        ]
        #expect(Set(families.keys) == Set(expected.keys))
        for (name, value) in expected {
            #expect(families[name]?.value == value, "\(name)")
            #expect(families[name]?.type == "gauge", "\(name)")
            #expect(families[name]?.help.isEmpty == false, "\(name)")
        }
    }

    @Test func unknownValuesHaveNoSample() throws {
        let dest = try TempDestination()
        let report = HealthReport.evaluate(
            HealthInput(now: Date(), destination: dest.path, setCount: 0), thresholds: .init())
        let path = "\(dest.path)/empty.prom"
        try report.writePrometheus(to: path)
        let families = try Self.parse(path)
        #expect(families.count == 9)
        // No complete set: the proven share has no sample.
        #expect(families["restore_drill_proven_bytes_ratio"].map { $0.value == nil } == true)
        #expect(families["restore_drill_sets"]?.value == 0)
        // No remote verified: the off-site family is there, without a sample.
        #expect(families["restore_drill_offsite_last_verified_timestamp_seconds"].map { $0.value == nil } == true)
        #expect(families["restore_drill_backup_age_seconds"].map { $0.value == nil } == true)
        #expect(families["restore_drill_last_drill_success"].map { $0.value == nil } == true)
    }
}
