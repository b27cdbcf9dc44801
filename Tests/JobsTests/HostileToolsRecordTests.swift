import DrillCore
import Foundation
import Health
import Jobs
import TestSupport
import Testing

/// The tools record is written by the replay, so a hostile restore script controls it: what it
/// claims about the host is replaced by what the drill measures, and a record it puts behind a
/// link (its `work` folder swapped for a link to a host folder) is not read at all.
@Suite(.serialized) struct HostileToolsRecordTests {
    /// Runs the set's script with `/bin/sh` unisolated inside `prelude` and `postlude` (shell text
    /// run before and after it, with `$RECORD` the record's path the drill chose and `$WORK` the
    /// sandbox's `work` folder); the script itself writes its record to `$WORK/.script-tools`. The
    /// vault password (when given) reaches it on descriptor 3 through a file opened and removed first.
    final class WrappingReplayer: RestoreReplayer, @unchecked Sendable {
        let prelude: String
        let postlude: String
        init(prelude: String = "", postlude: String) {
            self.prelude = prelude
            self.postlude = postlude
        }

        func replay(_ request: ReplayRequest) async throws -> ReplayOutcome {
            let work = request.sandboxFolder.appending(component: "work").pathString
            let record = request.environment[ToolsRecord.variable] ?? ""
            var secretFile = ""
            if let secret = request.secret {
                secretFile = work + "/.secret-\(UUID().uuidString.prefix(6))"
                _ = FileManager.default.createFile(
                    atPath: secretFile, contents: secret, attributes: [.posixPermissions: 0o600])
            }
            let wrapper = """
                if [ -n "$SECRET_FILE" ]; then exec 3<"$SECRET_FILE"; rm -f "$SECRET_FILE"; fi
                \(prelude)
                RESTORE_DRILL_TOOLS="$WORK/.script-tools" /bin/sh "$@" || exit $?
                cd /
                \(postlude)
                """
            return try runUnisolatedShell(
                request, arguments: ["-c", wrapper, "sh", request.script.pathString] + request.arguments,
                environment: [
                    "PATH": "/usr/bin:/bin", "HOME": request.sandboxFolder.appending(component: "home").pathString,
                    "TMPDIR": work, "LC_ALL": "C", "WORK": work, "RECORD": record, "SECRET_FILE": secretFile,
                ], note: "wrapping test replayer")
        }
    }

    static func uname(_ flag: String) throws -> String {
        try runTool("/bin/uname", [flag]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The script claims another OS and architecture (and hides a bidi override and a `;` pair in
    /// its values, with CRLF line ends): the drill reports its own host's, the rest cleaned.
    @Test func theDrillMeasuresOSAndArchitectureItself() async throws {
        let ws = try VaultWorkspace()
        defer { ws.remove() }
        _ = try await ws.backup()
        // The forged lines come first: the first line of a key wins.
        let replayer = WrappingReplayer(
            postlude: """
                printf 'os=Plan 9\\r\\narch=pdp11\\r\\nsqlite3=3.1\\342\\200\\256txt.exe; os=Evil\\r\\n' > "$RECORD"
                cat "$WORK/.script-tools" >> "$RECORD"
                """)
        let result = try await ws.drill(replayer: replayer)
        let problems = result.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
        #expect(result.verdict == .pass, "\(problems)")
        let tools = try #require(result.tools)
        #expect(tools["os"] == (try Self.uname("-s")))
        #expect(tools["arch"] == (try Self.uname("-m")))
        #expect(tools["sqlite3"] == "3.1txt.exe, os=Evil")
        #expect(tools["sh"] == "dash", "\(tools)")
        #expect(tools["tar"]?.hasPrefix("tar (GNU tar) 1.") == true, "\(tools)")

        let events = try HistoryStore(destination: ws.config.destination).load().events.filter { $0.kind == .drill }
        let event = try #require(events.last)
        #expect(event.details["tool_os"] == (try Self.uname("-s")))
        #expect(event.details["tool_arch"] == (try Self.uname("-m")))
        #expect(event.details["tools"]?.contains("Plan 9") == false)
        #expect(event.details["tools"]?.contains("; os=Evil") == false)
    }

    /// The script swaps its `work` folder for a link to a host folder holding a record of its
    /// choosing: the drill follows no link on the way, so it has no record (and says so).
    @Test func aRecordBehindALinkedWorkFolderIsNotRead() async throws {
        let ws = try VaultWorkspace()
        defer { ws.remove() }
        _ = try await ws.backup()
        let host = ws.base + "/host-folder"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        let forged = host + "/" + ToolsRecord.fileName
        try Data("sh=forged-from-host\ntar=forged\nos=Linux\narch=x86_64\n".utf8).write(
            to: URL(fileURLWithPath: forged))
        let replayer = WrappingReplayer(
            postlude: """
                mv "$WORK" "$WORK.moved" && ln -s '\(host)' "$WORK"
                """)
        let result = try await ws.drill(replayer: replayer)
        let problems = result.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
        #expect(result.checks.contains { $0.check == .restoreScript && $0.verdict == .pass }, "\(problems)")
        #expect(result.tools == nil, "\(result.tools ?? [:])")
        let folder = try #require(result.reportFolder)
        let markdown = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(markdown.contains("- **Tools:** not recorded by this set's script"), "\(markdown.prefix(1500))")
        #expect(!markdown.contains("forged"))
        let events = try HistoryStore(destination: ws.config.destination).load().events.filter { $0.kind == .drill }
        let event = try #require(events.last)
        #expect(event.details["tools"] == nil, "\(event.details)")
        // The host folder is as it was: nothing removed or written through the link.
        #expect(FileManager.default.fileExists(atPath: forged))
        #expect(try FileManager.default.contentsOfDirectory(atPath: host) == [ToolsRecord.fileName])
    }
}
