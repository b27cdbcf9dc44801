import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Verifier

/// Real-world member names (issue 12, "File names"): Finder and AppleDouble files that archives
/// made on macOS carry, unknown PAX keywords, and `.` segments.
enum ArchiveInput {
    /// Writes a gzip pax tar through Python's tarfile, as ``Fixture/writeTar(_:_:)`` does, with
    /// optional per-member PAX records (member name → keyword → value) and global ones.
    static func writeTar(
        _ path: String, _ members: [[String]], pax: [String: [String: String]] = [:], global: [String: String] = [:]
    ) throws {
        let json = String(
            decoding: try JSONSerialization.data(withJSONObject: ["members": members, "pax": pax, "global": global]),
            as: UTF8.self)
        let script = """
            import io, json, sys, tarfile
            out, spec = sys.argv[1], json.loads(sys.argv[2])
            with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT, pax_headers=spec["global"]) as t:
                for name, kind, payload in spec["members"]:
                    info = tarfile.TarInfo(name)
                    info.mode = 0o644
                    info.pax_headers = spec["pax"].get(name, {})
                    data = None
                    if kind in ("file", "exec"):
                        data = payload.encode()
                        info.size = len(data)
                        if kind == "exec": info.mode = 0o755
                    elif kind == "dir": info.type = tarfile.DIRTYPE; info.mode = 0o755
                    elif kind == "symlink": info.type = tarfile.SYMTYPE; info.linkname = payload; info.mode = 0o777
                    elif kind == "hardlink": info.type = tarfile.LNKTYPE; info.linkname = payload
                    elif kind == "fifo": info.type = tarfile.FIFOTYPE
                    t.addfile(info, io.BytesIO(data) if data is not None else None)
            """
        try Fixture.run("/usr/bin/python3", ["-c", script, path, json])
    }

    /// `restore.archives` of the fixture's `code.tar.gz` against its manifest, without a drill.
    /// A good set whose code archive also holds `member` fails `restore.archives` with `code`.
    static func expectFailure(adding member: [String], _ code: String) throws {
        let fixture = try Fixture()
        try writeTar(fixture.path("code.tar.gz"), Fixture.goodCodeMembers + [member])
        try fixture.seal()
        let check = try inspect(fixture)
        #expect(check.verdict == .fail, "\(member): \(check.message)")
        #expect(check.has(Finding.Code(code)), "\(member): \(check.message)")
    }

    static func inspect(_ fixture: Fixture) throws -> CheckResult {
        let artifact = try #require(fixture.manifest.artifact("code.tar.gz"))
        return ArchiveInspection.check(
            archive: artifact, setPath: try AbsolutePath(validating: fixture.setPath),
            expected: fixture.manifest.files.filter { $0.component == .code && $0.base == .root })
    }

    /// The failures of a drill, one line each, for a failing expectation's message.
    static func failures(_ result: DrillResult) -> [String] {
        result.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
    }
}

@Suite struct MacMetadataArchiveTests {
    /// Metadata members as macOS tools leave them, each set added to the good members.
    static let metadataSets: [[[String]]] = [
        [[".DS_Store", "file", "Bud1 finder settings"]],
        [["src/._main.py", "file", "AppleDouble of main.py"], ["._src", "file", "AppleDouble of src"]],
        [
            ["__MACOSX", "dir", ""], ["__MACOSX/src", "dir", ""], ["__MACOSX/src/._main.py", "file", "AppleDouble"],
            ["__MACOSX/._bin", "file", "AppleDouble"],
        ],
        [["bin/.DS_Store", "file", "Bud1"], ["src/._link", "file", "AppleDouble of the link"]],
    ]

