import Destination
import DrillCore
import Foundation
import Health
import Vault

/// `restore-drill offsite check [ID | --all] [--download] [--remote NAME]`: the copy of each set
/// on one off-site rclone remote, checked against the manifest the LOCAL destination trusts.
///
/// **Against what.** A set the local destination holds is checked against its local manifest,
/// judged as `export` and `offsite push` judge it (decodes, names the set, self-checksum, and with
/// a vault password configured its HMAC). The remote's `manifest.json` must be byte for byte the
/// local one. A set only the remote holds (`--all` after a local prune) is checked against its own
/// remote manifest, which must then pass the same judgement (finding `no_local_copy`, which does
/// not fail it; with a vault password configured an unauthenticated remote manifest fails it).
///
/// **Present and complete.** Every file of the set folder (`manifest.json`, `SHA256SUMS`, the
/// restore script; format 1: every artifact) and every object the manifest lists is on the remote
/// with its recorded size. A set folder without `manifest.json` is not complete on the remote (a
/// push cut off, or the manifest removed). `manifest.json` and `SHA256SUMS` are read back whole and
/// compared byte for byte (they are small). One `rclone lsjson --recursive` of `objects/` per run,
/// whatever the number of sets.
///
/// **Hashes** (``method``). A remote hash proves that the upload arrived intact; it does not prove
/// that the remote serves those bytes back (a drill of the off-site copy always checks SHA-256):
/// - a backend that gives one of the hashes the manifest records (``hashPreference``: `sha256`,
///   which every manifest records; `md5` and `quickxorhash`, optional manifest fields): the
///   listing's values compared with the manifest's (`hash:sha256`, `hash:md5`, `hash:quickxor`);
/// - a `crypt` remote: `rclone cryptcheck` of the LOCAL files against the remote (it encrypts each
///   local file with the remote's nonce and compares the hash of that with the underlying
///   backend's). Because it reads the local files, each is first hashed and compared with the
///   manifest (objects by their name): a damaged local file is a `local_damaged` finding and that
///   file stays unverified, so a local fault is never blamed on the remote (`cryptcheck`). Over a
///   backend without hashes (`does not support any hashes`), sizes only;
/// - no usable hash: sizes only, status `unverified`;
/// - `--download` (``download``): every byte of the set is read back into a private temporary
///   folder and its SHA-256 compared with the manifest (`download`), whatever the backend offers.
///
/// **Findings** name the file, relative to the remote root: `not_on_remote`, `manifest_missing`,
/// `manifest_differs`, `manifest_untrusted`, `missing`, `wrong_size`, `wrong_hash`, `unreadable`
/// fail the set; `local_damaged`, `no_local_copy`, `stray` do not; `conflict_copy` (a sync client's
/// copy, named by the rules of `SyncConflicts.match`, the same as in a local synced destination:
/// `name (2).ext`, `name-HOST.ext`, Dropbox's `name (… conflicted copy …).ext`,
/// `name.sync-conflict-…`, iCloud's `name 2.ext`) fails the set only when it shadows
/// one of its files that was not proven by content (size only): then which version is the real one
/// cannot be told. Stray files and conflict copies are looked for at the remote root, in
/// `objects/`, and in the folders of the sets checked (not in other sets' folders); `.restore-drill/`
/// is the tool's own (locks, events) and never a finding.
///
/// **Status** per set: `fail` when a failing finding, else `unverified` when any file was checked
/// by size only, else `pass`. Each set checked gives one `offsite_check` event in the LOCAL history
/// (details: remote, method, findings as a comma list of codes). A remote that cannot be reached
/// throws (no event).
///
/// Nothing is written to the remote; an interrupted check leaves at most its temporary folder
/// (`restore-drill-offsite-check-<uuid>` in the system's temporary folder).
public struct OffsiteCheckJob: Sendable {
    public let config: RestoreDrillConfig
    /// The remote checked.
    public let remote: RestoreDrillConfig.OffsiteRemote
    /// The runner of the real rclone.
    public var rclone: Rclone
    /// With a vault password configured: each manifest checked against must be authenticated.
    public var authenticator: SetAuthenticator?
    public var clock: any WallClock = (try? SystemClock()) ?? FixedClock(Date())
    /// Read every byte back and check its SHA-256 (`--download`).
    public var download = false
    /// The remote hashes tried, in order; the first the backend offers is listed. rclone's names.
    package var hashPreference = ["sha256", "md5", "quickxor"]
    /// Bytes downloaded per batch before they are hashed and removed (`--download`). Bytes.
    package var downloadBatchBytes: Int64 = 512 << 20
    /// Where the `--download` batches go (a private folder is made inside); the system's temporary
    /// folder when nil.
    public var temporaryFolder: String?
    /// Progress lines (stderr in the command).
    public var progress: (@Sendable (String) -> Void)?

