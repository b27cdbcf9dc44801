import DrillCore
import Foundation

/// Remembers each dependency list with a fingerprint of the package folders it came from, so the
/// next backup reuses the list instead of running the tool again while those folders are
/// unchanged (`pip3 freeze` costs about 1 CPU-second of Python start-up and imports, at a moment
/// when the compression already keeps every core busy).
///
/// **How "unchanged" is decided** (``fingerprint(name:argv:)``): a SHA-256 over
/// - the argv, the working folder, and the environment variables that steer the tools (`PATH`,
///   `HOME`, and every `PYTHON*`, `PIP_*`, `PYENV*`, `VIRTUAL_ENV`, `CONDA*`, `HOMEBREW_*`);
/// - device, inode, size, modification and change times (nanoseconds) of the tool as `PATH`
///   finds it and of what it resolves to;
/// - for the Python list: the tool's interpreter (its `#!` line; a pyenv shim is resolved with
///   `pyenv which`), then **every folder on that interpreter's `sys.path`** as the interpreter
///   itself reports it (`python -c 'import sys, json; print(json.dumps(sys.path))'`, with the
///   tool's environment and working folder): installing, upgrading or removing a distribution
///   adds, renames or removes a `*.dist-info` (or `*.egg-info`) entry in one of those folders,
///   which changes that folder's modification time; a new folder on the path (a user site made
///   by `pip install --user`, a `.pth` file's target) changes the list of folders. pip's
///   configuration files (`PIP_CONFIG_FILE`, `~/.config/pip/pip.conf`, `~/.pip/pip.conf`,
///   `/etc/pip.conf`, `/etc/xdg/pip/pip.conf`, `$VIRTUAL_ENV/pip.conf`, and on macOS
///   `~/Library/Application Support/pip/pip.conf`) are in too;
/// - for the Homebrew list: the `Cellar` and `Caskroom` folders of the prefix `brew` lives in
///   (`HOMEBREW_CELLAR` when set) and **each of their immediate subfolders** (one per formula or
///   cask, holding one folder per installed version: a new version changes the subfolder).
///
/// When any of this cannot be found out (another tool, a shim other than pyenv's, an interpreter
/// that does not answer) there is no fingerprint and the tool runs, as it always did. A list
/// holding an editable install (`-e …` lines: pip prints the project's VCS state, which lives
/// outside the package folders) is never reused, and no list is reused longer than
/// ``maximumAge`` (7 days), which also bounds a hand edit inside a package's own folder.
///
/// The lists are kept in the user's cache folder (``defaultFolder(environment:)``), private
/// (folder 0700, files 0600), **not** read back from the destination: a destination is often a
/// synced folder others can write to, and a list read from a set nobody authenticated would put
/// someone else's package names into every later set. Interrupted runs leave at most a temporary
/// file (``AtomicFile``), which the next save replaces.
struct DependencyListCache: Sendable {
    /// The folder holding one `dependencies-<name>-<argv digest>.json` per list.
    let folder: String
    /// Starts the probes (`pyenv which`, the interpreter's `sys.path`).
    let runner: any ProcessRunner
    /// The environment the tools run with (what the fingerprint reads).
    var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Seconds a remembered list may be reused: 7 days.
    var maximumAge: Double = 7 * 86400
    /// Seconds each probe may run.
    var probeTimeout: Double = 20

    /// What is remembered of one list.
    struct Entry: Codable {
        var fingerprint: String
        /// When the tool ran, seconds since 1970.
        var takenAt: Double
        var sha256: String
        /// The list, base64.
        var list: String
    }

