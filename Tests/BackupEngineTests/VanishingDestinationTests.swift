import Destination
import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// A small ext4 image on a loop device mounted over a folder, as an external drive is; cleaned up
/// by ``detach()`` whatever happened (lazy unmount if still mounted, then the loop device freed).
final class LoopDrive: @unchecked Sendable {
    let image: String
    let mountPoint: String
    private(set) var device: String?

    /// Whether this machine can do it: nil when it can, else the reason (probed once, with a
    /// throwaway image).
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "needs root (mount -o loop)" }
        guard let folder = try? TempFolder("rd-loop-probe") else { return "no temporary folder" }
        defer { folder.remove() }
        let target = folder.path + "/mnt"
        mkdir(target, 0o755)
        do {
            let drive = try LoopDrive(image: folder.path + "/probe.img", mountPoint: target, megabytes: 8)
            drive.detach()
            return nil
        } catch {
            return "cannot mount a loop device here (needs CAP_SYS_ADMIN and /dev/loop*): \(error)"
        }
    }()

    /// True when the tests that need a loop device run: they can, or CI is set (then a missing
    /// capability is a failure, never a silent pass).
    static var shouldRun: Bool { unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] != nil }

    /// Makes an image of `megabytes` MiB with ext4 on it, attaches it and mounts it at `mountPoint`.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` naming the command that failed (everything done
    ///   so far is undone).
    init(image: String, mountPoint: String, megabytes: Int = 64) throws {
        self.image = image
        self.mountPoint = mountPoint
        do {
            try Self.tool("truncate", ["-s", "\(megabytes)M", image])
            try Self.tool("mkfs.ext4", ["-q", "-F", image])
            let attached = try Self.tool("losetup", ["--find", "--show", image])
            device = attached.trimmingCharacters(in: .whitespacesAndNewlines)
            try Self.tool("mount", [device!, mountPoint])
        } catch {
            detach()
            throw error
        }
    }

    /// `umount -l`: the drive goes away while open files still reach it.
    func unmountLazily() throws { try Self.tool("umount", ["-l", mountPoint]) }

    var isMounted: Bool { (try? Self.tool("mountpoint", ["-q", mountPoint])) != nil }

    /// Unmounts (lazily, so open files cannot keep it) if still mounted and frees the loop device.
    func detach() {
        if isMounted { _ = try? Self.tool("umount", ["-l", mountPoint]) }
        if let device { _ = try? Self.tool("losetup", ["-d", device]) }
        device = nil
    }

    /// Runs a system tool found in the usual folders.
    /// - Returns: its standard output.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when it is not found or exits non-zero.
    @discardableResult
    static func tool(_ name: String, _ arguments: [String]) throws -> String {
        guard
            let path = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map({ "\($0)/\(name)" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw RestoreDrillError.runtime("\(name): not found") }
        let result = try Shell.run(path, arguments)
        guard result.code == 0 else {
            throw RestoreDrillError.runtime(
                "\(name) \(arguments.joined(separator: " ")): exit \(result.code): \(result.err)")
        }
        return result.out
    }
}

/// Where a test unmounts the destination's drive.
enum UnmountPoint: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// After the run recorded the destination and before it made the partial folder.
    case afterTheStartCheck
    /// While the code archive is open (and databases are copied beside it).
    case duringTheArtifacts
    /// After every artifact, right before the manifest.
    case beforeTheManifest
    /// After the manifest, right before the rename.
    case beforeTheRename
    /// Right after the rename (before the destination is synced and checked).
    case afterTheRename

    var phase: BackupPhase {
        switch self {
        case .afterTheStartCheck: .destinationRecorded
        case .duringTheArtifacts: .writingArtifacts
        case .beforeTheManifest: .beforeManifest
        case .beforeTheRename: .beforeRename
        case .afterTheRename: .afterRename
        }
    }

    var testDescription: String { rawValue }
}

/// Runs the hook's unmount once (the code archive is written again when a file changed).
private final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private(set) var error: (any Error)?

    func run(_ body: () throws -> Void) {
        let first = lock.withLock {
            defer { done = true }
            return !done
        }
        guard first else { return }
        do { try body() } catch { lock.withLock { self.error = error } }
    }

    var happened: Bool { lock.withLock { done } }
}

