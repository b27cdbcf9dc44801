import Destination
import DrillCore
import Foundation
import Health
import Vault

/// `restore-drill evidence keygen|export|verify`: signed evidence bundles for an auditor (issue 18,
/// docs/EVIDENCE.md, "Evidence bundles").
///
/// A bundle is a folder (or the same folder as a `.tar.gz`):
/// ```
/// README.txt                          how to verify, with and without this tool
/// bundle.json                         format restore-drill/evidence-bundle: window, tool version, chain head
/// config.json                         the configuration with secrets removed
/// history/.restore-drill/events/*.json every event file of the destination, byte for byte (the whole chain)
/// history/.restore-drill/head.json    the destination's head.json as it was
/// history/verify.json                 `history verify --json` at export time
/// history/window.txt                  the events in the window: time, kind, status, id
/// manifests.txt                       one line per set: id, SHA-256 of manifest.json, finished time, status
/// reports/<drill or spot id>/…        the report folders of the drills, sampled drills, checks and spot checks
/// sla.json, sla.md                    `report sla --since` for the window
/// proof.json                          `proof --json`
/// remediation.md, remediation.json    each failure in the window with the notes about it
/// sizes                               `<bytes>  <path>` for every file of the index but itself
/// index                               `<sha256>  <path>` for every file but index and index.sig, sorted
///                                     by path (bytes): `sha256sum -c index` checks it
/// index.sig                           Ed25519 signature (64 raw bytes) of index's bytes
/// ```
/// **What an interrupted export leaves.** The bundle is built in a hidden folder beside OUT
/// (`.evidence-<uuid>`) and renamed to OUT last; a `--tar` bundle is written to a hidden
/// temporary file and linked to OUT (never over an existing path). A killed export leaves at most
/// the hidden folder or file.
public enum EvidenceJob {
    /// The value of `bundle.json`'s `format`.
    public static let bundleFormat = "restore-drill/evidence-bundle"
    /// The events folder inside a bundle.
    public static let eventsFolder = "history/.restore-drill/events"

    // MARK: keygen

    /// What `evidence keygen` wrote.
    public struct KeyPair: Sendable, Equatable {
        /// The private key file (PKCS#8 PEM, mode 0600), absolute.
        public var privateKeyPath: String
        /// The public key file (SPKI PEM, mode 0644), absolute.
        public var publicKeyPath: String
        /// The public key PEM text, for the auditor.
        public var publicPEM: String
    }

    /// Makes an Ed25519 key pair: `<folder>/evidence.key` and `<folder>/evidence.pub`.
    /// - Parameter folder: made (mode 0700) when missing.
    /// - Throws: ``RestoreDrillError/alreadyExists(path:message:)`` when `evidence.key` (or
    ///   `evidence.pub`) exists: a key is never overwritten; ``RestoreDrillError/io(path:message:)``
    ///   when a file cannot be written; ``RestoreDrillError/runtime(_:)`` from libcrypto.
    public static func keygen(folder: String) throws -> KeyPair {
        let keyPath = (folder as NSString).appendingPathComponent("evidence.key")
        let pubPath = (folder as NSString).appendingPathComponent("evidence.pub")
        for path in [keyPath, pubPath] where exists(path) {
            throw RestoreDrillError.alreadyExists(
                path: path, message: "exists; a key is never overwritten (move it away, or use --out DIR)")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RestoreDrillError.io(path: folder, message: "cannot make the folder: \(error)")
        }
        let pair = try EvidenceKey.generate()
        try writeNew(pair.privatePEM, to: keyPath, mode: 0o600)
        try writeNew(pair.publicPEM, to: pubPath, mode: 0o644)
        return KeyPair(
            privateKeyPath: keyPath, publicKeyPath: pubPath, publicPEM: String(decoding: pair.publicPEM, as: UTF8.self))
    }

    // MARK: export

    /// What `evidence export` wrote.
    public struct ExportOutcome: Codable, Sendable, Equatable {
        public var format = "restore-drill/evidence-export"
        public var formatVersion = 1
        /// The bundle (folder or `.tar.gz`), absolute.
        public var bundle: String
        /// Files in the index.
        public var files: Int
        /// The chain's head at export time; nil for an unchained or empty history.
        public var head: HistoryChainHead?
        /// Whether `history verify` found the chain intact at export time.
        public var historyIntact: Bool
        /// Report folders named by events of the window that were gone (listed in bundle.json).
        public var missingReports: [String]

        enum CodingKeys: String, CodingKey {
            case format, bundle, files, head
            case formatVersion = "format_version"
            case historyIntact = "history_intact"
            case missingReports = "missing_reports"
        }

