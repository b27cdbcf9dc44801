import ArgumentParser
import DrillCore
import Foundation
import Jobs

struct EvidenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence",
        abstract: "Signed evidence bundles for an auditor: make the key, export a window, verify a bundle.",
        discussion: "docs/EVIDENCE.md, \"Evidence bundles\"; README, \"Evidence for an auditor\".",
        subcommands: [Keygen.self, Export.self, Verify.self])

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Make an Ed25519 key pair (evidence.key, evidence.pub) and print the public key.",
            discussion: """
                Writes DIR/evidence.key (PKCS#8 PEM, mode 0600) and DIR/evidence.pub (SPKI PEM); DIR is --out, \
                else the folder of evidence.key in the configuration, else ~/.config/restore-drill. Never \
                overwrites a key. Give evidence.pub to the auditor. Exit 0 made, 2 usage, 3 a key exists or \
                cannot be written.
                """)

        @Option(name: .customLong("config"), help: "Configuration file (only read for evidence.key).")
        var configPath: String?
        @Option(help: ArgumentHelp("The folder to write the key pair into.", valueName: "dir")) var out: String?

        func run() throws {
            let folder: String
            if let out {
                folder = out
            } else if let c = try? RestoreDrillConfig.locate(explicit: configPath) {
                folder = PathText.parent(of: c.evidence.keyPath)
            } else {
                folder = PathText.parent(of: RestoreDrillConfig.EvidenceSettings.defaultKeyPath())
            }
            let pair = try EvidenceJob.keygen(folder: folder)
            Terminal.note("wrote \(pair.privateKeyPath) (private, keep it) and \(pair.publicKeyPath) (for the auditor)")
            Terminal.out(pair.publicPEM)
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a signed bundle of the window's evidence (a folder, or a .tar.gz with --tar).",
            discussion: """
                The bundle holds the window's drill, sampled drill, check and spot report folders, every \
                event of the history (the whole chain) and its verification, the manifests' SHA-256, the SLA \
                scorecard, the proof ledger, the remediation log, the tool version and the configuration \
                without secrets; `index` lists every file's SHA-256 and `index.sig` signs it. OUT must not \
                exist. Exit 0 written, 2 usage (no key, bad --since), 3 OUT exists or a file cannot be read \
                or written.
                """)

        @OptionGroup var config: ConfigOption
        @Option(help: ArgumentHelp("The window, e.g. 90d.", valueName: "duration")) var since = "90d"
        @Flag(help: "Write OUT as a gzip-compressed tar.") var tar = false
        @Option(help: ArgumentHelp("The private key (default: evidence.key of the configuration).", valueName: "path"))
        var key: String?
        @Flag(help: "Print as JSON (format restore-drill/evidence-export).") var json = false
        @Argument(help: ArgumentHelp("The bundle to write (a folder, or a .tar.gz with --tar).", valueName: "out"))
        var out: String

        func run() async throws {
            let c = try config.load()
            guard let seconds = Units.seconds(since), seconds >= 86400 else {
                throw ValidationError("--since \(since): give a duration of at least 1d, e.g. 90d")
            }
            let outcome = try EvidenceJob.export(
                config: c, now: try SystemClock().now(), since: seconds, keyPath: key ?? c.evidence.keyPath, out: out,
                tar: tar, authenticator: try await SetTrust.authenticator(config: c))
            if json { try Terminal.json(outcome) } else { Terminal.out(outcome.text) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a bundle: the index's signature, every file's hash and size, extra files, the chain.",
            discussion: """
                BUNDLE is a folder or a .tar.gz (read into a private temporary folder, member by member). \
                Names the first problem. Exit 0 ok, 1 a problem, 2 usage (no bundle, no or bad key), 3 the \
                bundle cannot be read.
                """)

        @Argument(help: ArgumentHelp("The bundle (folder or .tar.gz).", valueName: "bundle")) var bundle: String
        @Option(help: ArgumentHelp("The public key (SPKI PEM, evidence.pub).", valueName: "pub")) var key: String
        @Flag(help: "Print as JSON (format restore-drill/evidence-verify).") var json = false

        func run() throws {
            guard let pem = FileManager.default.contents(atPath: key) else {
                throw RestoreDrillError.usage("cannot read the public key \(key)")
            }
            let result = try EvidenceJob.verify(bundle: bundle, publicPEM: pem)
            if json { try Terminal.json(result) } else { Terminal.out(result.text) }
            if !result.ok { throw ExitCode(ExitStatus.findings.rawValue) }
        }
    }
}
