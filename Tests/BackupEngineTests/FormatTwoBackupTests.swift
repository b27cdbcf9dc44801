import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine
@testable import Destination

/// The backup engine writing format 2 (issue 15): shared objects, code packs, gzip database chunks,
/// read back with real tools (`sha256sum`, `tar`, `gzip`).
@Suite struct FormatTwoBackupTests {
    /// Every object of the destination, by relative path (`ab/<sha256>`).
    static func objectFiles(_ destination: String) -> Set<String> {
        let folder = destination + "/objects"
        var out = Set<String>()
        for fan in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where fan.count == 2 {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(fan)")) ?? [] {
                out.insert("\(fan)/\(name)")
            }
        }
        return out
    }

    @Test func aFormatTwoSetIsItsManifestScriptAndSumsAndEveryObjectRestoresWithStandardTools() async throws {
        let ws = try Workspace()
        defer { ws.close() }
        ws.config.setFormat = 2
        let outcome = try await ws.backup()
        let m = outcome.manifest
        #expect(m.formatVersion == 2 && m.status == .complete)
        let inSet = try FileManager.default.contentsOfDirectory(atPath: outcome.setPath).sorted()
        #expect(inSet == ["SHA256SUMS", "manifest.json", "restore_maia.sh"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.destination).sorted().contains("objects"))

        // sha256sum -c, from the set folder, checks every object and the script.
        let check = try Shell.run("/usr/bin/sha256sum", ["-c", "--quiet", "SHA256SUMS"], cwd: outcome.setPath)
        #expect(check.code == 0, "\(check.out)\(check.err)")
        let sums = try String(contentsOfFile: outcome.setPath + "/SHA256SUMS", encoding: .utf8)
        #expect(sums.split(separator: "\n").count == m.objectRefs().count + 1)
        #expect(Self.objectFiles(ws.destination) == Set(m.objectRefs().map { "\($0.digest.fanOut)/\($0.digest.hex)" }))

        // The packs, extracted in order with tar, give every code path the manifest lists.
        let packs = m.artifacts.filter { $0.kind == .pack }
        #expect(packs.last?.path == ObjectSetWriter.foldersPack && packs.count >= 2)
        #expect(!m.artifacts.contains { $0.kind == .archive })
        let out = ws.folder.path + "/extracted"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for pack in packs {
            let object = outcome.setPath + "/" + m.storedPath(of: pack)!
            let tar = try Shell.run("/usr/bin/tar", ["-xpzf", object, "-C", out])
            #expect(tar.code == 0, "\(pack.path): \(tar.err)")
        }
        for file in m.files where file.component == .code && file.type == .file {
            let got = try SHA256Digest.file(at: out + "/" + file.path)
            #expect(got.sha256 == file.sha256, "\(file.path)")
        }
        var st = stat()
        #expect(stat(out + "/empty-folder", &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR)

        // Each database: its gzip chunks, decompressed in order by gzip, are the copy the manifest hashed.
        #expect(m.databases.count >= 2)
        for db in m.databases {
            #expect(db.artifact == nil && !db.chunks.isEmpty)
            let objects = db.chunks.map { outcome.setPath + "/" + m.storedPath(of: m.artifact($0)!)! }
            #expect(db.chunks.allSatisfy { m.artifact($0)?.compression == .gzip })
            let whole = ws.folder.path + "/whole.db"
            let gzip = try Shell.run("/bin/sh", ["-c", "gzip -dc \"$@\" > '\(whole)'", "sh"] + objects)
            #expect(gzip.code == 0, "\(gzip.err)")
            let got = try SHA256Digest.file(at: whole)
            #expect(got.sha256 == db.sha256 && got.size == db.size, "\(db.path)")
            #expect(
                db.chunks.count
                    == Int((db.size + Int64(ObjectSetWriter.chunkSize) - 1) / Int64(ObjectSetWriter.chunkSize)))
        }
        // Objects are private, as the sets are.
        for ref in m.objectRefs() {
            #expect(stat("\(ws.destination)/objects/\(ref.digest.fanOut)/\(ref.digest.hex)", &st) == 0)
            #expect(st.st_mode & 0o777 == 0o600)
        }
    }

    @Test func anUnchangedWorkspaceReusesEveryPackAndChunkAndADamagedObjectIsWrittenAgain() async throws {
        let ws = try Workspace(live: false)
        defer { ws.close() }
        ws.config.setFormat = 2
        let first = try await ws.backup(at: Date(timeIntervalSince1970: 1_800_000_000))
        let before = Self.objectFiles(ws.destination)
        let firstContent = first.manifest.artifacts.filter { $0.kind == .pack || $0.kind == .chunk }
        // Bit rot in one chunk object shared by both sets: cut short.
        let victim = first.manifest.artifacts.first { $0.kind == .chunk }!
        let victimPath = first.setPath + "/" + first.manifest.storedPath(of: victim)!
        #expect(truncate(victimPath, 10) == 0)

        let second = try await ws.backup(at: Date(timeIntervalSince1970: 1_800_086_400))
        let secondContent = second.manifest.artifacts.filter { $0.kind == .pack || $0.kind == .chunk }
        #expect(secondContent.map(\.sha256) == firstContent.map(\.sha256))
        // Nothing new but what differs by design: no pack or chunk object was added.
        let added = Self.objectFiles(ws.destination).subtracting(before)
        let addedArtifacts = second.manifest.artifacts.filter { a in added.contains { $0.hasSuffix(a.sha256) } }
        #expect(!addedArtifacts.contains { $0.kind == .pack || $0.kind == .chunk }, "\(addedArtifacts.map(\.path))")
        // The damaged object was written again from the source, so both sets are whole again.
        let repaired = try SHA256Digest.file(at: victimPath)
        #expect(repaired.sha256 == victim.sha256 && repaired.size == victim.size)
        for set in [first.setPath, second.setPath] {
            let check = try Shell.run("/usr/bin/sha256sum", ["-c", "--quiet", "SHA256SUMS"], cwd: set)
            #expect(check.code == 0, "\(check.out)\(check.err)")
        }
    }
}

