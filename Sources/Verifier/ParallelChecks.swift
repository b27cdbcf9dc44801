import DrillCore
import Foundation

/// Runs independent pieces of a drill on every core, with a bounded width and results in input
/// order. Used where drill time goes: hashing artifacts (`set.artifacts`), hashing restored files
/// (`restore.tree`) and `db.integrity`. The pieces block (file reads, SQLite), so they run on
/// threads of their own (``BlockingWork``), never on Swift concurrency's cooperative threads. Each
/// piece streams its file (nothing is read whole), so memory grows with the width, not the set.
enum ParallelChecks {
    /// How many pieces run at once: the active cores (at least 1).
    static var width: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// `items.map(transform)`, at most `width` calls at once; the result keeps the order of `items`.
    static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item], width: Int = ParallelChecks.width, _ transform: @escaping @Sendable (Item) -> Output
    ) async -> [Output] {
        await BlockingWork.map(items, width: width, transform)
    }
}
