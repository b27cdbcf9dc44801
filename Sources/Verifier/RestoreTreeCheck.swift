import DrillCore
import Foundation

/// `restore.tree`, one result per component: every file the manifest lists was restored with its
/// type, size, SHA-256 (when recorded), permission bits and link target; databases count as files
/// of `databases`; files the restore rewrites (LaunchAgents) are checked for existence and mode
/// only (`launchagents.rewrite` checks their content); credentials are skipped without a
/// password. The restored home and root are walked and every path the manifest does not explain
/// is an extra file, which fails the component it most likely belongs to; Finder and AppleDouble
/// files (``MacMetadata``) among them are a note of that component instead, never a failure.
///
/// Everything is read through ``RestoredTree`` (no link followed at any component): a restored
/// path that is a link where the manifest records a file is a type mismatch, one behind a link
/// folder is `tree.not_followed`, and only what is really in the sandbox is hashed.
///
/// Paths are compared byte for byte (``FileNameBytes``, issue 12): an NFC name and its NFD twin
/// are two expectations, and a restored name that differs from the manifest's only by Unicode
/// normalisation is one missing and one extra path, never a match. Names that are not UTF-8 are
/// looked up by their exact bytes and shown with `\xNN`.
struct RestoreTreeCheck {
    let manifest: Manifest
    let tree: RestoredTree
    let passwordGiven: Bool

    var newHome: AbsolutePath { tree.home }
    var newRoot: AbsolutePath { tree.root }

    /// One expected path with what must hold there.
    struct Expectation: Hashable, Sendable {
        var component: ComponentID
        /// The sandbox path (marker form for a name that is not UTF-8); compare with
        /// ``FileNameBytes/same(_:_:)`` or by ``FileNameBytes/key(_:)``.
        var absolute: String
        /// The manifest path as reports show it (``FileNameBytes/display(_:)``).
        var display: String
        var type: FileType
        var size: Int64?
        var sha256: String?
        var mode: Int?
        var linkTarget: String?
    }

    func base(_ b: PathBase) -> AbsolutePath { b == .root ? newRoot : newHome }

    /// Where a manifest path lands below `b`; an empty path, which no file has, for a name that
    /// climbs out of the restored tree (it is then reported missing, and nothing outside is read).
    func place(_ relative: String, _ b: PathBase) -> String {
        (try? RelativePath(validatingBeneath: relative)).map { base(b).appending($0).pathString } ?? ""
    }

    /// Every path a correct restore produces, by component.
    func expectations() -> [Expectation] {
        var out: [Expectation] = []
        for f in manifest.files {
            if f.component == .credentials && !passwordGiven { continue }
            let rewritten = f.rewritten == true
            let contentKnown = !rewritten && f.component != .credentials
            out.append(
                Expectation(
                    component: f.component, absolute: place(f.path, f.base), display: FileNameBytes.display(f.path),
                    type: f.type,
                    size: f.type == .file && !rewritten ? f.size : nil,
                    sha256: contentKnown && f.type == .file ? f.sha256 : nil,
                    mode: f.type == .symlink ? nil : f.mode,
                    linkTarget: f.type == .symlink ? f.linkTarget : nil))
        }
        for d in manifest.databases {
            out.append(
                Expectation(
                    component: .databases, absolute: place(d.path, d.base), display: d.path, type: .file,
                    size: d.size, sha256: d.sha256, mode: d.mode, linkTarget: nil))
        }
        // A LaunchAgent the files already list is not expected twice; looked up by bytes in a set
        // (a search of every expectation per agent, each placing the agent again, was quadratic).
        var listed = Set(out.map { FileNameBytes.key($0.absolute) })
        for agent in manifest.launchAgents {
            let absolute = place(agent.path, .home)
            guard listed.insert(FileNameBytes.key(absolute)).inserted else { continue }
            out.append(
                Expectation(
                    component: .launchagents, absolute: absolute, display: agent.path,
                    type: .file, size: nil, sha256: nil, mode: agent.mode, linkTarget: nil))
        }
        return out
    }

