import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Verifier

/// A folder with a hostile layout beside a root-only file outside it:
/// `root/a/b/file.txt` (a real file), `root/a/link` → the outside file, `root/jump` → the outside
/// folder, `root/a/plain` (a file used as a folder on the way), `root/fifo`, and the outside
/// folder holding `secret` (0600, unique content).
struct HostileFolder {
    let temp: TempFolder
    let root: AbsolutePath
    let outside: String
    let secretPath: String
    let secret: Data

    init() throws {
        temp = try TempFolder("rd-beneath")
        let fm = FileManager.default
        root = try AbsolutePath(validating: temp.file("root"))
        outside = temp.file("outside")
        try fm.createDirectory(atPath: root.pathString + "/a/b", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
        secret = Data("root-only \(UUID().uuidString)\n".utf8)
        secretPath = outside + "/secret"
        try secret.write(to: URL(fileURLWithPath: secretPath))
        chmod(secretPath, 0o600)
        try Data("inside\n".utf8).write(to: URL(fileURLWithPath: root.pathString + "/a/b/file.txt"))
        try Data("plain\n".utf8).write(to: URL(fileURLWithPath: root.pathString + "/a/plain"))
        try fm.createSymbolicLink(atPath: root.pathString + "/a/link", withDestinationPath: secretPath)
        try fm.createSymbolicLink(atPath: root.pathString + "/jump", withDestinationPath: outside)
        #expect(mkfifo(root.pathString + "/fifo", 0o600) == 0)
    }
}

func rel(_ text: String) -> RelativePath { try! RelativePath(validating: text) }

/// ``BeneathRoot``, in both resolutions: `openat2` (where the kernel has it) and the component walk
/// (forced), on the same hostile folder.
@Suite struct BeneathRootTests {
    static let resolutions: [BeneathRoot.Resolution] = [.openat2, .componentWalk]

