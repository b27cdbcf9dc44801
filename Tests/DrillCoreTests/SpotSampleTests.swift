import DrillCore
import Foundation
import Testing

/// The spot check's seeded sample (docs/SPOT.md, "The sample"): the generator is SplitMix64 as
/// published, and the sample is a function of the seed and the sorted paths only.
@Suite struct SpotSampleTests {
    /// The reference sequence of SplitMix64 for seed 1234567 (Vigna's splitmix64.c, as the
    /// reference test vectors give it).
    @Test func generatorMatchesTheReferenceSequence() {
        var g = SeededGenerator(seed: 1_234_567)
        let first = (0..<5).map { _ in g.next() }
        #expect(
            first == [
                6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423,
                4_593_380_528_125_082_431, 16_408_922_859_458_223_821,
            ])
    }

    /// Seed 42, 3 of f00…f09 (computed independently with a Python transcription of the same
    /// partial Fisher–Yates shuffle): f02, f03, f04, whatever order the paths are given in.
    @Test func sampleDependsOnlyOnTheSeedAndThePaths() {
        let paths = (0..<10).map { String(format: "f%02d", $0) }
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        #expect(a.sample(paths, count: 3) == ["f02", "f03", "f04"])
        #expect(b.sample(paths.reversed(), count: 3) == ["f02", "f03", "f04"])
        var c = SeededGenerator(seed: 7)
        #expect(c.sample(paths, count: 20) == paths)
        var d = SeededGenerator(seed: 7)
        #expect(d.sample(paths, count: 0) == [])
    }
}
