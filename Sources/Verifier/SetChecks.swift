import DrillCore
import Foundation
import Vault

/// `set.manifest`: the manifest parses, its format version is supported, and its self-checksum
/// matches (docs/ARCHITECTURE.md, "The checks"); with a vault password, its HMAC matches too.
struct ManifestCheck {
    /// The outcome: the check result, and the manifest when it can be used.
    struct Outcome: Sendable {
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

    /// Reads `<setPath>/manifest.json` and checks it (``parse(setPath:)``, then, with `keys`,
    /// ``hmacVerdict(of:keys:)``, then ``finish(_:passwordGiven:hmac:)``).
    /// - Parameters:
    ///   - passwordGiven: whether a vault password was given.
    ///   - keys: the password's keys; with them the manifest HMAC is verified, and a manifest
    ///     without an HMAC fails (deleting it is the easiest forgery).
    static func run(setPath: AbsolutePath, passwordGiven: Bool, keys: VaultKeyCache? = nil) -> Outcome {
        let parsed = parse(setPath: setPath)
        let hmac = keys.flatMap { hmacVerdict(of: parsed, keys: $0) }
        return finish(parsed, passwordGiven: passwordGiven, hmac: hmac)
    }

    /// What ``parse(setPath:)`` found: a failure that stops here (``Parsed/failure``), or the
    /// manifest, whose HMAC is still to be judged.
    struct Parsed: Sendable {
        /// The final outcome when the manifest cannot be used at all.
        var failure: Outcome?
        var manifest: Manifest?
        var path: String = ""
        var subject: String = ""
        var sha: String = ""
        var evidence: [String] = []
        var seconds: Double = 0
    }

    /// The manifest HMAC judged with a password: verified, or the finding that says why not; the
    /// evidence line names the recorded HMAC.
    struct HMACVerdict: Sendable {
        var problem: Finding?
        var evidence: [String]
    }

    /// Reads and decodes the manifest and checks everything but its HMAC (no key is derived).
    static func parse(setPath: AbsolutePath) -> Parsed {
        let watch = Stopwatch()
        let folderName = setPath.basename
        let path = setPath.appending(component: Manifest.fileName).pathString
        /// A failure about the folder before the manifest is known: the message is the finding's.
        func fail(_ finding: Finding, _ evidence: [String] = [], sha: String? = nil) -> Parsed {
            var result = CheckResult(
                check: .setManifest, subject: folderName, verdict: .fail, message: finding.message,
                evidence: evidence, seconds: watch.seconds)
            result.findings = [finding]
            return Parsed(failure: Outcome(result: result, manifest: nil, fileSHA256: sha))
        }
        /// A failure about the set `subject`: `<subject>: ` and the findings.
        func fail(_ subject: String, _ findings: [Finding], _ evidence: [String], sha: String) -> Parsed {
            Parsed(
                failure: Outcome(
                    result: CheckResult(
                        check: .setManifest, subject: subject, findings: findings, evidence: evidence,
                        seconds: watch.seconds),
                    manifest: nil, fileSHA256: sha))
        }
        // Read beneath the set folder: a manifest.json that is a link is no manifest.
        guard let data = SetFolder.read(Manifest.fileName, in: setPath) else {
            return fail(.manifestUnreadable(setPath: setPath.pathString))
        }
        let sha = SHA256Digest.hex(of: data)
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(data, path: path)
        } catch {
            return fail(.manifestUndecodable(error), ["manifest.json sha256 \(sha)"], sha: sha)
        }
        let subject = manifest.id.description
        var evidence = ["manifest.json sha256 \(sha)", "recorded self-checksum \(manifest.manifestSHA256 ?? "none")"]
        let computed: String
        do {
            computed = try manifest.computedSHA256()
            evidence.append("computed self-checksum \(computed)")
        } catch {
            return fail(.manifestNotReencodable(error), evidence, sha: sha)
        }
        var problems: [Finding] = []
        if let recorded = manifest.manifestSHA256 {
            if recorded != computed {
                problems.append(.manifestChecksumMismatch(recorded: recorded, computed: computed))
            }
        } else {
            problems.append(.manifestChecksumMissing)
        }
        if let folderID = BackupID(folderName), folderID != manifest.id {
            problems.append(.manifestFolderMismatch(folder: folderName, manifestID: manifest.id.description))
        }
        if manifest.restoreScript.isEmpty || manifest.restoreScript.contains("/")
            || manifest.restoreScript.hasPrefix(".")
        {
            problems.append(.manifestScriptName(manifest.restoreScript))
        }
        if !manifest.home.hasPrefix("/") || !manifest.root.hasPrefix("/") {
            problems.append(.manifestPathsNotAbsolute(home: manifest.home, root: manifest.root))
        }
        if !problems.isEmpty {
            return fail(subject, problems, evidence, sha: sha)
        }
        return Parsed(
            manifest: manifest, path: path, subject: subject, sha: sha, evidence: evidence, seconds: watch.seconds)
    }

