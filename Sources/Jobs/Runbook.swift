import Destination
import DrillCore
import Foundation
import Health
import Reports
import Vault

/// `restore-drill runbook`: the step-by-step procedure a person follows to restore one backup set
/// on a new machine (issue 19, docs/RUNBOOK.md), built from the set's manifest, the configuration
/// and the history, and tied to the newest passing drill of that set. Reads only; never prints the
/// vault password (it names where the password comes from).
public struct Runbook: Sendable {
    /// The set the runbook restores.
    public var manifest: Manifest
    /// The local destination's location (an absolute folder).
    public var destination: String
    /// The configured off-site remotes, in configuration order.
    public var remotes: [RestoreDrillConfig.OffsiteRemote]
    /// The configured vault password source; nil when none is configured.
    public var passwordSource: RestoreDrillConfig.PasswordSource?
    /// The full drills of this set in the history (kind `drill`), oldest first.
    public var drills: [HistoryEvent]
    /// The tools the newest passing drill recorded (`sh`, `tar`, …, `os`, `arch` → version text);
    /// nil when not recorded.
    public var passedTools: [String: String]?
    /// The dependency lists of the set: `python` and `homebrew`, each with its bytes when they
    /// could be read and match the manifest.
    public var lists: [DependencyList]
    /// The RTO objective, seconds.
    public var rtoObjective: Double
    /// When the runbook was made.
    public var generatedAt: Date

    /// One dependency list of the set (component `dependencies`, kind `list`).
    public struct DependencyList: Sendable {
        /// `python` or `homebrew` (the artifact's file name without `.txt`).
        public var kind: String
        /// Where its bytes are inside the fetched copy, relative to the set folder (format 2:
        /// `../objects/<ab>/<sha256>`).
        public var storedPath: String
        /// The bytes, nil when they could not be read or do not match the manifest's SHA-256.
        public var bytes: Data?
    }

    /// The newest passing drill of the set, if any.
    public var newestPass: HistoryEvent? { drills.last { $0.status == .pass } }
    /// The newest drill of the set, if any.
    public var newestDrill: HistoryEvent? { drills.last }

    /// The warning headings a person cannot miss, first in the runbook: none when the newest drill
    /// passed.
    public var warnings: [String] {
        guard let last = newestDrill else { return ["WARNING: this set has never passed a drill"] }
        var out: [String] = []
        if newestPass == nil { out.append("WARNING: this set has never passed a drill") }
        if last.status != .pass {
            let checks = last.details["failed_checks"].map { " (checks \($0))" } ?? ""
            out.append("WARNING: this set's last drill FAILED on \(Timestamp.string(last.time))\(checks)")
        }
        return out
    }
}

/// Builds a ``Runbook`` from the destination, the configuration and the history.
public enum RunbookJob {
    /// The file name the schedule keeps in the reports folder and beside the sets on each remote.
    public static let fileName = "RUNBOOK.md"

