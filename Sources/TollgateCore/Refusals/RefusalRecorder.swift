import Foundation
import Logging
import Synchronization

/// Records refused requests as `request.refused` audit events off the request path: a refusal passes the
/// ``RefusalLimiter`` under a lock, then waits in a bounded queue that one task drains into the store. When
/// the queue is full the event is dropped and counted; a refused request never waits for the store.
///
/// An event holds the reason code (its outcome), the refusal's description and route (its detail), the
/// grant and client when known, and how many refusals of the same key were held back before it. Never
/// any token, code, state or secret: callers pass descriptions the token service wrote, and routes
/// without query strings.
public final class RefusalRecorder: Sendable {
    /// The audit action of a recorded refusal.
    public static let action = "request.refused"

    private struct Pending: Sendable {
        var event: NewAuditEvent
        var at: Date
    }

    /// Events admitted and not yet written (shared with the draining task).
    private final class Backlog: Sendable {
        let count = Atomic<Int>(0)
    }

    private let store: any TollgateStore
    private let clock: any TollgateClock
    private let logger: Logger
    private let limiter: Mutex<RefusalLimiter>
    private let queue: AsyncStream<Pending>.Continuation
    private let drain: Task<Void, Never>
    private let waiting: Backlog
    private let droppedCount = Atomic<Int>(0)
    private let onDropped: @Sendable () -> Void

    /// - Parameters:
    ///   - queueCapacity: events waiting for the store at most; more are dropped (and counted).
    ///   - onDropped: told of each dropped event (the server's metrics).
    public init(store: any TollgateStore, clock: any TollgateClock, limiter: RefusalLimiter = RefusalLimiter(),
                queueCapacity: Int = 256, logger: Logger = Logger(label: "tollgate.refusals"),
                onDropped: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.clock = clock
        self.logger = logger
        self.limiter = Mutex(limiter)
        self.onDropped = onDropped
        let (stream, continuation) = AsyncStream.makeStream(of: Pending.self, bufferingPolicy: .bufferingOldest(max(1, queueCapacity)))
        queue = continuation
        let waiting = Backlog()
        self.waiting = waiting
        drain = Task { [store, logger] in
            for await pending in stream {
                do {
                    try await store.appendAudit(pending.event, at: pending.at)
                } catch {
                    logger.warning("could not record a refused request", metadata: ["reason": "\(pending.event.outcome)", "error": "\(error)"])
                }
                waiting.count.subtract(1, ordering: .relaxed)
            }
        }
    }

    deinit {
        queue.finish()
    }

    /// Refusals that were admitted but found the queue full.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }

    /// Records `refusal` (unless its key is over its budget); returns at once.
    ///
    /// - Parameters:
    ///   - description: the human description the client was given (no token material by construction).
    ///   - route: the method and path, without any query string, e.g. `POST /mcp/files`.
    public func record(_ refusal: Refusal, description: String, route: String) {
        let now = clock.now()
        guard let admission = limiter.withLock({ $0.admit(RefusalLimiter.Key(refusal), at: now) }) else { return }
        var detail = "\(description) (\(route))"
        if admission.suppressed > 0, let since = admission.suppressedSince {
            detail += "; and \(admission.suppressed) more since \(since.formatted(.iso8601))"
        }
        let event = NewAuditEvent(actor: refusal.clientID.map { "client:\($0)" } ?? "server", action: Self.action,
                                  serverID: refusal.serverID, grantID: refusal.grantID, clientID: refusal.clientID,
                                  outcome: refusal.reason.rawValue, detail: detail)
        waiting.count.add(1, ordering: .relaxed)
        if case .dropped = queue.yield(Pending(event: event, at: now)) {
            waiting.count.subtract(1, ordering: .relaxed)
            droppedCount.add(1, ordering: .relaxed)
            onDropped()
        }
    }

    /// Waits until every admitted event has been written (or `timeout` passed); for tests and shutdown.
    public func waitUntilWritten(timeout: TimeInterval = 5) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while waiting.count.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(nanoseconds: 2_000_000)
        }
    }

    /// Writes what is queued (up to `timeout`) and stops the draining task.
    public func shutdown(timeout: TimeInterval = 5) async {
        await waitUntilWritten(timeout: timeout)
        queue.finish()
        drain.cancel()
    }
}
