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
    /// The lock on the sandbox's secrets record held while this drill runs (nil when the record
    /// could not be written): released by the kernel when the drill ends, even by SIGKILL.
    let lease: SandboxLease?

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
    /// - Parameter secretPaths: where the replay may restore secrets (the credential files, as
    ///   `home`/`root` and a relative path), written to the sandbox's secrets record so that a
    ///   later drill or prune can wipe them if this drill is killed (``InterruptedDrills``).
    static func make(
        in sandboxes: AbsolutePath, drillID: DrillID, oldHome: String, oldRoot: String,
        secretPaths: [(base: PathBase, path: String)] = []
    ) throws -> DrillSandbox {
        let made = try RestoreSandbox.create(in: sandboxes, drillID: drillID)
        let root = newRoot(folder: made.path, oldHome: oldHome, oldRoot: oldRoot)
        return DrillSandbox(
            sandbox: made, folder: made.path, home: made.home, root: root, work: made.work,
            lease: SandboxLease.take(sandbox: made.path, root: root, secrets: secretPaths))
    }

    /// Removes the whole sandbox (only a folder ``RestoreSandbox`` marked as its own). Its folders
    /// are made 0700 first (a restore may leave read-only ones), walking them through a
    /// ``BeneathRoot``: a link the restore left is never followed, so no folder outside the
    /// sandbox has its mode changed.
    func remove() throws {
        if let beneath = try? BeneathRoot(folder), let top = try? beneath.openFolder(.dot).get() {
            Self.openUp(top)
        }
        try sandbox.remove()
    }

    /// Makes every folder below `folder` 0700 (`fchmod` on a descriptor opened without following
    /// links), depth first.
    private static func openUp(_ folder: OpenedFolder) {
        for name in (try? folder.names().get()) ?? [] {
            guard (try? folder.entry(name).get())?.kind == .directory else { continue }
            // A folder with no permission for the owner is opened by root only: fix it by name,
            // with the link check repeated (fchmodat follows no link where the system supports it).
            if fchmodat(folder.descriptor, name, 0o700, AT_SYMLINK_NOFOLLOW) != 0,
                (try? folder.entry(name).get())?.kind == .directory
            {
                fchmodat(folder.descriptor, name, 0o700, 0)
            }
            if let inner = try? folder.openFolder(name).get() {
                fchmod(inner.descriptor, 0o700)
                openUp(inner)
            }
        }
    }

    /// Removes restored credentials (before a failed drill's sandbox is kept for forensics). Only
    /// paths reached without following a link are handed to the wipe: a credential behind a link
    /// folder (`home/.config -> /root/.config`) names a file outside, which is never touched.
    func wipeCredentials(_ manifest: Manifest) {
        guard let beneath = try? BeneathRoot(folder) else { return }
        let paths = manifest.files.filter { $0.component == .credentials }.compactMap { file in
            (try? RelativePath(validatingBeneath: file.path)).map { (file.base == .root ? root : home).appending($0) }
        }
        try? sandbox.wipe(paths: paths.filter { Self.reachable($0, beneath: beneath) })
    }

    /// Whether something is at `path` and reached from `beneath` without a link on its way (the
    /// last component may be a link: the wipe removes a link without following it).
    static func reachable(_ path: AbsolutePath, beneath: BeneathRoot) -> Bool {
        guard let relative = path.relative(to: beneath.path), !relative.climbsAbove, relative != .dot else {
            return false
        }
        return (try? beneath.entry(relative).get()) != nil
    }

    /// The credential files of `manifest`, as ``make(in:drillID:oldHome:oldRoot:secretPaths:)``
    /// takes them.
    static func secretPaths(of manifest: Manifest) -> [(base: PathBase, path: String)] {
        manifest.files.filter { $0.component == .credentials }.map { ($0.base, $0.path) }
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

/// The lock and record that let a later run tell a killed drill's sandbox from a running one.
///
/// The record `<sandbox>/.restore-drill-secrets` (mode 0600) lists, one per line, where secrets
/// can land in the sandbox, as paths relative to it: `root <path>` (the new root, where the restore
/// script decrypts the vault into `.restore-drill-credentials-<pid>`) and `secret <path>` (one
/// restored credential file). The drill holds an exclusive `flock(2)` on it while it runs; the
/// kernel drops the lock when the drill's process ends, however it ends.
final class SandboxLease: @unchecked Sendable {
    /// The record's name inside the sandbox: `.restore-drill-secrets`.
    static let recordName = ".restore-drill-secrets"
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }
    deinit { close(descriptor) }

    /// Writes the record and locks it; nil when it cannot (the drill runs on: only the sweep of a
    /// later run loses this sandbox's list).
    static func take(sandbox: AbsolutePath, root: AbsolutePath, secrets: [(base: PathBase, path: String)])
        -> SandboxLease?
    {
        let path = sandbox.appending(component: recordName).pathString
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        let home = sandbox.appending(component: "home")
        var lines: [String] = []
        if let inside = root.relative(to: sandbox) { lines.append("root \(inside)") }
        for secret in secrets {
            guard let relative = try? RelativePath(validatingBeneath: secret.path),
                !secret.path.contains("\n"),
                let inside = (secret.base == .root ? root : home).appending(relative).relative(to: sandbox)
            else { continue }
            lines.append("secret \(inside)")
        }
        let text = Array((lines.joined(separator: "\n") + "\n").utf8)
        _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, 0o600)
        return SandboxLease(descriptor: fd)
    }
}