        /// One line per fact, for people.
        public var text: String {
            var lines = ["wrote \(bundle) (\(files) files, signed)"]
            lines.append(
                "history: " + (historyIntact ? "intact" : "BROKEN (see history/verify.json)")
                    + (head.map { ", head seq \($0.seq) \($0.sha256)" } ?? ", no chained event"))
            for m in missingReports { lines.append("note: report folder gone or not under reports.folder: \(m)") }
            return lines.joined(separator: "\n")
        }
    }

    /// Writes a signed bundle of the window `since` seconds back from `now`.
    /// - Parameters:
    ///   - config: the configuration (destination, reports, objectives).
    ///   - now: the export's instant (injected clock).
    ///   - since: the window, seconds.
    ///   - keyPath: the Ed25519 private key (PKCS#8 PEM).
    ///   - out: the bundle's path; nothing may exist there.
    ///   - tar: write `out` as a gzip-compressed tar of the folder.
    ///   - authenticator: with a vault password configured, unauthenticated sets never count.
    /// - Returns: what was written.
    /// - Throws: ``RestoreDrillError/alreadyExists(path:message:)`` when `out` exists;
    ///   ``RestoreDrillError/usage(_:)`` when the key cannot be read or is not an Ed25519 key;
    ///   ``RestoreDrillError/io(path:message:)`` for read and write errors.
    public static func export(
        config: RestoreDrillConfig, now: Date, since: Double, keyPath: String, out: String, tar: Bool,
        authenticator: SetAuthenticator? = nil
    ) throws -> ExportOutcome {
        let out = absolute(out)
        guard !exists(out) else {
            throw RestoreDrillError.alreadyExists(path: out, message: "exists; a bundle is never written over")
        }
        guard let key = FileManager.default.contents(atPath: keyPath) else {
            throw RestoreDrillError.usage(
                "cannot read the evidence key \(keyPath) (`restore-drill evidence keygen` makes one; "
                    + "evidence.key in the configuration or --key names it)")
        }
        do {
            _ = try EvidenceKey.publicKey(ofPrivate: key)
        } catch {
            throw RestoreDrillError.usage("\(keyPath) is not an Ed25519 private key in PKCS#8 PEM form")
        }
        let parent = PathText.parent(of: out)
        let staging = (parent as NSString).appendingPathComponent(".evidence-\(UUID().uuidString.lowercased())")
        try makeFolder(staging)
        var cleanup = [staging]
        defer { for c in cleanup { try? FileManager.default.removeItem(atPath: c) } }

        let outcome = try build(
            in: staging, config: config, now: now, since: since, key: key, bundlePath: out)
        if tar {
            let temporary = (parent as NSString).appendingPathComponent(".evidence-\(UUID().uuidString).tar.gz")
            cleanup.append(temporary)
            try EvidenceTar.write(folder: staging, to: temporary)
            // link(2) fails when `out` exists: never over an existing path.
            guard link(temporary, out) == 0 else {
                let code = errno
                if code == EEXIST {
                    throw RestoreDrillError.alreadyExists(path: out, message: "exists; a bundle is never written over")
                }
                throw RestoreDrillError.io(path: out, message: String(cString: strerror(code)))
            }
        } else {
            guard !exists(out) else {
                throw RestoreDrillError.alreadyExists(path: out, message: "exists; a bundle is never written over")
            }
            guard rename(staging, out) == 0 else {
                throw RestoreDrillError.io(path: out, message: String(cString: strerror(errno)))
            }
            cleanup.removeAll { $0 == staging }
        }
        return outcome
    }

