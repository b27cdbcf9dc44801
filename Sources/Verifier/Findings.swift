import DrillCore
import Foundation
import Vault

// The findings of the drill's checks: each kind's stable code and the factory that renders its
// message from its data. A check builds findings only through these factories, so the wording
// lives here, next to the data it is made of, and callers (the selftest, tests) match the code.

extension Finding.Code {
    // set.manifest
    /// `manifest.json` is absent or cannot be read.
    public static let manifestUnreadable = Finding.Code("manifest.unreadable")
    /// `manifest.json` does not decode (bad JSON, unsupported format, a field missing).
    public static let manifestUndecodable = Finding.Code("manifest.undecodable")
    /// The manifest cannot be re-encoded to compute its self-checksum.
    public static let manifestNotReencodable = Finding.Code("manifest.not_reencodable")
    /// The manifest has no `manifest_sha256`.
    public static let manifestChecksumMissing = Finding.Code("manifest.checksum_missing")
    /// The manifest's self-checksum does not match its content: edited after it was written.
    public static let manifestChecksumMismatch = Finding.Code("manifest.checksum_mismatch")
    /// The set's folder name is a backup id other than the manifest's.
    public static let manifestFolderMismatch = Finding.Code("manifest.folder_mismatch")
    /// `restore_script` is not a plain file name.
    public static let manifestScriptName = Finding.Code("manifest.script_name")
    /// `home` or `root` is not an absolute path.
    public static let manifestPathsNotAbsolute = Finding.Code("manifest.paths_not_absolute")
    /// The manifest HMAC does not match the vault password's key.
    public static let manifestHMACMismatch = Finding.Code("manifest.hmac_mismatch")
    /// The manifest HMAC could not be computed (key derivation or encoding failed).
    public static let manifestHMACUncheckable = Finding.Code("manifest.hmac_uncheckable")
    /// A vault password was given and the manifest has no HMAC.
    public static let manifestHMACMissing = Finding.Code("manifest.hmac_missing")

    // set.artifacts
    /// A file in the set that the manifest does not list.
    public static let artifactUnlisted = Finding.Code("artifact.unlisted")
    /// An artifact path that is not a plain relative path inside the set.
    public static let artifactPathNotPlain = Finding.Code("artifact.path_not_plain")
    /// An artifact the manifest lists is absent.
    public static let artifactMissing = Finding.Code("artifact.missing")
    /// An artifact is not a regular file.
    public static let artifactNotRegularFile = Finding.Code("artifact.not_regular_file")
    /// A folder on an artifact's way is a symbolic link (or no folder): not followed, not read
    /// (data `reason`).
    public static let artifactNotFollowed = Finding.Code("artifact.not_followed")
    /// An artifact's size differs from the manifest's.
    public static let artifactSizeMismatch = Finding.Code("artifact.size_mismatch")
    /// An artifact's SHA-256 differs from the manifest's.
    public static let artifactDigestMismatch = Finding.Code("artifact.digest_mismatch")
    /// An artifact cannot be read (an ``Verdict/error``).
    public static let artifactUnreadable = Finding.Code("artifact.unreadable")
    /// A listed artifact that nothing in the manifest uses: no database, LaunchAgent, shell file or
    /// the vault names it, it is not the code archive, a dependency list or the restore script, so
    /// a restore never reads it (data `kind`).
    public static let artifactUnreferenced = Finding.Code("artifact.unreferenced")
    /// An artifact named like a chunk (`<name>.chunk-NNNN`) or of kind `chunk` that no database
    /// lists among its chunks.
    public static let chunkUnowned = Finding.Code("chunk.unowned")
    /// A chunk (one artifact path) listed by more than one database (data `databases`, one per
    /// line); each chunk belongs to exactly one (format 2: two chunks may share an object, never
    /// a path).
    public static let chunkShared = Finding.Code("chunk.shared")
    /// A chunk a database lists is absent: from the set folder, or from the manifest's artifacts
    /// (data `chunk`, `database`, `where`).
    public static let chunkMissing = Finding.Code("chunk.missing")
    /// A chunk is 0 bytes on disk or in the manifest (the engine never writes an empty chunk; data
    /// `chunk`, `database`, `expected`: the recorded size).
    public static let chunkEmpty = Finding.Code("chunk.empty")
    /// A database's pieces (its chunks, or its one artifact) as the manifest records them do not
    /// add up to the database's recorded size (data `actual`, `expected`, bytes).
    public static let chunkSizesMismatch = Finding.Code("chunk.sizes_mismatch")
    /// Format 2: an artifact's recorded SHA-256 is not 64 lowercase hex, so it names no object
    /// (no path is built from it; data `recorded`).
    public static let objectDigestMalformed = Finding.Code("object.digest_malformed")
    /// Format 2: the object holding an artifact's bytes is absent from the destination's `objects/`
    /// (data `object`: `objects/<ab>/<sha256>`; `used_by`: every artifact of the set using it, one
    /// per line).
    public static let objectMissing = Finding.Code("object.missing")
    /// Format 2: the object, its fan-out folder or `objects` itself is a link, FIFO, folder or
    /// device: never followed, opened or read (data `object`, `used_by`, `reason`).
    public static let objectNotFollowed = Finding.Code("object.not_followed")
    /// Format 2: the object's bytes are not what its name says (truncated, extended, bit rot, a
    /// swapped object): every artifact using it is damaged (data `object`, `used_by`).
    public static let objectDamaged = Finding.Code("object.damaged")
    /// Format 2: a database stored otherwise than in chunks (``DatabaseRecord/artifact`` set, or
    /// no chunk listed); format 2 chunks every database (data `database`).
    public static let databaseNotChunked = Finding.Code("database.not_chunked")
    /// Format 2: a database's chunk is not recorded gzip-compressed (data `chunk`, `database`).
    public static let chunkNotCompressed = Finding.Code("chunk.not_compressed")
    /// `SHA256SUMS` is absent or not UTF-8.
    public static let sumsUnreadable = Finding.Code("sums.unreadable")
    /// A line of `SHA256SUMS` is not in `sha256sum` format.
    public static let sumsBadLine = Finding.Code("sums.bad_line")
    /// `SHA256SUMS` gives an artifact another digest than the manifest.
    public static let sumsDigestMismatch = Finding.Code("sums.digest_mismatch")
    /// An artifact of the manifest is absent from `SHA256SUMS`.
    public static let sumsEntryMissing = Finding.Code("sums.entry_missing")
    /// `SHA256SUMS` lists a file the manifest does not.
    public static let sumsEntryExtra = Finding.Code("sums.entry_extra")

