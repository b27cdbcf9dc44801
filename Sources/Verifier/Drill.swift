import Destination
import DrillCore
import Foundation
import Sandbox
import Vault

/// One restore test of one backup set (docs/ARCHITECTURE.md, "A drill", steps 1–4 and the sandbox
/// part of step 5). Reports and the history event are the caller's job: it renders the returned
/// ``DrillResult`` into ``DrillResult/reportFolder``.
///
/// Steps:
/// 0. secrets that drills killed before their end left in the sandboxes folder are wiped
///    (``InterruptedDrills``);
/// 1. `set.manifest` (a failure stops the drill: every other check is a skip naming why),
///    `set.artifacts`, `set.coverage`;
/// 2. `restore.archives` on every archive before anything is unpacked (a failure stops before
///    the replay);
/// 3. the sandbox `<sandboxes>/<drill-id>/{home,work}`, then the restore script replayed through
///    the injected ``RestoreReplayer`` as `<set>/<restore_script> --home H --root R --yes
///    [--password-fd 3]` (`restore.script`; its wall time is the RTO);
/// 4. `restore.tree`, `db.integrity`, `launchagents.rewrite`, `launchagents.lint`,
///    `credentials.vault` (its tag is verified with the set's key before anything runs; when the
///    script got the password, the files it restored are compared with their HMAC digests beside
///    the other checks and the tool does not decrypt again; otherwise the vault is decrypted in
///    memory beside the replay), `rpo`, `rto`;
///
/// Key derivations (docs/ARCHITECTURE.md, "A drill"): one per distinct salt, through the
/// authenticator's ``VaultKeyring``; the set's HMAC key derives while the artifacts are hashed
/// (with ``DrillOptions/provisionalPick``, even when `drill --latest` has not judged the set yet);
/// `set.coverage` and `rpo` run beside the replay.
/// 5. the sandbox is removed after a pass, kept after a failure (per ``DrillOptions/keep`` and
///    ``DrillOptions/keepSandbox``), with restored credentials wiped when kept.
///
/// The vault password comes from ``DrillOptions/password`` or ``DrillOptions/passwordFile`` (read
/// with ``VaultPassword/fromFile(_:)``, which refuses a file other users can read). **Every set is
/// hostile until proven**: the restore script is handed a secret only when the manifest HMAC
/// verified with the password (`set.manifest` passed) and every artifact is intact
/// (`set.artifacts` passed). Then, and only then, the password is handed to the replay on an
/// inherited descriptor (`--password-fd 3`: a pipe the replayer fills and closes, read by the
/// script's `openssl -pass fd:3`; no file on disk, never the password on a command line or in an
/// environment). Any other set is replayed with no
/// password file, no descriptor and nothing in its environment; `credentials.vault` is then a
/// skip naming why (or a failure when the vault itself is wrong), and the drill fails anyway on
/// the check that withheld the secret. Before the result is returned, every message and evidence
/// line is scrubbed of the password (plain, hex and base64) and of the vault's plaintext.
///
/// The drill never writes into the set folder.
public struct Drill: Sendable {
    public let options: DrillOptions
    let clock: any WallClock
    let replayer: any RestoreReplayer
    let progress: (@Sendable (String) -> Void)?
    /// How the checks resolve paths in the restored tree (``BeneathRoot``): `openat2` where the
    /// kernel has it; tests force ``BeneathRoot/Resolution/componentWalk`` to exercise the walk.
    var treeResolution: BeneathRoot.Resolution = .openat2
    /// Receives bytes done of the bytes to read while the set's artifacts and the restored files are
    /// hashed, with rate and time left, at most four times a second; nil for none (the executable
    /// sets it when stderr is a terminal).
    public var byteProgress: (@Sendable (ByteProgress) -> Void)?

    /// - Parameters:
    ///   - clock: "now" for the drill id, the report times and RPO.
    ///   - replayer: runs the restore script under isolation (the Sandbox target's, or a fake).
    ///   - progress: receives one line per step, for stderr; never called with secrets.
    public init(
        options: DrillOptions, clock: any WallClock, replayer: any RestoreReplayer,
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.options = options
        self.clock = clock
        self.replayer = replayer
        self.progress = progress
    }

