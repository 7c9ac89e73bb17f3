import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// The reason of each refusal is decided where the refusal is, and travels on the error.
@Suite("refusal reasons")
struct RefusalReasonTests {
    /// The refusal an operation throws (nil when it succeeds or throws something else).
    func refusal(_ body: () async throws -> Void) async -> Refusal? {
        do { try await body(); return nil } catch let e as OAuthError { return e.refusal } catch { return nil }
    }

    @Test func theGatewayTokenCheckNamesEveryReason() async throws {
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant()
            let tokens = h.tollgate.tokens
            #expect(await refusal { _ = try await tokens.validate(accessToken: nil, serverSlug: "files") } == Refusal(.missingToken))
            #expect(await refusal { _ = try await tokens.validate(accessToken: "tg_at_nope", serverSlug: "files") } == Refusal(.unknownToken))
            let ofGrant = { (reason: RefusalReason) in
                Refusal(reason, grantID: grantID, clientID: h.client.client.id, serverID: h.server.id)
            }
            #expect(await refusal { _ = try await tokens.validate(accessToken: pair.accessToken.value, serverSlug: "other") } == ofGrant(.wrongServer))
            h.clock.advance(by: 7200)
            #expect(await refusal { _ = try await tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files") } == ofGrant(.expiredToken))
            _ = try await h.tollgate.admin.revokeGrant(id: grantID)
            #expect(await refusal { _ = try await tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files") } == ofGrant(.revoked))
        }
    }

    @Test func theTokenEndpointNamesEveryReason() async throws {
        try await Harness.with { h in
            let (grantID, first) = try await h.makeGrant()
            let tokens = h.tollgate.tokens
            let client = h.client.client.id
            func refresh(_ token: String, scope: String? = nil, credentials: ClientCredentials? = nil) async -> Refusal? {
                await refusal { _ = try await tokens.refresh(serverSlug: "files", credentials: credentials ?? h.credentials, refreshToken: token, scope: scope) }
            }
            #expect(await refresh("tg_rt_nope") == Refusal(.unknownRefreshToken, clientID: client, serverID: h.server.id))
            #expect(await refresh(first.refreshToken.value, credentials: ClientCredentials(clientID: "tgc_nobody", secret: nil, method: .none))
                    == Refusal(.invalidClient))
            #expect(await refresh(first.refreshToken.value, scope: "admin")?.reason == .scopeExceeded)
            let code = await refusal {
                _ = try await tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: "tg_code_nope",
                                                  redirectURI: Harness.redirectURI, codeVerifier: String(repeating: "v", count: 43))
            }
            #expect(code == Refusal(.unknownCode, clientID: client, serverID: h.server.id))
            _ = try await tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: first.refreshToken.value, scope: nil)
            h.clock.advance(by: 60)
            #expect(await refresh(first.refreshToken.value) == Refusal(.refreshTokenReuse, grantID: grantID, clientID: client, serverID: h.server.id))
        }
    }

    @Test func untaggedErrorsFallBackOnTheirWireCode() {
        #expect(OAuthError.invalidRequest("grant_type is missing").refusalReason == .invalidRequest)
        #expect(OAuthError.temporarilyUnavailable("busy").refusalReason == .serviceUnavailable)
        #expect(OAuthError(.serverError, "internal error").refusalReason == .internalError)
        #expect(OAuthError.invalidToken("x").because(.revoked).refusalReason == .revoked)
    }

    @Test func codesAreStableAndDistinct() {
        let codes = RefusalReason.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        #expect(codes.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" } })
        #expect(RefusalReason.revoked.rawValue == "revoked" && RefusalReason.insufficientScope.rawValue == "insufficient_scope")
    }
}
