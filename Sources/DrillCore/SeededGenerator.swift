/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014): a small seeded generator for choices a person must be able to repeat (a sampled drill's
/// sample, a spot check's files, the self-test's workspace). The same seed gives the same numbers
/// on every platform and Swift version (64-bit integer arithmetic only).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The state: the seed, advanced by the golden-ratio increment on every draw.
    public var state: UInt64

    /// A generator that starts at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (`bound` > 0): `next() % bound`, a small bias for the sizes drawn
    /// here, and the same in every language, so a script elsewhere can repeat a draw
    /// (`ci/measure-chunks` does, for the pack planner's pinned plan; an auditor can for a sample).
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        return next() % bound
    }

    /// `items` shuffled by Fisher–Yates (from the last item down, each swapped with one of those
    /// before it or itself by ``below(_:)``): the same seed and items give the same order everywhere
    /// (the standard library's `shuffled(using:)` does not promise that).
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var result = items
        guard result.count > 1 else { return result }
        for i in stride(from: result.count - 1, to: 0, by: -1) {
            let j = Int(below(UInt64(i + 1)))
            result.swapAt(i, j)
        }
        return result
    }

    /// `count` of `items` chosen by a partial Fisher–Yates shuffle (draw `i` swaps item `i` with
    /// one of `i…` by ``below(_:)``) of the items sorted by ``FileNameBytes/precedes(_:_:)``, then
    /// sorted the same way; all of them when `count` is at least their number. A spot check's
    /// sample (issue 17).
    public mutating func sample(_ items: [String], count: Int) -> [String] {
        var pool = items.sorted(by: FileNameBytes.precedes)
        let n = min(max(count, 0), pool.count)
        for i in 0..<n {
            let j = i + Int(below(UInt64(pool.count - i)))
            pool.swapAt(i, j)
        }
        return pool[0..<n].sorted(by: FileNameBytes.precedes)
    }
}
