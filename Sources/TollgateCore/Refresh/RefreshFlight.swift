import Foundation
import Synchronization

/// One refresh of one grant in this process, and the callers waiting for its result.
///
/// The refresh runs in its own task, whoever started it; callers wait only as long as they can afford
/// (``result(within:)``) and leave without cancelling it, so an upstream answer that arrives late is still
/// stored and found by the next request.
final class RefreshFlight: Sendable {
    private struct State {
        var result: RefreshResult?
        var waiters: [Int: CheckedContinuation<RefreshResult?, Never>] = [:]
        var nextWaiter = 0
        /// Waiters whose time ran out before they had started waiting.
        var expired: Set<Int> = []
    }
    private let state = Mutex(State())

    /// Delivers the result to every waiter and to everyone who asks later.
    func finish(_ result: RefreshResult) {
        let waiters = state.withLock { s -> [CheckedContinuation<RefreshResult?, Never>] in
            s.result = result
            defer { s.waiters = [:]; s.expired = [] }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    /// The result, or `nil` if it is not there within `seconds` (the refresh goes on).
    func result(within seconds: TimeInterval) async -> RefreshResult? {
        let ticket = state.withLock { s -> Int? in
            guard s.result == nil else { return nil }
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        guard let id = ticket else { return state.withLock { $0.result } }
        let timer = Task { [self] in
            try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1_000_000_000))
            if !Task.isCancelled { giveUp(id) }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { (continuation: CheckedContinuation<RefreshResult?, Never>) in
            let ready = state.withLock { s -> RefreshResult?? in
                if let done = s.result { return .some(done) }
                if s.expired.remove(id) != nil { return .some(nil) }
                s.waiters[id] = continuation
                return .none
            }
            if case .some(let answer) = ready { continuation.resume(returning: answer) }
        }
    }

    /// The waiter's time is up: it leaves with `nil` (or, if it has not started waiting yet, will).
    private func giveUp(_ id: Int) {
        let waiter = state.withLock { s -> CheckedContinuation<RefreshResult?, Never>? in
            if let waiter = s.waiters.removeValue(forKey: id) { return waiter }
            if s.result == nil { s.expired.insert(id) }
            return nil
        }
        waiter?.resume(returning: nil)
    }
}
