import Destination
import DrillCore
import Foundation

/// What `check` found for each object it read in one run: the object store's verdict per
/// reference, each object read in full once however many sets list it (issue 15: `check --all`
/// reads each object once). One value lives for one run; it is not shared between runs, so a later
/// `check` reads everything again.
final class ObjectVerdicts: @unchecked Sendable {
    private let lock = NSLock()
    private var known: [ObjectRef: ObjectState] = [:]
    private var reads = 0
    private let verify: @Sendable (ObjectRef) -> ObjectState

    /// - Parameter verify: reads one object in full (``ObjectStore/verify(_:)``).
    init(verify: @escaping @Sendable (ObjectRef) -> ObjectState) {
        self.verify = verify
    }

    /// The state of `ref`: read now the first time it is asked for, remembered after.
    func state(of ref: ObjectRef) -> ObjectState {
        if let found = lock.withLock({ known[ref] }) { return found }
        let state = verify(ref)
        lock.withLock {
            if known[ref] == nil { reads += 1 }
            known[ref] = state
        }
        return state
    }

    /// Objects read in full so far (distinct references).
    var objectsRead: Int { lock.withLock { reads } }

    /// The references read whose state is not ``ObjectState/ok``, in digest order.
    var damaged: [(ref: ObjectRef, state: ObjectState)] {
        lock.withLock { known.filter { $0.value != .ok }.map { ($0.key, $0.value) } }
            .sorted { ($0.ref.digest, $0.ref.size) < ($1.ref.digest, $1.ref.size) }
    }
}

/// `set.artifacts` of a format-2 set, read through the run's ``ObjectVerdicts``: every object the
/// manifest lists is intact in the destination's `objects/`, the restore script is in the set
/// folder with its recorded size and SHA-256, `SHA256SUMS` is what the manifest renders, and the
/// set folder holds nothing else. Nothing is followed: the set folder is read beneath its root
/// without links (``BeneathRoot``), objects as ``ObjectStore`` reads them.
enum ObjectReadBack {
    /// The results, in manifest artifact order, then `SHA256SUMS`, then one per unlisted file.
    /// - Parameters:
    ///   - setPath: the set folder.
    ///   - manifest: its trusted manifest (format 2).
    ///   - verdicts: the run's object verdicts.
    ///   - users: the sets of the destination that list each object (named in a failure).
    static func check(
        setPath: AbsolutePath, manifest: Manifest, verdicts: ObjectVerdicts, users: [ObjectDigest: [BackupID]]
    ) -> [CheckResult] {
        let root = try? BeneathRoot(setPath)
        var results: [CheckResult] = []
        if manifest.artifacts.isEmpty {
            results.append(
                .noSubject(.setArtifacts, subject: manifest.id.description, reason: "no artifacts in this set"))
        }
        for artifact in manifest.artifacts {
            let started = Date()
            var result: CheckResult
            if manifest.isObject(artifact) {
                result = objectResult(artifact, manifest: manifest, verdicts: verdicts, users: users)
            } else {
                result = folderFileResult(artifact, root: root)
            }
            result.seconds = Date().timeIntervalSince(started)
            results.append(result)
        }
        results.append(checksumListResult(manifest: manifest, root: root))
        let listed = Set(
            manifest.artifacts.filter { !manifest.isObject($0) }.map(\.path) + [
                Manifest.fileName, Manifest.checksumListFileName,
            ])
        if case .success(let names)? = root?.names(in: .dot) {
            for name in names.sorted() where !listed.contains(name) {
                // A sync client's conflict copy (`manifest (2).json`) is named for what it is.
                if let copy = SyncedFolderScan.copyInSet(name, listed: listed) {
                    let found = SyncConflictCopy(
                        path: "\(manifest.id)/\(copy.path)", original: "\(manifest.id)/\(copy.original)",
                        rule: copy.rule, place: .setFile, setID: manifest.id.description)
                    results.append(CheckResult(check: .setArtifacts, subject: name, findings: [found.finding]))
                    continue
                }
                results.append(
                    CheckResult(
                        check: .setArtifacts, subject: name, verdict: .fail,
                        message: "not listed in the manifest: a format-2 set folder holds only manifest.json, "
                            + "SHA256SUMS and its restore script"))
            }
        }
        return results
    }

