/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014): a small seeded generator for choices a person must be able to repeat (a sampled drill's
/// sample, a spot check's files, the self-test's workspace). The same seed gives the same numbers
/// on every platform and Swift version (64-bit integer arithmetic only).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The generator's state; starts at the seed.
    public private(set) var state: UInt64

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

    /// A number in `0..<bound` (`bound` > 0) by Lemire's multiply-and-reject method, spelled out
    /// here (not the standard library's `random(in:using:)`, whose algorithm may change between
    /// Swift versions) so a seed's choices never change.
    public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        let threshold = (0 &- bound) % bound
        while true {
            let r = next().multipliedFullWidth(by: bound)
            if r.low >= threshold { return r.high }
        }
    }

    /// `items` shuffled by Fisher–Yates with ``below(_:)``: the same seed and items give the same
    /// order everywhere (the standard library's `shuffled(using:)` does not promise that).
    public mutating func shuffled<T>(_ items: [T]) -> [T] {
        var result = items
        guard result.count > 1 else { return result }
        for i in stride(from: result.count - 1, to: 0, by: -1) {
            let j = Int(below(UInt64(i + 1)))
            result.swapAt(i, j)
        }
        return result
    }
}
