import DrillCore
import Foundation

/// `restore.tree`, one result per component: every file the manifest lists was restored with its
/// type, size, SHA-256 (when recorded), permission bits and link target; databases count as files
/// of `databases`; files the restore rewrites (LaunchAgents) are checked for existence and mode
/// only (`launchagents.rewrite` checks their content); credentials are skipped without a
/// password. The restored home and root are walked and every path the manifest does not explain
/// is an extra file, which fails the component it most likely belongs to.
struct RestoreTreeCheck {
    let manifest: Manifest
    let newHome: String
    let newRoot: String
    let passwordGiven: Bool

    /// One expected path with what must hold there.
    struct Expectation: Hashable, Sendable {
        var component: ComponentID
        var absolute: String
        var display: String
        var type: FileType
        var size: Int64?
        var sha256: String?
        var mode: Int?
        var linkTarget: String?
    }

    func base(_ b: PathBase) -> String { b == .root ? newRoot : newHome }

    /// Every path a correct restore produces, by component.
    func expectations() -> [Expectation] {
        var out: [Expectation] = []
        for f in manifest.files {
            if f.component == .credentials && !passwordGiven { continue }
            let rewritten = f.rewritten == true
            let contentKnown = !rewritten && f.component != .credentials
            out.append(
                Expectation(
                    component: f.component, absolute: PathText.join(base(f.base), f.path), display: f.path,
                    type: f.type,
                    size: f.type == .file && !rewritten ? f.size : nil,
                    sha256: contentKnown && f.type == .file ? f.sha256 : nil,
                    mode: f.type == .symlink ? nil : f.mode,
                    linkTarget: f.type == .symlink ? f.linkTarget : nil))
        }
        for d in manifest.databases {
            out.append(
                Expectation(
                    component: .databases, absolute: PathText.join(base(d.base), d.path), display: d.path, type: .file,
                    size: d.size, sha256: d.sha256, mode: d.mode, linkTarget: nil))
        }
        for agent in manifest.launchAgents
        where !out.contains(where: { $0.absolute == PathText.join(newHome, agent.path) }) {
            out.append(
                Expectation(
                    component: .launchagents, absolute: PathText.join(newHome, agent.path), display: agent.path,
                    type: .file, size: nil, sha256: nil, mode: agent.mode, linkTarget: nil))
        }
        return out
    }

    /// What is wrong with one restored path; empty when right.
    func problems(_ e: Expectation) -> [Finding] {
        guard let facts = FileFacts.of(e.absolute) else { return [.treeMissing(e.display)] }
        guard facts.type == e.type else {
            return [.treeTypeMismatch(e.display, actual: facts.type?.rawValue ?? "special file", expected: e.type)]
        }
        var out: [Finding] = []
        if let mode = e.mode, facts.mode != mode & 0o7777 {
            out.append(
                .treeModeMismatch(
                    e.display, actual: PathText.octal(facts.mode), expected: PathText.octal(mode & 0o7777)))
        }
        if let target = e.linkTarget, FileFacts.linkTarget(e.absolute) != target {
            out.append(.treeLinkMismatch(e.display, actual: FileFacts.linkTarget(e.absolute) ?? "?", expected: target))
        }
        if let size = e.size, facts.size != size {
            out.append(.treeSizeMismatch(e.display, actual: facts.size, expected: size))
        } else if let sha = e.sha256 {
            do {
                let actual = try SHA256Digest.file(at: e.absolute).sha256
                if actual != sha { out.append(.treeDigestMismatch(e.display, actual: actual, expected: sha)) }
            } catch {
                out.append(.treeUnreadable(e.display, error))
            }
        }
        return out
    }

