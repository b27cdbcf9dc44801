import DrillCore

/// The rule by which a sync client names the copy it keeps when two versions of one file (or
/// folder) meet: the copy sits beside the original under a new name, and only the original's name
/// is what RestoreDrill wrote.
public enum SyncConflictRule: String, Codable, Sendable, CaseIterable {
    /// `name (N).ext`, `name (N)` (N ≥ 1, a space before the parenthesis): what OneDrive, Google
    /// Drive and Windows Explorer's "keep both" write when a name is taken, and what Dropbox writes
    /// for a second file of the same name uploaded elsewhere.
    case numbered
    /// `name-DEVICE.ext`, `name-DEVICE`: OneDrive's "keep both" for a file changed on two machines
    /// adds the name of the device whose edit lost (`manifest-MaiasMacBook.json`,
    /// `SHA256SUMS-DESKTOP-1A2B3C`). The device name here: 1 to 63 letters, digits, `-` or `_`,
    /// at least one a letter.
    case deviceName = "device_name"
    /// Dropbox: `name (Maia's conflicted copy 2026-12-01).ext` (Dropbox Help, "conflicted copy";
    /// also its `(Case Conflict)` and `(Selective Sync Conflict)` copies): a parenthesis holding
    /// `conflicted copy`, `Case Conflict` or `Selective Sync Conflict`.
    case dropbox
    /// Syncthing: `name.sync-conflict-YYYYMMDD-HHMMSS-XXXXXXX.ext` (docs.syncthing.net, "Conflicting
    /// Changes": the date and time of the conflict, then the first 7 characters of the device ID
    /// that made the change), the marker before the extension.
    case syncthing
    /// iCloud Drive: `name 2.ext`, `name 2` (a space and a number ≥ 2), the copy it makes when two
    /// devices change one file or make one name.
    case iCloud = "icloud"
}

/// A name recognised as a sync client's conflict copy, and the name it is a copy of.
public struct SyncConflictName: Sendable, Equatable {
    /// The name the copy shadows (`manifest.json` for `manifest (2).json`).
    public var original: String
    /// The rule that made the copy's name.
    public var rule: SyncConflictRule

    /// - Parameters: as the properties.
    public init(original: String, rule: SyncConflictRule) {
        self.original = original
        self.rule = rule
    }
}

/// The one classifier of sync-conflict copies (issue 16, "Synced folders"): a name is a conflict
/// copy only *relative to a name expected in the same folder*, so a legitimate name is never
/// flagged because of its shape alone.
///
/// Expected names, by folder: a set folder's are `manifest.json`, `SHA256SUMS`, its restore script
/// and (format 1) its artifacts and the folders they lie in; a fan-out folder's are the 64-hex
/// object names starting with its own name; the destination's are set ids (``BackupID``) and
/// `objects`. A name that is itself expected (a set named by its id, `full_…_2` included) is
/// never a copy. Members of archives (code packs) are not file names of the destination and are
/// never classified.
///
/// How a name is taken apart: the marker of each rule may sit before any extension of the
/// original (`code (2).tar.gz`, `code.tar (2).gz`) or at its end (`SHA256SUMS (1)`); every such
/// reading is tried, and the first whose original is expected wins, in the order of
/// ``SyncConflictRule/allCases`` (`numbered` before `device_name`).
public enum SyncConflicts {
    /// Whether `name` is a conflict copy of a name `isExpected` accepts.
    /// - Parameters:
    ///   - name: one file or folder name (one path component).
    ///   - isExpected: whether a name is one RestoreDrill writes in that folder.
    /// - Returns: the original and the rule, or nil when `name` is expected itself or no reading
    ///   of it names an expected original.
    public static func match(_ name: String, isExpected: (String) -> Bool) -> SyncConflictName? {
        guard !isExpected(name) else { return nil }
        return readings(of: name).first { isExpected($0.original) }
    }

    /// Every way `name` can be read as a conflict copy, whatever the original (not yet judged
    /// against an expected name), in rule order.
    /// - Parameter name: one path component.
    /// - Returns: distinct readings; empty when no rule's marker is in the name.
    public static func readings(of name: String) -> [SyncConflictName] {
        var out: [SyncConflictName] = []
        // Where the marker can end: before each "." (an extension follows) or at the end.
        var splits: [String.Index] = name.indices.filter { $0 > name.startIndex && name[$0] == "." }
        splits.append(name.endIndex)
        for rule in SyncConflictRule.allCases {
            for split in splits {
                let head = name[..<split]
                let ext = name[split...]
                for stem in stems(of: head, rule: rule) where !stem.isEmpty {
                    let reading = SyncConflictName(original: stem + ext, rule: rule)
                    if !out.contains(reading) { out.append(reading) }
                }
            }
        }
        return out
    }

    /// The originals' stems that `head` (a name without the extension that follows the marker)
    /// yields under `rule`.
    static func stems(of head: Substring, rule: SyncConflictRule) -> [String] {
        switch rule {
        case .numbered:
            guard let (stem, inner) = parenthesis(head), !inner.isEmpty, inner.count <= 4,
                inner.allSatisfy({ $0.isASCII && $0.isNumber })
            else { return [] }
            return [String(stem)]
        case .dropbox:
            guard let (stem, inner) = parenthesis(head) else { return [] }
            let words = inner.lowercased()
            guard
                words.contains("conflicted copy") || words.hasPrefix("case conflict")
                    || words.hasPrefix("selective sync conflict")
            else { return [] }
            return [String(stem)]
        case .syncthing:
            guard let marker = head.range(of: ".sync-conflict-", options: .backwards) else { return [] }
            let parts = head[marker.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].count == 8, parts[1].count == 6, parts[2].count == 7,
                (parts[0] + parts[1]).allSatisfy({ $0.isASCII && $0.isNumber }),
                parts[2].allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) })
            else { return [] }
            return [String(head[..<marker.lowerBound])]
        case .iCloud:
            guard let space = head.lastIndex(of: " ") else { return [] }
            let number = head[head.index(after: space)...]
            guard !number.isEmpty, number.count <= 4, number.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(number), value >= 2
            else { return [] }
            return [String(head[..<space])]
        case .deviceName:
            // Every hyphen may start the device name (`name-Maias-MacBook`): each reading is tried.
            return head.indices.compactMap { i -> String? in
                guard head[i] == "-", i > head.startIndex else { return nil }
                let device = head[head.index(after: i)...]
                guard !device.isEmpty, device.count <= 63, device.contains(where: \.isLetter),
                    device.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
                else { return nil }
                return String(head[..<i])
            }
        }
    }

    /// `stem (inner)` split at its last ` (`, when `head` ends with `)`.
    private static func parenthesis(_ head: Substring) -> (Substring, Substring)? {
        guard head.hasSuffix(")"), let open = head.range(of: " (", options: .backwards) else { return nil }
        return (head[..<open.lowerBound], head[open.upperBound..<head.index(before: head.endIndex)])
    }
}
