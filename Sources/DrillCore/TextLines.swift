/// Splitting text into lines by Unicode scalars, never by `Character`.
///
/// Swift counts `"\r\n"` as one `Character` that is not equal to `"\n"`, so
/// `text.split(separator: "\n")` leaves a CRLF text whole: a tools record or a `SHA256SUMS` with
/// CRLF line ends read as one joined line, and an item ending in CR (a hostile file name) swallowed
/// the LF after it and joined the next item. These functions look at scalars, so every LF is seen.
public enum TextLines {
    /// The lines of `text` for a format people and other tools write: a line ends at LF, CR or
    /// CRLF (one end), as `sha256sum -c` reads CRLF lists. Neither end is part of a line.
    /// - Parameters:
    ///   - text: any text (often from a backup set or a replay: hostile).
    ///   - omittingEmpty: leave out empty lines (default); false keeps them, and a text ending in
    ///     a line end then ends with one empty line, as `split(omittingEmptySubsequences: false)`.
    /// - Returns: the lines, each without its end.
    public static func split(_ text: String, omittingEmpty: Bool = true) -> [String] {
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var afterCR = false
        func end() {
            if !omittingEmpty || !current.isEmpty { lines.append(String(current)) }
            current = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n" where afterCR: afterCR = false  // the LF of a CRLF: that line has ended
            case "\n": end()
            case "\r":
                end()
                afterCR = true
            default:
                afterCR = false
                current.append(scalar)
            }
        }
        end()
        return lines
    }

    /// The items of `text` for a format the tool writes itself with one item per line, where an
    /// item may hold CR (a file name): split at each LF scalar only, so an item ending in CR keeps
    /// it and still ends at the LF that follows.
    /// - Parameters:
    ///   - text: the list.
    ///   - omittingEmpty: as ``split(_:omittingEmpty:)``.
    /// - Returns: the items, without the LFs.
    public static func splitAtLineFeeds(_ text: String, omittingEmpty: Bool = true) -> [String] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: omittingEmpty).map {
            String(String.UnicodeScalarView($0))
        }
    }
}
