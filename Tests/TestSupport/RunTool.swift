import Foundation

/// What a child process run by ``runTool(_:_:standardInput:environment:directory:mergingError:)`` did.
public struct ToolRun: Sendable {
    /// The exit status, or the signal number when the process was killed by one.
    public var status: Int32
    /// Standard output as UTF-8 (invalid bytes replaced); with `mergingError`, standard error too,
    /// interleaved as the process wrote them.
    public var output: String
    /// Standard error as UTF-8; empty with `mergingError`.
    public var error: String
}

/// Runs a real child process and waits for it (tests only). Output goes to files, not pipes, so a
/// chatty process cannot fill a pipe and hang.
/// - Parameters:
///   - executable: absolute path of the program.
///   - arguments: its arguments (never a password: passwords go through files or `standardInput`).
///   - standardInput: bytes written to its standard input; nil gives it `/dev/null`.
///   - environment: its whole environment; nil inherits this process's.
///   - directory: its working folder; nil inherits this process's.
///   - mergingError: standard error goes to the same file as standard output (``ToolRun/output``).
/// - Returns: its status and output.
/// - Throws: when the program cannot be started or the capture files cannot be made.
@discardableResult
public func runTool(
    _ executable: String, _ arguments: [String], standardInput: Data? = nil, environment: [String: String]? = nil,
    directory: String? = nil, mergingError: Bool = false
) throws -> ToolRun {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("rd-out-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let outURL = folder.appendingPathComponent("out")
    let errURL = folder.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.standardOutput = out
    process.standardError = mergingError ? out : err
    let input = standardInput.map { _ in Pipe() }
    process.standardInput = input ?? FileHandle.nullDevice
    try process.run()
    if let input, let standardInput {
        input.fileHandleForWriting.write(standardInput)
        try input.fileHandleForWriting.close()
    }
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ToolRun(
        status: process.terminationStatus,
        output: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
        error: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
}
