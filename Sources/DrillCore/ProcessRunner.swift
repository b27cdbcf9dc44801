import Foundation

/// One child process to start: an argv array, never a shell string.
public struct ProcessRequest: Sendable, Equatable {
    /// An absolute path, or a bare name looked up in `PATH`.
    public var executable: String
    public var arguments: [String]
    /// The child's whole environment; nil inherits ours.
    public var environment: [String: String]?
    public var workingDirectory: String?
    /// Bytes written to the child's standard input, then closed (e.g. a password); nil for none.
    public var standardInput: Data?
    /// Most bytes of stdout (and separately stderr) kept; past it the run is marked truncated.
    public var outputLimit: Int
    /// Seconds before the whole process group is killed; nil for no limit.
    public var timeout: Double?

    public init(
        executable: String, arguments: [String] = [], environment: [String: String]? = nil,
        workingDirectory: String? = nil, standardInput: Data? = nil, outputLimit: Int = 16 << 20,
        timeout: Double? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.standardInput = standardInput
        self.outputLimit = outputLimit
        self.timeout = timeout
    }

    /// The full argv as started: executable then arguments.
    public var argv: [String] { [executable] + arguments }
}

/// How a child process ended.
public struct ProcessOutcome: Sendable, Equatable {
    /// The exit status when it exited; nil when killed by a signal.
    public var exitCode: Int32?
    /// The signal that killed it, if any.
    public var signal: Int32?
    /// Up to `outputLimit` bytes of each stream (the first bytes when truncated).
    public var standardOutput: Data
    public var standardError: Data
    /// The last bytes of stdout+stderr interleaved as read (at most 64 KiB), for reports.
    public var tail: Data
    /// True when either stream passed `outputLimit`.
    public var outputTruncated: Bool
    /// True when the timeout killed the process group.
    public var timedOut: Bool
    /// Wall time, seconds.
    public var seconds: Double

    public init(
        exitCode: Int32?, signal: Int32? = nil, standardOutput: Data = Data(), standardError: Data = Data(),
        tail: Data = Data(), outputTruncated: Bool = false, timedOut: Bool = false, seconds: Double = 0
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.tail = tail
        self.outputTruncated = outputTruncated
        self.timedOut = timedOut
        self.seconds = seconds
    }

    /// True when the process exited with status 0, in time, within the output cap.
    public var succeeded: Bool { exitCode == 0 && !timedOut && !outputTruncated }
}

/// Starts child processes. Injected so tests can record every argv (no secret may appear in one)
/// or replace children with fakes.
public protocol ProcessRunner: Sendable {
    /// Runs `request` to completion.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when the child cannot be started (e.g. not found).
    func run(_ request: ProcessRequest) async throws -> ProcessOutcome
}
