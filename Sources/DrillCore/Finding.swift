import Foundation

/// What one check found wrong with its subject: a stable ``Code``, the facts the text is made
/// of, and that text. A check builds its findings with factories that render the text from the
/// facts (swift-format's `Finding.Message`); code that needs to know what was found matches the
/// code and the data, never the wording.
public struct Finding: Sendable, Equatable, Hashable {
    /// A stable id of one kind of finding, `<area>.<what>` in lower snake case (for example
    /// `artifact.digest_mismatch`). Ids are never renamed: tests and tools key on them.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
    }

    /// What kind of finding this is.
    public var code: Code
    /// The facts the message was rendered from, by name (`path`, `expected`, `actual`, `status`,
    /// …), each as the message shows it; a list is one value with one item per line.
    public var data: [String: String]
    /// One clause rendered from ``code`` and ``data``, without the subject (for example
    /// `SHA-256 differs from the manifest (content changed)`).
    public var message: String

    /// A finding; prefer the factory of its kind, which renders `message` from `data`.
    public init(_ code: Code, data: [String: String] = [:], message: String) {
        self.code = code
        self.data = data
        self.message = message
    }

    /// The lines of list datum `key` (``data`` holds a list as one line per item); empty when absent.
    public func list(_ key: String) -> [String] {
        guard let value = data[key], !value.isEmpty else { return [] }
        // LF scalars only: an item ending in CR (a file name) must not swallow the LF after it.
        return TextLines.splitAtLineFeeds(value, omittingEmpty: false)
    }

    /// `items` as one ``data`` value: one item per line.
    public static func listValue(_ items: [String]) -> String { items.joined(separator: "\n") }
}

/// A finding as `--json` outputs carry it (`check`'s warnings): `{"code", "data", "message"}`.
extension Finding: Codable {}

extension Verdict {
    /// Whether this verdict counts against the subject: ``fail`` or ``error`` (a skip does not).
    public var isProblem: Bool { self == .fail || self == .error }

    /// The verdict of a whole made of `verdicts` (a drill, a read-back, a vault verification):
    /// ``fail`` when any is a problem; else ``pass`` when one passed, or when `requirePass` is
    /// false (skips only: a drill that verified nothing fails, a read-back of nothing does not).
    public static func rollup(_ verdicts: some Sequence<Verdict>, requirePass: Bool = true) -> Verdict {
        var passed = false
        for verdict in verdicts {
            if verdict.isProblem { return .fail }
            if verdict == .pass { passed = true }
        }
        return passed || !requirePass ? .pass : .fail
    }
}

extension CheckResult {
    /// A result whose message is rendered from `findings`: `<subject>: ` then the first `shown`
    /// findings' messages joined by `; `.
    /// - Parameters:
    ///   - verdict: ``Verdict/fail`` unless the check could not run (``Verdict/error``).
    ///   - shown: how many findings the message names (all are kept in ``findings``).
    ///   - seconds: wall time the check took.
    public init(
        check: CheckID, subject: String, verdict: Verdict = .fail, findings: [Finding], shown: Int = .max,
        evidence: [String] = [], seconds: Double = 0
    ) {
        self.init(
            check: check, subject: subject, verdict: verdict,
            message: "\(subject): " + findings.prefix(shown).map(\.message).joined(separator: "; "),
            evidence: evidence, seconds: seconds)
        self.findings = findings
    }

    /// Whether this result holds a finding with `code` whose data include every pair of `data`.
    public func has(_ code: Finding.Code, data: [String: String] = [:]) -> Bool {
        findings.contains { finding in
            finding.code == code && data.allSatisfy { finding.data[$0.key] == $0.value }
        }
    }
}

extension Sequence<CheckResult> {
    /// The results that failed or errored, in order.
    public var problems: [CheckResult] { filter { $0.verdict.isProblem } }
}
