import Destination
import DrillCore
import Foundation
import Health
import Vault

/// Pushes sets of the local destination to one off-site rclone remote (`backup` after it seals a
/// set, and `restore-drill offsite push [ID | --all]`).
///
/// **Order** (docs/OFFSITE.md, "Push"): the set's objects first, then the set folder's files but
/// `manifest.json`, and `manifest.json` last. A set whose push was cut off has no manifest on the
/// remote, so no listing there takes it for a set; the next push sends what is missing.
///
/// **Resumable**: one listing of the remote's `objects/` says what is there; an object already
/// there with its recorded size is not sent again (its name is its SHA-256; `offsite check`
/// hashes what the remote holds). Files are sent with rclone's `--checksum`, so a file of the set
/// folder already there with the same size and hash is skipped too.
///
/// **Trust**: only a set whose local manifest decodes, names the set, matches its self-checksum
/// (and, with a vault password configured, is authenticated) is pushed, and every object about to
/// be sent is first read and hashed: a damaged local object is never pushed over a good remote
/// one.
///
/// **Encryption**: a remote whose rclone type is not `crypt` is refused unless the configuration
/// says `encrypted: false` for it.
///
/// **Retries**: each failed attempt is written to the history (kind `push`, status `retry`) and
/// tried again after `backoff` seconds, doubling, up to `attempts` attempts in all.
public struct OffsitePushJob: Sendable {
    public let config: RestoreDrillConfig
    /// The remote pushed to.
    public let remote: RestoreDrillConfig.OffsiteRemote
    /// The runner of the real rclone.
    public var rclone: Rclone
    /// With a vault password configured: each set pushed must be authenticated.
    public var authenticator: SetAuthenticator?
    public var clock: any WallClock = (try? SystemClock()) ?? FixedClock(Date())
    /// Attempts per set, the first included.
    public var attempts = 3
    /// Seconds before the second attempt; doubled before each later one.
    public var backoff: Double = 10
    /// Progress lines (stderr in the command).
    public var progress: (@Sendable (String) -> Void)?

    /// - Parameters: as the properties.
    public init(config: RestoreDrillConfig, remote: RestoreDrillConfig.OffsiteRemote, rclone: Rclone) {
        self.config = config
        self.remote = remote
        self.rclone = rclone
    }

    /// What one set's push did (`--json`: one element of `pushes`).
    public struct Outcome: Codable, Sendable, Equatable {
        /// The remote's configured name.
        public var remote: String
        /// The set's id.
        public var id: String
        /// `pushed`, `already_there` (the remote had the set complete) or `failed`.
        public var status: String
        /// Objects sent, and objects found there already with their size.
        public var objectsSent: Int
        public var objectsPresent: Int
        /// Bytes of the objects and files sent. Bytes.
        public var bytesSent: Int64
        /// Attempts made (1 when the first succeeded).
        public var attempts: Int
        /// Wall-clock seconds of the whole push, retries and pauses included.
        public var seconds: Double
        /// Why it failed (rclone's reason), when it did.
        public var error: String?
        /// Stale locks of the remote taken over on the way (each the history's line for it).
        public var lockTakeovers: [String] = []

        enum CodingKeys: String, CodingKey {
            case remote, id, status, attempts, seconds, error
            case lockTakeovers = "lock_takeovers"
            case objectsSent = "objects_sent"
            case objectsPresent = "objects_present"
            case bytesSent = "bytes_sent"
        }

        /// - Parameters: as the properties.
        public init(
            remote: String, id: String, status: String, objectsSent: Int, objectsPresent: Int, bytesSent: Int64,
            attempts: Int, seconds: Double, error: String?
        ) {
            self.remote = remote
            self.id = id
            self.status = status
            self.objectsSent = objectsSent
            self.objectsPresent = objectsPresent
            self.bytesSent = bytesSent
            self.attempts = attempts
            self.seconds = seconds
            self.error = error
        }