    /// Writes every file of the bundle into `folder`, then `sizes`, `index` and `index.sig`.
    static func build(
        in folder: String, config: RestoreDrillConfig, now: Date, since: Double, key: Data, bundlePath: String
    ) throws -> ExportOutcome {
        let destination = LocalDestination(path: config.destination)
        let store = HistoryStore(destination)
        let windowStart = now.addingTimeInterval(-since)
        var files: [String: Data] = [:]

        // The whole chain, byte for byte, and head.json.
        for file in try destination.eventFiles() where !file.name.hasPrefix(".") && file.name.hasSuffix(".json") {
            guard let data = file.contents else {
                throw RestoreDrillError.io(path: file.name, message: "history event cannot be read")
            }
            files["\(eventsFolder)/\(file.name)"] = data
        }
        if let chain = destination.historyChainFolder,
            let head = LocalDestination.readRegularFile((chain as NSString).appendingPathComponent("head.json"))
        {
            files["history/.restore-drill/head.json"] = head
        }
        let verification = try store.verify()
        files["history/verify.json"] = try encodeJSON(verification)
        let log = try store.load()
        let inWindow = log.events.filter { $0.time >= windowStart && $0.time <= now }
        files["history/window.txt"] = Data(
            inWindow.map { "\(Timestamp.string($0.time))  \($0.kind.rawValue)  \($0.status.rawValue)  \($0.id)\n" }
                .joined().utf8)

        // Manifests.
        let scan = try BackupSetScanner.scan(destination, authenticator: nil)
        var manifests = ""
        for set in scan.sets {
            let path = (set.path as NSString).appendingPathComponent("manifest.json")
            let sha =
                LocalDestination.readRegularFile(path, limit: 512 << 20).map(SHA256Digest.hex(of:)) ?? "unreadable"
            manifests += "\(set.id)  \(sha)  \(Timestamp.string(set.finishedAt))  \(set.status.rawValue)\n"
        }
        files["manifests.txt"] = Data(manifests.utf8)

        // Report folders of the window's drills, sampled drills, checks and spot checks.
        var missing: [String] = []
        let reportKinds: Set<HistoryEventKind> = [.drill, .sampledDrill, .check, .spot]
        for event in inWindow where reportKinds.contains(event.kind) {
            guard let recorded = event.reportFolder else { continue }
            let name = PathText.lastComponent(of: recorded)
            guard isPlainName(name) else { continue }
            // Only the report folder the tool itself writes: `<reports.folder>/<name>`, named by the
            // drill's id for a drill. An event names its folder, and a rebuilt history could name
            // any folder this user can read; that is never bundled (it is listed as missing).
            let reportFolder = ((config.reports.folder as NSString).appendingPathComponent(name) as NSString)
                .standardizingPath
            let standardized = (recorded as NSString).standardizingPath
            guard standardized == reportFolder,
                event.kind != .drill && event.kind != .sampledDrill || name == event.drillID?.description
            else {
                missing.append(recorded)
                continue
            }
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: reportFolder) else {
                missing.append(reportFolder)
                continue
            }
            for entry in entries.sorted() where isPlainName(entry) {
                let path = (reportFolder as NSString).appendingPathComponent(entry)
                guard let data = LocalDestination.readRegularFile(path, limit: 256 << 20) else { continue }
                files["reports/\(name)/\(entry)"] = data
            }
        }

        // SLA, proof, remediation, configuration.
        let card = try SLAJob.run(config: config, now: now, since: since, destination: destination)
        files["sla.json"] = try card.json()
        files["sla.md"] = Data(card.markdown().utf8)
        files["proof.json"] = try encodeJSON(try ProofJob.run(config: config, now: now, destination: destination))
        let remediation = Remediation.log(events: log.events, from: windowStart, to: now)
        files["remediation.json"] = try encodeJSON(remediation)
        files["remediation.md"] = Data(remediation.markdown.utf8)
        files["config.json"] = try encodeJSON(EvidenceConfigView(config))
        let bundle = BundleInfo(
            toolVersion: ToolInfo.version, createdAt: Timestamp.string(now), sinceSeconds: since,
            windowStart: Timestamp.string(windowStart), destination: config.destination, head: verification.head,
            historyIntact: verification.intact, events: log.events.count, eventsInWindow: inWindow.count,
            missingReports: missing)
        files["bundle.json"] = try encodeJSON(bundle)
        files["README.txt"] = Data(readme.utf8)

