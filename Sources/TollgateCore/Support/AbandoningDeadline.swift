import Foundation
import Synchronization

/// The result of `body`, or `timeoutError` once `seconds` have passed, whichever comes first.
///
/// On a timeout the body's task is cancelled and **left to finish on its own**: the caller never waits for
/// work that is slow to notice cancellation (a server that stalls mid-response, a connection pool shutting
/// down). A task group cannot do this, because it always waits for every child. Cancelling the caller
/// cancels the body too.
func withAbandoningDeadline<T: Sendable>(seconds: TimeInterval, timeoutError: any Error,
                                         _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let work = Task { try await body() }
    let outcome = FirstOutcome<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            outcome.waiting(continuation)
            let timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0.001, seconds) * 1_000_000_000))
                guard !Task.isCancelled else { return }
                if outcome.finish(.failure(timeoutError)) { work.cancel() }
            }
            Task {
                let result = await work.result
                timer.cancel()
                outcome.finish(result)
            }
        }
    } onCancel: {
        work.cancel()
    }
}

/// A continuation resumed by whichever of several racers finishes first; the later ones are ignored.
private final class FirstOutcome<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func waiting(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    /// Resumes the waiter with `result` unless another racer already did; whether this one was first.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        guard let waiter = continuation.withLock({ slot -> CheckedContinuation<T, any Error>? in
            defer { slot = nil }
            return slot
        }) else { return false }
        waiter.resume(with: result)
        return true
    }
}
