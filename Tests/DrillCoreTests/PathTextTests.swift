import Foundation
import Testing

@testable import DrillCore

/// `PathText` answers as `NSString` does, and answers where swift-corelibs-foundation traps
/// (SIGILL: a one-character name without a slash, `x/`, or `//` before a one-character non-ASCII
/// last component).
@Suite struct PathTextTests {
    /// Inputs `NSString` answers without trapping on Linux (Swift 6.3.1, measured one per process):
    /// the crashing ones are left out here and have fixed answers below.
    static func nsStringSurvives(_ path: String) -> Bool {
        var fixed = path
        while fixed.contains("//") { fixed = fixed.replacingOccurrences(of: "//", with: "/") }
        if fixed.count > 1 && fixed.hasSuffix("/") { fixed.removeLast() }
        let oneCharacter = fixed.unicodeScalars.count == 1 && fixed != "/"
        let slashesBeforeNonASCII = path.contains("//") && !path.utf8.allSatisfy { $0 < 0x80 }
        return !oneCharacter && !slashesBeforeNonASCII
    }

    /// Every string of up to 5 of `a`, `b`, `/`, `.`, `é` (3906), and some odd ones.
    static let corpus: [String] = {
        let alphabet = ["a", "b", "/", ".", "é"]
        var all = [""]
        var level = [""]
        for _ in 1...5 {
            level = level.flatMap { prefix in alphabet.map { prefix + $0 } }
            all += level
        }
        return all + [
            "日本/語.txt", "e\u{301}/x", "\u{301}x/y", "x/e\u{301}", "/tmp/x", "a/b/c.d.e", "../a/b", "a/./b",
            "a/..", "/..", ".hidden", "a/.hidden", "a.b/c", "dir.d/", "//a//b//", "x.tar.gz", "a/b.c/", "日本",
            "😀", "a/😀", "a\nb/c", "--config", "a /b", "/x/y.z/",
        ]
    }()

    @Test func answersAsNSStringWhereNSStringSurvives() {
        var compared = 0
        // `//`, `///`…: Linux's NSString answers `""` (its slash folding leaves nothing), macOS's
        // `/`, and `/` is right (the root, not the current folder): fixed answers below.
        let slashesOnly = { (path: String) in path.count > 1 && path.allSatisfy { $0 == "/" } }
        for path in Self.corpus where Self.nsStringSurvives(path) && !slashesOnly(path) {
            let ns = path as NSString
            #expect(PathText.parent(of: path) == ns.deletingLastPathComponent, "parent of \(path.debugDescription)")
            #expect(PathText.lastComponent(of: path) == ns.lastPathComponent, "last of \(path.debugDescription)")
            #expect(
                PathText.deletingExtension(of: path) == ns.deletingPathExtension,
                "without extension: \(path.debugDescription)")
            compared += 1
        }
        #expect(compared == 3665)
    }

    /// The inputs that trap in `NSString` on Linux, with the answers `NSString` gives on macOS and
    /// for their non-crashing neighbours.
    @Test func answersWhereNSStringTraps() {
        let parents: [(String, String)] = [
            ("x", ""), (".", ""), ("-", ""), ("~", ""), ("é", ""), (" ", ""), ("x/", ""), ("./", ""), ("x//", ""),
            ("é/", ""), ("a//é", "a"), ("//ü", "/"), ("a/b//日", "a/b"), ("aaaa//ü", "aaaa"), ("/x", "/"),
            ("/", "/"), ("", ""), ("ab", ""), ("a/b", "a"), ("a//b", "a"), ("ab/", ""), ("//", "/"), ("/////", "/"),
        ]
        for (path, parent) in parents {
            #expect(PathText.parent(of: path) == parent, "parent of \(path.debugDescription)")
        }
        let lasts: [(String, String)] = [
            ("a//é", "é"), ("//ü", "ü"), ("a/b//日", "日"), ("x", "x"), ("x/", "x"), ("/", "/"), ("//", "/"),
            ("///", "/"), ("", ""),
        ]
        for (path, last) in lasts {
            #expect(PathText.lastComponent(of: path) == last, "last of \(path.debugDescription)")
        }
        let stems: [(String, String)] = [
            ("a//é", "a/é"), ("a//é.txt", "a/é"), ("//ü", "/ü"), (".x", ".x"), ("..", ".."), ("a.", "a"), ("/", "/"),
            ("x.tar.gz", "x.tar"), ("d.x/f", "d.x/f"), ("//", "/"),
        ]
        for (path, stem) in stems {
            #expect(PathText.deletingExtension(of: path) == stem, "without extension: \(path.debugDescription)")
        }
    }

    /// The class as it was seen: ``AtomicFile`` beside a one-character relative name, and a
    /// configuration parsed from a file named by one character.
    @Test func aOneCharacterFileNameIsAFileInTheCurrentFolder() throws {
        let config = try RestoreDrillConfig.parse(
            "home: /h\nroot: /h/r\ndestination: /d\nsandbox:\n  folder: s\n", file: "c")
        #expect(config.sandbox.folder == "s")
        #expect(config.destination == "/d")
    }
}
