import DrillCore
import Foundation
import Health
import Jobs
import TestSupport
import Testing

/// Issue 19: a drill records the tools its replay ran with (report.json, report.md, junit.xml,
/// the history event), and `compat` groups the history's drills by those tools. The replays run
/// with a stand-in folder first on `PATH`: GNU tar, bsdtar, a LibreSSL-like openssl, and a tar
/// that cannot read pax (its drill fails on the script's tool check).
@Suite(.serialized) struct ToolsRecordDrillTests {
    /// Replays with `/bin/sh`, unisolated, `PATH` = ``bin`` then the system's: the vault password
    /// (when given) on descriptor 3 through a file the wrapper opens and removes first.
    final class StandInReplayer: RestoreReplayer, @unchecked Sendable {
        let bin: String
        init(bin: String) { self.bin = bin }

        func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
            let work = request.sandboxFolder.appending(component: "work").pathString
            var arguments = [request.script.pathString] + request.arguments
            if let secret = request.secret {
                let file = work + "/.secret-\(UUID().uuidString.prefix(6))"
                FileManager.default.createFile(atPath: file, contents: secret, attributes: [.posixPermissions: 0o600])
                arguments = ["-c", "exec 3<\"$0\"; rm -f \"$0\"; exec /bin/sh \"$@\"", file] + arguments
            }
            return try runUnisolatedShell(
                request, arguments: arguments,
                environment: [
                    "PATH": bin + ":/usr/bin:/bin",
                    "HOME": request.sandboxFolder.appending(component: "home").pathString,
                    "TMPDIR": work, "LC_ALL": "C",
                ].merging(request.environment) { $1 }, note: "stand-in test replayer")
        }
    }

    /// A folder holding the executables `files` (name → text) and links `links` (name → target).
    static func bin(_ base: String, files: [String: String] = [:], links: [String: String] = [:]) throws -> String {
        let folder = base + "/stand-ins-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (name, text) in files {
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
            chmod(folder + "/" + name, 0o755)
        }
        for (name, target) in links {
            try FileManager.default.createSymbolicLink(atPath: folder + "/" + name, withDestinationPath: target)
        }
        return folder
    }

    @Test(.needsTool("bsdtar", package: "libarchive-tools"))
    func drillsRecordTheirToolsAndCompatShowsEachCombinationWithItsVerdict() async throws {
        let ws = try VaultWorkspace()
        defer { ws.remove() }
        _ = try await ws.backup()
        let gnu = try Self.bin(ws.base)
        let bsd = try Self.bin(ws.base, links: ["tar": "/usr/bin/bsdtar"])
        let libre = try Self.bin(
            ws.base,
            files: [
                "openssl": """
                #!/bin/sh
                case $1 in version) echo 'LibreSSL 3.3.6'; exit 0 ;; esac
                exec /usr/bin/openssl "$@"
                """
            ])
        let noPax = try Self.bin(
            ws.base,
            files: [
                "tar": """
                #!/bin/sh
                case $1 in
                    --version) echo 'tar (stand-in without pax) 0.1'; exit 0 ;;
                    -tf) cat >/dev/null; echo "tar: unknown file type 'x'" >&2; exit 1 ;;
                esac
                exec /usr/bin/tar "$@"
                """
            ])
        var results: [String: DrillResult] = [:]
        for (name, folder) in [("gnu", gnu), ("bsd", bsd), ("libre", libre), ("nopax", noPax)] {
            results[name] = try await ws.drill(replayer: StandInReplayer(bin: folder))
        }
        let problems = { (r: DrillResult) in
            r.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
        }
        for name in ["gnu", "bsd", "libre"] {
            let r = try #require(results[name])
            #expect(r.verdict == .pass, "\(name): \(problems(r))")
        }
        let gnuTools = try #require(results["gnu"]?.tools)
        #expect(gnuTools["tar"]?.hasPrefix("tar (GNU tar) 1.") == true, "\(gnuTools)")
        #expect(gnuTools["openssl"]?.hasPrefix("OpenSSL 3.") == true, "\(gnuTools)")
        #expect(gnuTools["sh"] == "dash")
        #expect(gnuTools["os"] == "Linux")
        #expect(results["bsd"]?.tools?["tar"]?.hasPrefix("bsdtar 3.") == true)
        #expect(results["libre"]?.tools?["openssl"] == "LibreSSL 3.3.6")
        #expect(results["libre"]?.tools?["hash"] == "openssl: LibreSSL 3.3.6")
        let failed = try #require(results["nopax"])
        #expect(failed.verdict == .fail)
        #expect(failed.tools?["tar"] == "tar (stand-in without pax) 0.1")
        let replay = try #require(failed.checks.first { $0.check == .restoreScript })
        #expect(
            replay.evidence.contains {
                $0.contains("restore: FAILED: tools: tar (tar (stand-in without pax) 0.1) cannot read pax archives")
            }, "\(replay.evidence)")

        // The reports: report.md's Tools line, junit.xml's tools property, report.json's tools.
        let gnuResult = try #require(results["gnu"])
        let folder = try #require(gnuResult.reportFolder)
        let markdown = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(markdown.contains("- **Tools:** sh=dash; tar=tar (GNU tar) 1."), "\(markdown.prefix(1500))")
        let junit = try String(contentsOfFile: folder + "/junit.xml", encoding: .utf8)
        #expect(
            junit.contains("<property name=\"tools\" value=\"sh=dash; tar=tar (GNU tar) 1."), "\(junit.prefix(2000))")
        let json = try JSONDecoder().decode(
            DrillResult.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/report.json")))
        #expect(json.tools == gnuResult.tools)

        // The history: each drill event carries tools, tool_os, tool_arch; compat groups them.
        let events = try HistoryStore(destination: ws.config.destination).load().events.filter { $0.kind == .drill }
        #expect(events.count == 4)
        for event in events {
            #expect(event.details["tools"]?.contains("tar=") == true, "\(event.details)")
            #expect(event.details["tool_os"] == "Linux")
            #expect(event.details["tool_arch"]?.isEmpty == false)
        }
        let matrix = CompatMatrix(events: events)
        #expect(matrix.combinations.count == 4, "\(matrix.text)")
        #expect(matrix.unrecorded == 0)
        func combination(tar: String? = nil, openssl: String? = nil) -> CompatMatrix.Combination? {
            matrix.combinations.first { c in
                let tarMatches = tar.map { c.tools["tar"]?.hasPrefix($0) == true } ?? true
                let opensslMatches = openssl.map { c.tools["openssl"]?.hasPrefix($0) == true } ?? true
                return tarMatches && opensslMatches
            }
        }
        let gnuCombo = try #require(combination(tar: "tar (GNU tar)", openssl: "OpenSSL 3."))
        #expect(gnuCombo.verdict == "pass")
        #expect(gnuCombo.newestPass?.drillID == gnuResult.drillID.description)
        #expect(gnuCombo.newestPass?.backupID == gnuResult.backupID?.description)
        #expect(gnuCombo.newestFail == nil)
        #expect(combination(tar: "bsdtar 3.")?.verdict == "pass")
        #expect(combination(tar: "tar (GNU tar)", openssl: "LibreSSL 3.3.6")?.verdict == "pass")
        let noPaxCombo = try #require(combination(tar: "tar (stand-in without pax)"))
        #expect(noPaxCombo.verdict == "fail")
        #expect(noPaxCombo.newestPass == nil)
        #expect(noPaxCombo.newestFail?.drillID == failed.drillID.description)
        #expect(matrix.text.contains("  tar: tar (stand-in without pax) 0.1"), "\(matrix.text)")
        #expect(matrix.text.contains("FAIL (1 drill)"))
    }
}
