import DrillCore
import Foundation

/// The `shell` component: each configured file that exists (links followed) is copied to
/// `shell/<path relative to home>` and restored to `$HOME/<path>`.
struct ShellCollector {
    let home: AbsolutePath
    let files: [AbsolutePath]
    /// Credential paths: never stored here.
    let credentials: [AbsolutePath]
    /// Receives the identity of every artifact written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil

    struct Result {
        var record: ComponentRecord
        var files: [FileRecord]
        var artifacts: [ArtifactRecord]
        var warnings: [String]
    }

    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the set cannot be written.
    func collect(setFolder: String) throws -> Result {
        var result = Result(record: ComponentRecord(id: .shell, status: .ok), files: [], artifacts: [], warnings: [])
        var failures: [String] = []
        for (i, file) in files.enumerated() {
            let path = file.pathString
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            guard st.st_mode & S_IFMT == S_IFREG else {
                result.warnings.append("\(path): shell file is not a regular file; not stored")
                continue
            }
            guard let inside = file.relative(to: home), inside != .dot else {
                result.warnings.append("\(path): shell file outside home \(home); not stored")
                continue
            }
            // Compare where the file really is, links followed on both sides (realpath, on
            // purpose): a shell file that is a link into a credentials folder must not carry the
            // secret into shell/.
            let real = file.realPath() ?? file
            if credentials.contains(where: {
                file.isDescendantOrSelf(of: $0) || real.isDescendantOrSelf(of: $0.realPath() ?? $0)
            }) {
                result.warnings.append(
                    "\(path): is or leads to a credential; not stored in shell/ (the vault holds it)")
                continue
            }
            let relative = inside.pathString
            let artifact = SetNames.isSafe(relative) ? "shell/\(relative)" : "shell/file-\(i + 1)"
            let target = "\(setFolder)/\(artifact)"
            try SetNames.makeParent(of: target)
            let writer = try HashingFileWriter(path: target, log: log)
            do {
                try FileBlocks.forEach(path: path) { try writer.write($0) }
            } catch let error as RestoreDrillError {
                if case .io(let p, _) = error, p == target { throw error }
                _ = try? writer.finish()
                unlink(target)
                failures.append("\(error)")
                continue
            }
            let (size, sha) = try writer.finish()
            let mode = Int(st.st_mode) & 0o777
            result.artifacts.append(
                ArtifactRecord(path: artifact, component: .shell, kind: .config, size: size, sha256: sha))
            result.files.append(
                FileRecord(
                    component: .shell, base: .home, path: relative, type: .file, size: size, sha256: sha, mode: mode,
                    artifact: artifact))
        }
        let bytes = result.files.reduce(Int64(0)) { $0 + $1.size }
        if !failures.isEmpty {
            result.record = ComponentRecord(
                id: .shell, status: .failed, reason: failures.joined(separator: "; "), files: result.files.count,
                bytes: bytes)
        } else if result.files.isEmpty {
            result.record = ComponentRecord(
                id: .shell, status: .skipped,
                reason: files.isEmpty ? "not configured" : "none of the configured shell files exists")
        } else {
            result.record = ComponentRecord(id: .shell, status: .ok, files: result.files.count, bytes: bytes)
        }
        return result
    }
}

/// The `dependencies` component: the standard output of `pip freeze` and `brew list --versions`
/// (configured argv arrays) stored as `dependencies/python.txt` and `dependencies/homebrew.txt`.
/// The lists are not restored as files; the restore script prints how to reinstall them.
struct DependencyCollector {
    let python: [String]?
    let homebrew: [String]?
    let runner: any ProcessRunner
    /// Seconds each tool may run.
    var timeout: Double = 120
    /// Receives the identity of every artifact written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil

    struct Result {
        var record: ComponentRecord
        var artifacts: [ArtifactRecord]
        var warnings: [String]
    }

    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the set cannot be written.
    func collect(setFolder: String) async throws -> Result {
        var artifacts: [ArtifactRecord] = []
        var skips: [String] = []
        var failures: [String] = []
        for (name, argv) in [("python", python), ("homebrew", homebrew)] {
            guard let argv, let tool = argv.first else {
                skips.append("\(name) not configured")
                continue
            }
            let request = ProcessRequest(executable: tool, arguments: Array(argv.dropFirst()), timeout: timeout)
            let outcome: ProcessOutcome
            do {
                outcome = try await runner.run(request)
            } catch {
                if Self.findExecutable(tool) == nil {
                    skips.append("\(tool) not found")
                } else {
                    failures.append("\(argv.joined(separator: " ")): cannot start: \(error)")
                }
                continue
            }
            guard outcome.succeeded else {
                let how =
                    outcome.timedOut
                    ? "timed out after \(Int(timeout)) s"
                    : outcome.outputTruncated
                        ? "output over \(request.outputLimit) bytes"
                        : outcome.exitCode.map { "exited \($0)" } ?? "killed by signal \(outcome.signal ?? 0)"
                let tail = String(decoding: outcome.standardError.suffix(400), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                failures.append("\(argv.joined(separator: " ")) \(how)" + (tail.isEmpty ? "" : ": \(tail)"))
                continue
            }
            let artifact = "dependencies/\(name).txt"
            let target = "\(setFolder)/\(artifact)"
            try SetNames.makeParent(of: target)
            let writer = try HashingFileWriter(path: target, log: log)
            try writer.write(outcome.standardOutput)
            let (size, sha) = try writer.finish()
            artifacts.append(
                ArtifactRecord(path: artifact, component: .dependencies, kind: .list, size: size, sha256: sha))
        }
        let bytes = artifacts.reduce(Int64(0)) { $0 + $1.size }
        var warnings: [String] = []
        let record: ComponentRecord
        if !failures.isEmpty {
            record = ComponentRecord(
                id: .dependencies, status: .failed, reason: (failures + skips).joined(separator: "; "),
                files: artifacts.count, bytes: bytes)
        } else if artifacts.isEmpty {
            record = ComponentRecord(id: .dependencies, status: .skipped, reason: skips.joined(separator: "; "))
        } else {
            record = ComponentRecord(id: .dependencies, status: .ok, files: artifacts.count, bytes: bytes)
            warnings = skips.filter { !$0.hasSuffix("not configured") }.map { "dependencies: \($0); list skipped" }
        }
        return Result(record: record, artifacts: artifacts, warnings: warnings)
    }

    /// The absolute path `PATH` resolves `tool` to, or nil.
    static func findExecutable(_ tool: String) -> String? {
        if tool.contains("/") { return access(tool, X_OK) == 0 ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
