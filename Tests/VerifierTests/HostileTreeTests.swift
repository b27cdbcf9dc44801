import CSQLite
import DrillCore
import Foundation
import Reports
import TestSupport
import Testing

@testable import Verifier

/// What lies outside the sandbox for a hostile restore script to point at: a root-only file
/// (0600, a unique marker in it, 200 003 bytes), a root-only folder holding a copy of it named
/// like a restored file, a shadow-like plist with a marker, and a SQLite database with a table
/// named by a marker. None of its bytes, sizes, digests or names may reach a check result or a
/// report.
struct OutsideSecrets {
    let temp: TempFolder
    let marker: String
    let secretFile: String
    let secretFolder: String
    let shadowPlist: String
    let database: String
    let databaseTable: String
    let secret: Data

    init() throws {
        temp = try TempFolder("rd-outside")
        chmod(temp.path, 0o700)
        marker = "outside-\(UUID().uuidString.lowercased())"
        var bytes = Data("\(marker)\n".utf8)
        bytes.append(Data(repeating: UInt8(ascii: "s"), count: 200_003 - bytes.count))
        secret = bytes
        secretFile = temp.file("secret")
        try secret.write(to: URL(fileURLWithPath: secretFile))
        chmod(secretFile, 0o600)

        secretFolder = temp.file("private")
        try FileManager.default.createDirectory(atPath: secretFolder, withIntermediateDirectories: false)
        chmod(secretFolder, 0o750)
        try secret.write(to: URL(fileURLWithPath: secretFolder + "/main.py"))
        chmod(secretFolder + "/main.py", 0o600)

        // A plist shaped like the restored agent, as /etc/shadow would be a file only root reads.
        shadowPlist = temp.file("shadow")
        let plist: [String: Any] = [
            "Label": "com.maia.agent", "ProgramArguments": ["/\(marker)/run", "--\(marker)"],
        ]
        try PropertyListSerialization.data(fromPropertyList: plist, format: .xml, options: 0)
            .write(to: URL(fileURLWithPath: shadowPlist))
        chmod(shadowPlist, 0o600)

        database = temp.file("other.db")
        databaseTable = "t_" + marker.replacingOccurrences(of: "-", with: "_")
        try Fixture.sqlite(
            database,
            """
            PRAGMA journal_mode=DELETE;
            CREATE TABLE \(databaseTable)(id INTEGER PRIMARY KEY, body TEXT);
            INSERT INTO \(databaseTable)(body) VALUES ('\(marker)');
            """)
        chmod(database, 0o600)
    }

    /// Every text of `result`: the checks' messages, evidence and findings, and the JSON, Markdown
    /// and JUnit reports rendered from it.
    static func everything(_ result: DrillResult) throws -> String {
        let checks = result.checks.map { check in
            ([check.message] + check.evidence + check.findings.flatMap { [$0.message] + $0.data.values })
                .joined(separator: "\n")
        }
        return checks.joined(separator: "\n") + String(decoding: try JSONReport.render(result), as: UTF8.self)
            + MarkdownReport.render(result) + JUnitReport.render([result])
    }

    /// Expects that nothing of the outside reached `text`: no marker (in every outside file, so
    /// any byte read from one shows), no digest of an outside file, and not the root-only file's
    /// size (200 003 bytes, chosen to be unlike any other size in a drill).
    func expectNothingLeaked(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(!text.contains(marker), sourceLocation: sourceLocation)
        #expect(!text.contains(databaseTable), sourceLocation: sourceLocation)
        let digests = [
            SHA256Digest.hex(of: secret), try SHA256Digest.file(at: shadowPlist).sha256,
            try SHA256Digest.file(at: database).sha256,
        ]
        for digest in digests { #expect(!text.contains(digest), sourceLocation: sourceLocation) }
        // The size as a number of its own (not a part of a longer number or of a time).
        let pattern = try NSRegularExpression(pattern: "(?<![0-9.])\(secret.count)(?![0-9])")
        let range = NSRange(text.startIndex..., in: text)
        #expect(pattern.firstMatch(in: text, range: range) == nil, sourceLocation: sourceLocation)
        #expect(!text.contains(Units.humanBytes(Int64(secret.count))), sourceLocation: sourceLocation)
    }
}

/// Drills of sets whose restore script plants links, a FIFO and a link to a database outside
/// the sandbox, checked as root (these tests run as root in CI): every planted thing is a finding
/// naming its path, and nothing outside is read. Each runs with `openat2` and with the component
/// walk forced.
@Suite struct HostileTreeTests {
    static let resolutions: [BeneathRoot.Resolution] = [.openat2, .componentWalk]

