import Foundation

/// Runs blocking work (file reads, SQLite, waiting on a lock) on threads of its own, so it never
/// holds one of Swift concurrency's cooperative threads: there is one per core, and a task that
/// blocks one stalls every other task of the process (timeouts, process monitors).
public enum BlockingWork {
    /// Runs `body` on a new thread and returns its result; the calling task suspends meanwhile.
    /// - Throws: what `body` throws.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    /// `items.map(transform)` on `width` threads of its own (each takes the next item when it is
    /// free), results in the order of `items`. The calling task suspends meanwhile.
    /// - Parameter width: the most items worked on at once (at least 1).
    public static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item], width: Int, _ transform: @escaping @Sendable (Item) -> Output
    ) async -> [Output] {
        guard !items.isEmpty else { return [] }
        let box = ResultBox<Output>(count: items.count)
        let threads = max(1, min(width, items.count))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<threads {
                group.addTask {
                    _ = try? await run {
                        while let i = box.claim() { box.store(transform(items[i]), at: i) }
                    }
                }
            }
        }
        return box.results()
    }

    /// The shared state of ``map(_:width:_:)``: the next index to claim and the results.
    private final class ResultBox<Output: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var slots: [Output?]

        init(count: Int) { slots = Array(repeating: nil, count: count) }

        func claim() -> Int? {
            lock.withLock {
                guard next < slots.count else { return nil }
                defer { next += 1 }
                return next
            }
        }

        func store(_ output: Output, at index: Int) { lock.withLock { slots[index] = output } }

        func results() -> [Output] { lock.withLock { slots.map { $0! } } }
    }
}
