import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// What binds an authorization to its participants: the callback to the browser that started it, the
/// code to the client it was issued to (whose valid presentation alone consumes it).
@Suite("browser and client binding of the authorization")
struct FlowBindingTests {
    let flow = AuthorizationFlowTests()

    @Test func aCodeStaysUsableAfterAnotherClientOrAWrongProofWasPresented() async throws {
        try await Harness.with { h in
            let other = try h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Other", redirectURIs: [Harness.redirectURI]))
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
                    _ = try h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: credentials, code: made.code,
                                                           redirectURI: redirect, codeVerifier: verifier)
                } == .invalidGrant)
            }
            let pair = try h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: made.code,
                                                          redirectURI: Harness.redirectURI, codeVerifier: AuthorizationFlowTests.verifier)
            #expect(try h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files").grant.id == grantID)
        }
    }

    @Test func anotherClientPresentingAUsedCodeRevokesNothing() async throws {
        try await Harness.with { h in
            let other = try h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Other", redirectURIs: [Harness.redirectURI]))
            let (grantID, made) = try await flow.makeCode(h)
            let pair = try h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: made.code,
                                                          redirectURI: Harness.redirectURI, codeVerifier: AuthorizationFlowTests.verifier)
            #expect(await oauthError {
                _ = try h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: ClientCredentials(clientID: other.client.id, secret: nil, method: .none),
                                                       code: made.code, redirectURI: Harness.redirectURI, codeVerifier: AuthorizationFlowTests.verifier)
            } == .invalidGrant)
            #expect(try h.grant(grantID).state == .active)
            #expect(try h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files").grant.id == grantID)
            #expect(try h.tollgate.store.auditEvents(grantID: grantID, since: nil, limit: 50, before: nil).allSatisfy { $0.action != "code.replay" })
            // A replay by the client it was issued to still revokes what the code issued.
            #expect(await oauthError {
                _ = try h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: made.code,
                                                       redirectURI: Harness.redirectURI, codeVerifier: "wrong-verifier-" + String(repeating: "y", count: 40))
            } == .invalidGrant)
            #expect(try h.grant(grantID).state == .revoked)
            #expect(try h.tollgate.store.auditEvents(grantID: grantID, since: nil, limit: 50, before: nil).contains { $0.action == "code.replay" })
        }
    }
}
