import Destination
import DrillCore
import Foundation
import Health

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The dead-man's switch (`hooks.ping`, the healthchecks.io convention): a POST to `URL/start` when a
/// backup or drill starts, to `URL` when it succeeds, to `URL/fail` when it fails.
///
/// The body is plain text: the run's last progress lines (up to ``lineLimit``), then one line
/// `chain-head: <seq> <sha256>` (or `chain-head: none`): the history's head, anchored outside the
/// workstation with every ping (README, "What the history detects").
///
/// A ping that fails (refused, times out after ``timeout`` seconds, an answer other than 2xx) is a
/// warning, never the job's failure. The URL is a capability: warnings name only its scheme and
/// host (``shown(_:)``), never its path.
public struct PingSender: Sendable {
    /// What a ping says.
    public enum Signal: String, Sendable {
        /// The run started: `URL/start`.
        case start
        /// The run succeeded: `URL`.
        case success
        /// The run failed: `URL/fail`.
        case fail
    }

    /// The configured `hooks.ping`.
    public var url: URL
    /// Seconds a ping may take, connection included.
    public var timeout: Double = 10
    /// At most this many progress lines go into a body (the newest).
    public static let lineLimit = 20

    /// - Parameter url: `hooks.ping`.
    public init(url: URL) { self.url = url }

    /// Where a signal goes: `URL/start`, `URL`, `URL/fail`.
    public func target(_ signal: Signal) -> URL {
        switch signal {
        case .start: url.appendingPathComponent("start")
        case .success: url
        case .fail: url.appendingPathComponent("fail")
        }
    }

    /// `scheme://host[:port]`: how messages name a ping URL (its path is the secret).
    public static func shown(_ url: URL) -> String {
        "\(url.scheme ?? "?")://\(url.host ?? "?")" + (url.port.map { ":\($0)" } ?? "")
    }

    /// A ping's body: the last ``lineLimit`` of `lines` (control characters shown as pictures), then
    /// `chain-head: <seq> <sha256>` or `chain-head: none`, each line ending in LF.
    public static func body(lines: [String], head: HistoryChainHead?) -> Data {
        var out = lines.suffix(lineLimit).map { HistoryText.visible($0) }
        out.append("chain-head: " + (head?.line ?? "none"))
        return Data((out.joined(separator: "\n") + "\n").utf8)
    }

    /// Sends one ping.
    /// - Returns: nil when the listener answered 2xx; else a warning for stderr naming the signal,
    ///   the URL's scheme and host, and what went wrong.
    public func send(_ signal: Signal, lines: [String], head: HistoryChainHead?) async -> String? {
        var request = URLRequest(
            url: target(signal), cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("text/plain; charset=utf-8", forHTTPHeaderField: "Content-Type")
        request.httpBody = Self.body(lines: lines, head: head)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let where_ = "ping \(signal.rawValue) to \(Self.shown(url))"
        let outcome: Result<Int, PingFailure> = await withCheckedContinuation { continuation in
            let task = session.dataTask(with: request) { _, response, error in
                if let error {
                    continuation.resume(returning: .failure(PingFailure(message: Self.describe(error))))
                } else {
                    continuation.resume(returning: .success((response as? HTTPURLResponse)?.statusCode ?? 0))
                }
            }
            task.resume()
        }
        switch outcome {
        case .failure(let failure): return "\(where_) failed: \(failure.message)"
        case .success(let status) where (200..<300).contains(status): return nil
        case .success(let status): return "\(where_) was answered with HTTP status \(status)"
        }
    }

    struct PingFailure: Error { var message: String }

    /// An error's text without the URL (URLSession's messages and user info can hold it).
    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if ns.domain == NSURLErrorDomain {
            switch ns.code {
            case NSURLErrorTimedOut: return "timed out"
            case NSURLErrorCannotConnectToHost: return "connection refused"
            case NSURLErrorCannotFindHost: return "host not found"
            case NSURLErrorNotConnectedToInternet: return "not connected"
            case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted,
                NSURLErrorServerCertificateHasBadDate, NSURLErrorServerCertificateNotYetValid:
                return "TLS failed"
            default: return "network error \(ns.code)"
            }
        }
        return "error \(ns.domain) \(ns.code)"
    }
}

/// The newest progress lines of one run, kept for its ping's body (thread-safe).
final class PingLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    /// Keeps `line` (each of its lines), dropping the oldest past ``PingSender/lineLimit``.
    func add(_ line: String) {
        lock.withLock {
            lines.append(contentsOf: line.split(separator: "\n", omittingEmptySubsequences: true).map(String.init))
            if lines.count > PingSender.lineLimit { lines.removeFirst(lines.count - PingSender.lineLimit) }
        }
    }

    /// The kept lines, oldest first.
    var all: [String] { lock.withLock { lines } }

    /// A progress closure that keeps each line and passes it on to `next`.
    func tee(_ next: (@Sendable (String) -> Void)?) -> @Sendable (String) -> Void {
        { [self] line in
            add(line)
            next?(line)
        }
    }
}

