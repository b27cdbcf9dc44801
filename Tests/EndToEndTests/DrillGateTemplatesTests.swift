import Foundation
import Testing

/// The CI templates of ci/templates parse, run a drill on a weekly schedule and publish its JUnit
/// report; the cron line is a valid weekly crontab entry with an absolute command. YAML is read
/// by PyYAML (Debian `python3-yaml`) under /usr/bin/python3.
@Suite struct DrillGateTemplatesTests {
    static let templates = DrillGateFixture.packageRoot + "/ci/templates"

    /// Runs a Python program over a template and returns its stdout lines.
    func python(_ program: String, _ file: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", program, Self.templates + "/" + file]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let problem = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "python3 on \(file) (needs python3-yaml): \(problem)")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func githubWorkflowIsWeeklyDrillsAndPublishesJUnit() throws {
        let lines = try python(
            """
            import sys, yaml
            w = yaml.safe_load(open(sys.argv[1]))
            on = w.get("on", w.get(True))
            print(on["schedule"][0]["cron"])
            steps = w["jobs"]["drill"]["steps"]
            print(any("restore-drill drill" in s.get("run", "") for s in steps))
            publish = [s for s in steps if "junit" in s.get("uses", "")]
            print(publish[0]["with"]["report_paths"], publish[0].get("if"))
            print(any("ci/drill-gate" in s.get("run", "") for s in steps))
            """, "github-actions.yml")
        #expect(lines.count == 4)
        let cron = lines.first?.split(separator: " ").map(String.init) ?? []
        #expect(cron.count == 5)
        #expect(cron.last.flatMap(Int.init).map { (0...7).contains($0) } == true, "a day of the week: weekly")
        #expect(lines.dropFirst().first == "True")
        #expect(lines.dropFirst(2).first == "drill-report/junit.xml always()")
        #expect(lines.last == "True")
    }

    @Test func gitlabJobHasAJUnitReportArtifact() throws {
        let lines = try python(
            """
            import sys, yaml
            job = yaml.safe_load(open(sys.argv[1]))["restore-drill"]
            print(job["artifacts"]["reports"]["junit"])
            print(job["artifacts"]["when"])
            print(any("restore-drill drill" in line for line in job["script"]))
            print(any("ci/drill-gate" in line for line in job["script"]))
            """, "gitlab-ci.yml")
        #expect(lines == ["drill-report/junit.xml", "always", "True", "True"])
    }

    @Test func cronLineIsWeeklyWithAnAbsoluteCommand() throws {
        let text = try String(contentsOfFile: Self.templates + "/cron", encoding: .utf8)
        let entries = text.split(separator: "\n").filter {
            !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }
        // The full drill of the newest set, then the sampled drill of the rest (issue 17).
        #expect(entries.count == 2)
        for (entry, mode) in zip(entries, ["--latest", "--sample"]) {
            let fields = entry.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            #expect(fields.count > 7)
            #expect(fields.prefix(5).allSatisfy { $0 == "*" || Int($0) != nil })
            #expect(fields[4] != "*", "weekly: a day of the week")
            #expect(fields[5].hasPrefix("/") && fields[5].hasSuffix("/restore-drill"))
            #expect(fields[6] == "drill" && fields[7] == mode)
            #expect(!entry.contains("%"), "an unescaped % ends a crontab command")
        }
    }
}
