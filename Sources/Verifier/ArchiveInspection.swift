import Archive
import CArchive
import DrillCore
import Foundation

/// One member of a tar archive as its header describes it (the data is never read).
///
/// Names are the header's bytes exactly (``FileNameBytes``: NFD stays NFD, a name that is not
/// UTF-8 is in the marker form), read without libarchive's UTF-8 conversion, which would
/// recompose them; they are compared with the manifest byte for byte.
struct ArchiveMember: Equatable {
    /// The name as stored.
    var rawName: String
    /// The name with its `.` segments and empty segments (`a//b`, a trailing `/`) removed
    /// (``ArchiveInspection/normalize(_:)``): what the member is compared with the manifest as.
    var name: String
    /// file, symlink or directory; nil for devices, fifos, sockets.
    var type: FileType?
    /// Permission bits including setuid/setgid.
    var mode: Int
    /// Symlink target, when a symlink.
    var symlink: String?
    /// Hard-link target (another member name), when a hard link.
    var hardlink: String?
}

/// `restore.archives`: inspects an archive before anything is unpacked
/// (docs/ARCHITECTURE.md, "A drill", step 2).
///
/// A member fails when its name is absolute, holds a `..` segment or a control character; when
/// it is a device, fifo or socket; when it has the setuid or setgid bit; when it is a symlink or
/// hard link whose target, resolved lexically from the member's folder, leaves the archive's
/// root (an absolute symlink target always leaves it). The member list (path and type) must equal
/// the manifest's files of the archive's component; directory members are accepted when they
/// are listed or are folders of listed paths. Names are compared without their `.` segments
/// (``normalize(_:)``). Finder and AppleDouble members the manifest does not list
/// (``MacMetadata``) are a note, not extra members; the dangers above apply to them all the same.
struct ArchiveInspection {
    /// Reads every header of the archive open as `file` (opened beneath the set folder without
    /// following links; see ``check(archive:setPath:expected:)``).
    /// - Returns: the members in order, and the read error that stopped the listing, if any.
    static func members(of file: OpenedFile) -> (members: [ArchiveMember], error: String?) {
        guard let archive = ArchiveReader(formats: [.tar, .gnutar], allFilters: true) else {
            return ([], "libarchive could not allocate a reader")
        }
        func lastError() -> String { archive.errorString ?? "unknown libarchive error" }
        guard archive.open(descriptor: file.descriptor, blockSize: 1 << 16) == ARCHIVE_OK else {
            return ([], "cannot open: \(lastError())")
        }
        var members: [ArchiveMember] = []
        while true {
            let (status, header) = archive.nextHeader()
            if status == ARCHIVE_EOF { break }
            if status == ARCHIVE_FATAL || status == ARCHIVE_RETRY {
                return (members, "archive unreadable after \(members.count) members: \(lastError())")
            }
            guard let entry = header else { break }
            // The bytes as stored (pax `hdrcharset=BINARY` in this tool's archives): never through
            // the UTF-8 accessor, whose conversion recomposes NFD names.
            let raw =
                archive_entry_pathname(entry).map(FileNameBytes.string(cString:))
                ?? archive_entry_pathname_utf8(entry).map(FileNameBytes.string(cString:)) ?? ""
            let fileType = archive_entry_filetype(entry)
            var type: FileType?
            switch UInt32(fileType) {
            case RD_AE_IFREG: type = .file
            case RD_AE_IFDIR: type = .directory
            case RD_AE_IFLNK: type = .symlink
            default: type = nil
            }
            let symlink =
                archive_entry_symlink(entry).map(FileNameBytes.string(cString:))
                ?? archive_entry_symlink_utf8(entry).map(FileNameBytes.string(cString:))
            let hardlink =
                archive_entry_hardlink(entry).map(FileNameBytes.string(cString:))
                ?? archive_entry_hardlink_utf8(entry).map(FileNameBytes.string(cString:))
            if hardlink != nil && type == nil { type = .file }
            members.append(
                ArchiveMember(
                    rawName: raw, name: normalize(raw), type: type, mode: Int(archive_entry_perm(entry)) & 0o7777,
                    symlink: type == .symlink ? symlink : nil, hardlink: hardlink))
            // Reading data proves the compressed stream is whole without writing anything.
            if archive.skipData() == ARCHIVE_FATAL {
                return (members, "archive unreadable in member \(FileNameBytes.display(raw)): \(lastError())")
            }
        }
        return (members, nil)
    }

