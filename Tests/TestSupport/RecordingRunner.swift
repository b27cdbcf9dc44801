import DrillCore
import Foundation

/// A ``ProcessRunner`` that starts nothing: it records every request and answers each with one
/// fixed outcome. Thread-safe; ``requests`` lists them in the order they arrived.
public final class FixedOutcomeRunner: ProcessRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [ProcessRequest] = []
    private let outcome: ProcessOutcome

    /// - Parameter outcome: what every ``run(_:)`` returns.
    public init(outcome: ProcessOutcome) { self.outcome = outcome }

    /// Every request so far, oldest first.
    public var requests: [ProcessRequest] { lock.withLock { recorded } }

    /// Records `request` and returns the fixed outcome.
    public func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
        lock.withLock { recorded.append(request) }
        return outcome
    }
}
