/// # Reports
///
/// Renders one drill's ``DrillResult`` (DrillCore) for the three readers docs/ARCHITECTURE.md
/// names ("Reports and metrics"): a CI system (``JUnitReport``, `junit.xml`, valid against the Jenkins
/// xUnit `junit-10.xsd`), a person (``MarkdownReport``, `report.md`, verdict first) and a program or
/// auditor (``JSONReport``, `report.json`, `"format": "restore-drill/drill-report"`,
/// `"format_version": 1`). ``ReportWriter`` puts the three files in a drill's report folder
/// (`<reports>/<drill-id>/`), with ``HTMLReport`` (`report.html`) for a browser, and prunes old drill folders.
///
/// Terms: a *drill folder* is a folder under the reports folder whose name is a drill id
/// (`drill_YYYYMMDD_HHMMSS[_N]`); nothing else under the reports folder is ever touched.
///
/// Renderers are pure functions of the result: same result, same bytes (no clock, no locale, no
/// host lookups), so golden snapshots are stable. Every string that came from a backup set (file
/// names, messages, evidence) is treated as hostile: escaped for the output format, and characters
/// the format cannot carry are replaced by visible stand-ins (see ``ReportText``).
///
/// Interrupted run: each file is written atomically (``AtomicFile``), so a drill folder holds
/// whole files only; a crash between files leaves a folder with some of the three reports
/// (`report.json` is written last, so its presence means all three were written) and at most one
/// hidden `.NAME.tmp-…` file, which ``ReportWriter/prune(reportsRoot:keep:)`` removes with its folder.
import DrillCore
import Foundation

/// Text helpers shared by the renderers: locale-independent numbers and the visible stand-ins
/// for characters a report cannot carry. ``visible(_:keepNewlines:)`` is also what the jobs use for
/// the terminal (the drill summary, progress lines), so a name is escaped the same way everywhere.
package enum ReportText {
    /// Formats `seconds` with a dot and exactly `places` decimals (`"12.345"`), independent of the
    /// process locale. Negative, NaN and infinite values give `"0.000"` (JUnit `time` must match
    /// the schema's `SUREFIRE_TIME` pattern, which has no sign).
    static func decimal(_ seconds: Double, places: Int = 3) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0." + String(repeating: "0", count: places) }
        var scale: Double = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = (seconds * scale).rounded()
        guard scaled < 9.0e15 else {
            return String(format: "%.0f", seconds) + "." + String(repeating: "0", count: places)
        }
        let units = UInt64(scaled)
        let divisor = UInt64(scale)
        let whole = units / divisor
        var fraction = String(units % divisor)
        while fraction.count < places { fraction = "0" + fraction }
        return places == 0 ? String(whole) : "\(whole).\(fraction)"
    }

    /// The visible stand-in for a C0 control character or DEL: the Unicode "control picture"
    /// (U+2400 + code, U+2421 for DEL), e.g. ESC → `␛`, NUL → `␀`, LF → `␊`.
    static func controlPicture(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.value == 0x7F { return "\u{2421}" }
        return Unicode.Scalar(0x2400 + scalar.value) ?? "\u{FFFD}"
    }

    /// Replaces every C0 control character except tab (and, when `keepNewlines`, LF), and DEL,
    /// by its control picture; CR always becomes `␍`. Used where a raw control character would
    /// change the layout of the report or drive a terminal. A byte of a file name that is not
    /// UTF-8, if one reaches a report in its in-memory marker form (U+10FF80–U+10FFFF,
    /// ``FileNameBytes``) rather than already shown as `\xNN` by the check, is written `\xNN` too.
    /// - Parameters:
    ///   - text: any text, often from a backup set (hostile).
    ///   - keepNewlines: keep LF as is (multi-line text); false turns it into `␊` (one line).
    /// - Returns: `text` with no control character but tab (and LF when kept).
    package static func visible(_ text: String, keepNewlines: Bool) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x09: out.append(scalar)
            case 0x0A where keepNewlines: out.append(scalar)
            case 0x00...0x1F, 0x7F: out.append(controlPicture(scalar))
            case 0x10FF80...0x10FFFF:
                out.append(contentsOf: String(format: "\\x%02x", scalar.value - 0x10FF00).unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// Whether the set was authenticated, for a person: `yes (manifest HMAC verified with the vault
    /// password)`, `no (manifest HMAC did not verify: the restore script got no secret)`, or `no (no
    /// vault password configured: nothing can be authenticated)` for nil.
    static func authenticated(_ value: Bool?) -> String {
        switch value {
        case true?: "yes (manifest HMAC verified with the vault password)"
        case false?: "no (manifest HMAC did not verify: the restore script got no secret)"
        case nil: "no (no vault password configured: nothing can be authenticated)"
        }
    }

    /// What reports print for ``DrillResult/limits`` when it is nil: `none (the restore script did
    /// not run)`.
    static let limitsUnknown = "none (the restore script did not run)"

    /// Seconds between two recorded ``Timestamp`` strings; nil when either does not parse or the
    /// difference is negative.
    static func elapsed(from start: String, to end: String) -> Double? {
        guard let a = Timestamp.date(start), let b = Timestamp.date(end) else { return nil }
        let d = b.timeIntervalSince(a)
        return d >= 0 ? d : nil
    }
}
