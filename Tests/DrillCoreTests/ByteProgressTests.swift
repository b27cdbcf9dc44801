import Foundation
import Testing

@testable import DrillCore

/// A value behind a lock, for test closures that run on several threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&value) } }
}

@Suite struct ByteProgressTests {
    @Test func rateAndTimeLeftFollowFromBytesAndSeconds() {
        let p = ByteProgress(stage: "backup", done: 100 << 20, total: 300 << 20, seconds: 2)
        #expect(p.bytesPerSecond == Double(50 << 20))
        #expect(p.secondsLeft == 4)
        #expect(p.line == "backup: 100.0 MiB of 300.0 MiB (33 %), 50.0 MiB/s, 4.0 s left")
        #expect(ByteProgress(stage: "x", done: 0, total: 10, seconds: 0).secondsLeft == nil)
    }

    @Test func meterThrottlesReportsAndFinishesWithTheTotal() {
        let seen = Locked<[ByteProgress]>([])
        let meter = ByteMeter(stage: "drill", total: 1000, interval: 3600) { p in seen.withLock { $0.append(p) } }
        for _ in 0..<10 { meter.add(100) }
        meter.finish()
        let reports = seen.withLock { $0 }
        #expect(reports.count == 2)  // the first add, then finish: the interval throttles the rest
        #expect(reports.first?.done == 100)
        #expect(reports.last?.done == 1000)
    }

    @Test func blockingMapKeepsOrderAndBoundsWidth() async {
        let running = Locked((now: 0, most: 0))
        let out = await BlockingWork.map(Array(0..<40), width: 3) { i -> Int in
            running.withLock {
                $0.now += 1; $0.most = max($0.most, $0.now)
            }
            usleep(2000)
            running.withLock { $0.now -= 1 }
            return i * i
        }
        #expect(out == (0..<40).map { $0 * $0 })
        // At most the map's width, and never more than the process-wide slots (one per core).
        #expect(running.withLock { $0.most } <= min(3, ProcessInfo.processInfo.activeProcessorCount))
        #expect(running.withLock { $0.most } >= 1)
    }
}
