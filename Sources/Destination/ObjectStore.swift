import DrillCore
import Foundation

/// The content-addressed objects of backup set format 2 (issue 15), in a local destination folder.
/// **In progress**: `prune` collects garbage with it, `check` verifies and `export` copies objects
/// through it (Sources/Jobs); the drill and the restore script do not read objects yet. Rules:
/// docs/SET-FORMAT.md, "Format 2 (in progress): objects".
///
/// Layout (modes as sets have them: folders 0700, files 0600):
/// ```
/// <destination>/objects/                    made on the first put
/// <destination>/objects/<ab>/<ab…64 hex>    one object: its name is the SHA-256 of its bytes,
///                                           <ab> its first 2 hex characters (256 fan-out folders)
/// <destination>/objects/.tmp-<uuid>         an object being written (or left by a killed writer)
/// ```
///
/// **Trust.** The destination is hostile (issue 11): anyone who can write to it can drop, swap or
/// replace files there. So every object is reached through descriptors without following a link
/// (``BeneathRoot``: `openat2` with `RESOLVE_NO_SYMLINKS`, else an `O_NOFOLLOW` walk): an
/// object that is a link, FIFO, device or folder, or whose fan-out folder is one, is damaged
/// (``ObjectState/notRegularFile(at:kind:)``) and is never followed, opened or read. The folders
/// above `objects/` (the destination itself) are the configuration's and are trusted; `objects`
/// itself must be a real folder.
///
/// **Immutable.** An object is written once, under a temporary name, `fsync`ed, renamed into
/// place, and its fan-out folder `fsync`ed; an intact object is never rewritten. What a check
/// finds damaged is replaced by writing the good bytes again (temporary name, rename over it),
/// never trusted.
///
/// **What an interrupted run leaves.** A killed writer leaves at most `objects/.tmp-<uuid>`
/// (never taken for an object; ``collectGarbage(referenced:dryRun:now:)`` removes it once a day
/// old) and, when killed between its rename and the folder's `fsync`, an object whose name a power
/// cut may still lose (``syncFolders(of:)`` makes the names a set uses durable). A killed garbage
/// collection has removed some unreferenced objects and not others; every referenced object is
/// untouched.
///
/// **Concurrency.** Puts may run at once, in one process or several (two writers of one object
/// both rename the same bytes into place). Garbage collection must not run beside a writer: the
/// caller holds the destination's exclusive lock (prune's) for
/// ``collectGarbage(referenced:dryRun:now:)``.
package struct ObjectStore: Sendable {
    /// The folder's name in the destination: `objects`.
    package static let folderName = "objects"
    /// The start of a temporary file's name in `objects/`: `.tmp-` (then a UUID).
    package static let temporaryPrefix = ".tmp-"
    /// Seconds after which a temporary file is taken for a killed writer's and removed by garbage
    /// collection: one day (a writer holds one for as long as it takes to write one object; a
    /// young one may belong to a backup running now, on this machine or, through a synced folder,
    /// another).
    package static let temporaryMaxAge: TimeInterval = 86_400
    /// Deepest folder nesting garbage collection and repair descend into when removing a folder
    /// planted under an object's or a temporary's name; deeper trees are left and reported.
    static let removalDepthLimit = 32

    /// The destination folder (trusted: its own path may go through links).
    package let destination: AbsolutePath
    /// When false, a put starts the new object's writeback (`sync_file_range`, not waited for)
    /// instead of `fsync`ing it and its fan-out folder, and the caller makes every object it will
    /// reference durable with ``syncObjects(_:)`` before anything names them (a set writer: before
    /// its manifest). A crash before that leaves objects whose bytes may not be on disk, which no
    /// manifest names and no files cache vouches for (the cache is written after the set is
    /// sealed): the next put of the same content reads them in full (``ExistingObjectCheck/digest``)
    /// and replaces what is damaged. Saves one `fsync` per object (1 174 on the bench workspace).
    package var syncEachObject = true

    /// - Parameter destination: the destination folder; `objects/` lives directly in it.
    package init(destination: AbsolutePath) {
        self.destination = destination
    }

    /// `<destination>/objects`.
    package var folder: AbsolutePath { destination.appending(component: Self.folderName) }

    /// Where the object `digest` lives, relative to the destination: `objects/<ab>/<64 hex>`.
    package func relativePath(of digest: ObjectDigest) -> RelativePath {
        RelativePath.dot.appending(component: Self.folderName).appending(component: digest.fanOut)
            .appending(component: digest.hex)
    }

    // MARK: - Reading

    /// Whether the object `ref` may be referenced by a new set without writing it again.
    ///
    /// Missing: no. Not a regular file (a link, FIFO, folder, at the object or at its fan-out
    /// folder): no, damaged, nothing followed or opened. A size other than `ref.size`: no,
    /// damaged, decided from `fstatat` alone, without reading a byte. With `verifyHash`, the
    /// object is then opened (`O_NOFOLLOW`, checked again with `fstat` on the descriptor) and its
    /// SHA-256 compared with its name. A caller that gets anything but ``ObjectState/ok`` writes
    /// the object again from its source with ``put(_:existing:)`` and
    /// ``ExistingObjectCheck/replace`` (or ``ExistingObjectCheck/digest``).
    /// - Parameters:
    ///   - ref: the digest and the size in bytes the set will record.
    ///   - verifyHash: read the whole object and compare its SHA-256 (the rule whenever nothing
    ///     else, such as a files cache, vouches for it); without it ``ObjectState/ok`` means only
    ///     "a regular file of the right size".
    /// - Returns: the state found; ``ObjectState/ok`` when it may be referenced.
    package func reuse(_ ref: ObjectRef, verifyHash: Bool) -> ObjectState {
        inspect(ref, hashing: verifyHash)
    }

    /// Reads the object `ref` in full and says whether it is intact (`check`'s question).
    /// - Parameter ref: the digest and the size in bytes a set recorded for it.
    /// - Returns: ``ObjectState/ok``, ``ObjectState/missing``, or the damage:
    ///   ``ObjectState/notRegularFile(at:kind:)`` (never followed or read),
    ///   ``ObjectState/wrongSize(actual:)`` (not read), ``ObjectState/wrongDigest(actual:)``
    ///   (with the digest of what is there), ``ObjectState/unreadable(_:)``.
    package func verify(_ ref: ObjectRef) -> ObjectState {
        inspect(ref, hashing: true)
    }

    /// Opens the object `digest` for reading, without following a link: `objects` must be a real
    /// folder (`lstat`), and the fan-out folder and the object are reached beneath it
    /// (``BeneathRoot``). Nothing is read; the caller compares ``OpenedFile/entry``'s size with
    /// the recorded one before it reads a byte (the drill's `set.artifacts` hashes and copies from
    /// the descriptor in one read).
    /// - Parameter digest: the object's name.
    /// - Returns: the open regular file, or the state that stopped it: ``ObjectState/missing``,
    ///   ``ObjectState/notRegularFile(at:kind:)`` (a link, FIFO, folder, device, at the object,
    ///   its fan-out folder or `objects` itself: never followed or opened), or
    ///   ``ObjectState/unreadable(_:)``.
    package func open(_ digest: ObjectDigest) -> Result<OpenedFile, ObjectState> {
        let root: BeneathRoot
        switch openForReading() {
        case .root(let opened): root = opened
        case .unreachable(let state): return .failure(state)
        }
        return root.openFile(Self.inner(digest)).mapError { state(of: $0) }
    }

    /// The apparent size (`st_size`, bytes) of the object `digest`: nil when it is missing or not
    /// a regular file (a link is not followed).
    package func size(of digest: ObjectDigest) -> Int64? {
        guard case .root(let root) = openForReading(),
            case .success(let entry) = root.entry(Self.inner(digest)), entry.kind == .file
        else { return nil }
        return entry.size
    }

    /// The identity of the object `digest` as `<device>:<inode>:<mtime seconds>:<size>`, or nil when
    /// it is missing or not a regular file (a link is not followed): what a files cache records
    /// when it vouches for an object, so that an object replaced or edited since (a new inode, a
    /// new modification time) is no longer vouched for.
    package func identity(of digest: ObjectDigest) -> String? {
        guard case .root(let root) = openForReading(),
            case .success(let entry) = root.entry(Self.inner(digest)), entry.kind == .file
        else { return nil }
        return "\(entry.device):\(entry.inode):\(entry.modifiedSeconds):\(entry.size)"
    }

    /// Every object and the other files in `objects/`, with their apparent sizes (`st_size`, the
    /// bytes a cloud quota counts), read through descriptors without following links.
    /// - Returns: an empty inventory when there is no `objects/` folder.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when `objects` is not a folder (a link
    ///   to one included) or cannot be listed.
    package func inventory() throws -> ObjectInventory {
        var inventory = ObjectInventory()
        guard let objects = try openFolderForListing() else { return inventory }
        for name in try names(in: objects) {
            guard case .success(let entry) = objects.entry(name) else { continue }
            if Self.isFanOutName(name) && entry.kind == .directory {
                guard case .success(let fanOut) = objects.openFolder(name) else { continue }
                for inner in try names(in: fanOut) {
                    guard case .success(let found) = fanOut.entry(inner), found.kind == .file else { continue }
                    if let digest = ObjectDigest(inner), digest.fanOut == name {
                        inventory.objects[digest] = found.size
                    } else {
                        inventory.otherBytes += found.size
                    }
                }
            } else if entry.kind == .file {
                inventory.otherBytes += entry.size
            }
        }
        return inventory
    }

    /// The bytes `objects/` holds: ``ObjectInventory/totalBytes`` of ``inventory()``.
    /// - Throws: as ``inventory()``.
    package func totalBytes() throws -> Int64 { try inventory().totalBytes }

    // MARK: - Writing

    /// Stores `data` as an object.
    /// - Parameters:
    ///   - data: the object's bytes (held in memory; use ``put(contentsOf:existing:)`` or
    ///     ``makeWriter()`` for large content).
    ///   - existing: when an object of that digest is there already, what keeps it (nothing is
    ///     written then).
    ///   - knownRef: the SHA-256 and size of `data` when the caller hashed it already (in the pass
    ///     that made its other digests); nil hashes it here. It must be `data`'s: it is what is
    ///     looked for and returned when the object is already there (bytes written are named by
    ///     their own hash regardless).
    /// - Returns: the reference and whether bytes were written.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the object cannot be written
    ///   (`objects` is a link, a full disk, …); the temporary file is then removed.
    package func put(_ data: Data, existing: ExistingObjectCheck, knownRef: ObjectRef? = nil) throws -> StoredObject {
        let ref = knownRef ?? ObjectRef(of: data)
        let found = existing == .replace ? nil : inspect(ref, hashing: existing == .digest)
        if found == .ok { return StoredObject(ref: ref, outcome: .alreadyPresent) }
        let writer = try makeWriter()
        try writer.write(data)
        return try writer.finish(existing: existing, inspected: found.map { (ref, $0) })
    }

    /// Stores the content of the file at `path` as an object, reading it in 1 MiB blocks (memory
    /// stays constant for a 200 MB database chunk). The file is hashed first (but with
    /// ``ExistingObjectCheck/replace``); when an object of that digest is kept (see `existing`),
    /// nothing is written. Otherwise it is read again into a
    /// temporary file while hashing, and the object is named by what was written (a file that
    /// changed between the two reads is stored as its second reading).
    /// - Parameters:
    ///   - path: a file the tool trusts (its own staging copy; it is opened by path).
    ///   - existing: as in ``put(_:existing:)``.
    /// - Returns: the reference of the bytes stored and whether bytes were written.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the source cannot be read or the
    ///   object cannot be written.
    package func put(contentsOf path: String, existing: ExistingObjectCheck) throws -> StoredObject {
        var found: (ObjectRef, ObjectState)?
        if existing != .replace {
            let (sha, size) = try SHA256Digest.file(at: path)
            let ref = ObjectRef(digest: ObjectDigest(sha)!, size: size)
            let state = inspect(ref, hashing: existing == .digest)
            if state == .ok { return StoredObject(ref: ref, outcome: .alreadyPresent) }
            found = (ref, state)
        }
        let writer = try makeWriter()
        try FileBlocks.forEach(path: path) { try writer.write($0) }
        return try writer.finish(existing: existing, inspected: found)
    }

    /// Opens a temporary file `objects/.tmp-<uuid>` (made `O_EXCL | O_NOFOLLOW`, 0600) that hashes
    /// what is written to it; ``ObjectWriter/finish(existing:)`` names and places the object.
    /// Makes `objects/` (0700) when missing, and `fsync`s the destination folder then.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when `objects` is not a real folder or
    ///   the file cannot be made.
    package func makeWriter() throws -> ObjectWriter {
        let objects = try openFolderForWriting()
        for _ in 0..<8 {
            let name = Self.temporaryPrefix + UUID().uuidString.lowercased()
            let fd = openat(objects.descriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 { return ObjectWriter(store: self, objects: objects, temporaryName: name, descriptor: fd) }
            if errno != EEXIST { throw ioError(folder.appending(component: name), errnoText()) }
        }
        throw ioError(folder, "no unused temporary name")
    }

    /// `fsync`s the fan-out folders of `refs` and `objects/` itself, so the names of objects that
    /// another writer placed (and perhaps did not sync: killed between its rename and its folder's
    /// `fsync`) survive a power cut. A set writer calls it for the objects its manifest lists
    /// before it writes the manifest. At most 257 `fsync` calls, whatever the number of objects.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming a folder that is missing, a link,
    ///   or cannot be synced.
    package func syncFolders(of refs: some Sequence<ObjectRef>) throws {
        let objects = try openFolderForWriting()
        for fanOut in Set(refs.map(\.digest.fanOut)).sorted() {
            switch objects.openFolder(fanOut) {
            case .success(let opened): try sync(opened)
            case .failure(let refusal): throw ioError(folder.appending(component: fanOut), refusal.reason)
            }
        }
        try sync(objects)
    }

    /// Makes `refs` durable: `fsync`s each object (several at once: each waits on the disk, not
    /// the CPU), then their fan-out folders and `objects/` (``syncFolders(of:)``). What a writer
    /// with ``syncEachObject`` off calls before anything names the objects.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming an object that is missing, not a
    ///   regular file, or cannot be synced.
    package func syncObjects(_ refs: [ObjectRef]) async throws {
        let store = self
        let failures = await BlockingWork.map(refs, width: 4, takesSlot: false) { ref -> (any Error)? in
            let path = store.folder.appending(component: ref.digest.fanOut).appending(component: ref.digest.hex)
            guard case .root(let root) = store.openForReading(),
                case .success(let file) = root.openFile(Self.inner(ref.digest))
            else { return store.ioError(path, "cannot be opened to be synced") }
            return fsync(file.descriptor) == 0 ? nil : store.ioError(path, "cannot be synced: \(errnoText())")
        }
        if let first = failures.compactMap({ $0 }).first { throw first }
        try syncFolders(of: refs)
    }

    // MARK: - Garbage

    /// Removes every object that no set references and every temporary file at least
    /// ``temporaryMaxAge`` old (by its modification time), one `unlinkat` at a time (a crash
    /// leaves some removed and some not, and no referenced object is ever touched).
    ///
    /// Only names this type makes are removed, and only inside `objects/`: `objects/<ab>/<64 hex>`
    /// whose digest starts with its folder's name, and `objects/.tmp-*`. Anything else there
    /// (a stray file, a link or file named like a fan-out folder, a digest in the wrong folder) is
    /// left and listed in ``GarbageCollection/unrecognised``. Links are removed as links, never
    /// followed; a folder planted under an object's or temporary's name is removed through
    /// descriptors (`O_NOFOLLOW`, at most ``removalDepthLimit`` deep). Empty fan-out folders stay.
    ///
    /// The caller holds the destination's exclusive lock and passes every object that any set
    /// (and any `.partial-*` that must be kept) references; an object put but not yet referenced
    /// by a written manifest is removed.
    /// - Parameters:
    ///   - referenced: the digests to keep.
    ///   - dryRun: say what would be removed, and remove nothing.
    ///   - now: the time temporaries' ages are measured at.
    /// - Returns: what was (or would be) removed, with apparent byte counts, and what was left.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when `objects` is not a real folder or
    ///   cannot be listed; a fan-out folder that cannot be listed and a single removal that fails
    ///   are listed in ``GarbageCollection/failures`` instead, and the rest goes on.
    package func collectGarbage(referenced: Set<ObjectDigest>, dryRun: Bool, now: Date) throws -> GarbageCollection {
        try collectGarbage(referenced: referenced, dryRun: dryRun, now: now, beforeRemoving: { _ in })
    }

    /// ``collectGarbage(referenced:dryRun:now:)`` with `beforeRemoving` called before each removal
    /// (not in a dry run) with the entry's path relative to the destination: a test seam that
    /// throws to stop the collection there, as a kill would (what `prune`'s crash tests use). Its
    /// error is thrown on, and nothing more is removed.
    /// - Throws: as ``collectGarbage(referenced:dryRun:now:)``, and what `beforeRemoving` throws.
    package func collectGarbage(
        referenced: Set<ObjectDigest>, dryRun: Bool, now: Date, beforeRemoving: (RelativePath) throws -> Void
    ) throws -> GarbageCollection {
        var report = GarbageCollection(dryRun: dryRun)
        guard let objects = try openFolderForListing() else { return report }
        let base = RelativePath.dot.appending(component: Self.folderName)
        for name in try names(in: objects).sorted() {
            guard case .success(let entry) = objects.entry(name) else { continue }
            let shown = base.appending(component: name)
            if name.hasPrefix(Self.temporaryPrefix) {
                let age = now.timeIntervalSince1970 - Double(entry.modifiedSeconds)
                guard age >= Self.temporaryMaxAge else {
                    report.youngTemporaries.append(shown)
                    continue
                }
                if !dryRun { try beforeRemoving(shown) }
                remove(name, in: objects, shown: shown, kind: .temporary, dryRun: dryRun, into: &report)
            } else if Self.isFanOutName(name) && entry.kind == .directory,
                case .success(let fanOut) = objects.openFolder(name)
            {
                let inside: [String]
                switch fanOut.names() {
                case .success(let listed): inside = listed
                case .failure(let refusal):
                    report.failures.append("\(shown): cannot be listed: \(refusal.reason)")
                    continue
                }
                for inner in inside.sorted() {
                    let innerShown = shown.appending(component: inner)
                    guard let digest = ObjectDigest(inner), digest.fanOut == name else {
                        report.unrecognised.append(innerShown)
                        continue
                    }
                    if referenced.contains(digest) {
                        report.keptObjects += 1
                    } else {
                        if !dryRun { try beforeRemoving(innerShown) }
                        remove(inner, in: fanOut, shown: innerShown, kind: .object, dryRun: dryRun, into: &report)
                    }
                }
            } else {
                report.unrecognised.append(shown)
            }
        }
        return report
    }

    // MARK: - Internals

    /// Reads `ref`: an entry check without opening (no hashing), or the whole object hashed.
    func inspect(_ ref: ObjectRef, hashing: Bool) -> ObjectState {
        let root: BeneathRoot
        switch openForReading() {
        case .root(let opened): root = opened
        case .unreachable(let state): return state
        }
        let inner = Self.inner(ref.digest)
        guard hashing else {
            switch root.entry(inner) {
            case .failure(let refusal): return state(of: refusal)
            case .success(let entry) where entry.kind != .file:
                return .notRegularFile(at: relativePath(of: ref.digest), kind: entry.kind)
            case .success(let entry):
                return entry.size == ref.size ? .ok : .wrongSize(actual: entry.size)
            }
        }
        switch root.openFile(inner) {
        case .failure(let refusal): return state(of: refusal)
        case .success(let file):
            guard file.entry.size == ref.size else { return .wrongSize(actual: file.entry.size) }
            let hasher = SHA256Hasher()
            let read: Int64
            do { read = try file.forEachBlock { hasher.update($0) } } catch { return .unreadable("\(error)") }
            guard read == ref.size else { return .wrongSize(actual: read) }
            let actual = ObjectDigest(hasher.finalizeHex())!
            return actual == ref.digest ? .ok : .wrongDigest(actual: actual)
        }
    }

    /// An object's path relative to `objects/`: `<ab>/<64 hex>`.
    static func inner(_ digest: ObjectDigest) -> RelativePath {
        RelativePath.dot.appending(component: digest.fanOut).appending(component: digest.hex)
    }

    /// Two lowercase hex characters: the name of a fan-out folder.
    static func isFanOutName(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// The object's state for a refusal of ``BeneathRoot`` (paths shown relative to the
    /// destination).
    private func state(of refusal: BeneathRoot.Refusal) -> ObjectState {
        let at = RelativePath.dot.appending(component: Self.folderName).appending(refusal.at)
        switch refusal {
        case .missing: return .missing
        case .symbolicLink: return .notRegularFile(at: at, kind: .symbolicLink)
        case .notFolder(_, let kind), .wrongKind(_, let kind, _): return .notRegularFile(at: at, kind: kind)
        case .outside, .failed: return .unreadable("\(at) \(refusal.reason)")
        }
    }

    /// `objects/` opened beneath for reading, or every object's state when it cannot be.
    private enum ObjectsFolder {
        case root(BeneathRoot)
        case unreachable(ObjectState)
    }

    /// `objects/` opened beneath for reading; every object's state when it cannot be (missing,
    /// or not a real folder).
    private func openForReading() -> ObjectsFolder {
        let base = RelativePath.dot.appending(component: Self.folderName)
        switch entryOfFolder() {
        case nil: return .unreachable(.missing)
        case .directory?: break
        case let kind?: return .unreachable(.notRegularFile(at: base, kind: kind))
        }
        do { return .root(try BeneathRoot(folder)) } catch { return .unreachable(.unreadable("\(error)")) }
    }

    /// What `<destination>/objects` is (`lstat`: a link is not followed); nil when nothing is
    /// there.
    private func entryOfFolder() -> BeneathRoot.EntryKind? {
        var info = stat()
        guard lstat(folder.pathString, &info) == 0 else { return nil }
        return BeneathRoot.EntryKind(mode: info.st_mode)
    }

    /// `objects/` opened for listing; nil when it does not exist.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it is something other than a folder.
    private func openFolderForListing() throws -> OpenedFolder? {
        switch entryOfFolder() {
        case nil: return nil
        case .directory?: break
        case let kind?: throw ioError(folder, "is a \(kind.rawValue), not a folder; not followed")
        }
        return try open(BeneathRoot(folder))
    }

    /// `objects/` opened for writing, made (0700) when missing; a new one's name is made durable
    /// with an `fsync` of the destination folder.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it is not a folder or cannot be made.
    private func openFolderForWriting() throws -> OpenedFolder {
        if mkdir(folder.pathString, 0o700) == 0 {
            try Durability.sync(destination.pathString)
        } else if errno != EEXIST {
            throw ioError(folder, "cannot be made: \(errnoText())")
        }
        guard let objects = try openFolderForListing() else { throw ioError(folder, "vanished") }
        return objects
    }

    private func open(_ root: BeneathRoot) throws -> OpenedFolder {
        switch root.openFolder(.dot) {
        case .success(let opened): return opened
        case .failure(let refusal): throw ioError(folder, refusal.reason)
        }
    }

    /// The names in `opened`, or an I/O error naming it.
    private func names(in opened: OpenedFolder) throws -> [String] {
        switch opened.names() {
        case .success(let names): return names
        case .failure(let refusal): throw ioError(destination.appending(component: Self.folderName), "\(refusal)")
        }
    }

    /// Removes (or, in a dry run, measures) `name` in `parent` and records it.
    private func remove(
        _ name: String, in parent: OpenedFolder, shown: RelativePath, kind: GarbageCollection.Kind, dryRun: Bool,
        into report: inout GarbageCollection
    ) {
        switch Self.removeEntry(name, in: parent, dryRun: dryRun, depth: 0) {
        case .success(let bytes): report.removed.append(.init(path: shown, kind: kind, bytes: bytes))
        case .failure(let failure): report.failures.append("\(shown): \(failure.message)")
        }
    }

    /// Removes `name` from `parent` without following a link: a file, link, FIFO or socket with
    /// one `unlinkat`; a folder by removing what it holds first, each subfolder opened
    /// `O_NOFOLLOW`.
    /// - Returns: the apparent bytes removed (the sizes of every non-folder entry), or why not.
    static func removeEntry(_ name: String, in parent: OpenedFolder, dryRun: Bool, depth: Int) -> Result<
        Int64, RemovalFailure
    > {
        let entry: BeneathRoot.Entry
        switch parent.entry(name) {
        case .success(let found): entry = found
        case .failure(.missing): return .success(0)
        case .failure(let refusal): return .failure(RemovalFailure(message: refusal.reason))
        }
        guard entry.kind == .directory else {
            if !dryRun && unlinkat(parent.descriptor, name, 0) != 0 && errno != ENOENT {
                return .failure(RemovalFailure(message: "cannot be removed: \(errnoText())"))
            }
            return .success(entry.size)
        }
        guard depth < removalDepthLimit else {
            return .failure(RemovalFailure(message: "folders nested deeper than \(removalDepthLimit), left alone"))
        }
        let inner: OpenedFolder
        let names: [String]
        switch parent.openFolder(name).flatMap({ folder in folder.names().map { (folder, $0) } }) {
        case .success(let (opened, listed)): (inner, names) = (opened, listed)
        case .failure(let refusal): return .failure(RemovalFailure(message: refusal.reason))
        }
        var bytes: Int64 = 0
        for child in names {
            switch removeEntry(child, in: inner, dryRun: dryRun, depth: depth + 1) {
            case .success(let removed): bytes += removed
            case .failure(let failure): return .failure(RemovalFailure(message: "\(child): \(failure.message)"))
            }
        }
        if !dryRun && unlinkat(parent.descriptor, name, AT_REMOVEDIR) != 0 && errno != ENOENT {
            return .failure(RemovalFailure(message: "cannot be removed: \(errnoText())"))
        }
        return .success(bytes)
    }

    /// Why ``removeEntry(_:in:dryRun:depth:)`` stopped.
    struct RemovalFailure: Error {
        var message: String
    }

    /// Opens the fan-out folder `name` in `objects`, making it (0700) when missing and replacing a
    /// link, file, FIFO or anything else that is not a folder there (removed as itself, never
    /// followed).
    /// - Returns: the open folder and whether it was made now.
    func openFanOut(_ name: String, in objects: OpenedFolder) throws -> (folder: OpenedFolder, made: Bool) {
        var made = false
        switch objects.entry(name) {
        case .success(let entry) where entry.kind == .directory: break
        case .success:
            guard unlinkat(objects.descriptor, name, 0) == 0 || errno == ENOENT else {
                throw ioError(
                    folder.appending(component: name), "is not a folder and cannot be removed: \(errnoText())")
            }
            fallthrough
        case .failure(.missing):
            guard mkdirat(objects.descriptor, name, 0o700) == 0 || errno == EEXIST else {
                throw ioError(folder.appending(component: name), "cannot be made: \(errnoText())")
            }
            made = true
        case .failure(let refusal):
            throw ioError(folder.appending(component: name), refusal.reason)
        }
        switch objects.openFolder(name) {
        case .success(let opened): return (opened, made)
        case .failure(let refusal): throw ioError(folder.appending(component: name), refusal.reason)
        }
    }

    /// `fsync` of an open folder.
    func sync(_ opened: OpenedFolder) throws {
        guard fsync(opened.descriptor) == 0 else {
            throw ioError(
                folder.appending(opened.relative), "cannot be synced to disk: \(errnoText())")
        }
    }

    func ioError(_ path: AbsolutePath, _ message: String) -> RestoreDrillError {
        .io(path: path.pathString, message: message)
    }
}

/// What an existing object must pass to be kept when the same content is put again (nothing is
/// written then); whatever fails is replaced by the new bytes (temporary name, rename over it).
package enum ExistingObjectCheck: Sendable, Equatable {
    /// Kept when it is a regular file of the right size; not a byte is read. Right when
    /// something else vouches for its content (a files cache, a hash read earlier in this run).
    case size
    /// Kept only when it is a regular file of the right size whose SHA-256, read in full, matches
    /// its name.
    case digest
    /// Never kept: the caller knows it is damaged (``ObjectStore/reuse(_:verifyHash:)`` said
    /// so), and the new bytes are renamed over whatever is there.
    case replace
}

/// What ``ObjectStore/put(_:existing:)`` did with the bytes.
package enum PutOutcome: Sendable, Equatable {
    /// Nothing was at the object's path: the object was written.
    case stored
    /// An object passing the ``ExistingObjectCheck`` was there: nothing was written.
    case alreadyPresent
    /// Something that did not pass (or, with ``ExistingObjectCheck/replace``, whatever was
    /// there) was replaced by the new bytes; the state is what the check found
    /// (``ObjectState/ok`` when ``ExistingObjectCheck/replace`` replaced a regular file of the
    /// right size without reading it).
    case replaced(ObjectState)
}

/// An object put into the store.
package struct StoredObject: Sendable, Equatable {
    /// Its digest and size in bytes.
    package var ref: ObjectRef
    /// What was done.
    package var outcome: PutOutcome

    /// - Parameters: as the properties.
    package init(ref: ObjectRef, outcome: PutOutcome) {
        self.ref = ref
        self.outcome = outcome
    }

    /// True when bytes were written under the object's name (stored or replaced): the bytes a
    /// backup adds to the destination.
    package var wroteObject: Bool { outcome != .alreadyPresent }
}

/// What ``ObjectStore/verify(_:)`` or ``ObjectStore/reuse(_:verifyHash:)`` found at an object's
/// path. Everything but ``ok`` and ``missing`` is damage: the object is never trusted and the next
/// backup that needs it writes it again.
package enum ObjectState: Error, Sendable, Equatable, CustomStringConvertible {
    /// A regular file of the recorded size (and, when it was read, of the right SHA-256).
    case ok
    /// Nothing is there (no object, no fan-out folder, or no `objects/`).
    case missing
    /// The object, or a folder on its way (`at`, relative to the destination: `objects`,
    /// `objects/<ab>` or the object itself), is a `kind` (link, FIFO, folder, device, or a file
    /// where a folder belongs): never followed, opened or read.
    case notRegularFile(at: RelativePath, kind: BeneathRoot.EntryKind)
    /// A regular file of `actual` bytes, not the recorded size (truncated or extended).
    case wrongSize(actual: Int64)
    /// A regular file of the right size whose SHA-256 is `actual`, not its name (bit rot, a
    /// swapped object).
    case wrongDigest(actual: ObjectDigest)
    /// It could not be opened or read (the message names the error).
    case unreadable(String)

    /// True for ``ok``.
    package var isIntact: Bool { self == .ok }

    /// True when something is there that is not the object: every case but ``ok`` and
    /// ``missing``.
    package var isDamaged: Bool { self != .ok && self != .missing }

    /// `ok`, `missing`, `objects/ab/… is a symbolic link, not followed`, `is 5 bytes, not the
    /// recorded size`, `has SHA-256 <hex>`, `cannot be read: …`.
    package var description: String {
        switch self {
        case .ok: "ok"
        case .missing: "missing"
        case .notRegularFile(let at, let kind):
            switch kind {
            case .symbolicLink: "\(at) is a symbolic link, not followed"
            case .file: "\(at) is a regular file where a folder belongs"
            default: "\(at) is a \(kind.rawValue), not read"
            }
        case .wrongSize(let actual): "is \(actual) bytes, not the recorded size"
        case .wrongDigest(let actual): "has SHA-256 \(actual), not its name"
        case .unreadable(let message): "cannot be read: \(message)"
        }
    }
}

/// The objects `objects/` holds and the other files in it (``ObjectStore/inventory()``). Sizes are
/// apparent sizes (`st_size`, bytes), what a cloud quota counts.
package struct ObjectInventory: Sendable, Equatable {
    /// Every object: a regular file named by a well-formed digest in its own fan-out folder.
    package var objects: [ObjectDigest: Int64] = [:]
    /// The other regular files directly in `objects/` or in a fan-out folder (temporaries, stray
    /// files, digests in the wrong folder); folders planted there are not descended into.
    package var otherBytes: Int64 = 0

    /// The sum of the objects' sizes.
    package var objectBytes: Int64 { objects.values.reduce(0, +) }
    /// ``objectBytes`` + ``otherBytes``.
    package var totalBytes: Int64 { objectBytes + otherBytes }

    /// - Parameters: as the properties; the default is an empty store.
    package init(objects: [ObjectDigest: Int64] = [:], otherBytes: Int64 = 0) {
        self.objects = objects
        self.otherBytes = otherBytes
    }
}

/// What ``ObjectStore/collectGarbage(referenced:dryRun:now:)`` removed, or would remove in a dry
/// run, and what it left.
package struct GarbageCollection: Sendable, Equatable {
    /// What a removed entry was.
    package enum Kind: String, Sendable, Equatable {
        /// An object no set references.
        case object
        /// A temporary file (`objects/.tmp-*`) at least a day old.
        case temporary
    }

    /// One removed entry.
    package struct Removal: Sendable, Equatable {
        /// Relative to the destination: `objects/<ab>/<64 hex>` or `objects/.tmp-<uuid>`.
        package var path: RelativePath
        package var kind: Kind
        /// Its apparent size in bytes (for a folder planted under that name, the sizes of what it
        /// held).
        package var bytes: Int64

        /// - Parameters: as the properties.
        package init(path: RelativePath, kind: Kind, bytes: Int64) {
            self.path = path
            self.kind = kind
            self.bytes = bytes
        }
    }

    /// True when nothing was removed and ``removed`` says what would have been.
    package var dryRun: Bool
    /// What was (or would be) removed, in name order.
    package var removed: [Removal] = []
    /// Referenced objects found and kept.
    package var keptObjects = 0
    /// Temporary files younger than ``ObjectStore/temporaryMaxAge``, kept (a writer may hold one).
    package var youngTemporaries: [RelativePath] = []
    /// Entries of `objects/` that are no name this store makes, left alone.
    package var unrecognised: [RelativePath] = []
    /// Removals that failed: `<path>: <why>`.
    package var failures: [String] = []

    /// The bytes of ``removed``.
    package var removedBytes: Int64 { removed.reduce(0) { $0 + $1.bytes } }
}

/// A temporary object file being written (``ObjectStore/makeWriter()``): bytes are hashed as they
/// are written, so content of any size streams through with constant memory.
/// ``finish(existing:)`` names and places it; ``discard()`` (or dropping the value) removes the
/// temporary file.
package final class ObjectWriter {
    private let store: ObjectStore
    private let objects: OpenedFolder
    /// The temporary file's name in `objects/`: `.tmp-<uuid>`.
    package let temporaryName: String
    private var descriptor: Int32
    private let hasher = SHA256Hasher()
    /// Bytes written so far.
    package private(set) var size: Int64 = 0
    private var done = false

    init(store: ObjectStore, objects: OpenedFolder, temporaryName: String, descriptor: Int32) {
        self.store = store
        self.objects = objects
        self.temporaryName = temporaryName
        self.descriptor = descriptor
    }

    deinit { discard() }

    /// Appends `bytes` to the object.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` on a write error (a full disk); the
    ///   writer is then discarded.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(!done, "write after finish or discard")
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let message = errnoText()
                discard()
                throw store.ioError(store.folder.appending(component: temporaryName), message)
            }
            offset += n
        }
        hasher.update(bytes)
        size += Int64(bytes.count)
    }

    /// Appends the bytes of `data`.
    /// - Throws: as the other `write(_:)`: ``RestoreDrillError/io(path:message:)`` on a write error.
    package func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// `fsync`s the temporary file and names the object by its SHA-256: when an object of that
    /// digest passes `existing`, the temporary file is removed; otherwise it is renamed over
    /// whatever is there (a folder planted there is removed first), and the fan-out folder is
    /// `fsync`ed (and `objects/` too when the fan-out folder was made now).
    /// - Parameter existing: what an object already there must pass to be kept.
    /// - Returns: the reference and what was done.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file cannot be synced or placed;
    ///   the temporary file is then removed.
    package func finish(existing: ExistingObjectCheck) throws -> StoredObject {
        try finish(existing: existing, inspected: nil)
    }

    /// ``finish(existing:)`` with what a caller found at the object's path for the reference it
    /// computed before writing (not inspected again when the written bytes have that reference).
    func finish(existing: ExistingObjectCheck, inspected: (ObjectRef, ObjectState)?) throws -> StoredObject {
        precondition(!done, "finish after finish or discard")
        defer { discard() }
        let temporary = store.folder.appending(component: temporaryName)
        if store.syncEachObject {
            guard fsync(descriptor) == 0 else { throw store.ioError(temporary, "cannot be synced: \(errnoText())") }
        } else {
            Durability.startWriteback(descriptor)
        }
        close(descriptor)
        descriptor = -1
        let ref = ObjectRef(digest: ObjectDigest(hasher.finalizeHex())!, size: size)
        let found: ObjectState
        if let (known, state) = inspected, known == ref {
            found = state
        } else {
            found = store.inspect(ref, hashing: existing == .digest)
        }
        if found == .ok && existing != .replace { return StoredObject(ref: ref, outcome: .alreadyPresent) }

        let (fanOut, made) = try store.openFanOut(ref.digest.fanOut, in: objects)
        let target = store.folder.appending(component: ref.digest.fanOut).appending(component: ref.digest.hex)
        if case .success(let entry) = fanOut.entry(ref.digest.hex), entry.kind == .directory {
            if case .failure(let failure) = ObjectStore.removeEntry(ref.digest.hex, in: fanOut, dryRun: false, depth: 0)
            {
                throw store.ioError(
                    target, "a folder is in the object's place and cannot be removed: \(failure.message)")
            }
        }
        guard renameat(objects.descriptor, temporaryName, fanOut.descriptor, ref.digest.hex) == 0 else {
            throw store.ioError(target, "cannot be renamed into place: \(errnoText())")
        }
        done = true
        if store.syncEachObject {
            try store.sync(fanOut)
            if made { try store.sync(objects) }
        } else if made {
            // The destination must name a new `objects/` (the folders' own names: syncObjects).
            try store.sync(objects)
        }
        return StoredObject(ref: ref, outcome: found == .missing ? .stored : .replaced(found))
    }

    /// Closes and removes the temporary file (nothing once the object is placed). Safe to call
    /// more than once.
    package func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        if !done {
            unlinkat(objects.descriptor, temporaryName, 0)
            done = true
        }
    }
}

/// `strerror(errno)`.
private func errnoText() -> String { String(cString: strerror(errno)) }
