import Foundation
import Testing
import TollgateCore
import TollgateSQLite
import TollgateDevUpstream
import TollgateTestSupport

/// Sessions survive what used to kill them: late upstream answers, crashed lease holders, interrupted attempts.
@Suite("refresh resilience")
struct RefreshResilienceTests {
    /// A second coordinator over the harness's store, with its own lease identity and timings.
    func coordinator(_ h: Harness, leaseDuration: TimeInterval = 6, callerWait: TimeInterval = 10) -> RefreshCoordinator {
        RefreshCoordinator(store: h.tollgate.store, vault: h.tollgate.vault, upstream: h.tollgate.upstream, clock: h.clock,
                           leaseDuration: leaseDuration, pollInterval: 0.02, callerWait: callerWait, upstreamHardLimit: 30,
                           logger: Harness.logger)
    }

    /// The pid of a process that has just exited (so it is certainly gone).
    func deadPID() throws -> Int32 {
        let p = try ChildProcess("/bin/true", [])
        p.waitUntilExit()
        return p.processIdentifier
    }

    @Test func aLateAnswerOfARotatingUpstreamIsStoredAndTheNextRefreshWorks() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 1.5; $0.rotateRefreshTokens = true }
            h.clock.advance(by: 120)
            let impatient = coordinator(h, callerWait: 0.3)
            let first = await impatient.refresh(grantID: grantID, actor: "server")
            guard case .transient(let retryAfter) = first.outcome else { Issue.record("expected transient, got \(first)"); return }
            #expect(retryAfter == impatient.inFlightRetryAfter)
            // The refresh goes on; its answer (with the rotated refresh token) is stored when it comes.
            await impatient.drain(upTo: 10)
            let after = try await h.grant(grantID)
            #expect(after.state == .active)
            #expect(after.lastRefreshOutcome == .succeeded)
            #expect(after.upstream.accessExpiresAt.map { $0 > h.clock.now() } == true)
            // The next refresh presents the rotated token: it works (before, it got invalid_grant -> needs-reauth).
            await h.setBehaviour { $0.tokenDelay = 0 }
            h.clock.advance(by: 120)
            // A patient caller: on a loaded machine 0.3 s can pass before even an immediate answer arrives.
            let second = await coordinator(h).refresh(grantID: grantID, actor: "server")
            #expect(second.outcome == .refreshed)
            #expect(second.calledUpstream)
            await #expect(try h.grant(grantID).state == .active)
            #expect(await h.stats().refreshCalls == 2)
        }
    }

    /// A step-up re-authorization replaces the grant's upstream credential while a refresh of the old one is still
    /// waiting for the upstream: the late answer (older scopes) must not overwrite the newer credential.
    @Test func aRefreshAnsweredAfterAStepUpLeavesTheNewerCredential() async throws {
        try await Harness.with(accessTTL: 60, serverScopes: ["files.read", "files.write"]) { h in
            let (grantID, _) = try await h.makeGrant(scopes: ["files.read"])
            await h.setBehaviour { $0.tokenDelay = 1.5; $0.rotateRefreshTokens = true }
            h.clock.advance(by: 120)
            let impatient = coordinator(h, callerWait: 0.2)
            let first = await impatient.refresh(grantID: grantID, actor: "server")
            guard case .transient = first.outcome else { Issue.record("expected the refresh still in flight, got \(first)"); return }
            // Meanwhile the user consents to more scopes: the same grant is extended with a new upstream credential.
            let (extended, _) = try await h.makeGrant(scopes: ["files.read", "files.write"])
            #expect(extended == grantID, "the step-up extends the grant")
            let afterStepUp = try await h.tollgate.refresher.credential(of: grantID)
            await impatient.drain(upTo: 10)
            #expect(await h.stats().refreshCalls == 1, "the old credential's refresh did reach the upstream")
            #expect(try await h.tollgate.refresher.credential(of: grantID) == afterStepUp, "the step-up's credential stays")
            let grant = try await h.grant(grantID)
            #expect(grant.scopes == ["files.read", "files.write"])
            #expect(grant.state == .active)
            #expect(try await h.tollgate.admin.audit(limit: 20).filter { $0.action == "upstream.refresh" && $0.grantID == grantID }.isEmpty,
                    "no refresh is recorded as stored")
        }
    }

    @Test func aCallerThatLeftFindsTheStoredResultNextTime() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (_, pair) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 1.0 }
            h.clock.advance(by: 120)
            let impatient = try await Tollgate(store: try SQLiteStore(path: h.databasePath),
                                         master: try MasterKey.load(forDatabaseAt: h.databasePath, environment: [:]),
                                         clock: h.clock, upstreamTimeout: 0.2, logger: Harness.logger)
            let v = try await impatient.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            let error = await oauthErrorValue { _ = try await impatient.tokens.upstreamAccessToken(for: v) }
            #expect(error?.code == .temporarilyUnavailable)
            #expect(error?.retryAfter == 2)
            await impatient.refresher.drain(upTo: 10)
            let again = try await impatient.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            guard case .fresh = again.upstream else { Issue.record("the stored refresh should make the next request fresh"); return }
            #expect(await h.stats().refreshCalls == 1)
            await impatient.shutdown()
        }
    }

    @Test func aLeaseOfAProcessOfThisHostThatIsGoneIsTakenOverAtOnce() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            h.clock.advance(by: 120)
            var dead = LeaseHolder.current()
            dead.pid = try deadPID()
            // It holds the lease for ten minutes by the clock: only seeing that its process is gone frees it.
            await #expect(try h.tollgate.store.acquireRefreshLease(grantID: grantID, owner: dead.description,
                                                             until: h.clock.now().addingTimeInterval(600), now: h.clock.now(),
                                                             replacing: nil) != nil)
            let result = await coordinator(h).refresh(grantID: grantID, actor: "test", waitUpTo: 5)
            #expect(result.outcome == .refreshed)
            #expect(await h.stats().refreshCalls == 1)
        }
    }

    @Test func aLiveHolderOfThisHostIsNotTakenOver() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            h.clock.advance(by: 120)
            let alive = LeaseHolder.current()   // this very process: alive
            #expect(!alive.isGoneFromThisHost)
            await #expect(try h.tollgate.store.acquireRefreshLease(grantID: grantID, owner: alive.description,
                                                             until: h.clock.now().addingTimeInterval(600), now: h.clock.now(),
                                                             replacing: nil) != nil)
            let result = await coordinator(h).refresh(grantID: grantID, actor: "test", waitUpTo: 0.5)
            guard case .transient = result.outcome else { Issue.record("a live holder's lease must be respected, got \(result)"); return }
            #expect(await h.stats().refreshCalls == 0)
        }
    }

    @Test func theHolderKeepsItsShortLeaseAliveWhileTheUpstreamIsSlow() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 1.5 }
            h.clock.advance(by: 120)
            let a = coordinator(h, leaseDuration: 0.4)
            let b = coordinator(h, leaseDuration: 0.4)
            // The clock moves with real time, so a lease nobody renews expires after 0.4 s.
            let ticking = Task {
                for _ in 0..<200 where !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: 20_000_000)
                    h.clock.advance(by: 0.02)
                }
            }
            async let first = a.refresh(grantID: grantID, actor: "a", waitUpTo: 10)
            try await Task.sleep(nanoseconds: 300_000_000)
            async let second = b.refresh(grantID: grantID, actor: "b", waitUpTo: 10)
            let (ra, rb) = await (first, second)
            ticking.cancel()
            #expect(ra.outcome == .refreshed)
            #expect(rb.outcome == .refreshed)
            #expect(await h.stats().refreshCalls == 1, "without the heartbeat the second coordinator takes the expired lease")
        }
    }

    @Test func invalidGrantAfterAnInterruptedAttemptSaysSo() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            h.clock.advance(by: 120)
            // A process took the lease (it was about to send the refresh) and was killed before storing the answer.
            var dead = LeaseHolder.current()
            dead.pid = try deadPID()
            _ = try await h.tollgate.store.acquireRefreshLease(grantID: grantID, owner: dead.description,
                                                         until: h.clock.now().addingTimeInterval(600), now: h.clock.now(), replacing: nil)
            await h.setBehaviour { $0.refreshFailure = "invalid_grant" }
            let result = await coordinator(h).refresh(grantID: grantID, actor: "test", waitUpTo: 5)
            #expect(result.outcome == .needsReauth)
            let grant = try await h.grant(grantID)
            #expect(grant.state == .needsReauth)
            #expect(grant.stateReason?.contains("interrupted before its answer was stored") == true)
            #expect(result.message == grant.stateReason)
        }
    }

    @Test func anAnswerLostAfterTheRequestWentOutCountsAsAnInterruptedAttempt() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            h.clock.advance(by: 120)
            // The upstream carries the refresh out (and rotates) but its answer comes after the hard limit.
            await h.setBehaviour { $0.tokenDelay = 1.0 }
            let hasty = RefreshCoordinator(store: h.tollgate.store, vault: h.tollgate.vault, upstream: h.tollgate.upstream, clock: h.clock,
                                           callerWait: 0.3, upstreamHardLimit: 0.3, logger: Harness.logger)
            let first = await hasty.refresh(grantID: grantID, actor: "test")
            guard case .transient = first.outcome else { Issue.record("expected transient: \(first)"); return }
            // Wait (bounded) until the upstream has taken the delayed request; it then uses the refresh token at once.
            for _ in 0..<500 where await h.stats().refreshCalls == 0 { try await Task.sleep(nanoseconds: 20_000_000) }
            try await Task.sleep(nanoseconds: 200_000_000)
            await h.setBehaviour { $0.tokenDelay = 0 }
            h.clock.advance(by: 60)
            // Without the hasty limit: on a loaded machine 0.3 s can pass before even an immediate answer arrives.
            let second = await coordinator(h).refresh(grantID: grantID, actor: "test")
            #expect(second.outcome == .needsReauth)
            await #expect(try h.grant(grantID).stateReason?.contains("interrupted before its answer was stored") == true)
        }
    }

    @Test func aRefusedConnectionNeverReachedTheUpstream() async throws {
        try await Harness.with { h in
            var provider = h.provider
            provider.tokenEndpoint = "http://127.0.0.1:9/token"   // the discard port: nothing listens
            do {
                _ = try await h.tollgate.upstream.refresh(Secret("rt"), with: ProviderAccess(provider: provider, clientSecret: nil))
                Issue.record("expected a transport failure")
            } catch let error as UpstreamError {
                #expect(error.kind == .transient)
                #expect(!error.mayHaveReachedUpstream, "\(error)")
            }
        }
    }

    @Test func aPlainInvalidGrantIsNotBlamedOnAnInterruption() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            h.clock.advance(by: 120)
            await h.setBehaviour { $0.refreshFailure = "invalid_grant" }
            _ = await h.tollgate.refresher.refresh(grantID: grantID, actor: "test")
            let grant = try await h.grant(grantID)
            #expect(grant.state == .needsReauth)
            #expect(grant.stateReason?.contains("the upstream refused the refresh token") == true)
            #expect(grant.stateReason?.contains("interrupted") == false)
        }
    }

    @Test func retryAfterIsTheBackoffThatIsReallyInForce() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = "http500" }
            h.clock.advance(by: 120)
            var seen: [TimeInterval] = []
            for _ in 0..<6 {
                let attempt = await h.tollgate.refresher.refresh(grantID: grantID, actor: "server")
                guard case .transient(let retryAfter) = attempt.outcome else { Issue.record("expected transient: \(attempt)"); return }
                seen.append(retryAfter)
                // Asking again before it is over is told the time that is really left.
                h.clock.advance(by: retryAfter / 2)
                let early = await h.tollgate.refresher.refresh(grantID: grantID, actor: "server")
                guard case .transient(let left) = early.outcome else { Issue.record("expected transient: \(early)"); return }
                #expect(abs(left - retryAfter / 2) < 0.01)
                h.clock.advance(by: retryAfter / 2 + 0.001)
            }
            #expect(seen == [1, 2, 4, 8, 16, 30])
            #expect(await h.stats().refreshCalls == 6)
            await #expect(try h.grant(grantID).state == .active)
        }
    }
}

/// The OAuth error `body` throws, whole (code, description, retry delay).
func oauthErrorValue(_ body: () async throws -> Void) async -> OAuthError? {
    do { try await body(); return nil } catch let e as OAuthError { return e } catch { return nil }
}
