import Foundation
import Testing

@testable import Jobs

/// The runbook's quoting: a value from a set leaves its single quotes never, and one a person
/// could not read on screen (a newline, a bidi override, a zero-width character) is no command at
/// all, only a comment that shows it escaped.
@Suite struct ShellQuoteTests {
    @Test func quotesAreEscapedAndRunOnlyAsText() throws {
        let quoted = try #require(ShellQuote.quote("it's $(touch x) `y`"))
        #expect(quoted == #"'it'\''s $(touch x) `y`'"#)
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/bin/sh")
        sh.arguments = ["-c", "printf '%s' \(quoted)"]
        let pipe = Pipe()
        sh.standardOutput = pipe
        try sh.run()
        sh.waitUntilExit()
        #expect(
            String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "it's $(touch x) `y`")
    }

    @Test(arguments: [
        "a\nb", "com.maia.\u{202E}gnp.tsil\u{202C}", "zero\u{200B}width", "bom\u{FEFF}", "soft\u{00AD}hyphen",
    ])
    func anUnreadableValueIsACommentNeverACommand(_ value: String) {
        #expect(ShellQuote.quote(value) == nil)
        let shown = ShellQuote.visible(value)
        #expect(!shown.unicodeScalars.contains { ShellQuote.isControl($0) }, "\(shown)")
        #expect(shown.contains("\\x") || shown.contains("\\u{"), "\(shown)")
    }
}