        // sizes, index, index.sig.
        for path in files.keys where !isSafeRelativePath(path) {
            throw RestoreDrillError.runtime("a bundle file name is not a plain relative path: \(path)")
        }
        files["sizes"] = Data(
            files.keys.sorted(by: byteOrder).map { "\(files[$0]!.count)  \($0)\n" }.joined().utf8)
        let index = Data(
            files.keys.sorted(by: byteOrder).map { "\(SHA256Digest.hex(of: files[$0]!))  \($0)\n" }.joined().utf8)
        let signature = try EvidenceKey.sign(index, privatePEM: key)
        for (path, data) in files {
            let full = (folder as NSString).appendingPathComponent(path)
            try makeFolder(PathText.parent(of: full))
            try writeNew(data, to: full, mode: 0o644)
        }
        try writeNew(index, to: (folder as NSString).appendingPathComponent("index"), mode: 0o644)
        try writeNew(signature, to: (folder as NSString).appendingPathComponent("index.sig"), mode: 0o644)
        return ExportOutcome(
            bundle: bundlePath, files: files.count, head: verification.head, historyIntact: verification.intact,
            missingReports: missing)
    }

    /// `bundle.json`.
    struct BundleInfo: Codable {
        var format = EvidenceJob.bundleFormat
        var formatVersion = 1
        var toolVersion: String
        var createdAt: String
        var sinceSeconds: Double
        var windowStart: String
        var destination: String
        var head: HistoryChainHead?
        var historyIntact: Bool
        var events: Int
        var eventsInWindow: Int
        var missingReports: [String]
        var history = "history/.restore-drill/events holds every event file of the destination (the whole chain)"

        enum CodingKeys: String, CodingKey {
            case format, destination, head, events, history
            case formatVersion = "format_version"
            case toolVersion = "tool_version"
            case createdAt = "created_at"
            case sinceSeconds = "since_seconds"
            case windowStart = "window_start"
            case historyIntact = "history_intact"
            case eventsInWindow = "events_in_window"
            case missingReports = "missing_reports"
        }
    }

    /// The auditor's instructions, `README.txt` in every bundle.
    public static let readme = """
        RestoreDrill evidence bundle
        ============================
        Every file of this folder but `index` and `index.sig` is listed in `index` as
        `<sha256>  <path>` (the format of sha256sum), and `sizes` lists each file's bytes.
        `index.sig` is the Ed25519 signature (64 raw bytes) of `index`, made with the key
        whose public half (evidence.pub) the operator gave you.

        Verify without RestoreDrill (needs OpenSSL 3; LibreSSL cannot verify Ed25519):

          openssl pkeyutl -verify -pubin -inkey evidence.pub -rawin -in index -sigfile index.sig
          sha256sum -c index

        The first prints "Signature Verified Successfully"; the second prints OK for every file.
        Also check that no file is present that `index` does not list (`find . -type f`).

        Verify with RestoreDrill (signature, hashes, sizes, extra files, and the history chain):

          restore-drill evidence verify BUNDLE --key evidence.pub

        history/.restore-drill/events holds every event of the destination's history, chained:
        each event has `seq` and `prev`, the SHA-256 of the previous event file. bundle.json records
        the chain's head (seq and SHA-256) at export time: compare it with the head in later
        bundles and pings. A chain cannot show that its newest events were cut off before export.
        """

    // MARK: helpers

    static func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(value)
        data.append(0x0a)
        return data
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(b.utf8) }

    /// A file name with no `/`, not `.`/`..`, no control character or backslash.
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }

    /// A relative path of plain names (``isPlainName(_:)``) joined by `/`.
    static func isSafeRelativePath(_ path: String) -> Bool {
        !path.hasPrefix("/")
            && path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy {
                isPlainName(String($0))
            }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        return ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path) as NSString)
            .standardizingPath
    }

    static func makeFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RestoreDrillError.io(path: path, message: "cannot make the folder: \(error)")
        }
    }

    /// Writes `data` to a new file (`O_EXCL`: never over an existing one) with `mode`.
    static func writeNew(_ data: Data, to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw RestoreDrillError.alreadyExists(path: path, message: "exists; never overwritten")
            }
            throw RestoreDrillError.io(path: path, message: String(cString: strerror(code)))
        }
        defer { close(fd) }
        _ = fchmod(fd, mode)
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                guard n > 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
    }
}

/// The remediation log of a window: every failure with the notes recorded about it.
struct Remediation: Codable {
    var format = "restore-drill/remediation"
    var formatVersion = 1
    var failures: [Entry]

    struct Entry: Codable {
        var event: String
        var kind: String
        var status: String
        var time: String
        var subject: String
        var text: String
        var notes: [Note]
    }

    struct Note: Codable {
        var event: String
        var time: String
        var text: String
    }

    enum CodingKeys: String, CodingKey {
        case format, failures
        case formatVersion = "format_version"
    }

    /// Failed backups, drills, sampled drills, checks, spot checks, pushes and off-site checks dated
    /// in `[from, to]`, oldest first, each with every note about it (wherever dated).
    static func log(events: [HistoryEvent], from: Date, to: Date) -> Remediation {
        let failing: Set<HistoryEventStatus> = [.partial, .failed, .fail]
        let notes = events.filter { $0.kind == .note }
        let failures = events.filter {
            $0.kind != .note && failing.contains($0.status) && $0.time >= from && $0.time <= to
        }
        return Remediation(
            failures: failures.map { e in
                Entry(
                    event: e.id, kind: e.kind.rawValue, status: e.status.rawValue, time: Timestamp.string(e.time),
                    subject: e.drillID?.description ?? e.backupID?.description ?? e.details["remote"] ?? "",
                    text: HTMLReportJob.failureText(e),
                    notes: notes.filter { $0.details["event"] == e.id }.map {
                        Note(event: $0.id, time: Timestamp.string($0.time), text: $0.details["text"] ?? "")
                    })
            })
    }

