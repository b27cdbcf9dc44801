import Destination
import DrillCore
import Foundation
import TestSupport

@testable import Verifier

/// A format-2 backup set made by hand (issue 15), until the backup engine writes one: every
/// artifact but the restore script is an object put with ``ObjectStore/put(_:existing:)`` into
/// `<destination>/objects/`, and the set folder holds only `manifest.json`, `SHA256SUMS`
/// (``Manifest/renderedChecksumList()``) and `restore_maia.sh`.
///
/// Contents (old home `/Users/alice`, root `/Users/alice/git/maia`, as ``Fixture``):
/// - code in three packs made by GNU tar: `code/pack-0001.tar.gz` (`src/main.py`, `src/link`),
///   `code/pack-0002.tar.gz` (`bin/run.sh`), `code/folders.tar.gz` (`src`, `bin`);
/// - a real SQLite database `data/store.db` (about 700 KB) cut into 256 KiB pieces, each gzip'ed
///   (`gzip -n`) into `databases/store.db.chunk-000N`, and `data/mirror.db`, a byte-identical copy
///   whose chunks (`databases/mirror.db.chunk-000N`) are the same objects;
/// - one LaunchAgent plist and `.zshrc`;
/// - a POSIX restore script reading the objects from `<set>/../objects`.
///
/// The destination also holds an object of no set of this fixture (``foreignObject``), which a
/// drill's sandbox must never see.
final class FormatTwoFixture {
    static let chunkSize = 256 << 10

    let base: String
    let destination: String
    let setPath: String
    var manifest: Manifest
    /// An object of the destination that this set does not use.
    var foreignObject: ObjectDigest!
    let store: ObjectStore

    init(now: Date = Date()) throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("verifier-f2-\(UUID().uuidString)").path
        destination = base + "/destination"
        let id = BackupID(date: now.addingTimeInterval(-3600))
        setPath = destination + "/" + id.description
        manifest = Manifest(
            id: id, name: "maia", startedAt: id.date, timeZone: "UTC", host: "test", home: Fixture.oldHome,
            root: Fixture.oldRoot)
        manifest.formatVersion = 2
        store = ObjectStore(destination: try AbsolutePath(validating: destination))
        try build()
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    var setFolder: AbsolutePath { try! AbsolutePath(validating: setPath) }

    func path(_ relative: String) -> String { setPath + "/" + relative }

    /// The absolute path of the object holding `artifact`'s bytes.
    func objectPath(_ artifact: String) -> String {
        let record = manifest.artifact(artifact)!
        return destination + "/" + manifest.storedPath(of: record)!.dropFirst(3)
    }

    /// `objects/<ab>/<sha256>` of `artifact`, as reports name it.
    func objectName(_ artifact: String) -> String {
        String(objectPath(artifact).dropFirst(destination.count + 1))
    }

    /// Puts `data` as an object and lists it as an artifact.
    @discardableResult
    func addObject(
        _ data: Data, path: String, component: ComponentID, kind: ArtifactKind, compression: ArtifactCompression? = nil
    ) throws -> ArtifactRecord {
        let stored = try store.put(data, existing: .digest)
        let record = ArtifactRecord(
            path: path, component: component, kind: kind, size: stored.ref.size, sha256: stored.ref.digest.hex,
            compression: compression)
        manifest.artifacts.append(record)
        return record
    }