    /// `$XDG_CACHE_HOME/restore-drill` (else `~/.cache/restore-drill`) on Linux,
    /// `~/Library/Caches/restore-drill` on macOS; nil without a home.
    static func defaultFolder(environment: [String: String]) -> String? {
        #if os(macOS)
            return environment["HOME"].map { "\($0)/Library/Caches/restore-drill" }
        #else
            if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return "\(xdg)/restore-drill" }
            return environment["HOME"].map { "\($0)/.cache/restore-drill" }
        #endif
    }

    /// The remembered list when its fingerprint is `fingerprint` and it is younger than
    /// ``maximumAge`` at `now`; nil otherwise (also for a damaged entry).
    func load(name: String, argv: [String], fingerprint: String, now: Date) -> Data? {
        guard let data = FileManager.default.contents(atPath: path(name: name, argv: argv)),
            let entry = try? JSONDecoder().decode(Entry.self, from: data), entry.fingerprint == fingerprint,
            now.timeIntervalSince1970 - entry.takenAt < maximumAge, now.timeIntervalSince1970 >= entry.takenAt,
            let list = Data(base64Encoded: entry.list), SHA256Digest.hex(of: list) == entry.sha256,
            Self.reusable(list)
        else { return nil }
        return list
    }

    /// Remembers `list` (taken at `now`) under `fingerprint`; a list that may not be reused removes
    /// what was remembered. Failures are ignored: the next backup runs the tool again.
    func save(name: String, argv: [String], fingerprint: String, list: Data, now: Date) {
        let target = path(name: name, argv: argv)
        guard Self.reusable(list) else {
            unlink(target)
            return
        }
        let entry = Entry(
            fingerprint: fingerprint, takenAt: now.timeIntervalSince1970, sha256: SHA256Digest.hex(of: list),
            list: list.base64EncodedString())
        guard let data = try? JSONEncoder().encode(entry) else { return }
        try? FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try? AtomicFile.write(data, to: target, mode: 0o600)
    }

    /// False for a list with an editable install (its lines depend on a project's VCS state).
    static func reusable(_ list: Data) -> Bool {
        !String(decoding: list, as: UTF8.self).split(separator: "\n").contains {
            $0.hasPrefix("-e ") || $0.hasPrefix("--editable") || $0.hasPrefix("# Editable")
        }
    }

    func path(name: String, argv: [String]) -> String {
        let digest = SHA256Digest.hex(of: Data(argv.joined(separator: "\u{0}").utf8)).prefix(16)
        return "\(folder)/dependencies-\(name)-\(digest).json"
    }

    // MARK: Fingerprints

    /// The fingerprint of what the list `name` (`python` or `homebrew`) made by `argv` depends on,
    /// or nil when that cannot be told (the tool then runs).
    func fingerprint(name: String, argv: [String]) async -> String? {
        guard let tool = argv.first, let found = DependencyCollector.findExecutable(tool, environment: environment)
        else { return nil }
        var lines = ["argv \(argv.joined(separator: "\u{0}"))", "cwd \(FileManager.default.currentDirectoryPath)"]
        let steering = ["PYTHON", "PIP_", "PYENV", "VIRTUAL_ENV", "CONDA", "HOMEBREW_"]
        for (key, value) in environment.sorted(by: { $0.key < $1.key })
        where key == "PATH" || key == "HOME" || steering.contains(where: { key.hasPrefix($0) }) {
            lines.append("env \(key)=\(value)")
        }
        lines.append("tool \(Self.describe(found))")
        let more: [String]?
        switch name {
        case "python": more = await pythonLines(tool: found)
        case "homebrew": more = homebrewLines(tool: found)
        default: more = nil
        }
        guard let more else { return nil }
        lines += more
        return SHA256Digest.hex(of: Data(lines.joined(separator: "\n").utf8))
    }

    /// The interpreter, its `sys.path` folders and pip's configuration files; nil when unknown.
    func pythonLines(tool: String) async -> [String]? {
        var script = tool
        var lines: [String] = []
        if let pyenv = Self.pyenvShim(tool) {
            // pyenv picks the version from PYENV_VERSION, .python-version files and its global file.
            var shimEnvironment = environment
            shimEnvironment["PYENV_ROOT"] =
                PathText.parent(of: PathText.parent(of: pyenv))
            guard
                let which = await probe(
                    pyenv, ["which", PathText.lastComponent(of: tool)], environment: shimEnvironment),
                let real = which.split(separator: "\n").first.map(String.init), real.hasPrefix("/")
            else { return nil }
            script = real
            lines.append("pyenv \(real) \(Self.describe(real))")
        }
        let interpreter: String
        if PathText.lastComponent(of: script).hasPrefix("python") {
            interpreter = script
        } else {
            guard let shebang = Self.shebang(script), let named = shebang.first else { return nil }
            var chosen = named
            if PathText.lastComponent(of: named) == "env" {
                guard shebang.count >= 2,
                    let resolved = DependencyCollector.findExecutable(shebang[1], environment: environment)
                else { return nil }
                chosen = resolved
            }
            guard PathText.lastComponent(of: chosen).hasPrefix("python") else { return nil }
            interpreter = chosen
        }
        lines.append("interpreter \(interpreter) \(Self.describe(interpreter))")
        guard
            let out = await probe(interpreter, ["-c", "import sys, json; print(json.dumps(sys.path))"]),
            let paths = try? JSONDecoder().decode([String].self, from: Data(out.utf8))
        else { return nil }
        // A script's sys.path[0] is its own folder (links resolved); `-c` gives "" instead.
        var folders = paths.filter { !$0.isEmpty }
        folders.append(PathText.parent(of: script))
        folders.append(PathText.parent(of: (script as NSString).resolvingSymlinksInPath))
        for folder in folders { lines.append("path \(folder) \(Self.describe(folder))") }
        let home = environment["HOME"] ?? ""
        var configs = [
            "\(home)/.config/pip/pip.conf", "\(home)/.pip/pip.conf", "/etc/pip.conf", "/etc/xdg/pip/pip.conf",
            "\(home)/Library/Application Support/pip/pip.conf",
        ]
        if let file = environment["PIP_CONFIG_FILE"] { configs.append(file) }
        if let venv = environment["VIRTUAL_ENV"] { configs.append("\(venv)/pip.conf") }
        for config in configs { lines.append("config \(config) \(Self.describe(config))") }
        return lines
    }

    /// `Cellar` and `Caskroom` of brew's prefix and each of their subfolders; nil when there is no Cellar.
    func homebrewLines(tool: String) -> [String]? {
        guard PathText.lastComponent(of: tool) == "brew" else { return nil }
        let prefix = PathText.parent(of: PathText.parent(of: tool))
        let cellar = environment["HOMEBREW_CELLAR"] ?? "\(prefix)/Cellar"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: cellar, isDirectory: &isDirectory), isDirectory.boolValue else {
            return nil
        }
        var lines = ["brew \((tool as NSString).resolvingSymlinksInPath) \(Self.describe(tool))"]
        for folder in [cellar, "\(prefix)/Caskroom"] {
            lines.append("folder \(folder) \(Self.describe(folder))")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for name in names.sorted() { lines.append("entry \(folder)/\(name) \(Self.describe("\(folder)/\(name)"))") }
        }
        return lines
    }

    /// Device, inode, size, modification and change times of `path` (links followed), or `absent`.
    static func describe(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "absent" }
        #if os(Linux)
            let (m, c) = (st.st_mtim, st.st_ctim)
        #else
            let (m, c) = (st.st_mtimespec, st.st_ctimespec)
        #endif
        return "dev \(st.st_dev) ino \(st.st_ino) size \(st.st_size) mtime \(m.tv_sec).\(m.tv_nsec) "
            + "ctime \(c.tv_sec).\(c.tv_nsec)"
    }

    /// The words of the `#!` line of `path`, or nil when it has none.
    static func shebang(_ path: String) -> [String]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 512)) ?? Data()
        guard head.starts(with: Array("#!".utf8)) else { return nil }
        let line = String(decoding: head.dropFirst(2).prefix { $0 != 0x0a }, as: UTF8.self)
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        return words.isEmpty ? nil : words
    }

    /// The `pyenv` program a pyenv shim hands over to (`exec "<pyenv>" exec "$program" "$@"`), or nil.
    static func pyenvShim(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let text = String(decoding: (try? handle.read(upToCount: 4096)) ?? Data(), as: UTF8.self)
        guard text.hasPrefix("#!"), let line = text.split(separator: "\n").first(where: { $0.hasPrefix("exec \"") }),
            line.hasSuffix("exec \"$program\" \"$@\"")
        else { return nil }
        let quoted = line.dropFirst("exec \"".count).prefix { $0 != "\"" }
        let program = String(quoted)
        return program.hasPrefix("/") && PathText.lastComponent(of: program) == "pyenv" ? program : nil
    }

    /// The standard output of a probe that exits 0 in time, or nil.
    func probe(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async -> String? {
        let request = ProcessRequest(
            executable: executable, arguments: arguments, environment: environment, outputLimit: 1 << 20,
            timeout: probeTimeout)
        guard let outcome = try? await runner.run(request), outcome.succeeded else { return nil }
        return String(decoding: outcome.standardOutput, as: UTF8.self)
    }
}
