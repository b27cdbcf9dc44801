import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// ``CodePackWriter``: a pack is deterministic, shares its bytes with `code.tar.gz`'s writer,
/// extracts with GNU tar and bsdtar, and a change to one file rewrites only the packs whose
/// members changed.
@Suite struct CodePackWriterTests {
    /// Small sizes, so ``FixedTree`` (200 text files of up to 6 000 bytes, 1.5 MiB `big.bin`)
    /// makes a few dozen packs.
    static let small = PackPlanner.Parameters(target: 16 << 10, floor: 8 << 10, ceiling: 64 << 10)

    /// A ``FixedTree`` on disk, walked.
    final class Tree {
        let scratch: TempFolder
        let base: String
        let tree: FixedTree
        var entries: [WalkEntry]

        init(files: Int = 200) throws {
            scratch = try TempFolder("rd-packs")
            base = scratch.file("tree")
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            tree = FixedTree(seed: 3, files: files)
            try tree.create(below: base)
            entries = try FixedTree.walk(base)
        }

        deinit { scratch.remove() }

        /// The packs of one moment of the tree.
        struct Snapshot {
            var plan: [PackPlanner.Pack]
            var sha256: [String]
            /// Per pack, what its bytes may depend on besides contents (``members(_:)``).
            var members: [[UInt8]]
            /// Per pack, its members' paths as bytes.
            var paths: [Set<[UInt8]>]
        }

        /// Plans the tree with `parameters` and writes every pack to `<scratch>/<label>/pack-N.tar.gz`.
        func writePacks(_ label: String, parameters: PackPlanner.Parameters = CodePackWriterTests.small)
            async throws -> Snapshot
        {
            let folder = scratch.file(label)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let plan = CodePackWriter.plan(entries, parameters: parameters)
            var sums: [String] = []
            for (number, pack) in plan.enumerated() {
                let written = try await CodePackWriter(level: 6).write(
                    entries[pack.entries], to: "\(folder)/pack-\(number).tar.gz")
                #expect(written.failures.isEmpty && written.changed.isEmpty && written.vanished.isEmpty)
                sums.append(written.sha256)
            }
            return Snapshot(
                plan: plan, sha256: sums, members: plan.map(members),
                paths: plan.map { Set(entries[$0.entries].map { FileNameBytes.bytes($0.relative) }) })
        }

        /// What a pack's bytes may depend on besides contents: each member's name bytes, type,
        /// size, mode, time and link target.
        func members(_ pack: PackPlanner.Pack) -> [UInt8] {
            entries[pack.entries].flatMap { entry -> [UInt8] in
                let fields =
                    "|\(entry.type)|\(entry.size)|\(entry.mode)|\(entry.mtimeSeconds).\(entry.mtimeNanoseconds)|"
                return FileNameBytes.bytes(entry.relative) + Array(fields.utf8)
                    + FileNameBytes.bytes(entry.linkTarget ?? "") + [0]
            }
        }

        /// Rewrites the file `relative` with `content`, mode 0644 kept, its time set to `mtime`.
        func rewrite(_ relative: String, _ content: [UInt8], mtime: Int) throws {
            let path = base + "/" + relative
            let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
            #expect(fd >= 0)
            #expect(Foundation.write(fd, content, content.count) == content.count)
            close(fd)
            var times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        }
    }

    @Test func writingAPackTwiceGivesTheSameBytes() async throws {
        let tree = try Tree()
        let plan = CodePackWriter.plan(tree.entries, parameters: Self.small)
        let pack = try #require(plan.max { $0.entries.count < $1.entries.count })
        #expect(pack.entries.count > 3)
        var sums: [String] = []
        for label in ["a", "b"] {
            let path = tree.scratch.file("pack-\(label).tar.gz")
            let written = try await CodePackWriter(level: 6).write(tree.entries[pack.entries], to: path)
            let onDisk = try SHA256Digest.file(at: path)
            #expect(onDisk.sha256 == written.sha256 && onDisk.size == written.size)
            #expect(written.files.map(\.path) == tree.entries[pack.entries].map(\.relative))
            sums.append(written.sha256)
        }
        #expect(sums[0] == sums[1])
        let first = try #require(FileManager.default.contents(atPath: tree.scratch.file("pack-a.tar.gz")))
        #expect(first == FileManager.default.contents(atPath: tree.scratch.file("pack-b.tar.gz")))
    }

    /// One pack of every entry of ``FixedTree`` seed 1 is `code.tar.gz` byte for byte: both go
    /// through ``CodeTarWriter``.
    @Test func onePackOfEveryEntryIsTheCodeArchiveByteForByte() async throws {
        let scratch = try TempFolder("rd-pack-all")
        defer { scratch.remove() }
        let base = scratch.file("tree")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try FixedTree(seed: 1).create(below: base)
        let entries = try FixedTree.walk(base)
        let written = try await CodePackWriter(level: 6).write(entries[...], to: scratch.file("all.tar.gz"))
        #expect(written.sha256 == CodeArchiveBytesTests.golden)
    }

    /// GNU tar's name: `tar` on Linux, `gtar` (Homebrew's gnu-tar) on macOS, whose `tar` is bsdtar.
    #if os(Linux)
        static let gnuTar = "tar"
    #else
        static let gnuTar = "gtar"
    #endif