    /// - Parameters: as the properties.
    public init(config: RestoreDrillConfig, remote: RestoreDrillConfig.OffsiteRemote, rclone: Rclone) {
        self.config = config
        self.remote = remote
        self.rclone = rclone
    }

    /// Which sets to check.
    public enum Selection: Sendable, Equatable {
        /// The newest complete set the local destination trusts (the default).
        case newest
        /// One set by its backup id.
        case id(String)
        /// Every set folder on the remote (`--all`).
        case all
    }

    /// The rclone remote of ``remote`` with its bandwidth limit.
    public var rcloneRemote: RcloneRemote {
        RcloneRemote(rclone: rclone, root: remote.rclone, bandwidthLimit: remote.bandwidthLimit)
    }

    /// Checks the selected sets on the remote.
    /// - Returns: the remote's report: one ``OffsiteSetCheck`` per set, and the findings that
    ///   belong to no set checked.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the remote cannot be reached or
    ///   listed (exit 3); ``RestoreDrillError/setNotFound(_:)`` when the set asked for is neither
    ///   local nor on the remote, or no local set is complete; `lockHeld` while a prune runs.
    public func run(_ selection: Selection) throws -> OffsiteCheckReport {
        let started = Date()
        let features = try rcloneRemote.features()
        let top = try rcloneRemote.list("")
        let local = LocalDestination(path: config.destination)
        let lock = try local.lock(.shared)
        defer { lock?.release() }
        let catalogue = SetCatalogue(local, authenticator: authenticator)
        let localSets = try catalogue.sets().filter { $0.rejection == nil }
        let localIDs = Set(localSets.map(\.id))
        let remoteIDs = top.filter(\.isDir).compactMap { BackupID($0.path) }

        var ids: [BackupID]
        switch selection {
        case .newest:
            guard let newest = try catalogue.latestComplete() else {
                throw RestoreDrillError.setNotFound("latest (no complete set in \(config.destination))")
            }
            ids = [newest.id]
        case .id(let text):
            guard let id = BackupID(text), localIDs.contains(id) || remoteIDs.contains(id) else {
                throw RestoreDrillError.setNotFound("\(text) (neither in \(config.destination) nor on \(remote.name))")
            }
            ids = [id]
        case .all:
            ids = remoteIDs.sorted()
        }

        let hashType = features.isCrypt ? nil : hashPreference.first { features.hashes.contains($0) }
        progress?("\(remote.name): listing objects/")
        let objects = try listFiles("objects", hashType: hashType)
        let tree = try listFiles("", hashType: nil, excluding: ["/objects/**", "/.restore-drill/**"])

        var report = OffsiteCheckReport(
            remote: remote.name, root: remote.rclone, backendType: features.type, hashes: features.hashes,
            sets: [], findings: [], seconds: 0)
        var claimedObjectCopies = Set<String>()
        for id in ids {
            progress?("\(remote.name): checking \(id)")
            var result = try check(
                id: id, isLocal: localIDs.contains(id), hashType: hashType, isCrypt: features.isCrypt,
                objects: objects, tree: tree)
            claimedObjectCopies.formUnion(result.claimedObjectCopies)
            result.check.seconds = Date().timeIntervalSince(result.started)
            record(result.check, id: id)
            report.sets.append(result.check)
        }
        report.findings = strays(
            top: top, objects: objects, checked: Set(ids), claimed: claimedObjectCopies)
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Checks the selected sets on every configured remote (or the one named `only`), one after
    /// the other. A remote that cannot be reached gives a report with ``OffsiteCheckReport/error``
    /// (the others are still checked).
    /// - Parameters:
    ///   - rclone: the runner; nil when rclone is not installed (every remote is then unreachable,
    ///     saying so).
    ///   - download: read every byte back (``download``).
    /// - Returns: one report per remote, in configuration order.
    /// - Throws: ``RestoreDrillError/setNotFound(_:)``, `invalidSet` (a local set that cannot be
    ///   trusted), `lockHeld`: what no other remote would change.
    public static func checkEveryRemote(
        config: RestoreDrillConfig, selection: Selection, rclone: Rclone?, authenticator: SetAuthenticator?,
        clock: any WallClock, only: String? = nil, download: Bool = false,
        progress: (@Sendable (String) -> Void)? = nil
    ) throws -> [OffsiteCheckReport] {
        var reports: [OffsiteCheckReport] = []
        for remote in config.offsite where only == nil || remote.name == only {
            let unreachable = { (why: String) in
                OffsiteCheckReport(
                    remote: remote.name, root: remote.rclone, backendType: nil, hashes: [], sets: [], findings: [],
                    seconds: 0, error: why)
            }
            guard let rclone else {
                reports.append(unreachable("rclone is not installed (apt-get install rclone, or brew install rclone)"))
                continue
            }
            var job = OffsiteCheckJob(config: config, remote: remote, rclone: rclone)
            job.authenticator = authenticator
            job.clock = clock
            job.download = download
            job.progress = progress
            do {
                reports.append(try job.run(selection))
            } catch let error as RestoreDrillError {
                guard case .io = error else { throw error }
                reports.append(unreachable(describe(error)))
            }
        }
        return reports
    }

    /// The exit status of a whole check: 3 (runtime) when a remote could not be reached, else 1
    /// (findings) when a set failed or is unverified, else 0.
    public static func exitStatus(_ reports: [OffsiteCheckReport]) -> ExitStatus {
        if reports.contains(where: { $0.error != nil }) { return .runtime }
        if reports.contains(where: { $0.sets.contains { $0.status != .pass } }) { return .findings }
        return .success
    }

    // MARK: - One set

    struct Item {
        /// Relative to the remote root.
        var path: String
        var size: Int64
        var sha256: String
        var md5: String?
        var quickXor: String?
        /// For an object: its reference (local verification before cryptcheck).
        var ref: ObjectRef?
        /// The local file beside it (a set folder file), for cryptcheck.
        var localPath: String?

        func recorded(_ hash: String) -> String? {
            switch hash {
            case "sha256": sha256
            case "md5": md5?.lowercased()
            case "quickxor": quickXor.flatMap(OffsiteCheckJob.quickXorHex)
            default: nil
            }
        }
    }

    struct SetOutcome {
        var check: OffsiteSetCheck
        var started: Date
        var claimedObjectCopies: Set<String>
    }

    func check(
        id: BackupID, isLocal: Bool, hashType: String?, isCrypt: Bool, objects: [String: RemoteEntry],
        tree: [String: RemoteEntry]
    ) throws -> SetOutcome {
        let started = Date()
        let folder = id.description
        var check = OffsiteSetCheck(
            remote: remote.name, id: folder, status: .pass, method: "size", findings: [], files: 0, bytes: 0,
            seconds: 0)
        var claimed = Set<String>()
        func finding(_ code: OffsiteFinding.Code, _ path: String, _ message: String, fails: Bool? = nil) {
            check.findings.append(OffsiteFinding(code: code, path: path, message: message, fails: fails))
        }
        let remoteManifestPath = "\(folder)/\(Manifest.fileName)"
        let folderEntries = tree.filter { $0.key.hasPrefix(folder + "/") }
        let manifestThere = tree[remoteManifestPath]

        // The manifest checked against.
        var manifest: Manifest
        var manifestBytes: Data
        if isLocal {
            let opened = try LocalDestination(path: config.destination).openSet(id: id)
            defer { opened.close() }
            let source = try BeneathRoot(opened.folder)
            (manifest, manifestBytes) = try ExportJob(config: config).trustedManifest(
                in: source, folder: opened.folder, id: id, refusal: "not checked")
            if let authenticator, authenticator.isActive {
                guard case .verified = authenticator.authenticate(manifest) else {
                    throw RestoreDrillError.invalidSet(
                        path: opened.folder.pathString,
                        message: "not checked: the local manifest is not authenticated")
                }
            }
        } else {
            guard manifestThere != nil, let bytes = try? rcloneRemote.cat(remoteManifestPath) else {
                finding(.manifestMissing, remoteManifestPath, "missing: the set is not complete on the remote")
                check.status = .fail
                return SetOutcome(check: check, started: started, claimedObjectCopies: [])
            }
            guard let decoded = try? Manifest.decode(bytes, path: rcloneRemote.path(remoteManifestPath)),
                decoded.id == id, (try? decoded.verifySelfChecksum()) == true
            else {
                finding(
                    .manifestUntrusted, remoteManifestPath, "does not decode, name the set or match its self-checksum")
                check.status = .fail
                return SetOutcome(check: check, started: started, claimedObjectCopies: [])
            }
            if let authenticator, authenticator.isActive {
                guard case .verified = authenticator.authenticate(decoded) else {
                    finding(.manifestUntrusted, remoteManifestPath, "is not authenticated by the vault password")
                    check.status = .fail
                    return SetOutcome(check: check, started: started, claimedObjectCopies: [])
                }
            }
            (manifest, manifestBytes) = (decoded, bytes)
            finding(
                .noLocalCopy, remoteManifestPath,
                "no local copy of the set: checked against the remote's own manifest", fails: false)
        }

        if folderEntries.isEmpty {
            finding(.notOnRemote, folder, "the set is not on the remote")
            check.status = .fail
            return SetOutcome(check: check, started: started, claimedObjectCopies: [])
        }

        // manifest.json and SHA256SUMS: read back whole.
        if manifestThere == nil {
            finding(.manifestMissing, remoteManifestPath, "missing: the set is not complete on the remote")
        } else if isLocal {
            do {
                let there = try rcloneRemote.cat(remoteManifestPath)
                if there != manifestBytes {
                    finding(.manifestDiffers, remoteManifestPath, "is not byte for byte the local manifest")
                }
            } catch {
                finding(.unreadable, remoteManifestPath, "cannot be read back: \(Self.describe(error))")
            }
        }
        let sumsPath = "\(folder)/\(Manifest.checksumListFileName)"
        if tree[sumsPath] == nil {
            finding(.missing, sumsPath, "missing")
        } else {
            do {
                if try rcloneRemote.cat(sumsPath) != manifest.renderedChecksumList() {
                    finding(.wrongHash, sumsPath, "differs from what the manifest lists")
                }
            } catch {
                finding(.unreadable, sumsPath, "cannot be read back: \(Self.describe(error))")
            }
        }
        check.files = 2
        check.bytes = Int64(manifestBytes.count) + Int64(manifest.renderedChecksumList().count)

        // The rest: the set folder's artifacts and the objects, by size, then by content.
        let extras = Self.recordedHashes(manifestBytes)
        var items: [Item] = []
        var seenObjects = Set<String>()
        for artifact in manifest.artifacts {
            let hashes = extras[artifact.path]
            if let digest = manifest.objectDigest(of: artifact) {
                let path = "objects/\(digest.fanOut)/\(digest.hex)"
                guard seenObjects.insert(path).inserted else { continue }
                items.append(
                    Item(
                        path: path, size: artifact.size, sha256: artifact.sha256, md5: hashes?.md5,
                        quickXor: hashes?.quickxorhash, ref: ObjectRef(digest: digest, size: artifact.size)))
            } else if !manifest.isObject(artifact) {
                items.append(
                    Item(
                        path: "\(folder)/\(artifact.path)", size: artifact.size, sha256: artifact.sha256,
                        md5: hashes?.md5, quickXor: hashes?.quickxorhash,
                        localPath: isLocal ? "\(config.destination)/\(folder)/\(artifact.path)" : nil))
            } else {
                finding(
                    .manifestUntrusted, artifact.path, "records sha256 \"\(artifact.sha256)\", which names no object")
            }
        }
        var present: [Item] = []
        for item in items {
            let entry = item.path.hasPrefix("objects/") ? objects[String(item.path.dropFirst(8))] : tree[item.path]
            guard let entry else {
                finding(.missing, item.path, "missing")
                continue
            }
            guard entry.size == item.size else {
                finding(.wrongSize, item.path, "\(entry.size) bytes, the manifest says \(item.size)")
                continue
            }
            present.append(item)
        }
        check.files += items.count
        check.bytes += items.reduce(0) { $0 + $1.size }

        // By content.
        var unproven: [Item] = []
        if download {
            check.method = "download"
            unproven = try readBack(present, finding: finding)
        } else if isCrypt {
            check.method = "cryptcheck"
            unproven = try cryptcheck(present, finding: finding)
            if unproven.count == present.count && !present.isEmpty
                && check.findings.allSatisfy({ $0.code != .localDamaged })
            {
                check.method = "size"
            }
        } else if let hashType {
            check.method = "hash:\(hashType)"
            // The set folder's files: one hashed listing of the folder (objects: the run's listing).
            let folderHashes =
                present.contains { $0.ref == nil } ? try listFiles(folder, hashType: hashType) : [:]
            for item in present {
                let entry =
                    item.ref != nil
                    ? objects[String(item.path.dropFirst(8))]
                    : folderHashes[String(item.path.dropFirst(folder.count + 1))]
                let value = entry?.hashes[hashType]
                guard let recorded = item.recorded(hashType), let value, !value.isEmpty else {
                    unproven.append(item)
                    continue
                }
                if value.lowercased() != recorded {
                    finding(.wrongHash, item.path, "\(hashType) \(value.lowercased()), the manifest says \(recorded)")
                }
            }
            if unproven.count == present.count && !present.isEmpty { check.method = "size" }
        } else {
            unproven = present
        }
        let unprovenPaths = Set(unproven.map(\.path))

        // Conflict copies and strays in the set folder; conflict copies of its objects.
        var expectedFiles: Set<String> = [Manifest.fileName, Manifest.checksumListFileName, manifest.restoreScript]
        for artifact in manifest.artifacts where !manifest.isObject(artifact) { expectedFiles.insert(artifact.path) }
        var expectedFolders = Set<String>()
        for path in expectedFiles {
            var parts = path.split(separator: "/").dropLast()
            while !parts.isEmpty {
                expectedFolders.insert(parts.joined(separator: "/"))
                parts = parts.dropLast()
            }
        }
        let missingOrWrong = Set(check.findings.filter { $0.fails ?? true }.map(\.path))
        for (path, entry) in folderEntries.sorted(by: { $0.key < $1.key }) {
            let inner = String(path.dropFirst(folder.count + 1))
            if entry.isDir ? expectedFolders.contains(inner) : expectedFiles.contains(inner) { continue }
            if entry.isDir, expectedFolders.contains(where: { $0.hasPrefix(inner + "/") }) { continue }
            let parent = inner.contains("/") ? String(inner[..<inner.lastIndex(of: "/")!]) + "/" : ""
            let name = String(inner.dropFirst(parent.count))
            let siblings = Set(
                (entry.isDir ? expectedFolders : expectedFiles).filter { $0.hasPrefix(parent) }
                    .map { String($0.dropFirst(parent.count)) }.filter { !$0.contains("/") })
            if let original = SyncConflicts.match(name, isExpected: siblings.contains)?.original {
                let originalPath = "\(folder)/\(parent)\(original)"
                let shadows = unprovenPaths.contains(originalPath) || missingOrWrong.contains(originalPath)
                finding(
                    .conflictCopy, path,
                    "a sync client's conflict copy of \(originalPath)"
                        + (shadows ? ", which was not proven by content" : "; the original was proven"),
                    fails: shadows)
            } else {
                finding(.stray, path, "not a file of the set", fails: false)
            }
        }
        let setObjects = Set(items.filter { $0.ref != nil }.map { String($0.path.dropFirst(8)) })
        for (path, _) in objects where !setObjects.contains(path) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let fan = String(parts[0])
            guard
                let original = SyncConflicts.match(
                    String(parts[1]), isExpected: { setObjects.contains("\(fan)/\($0)") })?.original
            else { continue }
            let originalPath = "objects/\(fan)/\(original)"
            let shadows = unprovenPaths.contains(originalPath) || missingOrWrong.contains(originalPath)
            claimed.insert(path)
            finding(
                .conflictCopy, "objects/\(path)",
                "a sync client's conflict copy of the set's object \(originalPath)"
                    + (shadows ? ", which was not proven by content" : "; the original was proven"),
                fails: shadows)
        }

        if check.findings.contains(where: { $0.fails ?? true }) {
            check.status = .fail
        } else if !unproven.isEmpty || check.method == "size" {
            check.status = .unverified
        }
        return SetOutcome(check: check, started: started, claimedObjectCopies: claimed)
    }

