import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An absolute file-system path, lexically normalised: it starts with `/`, has no empty, `.` or
/// `..` components and no trailing `/` (except the root `/` itself). Symbolic links are never
/// resolved: a path means what was written, which is what a sandboxing tool must compare.
///
/// Modelled on SwiftPM's `AbsolutePath` (TSCBasic `Path.swift`): code never joins, trims or
/// compares path strings by hand; it appends ``RelativePath`` values and asks
/// ``isDescendantOrSelf(of:)``, the one containment rule of the project.
///
/// Equality, hashing, order and containment are byte-exact (``FileNameBytes``): a folder named in
/// NFC and one named in NFD are different folders, as they are on Linux. The text may hold the
/// marker form of a name that is not UTF-8; system calls take it through
/// ``FileNameBytes/withFileSystemRepresentation(_:_:)``.
public struct AbsolutePath: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The normalised text, e.g. `/Users/alice/git/maia`.
    public let pathString: String

    /// The root folder `/`.
    public static let root = AbsolutePath(normalized: "/")

    private init(normalized: String) { self.pathString = normalized }

    /// Normalises `path`, which must start with `/`.
    /// - Throws: ``PathError/notAbsolute(_:)`` when it does not, ``PathError/empty`` for `""`,
    ///   ``PathError/nulByte(_:)`` when it holds a NUL byte (no system call can take it).
    public init(validating path: String) throws {
        guard !path.isEmpty else { throw PathError.empty }
        guard !path.utf8.contains(0) else { throw PathError.nulByte(path) }
        guard path.utf8.first == LexicalPath.slash else { throw PathError.notAbsolute(path) }
        self.pathString = LexicalPath.normalize(path)
    }

    /// `path` made absolute: an absolute `path` is normalised, a relative one is taken below
    /// `base` (a `..` may climb out of `base`, never above `/`). This is the one way a path a user
    /// typed (a command-line argument, a configuration value) becomes absolute.
    /// - Throws: ``PathError/empty`` for `""`, ``PathError/nulByte(_:)``.
    public init(_ path: String, relativeTo base: AbsolutePath) throws {
        guard !path.isEmpty else { throw PathError.empty }
        guard !path.utf8.contains(0) else { throw PathError.nulByte(path) }
        let absolute = path.utf8.first == LexicalPath.slash
        self.pathString = LexicalPath.normalize(absolute ? path : base.pathString + "/" + path)
    }

    /// The components below `/`: `/a/b` gives `["a", "b"]`, `/` gives `[]`.
    public var components: [String] { LexicalPath.components(pathString) }

    /// The last component; `/` for the root.
    public var basename: String { components.last ?? "/" }

    /// The folder that holds this path; the root's parent is the root.
    public var parentDirectory: AbsolutePath {
        let bytes = pathString.utf8
        guard let slash = bytes.lastIndex(of: LexicalPath.slash), !isRoot else { return self }
        return slash == bytes.startIndex
            ? .root : AbsolutePath(normalized: String(decoding: bytes[..<slash], as: UTF8.self))
    }

    /// True for `/`.
    public var isRoot: Bool { pathString == "/" }

    /// This path with `relative` below it. A `relative` that climbs (`..`) is folded lexically,
    /// never above `/`; use ``RelativePath/init(validatingBeneath:)`` first when it must stay inside.
    public func appending(_ relative: RelativePath) -> AbsolutePath {
        if relative.pathString == "." { return self }
        return AbsolutePath(normalized: LexicalPath.normalize(pathString + "/" + relative.pathString))
    }

    /// This path with one more component `name`.
    /// - Precondition: `name` is a single component: not empty, no `/`, not `.` or `..`, no NUL.
    public func appending(component name: String) -> AbsolutePath {
        precondition(
            !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(LexicalPath.slash)
                && !name.utf8.contains(0),
            "not a single path component: \(name)")
        return AbsolutePath(normalized: isRoot ? "/" + name : pathString + "/" + name)
    }

    /// This path with each of `names` appended as one component (see ``appending(component:)``).
    public func appending(components names: String...) -> AbsolutePath {
        names.reduce(self) { $0.appending(component: $1) }
    }

    /// This path with every symbolic link on it resolved (realpath(3)), for the few places that
    /// truly need where a path lands on disk (another uid's access judged with `lstat`, a
    /// containment check that must not be fooled by a link). Components that do not exist yet are kept as
    /// written below the deepest existing ancestor, which is resolved. Everything else in the
    /// project compares paths as written.
    public func resolvingSymlinks() -> AbsolutePath {
        var existing = self
        var missing: [String] = []
        while true {
            if let real = existing.realPath() {
                return missing.reversed().reduce(real) { $0.appending(component: $1) }
            }
            if existing.isRoot { return self }
            missing.append(existing.basename)
            existing = existing.parentDirectory
        }
    }

    /// Where this path lands on disk, every link resolved (realpath(3)), when it exists; nil when
    /// it does not (or cannot be searched). See ``resolvingSymlinks()`` for the few places this
    /// is wanted.
    public func realPath() -> AbsolutePath? {
        let resolved = FileNameBytes.withFileSystemRepresentation(pathString) { path in
            #if canImport(Glibc)
                Glibc.realpath(path, nil)
            #else
                Darwin.realpath(path, nil)
            #endif
        }
        guard let resolved else { return nil }
        defer { free(resolved) }
        return try? AbsolutePath(validating: FileNameBytes.string(cString: resolved))
    }

    /// True when this path is `folder` or lies below it, component by component: `/a/b` is in
    /// `/a`, `/ab` is not. The one containment rule; no file-system access, no link resolution.
    public func isDescendantOrSelf(of folder: AbsolutePath) -> Bool {
        if folder.isRoot || self == folder { return true }
        return pathString.utf8.starts(with: (folder.pathString + "/").utf8)
    }

    /// True when this path lies strictly below `folder`.
    public func isDescendant(of folder: AbsolutePath) -> Bool {
        self != folder && isDescendantOrSelf(of: folder)
    }

    /// This path relative to `folder` when it is inside it (`.` for the folder itself), else nil.
    public func relative(to folder: AbsolutePath) -> RelativePath? {
        guard isDescendantOrSelf(of: folder) else { return nil }
        if self == folder { return .dot }
        let bytes = pathString.utf8
        let start = bytes.index(bytes.startIndex, offsetBy: folder.isRoot ? 1 : folder.pathString.utf8.count + 1)
        return RelativePath(normalized: String(decoding: bytes[start...], as: UTF8.self))
    }

    public var description: String { pathString }

    /// Byte-exact: NFC and NFD spellings of one name are different paths.
    public static func == (lhs: AbsolutePath, rhs: AbsolutePath) -> Bool {
        FileNameBytes.same(lhs.pathString, rhs.pathString)
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(FileNameBytes.key(pathString)) }

    /// Byte order, not Unicode order.
    public static func < (lhs: AbsolutePath, rhs: AbsolutePath) -> Bool {
        FileNameBytes.precedes(lhs.pathString, rhs.pathString)
    }

    /// Decodes a JSON string, validated like ``init(validating:)``.
    public init(from decoder: any Decoder) throws {
        try self.init(validating: try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes ``pathString`` as a JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(pathString)
    }
}

