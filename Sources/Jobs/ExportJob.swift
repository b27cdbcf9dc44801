import Destination
import DrillCore
import Foundation
import Vault

/// `restore-drill export ID DIR`: one set, with every object it needs, written into a folder that
/// restores on its own (a USB stick, an air-gapped copy) and that `drill --set DIR/<id>` drills.
///
/// Layout written (docs/SET-FORMAT.md, "Export"):
/// ```
/// DIR/<id>/manifest.json, SHA256SUMS, restore_<name>.sh   format 2: the set folder's three files
/// DIR/<id>/…                                             format 1: every artifact the manifest lists
/// DIR/objects/<ab>/<64 hex>                              format 2: every object the set lists
/// ```
/// **Trust.** The manifest is judged before a byte is written: it decodes, names the set, its
/// self-checksum matches, and with a vault password configured its HMAC verifies with one of the
/// passwords (``SetTrust``), as a drill requires before it hands a set any secret. Every file is
/// read beneath the set folder or `objects/` without following a link (``BeneathRoot``), and every
/// byte exported is hashed as it is copied and compared with the manifest (objects by their name
/// and recorded size, the restore script and format-1 artifacts by their records, `SHA256SUMS`
/// with what the manifest renders): a set that does not match is not exported.
///
/// **What an interrupted export leaves.** Objects are written first, each under a temporary name
/// (`DIR/objects/.tmp-<uuid>`), synced and renamed into place (an object there already is kept
/// when its bytes match its name, written again otherwise); then the set folder is built as
/// `DIR/.partial-<id>` and renamed to `DIR/<id>` last. So a killed export never leaves anything
/// named `DIR/<id>`: at most a `.partial-<id>` (removed by the next export of that set), temporary
/// files and complete objects. `DIR/<id>` that exists already is never written over.
public struct ExportJob: Sendable {
    public let config: RestoreDrillConfig
    /// With a vault password configured: the set must be authenticated (``SetTrust``).
    public var authenticator: SetAuthenticator?
    /// Where the set is; defaults to the ``LocalDestination`` of `config.destination`.
    public var destination: any Destination
    /// The destination's shared objects; defaults to the ``ObjectStore`` of `config.destination`.
    package var objectStore: ObjectStore?
    /// Called before each write of the export (an object, a file of the set folder, the final
    /// rename): a test seam that throws ``Interrupted`` to stop the export there, as a kill
    /// would (nothing is cleaned up then). nil in production.
    package var beforeStep: (@Sendable (Step) throws -> Void)?
    /// Folder a relative `DIR` resolves against.
    public var currentDirectory = FileManager.default.currentDirectoryPath

    /// One write of an export (``beforeStep``).
    package enum Step: Sendable, Equatable {
        /// The object with this digest is written into `DIR/objects/`.
        case object(ObjectDigest)
        /// This file of the set folder is written into `DIR/.partial-<id>/` (relative to the set).
        case file(String)
        /// `DIR/.partial-<id>` is renamed to `DIR/<id>`.
        case publish
    }

    /// What a test's ``beforeStep`` throws to stop an export as a kill would.
    package struct Interrupted: Error {
        package init() {}
    }

    public init(config: RestoreDrillConfig) {
        self.config = config
        destination = LocalDestination(path: config.destination)
        objectStore = ObjectStore(destination: LocalDestination(path: config.destination).folder)
    }

    /// What was exported (`--json`: format `restore-drill/export`).
    public struct Outcome: Codable, Sendable, Equatable {
        public var format = "restore-drill/export"
        public var formatVersion = 1
        /// The set's id.
        public var id: String
        /// The exported set folder, `DIR/<id>` (absolute).
        public var setPath: String
        /// The set's `format_version` (1 or 2).
        public var setFormatVersion: Int
        /// Whether the manifest HMAC verified with a configured vault password (false: none is
        /// configured, so the set was not authenticated; a set that fails is never exported).
        public var authenticated: Bool
        /// Objects written into `DIR/objects/` (format 2).
        public var objectsWritten: Int
        /// Objects found in `DIR/objects/` already with the right bytes, kept (format 2).
        public var objectsPresent: Int
        /// Bytes written: objects, and the set folder's files. Bytes.
        public var bytesWritten: Int64

        enum CodingKeys: String, CodingKey {
            case format, id, authenticated
            case formatVersion = "format_version"
            case setPath = "set_path"
            case setFormatVersion = "set_format_version"
            case objectsWritten = "objects_written"
            case objectsPresent = "objects_present"
            case bytesWritten = "bytes_written"
        }

