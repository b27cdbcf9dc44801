import DrillCore

/// The files a backup listed but found gone when it came to read them
/// (``ComponentRecord/vanished``): each is a skipped `restore.tree` subject of the drill, named,
/// so the report says what the set does not hold and why, without failing a set that is complete
/// (issue 11, "A file that vanishes between listing and reading").
enum VanishedFiles {
    /// One `skip` result per vanished path of every component, in the manifest's order: subject
    /// `<component>/<path>`, a message saying it vanished during the backup. Empty when none did.
    static func results(_ manifest: Manifest) -> [CheckResult] {
        manifest.components.flatMap { component in
            (component.vanished ?? []).map { path in
                CheckResult(
                    check: .restoreTree, subject: "\(component.id.rawValue)/\(path)", verdict: .skip,
                    message:
                        "vanished from the workspace during the backup (deleted or moved between listing and reading): "
                        + "not in the set, so not restored")
            }
        }
    }
}
