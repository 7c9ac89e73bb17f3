import Foundation
import Synchronization
import Testing
@testable import TollgatePostgres

/// ``CoalescingLookup`` with a fetch the tests control: which keys each fetch got, when it starts reading, and
/// when it answers. No database, no clock: the tests wait for states, never for durations.
@Suite("coalescing lookup")
struct CoalescingLookupTests {
    /// A fake table the fetches read, with a gate that holds every fetch until the test opens it.
    final class FakeTable: Sendable {
        struct State {
            var values: [Int: String] = [:]
            var fetches: [[Int]] = []
            var open = false
            var failNext: (any Error)?
            var failingKeys: Set<Int> = []
        }
        let state: Mutex<State>

        init(_ values: [Int: String]) { state = Mutex(State(values: values)) }

        /// Reads the table when it starts (its snapshot), then waits for the gate.
        func fetch(_ keys: [Int]) async throws -> [Int: Result<String, any Error>] {
            let (snapshot, failure) = state.withLock { state -> ([Int: Result<String, any Error>], (any Error)?) in
                state.fetches.append(keys)
                let failure = state.failNext
                state.failNext = nil
                var snapshot: [Int: Result<String, any Error>] = [:]
                for key in keys {
                    if state.failingKeys.contains(key) { snapshot[key] = .failure(LookupFailure(key: key)) }
                    else if let value = state.values[key] { snapshot[key] = .success(value) }
                }
                return (snapshot, failure)
            }
            try await waitUntil { self.state.withLock { $0.open } }
            if let failure { throw failure }
            return snapshot
        }

        var fetches: [[Int]] { state.withLock { $0.fetches } }
        func openGate() { state.withLock { $0.open = true } }
        func set(_ key: Int, _ value: String?) { state.withLock { $0.values[key] = value } }
    }

    struct LookupFailure: Error, Equatable { let key: Int }

