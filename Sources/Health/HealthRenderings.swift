import DrillCore
import Foundation

extension HealthReport {
    /// Text for people: a status line, then one line per finding (`WARNING  newest set … is partial`).
    public func text() -> String {
        var lines = ["restore-drill health: \(status.rawValue) (\(destination), \(Timestamp.string(checkedAt)))"]
        for finding in findings {
            let label = finding.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            lines.append("  \(label)\(finding.message)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `--json`: `{"format": "restore-drill/health", "format_version": 1, "status": "OK",
    /// "checked_at": "…Z", "destination": …, "findings": [{code, status, message, subject}], "metrics": {…}}`,
    /// sorted keys, pretty-printed, with a final newline. Metric keys: see ``HealthMetrics``.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(
            JSONShape(
                format: Self.formatName, formatVersion: Self.formatVersion, status: status,
                checkedAt: Timestamp.string(checkedAt), destination: destination, findings: findings, metrics: metrics))
        data.append(0x0a)
        return data
    }

    private struct JSONShape: Encodable {
        var format: String
        var formatVersion: Int
        var status: HealthStatus
        var checkedAt: String
        var destination: String
        var findings: [HealthFinding]
        var metrics: HealthMetrics
        enum CodingKeys: String, CodingKey {
            case format, status, destination, findings, metrics
            case formatVersion = "format_version"
            case checkedAt = "checked_at"
        }
    }

    /// `--nagios`: one status line and the plugin exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    ///
    /// Line: `RESTORE-DRILL OK - newest complete set 3h12m old, last drill passed 2d ago | backup_age=11520s;90000;129600 drill_age=172800s;691200;864000 sets=5;;;0 free=…B;;;0`.
    /// The text lists the findings that are not OK (worst first) and then the two ages; perfdata
    /// follows the plugin guidelines (`label=value[UOM];warn;crit;min`), `U` when a value is unknown.
    public func nagios() -> (line: String, exitCode: Int32) {
        let shown = findings.filter { $0.status != .ok || $0.code == "backup_age" || $0.code == "drill_age" }
        var line = "RESTORE-DRILL \(status.rawValue) - \(shown.map(\.message).joined(separator: ", "))"
        if status != .unknown {
            func whole(_ v: Double?) -> String { v.map { String(Int64(max(0, $0).rounded(.down))) } ?? "U" }
            func seconds(_ v: Double?) -> String { v == nil ? "U" : "\(whole(v))s" }
            var perf = [
                "backup_age=\(seconds(metrics.backupAgeSeconds));\(whole(metrics.backupWarningSeconds));\(whole(metrics.backupCriticalSeconds))",
                "drill_age=\(seconds(metrics.passingDrillAgeSeconds));\(whole(metrics.drillWarningSeconds));\(whole(metrics.drillCriticalSeconds))",
                "sets=\(metrics.sets);;;0",
            ]
            if let free = metrics.freeBytes { perf.append("free=\(free)B;;;0") }
            line += " | " + perf.joined(separator: " ")
        }
        return (line.replacingOccurrences(of: "\n", with: " "), status.nagiosCode)
    }

    /// The Prometheus text exposition (node_exporter textfile format) with the README's metric names,
    /// each with `# HELP` and `# TYPE … gauge`. A metric whose value is unknown (no complete set,
    /// no drill) keeps its HELP and TYPE lines but has no sample, so `absent()` alerts fire.
    public func prometheus() -> String {
        func number(_ v: Double) -> String {
            v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        }
        let families: [(String, String, String?)] = [
            (
                "restore_drill_last_backup_timestamp_seconds", "Unix time the newest complete backup set finished.",
                metrics.lastBackupTimestampSeconds.map(number)
            ),
            (
                "restore_drill_last_backup_size_bytes", "Artifact bytes of the newest complete backup set.",
                metrics.lastBackupSizeBytes.map { String($0) }
            ),
            (
                "restore_drill_backup_age_seconds",
                "Age of the newest complete backup set (seconds since it finished).",
                metrics.backupAgeSeconds.map(number)
            ),
            (
                "restore_drill_last_drill_timestamp_seconds",
                "Unix time the last restore drill finished, whatever its verdict.",
                metrics.lastDrillTimestampSeconds.map(number)
            ),
            (
                "restore_drill_last_drill_success", "1 when the last restore drill passed, 0 when it failed.",
                metrics.lastDrillSuccess.map { String($0) }
            ),
            (
                "restore_drill_last_drill_rto_seconds", "Measured restore time of the last restore drill, seconds.",
                metrics.lastDrillRTOSeconds.map(number)
            ),
            (
                "restore_drill_sets", "Usable backup sets in the destination (complete and partial).",
                String(metrics.sets)
            ),
            (
                "restore_drill_proven_bytes_ratio",
                "Share (0 to 1) of the destination's stored bytes proven by a drill within proof.max_age.",
                metrics.provenBytesRatio.map(number)
            ),
        ]
        var lines: [String] = []
        for (name, help, value) in families {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            if let value { lines.append("\(name) \(value)") }
        }
        let offsite = "restore_drill_offsite_last_verified_timestamp_seconds"
        lines.append(
            "# HELP \(offsite) Unix time the off-site copy on the remote was last hash-checked, read back or drilled.")
        lines.append("# TYPE \(offsite) gauge")
        for (remote, seconds) in (metrics.offsiteLastVerifiedSeconds ?? [:]).sorted(by: { $0.key < $1.key }) {
            // Label values escape backslash, double quote and newline (Prometheus text format 0.0.4).
            let label = remote.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            lines.append("\(offsite){remote=\"\(label)\"} \(number(seconds))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes ``prometheus()`` to `path` atomically (a hidden temporary file in the same folder,
    /// renamed over `path`, so the node_exporter textfile collector never reads half a file).
    /// - Throws: ``RestoreDrillError/io(path:message:)`` when the folder is not writable.
    public func writePrometheus(to path: String) throws {
        try AtomicFile.write(Data(prometheus().utf8), to: path, mode: 0o644)
    }
}
