import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Selftest

/// Issue 15, "Must show": the selftest gains the damages of format 2 (a missing object, a pack
/// holding a member of another pack, two chunk objects swapped), each caught by its named check,
/// and every damage kind of the catalogue is made on a format-2 set with objects of its own.
@Suite(.serialized) struct SelftestFormatTwoTests {
    static let objectDamages = ["object-missing", "pack-member-in-two-packs", "chunk-objects-swapped"]

    /// Runs the selftest in-process on sets of `format`, only the damages `only`, in a kept folder.
    static func run(format: Int, only: [String], folder: TempFolder) async throws -> SelftestReport {
        var options = SelftestJob.Options()
        options.folder = folder.file("work")
        options.keep = true
        options.only = only
        options.setFormat = format
        return try await SelftestJob(options: options, clock: SystemClock()).run()
    }

    static func row(_ report: SelftestReport, _ id: String) throws -> SelftestRow {
        try #require(report.rows.first { $0.damage == id }, "no row \(id)")
    }

    /// Every object file beneath `objects` (`<ab>/<sha256>`) whose bytes do not have its name.
    static func misnamedObjects(_ objects: String) throws -> [String] {
        var out: [String] = []
        for fan in try FileManager.default.contentsOfDirectory(atPath: objects) {
            for name in try FileManager.default.contentsOfDirectory(atPath: objects + "/" + fan) {
                let (sha, _) = try SHA256Digest.file(at: "\(objects)/\(fan)/\(name)")
                if sha != name { out.append("\(fan)/\(name)") }
            }
        }
        return out
    }

