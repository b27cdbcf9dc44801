/// # TestSupport
///
/// What every test module of RestoreDrill needs, in one place instead of a copy per module:
/// ``TempFolder`` (a scratch folder per test), ``runTool(_:_:standardInput:environment:directory:mergingError:)``
/// (a real child process with its output captured), ``RecordingRunner`` (a ``ProcessRunner`` that
/// starts nothing) and the one rule for tools a test needs (``RequiredTool``): where the
/// environment variable `CI` is set, a missing tool is a test failure; elsewhere the test is
/// skipped and says why.
///
/// A regular target under `Tests/` that only test targets depend on; it never ships in the tool.
/// An interrupted test run can leave ``TempFolder`` folders (`<label>-<8 hex>`) in the system
/// temporary folder; nothing else.
import DrillCore
import Foundation

/// A folder under the system temporary folder for one test, removed by ``remove()``.
public struct TempFolder: Sendable {
    /// Absolute path of the folder, `<temporary folder>/<label>-<8 hex characters>`.
    public let path: String

    /// Creates a new empty folder.
    /// - Parameter label: the start of the folder's name, so a leftover folder says which test made it.
    /// - Throws: what `FileManager.createDirectory` throws.
    public init(_ label: String = "rd") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = (base as NSString).appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The absolute path of `name` (a relative path) inside the folder; nothing is created.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `text` (UTF-8) to `name` inside the folder, replacing it.
    /// - Returns: the file's absolute path.
    /// - Throws: what `Data.write(to:)` throws.
    @discardableResult
    public func write(_ text: String, _ name: String) throws -> String {
        let p = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// Names in the folder (one level, hidden ones included), sorted.
    /// - Throws: what `FileManager.contentsOfDirectory` throws.
    public func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    /// Removes the folder and everything in it. Restored trees can hold read-only folders, so
    /// everything is made writable by its owner first.
    public func remove() {
        _ = try? runTool("/bin/chmod", ["-R", "u+rwx", path])
        try? FileManager.default.removeItem(atPath: path)
    }
}