    // set.coverage
    /// A component backed up in the previous set is absent or not `ok` in this one.
    public static let coverageComponentGone = Finding.Code("coverage.component_gone")
    /// A component's file count shrank by more than the allowed fraction.
    public static let coverageFilesDropped = Finding.Code("coverage.files_dropped")
    /// A component's byte count shrank by more than the allowed fraction.
    public static let coverageBytesDropped = Finding.Code("coverage.bytes_dropped")
    /// Databases of the previous set are absent from this one.
    public static let coverageDatabasesGone = Finding.Code("coverage.databases_gone")
    /// LaunchAgents of the previous set are absent from this one.
    public static let coverageAgentsGone = Finding.Code("coverage.agents_gone")

    /// The previous complete set could not be looked up (an ``Verdict/error``).
    public static let coverageUnmeasurable = Finding.Code("coverage.unmeasurable")

    // restore.archives
    /// The archive artifact is absent.
    public static let archiveMissing = Finding.Code("archive.missing")
    /// The archive stream cannot be read to its end (truncated, corrupt).
    public static let archiveUnreadable = Finding.Code("archive.unreadable")
    /// A member's name is absolute.
    public static let archiveMemberAbsolute = Finding.Code("archive.member_absolute")
    /// A member's name has a `..` segment.
    public static let archiveMemberDotDot = Finding.Code("archive.member_dotdot")
    /// A member's name has a control character.
    public static let archiveMemberControlCharacter = Finding.Code("archive.member_control_character")
    /// A member is a device, fifo or socket.
    public static let archiveMemberSpecial = Finding.Code("archive.member_special")
    /// A member has the setuid or setgid bit.
    public static let archiveMemberSetID = Finding.Code("archive.member_setid")
    /// A symlink's target has a control character.
    public static let archiveLinkControlCharacter = Finding.Code("archive.link_control_character")
    /// A symlink or hard link leaves the restore root.
    public static let archiveLinkEscapes = Finding.Code("archive.link_escapes")
    /// Files the manifest lists are absent from the archive.
    public static let archiveMembersMissing = Finding.Code("archive.members_missing")
    /// Members of the archive the manifest does not list.
    public static let archiveMembersExtra = Finding.Code("archive.members_extra")
    /// A member's type differs from the manifest's.
    public static let archiveMemberTypeMismatch = Finding.Code("archive.member_type_mismatch")
    /// Members stored more than once.
    public static let archiveMembersDuplicated = Finding.Code("archive.members_duplicated")
    /// Format 2: a member of one pack is also a member of another (data `member`, `packs`: the two
    /// packs, one per line): a pack holding a member of another pack, which the restore would
    /// extract twice.
    public static let archiveMemberInTwoPacks = Finding.Code("archive.member_in_two_packs")
    /// A note, never a failure: Finder and AppleDouble members (`.DS_Store`, `._name`,
    /// `__MACOSX/…`; ``MacMetadata``) the manifest does not list were ignored (data `paths`). It
    /// is the one finding a passing `restore.archives` result may hold.
    public static let archiveMetadataIgnored = Finding.Code("archive.metadata_ignored")

    // restore.tree
    /// A path of the manifest was not restored (data `path`, as shown: `~/…` or `$ROOT/…`).
    public static let treeMissing = Finding.Code("tree.missing")
    /// A restored path is of another type than the manifest's.
    public static let treeTypeMismatch = Finding.Code("tree.type_mismatch")
    /// A restored path has another mode than the manifest's.
    public static let treeModeMismatch = Finding.Code("tree.mode_mismatch")
    /// A restored symlink points elsewhere than the manifest says.
    public static let treeLinkMismatch = Finding.Code("tree.link_mismatch")
    /// A restored file has another size than the manifest's.
    public static let treeSizeMismatch = Finding.Code("tree.size_mismatch")
    /// A restored file's SHA-256 differs from the manifest's.
    public static let treeDigestMismatch = Finding.Code("tree.digest_mismatch")
    /// A restored file cannot be read.
    public static let treeUnreadable = Finding.Code("tree.unreadable")
    /// Restored files that the manifest does not list (data `paths`).
    public static let treeExtraFiles = Finding.Code("tree.extra_files")
    /// The component failed at backup: nothing of it can be restored.
    public static let treeComponentFailed = Finding.Code("tree.component_failed")
    /// A note, never a failure: restored Finder and AppleDouble files (``MacMetadata``) the
    /// manifest does not list were ignored (data `paths`, as shown). It is the one finding a
    /// passing or skipped `restore.tree` result may hold.
    public static let treeMetadataIgnored = Finding.Code("tree.metadata_ignored")
    /// A folder on a restored path's way is a symbolic link (or no folder), so the path was not
    /// looked at: links in the restored tree are never followed (data `path`, `reason`).
    public static let treeNotFollowed = Finding.Code("tree.not_followed")

    // rpo and rto
    /// The newest complete set is dated in the future: the RPO cannot be measured.
    public static let rpoFutureSet = Finding.Code("rpo.future_set")
    /// The destination holds no complete set.
    public static let rpoNoCompleteSet = Finding.Code("rpo.no_complete_set")
    /// The newest complete set is older than the RPO objective.
    public static let rpoExceeded = Finding.Code("rpo.exceeded")
    /// The destination could not be read to measure the RPO (an ``Verdict/error``).
    public static let rpoUnmeasurable = Finding.Code("rpo.unmeasurable")
    /// The replay took longer than the RTO objective.
    public static let rtoExceeded = Finding.Code("rto.exceeded")

