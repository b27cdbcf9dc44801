import DrillCore
import Foundation
import Health
import Reports

/// Quoting values from a set or the configuration for POSIX `sh` (a name in a manifest is
/// hostile: it must never leave its quotes).
public enum ShellQuote {
    /// `value` in single quotes, each `'` written as `'\''`; nil when it holds a control character
    /// (a newline among them), which no single line can give: the caller writes a comment instead.
    public static func quote(_ value: String) -> String? {
        guard !value.unicodeScalars.contains(where: isControl) else { return nil }
        return "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `value` for a comment line: every control character as `\xNN` and `\` as `\\`, so the
    /// comment stays one line and means nothing to a shell.
    public static func visible(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            if scalar == "\\" {
                out += "\\\\"
            } else if isControl(scalar) {
                out +=
                    scalar.value <= 0xFF
                    ? String(format: "\\x%02X", scalar.value) : String(format: "\\u{%04X}", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Controls, line and paragraph separators, and the invisible characters that reorder or
    /// hide text on screen (``TextSafety/isInvisibleOrControl(_:)``): a name holding one is shown
    /// escaped, never pasted as a command a person cannot read.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool { TextSafety.isInvisibleOrControl(scalar) }
}

extension Runbook {
    /// One piece of the document, rendered the same way in Markdown and HTML.
    enum Block {
        case heading(String)
        case text(String)
        case items([String])
        /// Shell lines, run in order (a fenced ```sh block).
        case commands([String])
    }

    /// The Markdown runbook: the warnings as the first headings, then the steps, every command in
    /// a fenced ```sh block in the order they are run.
    public func markdown() -> String {
        var out = ""
        for warning in warnings { out += "# \(Self.markdownText(warning))\n\n" }
        out += "# Runbook: restore \(manifest.id) on a new machine\n\n"
        for block in scrubbedBlocks() {
            switch block {
            case .heading(let text): out += "## \(Self.markdownText(text))\n\n"
            case .text(let text): out += Self.markdownText(text) + "\n\n"
            case .items(let items): out += items.map { "- \(Self.markdownText($0))\n" }.joined() + "\n"
            case .commands(let lines): out += "```sh\n" + lines.map { $0 + "\n" }.joined() + "```\n\n"
            }
        }
        return out
    }

    /// True when `data` is a runbook this tool wrote: Markdown whose first line is a runbook or
    /// warning heading and which has the `Generated … by restore-drill` line, or HTML with a
    /// runbook title. `restore-drill runbook OUT` replaces only such a file.
    public static func isRunbook(_ data: Data) -> Bool {
        let text = String(decoding: data.prefix(64 << 10), as: UTF8.self)
        if text.hasPrefix("<!DOCTYPE html>") { return text.contains("<title>Runbook: restore ") }
        let titled = text.hasPrefix("# Runbook: restore ") || text.contains("\n# Runbook: restore ")
        return text.hasPrefix("# ") && titled
            && text.range(
                of: "\nGenerated [0-9TZ:.-]+ by \(ToolInfo.name) [^ ]+ from the manifest of set ",
                options: .regularExpression)
                != nil
    }

    /// The HTML runbook: self-contained (inline style, no script), every value escaped; the
    /// warnings in a red banner first.
    public func html() -> String {
        let e: (String) -> String = HTMLText.escape
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>Runbook: restore \(e(manifest.id.description))</title>
            <style>body{font-family:sans-serif;max-width:60em;margin:2em auto}\
            pre{background:#f4f4f4;padding:.8em;overflow-x:auto}\
            .warning{background:#c00;color:#fff;padding:1em;font-size:1.3em}</style>
            </head><body>

            """
        for warning in warnings { out += "<h1 class=\"warning\">\(e(warning))</h1>\n" }
        out += "<h1>Runbook: restore \(e(manifest.id.description)) on a new machine</h1>\n"
        for block in scrubbedBlocks() {
            switch block {
            case .heading(let text): out += "<h2>\(e(text))</h2>\n"
            case .text(let text): out += "<p>\(e(text))</p>\n"
            case .items(let items): out += "<ul>\n" + items.map { "<li>\(e($0))</li>\n" }.joined() + "</ul>\n"
            case .commands(let lines):
                out += "<pre><code class=\"language-sh\">" + lines.map { e($0) + "\n" }.joined() + "</code></pre>\n"
            }
        }
        return out + "</body></html>\n"
    }

    /// ``blocks()`` with every secret the ``scrubber`` knows replaced (a password given as a
    /// command's argument in the configuration).
    func scrubbedBlocks() -> [Block] {
        guard !scrubber.isEmpty else { return blocks() }
        let s: (String) -> String = { scrubber.scrub($0) }
        return blocks().map { block in
            switch block {
            case .heading(let text): return .heading(s(text))
            case .text(let text): return .text(s(text))
            case .items(let items): return .items(items.map(s))
            case .commands(let lines): return .commands(lines.map(s))
            }
        }
    }

    /// Text for a Markdown paragraph: control characters as spaces, Markdown's punctuation escaped.
    static func markdownText(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if ShellQuote.isControl(scalar) {
                out += " "
            } else if "\\`[]<>&".unicodeScalars.contains(scalar) {
                out += "\\" + String(scalar)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `value` quoted for sh, or nil (the caller then writes ``commentLine(_:_:)``).
    func q(_ value: String) -> String? { ShellQuote.quote(value) }

    /// A comment saying `what` cannot be given on one line, with the value made visible.
    func commentLine(_ what: String, _ value: String) -> String {
        "# \(what) holds a control character (a newline?) or leaves its folder (..), not given to a command: "
            + ShellQuote.visible(value)
    }

    /// `"$HOME"/'<relative>'` for a path relative to the new home; nil when it cannot be quoted or
    /// is not below the home (absolute, or a `..` component): such a path comes from a forged
    /// manifest and is never given to a command.
    func homePath(_ relative: String) -> String? {
        guard Self.staysBelow(relative) else { return nil }
        return q(relative).map { "\"$HOME\"/\($0)" }
    }

    /// True when `relative` is not absolute and has no `..` component.
    static func staysBelow(_ relative: String) -> Bool {
        !relative.hasPrefix("/") && !relative.split(separator: "/").contains("..")
    }

    /// The new root: `"$HOME"/'<root relative to the old home>'`, or the old absolute root quoted
    /// when it was not under the old home.
    var rootArgument: String? {
        let home = manifest.home.hasSuffix("/") ? manifest.home : manifest.home + "/"
        if manifest.root.hasPrefix(home) { return homePath(String(manifest.root.dropFirst(home.count))) }
        return q(manifest.root)
    }

    /// Where the set is fetched to, relative to the current folder.
    var setFolder: String { "./restore-set/\(manifest.id)" }

    static func seconds(_ value: Double) -> String { Units.humanSeconds(value) }

    func blocks() -> [Block] {
        var out: [Block] = []
        let id = manifest.id.description
        out.append(
            .text(
                "Generated \(Timestamp.string(generatedAt)) by \(ToolInfo.name) \(ToolInfo.version) from the manifest "
                    + "of set \(id) (made \(manifest.finishedAt) on \(manifest.host), format "
                    + "\(manifest.formatVersion)), the configuration and this machine's drill reports. Run the commands in order, "
                    + "in one new empty folder on the new machine."))
        out.append(.heading("Proven by"))
        if let pass = newestPass {
            let rto = pass.rtoSeconds.map(Self.seconds) ?? "not recorded"
            out.append(
                .text(
                    "The newest passing drill of this set: \(pass.drillID) on \(Timestamp.string(pass.finishedAt)), "
                        + "measured RTO \(rto) (objective \(Self.seconds(rtoObjective))), of these exact manifest "
                        + "bytes (report \(pass.folder))."))
            out.append(.text("Tools it passed with:"))
            out.append(.items(toolItems))
        } else {
            out.append(
                .text(
                    "No drill of this set (with this manifest) that this machine reported has passed. Drill it "
                        + "(restore-drill drill \(id)) before relying on it."))
        }
        if let last = newestDrill, !last.passed {
            out.append(
                .text(
                    "Newest drill: \(last.drillID) on \(Timestamp.string(last.finishedAt)): FAILED"
                        + (last.failedChecks.isEmpty ? "" : " (checks \(last.failedChecks.joined(separator: ", ")))")
                        + "; its report: \(last.folder)."))
        }
        out += getTheSet()
        out += checkTheCopy()
        out += password()
        out += tools()
        out += restoreCommand()
        out += dependencies()
        out += launchAgents()
        out += checks()
        return out
    }

    /// The newest passing drill's tools, one `key: version` item each in ``ToolsRecord/keys``
    /// order.
    var toolItems: [String] {
        guard let pass = newestPass else { return ["none: no drill of this set has passed"] }
        guard let tools = pass.tools, !tools.isEmpty else { return [ToolsRecord.notRecorded] }
        return ToolsRecord.keys.compactMap { key in tools[key].map { "\(key): \($0)" } }
    }

    func getTheSet() -> [Block] {
        let id = manifest.id.description
        var out: [Block] = [.heading("1. Get the set")]
        let objects = manifest.storesObjects
        out.append(
            .text(
                "From the destination folder (the synced folder, once it has synced on this machine; change the "
                    + "path if it syncs elsewhere here): the set folder\(objects ? " and the objects it reads (format 2)" : "")."
            ))
        let setSource = q((destination as NSString).appendingPathComponent(id))
        let objectSource = q((destination as NSString).appendingPathComponent("objects"))
        var lines = ["mkdir -p ./restore-set"]
        if let setSource {
            lines.append("cp -RL \(setSource) \(setFolder)")
        } else {
            lines.append(commentLine("the destination's path", destination))
        }
        if objects {
            lines.append(
                objectSource.map { "cp -RL \($0) ./restore-set/objects" } ?? commentLine("objects", destination))
        }
        out.append(.commands(lines))
        for remote in remotes {
            out.append(
                .text(
                    "Or, from the off-site remote \(remote.name) (run instead of the block above). rclone reads its "
                        + "configuration from RCLONE_CONFIG and its password from RCLONE_CONFIG_PASS: take both "
                        + "from your password manager."))
            let root =
                remote.rclone.hasSuffix(":") || remote.rclone.hasSuffix("/") ? remote.rclone : remote.rclone + "/"
            var lines = ["mkdir -p ./restore-set"]
            if let from = q(root + id) {
                lines.append("rclone copy \(from) \(setFolder)")
                if objects, let o = q(root + "objects") { lines.append("rclone copy \(o) ./restore-set/objects") }
            } else {
                lines.append(commentLine("the remote's path", remote.rclone))
            }
            out.append(.commands(lines))
        }
        return out
    }

    /// A line that stops a runbook followed with `sh -e` (a subshell exits 1) and only prints
    /// `message` when pasted into an interactive shell (which a bare `exit` would close).
    static func stopLine(_ message: String) -> String {
        "(echo \(ShellQuote.quote(message + ": stop here") ?? "'stop here'") >&2; exit 1)"
    }

    /// The portable SHA-256 check of the list file `list` (`sha256sum -c`, else `shasum -a 256 -c`).
    static func checkLine(_ list: String) -> String {
        "if command -v sha256sum >/dev/null; then sha256sum -c \(list); else shasum -a 256 -c \(list); fi"
    }

    /// Step 2: the fetched copy is the set this runbook was made for, before it is given the
    /// password: the manifest, the checksum list and the restore script must have the digests
    /// pinned here, and every file and object the list names its own digest.
    func checkTheCopy() -> [Block] {
        var out: [Block] = [.heading("2. Check the copy")]
        guard !pins.isEmpty, let script = q(manifest.restoreScript) else {
            out.append(
                .text(
                    "When this runbook was made, \(pinProblem ?? "the set's files could not be read"): there is "
                        + "nothing to check the copy against. Do not give it the password."))
            out.append(.commands([Self.stopLine("this copy cannot be checked against its manifest")]))
            return out
        }
        out.append(
            .text(
                "Before the copy gets the vault password, check it is the set this runbook was made for. Every line "
                    + "must say OK: a line saying FAILED means the copy is not that set (damaged, or replaced by "
                    + "someone who could write to the folder); stop and do not run its script."))
        var lines: [String] = []
        let pinned = pins.map { pin -> String in
            let name = pin.name == manifest.restoreScript ? script : (q(pin.name) ?? pin.name)
            return "'\(pin.sha256)' \(setFolder)/\(name)"
        }
        // Links would make the check read one file and the restore another (cp -RL copies none;
        // a copy fetched some other way may hold them).
        lines.append(
            "(test -z \"$(find ./restore-set -type l)\" || { echo 'the copy holds symbolic links: stop here' >&2; "
                + "exit 1; })")
        lines.append("printf '%s  %s\\n' " + pinned.joined(separator: " ") + " > ./restore-set/pinned.sha256")
        lines.append(Self.checkLine("./restore-set/pinned.sha256"))
        lines.append("(cd \(setFolder) && \(Self.checkLine(Manifest.checksumListFileName)))")
        if manifest.vault != nil { lines.append("rm -f ./vault-password") }
        out.append(.commands(lines))
        return out
    }

    func password() -> [Block] {
        var out: [Block] = [.heading("3. The vault password")]
        guard manifest.vault != nil else {
            out.append(.text("This set holds no credentials vault: the restore needs no password."))
            return out
        }
        out.append(
            .text(
                "The restore reads the vault password from a file only you can read (mode 0600). The secret is not "
                    + "in this runbook; its configured source:"))
        var lines: [String] = []
        switch passwordSource {
        case .environment(let name):
            out.append(
                .text(
                    "The environment variable \(name). Take the password from your password manager and set "
                        + "\(name) in this shell (not in a file), then:"))
            if name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil {
                lines.append(": \"${\(name):?set \(name) to the vault password first}\"")
                lines.append("(umask 077 && printf '%s' \"$\(name)\" > ./vault-password)")
            } else {
                lines.append("# the variable's name is not a shell name: " + ShellQuote.visible(name))
            }
        case .file(let path):
            out.append(
                .text(
                    "The file \(path) of the lost machine, which is gone with it. Put your copy of that file (from "
                        + "your password manager) on this machine, set RD_PASSWORD_COPY to its path, then:"))
            lines.append(
                ": \"${RD_PASSWORD_COPY:?set RD_PASSWORD_COPY to the path of your copy of the password file}\"")
            lines.append("(umask 077 && cat \"$RD_PASSWORD_COPY\" > ./vault-password)")
        case .command(let argv):
            out.append(
                .text("The command \(argv.joined(separator: " ")) (on macOS the keychain; restore it first)."))
            let quoted = argv.map(q)
            if quoted.allSatisfy({ $0 != nil }) {
                lines.append("(umask 077 && \(quoted.compactMap { $0 }.joined(separator: " ")) > ./vault-password)")
            } else {
                lines.append(commentLine("the command", argv.joined(separator: " ")))
            }
        case nil:
            out.append(.text("No source is configured: write the password from your password manager by hand."))
            lines.append("(umask 077 && touch ./vault-password)")
            lines.append("# now put the password (one line) into ./vault-password with an editor")
        }
        lines.append("chmod 600 ./vault-password")
        lines.append("(test -s ./vault-password || { echo 'vault-password is empty: stop here' >&2; exit 1; })")
        // The password is checked on the vault before the restore writes anything (a wrong one
        // would fail only after the code and databases are in place).
        if let vault = manifest.vault,
            let record = manifest.artifacts.first(where: { $0.path == vault.artifact }),
            let stored = manifest.storedPath(of: record), let path = q(stored)
        {
            lines.append(
                "(umask 077 && openssl enc -d -aes-256-cbc -pbkdf2 -iter \(vault.iterations) -md sha256 "
                    + "-pass file:./vault-password -in \(setFolder)/\(path) -out /dev/null) || "
                    + Self.stopLine("the vault password is wrong, or this openssl lacks -pbkdf2 (see step 4)"))
        }
        out.append(.commands(lines))
        return out
    }

    func tools() -> [Block] {
        [
            .heading("4. Tools"),
            .text(
                "The restore needs: sh, tar that reads pax archives (GNU tar or bsdtar), gzip, openssl with -pbkdf2 "
                    + "and -iter (OpenSSL 1.1.1 or later, or LibreSSL 3.x), and sha256sum or shasum (the copy's check needs one of these two). The "
                    + "checks use sqlite3. The restore script checks its tools before it writes anything and names "
                    + "what to install. The newest passing drill used:"),
            .items(toolItems),
            .commands([
                "for tool in sh tar gzip openssl sqlite3; do command -v \"$tool\" >/dev/null || echo \"missing: $tool\"; done"
            ]),
        ]
    }

    func restoreCommand() -> [Block] {
        var out: [Block] = [.heading("5. Restore")]
        out.append(
            .text(
                "The set's own restore script restores the code, databases, LaunchAgents, shell files and "
                    + "credentials into the new home. A new machine's home is never empty, so the command has "
                    + "--force: files of the same names are replaced by the set's, nothing else is touched. Do not "
                    + "run it on a machine whose home holds work you need under the same names."))
        var line: String
        if pins.isEmpty {
            line = "# withheld: this copy cannot be checked against its manifest (see the warning at the top)"
        } else if let script = q(manifest.restoreScript), let root = rootArgument {
            line = "sh \(setFolder)/\(script) --home \"$HOME\" --root \(root)"
            if manifest.vault != nil { line += " --password-file ./vault-password" }
            line += " --yes --force"
        } else {
            line = commentLine("the script name or root", manifest.restoreScript + " " + manifest.root)
        }
        out.append(.commands([line]))
        return out
    }

    func dependencies() -> [Block] {
        var out: [Block] = [.heading("6. Dependencies")]
        guard !lists.isEmpty else {
            out.append(.text("This set holds no dependency lists."))
            return out
        }
        var lines: [String] = []
        for list in lists {
            let path = "\(setFolder)/\(list.storedPath)"
            switch list.kind {
            case "python":
                guard list.bytes != nil else {
                    lines.append("# the python list could not be read or does not match the manifest: not installed")
                    continue
                }
                lines.append(q(path).map { "pip3 install -r \($0)" } ?? commentLine("the python list", path))
            case "homebrew":
                guard let bytes = list.bytes else {
                    lines.append("# the homebrew list could not be read or does not match the manifest")
                    continue
                }
                for raw in TextLines.split(String(decoding: bytes, as: UTF8.self)) {
                    let name = raw.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
                    if Self.isFormulaName(name), let quoted = q(name) {
                        lines.append("brew install \(quoted)")
                    } else {
                        lines.append("# not a formula name, not installed: " + ShellQuote.visible(String(raw)))
                    }
                }
            default:
                lines.append("# list \(ShellQuote.visible(list.kind)): \(ShellQuote.visible(path))")
            }
        }
        out.append(.commands(lines))
        return out
    }

    /// A Homebrew formula name as `brew list --versions` prints it: letters, digits and `@+._-`,
    /// never a tap path (`user/tap/name` would install from a tap the list never named).
    static func isFormulaName(_ name: String) -> Bool {
        name.range(of: "^[A-Za-z0-9][A-Za-z0-9@+._-]*$", options: .regularExpression) != nil
    }

    func launchAgents() -> [Block] {
        var out: [Block] = [.heading("7. LaunchAgents")]
        guard !manifest.launchAgents.isEmpty else {
            out.append(.text("This set holds no LaunchAgents. (The set never holds systemd units.)"))
            return out
        }
        out.append(
            .text(
                "macOS: load each restored agent. The set never holds systemd units; on Linux there is nothing to "
                    + "load."))
        out.append(
            .commands(
                manifest.launchAgents.map { agent in
                    homePath(agent.path).map { "launchctl bootstrap gui/\"$(id -u)\" \($0)" }
                        ?? commentLine("the agent's path", agent.path)
                }))
        return out
    }

    func checks() -> [Block] {
        var out: [Block] = [.heading("8. Check the result")]
        out.append(
            .text(
                "Drill the fetched copy (when restore-drill is installed on this machine), check each restored "
                    + "database (each line must say ok; a DAMAGED line stops here), check the set's checksums "
                    + "again, and remove the password file."))
        var lines: [String] = []
        lines.append(
            "if command -v restore-drill >/dev/null; then restore-drill drill --set \(setFolder)"
                + (manifest.vault != nil ? " --password-file ./vault-password" : "")
                + "; else echo 'restore-drill is not installed: drill skipped'; fi")
        let homePrefix = manifest.home.hasSuffix("/") ? manifest.home : manifest.home + "/"
        let rootRelative: String? =
            manifest.root.hasPrefix(homePrefix) ? String(manifest.root.dropFirst(homePrefix.count)) : nil
        for db in manifest.databases {
            let target: String?
            switch db.base {
            case .home: target = homePath(db.path)
            case .root:
                if let rootRelative {
                    target = homePath(rootRelative + "/" + db.path)
                } else {
                    target =
                        Self.staysBelow(db.path) ? q((manifest.root as NSString).appendingPathComponent(db.path)) : nil
                }
            }
            lines.append(
                target.map {
                    "if ! command -v sqlite3 >/dev/null; then echo 'sqlite3 is not installed: check skipped'; "
                        + "elif sqlite3 \($0) 'PRAGMA integrity_check' | grep -qx ok; then echo ok: \($0); "
                        + "else echo DAMAGED: \($0); false; fi"
                } ?? commentLine("the database's path", db.path))
        }
        lines.append("(cd \(setFolder) && \(Self.checkLine(Manifest.checksumListFileName)))")
        out.append(.commands(lines))
        return out
    }
}
