import ArgumentParser
import DrillCore
import Foundation
import Jobs

struct RunbookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runbook",
        abstract: "Print the step-by-step procedure that restores a backup set on a new machine.",
        discussion: """
            From the set's manifest, the configuration and the history (docs/RUNBOOK.md): the newest passing \
            drill of the set (id, date, RTO, tools), or a WARNING heading first when the set never passed a \
            drill or its last drill failed; then how to get the set (local path, each off-site remote's rclone \
            commands), where the vault password comes from (never the secret), the tools, the exact restore \
            command, the dependency and LaunchAgent commands, and the checks. Default: the newest complete set \
            that counts, Markdown on stdout; OUT is written atomically with mode 0600. Exit 0 when written, 2 for \
            usage or configuration errors, 3 when the set is not found.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case md, html
    }

    @OptionGroup var config: ConfigOption
    @Argument(help: "The backup id (default: the newest complete set that counts).") var id: String?
    @Argument(help: "Write the runbook to this file (mode 0600) instead of stdout.") var out: String?
    @Option(help: "md (Markdown, the default) or html.") var format: Format = .md
    @Option(help: ArgumentHelp("Vault password file (mode 0600), to authenticate sets.", valueName: "file"))
    var passwordFile: String?

    func run() async throws {
        let c = try config.load()
        // One positional that is no backup id is the output file.
        var id = self.id
        var out = self.out
        if out == nil, let given = id, BackupID(given) == nil {
            out = given
            id = nil
        }
        let runbook = try RunbookJob.build(
            config: c, id: id,
            authenticator: try await SetTrust.authenticator(passwordFile: passwordFile, config: c),
            now: try SystemClock().now())
        let text = format == .html ? runbook.html() : runbook.markdown()
        if let out {
            try AtomicFile.write(Data(text.utf8), to: out, mode: 0o600)
        } else {
            Terminal.out(text)
        }
    }
}
