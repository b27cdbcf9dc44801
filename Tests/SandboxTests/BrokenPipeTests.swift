import DrillCore
import Foundation
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A broken pipe never kills the tool (``BrokenPipe``), and no child inherits an ignored
/// `SIGPIPE`: a child's `producer | head -1` ends when `head` does, however it was spawned.
@Suite(.serialized) struct BrokenPipeTests {

    /// Whether `SIGPIPE` is ignored (`SIG_IGN`, the handler value 1) in this process.
    static func sigpipeIgnoredHere() -> Bool {
        var current = sigaction()
        sigaction(SIGPIPE, nil, &current)
        #if canImport(Glibc)
            return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == 1
        #else
            return unsafeBitCast(current.__sigaction_u.__sa_handler, to: Int.self) == 1
        #endif
    }

    /// A script for `sh -c`: on Linux `ignored=0` or `ignored=1` (bit 13 of the child's `SigIgn`
    /// mask: SIGPIPE), then `yes | head -1`, then a producer that writes to `head -1` until it is
    /// killed: with SIGPIPE ignored its `echo` fails with `EPIPE` 100 000 times, `|| :` goes on,
    /// and it ends saying `producer survived` on stderr.
    static let probe = """
        mask=$(sed -n 's/^SigIgn:[[:space:]]*//p' /proc/self/status 2>/dev/null)
        [ -n "$mask" ] && echo "ignored=$(( (0x$mask >> 12) & 1 ))"
        yes | head -1
        { i=0; while [ $i -lt 100000 ]; do echo y 2>/dev/null || :; i=$((i+1)); done; echo producer survived >&2; } \\
            | head -1
        """
    #if os(Linux)
        static let expected = "ignored=0\ny\ny\n"
    #else
        static let expected = "y\ny\n"
    #endif

    @Test func aRunWithStandardInputLeavesNoChildWithSIGPIPEIgnored() async throws {
        let runner = SubprocessRunner()
        // The run that used to set SIG_IGN for the whole process: standard input to a child that
        // exits without reading it.
        let fed = try await runner.run(
            ProcessRequest(executable: "sh", arguments: ["-c", "exit 0"], standardInput: Data(count: 1 << 20)))
        #expect(fed.exitCode == 0)
        #expect(!Self.sigpipeIgnoredHere())

        // The tool survives a write to a closed pipe: EPIPE, not death.
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        close(ends[0])
        let written = write(ends[1], "x", 1)
        let code = errno
        close(ends[1])
        #expect(written == -1 && code == EPIPE)

        // A child of swift-subprocess.
        let child = try await runner.run(
            ProcessRequest(executable: "sh", arguments: ["-c", Self.probe], timeout: 60))
        #expect(child.exitCode == 0 && !child.timedOut)
        #expect(child.seconds < 10)
        #expect(String(decoding: child.standardOutput, as: UTF8.self) == Self.expected)
        #expect(String(decoding: child.standardError, as: UTF8.self) == "")

        // A child of Foundation's Process (rclone, `sh -n`), which resets no signal.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", Self.probe]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        let errorBytes = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        #expect(String(decoding: bytes, as: UTF8.self) == Self.expected)
        #expect(String(decoding: errorBytes, as: UTF8.self) == "")
    }
}
