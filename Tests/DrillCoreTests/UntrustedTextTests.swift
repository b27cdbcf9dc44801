import Foundation
import TestSupport
import Testing

@testable import DrillCore

/// Text a set or a replay controls: lines split by scalars (CRLF is one `Character`), invisible
/// and control characters recognised, and the tools record read and cleaned as hostile.
@Suite struct UntrustedTextTests {
    @Test func linesEndAtLFCROrCRLF() {
        #expect(TextLines.split("a\r\nb\r\nc\r\n") == ["a", "b", "c"])
        #expect(TextLines.split("a\rb\nc") == ["a", "b", "c"])
        #expect(TextLines.split("a\r\n\r\nb") == ["a", "b"])
        #expect(TextLines.split("a\r\n\r\nb", omittingEmpty: false) == ["a", "", "b"])
        #expect(TextLines.split("a\n", omittingEmpty: false) == ["a", ""])
        #expect(TextLines.split("a\r\r\nb", omittingEmpty: false) == ["a", "", "b"])
        #expect(TextLines.split("") == [])
        #expect(TextLines.split("", omittingEmpty: false) == [""])
        // A combining mark after a line end starts the next line (no Character swallows the end).
        #expect(TextLines.split("e\n\u{301}x") == ["e", "\u{301}x"])
        // What Character splitting did: one line.
        #expect("a\r\nb".split(separator: "\n").count == 1)
    }

    @Test func itemsEndAtLineFeedsOnlyAndKeepTheirCR() {
        #expect(TextLines.splitAtLineFeeds("name\r\nnext") == ["name\r", "next"])
        #expect(TextLines.splitAtLineFeeds("a\n\nb", omittingEmpty: false) == ["a", "", "b"])
        #expect(TextLines.splitAtLineFeeds("a\n\nb") == ["a", "b"])
        // A finding's list whose first item (a hostile file name) ends in CR.
        let items = Finding.listValue(["evil\r", "next"])
        let finding = Finding(Finding.Code("tree.missing"), data: ["paths": items], message: "")
        #expect(finding.list("paths") == ["evil\r", "next"])
    }

    @Test func invisibleAndControlCharactersAreRecognised() {
        let ranges: [ClosedRange<UInt32>] = [
            0x00...0x1F, 0x7F...0x9F, 0x200B...0x200F, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069,
            0xFEFF...0xFEFF, 0x061C...0x061C, 0x2028...0x2029, 0xE0001...0xE0001,
        ]
        for range in ranges {
            for value in range {
                let scalar = Unicode.Scalar(value)!
                #expect(TextSafety.isInvisibleOrControl(scalar), "U+\(String(value, radix: 16))")
            }
        }
        for text in ["a", "Z", "0", " ", "\u{A0}", "é", "日", "🙂", "\u{301}", "-", ";", "=", "(", "\u{FFFD}"] {
            for scalar in text.unicodeScalars {
                #expect(!TextSafety.isInvisibleOrControl(scalar), "\(text.debugDescription)")
            }
        }
    }

    @Test func aToolsRecordIsCleanedAsHostileText() throws {
        // CRLF line ends: each line its own key (they were one joined value).
        let crlf = try #require(ToolsRecord.parse(Data("sh=dash\r\ntar=tar (GNU tar) 1.34\r\nos=Linux\r\n".utf8)))
        #expect(crlf == ["sh": "dash", "tar": "tar (GNU tar) 1.34", "os": "Linux"])
        #expect(ToolsRecord.parse(Data("sh=dash\rtar=bsdtar 3.6.2\r".utf8)) == ["sh": "dash", "tar": "bsdtar 3.6.2"])
        // Bidi overrides, zero-width characters and a BOM are dropped; only the first `=` splits.
        let hidden = try #require(
            ToolsRecord.parse(Data("sh=da\u{202E}hs\u{200B}\u{FEFF}\u{2066}x\u{2069}\u{061C}\ngzip=a=b\n".utf8)))
        #expect(hidden == ["sh": "dahsx", "gzip": "a=b"])
        // `;` cannot end a pair of the compact form and start a forged one.
        let forged = try #require(ToolsRecord.parse(Data("tar=x; os=Evil; arch=pdp11\nos=Linux\n".utf8)))
        #expect(forged["tar"] == "x, os=Evil, arch=pdp11")
        #expect(forged["os"] == "Linux")
        let compact = ToolsRecord.compact(forged)
        #expect(compact == "tar=x, os=Evil, arch=pdp11; os=Linux")
        #expect(compact.components(separatedBy: "; ").count == forged.count)
        // Nothing but invisible text: no value, no record.
        #expect(ToolsRecord.parse(Data("sh=\u{200B}\u{202E}\n".utf8)) == nil)
    }

    @Test func theHostMeasuresItsOwnOSAndArchitecture() throws {
        let os = try runTool("/bin/uname", ["-s"]).output
        let arch = try runTool("/bin/uname", ["-m"]).output
        let measured = try #require(ToolsRecord.measuringPlatform(["os": "Plan 9", "arch": "pdp11", "sh": "dash"]))
        #expect(measured["os"] == os.trimmingCharacters(in: .newlines))
        #expect(measured["arch"] == arch.trimmingCharacters(in: .newlines))
        #expect(measured["sh"] == "dash")
        #expect(ToolsRecord.measuringPlatform(nil) == nil)
    }

    /// A record beneath the sandbox is read only with no link on the way: not through a linked
    /// folder, not as a link, not from a FIFO (which must not block).
    @Test func aRecordIsReadOnlyWithNoLinkOnTheWay() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("rd-tools-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let sandbox = base + "/sandbox"
        let host = base + "/host"
        for folder in [sandbox + "/work", host] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try Data("sh=from-host\n".utf8).write(to: URL(fileURLWithPath: host + "/" + ToolsRecord.fileName))
        let folder = try AbsolutePath(validating: sandbox)
        let relative = try RelativePath(validatingBeneath: "work/" + ToolsRecord.fileName)

        try Data("sh=dash\n".utf8).write(to: URL(fileURLWithPath: sandbox + "/work/" + ToolsRecord.fileName))
        #expect(ToolsRecord.read(in: folder, at: relative) == ["sh": "dash"])

        // The last component a link to the host's record.
        try FileManager.default.removeItem(atPath: sandbox + "/work/" + ToolsRecord.fileName)
        try FileManager.default.createSymbolicLink(
            atPath: sandbox + "/work/" + ToolsRecord.fileName, withDestinationPath: host + "/" + ToolsRecord.fileName)
        #expect(ToolsRecord.read(in: folder, at: relative) == nil)

        // `work` itself a link to the host folder: O_NOFOLLOW on the last component alone read it.
        try FileManager.default.moveItem(atPath: sandbox + "/work", toPath: sandbox + "/work.moved")
        try FileManager.default.createSymbolicLink(atPath: sandbox + "/work", withDestinationPath: host)
        #expect(UntrustedFile.read(sandbox + "/work/" + ToolsRecord.fileName, limit: 100) != nil)
        #expect(ToolsRecord.read(in: folder, at: relative) == nil)

        // A FIFO in the record's place.
        try FileManager.default.removeItem(atPath: sandbox + "/work")
        try FileManager.default.createDirectory(atPath: sandbox + "/work", withIntermediateDirectories: false)
        #expect(mkfifo(sandbox + "/work/" + ToolsRecord.fileName, 0o600) == 0)
        #expect(ToolsRecord.read(in: folder, at: relative) == nil)
    }
}
