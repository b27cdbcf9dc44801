import Destination
import DrillCore
import Foundation
import Health
import Reports
import Vault

/// `restore-drill runbook`: the step-by-step procedure a person follows to restore one backup set
/// on a new machine (issue 19, docs/RUNBOOK.md), built from the set's manifest, the configuration
/// and this host's drill reports, and tied to the newest passing drill of that set. Reads only;
/// never prints the vault password (it names where the password comes from).
///
/// A drill counts only when this host's own report of it (``LocalDrillReports``) names the set and
/// the exact `manifest.json` bytes the runbook is made from: the history in the destination can be
/// written by anyone who can write there, so it never makes a set look proven.
public struct Runbook: Sendable {
    /// The set the runbook restores.
    public var manifest: Manifest
    /// The local destination's location (an absolute folder).
    public var destination: String
    /// The configured off-site remotes, in configuration order.
    public var remotes: [RestoreDrillConfig.OffsiteRemote]
    /// The configured vault password source; nil when none is configured.
    public var passwordSource: RestoreDrillConfig.PasswordSource?
    /// The drills of this set and these manifest bytes this host reported, oldest first.
    public var drills: [LocalDrillReport]
    /// True when the set's manifest HMAC verified under a configured vault password; false when
    /// no password was available to check it.
    public var authenticated: Bool
    /// SHA-256 (hex) of the set's files the restore trusts before it is given the password:
    /// `manifest.json` (the bytes the set was authenticated and drilled by), `SHA256SUMS` (as the
    /// manifest renders it) and the restore script (as the manifest records it), as (file name in
    /// the set, digest). Empty when ``pinProblem`` says why.
    public var pins: [(name: String, sha256: String)]
    /// Why the copy cannot be checked: a file that could not be read, or `SHA256SUMS` or the
    /// restore script on disk differing from what the manifest says (replaced by someone who can
    /// write to the destination). Nil when ``pins`` holds all three.
    public var pinProblem: String?
    /// The newest complete set, when this runbook restores an older one because the newest has no
    /// passing drill (the runbook the schedule keeps); nil otherwise.
    public var newerUnproven: BackupID?
    /// The newest other complete set with a passing drill this host reported, for the warning of
    /// a set without one; nil when there is none.
    public var newestProvenOther: BackupID?
    /// The dependency lists of the set: `python` and `homebrew`, each with its bytes when they
    /// could be read and match the manifest.
    public var lists: [DependencyList]
    /// The RTO objective, seconds.
    public var rtoObjective: Double
    /// When the runbook was made.
    public var generatedAt: Date
    /// Texts never written into the runbook (the vault password, in its encodings): a password
    /// given as a command's argument in the configuration would otherwise appear in step 2.
    public var scrubber: SecretScrubber

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
    public var newestPass: LocalDrillReport? { drills.last { $0.passed } }
    /// The newest drill of the set, if any.
    public var newestDrill: LocalDrillReport? { drills.last }

    /// The warning headings a person cannot miss, first in the runbook: none when the set is
    /// authenticated and its newest drill passed.
    public var warnings: [String] {
        var out: [String] = []
        if let pinProblem {
            out.append("WARNING: do not restore from this copy: \(pinProblem)")
        }
        let elsewhere = newestProvenOther.map {
            " (the newest set that passed one is \($0): restore-drill runbook \($0))"
        }
        if newestPass == nil { out.append("WARNING: this set has never passed a drill" + (elsewhere ?? "")) }
        if let last = newestDrill, !last.passed {
            let checks = last.failedChecks.isEmpty ? "" : " (checks \(last.failedChecks.joined(separator: ", ")))"
            out.append(
                "WARNING: this set's last drill FAILED on \(Timestamp.string(last.finishedAt))\(checks)"
                    + (newestPass == nil ? "" : elsewhere ?? ""))
        }
        if let newerUnproven {
            out.append(
                "WARNING: the newest set \(newerUnproven) has no passing drill: this runbook restores the newest set "
                    + "that passed one")
        }
        if !authenticated {
            out.append(
                "WARNING: this set is not authenticated: no vault password was available to check its manifest, "
                    + "so anyone who can write to the destination could have replaced it")
        }
        return out
    }
}

/// Builds a ``Runbook`` from the destination, the configuration and this host's drill reports.
public enum RunbookJob {
    /// The file name the schedule keeps in the reports folder and beside the sets on each remote.
    public static let fileName = "RUNBOOK.md"

