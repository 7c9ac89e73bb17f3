import Foundation
import TollgateCore

/// The store conformance suite: checks written once against ``TollgateStore`` (never a backend type), each run
/// against every ``StoreBackend``. A check throws a ``ConformanceFailure`` naming every expectation that failed.
///
/// Data is seeded-random or fixed, times are given explicitly (``Fixture/t0`` and offsets); nothing waits on the wall clock.
public enum StoreConformance {
    /// Runs `body` on a fresh store and its second connection, then throws what failed.
    static func run(_ check: String, _ backend: StoreBackend,
                    _ body: (Expectations, _ store: any TollgateStore, _ other: any TollgateStore) async throws -> Void) async throws {
        let expectations = Expectations("\(check) [\(backend.name)]")
        try await backend.withStores { store, other in try await body(expectations, store, other) }
        try expectations.finish()
    }
}
