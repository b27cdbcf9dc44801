import Destination
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
        /// The `manifest.json` bytes as read (what a format-2 drill's private copy holds).
        var data = Data()
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
            manifest: manifest, path: path, subject: subject, sha: sha, evidence: evidence, seconds: watch.seconds,
            data: data)
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
/// manifest, every chunk belongs to a database and (format 1) each database's pieces add up to its
/// size (``ArtifactAccounting``); a missing or empty chunk is named as such.
///
/// Format 2 (issue 15): an artifact's bytes are the object its digest names (``ArtifactSource``),
/// read without following a link; a malformed digest fails without a path being built. Artifacts
/// that record one object (same digest and size) are read and hashed once (one *unit*), and each
/// artifact gets its own result naming the object and every artifact using it. The set folder
/// holds only `manifest.json`, `SHA256SUMS` and the restore script: anything else is unlisted.
struct ArtifactCheck {
    /// The artifacts (indices into the manifest's list) read together: one format-1 artifact, or
    /// every format-2 artifact recording the same object with the same size (a digest recorded
    /// with two sizes makes two units, and at most one of them matches the object's size). An
    /// artifact with a malformed digest is a unit of its own. In manifest order of first use.
    static func units(_ manifest: Manifest) -> [[Int]] {
        var out: [[Int]] = []
        var byObject: [String: Int] = [:]
        for (i, artifact) in manifest.artifacts.enumerated() {
            if let digest = manifest.objectDigest(of: artifact) {
                let key = "\(digest.hex) \(artifact.size)"
                if let unit = byObject[key] {
                    out[unit].append(i)
                    continue
                }
                byObject[key] = out.count
            }
            out.append([i])
        }
        return out
    }

    /// The bytes ``runConcurrently(setPath:manifest:meter:copy:)`` reads: each unit once (format 2:
    /// a shared object once).
    /// - Parameter selected: as in ``runConcurrently(setPath:manifest:meter:copy:selected:)``.
    static func bytesToRead(_ manifest: Manifest, selected: Set<String>? = nil) -> Int64 {
        units(manifest, selected: selected).reduce(0) { $0 + manifest.artifacts[$1[0]].size }
    }

    /// ``units(_:)``, only those holding an artifact whose path `selected` lists (nil: all).
    static func units(_ manifest: Manifest, selected: Set<String>?) -> [[Int]] {
        guard let selected else { return units(manifest) }
        return units(manifest).filter { unit in unit.contains { selected.contains(manifest.artifacts[$0].path) } }
    }

    /// One result per artifact, then one per database whose pieces do not add up, then one for
    /// `SHA256SUMS`, then one per unlisted file.
    static func run(setPath: AbsolutePath, manifest: Manifest) -> [CheckResult] {
        let accounting = ArtifactAccounting(manifest)
        let source = ArtifactSource(setPath: setPath, manifest: manifest)
        var perArtifact = [CheckResult?](repeating: nil, count: manifest.artifacts.count)
        for unit in units(manifest) {
            for (i, result) in check(unit: unit, source: source, owners: accounting.chunkOwners) {
                perArtifact[i] = result
            }
        }
        return assemble(
            setPath: setPath, manifest: manifest, accounting: accounting, perArtifact: perArtifact.map { $0! })
    }

