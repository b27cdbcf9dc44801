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
