/// # BackupEngine
///
/// Turns a workspace (a `home` and a project `root`) into a backup set (docs/SET-FORMAT.md,
/// "The tree"): `code.tar.gz`, `databases/…` (online-backup copies, chunked at or over the
/// small limit), `launchagents/*.plist` (XML), `dependencies/*.txt`, `shell/…`, the restore script
/// `restore_<name>.sh`, `SHA256SUMS`, and `manifest.json` (written last).
///
/// Terms: a *component* is one part of the set (``ComponentID``); an *artifact* is one stored file,
/// hashed while it is written; a component that fails makes the set *partial* (the CLI exits 1).
///
/// Interrupted runs: the set is built in `<destination>/.partial-<id>/` and renamed to
/// `<destination>/<id>/` only after its manifest is written, so a crash leaves at most a
/// `.partial-<id>` folder (never something that looks like a set). When the engine itself throws
/// (for example the destination is full) it removes its `.partial-<id>` folder before rethrowing.
///
/// A destination that vanishes mid-run (a drive unmounted lazily: its paths then lead to the empty
/// mount point on the local disk while open files still reach the drive) is never sealed: the
/// destination folder's and the partial folder's device and inode are recorded when the run makes
/// or finds them, every artifact's as it is finished (``WrittenFileLog``), and ``SetSeal`` compares
/// them before the manifest is written, before the rename and after it; any difference stops the
/// run with ``RestoreDrillError/destinationVanished(path:message:)``. Only a folder that is still
/// verifiably the one the run made is removed; anything else is left where it is.
import Destination
import DrillCore
import Foundation
import Vault

/// Builds one backup set from a configuration.
public struct BackupEngine: Sendable {
    public let config: RestoreDrillConfig
    public let clock: any WallClock
    public let runner: any ProcessRunner
    public let progress: (@Sendable (String) -> Void)?
    /// Seconds to wait for a database locked by another process before its copy fails.
    public var busyTimeout: Double = 10
    /// Seconds each dependency tool may run.
    public var dependencyTimeout: Double = 120
    /// Receives bytes done of the bytes to store (source files and databases), with rate and time
    /// left, at most four times a second; nil for none. The executable sets it when stderr is a
    /// terminal.
    public var byteProgress: (@Sendable (ByteProgress) -> Void)?
    /// The vault password; nil resolves `credentials.password` at the start of ``run()`` (a
    /// `command:` source through ``runner``, an `env:` source from this process's environment).
    public var vaultPassword: VaultPasswordState?
    /// PBKDF2 iterations of the vault and the keyed digests (recorded in the manifest).
    public var vaultIterations = Vault.defaultIterations
    /// Runs (and counts) the run's PBKDF2 derivations: the HMAC key and the vault's encryption key.
    public var keyring = VaultKeyring()
    /// Folder where the dependency lists are remembered for reuse while their package folders are
    /// unchanged (``DependencyListCache``); nil runs the tools every time. The job sets the user's
    /// cache folder.
    public var dependencyCache: String?
    /// Folder of format 2's files cache (``ObjectReuseCache``): the user's cache folder, set by the
    /// job; nil keeps none (every pack and chunk is read and compressed again).
    public var objectCache: String?
    /// `--no-cache`: the files cache is not read (and written anew at the end).
    public var ignoreObjectCache = false
    /// Awaited at each ``BackupPhase`` of ``run()`` (a test seam: a test unmounts the destination
    /// at a chosen point); nil for none.
    var phaseHook: (@Sendable (BackupPhase) async -> Void)? = nil
    /// Where the set goes: the engine builds it in the local staging folder this destination
    /// hands out (``Destination/stageSet(startedAt:)``) and publishes it through it
    /// (``Destination/publish(_:)``). Defaults to the ``LocalDestination`` of `config.destination`.
    public var destination: any Destination

