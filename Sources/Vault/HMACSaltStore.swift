import DrillCore
import Foundation

/// The manifest-HMAC salt this machine's backups share, kept in the user's cache folder
/// (`<cache>/hmac-salt`, beside the remembered dependency lists), so that every set a machine
/// writes with one password has the same HMAC key: a drill, `list`, `health` or `prune` then
/// derives that key once (``VaultKeyring``: one PBKDF2 run per distinct salt) for every set,
/// where a fresh salt per set cost one derivation (about 0.2 s of a core at 600 000 iterations)
/// per set judged.
///
/// Why sharing it is safe: a PBKDF2 salt keeps an attacker from attacking many passwords with one
/// precomputed table; the sets of one machine share one password (or a few, after a change), so a
/// per-machine salt costs nothing of that, and it is random (``Vault/newSalt(count:)``), drawn
/// on this machine, never taken from a destination (which anyone with access to a synced folder
/// could fill with a salt of their choice). HMAC-SHA256 keys may be reused across messages. The
/// vault's encryption salt is not this one: it stays fresh for every set, since the openssl
/// format derives the key *and* the IV from it (``VaultWriter``).
///
/// The file holds the salt in hex on its first line and, on a second, the PBKDF2 iteration count
/// of the last backup that used it, so a drill can start deriving the key that will most likely
/// authenticate the newest set before it has read any manifest (``speculate(password:keyring:)``).
///
/// A file that is missing, not a regular file (a link is not followed), not the user's, writable
/// by others, or not exactly ``Vault/hmacSaltLength`` bytes in hex, is not used: a new salt is
/// drawn and written in its place (``AtomicFile``, mode 0600). Failures are ignored: the run
/// then uses a salt of its own, as before this store existed.
public struct HMACSaltStore: Sendable {
    /// The cache folder (the backup's dependency-list cache: `~/.cache/restore-drill` by default).
    public let folder: String

    /// - Parameter folder: as the property.
    public init(folder: String) { self.folder = folder }

    /// The file's path: `<folder>/hmac-salt`.
    public var path: String { (folder as NSString).appendingPathComponent("hmac-salt") }

    /// The stored salt, or a new one; either way stored with `iterations` for the next run.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when the random generator fails.
    public func salt(iterations: Int) throws -> [UInt8] {
        let stored = load()
        let salt = try stored?.salt ?? Vault.newSalt()
        if stored?.salt != salt || stored?.iterations != iterations, folderIsOwn() {
            try? FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try? AtomicFile.write(Data((Hex.encode(salt) + "\n\(iterations)\n").utf8), to: path, mode: 0o600)
        }
        return salt
    }

    /// Derives, on a thread of its own, the HMAC key of the stored salt and iteration count into
    /// `keyring` (which keeps it for whoever asks next, and makes a second asker wait for this
    /// derivation rather than start another): a drill calls it first thing, so the derivation that
    /// will most likely authenticate the set runs while the tool starts and picks the set, when
    /// a core is idle. Does nothing without a stored salt and count.
    public func speculate(password: VaultPassword, keyring: VaultKeyring) {
        guard let stored = load(), let iterations = stored.iterations,
            (try? Vault.checkIterations(iterations)) != nil
        else { return }
        let salt = stored.salt
        Thread.detachNewThread { _ = try? keyring.hmacKey(password: password, salt: salt, iterations: iterations) }
    }

    /// True when the cache folder is missing (it is then made) or is a real folder of the effective
    /// user, not a link: `sudo` with another user's `HOME` never writes into that user's cache,
    /// and a link in its place never sends the file elsewhere.
    func folderIsOwn() -> Bool {
        var info = stat()
        guard lstat(folder, &info) == 0 else { return errno == ENOENT }
        return (info.st_mode & S_IFMT) == S_IFDIR && info.st_uid == geteuid()
    }

    /// The stored salt (and iteration count, when recorded) when the file is the user's own,
    /// private and well formed; nil otherwise.
    public func load() -> (salt: [UInt8], iterations: Int?)? {
        guard folderIsOwn() else { return nil }
        guard
            let data = UntrustedFile.read(
                path, limit: 256, requirements: [.ownedByEffectiveUser, .notWritableByOthers]),
            !data.isEmpty
        else { return nil }
        let lines = TextLines.split(String(decoding: data, as: UTF8.self))
        guard let text = lines.first, text.utf8.count == 2 * Vault.hmacSaltLength, let salt = Hex.decode(text),
            salt.count == Vault.hmacSaltLength
        else { return nil }
        return (salt, lines.count > 1 ? Int(lines[1]) : nil)
    }
}
