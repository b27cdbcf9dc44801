import ArgumentParser
import DrillCore
import Foundation
import Jobs

struct ProofCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proof",
        abstract:
            "Show per set and part the last proof and its age, and the share of bytes proven within proof.max_age.",
        discussion: """
            A part is proven when a drill of its own set restored it and its checks passed, within proof.max_age \
            (default 4w); a set is proven when every part is. Exit 0 when every complete set is proven, 1 when one \
            is not, 2 usage, 3 runtime.
            """)

    @OptionGroup var config: ConfigOption
    @Flag(help: "Print as JSON (format restore-drill/proof).") var json = false
    @Flag(help: "List every part: number, kind, name, last proof and its age, drill id.") var parts = false

    func run() async throws {
        let c = try config.load()
        let report = try ProofJob.run(
            config: c, now: try SystemClock().now(), authenticator: try await SetTrust.authenticator(config: c))
        if json {
            try Terminal.json(report)
        } else {
            Terminal.out(report.text(parts: parts))
        }
        let status = report.exitStatus
        if status != .success { throw ExitCode(status.rawValue) }
    }
}
