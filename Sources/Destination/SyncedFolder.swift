import DrillCore
import Foundation

extension Finding.Code {
    /// A sync client's conflict copy of a file or folder RestoreDrill wrote (data `path`,
    /// `original`: relative to the destination; `rule`: a ``SyncConflictRule`` raw value;
    /// `severity`: `fail` inside a set folder, where the set's files may be the wrong version, else
    /// `warn`).
    public static let syncConflictCopy = Finding.Code("sync.conflict_copy")
    /// A file that is only a placeholder of a sync client: its bytes are in the cloud, not on this
    /// disk (macOS `SF_DATALESS`; data `path`, relative to the destination).
    public static let syncPlaceholder = Finding.Code("sync.placeholder")
    /// A note, never a failure: whether files are only placeholders cannot be told on this system
    /// (data `reason`).
    public static let syncPlaceholderUnknown = Finding.Code("sync.placeholder_unknown")
}

/// One conflict copy found in a destination (``SyncedFolderScan``).
public struct SyncConflictCopy: Codable, Sendable, Equatable {
    /// Where the copy lies, and so how much it weighs.
    public enum Place: String, Codable, Sendable {
        /// Inside a set folder, beside the set's own file (`full_…/manifest (2).json`): the set
        /// fails, since which version its files are is not known.
        case setFile = "set_file"
        /// A copy of a whole set folder (`full_… (1)`): a warning on that set.
        case setFolder = "set_folder"
        /// A copy of an object (`objects/ab/<sha256> (2)`): a warning; the real object is verified.
        case object
        /// Anything else the destination's own names shadow (`objects (2)`, a fan-out folder).
        case other
    }

    /// The copy, relative to the destination, `/`-separated (`full_20261201_030000/manifest (2).json`).
    public var path: String
    /// What it shadows, relative to the destination (`full_20261201_030000/manifest.json`).
    public var original: String
    public var rule: SyncConflictRule
    public var place: Place
    /// The set whose folder holds it or which it copies; nil for objects and others.
    public var setID: String?
    /// Whether the copy fails its set (``Place/setFile``); otherwise it is a warning.
    public var fails: Bool { place == .setFile }

    enum CodingKeys: String, CodingKey {
        case path, original, rule, place
        case setID = "set_id"
    }

    /// - Parameters: as the properties.
    public init(path: String, original: String, rule: SyncConflictRule, place: Place, setID: String? = nil) {
        self.path = path
        self.original = original
        self.rule = rule
        self.place = place
        self.setID = setID
    }

    /// The finding that names it (``Finding/Code/syncConflictCopy``).
    public var finding: Finding {
        let why =
            switch place {
            case .setFile:
                original.hasSuffix("/" + Manifest.fileName)
                    ? "the set's manifest may be the wrong version" : "the set's file may be the wrong version"
            case .setFolder: "two versions of one set folder; only the original is checked"
            case .object: "the object itself is verified by its name; the copy is never read or removed"
            case .other: "never read or removed"
            }
        return Finding(
            .syncConflictCopy,
            data: [
                "path": path, "original": original, "rule": rule.rawValue, "severity": fails ? "fail" : "warn",
            ],
            message: "\(path) is a sync conflict copy (\(rule.rawValue)) of \(original): \(why)")
    }
}

/// What a sync client (OneDrive, Dropbox, iCloud Drive, Syncthing) left in a local destination:
/// conflict copies beside the sets, set files and objects they shadow, and files that are only
/// placeholders. Reads only; never follows a link; never reads a file's bytes (a placeholder is
/// not made to download).
///
/// **Placeholders.** On macOS a file whose bytes are only in the cloud is *dataless*: `stat`'s
/// `st_flags` has `SF_DATALESS` (0x40000000). Elsewhere no such flag exists, so
/// ``placeholderNote`` says it cannot be told, once, for a destination that may be synced
/// (``maySync(_:)``). Linux files with `st_blocks == 0` and a size are *not* taken for
/// placeholders: ext4's inline data, sparse files and several FUSE file systems report that too, and
/// no Linux sync client of the ones above leaves such stubs.
public struct SyncedFolderScan: Codable, Sendable, Equatable {
    /// Every conflict copy, in path order.
    public var conflictCopies: [SyncConflictCopy] = []
    /// Files of sets and objects that are only placeholders, relative to the destination.
    public var placeholders: [String] = []
    /// `sync placeholders: cannot tell on this system (…)`, or nil where it can be told or the
    /// destination does not look synced.
    public var placeholderNote: String?

    enum CodingKeys: String, CodingKey {
        case conflictCopies = "conflict_copies"
        case placeholders
        case placeholderNote = "placeholder_note"
    }

