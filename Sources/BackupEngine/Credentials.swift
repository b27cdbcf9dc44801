import Archive
import CArchive
import COpenSSL
import DrillCore
import Foundation
import Vault

/// Where the vault password of one run stands (README, "Configuration",
/// `credentials.password`).
public enum VaultPasswordState: Sendable {
    /// No `credentials.password` source is configured: no vault, no keyed manifest.
    case notConfigured
    /// The configured source (or `--password-file`) gave this password.
    case available(VaultPassword)
    /// A source is configured but gave no password; the reason names the source, never a secret.
    case unavailable(String)

    /// Resolves `config.credentials.password` through ``VaultPassword/resolve(_:runner:environment:)``.
    /// Never throws: a source that fails is ``unavailable(_:)`` with the error's message (which
    /// never holds the password or a command's output).
    /// - Parameters:
    ///   - runner: starts a `command:` source (its argv never holds the password; the password is
    ///     its standard output).
    ///   - environment: what an `env:` source reads.
    public static func resolve(
        _ source: RestoreDrillConfig.PasswordSource?, runner: any ProcessRunner, environment: [String: String]
    ) async -> VaultPasswordState {
        guard let source else { return .notConfigured }
        do {
            return .available(try await VaultPassword.resolve(source, runner: runner, environment: environment))
        } catch {
            return .unavailable("\(error)")
        }
    }

    /// The password when available.
    public var password: VaultPassword? {
        if case .available(let p) = self { return p }
        return nil
    }
}

/// The keys one backup run derives from the vault password, each once (PBKDF2 at
/// ``Vault/defaultIterations`` costs about 0.3 s).
///
/// One random HMAC salt (the machine's, ``HMACSaltStore``, when a cache folder is set; else one
/// per run) gives one HMAC key = PBKDF2-HMAC-SHA256(password, salt,
/// iterations, 32). It keys three things, all recorded with that salt: the vault's tag
/// (``VaultRecord/hmac``, salt in ``VaultRecord/hmacSalt``), each credential file's digest
/// (``FileRecord/hmacSHA256``), and the manifest HMAC (``Manifest/manifestHMAC``, salt in
/// ``Manifest/manifestHMACSalt``). The vault's encryption key is the only other derivation: the
/// openssl format derives it from its own 8-byte salt (``VaultWriter``).
public struct VaultRunKeys: Sendable {
    public let password: VaultPassword
    /// PBKDF2 iterations of every derivation of this run (recorded in ``VaultRecord/iterations``).
    public let iterations: Int
    /// The run's HMAC salt (``Vault/hmacSaltLength`` random bytes).
    public let hmacSalt: [UInt8]
    /// PBKDF2-HMAC-SHA256(password, ``hmacSalt``, ``iterations``, 32 bytes).
    public let hmacKey: [UInt8]
    /// The vault's encryption salt and key, derived ahead (``derive(password:iterations:encrypting:keyring:)``);
    /// nil leaves the derivation to the ``VaultWriter``.
    public let encryption: VaultEncryptionKey?

    /// Draws a new salt and derives the HMAC key (the encryption key is derived by the vault's writer).
    /// - Throws: ``RestoreDrillError/runtime(_:)`` for an iteration count out of range or a
    ///   failing random generator.
    public init(password: VaultPassword, iterations: Int) throws {
        self.password = password
        self.iterations = iterations
        hmacSalt = try Vault.newSalt()
        hmacKey = try Vault.hmacKey(password: password, salt: hmacSalt, iterations: iterations)
        encryption = nil
    }

    private init(
        password: VaultPassword, iterations: Int, hmacSalt: [UInt8], hmacKey: [UInt8], encryption: VaultEncryptionKey?
    ) {
        self.password = password
        self.iterations = iterations
        self.hmacSalt = hmacSalt
        self.hmacKey = hmacKey
        self.encryption = encryption
    }

