import Foundation

/// Runs blocking work (file reads, SQLite, compression, waiting on a lock) on threads of its own,
/// so it never holds one of Swift concurrency's cooperative threads: there is one per core, and a
/// task that blocks one stalls every other task of the process (timeouts, process monitors).
///
/// Process-wide, at most one body per active core runs at a time (the others wait on their own
/// thread, not on a cooperative one), so however many callers ask at once the work never
/// oversubscribes the cores and the rest of the process keeps its share. Bodies must not call
/// ``run(_:)`` themselves (they would wait for a slot they hold).
public enum BlockingWork {
    /// The slots: one per active core.
    private static let slots = DispatchSemaphore(value: max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Runs `body` on a new thread (once a slot is free) and returns its result; the calling task
    /// suspends meanwhile.
    /// - Parameter takesSlot: false for work that mostly waits on the disk or a lock (a database
    ///   copy): it runs at once beside the slotted CPU work instead of taking a core's slot from it.
    /// - Throws: what `body` throws.
    public static func run<T: Sendable>(
        takesSlot: Bool = true, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                if takesSlot { slots.wait() }
                let result = Result { try body() }
                if takesSlot { slots.signal() }
                continuation.resume(with: result)
            }
            thread.start()
        }
    }

    /// `items.map(transform)` on `width` threads of its own (each takes the next item when it is
    /// free), results in the order of `items`. The calling task suspends meanwhile.
    ///
    /// A slot is taken per item, not per thread: two maps running at once (a drill hashes the
    /// restored tree while it checks the databases) take turns item by item, so the first item
    /// of each (the largest, when callers sort largest first) starts early instead of waiting for
    /// the whole of the other map (at scale 4 of the bench the 740 MB database's integrity check
    /// waited 1.2 s for every restored file to be hashed).
    /// - Parameters:
    ///   - width: the most items worked on at once (at least 1).
    ///   - takesSlot: false for work that waits on the disk (see ``run(takesSlot:_:)``).
    public static func map<Item: Sendable, Output: Sendable>(
        _ items: [Item], width: Int, takesSlot: Bool = true, _ transform: @escaping @Sendable (Item) -> Output
    ) async -> [Output] {
        guard !items.isEmpty else { return [] }
        let box = ResultBox<Output>(count: items.count)
        let threads = max(1, min(width, items.count))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<threads {
                group.addTask {
                    _ = try? await run(takesSlot: false) {
                        while let i = box.claim() {
                            if takesSlot { slots.wait() }
                            let output = transform(items[i])
                            if takesSlot { slots.signal() }
                            box.store(output, at: i)
                        }
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