    /// Judges the manifest HMAC with the password's keys. Derives the key of the manifest's salt
    /// unless `keys` holds it already (about 0.3 s at the default count): a drill runs this beside
    /// the hashing of the artifacts. Touches nothing of the set but the manifest in memory.
    /// - Returns: nil when ``parse(setPath:)`` found no usable manifest.
    static func hmacVerdict(of parsed: Parsed, keys: VaultKeyCache) -> HMACVerdict? {
        guard parsed.failure == nil, let manifest = parsed.manifest else { return nil }
        guard let recorded = manifest.manifestHMAC, let salt = manifest.manifestHMACSalt else {
            return HMACVerdict(problem: .manifestHMACMissing, evidence: [])
        }
        let evidence = ["recorded manifest_hmac \(recorded)"]
        do {
            let key = try keys.key(saltHex: salt, iterations: manifest.hmacIterations, place: parsed.path)
            let verified = try manifest.verifyHMAC(key: key)
            return HMACVerdict(problem: verified ? nil : .manifestHMACMismatch, evidence: evidence)
        } catch {
            return HMACVerdict(problem: .manifestHMACUncheckable(error), evidence: evidence)
        }
    }

    /// The check's outcome from what ``parse(setPath:)`` found and, with a password, the HMAC verdict.
    /// - Parameters:
    ///   - passwordGiven: whether a vault password was given.
    ///   - hmac: ``hmacVerdict(of:keys:)``, nil when no password's keys were at hand.
    static func finish(_ parsed: Parsed, passwordGiven: Bool, hmac: HMACVerdict?) -> Outcome {
        if let failure = parsed.failure { return failure }
        guard let manifest = parsed.manifest else {
            return Outcome(result: .noSubject(.setManifest, subject: parsed.subject, reason: "no manifest"))
        }
        let watch = Stopwatch()
        var evidence = parsed.evidence
        var notes: [String] = []
        var hmacVerified: Bool?
        if let hmac {
            evidence += hmac.evidence
            hmacVerified = hmac.problem == nil
            if let problem = hmac.problem {
                return Outcome(
                    result: CheckResult(
                        check: .setManifest, subject: parsed.subject, findings: [problem], evidence: evidence,
                        seconds: parsed.seconds + watch.seconds),
                    manifest: manifest, fileSHA256: parsed.sha, hmacVerified: false)
            }
            notes.append("HMAC verified with the vault password")
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
                check: .setManifest, subject: parsed.subject, verdict: .pass, message: message, evidence: evidence,
                seconds: parsed.seconds + watch.seconds),
            manifest: manifest, fileSHA256: parsed.sha, hmacVerified: hmacVerified)
    }
}

/// `set.artifacts`: every artifact is present with its recorded size and SHA-256; `SHA256SUMS`
/// agrees with the manifest; no file in the set is unlisted; every artifact is used by the
/// manifest, every chunk belongs to a database and each database's pieces add up to its size
/// (``ArtifactAccounting``); a missing or empty chunk is named as such.
struct ArtifactCheck {
    /// One result per artifact, then one per database whose pieces do not add up, then one for
    /// `SHA256SUMS`, then one per unlisted file.
    static func run(setPath: AbsolutePath, manifest: Manifest) -> [CheckResult] {
        let accounting = ArtifactAccounting(manifest)
        return assemble(
            setPath: setPath, manifest: manifest, accounting: accounting,
            perArtifact: manifest.artifacts.map {
                check($0, setPath: setPath, chunkOf: accounting.chunkOwners[$0.path])
            })
    }

    /// ``run(setPath:manifest:)`` with the artifacts hashed on every core (``ParallelChecks``);
    /// the same results in the same order.
    /// - Parameter copy: where each artifact's bytes are written as they are hashed (and
    ///   `SHA256SUMS` as read), or nil for none (``VerifiedSetCopy``).
    static func runConcurrently(
        setPath: AbsolutePath, manifest: Manifest, meter: ByteMeter? = nil, copy: VerifiedSetCopy? = nil
    ) async -> [CheckResult] {
        // Largest first, so the longest hash starts early; results are put back in manifest order.
        let order = manifest.artifacts.indices.sorted { manifest.artifacts[$0].size > manifest.artifacts[$1].size }
        let artifacts = manifest.artifacts
        let accounting = ArtifactAccounting(manifest)
        let owners = accounting.chunkOwners
        let hashed = await ParallelChecks.map(order) { i in
            let result = check(artifacts[i], setPath: setPath, chunkOf: owners[artifacts[i].path], copy: copy)
            meter?.add(artifacts[i].size)
            return (i, result)
        }
        var perArtifact = [CheckResult?](repeating: nil, count: artifacts.count)
        for (i, result) in hashed { perArtifact[i] = result }
        return assemble(
            setPath: setPath, manifest: manifest, accounting: accounting, perArtifact: perArtifact.map { $0! },
            copy: copy)
    }

