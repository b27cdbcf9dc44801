import DrillCore
import Foundation
import Vault

/// `set.manifest`: the manifest parses, its format version is supported, and its self-checksum
/// matches (docs/ARCHITECTURE.md, "The checks"); with a vault password, its HMAC matches too.
struct ManifestCheck {
    /// The outcome: the check result, and the manifest when it can be used.
    struct Outcome {
        var result: CheckResult
        /// The manifest when it parses with a matching self-checksum; kept when only its HMAC fails
        /// (the drill goes on, so `credentials.vault` can say whether the password is wrong).
        var manifest: Manifest?
        /// SHA-256 of the manifest.json bytes as read; nil when unreadable.
        var fileSHA256: String?
        /// The manifest HMAC with the given password: true verified, false absent or not matching,
        /// nil not checked (no password).
        var hmacVerified: Bool? = nil
    }

    /// Reads `<setPath>/manifest.json` and checks it.
    /// - Parameters:
    ///   - passwordGiven: whether a vault password was given.
    ///   - keys: the password's keys; with them the manifest HMAC is verified, and a manifest
    ///     without an HMAC fails (deleting it is the easiest forgery).
    static func run(setPath: AbsolutePath, passwordGiven: Bool, keys: VaultKeyCache? = nil) -> Outcome {
        let watch = Stopwatch()
        let folderName = setPath.basename
        let path = setPath.appending(component: Manifest.fileName).pathString
        func fail(_ message: String, _ evidence: [String] = [], sha: String? = nil) -> Outcome {
            Outcome(
                result: CheckResult(
                    check: .setManifest, subject: folderName, verdict: .fail, message: message, evidence: evidence,
                    seconds: watch.seconds),
                manifest: nil, fileSHA256: sha)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return fail("\(Manifest.fileName) is missing or unreadable in \(setPath)")
        }
        let sha = SHA256Digest.hex(of: data)
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(data, path: path)
        } catch {
            return fail("\(error)", ["manifest.json sha256 \(sha)"], sha: sha)
        }
        let subject = manifest.id.description
        var evidence = ["manifest.json sha256 \(sha)", "recorded self-checksum \(manifest.manifestSHA256 ?? "none")"]
        let checksumOK: Bool
        do {
            let computed = try manifest.computedSHA256()
            evidence.append("computed self-checksum \(computed)")
            checksumOK = manifest.manifestSHA256 == computed
        } catch {
            return fail("manifest cannot be re-encoded to verify its checksum: \(error)", evidence, sha: sha)
        }
        var problems: [String] = []
        if manifest.manifestSHA256 == nil {
            problems.append("manifest_sha256 is missing")
        } else if !checksumOK {
            problems.append("self-checksum does not match: the manifest was edited after it was written")
        }
        if let folderID = BackupID(folderName), folderID != manifest.id {
            problems.append("folder \(folderName) holds a manifest of set \(manifest.id)")
        }
        if manifest.restoreScript.isEmpty || manifest.restoreScript.contains("/")
            || manifest.restoreScript.hasPrefix(".")
        {
            problems.append("restore_script \"\(manifest.restoreScript)\" is not a plain file name")
        }
        if !manifest.home.hasPrefix("/") || !manifest.root.hasPrefix("/") {
            problems.append("home and root must be absolute paths (home \(manifest.home), root \(manifest.root))")
        }
        if !problems.isEmpty {
            var out = fail("\(subject): " + problems.joined(separator: "; "), evidence, sha: sha)
            out.result.subject = subject
            return out
        }
        var notes: [String] = []
        var hmacVerified: Bool?
        if let keys {
            var hmacProblem: String?
            if let recorded = manifest.manifestHMAC, let salt = manifest.manifestHMACSalt {
                evidence.append("recorded manifest_hmac \(recorded)")
                do {
                    let key = try keys.key(saltHex: salt, iterations: manifest.hmacIterations, place: path)
                    if try manifest.verifyHMAC(key: key) {
                        notes.append("HMAC verified with the vault password")
                    } else {
                        hmacProblem =
                            "manifest HMAC does not match: wrong password, or the manifest was edited "
                            + "(with its checksum and SHA256SUMS)"
                    }
                } catch {
                    hmacProblem = "manifest HMAC cannot be checked: \(error)"
                }
            } else {
                hmacProblem =
                    "the manifest has no HMAC although a vault password was given: made without a password, "
                    + "or the HMAC was removed"
            }
            hmacVerified = hmacProblem == nil
            if let hmacProblem {
                var out = fail("\(subject): \(hmacProblem)", evidence, sha: sha)
                out.result.subject = subject
                out.manifest = manifest
                out.hmacVerified = false
                return out
            }
        } else if manifest.manifestHMAC != nil {
            notes.append(
                passwordGiven ? "HMAC not verified (password not read)" : "HMAC not verified (no password given)")
        }
        if manifest.status == .partial {
            let failed = manifest.components.filter { $0.status == .failed }.map(\.id.rawValue)
            notes.append("the set is partial (failed: \(failed.joined(separator: ", ")))")
        }
        let message =
            "format \(manifest.formatVersion), self-checksum matches"
            + (notes.isEmpty ? "" : "; " + notes.joined(separator: "; "))
        return Outcome(
            result: CheckResult(
                check: .setManifest, subject: subject, verdict: .pass, message: message, evidence: evidence,
                seconds: watch.seconds),
            manifest: manifest, fileSHA256: sha, hmacVerified: hmacVerified)
    }
}