    /// - Parameters: as the properties.
    public init(conflictCopies: [SyncConflictCopy] = [], placeholders: [String] = [], placeholderNote: String? = nil) {
        self.conflictCopies = conflictCopies
        self.placeholders = placeholders
        self.placeholderNote = placeholderNote
    }

    /// `SF_DATALESS` of macOS's `sys/stat.h`: the file's data is not on this disk.
    public static let datalessFlag: UInt32 = 0x4000_0000

    /// Whether dataless placeholders can be recognised on this system (macOS only).
    public static var canTellPlaceholders: Bool {
        #if os(macOS)
            true
        #else
            false
        #endif
    }

    /// The note given once where placeholders cannot be recognised.
    public static let cannotTellNote =
        "sync placeholders: cannot tell on this system (only macOS marks a file whose bytes are in the cloud, "
        + "SF_DATALESS); files were judged by what reading them gave"

    /// Whether `path` looks like a folder a sync client keeps (a component naming OneDrive,
    /// Dropbox, iCloud Drive, Google Drive, Nextcloud, ownCloud, Syncthing, pCloud or Box, or macOS's
    /// `Library/CloudStorage` and `Library/Mobile Documents`). A hint only: any folder may be synced.
    public static func maySync(_ path: String) -> Bool {
        let clients = [
            "onedrive", "dropbox", "icloud", "mobile documents", "cloudstorage", "google drive", "googledrive",
            "nextcloud", "owncloud", "syncthing", "pcloud", "box sync",
        ]
        return path.split(separator: "/").contains { part in
            let lower = part.lowercased()
            return clients.contains { lower.contains($0) }
        }
    }

    /// The copies that concern set `id`: in its folder, of its folder, and of objects it lists.
    /// - Parameter objects: the digests (64 hex) of the objects the set lists.
    public func copies(forSet id: String, objects: Set<String>) -> [SyncConflictCopy] {
        conflictCopies.filter { copy in
            switch copy.place {
            case .setFile, .setFolder: copy.setID == id
            case .object: objects.contains(PathText.lastComponent(of: copy.original))
            case .other: false
            }
        }
    }

    /// The placeholders inside set `id`'s folder or among the objects it lists.
    public func placeholders(forSet id: String, objects: Set<String>) -> [String] {
        placeholders.filter {
            $0.hasPrefix(id + "/")
                || ($0.hasPrefix(ObjectStore.folderName + "/")
                    && objects.contains(PathText.lastComponent(of: $0)))
        }
    }

    /// Scans the local destination folder `destination`: its top level, every set folder (files
    /// and folders, links not followed) and `objects/` with its fan-out folders.
    /// - Parameter destination: the destination folder.
    /// - Returns: what was found; an empty scan when the destination cannot be listed.
    public static func scan(destination: String) -> SyncedFolderScan {
        var scan = SyncedFolderScan()
        let top = names(in: destination)
        for name in top {
            let path = (destination as NSString).appendingPathComponent(name)
            if let id = BackupID(name), isFolder(path) {
                scanSet(path: path, id: id, into: &scan)
            } else if name == ObjectStore.folderName, isFolder(path) {
                scanObjects(path: path, into: &scan)
            } else if !name.hasPrefix("."),
                let copy = SyncConflicts.match(
                    name, isExpected: { BackupID($0) != nil || $0 == ObjectStore.folderName })
            {
                let isSet = BackupID(copy.original) != nil
                scan.conflictCopies.append(
                    SyncConflictCopy(
                        path: name, original: copy.original, rule: copy.rule, place: isSet ? .setFolder : .other,
                        setID: isSet ? copy.original : nil))
            }
        }
        scan.conflictCopies.sort { $0.path < $1.path }
        scan.placeholders.sort()
        if !canTellPlaceholders && (maySync(destination) || !scan.conflictCopies.isEmpty) {
            scan.placeholderNote = cannotTellNote
        }
        return scan
    }

