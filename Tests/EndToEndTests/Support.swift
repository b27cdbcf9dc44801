import BackupEngine
import DrillCore
import Foundation
import TestSupport
import Testing

/// Runs the built `restore-drill` binary and crafts damaged copies of backup sets.
enum Tool {
    /// The package root, from this file's path.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// `.build/debug/restore-drill` (built by `swift build --build-tests`, as ci/test does).
    static var binary: String {
        get throws {
            for candidate in [
                "\(packageRoot)/.build/debug/restore-drill", "\(packageRoot)/.build/release/restore-drill",
            ]
            where FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
            throw RestoreDrillError.runtime("restore-drill is not built: run `swift build --build-tests` first")
        }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the tool with `arguments` in `directory`; returns its exit status and output.
    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> Result {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let run = try runTool(try binary, arguments, environment: env, directory: directory)
        return Result(status: run.status, stdout: run.output, stderr: run.error)
    }

    /// A new empty folder under the temporary folder.
    static func scratch(_ name: String) throws -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "rd-e2e-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Decodes a drill's `--json` output.
    static func drillReport(_ json: String) throws -> DrillResult {
        try JSONDecoder().decode(DrillResult.self, from: Data(json.utf8))
    }
}

/// Damaging a copy of a set, and "sealing" it: rewriting every recorded digest, SHA256SUMS and the
/// manifest checksum so the damage looks consistent, as a buggy engine would leave it.
enum SetSurgery {
    /// Copies a set folder to `<into>/<id>`, and for a format-2 set the objects it lists to
    /// `<into>/objects/` (the layout `export` writes), so damage to the copy stays in it.
    static func copy(_ set: String, into folder: String) throws -> String {
        let target = (folder as NSString).appendingPathComponent((set as NSString).lastPathComponent)
        try FileManager.default.copyItem(atPath: set, toPath: target)
        let manifest = try Manifest.load(setPath: set)
        for artifact in manifest.artifacts where manifest.isObject(artifact) {
            let stored = try #require(manifest.storedPath(of: artifact))
            let to = "\(target)/\(stored)"
            guard !FileManager.default.fileExists(atPath: to) else { continue }
            try FileManager.default.createDirectory(
                atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(set)/\(stored)", toPath: to)
        }
        return target
    }

    /// Where `artifact`'s bytes are in `set` (its file, or for format 2 its object).
    static func stored(_ set: String, _ artifact: String) throws -> String {
        let manifest = try Manifest.load(setPath: set)
        let record = try #require(manifest.artifact(artifact))
        return "\(set)/\(try #require(manifest.storedPath(of: record)))"
    }

    /// Flips one byte of `file` at `offset` (from the middle when nil).
    static func flipByte(_ file: String, at offset: Int? = nil) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: file))
        let i = offset ?? data.count / 2
        data[i] ^= 0x5a
        try data.write(to: URL(fileURLWithPath: file))
    }

    /// Recomputes every artifact's size and digest from the files, rewrites SHA256SUMS, and
    /// writes the manifest (after `edit`) with a fresh self-checksum.
    static func seal(_ set: String, edit: (inout Manifest) throws -> Void = { _ in }) throws {
        var manifest = try Manifest.load(setPath: set)
        try edit(&manifest)
        for i in manifest.artifacts.indices {
            // Format 2: objects are left as they are (only the script is re-hashed here).
            guard !manifest.isObject(manifest.artifacts[i]) else { continue }
            let (sha, size) = try SHA256Digest.file(at: "\(set)/\(manifest.artifacts[i].path)")
            manifest.artifacts[i].sha256 = sha
            manifest.artifacts[i].size = size
        }
        try manifest.renderedChecksumList().write(to: URL(fileURLWithPath: "\(set)/SHA256SUMS"))
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: "\(set)/\(Manifest.fileName)"))
    }

    /// Replaces the restore script with `body` (after edits to the manifest it was rendered from)
    /// and seals the set.
    static func replaceScript(_ set: String, with body: String) throws {
        let manifest = try Manifest.load(setPath: set)
        let path = "\(set)/\(manifest.restoreScript)"
        try Data(body.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        try seal(set)
    }

    /// Re-renders the restore script from an edited manifest and seals the set.
    static func rerenderScript(_ set: String, edit: (inout Manifest) -> Void) throws {
        var manifest = try Manifest.load(setPath: set)
        edit(&manifest)
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: "\(set)/\(Manifest.fileName)"))
        let path = "\(set)/\(manifest.restoreScript)"
        try Data(RestoreScript.render(manifest).utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
        try seal(set)
    }
}

/// A small workspace for the end-to-end tests: `<scratch>/home/git/maia` (world-traversable, as a
/// replay running as another uid needs) and `<scratch>/restore-drill.yml` naming it: destination
/// `backups`, no shell files or LaunchAgents, `/bin/echo` stand-ins for the dependency lists, a
/// 2-minute replay timeout, and `extraConfig` (YAML lines) after them.
struct SmallWorkspace {
    let base: String
    let home: String
    let root: String
    /// The configuration file's path.
    let config: String

    /// - Parameters:
    ///   - name: the start of the scratch folder's name (which test made it).
    ///   - extraConfig: more top-level YAML keys, one per line, e.g. `credentials: {…}`.
    ///   - format: the `set_format` written (1 unless a test is about format 2).
    static func make(_ name: String, extraConfig: String = "", format: Int = 1) throws -> SmallWorkspace {
        let base = try Tool.scratch(name)
        chmod(base, 0o755)
        let home = base + "/home"
        let root = home + "/git/maia"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let config = base + "/restore-drill.yml"
        let text = """
            name: maia
            home: \(home)
            root: ~/git/maia
            destination: backups
            set_format: \(format)
            shell: {files: []}
            launchagents: {include: []}
            dependencies: {python: [/bin/echo, "requests==2.31.0"], homebrew: [/bin/echo, "git 2.42.0"]}
            sandbox: {timeout: 2m}

            """
        try Data((text + extraConfig + (extraConfig.isEmpty ? "" : "\n")).utf8).write(to: URL(fileURLWithPath: config))
        return SmallWorkspace(base: base, home: home, root: root, config: config)
    }

    /// Writes `text` to `relative` below the root, making its folders.
    func write(_ relative: String, _ text: String) throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// The built binary with `arguments` and `--config` this workspace's file, in its folder.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Tool.Result {
        try Tool.run(arguments + ["--config", config], in: base, environment: environment)
    }

    func remove() { try? FileManager.default.removeItem(atPath: base) }
}
