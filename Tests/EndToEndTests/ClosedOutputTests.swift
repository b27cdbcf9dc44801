import DrillCore
import Foundation
import TestSupport
import Testing

/// `restore-drill backup 2>&1 | head -1`: the reader goes away after one line. A write to the
/// closed pipe used to kill the backup with SIGPIPE (exit 141) and leave `.partial-full_*`; now the
/// write fails, is dropped, and the backup finishes its set.
@Suite struct ClosedOutputTests {
    @Test func aBackupWhoseOutputIsClosedFinishesItsSet() throws {
        let ws = try SmallWorkspace.make("closed-output")
        defer { ws.remove() }
        try ws.write("src/main.py", "print('hi')\n")
        try ws.write("notes.txt", String(repeating: "line\n", count: 1000))

        // Standard output and error: one pipe whose reading end is closed before the tool starts.
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Tool.binary)
        process.arguments = ["backup", "--config", ws.config]
        process.currentDirectoryURL = URL(fileURLWithPath: ws.base)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        try? pipe.fileHandleForWriting.close()
        #expect(process.terminationReason == .exit, "killed by signal \(process.terminationStatus)")
        #expect(process.terminationStatus == 0)

        let destination = ws.base + "/backups"
        let names = try FileManager.default.contentsOfDirectory(atPath: destination)
        #expect(!names.contains { $0.hasPrefix(".partial-") }, "\(names)")
        let sets = names.filter { $0.hasPrefix("full_") }
        #expect(sets.count == 1, "\(names)")
        let set = try #require(sets.first)
        let manifest = try Manifest.load(setPath: destination + "/" + set)
        #expect(manifest.id.description == set)
        let list = try ws.run(["list"])
        #expect(list.status == 0)
        #expect(list.stdout.contains(set) && list.stdout.contains("complete"), "\(list.stdout)")
    }
}