    /// A sealed damage that edits objects in place: each takes the name of its new digest (two
    /// objects whose bytes were swapped trade names), every artifact naming it follows (a shared
    /// object for each of its artifacts), and `SHA256SUMS` names the objects as they now are.
    @Test func aSealedObjectEditTakesItsNewDigestsName() throws {
        let folder = try TempFolder("rd-seal-f2")
        defer { folder.remove() }
        let set = try AbsolutePath(validating: folder.file("full_20261207_000000"))
        try FileManager.default.createDirectory(atPath: set.pathString, withIntermediateDirectories: true)
        let objects = SetSealer.objectsFolder(of: set)
        #expect(objects.pathString == folder.file("objects"))
        let (a, b) = (Data("piece a\n".utf8), Data("piece b, a longer one\n".utf8))
        let (shaA, sizeA) = try SetSealer.putObject(a, in: objects)
        let (shaB, sizeB) = try SetSealer.putObject(b, in: objects)
        var manifest = Manifest(
            id: BackupID(date: Date(timeIntervalSince1970: 1_700_000_000)), name: "maia", startedAt: Date(),
            timeZone: "UTC", host: "h", home: "/h", root: "/h/r")
        manifest.formatVersion = 2
        func chunk(_ path: String, _ sha: String, _ size: Int64) -> ArtifactRecord {
            ArtifactRecord(
                path: path, component: .databases, kind: .chunk, size: size, sha256: sha, compression: .gzip)
        }
        manifest.artifacts = [
            chunk("databases/x.db.chunk-0001", shaA, sizeA), chunk("databases/x.db.chunk-0002", shaB, sizeB),
            chunk("databases/y.db.chunk-0001", shaA, sizeA),
        ]
        let fileA = try #require(ObjectDigest(shaA)).hex
        try SetSealer.write(
            b, to: objects.appending(components: String(fileA.prefix(2)), fileA).pathString, mode: 0o600)
        try SetSealer.write(a, to: objects.appending(components: String(shaB.prefix(2)), shaB).pathString, mode: 0o600)

        try SetSealer.seal(setPath: set, manifest: &manifest, renderScript: false)
        #expect(manifest.artifacts.map(\.sha256) == [shaB, shaA, shaB])
        #expect(manifest.artifacts.map(\.size) == [sizeB, sizeA, sizeB])
        #expect(try Self.misnamedObjects(objects.pathString).isEmpty)
        let sums = String(
            decoding: try Data(contentsOf: URL(fileURLWithPath: set.pathString + "/SHA256SUMS")), as: UTF8.self)
        #expect(
            sums == "\(shaB)  ../objects/\(shaB.prefix(2))/\(shaB)\n\(shaA)  ../objects/\(shaA.prefix(2))/\(shaA)\n")
        let check = try runTool("/usr/bin/env", ["sha256sum", "-c", "SHA256SUMS"], directory: set.pathString)
        #expect(check.status == 0, "\(check.output) \(check.error)")
        #expect(try Manifest.load(setPath: set.pathString).artifacts == manifest.artifacts)
    }

    @Test func eachFormatHasItsOwnDamages() {
        let one = Set(SelftestJob.damageIDs(format: 1))
        let two = Set(SelftestJob.damageIDs(format: 2))
        // Format 2 stands in for the format-1 rows that name files it does not have.
        let onlyOne: Set = ["flip-archive", "flip-database", "delete-chunk", "chunks-swapped"]
        let onlyTwo = Set(["flip-pack"] + Self.objectDamages)
        #expect(one.intersection(onlyTwo).isEmpty)
        #expect(two.intersection(onlyOne).isEmpty)
        #expect(onlyOne.isSubset(of: one))
        #expect(onlyTwo.isSubset(of: two))
        #expect(one.subtracting(onlyOne) == two.subtracting(onlyTwo))
        #expect(two.count == 35)
        // The default is what a configuration without `set_format` writes.
        let config = RestoreDrillConfig(home: "/h", root: "/h/r", destination: "/d", baseFolder: "/b")
        #expect(SelftestJob.defaultSetFormat == config.setFormat)
        #expect(SelftestJob.Options().setFormat == config.setFormat)
    }

    /// The damages a format-2 drill catches before its replay, each by its expected check, each
    /// on a copy with objects of its own: the good sets' objects all still have their names.
    @Test func formatTwoDamagesCaughtBeforeTheReplay() async throws {
        let folder = try TempFolder("rd-selftest-f2")
        defer { folder.remove() }
        let ids = [
            "object-missing", "pack-member-in-two-packs", "flip-pack", "flip-chunk", "manifest-edited",
            "archive-truncated", "archive-cut-between-members", "archive-member-dotdot", "file-absent-from-archive",
            "extra-file-in-archive", "orphan-chunk", "empty-chunk", "component-missing",
        ]
        let report = try await Self.run(format: 2, only: ids, folder: folder)
        #expect(report.setFormat == 2)
        #expect(report.rows.map(\.damage) == SelftestJob.damageIDs(format: 2).filter { ids.contains($0) })
        for row in report.rows {
            #expect(row.caught, "\(row.damage): \(row.problems)")
            #expect(row.verdict == .fail, "\(row.damage)")
            #expect(row.failedChecks.contains(row.expected?.rawValue ?? "-"), "\(row.damage): \(row.failedChecks)")
        }

        // A missing object: set.artifacts names the object (the first pack's) and the artifact using it.
        let missing = try Self.row(report, "object-missing")
        #expect(missing.expected == .setArtifacts)
        #expect(missing.kind == .atRest)
        #expect(missing.evidence.hasPrefix("set.artifacts code/pack-0001.tar.gz: "), "\(missing.evidence)")
        #expect(missing.evidence.contains(": object objects/"), "\(missing.evidence)")
        #expect(missing.evidence.hasSuffix(" is missing (used by code/pack-0001.tar.gz)"), "\(missing.evidence)")
        // Caught before anything was unpacked: the missing pack stops the replay.
        #expect(missing.failedChecks == ["set.artifacts", "restore.archives"])

        // A pack holding a member of another pack: restore.archives, naming both packs; nothing ran.
        let twice = try Self.row(report, "pack-member-in-two-packs")
        #expect(twice.expected == .restoreArchives)
        #expect(twice.failedChecks == ["restore.archives"])
        #expect(twice.evidence.hasPrefix("restore.archives code/folders.tar.gz: "), "\(twice.evidence)")
        #expect(
            twice.evidence.contains("is in two packs (code/pack-0001.tar.gz and code/folders.tar.gz)"),
            "\(twice.evidence)")

        // A flipped byte in a pack: the object is named damaged.
        let flip = try Self.row(report, "flip-pack")
        #expect(flip.evidence.contains("object objects/"), "\(flip.evidence)")

        // No damage reached the good sets' objects (every damaged copy had its own).
        let good = folder.file("work/good/objects")
        #expect(try Self.misnamedObjects(good).isEmpty)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: good)).isEmpty)
    }

    /// The damages only the replay and the checks after it can catch, and the good set: they need
    /// the restore script to read objects.
    @Test func formatTwoDamagesCaughtByTheReplayAndAfterIt() async throws {
        let folder = try TempFolder("rd-selftest-f2")
        defer { folder.remove() }
        let ids = [
            "chunk-objects-swapped", "sqlite-index-page", "rows-deleted", "stale-wal", "restore-over-stale-wal",
            "plist-prefix-dropped", "binary-plist-mangled", "agent-argv-quoting",
        ]
        let report = try await Self.run(format: 2, only: ids, folder: folder)
        #expect(report.good.caught, "the good set: \(report.good.problems)")
        #expect(report.good.verdict == .pass)
        for row in report.rows {
            #expect(row.caught, "\(row.damage): \(row.problems)")
        }
        // Two chunk objects swapped: every object is intact and listed (set.artifacts passes); the
        // restore script's whole-database SHA-256 stops it, and the database is never restored.
        let swapped = try Self.row(report, "chunk-objects-swapped")
        #expect(swapped.expected == .restoreScript)
        #expect(!swapped.failedChecks.contains("set.artifacts"), "\(swapped.failedChecks)")
        #expect(!swapped.failedChecks.contains("restore.archives"), "\(swapped.failedChecks)")
        #expect(swapped.failedChecks.first == "restore.script", "\(swapped.failedChecks)")
        #expect(report.passed)
    }
}
