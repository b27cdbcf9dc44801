import Foundation
import Testing

@testable import DrillCore

/// Names are bytes (issue 12): ``FileNameBytes`` carries any name losslessly, and the path types
/// compare byte for byte, never by Unicode equivalence as `String ==` does.
@Suite struct FileNameBytesTests {
    /// `Résumé.txt` composed (NFC) and decomposed (NFD): equal as Swift strings, not as names.
    static let nfc = "R\u{e9}sum\u{e9}.txt"
    static let nfd = "Re\u{301}sume\u{301}.txt"

    /// Names of several kinds, as bytes: NFC, NFD (Latin, umlaut, Hangul jamo), Latin-1, a lone
    /// continuation byte, an overlong `/`, a truncated sequence, a surrogate's encoding, a real
    /// character of the marker range, and plain ASCII.
    static let samples: [[UInt8]] = [
        Array(nfc.utf8), Array(nfd.utf8), Array("u\u{308}ber".utf8), Array("\u{1112}\u{1161}\u{11AB}.txt".utf8),
        Array("caf".utf8) + [0xE9] + Array(".txt".utf8), [0x80], [0xC0, 0xAF], Array("x".utf8) + [0xE2, 0x82],
        [0xED, 0xA0, 0x80], Array("pua-\u{10FFE9}".utf8), Array("plain.txt".utf8), [0xFF, 0xFE, 0x41],
    ]

    @Test func everyNameRoundTripsThroughItsStringExactly() {
        for bytes in Self.samples {
            let name = FileNameBytes.string(bytes)
            #expect(FileNameBytes.bytes(name) == bytes, "\(bytes)")
            let viaC = FileNameBytes.withFileSystemRepresentation(name) { FileNameBytes.string(cString: $0) }
            #expect(FileNameBytes.bytes(viaC) == bytes)
        }
        // One to one: distinct bytes, distinct strings (and keys).
        let keys = Set(Self.samples.map { FileNameBytes.key(FileNameBytes.string($0)) })
        #expect(keys.count == Self.samples.count)
    }

    @Test func validUTF8IsItsOwnStringAndOnlyOtherNamesHoldRawBytes() {
        for text in [Self.nfc, Self.nfd, "\u{1112}\u{1161}\u{11AB}", "plain"] {
            let name = FileNameBytes.string(Array(text.utf8))
            #expect(Array(name.utf8) == Array(text.utf8))
            #expect(!FileNameBytes.holdsRawBytes(name))
            #expect(FileNameBytes.display(name) == text)
        }
        let latin1 = FileNameBytes.string(Array("caf".utf8) + [0xE9] + Array(".txt".utf8))
        #expect(FileNameBytes.holdsRawBytes(latin1))
        #expect(FileNameBytes.display(latin1) == "caf\\xe9.txt")
        #expect(FileNameBytes.display(FileNameBytes.string([0x80])) == "\\x80")
        #expect(FileNameBytes.display(FileNameBytes.string([0xC0, 0xAF])) == "\\xc0\\xaf")
        #expect(FileNameBytes.display(FileNameBytes.string([0xED, 0xA0, 0x80])) == "\\xed\\xa0\\x80")
        // A real character of the marker range is valid UTF-8: shown as itself, stored by bytes.
        let pua = FileNameBytes.string(Array("pua-\u{10FFE9}".utf8))
        #expect(FileNameBytes.holdsRawBytes(pua))
        #expect(FileNameBytes.display(pua) == "pua-\u{10FFE9}")
        #expect(FileNameBytes.escapedBytes(Self.nfd) == "Re\\xcc\\x81sume\\xcc\\x81.txt")
        #expect(FileNameBytes.escapedBytes(Self.nfc) == "R\\xc3\\xa9sum\\xc3\\xa9.txt")
    }

