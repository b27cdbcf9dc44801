import DrillCore
import Foundation
import Testing
import Vault

/// ``SecretScrubber`` scrubs a check's typed findings too: their data and their messages.
@Suite struct SecretScrubberFindingTests {
    @Test func scrubberScrubsFindingsToo() throws {
        let scrubber = SecretScrubber(password: try VaultPassword("hunter2-secret", origin: "test"))
        let finding = Finding(
            Finding.Code("test.secret"), data: ["error": "saw hunter2-secret"], message: "saw hunter2-secret")
        let scrubbed = scrubber.scrub(CheckResult(check: .credentialsVault, subject: "v", findings: [finding]))
        #expect(!scrubbed.message.contains("hunter2-secret"))
        #expect(!(scrubbed.findings[0].data["error"] ?? "").contains("hunter2-secret"))
        #expect(!scrubbed.findings[0].message.contains("hunter2-secret"))
    }
}

/// ``SecretScrubber/scrub(_:)`` compares bytes: every occurrence goes, in either Unicode
/// normalisation form, and text around it is kept exactly.
@Suite struct SecretScrubberBytesTests {
    @Test func everyOccurrenceInEitherNormalisationFormIsRedacted() throws {
        let composed = "caf\u{E9}-passw\u{F6}rd"  // NFC
        let decomposed = composed.decomposedStringWithCanonicalMapping
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
        let scrubber = SecretScrubber(password: try VaultPassword(bytes: Array(composed.utf8), origin: "test"))
        let text = "a \(composed) b \(decomposed) c \(composed)\(composed)"
        let r = SecretScrubber.redaction
        #expect(scrubber.scrub(text) == "a \(r) b \(r) c \(r)\(r)")
        #expect(scrubber.finds(in: "x\(decomposed)y"))
        #expect(!scrubber.finds(in: "caf\u{E9} only"))
        // Nothing to redact: the very same text back, bytes and all (an NFD name stays NFD).
        let other = "na\u{308}me"
        #expect(Array(scrubber.scrub(other).utf8) == Array(other.utf8))
        // Composed and decomposed characters mixed, and combining marks in another order: found
        // through the canonical decomposition of the line.
        let mixed = "caf\u{E9}-passwo\u{308}rd"
        #expect(scrubber.scrub("[\(mixed)]") == "[\(r)]")
        let marks = try VaultPassword("xa\u{323}\u{307}y-secret", origin: "test")
        #expect(SecretScrubber(password: marks).scrub("<xa\u{307}\u{323}y-secret>") == "<\(r)>")
        // The password's hex form, at the start and the end of a line.
        let hex = Hex.encode(Array(composed.utf8))
        #expect(scrubber.scrub("\(hex) mid \(hex)") == "\(r) mid \(r)")
    }
}
