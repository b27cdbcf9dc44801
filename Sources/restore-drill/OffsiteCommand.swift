import ArgumentParser
import Destination
import DrillCore
import Foundation
import Jobs

/// `restore-drill offsite …`: the off-site copies on rclone remotes (docs/OFFSITE.md).
struct OffsiteCommand: AsyncParsableCommand {
    /// The configuration, which must name at least one remote, and `remote` among them when given.
    /// - Throws: a configuration error (exit 2) when none is configured; a usage error naming the
    ///   configured remotes when `remote` is not one of them.
    static func load(_ option: ConfigOption, remote: String?) throws -> RestoreDrillConfig {
        let c = try option.load()
        guard !c.offsite.isEmpty else {
            throw RestoreDrillError.config(
                file: c.file ?? "", line: nil, key: "offsite", message: "no off-site remote is configured")
        }
        if let remote, !c.offsite.contains(where: { $0.name == remote }) {
            throw ValidationError(
                "no remote named \(remote) (configured: \(c.offsite.map(\.name).joined(separator: ", ")))")
        }
        return c
    }

    static let configuration = CommandConfiguration(
        commandName: "offsite",
        abstract: "Push sets to the configured rclone remotes, check the copies there, and prune them.",
        subcommands: [Push.self, Check.self, Prune.self])

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
            let c = try OffsiteCommand.load(config, remote: remote)
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

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Check the copies of sets on the off-site remotes against the local manifests.",
            discussion: """
                For each remote (or --remote NAME) and each set (ID; --all: every set folder on the remote; \
                default: the newest complete local set): the remote's manifest.json must be byte for byte the \
                local one (missing: the set is not complete on the remote), and every file of the set folder \
                and every object the manifest lists must be there with its size. Contents: where the backend \
                offers a hash the manifest records (sha256, md5, quickxorhash), the remote's hashes are \
                compared with the manifest's; on a crypt remote, rclone cryptcheck compares the local files \
                (each hashed first) with the remote; where there is no usable hash the check is by size only \
                and the set is UNVERIFIED. --download reads every byte back into a private temporary folder \
                and checks its SHA-256 against the manifest. A remote hash proves that the upload arrived \
                intact, not that the remote serves those bytes back: `drill --offsite` (and --download) \
                check SHA-256. Stray files and sync-conflict copies on the remote are findings; they fail a \
                set only when they shadow one of its files that was not proven by content. Each set checked \
                is one offsite_check event in the local history. Exit 0 when every set passed, 1 when a set \
                failed or is unverified (each is named), 2 for a usage or configuration error, 3 when a \
                remote cannot be reached or a set is not found.
                """)

        @OptionGroup var config: ConfigOption
        @Argument(help: "The backup id to check (default: the newest complete local set).") var id: String?
        @Flag(help: "Check every set folder on the remote.") var all = false
        @Flag(help: "Read every byte back and check its SHA-256 (needs the set's size in temporary space).")
        var download = false
        @Option(help: ArgumentHelp("Check this remote only (its configured name).", valueName: "name"))
        var remote: String?
        @Flag(help: "Print as JSON (format restore-drill/offsite-check).") var json = false

        func validate() throws {
            if all && id != nil { throw ValidationError("give ID or --all, not both") }
        }

        struct Output: Codable {
            var format = "restore-drill/offsite-check"
            var formatVersion = 1
            var remotes: [OffsiteCheckReport]
            enum CodingKeys: String, CodingKey {
                case format, remotes
                case formatVersion = "format_version"
            }
        }

        func run() async throws {
            let c = try OffsiteCommand.load(config, remote: remote)
            let authenticator = try await SetTrust.authenticator(config: c)
            let selection: OffsiteCheckJob.Selection = all ? .all : id.map { .id($0) } ?? .newest
            let reports = try OffsiteCheckJob.checkEveryRemote(
                config: c, selection: selection, rclone: try? Rclone(), authenticator: authenticator,
                clock: try SystemClock(), only: remote, download: download, progress: Terminal.progress)
            Terminal.endProgress()
            if json {
                try Terminal.json(Output(remotes: reports))
            } else {
                Terminal.out(reports.map(\.text).joined(separator: "\n"))
            }
            let status = OffsiteCheckJob.exitStatus(reports)
            if status != .success { throw ExitCode(status.rawValue) }
        }
    }
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Apply each remote's retention rule to the sets there, then collect unreferenced objects.",
            discussion: """
                For each remote (or --remote NAME) whose configuration does not say `prune: false`: that \
                remote's retention (the main one when it has none), applied by the same rule as the local \
                prune to the sets listed there. Never removed: sets that do not count (with a vault password, \
                a set whose manifest HMAC does not verify), the newest complete set there, and the newest set \
                whose drill of that remote's copy passed. Under the remote's lock taken exclusive (never beside \
                a push or drill of that remote): sets go first (manifest first, then the folder), then set \
                folders without a manifest a day old or more, then the objects no remaining set there lists; \
                no object at all while a folder's manifest cannot be read or a folder without one is younger \
                than a day. Each remote pruned is one prune event in the local history. A remote with \
                `prune: false` is never pruned by this host. Exit 0 when every remote was pruned (or is not \
                pruned by this host), 2 for a usage or configuration error, 3 when a remote could not be \
                pruned (its lock is held, naming the holder; it cannot be reached).
                """)

        @OptionGroup var config: ConfigOption
        @Option(help: ArgumentHelp("Prune this remote only (its configured name).", valueName: "name"))
        var remote: String?
        @Flag(help: "Show the decisions without removing anything (takes no lock, writes nothing there).")
        var dryRun = false
        @Flag(help: "Print as JSON (format restore-drill/offsite-prune).") var json = false

        struct Output: Codable {
            var format = "restore-drill/offsite-prune"
            var formatVersion = 1
            var remotes: [OffsitePruneJob.Outcome]
            enum CodingKeys: String, CodingKey {
                case format, remotes
                case formatVersion = "format_version"
            }
        }

        func run() async throws {
            let c = try OffsiteCommand.load(config, remote: remote)
            let outcomes = OffsitePruneJob.pruneEveryRemote(
                config: c, rclone: try? Rclone(), authenticator: try await SetTrust.authenticator(config: c),
                clock: try SystemClock(), only: remote, dryRun: dryRun)
            if json {
                try Terminal.json(Output(remotes: outcomes))
            } else {
                Terminal.out(outcomes.map(\.text).joined(separator: "\n"))
            }
            if outcomes.contains(where: { $0.status == "failed" }) { throw ExitCode(ExitStatus.runtime.rawValue) }
        }
    }
}
