import Destination
import DrillCore
import Foundation
import TestSupport
import Testing

/// A destination folder with an object store in it, and files outside it for hostile plants.
struct ObjectsFixture {
    let folder: TempFolder
    let destination: AbsolutePath
    let store: ObjectStore

    init() throws {
        folder = try TempFolder("rd-objects")
        try FileManager.default.createDirectory(atPath: folder.file("dest"), withIntermediateDirectories: false)
        destination = try AbsolutePath(validating: folder.file("dest"))
        store = ObjectStore(destination: destination)
    }

    /// The absolute path of `relative` inside the destination.
    func path(_ relative: String) -> String { destination.pathString + "/" + relative }

    /// The absolute path of the object `digest`.
    func objectPath(_ digest: ObjectDigest) -> String { path("objects/\(digest.fanOut)/\(digest.hex)") }

    /// `lstat` of `path`; nil when nothing is there.
    func status(_ path: String) -> stat? {
        var info = stat()
        return lstat(path, &info) == 0 ? info : nil
    }

    func remove() { folder.remove() }
}

/// `count` bytes of a fixed pseudo-random sequence (a 64-bit LCG), so objects span several 1 MiB
/// blocks and no two tests' objects collide by accident.
func sampleBytes(_ count: Int, seed: UInt64) -> Data {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
    }
    return Data(bytes)
}

func relative(_ text: String) -> RelativePath { try! RelativePath(validating: text) }

@Suite struct ObjectStoreTests {
    /// The same content put three ways is stored once: the first put writes `objects/<ab>/<hex>`
    /// named by its SHA-256 (FIPS 180-4's "abc" vector, and what `sha256sum` prints for the
    /// file), private (0600 in 0700 folders); later puts write nothing and leave no temporary.
    @Test(.needsTool("sha256sum", package: "coreutils"))
    func theSameContentIsStoredOnce() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let abc = try #require(
            ObjectDigest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        let first = try f.store.put(Data("abc".utf8), existing: .size)
        #expect(first == StoredObject(ref: ObjectRef(digest: abc, size: 3), outcome: .stored))
        #expect(first.wroteObject)
        let object = f.objectPath(abc)
        #expect(f.store.relativePath(of: abc) == relative("objects/ba/\(abc.hex)"))
        #expect(FileManager.default.contents(atPath: object) == Data("abc".utf8))
        let sha256sum = try requireTool("sha256sum", package: "coreutils")
        let run = try runTool(sha256sum, [object])
        #expect(run.output == "\(abc.hex)  \(object)\n")
        #expect((f.status(object)?.st_mode ?? 0) & 0o7777 == 0o600)
        #expect((f.status(f.path("objects/ba"))?.st_mode ?? 0) & 0o7777 == 0o700)
        #expect((f.status(f.path("objects"))?.st_mode ?? 0) & 0o7777 == 0o700)
        let inode = f.status(object)?.st_ino

        let again = try f.store.put(Data("abc".utf8), existing: .digest)
        #expect(again == StoredObject(ref: first.ref, outcome: .alreadyPresent))
        #expect(!again.wroteObject)
        try f.folder.write("abc", "source")
        let fromFile = try f.store.put(contentsOf: f.folder.file("source"), existing: .size)
        #expect(fromFile == StoredObject(ref: first.ref, outcome: .alreadyPresent))
        let writer = try f.store.makeWriter()
        try writer.write(Data("a".utf8))
        try writer.write(Data("bc".utf8))
        #expect(try writer.finish(existing: .size) == StoredObject(ref: first.ref, outcome: .alreadyPresent))

