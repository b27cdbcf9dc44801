import DrillCore
import Foundation

extension ProofLedger {
    /// `ratio` (0…1) as a percentage with one decimal: `75.0%`.
    public static func percent(_ ratio: Double) -> String { String(format: "%.1f%%", ratio * 100) }

    /// The text `restore-drill proof` prints: a header (window, proven share, bytes), then one line
    /// per set (id, age, proven parts of all, proven bytes of all, oldest proof's age or `never`,
    /// `PROVEN`/`UNPROVEN`); with `parts`, one line per part under its set (number, kind, name,
    /// last proof time and age or `never`, drill id).
    /// - Parameters:
    ///   - destination: the destination's location, shown in the header.
    ///   - parts: list every part.
    /// - Returns: lines ending in a newline.
    public func text(destination: String, parts: Bool = false) -> String {
        let window = CompactDuration.threshold(maxAge)
        let provenSets = sets.filter(\.proven).count
        var lines = [
            "restore-drill proof: \(provenSets) of \(sets.count) sets proven within \(window)"
                + (remote.map { " on remote \($0)" } ?? "") + " (\(destination), \(Timestamp.string(now)))",
            "proven share: \(Self.percent(provenRatio)) of the destination's bytes "
                + "(\(Units.humanBytes(provenBytes)) of \(Units.humanBytes(destinationBytes)), each object once)",
        ]
        if sets.isEmpty { lines.append("no complete sets") }
        for set in sets {
            let oldest = set.oldestProof.map { CompactDuration.string(now.timeIntervalSince($0)) + " ago" } ?? "never"
            let provenParts = set.parts.filter(\.proven).count
            lines.append(
                [
                    set.id.description, "age \(CompactDuration.string(now.timeIntervalSince(set.finishedAt)))",
                    "parts \(provenParts)/\(set.parts.count)",
                    "bytes \(Units.humanBytes(set.provenBytes))/\(Units.humanBytes(set.bytes))",
                    "oldest proof \(oldest)", set.proven ? "PROVEN" : "UNPROVEN",
                ].joined(separator: "  "))
            guard parts else { continue }
            for status in set.parts {
                var fields = [
                    String(format: "%4d", status.part.number),
                    status.part.kind.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0),
                    // A name from the set: a newline or tab in it would forge a line.
                    FileNameBytes.escapedBytes(status.part.name),
                ]
                if let time = status.lastProof, let age = status.ageSeconds {
                    fields.append("\(Timestamp.string(time)) (\(CompactDuration.string(age)) ago)")
                    if let drill = status.drillID { fields.append(drill.description) }
                    if !status.proven { fields.append("too old") }
                } else {
                    fields.append("never")
                }
                lines.append("  " + fields.joined(separator: "  "))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
