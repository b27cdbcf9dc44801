import DrillCore
import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The ``ProcessRunner`` of the tool, on swift-subprocess.
///
/// Every child starts in a new session, so it leads its own process group; the timeout and the
/// output cap kill that whole group (`kill(-pgid, SIGKILL)`), and when the child exits, whatever
/// it left running in its group is killed too. Standard output and standard error are read
/// concurrently as byte sequences: the first `outputLimit` bytes of each are kept, plus the last
/// 64 KiB of both interleaved (``ProcessOutcome/tail``). When stdout and stderr together pass
/// `outputLimit`, the run is marked ``ProcessOutcome/outputTruncated`` and the group is killed.
///
/// Writing standard input to a child that has exited must not kill the tool, so a run with
/// standard input makes sure a broken pipe cannot kill the process (``BrokenPipe/surviveWrites()``:
/// writes then fail with `EPIPE`, which is ignored: the child's exit status tells the story; the
/// child itself starts with the default `SIGPIPE`).
public struct SubprocessRunner: ProcessRunner {
    /// Bytes of interleaved output kept as the tail: 64 KiB.
    public static let tailLimit = 64 << 10

    public init() {}

    /// Finds an executable the way a shell would.
    /// - Parameters:
    ///   - name: a bare name (`bwrap`) or a path containing `/` (returned when executable).
    ///   - path: a `PATH`-style list of folders separated by `:`; nil uses this process's `PATH`.
    /// - Returns: the absolute path of the first executable regular file found, or nil.
    public static func which(_ name: String, path: String?) -> String? {
        let fm = FileManager.default
        func isExecutableFile(_ p: String) -> Bool {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: p, isDirectory: &isDirectory) && !isDirectory.boolValue
                && access(p, X_OK) == 0
        }
        if name.isEmpty { return nil }
        if name.contains("/") { return isExecutableFile(name) ? name : nil }
        let search = path ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in search.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = (String(folder) as NSString).appendingPathComponent(name)
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    /// Runs `request` to completion (or until its timeout or output cap kills it).
    ///
    /// A bare executable name is looked up in the request's `PATH` (its environment's, else ours).
    /// - Returns: the exit code or the signal, the kept output, the tail, and wall seconds.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` `"<name> not found"` when the executable does
    ///   not resolve (callers that need to tell this apart call ``which(_:path:)`` first), or
    ///   naming the executable when it cannot be started.
    public func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
        let searchPath = request.environment.map { $0["PATH"] ?? "" }
        guard let executable = Self.which(request.executable, path: searchPath) else {
            throw RestoreDrillError.runtime("\(request.executable) not found")
        }
        if request.standardInput != nil { BrokenPipe.surviveWrites() }