    /// What is wrong with one restored path; empty when right.
    func problems(_ e: Expectation) -> [Finding] {
        guard let path = try? AbsolutePath(validating: e.absolute), let relative = tree.relative(path) else {
            return [.treeMissing(e.display)]
        }
        let facts: FileFacts
        switch tree.beneath.entry(relative) {
        case .success(let entry): facts = FileFacts(entry)
        case .failure(.missing): return [.treeMissing(e.display)]
        case .failure(let refusal): return [.treeNotFollowed(e.display, reason: tree.explain(refusal, for: relative))]
        }
        guard facts.type == e.type else {
            return [.treeTypeMismatch(e.display, actual: facts.type?.rawValue ?? "special file", expected: e.type)]
        }
        var out: [Finding] = []
        if let mode = e.mode, facts.mode != mode & 0o7777 {
            out.append(
                .treeModeMismatch(
                    e.display, actual: TextFormat.octal(facts.mode), expected: TextFormat.octal(mode & 0o7777)))
        }
        if let target = e.linkTarget {
            let actual = try? tree.beneath.linkTarget(relative).get()
            // Compared as bytes: an NFD target is not its NFC twin.
            if actual.map({ !FileNameBytes.same($0, target) }) ?? true {
                out.append(
                    .treeLinkMismatch(
                        e.display, actual: actual.map(FileNameBytes.display) ?? "?",
                        expected: FileNameBytes.display(target)))
            }
        }
        if let size = e.size, facts.size != size {
            out.append(.treeSizeMismatch(e.display, actual: facts.size, expected: size))
        } else if let sha = e.sha256 {
            // Hashed through the descriptor opened without following links; its own size counts.
            switch tree.beneath.openFile(relative) {
            case .success(let file):
                do {
                    let hasher = SHA256Hasher()
                    let read = try file.forEachBlock { hasher.update($0) }
                    let actual = hasher.finalizeHex()
                    if let size = e.size, read != size {
                        out.append(.treeSizeMismatch(e.display, actual: read, expected: size))
                    } else if actual != sha {
                        out.append(.treeDigestMismatch(e.display, actual: actual, expected: sha))
                    }
                } catch {
                    out.append(.treeUnreadable(e.display, error))
                }
            case .failure(let refusal):
                out.append(.treeNotFollowed(e.display, reason: tree.explain(refusal, for: relative)))
            }
        }
        return out
    }

    /// Paths under the restored home and root that no expectation explains, a folder with its
    /// trailing `/`; `metadata` when the path is macOS metadata (``MacMetadata``: a note, not an
    /// extra file).
    func extras(_ expected: [Expectation]) -> [(component: ComponentID, path: String, metadata: Bool)] {
        // Keyed by bytes: `Set<String>` would let a restored NFD name pass for the NFC one listed.
        var known = Set(expected.map { FileNameBytes.key($0.absolute) })
        for e in expected {
            guard let path = try? AbsolutePath(validating: e.absolute) else { continue }
            for anchor in [newRoot, newHome] {
                guard let rel = path.relative(to: anchor) else { continue }
                for ancestor in rel.ancestors { known.insert(FileNameBytes.key(anchor.appending(ancestor).pathString)) }
            }
        }
        // The folders leading from the home to the root are part of the layout.
        if let rel = newRoot.relative(to: newHome) {
            for ancestor in rel.ancestors + [rel] where ancestor != .dot {
                known.insert(FileNameBytes.key(newHome.appending(ancestor).pathString))
            }
        }
        var out: [(ComponentID, String, Bool)] = []
        // Listed with fdopendir on folders opened without following links; a folder that is a
        // link is an entry like any other and is never entered.
        func walk(_ folder: OpenedFolder, at path: AbsolutePath) {
            guard let names = try? folder.names().get() else { return }
            for name in names.sorted(by: FileNameBytes.precedes) {
                let entry = path.appending(component: name)  // a directory entry's name: one component
                let text = entry.pathString
                let kind = (try? folder.entry(name).get())?.kind
                let isDir = kind == .directory
                if !known.contains(FileNameBytes.key(text)) {
                    var metadata = kind.map { MacMetadata.isMetadataEntry(name, kind: $0) } ?? false
                    if metadata && isDir {
                        // A `__MACOSX` folder is metadata only when it holds nothing but folders
                        // and regular files.
                        metadata = (try? folder.openFolder(name).get()).map { Self.onlyFilesAndFolders($0) } ?? false
                    }
                    out.append((attribute(text), isDir ? text + "/" : text, metadata))
                    continue
                }
                if isDir, let inner = try? folder.openFolder(name).get() { walk(inner, at: entry) }
            }
        }
        func walk(_ top: AbsolutePath) {
            guard let relative = tree.relative(top), let folder = try? tree.beneath.openFolder(relative).get() else {
                return
            }
            walk(folder, at: top)
        }
        walk(newHome)
        if !newRoot.isDescendantOrSelf(of: newHome) { walk(newRoot) }
        return out
    }

