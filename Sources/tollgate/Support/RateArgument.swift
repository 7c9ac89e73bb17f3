import ArgumentParser
import TollgateServer

/// A rate limit on the command line: `COUNT/PERIOD`, e.g. `10/1m`, `10/m` or `500/1h`: up to COUNT events
/// at once, refilled at COUNT per PERIOD (a duration as ``DurationArgument`` reads it; a bare unit means one).
struct RateArgument: Sendable {
    let limit: RateLimit

    init(_ limit: RateLimit) { self.limit = limit }

    init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let count = Int(parts[0]), parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
              (1...1_000_000).contains(count) else {
            throw ValidationError("'\(Output.singleLine(text))' is not a rate: use COUNT/PERIOD, e.g. 10/1m or 500/1h (COUNT 1-1000000)")
        }
        let periodText = parts[1].count == 1 ? "1" + parts[1] : String(parts[1])
        let period = try DurationArgument(parsing: periodText)
        limit = RateLimit(burst: count, perMinute: Double(count) * 60 / Double(period.seconds))
    }

    static func parse(_ text: String) throws -> RateArgument { try RateArgument(parsing: text) }
}
