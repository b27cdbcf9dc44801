import DrillCore
import Foundation
import Sandbox
import Testing

@testable import Jobs

/// Starts real children with Foundation's `Process` (no timeout support: hooks here are quick),
/// recording every request.
final class ProcessFoundationRunner: ProcessRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [ProcessRequest] = []
    var recorded: [ProcessRequest] { lock.withLock { requests } }

    func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
        lock.withLock { requests.append(request) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: request.executable)
        process.arguments = request.arguments
        process.environment = request.environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            throw RestoreDrillError.runtime("cannot start \(request.executable): \(error)")
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let signaled = process.terminationReason == .uncaughtSignal
        return ProcessOutcome(
            exitCode: signaled ? nil : process.terminationStatus, signal: signaled ? process.terminationStatus : nil,
            standardOutput: stdout, standardError: stderr)
    }
}

/// A runner that answers with a fixed outcome (or throws), recording requests.
final class CannedRunner: ProcessRunner, @unchecked Sendable {
    let outcome: ProcessOutcome?
    private let lock = NSLock()
    private var requests: [ProcessRequest] = []
    var recorded: [ProcessRequest] { lock.withLock { requests } }
    init(_ outcome: ProcessOutcome?) { self.outcome = outcome }
    func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
        lock.withLock { requests.append(request) }
        guard let outcome else { throw RestoreDrillError.runtime("no such file: \(request.executable)") }
        return outcome
    }
}

@Suite struct HooksTests {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("hooks-\(UUID().uuidString)").path

    @Test func hooksRunInOrderWithTheVerdictInTheirEnvironment() async throws {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let script = base + "/page.sh"
        try Data(
            """
            #!/bin/sh
            out="$1"
            env | grep -E '^(RESTORE_DRILL_|PATH=|HOME=)' | sort > "$out"
            echo "---" >> "$out"
            env | wc -l | tr -d ' ' >> "$out"

            """.utf8
        ).write(to: URL(fileURLWithPath: script))
        chmod(script, 0o755)
        let runner = ProcessFoundationRunner()
        let hooks = HookRunner(baseEnvironment: ["PATH": "/usr/bin:/bin", "HOME": "/home/u", "SECRET": "s3cr3t"])
        let warnings = await hooks.run(
            hooks: [[script, base + "/first.txt"], [script, base + "/second.txt"]], event: "drill", verdict: "fail",
            reportPath: "/r/drill_20251020_050000", backupID: "full_20251020_030000", runner: runner)
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(runner.recorded.map(\.argv) == [[script, base + "/first.txt"], [script, base + "/second.txt"]])
        let text = try String(contentsOfFile: base + "/first.txt", encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(
            Array(lines.prefix(6)) == [
                "HOME=/home/u", "PATH=/usr/bin:/bin", "RESTORE_DRILL_BACKUP_ID=full_20251020_030000",
                "RESTORE_DRILL_EVENT=drill", "RESTORE_DRILL_REPORT=/r/drill_20251020_050000",
                "RESTORE_DRILL_VERDICT=fail",
            ])
        #expect(!text.contains("s3cr3t"), "nothing else of our environment leaks into a hook")
        #expect(FileManager.default.fileExists(atPath: base + "/second.txt"))
    }

    @Test func aFailingHookIsAWarningAndTheNextStillRuns() async throws {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let marker = base + "/ran"
        let runner = ProcessFoundationRunner()
        let warnings = await HookRunner(baseEnvironment: ["PATH": "/usr/bin:/bin"]).run(
            hooks: [
                ["/bin/sh", "-c", "echo 'pager down' >&2; exit 3"], [base + "/missing-hook"], [],
                ["/usr/bin/touch", marker],
            ],
            event: "backup", verdict: "partial", reportPath: nil, backupID: nil, runner: runner)
        #expect(warnings.count == 2, "\(warnings)")
        #expect(warnings.first == "hook [/bin/sh -c echo 'pager down' >&2; exit 3] exited 3: pager down")
        #expect(warnings.last?.hasPrefix("hook [\(base)/missing-hook] could not start") == true)
        #expect(FileManager.default.fileExists(atPath: marker))
        #expect(runner.recorded.count == 3, "the empty argv is ignored")
        #expect(runner.recorded.first?.environment?["RESTORE_DRILL_REPORT"] == "")
        #expect(runner.recorded.first?.environment?["RESTORE_DRILL_BACKUP_ID"] == "")
    }

    @Test func timeoutAndSignalAreWarnings() async {
        let hooks = HookRunner(timeout: 2, baseEnvironment: [:])
        let timedOut = await hooks.run(
            hooks: [["/bin/sleep", "100"]], event: "drill", verdict: "pass", reportPath: nil, backupID: nil,
            runner: CannedRunner(ProcessOutcome(exitCode: nil, signal: 9, timedOut: true)))
        #expect(timedOut == ["hook [/bin/sleep 100] did not finish within 2.0 s and was killed"])
        let runner = CannedRunner(ProcessOutcome(exitCode: nil, signal: 15))
        let killed = await hooks.run(
            hooks: [["/x"]], event: "drill", verdict: "pass", reportPath: nil, backupID: nil, runner: runner)
        #expect(killed == ["hook [/x] was killed by signal 15"])
        #expect(runner.recorded.first?.timeout == 2)
        #expect(runner.recorded.first?.environment?["PATH"] == "/usr/local/bin:/usr/bin:/bin")
    }

    /// With the tool's own runner: a hook that hangs is killed at the timeout, with its children.
    @Test func aHangingHookIsKilledAtTheTimeoutByTheRealRunner() async {
        let started = Date()
        let warnings = await HookRunner(timeout: 1, baseEnvironment: ["PATH": "/usr/bin:/bin"]).run(
            hooks: [["/bin/sh", "-c", "sleep 300 & sleep 300"]], event: "drill", verdict: "fail", reportPath: nil,
            backupID: nil, runner: SubprocessRunner())
        #expect(warnings == ["hook [/bin/sh -c sleep 300 & sleep 300] did not finish within 1.0 s and was killed"])
        // Killed, not waited for: far below the 300 s the hook would take (a loaded CI machine
        // once needed 17.7 s of the shared pool to get there, so the bound is loose).
        #expect(Date().timeIntervalSince(started) < 120)
    }
}
