import DrillCore
import Foundation
import TestSupport
import Testing
import Vault

/// Issue 18, signed evidence: the Ed25519 key pair and signature of ``EvidenceKey``, checked against
/// the OpenSSL 3 command line (`openssl pkeyutl -rawin`), which an auditor uses without the tool.
@Suite struct EvidenceKeyTests {
    @Test func aSignatureVerifiesOnlyWithItsKeyAndItsMessage() throws {
        let pair = try EvidenceKey.generate()
        let text = String(decoding: pair.privatePEM, as: UTF8.self)
        #expect(text.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(String(decoding: pair.publicPEM, as: UTF8.self).hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        #expect(try EvidenceKey.publicKey(ofPrivate: pair.privatePEM) == pair.publicPEM)
        let message = Data("abc  index\n".utf8)
        let signature = try EvidenceKey.sign(message, privatePEM: pair.privatePEM)
        #expect(signature.count == 64)
        // Ed25519 is deterministic: the same message, the same signature.
        #expect(try EvidenceKey.sign(message, privatePEM: pair.privatePEM) == signature)
        #expect(try EvidenceKey.verify(message, signature: signature, publicPEM: pair.publicPEM))
        var changed = message
        changed[0] ^= 1
        #expect(try !EvidenceKey.verify(changed, signature: signature, publicPEM: pair.publicPEM))
        #expect(try !EvidenceKey.verify(message, signature: signature.dropLast(), publicPEM: pair.publicPEM))
        let other = try EvidenceKey.generate()
        #expect(try !EvidenceKey.verify(message, signature: signature, publicPEM: other.publicPEM))
        #expect(throws: RestoreDrillError.self) {
            try EvidenceKey.verify(message, signature: signature, publicPEM: Data("not a key".utf8))
        }
        #expect(throws: RestoreDrillError.self) { try EvidenceKey.sign(message, privatePEM: pair.publicPEM) }
    }

    @Test(.needsTool("openssl", package: "openssl")) func opensslVerifiesTheSignatureAndSignsTheSame() throws {
        let openssl = try requireTool("openssl")
        let temp = try TempFolder("rd-evidence-key")
        defer { temp.remove() }
        let pair = try EvidenceKey.generate()
        let message = Data((0..<1000).map { UInt8($0 % 251) })
        try pair.privatePEM.write(to: URL(fileURLWithPath: temp.path + "/k.key"))
        try pair.publicPEM.write(to: URL(fileURLWithPath: temp.path + "/k.pub"))
        try message.write(to: URL(fileURLWithPath: temp.path + "/index"))
        try EvidenceKey.sign(message, privatePEM: pair.privatePEM).write(
            to: URL(fileURLWithPath: temp.path + "/index.sig"))
        let ok = try runTool(
            openssl,
            ["pkeyutl", "-verify", "-pubin", "-inkey", "k.pub", "-rawin", "-in", "index", "-sigfile", "index.sig"],
            directory: temp.path)
        #expect(ok.status == 0 && ok.output.contains("Signature Verified Successfully"), "\(ok)")
        // OpenSSL's own signature with the same key is byte for byte ours (Ed25519 is deterministic).
        let signed = try runTool(
            openssl, ["pkeyutl", "-sign", "-inkey", "k.key", "-rawin", "-in", "index", "-out", "cli.sig"],
            directory: temp.path)
        #expect(signed.status == 0, "\(signed)")
        #expect(
            FileManager.default.contents(atPath: temp.path + "/cli.sig")
                == FileManager.default.contents(atPath: temp.path + "/index.sig"))
    }
}