    /// The runbook of set `id`, or of the newest complete set that counts when `id` is nil.
    /// - Parameters:
    ///   - config: the configuration (destination, offsite, credentials.password, objectives).
    ///   - id: a backup id such as `full_20251020_175019`; nil for the newest complete set.
    ///   - authenticator: with a vault password configured, unauthenticated sets never count.
    ///   - now: when the runbook is made.
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when there is no such complete set (exit 3);
    ///   ``RestoreDrillError/io(path:message:)`` when the destination cannot be listed.
    public static func build(
        config: RestoreDrillConfig, id: String?, authenticator: SetAuthenticator? = nil, now: Date
    ) throws -> Runbook {
        let store = LocalDestination(path: config.destination)
        guard store.status().exists else {
            throw RestoreDrillError.io(path: store.location, message: "the destination does not exist")
        }
        let scan = try BackupSetScanner.scan(store, authenticator: authenticator)
        let complete = scan.sets.filter { $0.status == .complete }
        let chosen: ScannedSet
        if let id {
            guard let found = complete.last(where: { $0.id.description == id }) else {
                throw RestoreDrillError.setNotFound("no complete set \(id) that counts in \(store.location)")
            }
            chosen = found
        } else {
            guard let newest = complete.last else {
                throw RestoreDrillError.setNotFound("no complete set in \(store.location)")
            }
            chosen = newest
        }
        let events = (try? HistoryStore(store).events()) ?? []
        let drills = events.filter { $0.kind == .drill && $0.backupID == chosen.id }.sorted { $0.time < $1.time }
        let pass = drills.last { $0.status == .pass }
        let manifest = chosen.manifest
        var lists: [Runbook.DependencyList] = []
        for artifact in manifest.artifacts where artifact.component == .dependencies && artifact.kind == .list {
            guard let stored = manifest.storedPath(of: artifact) else { continue }
            let kind = ((artifact.path as NSString).lastPathComponent as NSString).deletingPathExtension
            let data = FileManager.default.contents(atPath: (chosen.path as NSString).appendingPathComponent(stored))
            let matches = data.map { SHA256Digest.hex(of: $0) == artifact.sha256 } ?? false
            lists.append(.init(kind: kind, storedPath: stored, bytes: matches ? data : nil))
        }
        return Runbook(
            manifest: manifest, destination: store.location, remotes: config.offsite,
            passwordSource: config.credentials.password, drills: drills, passedTools: pass.flatMap(tools(of:)),
            lists: lists, rtoObjective: config.objectives.rto, generatedAt: now)
    }

    /// The tools a drill recorded: its event's `tools` detail (`tar=…; openssl=…`) with `tool_os`
    /// and `tool_arch`, else the `tools` object of its report.json; nil when neither has them.
    static func tools(of event: HistoryEvent) -> [String: String]? {
        if let text = event.details["tools"] {
            var out: [String: String] = [:]
            for item in text.split(separator: ";") {
                let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if pair.count == 2 { out[pair[0]] = pair[1] }
            }
            if let os = event.details["tool_os"] { out["os"] = os }
            if let arch = event.details["tool_arch"] { out["arch"] = arch }
            return out.isEmpty ? nil : out
        }
        guard let folder = event.reportFolder,
            let data = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent("report.json")),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let tools = object["tools"] as? [String: String], !tools.isEmpty
        else { return nil }
        return tools
    }
}

extension RunbookJob {
    /// Keeps the current runbook where it is needed on the day the machine is gone: writes the
    /// Markdown runbook of the newest complete set to `<reports>/RUNBOOK.md` (atomically, 0600) and,
    /// for each configured off-site remote, copies it to `<remote root>/RUNBOOK.md`. Run after every
    /// full drill the CLI makes (not a sampled one). Never throws: each failure is a warning, never
    /// the drill's failure.
    /// - Parameters:
    ///   - config: the configuration (reports folder, destination, offsite).
    ///   - authenticator: as ``build(config:id:authenticator:now:)``.
    ///   - now: when the runbook is made.
    ///   - rclone: the rclone binary for the remotes; nil when not installed (each remote warns).
    ///   - warning: called once per failure with a sentence naming what failed.
    /// - Returns: the local file written, or nil when none was.
    @discardableResult
    public static func keepCurrent(
        config: RestoreDrillConfig, authenticator: SetAuthenticator?, now: Date, rclone: Rclone?,
        warning: (String) -> Void
    ) -> String? {
        let text: String
        do {
            text = try build(config: config, id: nil, authenticator: authenticator, now: now).markdown()
        } catch {
            warning("runbook not written: \(error)")
            return nil
        }
        let data = Data(text.utf8)
        let path = (config.reports.folder as NSString).appendingPathComponent(fileName)
        var written: String?
        do {
            try FileManager.default.createDirectory(atPath: config.reports.folder, withIntermediateDirectories: true)
            try AtomicFile.write(data, to: path, mode: 0o600)
            written = path
        } catch {
            warning("runbook not written to \(path): \(error)")
        }
        for remote in config.offsite {
            guard let rclone else {
                warning("runbook not pushed to \(remote.name): rclone is not installed")
                continue
            }
            do {
                try RcloneRemote(rclone: rclone, root: remote.rclone, bandwidthLimit: remote.bandwidthLimit).write(
                    data, to: fileName)
            } catch {
                warning("runbook not pushed to \(remote.name): \(error)")
            }
        }
        return written
    }
}