        /// One line a person reads.
        public var text: String {
            switch status {
            case "already_there": return "\(remote): \(id) is on the remote already"
            case "failed":
                return "\(remote): push of \(id) FAILED after \(attempts) attempt(s): \(error ?? "unknown error")"
            default:
                let tries = attempts > 1 ? ", \(attempts) attempts" : ""
                return "\(remote): pushed \(id): \(objectsSent) object(s) sent, \(objectsPresent) there already, "
                    + "\(Units.humanBytes(bytesSent)) in \(String(format: "%.1f", seconds)) s\(tries)"
            }
        }
    }

    /// The rclone remote of ``remote`` with its bandwidth limit.
    public var rcloneRemote: RcloneRemote {
        RcloneRemote(rclone: rclone, root: remote.rclone, bandwidthLimit: remote.bandwidthLimit)
    }

    /// Refuses a remote that does not encrypt at rest unless the configuration says
    /// `encrypted: false` for it.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` naming the remote and why; `io` when rclone
    ///   cannot reach it.
    public func checkEncryption() throws {
        if remote.encrypted == false { return }
        let features = try rcloneRemote.features()
        if features.isCrypt { return }
        let type = features.type ?? "unknown"
        if remote.encrypted == true {
            throw RestoreDrillError.runtime(
                "off-site remote \"\(remote.name)\" (\(remote.rclone)) is not pushed to: the configuration says "
                    + "`encrypted: true`, but it is of rclone type \(type), and only an rclone crypt remote encrypts "
                    + "what rclone writes. Put a crypt remote over it (rclone config, type crypt) and name that one, "
                    + "or say `encrypted: false` to store the sets in clear on purpose")
        }
        throw RestoreDrillError.runtime(
            "off-site remote \"\(remote.name)\" (\(remote.rclone)) is not pushed to: it is of rclone type \(type), "
                + "which stores the code archive and the databases in clear. Use an rclone crypt remote over it "
                + "(rclone config, type crypt), or set `encrypted: false` for it in the configuration to store "
                + "them in clear on purpose")
    }

    /// Pushes set `id` (a backup id, or `latest`), with retries.
    /// - Returns: the outcome; a push that failed every attempt has status `failed` (not thrown).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)``; `invalidSet` when the local set cannot be
    ///   trusted or an object about to be sent is damaged; `runtime` when the remote is refused.
    public func push(id: String) throws -> Outcome {
        let catalogue = SetCatalogue(LocalDestination(path: config.destination))
        if id == "latest" {
            guard let newest = try catalogue.latestComplete() else {
                throw RestoreDrillError.setNotFound("latest (no complete set in \(config.destination))")
            }
            return try push(set: newest.id)
        }
        return try push(set: catalogue.byID(id).id)
    }

    /// Pushes every complete local set that the remote does not hold complete, oldest first.
    /// - Returns: one outcome per set tried (sets already there are not listed).
    public func pushMissing() throws -> [Outcome] {
        let local = LocalDestination(path: config.destination)
        let sets = try SetCatalogue(local).sets().filter { $0.isComplete && $0.rejection == nil }.map(\.id).sorted()
        let there = try Set(completeRemoteSets())
        var out: [Outcome] = []
        for id in sets where !there.contains(id) {
            out.append(try push(set: id))
        }
        return out
    }

    /// Ids of the set folders on the remote that hold a `manifest.json` (pushed to the end).
    public func completeRemoteSets() throws -> [BackupID] {
        let entries = try rcloneRemote.list("", recursive: false)
        var ids: [BackupID] = []
        for entry in entries where entry.isDir {
            guard let id = BackupID(entry.path) else { continue }
            let files = try rcloneRemote.list(entry.path)
            if files.contains(where: { $0.path == Manifest.fileName && !$0.isDir }) { ids.append(id) }
        }
        return ids
    }

