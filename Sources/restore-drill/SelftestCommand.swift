import ArgumentParser
import DrillCore
import Foundation
import Selftest

struct SelftestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract:
            "Prove the verifier can fail: drill damaged copies of a sample set; each must fail its expected check.",
        discussion: """
            Backs up a small sample workspace twice, drills the second set (it must pass), then makes one \
            damaged copy per damage kind (README, "Selftest") (flipped bytes, truncated and hostile archives, \
            corrupted databases, broken LaunchAgents, a missing component, hostile restore scripts), drills \
            each with a short timeout and small limits, and prints damage → kind → expected check → verdict. \
            The sets are written in the format a configuration without set_format writes (--set-format to \
            choose; format 2 adds the damages of shared objects: a missing object, a pack holding a member \
            of another pack, two chunk objects swapped). \
            Exit 0 only when the good set passed and every damage was caught by its expected check; 1 otherwise.
            """)

    @Option(help: ArgumentHelp("Work in this folder (created; must be empty or absent).", valueName: "folder"))
    var folder: String?
    @Flag(help: "Keep the work folder (sets, damaged copies, reports, failed sandboxes).") var keep = false
    @Option(help: ArgumentHelp("Replay timeout in seconds.", valueName: "seconds")) var timeout: Double = 10
    @Option(help: ArgumentHelp("Run only these damages (repeatable); see --list.", valueName: "id")) var only:
        [String] = []
    @Flag(help: "List the damage ids (of --set-format) and exit.") var list = false
    @Option(
        help: ArgumentHelp(
            "Write the sample's sets in this format, 1 or 2; the default follows set_format's.", valueName: "n"))
    var setFormat: Int = SelftestJob.defaultSetFormat
    @Flag(help: "Fail every replay that runs without bubblewrap.") var requireIsolation = false
    @Flag(help: "Print the outcome as JSON (format restore-drill/selftest).") var json = false

    func validate() throws {
        guard (1...2).contains(setFormat) else { throw ValidationError("--set-format must be 1 or 2") }
    }

    func run() async throws {
        if list {
            Terminal.out(SelftestJob.damageIDs(format: setFormat).joined(separator: "\n"))
            return
        }
        var options = SelftestJob.Options()
        options.folder = folder
        options.keep = keep
        options.timeout = timeout
        options.only = only
        options.requireIsolation = requireIsolation
        options.setFormat = setFormat
        let report = try await SelftestJob(options: options, clock: try SystemClock(), progress: Terminal.progress)
            .run()
        Terminal.endProgress()
        if json {
            try Terminal.json(report)
        } else {
            Terminal.out(report.text)
        }
        if !report.passed { throw ExitCode(ExitStatus.findings.rawValue) }
    }
}
