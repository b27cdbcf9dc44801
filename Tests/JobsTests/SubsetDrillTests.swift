import Destination
import DrillCore
import Foundation
import Health
import Jobs
import Sandbox
import TestSupport
import Testing
import Verifier

/// Issue 17: a drill of some parts restores only them with the set's own script (`--only`),
/// checks what it restored as a full drill does, records a `sampled_drill` event, and a `proof`
/// event for exactly what it proved; a full drill proves every part.
@Suite(.serialized) struct SubsetDrillTests {
    static func workspace() async throws -> (VaultWorkspace, BackupJob.Outcome) {
        let ws = try VaultWorkspace()
        ws.config.setFormat = 2
        let set = try await ws.backup(at: Date().addingTimeInterval(-600))
        return (ws, set)
    }

    static func events(_ ws: VaultWorkspace) throws -> [HistoryEvent] {
        try HistoryStore(LocalDestination(path: ws.config.destination)).events()
    }

    static func problems(_ r: DrillResult) -> [String] {
        r.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
    }

    @Test func aFullDrillProvesEveryPartOfTheSet() async throws {
        let (ws, set) = try await Self.workspace()
        defer { ws.remove() }
        #expect(set.manifest.restoresSubsets)
        let result = try await ws.drill(.init(pick: .id(set.manifest.id.description)))
        #expect(result.verdict == .pass, "\(Self.problems(result))")
        let parts = set.manifest.restoreParts()
        #expect(result.restoredParts?.map(\.key) == parts.map(\.key))
        #expect(result.sampled == false)
        let events = try Self.events(ws)
        #expect(events.filter { $0.kind == .drill }.count == 1)
        let proof = try #require(events.first { $0.kind == .proof })
        #expect(proof.backupID == set.manifest.id && proof.drillID == result.drillID)
        #expect(proof.parts?.map(\.key) == parts.map(\.key))
        // The vault is proven: the drill had the password and credentials.vault passed.
        #expect(proof.parts?.first { $0.kind == .vault }?.checks.contains("credentials.vault") == true)
        let db = try #require(proof.parts?.first { $0.kind == .database })
        #expect(db.checks.contains("db.integrity") && db.checks.contains("restore.tree"))
        #expect(db.objects?.isEmpty == false)
    }

