import DrillCore
import Foundation

/// The credentials-vault password (README, "Configuration", `credentials.password`).
///
/// Holds the password's bytes and nothing else. It never prints them: ``description``,
/// ``debugDescription`` and the reflection mirror (what `dump` and string interpolation use) are
/// redacted, so a password cannot reach a log, report or history event by accident.
///
/// Every source yields a password the `openssl` command line reads back identically from
/// `-pass file:F` (which takes the first line of `F`, without its newline, as a C string, up to
/// 1023 bytes — OpenSSL 3.0 `apps/lib/apps.c`): the bytes are non-empty, at most
/// ``maximumLength`` long, and hold no newline and no NUL. That is what lets the restore script
/// decrypt the vault with the openssl CLI alone.
public struct VaultPassword: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// Longest password in bytes the `openssl` CLI reads in full from `-pass file:`.
    public static let maximumLength = 1023

    /// The password's bytes (UTF-8 for text passwords). Pass them to a child only through a pipe,
    /// an inherited descriptor or a 0600 file (``write(toNewFileAt:)``), never on a command line.
    public let bytes: [UInt8]

    /// A password from raw bytes.
    /// - Parameter origin: names where the bytes came from in error messages (e.g. the file path
    ///   or `environment variable VAULT_PASSWORD`); never the bytes themselves.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` naming `origin` when the bytes are empty, longer
    ///   than ``maximumLength``, or hold a newline or NUL byte (the openssl CLI would read a
    ///   different password from them).
    public init(bytes: [UInt8], origin: String) throws {
        if let problem = VaultPassword.problem(with: bytes) {
            throw RestoreDrillError.runtime("vault password from \(origin) \(problem)")
        }
        self.bytes = bytes
    }

    /// A password from text (its UTF-8 bytes); same rules and errors as ``init(bytes:origin:)``.
    public init(_ text: String, origin: String) throws {
        try self.init(bytes: Array(text.utf8), origin: origin)
    }

    /// Why `bytes` cannot be a vault password, or nil when they can.
    static func problem(with bytes: [UInt8]) -> String? {
        if bytes.isEmpty { return "is empty" }
        if bytes.count > maximumLength {
            return "is longer than \(maximumLength) bytes (the openssl CLI would read only the first \(maximumLength))"
        }
        if bytes.contains(0x0a) { return "contains a line break (the openssl CLI reads only the first line)" }
        if bytes.contains(0) { return "contains a NUL byte (the openssl CLI would stop reading at it)" }
        return nil
    }

    public var description: String { "VaultPassword(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    /// Gets the password from its configured source.
    ///
    /// - `env: NAME`: the variable's value; it must be set and non-empty.
    /// - `file: PATH`: see ``fromFile(_:)``.
    /// - `command: [argv…]`: runs the argv through `runner` with no standard input and our
    ///   environment; the password is its standard output minus one trailing newline. It must exit 0
    ///   within 120 seconds and print at most 64 KiB. The password never appears in an argv.
    ///
    /// - Parameters:
    ///   - source: the `credentials.password` section.
    ///   - runner: starts the command (tests inject a recording fake).
    ///   - environment: the variables `env:` reads (usually `ProcessInfo.processInfo.environment`).
    /// - Throws: ``RestoreDrillError/runtime(_:)`` naming the variable or the command when the
    ///   password is missing, empty or cannot be represented (see ``init(bytes:origin:)``);
    ///   ``RestoreDrillError/io(path:message:)`` for a refused password file. Messages never hold
    ///   the password or the command's output.
    public static func resolve(
        _ source: RestoreDrillConfig.PasswordSource, runner: any ProcessRunner, environment: [String: String]
    ) async throws -> VaultPassword {
        switch source {
        case .environment(let name):
            let origin = "environment variable \(name)"
            guard let value = environment[name] else {
                throw RestoreDrillError.runtime("vault password: \(origin) is not set (credentials.password.env)")
            }
            return try VaultPassword(value, origin: origin)
        case .file(let path):
            return try fromFile(path)
        case .command(let argv):
            guard let executable = argv.first else {
                throw RestoreDrillError.runtime("vault password: credentials.password.command is empty")
            }
            let origin = "command \(executable)"
            let outcome = try await runner.run(
                ProcessRequest(
                    executable: executable, arguments: Array(argv.dropFirst()), environment: nil,
                    standardInput: nil, outputLimit: 64 << 10, timeout: 120))
            if outcome.timedOut {
                throw RestoreDrillError.runtime("vault password: \(origin) did not finish within 120 seconds")
            }
            guard outcome.exitCode == 0 else {
                let how =
                    outcome.exitCode.map { "exited with status \($0)" } ?? "was killed by signal \(outcome.signal ?? 0)"
                throw RestoreDrillError.runtime("vault password: \(origin) \(how)")
            }
            if outcome.outputTruncated {
                throw RestoreDrillError.runtime("vault password: \(origin) printed more than 64 KiB")
            }
            return try VaultPassword(bytes: dropOneNewline(Array(outcome.standardOutput)), origin: origin)
        }
    }

    /// Reads a password file: its content minus one trailing newline (what `openssl -pass file:`
    /// reads from the same file).
    ///
    /// The file is opened once and checked on the open descriptor (no race between check and
    /// read): it must be a regular file (symbolic links are followed; the target is checked), have
    /// no group or other permission bits (mode 0600, 0400 or stricter), and be owned by the
    /// effective user (`geteuid()`).
    /// - Parameter path: absolute path of the file.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the file, and for a refused mode
    ///   the mode found (e.g. `0644`) or for a refused owner the uid found; ``RestoreDrillError/runtime(_:)``
    ///   when the content cannot be a password (see ``init(bytes:origin:)``).
    public static func fromFile(_ path: String) throws -> VaultPassword {
        // O_NONBLOCK so that a FIFO does not block the open; it is refused below.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            throw RestoreDrillError.io(
                path: path, message: "cannot open vault password file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw RestoreDrillError.io(
                path: path, message: "cannot stat vault password file: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw RestoreDrillError.io(path: path, message: "vault password file refused: not a regular file")
        }
        let permissions = Int(info.st_mode) & 0o7777
        guard permissions & 0o077 == 0 else {
            throw RestoreDrillError.io(
                path: path,
                message: "vault password file refused: mode \(octal(permissions)) lets group or others access it; "
                    + "it must be 0600 or stricter (chmod 600 \(path))")
        }
        guard info.st_uid == geteuid() else {
            throw RestoreDrillError.io(
                path: path,
                message:
                    "vault password file refused: owned by uid \(info.st_uid), not by the running user (uid \(geteuid()))"
            )
        }
        guard info.st_size <= 64 << 10 else {
            throw RestoreDrillError.io(path: path, message: "vault password file refused: larger than 64 KiB")
        }
        var content = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RestoreDrillError.io(
                    path: path, message: "cannot read vault password file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            content.append(contentsOf: buffer[0..<n])
            if content.count > 64 << 10 {
                throw RestoreDrillError.io(path: path, message: "vault password file refused: larger than 64 KiB")
            }
        }
        for i in buffer.indices { buffer[i] = 0 }
        return try VaultPassword(bytes: dropOneNewline(content), origin: "file \(path)")
    }

    /// Writes the password to a new file with mode 0600 (no trailing newline), for a child that
    /// reads it with `-pass file:` or `--password-file`. The caller removes the file afterwards.
    /// - Parameter path: must not exist yet (the file is created exclusively; a symbolic link at
    ///   `path` is not followed).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the file exists or cannot be written.
    public func write(toNewFileAt path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        // The creation mode is filtered by the umask; make it exactly 0600.
        guard fchmod(fd, 0o600) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(path)
            throw RestoreDrillError.io(path: path, message: message)
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let message = String(cString: strerror(errno))
                unlink(path)
                throw RestoreDrillError.io(path: path, message: message)
            }
            offset += n
        }
    }

    private static func dropOneNewline(_ bytes: [UInt8]) -> [UInt8] {
        bytes.last == 0x0a ? Array(bytes.dropLast()) : bytes
    }

    private static func octal(_ mode: Int) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