    /// Whether `folder` holds only folders and regular files, down to 32 levels and 10 000 entries
    /// (past either, false: not judged metadata). Never follows a link.
    static func onlyFilesAndFolders(_ folder: OpenedFolder) -> Bool {
        var budget = 10_000
        func scan(_ folder: OpenedFolder, depth: Int) -> Bool {
            guard depth < 32, let names = try? folder.names().get() else { return false }
            for name in names {
                budget -= 1
                guard budget > 0, let kind = (try? folder.entry(name).get())?.kind else { return false }
                switch kind {
                case .file: continue
                case .directory:
                    guard let inner = try? folder.openFolder(name).get(), scan(inner, depth: depth + 1) else {
                        return false
                    }
                default: return false
                }
            }
            return true
        }
        return scan(folder, depth: 0)
    }

    /// The component an unexplained path most likely belongs to.
    func attribute(_ path: String) -> ComponentID {
        for d in manifest.databases {
            let db = place(d.path, d.base)
            // A prefix of the text on purpose: `app.db-wal` and `app.db-shm` belong to `app.db`.
            if !db.isEmpty && path.utf8.starts(with: db.utf8) { return .databases }
        }
        guard let path = try? AbsolutePath(validating: path) else { return .shell }
        if path.isDescendantOrSelf(of: newRoot) { return .code }
        if path.isDescendantOrSelf(of: newHome.appending(components: "Library", "LaunchAgents")) {
            return .launchagents
        }
        return .shell
    }

    /// Runs the check; one result per component of the manifest (and one for any component that
    /// only extra files point at).
    func run() -> [CheckResult] {
        let expected = expectations()
        return run(expected: expected, problemsOf: { problems(expected[$0]) })
    }

    /// ``run()`` with every restored file checked (and hashed) on every core (``ParallelChecks``);
    /// the same results.
    func runConcurrently(meter: ByteMeter? = nil) async -> [CheckResult] {
        let watch = Stopwatch()
        let expected = expectations()
        // The walk for extra files only lists folders: it runs beside the hashing.
        async let extraFiles = BlockingWork.map([expected], width: 1) { [self] in extras($0) }[0]
        // Largest first, so the longest hash starts early.
        let order = expected.indices.sorted { (expected[$0].size ?? 0) > (expected[$1].size ?? 0) }
        let found = await ParallelChecks.map(order) { [self] i in
            let found = problems(expected[i])
            meter?.add(expected[i].size ?? 0)
            return (expected[i], found)
        }
        // By position, never by value: an NFC expectation and its NFD twin are `==` as `String`s.
        var byIndex = [[Finding]?](repeating: nil, count: expected.count)
        for (i, (_, findings)) in zip(order, found) { byIndex[i] = findings }
        return run(
            expected: expected, extraFiles: await extraFiles, problemsOf: { byIndex[$0] ?? problems(expected[$0]) },
            started: watch)
    }

