import DrillCore
import Foundation

/// Writes a drill's reports into its report folder and keeps the reports folder to a bounded size.
public enum ReportWriter {
    /// The file names of a drill's reports, in the order they are written (`report.json` last,
    /// so its presence means the others are complete).
    public static let fileNames = ["junit.xml", "report.md", "report.html", "report.json"]

    /// Writes `<folder>/{junit.xml,report.md,report.html,report.json}`, each atomically (``AtomicFile``,
    /// mode 0600: reports are private to the user, as the sets are), creating `folder` (mode
    /// 0700) and its missing parents (0700). Existing files of those names are replaced.
    ///
    /// When `result.reportFolder` is nil, the reports record `folder` as the report folder.
    /// - Parameters:
    ///   - result: the drill to render.
    ///   - folder: the drill's report folder, normally `<reports>/<drill-id>`.
    /// - Returns: the paths written, in ``fileNames`` order.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the folder or file that could not
    ///   be created or written; ``RestoreDrillError/runtime(_:)`` when the JSON cannot be encoded
    ///   (nothing is written then).
    @discardableResult
    public static func write(_ result: DrillResult, to folder: String) throws -> [String] {
        var result = result
        if result.reportFolder == nil { result.reportFolder = folder }
        let json = try JSONReport.render(result)
        let contents: [Data] = [
            Data(JUnitReport.render([result]).utf8),
            Data(MarkdownReport.render(result).utf8),
            Data(HTMLReport.render(result).utf8),
            json,
        ]
        return try writePrivate(Array(zip(fileNames, contents)), to: folder)
    }

    /// Writes each `(name, data)` into `folder` (made when missing; mode 0700, an existing folder
    /// made private too), each file atomically with mode 0600: what every report of the tool
    /// (a drill's, a sample's, a spot check's) is written with.
    /// - Returns: the paths written, in order.
    /// - Throws: ``RestoreDrillError/io(path:message:)`` naming the folder or file that could not
    ///   be created or written.
    @discardableResult
    package static func writePrivate(_ files: [(name: String, data: Data)], to folder: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            // An existing folder keeps its mode otherwise; make it private too.
            chmod(folder, 0o700)
        } catch {
            throw RestoreDrillError.io(path: folder, message: "cannot create the report folder: \(reason(error))")
        }
        var written: [String] = []
        for (name, data) in files {
            let path = (folder as NSString).appendingPathComponent(name)
            try AtomicFile.write(data, to: path, mode: 0o600)
            written.append(path)
        }
        return written
    }

    /// Keeps the newest `keep` drill folders under `reportsRoot` and removes the older ones.
    ///
    /// A drill folder is a real directory (not a symbolic link) whose name is a ``DrillID``
    /// (`drill_YYYYMMDD_HHMMSS[_N]`); "newest" is the order of those ids (UTC start time, then
    /// sequence), not file times, so a copied or touched folder keeps its place. Anything else
    /// under `reportsRoot` (other files and folders, links, names that only look like drill ids)
    /// is never touched.
    /// - Parameters:
    ///   - reportsRoot: the reports folder (`reports.folder`); a missing folder has nothing to prune.
    ///   - keep: how many drill folders to keep (`reports.keep`), 0 or more.
    /// - Returns: the paths removed, oldest first.
    /// - Throws: ``RestoreDrillError/usage(_:)`` when `keep` is negative;
    ///   ``RestoreDrillError/io(path:message:)`` naming the folder that could not be listed or removed
    ///   (folders removed before it stay removed).
    @discardableResult
    public static func prune(reportsRoot: String, keep: Int) throws -> [String] {
        guard keep >= 0 else { throw RestoreDrillError.usage("reports.keep must be 0 or more, not \(keep)") }
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        guard fm.fileExists(atPath: reportsRoot, isDirectory: &isFolder) else { return [] }
        guard isFolder.boolValue else {
            throw RestoreDrillError.io(path: reportsRoot, message: "the reports folder is not a folder")
        }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: reportsRoot)
        } catch {
            throw RestoreDrillError.io(path: reportsRoot, message: "cannot list the reports folder: \(reason(error))")
        }
        var drills: [(id: DrillID, path: String)] = []
        for name in names {
            guard let id = DrillID(name), id.description == name else { continue }
            let path = (reportsRoot as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            drills.append((id, path))
        }
        drills.sort { $0.id > $1.id }
        let doomed = drills.dropFirst(keep).reversed()
        var removed: [String] = []
        for drill in doomed {
            do {
                try fm.removeItem(atPath: drill.path)
            } catch {
                throw RestoreDrillError.io(
                    path: drill.path, message: "cannot remove the old drill report: \(reason(error))")
            }
            removed.append(drill.path)
        }
        return removed
    }

    /// The operating system's reason from a Foundation error, without Foundation's boilerplate.
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return ns.localizedDescription
    }
}
