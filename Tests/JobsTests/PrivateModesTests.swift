import DrillCore
import Foundation
import Jobs
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Issue 11, "Secrets and permissions at rest": sets and reports are private to the user (folders
/// 0700, files 0600, the restore script 0700), and a drill restores each file with the mode the
/// manifest recorded, all read back with lstat(2).
@Suite struct PrivateModesTests {
    static func mode(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Int(info.st_mode) & 0o7777
    }

    @Test func aSetAndAReportArePrivateAndRestoredFilesKeepTheirRecordedModes() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        // A source file with an unusual mode, to see it come back as it was.
        let script = w.workspace.root + "/tools-run.sh"
        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: script))
        chmod(script, 0o750)
        let backup = try await w.backup()
        let set = backup.setPath

        #expect(Self.mode(set) == 0o700)
        var seen = 0
        for relative in (FileManager.default.enumerator(atPath: set)?.allObjects as? [String]) ?? [] {
            let path = set + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let mode = Int(info.st_mode) & 0o7777
            switch info.st_mode & S_IFMT {
            case S_IFDIR: #expect(mode == 0o700, "\(relative): \(String(mode, radix: 8))")
            case S_IFREG:
                let expected = relative == backup.manifest.restoreScript ? 0o700 : 0o600
                #expect(mode == expected, "\(relative): \(String(mode, radix: 8))")
                seen += 1
            default: continue
            }
        }
        #expect(seen >= 5, "artifacts, manifest, SHA256SUMS and the script")

        w.config.sandbox.keep = .always
        let result = try await w.drill()
        #expect(result.verdict == .pass, "\(result.checks.filter { $0.verdict == .fail || $0.verdict == .error })")
        let reports = try #require(result.reportFolder)
        #expect(Self.mode(reports) == 0o700)
        for name in ["junit.xml", "report.md", "report.html", "report.json"] {
            #expect(Self.mode(reports + "/" + name) == 0o600, "\(name)")
        }

        // Every restored file of the code component has the mode its manifest entry records.
        let sandbox = try #require(result.sandboxPath)
        let newRoot = sandbox + "/home/" + String(w.workspace.root.dropFirst(w.workspace.home.count + 1))
        let recorded = backup.manifest.files.filter { $0.component == .code && $0.type == .file && $0.base == .root }
        #expect(recorded.contains { $0.path == "tools-run.sh" && $0.mode & 0o7777 == 0o750 })
        for file in recorded {
            #expect(Self.mode(newRoot + "/" + file.path) == file.mode & 0o7777, "\(file.path)")
        }
        #expect(Self.mode(newRoot + "/tools-run.sh") == 0o750)

        // As root the replay runs as another uid, which cannot read the private set: it read a
        // private copy in the sandbox (mode 0550, nothing for others: IsolatedReplayerTests), which
        // is gone after the replay, even from a kept sandbox.
        if geteuid() == 0 {
            let copy = sandbox + "/set/" + (set as NSString).lastPathComponent
            #expect(!FileManager.default.fileExists(atPath: copy), "\(copy) outlived the replay")
            let evidence = result.checks.first { $0.check == .restoreScript }?.evidence ?? []
            #expect(evidence.contains { $0.contains("read-only copy") && $0.contains("removed after the replay") })
        }
    }
}
