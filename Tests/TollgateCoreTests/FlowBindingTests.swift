import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// What binds an authorization to its participants: the callback to the browser that started it, the
/// code to the client it was issued to (whose valid presentation alone consumes it).
@Suite("browser and client binding of the authorization")
struct FlowBindingTests {
    let flow = AuthorizationFlowTests()

    func complete(_ h: Harness, state: String?, browser: Secret?, upstreamCode: String? = nil, upstreamError: String? = nil) async throws -> CompletedAuthorization {
        try await h.tollgate.tokens.completeAuthorization(state: state, browserBinding: browser, callbackSlug: "files", upstreamCode: upstreamCode, upstreamError: upstreamError,
                                                          upstreamErrorDescription: nil, urls: h.urls)
    }

    @Test func theCallbackCompletesOnlyInTheBrowserThatStartedTheAuthorization() async throws {
        try await Harness.with { h in
            let validated = try await h.tollgate.tokens.validateAuthorization(serverSlug: "files", flow.request(h), urls: h.urls)
            let browser = TokenGenerator.make(prefix: "")
            let started = try await h.tollgate.tokens.startAuthorization(validated, urls: h.urls, browserBinding: browser)
            let state = try #require(flow.query(started.upstreamAuthorizationURL)["state"])
            for other in [nil, TokenGenerator.make(prefix: "")] {
                await #expect(throws: AuthorizationInAnotherBrowser.self) {
                    _ = try await complete(h, state: state, browser: other, upstreamCode: "upstream-code-of-someone-else")
                }
            }
            #expect(await h.stats().codeExchanges == 0, "a refused callback never exchanges the upstream code")
            #expect(try await h.tollgate.store.countGrants() == 0)
            // The refusals deleted nothing: the starting browser still completes it, exactly once.
            let completed = try await complete(h, state: state, browser: browser, upstreamError: "access_denied")
            #expect(flow.query(completed.redirectURL)["error"] == "access_denied")
            #expect(flow.query(completed.redirectURL)["state"] == "client-state")
            await #expect(throws: AuthorizationFailure.self) {
                _ = try await complete(h, state: state, browser: browser, upstreamError: "access_denied")
            }
        }
    }

    @Test func aPendingAuthorizationWithoutABindingIsNeverTaken() async throws {
        try await Harness.with { h in
            // As a row written before the binding existed: no browser hash.
            let stateHash = TokenGenerator.hash(TokenGenerator.make(prefix: TokenGenerator.statePrefix))
            try await h.tollgate.store.insertPendingAuthorization(PendingAuthorization(
                stateHash: stateHash, serverID: h.server.id, clientID: h.client.client.id, redirectURI: Harness.redirectURI, clientState: nil,
                codeChallenge: TokenGenerator.s256Challenge(of: AuthorizationFlowTests.verifier), scopes: ["files.read"],
                resource: h.urls.resource("files"), sealedUpstreamVerifier: Data([1]), createdAt: h.clock.now(),
                expiresAt: h.clock.now().addingTimeInterval(600)))
            #expect(try await h.tollgate.store.takePendingAuthorization(stateHash: stateHash, browserBindingHash: nil) == .boundToAnotherBrowser)
            #expect(try await h.tollgate.store.takePendingAuthorization(stateHash: stateHash, browserBindingHash: TokenGenerator.hash("any")) == .boundToAnotherBrowser)
            #expect(try await h.tollgate.store.takePendingAuthorization(stateHash: TokenGenerator.hash("unknown"), browserBindingHash: TokenGenerator.hash("any")) == .unknown)
        }
    }

    @Test func aCodeStaysUsableAfterAnotherClientOrAWrongProofWasPresented() async throws {
        try await Harness.with { h in
            let other = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Other", redirectURIs: [Harness.redirectURI]))
            let otherClient = ClientCredentials(clientID: other.client.id, secret: nil, method: .none)
            let (grantID, made) = try await flow.makeCode(h)
            let attempts: [(ClientCredentials, String?, String)] = [
                (otherClient, Harness.redirectURI, AuthorizationFlowTests.verifier),
                (h.credentials, Harness.redirectURI, "wrong-verifier-" + String(repeating: "y", count: 40)),
                (h.credentials, Harness.redirectURI, "short"),
                (h.credentials, "http://127.0.0.1:1/other", AuthorizationFlowTests.verifier),
                (h.credentials, nil, AuthorizationFlowTests.verifier),
            ]
            for (credentials, redirect, verifier) in attempts {
                #expect(await oauthError {
                    _ = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: credentials, code: made.code,
                                                           redirectURI: redirect, codeVerifier: verifier)
                } == .invalidGrant)
            }
            let pair = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: made.code,
                                                          redirectURI: Harness.redirectURI, codeVerifier: AuthorizationFlowTests.verifier)
            #expect(try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files").grant.id == grantID)
        }
    }

    @Test func anotherClientPresentingAUsedCodeRevokesNothing() async throws {
        try await Harness.with { h in
            let other = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Other", redirectURIs: [Harness.redirectURI]))
            let (grantID, made) = try await flow.makeCode(h)
            let pair = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: made.code,
                                                          redirectURI: Harness.redirectURI, codeVerifier: AuthorizationFlowTests.verifier)
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: ClientCredentials(clientID: other.client.id, secret: nil, method: .none),
                                                       code: made.code, redirectURI: Harness.redirectURI, codeVerifier: AuthorizationFlowTests.verifier)
            } == .invalidGrant)
            #expect(try await h.grant(grantID).state == .active)
            #expect(try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files").grant.id == grantID)
            #expect(try await h.tollgate.store.auditEvents(grantID: grantID, since: nil, limit: 50, before: nil).allSatisfy { $0.action != "code.replay" })
            // A replay by the client it was issued to revokes what the code issued, when it is otherwise valid: with a
            // wrong verifier it is refused and revokes nothing (a leaked used code alone cannot log the user out).
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: made.code,
                                                       redirectURI: Harness.redirectURI, codeVerifier: "wrong-verifier-" + String(repeating: "y", count: 40))
            } == .invalidGrant)
            #expect(try await h.grant(grantID).state == .active)
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: made.code,
                                                       redirectURI: Harness.redirectURI, codeVerifier: AuthorizationFlowTests.verifier)
            } == .invalidGrant)
            #expect(try await h.grant(grantID).state == .revoked)
            #expect(try await h.tollgate.store.auditEvents(grantID: grantID, since: nil, limit: 50, before: nil).contains { $0.action == "code.replay" })
        }
    }
}