    /// - Parameter problemsOf: the findings of `expected[i]`, asked by index.
    /// - Parameter extraFiles: ``extras(_:)`` of `expected`, when already listed.
    private func run(
        expected: [Expectation], extraFiles listed: [(component: ComponentID, path: String, metadata: Bool)]? = nil,
        problemsOf: (Int) -> [Finding], started: Stopwatch = Stopwatch()
    ) -> [CheckResult] {
        let watch = started
        let extraFiles = listed ?? extras(expected)
        var results: [CheckResult] = []
        var seen: Set<ComponentID> = []
        for record in manifest.components.sorted(by: { $0.id < $1.id }) {
            seen.insert(record.id)
            let mine = expected.indices.filter { expected[$0].component == record.id }
            let unexplained = extraFiles.filter { $0.component == record.id }
            let myExtras = unexplained.filter { !$0.metadata }.map(\.path)
            let checked = result(
                for: record, expected: mine.map { expected[$0] }, extras: myExtras,
                problems: { mine.flatMap(problemsOf) })
            results.append(noting(unexplained.filter(\.metadata).map(\.path), in: checked))
        }
        for component in Set(extraFiles.map(\.component)).subtracting(seen).sorted() {
            let unexplained = extraFiles.filter { $0.component == component }
            let myExtras = unexplained.filter { !$0.metadata }.map(\.path)
            let extra = Finding.treeExtraFiles(display(myExtras))
            var failed =
                myExtras.isEmpty
                ? .noSubject(.restoreTree, subject: component.rawValue, reason: "component not in this set's manifest")
                : CheckResult(
                    check: .restoreTree, subject: component.rawValue, verdict: .fail, message: extra.message,
                    evidence: display(myExtras).map { "extra: \($0)" })
            if !myExtras.isEmpty { failed.findings = [extra] }
            results.append(noting(unexplained.filter(\.metadata).map(\.path), in: failed))
        }
        let share = watch.seconds / Double(max(results.count, 1))
        return results.map {
            var r = $0
            r.seconds = share
            return r
        }
    }

    /// `result` with a note of the macOS metadata files `paths` (sandbox paths) appended to its
    /// message, evidence and findings; unchanged when there are none. The verdict stays.
    func noting(_ paths: [String], in result: CheckResult) -> CheckResult {
        guard !paths.isEmpty else { return result }
        let note = Finding.treeMetadataIgnored(display(paths))
        var out = result
        out.message += "; " + note.message
        out.evidence += display(paths).prefix(200).map { "ignored (macOS metadata): \($0)" }
        out.findings.append(note)
        return out
    }

    /// Sandbox paths shown relative to the sandbox home (`~/…`) or root (`$ROOT/…`), bytes that
    /// are not UTF-8 as `\xNN`.
    func display(_ paths: [String]) -> [String] {
        paths.map { p in FileNameBytes.display(shownInSandbox(p)) }
    }

    private func shownInSandbox(_ p: String) -> String {
        // A folder is shown with its trailing `/`, which the typed path drops.
        let slash = p.utf8.count > 1 && p.utf8.last == UInt8(ascii: "/") ? "/" : ""
        guard let path = try? AbsolutePath(validating: p) else { return p }
        if let rel = path.relative(to: newRoot) { return "$ROOT/" + (rel == .dot ? "" : rel.pathString + slash) }
        if let rel = path.relative(to: newHome) { return "~/" + (rel == .dot ? "" : rel.pathString + slash) }
        return p
    }

    func result(
        for record: ComponentRecord, expected: [Expectation], extras: [String],
        problems: () -> [Finding]
    ) -> CheckResult {
        let subject = record.id.rawValue
        if extras.isEmpty {
            switch record.status {
            case .skipped where expected.isEmpty:
                return .noSubject(
                    .restoreTree, subject: subject,
                    reason: "component skipped at backup: \(record.reason ?? "no reason recorded")")
            case .failed:
                let failed = Finding.treeComponentFailed(reason: record.reason ?? "no reason recorded")
                var out = CheckResult(check: .restoreTree, subject: subject, verdict: .fail, message: failed.message)
                out.findings = [failed]
                return out
            default:
                break
            }
            if record.id == .credentials && !passwordGiven {
                return .noSubject(
                    .restoreTree, subject: subject, reason: "no password given: credentials are not restored")
            }
            if expected.isEmpty {
                return .noSubject(.restoreTree, subject: subject, reason: "no files in this component")
            }
        }
        var findings = problems()
        let missing = findings.filter { $0.code == .treeMissing }.count
        if !extras.isEmpty { findings.append(.treeExtraFiles(display(extras))) }
        if findings.isEmpty {
            return CheckResult(
                check: .restoreTree, subject: subject, verdict: .pass,
                message: "\(expected.count) paths restored with size, digest and mode",
                evidence: ["\(expected.count) paths checked"])
        }
        let summary = "\(expected.count) paths checked, \(missing) missing, \(extras.count) extra"
        return CheckResult(
            check: .restoreTree, subject: subject, findings: findings, shown: 4,
            evidence: [summary] + findings.prefix(200).map(\.message)
                + display(extras).prefix(200).map { "extra: \($0)" })
    }
}
