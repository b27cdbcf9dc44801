import DrillCore
import Foundation

/// `restore-drill check`: reads a set back in full without restoring it — `set.manifest` and
/// `set.artifacts`, the same checks a drill starts with — so monthly sets that are never drilled
/// are still read byte for byte.
public enum SetReadBack {
    /// Checks one set.
    /// - Parameters:
    ///   - setPath: the set folder (only read).
    ///   - passwordGiven: whether a vault password is available (see `set.manifest`).
    /// - Returns: the `set.manifest` result, then one `set.artifacts` result per artifact (none
    ///   when the manifest cannot be trusted).
    public static func check(setPath: AbsolutePath, passwordGiven: Bool = false) -> [CheckResult] {
        let outcome = ManifestCheck.run(setPath: setPath, passwordGiven: passwordGiven)
        guard let manifest = outcome.manifest else { return [outcome.result] }
        return [outcome.result] + ArtifactCheck.run(setPath: setPath, manifest: manifest)
    }

    /// `set.manifest` alone: for a caller that reads the set's artifacts itself (`check --all`
    /// reads each shared object of format 2 once for every set that lists it).
    /// - Parameters: as ``check(setPath:passwordGiven:)``.
    /// - Returns: the `set.manifest` result, and the manifest when it can be trusted (nil when the
    ///   result is not a pass).
    public static func checkManifest(setPath: AbsolutePath, passwordGiven: Bool = false) -> (
        result: CheckResult, manifest: Manifest?
    ) {
        let outcome = ManifestCheck.run(setPath: setPath, passwordGiven: passwordGiven)
        return (outcome.result, outcome.manifest)
    }
}