    /// Each set: `restore.archives` passes with a note naming every metadata member, the replay
    /// extracts them, and `restore.tree` notes them too: the drill passes.
    @Test(arguments: 0..<metadataSets.count)
    func metadataMembersAreANoteNotAFailure(_ index: Int) async throws {
        let extra = Self.metadataSets[index]
        let fixture = try Fixture()
        try ArchiveInput.writeTar(fixture.path("code.tar.gz"), Fixture.goodCodeMembers + extra)
        try fixture.seal()
        let names = extra.map { $0[0] }.sorted()

        let check = try ArchiveInput.inspect(fixture)
        #expect(check.verdict == .pass, "\(check.message)")
        #expect(check.findings.map(\.code) == [.archiveMetadataIgnored])
        #expect(check.has(.archiveMetadataIgnored, data: ["paths": names.joined(separator: "\n")]), "\(check.findings)")
        #expect(
            check.message.contains("\(names.count) macOS metadata members (Finder, AppleDouble) not in the manifest"))
        for name in names { #expect(check.evidence.contains("ignored (macOS metadata): \(name)")) }

        let result = try await fixture.drill()
        #expect(result.verdict == .pass, "\(ArchiveInput.failures(result))")
        let tree = try #require(only(result, .restoreTree, "code"))
        #expect(tree.verdict == .pass)
        #expect(tree.has(.treeMetadataIgnored), "\(tree.message)")
        // Folders are noted once, with their slash; files by name.
        let shown = Set(tree.findings.first { $0.code == .treeMetadataIgnored }?.list("paths") ?? [])
        let topLevel = Set(names.map { $0.hasPrefix("__MACOSX") ? "$ROOT/__MACOSX/" : "$ROOT/" + $0 })
        #expect(shown == topLevel)
    }

    /// The rules on names and links apply whatever the name: a metadata name never excuses a
    /// member, and only regular files (and `__MACOSX` folders) count as metadata, in a folder the
    /// manifest knows (else extracting them would leave an unknown folder behind).
    @Test(arguments: [
        (["../._x", "file", "x"], "archive.member_dotdot"),
        (["/tmp/._x", "file", "x"], "archive.member_absolute"),
        (["./../.DS_Store", "file", "x"], "archive.member_dotdot"),
        (["__MACOSX/../../._x", "file", "x"], "archive.member_dotdot"),
        (["src/._up", "symlink", "../../../etc"], "archive.link_escapes"),
        (["__MACOSX/evil", "symlink", "/etc"], "archive.link_escapes"),
        (["._pipe", "fifo", ""], "archive.member_special"),
        (["._hard", "hardlink", "src/main.py"], "archive.members_extra"),
        (["src/._link2", "symlink", "main.py"], "archive.members_extra"),
        ([".DS_Store", "dir", ""], "archive.members_extra"),
        (["._", "file", "x"], "archive.members_extra"),
        ([".ds_store", "file", "x"], "archive.members_extra"),
        (["__MACOSXX/._x", "file", "x"], "archive.members_extra"),  // would leave folder __MACOSXX behind
        (["docs/._readme", "file", "x"], "archive.members_extra"),  // would leave folder docs behind
    ])
    func metadataNamesStillObeyTheRules(_ member: [String], _ code: String) throws {
        try ArchiveInput.expectFailure(adding: member, code)
    }

    /// A link named like metadata is an extra member as well as an escaping link.
    @Test func escapingLinkWithAMetadataNameIsBothDangerAndExtra() throws {
        let fixture = try Fixture()
        try ArchiveInput.writeTar(
            fixture.path("code.tar.gz"), Fixture.goodCodeMembers + [["src/._up", "symlink", "/etc/passwd"]])
        try fixture.seal()
        let check = try ArchiveInput.inspect(fixture)
        #expect(check.has(.archiveLinkEscapes, data: ["member": "src/._up"]))
        #expect(check.has(.archiveMembersExtra, data: ["paths": "src/._up"]))
        #expect(!check.has(.archiveMetadataIgnored))
    }

    /// A metadata file the manifest lists is a file like any other: missing from the archive, it
    /// fails.
    @Test func listedMetadataMissingFromTheArchiveFails() throws {
        let fixture = try Fixture()
        fixture.manifest.files.append(
            FileRecord(component: .code, base: .root, path: "src/.DS_Store", size: 4, sha256: nil, mode: 0o644))
        try fixture.seal()
        let check = try ArchiveInput.inspect(fixture)
        #expect(check.verdict == .fail)
        #expect(check.has(.archiveMembersMissing, data: ["paths": "src/.DS_Store"]), "\(check.message)")
    }