    /// `--download`: reads `items` back in batches, each hashed (SHA-256) and removed.
    /// - Returns: the items not proven (none: every item is either proven or a finding).
    func readBack(
        _ items: [Item], finding: (OffsiteFinding.Code, String, String, Bool?) -> Void
    ) throws -> [Item] {
        let base = temporaryFolder ?? FileManager.default.temporaryDirectory.path
        let work = "\(base)/restore-drill-offsite-check-\(UUID().uuidString)"
        try FileManager.default.createDirectory(
            atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: work) }
        var batches: [[Item]] = [[]]
        var bytes: Int64 = 0
        for item in items {
            if bytes + item.size > downloadBatchBytes && !batches[batches.count - 1].isEmpty {
                batches.append([])
                bytes = 0
            }
            batches[batches.count - 1].append(item)
            bytes += item.size
        }
        for (n, batch) in batches.enumerated() where !batch.isEmpty {
            progress?("\(remote.name): reading back batch \(n + 1) of \(batches.count)")
            let into = "\(work)/\(n)"
            do {
                try rcloneRemote.download(files: batch.map(\.path), from: "", into: into)
            } catch {
                // One by one, to name the file that cannot be read.
                for item in batch where !FileManager.default.fileExists(atPath: "\(into)/\(item.path)") {
                    do {
                        try rcloneRemote.downloadFile(item.path, to: "\(into)/\(item.path)")
                    } catch {
                        finding(.unreadable, item.path, "cannot be read back: \(Self.describe(error))", nil)
                    }
                }
            }
            for item in batch {
                let file = "\(into)/\(item.path)"
                guard FileManager.default.fileExists(atPath: file) else { continue }
                let (sha, size) = try SHA256Digest.file(at: file)
                if size != item.size || sha != item.sha256 {
                    finding(
                        .wrongHash, item.path,
                        "read back: sha256 \(sha) (\(size) bytes), the manifest says \(item.sha256)", nil)
                }
            }
            try? FileManager.default.removeItem(atPath: into)
        }
        return []
    }

    /// A `crypt` remote: the local copy of each item is hashed first (a damaged local file is not
    /// compared), then `rclone cryptcheck --one-way` compares the rest.
    /// - Returns: the items not proven.
    func cryptcheck(
        _ items: [Item], finding: (OffsiteFinding.Code, String, String, Bool?) -> Void
    ) throws -> [Item] {
        guard !items.isEmpty else { return [] }
        let store = ObjectStore(destination: try AbsolutePath(validating: config.destination))
        var compared: [Item] = []
        var unproven: [Item] = []
        for item in items {
            if let ref = item.ref {
                let state = store.verify(ref)
                if state == .ok {
                    compared.append(item)
                } else {
                    finding(
                        .localDamaged, item.path,
                        "the local copy is not intact (\(state)), so it was not compared: run restore-drill check",
                        false)
                    unproven.append(item)
                }
            } else if let local = item.localPath, let (sha, _) = try? SHA256Digest.file(at: local), sha == item.sha256 {
                compared.append(item)
            } else {
                if item.localPath != nil {
                    finding(
                        .localDamaged, item.path, "the local copy is missing or not intact, so it was not compared",
                        false)
                }
                unproven.append(item)
            }
        }
        guard !compared.isEmpty else { return unproven }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "restore-drill-cryptcheck-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let list = work.appendingPathComponent("files").path
        let combined = work.appendingPathComponent("combined").path
        try Data(compared.map { $0.path + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: list))
        let outcome = try rclone.run([
            "cryptcheck", config.destination, remote.rclone, "--one-way", "--files-from-raw", list, "--combined",
            combined,
        ])
        if outcome.standardError.contains("does not support any hashes") {
            return unproven + compared
        }
        let lines = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: combined))) ?? Data(), as: UTF8.self)
            .split(separator: "\n")
        guard !lines.isEmpty else {
            throw RestoreDrillError.io(path: remote.rclone, message: "rclone cryptcheck: \(outcome.reason)")
        }
        var marks: [String: Character] = [:]
        for line in lines where line.count > 2 { marks[String(line.dropFirst(2))] = line.first }
        for item in compared {
            switch marks[item.path] {
            case "=": continue
            case "*": finding(.wrongHash, item.path, "cryptcheck: the remote's bytes differ from the local file's", nil)
            case "+": finding(.missing, item.path, "cryptcheck: missing on the remote", nil)
            case "!": finding(.unreadable, item.path, "cryptcheck could not hash it: \(outcome.reason)", nil)
            default: unproven.append(item)
            }
        }
        return unproven
    }

    // MARK: - Strays

    /// Findings at the remote root and in `objects/` that belong to no set checked.
    func strays(
        top: [RemoteEntry], objects: [String: RemoteEntry], checked: Set<BackupID>, claimed: Set<String>
    ) -> [OffsiteFinding] {
        var findings: [OffsiteFinding] = []
        let isTopFolder = { (name: String) in
            name == Manifest.objectsFolderName || name == ".restore-drill" || BackupID(name) != nil
        }
        // The runbook the schedule keeps beside the sets (issue 19) is the tool's own file.
        let isTopExpected = { (name: String) in isTopFolder(name) || name == RunbookJob.fileName }
        let isOurs = { (entry: RemoteEntry) in
            entry.isDir ? isTopFolder(entry.path) : entry.path == RunbookJob.fileName
        }
        for entry in top.sorted(by: { $0.path < $1.path }) where !isOurs(entry) {
            if let original = SyncConflicts.match(entry.path, isExpected: isTopExpected)?.original {
                findings.append(
                    OffsiteFinding(
                        code: .conflictCopy, path: entry.path,
                        message: "a sync client's conflict copy of \(original)", fails: false))
            } else {
                findings.append(
                    OffsiteFinding(
                        code: .stray, path: entry.path, message: "not written by restore-drill", fails: false))
            }
        }
        for (path, _) in objects.sorted(by: { $0.key < $1.key }) where !claimed.contains(path) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let fan = parts.first ?? ""
            let isObjectName = { (name: String) in ObjectDigest(name)?.fanOut == fan }
            if parts.count == 2, isObjectName(parts[1]) { continue }
            if parts.count == 2, let original = SyncConflicts.match(parts[1], isExpected: isObjectName)?.original {
                findings.append(
                    OffsiteFinding(
                        code: .conflictCopy, path: "objects/\(path)",
                        message: "a sync client's conflict copy of objects/\(fan)/\(original)", fails: false))
            } else {
                findings.append(
                    OffsiteFinding(
                        code: .stray, path: "objects/\(path)", message: "not an object name", fails: false))
            }
        }
        return findings
    }

    // MARK: - Helpers

    /// Files (not folders) under `sub`, by path relative to `sub`: one `rclone lsjson --recursive
    /// --files-only`, with hash `hashType` when given.
    func listFiles(_ sub: String, hashType: String?, excluding: [String] = []) throws -> [String: RemoteEntry] {
        let entries = try rcloneRemote.list(
            sub, recursive: true, hashType: hashType, filesOnly: true, excluding: excluding)
        var byPath: [String: RemoteEntry] = [:]
        for entry in entries { byPath[entry.path] = entry }
        return byPath
    }

    /// The optional per-artifact `md5` and `quickxorhash` of a manifest, by artifact path (read
    /// from the bytes, so a manifest written before the fields existed simply has none).
    static func recordedHashes(_ manifestBytes: Data) -> [String: (md5: String?, quickxorhash: String?)] {
        struct Body: Decodable {
            struct Artifact: Decodable {
                var path: String
                var md5: String?
                var quickxorhash: String?
            }
            var artifacts: [Artifact]
        }
        guard let body = try? JSONDecoder().decode(Body.self, from: manifestBytes) else { return [:] }
        var out: [String: (md5: String?, quickxorhash: String?)] = [:]
        for artifact in body.artifacts { out[artifact.path] = (artifact.md5, artifact.quickxorhash) }
        return out
    }

    /// A QuickXorHash as rclone lists it (40 lowercase hex characters) from the manifest's form:
    /// base64 of the 20 bytes (28 characters, as OneDrive gives it) or hex already.
    static func quickXorHex(_ text: String) -> String? {
        if text.count == 40, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
        guard let bytes = Data(base64Encoded: text), bytes.count == 20 else { return nil }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? RestoreDrillError, case .io(let path, let message) = error {
            return "\(path): \(message)"
        }
        return "\(error)"
    }

    private func record(_ check: OffsiteSetCheck, id: BackupID) {
        var details = ["remote": remote.name, "method": check.method]
        let codes = check.findings.map(\.code.rawValue).reduce(into: [String]()) {
            if !$0.contains($1) { $0.append($1) }
        }
        if !codes.isEmpty { details["findings"] = codes.joined(separator: ",") }
        let status: HistoryEventStatus =
            switch check.status {
            case .pass: .pass
            case .unverified: .unverified
            case .fail: .fail
            }
        _ = try? HistoryStore(destination: config.destination).append(
            HistoryEvent(kind: .offsiteCheck, time: clock.now(), status: status, backupID: id, details: details))
    }
}
