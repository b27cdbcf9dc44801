import DrillCore
import Foundation

/// The vault password of one replay, as a file the restore script reads with `--password-file`
/// (its `openssl … -pass file:F`): the password itself never goes on a command line, into the
/// environment of a child, or into a log.
///
/// ``temporary(_:)`` writes a new file `password` (mode 0600) in a private folder
/// `restore-drill-password.XXXXXX` (mode 0700) of the temporary folder, overwritten and removed by
/// ``remove()``. A drill makes one only for a proven set, right before its replay, and removes it
/// when the replay ends. An interrupted run can leave that folder behind; it holds only the
/// password file.
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
