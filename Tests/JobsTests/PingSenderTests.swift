import Foundation
import Health
import TestSupport
import Testing

@testable import Jobs

/// The dead-man's-switch ping itself (``PingSender``), against a listener on 127.0.0.1.
@Suite struct PingSenderTests {
    @Test func targetsFollowTheHealthchecksConventionAndMessagesHideThePath() throws {
        let sender = PingSender(url: try #require(URL(string: "https://hc-ping.com:8443/5ecret-uuid")))
        #expect(sender.target(.start).absoluteString == "https://hc-ping.com:8443/5ecret-uuid/start")
        #expect(sender.target(.success).absoluteString == "https://hc-ping.com:8443/5ecret-uuid")
        #expect(sender.target(.fail).absoluteString == "https://hc-ping.com:8443/5ecret-uuid/fail")
        #expect(PingSender.shown(sender.url) == "https://hc-ping.com:8443")
    }

    @Test func theBodyKeepsTheLastTwentyLinesEscapedThenTheHead() {
        let lines = (1...25).map { "line \($0)" } + ["bell\u{07}"]
        let head = HistoryChainHead(seq: 7, eventID: "x", sha256: String(repeating: "ab", count: 32))
        let body = String(decoding: PingSender.body(lines: lines, head: head), as: UTF8.self)
        let out = body.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(out.count == 22)  // 20 lines, the head, the final empty piece after the last LF
        #expect(out[0] == "line 7")
        #expect(out[19] == "bell\u{2407}")
        #expect(out[20] == "chain-head: 7 \(String(repeating: "ab", count: 32))")
        #expect(String(decoding: PingSender.body(lines: [], head: nil), as: UTF8.self) == "chain-head: none\n")
    }

    @Test func aPingReachesTheLoopbackListenerAndADeadOneIsAWarning() async throws {
        let listener = try LoopbackHTTPListener()
        defer { listener.stop() }
        let sender = PingSender(url: try #require(URL(string: "\(listener.base)/abc")))
        let warning = await sender.send(.fail, lines: ["it broke"], head: nil)
        #expect(warning == nil)
        #expect(listener.requests == [.init(method: "POST", path: "/abc/fail", body: "it broke\nchain-head: none\n")])

        let port = try LoopbackHTTPListener.closedPort()
        var dead = PingSender(url: try #require(URL(string: "http://127.0.0.1:\(port)/abc")))
        dead.timeout = 3
        let failed = try #require(await dead.send(.start, lines: [], head: nil))
        #expect(failed.hasPrefix("ping start to http://127.0.0.1:\(port) failed"))
        #expect(!failed.contains("/abc"))
    }
}
