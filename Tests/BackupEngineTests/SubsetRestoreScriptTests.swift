import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// The format-2 restore script's subset (issue 17): `--list-parts` prints ``Manifest/restoreParts()``,
/// `--only N,M` restores just those parts and reads and hashes only their objects, and a bad `--only`
/// fails before anything is written; with dash, `bash --posix` and zsh and the real tools.
@Suite struct SubsetRestoreScriptTests {
    typealias Fixture = Format2RestoreScriptTests.Fixture

    static let shells: [RestoreCase] = [["/usr/bin/dash"], ["/usr/bin/bash", "--posix"], ["/usr/bin/zsh"]].map {
        RestoreCase(shell: $0, tar: "/usr/bin/tar", hasher: "openssl")
    }

    /// Runs the script with only `arguments` (no `--home`/`--root` unless given).
    static func runBare(_ f: Fixture, _ c: RestoreCase, _ arguments: [String]) throws -> Shell.Result {
        let bin = try ToolBin(
            in: f.scratch.path + "/tools-\(UUID().uuidString.prefix(6))", tar: c.tar, hasher: c.hasher)
        return try Shell.run(
            c.shell[0], Array(c.shell.dropFirst()) + [f.built.script] + arguments,
            environment: ["PATH": bin.path, "HOME": f.shellHome, "LANG": "C.UTF-8"], cwd: f.scratch.path)
    }

    /// The paths of everything but folders under `folder`, relative to it.
    static func files(under folder: String) -> Set<String> {
        Set(
            (FileManager.default.subpaths(atPath: folder) ?? []).filter {
                let type =
                    (try? FileManager.default.attributesOfItem(atPath: folder + "/" + $0))?[.type] as? FileAttributeType
                return type != .typeDirectory
            })
    }

