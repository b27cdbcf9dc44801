import ArgumentParser
import DrillCore
import Foundation

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration file.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the resolved paths.",
            discussion: "Exits 2 naming the key and line of the first unknown key or bad value.")

        @OptionGroup var config: ConfigOption
        @Flag(help: "Print the resolved configuration as JSON.") var json = false

        func run() throws {
            let c = try config.load()
            let view = ResolvedConfigView(c)
            if json {
                try Terminal.json(view)
            } else {
                Terminal.out(view.text)
            }
        }
    }
}

/// What `config check` prints: the resolved paths and the values that matter.
struct ResolvedConfigView: Encodable {
    let format = "restore-drill/config"
    let formatVersion = 1
    let file: String?
    let name, home, root, destination, sandboxes, reports: String
    let databases, launchAgents, shellFiles, credentials, codeExclude: [String]
    let smallLimitBytes, chunkSizeBytes: Int64
    let rpoSeconds, rtoSeconds, sandboxTimeoutSeconds: Double
    let isolation: String
    let setFormat: Int
    /// The off-site remotes, as configured (rclone paths name remotes, never secrets).
    let offsite: [Remote]

    struct Remote: Encodable {
        let name, rclone: String
        let encrypted: Bool?
        let prune: Bool
        let bwlimit: String?
    }

    enum CodingKeys: String, CodingKey {
        case format, file, name, home, root, destination, sandboxes, reports, databases, credentials, isolation
        case offsite
        case setFormat = "set_format"
        case formatVersion = "format_version"
        case launchAgents = "launchagents"
        case shellFiles = "shell_files"
        case codeExclude = "code_exclude"
        case smallLimitBytes = "small_limit_bytes"
        case chunkSizeBytes = "chunk_size_bytes"
        case rpoSeconds = "rpo_seconds"
        case rtoSeconds = "rto_seconds"
        case sandboxTimeoutSeconds = "sandbox_timeout_seconds"
    }

    init(_ c: RestoreDrillConfig) {
        file = c.file
        name = c.name
        home = c.home
        root = c.root
        destination = c.destination
        sandboxes = c.sandbox.folder
        reports = c.reports.folder
        databases = c.databases.include
        launchAgents = c.launchAgents.include
        shellFiles = c.shell.files
        credentials = c.credentials.include
        codeExclude = c.code.exclude
        smallLimitBytes = c.databases.smallLimit
        chunkSizeBytes = c.databases.chunkSize
        rpoSeconds = c.objectives.rpo
        rtoSeconds = c.objectives.rto
        sandboxTimeoutSeconds = c.sandbox.timeout
        isolation = c.sandbox.isolation.rawValue
        setFormat = c.setFormat
        offsite = c.offsite.map {
            Remote(
                name: $0.name, rclone: $0.rclone, encrypted: $0.encrypted, prune: $0.prune, bwlimit: $0.bandwidthLimit)
        }
    }

    var text: String {
        """
        configuration OK: \(file ?? "(built in)")
          name          \(name) (restore script restore_\(name).sh)
          home          \(home)
          root          \(root)
          destination   \(destination)
          sandboxes     \(sandboxes)
          reports       \(reports)
          databases     \(databases.joined(separator: ", ")) (relative to root; chunked at \(Units.humanBytes(smallLimitBytes)), \(Units.humanBytes(chunkSizeBytes)) chunks)
          launchagents  \(launchAgents.joined(separator: ", "))
          shell         \(shellFiles.joined(separator: ", "))
          credentials   \(credentials.isEmpty ? "(none)" : credentials.joined(separator: ", "))
          objectives    RPO \(Units.humanSeconds(rpoSeconds)), RTO \(Units.humanSeconds(rtoSeconds))
          sandbox       isolation \(isolation), timeout \(Units.humanSeconds(sandboxTimeoutSeconds))
          set format    \(setFormat)
          offsite       \(offsiteText)
        """
    }

    private var offsiteText: String {
        guard !offsite.isEmpty else { return "(none)" }
        return offsite.map { r in
            var notes: [String] = []
            if r.encrypted == false { notes.append("stored in clear: encrypted: false") }
            if !r.prune { notes.append("not pruned here") }
            if let limit = r.bwlimit { notes.append("bwlimit \(limit)") }
            return "\(r.name) → \(r.rclone)" + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
        }.joined(separator: "; ")
    }
}