    @Test func aDrillOfAPackAndADatabaseRestoresOnlyThemAndProvesExactlyThem() async throws {
        let (ws, set) = try await Self.workspace()
        defer { ws.remove() }
        let parts = set.manifest.restoreParts()
        let pack = try #require(parts.first { $0.kind == .pack && $0.name != "code/folders.tar.gz" })
        let db = try #require(parts.first { $0.kind == .database })
        var request = DrillJob.Request(pick: .id(set.manifest.id.description), keepSandbox: true)
        request.parts = [db.number, pack.number]
        request.eventDetails = ["sample_seed": "7"]
        let result = try await ws.drill(request)
        #expect(result.verdict == .pass, "\(Self.problems(result))")
        #expect(result.sampled)
        #expect(result.restoredParts?.map(\.number) == [pack.number, db.number])
        #expect(result.partsLine == "2 of \(parts.count)")
        // rto is no measure of part of a set; LaunchAgents and the vault were not restored.
        #expect(result.result(.rto, set.manifest.id.description)?.verdict == .skip)
        #expect(result.results(.launchAgentsRewrite).allSatisfy { $0.verdict == .skip })
        #expect(result.results(.dbIntegrity).map(\.subject) == [db.name])
        // The sandbox holds the pack's files and the database, nothing of the rest.
        let sandbox = try #require(result.sandboxPath)
        let restored = Set(regularFiles(under: sandbox + "/home"))
        // The root sits where it sat in the home (the drill keeps that layout).
        let root = sandbox + "/home/" + ws.config.root.dropFirst(ws.config.home.count + 1) + "/"
        #expect(restored.contains { $0.hasSuffix(db.name) }, "\(restored)")
        #expect(!restored.contains { $0.contains("credentials") }, "\(restored)")
        #expect(!restored.contains { $0.hasSuffix(".plist") }, "\(restored)")
        // The code files are exactly the pack's members, as tar lists them.
        let packRecord = try #require(set.manifest.artifact(pack.name))
        let packObject = set.setPath + "/" + (try #require(set.manifest.storedPath(of: packRecord)))
        let listed = try runTool(
            "/usr/bin/python3",
            ["-c", "import tarfile,sys;[print(m.name) for m in tarfile.open(sys.argv[1]) if m.isfile()]", packObject])
        let members = Set(listed.output.split(separator: "\n").map(String.init))
        let codeFiles = Set(restored.filter { !$0.hasSuffix(db.name) }.map { String($0.dropFirst(root.count)) })
        #expect(!members.isEmpty && codeFiles == members, "\(codeFiles.symmetricDifference(members))")
        try? FileManager.default.removeItem(atPath: sandbox)

        let events = try Self.events(ws)
        let drill = try #require(events.first { $0.kind == .sampledDrill })
        #expect(drill.details["sample_seed"] == "7")
        #expect(events.filter { $0.kind == .drill }.isEmpty)
        let proof = try #require(events.first { $0.kind == .proof })
        #expect(proof.parts?.map(\.key).sorted() == [pack.key, db.key].sorted())
        #expect(proof.parts?.first { $0.kind == .pack }?.checks.contains("restore.archives") == true)
    }

    @Test func aDamagedObjectOfAChosenPartFailsAndProvesNothing() async throws {
        let (ws, set) = try await Self.workspace()
        defer { ws.remove() }
        let parts = set.manifest.restoreParts()
        let db = try #require(parts.first { $0.kind == .database })
        let artifact = try #require(set.manifest.artifact(db.artifacts[0]))
        let object = set.setPath + "/" + (try #require(set.manifest.storedPath(of: artifact)))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: object))
        bytes[bytes.count / 2] ^= 0x5a
        try bytes.write(to: URL(fileURLWithPath: object))
        var request = DrillJob.Request(pick: .id(set.manifest.id.description))
        request.parts = [db.number]
        let result = try await ws.drill(request)
        #expect(result.verdict == .fail)
        #expect(result.results(.setArtifacts).contains { $0.verdict == .fail })
        let events = try Self.events(ws)
        #expect(events.first { $0.kind == .sampledDrill }?.status == .fail)
        #expect(!events.contains { $0.kind == .proof })
        // A part that reads no damaged object still passes on its own.
        let agent = try #require(parts.first { $0.kind == .launchAgent })
        request.parts = [agent.number]
        let other = try await ws.drill(request)
        #expect(other.verdict == .pass, "\(Self.problems(other))")
    }

    /// A LaunchAgent drilled without the pack that holds its program: the program is judged by the
    /// set's record of it (an executable file), not failed as missing from the sandbox.
    @Test func aLaunchAgentWhoseProgramIsInAPackNotChosenPasses() async throws {
        let ws = try VaultWorkspace()
        defer { ws.remove() }
        ws.config.setFormat = 2
        let program = ws.workspace.root + "/bin/job.sh"
        try FileManager.default.createDirectory(atPath: ws.workspace.root + "/bin", withIntermediateDirectories: true)
        try Data("#!/bin/sh\necho job\n".utf8).write(to: URL(fileURLWithPath: program))
        chmod(program, 0o755)
        let plist: [String: Any] = ["Label": "com.maia.program-job", "ProgramArguments": [program]]
        try PropertyListSerialization.data(fromPropertyList: plist, format: .xml, options: 0).write(
            to: URL(fileURLWithPath: ws.workspace.home + "/Library/LaunchAgents/com.maia.program-job.plist"))
        let set = try await ws.backup(at: Date().addingTimeInterval(-600))
        let agent = try #require(
            set.manifest.restoreParts().first { $0.kind == .launchAgent && $0.name.hasSuffix("program-job.plist") })
        var request = DrillJob.Request(pick: .id(set.manifest.id.description))
        request.parts = [agent.number]
        let result = try await ws.drill(request)
        #expect(result.verdict == .pass, "\(Self.problems(result))")
        let rewrite = try #require(result.results(.launchAgentsRewrite).first)
        #expect(rewrite.verdict == .pass)
        #expect(
            rewrite.evidence.contains { $0.contains("not restored by this drill of some parts") }
                || rewrite.message.contains("not restored by this drill of some parts"), "\(rewrite)")
        // The whole set: the program is restored and found in the sandbox.
        let whole = try await ws.drill(.init(pick: .id(set.manifest.id.description)))
        #expect(whole.verdict == .pass, "\(Self.problems(whole))")
    }

    @Test func aSetWhoseScriptTakesNoOnlyIsDrilledWholeAndANumberItLacksIsAUsageError() async throws {
        let ws = try VaultWorkspace()
        defer { ws.remove() }
        ws.config.setFormat = 1
        let set = try await ws.backup(at: Date().addingTimeInterval(-600))
        #expect(!set.manifest.restoresSubsets)
        let parts = set.manifest.restoreParts()
        var request = DrillJob.Request(pick: .id(set.manifest.id.description))
        request.parts = [1]
        let result = try await ws.drill(request)
        #expect(result.verdict == .pass, "\(Self.problems(result))")
        #expect(!result.sampled)
        #expect(result.restoredParts?.count == parts.count)
        request.parts = [parts.count + 1]
        await #expect(throws: RestoreDrillError.self) { try await ws.drill(request) }
    }
}
