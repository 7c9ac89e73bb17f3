import Foundation
import Synchronization

/// Client ID metadata document URLs whose latest fetch failed, and when each may be fetched again: a failing
/// `client_id` costs one fetch per backoff, not one per request.
///
/// The first failure holds the URL back for ``initialBackoff``; a failure of the fetch after a backoff doubles it, up
/// to ``maximumBackoff``. A URL that fails again more than ``maximumBackoff`` after its backoff ended starts over; a
/// success forgets it. At most ``capacity`` URLs are remembered: beyond, those whose backoff has passed go first, then
/// those that may be fetched soonest. Time comes from the injected clock.
public final class ClientMetadataFailures: Sendable {
    /// The most URLs remembered.
    public let capacity: Int
    /// How long a URL is held back after its first failure.
    public let initialBackoff: TimeInterval
    /// The longest a URL is held back.
    public let maximumBackoff: TimeInterval
    let clock: any TollgateClock

    private struct Entry {
        var backoff: TimeInterval
        var retryAt: Date
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init(capacity: Int = 1000, initialBackoff: TimeInterval = 30, maximumBackoff: TimeInterval = 3600, clock: any TollgateClock) {
        self.capacity = max(1, capacity)
        self.initialBackoff = max(1, initialBackoff)
        self.maximumBackoff = max(self.initialBackoff, maximumBackoff)
        self.clock = clock
    }

    /// Whole seconds until `url` may be fetched again (at least 1), or `nil` when it may be fetched now.
    public func backingOff(_ url: String) -> Int? {
        let now = clock.now()
        return entries.withLock { entries in
            guard let entry = entries[url], entry.retryAt > now else { return nil }
            return max(1, Int(entry.retryAt.timeIntervalSince(now).rounded(.up)))
        }
    }

    /// Records a failed fetch of `url` and returns how long it is now held back.
    @discardableResult
    public func failed(_ url: String) -> TimeInterval {
        let now = clock.now()
        let initialBackoff = initialBackoff, maximumBackoff = maximumBackoff, capacity = capacity
        return entries.withLock { entries in
            var backoff = initialBackoff
            if let previous = entries[url], now.timeIntervalSince(previous.retryAt) <= maximumBackoff {
                backoff = min(maximumBackoff, previous.backoff * 2)
            }
            entries[url] = Entry(backoff: backoff, retryAt: now.addingTimeInterval(backoff))
            if entries.count > capacity {
                entries = entries.filter { $0.key == url || $0.value.retryAt > now }
            }
            while entries.count > capacity,
                  let soonest = entries.filter({ $0.key != url }).min(by: { $0.value.retryAt < $1.value.retryAt })?.key {
                entries[soonest] = nil
            }
            return backoff
        }
    }

    /// Forgets `url` after a fetch that succeeded.
    public func succeeded(_ url: String) {
        _ = entries.withLock { $0.removeValue(forKey: url) }
    }

    /// How many URLs are remembered now.
    public var count: Int { entries.withLock { $0.count } }
}