    /// Draws the salts and derives the HMAC key and (when `encrypting`) the vault's encryption key
    /// at the same time, each on a thread of its own (two independent PBKDF2 runs: 0.21 s and
    /// 0.37 s of one core at the default count here). The threads run at a lowered priority
    /// (``ThreadPriority``): a backup needs the keys only at its credentials step, so they take
    /// the moments the compression leaves the cores idle rather than a share of its time.
    /// - Parameter keyring: runs and counts the derivations; nil derives directly.
    /// - Throws: as ``init(password:iterations:)``.
    /// - Parameter hmacSalt: the HMAC salt to use (``HMACSaltStore``: the one this machine's sets
    ///   share), or nil to draw a new one.
    public static func derive(
        password: VaultPassword, iterations: Int, encrypting: Bool, keyring: VaultKeyring? = nil,
        hmacSalt: [UInt8]? = nil
    ) async throws -> VaultRunKeys {
        let salt = try hmacSalt ?? Vault.newSalt()
        async let hmacKey = BlockingWork.run(takesSlot: false) {
            ThreadPriority.lowerCurrentThread()
            return try keyring?.hmacKey(password: password, salt: salt, iterations: iterations)
                ?? Vault.hmacKey(password: password, salt: salt, iterations: iterations)
        }
        async let encryption: VaultEncryptionKey? =
            encrypting
            ? BlockingWork.run(takesSlot: false) {
                ThreadPriority.lowerCurrentThread()
                return try VaultEncryptionKey.derive(password: password, iterations: iterations, keyring: keyring)
            }
            : nil
        return VaultRunKeys(
            password: password, iterations: iterations, hmacSalt: salt, hmacKey: try await hmacKey,
            encryption: try await encryption)
    }
}

/// What a backup knows of its vault before the credentials step: the password's state and, with
/// a password, the run's keys, derived at the start of the run beside the other components
/// (``BackupEngine/prepareVault(credentials:root:home:destination:)``).
struct VaultPreparation: Sendable {
    var state: VaultPasswordState
    /// The keys, or why they could not be derived; nil without a password.
    var keys: Result<VaultRunKeys, any Error>?
    /// Whether the keys were derived for a vault holding credential files (the iteration count
    /// and the encryption key depend on it).
    var forFiles = false
}

/// The `credentials` component: the files and folders of `credentials.include` (under root or
/// home) as one tar streamed through ``VaultWriter`` into `credentials.vault`.
///
/// The plaintext never touches the destination, not even as a temporary file: each credential
/// file is read block by block, its bytes go into libarchive's tar writer, whose output callback
/// encrypts them straight into the vault file. Only regular files are stored (links and special
/// files are skipped with a warning), as members `root/<path>` or `home/<path>` with mode 0600;
/// the restore script moves each to `$ROOT/<path>` or `$HOME/<path>`.
///
/// Each file's ``FileRecord`` carries an HMAC-SHA-256 of its content keyed with the run's HMAC
/// key (``VaultRunKeys``), never a plain SHA-256: a plain hash of a short secret can be guessed.
struct CredentialsCollector {
    let home: AbsolutePath
    let root: AbsolutePath
    /// Credential files or folders.
    let include: [AbsolutePath]
    /// The destination, never read into the vault when it lies inside an included folder.
    let destination: AbsolutePath
    /// Receives the vault's identity when it is written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil

    /// One credential file found under `include`.
    struct Item {
        var absolute: AbsolutePath
        var base: PathBase
        var relative: String
    }

    struct Result {
        var record: ComponentRecord
        var files: [FileRecord] = []
        var artifacts: [ArtifactRecord] = []
        var vault: VaultRecord?
        var warnings: [String] = []
    }

