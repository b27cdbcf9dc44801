import DrillCore
import Foundation

/// Format 2, in progress (no set uses it yet; docs/SET-FORMAT.md, "Format 2 (in progress)"):
/// writes one pack of the code component, a run of walk entries that ``PackPlanner`` chose, as an
/// independent pax tar.gz that `tar -xzf` (GNU tar or bsdtar) extracts on its own.
///
/// The entries are written by ``CodeTarWriter``, the same code that writes `code.tar.gz`: names as
/// bytes with `hdrcharset=BINARY`, modes, modification times, link targets, no owner, gzip members
/// of 1 MiB of tar at the configured level. A pack's bytes therefore depend only on its entries
/// (and the level): a pack whose members kept their names, contents, sizes, modes and times is
/// written byte for byte as before, which is what lets an object store keep it once. Note that a
/// folder is a member with its modification time, which changes when a file is added to it or
/// removed from it: such a change also rewrites the pack holding the folder's entry.
///
/// Writing the pack into its object (a temporary name, fsync, rename to its SHA-256) and reusing
/// unchanged packs without reading them (a files cache) belong to the backup job, not to this type.
struct CodePackWriter {
    /// The deflate level, 1–9 (`code.compression_level`).
    let level: Int
    /// Receives the identity of every pack written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil
    /// Called right after a file's bytes were read, with its relative path (tests change the file here).
    var afterRead: ((String) -> Void)? = nil

    /// The planner's view of walk entries: each path's bytes (``FileNameBytes/bytes(_:)``) and, for
    /// a regular file, its size as the walk saw it (0 for folders and links).
    /// - Parameter entries: walk entries in the archive's order.
    /// - Returns: one planner entry per walk entry, in the same order.
    static func plannerEntries(_ entries: [WalkEntry]) -> [PackPlanner.Entry] {
        entries.map {
            PackPlanner.Entry(path: FileNameBytes.bytes($0.relative), size: $0.type == .file ? $0.size : 0)
        }
    }

    /// Plans `entries` into packs (``PackPlanner/plan(_:parameters:)`` of ``plannerEntries(_:)``).
    /// - Returns: packs whose ranges index `entries`.
    static func plan(
        _ entries: [WalkEntry], parameters: PackPlanner.Parameters = .standard
    ) -> [PackPlanner.Pack] {
        PackPlanner.plan(plannerEntries(entries), parameters: parameters)
    }

    /// Writes one pack to `path` (created; it must not exist). A file that changed while it was read
    /// makes the pack (only the pack) be written again, as
    /// ``CodeTarWriter/writeSettled(_:to:failures:progress:bytes:)`` says.
    /// - Parameters:
    ///   - entries: the pack's entries, in the archive's order (e.g. `walk[pack.entries]`).
    ///   - path: where the pack goes.
    ///   - progress: one-line messages every 500 paths and on a retry.
    /// - Returns: its size, SHA-256, one file record per member, and what reading found (warnings,
    ///   files that could not be opened, changed or vanished files).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the pack cannot be written.
    func write(
        _ entries: ArraySlice<WalkEntry>, to path: String, progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> CodeTarWriter.Written {
        let writer = CodeTarWriter(level: level, archiveName: "a code pack", afterRead: afterRead, log: log)
        return try await writer.writeSettled(Array(entries), to: path, progress: progress)
    }
}
