import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// Issue 12, "File names": decomposed (NFD) names, an NFC/NFD pair side by side, and names that
/// are not UTF-8 (``NameVariants/tree``) are stored by their exact bytes, in the manifest and in
/// `code.tar.gz`, and come back byte for byte from GNU tar, bsdtar and the restore script; a
/// system that refuses a name stops only that file.
@Suite(.serialized) struct FileNameTests {
    /// A backup of the usual workspace plus ``NameVariants/tree`` under its root.
    final class Fixture {
        let ws: Workspace
        let outcome: BackupOutcome
        let scratch: TempFolder

        init() async throws {
            ws = try Workspace(chunked: false, live: false)
            try NameVariants.create(below: ws.root)
            outcome = try await ws.backup()
            scratch = try TempFolder("rd-names")
        }

        var archive: String { outcome.setPath + "/code.tar.gz" }

        /// Runs the set's restore script with only the restore tools on `PATH` (tar being `tar`)
        /// and `extra` environment; targets `<scratch>/<label>/{home,root}`.
        func restore(tar: String, label: String, environment: [String: String] = [:], uname: String? = nil)
            throws -> (result: Shell.Result, root: String, home: String)
        {
            let base = scratch.path + "/" + label
            let bin = try ToolBin(in: base + "-tools", tar: tar, hasher: "sha256sum")
            if let uname {
                let stub = bin.path + "/uname"
                try Data("#!/bin/sh\necho \(uname)\n".utf8).write(to: URL(fileURLWithPath: stub))
                chmod(stub, 0o755)
            }
            var env = ["PATH": bin.path, "HOME": scratch.path, "LANG": "C.UTF-8"]
            for (k, v) in environment { env[k] = v }
            let result = try Shell.run(
                "/usr/bin/dash",
                [
                    outcome.setPath + "/" + outcome.manifest.restoreScript, "--home", base + "/home", "--root",
                    base + "/home/root", "--yes",
                ], environment: env, cwd: scratch.path)
            return (result, base + "/home/root", base + "/home")
        }

        func close() {
            ws.close()
            scratch.remove()
        }
    }

    /// What a file system holding the tree must list below its root (the `names` folder only).
    static func namesListing(_ root: String) -> [[UInt8]: String?] {
        NameVariants.list(root).filter { $0.key.starts(with: Array("names".utf8)) }
    }

    static func describe(_ listing: [[UInt8]: String?]) -> String {
        listing.keys.map(NameVariants.shown).sorted().joined(separator: ", ")
    }