    /// Unknown PAX keywords (macOS extended attributes as bsdtar and GNU tar record them, a vendor
    /// keyword nobody knows, in member and global headers) are harmless: inspection passes without
    /// a note, and the replay's tar extracts the member.
    @Test func unknownPaxKeywordsAreHarmless() async throws {
        let fixture = try Fixture()
        let quarantine = Data("0081;65000000;Safari;".utf8).base64EncodedString()
        try ArchiveInput.writeTar(
            fixture.path("code.tar.gz"), Fixture.goodCodeMembers,
            pax: [
                "src/main.py": [
                    "LIBARCHIVE.xattr.com.apple.quarantine": quarantine, "SCHILY.xattr.user.x": "1",
                    "RESTOREDRILL.unknown.keyword": "any value",
                ],
                "bin": ["LIBARCHIVE.xattr.com.apple.FinderInfo": "AAAA", "SUN.holesdata": "0 0"],
            ],
            global: ["comment": "made elsewhere", "VENDOR.global.keyword": "1"])
        try fixture.seal()
        let check = try ArchiveInput.inspect(fixture)
        #expect(check.verdict == .pass, "\(check.message)")
        #expect(check.findings.isEmpty)
        let result = try await fixture.drill()
        #expect(result.verdict == .pass, "\(ArchiveInput.failures(result))")
    }

    /// The same keywords in an archive bsdtar wrote (its own `LIBARCHIVE.xattr.*` and
    /// `SCHILY.xattr.*` records for every extended attribute), with an AppleDouble member beside.
    @Test(.needsTool("bsdtar", package: "libarchive-tools"))
    func bsdtarArchiveWithExtendedAttributesPasses() async throws {
        let bsdtar = try requireTool("bsdtar", package: "libarchive-tools")
        let fixture = try Fixture()
        let source = fixture.base + "/python.tar.gz"
        try ArchiveInput.writeTar(
            source, Fixture.goodCodeMembers + [["src/._main.py", "file", "AppleDouble"]],
            pax: ["src/main.py": ["SCHILY.xattr.com.apple.quarantine": "0081;65000000;Safari;"]])
        // bsdtar reads the members (with their attributes) and writes them anew in pax format.
        try Fixture.run(bsdtar, ["-czf", fixture.path("code.tar.gz"), "--format", "pax", "@" + source])
        let listing = try Fixture.run(
            "/usr/bin/python3",
            [
                "-c",
                "import sys, tarfile\nfor m in tarfile.open(sys.argv[1]): print(m.name, sorted(m.pax_headers))",
                fixture.path("code.tar.gz"),
            ])
        #expect(listing.contains("LIBARCHIVE.xattr.com.apple.quarantine"), "\(listing)")
        try fixture.seal()
        let check = try ArchiveInput.inspect(fixture)
        #expect(check.verdict == .pass, "\(check.message)")
        #expect(check.has(.archiveMetadataIgnored, data: ["paths": "src/._main.py"]))
        let result = try await fixture.drill()
        #expect(result.verdict == .pass, "\(ArchiveInput.failures(result))")
    }
}

@Suite struct MacMetadataTreeTests {
    /// Metadata files the restore leaves in the home and the root (Finder would make them on a
    /// Mac) are notes of the component they fall in; the drill passes.
    @Test func restoredMetadataIsANote() async throws {
        var options = Fixture.Options()
        options.scriptExtra = """
            echo finder > "$R/.DS_Store"
            echo apple-double > "$R/src/._main.py"
            mkdir -p "$R/__MACOSX/src" && echo apple-double > "$R/__MACOSX/src/._main.py"
            echo finder > "$H/.DS_Store"
            echo apple-double > "$H/Library/LaunchAgents/._com.maia.agent.plist"

            """
        let fixture = try Fixture(options)
        let result = try await fixture.drill()
        #expect(result.verdict == .pass, "\(ArchiveInput.failures(result))")
        func noted(_ component: String) -> [String] {
            only(result, .restoreTree, component)?.findings.first { $0.code == .treeMetadataIgnored }?.list("paths")
                ?? []
        }
        #expect(noted("code") == ["$ROOT/.DS_Store", "$ROOT/__MACOSX/", "$ROOT/src/._main.py"])
        #expect(noted("launchagents") == ["~/Library/LaunchAgents/._com.maia.agent.plist"])
        #expect(noted("shell") == ["~/.DS_Store"])
        let code = try #require(only(result, .restoreTree, "code"))
        #expect(code.verdict == .pass)
        #expect(
            code.message.hasSuffix(
                "; 3 macOS metadata files (Finder, AppleDouble) not in the manifest, ignored: "
                    + "$ROOT/.DS_Store, $ROOT/__MACOSX/, $ROOT/src/._main.py"))
        #expect(code.evidence.contains("ignored (macOS metadata): $ROOT/src/._main.py"))
    }

    /// Look-alikes are extra files: a link with a metadata name, a `.DS_Store` folder, a
    /// `__MACOSX` folder holding a link.
    @Test func restoredLookalikesAreExtraFiles() async throws {
        var options = Fixture.Options()
        options.scriptExtra = """
            ln -s /etc "$R/._etc"
            mkdir "$R/src/.DS_Store"
            mkdir -p "$R/__MACOSX/src" && echo x > "$R/__MACOSX/src/._a" && ln -s /etc/passwd "$R/__MACOSX/src/._b"
            echo apple-double > "$R/bin/._run.sh"

            """
        let fixture = try Fixture(options)
        let result = try await fixture.drill()
        let code = try #require(only(result, .restoreTree, "code"))
        #expect(code.verdict == .fail)
        let extra = code.findings.first { $0.code == .treeExtraFiles }?.list("paths") ?? []
        #expect(extra == ["$ROOT/._etc", "$ROOT/__MACOSX/", "$ROOT/src/.DS_Store/"], "\(code.message)")
        #expect(code.has(.treeMetadataIgnored, data: ["paths": "$ROOT/bin/._run.sh"]))
    }
}

