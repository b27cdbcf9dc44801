import Foundation
import TestSupport
import Testing

@testable import DrillCore
@testable import Vault

/// Writes `content` to a new file with exactly `mode` (chmod after creation, so the umask does not interfere).
private func makeFile(_ path: String, _ content: String, mode: mode_t) throws {
    try Data(content.utf8).write(to: URL(fileURLWithPath: path))
    #expect(chmod(path, mode) == 0)
}

@Suite struct VaultPasswordTests {
    @Test(arguments: [("hunter2\n", "hunter2"), ("hunter2", "hunter2"), ("pa ss\r\n", "pa ss\r"), ("ünï\n", "ünï")])
    func aPasswordFileYieldsItsFirstLine(content: String, expected: String) throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let path = scratch.file("pw")
        try makeFile(path, content, mode: 0o600)
        #expect(try VaultPassword.fromFile(path).bytes == Array(expected.utf8))
        try makeFile(path, content, mode: 0o400)
        #expect(try VaultPassword.fromFile(path).bytes == Array(expected.utf8))
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o601, 0o620, 0o777] as [mode_t])
    func aPasswordFileOthersCanReachIsRefusedNamingFileAndMode(mode: mode_t) throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let path = scratch.file("pw")
        try makeFile(path, "hunter2\n", mode: mode)
        let error = #expect(throws: RestoreDrillError.self) { try VaultPassword.fromFile(path) }
        let text = error?.description ?? ""
        let found = "0" + String(mode, radix: 8)
        #expect(text.contains(path))
        #expect(text.contains("mode \(found)"))
        #expect(!text.contains("hunter2"))
    }

    @Test(.enabled(if: geteuid() == 0, "chown needs root; CI runs as root"))
    func aPasswordFileOwnedByAnotherUserIsRefused() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let path = scratch.file("pw")
        try makeFile(path, "hunter2\n", mode: 0o600)
        #expect(chown(path, 65534, 65534) == 0)
        let error = #expect(throws: RestoreDrillError.self) { try VaultPassword.fromFile(path) }
        let text = error?.description ?? ""
        #expect(text.contains(path))
        #expect(text.contains("owned by uid 65534"))
    }

    @Test func thingsThatAreNotAPasswordFileAreRefused() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        // A folder with a safe mode.
        let folder = scratch.file("dir")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        #expect(chmod(folder, 0o700) == 0)
        #expect(throws: RestoreDrillError.io(path: folder, message: "vault password file refused: not a regular file"))
        {
            try VaultPassword.fromFile(folder)
        }
        // A FIFO does not block the open.
        let fifo = scratch.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: RestoreDrillError.io(path: fifo, message: "vault password file refused: not a regular file")) {
            try VaultPassword.fromFile(fifo)
        }
        // Missing.
        let missing = scratch.file("missing")
        let error = #expect(throws: RestoreDrillError.self) { try VaultPassword.fromFile(missing) }
        #expect(error?.description.contains(missing) == true)
        // Empty, or more than one line: the openssl CLI would read a different password.
        let path = scratch.file("pw")
        try makeFile(path, "\n", mode: 0o600)
        #expect(throws: RestoreDrillError.runtime("vault password from file \(path) is empty")) {
            try VaultPassword.fromFile(path)
        }
        try makeFile(path, "alpha\nbravo\n", mode: 0o600)
        let twoLines = #expect(throws: RestoreDrillError.self) { try VaultPassword.fromFile(path) }
        #expect(twoLines?.description.contains("line break") == true)
        #expect(twoLines?.description.contains("alpha") == false)
        #expect(twoLines?.description.contains("bravo") == false)
    }

    @Test func theEnvironmentSourceNeedsASetNonEmptyVariable() async throws {
        let runner = FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0))
        let password = try await VaultPassword.resolve(
            .environment("VAULT_PW"), runner: runner, environment: ["VAULT_PW": "from-env", "OTHER": "x"])
        #expect(password.bytes == Array("from-env".utf8))

        let missing = await #expect(throws: RestoreDrillError.self) {
            try await VaultPassword.resolve(.environment("VAULT_PW"), runner: runner, environment: ["OTHER": "x"])
        }
        #expect(missing?.description.contains("VAULT_PW") == true)
        #expect(missing?.description.contains("not set") == true)
        let empty = await #expect(throws: RestoreDrillError.self) {
            try await VaultPassword.resolve(.environment("VAULT_PW"), runner: runner, environment: ["VAULT_PW": ""])
        }
        #expect(empty?.description.contains("VAULT_PW") == true)
        #expect(empty?.description.contains("empty") == true)
        #expect(runner.requests.isEmpty)
    }

    @Test func theFileSourceReadsTheFile() async throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let path = scratch.file("pw")
        try makeFile(path, "from-file\n", mode: 0o600)
        let runner = FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0))
        let password = try await VaultPassword.resolve(.file(path), runner: runner, environment: [:])
        #expect(password.bytes == Array("from-file".utf8))
        #expect(runner.requests.isEmpty)
    }

    @Test func theCommandSourceReadsStdoutAndNeverPutsThePasswordInAnArgv() async throws {
        let secret = "s3cret-from-keychain"
        let runner = FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0, standardOutput: Data("\(secret)\n".utf8)))
        let argv = ["secret-tool", "lookup", "service", "restore-drill"]
        let password = try await VaultPassword.resolve(.command(argv), runner: runner, environment: [:])
        #expect(password.bytes == Array(secret.utf8))

        let requests = runner.requests
        #expect(requests.count == 1)
        #expect(requests.first?.argv == argv)
        #expect(requests.first?.standardInput == nil)
        #expect(requests.first?.timeout != nil)
        for request in requests {
            #expect(!request.argv.contains { $0.contains(secret) })
            #expect(!(request.environment ?? [:]).values.contains { $0.contains(secret) })
        }
    }

    @Test func aFailingCommandIsNamedWithoutItsOutput() async throws {
        let failing = FixedOutcomeRunner(
            outcome: ProcessOutcome(exitCode: 44, standardOutput: Data("partial-secret".utf8)))
        let error = await #expect(throws: RestoreDrillError.self) {
            try await VaultPassword.resolve(
                .command(["security", "find-generic-password"]), runner: failing, environment: [:])
        }
        #expect(error?.description.contains("command security exited with status 44") == true)
        #expect(error?.description.contains("partial-secret") == false)

        let slow = FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: nil, signal: 9, timedOut: true))
        let timeout = await #expect(throws: RestoreDrillError.self) {
            try await VaultPassword.resolve(.command(["sleepy"]), runner: slow, environment: [:])
        }
        #expect(timeout?.description.contains("did not finish") == true)

        // stdout minus ONE newline: a second line is refused, not silently cut.
        let twoLines = FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0, standardOutput: Data("a\nb\n".utf8)))
        await #expect(throws: RestoreDrillError.self) {
            try await VaultPassword.resolve(.command(["printer"]), runner: twoLines, environment: [:])
        }
        let nothing = FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0, standardOutput: Data("\n".utf8)))
        await #expect(throws: RestoreDrillError.self) {
            try await VaultPassword.resolve(.command(["printer"]), runner: nothing, environment: [:])
        }
    }

    @Test func thePasswordIsNeverPrinted() throws {
        let password = try VaultPassword("visible-if-leaked", origin: "test")
        var dumped = ""
        dump(password, to: &dumped)
        for text in ["\(password)", String(reflecting: password), dumped, "\([password])"] {
            #expect(!text.contains("visible-if-leaked"))
            #expect(!text.contains(Hex.encode(password.bytes)))
        }
        #expect("\(password)" == "VaultPassword(redacted)")
    }

    @Test func theLengthLimitMatchesWhatTheOpenSSLCLIReads() throws {
        #expect(throws: Never.self) {
            try VaultPassword(bytes: [UInt8](repeating: 0x41, count: VaultPassword.maximumLength), origin: "t")
        }
        #expect(throws: RestoreDrillError.self) {
            try VaultPassword(bytes: [UInt8](repeating: 0x41, count: VaultPassword.maximumLength + 1), origin: "t")
        }
        #expect(throws: RestoreDrillError.self) { try VaultPassword(bytes: [0x41, 0, 0x42], origin: "t") }
    }

    @Test func aWrittenPasswordFileIs0600AndReadsBack() throws {
        let scratch = try TempFolder("vault-test")
        defer { scratch.remove() }
        let password = try VaultPassword("round trip", origin: "test")
        let path = scratch.file("pw")
        try password.write(toNewFileAt: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try VaultPassword.fromFile(path).bytes == password.bytes)
        // Never over an existing file.
        #expect(throws: RestoreDrillError.self) { try password.write(toNewFileAt: path) }
    }
}
