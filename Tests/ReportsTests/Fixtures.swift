import DrillCore
import Foundation
import TestSupport
import Testing

/// Drill results made for the report tests: fixed times, host and tool version, so renderings
/// are deterministic; every verdict kind; hostile strings from a backup set.
enum Fixture {
    /// 2025-10-20T17:50:19.250Z.
    static let start = Date(timeIntervalSince1970: 1_760_982_619.25)

    /// A name a hostile backup set could carry: markup, quotes, ESC and BEL, `]]>`, table pipes,
    /// a backslash-pipe, tab, LF, CRLF, non-ASCII, backtick runs, NUL and the non-character U+FFFE.
    static let hostile =
        "evil <b>&amp;\"'</b> \u{1B}[31mred\u{7} ]]> |pipe| a\\|b\nsecond\tline\r\nünïcødé 日本 🙂 `tick` ```fence \u{0}nul \u{FFFE}end"

    /// `hostile` as an XML parser reads it back from the JUnit file: characters XML 1.0 forbids
    /// replaced by control pictures (C0) or U+FFFD (U+FFFE); tab, LF and CR kept.
    static let hostileAsXML =
        "evil <b>&amp;\"'</b> \u{241B}[31mred\u{2407} ]]> |pipe| a\\|b\nsecond\tline\r\nünïcødé 日本 🙂 `tick` ```fence \u{2400}nul \u{FFFD}end"

    /// `hostile` as it reads in the rendered Markdown outside a fenced block: every control
    /// character but tab shown as its control picture, so it stays on one line.
    static let hostileAsMarkdownLine =
        "evil <b>&amp;\"'</b> \u{241B}[31mred\u{2407} ]]> |pipe| a\\|b\u{240A}second\tline\u{240D}\u{240A}ünïcødé 日本 🙂 `tick` ```fence \u{2400}nul \u{FFFE}end"

    static let backupID = BackupID(date: Date(timeIntervalSince1970: 1_760_929_201))  // full_20251020_030001

    /// A failed drill with every verdict kind (pass, fail, skip, error) and hostile strings in a
    /// subject, a message and evidence.
    static func mixed() -> DrillResult {
        var r = DrillResult(
            drillID: DrillID(date: start), backupID: backupID, setPath: "/backups/maia/full_20251020_030001",
            startedAt: start, isolation: .bubblewrap)
        r.finishedAt = Timestamp.string(start.addingTimeInterval(83.5))
        r.host = "drill-host.example"
        r.toolVersion = "9.9.9-test"
        r.manifestSHA256 = String(repeating: "ab", count: 32)
        r.limits = "full"
        r.authenticated = true
        // What the replay ran with (issue 19), as a set's script records it.
        r.tools = [
            "sh": "dash", "tar": "tar (GNU tar) 1.34", "gzip": "gzip 1.12",
            "hash": "openssl: OpenSSL 3.0.17 1 Jul 2025", "openssl": "OpenSSL 3.0.17 1 Jul 2025", "os": "Linux",
            "arch": "x86_64",
        ]
        r.rpoSeconds = 53_418.25
        r.rpoObjectiveSeconds = 86_400
        r.rtoSeconds = 41.125
        r.rtoObjectiveSeconds = 1_800
        // A drill of an off-site copy (issue 16): the 12.5 s download is inside the 41.125 s RTO.
        r.copy = DrilledCopy(
            remote: "onedrive", remotePath: "onedrive:MaiaBackups", fetchSeconds: 12.5, fetchedBytes: 3_145_728)
        // A drill of some parts (issue 17): 2 of the set's 5, one of them named with a `|`.
        r.restoredParts = [
            RestorePart(number: 1, kind: .pack, name: "code.tar.gz", artifacts: [], bytes: 1_048_576),
            RestorePart(number: 4, kind: .database, name: "claude/data/a|b.db", artifacts: [], bytes: 2048),
        ]
        r.partsTotal = 5
        r.sampled = true
        r.sandboxPath = "/work/sandboxes/drill_20251020_175019"
        r.sandboxKept = true
        r.reportFolder = "/work/reports/drill_20251020_175019"
        r.checks = [
            CheckResult(
                check: .setManifest, subject: backupID.description, verdict: .pass,
                message: "manifest format 1, self-checksum matches", seconds: 0.0042),
            CheckResult(
                check: .setArtifacts, subject: "code.tar.gz", verdict: .pass, message: "size and SHA-256 as recorded",
                evidence: ["size 1048576", "sha256 " + String(repeating: "cd", count: 32)], seconds: 0.0123),
            CheckResult(
                check: .setArtifacts, subject: "databases/store_03.db.chunk-0002", verdict: .fail,
                message: "SHA-256 differs: recorded 1111…, found 2222…",
                evidence: [
                    "recorded " + String(repeating: "11", count: 32), "found    " + String(repeating: "22", count: 32),
                ],
                seconds: 1.5),
            CheckResult.noSubject(.setCoverage, subject: "code", reason: "no previous complete set to compare with"),
            CheckResult(
                check: .restoreScript, subject: "restore_maia.sh", verdict: .pass, message: "exit 0 after 41.1 s",
                evidence: ["output tail:", "```", "restored 3 databases", "\u{1B}[0mdone"], seconds: 41.125),
            CheckResult(
                check: .restoreTree, subject: "claude/" + hostile, verdict: .fail, message: "missing: " + hostile,
                evidence: ["expected size 12", hostile], seconds: 12345.678),
            CheckResult(
                check: .dbIntegrity, subject: "claude/data/store_01.db", verdict: .pass, message: "integrity_check ok",
                seconds: 0.25),
            CheckResult(
                check: .dbIntegrity, subject: "claude/data/locked.db", verdict: .error,
                message: "cannot open: database is locked", evidence: ["sqlite3_open_v2: 5"], seconds: 5),
            CheckResult.noSubject(
                .launchAgentsRewrite, subject: "launchagents", reason: "the set holds no LaunchAgent"),
            CheckResult.noSubject(.credentialsVault, subject: "credentials", reason: "vault not configured"),
            CheckResult(check: .rpo, subject: "/backups/maia", verdict: .pass, message: "14 h 50 m < 24 h 00 m"),
            CheckResult(check: .rto, subject: backupID.description, verdict: .pass, message: "41.1 s ≤ 30 m 00 s"),
        ]
        return r
    }

