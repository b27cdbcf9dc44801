import DrillCore
import Foundation
import Sandbox

/// The drill's sandbox folder `<sandboxes>/<drill-id>/{home,work}` and where the old home and root
/// land inside it. A stand-in until the Sandbox target's `RestoreSandbox` is wired in: the drill
/// only calls ``make(in:drillID:oldHome:oldRoot:)`` and ``remove()``.
struct DrillSandbox {
    /// The Sandbox target's folder, which only removes what it created.
    let sandbox: RestoreSandbox
    /// `<sandboxes>/<drill-id>`.
    let folder: AbsolutePath
    /// The new home: `<folder>/home`.
    let home: AbsolutePath
    /// The new root: the new home plus the old root's place under the old home, or
    /// `<folder>/work/root` when the old root was not under the old home.
    let root: AbsolutePath
    /// `<folder>/work`: scratch space for the replay (its `TMPDIR` belongs here).
    let work: AbsolutePath

    /// The new root for an old home and root, the manifest's texts (pure).
    static func newRoot(folder: AbsolutePath, oldHome: String, oldRoot: String) -> AbsolutePath {
        let home = folder.appending(component: "home")
        if let oldHome = try? AbsolutePath(validating: oldHome), let oldRoot = try? AbsolutePath(validating: oldRoot),
            let inside = oldRoot.relative(to: oldHome), inside != .dot
        {
            return home.appending(inside)
        }
        return folder.appending(components: "work", "root")
    }

    /// Creates the sandbox folder, failing when it already exists (a second drill in the same
    /// second picks the next id; see ``Drill``). The new root is not created: the restore script
    /// makes it.
    /// - Throws: ``RestoreDrillError/alreadyExists(path:message:)`` when the folder exists,
    ///   ``RestoreDrillError/io(path:message:)`` when it cannot be made.
    static func make(in sandboxes: AbsolutePath, drillID: DrillID, oldHome: String, oldRoot: String) throws
        -> DrillSandbox
    {
        let made = try RestoreSandbox.create(in: sandboxes, drillID: drillID)
        return DrillSandbox(
            sandbox: made, folder: made.path, home: made.home,
            root: newRoot(folder: made.path, oldHome: oldHome, oldRoot: oldRoot), work: made.work)
    }

    /// Removes the whole sandbox (only a folder ``RestoreSandbox`` marked as its own).
    func remove() throws {
        let fm = FileManager.default
        if let walker = fm.enumerator(atPath: folder.pathString) {
            for case let rel as String in walker {
                guard let inside = try? RelativePath(validatingBeneath: rel) else { continue }
                let path = folder.appending(inside).pathString
                if FileFacts.of(path)?.type == .directory { chmod(path, 0o700) }
            }
        }
        try sandbox.remove()
    }

    /// Removes restored credentials (before a failed drill's sandbox is kept for forensics).
    func wipeCredentials(_ manifest: Manifest) {
        let paths = manifest.files.filter { $0.component == .credentials }.compactMap { file in
            (try? RelativePath(validatingBeneath: file.path)).map { (file.base == .root ? root : home).appending($0) }
        }
        try? sandbox.wipe(paths: paths.filter { FileFacts.of($0.pathString) != nil })
    }
}

/// Canaries outside the sandbox (the Sandbox target's ``Canaries``), planted before the replay
/// and compared after it: any change fails `restore.script`.
struct CanaryProbe {
    let folders: [AbsolutePath]
    let owner: (uid: UInt32, gid: UInt32)?
    private var planted: [Canaries] = []
    /// Folders where no canary could be planted (e.g. a read-only destination), for the evidence.
    private(set) var unplanted: [AbsolutePath] = []

    init(folders: [AbsolutePath], owner: (uid: UInt32, gid: UInt32)?) {
        self.folders = folders
        self.owner = owner
    }

    /// Plants canaries in every folder that takes them.
    mutating func plant() {
        for folder in folders {
            if let c = try? Canaries.plant(in: [folder], owner: owner) {
                planted.append(c)
            } else {
                unplanted.append(folder)
            }
        }
    }

    /// What changed since ``plant()``; then removes the canaries.
    /// - Returns: `changes` (each a failure) and `notes` (folders without canaries).
    func checkAndRemove() -> (changes: [String], notes: [String]) {
        let changes = planted.flatMap { $0.verify() }
        for c in planted { try? c.remove() }
        return (changes, unplanted.map { "no canary could be planted in \($0)" })
    }
}
