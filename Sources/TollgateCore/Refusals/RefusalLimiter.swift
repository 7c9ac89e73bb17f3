import Foundation

/// Decides which refusals become audit events, so that a client spraying bad tokens cannot flood the store:
/// at most one event per ``interval`` for each (grant, client or unknown) × reason, at most
/// ``globalPerSecond`` events a second in all, and a table of at most ``capacity`` keys (the least recently
/// seen go first). What it holds back is counted and folded into the key's next event.
///
/// A pure value: time is passed in, nothing is written; ``RefusalRecorder`` does the I/O.
public struct RefusalLimiter: Sendable {
    /// Whose refusals share a budget: the grant when known, else the client, else everyone unknown.
    public struct Key: Hashable, Sendable {
        public var subject: String
        public var reason: RefusalReason

        public init(_ refusal: Refusal) {
            subject = refusal.grantID.map { "grant:\($0)" } ?? refusal.clientID.map { "client:\($0)" } ?? "unknown"
            reason = refusal.reason
        }
    }

    /// A refusal to record, with what was held back of its key since the previous event.
    public struct Admission: Sendable, Equatable {
        /// Refusals of the same key not recorded since the previous event.
        public var suppressed: Int
        /// When the first of them happened.
        public var suppressedSince: Date?

        public init(suppressed: Int, suppressedSince: Date?) {
            self.suppressed = suppressed
            self.suppressedSince = suppressedSince
        }
    }

    private struct Entry {
        var lastRecorded: Date
        var suppressed = 0
        var suppressedSince: Date?
        var lastSeen: UInt64
    }

    /// The least time between two events of one key.
    public let interval: TimeInterval
    /// Events per second in all keys together.
    public let globalPerSecond: Int
    /// Keys remembered at most.
    public let capacity: Int
    private var entries: [Key: Entry] = [:]
    private var seen: UInt64 = 0
    private var windowStart = Date.distantPast
    private var windowCount = 0
    /// Held-back refusals forgotten with keys the table had to drop (never recorded).
    public private(set) var forgotten = 0

    public init(interval: TimeInterval = 60, globalPerSecond: Int = 20, capacity: Int = 4096) {
        self.interval = interval
        self.globalPerSecond = max(1, globalPerSecond)
        self.capacity = max(8, capacity)
    }

    /// Keys currently remembered.
    public var count: Int { entries.count }

    /// Whether the refusal of `key` at `now` is recorded (with what was held back before it), or held back (`nil`).
    public mutating func admit(_ key: Key, at now: Date) -> Admission? {
        seen += 1
        var entry = entries[key] ?? Entry(lastRecorded: .distantPast, lastSeen: seen)
        entry.lastSeen = seen
        defer { entries[key] = entry; if entries.count > capacity { forgetLeastRecentlySeen() } }
        if now.timeIntervalSince(windowStart) >= 1 {
            windowStart = now
            windowCount = 0
        }
        guard now.timeIntervalSince(entry.lastRecorded) >= interval, windowCount < globalPerSecond else {
            if entry.suppressed == 0 { entry.suppressedSince = now }
            entry.suppressed += 1
            return nil
        }
        windowCount += 1
        let admission = Admission(suppressed: entry.suppressed, suppressedSince: entry.suppressedSince)
        entry = Entry(lastRecorded: now, lastSeen: seen)
        return admission
    }

    /// Drops the least recently seen eighth of the table (amortised: one sort per `capacity / 8` new keys).
    private mutating func forgetLeastRecentlySeen() {
        let victims = entries.sorted { $0.value.lastSeen < $1.value.lastSeen }.prefix(max(1, capacity / 8))
        for (key, entry) in victims {
            forgotten += entry.suppressed
            entries[key] = nil
        }
    }
}
