import Foundation

/// One replay of a restore script inside a sandbox (docs/ARCHITECTURE.md, "A drill", step 3).
public struct ReplayRequest: Sendable, Equatable {
    /// The restore script (inside the set folder, which stays read-only).
    public var script: AbsolutePath
    /// Arguments after the script, e.g. `--home H --root R --yes`.
    public var arguments: [String]
    /// The backup set folder: readable, never writable.
    public var setFolder: AbsolutePath
    /// The drill's sandbox folder: the only place the replay may write.
    public var sandboxFolder: AbsolutePath
    /// Extra variables; the replayer starts from an empty environment with only a minimal
    /// `PATH`, `HOME` (the sandbox home), `TMPDIR` (inside the sandbox), `LC_ALL=C`.
    public var environment: [String: String]
    /// The folder the script starts in.
    public var workingDirectory: AbsolutePath
    /// Files outside the sandbox the script may read.
    public var extraReadOnly: [AbsolutePath]
    /// Bytes the script reads on descriptor ``secretDescriptor`` (the vault password, which the
    /// restore script's `--password-fd 3` hands to `openssl -pass fd:3`), or nil for none. They
    /// travel through a pipe the replayer fills and closes before the script reads: never a file,
    /// an argument or a variable. Without it the script has no descriptor 3 from the tool.
    public var secret: Data?
    public var limits: RestoreDrillConfig.ResourceLimits
    /// Seconds before the whole process tree is killed.
    public var timeout: Double
    /// Bytes of output kept; past it the replay is stopped and marked truncated.
    public var outputCap: Int
    public var isolation: RestoreDrillConfig.IsolationMode
    /// Whether `isolation: auto` may fall back to running the script unisolated when bubblewrap is
    /// missing or does not work. The drill sets it to false unless the set is proven (its manifest
    /// HMAC verified with a configured password and its artifacts are intact); `isolation: none`
    /// runs unisolated whatever this says, because it was chosen knowingly.
    public var unisolatedFallback: Bool

    public init(
        script: AbsolutePath, arguments: [String], setFolder: AbsolutePath, sandboxFolder: AbsolutePath,
        environment: [String: String] = [:], workingDirectory: AbsolutePath, extraReadOnly: [AbsolutePath] = [],
        limits: RestoreDrillConfig.ResourceLimits = .init(),
        timeout: Double = RestoreDrillConfig.SandboxSettings.defaultTimeout,
        outputCap: Int = RestoreDrillConfig.SandboxSettings.defaultOutputCap,
        isolation: RestoreDrillConfig.IsolationMode = RestoreDrillConfig.SandboxSettings.defaultIsolation,
        unisolatedFallback: Bool = true, secret: Data? = nil
    ) {
        self.script = script
        self.arguments = arguments
        self.setFolder = setFolder
        self.sandboxFolder = sandboxFolder
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.extraReadOnly = extraReadOnly
        self.limits = limits
        self.timeout = timeout
        self.outputCap = outputCap
        self.isolation = isolation
        self.unisolatedFallback = unisolatedFallback
        self.secret = secret
    }

    /// The descriptor on which the script reads ``secret``: 3, the first one after standard
    /// input, output and error.
    public static let secretDescriptor: Int32 = 3
}

/// How a replay ended and how it was isolated.
public struct ReplayOutcome: Sendable, Equatable {
    public var process: ProcessOutcome
    public var isolation: IsolationKind
    /// The uid the script ran as, when the tool dropped root; nil otherwise.
    public var uid: UInt32?
    /// Facts for the report, e.g. "bubblewrap not found: isolation none".
    public var notes: [String]

    public init(process: ProcessOutcome, isolation: IsolationKind, uid: UInt32? = nil, notes: [String] = []) {
        self.process = process
        self.isolation = isolation
        self.uid = uid
        self.notes = notes
    }
}

/// Runs restore scripts under isolation. The Sandbox target implements it; tests may fake it.
public protocol RestoreReplayer: Sendable {
    /// Replays the script; a script that fails is an outcome, not a throw.
    /// - Throws: ``RestoreDrillError`` when the replay cannot be started at all, or when
    ///   `isolation` is `bubblewrap` and bubblewrap is not available;
    ///   ``RestoreDrillError/isolationRefused(_:)`` when `isolation` is `auto`, bubblewrap is
    ///   not available and `unisolatedFallback` is false (nothing was run).
    func replay(_ request: ReplayRequest) async throws -> ReplayOutcome

    /// The user and group ids the script runs as when they differ from the tool's (the tool runs
    /// as root and drops to an unprivileged uid), so the canaries and the sandbox can be prepared
    /// for them; nil when the script runs as the tool's own user.
    var replayIdentity: (uid: UInt32, gid: UInt32)? { get }
}

extension RestoreReplayer {
    /// A replayer that runs scripts as the tool's own user.
    public var replayIdentity: (uid: UInt32, gid: UInt32)? { nil }
}
