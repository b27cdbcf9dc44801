import DrillCore
import Foundation
import Health
import Vault

/// What `evidence verify` found (`--json`: format `restore-drill/evidence-verify`).
///
/// `{"format": "restore-drill/evidence-verify", "format_version": 1, "bundle": "/…", "ok": false,
/// "signature": "valid|invalid|missing", "files": 40, "head": {"seq": 12, "id": "…", "sha256": "…"} | null,
/// "chain_intact": true | null, "problems": [{"kind": "changed", "path": "sla.json", "message": "…"}]}`.
/// `problems` is in the order checked: the tar's members, the signature, the index's lines, the
/// files (in index order, then extra files), `sizes`, then the bundled history's chain; the first
/// is the first problem.
public struct EvidenceVerification: Codable, Sendable, Equatable {
    public var format = "restore-drill/evidence-verify"
    public var formatVersion = 1
    /// The bundle as given, absolute.
    public var bundle: String
    /// `valid`, `invalid` (the index was changed, or another key signed it) or `missing`.
    public var signature: String
    /// Files the index lists.
    public var files: Int
    /// The head of the bundled chain (the walk of ``HistoryStore/verify()`` over the bundle's events).
    public var head: HistoryChainHead?
    /// Whether the bundled chain is intact; nil when the bundle holds no events folder.
    public var chainIntact: Bool?
    /// Every problem, first problem first.
    public var problems: [Problem]
    /// True when nothing is wrong.
    public var ok: Bool { problems.isEmpty }

    /// One thing wrong with a bundle; `path` is relative to the bundle.
    public struct Problem: Codable, Sendable, Equatable {
        /// What is wrong.
        public enum Kind: String, Codable, Sendable {
            /// `index.sig` is missing or does not verify with the key.
            case signature
            /// `index` is missing, or a line is not `<64 hex>  <path>`, or lists a path twice.
            case index
            /// A file the index lists is not in the bundle.
            case missing
            /// A file's SHA-256 differs from the index.
            case changed
            /// A file's size differs from `sizes` (or `sizes` does not list it).
            case size
            /// A file the index does not list.
            case extra
            /// A path with `..`, an absolute path, an empty or control-character component.
            case unsafe
            /// A symbolic link or special file (never followed).
            case notRegular = "not_regular"
            /// The tar cannot be read.
            case tar
            /// The bundled history's chain is broken (edited, removed, reordered, forked).
            case chain
        }
        public var kind: Kind
        public var path: String?
        public var message: String

        /// - Parameters: as the properties.
        public init(kind: Kind, path: String?, message: String) {
            self.kind = kind
            self.path = path
            self.message = message
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, bundle, signature, files, head, problems, ok
        case formatVersion = "format_version"
        case chainIntact = "chain_intact"
    }

    init(bundle: String) {
        self.bundle = bundle
        signature = "missing"
        files = 0
        problems = []
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bundle = try c.decode(String.self, forKey: .bundle)
        signature = try c.decode(String.self, forKey: .signature)
        files = try c.decode(Int.self, forKey: .files)
        head = try c.decodeIfPresent(HistoryChainHead.self, forKey: .head)
        chainIntact = try c.decodeIfPresent(Bool.self, forKey: .chainIntact)
        problems = try c.decode([Problem].self, forKey: .problems)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(bundle, forKey: .bundle)
        try c.encode(ok, forKey: .ok)
        try c.encode(signature, forKey: .signature)
        try c.encode(files, forKey: .files)
        try c.encode(head, forKey: .head)
        try c.encode(chainIntact, forKey: .chainIntact)
        try c.encode(problems, forKey: .problems)
    }