    // credentials.vault
    /// The credentials component failed at backup.
    public static let vaultComponentFailed = Finding.Code("vault.component_failed")
    /// The vault artifact's name is not a plain file name.
    public static let vaultArtifactName = Finding.Code("vault.artifact_name")
    /// The vault artifact is absent.
    public static let vaultMissing = Finding.Code("vault.missing")
    /// The vault's cipher or KDF is not the one this build reads.
    public static let vaultUnsupported = Finding.Code("vault.unsupported")
    /// The vault's HMAC tag does not match (data `cause`: `tampered`, `wrong_password`, `unknown`).
    public static let vaultTagMismatch = Finding.Code("vault.tag_mismatch")
    /// The key could not be derived or the tag computed.
    public static let vaultKeyFailed = Finding.Code("vault.key_failed")
    /// The tag verifies but decryption failed.
    public static let vaultDecryptFailed = Finding.Code("vault.decrypt_failed")
    /// The decrypted tar cannot be read.
    public static let vaultTarUnreadable = Finding.Code("vault.tar_unreadable")
    /// A member is stored twice in the vault.
    public static let vaultMemberDuplicated = Finding.Code("vault.member_duplicated")
    /// A credential file of the manifest is absent from the vault.
    public static let vaultMemberMissing = Finding.Code("vault.member_missing")
    /// A vault member is not a regular file.
    public static let vaultMemberNotFile = Finding.Code("vault.member_not_file")
    /// A vault member's size differs from the manifest's.
    public static let vaultMemberSize = Finding.Code("vault.member_size")
    /// A vault member's HMAC digest differs from the manifest's.
    public static let vaultMemberDigest = Finding.Code("vault.member_digest")
    /// The manifest records no HMAC digest for a credential file.
    public static let vaultMemberNoDigest = Finding.Code("vault.member_no_digest")
    /// A vault member the manifest does not list.
    public static let vaultMemberExtra = Finding.Code("vault.member_extra")
    /// A credential file was not restored.
    public static let vaultRestoredMissing = Finding.Code("vault.restored_missing")
    /// A restored credential is not a regular file.
    public static let vaultRestoredNotFile = Finding.Code("vault.restored_not_file")
    /// A restored credential's mode is not 0600.
    public static let vaultRestoredMode = Finding.Code("vault.restored_mode")
    /// A restored credential's HMAC digest does not match.
    public static let vaultRestoredDigest = Finding.Code("vault.restored_digest")
    /// The restored credentials cannot be read.
    public static let vaultRestoredUnreadable = Finding.Code("vault.restored_unreadable")
    /// A restored credential lies behind a symbolic link (or a folder on its way is no folder):
    /// not followed, not read (data `path`, `reason`).
    public static let vaultRestoredNotFollowed = Finding.Code("vault.restored_not_followed")

    // restore.script
    /// The restore script is absent from the set.
    public static let scriptMissing = Finding.Code("script.missing")
    /// The replay could not start (an ``Verdict/error``).
    public static let scriptNotStarted = Finding.Code("script.not_started")
    /// The script was killed after the timeout.
    public static let scriptTimedOut = Finding.Code("script.timed_out")
    /// The script's output passed the cap.
    public static let scriptOutputCapped = Finding.Code("script.output_capped")
    /// The script exited with a non-zero status (data `status`).
    public static let scriptExitStatus = Finding.Code("script.exit_status")
    /// The script was killed by a signal (data `signal`).
    public static let scriptKilledBySignal = Finding.Code("script.killed_by_signal")
    /// The script neither exited nor was killed.
    public static let scriptDidNotExit = Finding.Code("script.did_not_exit")
    /// The script ran without isolation although isolation was required.
    public static let scriptNotIsolated = Finding.Code("script.not_isolated")
    /// Canary files outside the sandbox changed during the replay.
    public static let scriptChangedOutside = Finding.Code("script.changed_outside")
    /// A limit stopped the replay or one of its processes (data `limit`: a ``ReplayLimit`` raw
    /// value, `memory cgroup`, `pids cgroup` or `byte bound`; `value`: the limit).
    public static let scriptStoppedByLimit = Finding.Code("script.stopped_by_limit")

    // db.integrity
    /// The database was not restored.
    public static let databaseNotRestored = Finding.Code("db.not_restored")
    /// The database, or a folder on its way, is a symbolic link: not followed, not opened (data
    /// `reason`).
    public static let databaseNotFollowed = Finding.Code("db.not_followed")
    /// The database is a FIFO, device, socket or folder, not a regular file: not opened (data
    /// `kind`).
    public static let databaseNotRegularFile = Finding.Code("db.not_regular_file")
    /// A stale `-wal` or `-shm` file lies beside the database (data `suffix`).
    public static let databaseStaleSidecar = Finding.Code("db.stale_sidecar")
    /// The database is in WAL mode.
    public static let databaseWALMode = Finding.Code("db.wal_mode")
    /// SQLite cannot open the database.
    public static let databaseUnopenable = Finding.Code("db.unopenable")
    /// `PRAGMA integrity_check` reported problems.
    public static let databaseIntegrity = Finding.Code("db.integrity_check")
    /// `PRAGMA foreign_key_check` reported violations.
    public static let databaseForeignKeys = Finding.Code("db.foreign_key_check")
    /// A pragma or query could not run (data `query`).
    public static let databaseQueryFailed = Finding.Code("db.query_failed")
    /// Tables the manifest lists are absent.
    public static let databaseTablesMissing = Finding.Code("db.tables_missing")
    /// The database has no table at all although the manifest records some (data `tables`, one
    /// per line): an empty database in its place, which `integrity_check` calls `ok`.
    public static let databaseNoTables = Finding.Code("db.no_tables")
    /// Tables the manifest does not list.
    public static let databaseTablesExtra = Finding.Code("db.tables_extra")
    /// A table's row count differs from the manifest's.
    public static let databaseRowCount = Finding.Code("db.row_count")

    // launchagents.rewrite
    /// The restored or stored plist cannot be read or parsed (data `which`: `restored`, `stored`).
    public static let agentUnreadable = Finding.Code("agent.unreadable")
    /// The restored plist differs from the stored one with its paths rewritten.
    public static let agentContentDiffers = Finding.Code("agent.content_differs")
    /// The restored plist still names the old home or root.
    public static let agentOldPathLeft = Finding.Code("agent.old_path_left")
    /// The restored plist names paths outside the sandbox and system folders.
    public static let agentPathsOutside = Finding.Code("agent.paths_outside")
    /// The agent's program is not found or not executable.
    public static let agentProgramUnusable = Finding.Code("agent.program_unusable")
    /// The agent names no program.
    public static let agentNoProgram = Finding.Code("agent.no_program")

