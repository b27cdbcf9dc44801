import DrillCore
import Foundation

/// The restore script `restore_<name>.sh` of a set (docs/SET-FORMAT.md, "The restore script contract").
///
/// Its shared text (header, argument handling, the `rd_*` functions) is the template
/// `restore-script/restore.sh` beside this file, checked by `shellcheck` in the tests and compiled
/// in at build time (``template``); ``render(_:)`` fills in its placeholders and appends the
/// per-set steps.
///
/// POSIX `sh` (tested with dash, `bash --posix` and `zsh`, which runs it under `emulate sh`), using
/// only `tar` (GNU or bsdtar), `gzip`, `sed` (never `-i`), `cat`, `mkdir`, `chmod`, `mv`, `rm`, and
/// `openssl dgst -sha256 -r` when present, else `sha256sum`, else `shasum -a 256`; `igzip` or
/// `pigz` read the code archive when one is installed (faster than tar's gzip).
///
/// Steps: (1) every `SHA256SUMS` line is checked (two hashing processes, one per half), naming
/// the first mismatch; (2) a non-empty `--home` or `--root` is refused without `--force`; (3)
/// `code.tar.gz` is extracted into the root by a background `tar` while steps (4) to (6) run, and
/// waited for before (7); (4) each database is reassembled from the chunk list embedded here (in
/// that order, never a glob) into a temporary file next to its target, checked against its SHA-256
/// when it came in chunks (one piece is the artifact step (1) checked),
/// then moved into place; (5) LaunchAgents are written to `$HOME/<path>` with the old root and home
/// rewritten by ``PathRewrite``'s rule in `sed`; (6) shell files; (7) credentials: with
/// `--password-file F` (or `--password-fd N`, an open descriptor such as the pipe a drill hands
/// it), `openssl enc -d -aes-256-cbc -pbkdf2 -iter N -md sha256 -pass file:F` (or `fd:N`)
/// decrypts the vault into a private folder inside the root (started in the background right
/// after the extraction of (3) starts, so its PBKDF2 derivation runs beside (3) to (6); the step
/// waits for it), tar unpacks it there, and each file
/// is moved into place with mode 0600 (a wrong password says so and exits 1); without a password
/// the step is skipped with a message (the vault's HMAC is the verifier's job: checking it here
/// would put the key on a command line); (8) the dependency lists to reinstall are printed. Any failure prints
/// `restore: FAILED: <what>: <why>` on stderr and exits 1. Temporary files live only inside the
/// targets and are removed on exit.
///
/// File names (issue 12): the archive holds names as bytes (pax `hdrcharset=BINARY`), which GNU tar
/// and bsdtar extract unchanged. A name the target file system refuses (macOS takes only UTF-8:
/// `EILSEQ`) stops only that path: the script names it (as tar escapes it), goes on with every
/// other step, and fails at the very end saying how many were not restored. When the archive holds
/// names that differ only by Unicode normalisation, the script warns on macOS that only the one
/// extracted last of each group is there (``FileNameBytes/normalisationTwins(_:)``).
///
/// Format 2 (``Manifest/storesObjects``): every artifact but the script is an object,
/// `<objects>/<ab>/<sha256>`, read from `--objects DIR` or, by default, `objects/` beside the set
/// folder. The template's block placeholders take the option, and the functions of
/// `restore-script/restore-objects.sh` (``objectsTemplate``) follow it: step (1) accepts only
/// `../objects/<ab>/<its own sum>` or a plain name of the set and names the artifacts of a missing
/// or damaged object; (3) extracts the packs in manifest order in one background job; (4) joins
/// gzip-compressed pieces with one `gzip -dc` per 200 objects and always checks the whole
/// database's SHA-256. A format-1 script is what it was before format 2 (its blocks are empty) but
/// for issue 19's tool check and tools record, which both formats got (docs/SET-FORMAT.md, "The
/// restore script contract"); older sets keep the scripts they were written with.
///
/// Tools (issue 19): before anything is read or written, `rd_record_tools` writes what the script
/// runs with to the file `RESTORE_DRILL_TOOLS` names (``ToolsRecord``), and `rd_check_tools` stops
/// with `restore: FAILED: tools: …` naming each missing or old tool and what to install: a tar that
/// lists ``PaxProbe``'s archive by its pax name, a SHA-256 tool, gzip, and for a vault with a
/// password an `openssl enc` that knows `-pbkdf2` and `-iter`.
///
/// Subsets (issue 17, ``Manifest/restoresSubsets``): the script also takes `--list-parts` (the
/// parts of ``Manifest/restoreParts()``, one a line, `N<TAB>kind<TAB>name`) and `--only N,M,…`,
/// which restores just those parts, requiring and hashing only their objects in step (1) (every
/// line's shape is still checked) and running each step only for a chosen part (`rd_part N && …`).
public enum RestoreScript {
    /// Renders the script for `manifest`, format 1 or 2 (``Manifest/storesObjects``). Everything the
    /// script restores comes from the manifest's `databases`, `launchAgents` and `files` (component
    /// `shell`), and `artifacts` (kinds `list`, `pack`); in format 2 each artifact is read from its
    /// object (``Manifest/objectDigest(of:)``).
    /// - Returns: the script text (UTF-8), to be stored with mode 0700 (``SetPermissions``).
    public static func render(_ manifest: Manifest) -> String {
        manifest.storesObjects ? renderObjects(manifest) : renderFiles(manifest)
    }