    @Test(arguments: resolutions)
    func opensWhatIsReallyThereAndRefusesEveryLink(_ resolution: BeneathRoot.Resolution) throws {
        let folder = try HostileFolder()
        defer { folder.temp.remove() }
        let beneath = try BeneathRoot(folder.root, preferring: resolution)
        if resolution == .componentWalk { #expect(beneath.resolution == .componentWalk) }

        // A real file: content and size come from the descriptor.
        let file = try beneath.openFile(rel("a/b/file.txt")).get()
        #expect(try file.readAll(limit: 100) == Data("inside\n".utf8))
        #expect(file.entry.kind == .file && file.entry.size == 7)

        // The file itself a link: refused as a link, and its lstat facts are the link's own.
        #expect(throws: BeneathRoot.Refusal.wrongKind(at: rel("a/link"), kind: .symbolicLink, wanted: .file)) {
            try beneath.openFile(rel("a/link")).get()
        }
        let link = try beneath.entry(rel("a/link")).get()
        #expect(link.kind == .symbolicLink)
        #expect(link.size == Int64(folder.secretPath.utf8.count), "the link's size is its target's length")
        #expect(try beneath.linkTarget(rel("a/link")).get() == folder.secretPath)

        // A folder on the way a link: every operation stops there, naming it.
        let jump = BeneathRoot.Refusal.symbolicLink(at: rel("jump"))
        #expect(throws: jump) { try beneath.openFile(rel("jump/secret")).get() }
        #expect(throws: jump) { try beneath.entry(rel("jump/secret")).get() }
        #expect(throws: jump) { try beneath.names(in: rel("jump")).get() }
        #expect(throws: jump) { try beneath.linkTarget(rel("jump/secret")).get() }
        #expect(jump.description == "jump is a symbolic link, not followed")
        #expect(jump.isLink)

        // A file on the way, a missing folder, a climb above the folder.
        #expect(throws: BeneathRoot.Refusal.notFolder(at: rel("a/plain"), kind: .file)) {
            try beneath.openFile(rel("a/plain/x")).get()
        }
        #expect(throws: BeneathRoot.Refusal.missing(at: rel("nothing"))) {
            try beneath.openFile(rel("nothing/x")).get()
        }
        #expect(throws: BeneathRoot.Refusal.outside(rel("../outside/secret"))) {
            try beneath.openFile(rel("../outside/secret")).get()
        }

        // Listing: names as they are, links included, never entered.
        #expect(try beneath.names(in: .dot).get().sorted() == ["a", "fifo", "jump"])
        #expect(try beneath.names(in: rel("a")).get().sorted() == ["b", "link", "plain"])
    }

    @Test(.timeLimit(.minutes(1)), arguments: resolutions)
    func fifoIsRefusedWithoutBlocking(_ resolution: BeneathRoot.Resolution) throws {
        let folder = try HostileFolder()
        defer { folder.temp.remove() }
        let beneath = try BeneathRoot(folder.root, preferring: resolution)
        let started = Date()
        #expect(throws: BeneathRoot.Refusal.wrongKind(at: rel("fifo"), kind: .fifo, wanted: .file)) {
            try beneath.openFile(rel("fifo")).get()
        }
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(try beneath.entry(rel("fifo")).get().kind == .fifo)
    }

    @Test func theFolderItselfMustNotBeALink() throws {
        let folder = try HostileFolder()
        defer { folder.temp.remove() }
        let link = try AbsolutePath(validating: folder.temp.file("root-link"))
        try FileManager.default.createSymbolicLink(atPath: link.pathString, withDestinationPath: folder.root.pathString)
        #expect(throws: RestoreDrillError.self) { try BeneathRoot(link) }
    }

    @Test func privateFolderIsNewAndOwnersOnly() throws {
        let folder = try HostileFolder()
        defer { folder.temp.remove() }
        let beneath = try BeneathRoot(folder.root)
        let (made, name) = try beneath.makePrivateFolder(prefix: ".scratch-")
        #expect(name.hasPrefix(".scratch-"))
        let entry = try beneath.entry(rel(name)).get()
        #expect(entry.kind == .directory && entry.mode == 0o700 && entry.owner == getuid())
        let source = try beneath.openFile(rel("a/b/file.txt")).get()
        #expect(try source.copy(into: made, name: "copy") == 7)
        #expect(try beneath.openFile(rel(name + "/copy")).get().entry.mode == 0o600)
        // The copy is made with O_EXCL: an existing name is never written through.
        #expect(throws: RestoreDrillError.self) { try source.copy(into: made, name: "copy") }
        #expect(!beneath.removeEmptyFolder(named: name), "not empty")
        #expect(unlinkat(made.descriptor, "copy", 0) == 0)
        #expect(beneath.removeEmptyFolder(named: name))
        #expect(throws: BeneathRoot.Refusal.missing(at: rel(name))) { try beneath.entry(rel(name)).get() }
    }

    /// The raw `openat2` call with the facility's flags, where the kernel has it (Linux 5.6+ and no
    /// seccomp filter refusing it): a link at any component is `ELOOP`, a way out is `EXDEV`.
    @Test(.enabled(if: BeneathRootTests.openat2Answers(), "openat2(2) is not available on this kernel"))
    func openat2RefusesLinksAtAnyComponentAndWaysOut() throws {
        let folder = try HostileFolder()
        defer { folder.temp.remove() }
        #expect(try BeneathRoot(folder.root).resolution == .openat2)
        let fd = open(folder.root.pathString, O_RDONLY | O_DIRECTORY)
        #expect(fd >= 0)
        defer { close(fd) }
        let good = BeneathRoot.openat2(beneath: fd, "a/b/file.txt", flags: O_RDONLY)
        #expect(good.descriptor >= 0 && good.error == 0)
        if good.descriptor >= 0 { close(good.descriptor) }
        #expect(BeneathRoot.openat2(beneath: fd, "jump/secret", flags: O_RDONLY).error == ELOOP)
        #expect(BeneathRoot.openat2(beneath: fd, "a/link", flags: O_RDONLY).error == ELOOP)
        #expect(BeneathRoot.openat2(beneath: fd, "../outside/secret", flags: O_RDONLY).error == EXDEV)
        #expect(BeneathRoot.openat2(beneath: fd, folder.secretPath, flags: O_RDONLY).error == EXDEV)
        #expect(BeneathRoot.openat2(beneath: fd, "/proc/self/root/etc/hostname", flags: O_RDONLY).error == EXDEV)
    }

    static func openat2Answers() -> Bool {
        #if os(Linux)
            let fd = open("/", O_RDONLY | O_DIRECTORY)
            defer { close(fd) }
            let probe = BeneathRoot.openat2(beneath: fd, ".", flags: O_RDONLY | O_DIRECTORY)
            if probe.descriptor >= 0 { close(probe.descriptor) }
            return probe.descriptor >= 0
        #else
            return false
        #endif
    }
}