/// Format 2's files cache (``ObjectReuseCache``): what it reuses, and when it is not trusted.
@Suite struct ObjectReuseCacheTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ line: String) { lock.withLock { lines.append(line) } }
        var all: [String] { lock.withLock { lines } }
    }

    /// A backup of `ws` with the files cache in `cache`, returning the outcome and its progress lines.
    static func backup(
        _ ws: Workspace, cache: String, at date: Date, ignoring: Bool = false
    ) async throws -> (BackupOutcome, [String]) {
        let lines = Lines()
        var engine = BackupEngine(config: ws.config, clock: FixedClock(date), runner: ws.runner) { lines.add($0) }
        engine.objectCache = cache
        engine.ignoreObjectCache = ignoring
        return (try await engine.run(), lines.all)
    }

    static func packLine(_ lines: [String]) -> String {
        lines.first { $0.contains("reused from the files cache, ") } ?? ""
    }

    @Test func unchangedPacksAndDatabasesAreReusedAndAnEditRewritesOnlyItsPack() async throws {
        let ws = try Workspace(live: false)
        defer { ws.close() }
        ws.config.setFormat = 2
        let cache = ws.folder.path + "/cache"
        // Files made just now are inside the racy window (never recorded): wait it out once.
        try await Task.sleep(nanoseconds: 2_200_000_000)
        let (first, firstLines) = try await Self.backup(
            ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_000_000))
        let packs = first.manifest.artifacts.filter { $0.kind == .pack }
        #expect(Self.packLine(firstLines).hasPrefix("code: \(packs.count) packs, 0 of them reused"))

        let (second, secondLines) = try await Self.backup(
            ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_086_400))
        #expect(Self.packLine(secondLines).hasPrefix("code: \(packs.count) packs, \(packs.count) of them reused"))
        #expect(second.manifest.files == first.manifest.files)
        #expect(second.manifest.databases == first.manifest.databases)
        let dbReused = secondLines.filter { $0.hasSuffix("unchanged: reused from the files cache") }
        #expect(dbReused.count == first.manifest.databases.count)

        // One edited file: its pack is written again, every other is reused.
        try ws.write("src/main.py", "print('changed')\n")
        try await Task.sleep(nanoseconds: 2_200_000_000)
        let (third, thirdLines) = try await Self.backup(
            ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_172_800))
        #expect(Self.packLine(thirdLines).hasPrefix("code: \(packs.count) packs, \(packs.count - 1) of them reused"))
        let main = third.manifest.files.first { $0.path == "src/main.py" }
        #expect(main?.sha256 == SHA256Digest.hex(of: Data("print('changed')\n".utf8)))

        // --no-cache trusts nothing; a missing pack object is never reused (written again).
        let (fourth, fourthLines) = try await Self.backup(
            ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_259_200), ignoring: true)
        #expect(Self.packLine(fourthLines).hasPrefix("code: \(packs.count) packs, 0 of them reused"))
        let victim = fourth.manifest.artifacts.first { $0.kind == .pack }!
        let victimPath = fourth.setPath + "/" + fourth.manifest.storedPath(of: victim)!
        #expect(unlink(victimPath) == 0)
        let (_, fifthLines) = try await Self.backup(ws, cache: cache, at: Date(timeIntervalSince1970: 1_800_345_600))
        #expect(Self.packLine(fifthLines).hasPrefix("code: \(packs.count) packs, \(packs.count - 1) of them reused"))
        #expect(FileManager.default.fileExists(atPath: victimPath))
    }

    @Test func aCacheFromTheFutureOrOfAnotherVersionIsIgnoredAndRacyFilesAreNotRecorded() throws {
        let folder = try TempFolder("rd-cache")
        defer { folder.remove() }
        let now = Date()
        let cache = ObjectReuseCache(folder: folder.path, destination: "/d", start: now)
        let pack = ObjectReuseCache.Pack(
            object: String(repeating: "a", count: 64), size: 1, md5: String(repeating: "b", count: 32),
            quickXorHash: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", files: [], sqliteFiles: [], warnings: [], fileCount: 0,
            byteCount: 0)
        cache.record(pack: pack, key: "settled", newest: now.timeIntervalSince1970 - 10)
        cache.record(pack: pack, key: "racy", newest: now.timeIntervalSince1970 - 1)
        let store = ObjectStore(destination: try AbsolutePath(validating: folder.path))
        cache.save(store: store)
        let data = try Data(contentsOf: URL(fileURLWithPath: cache.file!))
        var contents = try JSONDecoder().decode(ObjectReuseCache.Contents.self, from: data)
        #expect(Set(contents.packs.keys) == ["settled"])

        // Written an hour from now (the clock went back since): nothing of it is trusted.
        contents.writtenAt = now.timeIntervalSince1970 + 3600
        try JSONEncoder().encode(contents).write(to: URL(fileURLWithPath: cache.file!))
        try "x".write(toFile: folder.path + "/x", atomically: false, encoding: .utf8)
        _ = try store.put(contentsOf: folder.path + "/x", existing: .digest)
        let digest = SHA256Digest.hex(of: Data("x".utf8))
        contents.packs["settled"]?.object = digest
        contents.identities[digest] = store.identity(of: ObjectDigest(digest)!)
        try JSONEncoder().encode(contents).write(to: URL(fileURLWithPath: cache.file!))
        #expect(
            ObjectReuseCache(folder: folder.path, destination: "/d", start: now).pack("settled", store: store) == nil)
        contents.writtenAt = now.timeIntervalSince1970 - 60
        try JSONEncoder().encode(contents).write(to: URL(fileURLWithPath: cache.file!))
        #expect(
            ObjectReuseCache(folder: folder.path, destination: "/d", start: now).pack("settled", store: store) != nil)
        // The object replaced by other bytes of its size (a new file renamed over it, as a sync
        // client or someone with write access would): no longer vouched for.
        let object = "\(folder.path)/objects/\(digest.prefix(2))/\(digest)"
        try "y".write(toFile: object + ".new", atomically: false, encoding: .utf8)
        #expect(rename(object + ".new", object) == 0)
        #expect(
            ObjectReuseCache(folder: folder.path, destination: "/d", start: now).pack("settled", store: store) == nil)
        // Another destination has another file; another version is ignored.
        #expect(
            ObjectReuseCache(folder: folder.path, destination: "/e", start: now).pack("settled", store: store) == nil)
        contents.version = 99
        try JSONEncoder().encode(contents).write(to: URL(fileURLWithPath: cache.file!))
        #expect(
            ObjectReuseCache(folder: folder.path, destination: "/d", start: now).pack("settled", store: store) == nil)
    }
}
