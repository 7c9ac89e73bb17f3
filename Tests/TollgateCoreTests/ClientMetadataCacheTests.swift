import Foundation
import Synchronization
import Testing
import TollgateCore

@Suite("client metadata cache: lifetimes, LRU, single flight")
struct ClientMetadataCacheTests {
    @Test func cacheControlLifetimesAreClamped() {
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: nil) == 300)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "public, max-age=3600") == 3600)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "max-age=5") == 60)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "max-age=999999999") == 86_400)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "no-store") == 60)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "max-age=600, no-cache") == 60)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "max-age=\"120\"") == 120)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "max-age=-5") == 300)
        #expect(ClientMetadataCachePolicy.lifetime(cacheControl: "max-age=abc") == 300)
    }

    @Test func concurrentLookupsShareOneLoadAndFailuresAreNotCached() async throws {
        let clock = ManualClock()
        let cache = ClientMetadataCache<String>(capacity: 10, clock: clock)
        let loads = LoadCounter()
        let values = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await cache.value(for: "k") {
                        loads.count.withLock { $0 += 1 }
                        try await Task.sleep(for: .milliseconds(100))
                        return ("v", 60)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(values == Array(repeating: "v", count: 20))
        #expect(loads.count.withLock { $0 } == 1)
        struct Boom: Error {}
        await #expect(throws: Boom.self) { try await cache.value(for: "bad") { throw Boom() } }
        let second = try await cache.value(for: "bad") { ("recovered", 60) }
        #expect(second == "recovered", "a failure is not cached")
        clock.advance(by: 61)
        let reloaded = try await cache.value(for: "k") { ("v2", 60) }
        #expect(reloaded == "v2", "an expired entry is loaded again")
    }

    @Test func theLeastRecentlyUsedEntryGoesFirst() async throws {
        let cache = ClientMetadataCache<Int>(capacity: 3, clock: ManualClock())
        for i in 0..<3 { _ = try await cache.value(for: "k\(i)") { (i, 600) } }
        _ = try await cache.value(for: "k0") { (-1, 600) }            // k0 used: k1 is now the oldest
        _ = try await cache.value(for: "k3") { (3, 600) }
        #expect(cache.count == 3)
        #expect(try await cache.value(for: "k0") { (-1, 600) } == 0, "kept")
        #expect(try await cache.value(for: "k1") { (-1, 600) } == -1, "evicted, loaded again")
    }
}

/// How many times a cache ran its loader, shared with the loaders.
final class LoadCounter: Sendable {
    let count = Mutex(0)
}