@Suite struct DotSegmentTests {
    @Test(arguments: [
        ("./a", "a"), ("project/./docs/x", "project/docs/x"), ("a/./b/.", "a/b"), ("./", ""), (".", ""),
        ("a//b/", "a/b"), (".//a", "a"), ("./././src/main.py", "src/main.py"), ("/./abs", "/abs"), ("//abs", "/abs"),
        ("../x", "../x"), ("a/./../b", "a/../b"), ("./.DS_Store", ".DS_Store"), ("...", "..."), ("a/.../b", "a/.../b"),
        (".hidden/./x", ".hidden/x"), ("src/", "src"), ("Re\u{301}sume\u{301}/./x", "Re\u{301}sume\u{301}/x"),
    ])
    func normaliseDropsOnlyDotAndEmptySegments(_ raw: String, _ name: String) {
        let normalised = ArchiveInspection.normalize(raw)
        #expect(Array(normalised.utf8) == Array(name.utf8), "\(raw) gave \(normalised)")
    }

    /// The good members written with `.` segments where tar tools put them: the member list equals
    /// the manifest, nothing is missing or extra, and the replay restores the same tree.
    @Test(arguments: [
        [
            ["./", "dir", ""], ["./src", "dir", ""], ["./src/main.py", "file", "print('hello from maia')\n"],
            ["./src/link", "symlink", "main.py"], ["./bin", "dir", ""],
            ["./bin/run.sh", "exec", "#!/bin/sh\necho run\n"],
        ],
        [
            ["src/.", "dir", ""], ["src/./main.py", "file", "print('hello from maia')\n"],
            ["./src/./link", "symlink", "main.py"], ["bin/./", "dir", ""],
            ["././bin//run.sh", "exec", "#!/bin/sh\necho run\n"],
        ],
    ])
    func dotSegmentsMatchTheManifest(_ members: [[String]]) async throws {
        let fixture = try Fixture()
        try ArchiveInput.writeTar(fixture.path("code.tar.gz"), members)
        try fixture.seal()
        let check = try ArchiveInput.inspect(fixture)
        #expect(check.verdict == .pass, "\(check.message)")
        #expect(!check.evidence.contains { $0.hasPrefix("missing:") || $0.hasPrefix("extra:") }, "\(check.evidence)")
        let result = try await fixture.drill()
        #expect(result.verdict == .pass, "\(ArchiveInput.failures(result))")
    }

    /// `.` segments hide neither `..`, nor an absolute name, nor an escaping link, and a name
    /// stored twice under two spellings is a duplicate.
    @Test(arguments: [
        (["src/./../../x", "file", "x"], "archive.member_dotdot"),
        (["./../x", "file", "x"], "archive.member_dotdot"),
        (["/./etc/x", "file", "x"], "archive.member_absolute"),
        (["src/./up", "symlink", "../../x"], "archive.link_escapes"),
        (["./src/./main.py", "file", "again"], "archive.members_duplicated"),
    ])
    func dotSegmentsHideNothing(_ member: [String], _ code: String) throws {
        try ArchiveInput.expectFailure(adding: member, code)
    }
}
