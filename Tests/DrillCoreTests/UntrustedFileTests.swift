import Foundation
import Testing

@testable import DrillCore

/// The one reader of files a hostile party may have put in place: links refused, FIFOs never
/// waited on, a size limit that refuses or truncates, owner and mode conditions on the opened file.
@Suite struct UntrustedFileTests {
    let folder: String

    init() throws {
        let name = "rd-untrusted-\(UUID().uuidString)"
        folder = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ bytes: Int, mode: Int = 0o600) throws -> String {
        let path = folder + "/" + name
        try Data(repeating: 0x61, count: bytes).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
        return path
    }

    @Test func aFileWithinTheLimitIsReadWholeAndALongerOneRefusedOrCut() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let exact = try write("exact", 100)
        #expect(UntrustedFile.read(exact, limit: 100)?.count == 100)
        #expect(UntrustedFile.read(exact, limit: 99) == nil)
        #expect(UntrustedFile.read(exact, limit: 99, overflow: .truncate)?.count == 99)
        let big = try write("big", 200_000)
        #expect(UntrustedFile.read(big, limit: 200_000)?.count == 200_000)
        #expect(UntrustedFile.read(big, limit: 150_000, overflow: .truncate)?.count == 150_000)
        let empty = try write("empty", 0)
        #expect(UntrustedFile.read(empty, limit: 10) == Data())
        #expect(UntrustedFile.read(folder + "/missing", limit: 10) == nil)
    }

    @Test func aLinkAFolderAndAFIFOAreRefusedWithoutWaiting() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let target = try write("target", 10)
        symlink(target, folder + "/link")
        #expect(UntrustedFile.read(folder + "/link", limit: 100) == nil)
        #expect(UntrustedFile.read(folder + "/link", limit: 100, overflow: .truncate) == nil)
        #expect(UntrustedFile.read(folder, limit: 100) == nil)
        #expect(mkfifo(folder + "/fifo", 0o600) == 0)
        // A plain open of a FIFO with no writer blocks forever; this returns at once.
        #expect(UntrustedFile.read(folder + "/fifo", limit: 100, overflow: .truncate) == nil)
    }

    @Test func ownerAndModeAreCheckedOnTheOpenedFile() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let own = try write("own", 10, mode: 0o600)
        let both: UntrustedFile.Requirements = [.ownedByEffectiveUser, .notWritableByOthers]
        #expect(UntrustedFile.read(own, limit: 100, requirements: both)?.count == 10)
        let shared = try write("shared", 10, mode: 0o620)
        #expect(UntrustedFile.read(shared, limit: 100, requirements: [.notWritableByOthers]) == nil)
        #expect(UntrustedFile.read(shared, limit: 100, requirements: [.ownedByEffectiveUser])?.count == 10)
        if geteuid() == 0 {
            let other = try write("other", 10)
            #expect(chown(other, 65534, 65534) == 0)
            #expect(UntrustedFile.read(other, limit: 100, requirements: [.ownedByEffectiveUser]) == nil)
            #expect(UntrustedFile.read(other, limit: 100)?.count == 10)
        }
    }

    @Test func contentsOfAnOpenDescriptorStopAtTheLimit() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = try write("open", 1000)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        #expect(UntrustedFile.contents(of: fd, limit: 600, overflow: .truncate)?.count == 600)
        #expect(UntrustedFile.contents(of: fd, limit: 600, overflow: .truncate)?.count == 400)
        #expect(lseek(fd, 0, SEEK_SET) == 0)
        #expect(UntrustedFile.contents(of: fd, limit: 999, overflow: .refuse) == nil)
        #expect(lseek(fd, 0, SEEK_SET) == 0)
        #expect(UntrustedFile.contents(of: fd, limit: 1000, overflow: .refuse)?.count == 1000)
    }
}