        /// The lines a person reads.
        public var text: String {
            var lines = ["exported \(id) (format \(setFormatVersion)) to \(setPath)"]
            if setFormatVersion >= 2 {
                lines.append(
                    "  objects: \(objectsWritten) written, \(objectsPresent) already there with the right bytes")
            }
            lines.append("  \(Units.humanBytes(bytesWritten)) (\(bytesWritten) bytes) written")
            lines.append("  authenticated: \(authenticated ? "yes" : "no (no vault password configured)")")
            lines.append("  drill it with: restore-drill drill --set \(setPath)")
            return lines.joined(separator: "\n")
        }
    }

    /// Exports set `id` into `dir` (made when missing; its parent must exist).
    /// - Throws: ``RestoreDrillError/setNotFound(_:)``; ``RestoreDrillError/alreadyExists(path:message:)``
    ///   when `DIR/<id>` exists; ``RestoreDrillError/invalidSet(path:message:)`` when the manifest
    ///   cannot be trusted or a byte does not match it (naming the file or object);
    ///   ``RestoreDrillError/io(path:message:)`` when something cannot be read or written;
    ///   ``RestoreDrillError/lockHeld(path:pid:)`` while a prune runs.
    public func run(id: String, to dir: String) throws -> Outcome {
        let lock = try destination.lock(.shared)
        defer { lock?.release() }
        let set = try SetCatalogue(destination).byID(id)
        let opened = try destination.openSet(id: set.id)
        defer { opened.close() }
        let source = try BeneathRoot(opened.folder)
        let (manifest, manifestBytes) = try trustedManifest(in: source, folder: opened.folder, id: set.id)
        let authenticated: Bool
        if let authenticator, authenticator.isActive {
            switch authenticator.authenticate(manifest) {
            case .verified: authenticated = true
            case .unauthenticated(let reason):
                throw RestoreDrillError.invalidSet(
                    path: opened.folder.pathString,
                    message: "not exported: the manifest is not authenticated (\(reason))")
            case .notChecked:
                throw RestoreDrillError.invalidSet(
                    path: opened.folder.pathString, message: "not exported: the manifest could not be authenticated")
            }
        } else {
            authenticated = false
        }

        let target = try AbsolutePath(dir, relativeTo: AbsolutePath(validating: currentDirectory))
        try Self.makeFolder(target)
        let final = target.appending(component: set.id.description)
        if Self.exists(final) {
            throw RestoreDrillError.alreadyExists(
                path: final.pathString, message: "exists already; export never writes over a set")
        }
        var outcome = Outcome(
            id: set.id.description, setPath: final.pathString, setFormatVersion: manifest.formatVersion,
            authenticated: authenticated, objectsWritten: 0, objectsPresent: 0, bytesWritten: 0)

        if manifest.storesObjects {
            try exportObjects(of: manifest, into: ObjectStore(destination: target), outcome: &outcome)
        }

        let partialName = ".partial-\(set.id)"
        let partial = target.appending(component: partialName)
        if Self.exists(partial) {
            do { try FileManager.default.removeItem(atPath: partial.pathString) } catch {
                throw RestoreDrillError.io(
                    path: partial.pathString, message: "a killed export's leftover cannot be removed: \(error)")
            }
        }
        guard mkdir(partial.pathString, 0o700) == 0 else {
            throw RestoreDrillError.io(path: partial.pathString, message: "cannot be made: \(Self.errnoText())")
        }
        do {
            try writeSetFolder(
                manifest: manifest, manifestBytes: manifestBytes, source: source, into: partial, outcome: &outcome)
            // The restore script is 0700, as in the destination (README: a set is private, its script
            // executable by its owner).
            chmod(partial.appending(component: manifest.restoreScript).pathString, 0o700)
            try beforeStep?(.publish)
            try Durability.sync(partial.pathString)
            // rename(2) would replace an empty folder made at `final` meanwhile: look again first.
            if Self.exists(final) {
                throw RestoreDrillError.alreadyExists(
                    path: final.pathString, message: "appeared during the export; export never writes over a set")
            }
            guard rename(partial.pathString, final.pathString) == 0 else {
                throw RestoreDrillError.io(
                    path: final.pathString, message: "cannot be renamed into place: \(Self.errnoText())")
            }
            try Durability.sync(target.pathString)
        } catch let error where !(error is Interrupted) {
            try? FileManager.default.removeItem(atPath: partial.pathString)
            throw error
        }
        return outcome
    }

