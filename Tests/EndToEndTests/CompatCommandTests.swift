import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 19, `restore-drill compat` through the built tool: after a real drill (under the
/// project's own replayer, isolated when bubblewrap is there), the combination of tools its replay
/// ran with, and that drill as the newest pass; an unreadable history exits 3. (Verdicts per
/// combination with GNU tar, bsdtar, a LibreSSL-like openssl and a tar without pax:
/// `ToolsRecordDrillTests`.)
@Suite(.serialized) struct CompatCommandTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test func compatShowsTheToolsOfRealDrillsWithTheirVerdicts() throws {
        let ws = try SmallWorkspace.make("compat")
        defer { ws.remove() }
        try ws.write("src/a.py", "print(1)\n")
        #expect(try ws.run(["backup"]).status == 0)
        let drill = try ws.run(["drill", "--latest", "--json"])
        #expect(drill.status == 0, "\(drill.stderr)")
        let report = try Self.json(drill.stdout)
        let tools = try #require(report["tools"] as? [String: String], "the replay recorded its tools")
        #expect(tools["tar"]?.isEmpty == false && tools["os"]?.isEmpty == false, "\(tools)")

        let compat = try ws.run(["compat", "--json"])
        #expect(compat.status == 0, "\(compat.stderr)")
        let matrix = try Self.json(compat.stdout)
        #expect(matrix["format"] as? String == "restore-drill/compat")
        let combinations = try #require(matrix["combinations"] as? [[String: Any]])
        #expect(combinations.count == 1)
        let first = try #require(combinations.first)
        #expect((first["tools"] as? [String: String])?["tar"] == tools["tar"])
        #expect((first["newest_pass"] as? [String: Any])?["drill_id"] as? String == report["drill_id"] as? String)
        #expect(first["verdict"] as? String == "pass")

        // The events folder made a file: the history cannot be read.
        let events = ws.base + "/backups/.restore-drill/events"
        try FileManager.default.removeItem(atPath: events)
        try Data("x".utf8).write(to: URL(fileURLWithPath: events))
        #expect(try ws.run(["compat"]).status == 3)
    }
}
