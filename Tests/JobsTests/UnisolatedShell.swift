import DrillCore
import Foundation

/// Runs `/bin/sh` with `arguments` in the replay request's working folder, unisolated, its
/// standard output and error captured together: the stand-in replayers of the tools-record tests.
/// - Parameters:
///   - request: the drill's replay request (its working folder).
///   - arguments: `/bin/sh`'s arguments.
///   - environment: the whole environment.
///   - note: the outcome's note naming the replayer.
/// - Returns: the outcome, isolation `none`.
/// - Throws: what `Process.run()` throws.
func runUnisolatedShell(
    _ request: ReplayRequest, arguments: [String], environment: [String: String], note: String
) throws -> ReplayOutcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = arguments
    process.environment = environment
    process.currentDirectoryURL = URL(fileURLWithPath: request.workingDirectory.pathString)
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ReplayOutcome(
        process: ProcessOutcome(
            exitCode: process.terminationStatus, signal: nil, standardOutput: output, tail: output.suffix(65536),
            outputTruncated: false, seconds: 0),
        isolation: .none, notes: [note])
}
