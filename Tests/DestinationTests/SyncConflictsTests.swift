import DrillCore
import Foundation
import Testing

@testable import Destination

/// The classifier of sync-conflict copies (issue 16, "Synced folders") and the scan of a real
/// destination folder made in a temporary folder.
struct SyncConflictsTests {
    static let setFiles: Set<String> = ["manifest.json", "SHA256SUMS", "restore_maia.sh", "code.tar.gz"]
    static func inSet(_ name: String) -> SyncConflictName? {
        SyncConflicts.match(name, isExpected: { setFiles.contains($0) })
    }
    static let sha = String(repeating: "ab", count: 32)

    @Test(arguments: [
        ("manifest (2).json", "manifest.json", SyncConflictRule.numbered),
        ("SHA256SUMS (1)", "SHA256SUMS", .numbered),
        ("code (3).tar.gz", "code.tar.gz", .numbered),
        ("code.tar (3).gz", "code.tar.gz", .numbered),
        ("manifest-MaiasMacBook.json", "manifest.json", .deviceName),
        ("SHA256SUMS-MaiasMacBook", "SHA256SUMS", .deviceName),
        ("restore_maia-DESKTOP-1A2B3C.sh", "restore_maia.sh", .deviceName),
        ("manifest (Maia's conflicted copy 2026-12-01).json", "manifest.json", .dropbox),
        ("SHA256SUMS (Case Conflict)", "SHA256SUMS", .dropbox),
        ("manifest.sync-conflict-20261201-030000-ABCD7EF.json", "manifest.json", .syncthing),
        ("SHA256SUMS.sync-conflict-20261201-030000-ABCD7EF", "SHA256SUMS", .syncthing),
        ("manifest 2.json", "manifest.json", .iCloud),
        ("restore_maia 3.sh", "restore_maia.sh", .iCloud),
    ])
    func eachClientsRuleIsRecognised(name: String, original: String, rule: SyncConflictRule) {
        #expect(Self.inSet(name) == SyncConflictName(original: original, rule: rule), "\(name)")
    }

