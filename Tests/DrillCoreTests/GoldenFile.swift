import Foundation
import Testing

/// Committed golden files under `Tests/DrillCoreTests/Snapshots`, the convention of
/// `Tests/ReportsTests/Snapshots`: compared byte for byte, re-recorded after an intended format
/// change with `RECORD_SNAPSHOTS=1 swift test --filter DrillCoreTests.Golden`, then reviewed as a diff.
enum GoldenFile {
    /// The folder beside this source file (found through `#filePath`, so no bundle resources are needed).
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Snapshots").path
    /// True when `RECORD_SNAPSHOTS=1`: ``assertMatches(_:named:)`` writes instead of comparing.
    static let recording = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"
    /// How to re-record, for failure messages.
    static let recordHint =
        "re-record with RECORD_SNAPSHOTS=1 swift test --filter DrillCoreTests.Golden and review the diff"

    /// The path of golden file `name`.
    static func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }

    /// The committed bytes of golden file `name`.
    /// - Throws: when the file is missing (the message says how to record it).
    static func committed(_ name: String) throws -> Data {
        try #require(FileManager.default.contents(atPath: path(name)), "golden \(name) is missing: \(recordHint)")
    }

    /// Compares `actual` with the committed golden file `name` byte for byte; on a mismatch records
    /// an issue with the first differing line, the `diff -u` of the two (written to a temporary
    /// `.actual` file) and how to re-record. With `RECORD_SNAPSHOTS=1`, writes `actual` instead.
    static func assertMatches(_ actual: Data, named name: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        if recording {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try actual.write(to: URL(fileURLWithPath: path(name)))
            return
        }
        let expected = try committed(name)
        guard expected != actual else { return }
        let actualPath = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(name).actual").path
        try? actual.write(to: URL(fileURLWithPath: actualPath))
        let old = String(decoding: expected, as: UTF8.self).components(separatedBy: "\n")
        let new = String(decoding: actual, as: UTF8.self).components(separatedBy: "\n")
        let line = (0..<min(old.count, new.count)).first { old[$0] != new[$0] } ?? min(old.count, new.count)
        Issue.record(
            """
            \(name) differs from its golden file at line \(line + 1):
              golden: \(line < old.count ? old[line] : "<end of file>")
              now:    \(line < new.count ? new[line] : "<end of file>")
            \(unifiedDiff(path(name), actualPath))
            see: diff -u \(path(name)) \(actualPath)
            If the format change is intended (and compatible, see docs/SET-FORMAT.md, "Format versions"), \(recordHint).
            """, sourceLocation: sourceLocation)
    }

    /// The first 60 lines of `diff -u a b`, or a note when `diff` is not installed.
    static func unifiedDiff(_ a: String, _ b: String) -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/diff") else { return "(diff not installed)" }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/diff")
        process.arguments = ["-u", a, b]
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return "(diff did not start)" }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: output, as: UTF8.self).components(separatedBy: "\n").prefix(60).joined(separator: "\n")
    }
}
