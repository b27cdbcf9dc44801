import ArgumentParser
import Destination
import DrillCore
import Foundation
import Jobs

/// `restore-drill offsite …`: the off-site copies on rclone remotes (docs/OFFSITE.md).
struct OffsiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offsite",
        abstract: "Push sets to the configured rclone remotes, and check the copies there.",
        subcommands: [Push.self])

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "push",
            abstract: "Push a set (or every set a remote lacks) to the off-site remotes.",
            discussion: """
                Sends the set's objects first, then its SHA256SUMS and restore script, and its manifest.json \
                last, so a push cut off never leaves what looks like a set on the remote; what is there \
                already with its size is not sent again. A remote that is not an rclone crypt remote is \
                refused unless the configuration says `encrypted: false` for it. Each failed attempt is \
                retried after a pause and written to the history. Exit 0 when every push succeeded, 1 when \
                a push failed (the remote is named), 2 for a usage or configuration error, 3 when the set is \
                not found or cannot be trusted.
                """)

        @OptionGroup var config: ConfigOption
        @Argument(help: "The backup id to push (default: the newest complete set).") var id: String?
        @Flag(help: "Push every complete local set the remote does not hold complete.") var all = false
        @Option(help: ArgumentHelp("Push to this remote only (its configured name).", valueName: "name"))
        var remote: String?
        @Flag(help: "Print as JSON (format restore-drill/offsite-push).") var json = false

        func validate() throws {
            if all && id != nil { throw ValidationError("give ID or --all, not both") }
        }

        struct Output: Codable {
            var format = "restore-drill/offsite-push"
            var formatVersion = 1
            var pushes: [OffsitePushJob.Outcome]
            enum CodingKeys: String, CodingKey {
                case format, pushes
                case formatVersion = "format_version"
            }
        }

        func run() async throws {
            let c = try config.load()
            guard !c.offsite.isEmpty else {
                throw RestoreDrillError.config(
                    file: c.file ?? "", line: nil, key: "offsite", message: "no off-site remote is configured")
            }
            if let remote, !c.offsite.contains(where: { $0.name == remote }) {
                throw ValidationError(
                    "no remote named \(remote) (configured: \(c.offsite.map(\.name).joined(separator: ", ")))")
            }
            let clock = try SystemClock()
            let authenticator = try await SetTrust.authenticator(config: c)
            let rclone = try Rclone()
            var outcomes: [OffsitePushJob.Outcome] = []
            if all {
                for target in c.offsite where remote == nil || target.name == remote {
                    var job = OffsitePushJob(config: c, remote: target, rclone: rclone)
                    job.authenticator = authenticator
                    job.clock = clock
                    job.progress = Terminal.progress
                    do {
                        try job.checkEncryption()
                        outcomes += try job.pushMissing()
                    } catch let error as RestoreDrillError {
                        outcomes.append(
                            OffsitePushJob.Outcome(
                                remote: target.name, id: "", status: "failed", objectsSent: 0, objectsPresent: 0,
                                bytesSent: 0, attempts: 1, seconds: 0, error: error.description))
                    }
                }
            } else {
                outcomes = OffsitePushJob.pushToEveryRemote(
                    config: c, id: id ?? "latest", rclone: rclone, authenticator: authenticator, clock: clock,
                    only: remote, progress: Terminal.progress)
            }
            Terminal.endProgress()
            if json {
                try Terminal.json(Output(pushes: outcomes))
            } else if outcomes.isEmpty {
                Terminal.out("every remote holds every complete set already")
            } else {
                Terminal.out(outcomes.map(\.text).joined(separator: "\n"))
            }
            if outcomes.contains(where: { $0.status == "failed" }) { throw ExitCode(ExitStatus.findings.rawValue) }
        }
    }
}
