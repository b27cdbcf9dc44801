import DrillCore
import Foundation
import TestSupport
import Testing

@testable import BackupEngine

/// The dependency lists off the critical path: both tools start at the beginning of a backup,
/// beside each other and beside the code archive, and a list is reused while the package folders
/// it came from are unchanged (``DependencyListCache``). The tools are fakes (shell or Python
/// scripts) run as real processes.
@Suite struct DependencyListTests {
    /// Starts real processes with Foundation's `Process` (this test target has no sandbox runner).
    struct LocalRunner: ProcessRunner {
        func run(_ request: ProcessRequest) async throws -> ProcessOutcome {
            try await withCheckedThrowingContinuation { continuation in
                Thread {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: request.executable)
                    process.arguments = request.arguments
                    if let environment = request.environment { process.environment = environment }
                    let out = Pipe()
                    let err = Pipe()
                    process.standardOutput = out
                    process.standardError = err
                    do {
                        try process.run()
                    } catch {
                        continuation.resume(throwing: RestoreDrillError.runtime("\(request.executable): \(error)"))
                        return
                    }
                    let stdout = out.fileHandleForReading.readDataToEndOfFile()
                    let stderr = err.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(
                        returning: ProcessOutcome(
                            exitCode: process.terminationStatus, standardOutput: stdout, standardError: stderr))
                }.start()
            }
        }
    }

    /// Writes an executable script.
    static func script(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
    }

    /// How many times a fake ran: the lines of its counter file.
    static func runs(_ counter: String) -> Int {
        (try? String(contentsOfFile: counter, encoding: .utf8))?.split(separator: "\n").count ?? 0
    }

    @Test func bothListsRunAtOnceBesideTheCodeArchive() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let bin = ws.folder.path + "/fake-bin"
        // Each fake marks its start, then waits (up to 10 s) for the other's mark: run one after
        // the other, the first would wait in vain and say `alone`.
        for (name, other, list) in [("pip3", "brew", "requests==2.31.0"), ("brew", "pip3", "git 2.42.0")] {
            try Self.script(
                "\(bin)/\(name)",
                """
                #!/bin/sh
                : >"\(bin)/\(name).started"
                i=0
                while [ ! -e "\(bin)/\(other).started" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
                if [ -e "\(bin)/\(other).started" ]; then echo together >"\(bin)/\(name).saw"; else echo alone >"\(bin)/\(name).saw"; fi
                echo '\(list)'

                """)
        }
        ws.config.dependencies.python = ["\(bin)/pip3", "freeze"]
        ws.config.dependencies.homebrew = ["\(bin)/brew", "list", "--versions"]
        var engine = BackupEngine(config: ws.config, clock: FixedClock(Date()), runner: LocalRunner())
        // When the code archive's file is open (the compression starts), the lists must have
        // started already: they no longer wait for the rest of the backup.
        let startedBeforeArchive = Flag()
        engine.phaseHook = { phase in
            guard phase == .writingArtifacts else { return }
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: "\(bin)/pip3.started") {
                try? await Task.sleep(nanoseconds: 50_000_000)
            }
            startedBeforeArchive.set(FileManager.default.fileExists(atPath: "\(bin)/pip3.started"))
        }
        let outcome = try await engine.run()
        #expect(startedBeforeArchive.value)
        #expect(try String(contentsOfFile: "\(bin)/pip3.saw", encoding: .utf8) == "together\n")
        #expect(try String(contentsOfFile: "\(bin)/brew.saw", encoding: .utf8) == "together\n")
        #expect(outcome.manifest.component(.dependencies)?.status == .ok)
        let python = try String(contentsOfFile: outcome.setPath + "/dependencies/python.txt", encoding: .utf8)
        let homebrew = try String(contentsOfFile: outcome.setPath + "/dependencies/homebrew.txt", encoding: .utf8)
        #expect(python == "requests==2.31.0\n")
        #expect(homebrew == "git 2.42.0\n")
        // The artifacts keep their place in the manifest (after the LaunchAgents, before shell).
        let paths = outcome.manifest.artifacts.map(\.path)
        let py = try #require(paths.firstIndex(of: "dependencies/python.txt"))
        #expect(paths.firstIndex(of: "dependencies/homebrew.txt") == py + 1)
    }

    @Test(.needsTool("python3")) func thePythonListIsReusedWhileTheFoldersOnItsPathAreUnchanged() async throws {
        let python3 = try requireTool("python3")
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        // The real interpreter behind `python3` (a pyenv shim resolves to one), for the shebang.
        let probe = try await LocalRunner().run(
            ProcessRequest(executable: python3, arguments: ["-c", "import sys; print(sys.executable)"]))
        let interpreter = String(decoding: probe.standardOutput, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(interpreter.hasPrefix("/"))
        let bin = ws.folder.path + "/venv/bin"
        let counter = ws.folder.path + "/pip-runs"
        try Self.script(
            "\(bin)/pip3",
            """
            #!\(interpreter)
            with open("\(counter)", "a") as f:
                f.write("ran\\n")
            print("requests==2.31.0")

            """)
        ws.config.dependencies.python = ["\(bin)/pip3", "freeze"]
        ws.config.dependencies.homebrew = nil
        let cache = ws.folder.path + "/cache"
        func backup(at date: Date) async throws -> BackupOutcome {
            var engine = BackupEngine(config: ws.config, clock: FixedClock(date), runner: LocalRunner())
            engine.dependencyCache = cache
            return try await engine.run()
        }
        let start = Date()
        let first = try await backup(at: start)
        #expect(Self.runs(counter) == 1)
        // Remembered privately, outside the destination.
        let files = try FileManager.default.contentsOfDirectory(atPath: cache)
        #expect(files.count == 1)
        let attributes = try FileManager.default.attributesOfItem(atPath: cache + "/" + files[0])
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let second = try await backup(at: start.addingTimeInterval(60))
        #expect(Self.runs(counter) == 1, "unchanged folders: the list is reused, pip3 does not run")
        let list = { (o: BackupOutcome) in
            try String(contentsOfFile: o.setPath + "/dependencies/python.txt", encoding: .utf8)
        }
        #expect(try list(second) == "requests==2.31.0\n")
        #expect(try list(first) == list(second))
        #expect(second.manifest.component(.dependencies)?.status == .ok)

        // A change in a folder on the script's sys.path (what `pip install` does to site-packages)
        // makes the next backup run the tool again.
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(bin)/new-console-script"))
        _ = try await backup(at: start.addingTimeInterval(120))
        #expect(Self.runs(counter) == 2)
        _ = try await backup(at: start.addingTimeInterval(180))
        #expect(Self.runs(counter) == 2)
        // Older than 7 days: taken again.
        _ = try await backup(at: start.addingTimeInterval(8 * 86400))
        #expect(Self.runs(counter) == 3)
    }

    @Test(.needsTool("python3")) func aPyenvShimIsFollowedToItsInterpreter() async throws {
        let python3 = try requireTool("python3")
        let folder = try TempFolder("rd-pyenv")
        defer { folder.remove() }
        let probe = try await LocalRunner().run(
            ProcessRequest(executable: python3, arguments: ["-c", "import sys; print(sys.executable)"]))
        let interpreter = String(decoding: probe.standardOutput, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let root = folder.path + "/pyenv-root"
        let real = "\(root)/versions/9.9/bin/pip3"
        try Self.script(real, "#!\(interpreter)\nprint('x==1')\n")
        // pyenv's own shim and program, reduced to what the cache reads and runs.
        try Self.script(
            "\(root)/shims/pip3",
            "#!/usr/bin/env bash\nset -e\nprogram=\"${0##*/}\"\n"
                + "exec \"\(root)/libexec/pyenv\" exec \"$program\" \"$@\"\n")
        try Self.script(
            "\(root)/libexec/pyenv",
            "#!/bin/sh\n[ \"$1\" = which ] && [ \"$PYENV_ROOT\" = \"\(root)\" ] && echo \"\(real)\"\n")
        #expect(DependencyListCache.pyenvShim("\(root)/shims/pip3") == "\(root)/libexec/pyenv")
        let cache = DependencyListCache(folder: folder.path + "/cache", runner: LocalRunner())
        let lines = try #require(await cache.pythonLines(tool: "\(root)/shims/pip3"))
        #expect(lines.contains { $0.hasPrefix("pyenv \(real) ") })
        #expect(lines.contains { $0.hasPrefix("interpreter \(interpreter) ") })
        #expect(lines.contains { $0.hasPrefix("path \(root)/versions/9.9/bin ") })
        // A tool that is no Python script (no interpreter to ask): no fingerprint, the tool runs.
        try Self.script(folder.path + "/other/uv", "#!/bin/sh\necho x\n")
        #expect(await cache.pythonLines(tool: folder.path + "/other/uv") == nil)
    }

    @Test func theHomebrewListIsReusedUntilAFormulaGetsAVersion() async throws {
        let ws = try Workspace(chunked: false, live: false)
        defer { ws.close() }
        let prefix = ws.folder.path + "/homebrew"
        let counter = ws.folder.path + "/brew-runs"
        try Self.script("\(prefix)/bin/brew", "#!/bin/sh\necho ran >>\"\(counter)\"\necho 'git 2.42.0'\n")
        try FileManager.default.createDirectory(
            atPath: "\(prefix)/Cellar/git/2.42.0", withIntermediateDirectories: true)
        ws.config.dependencies.python = nil
        ws.config.dependencies.homebrew = ["\(prefix)/bin/brew", "list", "--versions"]
        func backup(at date: Date) async throws -> BackupOutcome {
            var engine = BackupEngine(config: ws.config, clock: FixedClock(date), runner: LocalRunner())
            engine.dependencyCache = ws.folder.path + "/cache"
            return try await engine.run()
        }
        let start = Date()
        _ = try await backup(at: start)
        let again = try await backup(at: start.addingTimeInterval(60))
        #expect(Self.runs(counter) == 1)
        #expect(
            try String(contentsOfFile: again.setPath + "/dependencies/homebrew.txt", encoding: .utf8) == "git 2.42.0\n")
        // `brew upgrade git` adds a version folder inside the formula's folder.
        try FileManager.default.createDirectory(
            atPath: "\(prefix)/Cellar/git/2.43.0", withIntermediateDirectories: true)
        _ = try await backup(at: start.addingTimeInterval(120))
        #expect(Self.runs(counter) == 2)
    }

    @Test func aListWithAnEditableInstallIsNeverReused() {
        #expect(DependencyListCache.reusable(Data("requests==2.31.0\nurllib3==2.0\n".utf8)))
        #expect(!DependencyListCache.reusable(Data("-e git+https://example.org/p.git@abc#egg=p\n".utf8)))
        #expect(!DependencyListCache.reusable(Data("# Editable install with no version control (p==1)\n".utf8)))
    }

    /// A flag set from another task.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var state = false
        var value: Bool { lock.withLock { state } }
        func set(_ value: Bool) { lock.withLock { state = value } }
    }
}
