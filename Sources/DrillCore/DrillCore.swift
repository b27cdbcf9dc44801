/// # DrillCore
///
/// The vocabulary every stage of RestoreDrill shares (docs/ARCHITECTURE.md, "Vocabulary"):
/// ``BackupID`` and ``DrillID`` names, ``SHA256Digest`` streaming hashes, the backup-set
/// ``Manifest`` (format 1), ``CheckResult`` and ``Verdict``, ``DrillResult`` (what the reports
/// render), ``RestoreDrillError`` with the one ``ExitStatus`` table, the configuration
/// (``RestoreDrillConfig``), and the seams tests inject: ``WallClock`` and ``ProcessRunner``.
///
/// File names are bytes (``FileNameBytes``): paths compare byte for byte, so an NFC name and its
/// NFD twin are two names, and a name that is not UTF-8 is carried losslessly.
///
/// Nothing here writes to disk except the helpers that say so (``AtomicFile``); an interrupted
/// run of anything in this target leaves nothing behind.
import Foundation

/// Facts about this build of the tool.
public enum ToolInfo {
    /// The tool's version, recorded in every manifest, report and history event.
    public static let version = "0.1.0"
    /// The executable's name as users type it.
    public static let name = "restore-drill"

    /// The host name of this machine, as recorded in manifests and reports.
    public static var hostName: String { ProcessInfo.processInfo.hostName }
}
