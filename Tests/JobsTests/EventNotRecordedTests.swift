import DrillCore
import Foundation
import Health
import Jobs
import TestSupport
import Testing

/// A drill on a destination whose history cannot be written (read-only, full) still writes its
/// reports, then fails with exit 3 saying its event was not recorded: otherwise health would
/// later say no drill passed, with no trace of why.
@Suite(.serialized) struct EventNotRecordedTests {
    /// A folder bind-mounted read-only over itself (`mount --bind`, then `remount,bind,ro`), as a
    /// read-only share looks. Unmounted by ``unmount()``.
    final class ReadOnlyBindMount {
        let folder: String
        private(set) var mounted = false

        /// Why this machine cannot make one (probed once), or nil.
        static let unavailableReason: String? = {
            guard getuid() == 0 else { return "needs root (mount --bind, then remount read-only)" }
            guard let probe = try? TempFolder("rd-ro-probe") else { return "no temporary folder" }
            defer { probe.remove() }
            do {
                let mount = try ReadOnlyBindMount(probe.path)
                mount.unmount()
                return nil
            } catch {
                return "cannot bind-mount read-only here (needs CAP_SYS_ADMIN): \(error)"
            }
        }()

        /// True where the test runs: it can, or CI is set (then it fails, never passes silently).
        static var shouldRun: Bool { unavailableReason == nil || RequiredTool.isCI }

        init(_ folder: String) throws {
            self.folder = folder
            try Self.mount(["--bind", folder, folder])
            mounted = true
            do {
                try Self.mount(["-o", "remount,bind,ro", folder])
            } catch {
                unmount()
                throw error
            }
        }

        func unmount() {
            guard mounted else { return }
            _ = try? runTool(RequiredTool.find("umount") ?? "/bin/umount", [folder])
            mounted = false
        }

        private static func mount(_ arguments: [String]) throws {
            let run = try runTool(RequiredTool.find("mount") ?? "/bin/mount", arguments)
            guard run.status == 0 else {
                throw RestoreDrillError.runtime("mount \(arguments.joined(separator: " ")): \(run.error)")
            }
        }
    }

    /// The drill events in `destination`'s history.
    func drillEvents(_ destination: String) throws -> [HistoryEvent] {
        try HistoryStore(destination: destination).events().filter { $0.kind == .drill }
    }

    @Test func anInjectedDestinationRefusingTheEventGivesExit3AfterTheReports() async throws {
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let destination = RecordingDestination(folder: w.config.destination)
        destination.failingEvents = .io(
            path: w.config.destination + "/.restore-drill/events", message: "Read-only file system")
        var job = DrillJob(config: w.config, clock: FixedClock(Date()), currentDirectory: w.base)
        job.destination = destination
        let error = await #expect(throws: DrillJob.EventNotRecorded.self) {
            _ = try await job.run(.init(pick: .latest))
        }
        let lost = try #require(error)
        #expect(lost.exitStatus == .runtime)
        #expect(lost.result.verdict == .pass)
        #expect(lost.description.contains("could not record its event"))
        #expect(lost.description.contains("Read-only file system"))
        #expect(destination.names.contains("appendEvent"))
        // The reports were written before the failure.
        let folder = try #require(lost.result.reportFolder)
        for name in ["junit.xml", "report.md", "report.json"] {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + name), "\(name)")
        }
        #expect(try drillEvents(w.config.destination).isEmpty)
    }

    @Test(.enabled(if: ReadOnlyBindMount.shouldRun, "needs root and mount --bind (skipped; with CI set it fails)"))
    func aReallyReadOnlyDestinationGivesExit3AfterThePassingDrillsReports() async throws {
        if let reason = ReadOnlyBindMount.unavailableReason {
            throw RestoreDrillError.runtime("CI is set but \(reason)")
        }
        let w = try VaultWorkspace()
        defer { w.remove() }
        _ = try await w.backup()
        let mount = try ReadOnlyBindMount(w.config.destination)
        defer { mount.unmount() }
        // The destination really is read-only, for root too.
        #expect(!FileManager.default.createFile(atPath: w.config.destination + "/probe", contents: Data()))
        let error = await #expect(throws: DrillJob.EventNotRecorded.self) {
            _ = try await w.drill()
        }
        let lost = try #require(error)
        #expect(lost.result.verdict == .pass)
        #expect(lost.exitStatus == .runtime)
        #expect(lost.description.contains(w.config.destination), "\(lost.description)")
        let folder = try #require(lost.result.reportFolder)
        #expect(FileManager.default.fileExists(atPath: folder + "/report.json"))
        mount.unmount()
        #expect(try drillEvents(w.config.destination).isEmpty)
        // Once the destination is writable again, the next drill records its event.
        let again = try await w.drill()
        #expect(again.verdict == .pass)
        #expect(try drillEvents(w.config.destination).count == 1)
    }
}
