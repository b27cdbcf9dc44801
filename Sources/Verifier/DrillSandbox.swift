import DrillCore
import Foundation

/// The drill's sandbox folder `<sandboxes>/<drill-id>/{home,work}` and where the old home and root
/// land inside it. A stand-in until the Sandbox target's `RestoreSandbox` is wired in: the drill
/// only calls ``make(in:drillID:oldHome:oldRoot:)`` and ``remove()``.
struct DrillSandbox {
    /// `<sandboxes>/<drill-id>`.
    let folder: String
    /// The new home: `<folder>/home`.
    let home: String
    /// The new root: the new home plus the old root's place under the old home, or
    /// `<folder>/work/root` when the old root was not under the old home.
    let root: String
    /// `<folder>/work`: scratch space for the replay (its `TMPDIR` belongs here).
    let work: String

    /// The new root for an old home and root (pure).
    static func newRoot(folder: String, oldHome: String, oldRoot: String) -> String {
        let home = PathText.join(folder, "home")
        if let rel = PathText.relative(oldRoot, to: oldHome), !rel.isEmpty {
            return PathText.join(home, rel)
        }
        return PathText.join(folder, "work/root")
    }

    /// Creates the sandbox folder, failing when it already exists (a second drill in the same
    /// second picks the next id; see ``Drill``). The new root is not created: the restore script
    /// makes it.
    /// - Throws: ``RestoreDrillError/io(path:message:)``.
    static func make(in sandboxes: String, drillID: DrillID, oldHome: String, oldRoot: String) throws -> DrillSandbox {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: sandboxes, withIntermediateDirectories: true)
        } catch {
            throw RestoreDrillError.io(path: sandboxes, message: "cannot create the sandbox folder: \(error)")
        }
        let folder = PathText.join(sandboxes, drillID.description)
        guard mkdir(folder, 0o700) == 0 else {
            throw RestoreDrillError.io(path: folder, message: String(cString: strerror(errno)))
        }
        let sandbox = DrillSandbox(
            folder: folder, home: PathText.join(folder, "home"),
            root: newRoot(folder: folder, oldHome: oldHome, oldRoot: oldRoot), work: PathText.join(folder, "work"))
        for path in [sandbox.home, sandbox.work] {
            guard mkdir(path, 0o700) == 0 else {
                throw RestoreDrillError.io(path: path, message: String(cString: strerror(errno)))
            }
        }
        return sandbox
    }

    /// Removes the whole sandbox, making read-only folders writable first.
    func remove() throws {
        let fm = FileManager.default
        if let walker = fm.enumerator(atPath: folder) {
            for case let rel as String in walker {
                let path = PathText.join(folder, rel)
                if FileFacts.of(path)?.type == .directory { chmod(path, 0o700) }
            }
        }
        do {
            try fm.removeItem(atPath: folder)
        } catch {
            throw RestoreDrillError.io(path: folder, message: "cannot remove the sandbox: \(error)")
        }
    }

    /// Removes restored credentials (before a failed drill's sandbox is kept for forensics).
    func wipeCredentials(_ manifest: Manifest) {
        for f in manifest.files where f.component == .credentials {
            let path = PathText.join(f.base == .root ? root : home, f.path)
            guard let facts = FileFacts.of(path) else { continue }
            if facts.type == .file, let handle = FileHandle(forWritingAtPath: path) {
                handle.write(Data(count: Int(min(facts.size, 64 << 20))))
                try? handle.close()
            }
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

/// Canary files in folders outside the sandbox, checked before and after the replay. A stand-in
/// until the Sandbox target's `Canaries` is wired in.
///
/// For each folder: a file `.restore-drill-canary-<drill-id>` with random content is written
/// (when the folder is writable), and the folder's top-level listing (name, type, size, mtime)
/// is recorded. After the replay, the canary's content must be unchanged (else `restore.script`
/// fails); listing changes are reported as evidence; the canary files are then removed.
struct CanaryProbe {
    struct Snapshot: Equatable {
        var listing: [String: String]
        var canary: Data?
    }

    let folders: [String]
    let drillID: DrillID
    private(set) var before: [String: Snapshot] = [:]

    init(folders: [String], drillID: DrillID) {
        self.folders = folders
        self.drillID = drillID
    }

    var canaryName: String { ".restore-drill-canary-\(drillID)" }

    func listing(_ folder: String) -> [String: String] {
        var out: [String: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            var st = stat()
            guard lstat(PathText.join(folder, name), &st) == 0 else { continue }
            #if os(Linux)
                let mtime = "\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            #else
                let mtime = "\(st.st_mtimespec.tv_sec).\(st.st_mtimespec.tv_nsec)"
            #endif
            out[name] = "\(st.st_mode) \(st.st_size) \(mtime)"
        }
        return out
    }

    /// Plants canaries and records listings.
    mutating func plant() {
        for folder in folders {
            let path = PathText.join(folder, canaryName)
            let content = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
            let planted = FileManager.default.createFile(atPath: path, contents: content)
            before[folder] = Snapshot(listing: listing(folder), canary: planted ? content : nil)
        }
    }

    /// What changed since ``plant()``; then removes the canaries.
    /// - Returns: `changes`, canaries altered or removed (a failure); `notes`, entries of the
    ///   folders created, changed or removed meanwhile (evidence only: in a shared folder such as
    ///   /tmp other processes change the listing too).
    func checkAndRemove() -> (changes: [String], notes: [String]) {
        var changes: [String] = []
        var notes: [String] = []
        for folder in folders {
            guard let snapshot = before[folder] else { continue }
            let path = PathText.join(folder, canaryName)
            if let content = snapshot.canary, FileManager.default.contents(atPath: path) != content {
                changes.append("\(path): canary changed or removed")
            }
            let now = listing(folder)
            for (name, facts) in now where snapshot.listing[name] != facts && name != canaryName {
                notes.append(
                    snapshot.listing[name] == nil
                        ? "\(PathText.join(folder, name)): created" : "\(PathText.join(folder, name)): changed")
            }
            for name in snapshot.listing.keys where now[name] == nil && name != canaryName {
                notes.append("\(PathText.join(folder, name)): removed")
            }
            if snapshot.canary != nil { try? FileManager.default.removeItem(atPath: path) }
        }
        return (changes.sorted(), notes.sorted())
    }
}
