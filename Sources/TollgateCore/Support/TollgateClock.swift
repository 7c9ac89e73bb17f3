import Foundation

/// The source of "now" for every rule that depends on time.
///
/// Services take a clock at init so that expiry, grace windows and leases are testable without
/// sleeping. Production code uses ``SystemClock``; tests use ``ManualClock``.
public protocol TollgateClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The wall clock.
public struct SystemClock: TollgateClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to; for tests and benchmarks.
public final class ManualClock: TollgateClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    /// Starts the clock at `start` (default: a fixed, whole-second instant).
    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = start
    }

    public func now() -> Date {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// Moves the clock forward by `seconds`.
    public func advance(by seconds: TimeInterval) {
        lock.lock(); defer { lock.unlock() }
        current = current.addingTimeInterval(seconds)
    }

    /// Sets the clock to `date`.
    public func set(_ date: Date) {
        lock.lock(); defer { lock.unlock() }
        current = date
    }
}

extension Date {
    /// Milliseconds since 1970, the representation used in the store.
    public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    /// Creates a date from milliseconds since 1970.
    public init(millisecondsSince1970 ms: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(ms) / 1000)
    }
}
