import Archive
import CArchive
import COpenSSL
import Destination
import DrillCore
import Foundation
import Vault

/// The keys a drill derives from its vault password, each once per (salt, iteration count)
/// through a shared ``VaultKeyring``: the manifest HMAC, the vault tag and the credential digests
/// of a set made by one backup run share one salt, so a drill runs PBKDF2 once for all three (and
/// not again when the set was authenticated while it was picked, with the same keyring).
final class VaultKeyCache: Sendable {
    let password: VaultPassword
    let keyring: VaultKeyring

    init(password: VaultPassword, keyring: VaultKeyring = VaultKeyring()) {
        self.password = password
        self.keyring = keyring
    }

    /// PBKDF2-HMAC-SHA256(password, salt, iterations, 32 bytes), derived on first use.
    /// - Parameter place: names the set file in errors.
    /// - Throws: ``RestoreDrillError/invalidSet(path:message:)`` naming `place` when the salt is not
    ///   hex or the count is out of range.
    func key(saltHex: String, iterations: Int, place: String) throws -> [UInt8] {
        guard let salt = Hex.decode(saltHex), !salt.isEmpty else {
            throw RestoreDrillError.invalidSet(path: place, message: "HMAC salt is not hex")
        }
        guard (1...Vault.maximumIterations).contains(iterations) else {
            throw RestoreDrillError.invalidSet(
                path: place,
                message: "PBKDF2 iteration count \(iterations) is out of range 1…\(Vault.maximumIterations)")
        }
        return try keyring.hmacKey(password: password, salt: salt, iterations: iterations)
    }
}

/// `credentials.vault` (docs/ARCHITECTURE.md, "The checks"): the vault's HMAC tag verifies before
/// any byte is decrypted, the vault decrypts, the tar inside holds exactly the manifest's
/// credential files with their HMAC digests, and (after a replay) the restored files match their
/// HMAC digests with mode 0600.
///
/// Without a password the check is a skip naming why. A tag that does not match fails and says
/// which cause it is: with the manifest HMAC verified by the same password, the password is
/// right and the vault was tampered with; with the manifest HMAC failing too, the password is
/// wrong. The decrypted tar is read in memory (never written to a disk) and wiped after; no
/// evidence line holds plaintext or a plain hash of it.
struct VaultCheck: Sendable {
    let manifest: Manifest
    let setPath: AbsolutePath
    /// nil when no password was given.
    let keys: VaultKeyCache?
    /// `set.manifest`'s HMAC outcome with the same password: true verified, false not, nil unknown.
    let manifestHMACVerified: Bool?

    /// Largest plaintext read into memory to check the members (credentials are small files).
    static let plaintextLimit = 256 << 20

    /// What opening the vault found.
    enum Opening: Sendable {
        /// The check does not run: the reason.
        case skip(String)
        /// The vault is wrong: the failed result.
        case failed(CheckResult)
        /// The tag is right and, when `decrypted`, decryption and member digests too: evidence
        /// lines and the member count. Not `decrypted`: the decryption is left to the restore
        /// script, whose restored files are checked against their HMAC digests instead
        /// (``open(decrypt:)``).
        case opened(evidence: [String], members: Int, seconds: Double, decrypted: Bool = true)
    }

    /// The vault's decrypted files (each up to ``scrubbedPrefix`` bytes), for a
    /// ``SecretScrubber`` only: filled by ``open(decrypt:)`` when it decrypts the vault, or by
    /// ``result(_:tree:notRestored:)`` from the restored credential files; empty
    /// otherwise. Never written anywhere.
    final class Plaintexts: @unchecked Sendable {
        private let lock = NSLock()
        private var contents: [[UInt8]] = []
        func add(_ bytes: [UInt8]) { lock.withLock { contents.append(bytes) } }
        var all: [[UInt8]] { lock.withLock { contents } }
    }

    /// Bytes of each decrypted member kept for scrubbing (credential files are small): 64 KiB.
    static let scrubbedPrefix = 64 << 10

    /// Where ``open(decrypt:)`` leaves the plaintexts for the drill's ``SecretScrubber``.
    var plaintexts = Plaintexts()

