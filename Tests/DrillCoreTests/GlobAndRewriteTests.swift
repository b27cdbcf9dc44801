import Testing

@testable import DrillCore

@Suite struct GlobTests {
    @Test(arguments: [
        ("claude/data/**/*.db", "claude/data/x.db", true),
        ("claude/data/**/*.db", "claude/data/a/b/x.db", true),
        ("claude/data/**/*.db", "claude/x.db", false),
        ("claude/data/**/*.db", "claude/data/x.db-wal", false),
        ("**/*.db", "x.db", true),
        ("**/*.db", "deep/er/x.db", true),
        ("*.db", "a/x.db", false),
        ("store_?.db", "store_1.db", true),
        ("store_?.db", "store_12.db", false),
        ("store_[0-4].db", "store_3.db", true),
        ("store_[!0-4].db", "store_3.db", false),
        ("com.maia.*.plist", "com.maia.health.plist", true),
        ("com.maia.*.plist", "com.other.health.plist", false),
        ("a/**", "a/b/c", true),
        ("**", "anything/at/all", true),
    ])
    func matches(_ pattern: String, _ path: String, _ expected: Bool) {
        #expect(GlobPattern(pattern).matches(path) == expected)
    }

    @Test func literalPrefixStopsAtFirstWildcard() {
        #expect(GlobPattern("claude/data/**/*.db").literalPrefix == "claude/data")
        #expect(GlobPattern("*.db").literalPrefix == "")
    }
}

@Suite struct PathRewriteTests {
    let pairs: [(old: String, new: String)] = [
        ("/Users/alice", "/new/home"), ("/Users/alice/git/maia", "/new/home/git/maia"),
    ]

    @Test func rewritesAtBoundariesOnly() {
        #expect(PathRewrite.apply("/Users/alice", pairs) == "/new/home")
        #expect(PathRewrite.apply("/Users/alice/x", pairs) == "/new/home/x")
        #expect(PathRewrite.apply("/Users/alice2/x", pairs) == "/Users/alice2/x")
        #expect(PathRewrite.apply("/opt/Users/alice/x", pairs) == "/opt/Users/alice/x")
        #expect(PathRewrite.apply("--root=/Users/alice/git/maia", pairs) == "--root=/new/home/git/maia")
        #expect(PathRewrite.apply("python3 /Users/alice/run.py", pairs) == "python3 /new/home/run.py")
    }

    @Test func longestPrefixWinsAndListsRewriteEveryEntry() {
        #expect(PathRewrite.apply("/Users/alice/git/maia/tool", pairs) == "/new/home/git/maia/tool")
        #expect(
            PathRewrite.apply("/Users/alice/bin:/Users/alice:/Users/alice2:/usr/bin", pairs)
                == "/new/home/bin:/new/home:/Users/alice2:/usr/bin")
    }

    @Test func newPathContainingOldIsNotRewrittenTwice() {
        let nested: [(old: String, new: String)] = [("/root", "/root/sandboxes/d/home")]
        #expect(PathRewrite.apply("/root/x", nested) == "/root/sandboxes/d/home/x")
    }

    @Test func findsTracesInPlists() {
        let plist: [String: Any] = [
            "ProgramArguments": ["/bin/sh", "/Users/alice/x.sh"], "Env": ["P": "/a:/Users/alice"],
        ]
        let rewritten = PathRewrite.applyToPlist(plist, pairs)
        let strings = PathRewrite.strings(in: rewritten)
        #expect(strings.contains("/new/home/x.sh"))
        #expect(strings.contains("/a:/new/home"))
        #expect(!strings.contains { PathRewrite.containsPrefix($0, "/Users/alice") })
        #expect(PathRewrite.containsPrefix("/a:/Users/alice", "/Users/alice"))
        #expect(!PathRewrite.containsPrefix("/Users/alice2", "/Users/alice"))
    }
}
