import Foundation

@testable import DrillCore

/// A temporary folder for one test, removed by ``remove()``.
struct VaultScratch {
    let path: String

    init() throws {
        path =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("vault-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Names in the folder, hidden ones included (temporary files start with a dot).
    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    /// Writes a password file with mode 0600 for the openssl CLI (`-pass file:`).
    func passwordFile(_ password: VaultPassword, name: String = "password") throws -> String {
        let p = file(name)
        try password.write(toNewFileAt: p)
        return p
    }
}

/// Bytes that differ from run to run (the vault must not depend on a pattern).
func randomBytes(_ count: Int) -> Data {
    var g = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    var i = 0
    while i < count {
        var word = g.next() as UInt64
        for _ in 0..<8 where i < count {
            bytes[i] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            i += 1
        }
    }
    return Data(bytes)
}

/// Runs a real child process (tests only) and returns its exit status and stderr.
/// No argument ever holds a password: passwords go through files or standard input.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], standardInput: Data? = nil) throws -> (
    status: Int32, output: String, error: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let standardInput { input.fileHandleForWriting.write(standardInput) }
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self)
    )
}

/// A ``ProcessRunner`` that starts nothing: it records every request and answers with a fixed outcome.
final class RecordingRunner: ProcessRunner, @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [ProcessRequest] = []
    private let outcome: ProcessOutcome

    init(outcome: ProcessOutcome) { self.outcome = outcome }

    var requests: [ProcessRequest] { lock.withLock { recorded } }

    func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
        lock.withLock { recorded.append(request) }
        return outcome
    }
}
