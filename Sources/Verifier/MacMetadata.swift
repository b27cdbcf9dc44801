import DrillCore
import Foundation

/// Files macOS leaves beside real ones that a restore neither needs nor is harmed by (issue 12):
/// Finder's folder settings `.DS_Store`, AppleDouble files `._<name>` (the extended attributes and
/// resource fork of `<name>`, which bsdtar and `ditto` on macOS write into archives as separate
/// members; see copyfile(3)), and the `__MACOSX/` folder zip tools put AppleDouble files in.
///
/// In `code.tar.gz` but not in the manifest, such a member is a note of `restore.archives`
/// (``Finding/Code/archiveMetadataIgnored``), not an extra member; restored but not in the
/// manifest, a note of `restore.tree` (``Finding/Code/treeMetadataIgnored``). Only a regular file
/// (`.DS_Store`, `._name`) or a folder (`__MACOSX`, and folders and regular files inside it)
/// qualifies, and in an archive only in a folder the manifest knows (``isInKnownFolder(_:known:)``):
/// a link, device or hard link with such a name is an extra like any other, and the rules on `..`,
/// absolute names and link targets apply to every member whatever its name.
/// Names are compared as bytes: `.DS_Store` and `__MACOSX` exactly, `._` as the first two bytes of
/// the last segment followed by at least one more.
enum MacMetadata {
    /// Whether the member or restored path `path` (relative, `/`-separated, already normalised:
    /// no `.` or empty segments) of type `type` is macOS metadata; nil `type` (a device, fifo or
    /// socket) never is.
    static func isMetadata(_ path: String, type: FileType?) -> Bool {
        let segments = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard let last = segments.last, type == .file || type == .directory else { return false }
        if segments.contains(where: { $0.elementsEqual(zipFolder.utf8) }) { return true }
        return type == .file && isMetadataFileName(last)
    }

    /// Whether metadata member `path` lies where extracting it makes no folder the manifest does
    /// not know: at the top, in a folder `known` accepts (one the manifest lists or that holds a
    /// listed path), or inside a `__MACOSX` folder. A `._x` in an unknown folder would leave that
    /// folder behind, an extra the restored tree cannot excuse, so it is an extra member instead.
    static func isInKnownFolder(_ path: String, known: (String) -> Bool) -> Bool {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return true }
        let folder = String(path[..<slash])
        if folder.utf8.split(separator: UInt8(ascii: "/")).contains(where: { $0.elementsEqual(zipFolder.utf8) }) {
            return true
        }
        return known(folder)
    }

    /// Whether the last segment `name` of a regular file is `.DS_Store` or `._<something>`.
    static func isMetadataFileName(_ name: some Collection<UInt8>) -> Bool {
        if name.elementsEqual(finderFile.utf8) { return true }
        return name.count > 2 && name.starts(with: [UInt8(ascii: "."), UInt8(ascii: "_")])
    }

    /// Whether folder entry `name` of kind `kind`, found where the manifest expects nothing, is
    /// metadata by its name alone: a `.DS_Store` or `._<name>` regular file, a `__MACOSX` folder
    /// (whose content ``isMetadata(_:type:)`` then judges entry by entry).
    static func isMetadataEntry(_ name: String, kind: BeneathRoot.EntryKind) -> Bool {
        switch kind {
        case .file: return isMetadataFileName(name.utf8)
        case .directory: return name.utf8.elementsEqual(zipFolder.utf8)
        default: return false
        }
    }

    /// Finder's per-folder settings file.
    static let finderFile = ".DS_Store"
    /// The folder zip tools on macOS store AppleDouble files in.
    static let zipFolder = "__MACOSX"
}
