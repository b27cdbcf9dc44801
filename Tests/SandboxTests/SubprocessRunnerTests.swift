import DrillCore
import Foundation
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A temporary folder under FileManager's temporary directory, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init(_ label: String = "sandbox-tests") throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// True while a process with this pid exists and is not a zombie.
func processIsAlive(_ pid: pid_t) -> Bool {
    #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // Field 3 (after the parenthesised command) is the state; Z is a zombie, X dead.
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
        return state != "Z" && state != "X"
    #else
        return kill(pid, 0) == 0
    #endif
}

/// Waits up to `seconds` for `condition` to hold.
func eventually(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}

@Suite("SubprocessRunner")
struct SubprocessRunnerTests {
    let runner = SubprocessRunner()

    @Test func whichFindsShellAndRejectsUnknownNames() throws {
        let sh = try #require(SubprocessRunner.which("sh", path: "/usr/bin:/bin"))
        #expect(sh.hasSuffix("/sh"))
        #expect(FileManager.default.isExecutableFile(atPath: sh))
        #expect(SubprocessRunner.which("no-such-tool-\(UUID().uuidString)", path: "/usr/bin:/bin") == nil)
        #expect(SubprocessRunner.which("sh", path: "") == nil)
        #expect(SubprocessRunner.which(sh, path: "") == sh)
    }

    @Test func unknownExecutableThrowsNotFound() async {
        let name = "no-such-tool-\(UUID().uuidString.prefix(6))"
        await #expect(throws: RestoreDrillError.runtime("\(name) not found")) {
            _ = try await runner.run(ProcessRequest(executable: name))
        }
    }

    @Test func reportsExitCodeSignalAndOutputStreams() async throws {
        let exited = try await runner.run(
            ProcessRequest(executable: "sh", arguments: ["-c", "echo out; echo err >&2; exit 7"]))
        #expect(exited.exitCode == 7)
        #expect(exited.signal == nil)
        #expect(String(decoding: exited.standardOutput, as: UTF8.self) == "out\n")
        #expect(String(decoding: exited.standardError, as: UTF8.self) == "err\n")
        #expect(!exited.outputTruncated && !exited.timedOut && !exited.succeeded)

        let signalled = try await runner.run(ProcessRequest(executable: "sh", arguments: ["-c", "kill -TERM $$"]))
        #expect(signalled.exitCode == nil)
        #expect(signalled.signal == SIGTERM)
    }

    @Test func environmentIsExactlyTheRequestedOne() async throws {
        let outcome = try await runner.run(
            ProcessRequest(
                executable: "/usr/bin/env", environment: ["ONLY": "this", "PATH": "/usr/bin:/bin"]))
        let lines = Set(String(decoding: outcome.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init))
        #expect(lines == ["ONLY=this", "PATH=/usr/bin:/bin"])
    }

    @Test func deliversStandardInput() async throws {
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let input = Data(bytes)
        let outcome = try await runner.run(
            ProcessRequest(executable: "cat", standardInput: input, outputLimit: 4 << 20, timeout: 20))
        #expect(outcome.exitCode == 0)
        #expect(outcome.standardOutput == input)
    }

    @Test func standardInputToAChildThatDoesNotReadIsHarmless() async throws {
        let outcome = try await runner.run(
            ProcessRequest(executable: "true", standardInput: Data(count: 1 << 20), timeout: 20))
        #expect(outcome.exitCode == 0)
    }

    @Test func timeoutKillsTheWholeProcessTree() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let pidFile = folder.file("background.pid")
        let timeout = 1.0
        let outcome = try await runner.run(
            ProcessRequest(
                executable: "sh", arguments: ["-c", "sleep 1000 & echo $! > '\(pidFile)'; sleep 1000"],
                timeout: timeout))
        #expect(outcome.timedOut)
        #expect(outcome.signal == SIGKILL)
        #expect(outcome.seconds >= timeout && outcome.seconds < timeout + 2)
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let background = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually(2) { !processIsAlive(background) }, "background sleep \(background) survived")
    }

    @Test func leftoverBackgroundProcessesDieWithTheChild() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let pidFile = folder.file("background.pid")
        let outcome = try await runner.run(
            ProcessRequest(
                executable: "sh", arguments: ["-c", "sleep 1000 >/dev/null 2>&1 & echo $! > '\(pidFile)'; exit 0"],
                timeout: 20))
        #expect(outcome.exitCode == 0)
        #expect(outcome.seconds < 5)
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let background = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually(2) { !processIsAlive(background) }, "background sleep \(background) survived")
    }

    @Test func outputCapStopsTheChildAndKeepsTheTail() async throws {
        let limit = 64 << 10
        let outcome = try await runner.run(
            ProcessRequest(executable: "yes", arguments: ["restore-drill"], outputLimit: limit, timeout: 20))
        #expect(outcome.outputTruncated)
        #expect(!outcome.timedOut)
        #expect(outcome.signal == SIGKILL)
        #expect(outcome.seconds < 5)
        #expect(outcome.standardOutput.count == limit)
        #expect(outcome.standardOutput.starts(with: Data("restore-drill\n".utf8)))
        #expect(!outcome.tail.isEmpty && outcome.tail.count <= SubprocessRunner.tailLimit)
        let tail = String(decoding: outcome.tail, as: UTF8.self)
        #expect(tail.contains("restore-drill\nrestore-drill\n"))
    }

    @Test func outputCapCountsBothStreamsTogether() async throws {
        // 40 KiB on each stream: each alone is under 64 KiB, together they pass it.
        let outcome = try await runner.run(
            ProcessRequest(
                executable: "sh",
                arguments: ["-c", "head -c 40960 /dev/zero; head -c 40960 /dev/zero >&2; sleep 1000"],
                outputLimit: 64 << 10, timeout: 20))
        #expect(outcome.outputTruncated)
        #expect(!outcome.timedOut)
        #expect(outcome.seconds < 5)
        #expect(outcome.standardOutput.count + outcome.standardError.count <= 80 << 10)
    }

    @Test func recordingRunnerRecordsArgvAndEnvironment() async throws {
        let recorder = RecordingRunner(wrapping: runner)
        let first = ProcessRequest(
            executable: "sh", arguments: ["-c", "exit 0"], environment: ["PATH": "/usr/bin:/bin"])
        let second = ProcessRequest(executable: "true", arguments: ["--marker", "x y"])
        _ = try await recorder.run(first)
        _ = try await recorder.run(second)
        await #expect(throws: RestoreDrillError.self) {
            _ = try await recorder.run(ProcessRequest(executable: "no-such-tool-\(UUID().uuidString.prefix(6))"))
        }
        #expect(recorder.recorded.count == 3)
        #expect(Array(recorder.recorded.prefix(2)) == [first, second])
        #expect(recorder.recordedArgv[1] == ["true", "--marker", "x y"])
        #expect(recorder.recorded[0].environment == ["PATH": "/usr/bin:/bin"])
    }
}