    func push(set id: BackupID) throws -> Outcome {
        let started = Date()
        try checkEncryption()
        let local = LocalDestination(path: config.destination)
        let lock = try local.lock(.shared)
        defer { lock?.release() }
        let opened = try local.openSet(id: id)
        defer { opened.close() }
        var export = ExportJob(config: config)
        export.authenticator = authenticator
        let source = try BeneathRoot(opened.folder)
        let (manifest, _) = try export.trustedManifest(
            in: source, folder: opened.folder, id: id, refusal: "not pushed")
        if let authenticator, authenticator.isActive {
            guard case .verified = authenticator.authenticate(manifest) else {
                throw RestoreDrillError.invalidSet(
                    path: opened.folder.pathString, message: "not pushed: the manifest is not authenticated")
            }
        }
        var outcome = Outcome(
            remote: remote.name, id: id.description, status: "pushed", objectsSent: 0, objectsPresent: 0,
            bytesSent: 0, attempts: 0, seconds: 0, error: nil)
        var pause = backoff
        while true {
            outcome.attempts += 1
            do {
                try attempt(manifest: manifest, folder: opened.folder, local: local, outcome: &outcome)
                break
            } catch let error as RestoreDrillError where Self.isRemoteFailure(error) {
                let reason = Self.describe(error)
                if outcome.attempts >= attempts {
                    outcome.status = "failed"
                    outcome.error = reason
                    break
                }
                progress?("\(remote.name): push of \(id) failed (\(reason)); trying again in \(Int(pause)) s")
                record(status: .retry, id: id, details: ["attempt": "\(outcome.attempts)", "error": reason])
                Thread.sleep(forTimeInterval: pause)
                pause *= 2
            }
        }
        outcome.seconds = Date().timeIntervalSince(started)
        var details = [
            "objects_sent": "\(outcome.objectsSent)", "bytes_sent": "\(outcome.bytesSent)",
            "attempts": "\(outcome.attempts)", "seconds": String(format: "%.3f", outcome.seconds),
        ]
        if let error = outcome.error { details["error"] = error }
        if !outcome.lockTakeovers.isEmpty { details["lock_takeover"] = outcome.lockTakeovers.joined(separator: "; ") }
        record(status: outcome.status == "failed" ? .failed : .ok, id: id, details: details)
        return outcome
    }

    /// One attempt: list the remote's objects, send the missing ones (each hashed locally first),
    /// the set folder's files, then the manifest.
    func attempt(manifest: Manifest, folder: AbsolutePath, local: LocalDestination, outcome: inout Outcome) throws {
        // The remote's lock, shared: a prune of the same remote (exclusive) never runs beside a push.
        let lock = RcloneDestination(remote: rcloneRemote).remoteLock(clock: clock)
        let lease: RemoteLockLease
        do {
            lease = try lock.acquire(mode: .shared, operation: "push")
        } catch let held as RemoteLockHeld {
            throw RestoreDrillError.io(path: held.location, message: "\(held)")
        }
        defer { try? lock.release(lease) }
        outcome.lockTakeovers += lease.takeovers.map(\.description)
        let remoteSet = try rcloneRemote.list(manifest.id.description)
        if let there = remoteSet.first(where: { $0.path == Manifest.fileName }),
            let size = try? FileManager.default.attributesOfItem(
                atPath: folder.appending(component: Manifest.fileName).pathString)[.size] as? Int64,
            there.size == size, outcome.attempts == 1, outcome.objectsSent == 0
        {
            // Complete there already; the objects are checked by `offsite check`.
            if try missingObjects(of: manifest).isEmpty {
                outcome.status = "already_there"
                return
            }
        }
        if manifest.storesObjects {
            let missing = try missingObjects(of: manifest)
            outcome.objectsPresent = manifest.objectRefs().count - missing.count
            let store = ObjectStore(destination: local.folder)
            for (i, ref) in missing.enumerated() {
                let state = store.verify(ref)
                guard state == .ok else {
                    throw RestoreDrillError.invalidSet(
                        path: "objects/\(ref.digest.fanOut)/\(ref.digest.hex)",
                        message: "not pushed: the local object is damaged (\(state)); run restore-drill check")
                }
                if i % 200 == 199 { progress?("\(remote.name): \(i + 1) of \(missing.count) objects checked") }
            }
            progress?(
                "\(remote.name): sending \(missing.count) object(s), "
                    + "\(Units.humanBytes(missing.reduce(0) { $0 + $1.size }))")
            try rcloneRemote.upload(
                localFolder: store.folder.pathString,
                files: missing.map { "\($0.digest.fanOut)/\($0.digest.hex)" }, to: "objects")
            outcome.objectsSent = missing.count
            outcome.bytesSent = missing.reduce(0) { $0 + $1.size }
        }
        var files = [Manifest.checksumListFileName, manifest.restoreScript]
        files += manifest.artifacts.filter { !manifest.isObject($0) }.map(\.path)
        let setFolder = manifest.id.description
        try rcloneRemote.upload(localFolder: folder.pathString, files: files, to: setFolder)
        try rcloneRemote.uploadFile(
            folder.appending(component: Manifest.fileName).pathString, to: "\(setFolder)/\(Manifest.fileName)")
        for file in files + [Manifest.fileName] {
            let size = (try? FileManager.default.attributesOfItem(atPath: folder.pathString + "/" + file)[.size])
            outcome.bytesSent += (size as? Int64) ?? 0
        }
    }

