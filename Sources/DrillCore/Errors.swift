import Foundation

/// The process exit codes of `restore-drill` (docs/ARCHITECTURE.md, "Exit codes"). The README and
/// `--help` print this table from ``ExitStatus/table``; a test checks they agree.
public enum ExitStatus: Int32, CaseIterable, Sendable {
    /// Every check passed (skips allowed), or the command did its job.
    case success = 0
    /// A check failed or findings were reported (drill, lint, health not OK, partial backup).
    case findings = 1
    /// Usage or configuration error (also argument-parser's own usage errors).
    case usage = 2
    /// Runtime error: the tool could not do its job (I/O error, lock held, set not found).
    case runtime = 3

    /// One line describing the code, as printed in the README and `--help`.
    public var meaning: String {
        switch self {
        case .success: "success: every check passed (skips allowed), or the command did its job"
        case .findings: "a check failed or findings were reported (drill, lint, health is not OK, partial backup)"
        case .usage: "usage or configuration error (also argument-parser's own usage errors)"
        case .runtime: "runtime error: the tool could not do its job (I/O error, lock held, set not found)"
        }
    }

    /// The exit-code table as Markdown rows (`| 0 | success: … |`), header included.
    public static var table: String {
        (["| code | meaning |", "|---|---|"] + allCases.map { "| \($0.rawValue) | \($0.meaning) |" })
            .joined(separator: "\n")
    }
}

/// Errors that stop the tool. Findings (a failed check) are not errors: they are ``CheckResult``s.
public enum RestoreDrillError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The configuration file is wrong: `file:line: key: message`.
    case config(file: String, line: Int?, key: String, message: String)
    /// The command line is wrong.
    case usage(String)
    /// No backup set matches what was asked for.
    case setNotFound(String)
    /// A file could not be read or written.
    case io(path: String, message: String)
    /// A file or folder that must be new already exists (another run took the name): `message`
    /// says what was being made, e.g. `cannot create sandbox: already exists`. Printed and mapped
    /// like ``io(path:message:)``; its own case so a caller can take the next name without
    /// reading text.
    case alreadyExists(path: String, message: String)
    /// Another run holds the lock on a destination.
    case lockHeld(path: String, pid: Int32)
    /// A backup set cannot be used at all (no valid manifest).
    case invalidSet(path: String, message: String)
    /// The destination (a drive unmounted mid-run, a folder replaced) is no longer the folder a
    /// backup started writing into, so the set was not sealed; the message names each path and
    /// what differs (`missing`, `device 1792 → 65024`, `size 123 → 0`).
    case destinationVanished(path: String, message: String)
    /// Without bubblewrap (missing, not working, or not on this system), `sandbox.isolation: auto`
    /// would replay a restore script unisolated that cannot be proven (no vault password is
    /// configured, so its manifest HMAC cannot be checked). Nothing was run; the message names why
    /// bubblewrap is unavailable, and the description the three ways out. Exit 2: the
    /// configuration must change.
    case isolationRefused(String)
    /// The destination's file system is full (`ENOSPC`, `EDQUOT`, SQLite's `SQLITE_FULL`), at
    /// whichever step was writing (an artifact, a database copy, the vault, the manifest): one
    /// message naming the path being written and the bytes still free on the destination's file
    /// system (`freeBytes`, nil when unknown). Nothing is sealed; exit 3.
    case destinationFull(path: String, freeBytes: Int64?)
    /// Anything else the tool cannot continue after.
    case runtime(String)

    public var description: String {
        switch self {
        case .config(let file, let line, let key, let message):
            let location = line.map { "\(file):\($0)" } ?? file
            return key.isEmpty ? "\(location): \(message)" : "\(location): \(key): \(message)"
        case .usage(let message): return message
        case .setNotFound(let what): return "backup set not found: \(what)"
        case .io(let path, let message), .alreadyExists(let path, let message): return "\(path): \(message)"
        case .lockHeld(let path, let pid): return "\(path): lock held by process \(pid)"
        case .invalidSet(let path, let message): return "\(path): \(message)"
        case .destinationVanished(let path, let message): return "\(path): \(message)"
        case .isolationRefused(let why):
            return "refusing to replay the restore script without isolation: \(why), and the set cannot be "
                + "authenticated (no vault password is configured). Either install bubblewrap (bwrap), "
                + "configure a vault password (credentials.password) so sets can be authenticated, or set "
                + "sandbox.isolation: none to replay unisolated knowingly"
        case .destinationFull(let path, let freeBytes):
            let free = freeBytes.map { "\(Units.humanBytes($0)) (\($0) bytes) free" } ?? "free space unknown"
            return "\(path): the destination is full (No space left on device; \(free) on its file system): "
                + "nothing was sealed; make room or choose another destination"
        case .runtime(let message): return message
        }
    }

    /// The exit status this error maps to.
    public var exitStatus: ExitStatus {
        switch self {
        case .config, .usage, .isolationRefused: .usage
        case .setNotFound, .io, .alreadyExists, .lockHeld, .invalidSet, .destinationVanished, .destinationFull,
            .runtime:
            .runtime
        }
    }
}