    /// The regular files under `include`, each once, with where they restore; problems are
    /// paths that could not be read or lie outside root and home.
    func items() -> (items: [Item], problems: [String], warnings: [String]) {
        var items: [Item] = []
        var seen = Set<AbsolutePath>()
        var problems: [String] = []
        var warnings: [String] = []
        func add(_ path: AbsolutePath) {
            guard !seen.contains(path) else { return }
            seen.insert(path)
            if let inside = path.relative(to: root), inside != .dot {
                items.append(Item(absolute: path, base: .root, relative: inside.pathString))
            } else if let inside = path.relative(to: home), inside != .dot {
                items.append(Item(absolute: path, base: .home, relative: inside.pathString))
            } else {
                problems.append("\(path): credentials must lie under root \(root) or home \(home)")
            }
        }
        for included in include {
            let path = included.pathString
            var st = stat()
            guard lstat(path, &st) == 0 else {
                if errno == ENOENT {
                    warnings.append("\(path): listed in credentials.include but missing; not in the vault")
                } else {
                    problems.append("\(path): \(String(cString: strerror(errno)))")
                }
                continue
            }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                add(included)
            case S_IFDIR:
                var walk = WorkspaceWalk()
                let destination = self.destination
                walk.skip = { $0.isDescendantOrSelf(of: destination) }
                walk.run(base: included)
                problems += walk.problems
                for rel in walk.ignored { warnings.append("\(path)/\(rel): not a regular file; not in the vault") }
                for entry in walk.entries {
                    switch entry.type {
                    case .file: add(entry.absolute)
                    case .symlink:
                        warnings.append("\(entry.absolute): a symbolic link; not in the vault (list its target)")
                    case .directory: break
                    }
                }
            case S_IFLNK:
                warnings.append("\(path): a symbolic link; not in the vault (list its target)")
            default:
                warnings.append("\(path): not a regular file or folder; not in the vault")
            }
        }
        return (items, problems, warnings)
    }

    /// Writes `<setFolder>/credentials.vault` from ``items()``.
    /// - Parameter keys: the run's keys; the vault's encryption key is derived here (once).
    /// - Returns: the component record (`ok`, `skipped` when no file was found, `failed` naming
    ///   unreadable paths), the credential ``FileRecord``s, the vault artifact and its record.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the vault cannot be written.
    func write(setFolder: String, keys: VaultRunKeys, found: (items: [Item], problems: [String], warnings: [String]))
        throws -> Result
    {
        var result = Result(record: ComponentRecord(id: .credentials, status: .ok))
        result.warnings = found.warnings
        var failures = found.problems
        guard !found.items.isEmpty else {
            result.record =
                failures.isEmpty
                ? ComponentRecord(
                    id: .credentials, status: .skipped,
                    reason: "no credential files found in \(include.map(\.pathString).joined(separator: ", "))")
                : ComponentRecord(id: .credentials, status: .failed, reason: failures.joined(separator: "; "))
            return result
        }
        let vaultPath = "\(setFolder)/\(Vault.fileName)"
        let writer =
            try keys.encryption.map { try VaultWriter(output: vaultPath, key: $0, tagKey: keys.hmacKey, mode: 0o644) }
            ?? VaultWriter(
                output: vaultPath, password: keys.password, iterations: keys.iterations, tagKey: keys.hmacKey,
                mode: 0o644)
        let sink = VaultTarSink(writer: writer)
        let utf8 = ArchiveNameLocale.utf8()
        let previous = utf8.map { uselocale($0) }
        defer {
            if let previous { uselocale(previous) }
            if let utf8 { freelocale(utf8) }
        }
        guard let tar = ArchiveWriter(format: .paxRestricted) else {
            writer.abandon()
            throw RestoreDrillError.runtime("archive_write_new failed")
        }
        defer { tar.free() }
        let archive = tar.handle
        // Names as the exact bytes on disk, as in code.tar.gz (CodeArchiveWriter): a decomposed
        // (NFD) name is not recomposed, and its NFC twin stays a file of its own (issue 12).
        guard archive_write_set_format_option(archive, "pax", "hdrcharset", "BINARY") == ARCHIVE_OK else {
            writer.abandon()
            throw RestoreDrillError.runtime("libarchive refused hdrcharset=BINARY for the vault's tar")
        }
        var bytes: Int64 = 0
        do {
            // No padding of the last block beyond what tar needs (smaller vault, same tar).
            archive_write_set_bytes_in_last_block(archive, 1)
            try check(tar.open(sink: sink), archive, sink, vaultPath)
            let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
            defer {
                OPENSSL_cleanse(block.baseAddress, block.count)
                block.deallocate()
            }
            for item in found.items {
                let fd = open(item.absolute.pathString, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
                guard fd >= 0 else {
                    failures.append("\(item.absolute): \(String(cString: strerror(errno)))")
                    continue
                }
                defer { close(fd) }
                var st = stat()
                guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                    failures.append("\(item.absolute): no longer a regular file")
                    continue
                }
                let size = Int64(st.st_size)
                guard let entry = archive_entry_new() else {
                    throw RestoreDrillError.runtime("archive_entry_new failed")
                }
                defer { archive_entry_free(entry) }
                FileNameBytes.withFileSystemRepresentation("\(item.base.rawValue)/\(item.relative)") {
                    archive_entry_copy_pathname(entry, $0)
                }
                archive_entry_set_filetype(entry, RD_AE_IFREG)
                archive_entry_set_perm(entry, 0o600)
                archive_entry_set_size(entry, size)
                #if os(Linux)
                    archive_entry_set_mtime(entry, st.st_mtim.tv_sec, 0)
                #else
                    archive_entry_set_mtime(entry, st.st_mtimespec.tv_sec, 0)
                #endif
                try check(archive_write_header(archive, entry), archive, sink, vaultPath)
                let mac = VaultHMAC(key: keys.hmacKey)
                var done: Int64 = 0
                var readError: String?
                while done < size {
                    let n = read(fd, block.baseAddress, Int(min(Int64(block.count), size - done)))
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 {
                        readError = n < 0 ? String(cString: strerror(errno)) : "file shrank while it was read"
                        break
                    }
                    let chunk = UnsafeRawBufferPointer(rebasing: block[0..<n])
                    mac.update(chunk)
                    if archive_write_data(archive, chunk.baseAddress, n) < 0 {
                        throw sink.error ?? archiveError(archive, vaultPath)
                    }
                    done += Int64(n)
                }
                if let readError {
                    // The header promised `size` bytes: pad with zeros to keep the tar well-formed,
                    // and fail the component (the stored copy is not the file).
                    memset(block.baseAddress!, 0, block.count)
                    while done < size {
                        let n = Int(min(Int64(block.count), size - done))
                        if archive_write_data(archive, block.baseAddress, n) < 0 {
                            throw sink.error ?? archiveError(archive, vaultPath)
                        }
                        done += Int64(n)
                    }
                    failures.append("\(item.absolute): \(readError)")
                    continue
                }
                result.files.append(
                    FileRecord(
                        component: .credentials, base: item.base, path: item.relative, type: .file, size: size,
                        sha256: nil, hmacSHA256: mac.finalizeHex(), mode: 0o600))
                bytes += size
            }
            try check(archive_write_close(archive), archive, sink, vaultPath)
        } catch {
            writer.abandon()
            throw error
        }
        let summary = try writer.finish()
        // The vault writer (DrillCore) closes its temporary file and renames it into place, so no
        // descriptor is at hand here: `lstat` of the path right after (the rename keeps the inode).
        log?.recordPath(vaultPath)
        result.artifacts = [
            ArtifactRecord(
                path: Vault.fileName, component: .credentials, kind: .vault, size: summary.size,
                digests: summary.digests)
        ]
        result.vault = VaultRecord(
            artifact: Vault.fileName, cipher: Vault.cipherName, kdf: Vault.kdfName, iterations: keys.iterations,
            hmac: summary.tag ?? "", hmacSalt: Hex.encode(keys.hmacSalt))
        result.record = ComponentRecord(
            id: .credentials, status: failures.isEmpty ? .ok : .failed,
            reason: failures.isEmpty ? nil : "unreadable: " + failures.joined(separator: "; "),
            files: result.files.count, bytes: bytes)
        return result
    }

    private func check(_ status: Int32, _ archive: OpaquePointer, _ sink: VaultTarSink, _ path: String) throws {
        if status == ARCHIVE_OK { return }
        if let error = sink.error { throw error }
        if status == ARCHIVE_WARN { return }
        throw archiveError(archive, path)
    }

    private func archiveError(_ archive: OpaquePointer, _ path: String) -> RestoreDrillError {
        .io(path: path, message: archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error")
    }
}