    /// `launchagents.lint`: the finding of lint rule `rule`, code `agent.lint.<rule>` (for
    /// example `agent.lint.arguments`; `agent.lint.parse` when no plist parses).
    public static func agentLint(_ rule: AgentLintRule) -> Finding.Code {
        Finding.Code("agent.lint.\(rule.rawValue)")
    }
}

extension Finding {
    // MARK: set.manifest

    static func manifestUnreadable(setPath: String) -> Finding {
        Finding(
            .manifestUnreadable, data: ["set": setPath],
            message: "\(Manifest.fileName) is missing or unreadable in \(setPath)")
    }

    static func manifestUndecodable(_ error: any Error) -> Finding {
        Finding(.manifestUndecodable, data: ["error": "\(error)"], message: "\(error)")
    }

    static func manifestNotReencodable(_ error: any Error) -> Finding {
        Finding(
            .manifestNotReencodable, data: ["error": "\(error)"],
            message: "manifest cannot be re-encoded to verify its checksum: \(error)")
    }

    static let manifestChecksumMissing = Finding(
        .manifestChecksumMissing, message: "manifest_sha256 is missing")

    static func manifestChecksumMismatch(recorded: String, computed: String) -> Finding {
        Finding(
            .manifestChecksumMismatch, data: ["expected": recorded, "actual": computed],
            message: "self-checksum does not match: the manifest was edited after it was written")
    }

    static func manifestFolderMismatch(folder: String, manifestID: String) -> Finding {
        Finding(
            .manifestFolderMismatch, data: ["folder": folder, "manifest_id": manifestID],
            message: "folder \(folder) holds a manifest of set \(manifestID)")
    }

    static func manifestScriptName(_ name: String) -> Finding {
        Finding(
            .manifestScriptName, data: ["name": name],
            message: "restore_script \"\(name)\" is not a plain file name")
    }

    static func manifestPathsNotAbsolute(home: String, root: String) -> Finding {
        Finding(
            .manifestPathsNotAbsolute, data: ["home": home, "root": root],
            message: "home and root must be absolute paths (home \(home), root \(root))")
    }

    static let manifestHMACMismatch = Finding(
        .manifestHMACMismatch,
        message: "manifest HMAC does not match: wrong password, or the manifest was edited "
            + "(with its checksum and SHA256SUMS)")

    static func manifestHMACUncheckable(_ error: any Error) -> Finding {
        Finding(
            .manifestHMACUncheckable, data: ["error": "\(error)"],
            message: "manifest HMAC cannot be checked: \(error)")
    }

    static let manifestHMACMissing = Finding(
        .manifestHMACMissing,
        message: "the manifest has no HMAC although a vault password was given: made without a password, "
            + "or the HMAC was removed")

    // MARK: set.artifacts

    static let artifactUnlisted = Finding(
        .artifactUnlisted, message: "a file in the set that the manifest does not list")
    static let artifactPathNotPlain = Finding(
        .artifactPathNotPlain, message: "artifact path is not a plain relative path inside the set")
    static let artifactMissing = Finding(.artifactMissing, message: "missing from the set")
    static let artifactNotRegularFile = Finding(.artifactNotRegularFile, message: "not a regular file")

    /// `reason` as ``BeneathRoot/Refusal`` words it, naming the folder in the set.
    static func artifactNotFollowed(_ reason: String) -> Finding {
        Finding(.artifactNotFollowed, data: ["reason": reason], message: "not read: \(reason)")
    }

    static func artifactSizeMismatch(recorded: Int64, actual: Int64) -> Finding {
        Finding(
            .artifactSizeMismatch, data: ["expected": "\(recorded)", "actual": "\(actual)"],
            message: "size \(actual) bytes, manifest records \(recorded)")
    }

    static func artifactDigestMismatch(recorded: String, actual: String) -> Finding {
        Finding(
            .artifactDigestMismatch, data: ["expected": recorded, "actual": actual],
            message: "SHA-256 differs from the manifest (content changed)")
    }

    static func artifactUnreadable(_ error: any Error) -> Finding {
        Finding(.artifactUnreadable, data: ["error": "\(error)"], message: "cannot be read: \(error)")
    }

    /// `kind` is the artifact's kind as the manifest records it.
    static func artifactUnreferenced(kind: ArtifactKind) -> Finding {
        Finding(
            .artifactUnreferenced, data: ["kind": kind.rawValue],
            message:
                "listed among the artifacts (\(kind.rawValue)) but nothing in the manifest uses it: no database, "
                + "LaunchAgent, shell file or vault names it, and a restore never reads it")
    }

    static let chunkUnowned = Finding(
        .chunkUnowned,
        message: "named like a chunk, but no database lists it among its chunks: a restore never reads it")

    /// `databases`: the restored paths of the databases that list the chunk.
    static func chunkShared(_ databases: [String]) -> Finding {
        Finding(
            .chunkShared, data: ["databases": listValue(databases)],
            message:
                "chunk listed by \(databases.count) databases (\(databases.joined(separator: ", "))); "
                + "each chunk belongs to exactly one")
    }

    /// `whereMissing`: `set` (no file in the set folder) or `manifest` (not among the artifacts).
    static func chunkMissing(_ chunk: String, database: String, whereMissing: String) -> Finding {
        let place = whereMissing == "set" ? "from the set" : "from the manifest's artifacts"
        return Finding(
            .chunkMissing, data: ["chunk": chunk, "database": database, "where": whereMissing],
            message: "chunk \(chunk) of database \(database) is missing \(place)")
    }

    /// `recorded`: the chunk's size in the manifest, bytes (0 when the manifest records it empty).
    static func chunkEmpty(_ chunk: String, database: String, recorded: Int64) -> Finding {
        let said = recorded == 0 ? "the manifest records it empty" : "the manifest records \(recorded)"
        return Finding(
            .chunkEmpty, data: ["chunk": chunk, "database": database, "expected": "\(recorded)"],
            message: "chunk \(chunk) of database \(database) is 0 bytes (\(said); no chunk is ever empty)")
    }

    /// `pieces`: how many chunks (1 for a whole database); sizes in bytes.
    static func chunkSizesMismatch(pieces: Int, sum: Int64, recorded: Int64) -> Finding {
        let what = pieces == 1 ? "its artifact is" : "its \(pieces) chunks add up to"
        return Finding(
            .chunkSizesMismatch, data: ["actual": "\(sum)", "expected": "\(recorded)"],
            message: "\(what) \(sum) bytes, the database's recorded size is \(recorded)")
    }

