import Foundation

/// What a destination folder holds, as set discovery sees it (../shared/DESIGN.md, "The backup
/// set"): set folders, folders named like sets that cannot be used, and unfinished `.partial-*`
/// folders. Shared by the verifier's set locator and the health/retention scanner, which differ
/// only in what they do with an unusable folder. Reads only.
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
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: destination, isDirectory: &isFolder) else {
            throw RestoreDrillError.io(path: destination, message: "the destination does not exist")
        }
        guard isFolder.boolValue else { throw RestoreDrillError.io(path: destination, message: "is not a folder") }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: destination)
        } catch {
            throw RestoreDrillError.io(path: destination, message: "cannot list the destination: \(error)")
        }
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

    static func classify(path: String, id: BackupID) -> SetFolderEntry.Kind {
        let manifest: Manifest
        do {
            manifest = try Manifest.load(setPath: path)
        } catch {
            return .unusable(reason: "\(error)", manifest: nil)
        }
        guard manifest.id == id else {
            return .unusable(reason: "manifest id \(manifest.id) is not the folder name", manifest: nil)
        }
        guard (try? manifest.verifySelfChecksum()) == true else {
            return .unusable(reason: "manifest self-checksum does not match", manifest: manifest)
        }
        return .set(manifest)
    }
}