    @Test func concurrentLookupsOfDifferentAndEqualKeysEachGetTheirOwnAnswer() async throws {
        let table = FakeTable(Dictionary(uniqueKeysWithValues: (0..<20).map { ($0, "value-\($0)") }))
        let lookup = CoalescingLookup<Int, String>(maximumBatchesInFlight: 1, maximumBatchSize: 256, fetch: { keys, _ in try await table.fetch(keys) })
        // Keys 0..<30 three times each: 20 known, 10 unknown, every one asked for by several lookups at once.
        let keys = (0..<90).map { $0 % 30 }
        try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            group.addTask { (keys[0], try await lookup.value(for: keys[0])) }
            // The first lookup's fetch holds the only slot; the others all wait for the next one.
            try await waitUntil { table.fetches.count == 1 }
            for key in keys.dropFirst() { group.addTask { (key, try await lookup.value(for: key)) } }
            try await waitUntil { lookup.waitingCount == keys.count - 1 }
            table.openGate()
            var answered = 0
            for try await (key, value) in group {
                #expect(value == (key < 20 ? "value-\(key)" : nil), "key \(key)")
                answered += 1
            }
            #expect(answered == keys.count)
        }
        // One fetch for the first lookup, one for the 89 that waited, each key in it once.
        #expect(table.fetches.count == 2)
        #expect(table.fetches[0] == [0])
        #expect(table.fetches[1].count == 30)
        #expect(Set(table.fetches[1]) == Set(0..<30))
    }

    /// A batch's fetch learns when its earliest lookup started, its wait for a slot included, so the store can keep
    /// one deadline per lookup rather than one per statement.
    @Test func aWaitingBatchIsToldWhenItsEarliestLookupStarted() async throws {
        let table = FakeTable([1: "one", 2: "two"])
        let starts = Mutex<[ContinuousClock.Instant]>([])
        let lookup = CoalescingLookup<Int, String>(maximumBatchesInFlight: 1, maximumBatchSize: 256, fetch: { keys, earliest in
            starts.withLock { $0.append(earliest) }
            return try await table.fetch(keys)
        })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { _ = try await lookup.value(for: 1) }
            try await waitUntil { table.fetches.count == 1 }
            let beforeSecond = ContinuousClock.now
            group.addTask { _ = try await lookup.value(for: 2) }
            try await waitUntil { lookup.waitingCount == 1 }
            let whileWaiting = ContinuousClock.now
            table.openGate()
            try await group.waitForAll()
            let recorded = starts.withLock { $0 }
            #expect(recorded.count == 2)
            // The second batch started only after the gate opened, yet it is told when its lookup began waiting.
            #expect(recorded[1] >= beforeSecond && recorded[1] <= whileWaiting)
        }
    }

    @Test func aLookupIsNeverAnsweredByAFetchThatStartedBeforeIt() async throws {
        let table = FakeTable([7: "active"])
        let lookup = CoalescingLookup<Int, String>(maximumBatchesInFlight: 1, maximumBatchSize: 256, fetch: { keys, _ in try await table.fetch(keys) })
        let before = Task { try await lookup.value(for: 7) }
        try await waitUntil { table.fetches.count == 1 }
        // The fetch in flight has read "active"; the revocation commits, and only then does the next lookup start.
        table.set(7, "revoked")
        let after = Task { try await lookup.value(for: 7) }
        try await waitUntil { lookup.waitingCount == 1 }
        table.openGate()
        #expect(try await before.value == "active")
        #expect(try await after.value == "revoked")
        #expect(table.fetches == [[7], [7]])
    }

    @Test func aFailedFetchReachesEveryLookupOfItsBatchAndTheNextBatchRunsAnew() async throws {
        let table = FakeTable([1: "one", 2: "two"])
        let lookup = CoalescingLookup<Int, String>(maximumBatchesInFlight: 1, maximumBatchSize: 256, fetch: { keys, _ in try await table.fetch(keys) })
        let leader = Task { try await lookup.value(for: 1) }
        try await waitUntil { table.fetches.count == 1 }
        // The waiting batch's fetch will fail; the leader's succeeds.
        table.state.withLock { $0.failNext = LookupFailure(key: 0) }
        let waiting = (0..<5).map { i in Task { try await lookup.value(for: 1 + i % 2) } }
        try await waitUntil { lookup.waitingCount == 5 }
        table.openGate()
        #expect(try await leader.value == "one")
        for task in waiting {
            await #expect(throws: LookupFailure(key: 0)) { _ = try await task.value }
        }
        // The slot is free again: a later lookup runs its own fetch and gets its answer.
        #expect(try await lookup.value(for: 2) == "two")
        #expect(table.fetches.count == 3)
    }

    @Test func anEntryThatCannotBeReadFailsOnlyTheLookupsOfItsKey() async throws {
        let table = FakeTable([1: "one", 2: "two"])
        table.state.withLock { $0.failingKeys = [2] }
        let lookup = CoalescingLookup<Int, String>(maximumBatchesInFlight: 1, maximumBatchSize: 256, fetch: { keys, _ in try await table.fetch(keys) })
        let leader = Task { try await lookup.value(for: 1) }
        try await waitUntil { table.fetches.count == 1 }
        let good = Task { try await lookup.value(for: 1) }
        let bad = Task { try await lookup.value(for: 2) }
        try await waitUntil { lookup.waitingCount == 2 }
        table.openGate()
        #expect(try await leader.value == "one")
        #expect(try await good.value == "one")
        await #expect(throws: LookupFailure(key: 2)) { _ = try await bad.value }
    }

    @Test func aCancelledLookupFailsAloneAndThoseWaitingBehindItAreAnswered() async throws {
        let table = FakeTable([1: "one", 2: "two"])
        let lookup = CoalescingLookup<Int, String>(maximumBatchesInFlight: 1, maximumBatchSize: 256, fetch: { keys, _ in try await table.fetch(keys) })
        let first = Task { try await lookup.value(for: 1) }
        try await waitUntil { table.fetches.count == 1 }
        let waiting = [Task { try await lookup.value(for: 2) }, Task { try await lookup.value(for: 1) }]
        try await waitUntil { lookup.waitingCount == 2 }
        first.cancel()
        await #expect(throws: CancellationError.self) { _ = try await first.value }
        // The cancelled fetch freed its slot for the waiting ones: their fetch runs, uncancelled.
        try await waitUntil { table.fetches.count == 2 }
        table.openGate()
        #expect(try await waiting[0].value == "two")
        #expect(try await waiting[1].value == "one")
        #expect(Set(table.fetches[1]) == [1, 2])
    }
}

/// Waits (a bounded number of short sleeps, cancellable) until `condition` holds.
private func waitUntil(_ condition: @Sendable () -> Bool) async throws {
    for _ in 0..<10_000 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    throw CoalescingLookupTests.LookupFailure(key: -1)
}
