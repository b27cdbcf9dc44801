import Foundation

/// The vault password of one drill or `vault verify`, as a file a child can read with
/// `--password-file` or `openssl … -pass file:F`: the password itself never goes on a command
/// line, into the environment of a child, or into a log.
///
/// From `--password-file F` or a `file:` source, the file itself (checked by
/// ``VaultPassword/fromFile(_:)``: mode 0600 or stricter, owned by the running user). From an
/// `env:` or `command:` source, a new file `password` (mode 0600) in a private folder
/// `restore-drill-password.XXXXXX` (mode 0700) of the temporary folder, overwritten and removed by
/// ``remove()``. An interrupted run can leave that folder behind; it holds only the password file.
public final class VaultPasswordFile: Sendable {
    /// Absolute path of the password file.
    public let path: String
    /// The password read back from ``path``.
    public let password: VaultPassword
    /// True when this object made the file (and ``remove()`` deletes it).
    public let isTemporary: Bool

    private init(path: String, password: VaultPassword, isTemporary: Bool) {
        self.path = path
        self.password = password
        self.isTemporary = isTemporary
    }

    /// The password file for a run: `passwordFile` when given (relative to `currentDirectory`),
    /// else the configured `source`; nil when neither is there.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` for a refused or unreadable password file;
    ///   ``RestoreDrillError/runtime(_:)`` naming the variable or command when a configured source
    ///   gives no password. Messages never hold the password.
    public static func obtain(
        passwordFile: String?, source: RestoreDrillConfig.PasswordSource?, runner: any ProcessRunner,
        environment: [String: String], currentDirectory: String = FileManager.default.currentDirectoryPath
    ) async throws -> VaultPasswordFile? {
        if let passwordFile {
            let absolute = LexicalPath.normalize(
                passwordFile.hasPrefix("/")
                    ? passwordFile : (currentDirectory as NSString).appendingPathComponent(passwordFile))
            return VaultPasswordFile(
                path: absolute, password: try VaultPassword.fromFile(absolute), isTemporary: false)
        }
        guard let source else { return nil }
        if case .file(let path) = source {
            return VaultPasswordFile(path: path, password: try VaultPassword.fromFile(path), isTemporary: false)
        }
        let password = try await VaultPassword.resolve(source, runner: runner, environment: environment)
        return try temporary(password)
    }

    /// Writes `password` to a new private file (see the type's documentation).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder or file cannot be made.
    public static func temporary(_ password: VaultPassword) throws -> VaultPasswordFile {
        var template = Array(
            ((NSTemporaryDirectory() as NSString).appendingPathComponent("restore-drill-password.XXXXXX")).utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw RestoreDrillError.io(
                path: NSTemporaryDirectory(),
                message: "cannot make a private folder for the vault password: \(String(cString: strerror(errno)))")
        }
        let folder = String(cString: made)
        chmod(folder, 0o700)
        let path = (folder as NSString).appendingPathComponent("password")
        do {
            try password.write(toNewFileAt: path)
        } catch {
            rmdir(folder)
            throw error
        }
        return VaultPasswordFile(path: path, password: password, isTemporary: true)
    }

    /// Overwrites and deletes a temporary password file and its folder; does nothing for a file
    /// the user gave.
    public func remove() {
        guard isTemporary else { return }
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            let zeros = [UInt8](repeating: 0, count: password.bytes.count)
            _ = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            fsync(fd)
            close(fd)
        }
        unlink(path)
        rmdir((path as NSString).deletingLastPathComponent)
    }
}