/// A real drive that goes away mid-backup: the destination folder is a loop-mounted ext4 image,
/// unmounted lazily (`umount -l`) at each point of a run.
@Suite(.serialized) struct VanishingDestinationTests {
    /// The workspace, its destination mounted from an image, and the drive; the caller calls
    /// `close` (in a `defer`).
    private static func mountedWorkspace() throws -> (Workspace, LoopDrive) {
        if let reason = LoopDrive.unavailableReason {
            // Only reached under CI (see `shouldRun`): a missing capability is a failure there.
            throw RestoreDrillError.runtime("CI is set but \(reason)")
        }
        let ws = try Workspace()
        // Large enough that the code archive is open across several gzip members (1 MiB each).
        var bytes = [UInt8](repeating: 0, count: 6 << 20)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: ws.root + "/assets.bin"))
        do {
            let drive = try LoopDrive(image: ws.folder.path + "/drive.img", mountPoint: ws.destination)
            return (ws, drive)
        } catch {
            ws.close()
            throw error
        }
    }

    /// Folders at `destination` that look like a set (`full_*` holding a manifest.json).
    private static func setLikeFolders(_ destination: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: destination)) ?? []).filter {
            $0.hasPrefix("full_") && FileManager.default.fileExists(atPath: "\(destination)/\($0)/manifest.json")
        }
    }

    private static func completeSets(_ destination: String) throws -> [BackupID] {
        try SetFolders.scan(destination: destination).compactMap {
            if case .set(let manifest) = $0.kind, manifest.status == .complete { return manifest.id }
            return nil
        }
    }

    @Test(
        .enabled(
            if: LoopDrive.shouldRun,
            Comment(rawValue: "skipped: \(LoopDrive.unavailableReason ?? "") (set CI to make this a failure)")),
        arguments: UnmountPoint.allCases)
    func aDriveUnmountedMidRunNeverYieldsASealedSet(_ point: UnmountPoint) async throws {
        let (ws, drive) = try Self.mountedWorkspace()
        defer {
            drive.detach()
            ws.close()
        }
        let driveDevice = try #require(FileIdentity.following(path: ws.destination)).device
        let localDevice = try #require(FileIdentity.following(path: ws.folder.path)).device
        try #require(driveDevice != localDevice)

        let once = Once()
        var engine = BackupEngine(config: ws.config, clock: FixedClock(Date()), runner: ws.runner)
        engine.phaseHook = { phase in
            guard phase == point.phase else { return }
            once.run { try drive.unmountLazily() }
        }
        var thrown: RestoreDrillError?
        do {
            let outcome = try await engine.run()
            Issue.record("the backup succeeded after the drive went away at \(point): \(outcome.setPath)")
        } catch let error as RestoreDrillError {
            thrown = error
        }
        #expect(once.happened && once.error == nil, "the unmount at \(point): \(String(describing: once.error))")
        #expect(!drive.isMounted)

        let error = try #require(thrown)
        #expect(error.exitStatus == .runtime)
        guard case .destinationVanished(let path, let message) = error else {
            Issue.record("\(point): not destinationVanished: \(error)")
            return
        }
        #expect(path == ws.destination)
        // The destination now leads to the local folder under the mount point: another device.
        #expect(message.contains("\(ws.destination): device \(driveDevice) → \(localDevice)"), "\(point): \(message)")

        // Nothing on the local disk looks like a set, and no complete set is found there.
        #expect(Self.setLikeFolders(ws.destination) == [], "\(point)")
        #expect(try Self.completeSets(ws.destination) == [], "\(point)")
        switch point {
        case .afterTheStartCheck:
            // The partial folder was made on the local disk, by this run: it is removed.
            #expect(message.contains("removed (the folder this run made"), "\(message)")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: ws.destination)) == [])
        default:
            // The run's folder is on the drive that went away: left as it is, and said so (a writer
            // that made its folder after the unmount may have made another `.partial-` folder on
            // the local disk: not the run's, so left too).
            #expect(
                message.contains("can no longer be found at") || message.contains("is not the folder this run made"),
                "\(point): \(message)")
        }
    }

    /// A drive that is gone before the run starts leaves an empty local folder at the destination:
    /// that is where the run's start check looks, so the backup goes there, whole and consistent
    /// (the same as a destination that was never a drive; the missing-parent check catches the
    /// usual case, a mount point that is not there at all).
    @Test(
        .enabled(
            if: LoopDrive.shouldRun,
            Comment(rawValue: "skipped: \(LoopDrive.unavailableReason ?? "") (set CI to make this a failure)")))
    func aDriveGoneBeforeTheRunStartsIsAnOrdinaryLocalDestination() async throws {
        let (ws, drive) = try Self.mountedWorkspace()
        defer {
            drive.detach()
            ws.close()
        }
        try drive.unmountLazily()
        let outcome = try await ws.backup()
        #expect(outcome.manifest.status == .complete)
        let localDevice = try #require(FileIdentity.following(path: ws.folder.path)).device
        #expect(FileIdentity.of(path: outcome.setPath)?.device == localDevice)
        #expect(try Self.completeSets(ws.destination) == [outcome.manifest.id])
    }
}