    static func objectDigestMalformed(_ recorded: String) -> Finding {
        Finding(
            .objectDigestMalformed, data: ["recorded": recorded],
            message: "recorded SHA-256 is not 64 lowercase hex characters: it names no object, nothing was opened")
    }

    /// `object`: `objects/<ab>/<sha256>`; `usedBy`: the set's artifacts stored in it.
    static func objectMissing(_ object: String, usedBy: [String]) -> Finding {
        Finding(
            .objectMissing, data: ["object": object, "used_by": listValue(usedBy)],
            message: "object \(object) is missing (used by \(usedBy.joined(separator: ", ")))")
    }

    /// `reason`: what is there instead, as ``ObjectState`` words it (never followed).
    static func objectNotFollowed(_ object: String, usedBy: [String], reason: String) -> Finding {
        Finding(
            .objectNotFollowed, data: ["object": object, "used_by": listValue(usedBy), "reason": reason],
            message: "object \(object) not read: \(reason) (used by \(usedBy.joined(separator: ", ")))")
    }

    static func objectDamaged(_ object: String, usedBy: [String]) -> Finding {
        Finding(
            .objectDamaged, data: ["object": object, "used_by": listValue(usedBy)],
            message: "object \(object) is damaged; every artifact using it is: \(usedBy.joined(separator: ", "))")
    }

    static func databaseNotChunked(_ database: String) -> Finding {
        Finding(
            .databaseNotChunked, data: ["database": database],
            message: "database \(database) is not stored in chunks: format 2 chunks every database")
    }

    static func chunkNotCompressed(_ chunk: String, database: String) -> Finding {
        Finding(
            .chunkNotCompressed, data: ["chunk": chunk, "database": database],
            message: "chunk \(chunk) of database \(database) is not recorded gzip-compressed, as format 2 stores chunks"
        )
    }

    static let sumsUnreadable = Finding(.sumsUnreadable, message: "SHA256SUMS is missing or unreadable")

    static func sumsBadLine(_ line: Int) -> Finding {
        Finding(.sumsBadLine, data: ["line": "\(line)"], message: "line \(line) is not in sha256sum format")
    }

    static func sumsDigestMismatch(path: String, listed: String, recorded: String) -> Finding {
        Finding(
            .sumsDigestMismatch, data: ["path": path, "expected": recorded, "actual": listed],
            message: "\(path): digest differs from the manifest")
    }

    static func sumsEntryMissing(path: String) -> Finding {
        Finding(
            .sumsEntryMissing, data: ["path": path], message: "\(path): listed in the manifest, missing from SHA256SUMS"
        )
    }

    static func sumsEntryExtra(path: String) -> Finding {
        Finding(.sumsEntryExtra, data: ["path": path], message: "\(path): in SHA256SUMS, not in the manifest")
    }

    /// The message of a failed `SHA256SUMS` result: the first five findings.
    static func sumsMessage(_ findings: [Finding]) -> String {
        "SHA256SUMS disagrees with the manifest: " + findings.prefix(5).map(\.message).joined(separator: "; ")
    }

    // MARK: set.coverage

    static func coverageComponentGone(previous: String, state: String) -> Finding {
        Finding(
            .coverageComponentGone, data: ["previous": previous, "state": state],
            message: "backed up in \(previous), gone in this set (\(state))")
    }

    static func coverageFilesDropped(before: Int, now: Int) -> Finding {
        Finding(
            .coverageFilesDropped, data: ["before": "\(before)", "now": "\(now)"],
            message: "files dropped from \(before) to \(now)")
    }

    static func coverageBytesDropped(before: Int64, now: Int64) -> Finding {
        Finding(
            .coverageBytesDropped, data: ["before": "\(before)", "now": "\(now)"],
            message: "bytes dropped from \(Units.humanBytes(before)) to \(Units.humanBytes(now))")
    }

    /// `<subject>: <finding>; <finding> since <previous>`: a shrink is measured against the previous set.
    static func coverageMessage(subject: String, _ findings: [Finding], previous: String) -> String {
        "\(subject): " + findings.map(\.message).joined(separator: "; ") + " since \(previous)"
    }

    static func coverageUnmeasurable(_ error: any Error) -> Finding {
        Finding(.coverageUnmeasurable, data: ["error": "\(error)"], message: "\(error)")
    }

    static func coverageDatabasesGone(_ paths: [String]) -> Finding {
        Finding(
            .coverageDatabasesGone, data: ["paths": listValue(paths)],
            message: "databases gone: " + ArchiveInspection.sample(paths))
    }

    static func coverageAgentsGone(_ paths: [String]) -> Finding {
        Finding(
            .coverageAgentsGone, data: ["paths": listValue(paths)],
            message: "LaunchAgents gone: " + ArchiveInspection.sample(paths))
    }

    // MARK: restore.archives

    static let archiveMissing = Finding(.archiveMissing, message: "archive is missing")

    /// `reason` is what the listing said (`archive unreadable after 3 members: …`, `cannot open: …`).
    static func archiveUnreadable(reason: String) -> Finding {
        Finding(.archiveUnreadable, data: ["reason": reason], message: reason)
    }

    /// A danger of one member; its message is the danger alone (``archiveMemberMessage(_:)``
    /// puts the member's name in front of its dangers).
    static func archiveDanger(_ code: Finding.Code, member: String, _ text: String, data: [String: String] = [:])
        -> Finding
    {
        Finding(code, data: data.merging(["member": member]) { a, _ in a }, message: text)
    }

    /// `<member>: <danger>, <danger>` for the dangers of one member.
    static func archiveMemberMessage(_ dangers: [Finding]) -> String {
        "\(dangers[0].data["member"] ?? ""): " + dangers.map(\.message).joined(separator: ", ")
    }

    static func archiveMembersMissing(_ paths: [String]) -> Finding {
        Finding(
            .archiveMembersMissing, data: ["paths": listValue(paths)],
            message: "\(paths.count) listed in the manifest but not in the archive: " + ArchiveInspection.sample(paths))
    }

    static func archiveMembersExtra(_ paths: [String]) -> Finding {
        Finding(
            .archiveMembersExtra, data: ["paths": listValue(paths)],
            message: "\(paths.count) in the archive but not in the manifest: " + ArchiveInspection.sample(paths))
    }