    /// Format 1: every artifact is a file of the set folder, read by its path.
    static func renderFiles(_ manifest: Manifest) -> String {
        var s = ShellTemplate.render(template, values: templateValues(manifest))
        s += "\n# (1) every artifact listed in SHA256SUMS\n"
        s +=
            "rd_verify_sums \(manifest.artifacts.count + (manifest.artifact(manifest.restoreScript) == nil ? 1 : 0)) "
            + "\(sumsSplit(manifest.artifacts.map(\.size)))\n"
        s += "rd_confirm\n"
        s += "rd_prepare_targets\n"
        s += "\n# (3) code\n"
        if manifest.artifact("code.tar.gz") != nil {
            s += "rd_extract_code 'code.tar.gz'\n"
        } else {
            s += "rd_say \"code: not in this set\"\n"
        }
        if let vault = vaultToOpen(manifest) {
            s += "# (7) the vault's decryption starts here, beside (3) to (6)\n"
            s += "rd_credentials_start \(q(vault.artifact)) \(max(1, vault.iterations))\n"
        }
        s += "\n# (4) databases: pieces in the listed order\n"
        for db in manifest.databases {
            let pieces = db.chunks.isEmpty ? [db.artifact ?? ""] : db.chunks
            let base = db.base == .home ? "home" : "root"
            s += "rd_restore_db \(base) \(q(db.path)) \(q(db.sha256)) \(octal(db.mode))"
            s += pieces.map { " \\\n    " + q($0) }.joined() + "\n"
        }
        if manifest.databases.isEmpty { s += "rd_say \"databases: none in this set\"\n" }
        s += "\n# (5) LaunchAgents, old root and home rewritten at path boundaries\n"
        for agent in manifest.launchAgents {
            s += rewriteSteps(agent, manifest)
            s += "rd_restore_agent \(q(agent.artifact)) \(q(agent.path)) \(octal(agent.mode))\n"
        }
        if manifest.launchAgents.isEmpty { s += "rd_say \"launchagents: none in this set\"\n" }
        s += "\n# (6) shell files\n"
        // Each shell file names its artifact (older sets: paired by position, see the manifest).
        let shellFiles = manifest.shellFileArtifacts()
        for (file, artifact) in shellFiles {
            guard let artifact else { continue }
            s += "rd_restore_file \(q(artifact)) \(q(file.path)) \(octal(file.mode))\n"
        }
        if shellFiles.isEmpty { s += "rd_say \"shell: none in this set\"\n" }
        if manifest.artifact("code.tar.gz") != nil {
            s += "\n# (3) the code archive, extracted beside (4) to (6)\nrd_extract_wait\n" + twinsLine(manifest)
        }
        s += sidecarSteps(manifest)
        s += "\n# (7) credentials: decrypted with the openssl CLI only when --password-file or --password-fd is given\n"
        s += credentialsStep(manifest)
        s += "\n# (8) dependencies: printed, not installed\n"
        let lists = manifest.artifacts.filter { $0.kind == .list }
        for list in lists {
            switch list.path {
            case "dependencies/python.txt":
                s += "rd_say \"dependencies: Python packages: pip3 install -r '$RD_SET/\(list.path)'\"\n"
            case "dependencies/homebrew.txt":
                s +=
                    "rd_say \"dependencies: Homebrew formulae: brew install \\$(cut -d' ' -f1 '$RD_SET/\(list.path)')\"\n"
            default:
                s += "rd_say \"dependencies: see $RD_SET/\(list.path)\"\n"
            }
        }
        if lists.isEmpty { s += "rd_say \"dependencies: no lists in this set\"\n" }
        s += "\nrd_finish\n"
        return s
    }

