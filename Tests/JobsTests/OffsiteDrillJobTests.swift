import Destination
import DrillCore
import Foundation
import Health
import Jobs
import TestSupport
import Testing

/// Issue 16, `drill --offsite NAME`: the set is fetched from the remote with the real rclone into
/// the drill's staging folder and drilled in full, with the local destination REMOVED first (the
/// laptop is gone), over a plain local-path remote (`encrypted: false`) and an rclone `crypt`
/// remote over a local path. The event goes to the local destination's history, which the drill
/// makes again (its parent exists); the reports name the remote; the download is inside the RTO.
@Suite(.serialized) struct OffsiteDrillJobTests {
    /// A format-2 workspace with a vault password (``VaultWorkspace``), an rclone configuration of
    /// its own (`RCLONE_CONFIG`, 0600) with a `crypt` remote `vault` over `<base>/remote-crypt`
    /// (passwords obscured by `rclone obscure -` from standard input), and two off-site remotes
    /// configured: `plain` (the local path `<base>/remote-plain`, `encrypted: false`) and `sealed`
    /// (`vault:sets`).
    final class OffsiteWorkspace {
        let ws: VaultWorkspace
        let rclone: Rclone
        var base: String { ws.base }
        var plainRoot: String { ws.base + "/remote-plain" }

        init() throws {
            let executable = try requireTool("rclone", package: "rclone")
            ws = try VaultWorkspace()
            ws.config.setFormat = 2
            let obscured = try (1...2).map { n -> String in
                let run = try runTool(
                    executable, ["obscure", "-"], standardInput: Data("crypt-pass-\(n)-\(UUID().uuidString)\n".utf8))
                guard run.status == 0 else { throw RestoreDrillError.runtime("rclone obscure: \(run.error)") }
                return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let configFile = ws.base + "/rclone.conf"
            let text = """
                [vault]
                type = crypt
                remote = \(ws.base)/remote-crypt
                password = \(obscured[0])
                password2 = \(obscured[1])

                """
            #expect(FileManager.default.createFile(atPath: configFile, contents: Data(text.utf8)))
            chmod(configFile, 0o600)
            var environment = ProcessInfo.processInfo.environment
            environment["RCLONE_CONFIG"] = configFile
            environment.removeValue(forKey: "AWS_CA_BUNDLE")
            rclone = try Rclone(executable: executable, environment: environment)
            var plain = RestoreDrillConfig.OffsiteRemote(name: "plain", rclone: plainRoot)
            plain.encrypted = false
            ws.config.offsite = [plain, RestoreDrillConfig.OffsiteRemote(name: "sealed", rclone: "vault:sets")]
        }

        func remote(_ name: String) throws -> RestoreDrillConfig.OffsiteRemote {
            try #require(ws.config.offsite.first { $0.name == name })
        }

        /// Backs up (format 2; the files cache in `<base>/cache`) and pushes the set to `remote` with
        /// the real push job.
        @discardableResult
        func backupAndPush(_ remote: String, at date: Date = Date()) async throws -> BackupJob.Outcome {
            // As ``VaultWorkspace/backup(iterations:runner:at:keyring:sharedSalt:)``, with the files
            // cache in `<base>/cache` too (never the user's).
            var job = BackupJob(config: ws.config, clock: FixedClock(date))
            job.dependencyCache = base + "/cache"
            job.objectCache = base + "/cache"
            job.vaultIterations = 2000
            let outcome = try await job.run()
            var push = OffsitePushJob(config: ws.config, remote: try self.remote(remote), rclone: rclone)
            push.backoff = 0.1
            try push.checkEncryption()
            let pushed = try push.push(id: outcome.manifest.id.description)
            #expect(pushed.status == "pushed", "\(pushed.text)")
            return outcome
        }

        /// Removes the local destination folder entirely (sets, objects, history).
        func removeLocalDestination() throws {
            try FileManager.default.removeItem(atPath: ws.config.destination)
            #expect(!FileManager.default.fileExists(atPath: ws.config.destination))
        }

        func drillJob(config: RestoreDrillConfig? = nil) -> DrillJob {
            var job = DrillJob(config: config ?? ws.config, clock: FixedClock(Date()), currentDirectory: base)
            job.keyCache = base + "/cache"
            job.rclone = rclone
            return job
        }

        func drill(_ request: DrillJob.Request) async throws -> DrillResult {
            try await drillJob().run(request)
        }

        var stagingFolder: String { ws.config.sandbox.folder + "/" + DrillJob.offsiteStagingName }

        func remove() { ws.remove() }
    }