    static func archiveMemberTypeMismatch(_ path: String, actual: FileType, recorded: FileType) -> Finding {
        Finding(
            .archiveMemberTypeMismatch,
            data: ["path": path, "actual": actual.rawValue, "expected": recorded.rawValue],
            message: "\(path) is a \(actual.rawValue), manifest says \(recorded.rawValue)")
    }

    /// A note (``Finding/Code/archiveMetadataIgnored``): `paths` are the members' names.
    static func archiveMetadataIgnored(_ paths: [String]) -> Finding {
        Finding(
            .archiveMetadataIgnored, data: ["paths": listValue(paths)],
            message:
                "\(paths.count) macOS metadata members (Finder, AppleDouble) not in the manifest, ignored: "
                + ArchiveInspection.sample(paths))
    }

    /// `packs`: the pack that held the member first and the one that holds it again.
    static func archiveMemberInTwoPacks(_ member: String, packs: [String]) -> Finding {
        Finding(
            .archiveMemberInTwoPacks, data: ["member": member, "packs": listValue(packs)],
            message: "member \(member) is in two packs (\(packs.joined(separator: " and "))): "
                + "a pack holding a member of another pack")
    }

    static func archiveMembersDuplicated(_ paths: [String]) -> Finding {
        Finding(
            .archiveMembersDuplicated, data: ["paths": listValue(paths)],
            message: "members stored twice: " + ArchiveInspection.sample(paths))
    }

    // MARK: restore.tree (each message names the path as shown: `~/…` or `$ROOT/…`)

    static func treeMissing(_ path: String) -> Finding {
        Finding(.treeMissing, data: ["path": path], message: "\(path): missing")
    }

    /// A restored link where something else was expected is named as not followed.
    static func treeTypeMismatch(_ path: String, actual: String, expected: FileType) -> Finding {
        let notFollowed = actual == FileType.symlink.rawValue ? " (not followed)" : ""
        return Finding(
            .treeTypeMismatch, data: ["path": path, "actual": actual, "expected": expected.rawValue],
            message: "\(path): is a \(actual)\(notFollowed), expected \(expected.rawValue)")
    }

    /// `reason` as ``RestoredTree/explain(_:for:)`` words it.
    static func treeNotFollowed(_ path: String, reason: String) -> Finding {
        Finding(.treeNotFollowed, data: ["path": path, "reason": reason], message: "\(path): \(reason)")
    }

    /// `actual` and `expected` in octal as the message shows them (`0644`).
    static func treeModeMismatch(_ path: String, actual: String, expected: String) -> Finding {
        Finding(
            .treeModeMismatch, data: ["path": path, "actual": actual, "expected": expected],
            message: "\(path): mode \(actual), expected \(expected)")
    }

    static func treeLinkMismatch(_ path: String, actual: String, expected: String) -> Finding {
        Finding(
            .treeLinkMismatch, data: ["path": path, "actual": actual, "expected": expected],
            message: "\(path): link points to \(actual), expected \(expected)")
    }

    static func treeSizeMismatch(_ path: String, actual: Int64, expected: Int64) -> Finding {
        Finding(
            .treeSizeMismatch, data: ["path": path, "actual": "\(actual)", "expected": "\(expected)"],
            message: "\(path): \(actual) bytes, expected \(expected)")
    }

    static func treeDigestMismatch(_ path: String, actual: String, expected: String) -> Finding {
        Finding(
            .treeDigestMismatch, data: ["path": path, "actual": actual, "expected": expected],
            message: "\(path): SHA-256 differs from the manifest")
    }

    static func treeUnreadable(_ path: String, _ error: any Error) -> Finding {
        Finding(
            .treeUnreadable, data: ["path": path, "error": "\(error)"], message: "\(path): cannot be read: \(error)")
    }

    static func treeExtraFiles(_ paths: [String]) -> Finding {
        Finding(
            .treeExtraFiles, data: ["paths": listValue(paths)],
            message: "\(paths.count) extra files not in the manifest: " + ArchiveInspection.sample(paths))
    }

    /// A note (``Finding/Code/treeMetadataIgnored``): `paths` as shown (`~/…` or `$ROOT/…`).
    static func treeMetadataIgnored(_ paths: [String]) -> Finding {
        Finding(
            .treeMetadataIgnored, data: ["paths": listValue(paths)],
            message:
                "\(paths.count) macOS metadata files (Finder, AppleDouble) not in the manifest, ignored: "
                + ArchiveInspection.sample(paths))
    }

    static func treeComponentFailed(reason: String) -> Finding {
        Finding(
            .treeComponentFailed, data: ["reason": reason],
            message: "component failed at backup, nothing of it can be restored: \(reason)")
    }

    // MARK: rpo and rto

    static func rpoFutureSet(_ id: String, now: String) -> Finding {
        Finding(
            .rpoFutureSet, data: ["set": id, "now": now],
            message:
                "set \(id) is dated in the future (the clock of the machine that made it was wrong); the RPO cannot be measured"
        )
    }

    static let rpoNoCompleteSet = Finding(.rpoNoCompleteSet, message: "no complete backup set")

    /// `age` and `objective` in seconds.
    static func rpoExceeded(set id: String, age: Double, objective: Double) -> Finding {
        Finding(
            .rpoExceeded, data: ["set": id, "age_seconds": "\(age)", "objective_seconds": "\(objective)"],
            message:
                "newest complete set \(id) is \(Units.humanSeconds(age)) old, over the objective \(Units.humanSeconds(objective))"
        )
    }

    static func rpoUnmeasurable(_ error: any Error) -> Finding {
        Finding(.rpoUnmeasurable, data: ["error": "\(error)"], message: "\(error)")
    }

    /// `seconds` and `objective` in seconds.
    static func rtoExceeded(seconds: Double, objective: Double) -> Finding {
        Finding(
            .rtoExceeded, data: ["seconds": "\(seconds)", "objective_seconds": "\(objective)"],
            message:
                "restore took \(Units.humanSeconds(seconds)), over the objective \(Units.humanSeconds(objective))")
    }

    // MARK: credentials.vault

    static func vaultComponentFailed(reason: String) -> Finding {
        Finding(
            .vaultComponentFailed, data: ["reason": reason],
            message: "the credentials component failed at backup: \(reason)")
    }

