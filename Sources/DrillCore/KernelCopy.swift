import Foundation

/// Copies bytes between two open files inside the kernel where it can: Linux's
/// `copy_file_range(2)` (glibc ≥ 2.27), looked up at run time because Swift's Glibc module does
/// not declare it. On a file system that shares extents it may share them instead of copying
/// (XFS, Btrfs); on ext4 the kernel copies page-cache pages, with no trip through user space.
public enum KernelCopy {
    /// `copy_file_range` itself, or nil where it does not exist (macOS, old glibc).
    public static let copyFileRange:
        (@convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int)? =
            {
                #if os(Linux)
                    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range") else {
                        return nil
                    }
                    return unsafeBitCast(
                        symbol,
                        to: (@convention(c) (
                            Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32
                        ) -> Int).self)
                #else
                    return nil
                #endif
            }()

    /// Appends `count` bytes to `output`: the bytes at `offset` of `input`, which the caller has
    /// already read into `bytes` (to hash them). The kernel copies them where it can; whatever it
    /// cannot copy (not supported here: `EXDEV`, `EINVAL`, `ENOSYS`, or a file that shrank) is
    /// written from `bytes`, so the output always receives exactly `bytes`' length.
    /// - Returns: nil when every byte was written, else the `errno` text of the failed write.
    public static func append(
        from input: Int32, at offset: Int64, _ bytes: UnsafeRawPointer, count: Int, to output: Int32
    ) -> String? {
        var written = 0
        if let kernelCopy = copyFileRange {
            var from = offset
            while written < count {
                let n = kernelCopy(input, &from, output, nil, count - written, 0)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                written += n
            }
        }
        while written < count {
            let n = write(output, bytes + written, count - written)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n < 0 ? String(cString: strerror(errno)) : "nothing written" }
            written += n
        }
        return nil
    }
}