    func drill(_ fixture: Fixture, _ resolution: BeneathRoot.Resolution, keep: RestoreDrillConfig.KeepPolicy? = nil)
        async throws -> DrillResult
    {
        var options = fixture.drillOptions()
        if let keep { options.keep = keep }
        var drill = Drill(options: options, clock: FixedClock(Date()), replayer: LocalReplayer())
        drill.treeResolution = resolution
        return try await drill.run()
    }

    @Test(arguments: resolutions)
    func restoredFilesReplacedByLinksToARootOnlyFileAreNotFollowed(_ resolution: BeneathRoot.Resolution)
        async throws
    {
        let outside = try OutsideSecrets()
        defer { outside.temp.remove() }
        var options = Fixture.Options()
        options.scriptExtra = """
            rm "$H/.zshrc" && ln -s '\(outside.secretFile)' "$H/.zshrc"
            rm "$R/bin/run.sh" && ln -s '\(outside.secretFile)' "$R/bin/run.sh"
            """
        let fixture = try Fixture(options)
        let result = try await drill(fixture, resolution)
        let shell = try #require(only(result, .restoreTree, "shell"))
        #expect(shell.verdict == .fail)
        #expect(shell.has(.treeTypeMismatch, data: ["path": ".zshrc", "actual": "symlink", "expected": "file"]))
        #expect(shell.message.contains(".zshrc: is a symlink (not followed), expected file"), "\(shell.message)")
        let code = try #require(only(result, .restoreTree, "code"))
        #expect(code.has(.treeTypeMismatch, data: ["path": "bin/run.sh", "actual": "symlink"]))
        // The agent's program is that link: resolved by reading the link, never by following it.
        let rewrite = try #require(only(result, .launchAgentsRewrite, "Library/LaunchAgents/com.maia.agent.plist"))
        // (Its target lies in the temporary folder, a system folder an agent may name, so it is
        // looked for on the host as a program named there directly would be: not executable.)
        #expect(rewrite.has(.agentProgramUnusable))
        #expect(rewrite.message.contains("links to \(outside.secretFile)"), "\(rewrite.message)")
        try outside.expectNothingLeaked(try OutsideSecrets.everything(result))
    }

