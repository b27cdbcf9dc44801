import ArgumentParser
import Destination
import DrillCore
import Foundation
import Jobs

extension RestoreDrillCommand {
    /// Every subcommand, in the order `--help` lists them.
    static let commandList: [any ParsableCommand.Type] = [
        BackupCommand.self, DrillCommand.self, ListCommand.self, CheckCommand.self, PruneCommand.self,
        ExportCommand.self, OffsiteCommand.self, HistoryCommand.self, EvidenceCommand.self,
        HealthCommand.self, ProofCommand.self, ReportCommand.self, DemoCommand.self, ConfigCommand.self,
        CompatCommand.self,
        LintAgentsCommand.self, ScheduleCommand.self, SelftestCommand.self, SpotCommand.self, VaultCommand.self,
        RunbookCommand.self,
    ]
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write one backup set of the configured workspace into the destination.",
        discussion:
            "Exit 0 for a complete set (pushed to every configured off-site remote), 1 for a partial set (a component failed) or a complete set whose push to a remote failed (the remote is named; `offsite push` catches up), 2 for a bad configuration, 3 when no set could be written."
    )

    @OptionGroup var config: ConfigOption
    @Flag(help: "Print the outcome as JSON (format restore-drill/backup-outcome).") var json = false
    @Flag(
        name: .customLong("no-cache"),
        help:
            "Format 2: do not trust the files cache this run; read, hash and compress every file and database again (the cache is written anew)."
    ) var noCache = false
    @Flag(
        name: .customLong("no-push"),
        help: "Do not push the new set to the configured off-site remotes (`offsite push` does it later).")
    var noPush = false

    func run() async throws {
        let c = try config.load()
        let clock = try SystemClock()
        var job = BackupJob(config: c, clock: clock, progress: Terminal.progress)
        job.byteProgress = Terminal.byteProgress
        job.ignoreObjectCache = noCache
        let outcome = try await job.run(warning: { Terminal.note("warning: \($0)") })
        Terminal.endProgress()
        var summary = outcome.summary
        if !noPush && !c.offsite.isEmpty {
            summary.pushes = OffsitePushJob.pushToEveryRemote(
                config: c, id: summary.backupID, rclone: try? Rclone(), authenticator: nil, clock: clock,
                progress: Terminal.progress)
            Terminal.endProgress()
        }
        if json {
            try Terminal.json(summary)
        } else {
            Terminal.out(summary.text)
        }
        if summary.status != SetStatus.complete.rawValue || summary.pushFailed {
            throw ExitCode(ExitStatus.findings.rawValue)
        }
    }
}

struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Restore one backup set into a throwaway sandbox, check what came out, write reports.",
        discussion: """
            Picks the set by id, --latest (default), --random-within DAYS, or --set PATH (a set outside \
            any configuration: sandboxes and reports go under the current folder). Writes \
            <reports>/<drill-id>/{junit.xml,report.md,report.json}. Exit 0 when every check passed \
            (skips allowed), 1 when a check failed, 2 when the replay would run unisolated a set that \
            cannot be authenticated (install bubblewrap, configure a vault password, or choose \
            sandbox.isolation: none), 3 when the drill could not run or its event could not be recorded \
            in the destination's history (its reports are written).

            --offsite NAME drills the copy on the configured off-site remote NAME instead: the pick \
            (--latest, ID, --random-within) runs on the remote's sets, the set is downloaded with rclone \
            into <sandbox folder>/offsite-fetch/ (the local destination's sets are never read), then \
            drilled in full. The download time is inside the measured RTO and reported on its own; the \
            event goes to the local destination's history (its folder is made again when it is gone and \
            its parent exists). A missing rclone exits 3; an unknown remote name exits 2.

            --sample drills what the proof ledger says is due within --budget (a time such as 10m, or \
            bytes such as 2GiB): parts never proven or proven longest ago first, then a seeded random \
            choice (--seed S repeats a sample). Each chosen set is restored with only its chosen parts \
            and checked as a full drill checks; `restore-drill proof` shows the ledger. Writes \
            <reports>/sample_<time>/{report.md,report.json,junit.xml} beside each set's drill reports. \
            Exit 0 when every sampled set passed, 1 when one failed.

            --parts N,M restores and checks only those parts of the set (a format-2 set whose script \
            takes --only; another set is drilled whole and the report says so). Its event is a \
            sampled_drill, and what it proves goes to the proof ledger (docs/PROOF.md).
            """)

    @OptionGroup var config: ConfigOption
    @Argument(help: "The backup id to drill (e.g. full_20251020_175019).") var id: String?
    @Flag(help: "Drill the newest set (the default).") var latest = false
    @Option(help: ArgumentHelp("Drill a set folder directly, without a configuration.", valueName: "path")) var set:
        String?
    @Option(help: ArgumentHelp("Drill a random set made within the last DAYS days.", valueName: "days"))
    var randomWithin: Int?
    @Option(help: ArgumentHelp("Vault password file (mode 0600).", valueName: "file")) var passwordFile: String?
    @Flag(help: "Keep the sandbox even after a pass.") var keepSandbox = false
    @Flag(help: "Fail the drill when the replay cannot be isolated with bubblewrap.") var requireIsolation = false
    @Flag(help: "Print the drill report as JSON (format restore-drill/drill-report).") var json = false
    @Option(help: ArgumentHelp("Drill the copy on this configured off-site remote.", valueName: "name"))
    var offsite: String?
    @Flag(help: "Drill a budgeted sample of the retained sets' parts, due ones first (see below).") var sample = false
    @Option(
        help: ArgumentHelp(
            "The sample's budget: a time (s, m, h) or bytes (B, KiB, MiB, GiB); default proof.budget.",
            valueName: "budget"))
    var budget: String?
    @Option(help: ArgumentHelp("The sample's seed (default: random; printed and reported).", valueName: "seed"))
    var seed: UInt64?
    @Option(
        help: ArgumentHelp(
            "Restore and check only these parts of the set (numbers, as restore_<name>.sh --list-parts and "
                + "a sampled drill's report give them), e.g. 3,17.", valueName: "n,m"))
    var parts: String?

    /// `--parts`: part numbers, or nil when the text is not a comma-separated list of them.
    static func parseParts(_ text: String) -> [Int]? {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let numbers = items.compactMap { Int($0) }
        return numbers.count == items.count && !numbers.isEmpty && numbers.allSatisfy { $0 > 0 } ? numbers : nil
    }

    func validate() throws {
        if sample {
            guard id == nil, !latest, set == nil, randomWithin == nil, offsite == nil, !keepSandbox else {
                throw ValidationError(
                    "--sample picks its own sets: give none of ID, --latest, --set, --random-within, --offsite, --keep-sandbox"
                )
            }
            if let budget, SampleBudget.parse(budget) == nil {
                throw ValidationError("--budget \(budget) is neither a time (10m, 1h) nor a size (2GiB)")
            }
        } else if seed != nil || budget != nil {
            throw ValidationError("--seed and --budget go with --sample")
        }
        let pickers = [id != nil, latest, set != nil, randomWithin != nil].filter { $0 }.count
        guard pickers <= 1 else { throw ValidationError("give at most one of ID, --latest, --set, --random-within") }
        if let parts {
            guard Self.parseParts(parts) != nil else {
                throw ValidationError("--parts \(parts) is not a list of part numbers such as 3,17")
            }
            guard id != nil || set != nil else {
                throw ValidationError("--parts needs the set: give its ID or --set PATH")
            }
        }
        if offsite != nil && set != nil {
            throw ValidationError("--offsite drills a configured remote's copy and --set a local folder: give one")
        }
    }

    func run() async throws {
        if sample { return try await runSample() }
        var request = DrillJob.Request(
            pick: set.map { .path($0) } ?? id.map { .id($0) } ?? randomWithin.map { .randomWithin(days: $0) }
                ?? .latest,
            passwordFile: passwordFile, keepSandbox: keepSandbox, requireIsolation: requireIsolation,
            offsite: offsite)
        request.parts = parts.flatMap(Self.parseParts)
        let c = set == nil ? try config.load() : (try? config.load())
        var job = DrillJob(config: c, clock: try SystemClock(), progress: Terminal.progress)
        job.byteProgress = Terminal.byteProgress
        let result: DrillResult
        var eventLost: DrillJob.EventNotRecorded?
        do {
            result = try await job.run(request, warning: { Terminal.note("warning: \($0)") })
        } catch let lost as DrillJob.EventNotRecorded {
            result = lost.result
            eventLost = lost
        }
        Terminal.endProgress()
        if json {
            try Terminal.json(result)
        } else {
            Terminal.out(DrillJob.summary(result))
        }
        // The schedule keeps a current runbook next to the reports and beside the sets on each
        // remote, after a full drill of the configured destination (not --set, not --parts).
        if set == nil, request.parts == nil, let c {
            // Fail closed: when the configured password cannot be had now, no runbook is written (a
            // runbook made without it could name a set nobody authenticated).
            do {
                let authenticator = try await SetTrust.authenticator(passwordFile: passwordFile, config: c)
                RunbookJob.keepCurrent(
                    config: c, authenticator: authenticator, now: Date(),
                    rclone: c.offsite.isEmpty ? nil : try? Rclone(), warning: { Terminal.note("warning: \($0)") })
            } catch {
                Terminal.note("warning: runbook not written: the vault password could not be had: \(error)")
            }
        }
        if let eventLost {
            Terminal.error(eventLost.description)
            throw ExitCode(eventLost.exitStatus.rawValue)
        }
        if result.verdict != .pass { throw ExitCode(ExitStatus.findings.rawValue) }
    }

    func runSample() async throws {
        let c = try config.load()
        let budget = self.budget.flatMap(SampleBudget.parse) ?? c.proof.budget
        let job = SampledDrillJob(config: c, clock: try SystemClock(), progress: Terminal.progress)
        let result = try await job.run(
            .init(budget: budget, seed: seed, passwordFile: passwordFile, requireIsolation: requireIsolation),
            warning: { Terminal.note("warning: \($0)") })
        Terminal.endProgress()
        if json {
            try Terminal.json(result)
        } else {
            Terminal.out(SampleReport.markdown(result))
            if let folder = result.reportFolder { Terminal.out("Reports: \(folder)") }
        }
        if result.verdict != .pass { throw ExitCode(ExitStatus.findings.rawValue) }
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the backup sets in the destination: id, age, size, components, status.")

    @OptionGroup var config: ConfigOption
    @Flag(help: "Print as JSON (format restore-drill/set-list).") var json = false

    func run() async throws {
        let c = try config.load()
        let list = try SetListing.make(
            destination: c.destination, now: try SystemClock().now(),
            authenticator: try await SetTrust.authenticator(config: c))
        if json {
            try Terminal.json(list)
        } else {
            Terminal.out(list.text)
        }
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build a sample workspace, back it up, drill it, and print the verdict.",
        discussion: """
            The sample has a few thousand source files, about 40 small SQLite databases (one with a live, \
            uncheckpointed WAL), one database over 50 MiB, LaunchAgents pointing into the sample home, and \
            dotfiles. Everything goes into a new temporary folder (or --folder); reports are kept there.
            """)

    @Option(help: ArgumentHelp("Work in this folder (created; must be empty or absent).", valueName: "folder"))
    var folder: String?
    @Flag(help: "Smaller sample (a few hundred files, a 12 MiB database) for quick checks.") var small = false
    @Flag(help: "Print the drill report as JSON.") var json = false

    func run() async throws {
        let outcome = try await DemoJob(
            folder: folder, small: small, clock: try SystemClock(), progress: Terminal.progress
        ).run()
        Terminal.endProgress()
        if json {
            try Terminal.json(outcome.drill)
        } else {
            Terminal.out(outcome.text)
        }
        if outcome.drill.verdict != .pass { throw ExitCode(ExitStatus.findings.rawValue) }
    }
}
