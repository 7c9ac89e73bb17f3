import Foundation
import Testing
import TollgateCore
import TollgateSQLite
import TollgateTestSupport
import TollgateDevUpstream

@Suite("single-flight upstream refresh")
struct SingleFlightTests {
    @Test func fiftyConcurrentRefreshesInOneProcessMakeOneUpstreamCall() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 0.3 }
            h.clock.advance(by: 120)
            let results = await withTaskGroup(of: RefreshResult.self) { group in
                for _ in 0..<50 { group.addTask { await h.tollgate.refresher.refresh(grantID: grantID, actor: "test") } }
                return await group.reduce(into: [RefreshResult]()) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.outcome == .refreshed })
            #expect(Set(results.compactMap { $0.credential?.accessToken }).count == 1)
            #expect(await h.stats().refreshCalls == 1)
            #expect(try await h.tollgate.admin.audit(grantID: grantID).filter { $0.action.hasPrefix("upstream.refresh") }.count == 1)
        }
    }

    @Test func twoCoreInstancesOnOneDatabaseShareOneRefreshThroughTheLease() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 0.5 }
            h.clock.advance(by: 120)
            // A second, independent core (own connection pool, own coordinator) over the same file.
            let other = try await Tollgate(store: try SQLiteStore(path: h.databasePath),
                                     master: try MasterKey.load(forDatabaseAt: h.databasePath, environment: [:]), clock: h.clock)
            async let a = h.tollgate.refresher.refresh(grantID: grantID, actor: "a")
            async let b = other.refresher.refresh(grantID: grantID, actor: "b")
            let (ra, rb) = await (a, b)
            await other.shutdown()
            #expect(ra.outcome == .refreshed)
            #expect(rb.outcome == .refreshed)
            #expect(ra.credential?.accessToken == rb.credential?.accessToken)
            #expect([ra.calledUpstream, rb.calledUpstream].filter { $0 }.count == 1)
            #expect(await h.stats().refreshCalls == 1)
        }
    }

    @Test func anExpiredLeaseOfACrashedHolderIsTakenOver() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            h.clock.advance(by: 120)
            // A holder that took the lease and died.
            #expect(try await h.tollgate.store.acquireRefreshLease(grantID: grantID, owner: "dead", until: h.clock.now().addingTimeInterval(30),
                                                             now: h.clock.now(), replacing: nil) != nil)
            let pending = Task { await h.tollgate.refresher.refresh(grantID: grantID, actor: "test") }
            try await Task.sleep(nanoseconds: 200_000_000)
            #expect(await h.stats().refreshCalls == 0)
            h.clock.advance(by: 31)
            let result = await pending.value
            #expect(result.outcome == .refreshed)
            #expect(await h.stats().refreshCalls == 1)
        }
    }

    @Test func twoGrantRefreshProcessesAtOnceMakeOneUpstreamCall() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 1.0 }
            let env = ["TOLLGATE_DB": h.databasePath]
            async let first = CLI.run(binary, ["grant", "refresh", String(grantID)], environment: env)
            async let second = CLI.run(binary, ["grant", "refresh", String(grantID)], environment: env)
            let (r1, r2) = try await (first, second)
            #expect(r1.status == 0, "\(r1.stderr)")
            #expect(r2.status == 0, "\(r2.stderr)")
            #expect(await h.stats().refreshCalls == 1)
            #expect(try await h.grant(grantID).lastRefreshOutcome == .succeeded)
        }
    }
}
