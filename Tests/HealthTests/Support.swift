import DrillCore
import Foundation
import TestSupport

@testable import Health

/// A temporary destination folder, removed when the test ends.
final class TempDestination {
    let path: String

    init() throws {
        path = try TempFolder("health").path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a set folder `<id>/manifest.json` with the given status, finish time and one artifact of `size` bytes.
    @discardableResult
    func writeSet(_ id: BackupID, status: SetStatus = .complete, finishedAt: Date? = nil, size: Int64 = 1000) throws
        -> String
    {
        var manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "test", home: "/home/a", root: "/home/a/r")
        manifest.status = status
        manifest.finishedAt = Timestamp.string(finishedAt ?? id.date.addingTimeInterval(600))
        manifest.artifacts = [
            ArtifactRecord(
                path: "code.tar.gz", component: .code, kind: .archive, size: size,
                sha256: String(repeating: "0", count: 64))
        ]
        let folder = (path as NSString).appendingPathComponent(id.description)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try manifest.encodedForDisk().write(
            to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("manifest.json")))
        return folder
    }
}

func date(_ iso: String) -> Date { Timestamp.date(iso)! }
