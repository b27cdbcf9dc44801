import DrillCore
import Foundation

/// What `lstat` says about one path, without following a final symlink.
struct FileFacts: Equatable {
    var type: FileType?
    /// True for a character/block device, fifo or socket.
    var isSpecial: Bool
    var size: Int64
    /// Permission bits including setuid/setgid/sticky (`st_mode & 0o7777`).
    var mode: Int

    /// Facts of `path`, or nil when nothing is there.
    static func of(_ path: String) -> FileFacts? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        let format = st.st_mode & S_IFMT
        var type: FileType?
        switch format {
        case S_IFREG: type = .file
        case S_IFDIR: type = .directory
        case S_IFLNK: type = .symlink
        default: type = nil
        }
        return FileFacts(type: type, isSpecial: type == nil, size: Int64(st.st_size), mode: Int(st.st_mode & 0o7777))
    }

    /// The target of the symlink at `path`, or nil.
    static func linkTarget(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }
}

extension FileFacts {
    /// The facts of an entry found beneath a ``BeneathRoot`` (never through a link).
    init(_ entry: BeneathRoot.Entry) {
        switch entry.kind {
        case .file: type = .file
        case .directory: type = .directory
        case .symbolicLink: type = .symlink
        default: type = nil
        }
        isSpecial = type == nil
        size = entry.size
        mode = entry.mode
    }
}

/// The restored tree of one drill as the checks read it (issue 11: the checks run as root over a
/// tree a hostile restore script wrote): the drill's sandbox folder opened once as a
/// ``BeneathRoot``, and the new home and root inside it. Every stat, size, digest, read and listing
/// of a restored path goes through ``beneath``, so no symbolic link is followed at any component
/// (the script may have made `home`, a folder on the way or the file itself a link), no FIFO is
/// opened and no device is read; what cannot be reached so is a finding naming the component.
struct RestoredTree: Sendable {
    /// The sandbox folder, opened.
    let beneath: BeneathRoot
    /// The new home and root (inside ``beneath``'s path).
    let home: AbsolutePath
    let root: AbsolutePath

    /// Opens `folder` (a drill's sandbox folder, which holds `home` and `root`).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder cannot be opened.
    init(folder: AbsolutePath, home: AbsolutePath, root: AbsolutePath, preferring: BeneathRoot.Resolution = .openat2)
        throws
    {
        beneath = try BeneathRoot(folder, preferring: preferring)
        self.home = home
        self.root = root
    }

    /// `path` relative to the sandbox folder; nil when it is not inside it.
    func relative(_ path: AbsolutePath) -> RelativePath? {
        guard let inside = path.relative(to: beneath.path), !inside.climbsAbove else { return nil }
        return inside
    }

    /// Where the manifest's `path` (relative to the home or root, per `base`) lies beneath the
    /// sandbox folder; nil when the name climbs out of the restored tree.
    func place(_ path: String, _ base: PathBase) -> RelativePath? {
        guard let inside = try? RelativePath(validatingBeneath: path) else { return nil }
        return relative((base == .root ? root : home).appending(inside))
    }

    /// A path beneath the sandbox folder as reports show it: `$ROOT/…`, `~/…`, else the
    /// sandbox-relative path.
    func shown(_ relative: RelativePath) -> String {
        let path = beneath.path.appending(relative)
        if let inside = path.relative(to: root) { return inside == .dot ? "$ROOT" : "$ROOT/\(inside)" }
        if let inside = path.relative(to: home) { return inside == .dot ? "~" : "~/\(inside)" }
        return "\(relative) in the sandbox"
    }

    /// Why `refusal` stopped the lookup of `subject`: its reason when it stopped at `subject`
    /// itself (`is a symbolic link, not followed`), else naming the folder on the way
    /// (`folder ~/git on its way is a symbolic link, not followed`).
    func explain(_ refusal: BeneathRoot.Refusal, for subject: RelativePath) -> String {
        refusal.at == subject ? refusal.reason : "folder \(shown(refusal.at)) on its way \(refusal.reason)"
    }
}

/// Small pure text helpers of the checks' messages (paths are ``AbsolutePath`` and ``RelativePath``).
enum TextFormat {
    /// True when a name holds a C0 control character or DEL.
    static func hasControlCharacters(_ name: String) -> Bool {
        name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
    }

    /// The last `limit` lines of `text` (a replay's output: lines end at LF, CR or CRLF).
    static func tailLines(_ text: String, limit: Int) -> [String] {
        let lines = TextLines.split(text, omittingEmpty: false)
        let trimmed = lines.last == "" ? Array(lines.dropLast()) : lines
        return Array(trimmed.suffix(limit))
    }

    /// Octal text of permission bits, e.g. `0644`.
    static func octal(_ mode: Int) -> String { "0" + String(mode, radix: 8) }
}

/// Measures wall time with a monotonic clock, in seconds.
struct Stopwatch {
    private let start = ContinuousClock.now

    var seconds: Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