    static func problems(_ r: DrillResult) -> [String] {
        r.checks.problems.map { "\($0.check.rawValue) \($0.subject): \($0.message)" }
    }

    /// The whole path over one remote: push, remove the local destination, drill --offsite PASS;
    /// the event in the (re-made) local history; reports naming the remote; RTO = fetch + replay.
    func wholePath(remote name: String) async throws {
        let o = try OffsiteWorkspace()
        defer { o.remove() }
        let set = try await o.backupAndPush(name)
        try o.removeLocalDestination()

        let result = try await o.drill(.init(pick: .latest, offsite: name))
        #expect(result.verdict == .pass, "\(Self.problems(result))")
        #expect(result.backupID == set.manifest.id)
        #expect(result.authenticated == true)
        let remote = try o.remote(name)
        let copy = try #require(result.copy)
        #expect(copy.kind == "offsite")
        #expect(copy.remote == name)
        #expect(copy.remotePath == remote.rclone)
        #expect(copy.fetchSeconds > 0)
        // Every artifact of the set was downloaded (objects and the set folder's files).
        let artifactBytes = set.manifest.objectRefs().reduce(Int64(0)) { $0 + $1.size }
        #expect(copy.fetchedBytes > artifactBytes, "fetched \(copy.fetchedBytes), objects \(artifactBytes)")
        let rto = try #require(result.rtoSeconds)
        #expect(rto >= copy.fetchSeconds)
        let rtoCheck = try #require(result.results(.rto).first)
        #expect(rtoCheck.verdict == .pass)
        #expect(rtoCheck.evidence.contains { $0.hasPrefix("download from the remote") }, "\(rtoCheck.evidence)")
        // rpo judged the remote's sets, not the (removed) local destination.
        #expect(result.results(.rpo).first?.subject == remote.rclone)
        // The drill read a copy below its own staging folder, removed after it.
        #expect(result.setPath.hasPrefix(o.stagingFolder + "/"), "\(result.setPath)")
        #expect(!FileManager.default.fileExists(atPath: result.setPath))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: o.stagingFolder)) ?? []).isEmpty)

        // The event, in the local destination's history (made again: only the events are there).
        let local = LocalDestination(path: o.ws.config.destination)
        let all = try HistoryStore(local).events()
        // The drill's event and the proof of what it proved (of the remote's copy, issue 17).
        #expect(all.map(\.kind) == [.drill, .proof])
        #expect(all.last?.details["copy"] == "offsite")
        let events = all.filter { $0.kind == .drill }
        let event = try #require(events.first)
        #expect(event.kind == .drill)
        #expect(event.status == .pass)
        #expect(event.backupID == set.manifest.id)
        #expect(event.details["copy"] == "offsite")
        #expect(event.details["remote"] == name)
        #expect(Double(event.details["fetch_seconds"] ?? "") ?? 0 > 0, "\(event.details)")
        #expect(event.details["fetched_bytes"] == String(copy.fetchedBytes))
        #expect(try SetCatalogue(local).sets().isEmpty)

        // The reports name the copy drilled and the download.
        let folder = try #require(result.reportFolder)
        let markdown = try String(contentsOfFile: folder + "/report.md", encoding: .utf8)
        #expect(markdown.contains("off-site copy on remote `\(name)` (`\(remote.rclone)`)"), "\(markdown)")
        #expect(markdown.contains("- **Download:** "))
        let json = try JSONDecoder().decode(
            DrillResult.self, from: try Data(contentsOf: URL(fileURLWithPath: folder + "/report.json")))
        #expect(json.copy == copy)
        #expect(json.rtoSeconds == result.rtoSeconds)
        let junit = try String(contentsOfFile: folder + "/junit.xml", encoding: .utf8)
        #expect(junit.contains("<property name=\"remote\" value=\"\(name)\"/>"))
        #expect(junit.contains("<property name=\"copy\" value=\"offsite\"/>"))
        #expect(junit.contains("<property name=\"fetch_seconds\" value=\""))
        #expect(junit.contains("copy: off-site copy on remote \(name) (\(remote.rclone))"))
        try Self.validJUnit(folder + "/junit.xml")
        #expect(DrillJob.summary(result).contains("copy: off-site copy on remote \(name)"))
    }