    /// Runs the drill and returns every check's result; a damaged set is a result with failures,
    /// not a throw.
    /// - Throws: ``RestoreDrillError/setNotFound(_:)`` when the set folder does not exist;
    ///   ``RestoreDrillError/isolationRefused(_:)`` when bubblewrap is unavailable under
    ///   `isolation: auto` and no vault password is configured (the script is never run unisolated
    ///   unless the set is proven or `isolation: none` was chosen);
    ///   ``RestoreDrillError/io(path:message:)`` when the sandbox cannot be made or the password
    ///   file is refused (e.g. mode 0644).
    public func run() async throws -> DrillResult {
        // Resolved once by the caller (DrillJob, against its working folder); used as given.
        let setPath = options.setPath
        guard FileFacts.of(setPath.pathString)?.type == .directory else {
            throw RestoreDrillError.setNotFound(setPath.pathString)
        }
        var password = try options.password ?? options.passwordFile.map { try VaultPassword.fromFile($0.pathString) }
        // Secrets a killed drill left in its sandbox are wiped before this drill makes its own.
        let wiped = InterruptedDrills.wipeSecrets(in: options.sandboxFolder)
        if !wiped.isEmpty {
            progress?("wiped \(wiped.count) secret(s) left by interrupted drills: \(wiped.joined(separator: ", "))")
        }
        let authenticator = options.authenticator ?? password.map { SetAuthenticator(passwords: [$0]) }
        // After a password change, an older set verifies with one of the previous passwords: the
        // drill then uses that one (for the HMAC, the vault and the replay), and says so.
        var matchedPrevious: Int?
        if let authenticator, authenticator.passwords.count > 1,
            let manifest = try? Manifest.load(setPath: setPath.pathString),
            case .verified(let index) = authenticator.authenticate(manifest), index > 0
        {
            password = authenticator.passwords[index]
            matchedPrevious = index
        }
        // One keyring for the whole drill: the key that authenticated the set while it was picked is
        // the one set.manifest, credentials.vault, set.coverage and rpo use (one derivation per salt).
        let keyring = authenticator?.keyring ?? VaultKeyring()
        let keys = password.map { VaultKeyCache(password: $0, keyring: keyring) }
        let started = clock.now()
        var drillID = freshDrillID(at: started)
        var result = DrillResult(
            drillID: drillID, backupID: nil, setPath: setPath.pathString, startedAt: started, isolation: .none)
        result.rpoObjectiveSeconds = options.objectives.rpo
        result.copy = options.copy
        result.rtoObjectiveSeconds = options.objectives.rto
        result.reportFolder = options.reportFolder.appending(component: drillID.description).pathString
        var checks: [CheckResult] = []

        // 1. The set.
        progress?("checking the manifest of \(setPath)")
        let parsed = ManifestCheck.parse(setPath: setPath)
        guard let manifest = parsed.manifest, parsed.failure == nil else {
            let outcome = ManifestCheck.finish(parsed, passwordGiven: password != nil, hmac: nil)
            result.manifestSHA256 = outcome.fileSHA256
            checks.append(outcome.result)
            checks += Self.skips(
                after: .setManifest, subject: outcome.result.subject,
                reason: "set.manifest failed: the manifest cannot be trusted")
            return finish(result, checks: checks, sandbox: nil, manifest: nil, password: password)
        }
        result.backupID = manifest.id
        let setID = manifest.id.description
        // Issue 17: a drill of some parts restores and checks only them (docs/PROOF.md).
        let allParts = manifest.restoreParts()
        let chosen = try Self.chosenParts(options.parts, of: manifest, parts: allParts)
        if options.parts != nil && chosen == nil {
            progress?("\(setID)'s restore script takes no --only: drilling the whole set")
        }
        result.restoredParts = chosen ?? allParts
        result.partsTotal = allParts.count
        result.sampled = chosen != nil
        let selectedPaths = chosen.map { Set($0.flatMap(\.artifacts) + [manifest.restoreScript]) }

        // The sandbox is made before the artifacts are read when the replay reads a private copy
        // of the set (the tool runs as root and replays as an unprivileged uid, or a password may
        // be handed): the copy is written as the artifacts are hashed, one read of the set, and
        // holds exactly the bytes verified (VerifiedSetCopy). A format-2 set always gets the copy:
        // its objects are shared with other sets, and the replay must see only this set's objects,
        // copied beside it (`<sandbox>/set/objects/`), never the destination's `objects/`.
        var earlySandbox: DrillSandbox?
        var verifiedCopy: VerifiedSetCopy?
        if password != nil || replayer.replayIdentity != nil || manifest.storesObjects {
            let made: DrillSandbox
            (made, drillID) = try makeSandbox(drillID: drillID, manifest: manifest)
            result.drillID = drillID
            result.reportFolder = options.reportFolder.appending(component: drillID.description).pathString
            earlySandbox = made
            do {
                let copy = try VerifiedSetCopy.make(in: made.folder, setName: setPath.basename)
                // Format 2: the copy holds the set folder's three files (the manifest as it was
                // judged), as `export` writes a set.
                if manifest.storesObjects, let problem = copy.write(parsed.data, as: Manifest.fileName) {
                    progress?("the manifest was not copied for the replay: \(problem)")
                }
                verifiedCopy = copy
            } catch {
                if manifest.storesObjects {
                    // No replay of a format-2 set without its private copy: nothing else holds
                    // only its objects.
                    try? made.remove()
                    throw error
                }
                // The replayer copies the set itself after the check, as without this copy.
                progress?("\(error)")
            }
        }

        progress?("checking \(manifest.artifacts.count) artifacts")
        // The manifest HMAC's key derives (when the pick did not derive it already) while the
        // artifacts are hashed and the archives inspected (decompressed, headers read): all three
        // only read the set, and nothing is unpacked, run or handed a secret before the verdict.
        async let judged = Self.offload { keys.flatMap { ManifestCheck.hmacVerdict(of: parsed, keys: $0) } }
        async let inspection = Self.inspectArchives(manifest, setPath: setPath, packs: selectedPaths)
        let artifactMeter = byteProgress.map {
            ByteMeter(
                stage: "drill: reading artifacts", total: ArtifactCheck.bytesToRead(manifest, selected: selectedPaths),
                report: $0)
        }
        let artifactChecks = await ArtifactCheck.runConcurrently(
            setPath: setPath, manifest: manifest, meter: artifactMeter, copy: verifiedCopy, selected: selectedPaths)
        artifactMeter?.finish()
        let manifestOutcome = ManifestCheck.finish(parsed, passwordGiven: password != nil, hmac: await judged)
        if options.provisionalPick && manifestOutcome.hmacVerified == false {
            // Picked as the newest before its key was known, and not authenticated: the caller
            // picks again among the sets that count. Nothing ran; the tasks above only read.
            _ = await inspection
            try? earlySandbox?.remove()
            throw ProvisionalPickUnauthenticated(setPath: setPath)
        }
        result.manifestSHA256 = manifestOutcome.fileSHA256
        var manifestResult = manifestOutcome.result
        if let matchedPrevious, manifestOutcome.hmacVerified == true {
            manifestResult.message += " (previous password \(matchedPrevious) of credentials.previous_passwords)"
            manifestResult.evidence.append("HMAC matched previous password \(matchedPrevious)")
        }
        checks.append(manifestResult)
        checks += artifactChecks
        // The secret goes to the replay only when the set is proven: its manifest HMAC verified
        // with this password and every artifact is the one the manifest (so the HMAC) names.
        let withheld = Self.secretWithheldReason(
            passwordGiven: password != nil, hmacVerified: manifestOutcome.hmacVerified, artifacts: artifactChecks)
        result.authenticated = password == nil ? nil : manifestOutcome.hmacVerified == true
        // What the checks after the replay compare with: the whole manifest, or for a drill of some
        // parts the manifest narrowed to them (code files to the members of the chosen packs).
        let inspected = await inspection
        let work = chosen.map { manifest.narrowed(to: $0, codeMembers: inspected.members) } ?? manifest
        let vaultCheck = VaultCheck(
            manifest: work, setPath: setPath, keys: keys, manifestHMACVerified: manifestOutcome.hmacVerified)
        // The tool's own check of the vault runs in memory (tag verified before any byte is
        // decrypted), so it is safe for an unproven set too: it tells a wrong password from a
        // forged set. When the replay gets the password, the tool checks the tag only (its key is
        // set.manifest's): the script's openssl decrypts the vault, and the files it restores are
        // checked against their HMAC digests, so a decryption here would prove nothing more for
        // one more derivation. Otherwise the vault is decrypted in memory beside the replay.
        // Restored credential files are compared only when the replay got the password.
        let decryptInTool = withheld != nil || password == nil
        async let opened = Self.offload { vaultCheck.open(decrypt: decryptInTool) }
        let secretsNotRestored = withheld.map { "the restore script got no password: \($0)" }
        // set.coverage and rpo judge other sets (each a derivation of its own salt with a
        // password); nothing before the replay needs them, so they run beside it (started below:
        // the replay mostly keeps one core busy).
        let judgeOthers = { @Sendable [self] () -> ([CheckResult], CheckResult, Double?) in
            let coverage = self.coverage(manifest, authenticator: authenticator)
            let rpo = ObjectiveChecks.rpo(
                destination: options.otherSets, drilled: manifest, objective: options.objectives.rpo, now: started,
                authenticator: authenticator)
            return (coverage, rpo.0, rpo.1)
        }

        // 2. Archives, before anything is unpacked.
        progress?("inspecting archives")
        let archives = work.artifacts.filter { $0.kind == (manifest.storesObjects ? .pack : .archive) }
        if archives.isEmpty {
            checks.append(.noSubject(.restoreArchives, subject: setID, reason: "no archives in this set"))
        }
        var archivesFailed = false
        for check in inspected.checks {
            if check.verdict != .pass { archivesFailed = true }
            checks.append(check)
        }
        let afterReplay: [CheckID] = [.restoreTree, .dbIntegrity, .launchAgentsRewrite, .launchAgentsLint, .rto]
        if archivesFailed {
            let reason = "restore.archives failed: nothing was unpacked and the restore script did not run"
            checks.append(.noSubject(.restoreScript, subject: manifest.restoreScript, reason: reason))
            checks += afterReplay.map { .noSubject($0, subject: setID, reason: reason) }
            checks += Self.othersChecks(await Self.offload(judgeOthers), into: &result)
            let vaultOpening = await Self.decrypted(await opened, vaultCheck)
            checks.append(vaultCheck.result(vaultOpening, tree: nil, notRestored: reason))
            // Nothing ran in it: the set's copy goes, as a sandbox made later would never have been.
            try? earlySandbox?.remove()
            return finish(
                result, checks: checks, sandbox: nil, manifest: manifest, password: password,
                plaintexts: vaultCheck.plaintexts)
        }

        // 3. Sandbox and replay.
        let sandbox: DrillSandbox
        if let earlySandbox {
            sandbox = earlySandbox
        } else {
            (sandbox, drillID) = try makeSandbox(drillID: drillID, manifest: manifest)
        }
        result.drillID = drillID
        result.reportFolder = options.reportFolder.appending(component: drillID.description).pathString
        result.sandboxPath = sandbox.folder.pathString
        progress?("replaying \(manifest.restoreScript) in \(sandbox.folder)")
        if let withheld { progress?("replaying without the vault password: \(withheld)") }
        async let judgedOthers = Self.offload(judgeOthers)
        let replay = await replayScript(
            manifest: work, setFolder: verifiedCopy?.root ?? setPath, sandbox: sandbox, drillID: drillID,
            secret: withheld == nil ? password : nil, proven: password != nil && withheld == nil,
            unprovenReason: withheld, only: chosen?.map(\.number))
        // The set's copy goes on every path (the replayer removes it after a replay it ran; a
        // missing script or a replay that never started leaves it to this).
        verifiedCopy?.remove()
        if let refused = replay.refused {
            // Nothing ran: no set can be proven here, so the configuration must change (exit 2).
            _ = await opened
            _ = await judgedOthers
            try? sandbox.remove()
            throw refused
        }
        checks.append(replay.check)
        if let isolation = replay.isolation { result.isolation = isolation }
        result.limits = replay.limits?.description
        result.tools = replay.tools
        checks += Self.othersChecks(await judgedOthers, into: &result)

        // 4. The restored tree, read as root: through the sandbox folder opened once, never
        // following a link the script planted (RestoredTree).
        var restored: RestoredTree?
        var unreachable: String?
        if replay.treeSkipReason == nil {
            do {
                restored = try RestoredTree(
                    folder: sandbox.folder, home: sandbox.home, root: sandbox.root, preferring: treeResolution)
            } catch {
                unreachable = "the sandbox folder cannot be opened to check what was restored: \(error)"
            }
        }
        if let unreachable {
            checks += afterReplay.filter { $0 != .rto }.map {
                CheckResult(check: $0, subject: setID, verdict: .error, message: unreachable)
            }
            let vaultOpening = await Self.decrypted(await opened, vaultCheck)
            checks.append(
                secretsNotRestored.map { vaultCheck.withheldResult(vaultOpening, reason: $0) }
                    ?? vaultCheck.result(vaultOpening, tree: nil, notRestored: unreachable))
            checks.append(
                ObjectiveChecks.rto(
                    setID: setID, seconds: nil, objective: options.objectives.rto, skipReason: unreachable))
        } else if let skipReason = replay.treeSkipReason {
            checks += afterReplay.map { .noSubject($0, subject: setID, reason: skipReason) }
            // Nothing restored to compare: the vault is decrypted in memory after all.
            let vaultOpening = await Self.decrypted(await opened, vaultCheck)
            checks.append(
                secretsNotRestored.map { vaultCheck.withheldResult(vaultOpening, reason: $0) }
                    ?? vaultCheck.result(vaultOpening, tree: nil, notRestored: skipReason))
        } else if let restored {
            // The tree, the databases and the LaunchAgents are checked at the same time, each
            // spreading its subjects over the cores (bounded width).
            progress?(
                "checking the restored tree, \(work.databases.count) databases and \(work.launchAgents.count) LaunchAgents"
            )
            let tree = RestoreTreeCheck(
                manifest: work, tree: restored, passwordGiven: password != nil && withheld == nil)
            let treeMeter = byteProgress.map {
                ByteMeter(
                    stage: "drill: reading restored files",
                    total: work.files.reduce(0) { $0 + $1.size } + work.databases.reduce(0) { $0 + $1.size },
                    report: $0)
            }
            let vaultOpening = await opened
            async let treeChecks = tree.runConcurrently(meter: treeMeter)
            async let dbChecks = databaseChecks(work, tree: restored)
            // A drill of some parts: a LaunchAgent's program may be a file of a pack not chosen.
            let restoredKeys = Set(work.files.map { LaunchAgentChecks.unrestoredKey($0.base, $0.path) })
            let unrestored =
                chosen == nil
                ? [:]
                : Dictionary(
                    manifest.files.filter { $0.type == .file }.map {
                        (LaunchAgentChecks.unrestoredKey($0.base, $0.path), $0)
                    }
                    .filter { !restoredKeys.contains($0.0) }, uniquingKeysWith: { first, _ in first })
            async let agentResults = BlockingWork.map([work], width: 1) { [self] manifest in
                agentChecks(manifest, setPath: setPath, tree: restored, unrestored: unrestored)
            }.flatMap { $0 }
            // The restored credential files beside the other checks of the restored tree.
            async let vaultResult = Self.offload {
                secretsNotRestored.map { vaultCheck.withheldResult(vaultOpening, reason: $0) }
                    ?? vaultCheck.result(vaultOpening, tree: restored)
            }
            checks += await treeChecks
            checks += await dbChecks
            checks += await agentResults
            checks.append(await vaultResult)
            treeMeter?.finish()
            let succeeded = replay.check.verdict == .pass
            // A drill of an off-site copy restores from the remote: the download is part of the
            // restore time (RTO = download + replay), and reported on its own as well.
            let fetch = options.copy?.fetchSeconds
            let measured = succeeded ? replay.seconds.map { $0 + (fetch ?? 0) } : nil
            result.rtoSeconds = measured
            if chosen != nil {
                // Part of the set is no measure of restoring it: the time is reported, not judged.
                checks.append(
                    .noSubject(
                        .rto, subject: setID,
                        reason: "a drill of some parts restores part of the set: its time is no RTO"))
            } else {
                checks.append(
                    ObjectiveChecks.rto(
                        setID: setID, seconds: measured, objective: options.objectives.rto,
                        skipReason: "the restore did not succeed: a failed restore has no RTO",
                        fetchSeconds: fetch))
            }
        }
        checks += VanishedFiles.results(manifest)
        return finish(
            result, checks: checks, sandbox: sandbox, manifest: manifest, password: password,
            plaintexts: vaultCheck.plaintexts)
    }