    /// One object artifact: its object read (once per run) and judged.
    static func objectResult(
        _ artifact: ArtifactRecord, manifest: Manifest, verdicts: ObjectVerdicts, users: [ObjectDigest: [BackupID]]
    ) -> CheckResult {
        guard let digest = manifest.objectDigest(of: artifact) else {
            return CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: .fail,
                message: "recorded sha256 \"\(artifact.sha256)\" is not 64 lowercase hex: it names no object")
        }
        let ref = ObjectRef(digest: digest, size: artifact.size)
        let path = "objects/\(digest.fanOut)/\(digest.hex)"
        let state = verdicts.state(of: ref)
        guard state != .ok else {
            return CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: .pass,
                message: "object \(path) intact (\(artifact.size) bytes, SHA-256 matches)",
                evidence: ["object \(path)"])
        }
        let sets = (users[digest] ?? [manifest.id]).map(\.description)
        return CheckResult(
            check: .setArtifacts, subject: artifact.path, verdict: .fail,
            message: "object \(path) \(describe(state)); it is used by \(sets.count) set(s): "
                + sets.joined(separator: ", "),
            evidence: ["object \(path)", "recorded size \(artifact.size)"])
    }

    /// How a failure names an object's state.
    static func describe(_ state: ObjectState) -> String {
        switch state {
        case .missing: "is missing"
        case .wrongSize(let actual): "is \(actual) bytes, not the recorded size"
        default: "is damaged: \(state)"
        }
    }

    /// A file of the set folder (the restore script): present, a regular file (no link
    /// followed), with its recorded size and SHA-256.
    static func folderFileResult(_ artifact: ArtifactRecord, root: BeneathRoot?) -> CheckResult {
        func fail(_ message: String) -> CheckResult {
            CheckResult(check: .setArtifacts, subject: artifact.path, verdict: .fail, message: message)
        }
        guard let root, let relative = try? RelativePath(validatingBeneath: artifact.path),
            relative.pathString == artifact.path, relative != .dot
        else { return fail("not a plain path inside the set folder") }
        switch root.openFile(relative) {
        case .failure(let refusal): return fail("cannot be read: \(refusal)")
        case .success(let file):
            guard file.entry.size == artifact.size else {
                return fail("is \(file.entry.size) bytes, not the recorded \(artifact.size)")
            }
            let hasher = SHA256Hasher()
            do { try file.forEachBlock { hasher.update($0) } } catch { return fail("cannot be read: \(error)") }
            let actual = hasher.finalizeHex()
            guard actual == artifact.sha256 else { return fail("has SHA-256 \(actual), not the recorded one") }
            return CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: .pass,
                message: "\(artifact.size) bytes, SHA-256 matches")
        }
    }

    /// `SHA256SUMS` holds exactly what the manifest renders (``Manifest/renderedChecksumList()``).
    static func checksumListResult(manifest: Manifest, root: BeneathRoot?) -> CheckResult {
        let subject = Manifest.checksumListFileName
        guard let root, case .success(let file) = root.openFile(RelativePath.dot.appending(component: subject)),
            let data = try? file.readAll(limit: 64 << 20)
        else {
            return CheckResult(check: .setArtifacts, subject: subject, verdict: .fail, message: "missing or unreadable")
        }
        guard data == manifest.renderedChecksumList() else {
            return CheckResult(
                check: .setArtifacts, subject: subject, verdict: .fail,
                message: "does not list what the manifest does")
        }
        return CheckResult(check: .setArtifacts, subject: subject, verdict: .pass, message: "agrees with the manifest")
    }
}
