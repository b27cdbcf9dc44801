import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// Issue 19: the restore script checks its tools before it writes anything (a tar that reads pax,
/// a SHA-256 tool, gzip, and for a vault with a password an openssl whose enc knows -pbkdf2 and
/// -iter), and records what it runs with in the file `RESTORE_DRILL_TOOLS` names.
@Suite struct RestoreScriptToolCheckTests {
    /// A `tar` that cannot read pax archives (as an old busybox tar): listing a pax archive fails
    /// with busybox's words; `--version` names it; anything else goes to the real tar.
    static let noPaxTar = """
        #!/bin/sh
        case $1 in
            --version) echo 'tar (stand-in without pax) 0.1'; exit 0 ;;
            -tf) cat >/dev/null; echo "tar: unknown file type 'x'" >&2; exit 1 ;;
        esac
        exec /usr/bin/tar "$@"
        """

    /// Writes `text` as an executable file `name` in a new folder of `scratch`; returns its path.
    static func standIn(_ name: String, _ text: String, in scratch: String) throws -> String {
        let folder = scratch + "/stand-in-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        return path
    }

    /// The pax probe's archive is a pax archive GNU tar and bsdtar list as its long name.
    @Test(.needsTool("bsdtar", package: "libarchive-tools"), arguments: ["/usr/bin/tar", "/usr/bin/bsdtar"])
    func thePaxProbeListsItsLongNameWithGNUTarAndBsdtar(_ tar: String) throws {
        let scratch = try TempFolder("rd-pax")
        defer { scratch.remove() }
        let path = scratch.path + "/probe.tar"
        try Data(PaxProbe.archive).write(to: URL(fileURLWithPath: path))
        #expect(PaxProbe.archive.count == 2560)
        let listed = try Shell.run(tar, ["-tf", path], environment: ["PATH": "/usr/bin:/bin"])
        #expect(listed.code == 0, "\(listed.err)")
        #expect(listed.out == PaxProbe.longName + "\n")
        // The script's printf lines make the same bytes (dash's printf).
        let script =
            "rd_nul() { i=0; while [ $i -lt $1 ]; do printf '\\000'; i=$((i+1)); done; }\n"
            + PaxProbe.shellLines
        let made = try Shell.run(
            "/usr/bin/dash", ["-c", "{\n" + script + "} > '\(scratch.path)/made.tar'"], environment: [:])
        #expect(made.code == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/made.tar")) == Data(PaxProbe.archive))
    }

    /// A tar that cannot read pax stops the script before anything is written, saying what to
    /// install: format 1, and format 2 with a vault and a password.
    @Test(arguments: [1, 2])
    func aTarThatCannotReadPaxStopsTheRestoreBeforeAnythingIsWritten(_ format: Int) async throws {
        let message =
            "restore: FAILED: tools: tar (tar (stand-in without pax) 0.1) cannot read pax archives: "
            + "install GNU tar or bsdtar"
        let result: Shell.Result
        let home: String
        if format == 1 {
            let f = try await RestoreFixture()
            defer { f.close() }
            let tar = try Self.standIn("tar", Self.noPaxTar, in: f.scratch.path)
            result = try f.run(RestoreCase(shell: ["/usr/bin/dash"], tar: tar, hasher: "openssl"))
            home = f.newHome
            #expect(!FileManager.default.fileExists(atPath: home))
        } else {
            let f = try await Format2RestoreScriptTests.Fixture()
            defer { f.close() }
            let tar = try Self.standIn("tar", Self.noPaxTar, in: f.scratch.path)
            result = try f.run(RestoreCase(shell: ["/usr/bin/zsh"], tar: tar, hasher: "openssl"))
            home = f.newHome
            #expect(!FileManager.default.fileExists(atPath: home))
        }
        #expect(result.code == 1)
        #expect(result.err.contains(message), "\(result.err)")
        #expect(!result.out.contains("verified"))
    }

    /// A missing gzip and a missing SHA-256 tool are named in the same line.
    @Test func everyMissingToolIsNamedInOneLine() async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let bin = try ToolBin(in: f.scratch.path + "/tools-missing", hasher: "true")
        unlink(bin.path + "/gzip")
        let result = try Shell.run(
            "/usr/bin/dash", [f.script, "--home", f.newHome, "--root", f.newRoot, "--yes"],
            environment: ["PATH": bin.path, "HOME": f.shellHome])
        #expect(result.code == 1)
        #expect(
            result.err.contains(
                "tools: no SHA-256 tool found (openssl, sha256sum or shasum): install coreutils or OpenSSL; "
                    + "gzip not found: install gzip"), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: f.newHome))
    }

    /// With `RESTORE_DRILL_TOOLS`, the script writes what it ran with: the shell (dash by its
    /// program, bash and zsh with their versions), tar (GNU tar or bsdtar), gzip, the hash tool.
    @Test(
        .needsTool("bsdtar", package: "libarchive-tools"),
        arguments: [
            (["/usr/bin/dash"], "/usr/bin/tar", "sha256sum"),
            (["/usr/bin/bash", "--posix"], "/usr/bin/bsdtar", "openssl"),
            (["/usr/bin/zsh"], "/usr/bin/tar", "shasum"),
        ])
    func theScriptRecordsTheToolsItRunsWith(shell: [String], tar: String, hasher: String) async throws {
        let f = try await RestoreFixture()
        defer { f.close() }
        let record = f.scratch.path + "/tools-\(UUID().uuidString.prefix(6)).txt"
        let bin = try ToolBin(in: f.scratch.path + "/tools-\(UUID().uuidString.prefix(6))", tar: tar, hasher: hasher)
        for tool in ["uname", "readlink"] {
            try FileManager.default.createSymbolicLink(
                atPath: bin.path + "/" + tool, withDestinationPath: "/usr/bin/" + tool)
        }
        let result = try Shell.run(
            shell[0], Array(shell.dropFirst()) + [f.script, "--home", f.newHome, "--root", f.newRoot, "--yes"],
            environment: ["PATH": bin.path, "HOME": f.shellHome, "RESTORE_DRILL_TOOLS": record])
        #expect(result.code == 0, "\(result.err)")
        let tools = try #require(ToolsRecord.read(at: try AbsolutePath(validating: record)))
        let sh = try #require(tools["sh"])
        switch shell[0] {
        case "/usr/bin/dash": #expect(sh == "dash")
        case "/usr/bin/bash": #expect(sh.hasPrefix("bash 5."), "\(sh)")
        default: #expect(sh.hasPrefix("zsh 5."), "\(sh)")
        }
        #expect(tools["tar"]?.hasPrefix(tar.hasSuffix("bsdtar") ? "bsdtar 3." : "tar (GNU tar) 1.") == true, "\(tools)")
        #expect(tools["gzip"]?.hasPrefix("gzip 1.") == true, "\(tools)")
        switch hasher {
        case "sha256sum": #expect(tools["hash"]?.hasPrefix("sha256sum: sha256sum (GNU coreutils) ") == true, "\(tools)")
        case "openssl": #expect(tools["hash"]?.hasPrefix("openssl: OpenSSL 3.") == true, "\(tools)")
        default: #expect(tools["hash"]?.hasPrefix("shasum: ") == true, "\(tools)")
        }
        #expect(tools["os"] == "Linux")
        #expect(tools["arch"] == String(cString: Self.machine()))
        // Not on PATH: no line.
        #expect(tools["sqlite3"] == nil)
        #expect(Set(tools.keys).isSubset(of: Set(ToolsRecord.keys)))
    }

    static func machine() -> [CChar] {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.machine) { Array($0.bindMemory(to: CChar.self)) }
    }
}