    /// For people: the verdict, the first problem, then every problem.
    public var text: String {
        var lines: [String] = []
        if ok {
            lines.append("evidence bundle OK: \(bundle)")
            lines.append("  signature valid (Ed25519), \(files) files match the index")
            lines.append(
                "  history chain " + (chainIntact == nil ? "not in the bundle" : "intact")
                    + (head.map { ", head seq \($0.seq) \($0.sha256)" } ?? ""))
        } else {
            lines.append("evidence bundle FAILED: \(bundle)")
            lines.append("first problem: \(problems[0].message)")
            for p in problems { lines.append("  \(p.kind.rawValue): \(p.message)") }
        }
        return lines.joined(separator: "\n")
    }
}

extension EvidenceJob {
    /// Verifies a bundle: a folder, or a `.tar.gz` read into a private temporary folder.
    /// - Parameters:
    ///   - bundle: the bundle's path.
    ///   - publicPEM: the Ed25519 public key (SPKI PEM) the auditor holds.
    ///   - temporaryFolder: where a tar is extracted (a private folder is made inside).
    /// - Returns: the verification; ``EvidenceVerification/ok`` when nothing is wrong.
    /// - Throws: ``RestoreDrillError/usage(_:)`` when nothing is at `bundle` or the key is not an
    ///   Ed25519 public key; ``RestoreDrillError/io(path:message:)`` when it cannot be read.
    public static func verify(
        bundle: String, publicPEM: Data, temporaryFolder: String = NSTemporaryDirectory()
    ) throws -> EvidenceVerification {
        let bundle = absolute(bundle)
        var st = stat()
        guard lstat(bundle, &st) == 0 else { throw RestoreDrillError.usage("no evidence bundle at \(bundle)") }
        _ = try EvidenceKey.verify(Data(), signature: Data(), publicPEM: publicPEM)  // the key's form
        var result = EvidenceVerification(bundle: bundle)
        var folder = bundle
        var cleanup: String?
        defer { if let cleanup { try? FileManager.default.removeItem(atPath: cleanup) } }
        if (st.st_mode & S_IFMT) == S_IFREG {
            var template = Array((temporaryFolder as NSString).appendingPathComponent("rd-evidence-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else {
                throw RestoreDrillError.io(path: temporaryFolder, message: String(cString: strerror(errno)))
            }
            folder = String(cString: made)
            cleanup = folder
            result.problems += try EvidenceTar.extract(bundle, into: folder)
        } else if (st.st_mode & S_IFMT) != S_IFDIR {
            throw RestoreDrillError.usage("\(bundle) is neither a bundle folder nor a .tar.gz file")
        }
        check(folder: folder, publicPEM: publicPEM, into: &result)
        return result
    }

    /// The checks of ``verify(bundle:publicPEM:temporaryFolder:)`` on a bundle folder.
    static func check(folder: String, publicPEM: Data, into result: inout EvidenceVerification) {
        typealias Problem = EvidenceVerification.Problem
        // Every entry below the folder, never following a link.
        var present = Set<String>()
        var odd: [Problem] = []
        func walk(_ relative: String) {
            let full = relative.isEmpty ? folder : (folder as NSString).appendingPathComponent(relative)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else {
                odd.append(Problem(kind: .missing, path: relative, message: "\(relative) cannot be listed"))
                return
            }
            for name in names.sorted() {
                let child = relative.isEmpty ? name : "\(relative)/\(name)"
                var st = stat()
                guard lstat((folder as NSString).appendingPathComponent(child), &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: walk(child)
                case S_IFREG: present.insert(child)
                default:
                    odd.append(
                        Problem(
                            kind: .notRegular, path: HistoryText.visible(child),
                            message: "\(HistoryText.visible(child)) is a symbolic link or special file (never followed)"
                        ))
                }
            }
        }
        walk("")

        // The signature over the index's bytes.
        let indexPath = (folder as NSString).appendingPathComponent("index")
        guard present.contains("index"), let index = FileManager.default.contents(atPath: indexPath) else {
            result.problems.append(Problem(kind: .index, path: "index", message: "index is missing"))
            result.problems += odd
            return
        }
        if present.contains("index.sig"),
            let sig = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent("index.sig"))
        {
            let valid = (try? EvidenceKey.verify(index, signature: sig, publicPEM: publicPEM)) ?? false
            result.signature = valid ? "valid" : "invalid"
            if !valid {
                result.problems.append(
                    Problem(
                        kind: .signature, path: "index.sig",
                        message: "index.sig does not verify with the given key: the index was changed, "
                            + "or another key signed it"))
            }
        } else {
            result.problems.append(Problem(kind: .signature, path: "index.sig", message: "index.sig is missing"))
        }

        // The index's lines.
        var listed: [(sha: String, path: String)] = []
        var listedSet = Set<String>()
        let text = String(decoding: index, as: UTF8.self)
        if !text.isEmpty && text.unicodeScalars.last != "\n" {
            result.problems.append(Problem(kind: .index, path: "index", message: "index does not end with a newline"))
        }
        // LF scalars: `"\r\n"` is one Character, so a Character split left a CRLF index whole.
        let lines = TextLines.splitAtLineFeeds(text, omittingEmpty: false)
        for (n, line) in lines.enumerated() where !(line.isEmpty && n == lines.count - 1) {
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, parts[1].isEmpty, parts[0].count == 64,
                parts[0].allSatisfy({ $0.isHexDigit && !$0.isUppercase })
            else {
                result.problems.append(
                    Problem(
                        kind: .index, path: "index",
                        message: "index line \(n + 1) is not `<sha256>  <path>`: \(HistoryText.visible(String(line)))"))
                continue
            }
            let path = String(parts[2])
            guard isSafeRelativePath(path), path != "index", path != "index.sig" else {
                result.problems.append(
                    Problem(
                        kind: .unsafe, path: HistoryText.visible(path),
                        message: "index line \(n + 1) names \(HistoryText.visible(path)): not a plain relative path "
                            + "of the bundle"))
                continue
            }
            guard listedSet.insert(path).inserted else {
                result.problems.append(
                    Problem(kind: .index, path: path, message: "index line \(n + 1) lists \(path) a second time"))
                continue
            }
            listed.append((String(parts[0]), path))
        }
        result.files = listed.count
        result.problems += odd

        // Every listed file: present, same SHA-256.
        var sizes: [String: Int] = [:]
        for entry in listed {
            let full = (folder as NSString).appendingPathComponent(entry.path)
            guard present.contains(entry.path), let data = FileManager.default.contents(atPath: full) else {
                result.problems.append(
                    Problem(
                        kind: .missing, path: entry.path, message: "\(entry.path) is listed in the index but missing"))
                continue
            }
            sizes[entry.path] = data.count
            let sha = SHA256Digest.hex(of: data)
            if sha != entry.sha {
                result.problems.append(
                    Problem(
                        kind: .changed, path: entry.path,
                        message: "\(entry.path) was changed: its SHA-256 is \(sha), the index records \(entry.sha)"))
            }
        }
        for path in present.sorted(by: byteOrder)
        where !listedSet.contains(path) && path != "index" && path != "index.sig" {
            result.problems.append(
                Problem(
                    kind: .extra, path: HistoryText.visible(path),
                    message: "\(HistoryText.visible(path)) is in the bundle but not in the index (added)"))
        }

        // sizes: each listed file but itself, with its size.
        if let sizesData = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent("sizes")),
            listedSet.contains("sizes")
        {
            var recorded: [String: Int] = [:]
            for line in TextLines.splitAtLineFeeds(String(decoding: sizesData, as: UTF8.self)) {
                let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
                if parts.count == 3, parts[1].isEmpty, let n = Int(parts[0]) { recorded[String(parts[2])] = n }
            }
            for entry in listed where entry.path != "sizes" {
                guard let actual = sizes[entry.path] else { continue }
                if recorded[entry.path] != actual {
                    result.problems.append(
                        Problem(
                            kind: .size, path: entry.path,
                            message: "\(entry.path) is \(actual) bytes; sizes records "
                                + (recorded[entry.path].map { "\($0)" } ?? "nothing")))
                }
            }
        } else {
            result.problems.append(Problem(kind: .size, path: "sizes", message: "sizes is missing from the bundle"))
        }

        // The bundled history's chain, walked by the same verifier as `history verify`.
        let events = (folder as NSString).appendingPathComponent(eventsFolder)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: events, isDirectory: &isFolder), isFolder.boolValue {
            let history = (folder as NSString).appendingPathComponent("history")
            do {
                let chain = try HistoryStore(destination: history).verify()
                result.head = chain.head
                result.chainIntact = chain.intact
                for b in chain.breaks {
                    result.problems.append(
                        Problem(
                            kind: .chain, path: b.file.map { "\(eventsFolder)/\($0)" },
                            message: "history chain \(b.kind.rawValue)"
                                + (b.seq.map { " at seq \($0)" } ?? "") + ": \(b.message)"))
                }
            } catch {
                result.chainIntact = false
                result.problems.append(
                    Problem(kind: .chain, path: eventsFolder, message: "the bundled history cannot be read: \(error)"))
            }
        }
    }
}