extension BackupJob {
    /// Runs the backup with the dead-man's-switch pings around it (``PingSender``): `start`, then
    /// `success` for a complete set or `fail` for a partial set or an error. Without `hooks.ping`,
    /// the backup alone. A ping that fails is reported through ``warning`` and changes nothing else.
    /// - Parameter warning: receives each failed ping's warning (the command prints it on stderr).
    /// - Returns: as ``run()``.
    /// - Throws: as ``run()``.
    public func run(warning: @escaping @Sendable (String) -> Void) async throws -> Outcome {
        guard let url = config.hooks.ping else { return try await run() }
        let sender = PingSender(url: url)
        let lines = PingLines()
        let history = HistoryStore(destination)
        if let w = await sender.send(.start, lines: [], head: try? history.head()) { warning(w) }
        var job = self
        job.progress = lines.tee(progress)
        do {
            let outcome = try await job.run()
            let complete = outcome.manifest.status == .complete
            lines.add("backup \(outcome.manifest.id) \(complete ? "complete" : "partial")")
            if let w = await sender.send(complete ? .success : .fail, lines: lines.all, head: try? history.head()) {
                warning(w)
            }
            return outcome
        } catch {
            lines.add("backup failed: \(error)")
            if let w = await sender.send(.fail, lines: lines.all, head: try? history.head()) { warning(w) }
            throw error
        }
    }
}

extension DrillJob {
    /// Runs the drill with the dead-man's-switch pings around it (``PingSender``): `start`, then
    /// `success` when the verdict is pass, `fail` when it is fail or the drill could not run. Without
    /// `hooks.ping`, the drill alone. A ping that fails is reported through `warning` and changes
    /// nothing else (not the verdict, not the exit code).
    /// - Parameter warning: receives each failed ping's warning (the command prints it on stderr).
    /// - Returns: as ``run(_:)``.
    /// - Throws: as ``run(_:)``.
    public func run(_ request: Request, warning: @escaping @Sendable (String) -> Void) async throws -> DrillResult {
        guard let url = config?.hooks.ping else { return try await run(request) }
        let sender = PingSender(url: url)
        let lines = PingLines()
        // Where the drill's event is chained: as ``run(_:)`` chooses it.
        let chainStore: (any Destination)? =
            historyDestination
            ?? (request.offsite != nil ? config.map { LocalDestination(path: $0.destination) } : destination)
        let head: @Sendable () -> HistoryChainHead? = { chainStore.flatMap { try? HistoryStore($0).head() } }
        if let w = await sender.send(.start, lines: [], head: head()) { warning(w) }
        var job = self
        job.progress = lines.tee(progress)
        do {
            let result = try await job.run(request)
            lines.add("drill \(result.drillID) \(result.verdict.rawValue)")
            if let w = await sender.send(result.verdict == .pass ? .success : .fail, lines: lines.all, head: head()) {
                warning(w)
            }
            return result
        } catch {
            lines.add("drill could not finish: \(error)")
            if let w = await sender.send(.fail, lines: lines.all, head: head()) { warning(w) }
            throw error
        }
    }
}

extension SampledDrillJob {
    /// Runs the sampled drill with the dead-man's-switch pings around it (``PingSender``), as a
    /// drill: `start`, then `success` when every set drilled passed, `fail` otherwise or when the
    /// sample could not run. Without `hooks.ping`, the sample alone (its drills do not ping each).
    /// - Parameter warning: receives each failed ping's warning.
    public func run(_ request: Request, warning: @escaping @Sendable (String) -> Void) async throws
        -> SampledDrillResult
    {
        guard let url = config.hooks.ping else { return try await run(request) }
        let sender = PingSender(url: url)
        let lines = PingLines()
        let store = drill.historyDestination ?? drill.destination ?? LocalDestination(path: config.destination)
        let head: @Sendable () -> HistoryChainHead? = { try? HistoryStore(store).head() }
        if let w = await sender.send(.start, lines: [], head: head()) { warning(w) }
        var job = self
        job.progress = lines.tee(progress)
        job.drill.progress = lines.tee(drill.progress)
        do {
            let result = try await job.run(request)
            lines.add("sampled drill \(result.sampleID) \(result.verdict.rawValue)")
            if let w = await sender.send(result.verdict == .pass ? .success : .fail, lines: lines.all, head: head()) {
                warning(w)
            }
            return result
        } catch {
            lines.add("sampled drill could not finish: \(error)")
            if let w = await sender.send(.fail, lines: lines.all, head: head()) { warning(w) }
            throw error
        }
    }
}