    @Test(.needsTool(gnuTar, package: "tar"), .needsTool("bsdtar", package: "libarchive-tools"))
    func packsExtractWithGNUTarAndBsdtarToTheSameFiles() async throws {
        let gnu = try requireTool(Self.gnuTar, package: "tar")
        let bsd = try requireTool("bsdtar", package: "libarchive-tools")
        #expect(try runTool(gnu, ["--version"]).output.contains("GNU tar"))
        let tree = try Tree()
        let plan = try await tree.writePacks("packs").plan
        #expect(plan.count > 10)
        for (label, tar) in [("gnu", gnu), ("bsd", bsd)] {
            let out = tree.scratch.file(label)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            for number in plan.indices {
                let run = try runTool(
                    tar, ["-xpzf", tree.scratch.file("packs/pack-\(number).tar.gz"), "-C", out],
                    environment: ["LC_ALL": "C", "PATH": "/usr/bin:/bin"])
                #expect(run.status == 0, "\(label) pack \(number): \(run.error)")
            }
        }
        // A folder's time is changed by the packs extracted after it: compared for files only.
        func comparable(_ listing: [[UInt8]: FixedTree.Found]) -> [[UInt8]: FixedTree.Found] {
            listing.mapValues {
                $0.kind == "folder" ? FixedTree.Found(kind: "folder", mode: $0.mode, mtime: 0, data: []) : $0
            }
        }
        let original = comparable(FixedTree.listing(tree.base))
        #expect(original.count == tree.entries.count)
        for label in ["gnu", "bsd"] {
            let extracted = comparable(FixedTree.listing(tree.scratch.file(label)))
            let differ = Set(original.keys).union(extracted.keys).filter { original[$0] != extracted[$0] }
            #expect(differ.isEmpty, "\(label): \(differ.map(NameVariants.shown).sorted().prefix(5))")
        }
    }

    /// Same size, new content and time: the plan stays, and exactly the pack holding the file has
    /// new bytes. Then grown, then a file added and another removed: every pack whose members kept
    /// their names, sizes, modes and times (and whose files kept their contents) keeps its bytes,
    /// and only a few packs have new ones.
    @Test func aChangedFileChangesOnlyThePacksWhoseMembersChanged() async throws {
        let tree = try Tree()
        let before = try await tree.writePacks("before")
        #expect(before.plan.count > 10)

        // 1. Same size, other bytes, another time.
        let target = "src/m2/f17.txt"
        let index = try #require(tree.entries.firstIndex { $0.relative == target })
        let size = Int(tree.entries[index].size)
        try tree.rewrite(target, Array(repeating: UInt8(ascii: "x"), count: size), mtime: 1_800_000_000)
        tree.entries = try FixedTree.walk(tree.base)
        let edited = try await tree.writePacks("edited")
        #expect(edited.plan == before.plan)
        let holder = try #require(edited.plan.firstIndex { $0.entries.contains(index) })
        #expect(edited.plan.indices.filter { edited.sha256[$0] != before.sha256[$0] } == [holder])

        // 2. Grown by 3 000 bytes.
        try tree.rewrite(target, Array(repeating: UInt8(ascii: "y"), count: size + 3_000), mtime: 1_800_000_001)
        tree.entries = try FixedTree.walk(tree.base)
        let grown = try await tree.writePacks("grown")
        let grownNew = Self.expectUnchangedPacksKeepTheirBytes(edited, grown, contentChanged: [Array(target.utf8)])
        #expect((1...2).contains(grownNew), "\(grownNew) packs with new bytes")

        // 3. A file added in src/m3 and one removed from src/m1: their folders' times change too.
        try tree.scratch.write(String(repeating: "new line\n", count: 400), "tree/src/m3/added.txt")
        #expect(unlink(tree.base + "/src/m1/f11.txt") == 0)
        tree.entries = try FixedTree.walk(tree.base)
        let moved = try await tree.writePacks("moved")
        let movedNew = Self.expectUnchangedPacksKeepTheirBytes(grown, moved, contentChanged: [])
        // At most: the added file's pack, the removed file's, each folder's, and one neighbour each.
        #expect((2...6).contains(movedNew), "\(movedNew) packs with new bytes of \(moved.plan.count)")
    }

    /// Expects every pack of `new` whose members are those of a pack of `old`, and which holds no
    /// file in `contentChanged`, to have that pack's bytes.
    /// - Returns: how many packs of `new` have bytes no pack of `old` had.
    static func expectUnchangedPacksKeepTheirBytes(
        _ old: Tree.Snapshot, _ new: Tree.Snapshot, contentChanged: Set<[UInt8]>
    ) -> Int {
        let oldSums = Dictionary(zip(old.members, old.sha256), uniquingKeysWith: { first, _ in first })
        var compared = 0
        for (number, members) in new.members.enumerated() where new.paths[number].isDisjoint(with: contentChanged) {
            if let sum = oldSums[members] {
                #expect(new.sha256[number] == sum, "pack \(number)")
                compared += 1
            }
        }
        // Not vacuous: nearly every pack kept its members.
        #expect(compared + 6 >= new.plan.count, "\(compared) of \(new.plan.count) packs kept their members")
        let known = Set(old.sha256)
        return new.sha256.filter { !known.contains($0) }.count
    }
}
