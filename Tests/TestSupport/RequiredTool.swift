import Foundation
import Testing

/// The one rule for a tool a test needs (shellcheck, systemd-analyze, sqlite3 …): where the
/// environment variable `CI` is set (the CI runner sets `CI=true`, and so does `.ci/run`), a
/// missing tool is a test failure; elsewhere the test is skipped, and Swift Testing prints why.
///
/// A test says so twice: the trait ``Testing/Trait/needsTool(_:package:)`` skips it where the tool
/// is missing and `CI` is not set, and ``requireTool(_:package:)`` inside it gives the tool's path
/// or fails it:
/// ```swift
/// @Test(.needsTool("systemd-analyze", package: "systemd"))
/// func unitsVerify() throws {
///     let analyze = try requireTool("systemd-analyze", package: "systemd")
/// ```
public enum RequiredTool {
    /// Whether the environment variable `CI` is set to anything but the empty string.
    public static var isCI: Bool { !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty }

    /// The folders searched: `PATH`'s, then `/usr/local/bin`, `/usr/bin`, `/bin`, `/usr/sbin`, `/sbin`.
    static var searchFolders: [String] {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        return path.split(separator: ":").map(String.init) + [
            "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin",
        ]
    }

    /// The absolute path of the executable `name` in ``searchFolders``; nil when none is installed.
    public static func find(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for folder in searchFolders where !folder.isEmpty {
            let candidate = (folder as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The sentence a skip or failure prints.
    static func missing(_ name: String, package: String?) -> String {
        "\(name) is not installed" + (package.map { " (Debian package \($0), in ci/setup)" } ?? "")
    }
}

/// The thrown error of ``requireTool(_:package:)`` when `CI` is set and the tool is missing.
public struct MissingTool: Error, CustomStringConvertible {
    /// The tool's name as given.
    public var name: String
    /// The text recorded as the test's failure.
    public var description: String
}

/// The absolute path of the tool `name`, for a test guarded by ``Testing/Trait/needsTool(_:package:)``.
/// - Parameters:
///   - name: the executable's name (searched as ``RequiredTool/find(_:)`` does) or an absolute path.
///   - package: the Debian package that installs it, named in the message.
/// - Returns: the path.
/// - Throws: ``MissingTool`` when it is missing; the thrown error fails the test with its text
///   (under `CI` that is the rule; elsewhere the trait skipped the test before it got here).
public func requireTool(_ name: String, package: String? = nil) throws -> String {
    if let path = RequiredTool.find(name) { return path }
    let text =
        RequiredTool.missing(name, package: package)
        + (RequiredTool.isCI ? ": CI is set, so a missing tool fails the test" : "")
    throw MissingTool(name: name, description: text)
}

extension Trait where Self == ConditionTrait {
    /// Runs the test where the tool `name` is installed or the environment variable `CI` is set
    /// (then ``requireTool(_:package:)`` fails it); elsewhere skips it, saying which tool is missing.
    /// - Parameters:
    ///   - name: the executable's name or absolute path.
    ///   - package: the Debian package that installs it, named in the skip message.
    public static func needsTool(_ name: String, package: String? = nil) -> Self {
        .enabled(
            if: RequiredTool.isCI || RequiredTool.find(name) != nil,
            Comment(rawValue: RequiredTool.missing(name, package: package) + "; skipped (with CI set it fails)"))
    }
}