    static func vaultArtifactName(_ name: String) -> Finding {
        Finding(
            .vaultArtifactName, data: ["name": name],
            message: "vault artifact \"\(name)\" is not a plain file name in the set")
    }

    static let vaultMissing = Finding(.vaultMissing, message: "missing from the set")

    static func vaultUnsupported(cipher: String, kdf: String) -> Finding {
        Finding(
            .vaultUnsupported, data: ["cipher": cipher, "kdf": kdf],
            message: "vault uses \(cipher) with \(kdf); this build reads \(Vault.cipherName) with \(Vault.kdfName)")
    }

    /// What a tag mismatch means given whether the manifest HMAC verified with the same password
    /// (true: the vault was tampered with; false: the password is wrong; nil: unknown).
    static func vaultTagMismatch(manifestHMACVerified: Bool?) -> Finding {
        let cause: String
        let why: String
        switch manifestHMACVerified {
        case true?:
            cause = "tampered"
            why =
                "tampered vault: the password is right (the manifest HMAC verifies with it) but the vault's HMAC tag "
                + "does not match"
        case false?:
            cause = "wrong_password"
            why = "wrong password: neither the vault's HMAC tag nor the manifest HMAC verifies with it"
        case nil:
            cause = "unknown"
            why = "wrong password or tampered vault: the vault's HMAC tag does not match"
        }
        return Finding(.vaultTagMismatch, data: ["cause": cause], message: "\(why); nothing was decrypted")
    }

    static func vaultKeyFailed(_ error: any Error) -> Finding {
        Finding(.vaultKeyFailed, data: ["error": "\(error)"], message: "\(error)")
    }

    static func vaultDecryptFailed(_ error: any Error) -> Finding {
        Finding(.vaultDecryptFailed, data: ["error": "\(error)"], message: "the tag verifies but \(error)")
    }

    static func vaultTarUnreadable(_ error: String) -> Finding {
        Finding(.vaultTarUnreadable, data: ["error": error], message: "the decrypted tar is unreadable: \(error)")
    }

    static func vaultMemberDuplicated(_ name: String) -> Finding {
        Finding(.vaultMemberDuplicated, data: ["path": name], message: "\(name): stored twice in the vault")
    }

    static func vaultMemberMissing(_ name: String) -> Finding {
        Finding(
            .vaultMemberMissing, data: ["path": name],
            message: "\(name): listed in the manifest, missing from the vault")
    }

    static func vaultMemberNotFile(_ name: String) -> Finding {
        Finding(.vaultMemberNotFile, data: ["path": name], message: "\(name): not a regular file in the vault")
    }

    static func vaultMemberSize(_ name: String, actual: Int64, recorded: Int64) -> Finding {
        Finding(
            .vaultMemberSize, data: ["path": name, "actual": "\(actual)", "expected": "\(recorded)"],
            message: "\(name): \(actual) bytes in the vault, the manifest records \(recorded)")
    }

    static func vaultMemberDigest(_ name: String) -> Finding {
        Finding(.vaultMemberDigest, data: ["path": name], message: "\(name): HMAC digest differs from the manifest")
    }

    static func vaultMemberNoDigest(_ name: String) -> Finding {
        Finding(.vaultMemberNoDigest, data: ["path": name], message: "\(name): the manifest records no HMAC digest")
    }

    static func vaultMemberExtra(_ name: String) -> Finding {
        Finding(.vaultMemberExtra, data: ["path": name], message: "\(name): in the vault, not in the manifest")
    }

    /// `path` as shown: `~/…` or `$ROOT/…`.
    static func vaultRestoredMissing(_ path: String) -> Finding {
        Finding(.vaultRestoredMissing, data: ["path": path], message: "\(path): not restored")
    }

    static func vaultRestoredNotFile(_ path: String, type: String) -> Finding {
        Finding(
            .vaultRestoredNotFile, data: ["path": path, "actual": type],
            message: "\(path): restored as a \(type), not a file")
    }

    /// `mode` in octal as shown (`0644`).
    static func vaultRestoredMode(_ path: String, mode: String) -> Finding {
        Finding(
            .vaultRestoredMode, data: ["path": path, "actual": mode, "expected": "0600"],
            message: "\(path): mode \(mode), expected 0600")
    }

    static func vaultRestoredDigest(_ path: String) -> Finding {
        Finding(
            .vaultRestoredDigest, data: ["path": path],
            message: "\(path): restored content differs (HMAC digest does not match)")
    }

    /// `reason` as ``RestoredTree/explain(_:for:)`` words it.
    static func vaultRestoredNotFollowed(_ path: String, reason: String) -> Finding {
        Finding(.vaultRestoredNotFollowed, data: ["path": path, "reason": reason], message: "\(path): \(reason)")
    }

    static func vaultRestoredUnreadable(_ error: any Error) -> Finding {
        Finding(
            .vaultRestoredUnreadable, data: ["error": "\(error)"],
            message: "restored credentials cannot be read: \(error)")
    }

    // MARK: restore.script

    static let scriptMissing = Finding(.scriptMissing, message: "the restore script is missing from the set")

    static func scriptNotStarted(_ error: any Error) -> Finding {
        Finding(.scriptNotStarted, data: ["error": "\(error)"], message: "the replay could not start: \(error)")
    }

    static func scriptTimedOut(seconds: Double) -> Finding {
        Finding(
            .scriptTimedOut, data: ["timeout_seconds": "\(seconds)"],
            message: "killed after the timeout of \(Units.humanSeconds(seconds))")
    }

    static func scriptOutputCapped(bytes: Int) -> Finding {
        Finding(
            .scriptOutputCapped, data: ["cap_bytes": "\(bytes)"],
            message: "output passed the cap of \(Units.humanBytes(Int64(bytes)))")
    }

    static func scriptExitStatus(_ status: Int32) -> Finding {
        Finding(.scriptExitStatus, data: ["status": "\(status)"], message: "exited with status \(status)")
    }

    static func scriptKilledBySignal(_ signal: Int32) -> Finding {
        Finding(.scriptKilledBySignal, data: ["signal": "\(signal)"], message: "killed by signal \(signal)")
    }

