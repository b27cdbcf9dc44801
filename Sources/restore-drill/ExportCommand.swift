import ArgumentParser
import DrillCore
import Foundation
import Jobs

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write one set, with every object it needs, into a folder that restores on its own.",
        discussion: """
            Writes DIR/<id>/ (manifest.json, SHA256SUMS, the restore script; a format-1 set: all its files) and, \
            for a format-2 set, DIR/objects/<ab>/<sha256> for every object the set lists, each verified while it \
            is copied. The manifest is judged first (self-checksum; with a vault password, its HMAC), and nothing \
            is exported from a set that fails. The set folder is built as DIR/.partial-<id> and renamed last, so \
            an interrupted export never leaves a DIR/<id>. `restore-drill drill --set DIR/<id>` drills the copy. \
            Exit 0 when exported, 2 for a usage or configuration error, 3 when the set is not found, cannot be \
            trusted, DIR/<id> exists, or a file cannot be read or written.
            """)

    @OptionGroup var config: ConfigOption
    @Argument(help: "The backup id to export (e.g. full_20251020_175019).") var id: String
    @Argument(help: ArgumentHelp("The folder to export into (made when missing).", valueName: "dir")) var dir: String
    @Flag(help: "Print as JSON (format restore-drill/export).") var json = false

    func run() async throws {
        let c = try config.load()
        var job = ExportJob(config: c)
        job.authenticator = try await SetTrust.authenticator(config: c)
        let outcome = try job.run(id: id, to: dir)
        if json { try Terminal.json(outcome) } else { Terminal.out(outcome.text) }
    }
}
