import Foundation
import Synchronization
import Testing
@testable import TollgateCore

/// `withAbandoningDeadline`: the caller gets its answer at the deadline even when the work ignores cancellation.
@Suite("abandoning deadline")
struct AbandoningDeadlineTests {
    struct TookTooLong: Error {}
    struct BodyFailed: Error {}

    /// Sleeps on a thread for `seconds`, deaf to cancellation (a stalled peer the HTTP client has not noticed yet).
    static func deafSleep(_ seconds: TimeInterval) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { continuation.resume() }
        }
    }

    @Test func workThatIgnoresCancellationDoesNotHoldTheCaller() async throws {
        let finished = Flag()
        let started = ContinuousClock.now
        await #expect(throws: TookTooLong.self) {
            try await withAbandoningDeadline(seconds: 0.2, timeoutError: TookTooLong()) {
                await Self.deafSleep(20)
                finished.set()
                return 1
            }
        }
        // The work takes 20 s; the caller must not wait for it. The bound is loose on purpose: at the start of the
        // full suite every test competes for two cores (3.4 s passed once with a 0.2 s deadline).
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(!finished.value, "the abandoned work is still running when the caller already has its answer")
    }

    @Test func quickWorkKeepsItsResultOrItsError() async throws {
        let value = try await withAbandoningDeadline(seconds: 5, timeoutError: TookTooLong()) { 42 }
        #expect(value == 42)
        await #expect(throws: BodyFailed.self) {
            try await withAbandoningDeadline(seconds: 5, timeoutError: TookTooLong()) { () async throws -> Int in throw BodyFailed() }
        }
    }

    @Test func cancellingTheCallerCancelsTheWork() async throws {
        let sawCancellation = Flag()
        let caller = Task {
            try await withAbandoningDeadline(seconds: 30, timeoutError: TookTooLong()) { () async throws -> Int in
                do { try await Task.sleep(nanoseconds: 30_000_000_000) } catch { sawCancellation.set(); throw error }
                return 1
            }
        }
        try await Task.sleep(nanoseconds: 100_000_000)
        caller.cancel()
        let started = ContinuousClock.now
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(sawCancellation.value)
    }
}

/// A flag one task raises and another reads.
private final class Flag: Sendable {
    private let raised = Mutex(false)
    var value: Bool { raised.withLock { $0 } }
    func set() { raised.withLock { $0 = true } }
}
