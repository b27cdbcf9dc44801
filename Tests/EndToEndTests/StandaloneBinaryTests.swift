import BackupEngine
import DrillCore
import Foundation
import Testing

/// A `restore-drill` binary copied alone into an empty folder still writes sets: everything it
/// needs to write one (the restore script's template above all) is compiled in at build time, not
/// read from a resource bundle beside it.
@Suite struct StandaloneBinaryTests {
    @Test func aBinaryCopiedAloneWritesASetWhoseScriptRestores() throws {
        let scratch = try Tool.scratch("standalone")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fm = FileManager.default
        // The binary alone in its folder: no bundle, no sibling files.
        let binFolder = scratch + "/bin"
        try fm.createDirectory(atPath: binFolder, withIntermediateDirectories: true)
        let binary = binFolder + "/restore-drill"
        try fm.copyItem(atPath: try Tool.binary, toPath: binary)
        #expect(try fm.contentsOfDirectory(atPath: binFolder) == ["restore-drill"])

        // A small workspace: a project file and one shell file.
        let home = scratch + "/home"
        let root = home + "/git/maia"
        try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data("# maia\n".utf8).write(to: URL(fileURLWithPath: root + "/README.md"))
        try Data("export EDITOR=vi\n".utf8).write(to: URL(fileURLWithPath: home + "/.zshrc"))
        try fm.createDirectory(atPath: scratch + "/backups", withIntermediateDirectories: true)
        let config = """
            name: maia
            home: \(home)
            root: \(root)
            destination: \(scratch)/backups
            set_format: 1
            launchagents: {include: []}
            shell: {files: [~/.zshrc]}
            dependencies: {python: [], homebrew: []}

            """
        // The working folder is elsewhere, so nothing is found relative to the package either.
        let work = scratch + "/work"
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: URL(fileURLWithPath: work + "/restore-drill.yml"))

        let backup = try Self.run(binary, ["backup"], in: work)
        #expect(backup.status == 0, "\(backup.stderr)")
        let id = try #require(try fm.contentsOfDirectory(atPath: scratch + "/backups").first { BackupID($0) != nil })
        let set = "\(scratch)/backups/\(id)"
        let manifest = try Manifest.load(setPath: set)
        let script = try String(contentsOfFile: "\(set)/\(manifest.restoreScript)", encoding: .utf8)
        // The engine renders the script before the script's own artifact is listed.
        var beforeScript = manifest
        beforeScript.artifacts.removeAll { $0.path == manifest.restoreScript }
        #expect(script == RestoreScript.render(beforeScript))
        #expect(script.hasPrefix("#!/bin/sh\n# restore_maia.sh: restores backup set \(id) "))
        // The shell file names its artifact, and the script copies that artifact.
        let zshrc = try #require(manifest.files.first { $0.component == .shell })
        #expect(zshrc.artifact == "shell/.zshrc")
        #expect(script.contains("rd_restore_file 'shell/.zshrc' '.zshrc' 644\n"))

        // The script restores the workspace with standard tools only.
        let restored = scratch + "/restored"
        let restore = try Self.run(
            "/bin/sh",
            ["\(set)/\(manifest.restoreScript)", "--home", restored, "--root", restored + "/git/maia", "--yes"],
            in: work)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(fm.contents(atPath: restored + "/.zshrc") == Data("export EDITOR=vi\n".utf8))
        #expect(fm.contents(atPath: restored + "/git/maia/README.md") == Data("# maia\n".utf8))
    }

    /// Runs `executable` with `arguments` in `directory`; its exit status and output.
    static func run(_ executable: String, _ arguments: [String], in directory: String) throws -> Tool.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Tool.Result(
            status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
