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
        // Each secret also in its other Unicode normalisation form (NFC and NFD): the search below
        // compares bytes, and a script may print a composed name decomposed, or the reverse.
        // Kept as bytes: `String` equality (and so a `Set<String>`) takes the two forms for one.
        var forms = Set<[UInt8]>()
        for secret in found where !secret.isEmpty {
            forms.insert(Array(secret.utf8))
            forms.insert(Array(secret.precomposedStringWithCanonicalMapping.utf8))
            forms.insert(Array(secret.decomposedStringWithCanonicalMapping.utf8))
        }
        secretBytes = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0.lexicographicallyPrecedes($1) }
        secrets = secretBytes.map { String(decoding: $0, as: UTF8.self) }
        decomposedSecrets = secretBytes.filter { $0.contains { $0 >= 0x80 } }.map {
            Array(String(decoding: $0, as: UTF8.self).decomposedStringWithCanonicalMapping.utf8)
        }
    }

    /// ``secrets`` as UTF-8 bytes, in the same order.
    private let secretBytes: [[UInt8]]
    /// The NFD forms of the secrets that hold bytes beyond ASCII, longest first.
    private let decomposedSecrets: [[UInt8]]

    /// True when there is nothing to scrub.
    public var isEmpty: Bool { secrets.isEmpty }

    /// `text` with every secret replaced by ``redaction``.
    public func scrub(_ text: String) -> String {
        guard !secrets.isEmpty, !text.isEmpty else { return text }
        // Compared byte for byte (a report holds thousands of lines: Foundation's locale-aware
        // search per line and secret cost a tenth of a second per drill); both normalisation
        // forms of every secret are among the secrets.
        var bytes = Array(text.utf8)
        var changed = false
        for secret in secretBytes where Self.replace(secret, in: &bytes) { changed = true }
        // Text beyond ASCII may hold a secret in a form of its own (composed and decomposed
        // characters mixed, combining marks in another order): its canonical decomposition (NFD,
        // which also orders the marks) is searched for every secret's NFD form as well; such a
        // line is then shown decomposed.
        if bytes.contains(where: { $0 >= 0x80 }) {
            var decomposed = Array(String(decoding: bytes, as: UTF8.self).decomposedStringWithCanonicalMapping.utf8)
            var found = false
            for secret in decomposedSecrets where Self.replace(secret, in: &decomposed) { found = true }
            if found { return String(decoding: decomposed, as: UTF8.self) }
        }
        return changed ? String(decoding: bytes, as: UTF8.self) : text
    }

    private static let redactionBytes = Array(redaction.utf8)

    /// Replaces every occurrence of `needle` in `bytes` by ``redaction``; true when there was one.
    private static func replace(_ needle: [UInt8], in bytes: inout [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= bytes.count else { return false }
        var out: [UInt8] = []
        var i = 0
        var found = false
        let last = bytes.count - needle.count
        while i <= last {
            if bytes[i] == first && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                if !found {
                    found = true
                    out.reserveCapacity(bytes.count)
                    out.append(contentsOf: bytes[0..<i])
                }
                out.append(contentsOf: redactionBytes)
                i += needle.count
                continue
            }
            if found { out.append(bytes[i]) }
            i += 1
        }
        guard found else { return false }
        out.append(contentsOf: bytes[i...])
        bytes = out
        return true
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
        !Array(scrub(text).utf8).elementsEqual(text.utf8)
    }
}