    static let scriptDidNotExit = Finding(.scriptDidNotExit, message: "did not exit")
    static let scriptNotIsolated = Finding(
        .scriptNotIsolated, message: "ran with isolation none, but --require-isolation was given")

    static func scriptStoppedByLimit(
        _ limit: ReplayLimit, limits: RestoreDrillConfig.ResourceLimits, byteBound: Int64
    ) -> Finding {
        let (value, message): (String, String)
        switch limit {
        case .memoryCgroup:
            value = String(limits.memory)
            message =
                "stopped by the memory cgroup: the replay's processes together passed sandbox.limits.memory "
                + "(\(Units.humanBytes(limits.memory))) and the kernel killed one"
        case .pidsCgroup:
            value = String(limits.processes)
            message =
                "stopped by the pids cgroup: the replay tried to run more than sandbox.limits.processes "
                + "(\(limits.processes)) processes and a fork was refused"
        case .byteBound:
            value = String(byteBound)
            message =
                "stopped by the byte bound: the sandbox held more than \(Units.humanBytes(byteBound)), the most "
                + "this set's restore may write (\(ReplayRequest.byteBoundSetMultiple) × the set's bytes + "
                + "\(Units.humanBytes(ReplayRequest.byteBoundAllowance)), more for a proven set)"
        case .shmCap, .seccomp:
            value = ""
            message = "stopped by the \(limit.rawValue)"
        }
        return Finding(.scriptStoppedByLimit, data: ["limit": limit.rawValue, "value": value], message: message)
    }

    static func scriptChangedOutside(_ changes: [String]) -> Finding {
        Finding(
            .scriptChangedOutside, data: ["changes": listValue(changes)],
            message: "changed files outside the sandbox: " + ArchiveInspection.sample(changes, limit: 3))
    }

    // MARK: db.integrity

    static let databaseNotRestored = Finding(.databaseNotRestored, message: "database was not restored")

    /// `reason` as ``RestoredTree/explain(_:for:)`` words it.
    static func databaseNotFollowed(_ reason: String) -> Finding {
        Finding(.databaseNotFollowed, data: ["reason": reason], message: "database \(reason)")
    }

    static func databaseNotRegularFile(_ kind: BeneathRoot.EntryKind) -> Finding {
        Finding(
            .databaseNotRegularFile, data: ["kind": kind.rawValue],
            message: "database is a \(kind.rawValue), not a regular file: not opened")
    }

    static func databaseStaleSidecar(_ suffix: String) -> Finding {
        Finding(.databaseStaleSidecar, data: ["suffix": suffix], message: "a stale \(suffix) file lies beside it")
    }

    static let databaseWALMode = Finding(
        .databaseWALMode, message: "database is in WAL mode, not rollback-journal mode")

    static func databaseUnopenable(_ reason: String) -> Finding {
        Finding(.databaseUnopenable, data: ["reason": reason], message: "cannot be opened: \(reason)")
    }

    static func databaseIntegrity(_ lines: [String]) -> Finding {
        Finding(
            .databaseIntegrity, data: ["lines": listValue(lines)],
            message: "integrity_check: " + lines.prefix(3).joined(separator: " | "))
    }

    static func databaseForeignKeys(count: Int, table: String, row: String) -> Finding {
        Finding(
            .databaseForeignKeys, data: ["count": "\(count)", "table": table, "row": row],
            message: "foreign_key_check: \(count) violations, first in table \(table) row \(row)")
    }

    /// `what` is the clause's subject: `integrity_check`, `foreign_key_check`, `tables`.
    static func databaseQueryFailed(_ what: String, verb: String = "could not run", _ error: any Error) -> Finding {
        Finding(
            .databaseQueryFailed, data: ["query": what, "error": "\(error)"], message: "\(what) \(verb): \(error)")
    }

    static func databaseTablesMissing(_ tables: [String]) -> Finding {
        Finding(
            .databaseTablesMissing, data: ["tables": listValue(tables)],
            message: "tables missing: " + tables.joined(separator: ", "))
    }

    /// `recorded`: every table the manifest records, sorted.
    static func databaseNoTables(_ recorded: [String]) -> Finding {
        Finding(
            .databaseNoTables, data: ["tables": listValue(recorded)],
            message:
                "no tables at all: every table the manifest records is gone (\(recorded.count): "
                + ArchiveInspection.sample(recorded) + "); an empty database in its place")
    }

    static func databaseTablesExtra(_ tables: [String]) -> Finding {
        Finding(
            .databaseTablesExtra, data: ["tables": listValue(tables)],
            message: "tables not in the manifest: " + tables.joined(separator: ", "))
    }

    static func databaseRowCount(table: String, rows: Int64, recorded: Int64) -> Finding {
        Finding(
            .databaseRowCount, data: ["table": table, "actual": "\(rows)", "expected": "\(recorded)"],
            message: "table \(table) has \(rows) rows, manifest records \(recorded)")
    }

    // MARK: launchagents.rewrite and launchagents.lint

    /// `which` is `restored plist` or `stored artifact <path>`; `problem` what reading it said.
    static func agentUnreadable(_ which: String, problem: String) -> Finding {
        Finding(.agentUnreadable, data: ["which": which, "problem": problem], message: "\(which) \(problem)")
    }

    static let agentContentDiffers = Finding(
        .agentContentDiffers, message: "content differs from the stored plist with its paths rewritten")

    static func agentOldPathLeft(_ strings: [String]) -> Finding {
        Finding(
            .agentOldPathLeft, data: ["strings": listValue(strings)],
            message: "still points to the old home or root: " + strings.prefix(3).joined(separator: ", "))
    }

    static func agentPathsOutside(_ paths: [String]) -> Finding {
        Finding(
            .agentPathsOutside, data: ["paths": listValue(paths)],
            message: "paths outside the sandbox and system folders: " + paths.prefix(3).joined(separator: ", "))
    }

    static func agentProgramUnusable(_ program: String, _ location: String) -> Finding {
        Finding(
            .agentProgramUnusable, data: ["program": program, "problem": location],
            message: "program \(program) \(location)")
    }

    static let agentNoProgram = Finding(.agentNoProgram, message: "no ProgramArguments[0] or Program")

    static func agentLint(_ rule: AgentLintRule, _ message: String) -> Finding {
        Finding(.agentLint(rule), data: ["rule": rule.rawValue], message: message)
    }
}
