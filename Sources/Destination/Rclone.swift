import DrillCore
import Foundation

/// What one run of rclone gave.
public struct RcloneOutcome: Sendable {
    /// rclone's exit status (rclone's documented codes: 0 success, 1 syntax or usage error, 3
    /// directory not found, 4 file not found, 5 temporary error, 6 less serious errors, 7 fatal
    /// error, 8 transfer limit, 9 nothing transferred); nil when it was killed (timeout).
    public var exitCode: Int32?
    /// Standard output, whole.
    public var standardOutput: Data
    /// Standard error as text (rclone's log lines).
    public var standardError: String
    /// True when the run was stopped at its timeout.
    public var timedOut: Bool

    /// True when rclone exited 0.
    public var succeeded: Bool { exitCode == 0 && !timedOut }

    /// rclone's last `ERROR`/`Failed` line, or the last line of standard error: what a message
    /// shows of a failure.
    public var reason: String {
        if timedOut { return "rclone did not finish in time and was stopped" }
        let lines = standardError.split(separator: "\n").map {
            // Drop rclone's "2026/12/07 08:53:11 " log prefix.
            String($0).replacingOccurrences(
                of: #"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "#, with: "", options: .regularExpression)
        }
        let failure = lines.last { $0.hasPrefix("Failed") || $0.hasPrefix("ERROR") || $0.contains("error") }
        return failure ?? lines.last ?? "rclone exited \(exitCode.map(String.init) ?? "on a signal")"
    }
}

/// Runs the real `rclone` binary (rclone 1.60, as Debian 12 packages it, is the oldest supported).
///
/// rclone reads its own configuration the way it always does: `RCLONE_CONFIG` (or its default
/// file), and `RCLONE_CONFIG_PASS` for an encrypted configuration, from the environment given
/// here. No secret is ever put on rclone's command line: arguments are paths, flags and the remote
/// names of the configuration (the config parser refuses an `rclone:` value that carries an inline
/// credential). Every run adds `--ask-password=false` (rclone never waits on a prompt) and
/// `--use-json-log=false`.
///
/// Runs are synchronous (the ``Destination`` seam is), through Foundation's `Process`, with
/// standard output and standard error written to temporary files (no pipe to fill and block).
public struct Rclone: Sendable {
    /// The rclone executable's absolute path.
    public var executable: String
    /// The whole environment of every run.
    public var environment: [String: String]
    /// Flags added to every run after the command (tests shorten rclone's time-outs with them).
    public var extraFlags: [String] = []

    /// - Parameters:
    ///   - executable: rclone's path; nil looks `rclone` up on `PATH`.
    ///   - environment: the runs' environment; defaults to this process's.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when no rclone is found.
    public init(executable: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws
    {
        if let executable {
            self.executable = executable
        } else if let found = Self.which("rclone", path: environment["PATH"]) {
            self.executable = found
        } else {
            throw RestoreDrillError.runtime(
                "rclone is not installed (off-site remotes need it: apt-get install rclone, or brew install rclone)")
        }
        self.environment = environment
    }

    /// The first executable `name` in the `PATH`-style list `path` (this process's when nil).
    public static func which(_ name: String, path: String?) -> String? {
        let folders = (path ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for folder in folders {
            let candidate = "\(folder)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `rclone <arguments…>`.
    /// - Parameters:
    ///   - arguments: the command and its operands and flags (never a secret).
    ///   - input: bytes for standard input (`rcat`); nil for none.
    ///   - timeout: seconds before the run is stopped (SIGTERM, then SIGKILL after 5 s).
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when rclone cannot be started.
    public func run(_ arguments: [String], input: Data? = nil, timeout: Double = 6 * 3600) throws -> RcloneOutcome {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "restore-drill-rclone-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let outURL = folder.appendingPathComponent("out")
        let errURL = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        var args = arguments
        args.insert(contentsOf: ["--ask-password=false"] + extraFlags, at: min(1, args.count))
        process.arguments = args
        process.environment = environment
        process.standardOutput = out
        process.standardError = err
        var inputPipe: Pipe?
        if input != nil {
            inputPipe = Pipe()
            process.standardInput = inputPipe
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        do {
            try process.run()
        } catch {
            throw RestoreDrillError.runtime("cannot start \(executable): \(error.localizedDescription)")
        }
        if let input, let pipe = inputPipe {
            BrokenPipe.surviveWrites()
            try? pipe.fileHandleForWriting.write(contentsOf: input)
            try? pipe.fileHandleForWriting.close()
        }
        let finished = DispatchSemaphore(value: 0)
        let watcher = Thread {
            process.waitUntilExit()
            finished.signal()
        }
        watcher.start()
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            process.terminate()
            if finished.wait(timeout: .now() + 5) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                finished.wait()
            }
        }
        let stdout = (try? Data(contentsOf: outURL)) ?? Data()
        let stderr = String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self)
        let code: Int32? = process.terminationReason == .exit ? process.terminationStatus : nil
        return RcloneOutcome(exitCode: code, standardOutput: stdout, standardError: stderr, timedOut: timedOut)
    }

    /// The type of each remote of rclone's configuration (`rclone listremotes --long`), by name
    /// without the colon.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when rclone fails (e.g. an encrypted
    ///   configuration without `RCLONE_CONFIG_PASS`).
    public func remoteTypes() throws -> [String: String] {
        let outcome = try run(["listremotes", "--long"], timeout: 60)
        guard outcome.succeeded else {
            throw RestoreDrillError.runtime("rclone cannot read its configuration: \(outcome.reason)")
        }
        var types: [String: String] = [:]
        for line in String(decoding: outcome.standardOutput, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, parts[0].hasSuffix(":") else { continue }
            types[String(parts[0].dropLast())] = String(parts[1])
        }
        return types
    }
}
