import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Counts the `tollgate_changes` notifications the tables' triggers send, on one dedicated `LISTEN`
/// connection: the store's ``PostgresStore/dataVersion()``.
///
/// When the connection drops it reconnects (backing off up to a few seconds) and bumps the counter once
/// listening again, since notifications sent meanwhile were lost: a watcher then reloads.
final class PostgresChangeFeed: Sendable {
    /// The channel the triggers notify.
    static let channel = "tollgate_changes"

    private let connect: @Sendable () async throws -> PostgresConnection
    private let state = Mutex(State())

    private struct State {
        var version: Int64 = 0
        var task: Task<Void, Never>?
        /// Resumed once the first `LISTEN` is in place (or has failed).
        var ready: CheckedContinuation<Void, Never>?
        var listening = false
        /// The `LISTEN` connection while one is open (closed by ``stop()``).
        var connection: PostgresConnection?
        var stopped = false
    }

    init(connect: @escaping @Sendable () async throws -> PostgresConnection) {
        self.connect = connect
    }

    /// The number of notifications received (plus one per reconnection).
    var version: Int64 { state.withLock { $0.version } }

    /// Whether the feed is listening right now.
    var isListening: Bool { state.withLock { $0.listening } }

    /// Starts listening; returns once the first `LISTEN` is in place or the first attempt failed (the feed
    /// keeps trying in the background).
    func start() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock {
                $0.ready = continuation
                $0.task = Task { [self] in await self.listenUntilCancelled() }
            }
        }
    }

    /// Stops listening and closes the connection.
    func stop() async {
        let (task, connection) = state.withLock { state -> (Task<Void, Never>?, PostgresConnection?) in
            defer { state.task = nil; state.connection = nil; state.stopped = true }
            return (state.task, state.connection)
        }
        task?.cancel()
        try? await connection?.close()
        await task?.value
    }

    private func signalReady() {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.ready = nil }
            return state.ready
        }
        continuation?.resume()
    }

    private func bump(listening: Bool? = nil) {
        state.withLock {
            $0.version &+= 1
            if let listening { $0.listening = listening }
        }
    }

    private func listenUntilCancelled() async {
        var delay: Duration = .milliseconds(100)
        var connectedBefore = false
        while !Task.isCancelled {
            do {
                let connection = try await connect()
                let stopped = state.withLock { state -> Bool in
                    if !state.stopped { state.connection = connection }
                    return state.stopped
                }
                if stopped {
                    try? await connection.close()
                    break
                }
                do {
                    try await connection.listen(on: Self.channel) { notifications in
                        // Anything committed while no connection listened was missed: one bump makes watchers reload.
                        if connectedBefore { bump(listening: true) } else { state.withLock { $0.listening = true } }
                        connectedBefore = true
                        delay = .milliseconds(100)
                        signalReady()
                        for try await _ in notifications { bump() }
                    }
                } catch {}
                state.withLock { $0.listening = false; $0.connection = nil }
                try? await connection.close()
            } catch {
                state.withLock { $0.listening = false }
            }
            signalReady()
            if Task.isCancelled { break }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}
