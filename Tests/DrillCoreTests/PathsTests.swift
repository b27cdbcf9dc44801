import DrillCore
import Foundation
import Testing

@Suite struct PathsTests {
    @Test func absolutePathsAreNormalisedLexically() throws {
        #expect(try AbsolutePath(validating: "/a//b/./c/../d/").pathString == "/a/b/d")
        #expect(try AbsolutePath(validating: "/../..").pathString == "/")
        #expect(try AbsolutePath(validating: "/").isRoot)
        #expect(throws: PathError.notAbsolute("a/b")) { try AbsolutePath(validating: "a/b") }
        #expect(throws: PathError.empty) { try AbsolutePath(validating: "") }
        #expect(throws: PathError.nulByte("/a\u{0}b")) { try AbsolutePath(validating: "/a\u{0}b") }
    }

    @Test func linksAreNeverResolved() throws {
        // /tmp/link -> /tmp/real: the path keeps the name that was written (standardizingPath does not).
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("paths-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: folder + "/real")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = try AbsolutePath(validating: folder + "/link/./x")
        #expect(path.pathString == folder + "/link/x")
    }

    @Test func resolvingSymlinksIsExplicitAndKeepsMissingTails() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("paths-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder + "/real/sub", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: folder + "/real")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let real = try AbsolutePath(validating: folder).resolvingSymlinks()
        #expect(
            try AbsolutePath(validating: folder + "/link/sub").resolvingSymlinks()
                == real.appending(components: "real", "sub"))
        // A tail that does not exist yet stays as written below the resolved ancestor.
        #expect(
            try AbsolutePath(validating: folder + "/link/new/x").resolvingSymlinks()
                == real.appending(components: "real", "new", "x"))
        #expect(AbsolutePath.root.resolvingSymlinks() == .root)
        #expect(try AbsolutePath(validating: folder + "/link").realPath() == real.appending(component: "real"))
        #expect(try AbsolutePath(validating: folder + "/link/new").realPath() == nil)
    }

    @Test func oneContainmentRuleByComponent() throws {
        let a = try AbsolutePath(validating: "/Users/alice")
        #expect(try AbsolutePath(validating: "/Users/alice").isDescendantOrSelf(of: a))
        #expect(try AbsolutePath(validating: "/Users/alice/x").isDescendantOrSelf(of: a))
        #expect(try !AbsolutePath(validating: "/Users/alice2").isDescendantOrSelf(of: a))
        #expect(try !AbsolutePath(validating: "/Users").isDescendantOrSelf(of: a))
        #expect(try AbsolutePath(validating: "/x").isDescendantOrSelf(of: .root))
        #expect(!a.isDescendant(of: a))
        #expect(try AbsolutePath(validating: "/Users/alice/a/b").relative(to: a)?.pathString == "a/b")
        #expect(a.relative(to: a) == .dot)
        #expect(try AbsolutePath(validating: "/Users/alice2/a").relative(to: a) == nil)
        #expect(try AbsolutePath(validating: "/x/y").relative(to: .root)?.pathString == "x/y")
    }

    @Test func resolvingAgainstABase() throws {
        let base = try AbsolutePath(validating: "/work/main")
        #expect(try AbsolutePath("sets/full_1", relativeTo: base).pathString == "/work/main/sets/full_1")
        #expect(try AbsolutePath("../shared", relativeTo: base).pathString == "/work/shared")
        #expect(try AbsolutePath("/abs/./p", relativeTo: base).pathString == "/abs/p")
        #expect(throws: PathError.empty) { try AbsolutePath("", relativeTo: base) }
    }

    @Test func partsAndAppending() throws {
        let p = try AbsolutePath(validating: "/a/b/c")
        #expect(p.basename == "c")
        #expect(p.components == ["a", "b", "c"])
        #expect(p.parentDirectory.pathString == "/a/b")
        #expect(try AbsolutePath(validating: "/a").parentDirectory == .root)
        #expect(AbsolutePath.root.parentDirectory == .root)
        #expect(AbsolutePath.root.basename == "/")
        #expect(p.appending(component: "d").pathString == "/a/b/c/d")
        #expect(AbsolutePath.root.appending(components: "x", "y").pathString == "/x/y")
        #expect(try p.appending(RelativePath(validating: "d/./e")).pathString == "/a/b/c/d/e")
        #expect(p.appending(.dot) == p)
    }

    @Test func relativePathsThatMustStayBeneath() throws {
        #expect(try RelativePath(validatingBeneath: "a/./b//c/").pathString == "a/b/c")
        #expect(try RelativePath(validatingBeneath: "a/../b").pathString == "b")
        #expect(try RelativePath(validatingBeneath: "a/..").pathString == ".")
        #expect(throws: PathError.escapes("../x")) { try RelativePath(validatingBeneath: "../x") }
        #expect(throws: PathError.escapes("a/../../x")) { try RelativePath(validatingBeneath: "a/../../x") }
        #expect(throws: PathError.notRelative("/etc/passwd")) { try RelativePath(validatingBeneath: "/etc/passwd") }
        // Plain validation keeps a leading climb visible instead of refusing it.
        let up = try RelativePath(validating: "../x")
        #expect(up.climbsAbove && up.pathString == "../x")
        #expect(try RelativePath(validating: "a/b/c").ancestors.map(\.pathString) == ["a", "a/b"])
        #expect(try RelativePath(validating: "a").appending(RelativePath(validating: "b")).pathString == "a/b")
        #expect(RelativePath.dot.components.isEmpty)
        #expect(RelativePath.dot.appending(component: "a").appending(component: "b").pathString == "a/b")
    }

    @Test func codableAsPlainStrings() throws {
        let value = ["p": try AbsolutePath(validating: "/a/b")]
        let json = try JSONEncoder().encode(value)
        #expect(String(decoding: json, as: UTF8.self) == #"{"p":"\/a\/b"}"#)
        #expect(try JSONDecoder().decode([String: AbsolutePath].self, from: json) == value)
        #expect(throws: PathError.self) {
            try JSONDecoder().decode([String: AbsolutePath].self, from: Data(#"{"p":"rel"}"#.utf8))
        }
    }
}
