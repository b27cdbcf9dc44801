/// Which characters of untrusted text may be shown as they are.
///
/// Text a backup set or a replay controls (a restore script's tools record, names, versions) can
/// carry characters that do not show but change what a reader sees: bidirectional overrides
/// (U+202E turns `txt.exe` into `exe.txt` on screen), zero-width spaces and joiners, a BOM, and
/// controls that end a line or drive a terminal. One predicate for every place that keeps such
/// text only in its visible form (``ToolsRecord``, the runbook).
public enum TextSafety {
    /// True for a scalar that is a control or invisible: a control (general category Cc: C0 with
    /// tab, LF and CR, DEL, C1), a format character (Cf: U+00AD, U+061C, U+200B–U+200F,
    /// U+202A–U+202E, U+2060–U+2064, U+2066–U+206F, U+FEFF, U+FFF9–U+FFFB, the tags
    /// U+E0001–U+E007F, …), a line or paragraph separator (U+2028, U+2029), or any other
    /// default-ignorable code point (Unicode's set of what renders as nothing: variation
    /// selectors, U+034F, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0, unassigned U+2065).
    /// Letters, digits, punctuation, spaces (U+0020, U+00A0) and combining marks are false.
    /// - Parameter scalar: one Unicode scalar.
    /// - Returns: whether to drop (or replace) it before the text is shown or stored.
    public static func isInvisibleOrControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: scalar.properties.isDefaultIgnorableCodePoint
        }
    }
}