    /// - Parameters:
    ///   - config: the resolved configuration (absolute paths).
    ///   - clock: the source of the set's id and times.
    ///   - runner: starts the dependency tools (`pip3 freeze`, `brew list --versions`).
    ///   - progress: receives one-line progress messages (e.g. `databases: 12/41 store_12.db`) for stderr.
    public init(
        config: RestoreDrillConfig, clock: any WallClock, runner: any ProcessRunner,
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.config = config
        self.clock = clock
        self.runner = runner
        self.progress = progress
        destination = LocalDestination(path: config.destination)
    }

    /// Builds one set in `<destination>/.partial-<id>/` and renames it to `<destination>/<id>/`.
    ///
    /// Problems with the workspace (an unreadable file, a locked database, a broken plist, a failing
    /// tool) do not throw: they fail their component and the set is `partial`
    /// (`manifest.status`).
    /// - Returns: the set's path, its manifest and the warnings recorded in it.
    /// - Throws: ``RestoreDrillError/destinationFull(path:freeBytes:)`` when the destination's
    ///   file system is full, whichever step was writing (naming the path and the free bytes);
    ///   ``RestoreDrillError/io(path:message:)`` when the destination cannot be written,
    ///   ``RestoreDrillError/destinationVanished(path:message:)`` when the destination, the partial
    ///   folder or an artifact is no longer what the run wrote (a drive unmounted mid-run; nothing
    ///   is sealed), ``RestoreDrillError/runtime(_:)`` when root is missing or a library fails to
    ///   start.
    public func run() async throws -> BackupOutcome {
        let say: @Sendable (String) -> Void = progress ?? { _ in }
        // The configured folders, typed here, where they are used (a loaded configuration already
        // holds them absolute).
        let rootPath = try Self.standardized(config.root)
        let homePath = try Self.standardized(config.home)
        let root = rootPath.pathString
        let home = homePath.pathString
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw RestoreDrillError.runtime("root \(root) is not a folder")
        }
        // The destination itself may be made, but not its parent (``Destination/prepareForWriting()``).
        let store = self.destination
        let destinationPath = try store.prepareForWriting()
        let destination = destinationPath.pathString
        // What the destination is now: an unmount later makes the path lead to another folder.
        guard let destinationIdentity = FileIdentity.following(path: destination) else {
            throw RestoreDrillError.io(path: destination, message: "cannot be read after it was created")
        }
        await phaseHook?(.destinationRecorded)
        let started = clock.now()
        let staged = try store.stageSet(startedAt: started)
        let id = staged.id
        let partial = staged.folder.pathString
        let final = staged.final.pathString
        var renamed = false
        // Right after mkdir: a folder another process swapped in between is caught as "another folder".
        guard let partialIdentity = FileIdentity.of(path: partial) else {
            throw RestoreDrillError.destinationVanished(
                path: destination, message: "\(partial): missing right after it was made")
        }
        let seal = SetSeal(
            destination: destination, destinationIdentity: destinationIdentity, partial: partial,
            partialIdentity: partialIdentity, written: WrittenFileLog())
        say("backup: building \(id) in \(partial)")
        do {
            var manifest = Manifest(
                id: id, name: config.name, startedAt: started, timeZone: TimeZone.current.identifier,
                host: ToolInfo.hostName, home: home, root: root)
            manifest.formatVersion = config.setFormat
            // Issue 17: every new format-2 set's script restores a subset (--only).
            if manifest.storesObjects { manifest.scriptTakesOnly = true }
            // The racy window is measured on the real clock (file times are real; the set's clock
            // may be injected).
            let reuse =
                manifest.storesObjects
                ? ObjectReuseCache(
                    folder: objectCache, destination: destination, start: Date(), ignoring: ignoreObjectCache)
                : nil
            let keys = try await build(
                into: &manifest, partial: partial, root: rootPath, home: homePath, destination: destinationPath,
                seal: seal, reuse: reuse, say: say)
            manifest.finishedAt = Timestamp.string(clock.now())
            manifest.status = manifest.components.contains { $0.status == .failed } ? .partial : .complete
            // The keyed checksum covers every other field: set it last.
            if let keys { try manifest.applyHMAC(key: keys.hmacKey, salt: keys.hmacSalt) }
            await phaseHook?(.beforeManifest)
            // Private to the user, as restic and borg make theirs (a chmod keeps size and inode).
            SetPermissions.makePrivate(partial, script: manifest.restoreScript)
            try seal.verify(folder: partial, manifest: manifest, stage: "before the manifest was written")
            try await Self.sealObjects(of: manifest, destination: destinationPath, vouched: reuse?.vouched ?? [])
            // Every artifact is on disk before the manifest says the set exists, and the rename
            // is on disk before the history says so (see Durability).
            try await Durability.syncTree(partial)
            try AtomicFile.write(
                try manifest.encodedForDisk(), to: "\(partial)/\(Manifest.fileName)", mode: SetPermissions.file)
            await phaseHook?(.beforeRename)
            try seal.verify(folder: partial, manifest: manifest, stage: "before the rename")
            do {
                try store.publish(staged)
            } catch {
                // The one step may be done when what follows it (the sync) failed.
                renamed = FileIdentity.of(path: partial) == nil && FileIdentity.of(path: final) != nil
                throw error
            }
            renamed = true
            reuse?.save(store: ObjectStore(destination: destinationPath))
            await phaseHook?(.afterRename)
            try seal.verify(folder: final, manifest: manifest, stage: "while the set was renamed into place")
            say("backup: \(manifest.status.rawValue) set \(final)")
            return BackupOutcome(setPath: final, manifest: manifest, warnings: manifest.warnings)
        } catch {
            // A full file system is one error, whichever step hit it (``DestinationFull``).
            let error = DestinationFull.classify(error, destination: destination)
            throw Self.cleanUp(after: error, seal: seal, folder: renamed ? final : partial, renamed: renamed)
        }
    }

    /// Format 2, before the manifest is written: every object the manifest lists is a regular file
    /// of its recorded size in the destination's `objects/` (one `fstatat` each, nothing read: each
    /// was checked or written in this run), and each object and the folders naming them are on disk.
    /// - Throws: ``RestoreDrillError/destinationVanished(path:message:)`` naming the objects that
    ///   are not there (an unmounted drive, a sync client that took them away), or an I/O error.
    /// - Parameter vouched: objects the files cache vouched for (made durable by the set that
    ///   recorded them): not `fsync`ed again.
    static func sealObjects(
        of manifest: Manifest, destination: AbsolutePath, vouched: Set<ObjectDigest> = []
    ) async throws {
        guard manifest.storesObjects else { return }
        let store = ObjectStore(destination: destination)
        let refs = manifest.objectRefs()
        let problems = refs.compactMap { ref -> String? in
            let state = store.reuse(ref, verifyHash: false)
            return state == .ok ? nil : "object \(ref.digest): \(state)"
        }
        guard problems.isEmpty else {
            throw RestoreDrillError.destinationVanished(
                path: destination.pathString,
                message: "the destination changed before the manifest was written, so the set is not sealed: "
                    + problems.prefix(5).joined(separator: "; ")
                    + (problems.count > 5 ? "; and \(problems.count - 5) more objects" : ""))
        }
        // The puts of this run only started their writeback (``ObjectStore/syncEachObject``); an
        // object found already there may be a killed run's, never synced: all but the vouched.
        try await store.syncObjects(refs.filter { !vouched.contains($0.digest) })
        try store.syncFolders(of: refs)
    }

    /// Removes the unfinished set at `folder` (the partial folder, or the set folder when the
    /// rename was done: `renamed`) only when it is still verifiably the folder this run made, and
    /// returns the error to throw: `error` itself, or, when the destination or the partial folder
    /// is no longer what the run recorded, ``RestoreDrillError/destinationVanished(path:message:)``
    /// naming what vanished (an I/O error is often the first sign of an unmounted drive) and what
    /// was left where.
    static func cleanUp(after error: any Error, seal: SetSeal, folder: String, renamed: Bool = false) -> any Error {
        let ours = seal.isOurFolder(folder)
        let note: String
        if ours {
            try? FileManager.default.removeItem(atPath: folder)
            note = "\(folder) removed (the folder this run made, never sealed)"
        } else if FileIdentity.of(path: folder) == nil && renamed {
            note =
                "the folder this run made can no longer be found at \(folder); left as it is (it was renamed "
                + "into place where the destination was: if that drive comes back, check the set with "
                + "`restore-drill check` before trusting it)"
        } else if FileIdentity.of(path: folder) == nil {
            note =
                "\(seal.partialIdentity.inode.map { "the folder this run made (inode \($0)) " } ?? "")"
                + "can no longer be found at \(folder); left as it is (with any manifest.json written into it, "
                + "on the drive that went away: a .partial- folder is never listed as a set)"
        } else {
            note =
                "\(folder) is not the folder this run made; left as it is (any manifest.json in it was not "
                + "verified)"
        }
        if case .destinationVanished(let path, let message) = error as? RestoreDrillError {
            return RestoreDrillError.destinationVanished(path: path, message: "\(message); \(note)")
        }
        guard !ours || !seal.destinationIsUnchanged else { return error }
        let found = seal.problems(folder: folder, files: [])
        return RestoreDrillError.destinationVanished(
            path: seal.destination,
            message: "the destination changed during the backup, so the set is not sealed: "
                + found.joined(separator: "; ") + " (the run stopped with: \(error)); \(note)")
    }

    private func build(
        into manifest: inout Manifest, partial: String, root rootPath: AbsolutePath, home homePath: AbsolutePath,
        destination destinationPath: AbsolutePath, seal: SetSeal, reuse: ObjectReuseCache?,
        say: @escaping @Sendable (String) -> Void
    ) async throws -> VaultRunKeys? {
        let root = rootPath.pathString
        let log = seal.written
        let work = "\(partial)/.work"
        try SetNames.makeParent(of: "\(work)/x")
        let workIdentity = FileIdentity.of(path: work)
        defer {
            // Only the folder made here: after an unmount the path may name one on another disk.
            if let workIdentity, let now = FileIdentity.of(path: work), now.isSameObject(as: workIdentity) {
                try? FileManager.default.removeItem(atPath: work)
            }
        }
        let credentials = try config.credentials.include.map { try Self.standardized($0) }
        let dbPatterns = config.databases.include.map { GlobPattern($0) }

        // The dependency lists (independent subprocesses, within their timeout) and the vault keys
        // (PBKDF2 derivations) depend on nothing this run writes: both start now, beside the walk,
        // the compression and the database copies; their results are stored at their usual place.
        var collector = DependencyCollector(
            python: config.dependencies.python, homebrew: config.dependencies.homebrew, runner: runner)
        collector.timeout = dependencyTimeout
        collector.log = log
        collector.reuse = dependencyCache.map { DependencyListCache(folder: $0, runner: runner) }
        collector.now = { [clock] in clock.now() }
        let deps = collector
        async let lists = deps.take()
        async let vault = prepareVault(
            credentials: credentials, root: rootPath, home: homePath, destination: destinationPath)

        // One walk of root: what the code archive holds and which files the databases glob matches.
        say("code: scanning \(root)")
        var walk = WorkspaceWalk()
        let excludes = config.code.exclude
        walk.skip = { path in
            path.isDescendantOrSelf(of: destinationPath) || credentials.contains { path.isDescendantOrSelf(of: $0) }
        }
        walk.exclude = { rel, name in GlobSupport.excluded(relative: rel, name: name, patterns: excludes) }
        let includeTexts = config.databases.include
        walk.enterExcluded = { rel in includeTexts.contains { GlobSupport.couldMatchBelow($0, folder: rel) } }
        walk.run(base: rootPath)

        var databases: [WalkEntry] = []
        var notDatabases: [String] = []
        var warnings: [String] = []
        // Keyed by bytes (issue 12): `Résumé.db` in NFC and in NFD are two files, and dropping one
        // from the archive must never drop its twin.
        var dropFromCode = Set<[UInt8]>()
        for entry in walk.entries
        where entry.type == .file && dbPatterns.contains(where: { $0.matches(entry.relative) }) {
            // The databases component records paths as UTF-8 text (the restore script names the
            // target): a name that is not UTF-8 stays, byte for byte, in code.tar.gz.
            if FileNameBytes.holdsRawBytes(entry.relative) {
                warnings.append(
                    "\(FileNameBytes.display(entry.relative)): matches databases.include, but its name is not valid UTF-8, which the databases component cannot record; stored as a plain file in code.tar.gz (rename it to have it copied as a database)"
                )
                continue
            }
            // An unreadable file goes to the copier too, which names the error. A file that is
            // not a database (issue 12: 0 bytes, shorter than a page, no header) is kept, byte for
            // byte, in code.tar.gz, and the databases component fails naming it: copying it
            // through SQLite would store a new, empty database in a set that looks complete.
            if let why = Self.notADatabase(entry) {
                notDatabases.append("\(entry.relative): not a SQLite database (\(why); kept in code.tar.gz)")
            } else {
                databases.append(entry)
                dropFromCode.insert(FileNameBytes.key(entry.relative))
                for suffix in ["-wal", "-shm", "-journal"] {
                    dropFromCode.insert(FileNameBytes.key(entry.relative + suffix))
                }
            }
        }
        let codeEntries = walk.entries.filter {
            !$0.excludedFromCode && !dropFromCode.contains(FileNameBytes.key($0.relative))
        }
        warnings += walk.ignored.map {
            "\(FileNameBytes.display("\(root)/\($0)")): not a file, folder or link; not stored"
        }
        warnings += Self.normalisationTwinWarnings(codeEntries.map(\.relative))

        // code and databases at the same time: the archive's gzip members and the database copies
        // share the cores (child tasks, bounded width); results are recorded in a fixed order.
        say("code: archiving \(codeEntries.count) paths")
        var archiver = CodeArchiveWriter(entries: codeEntries, level: config.code.compressionLevel)
        archiver.problems = walk.problems
        archiver.vanished = walk.vanished
        archiver.log = log
        if let phaseHook { archiver.opened = { await phaseHook(.writingArtifacts) } }
        // Format 2: every artifact but the restore script becomes a shared object; each is made
        // durable once, before the manifest (``sealObjects(of:destination:)``).
        var deferredStore = ObjectStore(destination: destinationPath)
        deferredStore.syncEachObject = false
        let objects =
            manifest.storesObjects
            ? ObjectSetWriter(store: deferredStore, level: config.code.compressionLevel, log: log, cache: reuse)
            : nil
        let copier = DatabaseCopier(
            root: root, smallLimit: config.databases.smallLimit,
            chunkSize: max(1, config.databases.chunkSize), busyTimeout: busyTimeout, log: log)
        let totalBytes =
            codeEntries.reduce(Int64(0)) { $0 + ($1.type == .file ? $1.size : 0) }
            + databases.reduce(0) { $0 + $1.size }
        let meter = byteProgress.map { ByteMeter(stage: "backup", total: totalBytes, report: $0) }
        async let copying = Self.copyDatabases(
            databases, copier: copier, setFolder: partial, workFolder: work, objects: objects, say: say,
            copied: { meter?.add($0) })
        let code: CodeArchiveWriter.Result
        if let objects {
            let packs = try await objects.writeCode(
                codeEntries, work: work, progress: say, bytes: { meter?.add($0) })
            let merged = CodeTarWriter.Written.merged(packs.written, failures: walk.problems)
            let first =
                packs.artifacts.first
                ?? ArtifactRecord(path: ObjectSetWriter.foldersPack, component: .code, kind: .pack, size: 0, sha256: "")
            code = CodeArchiveWriter.result(
                of: merged, artifact: first, vanished: walk.vanished, artifacts: packs.artifacts)
        } else {
            code = try await archiver.write(setFolder: partial, progress: say, bytes: { meter?.add($0) })
        }
        let copies = try await copying
        meter?.finish()

        // code
        warnings += code.warnings
        // (A name that is not UTF-8 and matched a glob was warned about above.)
        for path in code.sqliteFiles
        where !(FileNameBytes.holdsRawBytes(path) && dbPatterns.contains(where: { $0.matches(path) })) {
            warnings.append(
                "\(FileNameBytes.display(path)): SQLite database not matched by databases.include; stored as a plain file in code.tar.gz"
            )
        }
        var components: [ComponentID: ComponentRecord] = [.code: code.record]
        manifest.artifacts += code.artifacts
        manifest.files += code.files

        // databases
        var dbFailures = notDatabases
        var dbBytes: Int64 = 0
        for copy in copies {
            switch copy {
            case .success(let stored):
                manifest.databases.append(stored.record)
                manifest.artifacts += stored.artifacts
                dbBytes += stored.record.size
            case .failure(let failure):
                if failure.destinationFull {
                    throw RestoreDrillError.destinationFull(
                        path: "\(partial)/databases (copying \(failure.path))",
                        freeBytes: DestinationFull.freeBytes(partial))
                }
                dbFailures.append(failure.description)
            }
        }
        if !dbFailures.isEmpty {
            components[.databases] = ComponentRecord(
                id: .databases, status: .failed, reason: dbFailures.joined(separator: "; "),
                files: manifest.databases.count, bytes: dbBytes)
        } else if databases.isEmpty {
            components[.databases] = ComponentRecord(
                id: .databases, status: .skipped,
                reason: config.databases.include.isEmpty
                    ? "not configured" : "no database matched \(config.databases.include.joined(separator: ", "))")
        } else {
            components[.databases] = ComponentRecord(
                id: .databases, status: .ok, files: manifest.databases.count, bytes: dbBytes)
        }

        // launchagents
        let agents = try LaunchAgentCollector(
            home: homePath, root: rootPath, include: config.launchAgents.include, log: log
        )
        .collect(setFolder: partial, progress: say)
        components[.launchagents] = agents.record
        manifest.launchAgents = agents.agents
        manifest.files += agents.files
        manifest.artifacts += agents.artifacts
        warnings += agents.warnings

        // dependencies
        say("dependencies: collecting package lists")
        let dependencies = try deps.store(await lists, setFolder: partial)
        for name in dependencies.reused { say("dependencies: \(name) list reused (its package folders are unchanged)") }
        components[.dependencies] = dependencies.record
        manifest.artifacts += dependencies.artifacts
        warnings += dependencies.warnings

        // shell
        let shell = try ShellCollector(
            home: homePath, files: try config.shell.files.map { try Self.standardized($0) }, credentials: credentials,
            log: log
        ).collect(setFolder: partial)
        components[.shell] = shell.record
        manifest.files += shell.files
        manifest.artifacts += shell.artifacts
        warnings += shell.warnings

        // credentials: the vault (plaintext never touches the set) and the run's keys.
        let (vaultRecord, vaultWarnings, keys) = try await self.credentials(
            into: &manifest, prepared: await vault, partial: partial, root: rootPath, home: homePath,
            destination: destinationPath, credentials: credentials, log: log, say: say)
        components[.credentials] = vaultRecord
        warnings += vaultWarnings

        // Format 2: what the collectors wrote into the folder moves into objects.
        if let objects {
            let written = manifest.artifacts.filter { $0.kind != .pack && $0.kind != .chunk }
            for artifact in written { try objects.adopt(artifact, in: partial) }
            // The folders of the adopted files and of the database copies cut into chunks.
            ObjectSetWriter.removeEmptyFolders(in: partial, for: manifest.artifacts.map(\.path))
        }

        manifest.components = ComponentID.allCases.compactMap { components[$0] }
        manifest.warnings = warnings
        manifest.status = manifest.components.contains { $0.status == .failed } ? .partial : .complete

        // The restore script, then SHA256SUMS over every artifact.
        let scriptPath = "\(partial)/\(manifest.restoreScript)"
        let script = try HashingFileWriter(path: scriptPath, mode: SetPermissions.script, log: log)
        try script.write(Data(RestoreScript.render(manifest).utf8))
        let (scriptSize, scriptDigests) = try script.finish()
        chmod(scriptPath, SetPermissions.script)
        manifest.artifacts.append(
            ArtifactRecord(
                path: manifest.restoreScript, component: .code, kind: .script, size: scriptSize,
                digests: scriptDigests))
        try AtomicFile.write(manifest.renderedChecksumList(), to: "\(partial)/\(SetSeal.sumsName)")
        // AtomicFile closes and renames its temporary file: `lstat` of the path right after (the
        // rename keeps the inode).
        log.recordPath("\(partial)/\(SetSeal.sumsName)")
        return keys
    }

    /// Copies every database, at most one per core at once, each on a thread of its own
    /// (``BlockingWork``, outside the CPU slots the compression uses), largest first (so the longest copy starts early); the results come back
    /// in the order of `databases`.
    /// - Throws: ``RestoreDrillError`` when the set cannot be written (a problem with one source
    ///   database is a `.failure` in its slot instead).
    /// - Parameter objects: format 2: each copy (stored whole by `copier`) is cut into chunk
    ///   objects and removed from the folder; nil for format 1.
    static func copyDatabases(
        _ databases: [WalkEntry], copier: DatabaseCopier, setFolder: String, workFolder: String,
        objects: ObjectSetWriter? = nil, say: @escaping @Sendable (String) -> Void,
        copied: @escaping @Sendable (Int64) -> Void = { _ in }
    ) async throws -> [Result<DatabaseCopier.Stored, DatabaseCopyFailure>] {
        // One copy per core beside the code archive's compression (which keeps the cores' CPU
        // slots): the small databases no longer wait behind the largest (measured on the bench
        // workspace, width 2 against 1: 1.71-1.79 s against 1.81-2.24 s at scale 1, 5.9-6.9 s
        // against 6.3-7.4 s at scale 4).
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let order = databases.indices.sorted { databases[$0].size > databases[$1].size }
        let bases = SetNames.databaseBases(databases.map(\.relative))
        var slots = [Result<DatabaseCopier.Stored, DatabaseCopyFailure>?](repeating: nil, count: databases.count)
        try await withThrowingTaskGroup(of: (Int, Result<DatabaseCopier.Stored, DatabaseCopyFailure>).self) { group in
            var next = 0
            var running = 0
            while next < order.count || running > 0 {
                while running < width && next < order.count {
                    let i = order[next]
                    next += 1
                    running += 1
                    say("databases: \(i + 1)/\(databases.count) \(databases[i].relative)")
                    let entry = databases[i]
                    // SQLite and file I/O block (and a locked database waits): a thread of its own.
                    group.addTask {
                        try await BlockingWork.run(takesSlot: false) {
                            do {
                                let stored =
                                    try objects?.backUpDatabase(
                                        entry, index: i + 1, base: bases[i], copier: copier, workFolder: workFolder,
                                        say: say)
                                    ?? copier.copy(
                                        entry, index: i + 1, base: bases[i], setFolder: setFolder,
                                        workFolder: workFolder)
                                copied(entry.size)
                                return (i, .success(stored))
                            } catch let failure as DatabaseCopyFailure {
                                return (i, .failure(failure))
                            }
                        }
                    }
                }
                if let (i, result) = try await group.next() {
                    slots[i] = result
                    running -= 1
                }
            }
        }
        return slots.map { $0! }
    }

    /// The user's cache folder for ``dependencyCache``: `$XDG_CACHE_HOME/restore-drill` (else
    /// `~/.cache/restore-drill`) on Linux, `~/Library/Caches/restore-drill` on macOS; nil
    /// without `HOME`.
    public static func defaultDependencyCache(environment: [String: String]) -> String? {
        DependencyListCache.defaultFolder(environment: environment)
    }

    /// True when the file starts with the SQLite 3 header, false when it does not, nil when it
    /// cannot be read.
    /// The smallest SQLite database file, bytes: one page of the smallest page size, 512
    /// (sqlite.org/fileformat2.html, "The Database Header").
    static let smallestDatabase: Int64 = 512

    /// Why a file a database glob matched is not a SQLite database, or nil when it is one (or
    /// cannot be read: the copier names that error).
    /// - Returns: `0 bytes`, `N bytes, under the 512 bytes of a database's first page`, or
    ///   `no "SQLite format 3" header`.
    /// One warning per group of code paths that differ only by Unicode normalisation (an NFC name
    /// and its NFD twin, side by side in one folder on Linux): both are stored and restore on
    /// Linux; macOS treats them as one name (APFS is normalisation-insensitive), so a restore there
    /// keeps only the one tar extracts last, the last in the archive (README, "File names").
    /// - Parameter paths: relative paths in archive order (marker form for names that are not UTF-8).
    static func normalisationTwinWarnings(_ paths: [String]) -> [String] {
        FileNameBytes.normalisationTwins(paths).map { group in
            let shown = group.map { "\"\(FileNameBytes.escapedBytes($0))\"" }
            return
                "\(shown.joined(separator: " and ")) differ only by Unicode normalisation (NFC/NFD): both are stored and restore on Linux; macOS treats them as one name, so a restore there keeps only \(shown.last!), extracted last"
        }
    }

    static func notADatabase(_ entry: WalkEntry) -> String? {
        if entry.size == 0 { return "0 bytes" }
        if entry.size < smallestDatabase {
            return "\(entry.size) bytes, under the \(smallestDatabase) bytes of a database's first page"
        }
        if hasSQLiteHeader(entry.absolute.pathString) == false { return "no \"SQLite format 3\" header" }
        return nil
    }

    static func hasSQLiteHeader(_ path: String) -> Bool? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 16)
        let n = read(fd, &header, 16)
        if n < 0 { return nil }
        return n == 16 && header == CodeArchiveWriter.sqliteHeader
    }

    /// A configured path, typed: lexically normalised, a relative one taken below this process's
    /// working folder (where the file calls on it would land).
    /// - Throws: ``RestoreDrillError/usage(_:)`` for an empty path or one holding a NUL byte.
    static func standardized(_ path: String) throws -> AbsolutePath {
        do {
            return try AbsolutePath(
                path, relativeTo: AbsolutePath(validating: FileManager.default.currentDirectoryPath))
        } catch {
            throw RestoreDrillError.usage("\(error)")
        }
    }
}

/// What a backup produced.
public struct BackupOutcome: Sendable {
    /// The absolute path of the new set, `<destination>/<id>`.
    public var setPath: String
    /// The manifest as written; `manifest.status` is `partial` when a component failed.
    public var manifest: Manifest
    /// The manifest's warnings (e.g. an unmatched SQLite file left in code.tar.gz).
    public var warnings: [String]

    public init(setPath: String, manifest: Manifest, warnings: [String]) {
        self.setPath = setPath
        self.manifest = manifest
        self.warnings = warnings
    }
}