    /// ``run(setPath:manifest:)`` with the artifacts hashed on every core (``ParallelChecks``);
    /// the same results in the same order.
    /// - Parameter copy: where each artifact's bytes are written as they are hashed (and
    ///   `SHA256SUMS` as read), or nil for none (``VerifiedSetCopy``); format 2 writes each
    ///   distinct object once, beside the copy of the set folder.
    /// - Parameter selected: a drill of some parts (issue 17): the artifact paths to read, hash and
    ///   copy (the parts' and the script); the others get no result. `SHA256SUMS` and the set
    ///   folder are judged against the whole manifest all the same. Nil: every artifact.
    static func runConcurrently(
        setPath: AbsolutePath, manifest: Manifest, meter: ByteMeter? = nil, copy: VerifiedSetCopy? = nil,
        selected: Set<String>? = nil
    ) async -> [CheckResult] {
        let artifacts = manifest.artifacts
        // Largest first, so the longest hash starts early; results are put back in manifest order.
        let order = units(manifest, selected: selected).sorted { artifacts[$0[0]].size > artifacts[$1[0]].size }
        let accounting = ArtifactAccounting(manifest)
        let owners = accounting.chunkOwners
        let source = ArtifactSource(setPath: setPath, manifest: manifest)
        let hashed = await ParallelChecks.map(order) { unit in
            let results = check(unit: unit, source: source, owners: owners, copy: copy)
            meter?.add(artifacts[unit[0]].size)
            return results
        }
        var perArtifact = [CheckResult?](repeating: nil, count: artifacts.count)
        for (i, result) in hashed.joined() { perArtifact[i] = result }
        return assemble(
            setPath: setPath, manifest: manifest, accounting: accounting, perArtifact: perArtifact.compactMap { $0 },
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
        // Format 2: the set folder holds only the manifest, SHA256SUMS and the files that are no
        // object (the restore script); a `code.tar.gz` or a chunk there is unlisted.
        let inFolder = manifest.artifacts.filter { !manifest.isObject($0) }.map(\.path)
        let listed = Set(inFolder + [Manifest.fileName, Manifest.checksumListFileName])
        results += unlistedResults(
            filesInSet(setPath).filter { !listed.contains($0) }, listed: listed, setID: manifest.id.description)
        return results
    }

    /// One failing `set.artifacts` result per file of a set folder that the set does not list:
    /// `artifact.unlisted`, or, for a sync client's conflict copy of a listed file or folder
    /// (``SyncedFolderScan/copyInSet(_:listed:)``), `sync.conflict_copy` naming the copy and its
    /// original (one result for a copied folder, whatever it holds).
    /// - Parameters:
    ///   - unlisted: the files, relative to the set folder, `/`-separated.
    ///   - listed: what the folder should hold, relative to it.
    ///   - setID: the set's id (the finding names paths relative to the destination).
    package static func unlistedResults(_ unlisted: [String], listed: Set<String>, setID: String) -> [CheckResult] {
        var results: [CheckResult] = []
        var copies: Set<String> = []
        for file in unlisted {
            guard let copy = SyncedFolderScan.copyInSet(file, listed: listed) else {
                results.append(CheckResult(check: .setArtifacts, subject: file, findings: [.artifactUnlisted]))
                continue
            }
            guard copies.insert(copy.path).inserted else { continue }
            let found = SyncConflictCopy(
                path: "\(setID)/\(copy.path)", original: "\(setID)/\(copy.original)", rule: copy.rule,
                place: .setFile, setID: setID)
            results.append(CheckResult(check: .setArtifacts, subject: copy.path, findings: [found.finding]))
        }
        return results
    }

    /// What reading one unit's bytes found.
    enum Reading {
        /// Not opened (nothing was read).
        case refused(ArtifactSource.Refusal)
        /// Opened, but its size (bytes, `fstat`) is not the recorded one: not read or copied.
        case sizeDiffers(Int64)
        /// Opened and read: the bytes read, their SHA-256, and why the replay's copy was not
        /// written, if it was not.
        case read(size: Int64, sha256: String, copyProblem: String?)
        /// `fstat` or a read failed.
        case failed(any Error)
    }

    /// Checks one format-1 artifact: safe path, present, size, SHA-256 (format 2: ``run(setPath:manifest:)``).
    /// - Parameter chunkOf: the restored path of the database the artifact is a chunk of, if it is
    ///   one: a missing or 0-byte chunk is then named as such (``Finding/Code/chunkMissing``,
    ///   ``Finding/Code/chunkEmpty``) rather than as any missing artifact or size mismatch.
    /// - Parameter copy: where the bytes read are written as they are hashed (every byte read,
    ///   whatever the verdict: the replay then meets the same bytes the check judged).
    static func check(
        _ artifact: ArtifactRecord, setPath: AbsolutePath, chunkOf: String? = nil, copy: VerifiedSetCopy? = nil
    ) -> CheckResult {
        var manifest = Manifest(
            id: BackupID(date: Date(timeIntervalSince1970: 0)), name: "check", startedAt: Date(), timeZone: "UTC",
            host: "", home: "/", root: "/")
        manifest.artifacts = [artifact]
        let watch = Stopwatch()
        let source = ArtifactSource(setPath: setPath, manifest: manifest)
        let reading = read(artifact, source: source, copy: copy)
        return judge(artifact, reading, source: source, usedBy: [artifact.path], chunkOf: chunkOf, watch: watch)
    }

    /// Reads and judges one unit (``units(_:)``): the bytes are read (and copied) once, each
    /// artifact of the unit judged from that reading.
    /// - Parameters:
    ///   - owners: the database (restored path) each chunk belongs to (``ArtifactAccounting/chunkOwners``).
    /// - Returns: each artifact's index and result.
    static func check(
        unit: [Int], source: ArtifactSource, owners: [String: String], copy: VerifiedSetCopy? = nil
    ) -> [(Int, CheckResult)] {
        let watch = Stopwatch()
        let artifacts = source.manifest.artifacts
        let first = artifacts[unit[0]]
        let reading = read(first, source: source, copy: copy)
        let usedBy = unit.map { artifacts[$0].path }
        return unit.map { i in
            (
                i,
                judge(
                    artifacts[i], reading, source: source, usedBy: usedBy, chunkOf: owners[artifacts[i].path],
                    watch: watch)
            )
        }
    }

    /// Opens `artifact`'s bytes (``ArtifactSource``), compares the size before a byte is read, then
    /// hashes them (through `copy`, when given: the bytes the copy holds are the ones hashed).
    static func read(_ artifact: ArtifactRecord, source: ArtifactSource, copy: VerifiedSetCopy?) -> Reading {
        let file: OpenedFile
        switch source.open(artifact) {
        case .success(let opened): file = opened
        case .failure(let refusal): return .refused(refusal)
        }
        do {
            var info = stat()
            guard fstat(file.descriptor, &info) == 0 else {
                return .failed(RestoreDrillError.io(path: artifact.path, message: String(cString: strerror(errno))))
            }
            // A size that is not the recorded one fails before a byte is read or copied: a planted
            // file of any size (sparse terabytes) costs nothing to judge.
            if Int64(info.st_size) != artifact.size { return .sizeDiffers(Int64(info.st_size)) }
            var hasher = SHA256Hasher()
            let executable = (info.st_mode & 0o111) != 0
            var copyProblem: String?
            var size: Int64
            let target: Result<VerifiedSetCopy.Writer, VerifiedSetCopy.NotCopied>?
            if let copy {
                if let digest = source.manifest.objectDigest(of: artifact) {
                    target = copy.objectFile(digest, reserving: artifact.size)
                } else {
                    // A plain path: ArtifactSource opened it beneath the set only if it is one.
                    let inside = try RelativePath(validatingBeneath: artifact.path)
                    target = copy.file(inside, executable: executable, reserving: artifact.size)
                }
            } else {
                target = nil
            }
            switch target {
            case .success(let writer)?:
                // The kernel copies the artifact into the replay's private copy (one byte past its
                // recorded size at most, within the copy's budget), and the copy's bytes are what
                // is hashed and judged: exactly the bytes the replay will read.
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
            case .failure(let problem)?:
                copyProblem = problem.message
                size = try file.forEachBlock { hasher.update($0) }
            case nil:
                size = try file.forEachBlock { hasher.update($0) }
            }
            return .read(size: size, sha256: hasher.finalizeHex(), copyProblem: copyProblem)
        } catch {
            return .failed(error)
        }
    }

    /// The result of one artifact from its unit's reading.
    /// - Parameters:
    ///   - usedBy: the paths of every artifact of the unit (format 2: the artifacts stored in the
    ///     object; named when the object is missing or damaged).
    ///   - chunkOf: as in ``check(_:setPath:chunkOf:copy:)``.
    static func judge(
        _ artifact: ArtifactRecord, _ reading: Reading, source: ArtifactSource, usedBy: [String], chunkOf: String?,
        watch: Stopwatch
    ) -> CheckResult {
        let object = source.objectName(artifact)
        let objectEvidence =
            object.map {
                ["object \($0)"] + (usedBy.count > 1 ? ["object shared by \(usedBy.joined(separator: ", "))"] : [])
            } ?? []
        func result(_ verdict: Verdict, _ message: String, _ evidence: [String] = []) -> CheckResult {
            CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: verdict, message: message,
                evidence: evidence + objectEvidence, seconds: watch.seconds)
        }
        func failed(_ findings: [Finding], _ evidence: [String] = [], verdict: Verdict = .fail) -> CheckResult {
            CheckResult(
                check: .setArtifacts, subject: artifact.path, verdict: verdict, findings: findings,
                evidence: evidence + objectEvidence, seconds: watch.seconds)
        }
        /// A wrong size or digest: for an object, the object is named as damaged too.
        func damaged(_ finding: Finding, _ evidence: [String]) -> CheckResult {
            failed([finding] + (object.map { [.objectDamaged($0, usedBy: usedBy)] } ?? []), evidence)
        }
        let recorded = ["recorded size \(artifact.size)", "recorded sha256 \(artifact.sha256)"]
        switch reading {
        case .refused(let refusal):
            switch refusal {
            case .notPlain: return failed([.artifactPathNotPlain])
            case .malformedDigest(let value): return failed([.objectDigestMalformed(value)])
            case .missing:
                if let object { return failed([.objectMissing(object, usedBy: usedBy)]) }
                return failed([
                    chunkOf.map { .chunkMissing(artifact.path, database: $0, whereMissing: "set") } ?? .artifactMissing
                ])
            case .notRegularFile: return failed([.artifactNotRegularFile])
            case .notFollowed(let reason): return failed([.artifactNotFollowed(reason)])
            case .objectNotFollowed(let reason):
                return failed([.objectNotFollowed(object ?? artifact.path, usedBy: usedBy, reason: reason)])
            case .unreadable(let reason):
                return failed(
                    [.artifactUnreadable(RestoreDrillError.io(path: object ?? artifact.path, message: reason))],
                    recorded, verdict: .error)
            }
        case .failed(let error):
            return failed([.artifactUnreadable(error)], recorded, verdict: .error)
        case .sizeDiffers(let actual):
            let evidence = recorded + ["actual size \(actual) (not read: the size differs)"]
            if actual == 0, let chunkOf {
                return damaged(.chunkEmpty(artifact.path, database: chunkOf, recorded: artifact.size), evidence)
            }
            return damaged(.artifactSizeMismatch(recorded: artifact.size, actual: actual), evidence)
        case .read(let size, let sha, let copyProblem):
            let evidence = recorded + ["actual size \(size)", "actual sha256 \(sha)"]
            if size != artifact.size {
                if size == 0, let chunkOf {
                    return damaged(.chunkEmpty(artifact.path, database: chunkOf, recorded: artifact.size), evidence)
                }
                return damaged(.artifactSizeMismatch(recorded: artifact.size, actual: size), evidence)
            }
            if sha != artifact.sha256 {
                return damaged(.artifactDigestMismatch(recorded: artifact.sha256, actual: sha), evidence)
            }
            if let copyProblem {
                // The replay would miss this artifact: the check cannot vouch for what it reads.
                return result(
                    .error, "not copied for the replay: \(copyProblem)",
                    evidence + ["could not write the replay's copy: \(copyProblem)"])
            }
            return result(.pass, "\(Units.humanBytes(size)), SHA-256 matches", evidence)
        }
    }

