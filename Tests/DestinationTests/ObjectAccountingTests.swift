import Destination
import DrillCore
import Foundation
import Testing

@Suite struct ObjectAccountingTests {
    /// New and unique bytes over three sets sharing objects (given out of order; set order is id
    /// order). Objects: a 100, b 200, c 300, d 400, e 50 bytes.
    /// - set 1: a, b, e          → referenced 350, new 350 (all), unique 50 (e)
    /// - set 2: b, c, c again    → referenced 500, new 300 (c), unique 300 (c)
    /// - set 3: a, d             → referenced 500, new 400 (d), unique 400 (d)
    /// The new bytes add up to the 1 050 bytes of distinct objects.
    @Test func newAndUniqueBytesOfThreeSetsSharingObjects() {
        func ref(_ name: String, _ size: Int64) -> ObjectRef {
            ObjectRef(digest: ObjectDigest(of: Data(name.utf8)), size: size)
        }
        let (a, b, c, d, e) = (ref("a", 100), ref("b", 200), ref("c", 300), ref("d", 400), ref("e", 50))
        let one = id("full_20251018_030000")
        let two = id("full_20251019_030000")
        let three = id("full_20251020_030000")
        let result = ObjectAccounting.bytesPerSet([
            (id: three, objects: [a, d]),
            (id: one, objects: [a, b, e]),
            (id: two, objects: [b, c, c]),
        ])
        #expect(
            result == [
                SetObjectBytes(id: one, referencedBytes: 350, newBytes: 350, uniqueBytes: 50),
                SetObjectBytes(id: two, referencedBytes: 500, newBytes: 300, uniqueBytes: 300),
                SetObjectBytes(id: three, referencedBytes: 500, newBytes: 400, uniqueBytes: 400),
            ])
        #expect(result.reduce(0) { $0 + $1.newBytes } == 1050)
        // Pruning set 1 makes set 3 the first to reference a: its new bytes grow by 100; b is now
        // set 2's alone.
        #expect(
            ObjectAccounting.bytesPerSet([(id: two, objects: [b, c]), (id: three, objects: [a, d])]) == [
                SetObjectBytes(id: two, referencedBytes: 500, newBytes: 500, uniqueBytes: 500),
                SetObjectBytes(id: three, referencedBytes: 500, newBytes: 500, uniqueBytes: 500),
            ])
        #expect(ObjectAccounting.bytesPerSet([]).isEmpty)
    }
}