    /// Format 2: every artifact but the script is a shared object, read from the objects folder
    /// (`--objects DIR`, default `objects/` beside the set folder) by its digest; the template's
    /// format-2 functions (`restore-script/restore-objects.sh`) follow the template.
    static func renderObjects(_ manifest: Manifest) -> String {
        var s = ShellTemplate.render(template, values: templateValues(manifest))
        s += objectsTemplate
        // Issue 17: with `script_takes_only`, each step runs only for a part --only chose
        // (`rd_part N && …`); without --only every part is restored as before.
        let parts = manifest.restoresSubsets ? manifest.restoreParts() : []
        let partNumbers = Dictionary(parts.map { ($0.key, $0.number) }, uniquingKeysWith: { first, _ in first })
        /// `rd_part N && ` for the part `kind:name`, or nothing (no subsets, or no such part).
        func only(_ kind: RestorePart.Kind, _ name: String) -> String {
            partNumbers["\(kind.rawValue):\(name)"].map { "rd_part \($0) && " } ?? ""
        }
        let byPath = Dictionary(manifest.artifacts.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        /// The object of the artifact at `path`; nil when there is none (the script fails first).
        func object(_ path: String) -> (record: ArtifactRecord, hex: String)? {
            guard let record = byPath[path], let digest = manifest.objectDigest(of: record) else { return nil }
            return (record, digest.hex)
        }
        let refs = manifest.objectRefs()
        s += "\n# The artifacts each object holds (named in messages).\nrd_object_names() {\n    case $1 in\n"
        var names: [ObjectDigest: [String]] = [:]
        for artifact in manifest.artifacts {
            if let digest = manifest.objectDigest(of: artifact) { names[digest, default: []].append(artifact.path) }
        }
        for ref in refs {
            s +=
                "        \(ref.digest.hex)) printf '%s\\n' \(q(names[ref.digest, default: []].joined(separator: ", "))) ;;\n"
        }
        s += "        *) printf '%s\\n' 'SHA256SUMS' ;;\n    esac\n}\n"
        if manifest.restoresSubsets {
            s += "\n# The objects each part reads (--only): RD_PO, their SHA-256s separated by spaces.\n"
            s += "rd_part_objects() {\n    case $1 in\n"
            for part in parts {
                var seen = Set<String>()
                let hexes = part.artifacts.compactMap { object($0)?.hex }.filter { seen.insert($0).inserted }
                s += "        \(part.number)) RD_PO='\(hexes.joined(separator: " "))' ;;\n"
            }
            s += "        *) RD_PO= ;;\n    esac\n}\n"
        }

        // What the steps read, in the order they read it: a path that names no object stops the
        // restore before anything is read (only a damaged or forged manifest has one).
        let packs = manifest.artifacts.filter { $0.kind == .pack }
        let vault = vaultToOpen(manifest)
        var read = packs.map(\.path)
        for db in manifest.databases { read += db.chunks.isEmpty ? [db.artifact ?? ""] : db.chunks }
        read += manifest.launchAgents.map(\.artifact)
        read += manifest.shellFileArtifacts().compactMap(\.artifact)
        read += vault.map { [$0.artifact] } ?? []
        read += manifest.artifacts.filter { $0.kind == .list }.map(\.path)
        var unknown = Set<String>()
        for path in read where object(path) == nil && unknown.insert(path).inserted {
            let why =
                byPath[path] == nil
                ? "not an artifact of this set" : "its SHA-256 is not 64 lowercase hex, so it names no object"
            s += "rd_fail \(q("\(path): \(why)"))\n"
        }

        if manifest.restoresSubsets {
            s += "\n# --only: the chosen parts, checked before anything is read\n"
            s += "rd_select_parts \(parts.count)\n"
        }
        s += "\n# (1) every object and file listed in SHA256SUMS\n"
        let plain = manifest.artifacts.filter { !manifest.isObject($0) }
        let expected = refs.count + plain.count + (manifest.artifact(manifest.restoreScript) == nil ? 1 : 0)
        s += "rd_verify_objects \(expected) \(sumsSplit(refs.map(\.size)))\n"
        s += "rd_confirm\n"
        s += "rd_prepare_targets\n"
        s += "\n# (3) code: the packs in the listed order\n"
        if packs.isEmpty {
            s += "rd_say \"code: not in this set\"\n"
        } else if manifest.restoresSubsets {
            s += "rd_extract_part_packs"
            s +=
                packs.map {
                    " \\\n    \(partNumbers["pack:\($0.path)"] ?? 0) \(q($0.path)) \(object($0.path)?.hex ?? "")"
                }.joined() + "\n"
        } else {
            s += "rd_extract_packs"
            s += packs.map { " \\\n    \(q($0.path)) \(object($0.path)?.hex ?? "")" }.joined() + "\n"
        }
        if let vault {
            s += "# (7) the vault's decryption starts here, beside (3) to (6)\n"
            s +=
                only(.vault, vault.artifact)
                + "rd_vault_object_start \(q(vault.artifact)) \(object(vault.artifact)?.hex ?? "") "
            s += "\(max(1, vault.iterations))\n"
        }
        s += "\n# (4) databases: pieces in the listed order, the whole file's SHA-256 checked\n"
        for db in manifest.databases {
            let pieces = db.chunks.isEmpty ? [db.artifact ?? ""] : db.chunks
            s +=
                only(.database, db.path)
                + "rd_restore_db_objects \(db.base == .home ? "home" : "root") \(q(db.path)) \(q(db.sha256)) "
            s += octal(db.mode)
            var tool = ""
            for piece in pieces {
                let found = object(piece)
                let pieceTool = found?.record.compression == .gzip ? "gzip" : "plain"
                s += " \\\n    " + (pieceTool == tool ? "" : pieceTool + " ") + (found?.hex ?? "")
                tool = pieceTool
            }
            s += "\n"
        }
        if manifest.databases.isEmpty { s += "rd_say \"databases: none in this set\"\n" }
        s += "\n# (5) LaunchAgents, old root and home rewritten at path boundaries\n"
        for agent in manifest.launchAgents {
            s += rewriteSteps(agent, manifest)
            s +=
                only(.launchAgent, agent.path)
                + "rd_restore_agent_object \(q(agent.artifact)) \(object(agent.artifact)?.hex ?? "") "
            s += "\(q(agent.path)) \(octal(agent.mode))\n"
        }
        if manifest.launchAgents.isEmpty { s += "rd_say \"launchagents: none in this set\"\n" }
        s += "\n# (6) shell files\n"
        let shellFiles = manifest.shellFileArtifacts()
        for (file, artifact) in shellFiles {
            guard let artifact else { continue }
            s += only(.shellFile, file.path) + "rd_restore_file_object \(q(artifact)) \(object(artifact)?.hex ?? "") "
            s += "\(q(file.path)) \(octal(file.mode))\n"
        }
        if shellFiles.isEmpty { s += "rd_say \"shell: none in this set\"\n" }
        if !packs.isEmpty {
            s += "\n# (3) the code packs, extracted beside (4) to (6)\nrd_packs_wait\n" + twinsLine(manifest)
        }
        s += sidecarSteps(manifest, only: { only(.database, $0.path) })
        s += "\n# (7) credentials: decrypted with the openssl CLI only when --password-file or --password-fd is given\n"
        if let vault {
            let files = manifest.files.filter { $0.component == .credentials && $0.type == .file }
            s +=
                "if " + only(.vault, vault.artifact)
                + "rd_vault_object_open \(q(vault.artifact)) \(object(vault.artifact)?.hex ?? "") "
            s += "\(max(1, vault.iterations)); then\n"
            for file in files {
                s += "    rd_restore_credential \(file.base == .home ? "home" : "root") \(q(file.path))\n"
            }
            s += "    rd_credentials_close \(files.count)\n"
            s += "fi\n"
        } else {
            s += credentialsStep(manifest)
        }
        s += "\n# (8) dependencies: printed, not installed\n"
        let lists = manifest.artifacts.filter { $0.kind == .list }
        for list in lists {
            let hex = object(list.path)?.hex ?? ""
            let stored = "$RD_OBJECTS/\(hex.prefix(2))/\(hex)"
            s += only(.list, list.path)
            switch list.path {
            case "dependencies/python.txt":
                s += "rd_say \"dependencies: Python packages: pip3 install -r '\(stored)'\"\n"
            case "dependencies/homebrew.txt":
                s += "rd_say \"dependencies: Homebrew formulae: brew install \\$(cut -d' ' -f1 '\(stored)')\"\n"
            default:
                s += "rd_say \"dependencies: see \(stored) (\(list.path))\"\n"
            }
        }
        if lists.isEmpty { s += "rd_say \"dependencies: no lists in this set\"\n" }
        s += manifest.restoresSubsets ? "\nrd_finish_parts \(parts.count)\n" : "\nrd_finish\n"
        return s
    }

    /// Step (5)'s rewrite for `agent`: `RD_SED` emptied, then one `rd_add_old` per old prefix (the
    /// old root, the old home; at most 8) and one `rd_add_new` per marker.
    static func rewriteSteps(_ agent: LaunchAgentRecord, _ manifest: Manifest) -> String {
        var s = "RD_SED=\n"
        var markers: [(String, String)] = []
        for old in agent.rewritePrefixes {
            let newVariable: String
            if old == manifest.root {
                newVariable = "$RD_ROOT_SED"
            } else if old == manifest.home {
                newVariable = "$RD_HOME_SED"
            } else {
                continue
            }
            guard markers.count < 8, let pattern = sedPattern(old) else { continue }
            let marker = "$RD_M\(markers.count + 1)"
            markers.append((marker, newVariable))
            s += "rd_add_old \(q(pattern)) \"\(marker)\"\n"
        }
        for (marker, newVariable) in markers { s += "rd_add_new \"\(marker)\" \"\(newVariable)\"\n" }
        return s
    }

    /// After the code's extraction: `rd_normalisation_twins N` when N groups of the code's names
    /// differ only by Unicode normalisation (the script warns on macOS), else nothing.
    static func twinsLine(_ manifest: Manifest) -> String {
        let twins = FileNameBytes.normalisationTwins(
            manifest.files.filter { $0.component == .code && $0.base == .root }.map(\.path))
        return twins.isEmpty ? "" : "rd_normalisation_twins \(twins.count)\n"
    }

    /// Step (4) again, once the code is extracted: `rd_db_sidecars` for each database (sidecars
    /// that are not the backup's go aside); nothing without databases.
    /// `only` gives each database's guard (format 2 with `--only`: `rd_part N && `).
    static func sidecarSteps(_ manifest: Manifest, only: (DatabaseRecord) -> String = { _ in "" }) -> String {
        guard !manifest.databases.isEmpty else { return "" }
        var s = "\n# (4) again: sidecars beside a restored database that are not the backup's go aside\n"
        for db in manifest.databases {
            s += only(db) + "rd_db_sidecars \(db.base == .home ? "home" : "root") \(q(db.path))\n"
        }
        return s
    }

    /// Step (7): with a vault, `rd_credentials_open` decrypts it (skipping, with a message, when no
    /// `--password-file` was given) and one `rd_restore_credential` per credential file moves it
    /// into place with mode 0600; without a vault, a message.
    static func credentialsStep(_ manifest: Manifest) -> String {
        let files = manifest.files.filter { $0.component == .credentials && $0.type == .file }
        guard let vault = vaultToOpen(manifest) else {
            var s = "rd_say \"credentials: skipped (no vault in this set)\"\n"
            s += "if [ -n \"$RD_PASS\" ]; then rd_say \"credentials: --password-file not used\"; fi\n"
            return s
        }
        var s = "if rd_credentials_open \(q(vault.artifact)) \(max(1, vault.iterations)); then\n"
        for file in files {
            s += "    rd_restore_credential \(file.base == .home ? "home" : "root") \(q(file.path))\n"
        }
        s += "    rd_credentials_close \(files.count)\n"
        s += "fi\n"
        return s
    }

    /// The vault step (7) opens: the manifest's, when it is an artifact of the set and holds files.
    static func vaultToOpen(_ manifest: Manifest) -> VaultRecord? {
        guard let vault = manifest.vault, manifest.artifact(vault.artifact) != nil,
            manifest.files.contains(where: { $0.component == .credentials && $0.type == .file })
        else { return nil }
        return vault
    }

    /// Where step (1) cuts the `SHA256SUMS` list in two for two hashing processes: the number of
    /// leading artifacts whose bytes come closest to half of all (0 when there are fewer than 2).
    /// The lines of `SHA256SUMS` are the manifest's artifacts in order (the script's own last).
    static func sumsSplit(_ sizes: [Int64]) -> Int {
        guard sizes.count >= 2 else { return 0 }
        let total = sizes.reduce(0, +)
        var best = 1
        var bestGap = Int64.max
        var running: Int64 = 0
        for (i, size) in sizes.enumerated().dropLast() {
            running += size
            let gap = abs(total - 2 * running)
            if gap < bestGap {
                bestGap = gap
                best = i + 1
            }
        }
        return best
    }

    /// `text` as one single-quoted sh word.
    static func q(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func octal(_ mode: Int) -> String { String(mode & 0o7777, radix: 8) }

    /// The BRE that matches `prefix` as it appears in XML text (`&`, `<`, `>` escaped), or nil when
    /// the prefix holds a control character (which XML text cannot hold, so it never matches).
    static func sedPattern(_ prefix: String) -> String? {
        guard !prefix.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return nil }
        let xml = prefix.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        var out = ""
        for c in xml {
            if "\\.[*^$".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// The template every script starts with: `restore-script/restore.sh` in this target, compiled
    /// into the binary by the `EmbedShellTemplates` build plugin (nothing is read at run time). It
    /// holds the header comment, the argument handling and the `rd_*` functions; ``render(_:)``
    /// fills in its placeholders (``templateValues(_:)``) and appends the per-set steps.
    static let template = RestoreShellTemplate.text

    /// The functions of format 2 (objects), `restore-script/restore-objects.sh`, compiled in the same
    /// way; ``renderObjects(_:)`` appends them to the template.
    static let objectsTemplate = RestoreObjectsShellTemplate.text

    /// Format 2's lines of the argument loop (the template's block `OBJECTS_OPTION`): `--objects`,
    /// and with `script_takes_only` (``Manifest/restoresSubsets``) `--only LIST` and `--list-parts`,
    /// which prints the parts (``Manifest/restoreParts()``) one a line, `N<TAB>kind<TAB>name`, the
    /// name with every byte outside printable ASCII as `\xNN` (``FileNameBytes/escapedBytes(_:)``),
    /// and exits 0 before anything is read or written.
    static func objectsOption(_ m: Manifest) -> String {
        guard m.restoresSubsets else { return objectsOption }
        let parts = m.restoreParts()
        // The `--objects` arms, then these, in one `case`.
        var s = String(objectsOption.dropLast("    esac\n".count))
        s += """
                    --only)
                        [ $# -ge 2 ] || rd_fail "--only needs a list of part numbers"
                        RD_ONLY_ARG=$2 RD_ONLY_GIVEN=1
                        shift 2
                        continue
                        ;;
                    --only=*) RD_ONLY_ARG=${1#--only=} RD_ONLY_GIVEN=1; shift; continue ;;
                    --list-parts)

            """
        if !parts.isEmpty {
            s += "            printf '%s\\t%s\\t%s\\n'"
            s += parts.map {
                " \\\n                \($0.number) \($0.kind.rawValue) \(q(FileNameBytes.escapedBytes($0.name)))"
            }.joined()
            s += "\n"
        }
        s += "            exit 0\n            ;;\n    esac\n"
        return s
    }

    /// Format 2's `--objects` lines of the argument loop.
    static let objectsOption = """
            case $1 in
                --objects)
                    [ $# -ge 2 ] || rd_fail "--objects needs a folder"
                    RD_OBJECTS_ARG=$2 RD_OBJECTS_GIVEN=1
                    shift 2
                    continue
                    ;;
                --objects=*) RD_OBJECTS_ARG=${1#--objects=} RD_OBJECTS_GIVEN=1; shift; continue ;;
            esac

        """

    /// The values of the template's placeholders for `m`: names and versions as they appear in the
    /// header comment, and `…_WORD` ones as single-quoted sh words.
    static func templateValues(_ m: Manifest) -> [String: String] {
        [
            "SCRIPT_NAME": m.restoreScript,
            "SET_ID": m.id.description,
            "FORMAT_NAME": Manifest.formatName,
            "FORMAT_VERSION": String(m.formatVersion),
            "TOOL_NAME": ToolInfo.name,
            "TOOL_VERSION": m.toolVersion,
            "HOST": m.host.filter { $0.isASCII && !$0.isNewline },
            "VAULT_NOTE": m.vault == nil ? " (this set has no vault)" : ": credentials are restored only with it",
            "SET_ID_WORD": q(m.id.description),
            "SCRIPT_NAME_WORD": q(m.restoreScript),
            "CODE_NOTE": m.storesObjects ? "the code packs" : "code.tar.gz",
            "OBJECTS_USAGE": m.restoresSubsets
                ? " [--objects DIR] [--only N,M,... | --list-parts]" : m.storesObjects ? " [--objects DIR]" : "",
            "OBJECTS_HELP": m.storesObjects
                ? "#   --objects DIR       the set's objects (default: the folder objects beside the set folder)\n"
                    + (m.restoresSubsets
                        ? "#   --only N,M,...      restore only these parts (numbers as --list-parts prints them)\n"
                            + "#   --list-parts        print the set's parts (number, kind, name; tab-separated) and exit\n"
                        : "")
                : "",
            "OBJECTS_OPTION": m.storesObjects ? objectsOption(m) : "",
            "NEEDS_OPENSSL_ENC": vaultToOpen(m) == nil ? "0" : "1",
            "PAX_NAME": q(PaxProbe.longName),
            "PAX_ARCHIVE": PaxProbe.shellLines,
        ]
    }
}