    /// The name a member is compared with the manifest as (issue 12): without `.` segments and
    /// empty ones, wherever they are (`./a`, `project/./docs/x`, `a/./b/.`, `a//b/`), which tar
    /// and libarchive extract to the same place as the name without them. A leading `/` is kept
    /// (an absolute name stays absolute, and refused) and so is every `..` segment (refused): the
    /// name is never folded, only cleaned. `.` or `./` alone gives `""` (the archive's root).
    /// Works on the name's bytes, so nothing but `.` and `/` bytes are touched.
    static func normalize(_ raw: String) -> String {
        let slash = UInt8(ascii: "/")
        let kept = raw.utf8.split(separator: slash, omittingEmptySubsequences: true)
            .filter { !$0.elementsEqual([UInt8(ascii: ".")]) }
        var bytes: [UInt8] = raw.utf8.first == slash ? [slash] : []
        for (i, segment) in kept.enumerated() {
            if i > 0 { bytes.append(slash) }
            bytes += segment
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// What is dangerous about one member, one finding per danger; empty when nothing.
    static func dangers(_ member: ArchiveMember) -> [Finding] {
        var out: [Finding] = []
        let raw = FileNameBytes.display(member.rawName)
        func danger(_ code: Finding.Code, _ text: String, _ data: [String: String] = [:]) {
            out.append(.archiveDanger(code, member: raw, text, data: data))
        }
        if raw.hasPrefix("/") { danger(.archiveMemberAbsolute, "absolute name") }
        if raw.split(separator: "/").contains("..") { danger(.archiveMemberDotDot, "`..` segment in the name") }
        if TextFormat.hasControlCharacters(raw) {
            danger(.archiveMemberControlCharacter, "control character in the name")
        }
        if member.type == nil { danger(.archiveMemberSpecial, "device, fifo or socket") }
        if member.mode & 0o6000 != 0 {
            let mode = TextFormat.octal(member.mode)
            danger(.archiveMemberSetID, "setuid or setgid bit (mode \(mode))", ["mode": mode])
        }
        if let target = member.symlink {
            if TextFormat.hasControlCharacters(target) {
                danger(.archiveLinkControlCharacter, "control character in the link target", ["target": target])
            }
            if target.hasPrefix("/") {
                danger(
                    .archiveLinkEscapes, "symlink to absolute path \(target) leaves the restore root",
                    ["target": target, "link": "symlink"])
            } else {
                // The target taken from the link's folder, folded lexically: a leading `..` leaves.
                let name = String(member.name.drop { $0 == "/" })  // an absolute name is flagged above
                let folder = (try? RelativePath(validating: name))?.ancestors.last ?? .dot
                if (try? RelativePath(validating: target)).map({ folder.appending($0).climbsAbove }) ?? true {
                    danger(
                        .archiveLinkEscapes, "symlink target \(target) leaves the restore root",
                        ["target": target, "link": "symlink"])
                }
            }
        }
        if let target = member.hardlink {
            if (try? RelativePath(validatingBeneath: target)) == nil
                || target.split(separator: "/").contains("..")
            {
                danger(
                    .archiveLinkEscapes, "hard link to \(target) leaves the restore root",
                    ["target": target, "link": "hard link"])
            }
        }
        return out
    }

    /// Runs `restore.archives` on one archive artifact of a format-1 set (`code.tar.gz`).
    /// - Parameters:
    ///   - expected: the manifest's records this archive must hold (relative to `$ROOT`).
    static func check(archive artifact: ArtifactRecord, setPath: AbsolutePath, expected: [FileRecord]) -> CheckResult {
        var manifest = Manifest(
            id: BackupID(date: Date(timeIntervalSince1970: 0)), name: "check", startedAt: Date(), timeZone: "UTC",
            host: "", home: "/", root: "/")
        manifest.artifacts = [artifact]
        return check(
            archive: artifact, source: ArtifactSource(setPath: setPath, manifest: manifest), expected: expected)
    }

    /// Runs `restore.archives` on one archive artifact, its bytes read through `source` (format 2:
    /// its object).
    static func check(archive artifact: ArtifactRecord, source: ArtifactSource, expected: [FileRecord]) -> CheckResult {
        let watch = Stopwatch()
        // The set is hostile until proven: the archive is opened beneath the set folder (format 2:
        // its object beneath `objects/`), never through a link (a link there is `set.artifacts`'
        // finding; here it is no archive).
        guard case .success(let file) = source.open(artifact) else {
            return CheckResult(
                check: .restoreArchives, subject: artifact.path, findings: [.archiveMissing], seconds: watch.seconds)
        }
        let (members, readError) = members(of: file)
        var clauses = dangerClauses(members, readError: readError)
        let compared = compare(members, expected: expected, duplicates: true)
        clauses += compared.findings.map { ($0.message, [$0]) }
        return render(
            subject: artifact.path, clauses: clauses, note: compared.note,
            evidence: ["\(members.count) members read"] + compared.evidence,
            passMessage: "\(members.count) members, all inside the restore root and listed", seconds: watch.seconds)
    }

    /// Format 2: `restore.archives` on the code component's packs, read in manifest order (the
    /// order the restore extracts them). One result per pack: the dangers of its members, a stream
    /// that cannot be read, members stored twice in it, and every member that an earlier pack
    /// holds already (a pack holding a member of another pack, naming both). Then one result,
    /// subject `code`, comparing the union of the packs' members with the manifest's files of the
    /// code component (missing, extra, wrong type).
    /// - Parameters:
    ///   - packs: the `pack` artifacts, in manifest order.
    ///   - expected: the manifest's `code` records (relative to `$ROOT`).
    ///   - subset: a drill of some packs (issue 17): the members are compared with the manifest's
    ///     files they name (the manifest does not say which pack holds which file), so a member
    ///     that is no file of the manifest, or of another type, still fails; every other check is
    ///     the same.
    /// - Returns: the results, and the members read (names as ``FileNameBytes/key(_:)`` bytes).
    static func checkPacks(
        _ packs: [ArtifactRecord], source: ArtifactSource, expected allExpected: [FileRecord], subset: Bool = false
    ) -> (results: [CheckResult], members: Set<[UInt8]>) {
        let watch = Stopwatch()
        var results: [CheckResult] = []
        var union: [ArchiveMember] = []
        /// The pack that holds each member (by its name's bytes) first.
        var holder: [[UInt8]: String] = [:]
        var unreadable: [String] = []
        for pack in packs {
            let packWatch = Stopwatch()
            guard case .success(let file) = source.open(pack) else {
                unreadable.append(pack.path)
                results.append(
                    CheckResult(
                        check: .restoreArchives, subject: pack.path, findings: [.archiveMissing],
                        seconds: packWatch.seconds))
                continue
            }
            let (members, readError) = members(of: file)
            if readError != nil { unreadable.append(pack.path) }
            var clauses = dangerClauses(members, readError: readError)
            // Stored twice in this pack (a folder twice is harmless in one archive, as in code.tar.gz).
            var seenHere: Set<[UInt8]> = []
            var duplicates: [String] = []
            var inTwo: [Finding] = []
            for member in members where !member.name.isEmpty {
                let key = FileNameBytes.key(member.name)
                if let other = holder[key], other != pack.path {
                    inTwo.append(
                        .archiveMemberInTwoPacks(FileNameBytes.display(member.name), packs: [other, pack.path]))
                    continue
                }
                if !seenHere.insert(key).inserted {
                    if member.type != .directory { duplicates.append(FileNameBytes.display(member.name)) }
                    continue
                }
                holder[key] = pack.path
                union.append(member)
            }
            if !duplicates.isEmpty {
                clauses.append(
                    (Finding.archiveMembersDuplicated(duplicates).message, [.archiveMembersDuplicated(duplicates)]))
            }
            clauses += inTwo.map { ($0.message, [$0]) }
            results.append(
                render(
                    subject: pack.path, clauses: clauses, note: nil, evidence: ["\(members.count) members read"],
                    passMessage: "\(members.count) members, all inside the restore root", seconds: packWatch.seconds))
        }
        let expected = subset ? allExpected.filter { holder[FileNameBytes.key($0.path)] != nil } : allExpected
        let compared = compare(union, expected: expected, duplicates: false)
        var clauses = compared.findings.map { ($0.message, [$0]) }
        if !unreadable.isEmpty {
            // The union lacks what those packs hold: their members are not counted as missing twice.
            clauses = clauses.filter { $0.1.allSatisfy { $0.code != .archiveMembersMissing } }
        }
        let summary = "\(union.count) members in \(packs.count) packs"
        results.append(
            render(
                subject: ComponentID.code.rawValue, clauses: clauses, note: compared.note,
                evidence: [summary] + compared.evidence
                    + (unreadable.isEmpty
                        ? [] : ["not compared: the members of \(unreadable.joined(separator: ", "))"]),
                passMessage: summary
                    + (subset ? ", each a file of the manifest" : ", together exactly the manifest's files"),
                seconds: watch.seconds))
        return (results, Set(holder.keys))
    }

    /// The clauses (message, findings) of the members' dangers, one per dangerous member, and of a
    /// read error.
    static func dangerClauses(_ members: [ArchiveMember], readError: String?) -> [(text: String, findings: [Finding])] {
        var clauses: [(text: String, findings: [Finding])] = []
        for member in members {
            let d = dangers(member)
            if !d.isEmpty { clauses.append((Finding.archiveMemberMessage(d), d)) }
        }
        if let readError {
            let finding = Finding.archiveUnreadable(reason: readError)
            clauses.append((finding.message, [finding]))
        }
        return clauses
    }

    /// The member list against the manifest (path + type), keyed by the names' bytes: `String ==`
    /// would take an NFC name for its NFD twin (issue 12). Names are shown with `\xNN` for bytes
    /// that are not UTF-8.
    /// - Parameter duplicates: report members stored twice (not folders).
    /// - Returns: the findings (missing, extra, wrong type, duplicated), the note about macOS
    ///   metadata, and evidence lines.
    static func compare(_ members: [ArchiveMember], expected: [FileRecord], duplicates reportDuplicates: Bool) -> (
        findings: [Finding], note: Finding?, evidence: [String]
    ) {
        typealias Key = [UInt8]
        var actual: [Key: FileType] = [:]
        var duplicates: [String] = []
        // Names (as bytes) some member of which is not macOS metadata (a link, a hard link, a device).
        var notMetadata: Set<Key> = []
        var names: [Key: String] = [:]
        for member in members where !member.name.isEmpty {
            let key = FileNameBytes.key(member.name)
            names[key] = member.name
            if member.hardlink != nil || !MacMetadata.isMetadata(member.name, type: member.type) {
                notMetadata.insert(key)
            }
            guard let type = member.type else { continue }
            if actual[key] != nil && type != .directory { duplicates.append(FileNameBytes.display(member.name)) }
            actual[key] = type
        }
        var wanted: [Key: FileType] = [:]
        for record in expected { wanted[FileNameBytes.key(record.path)] = record.type }
        let listedFolders = Set(
            expected.flatMap {
                (try? RelativePath(validating: $0.path))?.ancestors.map { FileNameBytes.key($0.pathString) } ?? []
            })
        func shown(_ key: Key) -> String { FileNameBytes.display(String(decoding: key, as: UTF8.self)) }
        var missing: [String] = []
        var extra: [String] = []
        var metadata: [String] = []
        var wrongType: [Finding] = []
        for (key, type) in wanted.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            guard let got = actual[key] else {
                missing.append(shown(key))
                continue
            }
            if got != type { wrongType.append(.archiveMemberTypeMismatch(shown(key), actual: got, recorded: type)) }
        }
        for (key, type) in actual.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) where wanted[key] == nil {
            if type == .directory && listedFolders.contains(key) { continue }
            let known = { (folder: String) in
                let folderKey = FileNameBytes.key(folder)
                return listedFolders.contains(folderKey) || wanted[folderKey] == .directory
            }
            if notMetadata.contains(key) || !MacMetadata.isInKnownFolder(names[key] ?? shown(key), known: known) {
                extra.append(shown(key))
            } else {
                metadata.append(shown(key))
            }
        }
        var others: [Finding] = []
        if !missing.isEmpty { others.append(.archiveMembersMissing(missing)) }
        if !extra.isEmpty { others.append(.archiveMembersExtra(extra)) }
        others += wrongType
        if reportDuplicates && !duplicates.isEmpty { others.append(.archiveMembersDuplicated(duplicates)) }
        // Finder and AppleDouble files the manifest does not list: a note, never a failure.
        let note = metadata.isEmpty ? nil : Finding.archiveMetadataIgnored(metadata)
        let evidence =
            ["\(wanted.count) files listed in the manifest"]
            + missing.prefix(50).map { "missing: \($0)" } + extra.prefix(50).map { "extra: \($0)" }
            + metadata.prefix(50).map { "ignored (macOS metadata): \($0)" }
        return (others, note, evidence)
    }