    /// The runbook of set `id`, or of the newest complete set that counts when `id` is nil.
    /// - Parameters:
    ///   - config: the configuration (destination, reports folder, offsite, credentials.password,
    ///     objectives).
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
        let refused = scan.rejected.filter { $0.unauthenticated == true }.count
        let because =
            refused > 0 ? " (\(refused) set(s) there do not authenticate with the vault password given)" : ""
        let chosen: ScannedSet
        if let id {
            guard let found = complete.last(where: { $0.id.description == id }) else {
                throw RestoreDrillError.setNotFound("no complete set \(id) that counts in \(store.location)\(because)")
            }
            chosen = found
        } else {
            guard let newest = complete.last else {
                throw RestoreDrillError.setNotFound("no complete set that counts in \(store.location)\(because)")
            }
            chosen = newest
        }
        let reports = LocalDrillReports.load(folder: config.reports.folder, now: now)
        func vouched(_ set: ScannedSet, manifestSHA256: String?) -> [LocalDrillReport] {
            guard let manifestSHA256 else { return [] }
            return reports.values.filter { $0.backupID == set.id && $0.manifestSHA256 == manifestSHA256 }
                .sorted { ($0.finishedAt, $0.drillID) < ($1.finishedAt, $1.drillID) }
        }
        let (pinned, pinProblem) = pins(of: chosen)
        let manifestSHA = readSetFile(chosen, Manifest.fileName).map { SHA256Digest.hex(of: $0) }
        let drills = vouched(chosen, manifestSHA256: manifestSHA)
        var newestProvenOther: BackupID?
        if !drills.contains(where: \.passed) {
            for set in complete.reversed() where set.id != chosen.id {
                let sha = readSetFile(set, Manifest.fileName).map { SHA256Digest.hex(of: $0) }
                if vouched(set, manifestSHA256: sha).contains(where: \.passed) {
                    newestProvenOther = set.id
                    break
                }
            }
        }
        let manifest = chosen.manifest
        var lists: [Runbook.DependencyList] = []
        for artifact in manifest.artifacts where artifact.component == .dependencies && artifact.kind == .list {
            guard let stored = manifest.storedPath(of: artifact) else { continue }
            let kind = PathText.deletingExtension(of: PathText.lastComponent(of: artifact.path))
            // At most the recorded size: a list replaced by a huge file is never read whole.
            let data = UntrustedFile.read(
                (chosen.path as NSString).appendingPathComponent(stored), limit: Int(max(0, artifact.size)))
            let matches = data.map { SHA256Digest.hex(of: $0) == artifact.sha256 } ?? false
            lists.append(.init(kind: kind, storedPath: stored, bytes: matches ? data : nil))
        }
        let password = authenticator?.passwords.first
        return Runbook(
            manifest: manifest, destination: store.location, remotes: config.offsite,
            passwordSource: config.credentials.password, drills: drills,
            authenticated: authenticator?.isActive == true, pins: pinned, pinProblem: pinProblem, newerUnproven: nil,
            newestProvenOther: newestProvenOther,
            lists: lists, rtoObjective: config.objectives.rto, generatedAt: now,
            scrubber: SecretScrubber(password: password))
    }

    /// The bytes of `name` in `set`'s folder, read as a hostile file (no link, at most 64 MiB).
    static func readSetFile(_ set: ScannedSet, _ name: String) -> Data? {
        UntrustedFile.read((set.path as NSString).appendingPathComponent(name), limit: 64 << 20)
    }

    /// The digests the runbook pins, each from what vouches for it, never from the file alone:
    /// `manifest.json`'s bytes when they decode to the manifest the scan authenticated,
    /// `SHA256SUMS` as the manifest renders it (``Manifest/renderedChecksumList()``) when the file
    /// holds exactly that, and the restore script as its artifact record says when the file
    /// hashes to it.
    /// - Returns: the three pins, or none and the reason.
    static func pins(of set: ScannedSet) -> (pins: [(name: String, sha256: String)], problem: String?) {
        let manifest = set.manifest
        let notAFile = { (name: String) in "its \(name) is not a regular file of the set (a link, or unreadable)" }
        guard let bytes = readSetFile(set, Manifest.fileName) else { return ([], notAFile(Manifest.fileName)) }
        guard (try? Manifest.decode(bytes, path: set.path)) == manifest else {
            return ([], "its manifest.json changed since it was authenticated")
        }
        let sums = manifest.renderedChecksumList()
        guard let listed = readSetFile(set, Manifest.checksumListFileName) else {
            return ([], notAFile(Manifest.checksumListFileName))
        }
        guard listed == sums else { return ([], "its SHA256SUMS does not match its manifest") }
        guard let script = readSetFile(set, manifest.restoreScript) else {
            return ([], notAFile("restore script " + manifest.restoreScript))
        }
        guard let record = manifest.artifacts.first(where: { $0.kind == .script && $0.path == manifest.restoreScript }),
            SHA256Digest.hex(of: script) == record.sha256
        else { return ([], "its restore script \(manifest.restoreScript) does not match its manifest") }
        return (
            [
                (Manifest.fileName, SHA256Digest.hex(of: bytes)),
                (Manifest.checksumListFileName, SHA256Digest.hex(of: sums)),
                (manifest.restoreScript, record.sha256),
            ], nil
        )
    }
}

extension RunbookJob {
    /// Keeps the current runbook where it is needed on the day the machine is gone: writes the
    /// Markdown runbook of the newest complete set (or, when it has no passing drill, of the newest
    /// set that has one, with a warning naming the newer set) to `<reports>/RUNBOOK.md` (atomically, 0600) and,
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
            var runbook = try build(config: config, id: nil, authenticator: authenticator, now: now)
            // The day the machine is gone, the kept runbook must lead to a set that restores: when
            // the newest has no passing drill, it is the newest set that has one.
            if runbook.newestPass == nil, let proven = runbook.newestProvenOther {
                var older = try build(config: config, id: proven.description, authenticator: authenticator, now: now)
                older.newerUnproven = runbook.manifest.id
                runbook = older
            }
            text = runbook.markdown()
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
