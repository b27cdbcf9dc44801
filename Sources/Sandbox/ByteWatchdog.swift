import DrillCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Watches the bytes a sandbox holds while a replay runs, and stops the replay past
/// ``ReplayRequest/byteBound`` (``ReplayLimit/byteBound``): `file_size` bounds each file, this
/// bounds their sum (issue 11: 2.1 GB written with `file_size: 1GiB`).
///
/// The sandbox is measured with `du -s -k -x` (allocated bytes, as the disk sees them; links not
/// followed; each hard-linked file once; one file system; folders nested past `PATH_MAX` counted
/// too, since `du` walks relative to folder descriptors), every ``interval`` seconds or, when a
/// measurement took longer, three times its duration (a sandbox of many files is not walked
/// back to back). A replay can pass the bound by what it writes between two measurements.
/// When the tool is not root, folders the script made unreadable to its own user are not counted.
struct ByteWatchdog: Sendable {
    /// The sandbox folder.
    var folder: AbsolutePath
    /// The bound, bytes.
    var bound: Int64
    /// The `du` executable.
    var du: String
    /// Seconds between measurements at least: 0.25.
    static let interval = 0.25

    /// The sandbox's bytes now (KiB from `du` × 1024); nil when `du` printed no number.
    func measure() async -> Int64? {
        let request = ProcessRequest(
            executable: du, arguments: ["-s", "-k", "-x", folder.pathString], environment: ["LC_ALL": "C"],
            workingDirectory: "/", outputLimit: 64 << 10, timeout: 600)
        guard let outcome = try? await SubprocessRunner().run(request) else { return nil }
        let text = String(decoding: outcome.standardOutput, as: UTF8.self)
        guard let first = text.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" }).first,
            let kib = Int64(first)
        else { return nil }
        return kib.multipliedReportingOverflow(by: 1024).overflow ? .max : kib * 1024
    }

    /// Measures until the task is cancelled or the sandbox holds more than ``bound``; then calls
    /// `stop` once.
    /// - Returns: the bytes measured past the bound, or nil when cancelled first.
    func watch(stop: @Sendable () -> Void) async -> Int64? {
        while !Task.isCancelled {
            let start = ContinuousClock.now
            if let bytes = await measure(), bytes > bound {
                if Task.isCancelled { return nil }
                stop()
                return bytes
            }
            let took = ContinuousClock.now - start
            let pause = max(Duration.milliseconds(Int64(Self.interval * 1000)), took * 3)
            try? await Task.sleep(for: pause)
        }
        return nil
    }
}

/// Bytes of a folder tree, read with `lstat` (links never followed).
public enum TreeBytes {
    /// The lengths (`st_size`) of the regular files in `path` and below it; entries that cannot be
    /// read are skipped. For a backup set: the bytes it holds.
    /// - Parameter path: a folder (or a file, whose length is returned).
    /// - Returns: bytes; 0 when `path` does not exist.
    public static func apparent(_ path: AbsolutePath) -> Int64 {
        var total: Int64 = 0
        var pending = [path.pathString]
        while let current = pending.popLast() {
            var info = stat()
            guard lstat(current, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                total += Int64(info.st_size)
            case S_IFDIR:
                for name in (try? FileManager.default.contentsOfDirectory(atPath: current)) ?? [] {
                    pending.append(current + "/" + name)
                }
            default:
                continue
            }
        }
        return total
    }
}