    /// `junit.xml` is valid against the Jenkins schema (../shared/schemas/junit-10.xsd).
    static func validJUnit(_ file: String) throws {
        let xmllint = try requireTool("xmllint", package: "libxml2-utils")
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "shared/schemas/junit-10.xsd"
            ).path
        let run = try runTool(xmllint, ["--noout", "--schema", schema, file], mergingError: true)
        #expect(run.status == 0, "xmllint rejected \(file): \(run.output)")
    }

    @Test(.needsTool("rclone", package: "rclone"), .needsTool("xmllint", package: "libxml2-utils"))
    func drillOfAPlainRemoteCopyPassesWithTheLocalDestinationRemoved() async throws {
        try await wholePath(remote: "plain")
    }

    @Test(.needsTool("rclone", package: "rclone"), .needsTool("xmllint", package: "libxml2-utils"))
    func drillOfACryptRemoteCopyPassesWithTheLocalDestinationRemoved() async throws {
        try await wholePath(remote: "sealed")
    }

    /// One byte flipped in an object on the remote: the drill fails naming the object and the
    /// artifact, and the LOCAL files cache is kept (the local objects were never read).
    @Test(.needsTool("rclone", package: "rclone"))
    func aByteFlippedOnTheRemoteFailsTheDrillNamingTheObject() async throws {
        let o = try OffsiteWorkspace()
        defer { o.remove() }
        let set = try await o.backupAndPush("plain")
        let cacheBefore = try FileManager.default.contentsOfDirectory(atPath: o.base + "/cache").sorted()
        // The backup's files cache of the local destination (`objects-<16 hex>.json`).
        #expect(cacheBefore.contains { $0.hasPrefix("objects-") && $0.hasSuffix(".json") }, "\(cacheBefore)")
        try o.removeLocalDestination()
        // The largest object of the set, flipped in the middle on the remote.
        let largest = try #require(set.manifest.objectRefs().max { $0.size < $1.size })
        let file = o.plainRoot + "/objects/\(largest.digest.fanOut)/\(largest.digest.hex)"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: file))

        let result = try await o.drill(.init(pick: .id(set.manifest.id.description), offsite: "plain"))
        #expect(result.verdict == .fail)
        let failed = result.results(.setArtifacts).filter { $0.verdict == .fail }
        #expect(!failed.isEmpty, "\(Self.problems(result))")
        #expect(
            failed.contains {
                $0.findings.contains { $0.code == .objectDamaged && $0.message.contains(largest.digest.hex) }
            },
            "\(Self.problems(result))")
        #expect(result.copy?.remote == "plain")
        // The damage is the remote's: the local reuse cache stays.
        let cacheAfter = try FileManager.default.contentsOfDirectory(atPath: o.base + "/cache").sorted()
        #expect(cacheAfter == cacheBefore)
        let events = try HistoryStore(LocalDestination(path: o.ws.config.destination)).events()
        #expect(events.map(\.status) == [.fail])
        #expect(events.first?.details["remote"] == "plain")
    }

    /// The remote manifest deleted: that set is not a set there (by id: not found, naming the
    /// remote); `--latest` drills the newest complete one.
    @Test(.needsTool("rclone", package: "rclone"))
    func aMissingRemoteManifestIsNoSetAndLatestTakesTheCompleteOne() async throws {
        let o = try OffsiteWorkspace()
        defer { o.remove() }
        let older = try await o.backupAndPush("plain", at: Date().addingTimeInterval(-3600))
        try Data("print('newer')\n".utf8).write(to: URL(fileURLWithPath: o.ws.workspace.root + "/newer.py"))
        let newer = try await o.backupAndPush("plain")
        #expect(newer.manifest.id > older.manifest.id)
        try o.removeLocalDestination()
        try FileManager.default.removeItem(atPath: o.plainRoot + "/\(newer.manifest.id)/manifest.json")

        await #expect {
            _ = try await o.drill(.init(pick: .id(newer.manifest.id.description), offsite: "plain"))
        } throws: { error in
            guard case .setNotFound(let what) = error as? RestoreDrillError else { return false }
            return what.contains(newer.manifest.id.description) && what.contains(o.plainRoot)
        }
        let result = try await o.drill(.init(pick: .latest, offsite: "plain"))
        #expect(result.backupID == older.manifest.id)
        #expect(result.verdict == .pass, "\(Self.problems(result))")
    }

    /// Usage: an unknown remote (exit 2, naming the configured ones), `--offsite` with `--set`
    /// (exit 2), and no rclone on the PATH (exit 3, saying so). Nothing is drilled.
    @Test func offsiteUsageErrors() async throws {
        let ws = try VaultWorkspace()
        defer { ws.remove() }
        var plain = RestoreDrillConfig.OffsiteRemote(name: "plain", rclone: ws.base + "/remote")
        plain.encrypted = false
        ws.config.offsite = [plain, RestoreDrillConfig.OffsiteRemote(name: "cloud", rclone: "cloud:x")]
        let job = DrillJob(config: ws.config, clock: FixedClock(Date()), currentDirectory: ws.base)

        await #expect {
            _ = try await job.run(.init(pick: .latest, offsite: "nosuch"))
        } throws: { error in
            guard let e = error as? RestoreDrillError, case .usage(let text) = e else { return false }
            return e.exitStatus == .usage && text.contains("nosuch") && text.contains("plain, cloud")
        }
        await #expect {
            _ = try await job.run(.init(pick: .path(ws.base), offsite: "plain"))
        } throws: { error in
            guard let e = error as? RestoreDrillError, case .usage(let text) = e else { return false }
            return e.exitStatus == .usage && text.contains("--set")
        }
        var noRclone = job
        noRclone.environment = ["PATH": ws.base + "/empty-path"]
        await #expect {
            _ = try await noRclone.run(.init(pick: .latest, offsite: "plain"))
        } throws: { error in
            guard let e = error as? RestoreDrillError, case .runtime(let text) = e else { return false }
            return e.exitStatus == .runtime && text.contains("rclone is not installed")
        }
        #expect(!FileManager.default.fileExists(atPath: ws.config.reports.folder))
    }

    /// The local destination and its parent are gone (a drive not mounted): the drill still
    /// passes and writes its reports, but its event is not recorded (exit 3, naming why).
    @Test(.needsTool("rclone", package: "rclone"))
    func aMissingDestinationParentLeavesTheEventUnrecorded() async throws {
        let o = try OffsiteWorkspace()
        defer { o.remove() }
        try await o.backupAndPush("plain")
        try o.removeLocalDestination()
        var config = o.ws.config
        config.destination = o.base + "/unmounted/backups"
        await #expect {
            _ = try await o.drillJob(config: config).run(.init(pick: .latest, offsite: "plain"))
        } throws: { error in
            guard let lost = error as? DrillJob.EventNotRecorded else { return false }
            return lost.result.verdict == .pass && lost.exitStatus == .runtime
                && "\(lost)".contains("does not exist") && lost.result.reportFolder != nil
        }
        #expect(!FileManager.default.fileExists(atPath: o.base + "/unmounted"))
    }
}