    @Test(arguments: resolutions)
    func aFolderOnTheWayReplacedByALinkIsNamedAndNothingBehindItIsRead(_ resolution: BeneathRoot.Resolution)
        async throws
    {
        let outside = try OutsideSecrets()
        defer { outside.temp.remove() }
        var options = Fixture.Options()
        options.scriptExtra = "rm -rf \"$R/src\" && ln -s '\(outside.secretFolder)' \"$R/src\""
        let fixture = try Fixture(options)
        // The sandbox is removed after the drill: its folders are made 0700 first, never through
        // the link.
        let result = try await drill(fixture, resolution, keep: .never)
        let code = try #require(only(result, .restoreTree, "code"))
        #expect(code.verdict == .fail)
        #expect(
            code.has(
                .treeNotFollowed,
                data: ["path": "src/main.py", "reason": "folder $ROOT/src on its way is a symbolic link, not followed"])
        )
        #expect(code.has(.treeNotFollowed, data: ["path": "src/link"]))
        #expect(
            code.message.contains("src/main.py: folder $ROOT/src on its way is a symbolic link, not followed"),
            "\(code.message)")
        try outside.expectNothingLeaked(try OutsideSecrets.everything(result))
        #expect(result.sandboxKept == false)
        var info = stat()
        #expect(lstat(outside.secretFolder, &info) == 0 && info.st_mode & 0o7777 == 0o750)
        #expect(lstat(outside.secretFolder + "/main.py", &info) == 0 && info.st_mode & 0o7777 == 0o600)
        #expect(try Data(contentsOf: URL(fileURLWithPath: outside.secretFolder + "/main.py")) == outside.secret)
    }

    @Test(.timeLimit(.minutes(2)), arguments: resolutions)
    func aFIFOWhereADatabaseShouldBeIsRefusedWithoutHanging(_ resolution: BeneathRoot.Resolution) async throws {
        var options = Fixture.Options()
        options.scriptExtra = "rm \"$R/data/store.db\" && mkfifo \"$R/data/store.db\""
        let fixture = try Fixture(options)
        let started = Date()
        let result = try await drill(fixture, resolution)
        #expect(Date().timeIntervalSince(started) < 60)
        let db = try #require(only(result, .dbIntegrity, "data/store.db"))
        #expect(db.verdict == .fail)
        #expect(db.has(.databaseNotRegularFile, data: ["kind": "FIFO"]))
        #expect(db.message == "data/store.db: database is a FIFO, not a regular file: not opened")
        #expect(only(result, .dbIntegrity, "data/big.db")?.verdict == .pass)
        let tree = try #require(only(result, .restoreTree, "databases"))
        #expect(tree.has(.treeTypeMismatch, data: ["path": "data/store.db", "actual": "special file"]))
    }

    @Test(arguments: resolutions)
    func aDatabaseThatIsALinkToADatabaseOutsideIsNotOpened(_ resolution: BeneathRoot.Resolution) async throws {
        let outside = try OutsideSecrets()
        defer { outside.temp.remove() }
        var options = Fixture.Options()
        options.scriptExtra = "rm \"$R/data/big.db\" && ln -s '\(outside.database)' \"$R/data/big.db\""
        let fixture = try Fixture(options)
        let result = try await drill(fixture, resolution)
        let db = try #require(only(result, .dbIntegrity, "data/big.db"))
        #expect(db.verdict == .fail)
        #expect(db.has(.databaseNotFollowed, data: ["reason": "is a symbolic link, not followed"]))
        #expect(db.message == "data/big.db: database is a symbolic link, not followed")
        #expect(only(result, .dbIntegrity, "data/store.db")?.verdict == .pass)
        try outside.expectNothingLeaked(try OutsideSecrets.everything(result))
        // The checks' private copies are gone.
        let sandbox = try #require(result.sandboxPath)
        let names = try FileManager.default.contentsOfDirectory(atPath: sandbox)
        #expect(!names.contains { $0.hasPrefix(SQLiteIntegrityCheck.copyFolderPrefix) }, "\(names)")
    }

    @Test(arguments: resolutions)
    func aDatabaseBehindALinkFolderIsNamedNotOpened(_ resolution: BeneathRoot.Resolution) async throws {
        let outside = try OutsideSecrets()
        defer { outside.temp.remove() }
        let folder = outside.temp.file("data")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: outside.database, toPath: folder + "/store.db")
        var options = Fixture.Options()
        options.scriptExtra = "mv \"$R/data\" \"$R/data.moved\" && ln -s '\(folder)' \"$R/data\""
        let fixture = try Fixture(options)
        let result = try await drill(fixture, resolution)
        let db = try #require(only(result, .dbIntegrity, "data/store.db"))
        #expect(
            db.has(
                .databaseNotFollowed, data: ["reason": "folder $ROOT/data on its way is a symbolic link, not followed"])
        )
        try outside.expectNothingLeaked(try OutsideSecrets.everything(result))
    }

    @Test(arguments: resolutions)
    func aLaunchAgentThatIsALinkToAShadowLikeFileIsNotRead(_ resolution: BeneathRoot.Resolution) async throws {
        let outside = try OutsideSecrets()
        defer { outside.temp.remove() }
        var options = Fixture.Options()
        let agent = "$H/Library/LaunchAgents/com.maia.agent.plist"
        options.scriptExtra = "rm \"\(agent)\" && ln -s '\(outside.shadowPlist)' \"\(agent)\""
        let fixture = try Fixture(options)
        let result = try await drill(fixture, resolution)
        let subject = "Library/LaunchAgents/com.maia.agent.plist"
        let rewrite = try #require(only(result, .launchAgentsRewrite, subject))
        #expect(rewrite.verdict == .fail)
        #expect(
            rewrite.has(
                .agentUnreadable, data: ["which": "restored plist", "problem": "is a symbolic link, not followed"]))
        // Lint reads the stored artifact instead, which is the set's own.
        let lint = try #require(only(result, .launchAgentsLint, subject))
        #expect(lint.evidence.contains("linted the stored artifact launchagents/com.maia.agent.plist"))
        let tree = try #require(only(result, .restoreTree, "launchagents"))
        #expect(tree.has(.treeTypeMismatch, data: ["path": subject, "actual": "symlink"]))
        try outside.expectNothingLeaked(try OutsideSecrets.everything(result))
    }
}

