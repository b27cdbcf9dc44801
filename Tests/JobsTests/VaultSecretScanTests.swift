import DrillCore
import Foundation
import Jobs
import TestSupport
import Testing
import Vault

/// The forms a leaked secret could take in a file: plain, hex (both cases), base64 (and the
/// URL-safe alphabet), and the SHA-256 of it in hex.
func leakForms(of secret: Data) -> [(form: String, bytes: Data)] {
    let hex = Hex.encode(Array(secret))
    let base64 = secret.base64EncodedString()
    let urlSafe = base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    // base64 of the secret at each of the three alignments, without the edge characters that
    // depend on neighbouring bytes, so a secret embedded in a longer encoded text is found too.
    var forms: [(String, Data)] = [
        ("plain", secret), ("hex", Data(hex.utf8)), ("HEX", Data(hex.uppercased().utf8)),
        ("base64", Data(base64.trimmingCharacters(in: ["="]).utf8)), ("base64url", Data(urlSafe.utf8)),
        ("sha256", Data(SHA256Digest.hex(of: secret).utf8)),
    ]
    for shift in 1...2 {
        let shifted = (Data(repeating: 0, count: shift) + secret).base64EncodedString()
        let inner = String(shifted.dropFirst(4).dropLast(4))
        if inner.count >= 16 { forms.append(("base64+\(shift)", Data(inner.utf8))) }
    }
    return forms
}

@Suite struct VaultSecretScanTests {
    @Test func noSecretInAnyFormInTheDestinationReportsSandboxesOrTheCodeArchive() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        // A failed drill keeps its sandbox: an RTO objective nobody meets fails the `rto` check
        // after the credentials were restored, so they must be wiped from the kept sandbox.
        let credentialFiles = try w.credentialFiles()
        #expect(credentialFiles.count == 2)
        let backup = try await w.backup(iterations: Vault.defaultIterations)
        #expect(backup.manifest.component(.credentials)?.status == .ok)
        let passed = try await w.drill()
        #expect(passed.verdict == .pass)
        #expect(passed.results(.credentialsVault).first?.verdict == .pass)
        var strict = w.config
        strict.objectives.rto = 0.000_001
        let failed = try await w.drill(config: strict)
        #expect(failed.verdict == .fail)
        #expect(failed.results(.rto).first?.verdict == .fail)
        #expect(failed.results(.credentialsVault).first?.verdict == .pass)
        #expect(failed.sandboxKept)

        // The secrets: each credential file whole, each token inside it, and the password.
        var secrets: [(name: String, bytes: Data)] = [("password", Data(w.password.bytes))]
        for (path, content) in credentialFiles.sorted(by: { $0.key < $1.key }) {
            secrets.append(((path as NSString).lastPathComponent, content))
            let text = String(decoding: content, as: UTF8.self)
            let object = try JSONSerialization.jsonObject(with: content) as? [String: String]
            let token = try #require(object?["token"])
            #expect(text.contains(token))
            secrets.append(("token in \((path as NSString).lastPathComponent)", Data(token.utf8)))
        }

        // Where to look: the destination (sets, history), reports, sandboxes, the extracted code
        // archive, and any private password folder a drill may have left in the temporary folder.
        let extracted = w.base + "/extracted-code"
        try FileManager.default.createDirectory(atPath: extracted, withIntermediateDirectories: true)
        #expect(try runTool("/usr/bin/tar", ["-xzf", backup.setPath + "/code.tar.gz", "-C", extracted]).status == 0)
        #expect(FileManager.default.fileExists(atPath: extracted + "/README.md"))
        var files: [String] = []
        for folder in [w.config.destination, w.config.reports.folder, w.config.sandbox.folder, extracted] {
            let found = regularFiles(under: folder)
            #expect(!found.isEmpty, "nothing to search in \(folder)")
            files += found
        }
        let temporary = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []
        where name.hasPrefix("restore-drill-password.") {
            files += regularFiles(under: (temporary as NSString).appendingPathComponent(name))
        }
        #expect(files.contains { $0.hasSuffix("/junit.xml") })
        #expect(files.contains { $0.hasSuffix("/" + Vault.fileName) })
        #expect(files.contains { $0.contains("/.restore-drill/events/") })
        let keptSandbox = try #require(failed.sandboxPath)
        #expect(files.contains { $0.hasPrefix(keptSandbox) })

        var hits: [String] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for secret in secrets {
                for form in leakForms(of: secret.bytes) where data.range(of: form.bytes) != nil {
                    hits.append("\(secret.name) as \(form.form) in \(file)")
                }
            }
        }
        #expect(hits.isEmpty, "\(hits.joined(separator: "\n"))")
        // The search itself can find: the same forms are found in the workspace's own files.
        let workspaceHits = credentialFiles.keys.filter { path in
            let data = FileManager.default.contents(atPath: path) ?? Data()
            return secrets.contains { data.range(of: $0.bytes) != nil }
        }
        #expect(workspaceHits.count == 2)
    }
}
