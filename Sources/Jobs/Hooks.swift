import DrillCore
import Foundation

/// Runs the configuration's `hooks.on_failure` / `hooks.on_success` after a backup or a drill, so a
/// failure can page someone.
///
/// Each hook is an argv array (never a shell string), run one after the other with a clean
/// environment holding only `PATH`, `HOME` and:
/// - `RESTORE_DRILL_EVENT`: `backup` or `drill`;
/// - `RESTORE_DRILL_VERDICT`: the outcome (`pass`/`fail` for a drill, `complete`/`partial`/`failed` for a backup);
/// - `RESTORE_DRILL_REPORT`: the report folder (a drill) or set folder (a backup), empty when none;
/// - `RESTORE_DRILL_BACKUP_ID`: the backup id, empty when none.
///
/// A hook that cannot start, exits non-zero or runs past ``timeout`` is a warning; it never
/// changes the verdict of the job that ran it.
public struct HookRunner: Sendable {
    /// Seconds each hook may run before its process group is killed.
    public var timeout: Double
    /// Where `PATH` and `HOME` come from.
    public var baseEnvironment: [String: String]

    public init(timeout: Double = 300, baseEnvironment: [String: String] = ProcessInfo.processInfo.environment) {
        self.timeout = timeout
        self.baseEnvironment = baseEnvironment
    }

    /// The environment one hook gets.
    public func environment(event: String, verdict: String, reportPath: String?, backupID: String?) -> [String: String]
    {
        var env: [String: String] = [
            "PATH": baseEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "RESTORE_DRILL_EVENT": event,
            "RESTORE_DRILL_VERDICT": verdict,
            "RESTORE_DRILL_REPORT": reportPath ?? "",
            "RESTORE_DRILL_BACKUP_ID": backupID ?? "",
        ]
        if let home = baseEnvironment["HOME"] { env["HOME"] = home }
        return env
    }

    /// Runs every hook in order.
    /// - Parameters:
    ///   - hooks: argv arrays; an empty one is ignored.
    ///   - event: `backup` or `drill`.
    ///   - verdict: the job's outcome, as in the type's doc.
    ///   - runner: starts the children (tests record or fake them).
    /// - Returns: one warning per hook that failed, naming it and saying how; empty when all passed.
    public func run(
        hooks: [[String]], event: String, verdict: String, reportPath: String?, backupID: String?,
        runner: any ProcessRunner
    ) async -> [String] {
        var warnings: [String] = []
        let env = environment(event: event, verdict: verdict, reportPath: reportPath, backupID: backupID)
        for argv in hooks {
            guard let executable = argv.first, !executable.isEmpty else { continue }
            let name = argv.joined(separator: " ")
            let request = ProcessRequest(
                executable: executable, arguments: Array(argv.dropFirst()), environment: env,
                outputLimit: 64 << 10, timeout: timeout)
            do {
                let outcome = try await runner.run(request)
                if outcome.timedOut {
                    warnings.append(
                        "hook [\(name)] did not finish within \(Units.humanSeconds(timeout)) and was killed")
                } else if let code = outcome.exitCode, code != 0 {
                    warnings.append("hook [\(name)] exited \(code)\(Self.lastLine(outcome))")
                } else if let signal = outcome.signal {
                    warnings.append("hook [\(name)] was killed by signal \(signal)\(Self.lastLine(outcome))")
                }
            } catch {
                warnings.append("hook [\(name)] could not start: \(error)")
            }
        }
        return warnings
    }

    /// `: <last line of stderr, else stdout>` or nothing.
    static func lastLine(_ outcome: ProcessOutcome) -> String {
        for data in [outcome.standardError, outcome.standardOutput] {
            let text = String(decoding: data, as: UTF8.self)
            if let line = text.split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
            {
                return ": " + String(line.prefix(200))
            }
        }
        return ""
    }
}
