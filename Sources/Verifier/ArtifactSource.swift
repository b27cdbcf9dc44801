import Destination
import DrillCore
import Foundation

/// Where the checks read an artifact's stored bytes, without following a link (the set is hostile
/// until proven, issue 11):
/// - format 1, and the restore script of every format: the file at the artifact's path beneath
///   the set folder (``BeneathRoot``);
/// - format 2: the object ``Manifest/storedPath(of:)`` names, `<set's parent>/objects/<ab>/<sha256>`,
///   opened as ``ObjectStore`` reads objects: `objects` must be a real folder (`lstat`), and the
///   fan-out folder and the object are reached beneath it. A recorded digest that is not 64
///   lowercase hex names no object: no path is built from it.
///
/// The same rules serve a drill's private copy (``VerifiedSetCopy``): its objects are at
/// `<sandbox>/set/objects/`, beside the copy of the set folder, as `export` lays a set out.
struct ArtifactSource: Sendable {
    /// The set folder (format 2: its parent holds `objects/`).
    let setPath: AbsolutePath
    let manifest: Manifest

    /// Why an artifact's bytes could not be opened.
    enum Refusal: Error, Equatable {
        /// The artifact's path is not a plain relative path inside the set.
        case notPlain
        /// Format 2: the recorded digest is not well formed (the value as recorded).
        case malformedDigest(String)
        /// Nothing is there (format 1: in the set folder; format 2: no object).
        case missing
        /// Format 1: the artifact is not a regular file (a link, FIFO, folder, device).
        case notRegularFile
        /// Format 1: a folder on the artifact's way is a link or no folder (the refusal's words).
        case notFollowed(String)
        /// Format 2: the object, its fan-out folder or `objects` is not what it must be (the
        /// ``ObjectState`` description): never followed or opened.
        case objectNotFollowed(String)
        /// It could not be opened (the error's words).
        case unreadable(String)
    }

    /// The set's objects folder: `<set's parent>/objects`.
    var objectStore: ObjectStore { ObjectStore(destination: setPath.parentDirectory) }

    /// True when `artifact` is stored as an object (format 2, every kind but the script).
    func isObject(_ artifact: ArtifactRecord) -> Bool { manifest.isObject(artifact) }

    /// How reports name the object of `artifact`: `objects/<ab>/<sha256>`; nil for a file of the
    /// set folder or a malformed digest.
    func objectName(_ artifact: ArtifactRecord) -> String? {
        manifest.objectDigest(of: artifact).map { "\(ObjectStore.folderName)/\($0.fanOut)/\($0.hex)" }
    }

    /// Opens `artifact`'s stored bytes for reading (nothing is read).
    func open(_ artifact: ArtifactRecord) -> Result<OpenedFile, Refusal> {
        if isObject(artifact) {
            guard let digest = manifest.objectDigest(of: artifact) else {
                return .failure(.malformedDigest(artifact.sha256))
            }
            return objectStore.open(digest).mapError { state in
                switch state {
                case .missing: .missing
                case .notRegularFile: .objectNotFollowed(state.description)
                default: .unreadable(state.description)
                }
            }
        }
        guard let inside = try? RelativePath(validatingBeneath: artifact.path), inside.pathString == artifact.path,
            inside != .dot
        else { return .failure(.notPlain) }
        switch (try? BeneathRoot(setPath)).map({ $0.openFile(inside) }) {
        case .success(let opened)?: return .success(opened)
        case .failure(.missing)?, nil: return .failure(.missing)
        case .failure(let refusal)?:
            return .failure(refusal.at == inside ? .notRegularFile : .notFollowed(refusal.description))
        }
    }

    /// Reads `artifact`'s stored bytes whole, at most `limit` bytes; nil when it cannot be opened
    /// or read, or is larger.
    func read(_ artifact: ArtifactRecord, limit: Int) -> Data? {
        guard case .success(let file) = open(artifact) else { return nil }
        return try? file.readAll(limit: limit)
    }

    /// The artifact the manifest lists at `path` (a LaunchAgent's or the vault's). Format 1 reads
    /// a path the artifact list lacks from the set folder all the same (as it did before it
    /// consulted the list: `set.artifacts` fails such a set anyway); format 2 has no file there
    /// to read, so such a path has no bytes (nil).
    func record(at path: String) -> ArtifactRecord? {
        if let listed = manifest.artifact(path) { return listed }
        guard !manifest.storesObjects else { return nil }
        return ArtifactRecord(path: path, component: .code, kind: .script, size: 0, sha256: "")
    }

    /// The stored bytes of the artifact at `path` (``record(at:)``), at most `limit` bytes; nil when
    /// it has none, cannot be opened or read, or is larger.
    func read(path: String, limit: Int) -> Data? {
        record(at: path).flatMap { read($0, limit: limit) }
    }
}
