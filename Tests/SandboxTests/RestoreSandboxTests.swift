import DrillCore
import Foundation
import Testing

@testable import Sandbox

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("RestoreSandbox and Canaries")
struct RestoreSandboxTests {
    let id = DrillID(date: Date(timeIntervalSince1970: 1_760_000_000), sequence: 3)

    @Test func createMakesHomeAndWorkPrivateAndRemoveDeletesIt() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let sandboxes = folder.file("sandboxes")
        let sandbox = try RestoreSandbox.create(in: sandboxes, drillID: id)
        #expect(sandbox.path == "\(sandboxes)/\(id)")
        #expect(sandbox.home == "\(sandbox.path)/home" && sandbox.work == "\(sandbox.path)/work")
        for path in [sandbox.path, sandbox.home, sandbox.work] { #expect(currentMode(path) == 0o700) }
        #expect(FileManager.default.fileExists(atPath: "\(sandbox.path)/\(RestoreSandbox.markerName)"))
        // A second sandbox for the same drill is refused, with its own case (a drill takes the next id).
        #expect(
            throws: RestoreDrillError.alreadyExists(
                path: sandbox.path, message: "cannot create sandbox: already exists")
        ) {
            _ = try RestoreSandbox.create(in: sandboxes, drillID: id)
        }

        // A tree the replay made read-only is still removed.
        try FileManager.default.createDirectory(atPath: "\(sandbox.work)/a/b", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: "\(sandbox.work)/a/b/f", contents: Data("x".utf8)))
        chmod("\(sandbox.work)/a/b", 0o500)
        chmod("\(sandbox.work)/a", 0o500)
        try sandbox.remove()
        #expect(!FileManager.default.fileExists(atPath: sandbox.path))
        #expect(FileManager.default.fileExists(atPath: sandboxes))
        try sandbox.remove()  // already gone: not an error
    }

    @Test func removeRefusesAFolderWithoutItsMarker() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let sandboxes = folder.file("sandboxes")
        // A folder with the right name that this type did not make.
        let foreign = RestoreSandbox(folder: sandboxes, drillID: id)
        try FileManager.default.createDirectory(atPath: foreign.work, withIntermediateDirectories: true)
        #expect(throws: RestoreDrillError.self) { try foreign.remove() }
        #expect(FileManager.default.fileExists(atPath: foreign.work))

        // A marker naming another drill is refused too.
        #expect(
            FileManager.default.createFile(
                atPath: "\(foreign.path)/\(RestoreSandbox.markerName)", contents: Data("drill_20990101_000000\n".utf8)))
        #expect(throws: RestoreDrillError.self) { try foreign.remove() }
        #expect(FileManager.default.fileExists(atPath: foreign.work))

        // A link in place of the sandbox is not followed.
        let other = DrillID(date: Date(timeIntervalSince1970: 1_760_000_000), sequence: 4)
        let target = try RestoreSandbox.create(in: folder.file("elsewhere"), drillID: other)
        let link = RestoreSandbox(folder: sandboxes, drillID: other)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: target.path)
        #expect(throws: RestoreDrillError.self) { try link.remove() }
        #expect(FileManager.default.fileExists(atPath: target.work))
    }

    @Test func wipeOverwritesAndDeletesOnlyInsideTheSandbox() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let sandbox = try RestoreSandbox.create(in: folder.file("sandboxes"), drillID: id)
        let secret = "\(sandbox.home)/.ssh/id_secret"
        try FileManager.default.createDirectory(atPath: "\(sandbox.home)/.ssh", withIntermediateDirectories: true)
        #expect(
            FileManager.default.createFile(
                atPath: secret, contents: Data("s3cret".utf8), attributes: [.posixPermissions: 0o400]))
        let outside = folder.file("outside.txt")
        #expect(FileManager.default.createFile(atPath: outside, contents: Data("keep".utf8)))
        // Keep a descriptor to the secret's inode: after the wipe, its bytes must be zeros.
        let fd = open(secret, O_RDONLY)
        defer { close(fd) }
        #expect(throws: RestoreDrillError.self) {
            try sandbox.wipe(paths: [secret, outside, "\(sandbox.home)/missing"])
        }
        #expect(!FileManager.default.fileExists(atPath: secret))
        var bytes = [UInt8](repeating: 0xff, count: 6)
        #expect(pread(fd, &bytes, 6, 0) == 6)
        #expect(bytes == [0, 0, 0, 0, 0, 0])
        #expect(FileManager.default.contents(atPath: outside) == Data("keep".utf8))
        try sandbox.wipe(paths: ["\(sandbox.home)/.ssh"])
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.home)/.ssh"))
        try sandbox.remove()
    }

    @Test func canariesReportEveryKindOfChange() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let a = folder.file("a")
        let b = folder.file("b")
        for f in [a, b] { try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true) }
        let canaries = try Canaries.plant(in: [a, b, a])
        #expect(canaries.records.count == 2 * 4)  // per folder: a folder, its two files, a loose file
        #expect(canaries.verify() == [])
        let inA = canaries.records.filter { $0.path.hasPrefix(a + "/") }
        let canaryFolder = try #require(inA.first { $0.isFolder }).path
        let loose = try #require(inA.first { !$0.isFolder && ($0.path as NSString).deletingLastPathComponent == a })
            .path
        let inB = canaries.records.filter { $0.path.hasPrefix(b + "/") && !$0.isFolder }

        try Data("changed".utf8).write(to: URL(fileURLWithPath: loose))
        #expect(FileManager.default.createFile(atPath: "\(canaryFolder)/intruder", contents: Data()))
        try FileManager.default.removeItem(atPath: inB[0].path)
        chmod(inB[1].path, 0o600)
        let changes = canaries.verify()
        #expect(changes.contains { $0.hasPrefix("modified (content") && $0.hasSuffix(loose) })
        #expect(changes.contains("new file in canary folder: \(canaryFolder)/intruder"))
        #expect(changes.contains("deleted: \(inB[0].path)"))
        #expect(changes.contains { $0.contains("mode 644 → 600") && $0.hasSuffix(inB[1].path) })
        #expect(changes.count == 4)

        try canaries.remove()
        #expect(try FileManager.default.contentsOfDirectory(atPath: a).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: b).isEmpty)
    }
}
