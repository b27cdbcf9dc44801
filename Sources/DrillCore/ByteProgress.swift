import Foundation

/// Progress of long work in bytes: how much of a known total is done, the rate, and the time left.
/// Made by ``ByteMeter``; rendered on stderr by the executable when stderr is a terminal.
public struct ByteProgress: Sendable, Equatable {
    /// What is being done, e.g. `backup` or `drill: checking artifacts`.
    public var stage: String
    /// Bytes done so far.
    public var done: Int64
    /// Bytes in all (known up front).
    public var total: Int64
    /// Seconds since the work started (monotonic clock).
    public var seconds: Double

    public init(stage: String, done: Int64, total: Int64, seconds: Double) {
        self.stage = stage
        self.done = done
        self.total = total
        self.seconds = seconds
    }

    /// Bytes per second so far; 0 before any time has passed.
    public var bytesPerSecond: Double { seconds > 0 ? Double(done) / seconds : 0 }

    /// Seconds left at the rate so far; nil while the rate is unknown.
    public var secondsLeft: Double? {
        let rate = bytesPerSecond
        guard rate > 0 else { return nil }
        return Double(max(0, total - done)) / rate
    }

    /// One line for a terminal, e.g. `backup: 120.5 MiB of 366.0 MiB (33 %), 85.3 MiB/s, 2.9 s left`.
    public var line: String {
        let percent = total > 0 ? Int(Double(done) * 100 / Double(total)) : 100
        var text = "\(stage): \(Units.humanBytes(done)) of \(Units.humanBytes(total)) (\(percent) %)"
        if bytesPerSecond > 0 { text += ", \(Units.humanBytes(Int64(bytesPerSecond)))/s" }
        if let left = secondsLeft { text += ", \(Units.humanSeconds(left)) left" }
        return text
    }
}

/// Counts bytes from any task or thread and reports a ``ByteProgress`` at most every `interval`
/// seconds (and once more from ``finish()``), so counting stays cheap however often it is called.
public final class ByteMeter: @unchecked Sendable {
    private let lock = NSLock()
    private let stage: String
    private let total: Int64
    private let interval: Double
    private let report: @Sendable (ByteProgress) -> Void
    private let started = ContinuousClock.now
    private var done: Int64 = 0
    private var lastReport = -Double.infinity

    /// - Parameters:
    ///   - stage: what the reports name.
    ///   - total: the bytes expected in all.
    ///   - interval: the least seconds between two reports.
    ///   - report: receives the reports (called outside the meter's lock).
    public init(
        stage: String, total: Int64, interval: Double = 0.25, report: @escaping @Sendable (ByteProgress) -> Void
    ) {
        self.stage = stage
        self.total = total
        self.interval = interval
        self.report = report
    }

    private var elapsed: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Adds `bytes` done; reports when `interval` has passed since the last report.
    public func add(_ bytes: Int64) {
        let now = elapsed
        let snapshot: ByteProgress? = lock.withLock {
            done += bytes
            guard now - lastReport >= interval else { return nil }
            lastReport = now
            return ByteProgress(stage: stage, done: done, total: total, seconds: now)
        }
        if let snapshot { report(snapshot) }
    }

    /// Reports the final figures.
    public func finish() {
        let now = elapsed
        let snapshot = lock.withLock { ByteProgress(stage: stage, done: done, total: total, seconds: now) }
        report(snapshot)
    }
}