    @Test func everyNameIsRecordedByItsBytesAndTheSetIsComplete() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let m = f.outcome.manifest
        #expect(m.status == .complete, "\(m.components)")
        #expect(m.component(.code)?.status == .ok)
        let byBytes = Dictionary(
            m.files.filter { $0.component == .code }.map { (FileNameBytes.bytes($0.path), $0) },
            uniquingKeysWith: { a, _ in a })
        for (path, content) in NameVariants.tree {
            let record = try #require(byBytes[path], "no record for \(NameVariants.shown(path))")
            #expect(record.type == .file)
            #expect(record.size == Int64(content.utf8.count), "\(NameVariants.shown(path))")
            #expect(record.sha256 == SHA256Digest.hex(of: Data(content.utf8)), "\(NameVariants.shown(path))")
        }
        #expect(byBytes[Array("names/d".utf8) + [0xE9]]?.type == .directory)
        #expect(byBytes[Array("names/Cafe\u{301}".utf8)]?.type == .directory)
        // The pair: two records, the NFD one first (byte order), and a warning naming both by bytes.
        let pair = m.files.filter { FileNameBytes.bytes($0.path).starts(with: Array("names/R".utf8)) }
        #expect(
            pair.map { FileNameBytes.bytes($0.path) }.map(NameVariants.shown) == [
                "names/Re\\xcc\\x81sume\\xcc\\x81.txt", "names/R\\xc3\\xa9sum\\xc3\\xa9.txt",
            ])
        let twin = try #require(m.warnings.first { $0.contains("differ only by Unicode normalisation") })
        #expect(twin.contains("\"names/Re\\xcc\\x81sume\\xcc\\x81.txt\" and \"names/R\\xc3\\xa9sum\\xc3\\xa9.txt\""))
        #expect(twin.contains("keeps only \"names/R\\xc3\\xa9sum\\xc3\\xa9.txt\", extracted last"))
        #expect(!m.warnings.contains { $0.contains("UTF-8") }, "\(m.warnings)")
        // On disk: path_bytes for exactly the five records that are not UTF-8, and a reload gives
        // the same bytes.
        let text = String(
            decoding: try Data(contentsOf: URL(fileURLWithPath: f.outcome.setPath + "/manifest.json")), as: UTF8.self)
        #expect(text.components(separatedBy: "\"path_bytes\"").count - 1 == 5)
        #expect(text.contains(#""path" : "names/caf\\xe9.txt""#))
        #expect(text.contains(#""path" : "names/\\xc0\\xaf.txt""#))
        let reloaded = try Manifest.load(setPath: f.outcome.setPath)
        #expect(reloaded.files.map { FileNameBytes.bytes($0.path) } == m.files.map { FileNameBytes.bytes($0.path) })
        #expect(try reloaded.verifySelfChecksum())
    }

    /// The archive holds every name as its bytes (pax hdrcharset=BINARY): GNU tar and bsdtar,
    /// under the C locale and under UTF-8, create exactly the tree the workspace had.
    @Test(
        .needsTool("bsdtar", package: "libarchive-tools"),
        arguments: ["/usr/bin/tar", "/usr/bin/bsdtar"], ["C", "C.UTF-8"])
    func gnuTarAndBsdtarCreateEveryNameByteForByte(_ tar: String, _ locale: String) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let into = f.scratch.path + "/x"
        try FileManager.default.createDirectory(atPath: into, withIntermediateDirectories: true)
        let run = try Shell.run(
            tar, ["-xpzf", f.archive, "-C", into], environment: ["LC_ALL": locale, "PATH": "/usr/bin:/bin"])
        #expect(run.code == 0, "\(tar) \(locale): \(run.err)")
        let got = Self.namesListing(into)
        let want = NameVariants.expectedListing()
        #expect(got == want, "\(tar) \(locale): got \(Self.describe(got))\nwant \(Self.describe(want))")
        // GNU tar names the keyword it does not know; that is all it says.
        let other = run.err.split(separator: "\n").filter { !$0.contains("hdrcharset") }
        #expect(other.isEmpty, "\(other)")
        // The member names as listed: the NFD pair member keeps its bytes.
        let list = try Shell.run(
            tar, ["-tzf", f.archive], environment: ["LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"])
        #expect(
            list.out.utf8.split(separator: 0x0A).contains { Array($0) == Array("names/".utf8) + NameVariants.resumeNFD }
        )
    }

    /// The restore script, with GNU tar and with bsdtar, restores the tree byte for byte and does
    /// not show tar's note about `hdrcharset`.
    @Test(.needsTool("bsdtar", package: "libarchive-tools"), arguments: ["/usr/bin/tar", "/usr/bin/bsdtar"])
    func theRestoreScriptRestoresEveryNameByteForByte(_ tar: String) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let (result, root, home) = try f.restore(tar: tar, label: "restore")
        #expect(result.code == 0, "\(result.err)")
        #expect(!result.err.contains("hdrcharset"), "\(result.err)")
        #expect(!result.err.contains("WARNING"), "no twin warning off macOS: \(result.err)")
        let got = Self.namesListing(root)
        #expect(got == NameVariants.expectedListing(), "got \(Self.describe(got))")
        // The rest of the workspace as usual (that helper reads paths as `String`s: the names
        // tree is checked above, by bytes).
        let problems = try RestoredTree.problems(
            manifest: f.outcome.manifest, setPath: f.outcome.setPath, home: home, root: root)
        #expect(problems.filter { !$0.contains("names") }.isEmpty, "\(problems)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: root).allSatisfy { !$0.hasPrefix(".restore-drill") })
    }

    /// A file system that refuses names that are not UTF-8 (as macOS's does, `EILSEQ`), simulated
    /// on Linux by a preloaded library that fails `open`, `mkdir`, … of such a path with `EILSEQ`
    /// (the real tar and bsdtar print their real messages): the script names each refused path,
    /// goes on with every other step and path, and fails at the very end saying how many.
    @Test(
        .needsTool("bsdtar", package: "libarchive-tools"), .needsTool("clang"),
        arguments: ["/usr/bin/tar", "/usr/bin/bsdtar"])
    func aSystemThatRefusesTheNamesStopsOnlyThosePathsAndSaysSo(_ tar: String) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let library = try RefusingFileSystem.build(in: f.scratch.path)
        let (result, root, home) = try f.restore(tar: tar, label: "refuse", environment: ["LD_PRELOAD": library])
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        let refused = result.err.split(separator: "\n").filter {
            $0.hasPrefix("restore: code: NOT RESTORED, this system refuses the file name: ")
        }
        // caf\xe9.txt, \x80, \xc0\xaf.txt, the folder d\xe9 and the file in it (tar writes octal escapes).
        #expect(refused.count == 5, "\(result.err)")
        for escaped in ["caf\\351.txt", "names/\\200", "\\300\\257.txt", "d\\351"] {
            #expect(refused.contains { $0.contains(escaped) }, "\(escaped): \(result.err)")
        }
        #expect(result.out.contains("going on"), "\(result.out)")
        #expect(
            result.err.contains(
                "restore: FAILED: 5 paths of code.tar.gz not restored: this system refuses their names"),
            "\(result.err)")
        #expect(!result.out.contains("restore: done"))
        // Everything else is there: the UTF-8 names (NFD too), the databases and the shell files.
        let got = Self.namesListing(root)
        let want = NameVariants.expectedListing(
            NameVariants.tree.filter { String(validating: $0.path, as: UTF8.self) != nil })
        #expect(got == want, "got \(Self.describe(got))")
        #expect(FileManager.default.fileExists(atPath: root + "/data/app.db"))
        #expect(FileManager.default.fileExists(atPath: home + "/.zshrc"))
        #expect(result.out.contains("dependencies:"), "step (8) ran: \(result.out)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: root).allSatisfy { !$0.hasPrefix(".restore-drill") })
    }

    /// On macOS (a stand-in `uname` says Darwin) the script warns that of the NFC/NFD pair only
    /// the file extracted last is left; elsewhere it says nothing.
    @Test func onMacOSTheScriptWarnsAboutTheNormalisationPair() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let script = try String(
            contentsOfFile: f.outcome.setPath + "/" + f.outcome.manifest.restoreScript, encoding: .utf8)
        #expect(script.contains("rd_normalisation_twins 1\n"))
        let mac = try f.restore(tar: "/usr/bin/tar", label: "mac", uname: "Darwin").result
        #expect(mac.code == 0, "\(mac.err)")
        #expect(
            mac.err.contains(
                "restore: WARNING: code: 1 groups of file names in code.tar.gz differ only by Unicode normalisation"),
            "\(mac.err)")
        let linux = try f.restore(tar: "/usr/bin/tar", label: "linux", uname: "Linux").result
        #expect(linux.code == 0, "\(linux.err)")
        #expect(!linux.err.contains("WARNING"), "\(linux.err)")
    }

    /// A database glob that matches a name that is not UTF-8: kept byte for byte in the archive,
    /// with a warning; the set stays complete.
    @Test func aDatabaseWhoseNameIsNotUTF8StaysInTheArchiveWithAWarning() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let name = Array("data/b".utf8) + [0xE9] + Array(".db".utf8)
        // A real database, renamed to a name that is not UTF-8.
        try SQL.with(ws.root + "/data/plain.db") { db in try SQL.exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
        }
        let target = (Array(ws.root.utf8) + [0x2F] + name).map { CChar(bitPattern: $0) } + [0]
        #expect(rename(ws.root + "/data/plain.db", target) == 0)
        let m = try await ws.backup().manifest
        #expect(m.status == .complete, "\(m.components)")
        #expect(!m.databases.contains { FileNameBytes.bytes($0.path) == name })
        #expect(m.files.contains { FileNameBytes.bytes($0.path) == name && $0.component == .code })
        #expect(
            m.warnings.contains {
                $0.hasPrefix("data/b\\xe9.db: matches databases.include, but its name is not valid UTF-8")
            }, "\(m.warnings)")
    }
}