    /// The results around the per-artifact ones (with the accounting's findings merged in): a skip
    /// for an empty set, the databases whose pieces do not add up, `SHA256SUMS`, unlisted files.
    private static func assemble(
        setPath: AbsolutePath, manifest: Manifest, accounting: ArtifactAccounting, perArtifact: [CheckResult],
        copy: VerifiedSetCopy? = nil
    ) -> [CheckResult] {
        var results: [CheckResult] = []
        if manifest.artifacts.isEmpty {
            results.append(
                .noSubject(.setArtifacts, subject: manifest.id.description, reason: "no artifacts in this set"))
        }
        results += perArtifact.map(accounting.merged(into:))
        results += accounting.databaseResults()
        results.append(checkSums(setPath: setPath, manifest: manifest, copy: copy))
        let listed = Set(manifest.artifacts.map(\.path) + [Manifest.fileName, "SHA256SUMS"])
        for file in filesInSet(setPath) where !listed.contains(file) {
            results.append(CheckResult(check: .setArtifacts, subject: file, findings: [.artifactUnlisted]))
        }
        return results
    }

    /// Checks one artifact: safe path, present, size, SHA-256.
    /// - Parameter chunkOf: the restored path of the database the artifact is a chunk of, if it is
    ///   one: a missing or 0-byte chunk is then named as such (``Finding/Code/chunkMissing``,
    ///   ``Finding/Code/chunkEmpty``) rather than as any missing artifact or size mismatch.
    /// - Parameter copy: where the bytes read are written as they are hashed (every byte read,
    ///   whatever the verdict: the replay then meets the same bytes the check judged).
    static func check(
        _ artifact: ArtifactRecord, setPath: AbsolutePath, chunkOf: String? = nil, copy: VerifiedSetCopy? = nil
    ) -> CheckResult {
        let watch = Stopwatch()
        func result(_ verdict: Verdict, _ message: String, _ evidence: [String] = []) -> CheckResult {
            CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: verdict, message: message, evidence: evidence,
                seconds: watch.seconds)
        }
        func failed(_ finding: Finding, _ evidence: [String] = [], verdict: Verdict = .fail) -> CheckResult {
            CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: verdict, findings: [finding],
                evidence: evidence, seconds: watch.seconds)
        }
        guard let inside = try? RelativePath(validatingBeneath: artifact.path), inside.pathString == artifact.path,
            inside != .dot
        else {
            return failed(.artifactPathNotPlain)
        }
        // The set is hostile until proven: an artifact, or a folder on its way, that is a link is
        // not followed (its target's size and digest would otherwise reach the report).
        let file: OpenedFile
        switch (try? BeneathRoot(setPath)).map({ $0.openFile(inside) }) {
        case .success(let opened)?: file = opened
        case .failure(.missing)?, nil:
            return failed(
                chunkOf.map { .chunkMissing(artifact.path, database: $0, whereMissing: "set") } ?? .artifactMissing)
        case .failure(let refusal)?:
            return failed(refusal.at == inside ? .artifactNotRegularFile : .artifactNotFollowed(refusal.description))
        }
        let recorded = ["recorded size \(artifact.size)", "recorded sha256 \(artifact.sha256)"]
        do {
            var info = stat()
            guard fstat(file.descriptor, &info) == 0 else {
                let error = RestoreDrillError.io(path: artifact.path, message: String(cString: strerror(errno)))
                return failed(.artifactUnreadable(error), recorded, verdict: .error)
            }
            // A size that is not the recorded one fails before a byte is read or copied: a planted
            // file of any size (sparse terabytes) costs nothing to judge.
            if Int64(info.st_size) != artifact.size {
                let evidence = recorded + ["actual size \(info.st_size) (not read: the size differs)"]
                if info.st_size == 0, let chunkOf {
                    return failed(.chunkEmpty(artifact.path, database: chunkOf, recorded: artifact.size), evidence)
                }
                return failed(.artifactSizeMismatch(recorded: artifact.size, actual: Int64(info.st_size)), evidence)
            }
            var hasher = SHA256Hasher()
            let executable = (info.st_mode & 0o111) != 0
            var copyProblem: String?
            var size: Int64
            if let copy {
                // The kernel copies the artifact into the replay's private copy (one byte past its
                // recorded size at most, within the copy's budget), and the copy's bytes are what
                // is hashed and judged: exactly the bytes the replay will read.
                switch copy.file(inside, executable: executable, reserving: artifact.size) {
                case .success(let writer):
                    let copied = writer.copyHashing(from: file.descriptor, limit: artifact.size + 1, into: hasher)
                    if let failure = writer.finish() { copyProblem = failure }
                    if let copied, copyProblem == nil {
                        size = copied
                    } else {
                        // No good copy: it goes, and the set's file is judged from its start.
                        unlink(writer.path)
                        hasher = SHA256Hasher()
                        lseek(file.descriptor, 0, SEEK_SET)
                        size = try file.forEachBlock { hasher.update($0) }
                    }
                case .failure(let problem):
                    copyProblem = problem.message
                    size = try file.forEachBlock { hasher.update($0) }
                }
            } else {
                size = try file.forEachBlock { hasher.update($0) }
            }
            let sha = hasher.finalizeHex()
            let evidence = recorded + ["actual size \(size)", "actual sha256 \(sha)"]
            if size != artifact.size {
                if size == 0, let chunkOf {
                    return failed(.chunkEmpty(artifact.path, database: chunkOf, recorded: artifact.size), evidence)
                }
                return failed(.artifactSizeMismatch(recorded: artifact.size, actual: size), evidence)
            }
            if sha != artifact.sha256 {
                return failed(.artifactDigestMismatch(recorded: artifact.sha256, actual: sha), evidence)
            }
            if let copyProblem {
                // The replay would miss this artifact: the check cannot vouch for what it reads.
                return result(
                    .error, "not copied for the replay: \(copyProblem)",
                    evidence + ["could not write the replay's copy: \(copyProblem)"])
            }
            return result(.pass, "\(Units.humanBytes(size)), SHA-256 matches", evidence)
        } catch {
            return failed(.artifactUnreadable(error), recorded, verdict: .error)
        }
    }

    /// `SHA256SUMS` lists exactly the manifest's artifacts with the same digests.
    /// - Parameter copy: where the `SHA256SUMS` read is written, or nil.
    static func checkSums(setPath: AbsolutePath, manifest: Manifest, copy: VerifiedSetCopy? = nil) -> CheckResult {
        let watch = Stopwatch()
        func result(_ verdict: Verdict, _ message: String, _ evidence: [String] = []) -> CheckResult {
            CheckResult(
                check: .setArtifacts, subject: "SHA256SUMS", verdict: verdict, message: message, evidence: evidence,
                seconds: watch.seconds)
        }
        guard let data = SetFolder.read("SHA256SUMS", in: setPath), let text = String(data: data, encoding: .utf8)
        else {
            var out = result(.fail, Finding.sumsUnreadable.message)
            out.findings = [.sumsUnreadable]
            return out
        }
        let notCopied = copy.flatMap { $0.write(data, as: "SHA256SUMS") }
        var sums: [String: String] = [:]
        var problems: [Finding] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            // `sha256sum` format: 64 hex, space, then ` ` (text) or `*` (binary), then the name.
            let chars = Array(line)
            guard chars.count > 66, chars[64] == " ", chars[65] == " " || chars[65] == "*" else {
                problems.append(.sumsBadLine(index + 1))
                continue
            }
            var name = String(chars[66...])
            if name.hasPrefix("./") { name.removeFirst(2) }
            sums[name] = String(chars[0..<64]).lowercased()
        }
        for artifact in manifest.artifacts {
            if let listed = sums[artifact.path] {
                if listed != artifact.sha256 {
                    problems.append(.sumsDigestMismatch(path: artifact.path, listed: listed, recorded: artifact.sha256))
                }
            } else {
                problems.append(.sumsEntryMissing(path: artifact.path))
            }
        }
        let known = Set(manifest.artifacts.map(\.path))
        for name in sums.keys.sorted() where !known.contains(name) {
            problems.append(.sumsEntryExtra(path: name))
        }
        if problems.isEmpty {
            if let notCopied {
                return result(.error, "not copied for the replay: \(notCopied)", ["\(sums.count) entries agree"])
            }
            return result(.pass, "\(sums.count) entries agree with the manifest")
        }
        var out = result(.fail, Finding.sumsMessage(problems), problems.map(\.message))
        out.findings = problems
        return out
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

/// Small files directly in a set folder, read without following a link (the set is hostile
/// until proven: a `manifest.json` or `SHA256SUMS` that is a link names a file outside the set).
enum SetFolder {
    /// The largest such file read: 64 MiB.
    static let limit = 64 << 20

    /// The content of `name` in `setPath`, or nil when it is missing, not a regular file (a link
    /// included), larger than ``limit`` or unreadable.
    static func read(_ name: String, in setPath: AbsolutePath) -> Data? {
        guard let beneath = try? BeneathRoot(setPath),
            let file = try? beneath.openFile(RelativePath.dot.appending(component: name)).get()
        else { return nil }
        return try? file.readAll(limit: limit)
    }
}