    /// Paths under the restored home and root that no expectation explains.
    func extras(_ expected: [Expectation]) -> [(component: ComponentID, path: String)] {
        var known = Set(expected.map(\.absolute))
        for e in expected {
            for anchor in [newRoot, newHome] {
                guard let rel = PathText.relative(e.absolute, to: anchor) else { continue }
                for ancestor in PathText.ancestors(rel) { known.insert(PathText.join(anchor, ancestor)) }
            }
        }
        // The folders leading from the home to the root are part of the layout.
        if let rel = PathText.relative(newRoot, to: newHome) {
            for ancestor in PathText.ancestors(rel) + [rel] where !ancestor.isEmpty {
                known.insert(PathText.join(newHome, ancestor))
            }
        }
        var out: [(ComponentID, String)] = []
        func walk(_ folder: String) {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
            for name in names.sorted() {
                let path = PathText.join(folder, name)
                let isDir = FileFacts.of(path)?.type == .directory
                if !known.contains(path) {
                    out.append((attribute(path), isDir ? path + "/" : path))
                    continue
                }
                if isDir { walk(path) }
            }
        }
        walk(newHome)
        if !PathText.isUnder(newRoot, newHome) { walk(newRoot) }
        return out
    }

    /// The component an unexplained path most likely belongs to.
    func attribute(_ path: String) -> ComponentID {
        for d in manifest.databases {
            let db = PathText.join(base(d.base), d.path)
            if path.hasPrefix(db) { return .databases }
        }
        if PathText.isUnder(path, newRoot) { return .code }
        if PathText.isUnder(path, PathText.join(newHome, "Library/LaunchAgents")) { return .launchagents }
        return .shell
    }

    /// Runs the check; one result per component of the manifest (and one for any component that
    /// only extra files point at).
    func run() -> [CheckResult] {
        run(expected: expectations(), problemsOf: problems)
    }

    /// ``run()`` with every restored file checked (and hashed) on every core (``ParallelChecks``);
    /// the same results.
    func runConcurrently(meter: ByteMeter? = nil) async -> [CheckResult] {
        let watch = Stopwatch()
        let expected = expectations()
        // Largest first, so the longest hash starts early.
        let order = expected.indices.sorted { (expected[$0].size ?? 0) > (expected[$1].size ?? 0) }
        let found = await ParallelChecks.map(order) { [self] i in
            let found = problems(expected[i])
            meter?.add(expected[i].size ?? 0)
            return (expected[i], found)
        }
        let byExpectation = Dictionary(found, uniquingKeysWith: { first, _ in first })
        return run(expected: expected, problemsOf: { byExpectation[$0] ?? problems($0) }, started: watch)
    }

    private func run(expected: [Expectation], problemsOf: (Expectation) -> [Finding], started: Stopwatch = Stopwatch())
        -> [CheckResult]
    {
        let watch = started
        let extraFiles = extras(expected)
        var results: [CheckResult] = []
        var seen: Set<ComponentID> = []
        for record in manifest.components.sorted(by: { $0.id < $1.id }) {
            seen.insert(record.id)
            let mine = expected.filter { $0.component == record.id }
            let myExtras = extraFiles.filter { $0.component == record.id }.map(\.path)
            results.append(result(for: record, expected: mine, extras: myExtras, problemsOf: problemsOf))
        }
        for component in Set(extraFiles.map(\.component)).subtracting(seen).sorted() {
            let myExtras = extraFiles.filter { $0.component == component }.map(\.path)
            let extra = Finding.treeExtraFiles(display(myExtras))
            var failed = CheckResult(
                check: .restoreTree, subject: component.rawValue, verdict: .fail, message: extra.message,
                evidence: display(myExtras).map { "extra: \($0)" })
            failed.findings = [extra]
            results.append(failed)
        }
        let share = watch.seconds / Double(max(results.count, 1))
        return results.map {
            var r = $0
            r.seconds = share
            return r
        }
    }

    /// Sandbox paths shown relative to the sandbox home (`~/…`) or root (`$ROOT/…`).
    func display(_ paths: [String]) -> [String] {
        paths.map { p in
            if let rel = PathText.relative(p, to: newRoot) { return "$ROOT/" + rel }
            if let rel = PathText.relative(p, to: newHome) { return "~/" + rel }
            return p
        }
    }

    func result(
        for record: ComponentRecord, expected: [Expectation], extras: [String],
        problemsOf: (Expectation) -> [Finding]
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
        var findings = expected.flatMap(problemsOf)
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
