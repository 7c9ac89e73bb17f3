import Foundation
import Testing
import TollgateCore

/// The refresh coordinator's decisions, event by event, without a store, an upstream or a clock.
@Suite("refresh state machine")
struct RefreshStateMachineTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let start = ContinuousClock.now
    static let grantID: Int64 = 7
    static let liveHolder = "host@boot/4242/100/aaaa"
    static let longestRefresh: TimeInterval = 132

    static func machine(force: Bool = false) -> RefreshStateMachine {
        RefreshStateMachine(grantID: grantID, force: force, skew: 30, longestRefresh: longestRefresh, inFlightRetryAfter: 2)
    }

    /// A refreshable grant whose upstream token expires `expiresIn` seconds after ``now``.
    static func grant(version: Int64 = 3, expiresIn: TimeInterval = 10, state: GrantState = .active, failures: Int = 0,
                      notBefore: Date? = nil, outcome: RefreshOutcome? = nil, reason: String? = nil) -> Grant {
        Grant(id: grantID, serverID: 1, serverSlug: "files", clientID: "c1", clientName: "Client", scopes: ["read"],
              resource: "https://r.example/mcp", state: state,
              upstream: UpstreamCredentialInfo(accessExpiresAt: now.addingTimeInterval(expiresIn), hasRefreshToken: true,
                                               refreshExpiresAt: nil, scope: "read"),
              createdAt: now, updatedAt: now, lastRefreshOutcome: outcome, refreshFailures: failures, refreshNotBefore: notBefore,
              providerSupportsRefresh: true, version: version, stateReason: reason)
    }

    static func provider(lastError: String? = nil) -> Provider {
        Provider(id: 11, serverID: 1, kind: .oauth2, authorizationEndpoint: "https://idp.example/authorize",
                 tokenEndpoint: "https://idp.example/token", clientID: "up", hasClientSecret: true, authMethod: .clientSecretBasic,
                 scopes: ["offline_access"], authorizeParams: [], supportsRefresh: true, lastError: lastError, createdAt: now)
    }

    static let sealed = SealedCredential(accessToken: Data("sealed-access".utf8), refreshToken: Data("sealed-refresh".utf8),
                                         info: UpstreamCredentialInfo(accessExpiresAt: now, hasRefreshToken: true, refreshExpiresAt: nil, scope: nil))

    static func lease(_ grant: Grant = RefreshStateMachineTests.grant(), sealed: SealedCredential? = RefreshStateMachineTests.sealed,
                      provider: Provider? = RefreshStateMachineTests.provider(),
                      interruptedAt: Date? = nil) -> RefreshLeaseAcquisition {
        RefreshLeaseAcquisition(interruptedAttemptAt: interruptedAt, grant: grant, sealedCredential: sealed, provider: provider,
                                sealedProviderSecret: provider == nil ? nil : Data("sealed-secret".utf8))
    }

    static let credential = UpstreamCredential(accessToken: Secret("stored-access"), refreshToken: Secret("stored-refresh"),
                                               accessExpiresAt: now.addingTimeInterval(3600))

    /// A machine that has read `grant` (a refresh is due) and holds the lease: its next event is the upstream's answer.
    static func callingUpstream(_ lease: RefreshLeaseAcquisition = RefreshStateMachineTests.lease()) -> RefreshStateMachine {
        var m = machine()
        _ = m.start(at: start)
        _ = m.grantRead(lease.grant, now: now)
        let action = m.leaseTaken(lease, now: now)
        #expect(describe(action) == "callUpstream(v\(lease.grant.version))")
        return m
    }

    /// A machine waiting for another holder (the lease was not taken): its next event is a poll's read.
    static func waiting(version: Int64 = 3) -> RefreshStateMachine {
        var m = machine()
        _ = m.start(at: start)
        _ = m.grantRead(grant(version: version), now: now)
        #expect(describe(m.leaseNotTaken()) == "pollLease")
        return m
    }

    // MARK: - Before the lease

    @Test func startingReadsTheGrant() {
        var m = Self.machine()
        #expect(describe(m.start(at: Self.start)) == "readGrant")
    }

    @Test func aMissingGrantIsNotFound() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        let result = finished(m.grantRead(nil, now: Self.now))
        #expect(result?.outcome == .notFound)
        #expect(result?.message == "no grant 7")
    }

    @Test(arguments: [(GrantState.revoked, NotRefreshableReason.revoked), (.needsReauth, .needsReauth)])
    func aGrantThatCannotBeRefreshedFailsWithItsReason(state: GrantState, reason: NotRefreshableReason) {
        var m = Self.machine(force: true)
        _ = m.start(at: Self.start)
        let result = finished(m.grantRead(Self.grant(state: state), now: Self.now))
        #expect(result?.outcome == .notRefreshable(reason))
        #expect(result?.calledUpstream == false)
    }

    @Test func aFreshCredentialIsUsedAsItIs() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        #expect(describe(m.grantRead(Self.grant(expiresIn: 3600), now: Self.now)) == "readCredential")
        let result = finished(m.credentialRead(Self.credential))
        #expect(result?.outcome == .refreshed)
        #expect(result?.credential == Self.credential)
        #expect(result?.message == "already fresh")
        #expect(result?.calledUpstream == false)
    }

    @Test func aFreshGrantWithoutAStoredCredentialGoesOnToTheLease() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        _ = m.grantRead(Self.grant(expiresIn: 3600), now: Self.now)
        #expect(describe(m.credentialRead(nil)) == "takeLease(nil)")
    }

    @Test func aCredentialInsideTheSkewWindowIsRefreshed() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        #expect(describe(m.grantRead(Self.grant(expiresIn: 30), now: Self.now)) == "takeLease(nil)")
    }

    @Test func theSkewWindowIsAtMostHalfTheTokensLifetime() {
        let tenSeconds = UpstreamCredentialInfo(accessExpiresAt: Self.now.addingTimeInterval(6), hasRefreshToken: true,
                                                refreshExpiresAt: nil, scope: nil, obtainedAt: Self.now.addingTimeInterval(-4))
        #expect(!RefreshStateMachine.needsRefresh(tenSeconds, at: Self.now, skew: 30))
        #expect(RefreshStateMachine.needsRefresh(tenSeconds, at: Self.now.addingTimeInterval(1), skew: 30))
        let unknownExpiry = UpstreamCredentialInfo(accessExpiresAt: nil, hasRefreshToken: true, refreshExpiresAt: nil, scope: nil)
        #expect(!RefreshStateMachine.needsRefresh(unknownExpiry, at: Self.now, skew: 30))
    }

    @Test func aBackoffInForceIsTransientWithTheTimeLeft() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        let result = finished(m.grantRead(Self.grant(failures: 3, notBefore: Self.now.addingTimeInterval(4)), now: Self.now))
        #expect(result?.outcome == .transient(retryAfter: 4))
        #expect(result?.message == "backing off after 3 failed attempt(s): transient failure(s)")
    }

    @Test func aBackoffThatIsOverGoesOnToTheLease() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        #expect(describe(m.grantRead(Self.grant(failures: 3, notBefore: Self.now), now: Self.now)) == "takeLease(nil)")
    }

    @Test func forcingIgnoresFreshnessAndBackoff() {
        var m = Self.machine(force: true)
        _ = m.start(at: Self.start)
        let grant = Self.grant(expiresIn: 3600, failures: 2, notBefore: Self.now.addingTimeInterval(60))
        #expect(describe(m.grantRead(grant, now: Self.now)) == "takeLease(nil)")
    }

    // MARK: - Taking the lease

    @Test func theLeaseTakenWithAnUnchangedVersionCallsUpstream() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        _ = m.grantRead(Self.grant(), now: Self.now)
        let action = m.leaseTaken(Self.lease(), now: Self.now)
        guard case .callUpstream(let lease) = action else { Issue.record("got \(describe(action))"); return }
        #expect(lease == Self.lease())
    }

    @Test func theLeaseTakenAfterAnotherHolderSucceededReusesItsCredential() {
        var m = Self.machine()
        _ = m.start(at: Self.start)
        _ = m.grantRead(Self.grant(version: 3), now: Self.now)
        let moved = Self.lease(Self.grant(version: 4, outcome: .succeeded))
        #expect(describe(m.leaseTaken(moved, now: Self.now)) == "releaseLease")
        let action = m.leaseReleased()
        guard case .openCredential(let sealed) = action else { Issue.record("got \(describe(action))"); return }
        #expect(sealed == Self.sealed, "the credential the lease brought, not a second read")
        let result = finished(m.credentialRead(Self.credential))
        #expect(result?.outcome == .refreshed)
        #expect(result?.credential == Self.credential)
        #expect(result?.message == "refreshed by a concurrent caller")
        #expect(result?.calledUpstream == false)
    }

    @Test func theLeaseTakenAfterAnotherHolderFailedReusesItsFailure() {
        let cases: [(Grant, RefreshResult.Outcome, String)] = [
            (Self.grant(version: 4, outcome: .needsReauth, reason: "refused upstream"), .needsReauth, "refused upstream"),
            (Self.grant(version: 4, outcome: .providerMisconfigured), .providerMisconfigured, "the provider is misconfigured"),
            (Self.grant(version: 4, notBefore: Self.now.addingTimeInterval(8), outcome: .transient), .transient(retryAfter: 8),
             "the upstream is unavailable"),
            (Self.grant(version: 4, notBefore: Self.now.addingTimeInterval(0.2), outcome: .transient), .transient(retryAfter: 1),
             "the upstream is unavailable"),
            (Self.grant(version: 4, outcome: nil), .transient(retryAfter: 5), "the upstream is unavailable"),
            (Self.grant(version: 4, state: .revoked, outcome: .succeeded), .notRefreshable(.revoked), "the grant was revoked"),
        ]
        for (recorded, outcome, message) in cases {
            var m = Self.machine()
            _ = m.start(at: Self.start)
            _ = m.grantRead(Self.grant(version: 3), now: Self.now)
            #expect(describe(m.leaseTaken(Self.lease(recorded), now: Self.now)) == "releaseLease")
            let result = finished(m.leaseReleased())
            #expect(result?.outcome == outcome)
            #expect(result?.message == message)
            #expect(result?.calledUpstream == false)
        }
    }

    @Test func theLeaseTakenWithoutAProviderOrARefreshTokenIsReleasedAndNotRefreshable() {
        let noRefresh = SealedCredential(accessToken: Data("a".utf8), refreshToken: nil, info: Self.sealed.info)
        let cases: [(RefreshLeaseAcquisition, NotRefreshableReason)] = [
            (Self.lease(provider: nil), .providerCannotRefresh),
            (Self.lease(sealed: nil), .providerCannotRefresh),
            (Self.lease(sealed: noRefresh), .noUpstreamRefreshToken),
        ]
        for (lease, reason) in cases {
            var m = Self.machine()
            _ = m.start(at: Self.start)
            _ = m.grantRead(Self.grant(), now: Self.now)
            #expect(describe(m.leaseTaken(lease, now: Self.now)) == "releaseLease")
            let result = finished(m.leaseReleased())
            #expect(result?.outcome == .notRefreshable(reason))
            #expect(result?.calledUpstream == false)
        }
    }

    // MARK: - Waiting for another holder

    @Test func aLeaseNotTakenIsPolledAndTriedAgainWhileItsHolderLives() {
        var m = Self.waiting()
        let lease = RefreshLeaseState(owner: Self.liveHolder, until: Self.now.addingTimeInterval(6), version: 3)
        #expect(describe(m.leaseRead(lease, holderIsGoneFromThisHost: false, at: Self.start + .seconds(1))) == "takeLease(nil)")
        #expect(describe(m.leaseNotTaken()) == "pollLease")
        #expect(describe(m.leaseRead(lease, holderIsGoneFromThisHost: false, at: Self.start + .seconds(2))) == "takeLease(nil)")
    }

    @Test func aHolderGoneFromThisHostIsTakenOver() {
        var m = Self.waiting()
        let lease = RefreshLeaseState(owner: Self.liveHolder, until: Self.now.addingTimeInterval(6), version: 3)
        #expect(describe(m.leaseRead(lease, holderIsGoneFromThisHost: true, at: Self.start + .seconds(1)))
                == "takeLease(\(Self.liveHolder))")
        // Taken over: the refresh goes on as the holder's own.
        #expect(describe(m.leaseTaken(Self.lease(), now: Self.now)) == "callUpstream(v3)")
    }

    @Test func aGoneHolderOfAnUnknownFormIsNotTakenOver() {
        var m = Self.waiting()
        let lease = RefreshLeaseState(owner: "not-a-holder", until: Self.now.addingTimeInterval(6), version: 3)
        #expect(describe(m.leaseRead(lease, holderIsGoneFromThisHost: true, at: Self.start + .seconds(1))) == "takeLease(nil)")
    }

    @Test func theVersionMovingWhileWaitingReusesTheOtherHoldersResult() {
        var m = Self.waiting(version: 3)
        let lease = RefreshLeaseState(owner: nil, until: nil, version: 4)
        #expect(describe(m.leaseRead(lease, holderIsGoneFromThisHost: false, at: Self.start + .seconds(1))) == "readGrant")
        #expect(describe(m.grantRead(Self.grant(version: 4, outcome: .succeeded), now: Self.now)) == "readCredential")
        let result = finished(m.credentialRead(Self.credential))
        #expect(result?.outcome == .refreshed)
        #expect(result?.message == "refreshed by a concurrent caller")
        #expect(result?.calledUpstream == false)
    }

    @Test func theVersionMovingWhileWaitingReusesTheOtherHoldersFailure() {
        var m = Self.waiting(version: 3)
        _ = m.leaseRead(RefreshLeaseState(owner: nil, until: nil, version: 4), holderIsGoneFromThisHost: false, at: Self.start + .seconds(1))
        let result = finished(m.grantRead(Self.grant(version: 4, outcome: .needsReauth, reason: "refused"), now: Self.now))
        #expect(result?.outcome == .needsReauth)
        #expect(result?.message == "refused")
    }

    @Test func aGrantGoneAfterTheVersionMovedKeepsWaiting() {
        var m = Self.waiting(version: 3)
        let lease = RefreshLeaseState(owner: Self.liveHolder, until: nil, version: 4)
        _ = m.leaseRead(lease, holderIsGoneFromThisHost: true, at: Self.start + .seconds(1))
        #expect(describe(m.grantRead(nil, now: Self.now)) == "takeLease(\(Self.liveHolder))")
    }

    @Test func aGrantGoneWhileWaitingIsNotFound() {
        var m = Self.waiting()
        let result = finished(m.leaseRead(nil, holderIsGoneFromThisHost: false, at: Self.start + .seconds(1)))
        #expect(result?.outcome == .notFound)
    }

    @Test func waitingEndsAtTheDeadline() {
        var m = Self.waiting()
        let lease = RefreshLeaseState(owner: Self.liveHolder, until: Self.now.addingTimeInterval(6), version: 3)
        let atDeadline = Self.start + .seconds(Self.longestRefresh)
        #expect(describe(m.leaseRead(lease, holderIsGoneFromThisHost: false, at: atDeadline)) == "takeLease(nil)", "not before it")
        _ = m.leaseNotTaken()
        let result = finished(m.leaseRead(lease, holderIsGoneFromThisHost: false, at: atDeadline + .milliseconds(1)))
        #expect(result?.outcome == .transient(retryAfter: 2))
        #expect(result?.message == "another process holds the refresh lease")
        #expect(result?.calledUpstream == false)
    }

    // MARK: - The upstream's answer

    static let fresh = UpstreamCredential(accessToken: Secret("new-access"), refreshToken: Secret("new-refresh"),
                                          accessExpiresAt: now.addingTimeInterval(3600))
    static let freshSealed = SealedCredential(accessToken: Data("new-sealed".utf8), refreshToken: Data("new-sealed-refresh".utf8),
                                              info: fresh.info)

    @Test func newTokensAreStoredFirstInsistingThenReturned() {
        var m = Self.callingUpstream()
        let action = m.upstreamAnswered(Self.fresh, sealed: Self.freshSealed, rotated: true, startedAt: Self.now.addingTimeInterval(-0.25),
                                        now: Self.now)
        guard case .storeResult(let write, let detail, let grant, let insisting) = action, case .refreshed(let stored, let replacing) = write else {
            Issue.record("got \(describe(action))"); return
        }
        #expect(stored == Self.freshSealed)
        #expect(replacing == Self.sealed.info.obtainedAt, "stored only over the credential it refreshed")
        #expect(insisting)
        #expect(grant.version == 3, "written against the leased version")
        #expect(detail == "expires in 3600s; refresh token rotated; 250 ms")
        let result = finished(m.resultStored(true))
        #expect(result?.outcome == .refreshed)
        #expect(result?.credential == Self.fresh)
        #expect(result?.message == "expires in 3600s; refresh token rotated")
        #expect(result?.calledUpstream == true)
    }

    @Test func aKeptRefreshTokenIsSaidSo() {
        var m = Self.callingUpstream()
        let action = m.upstreamAnswered(Self.fresh, sealed: Self.freshSealed, rotated: false, startedAt: Self.now, now: Self.now)
        #expect(describe(action) == "storeResult(succeeded, insisting: true)")
        #expect(finished(m.resultStored(true))?.message == "expires in 3600s; refresh token kept")
    }

    @Test func aSuccessClearsTheProvidersLastError() {
        var m = Self.callingUpstream(Self.lease(provider: Self.provider(lastError: "invalid_client")))
        _ = m.upstreamAnswered(Self.fresh, sealed: Self.freshSealed, rotated: true, startedAt: Self.now, now: Self.now)
        #expect(describe(m.resultStored(true)) == "recordProviderError(11, nil)")
        #expect(finished(m.providerErrorRecorded())?.outcome == .refreshed)
    }

    @Test func aGrantRevokedWhileTheUpstreamAnsweredIsNotRefreshable() {
        var m = Self.callingUpstream()
        _ = m.upstreamAnswered(Self.fresh, sealed: Self.freshSealed, rotated: true, startedAt: Self.now, now: Self.now)
        #expect(describe(m.resultStored(false)) == "releaseLease")
        #expect(describe(m.leaseReleased()) == "readGrant", "the grant is read again to tell why the tokens were refused")
        let result = finished(m.grantRead(Self.grant(state: .revoked), now: Self.now))
        #expect(result?.outcome == .notRefreshable(.revoked))
        #expect(result?.message == "the grant was revoked while the upstream answered")
        #expect(result?.credential == nil)
    }

    /// A re-authorization (for more scopes) replaced the credential while the upstream answered: the older tokens
    /// were refused by the store, and the newer credential is what the caller gets.
    @Test func aCredentialReplacedWhileTheUpstreamAnsweredGivesTheNewerOne() {
        let obtained = Self.now.addingTimeInterval(-600)
        var sealed = Self.sealed
        sealed.info.obtainedAt = obtained
        var m = Self.callingUpstream(Self.lease(sealed: sealed))
        let action = m.upstreamAnswered(Self.fresh, sealed: Self.freshSealed, rotated: true, startedAt: Self.now, now: Self.now)
        guard case .storeResult(let write, _, _, _) = action, case .refreshed(_, let replacing) = write else {
            Issue.record("got \(describe(action))"); return
        }
        #expect(replacing == obtained)
        #expect(describe(m.resultStored(false)) == "releaseLease")
        #expect(describe(m.leaseReleased()) == "readGrant")
        #expect(describe(m.grantRead(Self.grant(version: 5, expiresIn: 3600), now: Self.now)) == "readCredential")
        let result = finished(m.credentialRead(Self.credential))
        #expect(result?.outcome == .refreshed)
        #expect(result?.credential == Self.credential, "the credential the grant holds now, not the refused one")
        #expect(result?.message.contains("replaced while the upstream answered") == true)
    }

    @Test func aGrantDeletedWhileTheUpstreamAnsweredIsNotFound() {
        var m = Self.callingUpstream()
        _ = m.upstreamAnswered(Self.fresh, sealed: Self.freshSealed, rotated: true, startedAt: Self.now, now: Self.now)
        _ = m.resultStored(false)
        _ = m.leaseReleased()
        #expect(finished(m.grantRead(nil, now: Self.now))?.outcome == .notFound)
    }

    static let invalidGrant = UpstreamError(.invalidGrant, upstreamCode: "invalid_grant", message: "token reused", httpStatus: 400)

    @Test func invalidGrantMakesTheGrantNeedReauthorization() {
        var m = Self.callingUpstream()
        #expect(describe(m.upstreamFailed(Self.invalidGrant, now: Self.now)) == "readGrant")
        let action = m.grantRead(Self.grant(version: 3), now: Self.now)
        guard case .storeResult(.needsReauth(let reason), let detail, _, let insisting) = action else {
            Issue.record("got \(describe(action))"); return
        }
        #expect(reason == "the upstream refused the refresh token (token reused); the user must authorize again")
        #expect(detail == reason)
        #expect(!insisting)
        let result = finished(m.resultStored(true))
        #expect(result?.outcome == .needsReauth)
        #expect(result?.message == reason)
        #expect(result?.calledUpstream == true)
    }

    @Test func invalidGrantAfterAnInterruptedAttemptSaysSo() {
        let interrupted = Self.now.addingTimeInterval(-20)
        var m = Self.callingUpstream(Self.lease(interruptedAt: interrupted))
        _ = m.upstreamFailed(Self.invalidGrant, now: Self.now)
        let action = m.grantRead(Self.grant(version: 3), now: Self.now)
        guard case .storeResult(.needsReauth(let reason), _, _, _) = action else { Issue.record("got \(describe(action))"); return }
        #expect(reason.contains("right after an earlier refresh attempt, sent at \(ISO8601DateFormatter().string(from: interrupted))"))
        #expect(reason.contains("was interrupted before its answer was stored"))
        #expect(finished(m.resultStored(true))?.message == reason)
    }

    @Test func invalidGrantLosingARaceToAStoredSuccessIsNoFailure() {
        var m = Self.callingUpstream(Self.lease(interruptedAt: Self.now.addingTimeInterval(-5)))
        _ = m.upstreamFailed(Self.invalidGrant, now: Self.now)
        // The holder whose lease was taken over stored the rotated token meanwhile.
        #expect(describe(m.grantRead(Self.grant(version: 4, outcome: .succeeded), now: Self.now)) == "releaseLease")
        #expect(describe(m.leaseReleased()) == "readCredential")
        let result = finished(m.credentialRead(Self.credential))
        #expect(result?.outcome == .refreshed)
        #expect(result?.credential == Self.credential)
        #expect(result?.message == "refreshed by a concurrent caller")
        #expect(result?.calledUpstream == false)
    }

    @Test func invalidGrantAfterAnotherFailureMovedTheVersionIsStillRecorded() {
        var m = Self.callingUpstream()
        _ = m.upstreamFailed(Self.invalidGrant, now: Self.now)
        #expect(describe(m.grantRead(Self.grant(version: 4, outcome: .transient), now: Self.now)) == "storeResult(needs-reauth, insisting: false)")
    }

    @Test func invalidGrantAfterAnEarlierSuccessOfThisVersionIsRecorded() {
        // The last refresh succeeded, but no one has written since the lease was taken: no race was lost.
        var m = Self.callingUpstream(Self.lease(Self.grant(version: 3, outcome: .succeeded)))
        _ = m.upstreamFailed(Self.invalidGrant, now: Self.now)
        #expect(describe(m.grantRead(Self.grant(version: 3, outcome: .succeeded), now: Self.now))
                == "storeResult(needs-reauth, insisting: false)")
    }

    @Test func aMisconfiguredProviderIsRecordedOnTheProvider() {
        var m = Self.callingUpstream()
        let error = UpstreamError(.misconfigured, upstreamCode: "invalid_client", message: "bad client", httpStatus: 401)
        let action = m.upstreamFailed(error, now: Self.now)
        guard case .storeResult(.providerMisconfigured(let notBefore), let detail, _, false) = action else { Issue.record("got \(describe(action))"); return }
        // Backed off like a transient failure (it was sent again on every request before).
        #expect(notBefore == Self.now.addingTimeInterval(RefreshStateMachine.backoff(afterFailures: 1)))
        #expect(detail == error.description + "; next try in 1 s")
        #expect(describe(m.resultStored(true)) == "recordProviderError(11, \(error.description))")
        let result = finished(m.providerErrorRecorded())
        #expect(result?.outcome == .providerMisconfigured)
        #expect(result?.message == error.description)
        #expect(result?.calledUpstream == true)
    }

    @Test func transientFailuresBackOffOneTwoFourEightSixteenThenThirtySeconds() {
        var backoffs: [TimeInterval] = []
        for failures in 0..<8 {
            var m = Self.callingUpstream(Self.lease(Self.grant(failures: failures)))
            let error = UpstreamError(.transient, message: "503", httpStatus: 503)
            let action = m.upstreamFailed(error, now: Self.now)
            guard case .storeResult(.transient(let notBefore, let answerLost), let detail, _, false) = action else {
                Issue.record("got \(describe(action))"); return
            }
            let backoff = notBefore.timeIntervalSince(Self.now)
            backoffs.append(backoff)
            #expect(!answerLost)
            #expect(detail == "\(error.description); next try in \(Int(backoff)) s")
            let result = finished(m.resultStored(true))
            #expect(result?.outcome == .transient(retryAfter: backoff))
            #expect(result?.calledUpstream == true)
        }
        #expect(backoffs == [1, 2, 4, 8, 16, 30, 30, 30])
    }

    @Test func aTransientFailureThatMayHaveReachedUpstreamIsRecordedAsALostAnswer() {
        var m = Self.callingUpstream()
        let action = m.upstreamFailed(UpstreamError(.transient, message: "timed out", mayHaveReachedUpstream: true), now: Self.now)
        guard case .storeResult(.transient(_, let answerLost), _, _, _) = action else { Issue.record("got \(describe(action))"); return }
        #expect(answerLost)
    }
}

/// The action in a few words, for comparing.
private func describe(_ action: RefreshStateMachine.Action) -> String {
    switch action {
    case .readGrant: "readGrant"
    case .readCredential: "readCredential"
    case .openCredential: "openCredential"
    case .takeLease(let stale): "takeLease(\(stale ?? "nil"))"
    case .pollLease: "pollLease"
    case .releaseLease: "releaseLease"
    case .callUpstream(let lease): "callUpstream(v\(lease.grant.version))"
    case .storeResult(let write, _, _, let insisting): "storeResult(\(write.outcome.rawValue), insisting: \(insisting))"
    case .recordProviderError(let id, let message): "recordProviderError(\(id), \(message ?? "nil"))"
    case .finish(let result): "finish(\(result))"
    }
}

/// The result of a `finish` action; `nil` (and a recorded issue) for any other action.
private func finished(_ action: RefreshStateMachine.Action, sourceLocation: SourceLocation = #_sourceLocation) -> RefreshResult? {
    if case .finish(let result) = action { return result }
    Issue.record("expected finish, got \(describe(action))", sourceLocation: sourceLocation)
    return nil
}