/// `set.artifacts`: every artifact is present with its recorded size and SHA-256; `SHA256SUMS`
/// agrees with the manifest; no file in the set is unlisted.
struct ArtifactCheck {
    /// One result per artifact, then one for `SHA256SUMS`, then one per unlisted file.
    static func run(setPath: AbsolutePath, manifest: Manifest) -> [CheckResult] {
        assemble(
            setPath: setPath, manifest: manifest, perArtifact: manifest.artifacts.map { check($0, setPath: setPath) })
    }

    /// ``run(setPath:manifest:)`` with the artifacts hashed on every core (``ParallelChecks``);
    /// the same results in the same order.
    static func runConcurrently(setPath: AbsolutePath, manifest: Manifest, meter: ByteMeter? = nil) async
        -> [CheckResult]
    {
        // Largest first, so the longest hash starts early; results are put back in manifest order.
        let order = manifest.artifacts.indices.sorted { manifest.artifacts[$0].size > manifest.artifacts[$1].size }
        let artifacts = manifest.artifacts
        let hashed = await ParallelChecks.map(order) { i in
            let result = check(artifacts[i], setPath: setPath)
            meter?.add(artifacts[i].size)
            return (i, result)
        }
        var perArtifact = [CheckResult?](repeating: nil, count: artifacts.count)
        for (i, result) in hashed { perArtifact[i] = result }
        return assemble(setPath: setPath, manifest: manifest, perArtifact: perArtifact.map { $0! })
    }

    /// The results around the per-artifact ones: a skip for an empty set, `SHA256SUMS`, unlisted files.
    private static func assemble(setPath: AbsolutePath, manifest: Manifest, perArtifact: [CheckResult]) -> [CheckResult]
    {
        var results: [CheckResult] = []
        if manifest.artifacts.isEmpty {
            results.append(
                .noSubject(.setArtifacts, subject: manifest.id.description, reason: "no artifacts in this set"))
        }
        results += perArtifact
        results.append(checkSums(setPath: setPath, manifest: manifest))
        let listed = Set(manifest.artifacts.map(\.path) + [Manifest.fileName, "SHA256SUMS"])
        for file in filesInSet(setPath) where !listed.contains(file) {
            results.append(
                CheckResult(
                    check: .setArtifacts, subject: file, verdict: .fail,
                    message: "\(file): a file in the set that the manifest does not list"))
        }
        return results
    }

