import DrillCore
import Foundation

/// The `launchagents` component: every plist matching `launchagents.include`, stored as XML
/// (binary plists converted) under `launchagents/<file name>`.
///
/// Every plist is re-serialised by Foundation, so the stored XML has one known form (strings in
/// `<string>`/`<key>` elements, `&`, `<`, `>` escaped), which is what the restore script's `sed`
/// rewrite assumes.
struct LaunchAgentCollector {
    let home: AbsolutePath
    let root: AbsolutePath
    let include: [String]
    /// Receives the identity of every artifact written (``WrittenFileLog``); nil records nothing.
    var log: WrittenFileLog? = nil

    struct Result {
        var record: ComponentRecord
        var agents: [LaunchAgentRecord]
        var files: [FileRecord]
        var artifacts: [ArtifactRecord]
        var warnings: [String]
    }

    /// The paths matching the include globs, sorted, without duplicates.
    func matches() -> [AbsolutePath] {
        var found = Set<AbsolutePath>()
        for pattern in include {
            let body = String(pattern.drop { $0 == "/" })
            let glob = GlobPattern(body)
            guard let startPath = try? AbsolutePath(validating: "/" + glob.literalPrefix) else { continue }
            let start = startPath.pathString
            var walk = WorkspaceWalk()
            walk.exclude = { _, _ in true }
            walk.enterExcluded = { rel in
                let full = glob.literalPrefix.isEmpty ? rel : "\(glob.literalPrefix)/\(rel)"
                return GlobSupport.couldMatchBelow(body, folder: full)
            }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: start, isDirectory: &isDir), !isDir.boolValue {
                if glob.matches(glob.literalPrefix) { found.insert(startPath) }
                continue
            }
            walk.run(base: startPath)
            for entry in walk.entries where entry.type != .directory {
                let full = glob.literalPrefix.isEmpty ? entry.relative : "\(glob.literalPrefix)/\(entry.relative)"
                if glob.matches(full) { found.insert(entry.absolute) }
            }
        }
        return found.sorted()
    }

    /// Stores every matching plist.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the set cannot be written.
    func collect(setFolder: String, progress: (String) -> Void) throws -> Result {
        var result = Result(
            record: ComponentRecord(id: .launchagents, status: .ok), agents: [], files: [], artifacts: [], warnings: [])
        guard !include.isEmpty else {
            result.record = ComponentRecord(id: .launchagents, status: .skipped, reason: "not configured")
            return result
        }
        let paths = matches()
        guard !paths.isEmpty else {
            result.record = ComponentRecord(
                id: .launchagents, status: .skipped,
                reason: "no LaunchAgent matched \(include.joined(separator: ", "))")
            return result
        }
        let prefixes = Self.rewritePrefixes(root: root.pathString, home: home.pathString)
        var failures: [String] = []
        var used = Set<String>()
        for (i, agent) in paths.enumerated() {
            let path = agent.pathString
            progress("launchagents: \(i + 1)/\(paths.count) \(agent.basename)")
            guard let inside = agent.relative(to: home), inside != .dot else {
                result.warnings.append("\(path): LaunchAgent outside home \(home) not stored")
                continue
            }
            let relative = inside.pathString
            guard let data = FileManager.default.contents(atPath: path) else {
                failures.append("\(path): cannot read")
                continue
            }
            var format = PropertyListSerialization.PropertyListFormat.xml
            let value: Any
            let xml: Data
            do {
                value = try PropertyListSerialization.propertyList(from: data, options: [], format: &format)
                xml = try PropertyListSerialization.data(fromPropertyList: value, format: .xml, options: 0)
            } catch {
                failures.append("\(path): not a property list (\(error.localizedDescription))")
                continue
            }
            guard value is [String: Any] else {
                failures.append("\(path): not a LaunchAgent (the property list's top level is not a dictionary)")
                continue
            }
            let fileName = PathText.lastComponent(of: path)
            var artifact = "launchagents/\(fileName)"
            if !SetNames.isSafe(fileName) || fileName.contains("/") || used.contains(artifact) {
                artifact = "launchagents/agent-\(i + 1).plist"
            }
            used.insert(artifact)
            let target = "\(setFolder)/\(artifact)"
            try SetNames.makeParent(of: target)
            let writer = try HashingFileWriter(path: target, log: log)
            try writer.write(xml)
            let (size, digests) = try writer.finish()
            var st = stat()
            let mode = lstat(path, &st) == 0 ? Int(st.st_mode) & 0o777 : 0o644
            let label =
                ((value as? [String: Any])?["Label"] as? String)
                ?? PathText.deletingExtension(of: fileName)
            result.artifacts.append(
                ArtifactRecord(path: artifact, component: .launchagents, kind: .plist, size: size, digests: digests))
            result.agents.append(
                LaunchAgentRecord(
                    path: relative, artifact: artifact, label: label, rewritePrefixes: prefixes,
                    wasBinary: format == .binary, mode: mode))
            result.files.append(
                FileRecord(
                    component: .launchagents, base: .home, path: relative, type: .file, size: size, sha256: nil,
                    mode: mode, rewritten: true))
        }
        let bytes = result.files.reduce(Int64(0)) { $0 + $1.size }
        if failures.isEmpty {
            result.record = ComponentRecord(id: .launchagents, status: .ok, files: result.files.count, bytes: bytes)
        } else {
            result.record = ComponentRecord(
                id: .launchagents, status: .failed, reason: failures.joined(separator: "; "),
                files: result.files.count, bytes: bytes)
        }
        return result
    }

    /// The old root and home, without duplicates, longest first (the order the rewrite tries them).
    static func rewritePrefixes(root: String, home: String) -> [String] {
        var out: [String] = []
        for p in [root, home] where !p.isEmpty && !out.contains(p) { out.append(p) }
        return out.sorted { $0.count > $1.count }
    }
}
