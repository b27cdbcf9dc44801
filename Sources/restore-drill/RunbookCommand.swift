import ArgumentParser
import DrillCore
import Foundation
import Jobs

struct RunbookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runbook",
        abstract: "Print the step-by-step procedure that restores a backup set on a new machine.",
        discussion: """
            From the set's manifest, the configuration and this machine's drill reports (docs/RUNBOOK.md; \
            never the history, which others may write to): the newest passing drill of the set (id, date, RTO, \
            tools), or a WARNING heading first when the set never passed a drill, its last drill failed, it is \
            not authenticated or its files do not match its manifest; then how to get the set (local path, \
            each off-site remote's rclone commands), the check of the copy, where the vault password comes from \
            (never the secret), the tools, the exact restore command, the dependency and LaunchAgent commands, \
            and the checks. Default: the newest complete set \
            that counts, Markdown on stdout; OUT is written atomically with mode 0600. Exit 0 when written, 2 for \
            usage or configuration errors, 3 when the set is not found.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case md, html
    }

    @OptionGroup var config: ConfigOption
    @Argument(help: "The backup id (default: the newest complete set that counts).") var id: String?
    @Argument(
        help: """
            Write the runbook to this file (mode 0600) instead of stdout; - is stdout. A lone argument with \
            no / and no . is taken as a backup id (write ./NAME for such a file). An existing file is replaced \
            only when it is a runbook restore-drill wrote.
            """) var out: String?
    @Option(help: "md (Markdown) or html; default: html when OUT ends in .html or .htm, else md.") var format: Format?
    @Option(help: ArgumentHelp("Vault password file (mode 0600), to authenticate sets.", valueName: "file"))
    var passwordFile: String?

    func run() async throws {
        let c = try config.load()
        // One positional that is no backup id and looks like a file is the output file.
        var id = self.id
        var out = self.out
        if out == nil, let given = id, BackupID(given) == nil {
            guard given == "-" || given.contains("/") || given.contains(".") else {
                throw RestoreDrillError.usage(
                    "\(given) is not a backup id (such as full_20251020_175019); to write the runbook to a file "
                        + "of that name, give ./\(given)")
            }
            out = given
            id = nil
        }
        if out == "-" { out = nil }
        let format =
            self.format
            ?? (out.map { [".html", ".htm"].contains(where: $0.lowercased().hasSuffix) } == true ? .html : .md)
        if let out { try Self.checkWritable(out) }
        let runbook = try RunbookJob.build(
            config: c, id: id,
            authenticator: try await SetTrust.authenticator(passwordFile: passwordFile, config: c),
            now: try SystemClock().now())
        let text = format == .html ? runbook.html() : runbook.markdown()
        if let out {
            try AtomicFile.write(Data(text.utf8), to: out, mode: 0o600)
            Terminal.note("wrote \(out)")
        } else {
            Terminal.out(text)
        }
    }

    /// Refuses an OUT whose folder is missing, and one that exists and is not a runbook this tool
    /// wrote (a person's file is never replaced).
    static func checkWritable(_ out: String) throws {
        let absolute =
            out.hasPrefix("/") ? out : FileManager.default.currentDirectoryPath + "/" + out
        let folder = String(absolute[..<(absolute.lastIndex(of: "/") ?? absolute.startIndex)])
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.isEmpty ? "/" : folder, isDirectory: &isFolder),
            isFolder.boolValue
        else {
            throw RestoreDrillError.io(path: out, message: "its folder \(folder) does not exist")
        }
        var info = stat()
        guard lstat(absolute, &info) == 0 else { return }
        guard let data = UntrustedFile.read(absolute, limit: 16 << 20), Runbook.isRunbook(data) else {
            throw RestoreDrillError.usage(
                "\(out) exists and is not a runbook restore-drill wrote: it is left as it is; remove it or give "
                    + "another name")
        }
    }
}