    /// One `restore.archives` result: a pass (with the metadata note, if any) when there is no
    /// clause, else a failure whose message is `<subject>: ` and the first five clauses.
    static func render(
        subject: String, clauses: [(text: String, findings: [Finding])], note: Finding?, evidence: [String],
        passMessage: String, seconds: Double
    ) -> CheckResult {
        if clauses.isEmpty {
            var passed = CheckResult(
                check: .restoreArchives, subject: subject, verdict: .pass,
                message: passMessage + (note.map { "; " + $0.message } ?? ""), evidence: evidence, seconds: seconds)
            passed.findings = note.map { [$0] } ?? []
            return passed
        }
        let texts = clauses.map(\.text)
        var failed = CheckResult(
            check: .restoreArchives, subject: subject, verdict: .fail,
            message: "\(subject): " + texts.prefix(5).joined(separator: "; "),
            evidence: texts + (note.map { [$0.message] } ?? []) + evidence, seconds: seconds)
        failed.findings = clauses.flatMap(\.findings) + (note.map { [$0] } ?? [])
        return failed
    }

    /// The first few names, then how many more.
    static func sample(_ names: [String], limit: Int = 5) -> String {
        let head = names.prefix(limit).joined(separator: ", ")
        return names.count > limit ? head + ", … (\(names.count - limit) more)" : head
    }
}