    var subject: String { manifest.vault?.artifact ?? Vault.fileName }

    private func result(_ verdict: Verdict, _ message: String, _ evidence: [String] = [], seconds: Double = 0)
        -> CheckResult
    {
        CheckResult(
            check: .credentialsVault, subject: subject, verdict: verdict, message: message, evidence: evidence,
            seconds: seconds)
    }

    /// A failure rendered from `findings`: `<prefix>: ` (when given) and the first four joined by `; `.
    private func failed(
        _ findings: [Finding], prefix: String? = nil, _ evidence: [String] = [], seconds: Double = 0
    ) -> CheckResult {
        let text = findings.prefix(4).map(\.message).joined(separator: "; ")
        var out = result(.fail, prefix.map { "\($0): " + text } ?? text, evidence, seconds: seconds)
        out.findings = findings
        return out
    }

    /// Where the vault's stored bytes are, when they are a regular file there: format 1 the file
    /// in the set folder; format 2 its object, `<set's parent>/objects/<ab>/<sha256>`, found as
    /// ``ArtifactSource`` finds objects (`objects` a real folder, nothing on the way a link). The
    /// tag and the decryption then read that path; its tag check fails anything else found there.
    /// - Returns: the absolute path, or nil when there is no such regular file (or, format 2, the
    ///   vault is not among the artifacts or its digest names no object).
    func storedPath(of vault: VaultRecord) -> String? {
        let source = ArtifactSource(setPath: setPath, manifest: manifest)
        if manifest.storesObjects {
            guard let artifact = manifest.artifact(vault.artifact), source.isObject(artifact),
                let digest = manifest.objectDigest(of: artifact), case .success = source.objectStore.open(digest)
            else { return nil }
            return source.objectStore.destination.appending(source.objectStore.relativePath(of: digest)).pathString
        }
        let path = setPath.appending(component: vault.artifact).pathString
        return FileFacts.of(path)?.type == .file ? path : nil
    }

