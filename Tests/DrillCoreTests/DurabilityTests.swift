import Foundation
import Testing

@testable import DrillCore

/// A set is synced to disk before it is renamed into place: every file, then every folder from
/// the deepest up, links not followed.
@Suite struct DurabilityTests {
    func tree() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rd-dur-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/databases/claude", withIntermediateDirectories: true)
        try Data("a".utf8).write(to: URL(fileURLWithPath: root + "/manifest.json"))
        try Data("b".utf8).write(to: URL(fileURLWithPath: root + "/databases/claude/x.db"))
        try Data("c".utf8).write(to: URL(fileURLWithPath: root + "/databases/y.db"))
        symlink("/etc/passwd", root + "/link")
        return root
    }

    @Test func filesComeBeforeTheirFoldersAndLinksAreLeftOut() throws {
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let order = Durability.syncOrder(root)
        #expect(
            order == [
                root + "/databases/claude/x.db", root + "/databases/y.db", root + "/manifest.json",
                root + "/databases/claude", root + "/databases", root,
            ])
    }

    @Test func syncingATreeSucceedsAndAMissingPathIsNamed() async throws {
        let root = try tree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await Durability.syncTree(root)
        let error = #expect(throws: RestoreDrillError.self) { try Durability.sync(root + "/gone") }
        #expect("\(error!)".contains(root + "/gone"))
    }
}
