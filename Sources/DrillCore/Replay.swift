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
    /// The most bytes the sandbox folder may hold while the script runs (allocated bytes, as
    /// `du` counts them: `st_blocks` × 512 of every entry, links not followed), or nil for no
    /// bound. Past it the replay is stopped and the outcome says ``ReplayLimit/byteBound``. The
    /// drill sets it with ``byteBound(setBytes:restoredBytes:)``.
    public var byteBound: Int64?
    /// The SHA-256 (64 lowercase hex) the drill verified for ``script``, or nil. With it the
    /// replayer makes a private copy of the set after the check (root's, read-only, in the
    /// sandbox), replays only that copy, and runs nothing when the copy's script is not a regular
    /// file with this digest: a script swapped in the set between the drill's check and the replay
    /// never runs, and never gets ``secret`` (issue 11, a hostile set). The drill sets it whenever
    /// it hands a secret.
    public var scriptSHA256: String?

    public init(
        script: AbsolutePath, arguments: [String], setFolder: AbsolutePath, sandboxFolder: AbsolutePath,
        environment: [String: String] = [:], workingDirectory: AbsolutePath, extraReadOnly: [AbsolutePath] = [],
        limits: RestoreDrillConfig.ResourceLimits = .init(),
        timeout: Double = RestoreDrillConfig.SandboxSettings.defaultTimeout,
        outputCap: Int = RestoreDrillConfig.SandboxSettings.defaultOutputCap,
        isolation: RestoreDrillConfig.IsolationMode = RestoreDrillConfig.SandboxSettings.defaultIsolation,
        unisolatedFallback: Bool = true, secret: Data? = nil, byteBound: Int64? = nil, scriptSHA256: String? = nil
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
        self.byteBound = byteBound
        self.scriptSHA256 = scriptSHA256
    }

    /// The folder of a sandbox that holds a private copy of the set: `set` (the copy is
    /// `<sandbox>/set/<set folder name>`). A request whose ``setFolder`` is inside the sandbox
    /// names such a copy, written by the drill while it verified the set: the replayer gives the
    /// replay's group read access to it, copies nothing, and removes it after the replay.
    public static let verifiedCopyFolder = "set"

    /// The descriptor on which the script reads ``secret``: 3, the first one after standard
    /// input, output and error.
    public static let secretDescriptor: Int32 = 3

    /// How many times the set's bytes the sandbox may hold: 16.
    ///
    /// Why 16: during a replay the sandbox holds at most a read-only copy of the set (1×, when the
    /// replay's uid cannot read the set), the databases and plain artifacts restored 1:1 with a
    /// reassembled database briefly present twice (2× at most), and `code.tar.gz` unpacked, which
    /// grows by gzip's ratio: 3–6× for source trees at level 6, rarely past 10× (logs, JSON).
    /// 16× leaves room above all of them together; a runaway or hostile script that fills the
    /// disk (2.1 GB written from a set of a few kilobytes in issue 11) is stopped early.
    public static let byteBoundSetMultiple: Int64 = 16

    /// Bytes the sandbox may hold on top of the multiples: 1 GiB. It absorbs what does not grow
    /// with the set: block rounding (up to 4 KiB per restored file, so about 260 000 small files),
    /// folders, and tools' temporary files.
    public static let byteBoundAllowance: Int64 = 1 << 30

    /// The byte bound of a replay, bytes:
    /// `setBytes × byteBoundSetMultiple + byteBoundAllowance` (16 × the set + 1 GiB); for a
    /// proven set whose manifest says how many bytes a correct restore produces, at least
    /// `setBytes + 2 × restoredBytes + byteBoundAllowance` (a compressible set may unpack past 16×;
    /// its authenticated manifest is believed, never an unproven one's, which anyone could write).
    /// - Parameters:
    ///   - setBytes: the bytes of the set folder's files (their lengths, links not followed).
    ///   - restoredBytes: the bytes the manifest's files and databases add up to, only for a set
    ///     whose manifest HMAC verified; nil otherwise.
    /// - Returns: the bound in bytes (saturating at `Int64.max`).
    public static func byteBound(setBytes: Int64, restoredBytes: Int64? = nil) -> Int64 {
        func add(_ a: Int64, _ b: Int64) -> Int64 {
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? .max : sum
        }
        func times(_ a: Int64, _ b: Int64) -> Int64 {
            let (product, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? .max : product
        }
        let set = max(0, setBytes)
        let base = add(times(set, byteBoundSetMultiple), byteBoundAllowance)
        guard let restoredBytes else { return base }
        return max(base, add(add(set, times(max(0, restoredBytes), 2)), byteBoundAllowance))
    }
}