/// A relative path, lexically normalised: no leading or trailing `/`, no empty or `.` components,
/// each `..` folded into its parent; leading `..` components remain (`../x`), and the empty path
/// is `.`. See ``init(validatingBeneath:)`` for a path that must stay inside its base.
/// Byte-exact like ``AbsolutePath``.
public struct RelativePath: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The normalised text, e.g. `claude/data/app.db`, or `.`.
    public let pathString: String

    /// The empty relative path `.`.
    public static let dot = RelativePath(normalized: ".")

    fileprivate init(normalized: String) { self.pathString = normalized }

    /// Normalises `path`, which must not start with `/`.
    /// - Throws: ``PathError/notRelative(_:)`` for an absolute path, ``PathError/nulByte(_:)``.
    public init(validating path: String) throws {
        guard path.utf8.first != LexicalPath.slash else { throw PathError.notRelative(path) }
        guard !path.utf8.contains(0) else { throw PathError.nulByte(path) }
        self.pathString = LexicalPath.normalize(path)
    }

    /// Normalises `path` and refuses one that is absolute or climbs above its start (`../x`,
    /// `a/../../x`): the rule for a name that comes from a set, an archive or a manifest and is
    /// joined below a sandbox or a set folder.
    /// - Throws: ``PathError/notRelative(_:)``, ``PathError/escapes(_:)``, ``PathError/nulByte(_:)``.
    public init(validatingBeneath path: String) throws {
        guard path.utf8.first != LexicalPath.slash else { throw PathError.notRelative(path) }
        guard !path.utf8.contains(0) else { throw PathError.nulByte(path) }
        var parts: [String] = []
        for part in LexicalPath.components(path) {
            switch part {
            case ".": continue
            case "..":
                if parts.isEmpty { throw PathError.escapes(path) }
                parts.removeLast()
            default: parts.append(part)
            }
        }
        self.pathString = parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The components: `a/b` gives `["a", "b"]`, `.` gives `[]`.
    public var components: [String] {
        pathString == "." ? [] : LexicalPath.components(pathString)
    }

    /// The last component; `.` for the empty path.
    public var basename: String { components.last ?? "." }

    /// True when the path starts with `..`.
    public var climbsAbove: Bool { pathString == ".." || pathString.utf8.starts(with: "../".utf8) }

    /// Every proper ancestor, shortest first: `a/b/c` gives `a` and `a/b`.
    public var ancestors: [RelativePath] {
        let parts = components
        guard parts.count > 1 else { return [] }
        return (1..<parts.count).map { RelativePath(normalized: parts[0..<$0].joined(separator: "/")) }
    }

    /// This path with `other` below it.
    public func appending(_ other: RelativePath) -> RelativePath {
        if pathString == "." { return other }
        if other.pathString == "." { return self }
        return RelativePath(normalized: LexicalPath.normalize(pathString + "/" + other.pathString))
    }

    /// This path with one more component `name` (`.` with `a` gives `a`).
    /// - Precondition: `name` is a single component: not empty, no `/`, not `.` or `..`, no NUL.
    public func appending(component name: String) -> RelativePath {
        precondition(
            !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(LexicalPath.slash)
                && !name.utf8.contains(0),
            "not a single path component: \(name)")
        return RelativePath(normalized: pathString == "." ? name : pathString + "/" + name)
    }

    public var description: String { pathString }

    /// Byte-exact: NFC and NFD spellings of one name are different paths.
    public static func == (lhs: RelativePath, rhs: RelativePath) -> Bool {
        FileNameBytes.same(lhs.pathString, rhs.pathString)
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(FileNameBytes.key(pathString)) }

    /// Byte order, not Unicode order.
    public static func < (lhs: RelativePath, rhs: RelativePath) -> Bool {
        FileNameBytes.precedes(lhs.pathString, rhs.pathString)
    }

    /// Decodes a JSON string, validated like ``init(validating:)``.
    public init(from decoder: any Decoder) throws {
        try self.init(validating: try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes ``pathString`` as a JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(pathString)
    }
}

/// Why a string is not the path it was meant to be.
public enum PathError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The empty string is no path.
    case empty
    /// An absolute path was needed; the payload is the text given.
    case notAbsolute(String)
    /// A relative path was needed; the payload is the text given.
    case notRelative(String)
    /// The relative path climbs above its base with `..`; the payload is the text given.
    case escapes(String)
    /// The text holds a NUL byte, which no file-system call accepts.
    case nulByte(String)

    public var description: String {
        switch self {
        case .empty: "an empty path"
        case .notAbsolute(let p): "not an absolute path: \(p.debugDescription)"
        case .notRelative(let p): "not a relative path: \(p.debugDescription)"
        case .escapes(let p): "the path climbs above its folder: \(p.debugDescription)"
        case .nulByte(let p): "a NUL byte in the path: \(p.debugDescription)"
        }
    }
}
