// The build-time tool of the EmbedShellTemplates plugin: turns one shell template into a Swift
// source holding its text as a string literal, so the text is compiled into the binary (a binary
// copied alone to another folder still has it; there is no run-time resource bundle).
//
// Usage: EmbedShellText INPUT.sh OUTPUT.swift TYPE-NAME
// Writes `enum TYPE-NAME { static let text: String = """…""" }`: a multi-line literal in which
// `\` and `"` are escaped and every control character but newline and tab is a `\u{…}` escape, so
// the string's UTF-8 is the file's bytes exactly. Exits 1 with a message on stderr when the input
// cannot be read, is not UTF-8 or holds a carriage return, or the type name is not an identifier.
import Foundation

/// Prints `message` to stderr and exits 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("EmbedShellText: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 4 else { fail("usage: EmbedShellText INPUT.sh OUTPUT.swift TYPE-NAME") }
let (input, output, typeName) = (arguments[1], arguments[2], arguments[3])
guard let first = typeName.unicodeScalars.first, first.properties.isXIDStart,
    typeName.unicodeScalars.allSatisfy({ $0.properties.isXIDContinue })
else { fail("\(typeName): not a Swift identifier") }
guard let data = FileManager.default.contents(atPath: input) else { fail("\(input): cannot be read") }
guard let text = String(data: data, encoding: .utf8), Data(text.utf8) == data else {
    fail("\(input): not UTF-8")
}
// A carriage return would survive as an escape, but a template with one is a mistake (CRLF
// endings break sh), so it is refused here, at build time.
guard !text.unicodeScalars.contains("\r") else { fail("\(input): holds a carriage return (CRLF line endings?)") }

var literal = ""
for scalar in text.unicodeScalars {
    switch scalar {
    case "\\": literal += "\\\\"
    case "\"": literal += "\\\""
    case "\n", "\t": literal.unicodeScalars.append(scalar)
    case _ where scalar.value < 0x20 || scalar.value == 0x7f:
        literal += "\\u{\(String(scalar.value, radix: 16))}"
    default: literal.unicodeScalars.append(scalar)
    }
}
let name = (input as NSString).lastPathComponent
// The newline before the closing delimiter is not part of a multi-line literal, so one is added:
// the text keeps its own last newline (or lack of one).
let source = """
    // Generated at build time by EmbedShellText from \(name); do not edit (edit \(name) instead).

    /// The text of `\(name)`, byte for byte (UTF-8).
    enum \(typeName) {
        static let text: String = \"\"\"
    \(literal)
    \"\"\"
    }

    """
do {
    try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
} catch {
    fail("\(output): cannot be written: \(error)")
}