    @Test func setFolderAndObjectCopiesAreRecognisedRelativeToTheirKind() {
        let isSet = { (name: String) in BackupID(name) != nil }
        #expect(
            SyncConflicts.match("full_20261201_030000 (1)", isExpected: isSet)
                == SyncConflictName(original: "full_20261201_030000", rule: .numbered))
        #expect(
            SyncConflicts.match("full_20261201_030000-MaiasMacBook", isExpected: isSet)
                == SyncConflictName(original: "full_20261201_030000", rule: .deviceName))
        #expect(
            SyncConflicts.match("full_20261201_030000 2", isExpected: isSet)
                == SyncConflictName(original: "full_20261201_030000", rule: .iCloud))
        let isObject = { (name: String) in ObjectDigest(name) != nil }
        #expect(SyncConflicts.match("\(Self.sha) (2)", isExpected: isObject)?.original == Self.sha)
        #expect(
            SyncConflicts.match("\(Self.sha).sync-conflict-20261201-030000-ABCD7EF", isExpected: isObject)?.rule
                == .syncthing)
    }

    @Test func legitimateNamesAreNeverFlagged() {
        let isSet = { (name: String) in BackupID(name) != nil }
        // A set named by its id (a second set in the same second included) is a set.
        #expect(SyncConflicts.match("full_20261201_030000", isExpected: isSet) == nil)
        #expect(SyncConflicts.match("full_20261201_030000_2", isExpected: isSet) == nil)
        // Shapes of a copy whose original is not an expected name.
        #expect(Self.inSet("notes (2).txt") == nil)
        #expect(Self.inSet("report-final.json") == nil)
        #expect(Self.inSet("photo 2.jpg") == nil)
        // Not the rules' shapes: iCloud starts at 2, a number needs its space, a device name has a letter.
        #expect(Self.inSet("manifest 1.json") == nil)
        #expect(Self.inSet("manifest(2).json") == nil)
        #expect(Self.inSet("SHA256SUMS-0002") == nil)
        #expect(Self.inSet("manifest (two).json") == nil)
        #expect(Self.inSet("manifest.sync-conflict-2026-ABCD7EF.json") == nil)
        // Expected names themselves.
        for name in Self.setFiles { #expect(Self.inSet(name) == nil) }
        // A chunk of a database is not a device-named copy of another chunk: only unexpected names
        // are read, and `x.db.chunk` is no expected name.
        let chunks: Set<String> = ["x.db.chunk-0001", "x.db.chunk-0002"]
        #expect(SyncConflicts.match("x.db.chunk-0003", isExpected: { chunks.contains($0) }) == nil)
    }

    @Test func copyInSetNamesTheTopmostCopiedFolder() throws {
        let listed: Set<String> = ["manifest.json", "SHA256SUMS", "databases/a.db", "restore_maia.sh"]
        let folder = try #require(SyncedFolderScan.copyInSet("databases (2)/a.db", listed: listed))
        #expect(folder.path == "databases (2)" && folder.original == "databases" && folder.rule == .numbered)
        let file = try #require(SyncedFolderScan.copyInSet("databases/a-MaiasMacBook.db", listed: listed))
        #expect(file.path == "databases/a-MaiasMacBook.db" && file.original == "databases/a.db")
        #expect(SyncedFolderScan.copyInSet("databases/other (2).db", listed: listed) == nil)
    }

    /// A real destination: a set folder with copies beside its manifest and SHA256SUMS, a copy of
    /// the set folder, an object and its copy, and files that only look like copies.
    @Test func scanOfARealFolderFindsEveryCopyAndOnlyThose() throws {
        let dest = FileManager.default.temporaryDirectory.appendingPathComponent("rd-sync-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dest) }
        let id = BackupID(date: Timestamp.date("2026-12-01T03:00:00Z")!, sequence: 1)
        let set = "\(dest)/\(id)"
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dest)/\(id) (1)", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dest)/\(id)_2", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            atPath: "\(dest)/objects/ab", withIntermediateDirectories: true)
        for file in [
            "\(set)/manifest.json", "\(set)/manifest (2).json", "\(set)/SHA256SUMS", "\(set)/SHA256SUMS-MaiasMacBook",
            "\(dest)/objects/ab/\(Self.sha)", "\(dest)/objects/ab/\(Self.sha) (2)", "\(dest)/notes (2).txt",
        ] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        }
        let scan = SyncedFolderScan.scan(destination: dest)
        #expect(
            scan.conflictCopies.map(\.path) == [
                "\(id) (1)", "\(id)/SHA256SUMS-MaiasMacBook", "\(id)/manifest (2).json",
                "objects/ab/\(Self.sha) (2)",
            ])
        #expect(scan.conflictCopies.map(\.place) == [.setFolder, .setFile, .setFile, .object])
        #expect(scan.conflictCopies.filter(\.fails).count == 2)
        #expect(scan.copies(forSet: id.description, objects: [Self.sha]).count == 4)
        #expect(scan.copies(forSet: id.description, objects: []).count == 3)
        #expect(scan.placeholders.isEmpty)
        #if os(Linux)
            // Conflict copies show a sync client at work: the note is given, once.
            #expect(scan.placeholderNote == SyncedFolderScan.cannotTellNote)
            #expect(scan.placeholderNote?.contains("cannot tell on this system") == true)
        #endif
    }

    @Test func theLinuxNoteIsGivenWhereTheDestinationMayBeSyncedAndNowhereElse() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("rd-sync-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let synced = "\(base)/OneDrive - Maia/Backups"
        let plain = "\(base)/backups"
        for folder in [synced, plain] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        #expect(SyncedFolderScan.maySync(synced))
        #expect(SyncedFolderScan.maySync("/Users/maia/Library/CloudStorage/Dropbox/b"))
        #expect(!SyncedFolderScan.maySync(plain))
        #if os(Linux)
            #expect(!SyncedFolderScan.canTellPlaceholders)
            #expect(
                SyncedFolderScan.scan(destination: synced).placeholderNote?.contains("cannot tell on this system")
                    == true)
            #expect(SyncedFolderScan.scan(destination: plain).placeholderNote == nil)
        #endif
    }
}
