import DrillCore
import Foundation
import Jobs
import Sandbox
import Testing
import Vault

/// Without bubblewrap, a set is replayed unisolated only when it is proven (a vault password is
/// configured and the manifest HMAC verifies) or when `sandbox.isolation: none` says so; with
/// `isolation: auto` and no password the drill refuses (exit 2) naming the three ways out. The
/// replayer is the tool's own (``IsolatedReplayer``) with a tool path that holds `prlimit` and
/// `setpriv` but no `bwrap`, which is what a machine without bubblewrap looks like to it.
@Suite struct IsolationRefusalTests {
    /// A folder with links to the real `prlimit` and `setpriv` only.
    final class ToolsWithoutBubblewrap {
        let path: String

        init() throws {
            let name = "rd-no-bwrap-\(UUID().uuidString)"
            path = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for tool in ["prlimit", "setpriv"] {
                if let real = SubprocessRunner.which(tool, path: nil) {
                    try FileManager.default.createSymbolicLink(atPath: path + "/" + tool, withDestinationPath: real)
                }
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        var replayer: IsolatedReplayer { IsolatedReplayer(toolPath: path) }
    }

    /// The folders under `folder` (none when it does not exist).
    func entries(_ folder: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    }

    @Test func withoutBubblewrapOrAPasswordAutoRefusesWithExit2AndRunsNothing() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let tools = try ToolsWithoutBubblewrap()
        var noPassword = w.config
        noPassword.credentials.password = nil
        noPassword.sandbox.isolation = .auto
        let error = await #expect(throws: RestoreDrillError.self) {
            _ = try await w.drill(config: noPassword, replayer: tools.replayer)
        }
        guard case .isolationRefused(let why)? = error else {
            Issue.record("expected isolationRefused, got \(String(describing: error))")
            return
        }
        #expect(why.contains("bwrap was not found") || why.contains("only on Linux"))
        #expect(error?.exitStatus == .usage)
        let text = error?.description ?? ""
        for wayOut in ["install bubblewrap", "configure a vault password", "sandbox.isolation: none"] {
            #expect(text.contains(wayOut), "\(text)")
        }
        // Nothing ran and nothing was left: no sandbox, no report.
        #expect(entries(noPassword.sandbox.folder).isEmpty)
        #expect(entries(noPassword.reports.folder).isEmpty)
    }

    @Test func withoutBubblewrapIsolationNoneChosenKnowinglyReplaysAndTheReportsSaySo() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let tools = try ToolsWithoutBubblewrap()
        var noPassword = w.config
        noPassword.credentials.password = nil
        noPassword.sandbox.isolation = .none
        let result = try await w.drill(config: noPassword, replayer: tools.replayer)
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict == .fail || $0.verdict == .error })")
        #expect(result.isolation == .none)
        #expect(result.authenticated == nil)
        let folder = try #require(result.reportFolder)
        let markdown = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(markdown.contains("- **Isolation:** none"))
        #expect(markdown.contains("- **Authenticated:** no (no vault password configured"))
        let junit = try String(contentsOfFile: folder + "/junit.xml", encoding: .utf8)
        #expect(junit.contains("<property name=\"isolation\" value=\"none\"/>"))
        #expect(junit.contains("<property name=\"authenticated\" value=\"false\"/>"))
        let json = try String(contentsOfFile: folder + "/report.json", encoding: .utf8)
        #expect(json.contains("\"isolation\" : \"none\"") || json.contains("\"isolation\":\"none\""))
        #expect(DrillJob.summary(result).contains("isolation none, authenticated no"))
    }

    @Test func withoutBubblewrapAnAuthenticatedSetReplaysUnisolated() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let tools = try ToolsWithoutBubblewrap()
        var config = w.config
        config.sandbox.isolation = .auto
        let result = try await w.drill(config: config, replayer: tools.replayer)
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict == .fail || $0.verdict == .error })")
        #expect(result.isolation == .none)
        #expect(result.authenticated == true)
        #expect(result.results(.credentialsVault).first?.verdict == .pass)
        let folder = try #require(result.reportFolder)
        let junit = try String(contentsOfFile: folder + "/junit.xml", encoding: .utf8)
        #expect(junit.contains("<property name=\"authenticated\" value=\"true\"/>"))
        #expect(junit.contains("authenticated: yes (manifest HMAC verified"))
        let json = try String(contentsOfFile: folder + "/report.json", encoding: .utf8)
        #expect(json.contains("\"authenticated\" : true") || json.contains("\"authenticated\":true"))
        #expect(DrillJob.summary(result).contains("isolation none, authenticated yes"))
    }

    @Test func withoutBubblewrapAnUnauthenticatedSetIsNeverReplayedAndFails() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let tools = try ToolsWithoutBubblewrap()
        // A password that does not verify the set: the set is hostile until proven.
        let wrong = try w.otherPasswordFile("not-the-password")
        let result = try await w.drill(.init(pick: .latest, passwordFile: wrong), replayer: tools.replayer)
        #expect(result.verdict == .fail)
        #expect(result.authenticated == false)
        let script = try #require(result.results(.restoreScript).first)
        #expect(script.verdict == .fail)
        #expect(script.message.contains("not replayed"), "\(script.message)")
        #expect(script.message.contains("never run without isolation"), "\(script.message)")
        // Nothing was restored: the tree checks are skips naming why.
        let tree = result.results(.restoreTree)
        #expect(!tree.isEmpty && tree.allSatisfy { $0.verdict == .skip && $0.message.contains("not replayed") })
        let markdown = try String(contentsOfFile: try #require(result.reportFolder) + "/report.md", encoding: .utf8)
        #expect(markdown.contains("- **Authenticated:** no (manifest HMAC did not verify"))
    }
}
