import Foundation
import TestSupport
import Testing

/// Relative one-character file names, given to the built tool from the folder they are in: Linux
/// Foundation's `NSString.deletingLastPathComponent` traps on them (SIGILL, exit 132), which is
/// how `report html … h` and `runbook ID x` died before the tool took paths apart with
/// `PathText`.
@Suite struct OneCharacterPathTests {
    @Test func aOneCharacterConfigurationAndOutputWorkFromTheirFolder() throws {
        let ws = try SmallWorkspace.make("one-char")
        defer { ws.remove() }
        try ws.write("a.txt", "one\n")
        // The workspace's configuration under the name `c`, next to the scratch folder's `backups`.
        try FileManager.default.moveItem(atPath: ws.config, toPath: ws.base + "/c")

        let backup = try Tool.run(["backup", "--config", "c"], in: ws.base)
        #expect(backup.status == 0, "\(backup.stderr)")
        let ids = try FileManager.default.contentsOfDirectory(atPath: ws.base + "/backups").filter {
            $0.hasPrefix("full_")
        }
        let id = try #require(ids.first)
        #expect(ids.count == 1)

        let html = try Tool.run(["report", "html", "--config", "c", "h"], in: ws.base)
        #expect(html.status == 0, "exit \(html.status): \(html.stderr)")
        let page = try String(contentsOfFile: ws.base + "/h", encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>"), "\(page.prefix(200))")

        let runbook = try Tool.run(["runbook", "--config", "c", id, "x"], in: ws.base)
        #expect(runbook.status == 0, "exit \(runbook.status): \(runbook.stderr)")
        let text = try String(contentsOfFile: ws.base + "/x", encoding: .utf8)
        #expect(text.contains(id), "\(text.prefix(300))")
        // Nothing but the outputs beside them: no temporary file left over.
        let left = try FileManager.default.contentsOfDirectory(atPath: ws.base).sorted()
        #expect(left == ["backups", "c", "h", "home", "x"], "\(left)")
    }
}
