import DrillCore
import Foundation

/// A ``ProcessRunner`` that records every request it is asked to start, then passes it to
/// another runner.
///
/// Issue 3 uses it to prove that no password is ever on a command line: run a backup and a drill
/// through it, then search ``recorded`` (argv and environment of every child) for the secret.
/// Requests are recorded before they start, so a child that cannot be started is recorded too.
public final class RecordingRunner: ProcessRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [ProcessRequest] = []
    /// The runner that actually starts the children.
    public let wrapped: any ProcessRunner

    /// - Parameter wrapped: the runner that starts the children (a ``SubprocessRunner`` by default).
    public init(wrapping wrapped: any ProcessRunner = SubprocessRunner()) {
        self.wrapped = wrapped
    }

    /// Every request started so far, in the order `run` was called (argv, environment, input…).
    public var recorded: [ProcessRequest] {
        lock.withLock { requests }
    }

    /// Every argv started so far: executable then arguments.
    public var recordedArgv: [[String]] { recorded.map(\.argv) }

    /// Records `request`, then runs it with the wrapped runner.
    /// - Throws: whatever the wrapped runner throws.
    public func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
        lock.withLock { requests.append(request) }
        return try await wrapped.run(request)
    }
}