/// libarchive's write callback into a ``VaultWriter``: tar bytes are encrypted as they are made.
final class VaultTarSink: ArchiveByteSink {
    let writer: VaultWriter
    var error: (any Error)?

    init(writer: VaultWriter) { self.writer = writer }

    func write(_ buffer: UnsafeRawPointer?, _ length: Int) -> Int {
        guard let buffer, length > 0 else { return 0 }
        do {
            try writer.write(UnsafeRawBufferPointer(start: buffer, count: length))
            return length
        } catch {
            if self.error == nil { self.error = error }
            return -1
        }
    }
}

extension BackupEngine {
    /// Resolves the vault password and, with one, derives the run's keys (``VaultRunKeys``): at
    /// ``vaultIterations`` when there are credential files to store (with the vault's encryption
    /// key), else at ``Vault/defaultIterations``. Started at the beginning of a run: nothing here
    /// depends on what the backup writes.
    func prepareVault(
        credentials include: [AbsolutePath], root: AbsolutePath, home: AbsolutePath, destination: AbsolutePath
    ) async -> VaultPreparation {
        let state: VaultPasswordState
        if let vaultPassword {
            state = vaultPassword
        } else {
            state = await VaultPasswordState.resolve(
                config.credentials.password, runner: runner, environment: ProcessInfo.processInfo.environment)
        }
        guard case .available(let password) = state else { return VaultPreparation(state: state) }
        let forFiles =
            !include.isEmpty
            && !CredentialsCollector(home: home, root: root, include: include, destination: destination).items().items
                .isEmpty
        let keys: Result<VaultRunKeys, any Error>
        do {
            keys = .success(
                try await VaultRunKeys.derive(
                    password: password, iterations: forFiles ? vaultIterations : Vault.defaultIterations,
                    encrypting: forFiles, keyring: keyring,
                    hmacSalt: try dependencyCache.map {
                        try HMACSaltStore(folder: $0).salt(
                            iterations: forFiles ? vaultIterations : Vault.defaultIterations)
                    }))
        } catch {
            keys = .failure(error)
        }
        return VaultPreparation(state: state, keys: keys, forFiles: forFiles)
    }

