import Synchronization

/// Answers concurrent lookups of keys with as few fetches as possible, and never from a fetch that started
/// before the lookup did.
///
/// A lookup that finds fewer than ``maximumBatchesInFlight`` batches running starts one at once, with itself
/// and whoever is waiting; otherwise it waits, and the next batch to start takes it along (at most
/// ``maximumBatchSize`` keys a batch). Every lookup of a batch arrived before its fetch began, so each answer
/// reflects the data as of a moment after its own lookup started: a change committed before a lookup starts
/// (a revocation) is always seen by it. Equal keys in one batch are fetched once and answered alike.
///
/// An error of a fetch reaches every lookup of its batch. Waiting lookups are fetched by a task of the lookup's
/// own (never cancelled), so a cancelled caller fails alone.
final class CoalescingLookup<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Fetches the values of distinct keys for lookups the earliest of which started at the instant given (so a
    /// fetch can keep within a deadline counted from the lookups' own start, their wait for a slot included); a key
    /// missing from the answer has no value, a failed entry fails only the lookups of that key.
    typealias Fetch = @Sendable ([Key], _ earliestLookupStart: ContinuousClock.Instant) async throws -> [Key: Result<Value, any Error>]

    private struct Waiter: Sendable {
        let key: Key
        let startedAt: ContinuousClock.Instant
        let continuation: CheckedContinuation<Value?, any Error>
    }

    private struct State {
        /// Lookups that arrived while every batch slot was taken; the next batch to start takes them.
        var waiting: [Waiter] = []
        var batchesInFlight = 0

        mutating func take(upTo count: Int) -> [Waiter] {
            let taken = Array(waiting.prefix(count))
            waiting.removeFirst(taken.count)
            return taken
        }
    }

    /// The most fetches running at once.
    let maximumBatchesInFlight: Int
    /// The most lookups one fetch answers.
    let maximumBatchSize: Int
    private let fetch: Fetch
    private let state = Mutex(State())

    /// A lookup running at most `maximumBatchesInFlight` fetches of at most `maximumBatchSize` keys at once.
    init(maximumBatchesInFlight: Int, maximumBatchSize: Int, fetch: @escaping Fetch) {
        self.maximumBatchesInFlight = max(1, maximumBatchesInFlight)
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.fetch = fetch
    }

    /// The value of `key`, from a fetch that started after this call did; `nil` if it has none.
    func value(for key: Key) async throws -> Value? {
        let startedAt = ContinuousClock.now
        // While a slot is free nobody waits (whoever frees a slot takes the waiting along), so a lookup that
        // finds one fetches its own key, in its own task: no hop to another task when the load is light.
        let leads = state.withLock { state in
            guard state.batchesInFlight < maximumBatchesInFlight else { return false }
            state.batchesInFlight += 1
            return true
        }
        if leads {
            defer { startWaitingOrReleaseSlot() }
            return try await fetch([key], startedAt)[key]?.get()
        }
        return try await withCheckedThrowingContinuation { continuation in
            let batch: [Waiter]? = state.withLock { state in
                state.waiting.append(Waiter(key: key, startedAt: startedAt, continuation: continuation))
                // A batch may have finished since the slots were counted: then nobody would come for this lookup.
                guard state.batchesInFlight < maximumBatchesInFlight else { return nil }
                state.batchesInFlight += 1
                return state.take(upTo: maximumBatchSize)
            }
            if let batch { startBatches(batch) }
        }
    }

    /// How many lookups wait for the next batch (for tests).
    var waitingCount: Int { state.withLock { $0.waiting.count } }

    /// Runs `batch` and then whatever waits, in a task of its own, until nobody waits; holds one slot.
    private func startBatches(_ batch: [Waiter]) {
        Task {
            var batch = batch
            while true {
                do {
                    let earliest = batch.map(\.startedAt).min() ?? .now
                    Self.answer(batch, from: try await fetch(Self.distinctKeys(batch.map(\.key)), earliest))
                } catch {
                    for waiter in batch { waiter.continuation.resume(throwing: error) }
                }
                guard let next = takeWaitingOrReleaseSlot() else { return }
                batch = next
            }
        }
    }

    private func startWaitingOrReleaseSlot() {
        if let next = takeWaitingOrReleaseSlot() { startBatches(next) }
    }

    /// The next batch for the slot of a batch that just finished, or `nil` (the slot freed) when nobody waits.
    private func takeWaitingOrReleaseSlot() -> [Waiter]? {
        state.withLock { state in
            if state.waiting.isEmpty {
                state.batchesInFlight -= 1
                return nil
            }
            return state.take(upTo: maximumBatchSize)
        }
    }

    private static func answer(_ waiters: [Waiter], from answers: [Key: Result<Value, any Error>]) {
        for waiter in waiters {
            switch answers[waiter.key] {
            case .success(let value): waiter.continuation.resume(returning: value)
            case .failure(let error): waiter.continuation.resume(throwing: error)
            case nil: waiter.continuation.resume(returning: nil)
            }
        }
    }

    private static func distinctKeys(_ keys: [Key]) -> [Key] {
        var seen = Set<Key>()
        return keys.filter { seen.insert($0).inserted }
    }
}
