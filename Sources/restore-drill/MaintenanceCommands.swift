import ArgumentParser
import Destination
import DrillCore
import Foundation
import Health
import Jobs
import Vault

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Apply the retention policy (last/daily/weekly/monthly) to the destination.",
        discussion: """
            Keeps the newest set of each day, ISO week and month (in retention.timezone) up to each count; \
            never removes the newest complete set nor the newest set whose drill passed; only removes valid sets \
            this tool made. Also removes .partial-* folders older than a day, reports beyond reports.keep and kept \
            sandboxes older than 7 days. Then, after the sets, the shared objects (format 2) that no remaining \
            set's manifest lists, with the bytes freed; no object at all while a folder named like a set has a \
            manifest that cannot be read or a .partial-* is younger than a day (the output names it). Takes \
            the destination's lock: never runs beside a backup or a drill. Then each off-site remote whose \
            configuration does not say `prune: false` is pruned as `offsite prune` does (its own retention, under \
            its remote lock); a remote that could not be pruned is named and makes the exit 1, the local prune \
            stands.
            """)

    @OptionGroup var config: ConfigOption
    @Flag(help: "Show the decisions without removing anything.") var dryRun = false
    @Flag(help: "Print as JSON (format restore-drill/prune).") var json = false

    func run() async throws {
        let c = try config.load()
        var job = PruneJob(config: c, clock: try SystemClock())
        job.authenticator = try await SetTrust.authenticator(config: c)
        var outcome = try job.run(dryRun: dryRun)
        if !c.offsite.isEmpty {
            outcome.offsite = OffsitePruneJob.pruneEveryRemote(
                config: c, rclone: try? Rclone(), authenticator: job.authenticator, clock: job.clock, dryRun: dryRun)
        }
        if json { try Terminal.json(outcome) } else { Terminal.out(outcome.text) }
        if outcome.offsite.contains(where: { $0.status == "failed" }) {
            throw ExitCode(ExitStatus.findings.rawValue)
        }
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Read sets back in full (set.manifest, set.artifacts) without restoring them.",
        discussion: """
            Each shared object (format 2) is read once per run however many of the checked sets list it; a \
            damaged object fails every set that lists it, naming the object and the sets. Exit 0 when every set \
            checked passed, 1 otherwise.
            """)

    @OptionGroup var config: ConfigOption
    @Argument(help: "The backup id to check (default: the newest set).") var id: String?
    @Flag(help: "Check every set in the destination.") var all = false
    @Flag(help: "Print as JSON (format restore-drill/check).") var json = false

    func validate() throws {
        if all && id != nil { throw ValidationError("give an ID or --all, not both") }
    }

    func run() async throws {
        let c = try config.load()
        var job = CheckJob(config: c, clock: try SystemClock())
        job.authenticator = try await SetTrust.authenticator(config: c)
        let outcome = try job.run(id: id, all: all)
        if json { try Terminal.json(outcome) } else { Terminal.out(outcome.text) }
        if !outcome.passed { throw ExitCode(ExitStatus.findings.rawValue) }
    }
}

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List, verify and annotate the events recorded in the destination.",
        discussion: """
            Every event of a local destination is chained (seq and the SHA-256 of the previous event); \
            `history verify` names the first broken place and prints the head to anchor outside. \
            README, "What the history detects".
            """,
        subcommands: [List.self, Verify.self, Note.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the backup, drill, check, prune and note events (the default).")

        @OptionGroup var config: ConfigOption
        @Flag(help: "Print as JSON (format restore-drill/history).") var json = false

        struct Listing: Encodable {
            let format = "restore-drill/history"
            let formatVersion = 1
            let events: [HistoryEvent]
            let problems: [HistoryProblem]
            enum CodingKeys: String, CodingKey {
                case format, events, problems
                case formatVersion = "format_version"
            }
        }

        func run() throws {
            let c = try config.load()
            let log = try HistoryStore(destination: c.destination).load()
            if json {
                try Terminal.json(Listing(events: log.events, problems: log.problems))
                return
            }
            if log.events.isEmpty { Terminal.out("no events in \(c.destination)") }
            for e in log.events {
                var parts = [Timestamp.string(e.time), e.kind.rawValue, e.status.rawValue]
                if let b = e.backupID { parts.append(b.description) }
                if let d = e.drillID { parts.append(d.description) }
                if let rto = e.rtoSeconds { parts.append("RTO \(Units.humanSeconds(rto))") }
                if e.kind == .note {
                    parts.append("about \(HistoryText.visible(e.details["event"] ?? "?"))")
                    parts.append("\"\(HistoryText.visible(e.details["text"] ?? ""))\"")
                }
                Terminal.out(parts.joined(separator: "  "))
            }
            for p in log.problems {
                Terminal.note("unreadable event \(HistoryText.visible(p.file)): \(HistoryText.visible(p.message))")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check the history's chain; name the first broken place and print the head.",
            discussion: """
                Exit 0 intact, 1 broken (edited, removed, reordered, forked, unreadable or unchained \
                events), 3 when the history cannot be read. Events written before the chain began are \
                listed, not failed.
                """)

        @OptionGroup var config: ConfigOption
        @Flag(help: "Print as JSON (format restore-drill/history-verify).") var json = false

        func run() throws {
            let c = try config.load()
            let result = try HistoryStore(destination: c.destination).verify()
            if json { try Terminal.json(result) } else { Terminal.out(result.text) }
            if !result.intact { throw ExitCode(ExitStatus.findings.rawValue) }
        }
    }

    struct Note: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "note",
            abstract: "Record what was done about an event (the remediation log): a chained note event.",
            discussion: "Exit 2 when EVENT is not an event id of the history.")

        @OptionGroup var config: ConfigOption
        @Argument(help: "The id of the event the note is about (as `history --json` prints it).") var event: String
        @Argument(help: "What was found or done; stored as data, shown escaped.") var text: String

        func run() throws {
            let c = try config.load()
            let note = try HistoryStore(destination: c.destination).note(
                about: event, text: text, time: try SystemClock().now())
            Terminal.out(
                "noted \(note.id)" + (note.seq.map { " (seq \($0))" } ?? "") + " about \(HistoryText.visible(event))")
        }
    }
}

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check backup and drill age against the thresholds; text, JSON, Nagios or Prometheus.",
        discussion: """
            OK below health.backup_warning / drill_warning, WARNING at or above them, CRITICAL at or above the \
            critical thresholds. Exit 0 OK, 1 WARNING or CRITICAL, 3 UNKNOWN; with --nagios the plugin \
            convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
            """)

    @OptionGroup var config: ConfigOption
    @Flag(help: "Print as JSON (format restore-drill/health).") var json = false
    @Flag(help: "Print one Nagios plugin line with perfdata; exit with the plugin's codes.") var nagios = false
    @Option(help: ArgumentHelp("Also write node_exporter textfile metrics here (atomically).", valueName: "file"))
    var prometheus: String?

    func run() async throws {
        let c: RestoreDrillConfig
        let authenticator: SetAuthenticator?
        do {
            c = try config.load()
            authenticator = try await SetTrust.authenticator(config: c)
        } catch {
            if nagios {
                Terminal.out("RESTORE-DRILL UNKNOWN - \(error)")
                throw ExitCode(3)
            }
            throw error
        }
        let report = HealthJob.run(config: c, now: try SystemClock().now(), authenticator: authenticator)
        if let prometheus { try report.writePrometheus(to: prometheus) }
        if nagios {
            let (line, code) = report.nagios()
            Terminal.out(line)
            throw ExitCode(code)
        }
        if json {
            Terminal.write(try report.json(), to: .standardOutput)
            Terminal.write(Data("\n".utf8), to: .standardOutput)
        } else {
            Terminal.out(report.text())
        }
        let status = report.status.exitStatus
        if status != .success { throw ExitCode(status.rawValue) }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Reports built from the history.", subcommands: [SLA.self, HTML.self])

    struct SLA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sla",
            abstract: "The restore-test SLA scorecard: backup success, RPO, weekly drills, validation rate, RTO trend.")

        @OptionGroup var config: ConfigOption
        @Option(help: ArgumentHelp("The window, e.g. 90d.", valueName: "duration")) var since = "90d"
        @Flag(help: "Print as JSON (format restore-drill/sla).") var json = false

        func run() async throws {
            let c = try config.load()
            guard let seconds = Units.seconds(since), seconds >= 86400 else {
                throw ValidationError("--since \(since): give a duration of at least 1d, e.g. 90d")
            }
            let card = try SLAJob.run(
                config: c, now: try SystemClock().now(), since: seconds,
                authenticator: try await SetTrust.authenticator(config: c))
            if json {
                Terminal.write(try card.json(), to: .standardOutput)
                Terminal.write(Data("\n".utf8), to: .standardOutput)
            } else {
                Terminal.out(card.markdown())
            }
        }
    }

    struct HTML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "html",
            abstract: "One self-contained HTML page over the history: verdict, SLA, failures first, weekly charts.",
            discussion: """
                Writes OUT (mode 0600, atomically) or standard output for -. The page has no script and loads \
                nothing: inline CSS and inline SVG charts (drill verdicts, RTO and RPO against their objectives, \
                set and destination bytes, backup age), one mark per ISO week of the window.
                """)

        @OptionGroup var config: ConfigOption
        @Option(help: ArgumentHelp("The window, e.g. 90d.", valueName: "duration")) var since = "90d"
        @Argument(help: ArgumentHelp("The HTML file to write, or - for standard output.", valueName: "out"))
        var out: String

        func run() async throws {
            let c = try config.load()
            guard let seconds = Units.seconds(since), seconds >= 86400 else {
                throw ValidationError("--since \(since): give a duration of at least 1d, e.g. 90d")
            }
            let data = Data(
                try HTMLReportJob.html(
                    config: c, now: try SystemClock().now(), since: seconds,
                    authenticator: try await SetTrust.authenticator(config: c)
                ).utf8)
            if out == "-" {
                Terminal.write(data, to: .standardOutput)
            } else {
                try AtomicFile.write(data, to: out, mode: 0o600)
                Terminal.out("wrote \(out)")
            }
        }
    }
}

