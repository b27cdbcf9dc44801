import Foundation

/// Parsing of the configuration's sizes and durations (README, "Configuration").
public enum Units {
    /// Parses a size: a whole number followed by `B`, `KiB`, `MiB`, `GiB` or `TiB` (also `K`, `M`,
    /// `G`, `KB`, `MB`, `GB` as binary units); a bare number is bytes.
    /// - Returns: bytes, or nil when the text is not a size.
    public static func bytes(_ text: String) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let n = Int64(digits) else { return nil }
        let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let multipliers: [String: Int64] = [
            "": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
        ]
        guard let m = multipliers[unit] else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: m)
        return overflow ? nil : product
    }

    /// Parses a duration: a number (decimals allowed) followed by `s`, `m`, `h` or `d`; a bare number is seconds.
    /// - Returns: seconds, or nil when the text is not a duration.
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let number = t.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
        guard !number.isEmpty, let n = Double(number), n >= 0 else { return nil }
        switch t.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86400
        case "w": return n * 7 * 86400
        default: return nil
        }
    }

    /// Parses a percentage such as `50%` or `50`.
    /// - Returns: a fraction in 0...1, or nil.
    public static func fraction(_ text: String) -> Double? {
        var t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") { t.removeLast() }
        guard let n = Double(t), (0...100).contains(n) else { return nil }
        return n / 100
    }

    /// Formats bytes for people: `1.5 MiB`, `312 B`.
    public static func humanBytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var i = 0
        while value >= 1024 && i < units.count - 1 {
            value /= 1024
            i += 1
        }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[i])
    }

    /// Formats seconds for people: `42.1 s`, `3 m 05 s`, `2 h 10 m`, `3 d 4 h`.
    public static func humanSeconds(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        let whole = Int(s.rounded())
        if whole < 3600 { return String(format: "%d m %02d s", whole / 60, whole % 60) }
        if whole < 86400 { return String(format: "%d h %02d m", whole / 3600, (whole % 3600) / 60) }
        return String(format: "%d d %d h", whole / 86400, (whole % 86400) / 3600)
    }
}

extension String {
    /// The text padded with spaces to `width` characters for a terminal column; a longer text is
    /// kept whole, never cut (Foundation's `padding(toLength:)` cuts: `unauthenticated` became
    /// `unauthen` in `list`).
    public func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
