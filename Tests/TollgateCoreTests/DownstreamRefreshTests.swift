import Foundation
import Testing
import TollgateCore
import TollgateTestSupport
import TollgateDevUpstream

@Suite("refresh_token grant (downstream)")
struct DownstreamRefreshTests {
    @Test func rotationIssuesANewPairAndKillsTheOldAccessToken() async throws {
        try await Harness.with { h in
            let (_, first) = try await h.makeGrant()
            let second = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials,
                                                             refreshToken: first.refreshToken.value, scope: nil)
            #expect(second.accessToken != first.accessToken)
            #expect(second.refreshToken != first.refreshToken)
            #expect(second.accessToken.value.hasPrefix("tg_at_"))
            #expect(second.refreshToken.value.hasPrefix("tg_rt_"))
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: first.accessToken.value, serverSlug: "files") } == .invalidToken)
            _ = try await h.tollgate.tokens.validate(accessToken: second.accessToken.value, serverSlug: "files")
        }
    }

    @Test func rotatedTokenWithinGraceReturnsTheSamePairAndOutsideRevokesTheGrant() async throws {
        try await Harness.with { h in
            let (grantID, first) = try await h.makeGrant()
            let second = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials,
                                                             refreshToken: first.refreshToken.value, scope: nil)
            h.clock.advance(by: 5)
            let again = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials,
                                                            refreshToken: first.refreshToken.value, scope: nil)
            #expect(again.accessToken == second.accessToken)
            #expect(again.refreshToken == second.refreshToken)
            #expect(again.expiresIn <= second.expiresIn)
            h.clock.advance(by: 6)
            let code = await oauthError {
                _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials,
                                                        refreshToken: first.refreshToken.value, scope: nil)
            }
            #expect(code == .invalidGrant)
            await #expect(try h.grant(grantID).state == .revoked)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: second.accessToken.value, serverSlug: "files") } == .invalidToken)
            let events = try await h.tollgate.admin.audit(grantID: grantID)
            #expect(events.contains { $0.action == "token.reuse-detected" && $0.outcome == "revoked" })
        }
    }

    @Test func theUpstreamCredentialIsPreservedAcrossDownstreamRotation() async throws {
        try await Harness.with { h in
            let (grantID, first) = try await h.makeGrant()
            let before = try await #require(try h.tollgate.refresher.credential(of: grantID))
            _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
            let after = try await #require(try h.tollgate.refresher.credential(of: grantID))
            #expect(before == after)
            #expect(await h.stats().refreshCalls == 0)
        }
    }

    @Test func aRefreshTokenPresentedByAnotherClientIsInvalidGrant() async throws {
        try await Harness.with { h in
            let (grantID, first) = try await h.makeGrant()
            let other = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Other", redirectURIs: [Harness.redirectURI]))
            let code = await oauthError {
                _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: ClientCredentials(clientID: other.client.id, secret: nil, method: .none),
                                                        refreshToken: first.refreshToken.value, scope: nil)
            }
            #expect(code == .invalidGrant)
            await #expect(try h.grant(grantID).state == .active)
        }
    }

    @Test func unknownAndMalformedRefreshTokensAreInvalidGrant() async throws {
        try await Harness.with { h in
            _ = try await h.makeGrant()
            for token in ["tg_rt_nope", "x", String(repeating: "a", count: 5000)] {
                #expect(await oauthError {
                    _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: token, scope: nil)
                } == .invalidGrant)
            }
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: nil, scope: nil)
            } == .invalidRequest)
        }
    }

    @Test func anAccessTokenIsNotARefreshToken() async throws {
        try await Harness.with { h in
            let (_, first) = try await h.makeGrant()
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.accessToken.value, scope: nil)
            } == .invalidGrant)
        }
    }

    @Test func anExpiredProxyAccessTokenWithAValidRefreshTokenRefreshes() async throws {
        try await Harness.with { h in
            let (_, first) = try await h.makeGrant()
            h.clock.advance(by: h.server.accessTokenTTL + 1)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: first.accessToken.value, serverSlug: "files") } == .invalidToken)
            let second = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
            _ = try await h.tollgate.tokens.validate(accessToken: second.accessToken.value, serverSlug: "files")
        }
    }

    @Test func anExpiredUpstreamTokenIsRefreshedUpstreamFirst() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, first) = try await h.makeGrant()
            let before = try await #require(try h.tollgate.refresher.credential(of: grantID))
            h.clock.advance(by: 120)
            await #expect(try h.grant(grantID).status(at: h.clock.now()) == .expired)
            let second = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
            #expect(await h.stats().refreshCalls == 1)
            let after = try await #require(try h.tollgate.refresher.credential(of: grantID))
            #expect(after.accessToken != before.accessToken)
            #expect(after.accessExpiresAt! > h.clock.now())
            let validated = try await h.tollgate.tokens.validate(accessToken: second.accessToken.value, serverSlug: "files")
            guard case .fresh = validated.upstream else { Issue.record("upstream should be fresh"); return }
        }
    }

    @Test func aDeadUpstreamMakesTheDownstreamRefreshFailWithInvalidGrant() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, first) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = "invalid_grant" }
            h.clock.advance(by: 120)
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
            } == .invalidGrant)
            await #expect(try h.grant(grantID).status(at: h.clock.now()) == .needsReauth)
        }
    }

    @Test func aTransientUpstreamFailureIsTemporarilyUnavailableAndKeepsTheRefreshToken() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (_, first) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = "http500" }
            h.clock.advance(by: 120)
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
            } == .temporarilyUnavailable)
            await h.setBehaviour { $0.refreshFailure = nil }
            h.clock.advance(by: 120)
            _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
        }
    }

    @Test func fiftyConcurrentRefreshesWithOneTokenShareOnePairAndOneUpstreamCall() async throws {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, first) = try await h.makeGrant()
            await h.setBehaviour { $0.tokenDelay = 0.3 }
            h.clock.advance(by: 120)
            let pairs = try await withThrowingTaskGroup(of: TokenPair.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
                    }
                }
                return try await group.reduce(into: [TokenPair]()) { $0.append($1) }
            }
            #expect(pairs.count == 50)
            #expect(Set(pairs.map(\.refreshToken)).count == 1)
            #expect(Set(pairs.map(\.accessToken)).count == 1)
            #expect(await h.stats().refreshCalls == 1)
            await #expect(try h.grant(grantID).state == .active)
        }
    }
}
