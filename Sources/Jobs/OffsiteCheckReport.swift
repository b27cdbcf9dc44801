import DrillCore
import Foundation

/// One finding of `offsite check`, naming a file relative to the remote root.
public struct OffsiteFinding: Codable, Sendable, Equatable {
    /// What was found (JSON: the raw value; also the event's `findings` list).
    public enum Code: String, Codable, Sendable, CaseIterable {
        /// The set has no folder on the remote.
        case notOnRemote = "not_on_remote"
        /// The set folder has no `manifest.json`: the set is not complete on the remote.
        case manifestMissing = "manifest_missing"
        /// The remote `manifest.json` is not byte for byte the local one.
        case manifestDiffers = "manifest_differs"
        /// The manifest checked against cannot be trusted (a remote-only set's manifest that does not
        /// decode, name the set, match its self-checksum, or authenticate; an artifact naming no object).
        case manifestUntrusted = "manifest_untrusted"
        /// A file of the set folder or an object of the set is not on the remote.
        case missing
        /// It is there with another size than the manifest's.
        case wrongSize = "wrong_size"
        /// Its remote hash, its cryptcheck or its bytes read back differ from the manifest.
        case wrongHash = "wrong_hash"
        /// It is listed but cannot be read back.
        case unreadable
        /// A sync client's conflict copy, by `SyncConflicts.match` (`name (2).ext`, `name-HOST.ext`,
        /// Dropbox's `conflicted copy`, `*.sync-conflict-*`, iCloud's `name 2.ext`).
        case conflictCopy = "conflict_copy"
        /// Anything else the tool did not write (not a set's file, not an object name, not
        /// `.restore-drill/`).
        case stray
        /// The local copy a cryptcheck compares with is damaged: that file stays unverified.
        case localDamaged = "local_damaged"
        /// The set is only on the remote: it was checked against the remote's own manifest.
        case noLocalCopy = "no_local_copy"
    }

    public var code: Code
    /// Relative to the remote root (`<set id>/manifest.json`, `objects/ab/<64 hex>`).
    public var path: String
    /// One sentence a person reads.
    public var message: String
    /// Whether it fails the set; nil: the code's rule (every code fails but `stray`,
    /// `local_damaged` and `no_local_copy`; a conflict copy says so itself).
    public var fails: Bool?

    /// - Parameters: as the properties.
    public init(code: Code, path: String, message: String, fails: Bool? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.fails = fails
    }

    /// `path: message`.
    public var text: String { "\(code.rawValue): \(path): \(message)" }
}

/// The outcome of one set's check on one remote (`--json`: one element of a remote's `sets`).
public struct OffsiteSetCheck: Codable, Sendable, Equatable {
    /// The verdict.
    public enum Status: String, Codable, Sendable {
        /// Every file there with its size and proven by content (a remote hash, cryptcheck, or read back).
        case pass
        /// Nothing wrong found, but some file was checked by size only.
        case unverified
        /// A failing finding.
        case fail
    }

    /// The remote's configured name.
    public var remote: String
    /// The set's id.
    public var id: String
    public var status: Status
    /// How contents were checked: `hash:sha256`, `hash:md5`, `hash:quickxor`, `cryptcheck`,
    /// `download`, or `size` (sizes only).
    public var method: String
    public var findings: [OffsiteFinding]
    /// Files checked (the set folder's and its objects). Count.
    public var files: Int
    /// Their bytes, as the manifest records them. Bytes.
    public var bytes: Int64
    /// Wall-clock seconds of this set's check.
    public var seconds: Double

    /// - Parameters: as the properties.
    public init(
        remote: String, id: String, status: Status, method: String, findings: [OffsiteFinding], files: Int,
        bytes: Int64, seconds: Double
    ) {
        self.remote = remote
        self.id = id
        self.status = status
        self.method = method
        self.findings = findings
        self.files = files
        self.bytes = bytes
        self.seconds = seconds
    }

    /// The lines a person reads: the verdict line, then one line per finding.
    public var text: String {
        let verdict: String
        switch status {
        case .pass: verdict = "PASS"
        case .unverified:
            verdict =
                method == "size"
                ? "UNVERIFIED (sizes only: the remote offers no hash the manifest records; --download reads it back)"
                : "UNVERIFIED (some files by size only)"
        case .fail: verdict = "FAIL"
        }
        let head =
            "\(remote): \(id): \(verdict), \(method), \(files) file(s), \(Units.humanBytes(bytes))"
        return ([head] + findings.map { "  \($0.text)" }).joined(separator: "\n")
    }
}

/// One remote's `offsite check` (`--json`: one element of `remotes`).
public struct OffsiteCheckReport: Codable, Sendable, Equatable {
    /// The remote's configured name and its rclone root.
    public var remote: String
    public var root: String
    /// The backend's rclone type and the hashes it offers (`rclone backend features`).
    public var backendType: String?
    public var hashes: [String]
    /// One per set checked.
    public var sets: [OffsiteSetCheck]
    /// Stray files and conflict copies that belong to no set checked (never failing).
    public var findings: [OffsiteFinding]
    /// Wall-clock seconds of the whole remote.
    public var seconds: Double
    /// Why the remote could not be checked (unreachable); nil when it was.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case remote, root, hashes, sets, findings, seconds, error
        case backendType = "backend_type"
    }

    /// - Parameters: as the properties.
    public init(
        remote: String, root: String, backendType: String?, hashes: [String], sets: [OffsiteSetCheck],
        findings: [OffsiteFinding], seconds: Double, error: String? = nil
    ) {
        self.remote = remote
        self.root = root
        self.backendType = backendType
        self.hashes = hashes
        self.sets = sets
        self.findings = findings
        self.seconds = seconds
        self.error = error
    }

    /// The lines a person reads.
    public var text: String {
        if let error { return "\(remote): UNREACHABLE: \(error)" }
        var lines = sets.map(\.text)
        if sets.isEmpty { lines.append("\(remote): no set checked (none on the remote)") }
        lines += findings.map { "\(remote): \($0.text)" }
        return lines.joined(separator: "\n")
    }
}
