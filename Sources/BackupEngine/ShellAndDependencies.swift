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
            let (size, digests) = try writer.finish()
            let mode = Int(st.st_mode) & 0o777
            result.artifacts.append(
                ArtifactRecord(path: artifact, component: .shell, kind: .config, size: size, digests: digests))
            result.files.append(
                FileRecord(
                    component: .shell, base: .home, path: relative, type: .file, size: size, sha256: digests.sha256,
                    mode: mode,
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
///
/// The two tools are independent subprocesses: ``take()`` runs them at once, and the engine starts
/// it at the beginning of a backup, beside the walk and the compression; ``store(_:setFolder:)``
/// writes what they printed into the set at the component's place. With a ``reuse`` cache, a list
/// whose package folders are unchanged since it was last taken is reused instead of running the
/// tool again (``DependencyListCache`` says how that is decided).
struct DependencyCollector: Sendable {
    let python: [String]?
    let homebrew: [String]?
    let runner: any ProcessRunner
    /// Seconds each tool may run.
    var timeout: Double = 120
    /// Receives the identity of every artifact written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil
    /// Where lists are remembered for reuse; nil runs every tool every time.
    var reuse: DependencyListCache? = nil
    /// "Now" for the reuse cache's age rule.
    var now: @Sendable () -> Date = { Date() }

    struct Result {
        var record: ComponentRecord
        var artifacts: [ArtifactRecord]
        var warnings: [String]
        /// The lists reused from an earlier run (names, e.g. `python`).
        var reused: [String] = []
    }

    /// What one list came to.
    enum Taken: Sendable {
        case notConfigured
        case notFound(String)
        case failed(String)
        /// The tool's standard output; `reused` when it came from ``reuse`` instead of a run.
        case listed(Data, reused: Bool)
    }

    /// Each list's name, argv and outcome, in the order python, homebrew.
    typealias Lists = [(name: String, argv: [String]?, taken: Taken)]

    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the set cannot be written.
    func collect(setFolder: String) async throws -> Result {
        try store(await take(), setFolder: setFolder)
    }

    /// Runs (or reuses) both lists at once; writes nothing into the set.
    func take() async -> Lists {
        let wanted: [(String, [String]?)] = [("python", python), ("homebrew", homebrew)]
        let outcomes = await withTaskGroup(of: (Int, Taken).self) { group in
            for (i, (name, argv)) in wanted.enumerated() {
                group.addTask { (i, await take(name: name, argv: argv)) }
            }
            var out = [Taken](repeating: .notConfigured, count: wanted.count)
            for await (i, taken) in group { out[i] = taken }
            return out
        }
        return zip(wanted, outcomes).map { (name: $0.0.0, argv: $0.0.1, taken: $0.1) }
    }

    private func take(name: String, argv: [String]?) async -> Taken {
        guard let argv, let tool = argv.first else { return .notConfigured }
        // The fingerprint is taken before the tool runs: a package installed meanwhile makes the
        // next run take the list again.
        let fingerprint = await reuse?.fingerprint(name: name, argv: argv)
        if let reuse, let fingerprint,
            let list = reuse.load(name: name, argv: argv, fingerprint: fingerprint, now: now())
        {
            return .listed(list, reused: true)
        }
        let request = ProcessRequest(executable: tool, arguments: Array(argv.dropFirst()), timeout: timeout)
        let outcome: ProcessOutcome
        do {
            outcome = try await runner.run(request)
        } catch {
            if Self.findExecutable(tool) == nil { return .notFound("\(tool) not found") }
            return .failed("\(argv.joined(separator: " ")): cannot start: \(error)")
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
            return .failed("\(argv.joined(separator: " ")) \(how)" + (tail.isEmpty ? "" : ": \(tail)"))
        }
        if let reuse, let fingerprint {
            reuse.save(name: name, argv: argv, fingerprint: fingerprint, list: outcome.standardOutput, now: now())
        }
        return .listed(outcome.standardOutput, reused: false)
    }

    /// Writes the lists ``take()`` got into `dependencies/` of the set and makes the component record.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the set cannot be written.
    func store(_ lists: Lists, setFolder: String) throws -> Result {
        var artifacts: [ArtifactRecord] = []
        var skips: [String] = []
        var failures: [String] = []
        var reused: [String] = []
        for (name, _, taken) in lists {
            let output: Data
            switch taken {
            case .notConfigured:
                skips.append("\(name) not configured")
                continue
            case .notFound(let why):
                skips.append(why)
                continue
            case .failed(let why):
                failures.append(why)
                continue
            case .listed(let data, let wasReused):
                output = data
                if wasReused { reused.append(name) }
            }
            let artifact = "dependencies/\(name).txt"
            let target = "\(setFolder)/\(artifact)"
            try SetNames.makeParent(of: target)
            let writer = try HashingFileWriter(path: target, log: log)
            try writer.write(output)
            let (size, digests) = try writer.finish()
            artifacts.append(
                ArtifactRecord(path: artifact, component: .dependencies, kind: .list, size: size, digests: digests))
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
        return Result(record: record, artifacts: artifacts, warnings: warnings, reused: reused)
    }

    /// The absolute path `PATH` resolves `tool` to, or nil.
    static func findExecutable(
        _ tool: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        if tool.contains("/") { return access(tool, X_OK) == 0 ? tool : nil }
        let path = environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
