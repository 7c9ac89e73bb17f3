import Foundation
import Synchronization

/// A bounded in-memory cache of accepted client ID metadata documents, with one fetch in flight per key.
///
/// Least recently used entries go first once ``capacity`` is reached; an entry lives for the lifetime its
/// loader returned (see ``ClientMetadataCachePolicy``). Concurrent lookups of a key that is not cached share one
/// load: a burst of authorizations for a new client costs one fetch. A failed load is not cached (the draft
/// forbids caching errors and invalid documents): the next lookup loads again.
public final class ClientMetadataCache<Value: Sendable>: Sendable {
    /// The most entries kept.
    public let capacity: Int
    let clock: any TollgateClock

    private struct Entry {
        var value: Value
        var expiresAt: Date
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var loading: [String: Task<Value, any Error>] = [:]
        var tick: UInt64 = 0
    }

    private let state = Mutex(State())

    private enum Lookup: Sendable {
        case hit(Value)
        case wait(Task<Value, any Error>)
    }

    public init(capacity: Int = 1000, clock: any TollgateClock) {
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    /// The cached value of `key`, or the one `load` produces (with its lifetime in seconds); callers that arrive
    /// while a load of the same key runs wait for that load.
    public func value(for key: String, load: @escaping @Sendable () async throws -> (Value, TimeInterval)) async throws -> Value {
        let now = clock.now()
        let lookup: Lookup = state.withLock { state in
            state.tick += 1
            if var entry = state.entries[key] {
                if entry.expiresAt > now {
                    entry.lastUse = state.tick
                    state.entries[key] = entry
                    return .hit(entry.value)
                }
                state.entries[key] = nil
            }
            if let running = state.loading[key] { return .wait(running) }
            // The flight stores its own result before it completes: whoever awaited it finds the entry afterwards.
            let task = Task { [self] in
                do {
                    let (value, lifetime) = try await load()
                    finish(key, .success((value, lifetime)))
                    return value
                } catch {
                    finish(key, .failure(error))
                    throw error
                }
            }
            state.loading[key] = task
            return .wait(task)
        }
        switch lookup {
        case .hit(let value): return value
        case .wait(let task): return try await task.value
        }
    }

    /// Forgets the flight of `key` and stores a successful load, evicting the least recently used entry when full.
    private func finish(_ key: String, _ result: Result<(Value, TimeInterval), any Error>) {
        let now = clock.now()
        state.withLock { state in
            state.loading[key] = nil
            guard case .success(let (value, lifetime)) = result else { return }
            state.tick += 1
            state.entries[key] = Entry(value: value, expiresAt: now.addingTimeInterval(lifetime), lastUse: state.tick)
            while state.entries.count > capacity, let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                state.entries[oldest] = nil
            }
        }
    }

    /// Drops `key` (a revoked client's document).
    public func remove(_ key: String) {
        _ = state.withLock { $0.entries.removeValue(forKey: key) }
    }

    /// How many entries are cached now.
    public var count: Int { state.withLock { $0.entries.count } }
}