    /// Verifies the tag, then decrypts the vault and checks every member against the manifest.
    ///
    /// The tag needs the HMAC key of the set's salt, which `set.manifest` derived already; the
    /// decryption derives a key of its own (the vault's encryption salt, about 0.3 s at the
    /// default count). A drill that hands the proven set's restore script the password passes
    /// `decrypt: false`: the script's openssl decrypts the vault anyway, and the files it restores
    /// are checked against their HMAC digests (``result(_:tree:notRestored:)``), which
    /// proves the same work without a second derivation in the tool.
    /// - Parameter decrypt: false stops after the tag (``Opening/opened(evidence:members:seconds:decrypted:)``
    ///   with `decrypted` false).
    func open(decrypt: Bool = true) -> Opening {
        let watch = Stopwatch()
        let component = manifest.component(.credentials)
        guard let vault = manifest.vault else {
            if let component, component.status == .failed {
                return .failed(failed([.vaultComponentFailed(reason: component.reason ?? "no reason recorded")]))
            }
            return .skip("no credentials in this set")
        }
        guard let keys else {
            return .skip(
                "no password given (--password-file or credentials.password): the vault is neither decrypted nor checked, "
                    + "and credential files are not restored")
        }
        let expected = manifest.files.filter { $0.component == .credentials && $0.type == .file }
        guard !vault.artifact.isEmpty, !vault.artifact.contains("/"), !vault.artifact.hasPrefix(".") else {
            return .failed(failed([.vaultArtifactName(vault.artifact)]))
        }
        guard let path = storedPath(of: vault) else {
            return .failed(failed([.vaultMissing], prefix: vault.artifact))
        }
        var evidence = [
            "cipher \(vault.cipher), kdf \(vault.kdf), \(vault.iterations) iterations", "recorded tag \(vault.hmac)",
        ]
        let key: [UInt8]
        do {
            guard vault.cipher == Vault.cipherName, vault.kdf == Vault.kdfName else {
                return .failed(failed([.vaultUnsupported(cipher: vault.cipher, kdf: vault.kdf)]))
            }
            key = try keys.key(saltHex: vault.hmacSalt, iterations: vault.iterations, place: path)
            let tag = try Vault.hmacHex(key: key, file: path)
            evidence.append("computed tag \(tag)")
            guard Vault.tagsEqual(tag, vault.hmac) else {
                return .failed(
                    failed(
                        [.vaultTagMismatch(manifestHMACVerified: manifestHMACVerified)], prefix: vault.artifact,
                        evidence, seconds: watch.seconds))
            }
        } catch {
            return .failed(failed([.vaultKeyFailed(error)], evidence, seconds: watch.seconds))
        }
        evidence.append("HMAC tag verified before decryption")
        guard decrypt else {
            evidence.append(
                "decryption left to the restore script (its restored files are checked against their HMAC digests)")
            return .opened(evidence: evidence, members: expected.count, seconds: watch.seconds, decrypted: false)
        }

        // Decrypt into memory and read the tar there.
        var plaintext = [UInt8]()
        defer { plaintext.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        do {
            guard let record = manifest.vault else { return .skip("no vault") }
            try Vault.decrypt(
                input: path, password: keys.password, record: record, tagKey: key, keyring: keys.keyring
            ) { block in
                guard plaintext.count + block.count <= Self.plaintextLimit else {
                    throw RestoreDrillError.invalidSet(
                        path: path,
                        message: "decrypted vault is larger than \(Units.humanBytes(Int64(Self.plaintextLimit)))")
                }
                plaintext.append(contentsOf: block)
            }
        } catch {
            return .failed(
                failed([.vaultDecryptFailed(error)], prefix: vault.artifact, evidence, seconds: watch.seconds))
        }
        evidence.append("decrypted: \(plaintext.count) bytes of tar")
        let members = Self.members(of: &plaintext, key: key, keep: plaintexts)
        var problems: [Finding] = []
        if let error = members.error { problems.append(.vaultTarUnreadable(error)) }
        // Keyed by the names' bytes: `String ==` takes an NFC name for its NFD twin (issue 12).
        var byName: [[UInt8]: VaultMember] = [:]
        for member in members.list {
            let key = FileNameBytes.key(member.name)
            if byName[key] != nil { problems.append(.vaultMemberDuplicated(FileNameBytes.display(member.name))) }
            byName[key] = member
        }
        for file in expected {
            let name = "\(file.base.rawValue)/\(file.path)"
            guard let member = byName.removeValue(forKey: FileNameBytes.key(name)) else {
                problems.append(.vaultMemberMissing(name))
                continue
            }
            if !member.isFile {
                problems.append(.vaultMemberNotFile(name))
            } else if member.size != file.size {
                problems.append(.vaultMemberSize(name, actual: member.size, recorded: file.size))
            } else if let recorded = file.hmacSHA256 {
                if !Vault.tagsEqual(recorded, member.hmac) {
                    problems.append(.vaultMemberDigest(name))
                }
            } else {
                problems.append(.vaultMemberNoDigest(name))
            }
        }
        for member in byName.values.sorted(by: { FileNameBytes.precedes($0.name, $1.name) }) {
            problems.append(.vaultMemberExtra(FileNameBytes.display(member.name)))
        }
        if !problems.isEmpty {
            return .failed(
                failed(
                    problems, prefix: vault.artifact, evidence + problems.prefix(200).map(\.message),
                    seconds: watch.seconds))
        }
        evidence.append("\(expected.count) files in the vault match their HMAC digests")
        return .opened(evidence: evidence, members: expected.count, seconds: watch.seconds)
    }

    /// The check's result when the replay was given no password (the set is not proven): a
    /// failure of the vault itself stays a failure (a wrong password, a tampered vault); a vault
    /// that verified in memory is a skip naming `reason`, since nothing was restored from it.
    func withheldResult(_ opening: Opening, reason: String) -> CheckResult {
        switch opening {
        case .skip(let why):
            return .noSubject(.credentialsVault, subject: subject, reason: why)
        case .failed(let failed):
            return failed
        case .opened(let evidence, let members, let seconds, let decrypted):
            return result(
                .skip,
                decrypted
                    ? "\(reason); the vault's tag verifies in memory and its \(members) files match their HMAC "
                        + "digests, but no credential file was restored"
                    : "\(reason); the vault's tag verifies, but it was not decrypted and no credential file was "
                        + "restored", evidence, seconds: seconds)
        }
    }

    /// The check's result: `opening`, plus the restored files when the replay ran.
    /// - Parameters:
    ///   - tree: the restored tree, nil when nothing was restored. Restored credentials are read
    ///     through it: no link is followed at any component, only regular files are read.
    ///   - notRestored: why restored files are not checked (with a nil tree).
    func result(_ opening: Opening, tree: RestoredTree?, notRestored: String? = nil) -> CheckResult {
        switch opening {
        case .skip(let reason):
            return .noSubject(.credentialsVault, subject: subject, reason: reason)
        case .failed(let failed):
            return failed
        case .opened(var evidence, let members, let seconds, let decrypted):
            guard let tree, let keys, let vault = manifest.vault else {
                let why = notRestored ?? "nothing was restored"
                evidence.append("restored files not checked: \(why)")
                guard decrypted else {
                    return result(
                        .skip, "HMAC tag verifies; not decrypted and no restored file checked: \(why)", evidence,
                        seconds: seconds)
                }
                return result(
                    .pass,
                    "HMAC tag verifies, the vault decrypts, \(members) files match their HMAC digests "
                        + "(restored files not checked: \(why))", evidence, seconds: seconds)
            }
            let watch = Stopwatch()
            var problems: [Finding] = []
            do {
                let key = try keys.key(
                    saltHex: vault.hmacSalt, iterations: vault.iterations,
                    place: setPath.appending(component: vault.artifact).pathString)
                for file in manifest.files where file.component == .credentials && file.type == .file {
                    let shown = (file.base == .root ? "$ROOT/" : "~/") + file.path
                    // A recorded path that climbs out of the restored tree is never looked at.
                    guard let inside = tree.place(file.path, file.base) else {
                        problems.append(.vaultRestoredMissing(shown))
                        continue
                    }
                    let restored: OpenedFile
                    switch tree.beneath.openFile(inside) {
                    case .success(let opened):
                        restored = opened
                    case .failure(.missing):
                        problems.append(.vaultRestoredMissing(shown))
                        continue
                    case .failure(.wrongKind(_, let kind, _)):
                        let type = kind == .symbolicLink ? "symbolic link (not followed)" : kind.rawValue
                        problems.append(.vaultRestoredNotFile(shown, type: type))
                        continue
                    case .failure(let refusal):
                        problems.append(.vaultRestoredNotFollowed(shown, reason: tree.explain(refusal, for: inside)))
                        continue
                    }
                    if restored.entry.mode != 0o600 {
                        problems.append(.vaultRestoredMode(shown, mode: TextFormat.octal(restored.entry.mode)))
                    }
                    // Read once: the digest, and the first bytes for the scrubber (a restored
                    // credential file is plaintext the reports must not show).
                    let mac = VaultHMAC(key: key)
                    var prefix: [UInt8] = []
                    try restored.forEachBlock { block in
                        mac.update(block)
                        if prefix.count < Self.scrubbedPrefix {
                            prefix += block.prefix(Self.scrubbedPrefix - prefix.count)
                        }
                    }
                    if !prefix.isEmpty { plaintexts.add(prefix) }
                    let digest = mac.finalizeHex()
                    if !Vault.tagsEqual(digest, file.hmacSHA256 ?? "") {
                        problems.append(.vaultRestoredDigest(shown))
                    }
                }
            } catch {
                problems.append(.vaultRestoredUnreadable(error))
            }
            let total = seconds + watch.seconds
            if !problems.isEmpty {
                return failed(
                    problems, prefix: "restored credentials", evidence + problems.prefix(200).map(\.message),
                    seconds: total)
            }
            if !decrypted {
                evidence.append("the restore script's openssl decrypted the vault (not decrypted again here)")
            }
            evidence.append("\(members) restored files match their HMAC digests with mode 0600")
            return result(
                .pass,
                "HMAC tag verifies, the vault decrypts, \(members) restored files match their HMAC digests (mode 0600)",
                evidence, seconds: total)
        }
    }

    /// One member of the decrypted tar: its name, whether it is a regular file, its size and the
    /// HMAC of its content (never the content).
    struct VaultMember {
        var name: String
        var isFile: Bool
        var size: Int64
        var hmac: String
    }

    /// Reads the tar in `bytes` (in memory) and HMACs each member with `key`.
    /// - Parameter keep: receives each member's first ``scrubbedPrefix`` bytes, when given.
    static func members(of bytes: inout [UInt8], key: [UInt8], keep: Plaintexts? = nil) -> (
        list: [VaultMember], error: String?
    ) {
        guard let archive = ArchiveReader(formats: [.tar], allFilters: false) else {
            return ([], "libarchive could not allocate a reader")
        }
        func lastError() -> String { archive.errorString ?? "unknown libarchive error" }
        return bytes.withUnsafeMutableBytes { raw -> ([VaultMember], String?) in
            guard archive.open(memory: raw) == ARCHIVE_OK else {
                return ([], lastError())
            }
            var list: [VaultMember] = []
            var block = [UInt8](repeating: 0, count: 64 << 10)
            defer { block.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
            while true {
                let (status, header) = archive.nextHeader()
                if status == ARCHIVE_EOF { break }
                guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry = header else {
                    return (list, "after \(list.count) members: \(lastError())")
                }
                // The raw bytes first (as ArchiveInspection reads names): the UTF-8 form may come
                // recomposed, and an NFD name would pass for its NFC twin (issue 12).
                let name =
                    archive_entry_pathname(entry).map(FileNameBytes.string(cString:))
                    ?? archive_entry_pathname_utf8(entry).map(FileNameBytes.string(cString:)) ?? ""
                let isFile = UInt32(archive_entry_filetype(entry)) == RD_AE_IFREG
                let mac = VaultHMAC(key: key)
                var size: Int64 = 0
                var prefix: [UInt8] = []
                while true {
                    let n = block.withUnsafeMutableBytes { archive.readData(into: $0) }
                    if n < 0 { return (list, "member \(name): \(lastError())") }
                    if n == 0 { break }
                    block.withUnsafeBytes { mac.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    if keep != nil && prefix.count < scrubbedPrefix {
                        prefix += block[0..<min(n, scrubbedPrefix - prefix.count)]
                    }
                    size += Int64(n)
                }
                if let keep, isFile, !prefix.isEmpty { keep.add(prefix) }
                list.append(VaultMember(name: name, isFile: isFile, size: size, hmac: mac.finalizeHex()))
            }
            return (list, nil)
        }
    }
}

/// `restore-drill vault verify`: the keyed checks of one set without a drill.
public enum VaultVerification {
    /// `set.manifest` (self-checksum and manifest HMAC with `password`) and `credentials.vault`
    /// (tag before decryption, decryption, every member against its HMAC digest) of the set at
    /// `setPath`. Nothing is restored and nothing is written; the plaintext stays in memory.
    /// - Parameter keyring: derives the keys, each once (share the one that authenticated the set).
    /// - Returns: the `set.manifest` result, then the `credentials.vault` result (a skip when the
    ///   set has no vault, or when the manifest is unreadable).
    public static func check(setPath: AbsolutePath, password: VaultPassword, keyring: VaultKeyring = VaultKeyring())
        -> [CheckResult]
    {
        let keys = VaultKeyCache(password: password, keyring: keyring)
        let outcome = ManifestCheck.run(setPath: setPath, passwordGiven: true, keys: keys)
        guard let manifest = outcome.manifest else {
            return [
                outcome.result,
                .noSubject(
                    .credentialsVault, subject: Vault.fileName,
                    reason: "set.manifest failed: the manifest cannot be trusted"),
            ]
        }
        let check = VaultCheck(
            manifest: manifest, setPath: setPath, keys: keys, manifestHMACVerified: outcome.hmacVerified)
        let vault = check.result(check.open(), tree: nil, notRestored: "vault verify restores nothing")
        return [outcome.result, vault]
    }
}
