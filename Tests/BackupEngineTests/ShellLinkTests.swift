import DrillCore
import Foundation
import Testing

@testable import BackupEngine

/// Shell files that are symbolic links: stored under the name the user configured, with the
/// content the link leads to, and never when the link leads into credentials.
@Suite struct ShellLinkTests {
    static func allBytes(under folder: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let walker = FileManager.default.enumerator(atPath: folder)
        while let rel = walker?.nextObject() as? String {
            let path = folder + "/" + rel
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileManager.default.contents(atPath: path)
            }
        }
        return out
    }

    @Test func absoluteLinkInsideHomeIsStoredUnderTheConfiguredName() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: ws.home + "/dotfiles", withIntermediateDirectories: true)
        try Data("[user]\n\tname = Linked\n".utf8).write(to: URL(fileURLWithPath: ws.home + "/dotfiles/gitconfig"))
        try fm.removeItem(atPath: ws.home + "/.gitconfig")
        try fm.createSymbolicLink(atPath: ws.home + "/.gitconfig", withDestinationPath: ws.home + "/dotfiles/gitconfig")
        let outcome = try await ws.backup()
        let record = try #require(outcome.manifest.files.first { $0.component == .shell && $0.path == ".gitconfig" })
        #expect(record.sha256 == SHA256Digest.hex(of: Data("[user]\n\tname = Linked\n".utf8)))
        #expect(!outcome.manifest.files.contains { $0.component == .shell && $0.path.contains("dotfiles") })
    }

    @Test func linkLeadingOutsideHomeIsStoredWithItsContent() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let elsewhere = ws.folder.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try Data("[core]\n\teditor = vi\n".utf8).write(to: URL(fileURLWithPath: elsewhere + "/gitconfig"))
        try FileManager.default.removeItem(atPath: ws.home + "/.gitconfig")
        try FileManager.default.createSymbolicLink(
            atPath: ws.home + "/.gitconfig", withDestinationPath: elsewhere + "/gitconfig")
        let outcome = try await ws.backup()
        let record = try #require(outcome.manifest.files.first { $0.component == .shell && $0.path == ".gitconfig" })
        #expect(record.sha256 == SHA256Digest.hex(of: Data("[core]\n\teditor = vi\n".utf8)))
        #expect(!outcome.warnings.contains { $0.contains("outside home") })
    }

    @Test func linkIntoCredentialsIsNotStoredAndTheSecretStaysOut() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try FileManager.default.removeItem(atPath: ws.home + "/.zshrc")
        try FileManager.default.createSymbolicLink(
            atPath: ws.home + "/.zshrc", withDestinationPath: ws.root + "/secrets/token.txt")
        let outcome = try await ws.backup()
        #expect(!outcome.manifest.files.contains { $0.component == .shell && $0.path == ".zshrc" })
        #expect(
            (outcome.warnings + outcome.manifest.warnings).contains {
                $0.contains(".zshrc") && $0.contains("credential")
            })
        for (name, bytes) in try Self.allBytes(under: outcome.setPath) {
            #expect(!String(decoding: bytes, as: UTF8.self).contains(ws.secret), "the secret is in \(name)")
        }
    }

    /// A link the drill will refuse (`restore.archives`: it leaves the restore root) is named at
    /// backup time, not first discovered by a failing drill.
    @Test func linkLeavingTheRootIsWarnedAtBackup() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        try FileManager.default.createDirectory(atPath: ws.root + "/venv/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: ws.root + "/venv/bin/python3", withDestinationPath: "/usr/bin/python3")
        try FileManager.default.createSymbolicLink(atPath: ws.root + "/venv/up", withDestinationPath: "../../outside")
        try FileManager.default.createSymbolicLink(atPath: ws.root + "/venv/inside", withDestinationPath: "../src")
        let outcome = try await ws.backup()
        let warnings = outcome.warnings + outcome.manifest.warnings
        #expect(warnings.contains { $0.contains("venv/bin/python3") && $0.contains("leads outside the root") })
        #expect(warnings.contains { $0.contains("venv/up") && $0.contains("leads outside the root") })
        #expect(!warnings.contains { $0.contains("venv/inside") })
    }
}
