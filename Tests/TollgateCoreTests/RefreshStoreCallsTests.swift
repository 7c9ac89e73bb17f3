import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// How many store calls one upstream refresh makes: the lease brings everything the refresh needs.
@Suite("store calls of one refresh")
struct RefreshStoreCallsTests {
    @Test func oneUpstreamRefreshReadsTheGrantOnceThenTakesTheLeaseWithItsContextThenWritesOnce() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            let store = CountingStore(h.tollgate.store)
            let coordinator = RefreshCoordinator(store: store, vault: h.tollgate.vault, upstream: h.tollgate.upstream, clock: h.clock)
            h.clock.advance(by: 120)
            let result = await coordinator.refresh(grantID: grantID, actor: "test")
            #expect(result.outcome == .refreshed)
            #expect(result.calledUpstream)
            #expect(store.calls == [
                "grant(id:)": 1,
                "acquireRefreshLease(grantID:owner:until:now:replacing:)": 1,
                "finishRefresh(grantID:owner:expectedVersion:result:audit:at:)": 1,
            ])
            #expect(store.totalCalls == 3)
        }
    }

    @Test func aForcedRefreshMakesTheSameThreeCalls() async throws {
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            let store = CountingStore(h.tollgate.store)
            let coordinator = RefreshCoordinator(store: store, vault: h.tollgate.vault, upstream: h.tollgate.upstream, clock: h.clock)
            let result = await coordinator.refresh(grantID: grantID, force: true, actor: "test")
            #expect(result.outcome == .refreshed)
            #expect(store.totalCalls == 3, "\(store.calls)")
        }
    }
}