    // MARK: - Steps

    /// `body` on a thread of its own (``BlockingWork``): for work that blocks (a key derivation, file
    /// reads) started with `async let` beside other work.
    static func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await BlockingWork.map([()], width: 1) { _ in body() }[0]
    }

    /// `set.coverage` and `rpo` from the task that judged them beside the drill; `rpo`'s age goes
    /// into `result`.
    static func othersChecks(_ judged: ([CheckResult], CheckResult, Double?), into result: inout DrillResult)
        -> [CheckResult]
    {
        let (coverage, rpo, age) = judged
        result.rpoSeconds = age
        return coverage + [rpo]
    }

    /// `opening`, decrypted in memory when ``VaultCheck/open(decrypt:)`` left the decryption to a
    /// replay that restored nothing (a derivation only on this failure path).
    static func decrypted(_ opening: VaultCheck.Opening, _ check: VaultCheck) async -> VaultCheck.Opening {
        guard case .opened(_, _, _, false) = opening else { return opening }
        return await offload { check.open(decrypt: true) }
    }

    /// Why the replay must get no secret, or nil when it may: with a password, the manifest HMAC
    /// must have verified and every `set.artifacts` result must be a pass (or a skip).
    static func secretWithheldReason(passwordGiven: Bool, hmacVerified: Bool?, artifacts: [CheckResult]) -> String? {
        guard passwordGiven else { return nil }
        if hmacVerified != true {
            return "the set is not authenticated (its manifest HMAC did not verify with the password)"
        }
        let failed = artifacts.problems.map(\.subject)
        if !failed.isEmpty {
            return "set.artifacts failed (\(ArchiveInspection.sample(failed, limit: 3))): the set is not the one "
                + "its authenticated manifest describes"
        }
        return nil
    }

    func coverage(_ manifest: Manifest, authenticator: SetAuthenticator?) -> [CheckResult] {
        guard let destination = options.otherSets else {
            return ObjectiveChecks.coverage(
                current: manifest, previous: nil, maxShrink: options.maxShrink,
                skipReason: "no destination given (--set): no previous set to compare with")
        }
        do {
            let previous = try SetCatalogue(destination, authenticator: authenticator).previousComplete(
                before: manifest.id)
            return ObjectiveChecks.coverage(
                current: manifest, previous: previous?.manifest, maxShrink: options.maxShrink,
                skipReason: "no previous complete set in \(destination.location)")
        } catch {
            let finding = Finding.coverageUnmeasurable(error)
            var out = CheckResult(
                check: .setCoverage, subject: manifest.id.description, verdict: .error, message: finding.message)
            out.findings = [finding]
            return [out]
        }
    }

    struct Replay {
        var check: CheckResult
        var isolation: IsolationKind?
        /// The limits the replay ran under, when it ran.
        var limits: ReplayLimits?
        /// Replay wall time, seconds, when it ran.
        var seconds: Double?
        /// Why the tree checks cannot run (the replay never started), or nil.
        var treeSkipReason: String?
        /// Set when the replay was refused because it would have run unisolated and no password
        /// is configured: the drill stops with this error.
        var refused: RestoreDrillError?
        /// What the script recorded it ran with (``ToolsRecord``), nil when it wrote nothing.
        var tools: [String: String]?
    }

    /// Replays the set's script in `sandbox`.
    /// - Parameters:
    ///   - secret: the password to hand the script, only for a proven set: it reaches the script on
    ///     descriptor 3 (`--password-fd 3`), a pipe the replayer fills and closes; no file holds it.
    ///   - proven: the set's manifest HMAC verified with a configured password and its artifacts are
    ///     intact. Only then may `isolation: auto` fall back to an unisolated replay when
    ///     bubblewrap is unavailable; `isolation: none` always runs unisolated (chosen knowingly).
    ///   - unprovenReason: why the set is not proven when a password is configured (the
    ///     `restore.script` failure names it when the replay is refused).
    func replayScript(
        manifest: Manifest, setFolder: AbsolutePath, sandbox: DrillSandbox, drillID: DrillID, secret: VaultPassword?,
        proven: Bool = false, unprovenReason: String? = nil, only: [Int]? = nil
    ) async -> Replay {
        let subject = manifest.restoreScript
        // A script name that climbs out of the set is no script of the set (set.manifest fails it).
        let script = (try? RelativePath(validatingBeneath: manifest.restoreScript)).map { setFolder.appending($0) }
        guard let script, FileFacts.of(script.pathString)?.type == .file else {
            return Replay(
                check: CheckResult(check: .restoreScript, subject: subject, findings: [.scriptMissing]),
                treeSkipReason: "the restore script is missing: nothing was restored")
        }
        var arguments = ["--home", sandbox.home.pathString, "--root", sandbox.root.pathString, "--yes"]
        if let only { arguments += ["--only", only.map(String.init).joined(separator: ",")] }
        // The digest the set's checks verified: with a secret, the replayer replays a copy made
        // after the check and only when its script still has this digest. No digest, no secret.
        let verified = manifest.artifacts.first { $0.path == manifest.restoreScript }?.sha256
        let secret = verified == nil ? nil : secret
        if secret != nil {
            arguments += ["--password-fd", String(ReplayRequest.secretDescriptor)]
        }
        // The sandbox's total bytes: a multiple of the set's, or for a proven set what its
        // authenticated manifest says a restore produces (ReplayRequest.byteBound).
        // Format 2: the set's objects are copied beside the set folder (`<sandbox>/set/objects/`).
        let byteBound = ReplayRequest.byteBound(
            setBytes: TreeBytes.apparent(manifest.storesObjects ? setFolder.parentDirectory : setFolder),
            restoredBytes: proven
                ? manifest.files.reduce(Int64(0)) { $0 + $1.size } + manifest.databases.reduce(0) { $0 + $1.size }
                : nil)
        // What the replay runs with (issue 19): the script writes it to a file in the scratch
        // folder, never inside the restored home or root, read back below beneath the sandbox
        // without following a link at any component (the script may have replaced `work`).
        let toolsFile = sandbox.work.appending(component: ToolsRecord.fileName)
        let request = ReplayRequest(
            script: script, arguments: arguments, setFolder: setFolder, sandboxFolder: sandbox.folder,
            environment: [ToolsRecord.variable: toolsFile.pathString], workingDirectory: sandbox.work,
            limits: options.limits, timeout: options.timeout,
            outputCap: options.outputCap, isolation: options.isolation, unisolatedFallback: proven,
            secret: secret.map { Data($0.bytes) }, byteBound: byteBound,
            scriptSHA256: secret == nil ? nil : verified)
        var canaries = CanaryProbe(
            folders: options.canaryFolders, owner: replayer.replayIdentity)
        canaries.plant()
        let watch = Stopwatch()
        let outcome: ReplayOutcome
        do {
            outcome = try await replayer.replay(request)
        } catch RestoreDrillError.isolationRefused(let why) {
            _ = canaries.checkAndRemove()
            guard options.password != nil || options.passwordFile != nil || options.authenticator != nil else {
                return Replay(
                    check: .noSubject(.restoreScript, subject: subject, reason: why),
                    treeSkipReason: why, refused: .isolationRefused(why))
            }
            // A password is configured but this set is not proven: it is hostile until proven, so
            // it is never run outside a sandbox. The drill fails on this check.
            let unproven = unprovenReason ?? "not authenticated"
            let reason =
                "not replayed: \(why), and the set is not proven (\(unproven)): "
                + "an unproven set is never run without isolation"
            return Replay(
                check: CheckResult(
                    check: .restoreScript, subject: subject, verdict: .fail, message: "\(subject): \(reason)",
                    evidence: ["isolation refused: \(why)"], seconds: watch.seconds),
                treeSkipReason: "the restore script was not replayed: \(reason)")
        } catch {
            _ = canaries.checkAndRemove()
            return Replay(
                check: CheckResult(
                    check: .restoreScript, subject: subject, verdict: .error, findings: [.scriptNotStarted(error)],
                    seconds: watch.seconds),
                treeSkipReason: "the restore script could not be replayed: \(error)")
        }
        let seconds = watch.seconds
        // `os` and `arch` as this host says: the replay ran here, whatever the script claims.
        let tools = toolsFile.relative(to: sandbox.folder).flatMap {
            ToolsRecord.measuringPlatform(ToolsRecord.read(in: sandbox.folder, at: $0))
        }
        let (changes, notes) = canaries.checkAndRemove()
        let process = outcome.process
        var findings: [Finding] = []
        if process.timedOut { findings.append(.scriptTimedOut(seconds: options.timeout)) }
        if process.outputTruncated { findings.append(.scriptOutputCapped(bytes: options.outputCap)) }
        if let code = process.exitCode, code != 0 { findings.append(.scriptExitStatus(code)) }
        if let signal = process.signal, !process.timedOut { findings.append(.scriptKilledBySignal(signal)) }
        if process.exitCode == nil && process.signal == nil && !process.timedOut { findings.append(.scriptDidNotExit) }
        if options.requireIsolation && outcome.isolation == .none { findings.append(.scriptNotIsolated) }
        if !changes.isEmpty { findings.append(.scriptChangedOutside(changes)) }
        for limit in outcome.stoppedBy {
            findings.append(.scriptStoppedByLimit(limit, limits: options.limits, byteBound: byteBound))
        }
        let tail = TextFormat.tailLines(String(decoding: process.tail, as: UTF8.self), limit: 40)
        let evidence =
            [
                "isolation \(outcome.isolation.rawValue)", "limits \(outcome.limits)",
                String(format: "wall time %.3f s", seconds),
            ]
            + outcome.notes + changes + notes
            + (tail.isEmpty ? [] : ["output tail:"] + tail)
        let check =
            findings.isEmpty
            ? CheckResult(
                check: .restoreScript, subject: subject, verdict: .pass,
                message: "exited 0 in \(Units.humanSeconds(seconds)), isolation \(outcome.isolation.rawValue)",
                evidence: evidence, seconds: seconds)
            : CheckResult(
                check: .restoreScript, subject: subject, findings: findings, evidence: evidence, seconds: seconds)
        return Replay(
            check: check, isolation: outcome.isolation, limits: outcome.limits, seconds: seconds, treeSkipReason: nil,
            tools: tools)
    }

    func databaseChecks(_ manifest: Manifest, tree: RestoredTree) async -> [CheckResult] {
        guard !manifest.databases.isEmpty else {
            return [.noSubject(.dbIntegrity, subject: manifest.id.description, reason: "no databases in this set")]
        }
        // Largest first, so the longest integrity check starts early; results in manifest order.
        let records = manifest.databases
        let order = records.indices.sorted { records[$0].size > records[$1].size }
        let checked = await ParallelChecks.map(order) { i in
            let record = records[i]
            // A recorded path that climbs out of the restored tree names no file in it (nil).
            let relative = tree.place(record.path, record.base)
            return (i, SQLiteIntegrityCheck.check(tree: tree, relative: relative, record: record))
        }
        return checked.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// `restore.archives` for every archive of the set (each one read once, sequentially, on a
    /// thread of its own: decompressing blocks).
    /// Format 2: the code packs, read one after another in manifest order, and the union of
    /// their members compared with the manifest (``ArchiveInspection/checkPacks(_:source:expected:)``).
    /// `restore.archives` on the set's archives, or with `packs` (a drill of some parts, format 2)
    /// on the chosen packs only, compared with the manifest's files they hold; also returns the
    /// names (as ``FileNameBytes/key(_:)`` bytes) of the members read (nil for a whole set).
    static func inspectArchives(_ manifest: Manifest, setPath: AbsolutePath, packs selected: Set<String>? = nil) async
        -> (checks: [CheckResult], members: Set<[UInt8]>?)
    {
        let source = ArtifactSource(setPath: setPath, manifest: manifest)
        if manifest.storesObjects {
            let packs = manifest.artifacts.filter { $0.kind == .pack && selected?.contains($0.path) ?? true }
            guard !packs.isEmpty else { return ([], selected == nil ? nil : []) }
            let inspected = await BlockingWork.map([packs], width: 1) { packs in
                let expected = manifest.files.filter { $0.component == .code && $0.base == .root }
                return ArchiveInspection.checkPacks(packs, source: source, expected: expected, subset: selected != nil)
            }
            return (inspected.flatMap(\.results), selected == nil ? nil : inspected.first?.members ?? [])
        }
        let archives = manifest.artifacts.filter { $0.kind == .archive && selected?.contains($0.path) ?? true }
        guard !archives.isEmpty else { return ([], nil) }
        let checks = await BlockingWork.map(archives, width: 1) { archive in
            let expected = manifest.files.filter { $0.component == archive.component && $0.base == .root }
            return ArchiveInspection.check(archive: archive, source: source, expected: expected)
        }
        return (checks, nil)
    }

    /// The parts `numbers` asks for, in the script's order, or nil to drill the whole set (no
    /// numbers, or a script that takes no `--only`).
    /// - Throws: ``RestoreDrillError/usage(_:)`` for an empty list or a number the set does not have.
    static func chosenParts(_ numbers: [Int]?, of manifest: Manifest, parts: [RestorePart]) throws -> [RestorePart]? {
        guard let numbers else { return nil }
        guard !numbers.isEmpty else { throw RestoreDrillError.usage("--parts: no part given") }
        if let bad = numbers.first(where: { $0 < 1 || $0 > parts.count }) {
            throw RestoreDrillError.usage(
                "--parts: \(manifest.id) has parts 1 to \(parts.count), not \(bad) "
                    + "(\(FileNameBytes.display(manifest.restoreScript)) --list-parts lists them)"
            )
        }
        guard manifest.restoresSubsets else { return nil }
        let wanted = Set(numbers)
        return parts.filter { wanted.contains($0.number) }
    }

    func agentChecks(
        _ manifest: Manifest, setPath: AbsolutePath, tree: RestoredTree, unrestored: [String: FileRecord] = [:]
    ) -> [CheckResult] {
        guard !manifest.launchAgents.isEmpty else {
            let id = manifest.id.description
            return [
                .noSubject(.launchAgentsRewrite, subject: id, reason: "no LaunchAgents in this set"),
                .noSubject(.launchAgentsLint, subject: id, reason: "no LaunchAgents in this set"),
            ]
        }
        let checks = LaunchAgentChecks(manifest: manifest, setPath: setPath, tree: tree, unrestored: unrestored)
        return manifest.launchAgents.map(checks.rewrite) + manifest.launchAgents.map(checks.lint)
    }

    // MARK: - Ids, sandbox, finish

    /// The first drill id at `date` whose sandbox and report folders do not exist yet.
    func freshDrillID(at date: Date) -> DrillID {
        var sequence = 1
        while true {
            let id = DrillID(date: date, sequence: sequence)
            let taken = [options.sandboxFolder, options.reportFolder].contains {
                FileFacts.of($0.appending(component: id.description).pathString) != nil
            }
            if !taken || sequence > 999 { return id }
            sequence += 1
        }
    }

    /// Makes the sandbox, moving to the next drill id when another drill took this one meanwhile.
    func makeSandbox(drillID: DrillID, manifest: Manifest) throws -> (DrillSandbox, DrillID) {
        var id = drillID
        while true {
            do {
                let sandbox = try DrillSandbox.make(
                    in: options.sandboxFolder, drillID: id, oldHome: manifest.home, oldRoot: manifest.root,
                    secretPaths: DrillSandbox.secretPaths(of: manifest))
                return (sandbox, id)
            } catch RestoreDrillError.alreadyExists(let path, _)
                where path.hasSuffix(id.description) && id.sequence < 999
            {
                id = DrillID(date: id.date, sequence: id.sequence + 1)
            }
        }
    }

    func finish(
        _ partial: DrillResult, checks: [CheckResult], sandbox: DrillSandbox?, manifest: Manifest?,
        password: VaultPassword?, plaintexts: VaultCheck.Plaintexts? = nil
    ) -> DrillResult {
        var result = partial
        let order = Dictionary(uniqueKeysWithValues: CheckID.drillCatalogue.enumerated().map { ($1, $0) })
        result.checks = checks.enumerated().sorted {
            (order[$0.element.check]!, $0.offset) < (order[$1.element.check]!, $1.offset)
        }.map(\.element)
        result.finishedAt = Timestamp.string(clock.now())
        if let password {
            // Defence in depth: nothing a script printed, and no evidence line, carries the
            // password or the vault's plaintext into a report, an event or a log.
            let scrubber = SecretScrubber(password: password, plaintexts: plaintexts?.all ?? [])
            result.checks = result.checks.map(scrubber.scrub)
        }
        guard let sandbox else {
            result.sandboxKept = false
            return result
        }
        let keep =
            options.keepSandbox || options.keep == .always
            || (options.keep == .onFailure && result.verdict != .pass)
        if keep {
            if let manifest { sandbox.wipeCredentials(manifest) }
            wipeCredentialLeftovers(sandbox)
            result.sandboxKept = true
            progress?("sandbox kept at \(sandbox.folder)")
        } else {
            do {
                try sandbox.remove()
                result.sandboxKept = false
            } catch {
                result.sandboxKept = true
                progress?("\(error)")
            }
        }
        return result
    }

    /// Wipes what a restore script killed while decrypting leaves: its private folder
    /// `.restore-drill-credentials-<pid>` in the new root (the decrypted tar and unpacked files).
    /// The new root is listed without following links (a root that is a link names no folder of
    /// the sandbox, so nothing is wiped there).
    func wipeCredentialLeftovers(_ sandbox: DrillSandbox) {
        guard let beneath = try? BeneathRoot(sandbox.folder), let root = sandbox.root.relative(to: sandbox.folder),
            let names = try? beneath.names(in: root).get()
        else { return }
        let leftovers = names.filter { $0.hasPrefix(".restore-drill-credentials-") }.map {
            sandbox.root.appending(component: $0)
        }
        if !leftovers.isEmpty { try? sandbox.sandbox.wipe(paths: leftovers) }
    }

    /// One skip per check after `check` in the catalogue, each naming `reason`.
    static func skips(after check: CheckID, subject: String, reason: String) -> [CheckResult] {
        guard let index = CheckID.drillCatalogue.firstIndex(of: check) else { return [] }
        return CheckID.drillCatalogue[(index + 1)...].map { .noSubject($0, subject: subject, reason: reason) }
    }
}