        var options = PlatformOptions()
        options.createSession = true
        // Only used when the body throws or the task is cancelled: kill the whole group.
        options.teardownSequence = [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .seconds(1))]

        let environment: Environment
        if let env = request.environment {
            var custom: [Environment.Key: String] = [:]
            for (key, value) in env {
                if let k = Environment.Key(rawValue: key) { custom[k] = value }
            }
            environment = .custom(custom)
        } else {
            environment = .inherit
        }

        let collector = OutputCollector(limit: max(0, request.outputLimit), tailLimit: Self.tailLimit)
        let start = ContinuousClock.now
        let deadline: ContinuousClock.Instant? = request.timeout.map { start + .milliseconds(Int64(max(0, $0) * 1000)) }
        let input = request.standardInput

        let result: ExecutionResult<Void, SequenceOutput, SequenceOutput>
        do {
            result = try await Subprocess.run(
                .path(FilePath(executable)),
                arguments: Arguments(request.arguments),
                environment: environment,
                workingDirectory: request.workingDirectory.map { FilePath($0) },
                platformOptions: options,
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                let pid = execution.processIdentifier.value
                await withTaskGroup(of: Bool.self) { group in
                    // true: an I/O task; false: the watchdog.
                    group.addTask {
                        let writer = execution.standardInputWriter
                        if let input, !input.isEmpty {
                            _ = try? await writer.write(Array(input))
                        }
                        try? await writer.finish()
                        return true
                    }
                    group.addTask {
                        await Self.drain(execution.standardOutput, into: collector, stream: .output, group: pid)
                        return true
                    }
                    group.addTask {
                        await Self.drain(execution.standardError, into: collector, stream: .error, group: pid)
                        return true
                    }
                    if let deadline {
                        group.addTask {
                            try? await Task.sleep(until: deadline, clock: .continuous)
                            if !Task.isCancelled {
                                collector.markTimedOut()
                                ProcessGroup.kill(pid)
                            }
                            return false
                        }
                    }
                    var pending = 3
                    while pending > 0, let isIO = await group.next() {
                        if isIO { pending -= 1 }
                    }
                    // Both streams are closed; wait until the child itself has exited (it may
                    // have closed its output and kept running), still under the deadline.
                    while !ProcessGroup.hasExited(pid) {
                        if let deadline, ContinuousClock.now >= deadline {
                            collector.markTimedOut()
                            ProcessGroup.kill(pid)
                        }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    // The child is a zombie until `run` reaps it, so its pid (= the group id) cannot
                    // be reused yet: kill whatever it left running in its group.
                    ProcessGroup.kill(pid)
                    group.cancelAll()
                }
            }
        } catch let error as RestoreDrillError {
            throw error
        } catch {
            throw RestoreDrillError.runtime("\(request.executable): cannot run: \(error)")
        }

        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let kept = collector.snapshot()
        var exitCode: Int32?
        var signal: Int32?
        switch result.terminationStatus {
        case .exited(let code): exitCode = code
        case .signaled(let number): signal = number
        }
        return ProcessOutcome(
            exitCode: exitCode, signal: signal, standardOutput: kept.output, standardError: kept.error,
            tail: kept.tail, outputTruncated: kept.truncated, timedOut: kept.timedOut, seconds: seconds)
    }

    private static func drain(
        _ sequence: SubprocessOutputSequence, into collector: OutputCollector, stream: OutputCollector.Stream,
        group pid: pid_t
    ) async {
        do {
            for try await buffer in sequence {
                let overLimit = buffer.withUnsafeBytes { collector.append($0, to: stream) }
                if overLimit { ProcessGroup.kill(pid) }
            }
        } catch {
            // The library cancels reads once the child has exited (a grandchild may hold the pipe).
        }
    }
}

/// Signals to a child's process group, and a non-reaping exit probe.
enum ProcessGroup {
    /// Sends SIGKILL to the process group `pgid` (ignores "no such process").
    static func kill(_ pgid: pid_t) {
        guard pgid > 1 else { return }
        #if canImport(Glibc)
            _ = Glibc.kill(-pgid, SIGKILL)
        #else
            _ = Darwin.kill(-pgid, SIGKILL)
        #endif
    }

    /// True when the child `pid` has terminated; leaves it unreaped (`WNOWAIT`).
    static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        if rc != 0 { return true }  // ECHILD: already reaped or not ours
        #if canImport(Glibc)
            return info._sifields._sigchld.si_pid == pid
        #else
            return info.si_pid == pid
        #endif
    }
}

/// Collects a child's output under a byte limit; shared by the reader tasks.
final class OutputCollector: @unchecked Sendable {
    enum Stream { case output, error }

    struct Snapshot {
        var output: Data
        var error: Data
        var tail: Data
        var truncated: Bool
        var timedOut: Bool
    }

    private let lock = NSLock()
    private let limit: Int
    private let tailLimit: Int
    private var output = Data()
    private var error = Data()
    private var tail = Data()
    private var total = 0
    private var truncated = false
    private var timedOut = false

    init(limit: Int, tailLimit: Int) {
        self.limit = limit
        self.tailLimit = tailLimit
    }

    /// Appends bytes read from `stream`.
    /// - Returns: true when stdout and stderr together have now passed the limit.
    func append(_ bytes: UnsafeRawBufferPointer, to stream: Stream) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        total += bytes.count
        switch stream {
        case .output:
            let room = max(0, limit - output.count)
            if room > 0 { output.append(contentsOf: bytes.prefix(room)) }
        case .error:
            let room = max(0, limit - error.count)
            if room > 0 { error.append(contentsOf: bytes.prefix(room)) }
        }
        if bytes.count >= tailLimit {
            tail = Data(bytes.suffix(tailLimit))
        } else {
            tail.append(contentsOf: bytes)
            if tail.count > tailLimit { tail = Data(tail.suffix(tailLimit)) }
        }
        if total > limit { truncated = true }
        return truncated
    }

    func markTimedOut() {
        lock.lock()
        timedOut = true
        lock.unlock()
    }

    func snapshot() -> Snapshot {
        lock.lock()
        defer { lock.unlock() }
        return Snapshot(output: output, error: error, tail: tail, truncated: truncated, timedOut: timedOut)
    }
}
