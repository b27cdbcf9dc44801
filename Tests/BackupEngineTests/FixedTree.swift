import DrillCore
import Foundation
import TestSupport

@testable import BackupEngine

/// A tree on disk made from a seed, with every name, content, mode and modification time fixed,
/// so an archive of it has fixed bytes: text files of a few hundred bytes to a few KiB, one file
/// of 1.5 MiB (more than one gzip block), an executable, a symlink, an empty folder, a decomposed
/// (NFD) name and a name that is not UTF-8.
struct FixedTree {
    enum Kind: Equatable {
        case file([UInt8])
        case folder
        case link([UInt8])
    }

    struct Item {
        /// Relative path, as bytes.
        var path: [UInt8]
        var kind: Kind
        var mode: mode_t
        /// Modification time, seconds since 1970 and nanoseconds.
        var mtime: (seconds: Int, nanoseconds: Int)
    }

    var items: [Item]

    static let words = Array(
        "backup restore verify ticket server pack chunk object digest sandbox drill manifest archive".split(
            separator: " "
        ).map(String.init))

    /// `count` bytes of words chosen by `rng`, lines of about 60 characters.
    static func text(_ count: Int, _ rng: inout SeededGenerator) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        var line = 0
        while out.count < count {
            let word = words[Int(rng.below(UInt64(words.count)))]
            out += Array(word.utf8)
            line += word.utf8.count + 1
            if line > 60 {
                out.append(0x0A)
                line = 0
            } else {
                out.append(0x20)
            }
        }
        return Array(out.prefix(count))
    }

    /// The tree of `files` text files under `src/` (in 5 folders) plus the special entries.
    /// - Parameters:
    ///   - seed: the ``SeededGenerator`` seed for sizes and contents.
    ///   - files: how many text files.
    ///   - maxSize: the largest text file, bytes.
    ///   - big: whether to add `big.bin` (1.5 MiB).
    init(seed: UInt64, files: Int = 60, maxSize: Int = 6_000, big: Bool = true) {
        var rng = SeededGenerator(seed: seed)
        var items: [Item] = []
        var time = 1_700_000_000
        func add(_ path: String, _ kind: Kind, _ mode: mode_t) {
            time += 1
            items.append(Item(path: Array(path.utf8), kind: kind, mode: mode, mtime: (time, time % 1000 * 1000)))
        }
        add("README.md", .file(Array("# fixed tree\n".utf8)), 0o644)
        add("bin", .folder, 0o755)
        add("bin/run.sh", .file(Array("#!/bin/sh\necho run\n".utf8)), 0o755)
        add("empty-folder", .folder, 0o700)
        add("link", .link(Array("README.md".utf8)), 0o777)
        add("names", .folder, 0o755)
        items.append(
            Item(
                path: Array("names/".utf8) + NameVariants.resumeNFD, kind: .file(Array("nfd\n".utf8)), mode: 0o644,
                mtime: (1_700_000_100, 5)))
        items.append(
            Item(
                path: Array("names/caf".utf8) + [0xE9] + Array(".txt".utf8), kind: .file(Array("latin-1\n".utf8)),
                mode: 0o600, mtime: (1_700_000_101, 0)))
        add("src", .folder, 0o755)
        for folder in 0..<5 { add("src/m\(folder)", .folder, 0o755) }
        for index in 0..<files {
            let size = 100 + Int(rng.below(UInt64(max(1, maxSize - 100))))
            add("src/m\(index % 5)/f\(index).txt", .file(Self.text(size, &rng)), 0o644)
        }
        if big { add("big.bin", .file(Self.text(1_572_864, &rng)), 0o644) }
        self.items = items
    }

    /// Writes the tree below `base` (which must exist): folders, files and links with their modes,
    /// then every modification time (links' own, not their targets').
    /// - Throws: `POSIXError` naming the failed call's error.
    func create(below base: String) throws {
        func fail() -> POSIXError { POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let root = Array(base.utf8) + [0x2F]
        for item in items.sorted(by: { $0.path.lexicographicallyPrecedes($1.path) }) {
            let full = root + item.path
            switch item.kind {
            case .folder:
                guard NameVariants.cPath(full, { mkdir($0, 0o700) }) == 0 || errno == EEXIST else { throw fail() }
                guard NameVariants.cPath(full, { chmod($0, item.mode) }) == 0 else { throw fail() }
            case .file(let content):
                let fd = NameVariants.cPath(full) { open($0, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600) }
                guard fd >= 0 else { throw fail() }
                defer { close(fd) }
                guard write(fd, content, content.count) == content.count, fchmod(fd, item.mode) == 0 else {
                    throw fail()
                }
            case .link(let target):
                let made = NameVariants.cPath(target) { t in NameVariants.cPath(full) { symlink(t, $0) } }
                guard made == 0 else { throw fail() }
            }
        }
        try setTimes(below: base)
    }

    /// Sets every item's modification time (after the files under a folder were made, which
    /// changes the folder's).
    func setTimes(below base: String) throws {
        let root = Array(base.utf8) + [0x2F]
        for item in items {
            var times = [
                timespec(tv_sec: item.mtime.seconds, tv_nsec: item.mtime.nanoseconds),
                timespec(tv_sec: item.mtime.seconds, tv_nsec: item.mtime.nanoseconds),
            ]
            let done = NameVariants.cPath(root + item.path) { utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }
            guard done == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
    }

    /// The walk entries of `base` as the backup lists them (``WorkspaceWalk``: depth first, names in
    /// byte order).
    static func walk(_ base: String) throws -> [WalkEntry] {
        var walk = WorkspaceWalk()
        walk.run(base: try AbsolutePath(validating: base))
        return walk.entries
    }

    /// What a path below an extracted tree is: kind, mode, modification time (seconds), content or
    /// link target.
    struct Found: Equatable, CustomStringConvertible {
        var kind: String
        var mode: Int
        var mtime: Int
        var data: [UInt8]

        var description: String { "\(kind) \(String(mode, radix: 8)) \(mtime) \(data.count) bytes" }
    }

    /// Everything below `base` by relative path bytes, read with the exact bytes of each name.
    static func listing(_ base: String) -> [[UInt8]: Found] {
        var out: [[UInt8]: Found] = [:]
        func walk(_ folder: [UInt8], _ relative: [UInt8]) {
            guard let names = NameVariants.names(in: folder) else { return }
            for name in names {
                let path = folder + [0x2F] + name
                let rel = relative.isEmpty ? name : relative + [0x2F] + name
                var st = stat()
                guard NameVariants.cPath(path, { lstat($0, &st) }) == 0 else { continue }
                let mode = Int(st.st_mode) & 0o7777
                let mtime = Int(st.st_mtim.tv_sec)
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    out[rel] = Found(kind: "folder", mode: mode, mtime: mtime, data: [])
                    walk(path, rel)
                case S_IFLNK:
                    var buffer = [CChar](repeating: 0, count: 4096)
                    let n = NameVariants.cPath(path) { readlink($0, &buffer, buffer.count) }
                    out[rel] = Found(
                        kind: "link", mode: 0, mtime: 0, data: buffer[0..<max(0, n)].map { UInt8(bitPattern: $0) })
                default:
                    out[rel] = Found(kind: "file", mode: mode, mtime: mtime, data: read(path))
                }
            }
        }
        walk(Array(base.utf8), [])
        return out
    }

    /// The bytes of the file at `path` (empty when it cannot be read).
    static func read(_ path: [UInt8]) -> [UInt8] {
        let fd = NameVariants.cPath(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = Foundation.read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return data
    }
}
