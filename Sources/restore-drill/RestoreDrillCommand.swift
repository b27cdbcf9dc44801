import ArgumentParser
import DrillCore
import Foundation

/// The `restore-drill` executable: parses arguments, calls one library function per command,
/// renders the outcome and maps it to the exit codes of ``ExitStatus`` (docs/ARCHITECTURE.md, "Exit codes").
@main
struct RestoreDrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ToolInfo.name,
        abstract: "Back up a workspace into checksummed backup sets and prove they restore.",
        discussion: """
            Exit codes:
            \(ExitStatus.allCases.map { "  \($0.rawValue)  \($0.meaning)" }.joined(separator: "\n"))
            `health --nagios` follows the plugin convention instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
            """,
        version: ToolInfo.version,
        subcommands: commandList
    )

    /// Runs the command and exits with the code of ``ExitStatus``; argument-parser's own usage
    /// errors become 2 (its default would be 64). A closed standard output or error (`| head -1`)
    /// kills nothing: before anything runs, a write to a closed pipe is made to fail with `EPIPE`
    /// (``BrokenPipe/surviveWrites()``), and ``Terminal`` drops what it cannot write.
    static func main() async {
        BrokenPipe.surviveWrites()
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let error as RestoreDrillError {
            Terminal.error(error.description)
            Foundation.exit(error.exitStatus.rawValue)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help, --version
            }
            // argument-parser's message may start with its own "Error: "; ours adds the prefix.
            var message = fullMessage(for: error)
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            Terminal.error(message)
            Foundation.exit(ExitStatus.usage.rawValue)
        }
    }
}

/// Options every command that reads the configuration shares.
struct ConfigOption: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help:
            "Configuration file (default: $RESTORE_DRILL_CONFIG, ./restore-drill.yml, ~/.config/restore-drill/config.yml)."
    )
    var path: String?

    /// Loads the configuration and prints its notices on stderr.
    func load() throws -> RestoreDrillConfig {
        let config = try RestoreDrillConfig.locate(explicit: path)
        for notice in config.notices { Terminal.note(notice) }
        return config
    }
}

/// Writing to the terminal: results on stdout, progress and diagnostics on stderr. What a closed
/// pipe refuses (`EPIPE`) is dropped: the command goes on (Foundation's `FileHandle.write(_:)`
/// would trap on it).
enum Terminal {
    static func error(_ message: String) {
        write(Data("\(ToolInfo.name): error: \(message)\n".utf8), to: .standardError)
    }

    static func note(_ message: String) {
        write(Data("\(ToolInfo.name): \(message)\n".utf8), to: .standardError)
    }

    /// A progress callback for the stages: one line per update on stderr (`\r`-overwritten on a terminal).
    static let progress: @Sendable (String) -> Void = { line in
        if isatty(STDERR_FILENO) == 1 {
            write(Data("\r\u{1B}[K\(line)".utf8), to: .standardError)
        } else {
            write(Data("\(line)\n".utf8), to: .standardError)
        }
    }

    /// Bytes done of the total, rate and time left, `\r`-overwritten on stderr; nil (no byte
    /// progress at all) when stderr is not a terminal.
    static let byteProgress: (@Sendable (ByteProgress) -> Void)? = {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        return { (report: ByteProgress) in
            write(Data("\r\u{1B}[K\(report.line)".utf8), to: .standardError)
        }
    }()

    /// Ends a `\r` progress line on a terminal.
    static func endProgress() {
        if isatty(STDERR_FILENO) == 1 { write(Data("\r\u{1B}[K".utf8), to: .standardError) }
    }

    static func out(_ text: String) {
        write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8), to: .standardOutput)
    }

    /// Prints a versioned JSON value on stdout.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        write(try encoder.encode(value) + Data("\n".utf8), to: .standardOutput)
    }

    /// Writes `data` to `handle`, dropping it when the handle refuses it (a closed pipe, a full
    /// disk behind a redirect): the terminal is not where a command's result is kept.
    static func write(_ data: Data, to handle: FileHandle) {
        try? handle.write(contentsOf: data)
    }
}