/// The set is hostile until proven too (whoever can write to the destination made it): its
/// artifacts, `SHA256SUMS`, archives and stored plists are read beneath the set folder, so a link
/// there never leads the checks to a root-only file outside.
@Suite struct HostileSetTests {
    @Test func linksInTheSetFolderAreNotFollowed() async throws {
        let outside = try OutsideSecrets()
        defer { outside.temp.remove() }
        let fixture = try Fixture()
        let fm = FileManager.default
        // A folder of artifacts replaced by a link to a root-only folder holding files of the same
        // names; the archive and a stored plist replaced by links to root-only files.
        let chunks = outside.temp.file("chunks")
        try fm.createDirectory(atPath: chunks, withIntermediateDirectories: false)
        for name in try fm.contentsOfDirectory(atPath: fixture.path("databases")) {
            try outside.secret.write(to: URL(fileURLWithPath: chunks + "/" + name))
            chmod(chunks + "/" + name, 0o600)
        }
        try fm.removeItem(atPath: fixture.path("databases"))
        try fm.createSymbolicLink(atPath: fixture.path("databases"), withDestinationPath: chunks)
        let tar = outside.temp.file("root.tar.gz")
        try Fixture.writeTar(tar, [["\(outside.marker)/key", "file", outside.marker]])
        chmod(tar, 0o600)
        try fm.removeItem(atPath: fixture.path("code.tar.gz"))
        try fm.createSymbolicLink(atPath: fixture.path("code.tar.gz"), withDestinationPath: tar)
        try fm.removeItem(atPath: fixture.path("launchagents/com.maia.agent.plist"))
        try fm.createSymbolicLink(
            atPath: fixture.path("launchagents/com.maia.agent.plist"), withDestinationPath: outside.shadowPlist)

        let result = try await fixture.drill()
        let chunk = try #require(only(result, .setArtifacts, "databases/big.db.chunk-0001"))
        #expect(chunk.has(.artifactNotFollowed, data: ["reason": "databases is a symbolic link, not followed"]))
        #expect(only(result, .setArtifacts, "code.tar.gz")?.has(.artifactNotRegularFile) == true)
        #expect(only(result, .restoreArchives, "code.tar.gz")?.has(.archiveMissing) == true)
        try outside.expectNothingLeaked(try OutsideSecrets.everything(result))
    }
}