    /// A set folder: copies beside its expected names, and placeholders among them.
    static func scanSet(path: String, id: BackupID, into scan: inout SyncedFolderScan) {
        var expected: Set<String> = [Manifest.fileName, Manifest.checksumListFileName]
        var manifest: Manifest?
        switch SetFolders.classify(path: path, id: id) {
        case .set(let found), .unusable(_, .some(let found)): manifest = found
        default: break
        }
        if let manifest {
            expected.insert(manifest.restoreScript)
            for artifact in manifest.artifacts where !manifest.isObject(artifact) {
                var parts = artifact.path.split(separator: "/").map(String.init)
                while !parts.isEmpty {
                    expected.insert(parts.joined(separator: "/"))
                    parts.removeLast()
                }
            }
        }
        func isExpected(_ relative: String) -> Bool {
            expected.contains(relative)
                || (manifest == nil && !relative.contains("/") && relative.hasPrefix("restore_")
                    && relative.hasSuffix(".sh"))
        }
        func walk(_ relative: String) {
            let folder = relative.isEmpty ? path : (path as NSString).appendingPathComponent(relative)
            for name in names(in: folder) {
                let inner = relative.isEmpty ? name : relative + "/" + name
                let full = (folder as NSString).appendingPathComponent(name)
                if isExpected(inner) {
                    var info = stat()
                    guard lstat(full, &info) == 0 else { continue }
                    if info.st_mode & S_IFMT == S_IFDIR {
                        walk(inner)
                    } else if info.st_mode & S_IFMT == S_IFREG, isDataless(info) {
                        scan.placeholders.append("\(id)/\(inner)")
                    }
                } else if let copy = SyncConflicts.match(
                    name,
                    isExpected: {
                        isExpected(relative.isEmpty ? $0 : relative + "/" + $0)
                    })
                {
                    let original = relative.isEmpty ? copy.original : relative + "/" + copy.original
                    scan.conflictCopies.append(
                        SyncConflictCopy(
                            path: "\(id)/\(inner)", original: "\(id)/\(original)", rule: copy.rule, place: .setFile,
                            setID: id.description))
                }
            }
        }
        walk("")
    }

    /// `objects/`: copies of fan-out folders and of objects, and objects that are placeholders.
    static func scanObjects(path: String, into scan: inout SyncedFolderScan) {
        let base = ObjectStore.folderName
        for name in names(in: path) {
            let folder = (path as NSString).appendingPathComponent(name)
            if ObjectStore.isFanOutName(name), isFolder(folder) {
                for inner in names(in: folder) {
                    if let digest = ObjectDigest(inner), digest.fanOut == name {
                        var info = stat()
                        if lstat((folder as NSString).appendingPathComponent(inner), &info) == 0,
                            info.st_mode & S_IFMT == S_IFREG, isDataless(info)
                        {
                            scan.placeholders.append("\(base)/\(name)/\(inner)")
                        }
                    } else if let copy = SyncConflicts.match(
                        inner, isExpected: { ObjectDigest($0)?.fanOut == name })
                    {
                        scan.conflictCopies.append(
                            SyncConflictCopy(
                                path: "\(base)/\(name)/\(inner)", original: "\(base)/\(name)/\(copy.original)",
                                rule: copy.rule, place: .object))
                    }
                }
            } else if !name.hasPrefix("."), let copy = SyncConflicts.match(name, isExpected: ObjectStore.isFanOutName) {
                scan.conflictCopies.append(
                    SyncConflictCopy(
                        path: "\(base)/\(name)", original: "\(base)/\(copy.original)", rule: copy.rule, place: .other))
            }
        }
    }

    /// Whether `relative`, a file in a set folder that the set does not list, is (or lies inside)
    /// a conflict copy of a name the set lists (checks of the set use it to name an unlisted file
    /// for what it is).
    /// - Parameters:
    ///   - relative: the file, relative to the set folder, `/`-separated.
    ///   - listed: the files the set folder should hold (`manifest.json`, `SHA256SUMS`, the restore
    ///     script, format 1's artifacts), relative to it; the folders they lie in are expected too.
    /// - Returns: the copy (the topmost component that is one) and its original, both relative to
    ///   the set folder, or nil.
    public static func copyInSet(_ relative: String, listed: Set<String>) -> (
        path: String, original: String, rule: SyncConflictRule
    )? {
        var expected = listed
        for file in listed {
            var parts = file.split(separator: "/")
            while parts.count > 1 {
                parts.removeLast()
                expected.insert(parts.joined(separator: "/"))
            }
        }
        let parts = relative.split(separator: "/").map(String.init)
        for i in parts.indices {
            let parent = parts[..<i].joined(separator: "/")
            func joined(_ name: String) -> String { parent.isEmpty ? name : parent + "/" + name }
            if expected.contains(joined(parts[i])) { continue }
            guard let copy = SyncConflicts.match(parts[i], isExpected: { expected.contains(joined($0)) }) else {
                return nil
            }
            return (joined(parts[i]), joined(copy.original), copy.rule)
        }
        return nil
    }

    /// Whether `info` is of a dataless file (always false where the flag does not exist).
    static func isDataless(_ info: stat) -> Bool {
        #if os(macOS)
            UInt32(info.st_flags) & datalessFlag != 0
        #else
            false
        #endif
    }

    /// The names in `folder`, sorted; empty when it cannot be listed.
    static func names(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// Whether `path` is a folder itself (not a link to one).
    static func isFolder(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
