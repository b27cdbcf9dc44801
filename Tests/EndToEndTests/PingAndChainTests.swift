import DrillCore
import Foundation
import TestSupport
import Testing

/// Issue 18: the built tool's dead-man's-switch pings, seen by a listener on 127.0.0.1 (start, then
/// success or fail, the chain head in the body), a dead listener that does not fail the job, and
/// `history verify` / `history note` with their exit codes.
@Suite(.serialized) struct PingAndChainTests {
    /// The ping URL's secret part: it must never appear in the tool's output.
    static let secret = "c0ffee00-5ecr-e7aa-bbcc-capability01"

    static func workspace(_ name: String, ping: String) throws -> SmallWorkspace {
        let ws = try SmallWorkspace.make(name, extraConfig: "hooks: {ping: \"\(ping)/ping/\(secret)\"}")
        try ws.write("src/app.py", "print('hello')\n")
        try ws.write("notes.txt", "restore me\n")
        return ws
    }

    /// `history verify --json`'s head line: `<seq> <sha256>`.
    static func verifiedHead(_ ws: SmallWorkspace) throws -> (status: Int32, head: String, json: [String: Any]) {
        let r = try ws.run(["history", "verify", "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["format"] as? String == "restore-drill/history-verify")
        let head = try #require(json["head"] as? [String: Any])
        return (r.status, "\(head["seq"] as? Int ?? -1) \(head["sha256"] as? String ?? "")", json)
    }

    @Test func backupAndDrillPingStartThenSuccessWithTheChainHeadInTheBody() throws {
        let listener = try LoopbackHTTPListener()
        defer { listener.stop() }
        let ws = try Self.workspace("ping-ok", ping: listener.base)
        defer { ws.remove() }
        let prefix = "/ping/\(Self.secret)"

        let backup = try ws.run(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(listener.requests.map { "\($0.method) \($0.path)" } == ["POST \(prefix)/start", "POST \(prefix)"])
        #expect(listener.requests.first?.body == "chain-head: none\n", "nothing chained before the first backup")
        let afterBackup = try Self.verifiedHead(ws)
        #expect(afterBackup.status == 0)
        #expect(listener.requests.last?.body.hasSuffix("chain-head: \(afterBackup.head)\n") == true)
        #expect(listener.requests.last?.body.contains("complete") == true)

        let drill = try ws.run(["drill", "--latest"])
        #expect(drill.status == 0, "\(drill.stderr)")
        let paths = listener.requests.map(\.path)
        #expect(paths == [prefix + "/start", prefix, prefix + "/start", prefix])
        let afterDrill = try Self.verifiedHead(ws)
        #expect(afterDrill.status == 0)
        // The backup's event (1), the drill's (2) and the proof of what it proved (3, issue 17).
        #expect(afterDrill.head.hasPrefix("3 "))
        let body = try #require(listener.requests.last?.body)
        #expect(body.hasSuffix("chain-head: \(afterDrill.head)\n"))
        #expect(body.split(separator: "\n").count <= 21, "at most 20 log lines and the head")
        #expect(body.contains("pass"))
        // The drill's start ping carried the backup's head.
        #expect(listener.requests[2].body.hasSuffix("chain-head: \(afterBackup.head)\n"))
        for output in [backup.stdout, backup.stderr, drill.stdout, drill.stderr] {
            #expect(!output.contains(Self.secret))
        }
    }

    @Test func aFailingDrillPingsStartThenFail() throws {
        let listener = try LoopbackHTTPListener()
        defer { listener.stop() }
        let ws = try Self.workspace("ping-fail", ping: listener.base)
        defer { ws.remove() }
        #expect(try ws.run(["backup"]).status == 0)
        let backups = ws.base + "/backups"
        let set = try #require(
            try FileManager.default.contentsOfDirectory(atPath: backups).filter { BackupID($0) != nil }.sorted().last)
        try SetSurgery.flipByte("\(backups)/\(set)/code.tar.gz")
        let drill = try ws.run(["drill", "--latest"])
        #expect(drill.status == 1, "\(drill.stderr)")
        let prefix = "/ping/\(Self.secret)"
        #expect(listener.requests.map(\.path).suffix(2) == [prefix + "/start", prefix + "/fail"])
        let head = try Self.verifiedHead(ws)
        #expect(head.status == 0)
        #expect(listener.requests.last?.body.hasSuffix("chain-head: \(head.head)\n") == true)
        #expect(listener.requests.last?.body.contains("fail") == true)
    }

    @Test func aDeadListenerIsAWarningNeverTheJobsFailure() throws {
        let port = try LoopbackHTTPListener.closedPort()
        let ws = try Self.workspace("ping-dead", ping: "http://127.0.0.1:\(port)")
        defer { ws.remove() }
        let backup = try ws.run(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.stderr.contains("warning: ping start to http://127.0.0.1:\(port) failed"))
        #expect(backup.stderr.contains("warning: ping success to http://127.0.0.1:\(port) failed"))
        #expect(!backup.stderr.contains(Self.secret) && !backup.stdout.contains(Self.secret))
        let drill = try ws.run(["drill", "--latest"])
        #expect(drill.status == 0, "\(drill.stderr)")
        #expect(drill.stderr.contains("warning: ping success to http://127.0.0.1:\(port) failed"))
    }

    @Test func historyVerifyAndNoteThroughTheTool() throws {
        let ws = try SmallWorkspace.make("chain-cli")
        defer { ws.remove() }
        try ws.write("a.txt", "a\n")
        for _ in 0..<3 { #expect(try ws.run(["backup"]).status == 0) }
        let listed = try ws.run(["history", "--json"])
        #expect(listed.status == 0)
        let events = try #require(
            (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["events"]
                as? [[String: Any]])
        #expect(events.compactMap { $0["seq"] as? Int } == [1, 2, 3])
        let second = try #require(events[1]["id"] as? String)

        let unknown = try ws.run(["history", "note", "no-such-event", "text"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no-such-event"))
        let noted = try ws.run(["history", "note", second, "re-ran it\u{1B}[31m"])
        #expect(noted.status == 0, "\(noted.stderr)")
        let shown = try ws.run(["history"])
        #expect(shown.stdout.contains("note  ok  about \(second)  \"re-ran it\u{241B}[31m\""))
        let intact = try ws.run(["history", "verify"])
        #expect(intact.status == 0, "\(intact.stdout)")
        #expect(intact.stdout.contains("history chain intact: 4 chained events"))
        #expect(intact.stdout.contains("chain head: seq 4 sha256 "))

        // Remove the second event: exit 1, the gap named.
        try FileManager.default.removeItem(atPath: ws.base + "/backups/.restore-drill/events/\(second).json")
        let broken = try Self.verifiedHead(ws)
        #expect(broken.status == 1)
        let first = try #require((broken.json["breaks"] as? [[String: Any]])?.first)
        #expect(first["kind"] as? String == "removed")
        #expect(first["seq"] as? Int == 2)
        #expect(broken.json["intact"] as? Bool == false)
    }
}
