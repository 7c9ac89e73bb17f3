import Foundation
import Testing
import TollgateCore
import TollgateSQLite
import TollgateTestSupport
import TollgateDevUpstream

@Suite("upstream refresh against dev-upstream")
struct UpstreamRefreshTests {
    @Test func rotationIsStored() async throws {
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            let before = try await #require(try h.tollgate.refresher.credential(of: grantID))
            let result = try await h.tollgate.admin.forceRefresh(grantID: grantID)
            #expect(result.outcome == .refreshed)
            #expect(result.calledUpstream)
            let after = try await #require(try h.tollgate.refresher.credential(of: grantID))
            #expect(after.refreshToken != nil)
            #expect(after.refreshToken != before.refreshToken)
            #expect(after.accessToken != before.accessToken)
            let grant = try await h.grant(grantID)
            #expect(grant.lastRefreshOutcome == .succeeded)
            #expect(grant.version > 0)
            // The rotated-away upstream token is dead upstream; the stored one works.
            let again = try await h.tollgate.admin.forceRefresh(grantID: grantID)
            #expect(again.outcome == .refreshed)
            #expect(await h.stats().refreshCalls == 2)
        }
    }

    @Test func thePreviousRefreshTokenIsKeptWhenNoneIsReturned() async throws {
        try await Harness.with { h in
            await h.setBehaviour { $0.rotateRefreshTokens = false }
            let (grantID, _) = try await h.makeGrant()
            let before = try await #require(try h.tollgate.refresher.credential(of: grantID))
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            let after = try await #require(try h.tollgate.refresher.credential(of: grantID))
            #expect(after.refreshToken == before.refreshToken)
            #expect(after.accessToken != before.accessToken)
            await #expect(try h.grant(grantID).upstream.hasRefreshToken)
        }
    }

    @Test func noUpstreamRefreshTokenMeansNeedsReauthWithoutAnyHTTPCall() async throws {
        try await Harness.with(accessTTL: 60) { h in
            await h.setBehaviour { $0.issueRefreshTokens = false }
            let (grantID, pair) = try await h.makeGrant()
            let grant = try await h.grant(grantID)
            #expect(grant.refreshability == .notRefreshable(.noUpstreamRefreshToken))
            let callsBefore = await h.stats().tokenCalls
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.admin.forceRefresh(grantID: grantID) }
            let result = await h.tollgate.refresher.refresh(grantID: grantID, actor: "test")
            #expect(result.outcome == .notRefreshable(.noUpstreamRefreshToken))
            h.clock.advance(by: 120)
            await #expect(try h.grant(grantID).status(at: h.clock.now()) == .needsReauth)
            #expect(await oauthError {
                let v = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
                _ = try await h.tollgate.tokens.upstreamAccessToken(for: v)
            } == .invalidToken)
            #expect(await h.stats().tokenCalls == callsBefore)
        }
    }

    @Test func invalidGrantMeansNeedsReauth() async throws {
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = "invalid_grant" }
            let result = try await h.tollgate.admin.forceRefresh(grantID: grantID)
            #expect(result.outcome == .needsReauth)
            let grant = try await h.grant(grantID)
            #expect(grant.state == .needsReauth)
            #expect(grant.lastRefreshOutcome == .needsReauth)
            #expect(grant.refreshability == .notRefreshable(.needsReauth))
            // No retry loop: another refresh makes no further upstream call.
            let calls = await h.stats().refreshCalls
            _ = await h.tollgate.refresher.refresh(grantID: grantID, force: true, actor: "test")
            #expect(await h.stats().refreshCalls == calls)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files") } == .invalidToken)
            await #expect(try h.tollgate.admin.audit(grantID: grantID).contains { $0.action.hasPrefix("upstream.refresh") && $0.outcome == "needs-reauth" })
        }
    }

    @Test func http500IsTransientAndLeavesTheGrantUnchanged() async throws {
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            let before = try await #require(try h.tollgate.refresher.credential(of: grantID))
            await h.setBehaviour { $0.refreshFailure = "http500" }
            let result = try await h.tollgate.admin.forceRefresh(grantID: grantID)
            guard case .transient(let retry) = result.outcome else { Issue.record("expected transient, got \(result)"); return }
            #expect(retry > 0)
            let grant = try await h.grant(grantID)
            #expect(grant.state == .active)
            #expect(grant.lastRefreshOutcome == .transient)
            #expect(grant.refreshFailures == 1)
            await #expect(try h.tollgate.refresher.credential(of: grantID) == before)
            #expect(!result.message.contains(before.accessToken.value))
        }
    }

    @Test(arguments: ["http429", "malformed"])
    func otherTransientFailures(failure: String) async throws {
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = failure }
            let result = try await h.tollgate.admin.forceRefresh(grantID: grantID)
            guard case .transient = result.outcome else { Issue.record("expected transient, got \(result)"); return }
            await #expect(try h.grant(grantID).state == .active)
        }
    }

    @Test func invalidClientMarksTheProviderMisconfigured() async throws {
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = "invalid_client" }
            let result = try await h.tollgate.admin.forceRefresh(grantID: grantID)
            #expect(result.outcome == .providerMisconfigured)
            await #expect(try h.grant(grantID).state == .active)
            let provider = try await h.tollgate.admin.provider(serverSlug: "files")
            #expect(provider.lastError?.contains("invalid_client") == true)
            await h.setBehaviour { $0.refreshFailure = nil }
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            await #expect(try h.tollgate.admin.provider(serverSlug: "files").lastError == nil)
        }
    }

    @Test func basicAuthFormEncodesTheIdAndSecretAndTheBodyHasNoClientID() async throws {
        let client = DevUpstreamClient(clientID: "ab+cd/ef=", clientSecret: "s3cr:t&x", authMethod: .clientSecretBasic)
        try await Harness.with(upstreamClient: client) { h in
            let (grantID, _) = try await h.makeGrant()
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            let stats = await h.stats()
            let header = try #require(stats.lastAuthorizationHeader)
            #expect(header.hasPrefix("Basic "))
            let decoded = String(data: Data(base64Encoded: String(header.dropFirst(6)))!, encoding: .utf8)!
            #expect(decoded == "ab%2Bcd%2Fef%3D:s3cr%3At%26x")
            #expect(decoded.hasPrefix("ab%2Bcd%2Fef%3D:"))
            #expect(!stats.lastFormFields.contains("client_id"))
            #expect(!stats.lastFormFields.contains("client_secret"))
            #expect(stats.lastFormFields == ["grant_type", "refresh_token"])
        }
    }

    @Test func clientSecretPostSendsTheSecretInTheForm() async throws {
        try await Harness.with(upstreamClient: DevUpstreamClient(clientID: "post-client", clientSecret: "pw", authMethod: .clientSecretPost)) { h in
            let (grantID, _) = try await h.makeGrant()
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            let stats = await h.stats()
            #expect(stats.lastAuthorizationHeader == nil)
            #expect(stats.lastFormFields == ["grant_type", "refresh_token", "client_id", "client_secret"])
        }
    }

    @Test func noneSendsOnlyTheClientID() async throws {
        try await Harness.with(upstreamClient: DevUpstreamClient(clientID: "public-client", clientSecret: nil, authMethod: .none)) { h in
            let (grantID, _) = try await h.makeGrant()
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            let stats = await h.stats()
            #expect(stats.lastAuthorizationHeader == nil)
            #expect(stats.lastFormFields == ["grant_type", "refresh_token", "client_id"])
        }
    }

    /// A provider configured with a resource indicator gets it on every refresh; one without never sees `resource`.
    @Test func theProvidersResourceIndicatorGoesWithEveryRefreshAndOnlyThen() async throws {
        try await Harness.with(providerAuthorizeParams: [AuthorizeParam(name: "resource", value: "https://api.example")]) { h in
            let (grantID, _) = try await h.makeGrant()
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            #expect(await h.stats().lastFormFields == ["grant_type", "refresh_token", "resource"])
        }
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            #expect(await h.stats().lastFormFields.contains("resource") == false)
        }
    }

    @Test func camelCaseAnswersAreAccepted() async throws {
        try await Harness.with(accessTTL: 900) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.responseStyle = "camel" }
            let before = try await #require(try h.tollgate.refresher.credential(of: grantID))
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            let after = try await #require(try h.tollgate.refresher.credential(of: grantID))
            #expect(after.accessToken != before.accessToken)
            #expect(after.refreshToken != before.refreshToken)
            let expiry = try #require(after.accessExpiresAt)
            #expect(abs(expiry.timeIntervalSince(h.clock.now()) - 900) < 1)
        }
    }

    @Test func expiresInAsAStringIsAccepted() async throws {
        try await Harness.with(accessTTL: 42) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.expiresInAs = "string" }
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            let expiry = try await #require(try h.grant(grantID).upstream.accessExpiresAt)
            #expect(abs(expiry.timeIntervalSince(h.clock.now()) - 42) < 1)
        }
    }

    @Test func noExpiresInMeansExpiryUnknown() async throws {
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant()
            await h.setBehaviour { $0.expiresInAs = "omit"; $0.refreshExpiresIn = 86400 }
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
            let grant = try await h.grant(grantID)
            #expect(grant.upstream.accessExpiresAt == nil)
            #expect(grant.upstream.refreshExpiresAt != nil)
            // Unknown expiry is not "expired": the token is used as is, no refresh attempted.
            let calls = await h.stats().refreshCalls
            h.clock.advance(by: 3000)
            let v = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            guard case .fresh = v.upstream else { Issue.record("unknown expiry should be used as is"); return }
            #expect(await h.stats().refreshCalls == calls)
        }
    }

    @Test func aSlowUpstreamTimesOutAsTransient() async throws {
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 2 }
            // A second core on the same store with a short upstream timeout (set-up itself keeps the normal one).
            let impatient = try await Tollgate(store: try SQLiteStore(path: h.databasePath),
                                         master: try MasterKey.load(forDatabaseAt: h.databasePath, environment: [:]),
                                         clock: h.clock, upstreamTimeout: 0.5, logger: Harness.logger)
            let result = await impatient.refresher.refresh(grantID: grantID, force: true, actor: "test")
            await impatient.refresher.drain(upTo: 10)
            await impatient.shutdown()
            guard case .transient(let retryAfter) = result.outcome else { Issue.record("expected transient, got \(result)"); return }
            #expect(retryAfter == impatient.refresher.inFlightRetryAfter)
            #expect(result.message.contains("not answered yet"))
            await #expect(try h.grant(grantID).state == .active)
        }
    }

    @Test func theGatewayPathRefreshesWithinTheSkewWindow() async throws {
        try await Harness.with(accessTTL: 3600) { h in
            let (grantID, pair) = try await h.makeGrant()
            h.clock.advance(by: 3600 - 10)
            let v = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            guard case .needsRefresh = v.upstream else { Issue.record("within skew should need refresh"); return }
            let before = try await #require(try h.tollgate.refresher.credential(of: grantID))
            let token = try await h.tollgate.tokens.upstreamAccessToken(for: v)
            #expect(token != before.accessToken)
            #expect(await h.stats().refreshCalls == 1)
        }
    }

    @Test func aShortLivedUpstreamTokenIsUsedForHalfItsLifeBeforeAnEarlyRefresh() async throws {
        try await Harness.with(accessTTL: 10) { h in
            let (_, pair) = try await h.makeGrant()
            h.clock.advance(by: 4)
            guard case .fresh = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files").upstream else {
                Issue.record("a 10 s token must not need a refresh after 4 s (the 30 s skew is capped at half the lifetime)"); return
            }
            h.clock.advance(by: 2)
            guard case .needsRefresh = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files").upstream else {
                Issue.record("within the last half of its life it is refreshed early"); return
            }
        }
    }

    @Test func aTransientFailureStillServesAnUnexpiredTokenAndBacksOff() async throws {
        try await Harness.with(accessTTL: 600) { h in
            let (_, pair) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = "http500" }
            h.clock.advance(by: 600 - 10)
            let v = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            guard case .needsRefresh(let old) = v.upstream else { Issue.record("expected needsRefresh"); return }
            #expect(try await h.tollgate.tokens.upstreamAccessToken(for: v) == old.token)
            // Backoff: an immediate second request does not call the upstream again.
            _ = try await h.tollgate.tokens.upstreamAccessToken(for: v)
            #expect(await h.stats().refreshCalls == 1)
            h.clock.advance(by: 20)
            let expired = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            #expect(await oauthError { _ = try await h.tollgate.tokens.upstreamAccessToken(for: expired) } == .temporarilyUnavailable)
        }
    }
}