    /// Checks one artifact: safe path, present, size, SHA-256.
    static func check(_ artifact: ArtifactRecord, setPath: AbsolutePath) -> CheckResult {
        let watch = Stopwatch()
        func result(_ verdict: Verdict, _ message: String, _ evidence: [String] = []) -> CheckResult {
            CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: verdict, message: message, evidence: evidence,
                seconds: watch.seconds)
        }
        guard let inside = try? RelativePath(validatingBeneath: artifact.path), inside.pathString == artifact.path,
            inside != .dot
        else {
            return result(.fail, "\(artifact.path): artifact path is not a plain relative path inside the set")
        }
        let path = setPath.appending(inside).pathString
        guard let facts = FileFacts.of(path) else {
            return result(.fail, "\(artifact.path): missing from the set")
        }
        guard facts.type == .file else {
            return result(.fail, "\(artifact.path): not a regular file")
        }
        let recorded = ["recorded size \(artifact.size)", "recorded sha256 \(artifact.sha256)"]
        do {
            let (sha, size) = try SHA256Digest.file(at: path)
            let evidence = recorded + ["actual size \(size)", "actual sha256 \(sha)"]
            if size != artifact.size {
                return result(
                    .fail, "\(artifact.path): size \(size) bytes, manifest records \(artifact.size)", evidence)
            }
            if sha != artifact.sha256 {
                return result(.fail, "\(artifact.path): SHA-256 differs from the manifest (content changed)", evidence)
            }
            return result(.pass, "\(Units.humanBytes(size)), SHA-256 matches", evidence)
        } catch {
            return result(.error, "\(artifact.path): cannot be read: \(error)", recorded)
        }
    }

    /// `SHA256SUMS` lists exactly the manifest's artifacts with the same digests.
    static func checkSums(setPath: AbsolutePath, manifest: Manifest) -> CheckResult {
        let watch = Stopwatch()
        func result(_ verdict: Verdict, _ message: String, _ evidence: [String] = []) -> CheckResult {
            CheckResult(
                check: .setArtifacts, subject: "SHA256SUMS", verdict: verdict, message: message, evidence: evidence,
                seconds: watch.seconds)
        }
        guard let data = FileManager.default.contents(atPath: setPath.appending(component: "SHA256SUMS").pathString),
            let text = String(data: data, encoding: .utf8)
        else { return result(.fail, "SHA256SUMS is missing or unreadable") }
        var sums: [String: String] = [:]
        var problems: [String] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            // `sha256sum` format: 64 hex, space, then ` ` (text) or `*` (binary), then the name.
            let chars = Array(line)
            guard chars.count > 66, chars[64] == " ", chars[65] == " " || chars[65] == "*" else {
                problems.append("line \(index + 1) is not in sha256sum format")
                continue
            }
            var name = String(chars[66...])
            if name.hasPrefix("./") { name.removeFirst(2) }
            sums[name] = String(chars[0..<64]).lowercased()
        }
        for artifact in manifest.artifacts {
            if let listed = sums[artifact.path] {
                if listed != artifact.sha256 { problems.append("\(artifact.path): digest differs from the manifest") }
            } else {
                problems.append("\(artifact.path): listed in the manifest, missing from SHA256SUMS")
            }
        }
        let known = Set(manifest.artifacts.map(\.path))
        for name in sums.keys.sorted() where !known.contains(name) {
            problems.append("\(name): in SHA256SUMS, not in the manifest")
        }
        if problems.isEmpty {
            return result(.pass, "\(sums.count) entries agree with the manifest")
        }
        return result(
            .fail, "SHA256SUMS disagrees with the manifest: " + problems.prefix(5).joined(separator: "; "), problems)
    }

    /// Every non-folder entry in the set, relative, `/`-separated.
    static func filesInSet(_ setPath: AbsolutePath) -> [String] {
        var out: [String] = []
        func walk(_ relative: RelativePath) {
            let folder = setPath.appending(relative)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.pathString) else { return }
            for name in names.sorted() {
                // A directory entry's name: one component.
                let rel = relative.appending(component: name)
                if FileFacts.of(folder.appending(component: name).pathString)?.type == .directory {
                    walk(rel)
                } else {
                    out.append(rel.pathString)
                }
            }
        }
        walk(.dot)
        return out
    }
}
