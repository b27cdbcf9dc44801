import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// Issue 12, "File names", through the real pieces: a workspace holding an NFC/NFD pair, NFD
/// names (`ü`, Hangul jamo, a folder) and names that are not UTF-8 (Latin-1, `\x80`, the overlong
/// `\xc0\xaf`, a folder) is backed up, and the built binary's drill replays the set's real restore
/// script in its sandbox: the set is complete, `restore.archives` and `restore.tree` pass with
/// every path checked by its bytes, and the reports show the names that are not UTF-8 as `\xNN`.
@Suite(.serialized) struct FileNameRoundTripTests {
    @Test func aWorkspaceOfEveryKindOfNameBacksUpAndPassesItsDrill() async throws {
        let ws = try SmallWorkspace.make("names")
        defer { ws.remove() }
        let (base, root, configPath) = (ws.base, ws.root, ws.config)
        try ws.write("main.py", "print('hi')\n")
        try NameVariants.create(below: root)
        let config = try RestoreDrillConfig.load(path: configPath)
        let engine = BackupEngine(
            config: config, clock: FixedClock(Date()),
            runner: FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0, standardOutput: Data("x==1\n".utf8))))
        let outcome = try await engine.run()
        #expect(outcome.manifest.status == .complete, "\(outcome.manifest.components)")
        let recorded = Set(outcome.manifest.files.map { FileNameBytes.bytes($0.path) })
        for (path, _) in NameVariants.tree { #expect(recorded.contains(path), "\(NameVariants.shown(path))") }

        let drill = try Tool.run(["drill", "--latest", "--json", "--config", configPath], in: base)
        #expect(drill.status == 0, "\(drill.stderr)\n\(drill.stdout.prefix(4000))")
        let report = try Tool.drillReport(drill.stdout)
        #expect(report.verdict == .pass)
        #expect(!report.checks.contains { $0.verdict == .fail || $0.verdict == .error }, "\(report.checks.problems)")
        let archives = try #require(report.checks.first { $0.check == .restoreArchives })
        #expect(archives.verdict == .pass, "\(archives.message)")
        let tree = try #require(report.checks.first { $0.check == .restoreTree && $0.subject == "code" })
        #expect(tree.verdict == .pass, "\(tree.message)")
        // Every code record was checked: 2 + the tree's files and folders (main.py, names/, …).
        let count = outcome.manifest.files.filter { $0.component == .code }.count
        #expect(tree.evidence.contains("\(count) paths checked"), "\(tree.evidence)")

        // The same set with the decomposed name recorded composed (what the recomposing writer
        // recorded against its archive, the other way round): the decomposed member is
        // unexplained, byte for byte, though Swift calls the two names equal (the replay is then
        // not run: an archive that fails inspection is never unpacked).
        let nfd = Array("names/".utf8) + NameVariants.resumeNFD
        try SetSurgery.seal(outcome.setPath) { m in
            let i = m.files.firstIndex { FileNameBytes.bytes($0.path) == nfd }!
            m.files[i].path = "names/R\u{e9}sum\u{e9}.txt"
        }
        let failed = try Tool.run(["drill", "--latest", "--json", "--config", configPath], in: base)
        #expect(failed.status == 1, "\(failed.stderr)")
        let bad = try Tool.drillReport(failed.stdout)
        let archive = try #require(bad.checks.first { $0.check == .restoreArchives })
        #expect(archive.verdict == .fail)
        #expect(archive.evidence.contains { Array($0.utf8) == Array("extra: ".utf8) + nfd }, "\(archive.evidence)")
    }

    /// A name that is not UTF-8 that goes missing from the restored tree is named with `\xNN` in
    /// the report and on the terminal.
    /// A credential under an NFD name beside its NFC twin: the vault keeps both, and the drill's
    /// `credentials.vault` and `restore.tree` tell them apart by their bytes (they were taken for
    /// one name: "stored twice in the vault").
    @Test func decomposedCredentialNamesPassTheVaultCheck() throws {
        let ws = try SmallWorkspace.make(
            "nfd-vault", extraConfig: "credentials: {include: [secrets], password: {env: RD_E2E_NFD_PASSWORD}}")
        defer { ws.remove() }
        try ws.write("src/a.py", "print(1)\n")
        try ws.write("secrets/Re\u{301}sume\u{301}.key", "decomposed\n")
        try ws.write("secrets/R\u{E9}sum\u{E9}.key", "composed\n")
        let env = ["RD_E2E_NFD_PASSWORD": "nfd-\(UUID().uuidString)"]
        let backup = try ws.run(["backup"], environment: env)
        #expect(backup.status == 0, "\(backup.stderr)")
        let drill = try ws.run(["drill", "--latest", "--json"], environment: env)
        #expect(drill.status == 0, "\(drill.stderr)")
        let report = try Tool.drillReport(drill.stdout)
        let vault = report.checks.first { $0.check == .credentialsVault }
        #expect(vault?.verdict == .pass, "\(vault?.message ?? "no credentials.vault")")
        #expect(report.verdict == .pass, "\(report.checks.filter { $0.verdict == .fail }.map(\.message))")
    }

    @Test func aMissingNameThatIsNotUTF8IsShownEscaped() async throws {
        let ws = try SmallWorkspace.make("names-missing")
        defer { ws.remove() }
        let (base, root, configPath) = (ws.base, ws.root, ws.config)
        try NameVariants.create(below: root)
        let config = try RestoreDrillConfig.load(path: configPath)
        let engine = BackupEngine(
            config: config, clock: FixedClock(Date()),
            runner: FixedOutcomeRunner(outcome: ProcessOutcome(exitCode: 0, standardOutput: Data("x==1\n".utf8))))
        let outcome = try await engine.run()
        // The restore script removes one restored file whose name is not UTF-8 after restoring.
        let scriptPath = outcome.setPath + "/" + outcome.manifest.restoreScript
        var script = try String(contentsOfFile: scriptPath, encoding: .utf8)
        script = script.replacingOccurrences(
            of: "\nrd_finish\n", with: "\nrm -f \"$RD_ROOT/names/caf$(printf '\\351').txt\"\nrd_finish\n")
        try Data(script.utf8).write(to: URL(fileURLWithPath: scriptPath))
        try SetSurgery.seal(outcome.setPath)
        let drill = try Tool.run(["drill", "--latest", "--config", configPath], in: base)
        #expect(drill.status == 1, "\(drill.stderr)")
        #expect(drill.stdout.contains("names/caf\\xe9.txt"), "\(drill.stdout)")
        let report = try String(
            contentsOfFile: try #require(
                FileManager.default.enumerator(atPath: base + "/reports")?.compactMap { $0 as? String }.first {
                    $0.hasSuffix("report.md")
                }
                .map { base + "/reports/" + $0 }), encoding: .utf8)
        #expect(report.contains("caf\\\\xe9.txt") || report.contains("caf\\xe9.txt"), "\(report)")
        #expect(!report.unicodeScalars.contains { (0x10FF80...0x10FFFF).contains($0.value) })
    }
}