    /// A failed drill of a set whose manifest HMAC did not verify with the configured password
    /// (`authenticated` false): the replay ran without a secret, so the vault is skipped; it also
    /// holds the check ids ``mixed()`` does not (`restore.archives`, `launchagents.lint`).
    static func unauthenticated() -> DrillResult {
        let when = start.addingTimeInterval(86400)
        var r = DrillResult(
            drillID: DrillID(date: when), backupID: backupID, setPath: "/backups/maia/full_20251020_030001",
            startedAt: when, isolation: .bubblewrap)
        r.finishedAt = Timestamp.string(when.addingTimeInterval(9.75))
        r.host = "drill-host.example"
        r.toolVersion = "9.9.9-test"
        r.manifestSHA256 = String(repeating: "ef", count: 32)
        r.limits = "partial (memory cgroup, pids cgroup)"
        r.authenticated = false
        r.rtoSeconds = 8.5
        r.rtoObjectiveSeconds = 1_800
        r.sandboxPath = "/work/sandboxes/drill_20251021_175019"
        r.reportFolder = "/work/reports/drill_20251021_175019"
        r.checks = [
            CheckResult(
                check: .setManifest, subject: backupID.description, verdict: .fail,
                message: "the manifest HMAC does not match the vault password", seconds: 0.3),
            CheckResult(
                check: .restoreArchives, subject: "code.tar.gz", verdict: .pass,
                message: "42 members, none outside the sandbox, as listed", seconds: 0.125),
            CheckResult(
                check: .launchAgentsLint, subject: "com.maia.sync.plist", verdict: .fail,
                message: "ProgramArguments[2] holds `&&`, which only a shell could mean",
                evidence: ["ProgramArguments: /bin/echo, a, &&, b"], seconds: 0.0625),
            CheckResult.noSubject(
                .credentialsVault, subject: "credentials", reason: "the set is not authenticated: no password given"),
        ]
        return r
    }

    /// A passing drill with no isolation, one pass and one skip.
    static func passing() -> DrillResult {
        let when = start.addingTimeInterval(7 * 86400)
        var r = DrillResult(
            drillID: DrillID(date: when), backupID: backupID, setPath: "/backups/maia/full_20251020_030001",
            startedAt: when, isolation: .none)
        r.finishedAt = Timestamp.string(when.addingTimeInterval(2))
        r.host = "drill-host.example"
        r.toolVersion = "9.9.9-test"
        r.checks = [
            CheckResult(
                check: .setManifest, subject: backupID.description, verdict: .pass, message: "ok", seconds: 0.5),
            CheckResult.noSubject(.setCoverage, subject: "code", reason: "no previous complete set"),
        ]
        return r
    }

    /// A drill where every check was skipped: its verdict is fail although nothing failed.
    static func allSkipped() -> DrillResult {
        var r = DrillResult(
            drillID: DrillID(date: start, sequence: 2), backupID: nil, setPath: "/backups/odd set",
            startedAt: start, isolation: .none)
        r.host = "drill-host.example"
        r.toolVersion = "9.9.9-test"
        r.checks = [CheckResult.noSubject(.setCoverage, subject: "code", reason: "no previous complete set")]
        return r
    }
}

/// Runs the external consumers the reports are written for (xmllint, cmark-gfm, python3 with
/// junitparser). A missing tool follows TestSupport's rule (``requireTool(_:package:)``): the
/// error names the Debian package and fails the test, never a silent pass.
enum ExternalTool {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `name` with `arguments`; output goes through files, so a large output cannot block.
    /// - Throws: ``MissingTool`` when the tool is missing (the message names the Debian package), or
    ///   the error of starting it.
    static func run(_ name: String, _ arguments: [String], package: String) throws -> Outcome {
        let run = try runTool(try requireTool(name, package: package), arguments)
        return Outcome(status: run.status, stdout: run.output, stderr: run.error)
    }
}

@Suite struct ExternalToolTests {
    @Test func aMissingConsumerFailsTheTestInsteadOfPassingSilently() {
        #expect {
            try ExternalTool.run("restore-drill-no-such-tool", [], package: "none")
        } throws: { error in
            String(describing: error).contains("restore-drill-no-such-tool is not installed")
        }
    }
}
