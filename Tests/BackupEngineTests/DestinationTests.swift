import DrillCore
import Foundation
import Testing

@testable import BackupEngine

@Suite struct DestinationTests {
    /// An unmounted drive: the destination's parent is missing. Nothing may be created under it.
    @Test func destinationWhoseParentIsMissingIsRefusedAndNothingIsCreated() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let volume = ws.folder.path + "/Volumes/Backup"
        ws.config.destination = volume + "/MaiaBackups"
        do {
            _ = try await ws.backup()
            Issue.record("backed up under a missing parent")
        } catch let RestoreDrillError.io(path, message) {
            #expect(path == volume + "/MaiaBackups")
            #expect(message.contains("does not exist"))
        }
        #expect(!FileManager.default.fileExists(atPath: ws.folder.path + "/Volumes"))
    }

    @Test func missingDestinationUnderAnExistingFolderIsCreated() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        ws.config.destination = ws.folder.path + "/new-backups"
        let outcome = try await ws.backup()
        #expect(outcome.setPath.hasPrefix(ws.folder.path + "/new-backups/full_"))
    }
}