    /// The `credentials` component and the keys of the run.
    ///
    /// - No `credentials.password` source: `skipped: vault not configured` (the paths are still
    ///   kept out of every other component), no keys: the manifest is not keyed.
    /// - A source that gives no password: `failed` naming the source; no keys.
    /// - Otherwise the run's keys (derived once, by ``prepareVault(credentials:root:home:destination:)``,
    ///   at ``vaultIterations`` when there are credential files to store, else at
    ///   ``Vault/defaultIterations``, the count ``Manifest/hmacIterations`` assumes without a vault)
    ///   are returned so the caller can key the manifest (``Manifest/applyHMAC(key:salt:)``) after
    ///   every other field is final. When the credential files came or went since the keys were
    ///   derived, they are derived again for what is there now.
    func credentials(
        into manifest: inout Manifest, prepared: VaultPreparation, partial: String, root: AbsolutePath,
        home: AbsolutePath, destination: AbsolutePath, credentials include: [AbsolutePath],
        log: WrittenFileLog? = nil, say: @Sendable (String) -> Void
    ) async throws -> (ComponentRecord, [String], VaultRunKeys?) {
        var collector = CredentialsCollector(home: home, root: root, include: include, destination: destination)
        collector.log = log
        switch prepared.state {
        case .notConfigured:
            return (
                ComponentRecord(
                    id: .credentials, status: .skipped,
                    reason: include.isEmpty ? "not configured" : "vault not configured"),
                [], nil
            )
        case .unavailable(let why):
            return (
                ComponentRecord(
                    id: .credentials, status: include.isEmpty ? .skipped : .failed,
                    reason: "vault password unavailable: \(why)"),
                [], nil
            )
        case .available(let password):
            let found = collector.items()
            let forFiles = !include.isEmpty && !found.items.isEmpty
            let keys: VaultRunKeys
            if let derived = prepared.keys, prepared.forFiles == forFiles {
                keys = try derived.get()
            } else {
                let iterations = forFiles ? vaultIterations : Vault.defaultIterations
                say("credentials: deriving the vault keys (PBKDF2, \(iterations) iterations)")
                keys = try await VaultRunKeys.derive(
                    password: password, iterations: iterations, encrypting: forFiles, keyring: keyring)
            }
            guard !include.isEmpty else {
                return (ComponentRecord(id: .credentials, status: .skipped, reason: "not configured"), [], keys)
            }
            say("credentials: encrypting \(found.items.count) files into \(Vault.fileName)")
            let stored = try collector.write(setFolder: partial, keys: keys, found: found)
            manifest.files += stored.files
            manifest.artifacts += stored.artifacts
            manifest.vault = stored.vault
            return (stored.record, stored.warnings, keys)
        }
    }
}
