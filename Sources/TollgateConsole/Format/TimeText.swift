import Foundation

/// Durations and instants in words, shared by the CLI and the console so both say the same thing.
public enum TimeText {
    /// A span in at most two units: `45s`, `4m 10s`, `3m`, `2h 5m`, `3d 4h` (or one: `4m`, `3d`).
    public static func span(_ seconds: TimeInterval, units maximumUnits: Int = 2) -> String {
        let total = Int(min(abs(seconds), 9_000_000_000))
        let units: [(name: String, size: Int)] = [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)]
        guard let major = units.firstIndex(where: { total >= $0.size }) else { return "0s" }
        var text = "\(total / units[major].size)\(units[major].name)"
        if maximumUnits > 1, major + 1 < units.count {
            let minor = (total % units[major].size) / units[major + 1].size
            if minor > 0 { text += " \(minor)\(units[major + 1].name)" }
        }
        return text
    }

    /// `in 4m 10s`, `3m ago`, `now`, or `unknown` for `nil`; `units: 1` keeps only the largest unit.
    public static func relative(_ date: Date?, now: Date, unknown: String = "unknown", units: Int = 2) -> String {
        guard let date else { return unknown }
        let delta = date.timeIntervalSince(now)
        if abs(delta) < 1 { return "now" }
        return delta > 0 ? "in \(span(delta, units: units))" : "\(span(delta, units: units)) ago"
    }

    /// An absolute ISO-8601 instant (UTC) followed by the relative form: `2025-01-02T03:04:05Z (in 4m 10s)`.
    public static func instant(_ date: Date?, now: Date, unknown: String = "unknown") -> String {
        guard let date else { return unknown }
        return "\(date.formatted(.iso8601)) (\(relative(date, now: now)))"
    }

    /// `yes` or `no`.
    public static func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }
}
