import DrillCore
import Foundation
import TestSupport
import Testing

@testable import Reports

@Suite struct ReportWriterTests {
    @Test func writesTheFourReportsIntoANewFolder() throws {
        let temp = try TempFolder()
        defer { temp.remove() }
        var result = Fixture.mixed()
        result.reportFolder = nil
        let folder = temp.file("reports/nested/\(result.drillID)")
        let written = try ReportWriter.write(result, to: folder)
        #expect(written == ReportWriter.fileNames.map { (folder as NSString).appendingPathComponent($0) })
        let listing = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(listing == ReportWriter.fileNames.sorted(), "no temporary file is left behind")

        var recorded = result
        recorded.reportFolder = folder
        #expect(
            written.map { ($0 as NSString).lastPathComponent } == [
                "junit.xml", "report.md", "report.html", "report.json",
            ])
        let json = try #require(FileManager.default.contents(atPath: written[3]))
        #expect(try JSONDecoder().decode(DrillResult.self, from: json) == recorded)
        #expect(try String(contentsOfFile: written[0], encoding: .utf8) == JUnitReport.render([recorded]))
        #expect(try String(contentsOfFile: written[1], encoding: .utf8) == MarkdownReport.render(recorded))
        #expect(try String(contentsOfFile: written[2], encoding: .utf8) == HTMLReport.render(recorded))
        for path in written {
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(path)")
        }
        #expect(try validateAgainstSchema(String(contentsOfFile: written[0], encoding: .utf8)).status == 0)
    }

    @Test func rewritingReplacesTheFiles() throws {
        let temp = try TempFolder()
        defer { temp.remove() }
        let folder = temp.file("drill")
        try ReportWriter.write(Fixture.mixed(), to: folder)
        var second = Fixture.mixed()
        second.checks = Array(second.checks.prefix(1))
        try ReportWriter.write(second, to: folder)
        let json = try #require(
            FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent("report.json")))
        #expect(try JSONDecoder().decode(DrillResult.self, from: json).checks.count == 1)
    }

    @Test func unwritableFolderIsAnIOErrorNamingIt() throws {
        let temp = try TempFolder()
        defer { temp.remove() }
        let blocker = try temp.write("a file, not a folder", "blocker")
        let folder = (blocker as NSString).appendingPathComponent("drill_20251020_175019")
        #expect {
            try ReportWriter.write(Fixture.passing(), to: folder)
        } throws: { error in
            guard case .io(let path, _) = error as? RestoreDrillError else { return false }
            return path == folder
        }
    }

    /// Makes drill folders for the given ids (in the order given) with a report inside.
    func makeDrillFolders(_ ids: [DrillID], in root: String) throws {
        for id in ids {
            let folder = (root as NSString).appendingPathComponent(id.description)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent("report.md")))
        }
    }

    @Test func pruneKeepsExactlyTheNewestAndLeavesEverythingElse() throws {
        let temp = try TempFolder()
        defer { temp.remove() }
        let root = temp.file("reports")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let base = Fixture.start
        let ids = [
            DrillID(date: base.addingTimeInterval(86400 * 3)),
            DrillID(date: base),
            DrillID(date: base.addingTimeInterval(86400 * 10)),
            DrillID(date: base.addingTimeInterval(86400 * 10), sequence: 2),
            DrillID(date: base.addingTimeInterval(60)),
            DrillID(date: base.addingTimeInterval(86400 * 7)),
        ]
        // Folder times say the opposite of the ids: pruning must go by id.
        try makeDrillFolders(ids, in: root)
        for (n, id) in ids.enumerated() {
            let old = Date(timeIntervalSince1970: Double(1_000_000 + n * (n % 2 == 0 ? 1 : 5000)))
            try FileManager.default.setAttributes(
                [.modificationDate: old], ofItemAtPath: (root as NSString).appendingPathComponent(id.description))
        }
        // Things prune must never touch.
        try temp.write("keep me", "reports/README.md")
        try FileManager.default.createDirectory(
            atPath: temp.file("reports/drill_not_an_id"), withIntermediateDirectories: true)
        try temp.write("a file named like a drill", "reports/drill_20000101_000000")
        let outside = temp.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try temp.write("precious", "outside/data")
        try FileManager.default.createSymbolicLink(
            atPath: temp.file("reports/drill_19990101_000000"), withDestinationPath: outside)

        let removed = try ReportWriter.prune(reportsRoot: root, keep: 3)

        let newestFirst = ids.sorted(by: >)
        let expectedRemoved = newestFirst.dropFirst(3).reversed().map {
            (root as NSString).appendingPathComponent($0.description)
        }
        #expect(removed == Array(expectedRemoved))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: root))
        let expectedLeft = Set(newestFirst.prefix(3).map(\.description)).union([
            "README.md", "drill_not_an_id", "drill_20000101_000000", "drill_19990101_000000",
        ])
        #expect(left == expectedLeft)
        #expect(FileManager.default.contents(atPath: temp.file("outside/data")) == Data("precious".utf8))

        // Pruning again with the same count removes nothing; a larger count removes nothing.
        #expect(try ReportWriter.prune(reportsRoot: root, keep: 3).isEmpty)
        #expect(try ReportWriter.prune(reportsRoot: root, keep: 50).isEmpty)
        // keep 0 removes every drill folder, still nothing else.
        #expect(try ReportWriter.prune(reportsRoot: root, keep: 0).count == 3)
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: root))
                == ["README.md", "drill_not_an_id", "drill_20000101_000000", "drill_19990101_000000"])
    }

    @Test func pruneOfAMissingFolderRemovesNothing() throws {
        let temp = try TempFolder()
        defer { temp.remove() }
        #expect(try ReportWriter.prune(reportsRoot: temp.file("absent"), keep: 1).isEmpty)
    }

    @Test func pruneRefusesANegativeCount() throws {
        let temp = try TempFolder()
        defer { temp.remove() }
        try makeDrillFolders([DrillID(date: Fixture.start)], in: temp.path)
        #expect(throws: RestoreDrillError.self) { try ReportWriter.prune(reportsRoot: temp.path, keep: -1) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temp.path).count == 1)
    }
}
