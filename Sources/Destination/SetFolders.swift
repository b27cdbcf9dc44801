import DrillCore
import Foundation

/// What a local destination folder holds, as set discovery sees it (docs/SET-FORMAT.md,
/// "The tree"): set folders, folders named like sets that cannot be used, and unfinished
/// `.partial-*` folders. ``LocalDestination`` lists through it; everything else reads the
/// ``SetCatalogue``. Reads only.
public struct SetFolderEntry: Sendable {
    /// What the folder is.
    public enum Kind: Sendable {
        /// A usable set: its manifest decodes, names this folder and its self-checksum matches.
        case set(Manifest)
        /// Named like a set but not usable; `manifest` when it still decodes and names this folder.
        case unusable(reason: String, manifest: Manifest?)
        /// An unfinished backup (`.partial-<id>`), with its modification time.
        case partial(modified: Date)
    }

    /// The folder's name and absolute path.
    public var name: String
    public var path: String
    /// The id the name carries (nil for a `.partial-*` folder).
    public var id: BackupID?
    public var kind: Kind
}

/// Lists the set folders of a destination.
public enum SetFolders {
    /// Reads `destination` (one level) and each set folder's `manifest.json`.
    /// - Returns: entries sorted by name; files and other folders are left out.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the destination is missing, not a
    ///   folder, or cannot be listed.
    public static func scan(destination: String) throws -> [SetFolderEntry] {
        let fm = FileManager.default
        let names = try names(in: destination)
        var out: [SetFolderEntry] = []
        for name in names.sorted() {
            let path = (destination as NSString).appendingPathComponent(name)
            var dir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &dir), dir.boolValue else { continue }
            if name.hasPrefix(".partial-") {
                let modified = (try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
                out.append(SetFolderEntry(name: name, path: path, id: nil, kind: .partial(modified: modified)))
                continue
            }
            guard let id = BackupID(name) else { continue }
            out.append(SetFolderEntry(name: name, path: path, id: id, kind: classify(path: path, id: id)))
        }
        return out
    }

    /// The names in the folder `destination` (one level).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when it is missing, not a folder, or
    ///   cannot be listed.
    private static func names(in destination: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: destination, isDirectory: &isFolder) else {
            throw RestoreDrillError.io(path: destination, message: "the destination does not exist")
        }
        guard isFolder.boolValue else { throw RestoreDrillError.io(path: destination, message: "is not a folder") }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: destination)
        } catch {
            throw RestoreDrillError.io(path: destination, message: "cannot list the destination: \(error)")
        }
    }

    /// What ``classify(path:id:)`` found, per set folder, for as long as its `manifest.json` is the
    /// same file (device, inode, size and modification time unchanged): a drill scans the
    /// destination several times (locating the set, `set.coverage`, `rpo`), and decoding and
    /// re-checksumming each manifest cost about 45 ms for the bench set (720 KB), so eight sets
    /// cost a drill 1.1 s before this cache.
    private static let cache = ClassifyCache()

    /// The folders of `destination` named like sets (a ``BackupID``), newest id first, without
    /// reading their manifests: ``classify(path:id:)`` reads one when a caller needs it, so
    /// finding the newest set reads one manifest, not every set's.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` as ``scan(destination:)``.
    public static func setFoldersNewestFirst(destination: String) throws -> [(id: BackupID, path: String)] {
        let fm = FileManager.default
        let names = try names(in: destination)
        return names.compactMap { name -> (id: BackupID, path: String)? in
            guard let id = BackupID(name) else { return nil }
            let path = (destination as NSString).appendingPathComponent(name)
            var dir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &dir), dir.boolValue else { return nil }
            return (id, path)
        }.sorted { $0.id > $1.id }
    }

    /// What the set folder at `path`, named for `id`, is: a usable set or an unusable one
    /// (memoized while its manifest file is unchanged).
    public static func classify(path: String, id: BackupID) -> SetFolderEntry.Kind {
        let key = ClassifyCache.Key(path: path)
        if let key, let known = cache.get(key) { return known }
        let kind = classifyUncached(path: path, id: id)
        if let key { cache.put(key, kind) }
        return kind
    }

    static func classifyUncached(path: String, id: BackupID) -> SetFolderEntry.Kind {
        let manifest: Manifest
        do {
            manifest = try Manifest.load(setPath: path)
        } catch {
            return .unusable(reason: "\(error)", manifest: nil)
        }
        return classify(manifest, id: id)
    }

    /// What a set folder named for `id` whose `manifest.json` holds `data` is (the rule of
    /// ``classify(path:id:)``, for a manifest read from a remote).
    /// - Parameters:
    ///   - data: the manifest's bytes; nil when the folder has none.
    ///   - path: how messages name the manifest.
    public static func classify(manifestData data: Data?, path: String, id: BackupID) -> SetFolderEntry.Kind {
        guard let data else {
            return .unusable(reason: "\(path) is missing (a push that did not finish, or a removal)", manifest: nil)
        }
        do {
            return classify(try Manifest.decode(data, path: path), id: id)
        } catch {
            return .unusable(reason: "\(error)", manifest: nil)
        }
    }

    private static func classify(_ manifest: Manifest, id: BackupID) -> SetFolderEntry.Kind {
        guard manifest.id == id else {
            return .unusable(reason: "manifest id \(manifest.id) is not the folder name", manifest: nil)
        }
        guard (try? manifest.verifySelfChecksum()) == true else {
            return .unusable(reason: "manifest self-checksum does not match", manifest: manifest)
        }
        return .set(manifest)
    }
}

/// The process-wide memo of ``SetFolders/classify(path:id:)``, keyed by the set folder's path and
/// the identity of its manifest file.
final class ClassifyCache: @unchecked Sendable {
    struct Key: Hashable {
        var path: String
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int

        /// The key of `<path>/manifest.json` as it is now; nil when it cannot be read.
        init?(path: String) {
            var st = stat()
            guard lstat((path as NSString).appendingPathComponent(Manifest.fileName), &st) == 0 else { return nil }
            self.path = path
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            #if os(Linux)
                modifiedSeconds = Int(st.st_mtim.tv_sec)
                modifiedNanoseconds = Int(st.st_mtim.tv_nsec)
            #else
                modifiedSeconds = Int(st.st_mtimespec.tv_sec)
                modifiedNanoseconds = Int(st.st_mtimespec.tv_nsec)
            #endif
        }
    }

    private let lock = NSLock()
    private var known: [Key: SetFolderEntry.Kind] = [:]

    func get(_ key: Key) -> SetFolderEntry.Kind? { lock.withLock { known[key] } }
    func put(_ key: Key, _ kind: SetFolderEntry.Kind) { lock.withLock { known[key] = kind } }
}
