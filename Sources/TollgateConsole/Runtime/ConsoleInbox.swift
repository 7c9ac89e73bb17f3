import Synchronization

/// Where the runner's events wait for the UI thread; posting wakes the loop.
public final class ConsoleInbox: Sendable {
    private let events = Mutex<[ConsoleEvent]>([])
    private let wake = Mutex<(@Sendable () -> Void)?>(nil)

    public init() {}

    /// Sets what ends the loop's wait (the terminal's waker).
    public func setWaker(_ waker: @escaping @Sendable () -> Void) {
        wake.withLock { $0 = waker }
    }

    /// Queues `event` for the UI thread and wakes it. Any thread.
    public func post(_ event: ConsoleEvent) {
        events.withLock { $0.append(event) }
        wake.withLock { $0 }?()
    }

    /// Takes every queued event, oldest first.
    public func drain() -> [ConsoleEvent] {
        events.withLock { queued in
            let taken = queued
            queued.removeAll(keepingCapacity: true)
            return taken
        }
    }
}
