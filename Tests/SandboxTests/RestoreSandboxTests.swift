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
        let sandboxes = try AbsolutePath(validating: folder.file("sandboxes"))
        let sandbox = try RestoreSandbox.create(in: sandboxes, drillID: id)
        #expect(sandbox.path == sandboxes.resolvingSymlinks().appending(component: id.description))
        #expect(sandbox.home.pathString == "\(sandbox.path)/home" && sandbox.work.pathString == "\(sandbox.path)/work")
        for path in [sandbox.path, sandbox.home, sandbox.work] { #expect(currentMode(path.pathString) == 0o700) }
        #expect(FileManager.default.fileExists(atPath: "\(sandbox.path)/\(RestoreSandbox.markerName)"))
        // A second sandbox for the same drill is refused, with its own case (a drill takes the next id).
        #expect(
            throws: RestoreDrillError.alreadyExists(
                path: sandbox.path.pathString, message: "cannot create sandbox: already exists")
        ) {
            _ = try RestoreSandbox.create(in: sandboxes, drillID: id)
        }

        // A tree the replay made read-only is still removed.
        try FileManager.default.createDirectory(atPath: "\(sandbox.work)/a/b", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: "\(sandbox.work)/a/b/f", contents: Data("x".utf8)))
        chmod("\(sandbox.work)/a/b", 0o500)
        chmod("\(sandbox.work)/a", 0o500)
        try sandbox.remove()
        #expect(!FileManager.default.fileExists(atPath: sandbox.path.pathString))
        #expect(FileManager.default.fileExists(atPath: sandboxes.pathString))
        try sandbox.remove()  // already gone: not an error
    }

    @Test func removeRefusesAFolderWithoutItsMarker() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let sandboxes = try AbsolutePath(validating: folder.file("sandboxes"))
        // A folder with the right name that this type did not make.
        let foreign = RestoreSandbox(folder: sandboxes, drillID: id)
        try FileManager.default.createDirectory(atPath: foreign.work.pathString, withIntermediateDirectories: true)
        #expect(throws: RestoreDrillError.self) { try foreign.remove() }
        #expect(FileManager.default.fileExists(atPath: foreign.work.pathString))

        // A marker naming another drill is refused too.
        #expect(
            FileManager.default.createFile(
                atPath: "\(foreign.path)/\(RestoreSandbox.markerName)", contents: Data("drill_20990101_000000\n".utf8)))
        #expect(throws: RestoreDrillError.self) { try foreign.remove() }
        #expect(FileManager.default.fileExists(atPath: foreign.work.pathString))

        // A link in place of the sandbox is not followed.
        let other = DrillID(date: Date(timeIntervalSince1970: 1_760_000_000), sequence: 4)
        let target = try RestoreSandbox.create(in: AbsolutePath(validating: folder.file("elsewhere")), drillID: other)
        let link = RestoreSandbox(folder: sandboxes, drillID: other)
        try FileManager.default.createSymbolicLink(
            atPath: link.path.pathString, withDestinationPath: target.path.pathString)
        #expect(throws: RestoreDrillError.self) { try link.remove() }
        #expect(FileManager.default.fileExists(atPath: target.work.pathString))
    }

    @Test func wipeOverwritesAndDeletesOnlyInsideTheSandbox() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let sandbox = try RestoreSandbox.create(in: AbsolutePath(validating: folder.file("sandboxes")), drillID: id)
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
            try sandbox.wipe(
                paths: [secret, outside, "\(sandbox.home)/missing"].map { try AbsolutePath(validating: $0) })
        }
        #expect(!FileManager.default.fileExists(atPath: secret))
        var bytes = [UInt8](repeating: 0xff, count: 6)
        #expect(pread(fd, &bytes, 6, 0) == 6)
        #expect(bytes == [0, 0, 0, 0, 0, 0])
        #expect(FileManager.default.contents(atPath: outside) == Data("keep".utf8))
        try sandbox.wipe(paths: [sandbox.home.appending(component: ".ssh")])
        #expect(!FileManager.default.fileExists(atPath: "\(sandbox.home)/.ssh"))
        try sandbox.remove()
    }

    /// The wipe resolves links (realpath) on purpose: a path that is inside the sandbox as written
    /// but leads out of it through a link is refused, and the file outside keeps its bytes.
    @Test func wipeRefusesAPathThatLeavesTheSandboxThroughALink() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let sandbox = try RestoreSandbox.create(in: AbsolutePath(validating: folder.file("sandboxes")), drillID: id)
        let outsideFolder = folder.file("outside")
        try FileManager.default.createDirectory(atPath: outsideFolder, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: outsideFolder + "/secret", contents: Data("keep".utf8)))
        let link = sandbox.home.appending(component: "link")
        try FileManager.default.createSymbolicLink(atPath: link.pathString, withDestinationPath: outsideFolder)
        #expect(throws: RestoreDrillError.self) { try sandbox.wipe(paths: [link.appending(component: "secret")]) }
        #expect(FileManager.default.contents(atPath: outsideFolder + "/secret") == Data("keep".utf8))
        try sandbox.remove()
    }

    @Test func canariesReportEveryKindOfChange() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let a = folder.file("a")
        let b = folder.file("b")
        for f in [a, b] { try FileManager.default.createDirectory(atPath: f, withIntermediateDirectories: true) }
        let canaries = try Canaries.plant(in: [a, b, a].map { try AbsolutePath(validating: $0) })
        #expect(canaries.records.count == 2 * 4)  // per folder: a folder, its two files, a loose file
        #expect(canaries.verify() == [])
        let inA = canaries.records.filter { $0.path.pathString.hasPrefix(a + "/") }
        let canaryFolder = try #require(inA.first { $0.isFolder }).path.pathString
        let loose = try #require(inA.first { !$0.isFolder && $0.path.parentDirectory.pathString == a }).path.pathString
        let inB = canaries.records.filter { $0.path.pathString.hasPrefix(b + "/") && !$0.isFolder }.map(
            \.path.pathString)

        try Data("changed".utf8).write(to: URL(fileURLWithPath: loose))
        #expect(FileManager.default.createFile(atPath: "\(canaryFolder)/intruder", contents: Data()))
        try FileManager.default.removeItem(atPath: inB[0])
        chmod(inB[1], 0o600)
        let changes = canaries.verify()
        #expect(changes.contains { $0.hasPrefix("modified (content") && $0.hasSuffix(loose) })
        #expect(changes.contains("new file in canary folder: \(canaryFolder)/intruder"))
        #expect(changes.contains("deleted: \(inB[0])"))
        #expect(changes.contains { $0.contains("mode 644 → 600") && $0.hasSuffix(inB[1]) })
        #expect(changes.count == 4)

        try canaries.remove()
        #expect(try FileManager.default.contentsOfDirectory(atPath: a).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: b).isEmpty)
    }
}
