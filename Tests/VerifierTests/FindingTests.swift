import DrillCore
import Foundation
import Testing

@testable import Verifier

/// Typed findings: the checks' findings carry a code and data, and the message is rendered from them.
@Suite struct FindingTests {
    /// A set folder holding one artifact `data.bin` with `content`; removed by the caller.
    static func setWithArtifact(_ content: Data) throws -> (folder: String, artifact: ArtifactRecord) {
        let folder = NSTemporaryDirectory() + "restore-drill-findings-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try content.write(to: URL(fileURLWithPath: folder + "/data.bin"))
        let record = ArtifactRecord(
            path: "data.bin", component: .code, kind: .archive, size: Int64(content.count),
            sha256: SHA256Digest.hex(of: content))
        return (folder, record)
    }

    @Test func artifactFindingsCarryCodeDataAndTheMessageOfBefore() throws {
        let content = Data("twelve bytes".utf8)
        let (folder, record) = try Self.setWithArtifact(content)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let setPath = try AbsolutePath(validating: folder)
        #expect(ArtifactCheck.check(record, setPath: setPath).verdict == .pass)
        #expect(ArtifactCheck.check(record, setPath: setPath).findings.isEmpty)

        // One flipped byte: same size, other digest.
        var flipped = content
        flipped[0] ^= 0xFF
        try flipped.write(to: URL(fileURLWithPath: folder + "/data.bin"))
        let digest = ArtifactCheck.check(record, setPath: setPath)
        #expect(digest.verdict == .fail)
        #expect(digest.message == "data.bin: SHA-256 differs from the manifest (content changed)")
        #expect(digest.findings.map(\.code) == [.artifactDigestMismatch])
        #expect(digest.has(.artifactDigestMismatch, data: ["expected": record.sha256]))
        #expect(digest.has(.artifactDigestMismatch, data: ["actual": SHA256Digest.hex(of: flipped)]))
        #expect(!digest.has(.artifactDigestMismatch, data: ["actual": record.sha256]))

        try Data("short".utf8).write(to: URL(fileURLWithPath: folder + "/data.bin"))
        let size = ArtifactCheck.check(record, setPath: setPath)
        #expect(size.message == "data.bin: size 5 bytes, manifest records 12")
        #expect(size.has(.artifactSizeMismatch, data: ["expected": "12", "actual": "5"]))

        try FileManager.default.removeItem(atPath: folder + "/data.bin")
        let missing = ArtifactCheck.check(record, setPath: setPath)
        #expect(missing.message == "data.bin: missing from the set")
        #expect(missing.findings.map(\.code) == [.artifactMissing])
    }

    @Test func sumsFindingsAreOnePerDisagreement() throws {
        let (folder, record) = try Self.setWithArtifact(Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let setPath = try AbsolutePath(validating: folder)
        let id = BackupID(date: Date(timeIntervalSince1970: 1_700_000_000))
        var manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        manifest.artifacts = [record]
        let missing = ArtifactCheck.checkSums(setPath: setPath, manifest: manifest)
        #expect(missing.message == "SHA256SUMS is missing or unreadable")
        #expect(missing.findings.map(\.code) == [.sumsUnreadable])

        let other = String(repeating: "0", count: 64)
        try Data("\(other)  data.bin\nnot a line\n\(other)  extra.bin\n".utf8)
            .write(to: URL(fileURLWithPath: folder + "/SHA256SUMS"))
        let disagree = ArtifactCheck.checkSums(setPath: setPath, manifest: manifest)
        #expect(disagree.verdict == .fail)
        #expect(disagree.findings.map(\.code) == [.sumsBadLine, .sumsDigestMismatch, .sumsEntryExtra])
        #expect(disagree.has(.sumsBadLine, data: ["line": "2"]))
        #expect(disagree.has(.sumsEntryExtra, data: ["path": "extra.bin"]))
        #expect(
            disagree.message
                == "SHA256SUMS disagrees with the manifest: line 2 is not in sha256sum format; "
                + "data.bin: digest differs from the manifest; extra.bin: in SHA256SUMS, not in the manifest")
    }

