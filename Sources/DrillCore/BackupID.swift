import Foundation

/// The identifier of one backup set: `full_YYYYMMDD_HHMMSS` in UTC, with `_2`, `_3`, … appended
/// for a second or later set made in the same second (docs/ARCHITECTURE.md, "Vocabulary").
///
/// Ordering is chronological: by timestamp, then by sequence number (no suffix is 1).
public struct BackupID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The UTC instant the set was started, truncated to whole seconds.
    public let date: Date
    /// 1 for the first set in a second, 2 for `_2`, and so on.
    public let sequence: Int

    /// Creates the id for a set started at `date` (fractional seconds are dropped).
    /// - Parameters:
    ///   - date: the start time; formatted in UTC.
    ///   - sequence: 1-based; values above 1 add a `_N` suffix.
    public init(date: Date, sequence: Int = 1) {
        self.date = Date(timeIntervalSince1970: floor(date.timeIntervalSince1970))
        self.sequence = max(1, sequence)
    }

    /// Parses `full_YYYYMMDD_HHMMSS` or `full_YYYYMMDD_HHMMSS_N`; returns nil for anything else.
    public init?(_ text: String) {
        guard let parsed = IDFormat.parse(text, prefix: "full_") else { return nil }
        self.init(date: parsed.date, sequence: parsed.sequence)
    }

    /// The id as written in folder names: `full_20251020_175019` or `full_20251020_175019_2`.
    public var description: String { IDFormat.format(prefix: "full_", date: date, sequence: sequence) }

    public static func < (lhs: BackupID, rhs: BackupID) -> Bool {
        (lhs.date, lhs.sequence) < (rhs.date, rhs.sequence)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = BackupID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a backup id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The identifier of one drill: `drill_YYYYMMDD_HHMMSS` in UTC (`_N` for a later one in the same second).
public struct DrillID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The UTC instant the drill started, whole seconds.
    public let date: Date
    /// 1-based sequence within the second.
    public let sequence: Int

    /// Creates the id for a drill started at `date`.
    public init(date: Date, sequence: Int = 1) {
        self.date = Date(timeIntervalSince1970: floor(date.timeIntervalSince1970))
        self.sequence = max(1, sequence)
    }

    /// Parses `drill_YYYYMMDD_HHMMSS[_N]`.
    public init?(_ text: String) {
        guard let parsed = IDFormat.parse(text, prefix: "drill_") else { return nil }
        self.init(date: parsed.date, sequence: parsed.sequence)
    }

    public var description: String { IDFormat.format(prefix: "drill_", date: date, sequence: sequence) }

    public static func < (lhs: DrillID, rhs: DrillID) -> Bool {
        (lhs.date, lhs.sequence) < (rhs.date, rhs.sequence)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = DrillID(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a drill id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Shared formatting of `PREFIX_YYYYMMDD_HHMMSS[_N]` ids.
enum IDFormat {
    static func format(prefix: String, date: Date, sequence: Int) -> String {
        let c = utcCalendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let base =
            prefix
            + String(format: "%04d%02d%02d_%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        return sequence > 1 ? "\(base)_\(sequence)" : base
    }

    static func parse(_ text: String, prefix: String) -> (date: Date, sequence: Int)? {
        guard text.hasPrefix(prefix) else { return nil }
        let parts = text.dropFirst(prefix.count).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
            parts[0].count == 8, parts[1].count == 6,
            parts[0].allSatisfy(\.isASCII), parts[0].allSatisfy(\.isNumber),
            parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber)
        else { return nil }
        var sequence = 1
        if parts.count == 3 {
            guard let n = Int(parts[2]), n >= 2, String(n) == parts[2] else { return nil }
            sequence = n
        }
        let d = Array(parts[0]), t = Array(parts[1])
        func num(_ chars: ArraySlice<Character>) -> Int { Int(String(chars))! }
        var comps = DateComponents()
        comps.year = num(d[0..<4])
        comps.month = num(d[4..<6])
        comps.day = num(d[6..<8])
        comps.hour = num(t[0..<2])
        comps.minute = num(t[2..<4])
        comps.second = num(t[4..<6])
        guard (1...12).contains(comps.month!), (1...31).contains(comps.day!), comps.hour! < 24,
            comps.minute! < 60, comps.second! < 60,
            let date = utcCalendar.date(from: comps),
            utcCalendar.component(.day, from: date) == comps.day!
        else { return nil }
        return (date, sequence)
    }

    static let utcCalendar: Calendar = {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        return cal
    }()
}

/// ISO 8601 timestamps in UTC with milliseconds, e.g. `2025-10-20T17:50:19.123Z`, as every
/// manifest, report and event records them.
public enum Timestamp {
    /// Formats `date` as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func string(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Parses an ISO 8601 timestamp with or without fractional seconds; nil when it is not one.
    public static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