    private func build() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: setPath, withIntermediateDirectories: true)
        chmod(setPath, 0o700)
        let staging = base + "/staging"
        try fm.createDirectory(atPath: staging + "/src", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: staging + "/bin", withIntermediateDirectories: true)
        let mainPy = "print('hello from maia')\n"
        let runSh = "#!/bin/sh\necho run\n"
        try mainPy.write(toFile: staging + "/src/main.py", atomically: false, encoding: .utf8)
        try runSh.write(toFile: staging + "/bin/run.sh", atomically: false, encoding: .utf8)
        chmod(staging + "/src/main.py", 0o644)
        chmod(staging + "/bin/run.sh", 0o755)
        try fm.createSymbolicLink(atPath: staging + "/src/link", withDestinationPath: "main.py")
        let packs: [(String, [String])] = [
            ("code/pack-0001.tar.gz", ["src/link", "src/main.py"]), ("code/pack-0002.tar.gz", ["bin/run.sh"]),
            ("code/folders.tar.gz", ["bin", "src"]),
        ]
        for (name, members) in packs {
            try addObject(try Self.tar(staging, members, scratch: base), path: name, component: .code, kind: .pack)
        }
        manifest.files = [
            FileRecord(
                component: .code, base: .root, path: "src/main.py", size: Int64(mainPy.utf8.count),
                sha256: SHA256Digest.hex(of: Data(mainPy.utf8)), mode: 0o644),
            FileRecord(
                component: .code, base: .root, path: "src/link", type: .symlink, mode: 0o777, linkTarget: "main.py"),
            FileRecord(
                component: .code, base: .root, path: "bin/run.sh", size: Int64(runSh.utf8.count),
                sha256: SHA256Digest.hex(of: Data(runSh.utf8)), mode: 0o755),
        ]
        var components = [
            ComponentRecord(id: .code, status: .ok, files: 3, bytes: Int64(mainPy.utf8.count + runSh.utf8.count))
        ]

        // Databases: a real SQLite file, gzip'ed in 256 KiB pieces; a byte-identical mirror shares
        // every chunk object.
        let db = base + "/store.db"
        try Fixture.sqlite(
            db,
            """
            PRAGMA journal_mode=DELETE;
            CREATE TABLE blobs(id INTEGER PRIMARY KEY, body BLOB);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 650)
              INSERT INTO blobs(body) SELECT randomblob(1000) FROM n;
            """)
        let whole = try Data(contentsOf: URL(fileURLWithPath: db))
        var pieces: [Data] = []
        var offset = 0
        while offset < whole.count {
            pieces.append(whole.subdata(in: offset..<min(whole.count, offset + Self.chunkSize)))
            offset += Self.chunkSize
        }
        for name in ["store", "mirror"] {
            var chunks: [String] = []
            for (i, piece) in pieces.enumerated() {
                let chunk = String(format: "databases/\(name).db.chunk-%04d", i + 1)
                try addObject(
                    try Self.gzip(piece, scratch: base), path: chunk, component: .databases, kind: .chunk,
                    compression: .gzip)
                chunks.append(chunk)
            }
            manifest.databases.append(
                DatabaseRecord(
                    base: .root, path: "data/\(name).db", size: Int64(whole.count), sha256: SHA256Digest.hex(of: whole),
                    artifact: nil, chunks: chunks, tables: [.init(name: "blobs", rows: 650)], mode: 0o644))
        }
        components.append(
            ComponentRecord(id: .databases, status: .ok, files: 2, bytes: Int64(whole.count) * 2))

        // LaunchAgent and shell file.
        let label = "com.maia.agent"
        let agentPath = "Library/LaunchAgents/\(label).plist"
        let plist: [String: Any] = [
            "Label": label, "ProgramArguments": ["\(Fixture.oldRoot)/bin/run.sh"],
            "StandardOutPath": "\(Fixture.oldHome)/Library/Logs/maia.out",
        ]
        let xml = try PropertyListSerialization.data(fromPropertyList: plist, format: .xml, options: 0)
        try addObject(xml, path: "launchagents/\(label).plist", component: .launchagents, kind: .plist)
        manifest.launchAgents = [
            LaunchAgentRecord(
                path: agentPath, artifact: "launchagents/\(label).plist", label: label,
                rewritePrefixes: [Fixture.oldRoot, Fixture.oldHome], wasBinary: false, mode: 0o644)
        ]
        manifest.files.append(
            FileRecord(
                component: .launchagents, base: .home, path: agentPath, size: Int64(xml.count), mode: 0o644,
                rewritten: true))
        components.append(ComponentRecord(id: .launchagents, status: .ok, files: 1, bytes: Int64(xml.count)))
        components.append(ComponentRecord(id: .dependencies, status: .skipped, reason: "pip3 not found"))
        let zshrc = "export MAIA=1\n"
        try addObject(Data(zshrc.utf8), path: "shell/.zshrc", component: .shell, kind: .config)
        manifest.files.append(
            FileRecord(
                component: .shell, base: .home, path: ".zshrc", size: Int64(zshrc.utf8.count),
                sha256: SHA256Digest.hex(of: Data(zshrc.utf8)), mode: 0o644, artifact: "shell/.zshrc"))
        components.append(ComponentRecord(id: .shell, status: .ok, files: 1, bytes: Int64(zshrc.utf8.count)))
        components.append(ComponentRecord(id: .credentials, status: .skipped, reason: "vault not configured"))
        manifest.components = components

        // An object of another set.
        foreignObject = try store.put(Data("another set's secret object\n".utf8), existing: .digest).ref.digest
        try writeScript()
        try seal()
    }

    /// The restore script: every object read from `<set>/../objects/<ab>/<sha256>`.
    func writeScript() throws {
        func object(_ path: String) -> String {
            "\"$OBJ/\(manifest.storedPath(of: manifest.artifact(path)!)!.dropFirst("../objects/".count))\""
        }
        let packs = manifest.artifacts.filter { $0.kind == .pack }.map { "tar -xzf \(object($0.path)) -C \"$R\"" }
        let databases = manifest.databases.map { db in
            "gzip -dc " + db.chunks.map(object).joined(separator: " ") + " > \"$R/\(db.path)\""
        }
        let script = """
            #!/bin/sh
            set -eu
            SET=$(cd "$(dirname "$0")" && pwd)
            OBJ="$SET/../objects"
            while [ $# -gt 0 ]; do
              case "$1" in
                --home) H=$2; shift 2 ;;
                --root) R=$2; shift 2 ;;
                --password-file|--password-fd) shift 2 ;;
                --yes) shift ;;
                *) echo "unknown argument $1" >&2; exit 2 ;;
              esac
            done
            mkdir -p "$R/data" "$H/Library/LaunchAgents"
            \(packs.joined(separator: "\n"))
            \(databases.joined(separator: "\n"))
            sed -e "s#\(Fixture.oldRoot)#$R#g" -e "s#\(Fixture.oldHome)#$H#g" \(object("launchagents/com.maia.agent.plist")) > "$H/Library/LaunchAgents/com.maia.agent.plist"
            cp \(object("shell/.zshrc")) "$H/.zshrc"
            chmod 0644 "$H/.zshrc" "$H/Library/LaunchAgents/com.maia.agent.plist" "$R/data/store.db" "$R/data/mirror.db"
            echo restored

            """
        let data = Data(script.utf8)
        try data.write(to: URL(fileURLWithPath: path("restore_maia.sh")))
        chmod(path("restore_maia.sh"), 0o700)
        manifest.artifacts.removeAll { $0.kind == .script }
        manifest.artifacts.append(
            ArtifactRecord(
                path: "restore_maia.sh", component: .code, kind: .script, size: Int64(data.count),
                sha256: SHA256Digest.hex(of: data)))
    }

    /// Writes `SHA256SUMS` and `manifest.json` from the manifest (what the engine seals).
    func seal() throws {
        try manifest.renderedChecksumList().write(to: URL(fileURLWithPath: path("SHA256SUMS")))
        try manifest.encodedForDisk().write(to: URL(fileURLWithPath: path("manifest.json")))
    }

    /// `set.artifacts` of the set as it is on disk.
    func artifactChecks() -> [CheckResult] { ArtifactCheck.run(setPath: setFolder, manifest: manifest) }

    /// Drill options with sandboxes, reports and a canary folder under the fixture's base.
    func drillOptions() -> DrillOptions {
        try? FileManager.default.createDirectory(atPath: base + "/canary", withIntermediateDirectories: true)
        let folder = try! AbsolutePath(validating: base)
        return DrillOptions(
            setPath: setFolder, sandboxFolder: folder.appending(component: "sandboxes"),
            reportFolder: folder.appending(component: "reports"), timeout: 60, destination: destination,
            canaryFolders: [folder.appending(component: "canary")])
    }

    /// A gzip tar (GNU tar, pax) of `members` (relative to `folder`, not recursed into).
    static func tar(_ folder: String, _ members: [String], scratch: String) throws -> Data {
        let out = scratch + "/pack-\(UUID().uuidString).tar.gz"
        defer { unlink(out) }
        try Fixture.run("/usr/bin/tar", ["--format=pax", "--no-recursion", "-czf", out, "-C", folder] + members)
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }

    /// `gzip -n` of `data`.
    static func gzip(_ data: Data, scratch: String) throws -> Data {
        let file = scratch + "/chunk-\(UUID().uuidString)"
        try data.write(to: URL(fileURLWithPath: file))
        defer { unlink(file + ".gz") }
        try Fixture.run("/bin/gzip", ["-n", file])
        return try Data(contentsOf: URL(fileURLWithPath: file + ".gz"))
    }
}
