import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// The restore script's template, `Sources/BackupEngine/restore-script/restore.sh`: compiled into
/// the binary as it is on disk, its placeholders all filled, and clean under `shellcheck`
/// (Debian's `shellcheck` package; `ci/setup` installs it), both as a template and rendered.
@Suite struct RestoreScriptTemplateTests {
    /// The template file in the source tree.
    static let templatePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/BackupEngine/restore-script/restore.sh").path

    @Test func theCompiledTemplateIsTheFileByteForByte() throws {
        let onDisk = try #require(FileManager.default.contents(atPath: Self.templatePath), "\(Self.templatePath)")
        #expect(Data(RestoreScript.template.utf8) == onDisk, "rebuild: the embedded template is stale")
        #expect(RestoreScript.template.hasPrefix("#!/bin/sh\n"))
    }

    /// A placeholder alone on its line is a block: replaced with its line, so an empty value leaves
    /// no trace; a placeholder with anything else on its line (or no newline after it) is inline.
    @Test func aBlockPlaceholderReplacesItsWholeLine() {
        let text = "a\n    @@B@@\nx @@I@@ y\n@@B@@ not alone\n@@B@@"
        #expect(ShellTemplate.render(text, values: ["B": "", "I": "i"]) == "a\nx i y\n not alone\n")
        #expect(
            ShellTemplate.render(text, values: ["B": "one\ntwo\n", "I": ""])
                == "a\none\ntwo\nx  y\none\ntwo\n not alone\none\ntwo\n")
    }

    @Test func everyPlaceholderHasAValueAndEveryValueAPlaceholder() {
        let manifest = RestoreScriptGoldenTests.fullManifest()
        let names = ShellTemplate.placeholders(in: RestoreScript.template)
        #expect(Set(names) == Set(RestoreScript.templateValues(manifest).keys))
        #expect(!RestoreScript.render(manifest).contains("@@"))
    }

    @Test func placeholdersAreReplacedInOnePass() {
        let text = "a @@X@@ b @@Y@@ @@@X@@ @@x@@ @@ @@X\n"
        #expect(ShellTemplate.placeholders(in: text) == ["X", "Y"])
        #expect(
            ShellTemplate.render(text, values: ["X": "@@Y@@", "Y": "ü'"]) == "a @@Y@@ b ü' @@@Y@@ @@x@@ @@ @@X\n")
        // A value naming a placeholder is inserted as it is, not expanded again.
        var m = RestoreScriptGoldenTests.emptyManifest()
        m.host = "@@SET_ID@@"
        #expect(RestoreScript.render(m).contains("on @@SET_ID@@.\n"))
    }

    // MARK: - shellcheck

    /// The variables whose SC2034 ("appears unused") is expected: the per-set steps that
    /// ``RestoreScript/render(_:)`` appends use the rewrite markers `RD_M1`…`RD_M8` and the new
    /// paths `RD_ROOT_SED` / `RD_HOME_SED` only as far as a set needs them (none in the template
    /// alone, the first two in a set with one rewritten LaunchAgent). Any other unused variable
    /// is a finding.
    static let unusedByDesign: Set<String> = Set((1...8).map { "RD_M\($0)" } + ["RD_ROOT_SED", "RD_HOME_SED"])

    /// Codes not checked at all, each with why:
    /// - SC1007 ("remove space after = …"): `RD_TMP= RD_CRED_TMP= …` deliberately assigns several
    ///   variables the empty string in one POSIX simple command; the style is kept so the rendered
    ///   script stays byte-identical to the one sets were written with.
    static let excluded = ["SC1007"]

    /// shellcheck's findings on `file` as POSIX sh (every severity, `.shellcheckrc` files ignored),
    /// except the excluded codes and SC2034 for ``unusedByDesign``; one line per finding.
    static func shellcheckFindings(_ file: String) throws -> [String] {
        let shellcheck = try requireTool("shellcheck", package: "shellcheck")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: shellcheck)
        process.arguments = [
            "--norc", "--shell=sh", "--severity=style", "--format=json1",
            "--exclude=\(excluded.joined(separator: ","))", file,
        ]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // 0: no findings, 1: findings; anything else is shellcheck failing to run.
        guard process.terminationStatus <= 1 else {
            throw RestoreDrillError.runtime("shellcheck exited \(process.terminationStatus) on \(file)")
        }
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let comments = try #require(json["comments"] as? [[String: Any]])
        return comments.compactMap { c in
            let code = c["code"] as? Int ?? 0
            let message = c["message"] as? String ?? ""
            if code == 2034, let name = message.split(separator: " ").first, unusedByDesign.contains(String(name)) {
                return nil
            }
            return "line \(c["line"] ?? "?"): SC\(code) (\(c["level"] ?? "?")): \(message)"
        }
    }

    @Test(.needsTool("shellcheck", package: "shellcheck"))
    func theTemplateIsCleanUnderShellcheck() throws {
        #expect(try Self.shellcheckFindings(Self.templatePath) == [])
    }

    @Test(
        .needsTool("shellcheck", package: "shellcheck"),
        arguments: ["full", "empty", "full format 2", "empty format 2"])
    func aRenderedScriptIsCleanUnderShellcheck(_ which: String) throws {
        let manifest =
            switch which {
            case "full": RestoreScriptGoldenTests.fullManifest()
            case "empty": RestoreScriptGoldenTests.emptyManifest()
            case "full format 2": RestoreScriptGoldenTests.fullManifestFormat2()
            default: RestoreScriptGoldenTests.emptyManifest().formatTwo()
            }
        let folder = try TempFolder("rd-shellcheck")
        let path = folder.path + "/" + manifest.restoreScript
        try Data(RestoreScript.render(manifest).utf8).write(to: URL(fileURLWithPath: path))
        #expect(try Self.shellcheckFindings(path) == [])
    }

    /// The check is real: a script with a classic mistake is reported.
    @Test(.needsTool("shellcheck", package: "shellcheck"))
    func shellcheckReportsAnUnquotedExpansion() throws {
        let folder = try TempFolder("rd-shellcheck")
        let path = folder.path + "/bad.sh"
        try Data("#!/bin/sh\nrm -rf $1/x\nRD_M1=unused\nRD_OTHER=unused\n".utf8).write(to: URL(fileURLWithPath: path))
        let findings = try Self.shellcheckFindings(path)
        #expect(findings.contains { $0.hasPrefix("line 2: SC2086") })
        #expect(findings.contains { $0.contains("SC2034") && $0.contains("RD_OTHER") })
        #expect(!findings.contains { $0.contains("RD_M1") })
    }
}
