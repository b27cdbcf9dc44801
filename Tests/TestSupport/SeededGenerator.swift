/// SplitMix64 (Steele, Lea and Flood 2014): a small seeded generator, so a test that draws random
/// cases sees the same ones on every run and machine. ``next()`` is the whole algorithm, in
/// wrapping 64-bit arithmetic, so a script in another language can draw the same numbers
/// (`ci/measure-chunks` does, for the pack planner's pinned plan).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The state: the seed, advanced by the golden-ratio increment on every draw.
    public var state: UInt64

    /// A generator whose first draw depends only on `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (`next() % bound`: a small bias, the same in every language).
    /// - Parameter bound: greater than 0.
    public mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
}
