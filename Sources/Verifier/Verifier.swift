/// # Verifier
///
/// Runs **drills** (docs/ARCHITECTURE.md, "A drill"): one restore test of one **backup set**.
/// ``Drill`` checks the set's manifest and artifacts, inspects its archives before anything is
/// unpacked, makes a throwaway **sandbox** `<sandboxes>/<drill-id>/{home,work}`, replays the set's
/// restore script there through an injected ``RestoreReplayer``, checks what came out, and returns
/// a ``DrillResult`` (one ``CheckResult`` per check and subject) for the reports. The other sets
/// of the destination (`rpo`, `set.coverage`) are read through the ``Destination`` seam and its
/// ``SetCatalogue``; ``SetLocator`` adapts the catalogue to a folder path.
///
/// Terms: *old home / old root* are the paths recorded in the manifest; *new home / new root* are
/// their places inside the sandbox. A *finding* is one thing wrong with one subject; a check with
/// no subject is a `skip` with a reason, never a `pass`.
///
/// The drill never writes into the set folder. An interrupted drill leaves at most its sandbox
/// folder `<sandboxes>/<drill-id>/` (and canary files named `.restore-drill-canary-<drill-id>` in
/// the canary folders); both are safe to delete.
import Destination
import DrillCore
import Foundation
import Vault

/// What one drill does, from the command line and configuration.
public struct DrillOptions: Sendable {
    /// The backup set folder to drill (read only), resolved once by the caller: the drill uses it
    /// as given and never resolves it again.
    public var setPath: AbsolutePath
    /// Folder under which `<drill-id>/{home,work}` is made (created when missing).
    public var sandboxFolder: AbsolutePath
    /// Folder under which the reports of this drill go, as `<reportFolder>/<drill-id>/`; the drill
    /// itself writes no report (the caller renders ``DrillResult`` there).
    public var reportFolder: AbsolutePath
    /// A file holding the vault password (read with ``VaultPassword/fromFile(_:)``); nil when none.
    /// Ignored when ``password`` is given.
    public var passwordFile: AbsolutePath?
    /// The vault password in memory (from a configured source); nil when none. With neither this
    /// nor ``passwordFile`` credentials are neither restored nor checked.
    ///
    /// The restore script is handed the password (as `--password-file` of a private copy made for
    /// the replay and wiped after it) only when the set's manifest HMAC verifies with it and every
    /// artifact is intact; any other set is replayed with no secret at all.
    public var password: VaultPassword?
    /// Authenticates the destination's other sets (the newest complete one for `rpo`, the previous
    /// one for `set.coverage`); nil derives one from the password.
    public var authenticator: SetAuthenticator?
    /// The set was picked as the newest present one before any key was derived (`drill --latest`
    /// with a password, so that the set's key derives beside the hashing of its artifacts instead
    /// of before it). When its manifest HMAC does not verify, the drill stops before anything is
    /// unpacked or replayed and throws ``ProvisionalPickUnauthenticated``: the caller picks again,
    /// judging every set (an older authenticated set is the latest that counts).
    public var provisionalPick = false
    /// When to keep the sandbox after the drill (`sandbox.keep`).
    public var keep: RestoreDrillConfig.KeepPolicy
    /// `--keep-sandbox`: keep the sandbox whatever the verdict.
    public var keepSandbox: Bool
    /// `--require-isolation`: a replay with `isolation: none` fails `restore.script`.
    public var requireIsolation: Bool
    /// RPO and RTO objectives, seconds.
    public var objectives: RestoreDrillConfig.Objectives
    /// Resource limits of the replay.
    public var limits: RestoreDrillConfig.ResourceLimits
    /// Seconds before the replay's process tree is killed.
    public var timeout: Double
    /// Bytes of replay output kept; past it `restore.script` fails.
    public var outputCap: Int
    /// `sandbox.isolation`.
    public var isolation: RestoreDrillConfig.IsolationMode
    /// The destination the set belongs to (for `rpo` and `set.coverage`); nil for `--set PATH`.
    public var destination: String?
    /// Where `rpo` and `set.coverage` read the destination's other sets; nil reads the local
    /// folder ``destination`` (``LocalDestination``). Jobs hand their injected destination.
    public var destinationStore: (any Destination)?
    /// Folders outside the sandbox that the replay must not change (e.g. the real /tmp, the
    /// user's home, the destination); checked before and after the replay.
    public var canaryFolders: [AbsolutePath]
    /// `coverage.max_shrink`: the largest accepted drop of a component's bytes or files compared
    /// with the previous complete set, as a fraction in 0...1.
    public var maxShrink: Double
    /// The copy drilled when it is not the destination's own set: an off-site copy fetched before
    /// the drill (``DrilledCopy``). Its download time is counted inside the measured RTO
    /// (``DrillResult/rtoSeconds`` = download + replay, judged by `rto`) and reported on its own
    /// (``DrillResult/copy``). nil for a local drill.
    public var copy: DrilledCopy?
    /// The parts to restore (``RestorePart/number``, issue 17): nil restores the whole set. A set
    /// whose script takes no `--only` (``Manifest/restoresSubsets``) is restored whole all the same
    /// and the drill says so; a number the set does not have is a usage error.
    public var parts: [Int]?

    /// The destination `rpo` and `set.coverage` read: ``destinationStore``, else the local folder
    /// ``destination``, else nil (`--set PATH`).
    public var otherSets: (any Destination)? {
        destinationStore ?? destination.map { LocalDestination(path: $0) }
    }

    /// Options with the configuration's defaults for everything but the three folders.
    public init(
        setPath: AbsolutePath, sandboxFolder: AbsolutePath, reportFolder: AbsolutePath,
        passwordFile: AbsolutePath? = nil,
        keep: RestoreDrillConfig.KeepPolicy = RestoreDrillConfig.SandboxSettings.defaultKeep,
        keepSandbox: Bool = false, requireIsolation: Bool = false,
        objectives: RestoreDrillConfig.Objectives = .init(), limits: RestoreDrillConfig.ResourceLimits = .init(),
        timeout: Double = RestoreDrillConfig.SandboxSettings.defaultTimeout,
        outputCap: Int = RestoreDrillConfig.SandboxSettings.defaultOutputCap,
        isolation: RestoreDrillConfig.IsolationMode = RestoreDrillConfig.SandboxSettings.defaultIsolation,
        destination: String? = nil, canaryFolders: [AbsolutePath] = [],
        maxShrink: Double = RestoreDrillConfig.CoverageSettings.defaultMaxShrink,
        password: VaultPassword? = nil, authenticator: SetAuthenticator? = nil
    ) {
        self.password = password
        self.authenticator = authenticator
        self.setPath = setPath
        self.sandboxFolder = sandboxFolder
        self.reportFolder = reportFolder
        self.passwordFile = passwordFile
        self.keep = keep
        self.keepSandbox = keepSandbox
        self.requireIsolation = requireIsolation
        self.objectives = objectives
        self.limits = limits
        self.timeout = timeout
        self.outputCap = outputCap
        self.isolation = isolation
        self.destination = destination
        self.canaryFolders = canaryFolders
        self.maxShrink = maxShrink
    }
}

/// Thrown by ``Drill/run()`` when ``DrillOptions/provisionalPick`` is set and the set's manifest
/// HMAC does not verify: nothing was unpacked, replayed or handed a secret; pick again.
public struct ProvisionalPickUnauthenticated: Error, Sendable, CustomStringConvertible {
    /// The set that was not authenticated.
    public let setPath: AbsolutePath

    public var description: String { "\(setPath): not authenticated; the latest set is picked again" }
}
