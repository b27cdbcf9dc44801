import Foundation

/// When a job runs, from a `schedule` value: `hourly` (minute 0 of every hour), `HH:MM` (every
/// day, 24-hour local time) or `Ddd HH:MM` (every week; `Mon` … `Sun`, full names too, any case).
public enum ScheduleTime: Equatable, Sendable {
    case hourly
    case daily(hour: Int, minute: Int)
    /// `weekday` 0 = Sunday … 6 = Saturday (launchd's numbering).
    case weekly(weekday: Int, hour: Int, minute: Int)

    public static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
    public static let systemdDays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// Parses one `schedule` value.
    /// - Parameter key: the key it came from, e.g. `schedule.drill`, for the error.
    /// - Throws: ``RestoreDrillError/config(file:line:key:message:)`` naming `key` when the value is
    ///   not one of the three forms.
    public static func parse(_ text: String, key: String, file: String? = nil) throws -> ScheduleTime {
        let value = text.trimmingCharacters(in: .whitespaces)
        func bad() -> RestoreDrillError {
            .config(
                file: file ?? "configuration", line: nil, key: key,
                message: "\"\(text)\" is not a schedule (use \"hourly\", \"HH:MM\" or \"Sun HH:MM\")")
        }
        if value.lowercased() == "hourly" { return .hourly }
        let parts = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        func clock(_ s: String) throws -> (Int, Int) {
            let hm = s.split(separator: ":", omittingEmptySubsequences: false)
            guard hm.count == 2, (1...2).contains(hm[0].count), hm[1].count == 2,
                hm[0].allSatisfy(\.isASCII), hm[1].allSatisfy(\.isASCII),
                let h = Int(hm[0]), let m = Int(hm[1]), (0...23).contains(h), (0...59).contains(m)
            else { throw bad() }
            return (h, m)
        }
        switch parts.count {
        case 1:
            let (h, m) = try clock(parts[0])
            return .daily(hour: h, minute: m)
        case 2:
            let day = parts[0].lowercased()
            guard day.count >= 3,
                let index = dayNames.firstIndex(where: { day.hasPrefix($0) }),
                day.count == 3 || fullDayNames[index].hasPrefix(day)
            else { throw bad() }
            let (h, m) = try clock(parts[1])
            return .weekly(weekday: index, hour: h, minute: m)
        default:
            throw bad()
        }
    }

    public static let fullDayNames = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]

    /// launchd's `StartCalendarInterval` dictionary (launchd.plist(5)): `Minute`, `Hour`, `Weekday`.
    public var launchdInterval: [String: Int] {
        switch self {
        case .hourly: ["Minute": 0]
        case .daily(let h, let m): ["Hour": h, "Minute": m]
        case .weekly(let d, let h, let m): ["Weekday": d, "Hour": h, "Minute": m]
        }
    }

    /// systemd's `OnCalendar=` value (systemd.time(7)), e.g. `Sun *-*-* 05:00:00`.
    public var onCalendar: String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        switch self {
        case .hourly: return "*-*-* *:00:00"
        case .daily(let h, let m): return "*-*-* \(two(h)):\(two(m)):00"
        case .weekly(let d, let h, let m): return "\(Self.systemdDays[d]) *-*-* \(two(h)):\(two(m)):00"
        }
    }
}