struct CompatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compat",
        abstract: "Show the tool combinations drills restored with, and the newest passing and failing drill of each.",
        discussion: """
            A combination is what a drill's restore script recorded it ran with (os, arch, shell, tar, gzip, \
            SHA-256 tool, openssl; version text as recorded; os and arch as the drill measured them). A drill \
            event counts only when this machine's report of that drill (in the reports folder) agrees with it: \
            the history lives in the destination, which others may write to. Drills that recorded no tools and \
            events without such a report are counted apart. Exit 0 (the table is information), 3 when the \
            history cannot be read.
            """)

    @OptionGroup var config: ConfigOption
    @Flag(help: "Print as JSON (format restore-drill/compat).") var json = false

    func run() throws {
        let c = try config.load()
        let log: HistoryLog
        do {
            log = try HistoryStore(destination: c.destination).load()
        } catch let error as RestoreDrillError {
            throw error
        } catch {
            throw RestoreDrillError.runtime("cannot read the history of \(c.destination): \(error)")
        }
        let matrix = CompatMatrix(events: log.events, reports: LocalDrillReports.load(folder: c.reports.folder))
        if json { try Terminal.json(matrix) } else { Terminal.out(matrix.text) }
        // A damaged history can hide a drill: say so, where a person reads it.
        if !log.problems.isEmpty {
            Terminal.note(
                "warning: \(log.problems.count) event file(s) in the history could not be used (restore-drill "
                    + "history verify names them): the matrix may miss drills")
        }
    }
}
