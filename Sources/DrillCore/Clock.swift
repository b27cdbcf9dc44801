import Foundation

/// The source of "now". Inject one so tests and demos can make histories by running the tool.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The machine's clock, or the instant in `$RESTORE_DRILL_NOW` (ISO 8601) when that is set.
public struct SystemClock: WallClock {
    /// The environment variable that pins the clock, e.g. `RESTORE_DRILL_NOW=2025-10-20T03:00:00Z`.
    public static let environmentVariable = "RESTORE_DRILL_NOW"

    private let pinned: Date?

    /// Reads `$RESTORE_DRILL_NOW` from `environment` once.
    /// - Throws: ``RestoreDrillError/usage(_:)`` when it is set but not an ISO 8601 time.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if let text = environment[Self.environmentVariable], !text.isEmpty {
            guard let date = Timestamp.date(text) else {
                throw RestoreDrillError.usage("\(Self.environmentVariable)=\(text) is not an ISO 8601 time")
            }
            pinned = date
        } else {
            pinned = nil
        }
    }

    public func now() -> Date { pinned ?? Date() }
}

/// A clock fixed at one instant, for tests.
public struct FixedClock: WallClock {
    public let date: Date
    public init(_ date: Date) { self.date = date }
    public func now() -> Date { date }
}