    /// `SHA256SUMS` lists exactly the manifest's artifacts with the same digests. Format 2: exactly
    /// the distinct objects, each as `../objects/<ab>/<sha256>` with its own name as digest, and the
    /// files that are no object (the restore script) by their paths; any other name (e.g.
    /// `../objects/../x`) is extra.
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
        // Lines end at LF, CR or CRLF, as `sha256sum -c` reads them (a CRLF list was one line).
        for (index, line) in TextLines.split(text).enumerated() {
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
        // What SHA256SUMS must list: name -> digest.
        var expected: [(name: String, sha256: String)] = []
        if manifest.storesObjects {
            expected = manifest.objectRefs().map {
                ("../\(Manifest.objectsFolderName)/\($0.digest.fanOut)/\($0.digest.hex)", $0.digest.hex)
            }
            expected += manifest.artifacts.filter { !manifest.isObject($0) }.map { ($0.path, $0.sha256) }
        } else {
            expected = manifest.artifacts.map { ($0.path, $0.sha256) }
        }
        for (name, sha256) in expected {
            if let listed = sums[name] {
                if listed != sha256 {
                    problems.append(.sumsDigestMismatch(path: name, listed: listed, recorded: sha256))
                }
            } else {
                problems.append(.sumsEntryMissing(path: name))
            }
        }
        let known = Set(expected.map(\.name))
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