        #expect(f.status(object)?.st_ino == inode)
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.path("objects")).sorted() == ["ba"])
        let inventory = try f.store.inventory()
        #expect(inventory.objects == [abc: 3])
        #expect(inventory.otherBytes == 0)
        #expect(try f.store.totalBytes() == 3)
        #expect(f.store.size(of: abc) == 3)
        #expect(f.store.verify(first.ref) == .ok)
    }

    /// Content larger than a block streams through the writer and through a file path: 5 MiB + 3
    /// bytes stored once, named by its digest; a discarded writer leaves nothing.
    @Test func largeContentStreamsThroughTheWriter() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let data = sampleBytes(5 << 20 + 3, seed: 1)
        let expected = ObjectRef(of: data)
        let writer = try f.store.makeWriter()
        var offset = 0
        while offset < data.count {
            let end = min(offset + 700_001, data.count)
            try writer.write(data[offset..<end])
            offset = end
        }
        #expect(writer.size == Int64(data.count))
        #expect(try writer.finish(existing: .size) == StoredObject(ref: expected, outcome: .stored))
        #expect(FileManager.default.contents(atPath: f.objectPath(expected.digest)) == data)

        let other = sampleBytes(3 << 20, seed: 2)
        try other.write(to: URL(fileURLWithPath: f.folder.file("chunk")))
        let stored = try f.store.put(contentsOf: f.folder.file("chunk"), existing: .digest)
        #expect(stored == StoredObject(ref: ObjectRef(of: other), outcome: .stored))
        #expect(f.store.verify(stored.ref) == .ok)

        let discarded = try f.store.makeWriter()
        try discarded.write(Data("never placed".utf8))
        let temporary = f.path("objects/\(discarded.temporaryName)")
        #expect(f.status(temporary) != nil)
        discarded.discard()
        #expect(f.status(temporary) == nil)
        #expect(try f.store.inventory().objects.count == 2)
        #expect(try f.store.inventory().otherBytes == 0)
    }

    /// One flipped bit: the size still matches, so reuse without hashing accepts the object (the
    /// rule when a files cache vouches for it) and a put that checks sizes only keeps it; verify
    /// and reuse with hashing name the digest of what is there; a put that checks digests (or is
    /// told to replace) writes the good bytes over it.
    @Test func aFlippedBitIsFoundAndPutRepairsIt() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let data = sampleBytes(2 << 20 + 17, seed: 3)
        let ref = try f.store.put(data, existing: .size).ref
        let object = f.objectPath(ref.digest)
        var damaged = data
        damaged[1_500_000] ^= 0x10
        let fd = open(object, O_WRONLY)
        #expect(fd >= 0)
        _ = damaged[1_500_000..<1_500_001].withUnsafeBytes { pwrite(fd, $0.baseAddress, 1, 1_500_000) }
        close(fd)
        let actual = ObjectDigest(of: damaged)

        #expect(f.store.verify(ref) == .wrongDigest(actual: actual))
        #expect(f.store.verify(ref).isDamaged)
        #expect(f.store.reuse(ref, verifyHash: true) == .wrongDigest(actual: actual))
        #expect(f.store.reuse(ref, verifyHash: false) == .ok)
        #expect(try f.store.put(data, existing: .size).outcome == .alreadyPresent)
        #expect(FileManager.default.contents(atPath: object) == damaged)

        let repaired = try f.store.put(data, existing: .digest)
        #expect(repaired == StoredObject(ref: ref, outcome: .replaced(.wrongDigest(actual: actual))))
        #expect(f.store.verify(ref) == .ok)
        #expect(FileManager.default.contents(atPath: object) == data)

        // The same damage repaired from a file, told to replace (what a caller does after reuse
        // said the object is damaged): no digest read first.
        _ = damaged[1_500_000..<1_500_001].withUnsafeBytes { bytes in
            let again = open(object, O_WRONLY)
            defer { close(again) }
            return pwrite(again, bytes.baseAddress, 1, 1_500_000)
        }
        #expect(f.store.verify(ref) == .wrongDigest(actual: actual))
        try data.write(to: URL(fileURLWithPath: f.folder.file("source")))
        let replaced = try f.store.put(contentsOf: f.folder.file("source"), existing: .replace)
        #expect(replaced == StoredObject(ref: ref, outcome: .replaced(.ok)))
        #expect(f.store.verify(ref) == .ok)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: f.path("objects")).filter {
                $0.hasPrefix(".tmp-")
            }.isEmpty)
    }

    /// A truncated object fails reuse from its size alone: the answer comes without reading it.
    /// Shown with an object recorded as 16 GiB + 1 whose file is a sparse 16 GiB: hashing it would
    /// take over 10 s at the 1.5 GB/s SHA-256 runs here, and reuse with hashing answers in well
    /// under 2 s.
    @Test func aTruncatedObjectFailsReuseWithoutHashing() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let data = sampleBytes(100_000, seed: 4)
        let ref = try f.store.put(data, existing: .size).ref
        #expect(truncate(f.objectPath(ref.digest), 60_000) == 0)
        #expect(f.store.reuse(ref, verifyHash: false) == .wrongSize(actual: 60_000))
        #expect(f.store.reuse(ref, verifyHash: true) == .wrongSize(actual: 60_000))
        #expect(f.store.verify(ref) == .wrongSize(actual: 60_000))
        #expect(try f.store.put(data, existing: .size).outcome == .replaced(.wrongSize(actual: 60_000)))
        #expect(f.store.verify(ref) == .ok)

        let huge: Int64 = 16 << 30
        let claimed = ObjectRef(digest: ObjectDigest(of: Data("huge".utf8)), size: huge + 1)
        let hugePath = f.objectPath(claimed.digest)
        try FileManager.default.createDirectory(
            atPath: (hugePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: hugePath, contents: nil))
        #expect(truncate(hugePath, off_t(huge)) == 0)
        let clock = ContinuousClock()
        var state = ObjectState.ok
        let elapsed = clock.measure { state = f.store.reuse(claimed, verifyHash: true) }
        #expect(state == .wrongSize(actual: huge))
        #expect(elapsed < .seconds(2), "reuse took \(elapsed): it read the object")
        #expect(f.store.verify(claimed) == .wrongSize(actual: huge))
        #expect(
            f.store.reuse(ObjectRef(digest: claimed.digest, size: 5), verifyHash: false) == .wrongSize(actual: huge))
    }

    /// A link planted at an object's path, pointing at a 0600 file outside whose content has
    /// exactly the object's digest and size: followed, it would pass. It is reported as a link
    /// and never followed (no size, no digest of the file outside), and a put replaces the link
    /// itself, leaving the file outside as it was.
    @Test func aLinkAtAnObjectIsDamagedAndNeverFollowed() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let secret = Data("the host's private key\n".utf8)
        let outside = f.folder.file("private-key")
        #expect(
            FileManager.default.createFile(atPath: outside, contents: secret, attributes: [.posixPermissions: 0o600]))
        let ref = ObjectRef(of: secret)
        let object = f.objectPath(ref.digest)
        try FileManager.default.createDirectory(
            atPath: (object as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(symlink(outside, object) == 0)

        let link = ObjectState.notRegularFile(at: f.store.relativePath(of: ref.digest), kind: .symbolicLink)
        #expect(f.store.verify(ref) == link)
        #expect(f.store.reuse(ref, verifyHash: true) == link)
        #expect(f.store.reuse(ref, verifyHash: false) == link)
        #expect(f.store.size(of: ref.digest) == nil)
        #expect(try f.store.inventory().objects.isEmpty)
        #expect("\(link)" == "objects/\(ref.digest.fanOut)/\(ref.digest.hex) is a symbolic link, not followed")

        let before = try #require(f.status(outside))
        #expect(try f.store.put(secret, existing: .size) == StoredObject(ref: ref, outcome: .replaced(link)))
        #expect(f.status(object).map { $0.st_mode & S_IFMT } == S_IFREG)
        #expect(f.store.verify(ref) == .ok)
        let after = try #require(f.status(outside))
        #expect(after.st_ino == before.st_ino && after.st_mode == before.st_mode)
        #expect(FileManager.default.contents(atPath: outside) == secret)
    }

    /// A link in place of a fan-out folder, into a folder outside that holds a matching object,
    /// and a link in place of `objects` itself: both reported at the component that is the link,
    /// never followed. A put replaces a fan-out link with a real folder and writes nothing into
    /// the folder outside; `objects` as a link is refused for writing and for garbage collection.
    @Test func aLinkOnTheWayToAnObjectIsNeverFollowed() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let content = Data("planted\n".utf8)
        let ref = ObjectRef(of: content)
        let elsewhere = f.folder.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: elsewhere + "/" + ref.digest.hex, contents: content))
        try FileManager.default.createDirectory(atPath: f.path("objects"), withIntermediateDirectories: true)
        #expect(symlink(elsewhere, f.path("objects/\(ref.digest.fanOut)")) == 0)

        let linked = ObjectState.notRegularFile(at: relative("objects/\(ref.digest.fanOut)"), kind: .symbolicLink)
        #expect(f.store.verify(ref) == linked)
        #expect(f.store.reuse(ref, verifyHash: false) == linked)
        #expect(f.store.size(of: ref.digest) == nil)
        #expect(try f.store.put(content, existing: .size) == StoredObject(ref: ref, outcome: .replaced(linked)))
        #expect(f.status(f.path("objects/\(ref.digest.fanOut)")).map { $0.st_mode & S_IFMT } == S_IFDIR)
        #expect(f.store.verify(ref) == .ok)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == [ref.digest.hex])

        // `objects` itself a link to a folder laid out like a store.
        let other = try ObjectsFixture()
        defer { other.remove() }
        #expect(symlink(f.path("objects"), other.path("objects")) == 0)
        let whole = ObjectState.notRegularFile(at: relative("objects"), kind: .symbolicLink)
        #expect(other.store.verify(ref) == whole)
        #expect(other.store.reuse(ref, verifyHash: false) == whole)
        #expect(throws: RestoreDrillError.self) { try other.store.put(content, existing: .size) }
        #expect(throws: RestoreDrillError.self) {
            try other.store.collectGarbage(referenced: [], dryRun: false, now: Date())
        }
        #expect(throws: RestoreDrillError.self) { try other.store.inventory() }
        #expect(f.store.verify(ref) == .ok)
    }

    /// A FIFO at an object's path is damaged and answered at once (never opened, so it cannot
    /// block); a folder there (holding a link to a file outside) is damaged too, and a put
    /// removes it through descriptors and puts the object in its place, the file outside intact.
    @Test func aFIFOOrAFolderAtAnObjectIsDamaged() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let fifoContent = Data("fifo\n".utf8)
        let fifoRef = ObjectRef(of: fifoContent)
        let fifo = f.objectPath(fifoRef.digest)
        try FileManager.default.createDirectory(
            atPath: (fifo as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(mkfifo(fifo, 0o600) == 0)
        let isFIFO = ObjectState.notRegularFile(at: f.store.relativePath(of: fifoRef.digest), kind: .fifo)
        #expect(f.store.verify(fifoRef) == isFIFO)
        #expect(f.store.reuse(fifoRef, verifyHash: false) == isFIFO)
        #expect(try f.store.put(fifoContent, existing: .digest).outcome == .replaced(isFIFO))
        #expect(f.store.verify(fifoRef) == .ok)

        let folderContent = Data("folder\n".utf8)
        let folderRef = ObjectRef(of: folderContent)
        let planted = f.objectPath(folderRef.digest)
        try FileManager.default.createDirectory(atPath: planted + "/inner", withIntermediateDirectories: true)
        let outside = f.folder.file("keep-me")
        #expect(FileManager.default.createFile(atPath: outside, contents: Data("outside\n".utf8)))
        #expect(symlink(outside, planted + "/inner/link") == 0)
        #expect(symlink(f.folder.path, planted + "/up") == 0)
        let isFolder = ObjectState.notRegularFile(at: f.store.relativePath(of: folderRef.digest), kind: .directory)
        #expect(f.store.verify(folderRef) == isFolder)
        #expect(try f.store.put(folderContent, existing: .size).outcome == .replaced(isFolder))
        #expect(f.store.verify(folderRef) == .ok)
        #expect(FileManager.default.contents(atPath: outside) == Data("outside\n".utf8))
        #expect(f.status(f.folder.path).map { $0.st_mode & S_IFMT } == S_IFDIR)
    }

    /// Missing objects are missing, not damaged, with or without an `objects/` folder.
    @Test func aMissingObjectIsMissing() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let ref = ObjectRef(of: Data("absent".utf8))
        #expect(f.store.verify(ref) == .missing)
        #expect(!f.store.verify(ref).isDamaged)
        #expect(try f.store.inventory() == ObjectInventory())
        #expect(try f.store.collectGarbage(referenced: [], dryRun: false, now: Date()).removed.isEmpty)
        _ = try f.store.put(Data("present".utf8), existing: .size)
        #expect(f.store.reuse(ref, verifyHash: true) == .missing)
        #expect(f.store.size(of: ref.digest) == nil)
    }

    /// Garbage collection keeps referenced objects and young temporaries, removes unreferenced
    /// objects (a link among them, removed as a link) and temporaries a day old, leaves what is no
    /// name of the store, and touches nothing outside `objects/`. A dry run says the same and
    /// removes nothing.
    @Test func garbageCollectionRemovesOnlyUnreferencedObjectsAndOldTemporaries() throws {
        let f = try ObjectsFixture()
        defer { f.remove() }
        let now = Date()
        let kept = try f.store.put(sampleBytes(1000, seed: 5), existing: .size).ref
        let unreferenced = try f.store.put(sampleBytes(2000, seed: 6), existing: .size).ref
        let alsoUnreferenced = try f.store.put(sampleBytes(300, seed: 7), existing: .size).ref
        // An unreferenced object that is a link to a file outside: removed as a link.
        let outside = f.folder.file("outside")
        #expect(FileManager.default.createFile(atPath: outside, contents: Data("12345".utf8)))
        let linkDigest = ObjectDigest(of: Data("link".utf8))
        try FileManager.default.createDirectory(
            atPath: f.path("objects/\(linkDigest.fanOut)"), withIntermediateDirectories: true)
        #expect(symlink(outside, f.objectPath(linkDigest)) == 0)
        let linkBytes = Int64(f.status(f.objectPath(linkDigest))?.st_size ?? -1)
        #expect(linkBytes == Int64(outside.utf8.count))
        // Temporaries: one two days old (a killed writer's), one an hour old (a writer's now).
        #expect(FileManager.default.createFile(atPath: f.path("objects/.tmp-old"), contents: Data(count: 70)))
        try FileManager.default.setAttributes(
            [.modificationDate: now.addingTimeInterval(-2 * 86_400)], ofItemAtPath: f.path("objects/.tmp-old"))
        #expect(FileManager.default.createFile(atPath: f.path("objects/.tmp-young"), contents: Data(count: 40)))
        try FileManager.default.setAttributes(
            [.modificationDate: now.addingTimeInterval(-3600)], ofItemAtPath: f.path("objects/.tmp-young"))
        // No names of the store: left alone.
        #expect(FileManager.default.createFile(atPath: f.path("objects/README"), contents: Data("hi".utf8)))
        let misfiled = ObjectDigest(of: Data("misfiled".utf8))
        let wrongFolder = misfiled.fanOut == "00" ? "01" : "00"
        try FileManager.default.createDirectory(
            atPath: f.path("objects/\(wrongFolder)"), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: f.path("objects/\(wrongFolder)/\(misfiled.hex)"), contents: nil))
        // Outside objects/: a set folder and an old file named like a temporary.
        try f.folder.write("", "dest/.tmp-outside")
        try FileManager.default.setAttributes(
            [.modificationDate: now.addingTimeInterval(-5 * 86_400)], ofItemAtPath: f.path(".tmp-outside"))
        try FileManager.default.createDirectory(
            atPath: f.path("full_20251020_030000"), withIntermediateDirectories: true)
        try f.folder.write("set", "dest/full_20251020_030000/manifest.json")

        let expected = [
            GarbageCollection.Removal(path: relative("objects/.tmp-old"), kind: .temporary, bytes: 70),
            GarbageCollection.Removal(path: f.store.relativePath(of: unreferenced.digest), kind: .object, bytes: 2000),
            GarbageCollection.Removal(
                path: f.store.relativePath(of: alsoUnreferenced.digest), kind: .object, bytes: 300),
            GarbageCollection.Removal(path: f.store.relativePath(of: linkDigest), kind: .object, bytes: linkBytes),
        ].sorted { $0.path < $1.path }

        let dry = try f.store.collectGarbage(referenced: [kept.digest], dryRun: true, now: now)
        #expect(dry.dryRun)
        #expect(dry.removed == expected)
        #expect(dry.removedBytes == 2370 + linkBytes)
        #expect(f.store.verify(unreferenced) == .ok && f.status(f.path("objects/.tmp-old")) != nil)

        let done = try f.store.collectGarbage(referenced: [kept.digest], dryRun: false, now: now)
        #expect(!done.dryRun)
        #expect(done.removed == expected)
        #expect(done.keptObjects == 1)
        #expect(done.youngTemporaries == [relative("objects/.tmp-young")])
        #expect(
            Set(done.unrecognised)
                == [relative("objects/README"), relative("objects/\(wrongFolder)/\(misfiled.hex)")])
        #expect(done.failures.isEmpty)
        #expect(f.store.verify(kept) == .ok)
        #expect(f.store.verify(unreferenced) == .missing)
        #expect(f.store.verify(alsoUnreferenced) == .missing)
        #expect(f.status(f.objectPath(linkDigest)) == nil)
        #expect(FileManager.default.contents(atPath: outside) == Data("12345".utf8))
        #expect(f.status(f.path("objects/.tmp-old")) == nil)
        #expect(f.status(f.path("objects/.tmp-young")) != nil)
        #expect(f.status(f.path("objects/README")) != nil)
        #expect(f.status(f.path(".tmp-outside")) != nil)
        #expect(FileManager.default.contents(atPath: f.path("full_20251020_030000/manifest.json")) == Data("set".utf8))
        let inventory = try f.store.inventory()
        #expect(inventory.objects == [kept.digest: 1000])
        #expect(inventory.otherBytes == 40 + 2)

        let again = try f.store.collectGarbage(referenced: [kept.digest], dryRun: false, now: now)
        #expect(again.removed.isEmpty && again.keptObjects == 1)
    }
}