    @Test(arguments: shells)
    func listPartsPrintsTheManifestsParts(_ c: RestoreCase) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let parts = f.built.manifest.restoreParts()
        #expect(parts.count >= 8)
        #expect(Set(parts.map(\.kind)) == Set(RestorePart.Kind.allCases))
        let result = try Self.runBare(f, c, ["--list-parts"])
        #expect(result.code == 0, "\(c.testDescription): \(result.err)")
        let expected = parts.map { "\($0.number)\t\($0.kind.rawValue)\t\(FileNameBytes.escapedBytes($0.name))\n" }
            .joined()
        #expect(result.out == expected, "\(c.testDescription)")
        #expect(result.err.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: f.newHome))
    }

    /// Every bad list fails naming its bad item, before a target is made.
    @Test(arguments: shells)
    func aBadOnlyListFailsBeforeAnythingIsWritten(_ c: RestoreCase) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let count = f.built.manifest.restoreParts().count
        let cases: [(String, String)] = [
            ("", "--only: an empty list"), ("0", "--only: 0 is not a part number"),
            ("x", "--only: x is not a part number"), ("1,,2", "--only: an empty item in 1,,2"),
            ("1,", "--only: an empty item in 1,"), ("2,y7", "--only: y7 is not a part number"),
            ("\(count + 1)", "--only: \(count + 1) is not a part of this set (it has \(count)"),
            ("1,\(count + 1)", "--only: \(count + 1) is not a part of this set"),
            ("01", "--only: 01 is not a part number"), ("-1", "--only: -1 is not a part number"),
            ("1 2", "--only: 1 2 is not a part number"), ("99999999999", "--only: 99999999999 is not a part of"),
        ]
        for (list, message) in cases {
            let result = try f.run(c, extra: ["--yes", "--only", list])
            #expect(result.code == 1, "\(c.testDescription) --only '\(list)'")
            #expect(result.err.contains("restore: FAILED: \(message)"), "\(list): \(result.err)")
            #expect(!FileManager.default.fileExists(atPath: f.newHome), "\(list)")
        }
    }

    /// A pack and the chunked database: only their objects are hashed, only their files are written.
    @Test(arguments: shells)
    func onlyAPackAndADatabaseRestoresJustThem(_ c: RestoreCase) async throws {
        let f = try await Fixture()
        defer { f.close() }
        let m = f.built.manifest
        let parts = m.restoreParts()
        let pack = try #require(parts.first { $0.kind == .pack })
        let db = try #require(parts.first { $0.kind == .database && $0.name == "data/big/large.db" })
        // Damage outside the selection is not read.
        let other = try #require(parts.first { $0.kind == .launchAgent })
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: try f.built.objectPath(other.artifacts[0])))

        let result = try f.run(c, extra: ["--yes", "--only", "\(db.number),\(pack.number),\(db.number)"])
        #expect(result.code == 0, "\(c.testDescription): \(result.err)")
        let objects = Set((pack.artifacts + db.artifacts).compactMap { m.artifact($0)?.sha256 }).count
        #expect(result.out.contains("restore: verified \(objects) objects of the chosen parts in "), "\(result.out)")
        #expect(result.out.contains("restore: code: extracting 1 packs"), "\(result.out)")
        #expect(result.out.contains("restore: restored parts \(pack.number),\(db.number) of \(parts.count)\n"))
        #expect(!result.out.contains("dependencies:"), "\(result.out)")
        #expect(!result.out.contains("launchagents:"), "\(result.out)")

        let listing = try runTool("/usr/bin/tar", ["-tzf", try f.built.objectPath(pack.name)])
        let members = listing.output.split(separator: "\n").map(String.init).filter { !$0.hasSuffix("/") }
        #expect(!members.isEmpty)
        #expect(Self.files(under: f.newRoot) == Set(members + [db.name]))
        // Nothing in the home but the root's folders.
        let home = Self.files(under: f.newHome).filter { !(f.newHome + "/" + $0).hasPrefix(f.newRoot + "/") }
        #expect(home.isEmpty, "\(home)")
        let rows = try SQL.with(f.newRoot + "/data/big/large.db") { try SQL.scalar($0, "SELECT count(*) FROM blobs") }
        #expect(rows == "440")
    }

    /// A damaged object of a chosen part fails the subset, naming it.
    @Test func aDamagedObjectOfAChosenPartFails() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let db = try #require(f.built.manifest.restoreParts().first { $0.name == "data/big/large.db" })
        let chunk = db.artifacts[3]
        let object = try f.built.objectPath(chunk)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: object))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: object))
        let result = try f.run(extra: ["--yes", "--only", "\(db.number)"])
        #expect(result.code == 1)
        #expect(result.err.contains("restore: FAILED: \(chunk): object "), "\(result.err)")
        #expect(result.err.contains("checksum mismatch"), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newRoot + "/data/big/large.db"))
    }

    /// An unsafe SHA256SUMS line fails a subset too, though it names an object no chosen part reads.
    @Test func anUnsafeLineFailsASubsetToo() async throws {
        let f = try await Fixture()
        defer { f.close() }
        let sums = f.built.setPath + "/SHA256SUMS"
        var text = try String(contentsOfFile: sums, encoding: .utf8)
        text = String(repeating: "a", count: 64) + "  ../objects/aa/../../etc\n" + text
        try text.write(toFile: sums, atomically: true, encoding: .utf8)
        let result = try f.run(extra: ["--yes", "--only", "1"])
        #expect(result.code == 1)
        #expect(
            result.err.contains("restore: FAILED: SHA256SUMS: unsafe name: ../objects/aa/../../etc"), "\(result.err)")
    }

    @Test func aScriptWithoutScriptTakesOnlyRefusesOnly() async throws {
        var m = RestoreScriptGoldenTests.emptyManifest().formatTwo()
        m.scriptTakesOnly = nil
        #expect(!m.restoresSubsets)
        let plain = RestoreScript.render(m)
        #expect(!plain.contains("        --only)\n"))
        #expect(!plain.contains("        --list-parts)\n"))
        m.scriptTakesOnly = true
        #expect(m.restoresSubsets)
        #expect(RestoreScript.render(m).contains("        --list-parts)\n"))
        m.formatVersion = 1
        #expect(!m.restoresSubsets)
    }
}