    /// The set's objects the remote lacks or holds with another size.
    func missingObjects(of manifest: Manifest) throws -> [ObjectRef] {
        guard manifest.storesObjects else { return [] }
        let listed = try rcloneRemote.list("objects", recursive: true)
        var sizes: [String: Int64] = [:]
        for entry in listed where !entry.isDir { sizes[entry.path] = entry.size }
        return manifest.objectRefs().filter { sizes["\($0.digest.fanOut)/\($0.digest.hex)"] != $0.size }
    }

    private func record(status: HistoryEventStatus, id: BackupID, details: [String: String]) {
        var all = details
        all["remote"] = remote.name
        _ = try? HistoryStore(destination: config.destination).append(
            HistoryEvent(kind: .push, time: clock.now(), status: status, backupID: id, details: all))
    }

    /// Pushes set `id` to every configured remote, one after the other; a remote that is refused
    /// or unreachable gives a `failed` outcome (and a `push` event), never an error, so the other
    /// remotes are still pushed to (`backup` after it seals a set).
    /// - Parameters:
    ///   - rclone: the runner; nil when rclone is not installed (every push then fails, saying so).
    ///   - only: push to this remote alone (by name); nil for all.
    public static func pushToEveryRemote(
        config: RestoreDrillConfig, id: String, rclone: Rclone?, authenticator: SetAuthenticator?,
        clock: any WallClock, only: String? = nil, progress: (@Sendable (String) -> Void)? = nil
    ) -> [Outcome] {
        var outcomes: [Outcome] = []
        for remote in config.offsite where only == nil || remote.name == only {
            let started = Date()
            do {
                guard let rclone else {
                    throw RestoreDrillError.runtime(
                        "rclone is not installed (off-site remotes need it: apt-get install rclone, or brew install rclone)"
                    )
                }
                var job = OffsitePushJob(config: config, remote: remote, rclone: rclone)
                job.authenticator = authenticator
                job.clock = clock
                job.progress = progress
                outcomes.append(try job.push(id: id))
            } catch {
                let reason = (error as? RestoreDrillError).map(describe) ?? "\(error)"
                let failed = Outcome(
                    remote: remote.name, id: id, status: "failed", objectsSent: 0, objectsPresent: 0, bytesSent: 0,
                    attempts: 1, seconds: Date().timeIntervalSince(started), error: reason)
                _ = try? HistoryStore(destination: config.destination).append(
                    HistoryEvent(
                        kind: .push, time: clock.now(), status: .failed, backupID: BackupID(id),
                        details: ["remote": remote.name, "error": reason]))
                outcomes.append(failed)
            }
        }
        return outcomes
    }

    static func isRemoteFailure(_ error: RestoreDrillError) -> Bool {
        if case .io = error { return true }
        return false
    }

    static func describe(_ error: RestoreDrillError) -> String {
        if case .io(let path, let message) = error { return "\(path): \(message)" }
        return "\(error)"
    }
}
