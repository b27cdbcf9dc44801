import DrillCore
import Foundation

/// Removes secrets from text before it is written anywhere (reports, history events, logs): the
/// vault password in its plain, hex (both cases), base64 and SHA-256 hex forms, and fragments of
/// the vault's plaintext (each credential file's content, each of its lines, and the value after
/// `=` or `:` on a line), each replaced by ``redaction``.
///
/// Defence in depth: a drill already hands a password only to a proven set, and no code puts a
/// secret into a message on purpose; this catches what a script printed or an error quoted.
/// Fragments shorter than ``minimumFragment`` bytes are not scrubbed (they would blank ordinary
/// words), except the password itself, which is scrubbed at any length.
public struct SecretScrubber: Sendable {
    /// What replaces a secret.
    public static let redaction = "[redacted]"
    /// Bytes a plaintext fragment must have to be scrubbed: 8.
    public static let minimumFragment = 8

    /// The strings to remove, longest first (so a line is removed before a part of it).
    public let secrets: [String]

    /// - Parameters:
    ///   - password: the vault password.
    ///   - plaintexts: the vault's decrypted files (each a byte array), or none.
    public init(password: VaultPassword?, plaintexts: [[UInt8]] = []) {
        var found = Set<String>()
        if let password {
            let bytes = password.bytes
            if let text = String(bytes: bytes, encoding: .utf8) { found.insert(text) }
            let hex = Hex.encode(bytes)
            found.insert(hex)
            found.insert(hex.uppercased())
            found.insert(Data(bytes).base64EncodedString())
            found.insert(SHA256Digest.hex(of: Data(bytes)))
        }
        for plaintext in plaintexts {
            guard let text = String(bytes: plaintext, encoding: .utf8) else { continue }
            var fragments = [text.trimmingCharacters(in: .whitespacesAndNewlines)]
            for line in text.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                fragments.append(trimmed)
                if let separator = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) {
                    fragments.append(
                        trimmed[trimmed.index(after: separator)...].trimmingCharacters(
                            in: CharacterSet.whitespaces.union(CharacterSet(charactersIn: "\"',{}"))))
                }
            }
            for fragment in fragments where fragment.utf8.count >= Self.minimumFragment { found.insert(fragment) }
        }
        secrets = found.filter { !$0.isEmpty }.sorted { ($0.utf8.count, $0) > ($1.utf8.count, $1) }
    }

    /// True when there is nothing to scrub.
    public var isEmpty: Bool { secrets.isEmpty }

    /// `text` with every secret replaced by ``redaction``.
    public func scrub(_ text: String) -> String {
        guard !secrets.isEmpty else { return text }
        var out = text
        for secret in secrets where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: Self.redaction)
        }
        return out
    }

    /// `result` with its message, every evidence line and every finding's message and data scrubbed.
    public func scrub(_ result: CheckResult) -> CheckResult {
        guard !secrets.isEmpty else { return result }
        var out = result
        out.message = scrub(result.message)
        out.evidence = result.evidence.map(scrub)
        out.subject = scrub(result.subject)
        out.findings = result.findings.map { finding in
            var f = finding
            f.message = scrub(finding.message)
            f.data = finding.data.mapValues(scrub)
            return f
        }
        return out
    }

    /// True when `text` holds any secret.
    public func finds(in text: String) -> Bool {
        secrets.contains { text.contains($0) }
    }
}
