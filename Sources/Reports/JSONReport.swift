import DrillCore
import Foundation

/// The JSON rendering of one drill (`report.json`), for programs and auditors.
///
/// The document is ``DrillResult``'s `Codable` encoding (DrillCore, Check.swift): it carries
/// `"format": "restore-drill/drill-report"`, `"format_version": 1` and the derived `"verdict"`
/// (docs/ARCHITECTURE.md, "Reports and metrics"); keys sorted by bytes, pretty-printed with two-space
/// indentation, `/` not escaped, UTF-8. Decoding it with `JSONDecoder` gives back an equal
/// ``DrillResult``.
public enum JSONReport {
    /// Encodes `result` as the `report.json` document.
    /// - Returns: UTF-8 JSON ending in a newline.
    /// - Throws: ``RestoreDrillError/runtime(_:)`` when the result cannot be encoded (a time that
    ///   is NaN or infinite: JSON has no such numbers).
    public static func render(_ result: DrillResult) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            var data = try encoder.encode(result)
            data.append(0x0A)
            return data
        } catch {
            throw RestoreDrillError.runtime(
                "report.json for \(result.drillID): cannot encode the drill result: \(error)")
        }
    }
}