    /// Reads `manifest.json` beneath the set folder and judges it: it decodes, names `id`, its
    /// self-checksum matches, and its script name and artifact paths stay inside the set.
    /// - Returns: the manifest and the exact bytes read (what is exported).
    func trustedManifest(
        in source: BeneathRoot, folder: AbsolutePath, id: BackupID, refusal: String = "not exported"
    ) throws -> (Manifest, Data) {
        let path = folder.appending(component: Manifest.fileName).pathString
        func refuse(_ why: String) -> RestoreDrillError {
            RestoreDrillError.invalidSet(path: path, message: "\(refusal): \(why)")
        }
        guard case .success(let file) = source.openFile(RelativePath.dot.appending(component: Manifest.fileName)) else {
            throw refuse("manifest.json is missing, unreadable or not a regular file")
        }
        let bytes = try file.readAll(limit: 512 << 20)
        let manifest = try Manifest.decode(bytes, path: path)
        guard manifest.id == id else { throw refuse("the manifest names \(manifest.id), not the folder's id") }
        guard (try? manifest.verifySelfChecksum()) == true else {
            throw refuse("the manifest self-checksum does not match")
        }
        let script = manifest.restoreScript
        guard !script.isEmpty, !script.contains("/"), !script.hasPrefix(".") else {
            throw refuse("the restore script's name \"\(script)\" is not a plain file name")
        }
        for artifact in manifest.artifacts where !manifest.isObject(artifact) {
            guard let relative = try? RelativePath(validatingBeneath: artifact.path),
                relative.pathString == artifact.path, relative != .dot,
                artifact.path != Manifest.fileName, artifact.path != Manifest.checksumListFileName
            else { throw refuse("artifact path \"\(artifact.path)\" is not a plain path inside the set") }
        }
        return (manifest, bytes)
    }

    /// Copies every object `manifest` lists into `store` (the export's `objects/`), each hashed
    /// as it is read and written under a temporary name, renamed into place only when its bytes
    /// have its name and recorded size.
    func exportObjects(of manifest: Manifest, into store: ObjectStore, outcome: inout Outcome) throws {
        guard let sourceStore = objectStore else {
            throw RestoreDrillError.io(path: destination.location, message: "no objects folder to export from")
        }
        for artifact in manifest.artifacts
        where manifest.isObject(artifact) && manifest.objectDigest(of: artifact) == nil {
            throw RestoreDrillError.invalidSet(
                path: artifact.path, message: "not exported: recorded sha256 \"\(artifact.sha256)\" names no object")
        }
        var info = stat()
        guard lstat(sourceStore.folder.pathString, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw RestoreDrillError.io(path: sourceStore.folder.pathString, message: "is missing or not a folder")
        }
        let objects = try BeneathRoot(sourceStore.folder)
        for ref in manifest.objectRefs() {
            try beforeStep?(.object(ref.digest))
            if store.reuse(ref, verifyHash: true) == .ok {
                outcome.objectsPresent += 1
                continue
            }
            let shown = "objects/\(ref.digest.fanOut)/\(ref.digest.hex)"
            let inner = RelativePath.dot.appending(component: ref.digest.fanOut).appending(component: ref.digest.hex)
            let file: OpenedFile
            switch objects.openFile(inner) {
            case .success(let opened): file = opened
            case .failure(let refusal):
                throw RestoreDrillError.invalidSet(path: shown, message: "not exported: the object \(refusal)")
            }
            guard file.entry.size == ref.size else {
                throw RestoreDrillError.invalidSet(
                    path: shown,
                    message: "not exported: the object is \(file.entry.size) bytes, not the recorded \(ref.size)")
            }
            let writer = try store.makeWriter()
            let hasher = SHA256Hasher()
            let read = try file.forEachBlock { block in
                hasher.update(block)
                try writer.write(block)
            }
            let actual = hasher.finalizeHex()
            guard read == ref.size, actual == ref.digest.hex else {
                writer.discard()
                throw RestoreDrillError.invalidSet(
                    path: shown, message: "not exported: the object's bytes have SHA-256 \(actual) (\(read) bytes)")
            }
            _ = try writer.finish(existing: .replace)
            outcome.objectsWritten += 1
            outcome.bytesWritten += read
        }
    }