/// A limit of a replay beyond the per-process resource limits (which `prlimit` always applies):
/// each one is applied where the platform and the tool's privileges allow, and a report names
/// those that were not (``ReplayLimits``). The raw value is the name reports print.
public enum ReplayLimit: String, Sendable, Equatable, Hashable, CaseIterable, Codable, Comparable {
    /// `sandbox.limits.memory` for all the replay's processes together, in a memory cgroup
    /// (v1 `memory.limit_in_bytes`, v2 `memory.max`): past it the kernel kills one of them.
    case memoryCgroup = "memory cgroup"
    /// `sandbox.limits.processes` for the replay's own processes, in a pids cgroup (`pids.max`):
    /// past it `fork` fails.
    case pidsCgroup = "pids cgroup"
    /// A `/dev/shm` of a few MiB under bubblewrap, instead of the host's of half the RAM.
    case shmCap = "shm cap"
    /// The sandbox's total bytes, watched while the script runs (``ReplayRequest/byteBound``).
    case byteBound = "byte bound"
    /// A seccomp filter under bubblewrap refusing `socket(AF_UNIX, …)` (and `io_uring_setup`)
    /// with EPERM, so no unix socket of the host can be reached even if its path were visible.
    case seccomp

    public static func < (lhs: ReplayLimit, rhs: ReplayLimit) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Which ``ReplayLimit``s a replay ran under.
public struct ReplayLimits: Sendable, Equatable, CustomStringConvertible {
    /// The limits in force for the whole replay.
    public var applied: Set<ReplayLimit>

    /// - Parameter applied: the limits in force; none by default (a replayer that applies none).
    public init(applied: Set<ReplayLimit> = []) {
        self.applied = applied
    }

    /// Every limit applied.
    public static let full = ReplayLimits(applied: Set(ReplayLimit.allCases))

    /// The limits not applied, in ``ReplayLimit`` declaration order.
    public var missing: [ReplayLimit] { ReplayLimit.allCases.filter { !applied.contains($0) } }

    /// True when every ``ReplayLimit`` was applied.
    public var isFull: Bool { missing.isEmpty }

    /// What reports print after `limits:`: `full`, or `partial (` the missing names joined by
    /// `, ` `)`, e.g. `partial (memory cgroup, seccomp)`.
    public var description: String {
        isFull ? "full" : "partial (" + missing.map(\.rawValue).joined(separator: ", ") + ")"
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
    /// The ``ReplayLimit``s the replay ran under (none by default, for a replayer that applies
    /// none).
    public var limits: ReplayLimits
    /// The limits that stopped the replay or one of its processes, in ``ReplayLimit`` order:
    /// the memory cgroup killed a process (`oom_kill`), the pids cgroup refused a fork (`max`),
    /// or the sandbox passed the byte bound. Empty when none did. A restore that hit a limit
    /// failed, whatever its exit status.
    public var stoppedBy: [ReplayLimit]

    public init(
        process: ProcessOutcome, isolation: IsolationKind, uid: UInt32? = nil, notes: [String] = [],
        limits: ReplayLimits = ReplayLimits(), stoppedBy: [ReplayLimit] = []
    ) {
        self.process = process
        self.isolation = isolation
        self.uid = uid
        self.notes = notes
        self.limits = limits
        self.stoppedBy = stoppedBy
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