/// Wipes the secrets that drills killed before their end left in their sandboxes (issue 11,
/// "Secrets and permissions at rest"); every drill and every prune runs it first.
///
/// A sandbox under the sandboxes folder (a folder named by a drill id holding the sandbox marker)
/// counts as interrupted when its secrets record (``SandboxLease``) is not locked by a running drill.
/// Wiped (overwritten with zeros, then removed; links removed, never followed; nothing outside
/// the sandbox): the credential files the record lists, the `.restore-drill-credentials-*` folders
/// in the new root it names (the decrypted vault), and the `readonly` folder (copies of files a
/// replay running as another uid could not read, such as the password file earlier versions handed
/// the script). The record stays; a sandbox already wiped (a failed drill that ended normally wiped
/// its own) costs a few `lstat` calls. Password copies earlier versions wrote to the temporary
/// folder (`restore-drill-password.*` folders of this uid holding only a file `password`) are wiped
/// too. The rest of an interrupted sandbox stays for forensics until prune removes it with the
/// other kept sandboxes.
public enum InterruptedDrills {
    /// Wipes the secrets of every interrupted drill's sandbox in `sandboxes`.
    /// - Parameter sandboxes: the sandboxes folder (`sandbox.folder`); missing is nothing to do.
    /// - Returns: the absolute paths wiped (sandbox files and folders, then temporary password
    ///   folders), sorted; empty when there was nothing to wipe. Never throws: a path that
    ///   cannot be wiped is left and tried again by the next run.
    public static func wipeSecrets(in sandboxes: AbsolutePath) -> [String] {
        var wiped: [String] = []
        let base = sandboxes.resolvingSymlinks()
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: base.pathString)) ?? []).sorted() {
            guard let id = DrillID(name) else { continue }
            let sandbox = RestoreSandbox(folder: base, drillID: id)
            guard FileFacts.of(sandbox.path.appending(component: RestoreSandbox.markerName).pathString)?.type == .file
            else { continue }
            wiped += wipeIfInterrupted(sandbox)
        }
        wiped += wipeTemporaryPasswordCopies()
        return wiped
    }

    /// The secrets of one sandbox, when no running drill holds its record.
    static func wipeIfInterrupted(_ sandbox: RestoreSandbox) -> [String] {
        let record = sandbox.path.appending(component: SandboxLease.recordName)
        // Non-blocking: a replay that owned the sandbox may have put a FIFO here, which a plain
        // open would wait on forever (every later drill and prune with it).
        let fd = open(record.pathString, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        // No record: a sandbox of an earlier version; only its `readonly` copies are known.
        guard fd >= 0 else { return wipe(sandbox, lines: []) }
        // Held until the wipe is done, so a drill cannot start on the same record meanwhile.
        defer { close(fd) }
        // Only a regular file of this user is the drill's record; anything else the replay put
        // there says nothing (the known places are still wiped).
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid() else {
            return wipe(sandbox, lines: [])
        }
        // A running drill holds it: not interrupted.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return [] }
        let data = UntrustedFile.contents(of: fd, limit: 1 << 20, overflow: .truncate) ?? Data()
        // One path a line, joined with LF; a path may end in CR (a hostile name), so LF only.
        return wipe(sandbox, lines: TextLines.splitAtLineFeeds(String(decoding: data, as: UTF8.self)))
    }

    /// Paths are looked at through a ``BeneathRoot`` on the sandbox: a secret behind a link the
    /// interrupted replay left on its way is not the sandbox's, and is never wiped.
    private static func wipe(_ sandbox: RestoreSandbox, lines: [String]) -> [String] {
        guard let beneath = try? BeneathRoot(sandbox.path) else { return [] }
        var candidates: [AbsolutePath] = [sandbox.path.appending(component: "readonly")]
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let relative = try? RelativePath(validatingBeneath: String(parts[1])) else {
                continue
            }
            let path = sandbox.path.appending(relative)
            switch parts[0] {
            case "secret":
                candidates.append(path)
            case "root":
                for name in (try? beneath.names(in: relative).get()) ?? []
                where name.hasPrefix(".restore-drill-credentials-") {
                    candidates.append(path.appending(component: name))
                }
            default:
                continue
            }
        }
        let present = candidates.filter { DrillSandbox.reachable($0, beneath: beneath) }
        guard !present.isEmpty else { return [] }
        try? sandbox.wipe(paths: present)
        return present.filter { FileFacts.of($0.pathString) == nil }.map(\.pathString).sorted()
    }

    /// `restore-drill-password.*` folders of this uid in the temporary folder, each holding only
    /// the file `password` (what earlier versions wrote for a replay), wiped and removed.
    static func wipeTemporaryPasswordCopies() -> [String] {
        let temporary = NSTemporaryDirectory()
        var wiped: [String] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? []).sorted()
        where name.hasPrefix("restore-drill-password.") {
            let folder = (temporary as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid(),
                let names = try? FileManager.default.contentsOfDirectory(atPath: folder),
                names.allSatisfy({ $0 == "password" })
            else { continue }
            let file = (folder as NSString).appendingPathComponent("password")
            var fileInfo = stat()
            if lstat(file, &fileInfo) == 0, (fileInfo.st_mode & S_IFMT) == S_IFREG {
                let fd = open(file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
                if fd >= 0 {
                    let zeros = [UInt8](repeating: 0, count: Int(fileInfo.st_size))
                    _ = zeros.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    fsync(fd)
                    close(fd)
                }
            }
            unlink(file)
            if rmdir(folder) == 0 { wiped.append(folder) }
        }
        return wiped
    }
}
