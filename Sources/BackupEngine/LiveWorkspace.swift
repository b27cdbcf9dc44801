import DrillCore
import Foundation

/// The live root as the backup's own walk sees it, for `restore-drill spot` (issue 17): the same
/// ``WorkspaceWalk`` with the same rules (the destination and `credentials.include` skipped,
/// `code.exclude` by ``GlobSupport/excluded(relative:name:patterns:)``, files that
/// `databases.include` takes as databases and their `-wal`/`-shm`/`-journal` left to the
/// databases component), so a file is judged the same way by both. Unlike the backup, excluded
/// folders are entered: spot counts what each pattern excludes now.
package struct LiveWorkspace: Sendable {
    /// One file or link found under root.
    package struct Entry: Sendable {
        /// Relative to root, `/`-separated (``FileNameBytes``: exact bytes).
        package var relative: String
        package var absolute: AbsolutePath
        /// `file` or `symlink`.
        package var type: FileType
        /// Bytes of a regular file; 0 for a link.
        package var size: Int64
        /// Modification and change time, seconds since 1970 with the fraction.
        package var mtime: Double
        package var ctime: Double
        /// The configured `code.exclude` pattern that removes it from the code component (matched
        /// on the shallowest folder above it, then in configuration order), nil when none does.
        package var excludedBy: String?
        /// True when `databases.include` takes it as a database (or it is one's `-wal`, `-shm`,
        /// `-journal`): the databases component stores it, not code.
        package var takenAsDatabase: Bool
    }

    /// Every file and link under root that the walk reached (excluded ones too), in walk order.
    package var entries: [Entry] = []
    /// Relative paths of entries that are neither files, folders nor links (fifos, sockets,
    /// devices), which the backup does not store; with the pattern excluding them, if any.
    package var others: [(relative: String, excludedBy: String?, mtime: Double, ctime: Double)] = []
    /// `path: reason` for every path the walk could not read.
    package var problems: [String] = []

    /// Walks `config.root` with the backup's rules.
    /// - Throws: ``RestoreDrillError/usage(_:)`` for a configured path that is empty or holds a NUL.
    package static func scan(_ config: RestoreDrillConfig) throws -> LiveWorkspace {
        let rootPath = try BackupEngine.standardized(config.root)
        let destinationPath = try BackupEngine.standardized(config.destination)
        let credentials = try config.credentials.include.map { try BackupEngine.standardized($0) }
        let dbPatterns = config.databases.include.map { GlobPattern($0) }
        let excludes = config.code.exclude
        var walk = WorkspaceWalk()
        walk.skip = { path in
            path.isDescendantOrSelf(of: destinationPath) || credentials.contains { path.isDescendantOrSelf(of: $0) }
        }
        walk.exclude = { rel, name in GlobSupport.excluded(relative: rel, name: name, patterns: excludes) }
        walk.enterExcluded = { _ in true }
        walk.run(base: rootPath)

        var databases = Set<[UInt8]>()
        for entry in walk.entries
        where entry.type == .file && !FileNameBytes.holdsRawBytes(entry.relative)
            && dbPatterns.contains(where: { $0.matches(entry.relative) }) && BackupEngine.notADatabase(entry) == nil
        {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                databases.insert(FileNameBytes.key(entry.relative + suffix))
            }
        }
        var out = LiveWorkspace()
        out.problems = walk.problems
        for entry in walk.entries where entry.type != .directory {
            out.entries.append(
                Entry(
                    relative: entry.relative, absolute: entry.absolute, type: entry.type, size: entry.size,
                    mtime: Double(entry.mtimeSeconds) + Double(entry.mtimeNanoseconds) / 1e9,
                    ctime: Double(entry.ctimeSeconds) + Double(entry.ctimeNanoseconds) / 1e9,
                    excludedBy: entry.excludedFromCode ? Self.pattern(excluding: entry.relative, excludes) : nil,
                    takenAsDatabase: databases.contains(FileNameBytes.key(entry.relative))))
        }
        for relative in walk.ignored {
            var st = stat()
            let abs = rootPath.pathString + "/" + relative
            let found = FileNameBytes.withFileSystemRepresentation(abs) { lstat($0, &st) } == 0
            let (mtime, ctime) = found ? WorkspaceWalk.times(st) : ((0, 0), (0, 0))
            out.others.append(
                (
                    relative, Self.pattern(excluding: relative, excludes),
                    Double(mtime.0) + Double(mtime.1) / 1e9, Double(ctime.0) + Double(ctime.1) / 1e9
                ))
        }
        return out
    }

    /// The LaunchAgents `launchagents.include` matches on disk now, found as the backup finds
    /// them (``LaunchAgentCollector/matches()``), sorted.
    /// - Throws: ``RestoreDrillError/usage(_:)`` for a configured home or root that is empty or holds a NUL.
    package static func launchAgents(_ config: RestoreDrillConfig) throws -> [AbsolutePath] {
        LaunchAgentCollector(
            home: try BackupEngine.standardized(config.home), root: try BackupEngine.standardized(config.root),
            include: config.launchAgents.include, log: nil
        ).matches()
    }

    /// The modification time of `st`, seconds since 1970 with the fraction (Linux and macOS alike).
    package static func mtime(_ st: stat) -> Double {
        let (mtime, _) = WorkspaceWalk.times(st)
        return Double(mtime.0) + Double(mtime.1) / 1e9
    }

    /// The pattern that excludes `relative`: tried on each folder above it from the shallowest,
    /// then on the path itself; at each level the first matching pattern in configuration order.
    /// nil when none matches.
    package static func pattern(excluding relative: String, _ patterns: [String]) -> String? {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for depth in 1...max(1, parts.count) {
            let prefix = parts[0..<depth].joined(separator: "/")
            let name = parts[depth - 1]
            for p in patterns where GlobSupport.excluded(relative: prefix, name: name, patterns: [p]) {
                return p
            }
        }
        return nil
    }
}