    /// Writes the set folder's files into `partial`: `manifest.json` (the bytes judged),
    /// `SHA256SUMS` (checked equal to what the manifest renders), and every artifact kept in the
    /// set folder (format 2: the restore script; format 1: every artifact), each hashed as it is
    /// copied and compared with its record.
    func writeSetFolder(
        manifest: Manifest, manifestBytes: Data, source: BeneathRoot, into partial: AbsolutePath,
        outcome: inout Outcome
    ) throws {
        let sumsName = Manifest.checksumListFileName
        guard case .success(let sumsFile) = source.openFile(RelativePath.dot.appending(component: sumsName)),
            let sums = try? sumsFile.readAll(limit: 64 << 20)
        else {
            throw RestoreDrillError.invalidSet(path: sumsName, message: "not exported: missing or unreadable")
        }
        guard sums == manifest.renderedChecksumList() else {
            throw RestoreDrillError.invalidSet(
                path: sumsName, message: "not exported: it does not list what the manifest does")
        }
        for artifact in manifest.artifacts where !manifest.isObject(artifact) {
            try beforeStep?(.file(artifact.path))
            let relative = try RelativePath(validatingBeneath: artifact.path)
            let file: OpenedFile
            switch source.openFile(relative) {
            case .success(let opened): file = opened
            case .failure(let refusal):
                throw RestoreDrillError.invalidSet(path: artifact.path, message: "not exported: \(refusal)")
            }
            guard file.entry.size == artifact.size else {
                throw RestoreDrillError.invalidSet(
                    path: artifact.path,
                    message: "not exported: \(file.entry.size) bytes, not the recorded \(artifact.size)")
            }
            let destination = partial.appending(relative)
            try Self.makeFolders(from: partial, to: destination.parentDirectory)
            let hasher = SHA256Hasher()
            let written = try Self.writeFile(at: destination) { write in
                try file.forEachBlock { block in
                    hasher.update(block)
                    try write(block)
                }
            }
            let actual = hasher.finalizeHex()
            guard written == artifact.size, actual == artifact.sha256 else {
                throw RestoreDrillError.invalidSet(
                    path: artifact.path, message: "not exported: its bytes have SHA-256 \(actual), not the recorded one"
                )
            }
            outcome.bytesWritten += written
        }
        for (name, bytes) in [(sumsName, sums), (Manifest.fileName, manifestBytes)] {
            try beforeStep?(.file(name))
            outcome.bytesWritten += try Self.writeFile(at: partial.appending(component: name)) { write in
                try bytes.withUnsafeBytes { try write($0) }
                return Int64(bytes.count)
            }
        }
    }

    /// Makes a new file (0600, `O_EXCL | O_NOFOLLOW`), fills it with `body`, `fsync`s it.
    /// - Returns: what `body` returns (the bytes written).
    static func writeFile(
        at path: AbsolutePath, _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Int64
    ) throws -> Int64 {
        let fd = open(path.pathString, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path.pathString, message: errnoText()) }
        defer { close(fd) }
        let written = try body { block in
            var done = 0
            while done < block.count {
                let n = write(fd, block.baseAddress! + done, block.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RestoreDrillError.io(path: path.pathString, message: errnoText())
                }
                done += n
            }
        }
        guard fsync(fd) == 0 else {
            throw RestoreDrillError.io(path: path.pathString, message: "cannot be synced: \(errnoText())")
        }
        return written
    }

    /// Makes `folder` (0700) when missing; its parent must exist.
    static func makeFolder(_ folder: AbsolutePath) throws {
        if mkdir(folder.pathString, 0o700) == 0 || errno == EEXIST {
            var info = stat()
            guard stat(folder.pathString, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw RestoreDrillError.io(path: folder.pathString, message: "is not a folder")
            }
            return
        }
        throw RestoreDrillError.io(path: folder.pathString, message: "cannot be made: \(errnoText())")
    }

    /// Makes the folders from `base` (which exists) down to `folder` (0700 each), refusing one that
    /// is a link.
    static func makeFolders(from base: AbsolutePath, to folder: AbsolutePath) throws {
        guard folder != base, folder.isDescendant(of: base) else { return }
        try makeFolders(from: base, to: folder.parentDirectory)
        if mkdir(folder.pathString, 0o700) != 0 {
            var info = stat()
            guard errno == EEXIST, lstat(folder.pathString, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw RestoreDrillError.io(path: folder.pathString, message: "cannot be made: \(errnoText())")
            }
        }
    }

    /// Whether anything (a link included, not followed) is at `path`.
    static func exists(_ path: AbsolutePath) -> Bool {
        var info = stat()
        return lstat(path.pathString, &info) == 0
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
