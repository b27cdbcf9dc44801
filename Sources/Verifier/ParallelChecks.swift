import DrillCore
import Foundation

/// Runs independent pieces of a drill on every core: structured concurrency (one task group)
/// with a bounded width, results in input order. Used where drill time goes: hashing artifacts
/// (`set.artifacts`), hashing restored files (`restore.tree`), `db.integrity` and the LaunchAgent
/// checks. Each piece streams its file (nothing is read whole), so memory grows with `width`,
/// not with the set.
enum ParallelChecks {
    /// How many pieces run at once: the active cores (at least 1).
    static var width: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// `items.map(transform)`, at most `width` calls at once; the result keeps the order of `items`.
    static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item], width: Int = ParallelChecks.width, _ transform: @escaping @Sendable (Item) -> Output
    ) async -> [Output] {
        guard items.count > 1, width > 1 else { return items.map(transform) }
        var slots = [Output?](repeating: nil, count: items.count)
        await withTaskGroup(of: (Int, Output).self) { group in
            var next = 0
            while next < min(width, items.count) {
                let i = next
                group.addTask { (i, transform(items[i])) }
                next += 1
            }
            while let (i, output) = await group.next() {
                slots[i] = output
                if next < items.count {
                    let j = next
                    group.addTask { (j, transform(items[j])) }
                    next += 1
                }
            }
        }
        return slots.map { $0! }
    }
}
