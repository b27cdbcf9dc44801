import DrillCore
import Foundation
import Jobs
import TestSupport
import Testing
import Vault

/// How many PBKDF2 derivations a backup and a drill run, counted by a hook on the derivation
/// itself (``VaultKeyring``'s `derive`): the design is one per distinct (password, salt) in the
/// tool, each run beside other work. A backup derives two (the run's HMAC key, the vault's
/// encryption key); a drill of a proven set derives one per set it judges (the drilled set's
/// salt keys its manifest HMAC, its vault tag and its credential digests; the restore script's
/// openssl derives the decryption key inside the replay, and the tool does not again).
@Suite struct DerivationCountTests {
    /// Every derivation a keyring ran: (salt, output bytes).
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [(salt: [UInt8], length: Int)] = []

        var derivations: [(salt: [UInt8], length: Int)] { lock.withLock { seen } }

        func keyring() -> VaultKeyring {
            VaultKeyring { password, salt, iterations, length in
                self.lock.withLock { self.seen.append((salt, length)) }
                return try Vault.pbkdf2(password: password, salt: salt, iterations: iterations, length: length)
            }
        }
    }

    @Test func aBackupDerivesTheHMACKeyAndTheEncryptionKeyOnceEach() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let recorder = Recorder()
        let backup = try await w.backup(keyring: recorder.keyring())
        let manifest = backup.manifest
        let vault = try #require(manifest.vault)
        let seen = recorder.derivations
        #expect(seen.count == 2, "\(seen.map { ($0.salt.count, $0.length) })")
        // The HMAC key: 32 bytes of the run's 16-byte salt, recorded for the manifest and the vault.
        #expect(seen.filter { $0.length == 32 }.map { Hex.encode($0.salt) } == [vault.hmacSalt])
        #expect(manifest.manifestHMACSalt == vault.hmacSalt)
        // The vault's key and IV: 48 bytes of the 8-byte salt written after `Salted__`.
        let header = try #require(FileManager.default.contents(atPath: backup.setPath + "/" + Vault.fileName))
        #expect(seen.filter { $0.length == 48 }.map(\.salt) == [Array(header[8..<16])])
    }

    @Test func aDrillOfAProvenSetDerivesOneKeyInTheToolAndTheScriptDecrypts() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        let recorder = Recorder()
        let result = try await w.drill(keyring: recorder.keyring())
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
        #expect(result.authenticated == true)
        let seen = recorder.derivations
        #expect(seen.count == 1, "\(seen.map { (Hex.encode($0.salt), $0.length) })")
        #expect(seen.first?.length == 32)
        #expect(seen.first.map { Hex.encode($0.salt) } == backup.manifest.manifestHMACSalt)
        // The restore script decrypted the vault (its own derivation, inside the replay) and the
        // files it restored match their HMAC digests: the tool did not decrypt again.
        let vault = try #require(result.results(.credentialsVault).first)
        #expect(vault.verdict == .pass)
        #expect(vault.evidence.contains { $0.contains("openssl decrypted the vault (not decrypted again here)") })
        let script = try #require(result.results(.restoreScript).first)
        #expect(script.evidence.joined(separator: "\n").contains("credentials: restored 2 files"))
    }

    @Test func setsOfOneMachineShareTheirSaltSoADrillDerivesOneKeyForBoth() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let older = try await w.backup(at: Date().addingTimeInterval(-120))
        let newer = try await w.backup(at: Date().addingTimeInterval(-60))
        // The machine's salt (HMACSaltStore), the vault's own salt still fresh per set.
        #expect(older.manifest.manifestHMACSalt != nil)
        #expect(older.manifest.manifestHMACSalt == newer.manifest.manifestHMACSalt)
        let vaults = try [older, newer].map {
            try #require(FileManager.default.contents(atPath: $0.setPath + "/" + Vault.fileName))[8..<16]
        }
        #expect(vaults[0] != vaults[1])
        let stored = try String(contentsOfFile: w.base + "/cache/hmac-salt", encoding: .utf8)
        #expect(stored == (older.manifest.manifestHMACSalt ?? "") + "\n2000\n")
        let recorder = Recorder()
        let result = try await w.drill(keyring: recorder.keyring())
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
        let coverage = result.results(.setCoverage)
        #expect(coverage.contains { $0.verdict == .pass && $0.message.contains("since \(older.manifest.id)") })
        #expect(recorder.derivations.map { Hex.encode($0.salt) } == [newer.manifest.manifestHMACSalt].compactMap { $0 })
    }

    @Test func theMachinesKeyDerivesBeforeTheDrillReadsAManifestAndOnlyOnce() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        let recorder = Recorder()
        let keyring = recorder.keyring()
        // What DrillJob does first thing: the stored salt and count, on a thread of its own.
        let store = HMACSaltStore(folder: w.base + "/cache")
        #expect(store.load()?.iterations == 2000)
        store.speculate(password: w.password, keyring: keyring)
        let deadline = Date().addingTimeInterval(30)
        while recorder.derivations.isEmpty && Date() < deadline { try await Task.sleep(nanoseconds: 10_000_000) }
        let salts = recorder.derivations.map { Hex.encode($0.salt) }
        #expect(salts == [backup.manifest.manifestHMACSalt].compactMap { $0 })
        // The drill (which speculates again) asks for that key: no second derivation.
        let result = try await w.drill(keyring: keyring)
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
        #expect(recorder.derivations.count == 1)
    }

    @Test func aSaltFileThatIsNotTheUsersOwnPrivateFileIsReplaced() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        try FileManager.default.createDirectory(atPath: w.base + "/cache", withIntermediateDirectories: true)
        // A salt of someone else's choosing, in a file others may write: never used.
        let planted = String(repeating: "ab", count: Vault.hmacSaltLength)
        try (planted + "\n").write(toFile: w.base + "/cache/hmac-salt", atomically: false, encoding: .utf8)
        chmod(w.base + "/cache/hmac-salt", 0o666)
        let first = try await w.backup(at: Date().addingTimeInterval(-60))
        #expect(first.manifest.manifestHMACSalt != planted)
        // Replaced by a private file holding the salt the run used; a link in its place is not followed.
        var info = stat()
        #expect(lstat(w.base + "/cache/hmac-salt", &info) == 0 && (info.st_mode & 0o777) == 0o600)
        try FileManager.default.removeItem(atPath: w.base + "/cache/hmac-salt")
        try (planted + "\n").write(toFile: w.base + "/elsewhere", atomically: false, encoding: .utf8)
        chmod(w.base + "/elsewhere", 0o600)
        symlink(w.base + "/elsewhere", w.base + "/cache/hmac-salt")
        let second = try await w.backup()
        #expect(second.manifest.manifestHMACSalt != planted)
        #expect(second.manifest.manifestHMACSalt != first.manifest.manifestHMACSalt)
    }

    @Test func withAPreviousSetTheDrillDerivesOneKeyPerSalt() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        // Sets with salts of their own (made before the machine's salt was shared, or elsewhere).
        let older = try await w.backup(at: Date().addingTimeInterval(-120), sharedSalt: false)
        let newer = try await w.backup(at: Date().addingTimeInterval(-60), sharedSalt: false)
        let recorder = Recorder()
        let result = try await w.drill(keyring: recorder.keyring())
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
        #expect(result.backupID == newer.manifest.id)
        // set.coverage judged the older set (its own salt); every other use shared the keys.
        let coverage = result.results(.setCoverage)
        #expect(coverage.contains { $0.verdict == .pass && $0.message.contains("since \(older.manifest.id)") })
        #expect(coverage.allSatisfy { $0.verdict == .pass || $0.verdict == .skip })
        let salts = recorder.derivations.map { Hex.encode($0.salt) }
        #expect(salts.count == 2)
        #expect(Set(salts) == [older.manifest.manifestHMACSalt, newer.manifest.manifestHMACSalt].compactMap { $0 }.set)
    }

    @Test func aWrongPasswordCostsOneDerivationAndTheRepickDerivesNothingMore() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let wrong = try w.otherPasswordFile("not-the-password")
        let recorder = Recorder()
        let result = try await w.drill(.init(pick: .latest, passwordFile: wrong), keyring: recorder.keyring())
        #expect(result.verdict == .fail)
        #expect(result.authenticated == false)
        // The manifest's salt once: the provisional pick's drill derived it, the second pick and the
        // second drill reused it, and the vault's tag (same salt) fails before any decryption.
        #expect(recorder.derivations.count == 1)
        #expect(result.results(.credentialsVault).first?.message.contains("nothing was decrypted") == true)
    }

    @Test func aDrillByIDJudgesOnlyTheSetsItNeeds() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let oldest = try await w.backup(at: Date().addingTimeInterval(-180), sharedSalt: false)
        _ = try await w.backup(at: Date().addingTimeInterval(-120), sharedSalt: false)
        let newest = try await w.backup(at: Date().addingTimeInterval(-60), sharedSalt: false)
        let recorder = Recorder()
        let result = try await w.drill(.init(pick: .id(oldest.manifest.id.description)), keyring: recorder.keyring())
        #expect(result.backupID == oldest.manifest.id)
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
        // The drilled set (set.manifest) and the newest complete one (rpo); the set between them
        // is passed by name without a key.
        let salts = Set(recorder.derivations.map { Hex.encode($0.salt) })
        #expect(recorder.derivations.count == 2)
        #expect(salts == Set([oldest.manifest.manifestHMACSalt, newest.manifest.manifestHMACSalt].compactMap { $0 }))
    }

    @Test func vaultVerifyDerivesTheHMACKeyOnceAndTheDecryptionKeyOnce() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let backup = try await w.backup()
        let recorder = Recorder()
        var job = VaultVerifyJob(config: w.config)
        job.keyring = recorder.keyring()
        let outcome = try await job.run(id: nil, passwordFile: nil)
        #expect(outcome.verdict == .pass)
        // The pick authenticated the set with its HMAC key; set.manifest and the tag reused it;
        // only the decryption in memory derived the vault's own key.
        let seen = recorder.derivations
        #expect(seen.map(\.length).sorted() == [32, 48])
        #expect(seen.first { $0.length == 32 }.map { Hex.encode($0.salt) } == backup.manifest.manifestHMACSalt)
    }

    /// A copy of `real` half an hour newer without the manifest HMAC (someone without the
    /// password), resealed with a valid self-checksum; returns its manifest.
    static func forgeNewerCopy(of real: BackupJob.Outcome, in w: VaultWorkspace) throws -> Manifest {
        var forged = real.manifest
        forged.id = BackupID(date: real.manifest.id.date.addingTimeInterval(1800))
        forged.manifestHMAC = nil
        forged.manifestHMACSalt = nil
        let forgedPath = w.config.destination + "/" + forged.id.description
        try FileManager.default.copyItem(atPath: real.setPath, toPath: forgedPath)
        try forged.encodedForDisk().write(to: URL(fileURLWithPath: forgedPath + "/" + Manifest.fileName))
        return forged
    }

    @Test func checkFailsASetThatIsNotAuthenticated() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let real = try await w.backup(at: Date().addingTimeInterval(-3600))
        let forged = try Self.forgeNewerCopy(of: real, in: w)
        var check = CheckJob(config: w.config, clock: FixedClock(Date()))
        check.authenticator = SetAuthenticator(passwords: [w.password])
        let outcome = try check.run(id: nil, all: true)
        let verdicts = Dictionary(uniqueKeysWithValues: outcome.sets.map { ($0.id, $0.verdict) })
        #expect(verdicts[real.manifest.id.description] == .pass)
        #expect(verdicts[forged.id.description] == .fail)
        let first = outcome.sets.first { $0.id == forged.id.description }?.checks.first
        #expect(first?.check == .setManifest && first?.message.hasPrefix("not authenticated") == true)
    }

    @Test func aForgedNewerSetIsPassedOverAfterItsCheckWithoutASecond() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        let real = try await w.backup(at: Date().addingTimeInterval(-3600))
        // A newer copy without the HMAC (someone without the password), resealed.
        let forged = try Self.forgeNewerCopy(of: real, in: w)
        let recorder = Recorder()
        let result = try await w.drill(keyring: recorder.keyring())
        // The forged set was picked first (newest), failed its HMAC with no key derived (it has
        // none), and the drill went to the real set: one derivation, the real set's salt.
        #expect(result.backupID == real.manifest.id)
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict != .pass && $0.verdict != .skip })")
        #expect(recorder.derivations.map { Hex.encode($0.salt) } == [real.manifest.manifestHMACSalt].compactMap { $0 })
    }
}

extension Array where Element: Hashable {
    fileprivate var set: Set<Element> { Set(self) }
}