    @Test func archiveDangersHaveOneCodeEachAndRenderPerMember() {
        let member = ArchiveMember(
            rawName: "/../x", name: "/../x", type: .symlink, mode: 0o4755, symlink: "/etc", hardlink: nil)
        let dangers = ArchiveInspection.dangers(member)
        #expect(
            dangers.map(\.code) == [
                .archiveMemberAbsolute, .archiveMemberDotDot, .archiveMemberSetID, .archiveLinkEscapes,
            ])
        #expect(dangers.allSatisfy { $0.data["member"] == "/../x" })
        #expect(dangers.last?.data["target"] == "/etc")
        #expect(
            Finding.archiveMemberMessage(dangers)
                == "/../x: absolute name, `..` segment in the name, setuid or setgid bit (mode 04755), "
                + "symlink to absolute path /etc leaves the restore root")
        let fine = ArchiveMember(rawName: "src/a", name: "src/a", type: .file, mode: 0o644, symlink: nil, hardlink: nil)
        #expect(ArchiveInspection.dangers(fine).isEmpty)
    }

    @Test func agentLintFindingsKnowTheirRuleWithoutReadingText() {
        let plist: [String: Any] = [
            "Label": "com.x.other", "ProgramArguments": ["/bin/echo", "a && b"],
            "StartCalendarInterval": ["Hour": 24],
        ]
        let ruled = LaunchAgentLint.ruledFindings(in: plist, fileName: "com.x.job.plist")
        #expect(ruled.map(\.rule) == [.label, .arguments, .calendar])
        #expect(ruled.map(\.message) == LaunchAgentLint.findings(in: plist, fileName: "com.x.job.plist"))
        #expect(Finding.Code.agentLint(.arguments).rawValue == "agent.lint.arguments")
    }

    @Test func restoreScriptFindingsRenderTheWordingOfBefore() {
        let result = CheckResult(
            check: .restoreScript, subject: "restore.sh",
            findings: [.scriptTimedOut(seconds: 10), .scriptOutputCapped(bytes: 8 << 20), .scriptExitStatus(1)])
        #expect(
            result.message
                == "restore.sh: killed after the timeout of \(Units.humanSeconds(10)); "
                + "output passed the cap of \(Units.humanBytes(8 << 20)); exited with status 1")
        #expect(result.has(.scriptExitStatus, data: ["status": "1"]))
        #expect(!result.has(.scriptExitStatus, data: ["status": "2"]))
        #expect(result.has(.scriptTimedOut))
        #expect(!result.has(.scriptChangedOutside))
    }

    @Test func drillOptionsDefaultToTheConfigurationsDefaults() throws {
        let options = DrillOptions(
            setPath: try AbsolutePath(validating: "/s"), sandboxFolder: try AbsolutePath(validating: "/b/sandboxes"),
            reportFolder: try AbsolutePath(validating: "/b/reports"))
        let sandbox = RestoreDrillConfig.SandboxSettings(baseFolder: "/b")
        #expect(options.timeout == sandbox.timeout && options.keep == sandbox.keep)
        #expect(options.isolation == sandbox.isolation && options.limits == sandbox.limits)
        #expect(options.maxShrink == RestoreDrillConfig.CoverageSettings().maxShrink)
        #expect(options.outputCap == RestoreDrillConfig.SandboxSettings.defaultOutputCap)
    }

    @Test func objectiveTreeAndVaultFindingsRenderTheWordingOfBefore() {
        let rto = ObjectiveChecks.rto(setID: "full_x", seconds: 90, objective: 60, skipReason: "")
        #expect(
            rto.message
                == "full_x: restore took \(Units.humanSeconds(90)), over the objective \(Units.humanSeconds(60))")
        #expect(rto.has(.rtoExceeded, data: ["seconds": "90.0", "objective_seconds": "60.0"]))

        let tree = CheckResult(
            check: .restoreTree, subject: "code",
            findings: [.treeMissing("$ROOT/a"), .treeModeMismatch("$ROOT/b", actual: "0755", expected: "0644")],
            shown: 4)
        #expect(tree.message == "code: $ROOT/a: missing; $ROOT/b: mode 0755, expected 0644")
        #expect(tree.findings.filter { $0.code == .treeMissing }.count == 1)

        #expect(
            Finding.vaultTagMismatch(manifestHMACVerified: false).message
                == "wrong password: neither the vault's HMAC tag nor the manifest HMAC verifies with it; nothing was decrypted"
        )
        #expect(Finding.vaultTagMismatch(manifestHMACVerified: true).data["cause"] == "tampered")
        #expect(Finding.vaultTagMismatch(manifestHMACVerified: nil).data["cause"] == "unknown")
    }
}
