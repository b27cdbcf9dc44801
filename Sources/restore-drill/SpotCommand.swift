import ArgumentParser
import DrillCore
import Foundation
import Jobs

struct SpotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spot",
        abstract:
            "Compare the live workspace with the newest complete set: counts, unexplained files, a hashed sample.",
        discussion: """
            Reads the newest complete set that counts (authenticated when a password is configured) and the \
            disk, never the set's stored bytes: file counts and bytes per component and top folder \
            (spot.count_tolerance, spot.size_tolerance), files on disk that no exclude explains, what each \
            exclude pattern removes, files gone since, a seeded sample of files hashed against the manifest \
            (--sample N, default spot.sample; --all every file; --seed S repeats a sample), and each \
            database's live row counts. Writes <reports>/spot_YYYYMMDD_HHMMSS/{junit.xml,report.md,report.json} \
            and a spot event in the history. Exit 0 when nothing was found, 1 for findings, 2 for usage or \
            configuration errors, 3 when the check could not run.
            """)

    @OptionGroup var config: ConfigOption
    @Option(help: ArgumentHelp("Hash N files of the set (default: spot.sample).", valueName: "n")) var sample: Int?
    @Flag(help: "Hash every file of the set.") var all = false
    @Option(help: ArgumentHelp("Seed of the sample (default: random; printed and in the report).", valueName: "s"))
    var seed: UInt64?
    @Option(help: ArgumentHelp("Vault password file (mode 0600), to authenticate sets.", valueName: "file"))
    var passwordFile: String?
    @Flag(help: "Print the result as JSON (format restore-drill/spot-report).") var json = false

    func validate() throws {
        if sample != nil && all { throw ValidationError("give --sample N or --all, not both") }
        if let sample, sample < 0 { throw ValidationError("--sample must be 0 or more") }
    }

    func run() async throws {
        let job = SpotJob(config: try config.load(), clock: try SystemClock(), progress: Terminal.progress)
        let result = try await job.run(
            SpotJob.Request(sample: sample, all: all, seed: seed, passwordFile: passwordFile))
        Terminal.endProgress()
        if json {
            try Terminal.json(result)
        } else {
            Terminal.out(SpotJob.summary(result))
        }
        if result.verdict != .pass { throw ExitCode(ExitStatus.findings.rawValue) }
    }
}
