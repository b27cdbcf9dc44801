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
    /// Files outside the sandbox the script may read (e.g. a password file).
    public var extraReadOnly: [AbsolutePath]
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
        limits: RestoreDrillConfig.ResourceLimits = .init(), timeout: Double = 3600, outputCap: Int = 8 << 20,
        isolation: RestoreDrillConfig.IsolationMode = .auto, unisolatedFallback: Bool = true
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
    }
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
    ///   ``RestoreDrillError/isolationUnavailable(_:)`` when `isolation` is `auto`, bubblewrap is
    ///   not available and `unisolatedFallback` is false (nothing was run).
    func replay(_ request: ReplayRequest) async throws -> ReplayOutcome
}