/// A preloaded library that makes this process's file system refuse every path that is not valid
/// UTF-8 with `EILSEQ`, as macOS's APFS does: `open`, `openat`, `mkdir`, `mkdirat`, `symlink`,
/// `symlinkat`, `rename`, `renameat` (and their 64-bit twins). Built from C with `clang`.
enum RefusingFileSystem {
    static let source = #"""
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <fcntl.h>
        #include <stdarg.h>
        #include <sys/stat.h>
        #include <sys/types.h>
        static int valid(const char *s) {
            const unsigned char *p = (const unsigned char *)s;
            while (*p) {
                unsigned c = *p, min; int n;
                if (c < 0x80) { p++; continue; }
                if ((c & 0xe0) == 0xc0) { n = 1; min = 0x80; c &= 0x1f; }
                else if ((c & 0xf0) == 0xe0) { n = 2; min = 0x800; c &= 0x0f; }
                else if ((c & 0xf8) == 0xf0) { n = 3; min = 0x10000; c &= 0x07; }
                else return 0;
                p++;
                for (int i = 0; i < n; i++, p++) { if ((*p & 0xc0) != 0x80) return 0; c = (c << 6) | (*p & 0x3f); }
                if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
            }
            return 1;
        }
        #define REFUSE(p) do { if ((p) && !valid(p)) { errno = EILSEQ; return -1; } } while (0)
        #define NEXT(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)
        int open(const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, int); va_end(a);
            NEXT(open); REFUSE(p); return real(p, f, m); }
        int open64(const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, int); va_end(a);
            NEXT(open64); REFUSE(p); return real(p, f, m); }
        int openat(int d, const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, int);
            va_end(a); NEXT(openat); REFUSE(p); return real(d, p, f, m); }
        int openat64(int d, const char *p, int f, ...) { va_list a; va_start(a, f); mode_t m = va_arg(a, int);
            va_end(a); NEXT(openat64); REFUSE(p); return real(d, p, f, m); }
        int mkdir(const char *p, mode_t m) { NEXT(mkdir); REFUSE(p); return real(p, m); }
        int mkdirat(int d, const char *p, mode_t m) { NEXT(mkdirat); REFUSE(p); return real(d, p, m); }
        int symlink(const char *t, const char *p) { NEXT(symlink); REFUSE(p); return real(t, p); }
        int symlinkat(const char *t, int d, const char *p) { NEXT(symlinkat); REFUSE(p); return real(t, d, p); }
        int rename(const char *a, const char *b) { NEXT(rename); REFUSE(b); return real(a, b); }
        int renameat(int x, const char *a, int y, const char *b) { NEXT(renameat); REFUSE(b); return real(x, a, y, b); }
        """#

    /// Compiles the library into `folder`.
    /// - Returns: its absolute path, for `LD_PRELOAD`.
    static func build(in folder: String) throws -> String {
        let clang = try requireTool("clang")
        let c = folder + "/refuse-non-utf8.c"
        let library = folder + "/refuse-non-utf8.so"
        try Data(source.utf8).write(to: URL(fileURLWithPath: c))
        let run = try Shell.run(clang, ["-shared", "-fPIC", "-O2", "-o", library, c, "-ldl"])
        guard run.code == 0 else { throw RestoreDrillError.runtime("clang: \(run.err)") }
        return library
    }
}