    @Test func swiftStringsEquateTheTwinsAndThePathTypesDoNot() throws {
        // The trap this guards against, stated: Swift says the two names are one.
        #expect(Self.nfc == Self.nfd)
        #expect(Set([Self.nfc, Self.nfd]).count == 1)
        #expect(!FileNameBytes.same(Self.nfc, Self.nfd))
        let a = try AbsolutePath(validating: "/w/" + Self.nfc)
        let b = try AbsolutePath(validating: "/w/" + Self.nfd)
        #expect(a != b)
        #expect(Set([a, b]).count == 2)
        #expect(Array(b.pathString.utf8) == Array(("/w/" + Self.nfd).utf8), "normalisation left the bytes alone")
        let r1 = try RelativePath(validatingBeneath: "docs/" + Self.nfc)
        let r2 = try RelativePath(validatingBeneath: "docs/" + Self.nfd)
        #expect(r1 != r2)
        #expect(Set([r1, r2]).count == 2)
        #expect(r2 < r1, "byte order: `e` (0x65) before `\\xc3`")
        // Containment is byte-exact: a path in the NFD folder is not in the NFC folder.
        let folderNFC = try AbsolutePath(validating: "/w/" + Self.nfc)
        let inNFD = try AbsolutePath(validating: "/w/" + Self.nfd + "/inner")
        #expect(!inNFD.isDescendant(of: folderNFC))
        #expect(inNFD.relative(to: folderNFC) == nil)
        #expect(inNFD.relative(to: b)?.pathString == "inner")
        #expect(inNFD.parentDirectory == b)
    }

    /// A component that starts with a combining mark glues to the `/` before it as a Swift
    /// `Character`: splitting must still happen at the byte.
    @Test func aComponentStartingWithACombiningMarkIsStillItsOwnComponent() throws {
        let name = "\u{301}x"
        let rel = try RelativePath(validatingBeneath: "a/\(name)/b")
        #expect(rel.components == ["a", name, "b"])
        #expect(rel.ancestors.map(\.pathString) == ["a", "a/\(name)"])
        let abs = try AbsolutePath(validating: "/\(name)/./c/../d")
        #expect(abs.components == [name, "d"])
        #expect(Array(abs.pathString.utf8) == Array("/\(name)/d".utf8))
        #expect(abs.parentDirectory.pathString == "/\(name)")
        // A name that is one combining mark: not `..`, not `.`, one component.
        #expect(throws: PathError.self) { try RelativePath(validatingBeneath: "\(name)/../../x") }
        #expect(RelativePath.dot.appending(component: name).components == [name])
    }

    @Test func pathsOfNamesThatAreNotUTF8KeepTheirBytes() throws {
        let latin1 = FileNameBytes.string(Array("d".utf8) + [0xC0, 0xAF])
        let file = FileNameBytes.string(Array("caf".utf8) + [0xE9])
        let path = try AbsolutePath(validating: "/w/\(latin1)/\(file)")
        #expect(
            path.components.map(FileNameBytes.bytes) == [
                Array("w".utf8), [0x64, 0xC0, 0xAF], [0x63, 0x61, 0x66, 0xE9],
            ])
        #expect(FileNameBytes.display(path.pathString) == "/w/d\\xc0\\xaf/caf\\xe9")
    }

    @Test func normalisationTwinsAreGroupedInOrderAndNothingElseIs() {
        let pairs = FileNameBytes.normalisationTwins(
            ["a/" + Self.nfd, "b", "a/" + Self.nfc, "c/\u{1112}\u{1161}\u{11AB}", "c/\u{D55C}", "a/" + Self.nfd])
        #expect(pairs.count == 2)
        #expect(
            pairs.first.map { $0.map { Array($0.utf8) } } == [
                Array(("a/" + Self.nfd).utf8), Array(("a/" + Self.nfc).utf8),
            ])
        #expect(pairs.last?.count == 2)
        #expect(FileNameBytes.normalisationTwins(["x", "y", Self.nfc]).isEmpty)
    }
}