    /// Markdown: one section per failure; "no remediation recorded" when it has no note.
    var markdown: String {
        var out = "# Remediation log\n\n"
        if failures.isEmpty { out += "No failure in the window.\n" }
        for f in failures {
            out += "## \(f.time) \(f.kind) \(f.status) \(HistoryText.visible(f.subject))\n\n"
            out += "- event: `\(f.event)`\n- what failed: \(HistoryText.visible(f.text))\n"
            if f.notes.isEmpty {
                out += "- no remediation recorded\n"
            }
            for n in f.notes {
                out += "- note \(n.time) (`\(n.event)`): \(HistoryText.visible(n.text))\n"
            }
            out += "\n"
        }
        return out
    }
}

/// The configuration as a bundle shows it: secrets removed. Password sources are shown as their
/// kind only (`env`, `file`, `command`), hooks as their program only, the ping URL as scheme and
/// host; rclone paths name remotes of rclone's own configuration and are kept.
struct EvidenceConfigView: Encodable {
    var format = "restore-drill/evidence-config"
    var formatVersion = 1
    var file: String?
    var name, home, root, destination, sandboxes, reports: String
    var setFormat: Int
    var databases, launchAgents, shellFiles, credentials, codeExclude: [String]
    var passwordSource: String?
    var previousPasswordSources: [String]
    var rpoSeconds, rtoSeconds: Double
    var retention: [String: String]
    var health: [String: Double]
    var isolation: String
    var schedule: [String: String]
    var hooksOnFailure, hooksOnSuccess: [String]
    var ping: String?
    var offsite: [[String: String]]
    var proofMaxAgeSeconds: Double
    var evidenceKey: String

    enum CodingKeys: String, CodingKey {
        case format, file, name, home, root, destination, sandboxes, reports, databases, credentials, isolation
        case offsite, retention, health, schedule, ping
        case formatVersion = "format_version"
        case setFormat = "set_format"
        case launchAgents = "launchagents"
        case shellFiles = "shell_files"
        case codeExclude = "code_exclude"
        case passwordSource = "password_source"
        case previousPasswordSources = "previous_password_sources"
        case rpoSeconds = "rpo_seconds"
        case rtoSeconds = "rto_seconds"
        case hooksOnFailure = "hooks_on_failure"
        case hooksOnSuccess = "hooks_on_success"
        case proofMaxAgeSeconds = "proof_max_age_seconds"
        case evidenceKey = "evidence_key"
    }

    static func kind(_ source: RestoreDrillConfig.PasswordSource) -> String {
        switch source {
        case .environment: "env"
        case .file: "file"
        case .command: "command"
        }
    }

    init(_ c: RestoreDrillConfig) {
        file = c.file
        name = c.name
        home = c.home
        root = c.root
        destination = c.destination
        sandboxes = c.sandbox.folder
        reports = c.reports.folder
        setFormat = c.setFormat
        databases = c.databases.include
        launchAgents = c.launchAgents.include
        shellFiles = c.shell.files
        credentials = c.credentials.include
        codeExclude = c.code.exclude
        passwordSource = c.credentials.password.map(Self.kind)
        previousPasswordSources = c.credentials.previousPasswords.map(Self.kind)
        rpoSeconds = c.objectives.rpo
        rtoSeconds = c.objectives.rto
        retention = [
            "last": "\(c.retention.last)", "daily": "\(c.retention.daily)", "weekly": "\(c.retention.weekly)",
            "monthly": "\(c.retention.monthly)", "timezone": c.retention.timeZone ?? "(local)",
        ]
        health = [
            "backup_warning_seconds": c.health.backupWarning, "backup_critical_seconds": c.health.backupCritical,
            "drill_warning_seconds": c.health.drillWarning, "drill_critical_seconds": c.health.drillCritical,
        ]
        isolation = c.sandbox.isolation.rawValue
        schedule = [
            "backup": c.schedule.backup, "prune": c.schedule.prune, "drill": c.schedule.drill,
            "sample": c.schedule.sample, "health": c.schedule.health,
        ]
        hooksOnFailure = c.hooks.onFailure.compactMap(\.first)
        hooksOnSuccess = c.hooks.onSuccess.compactMap(\.first)
        ping = c.hooks.ping.map { "\($0.scheme ?? "https")://\($0.host ?? "")" }
        offsite = c.offsite.map { ["name": $0.name, "rclone": $0.rclone] }
        proofMaxAgeSeconds = c.proof.maxAge
        evidenceKey = c.evidence.keyPath
    }
}
