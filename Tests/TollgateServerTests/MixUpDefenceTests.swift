import Foundation
import HummingbirdTesting
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// Mix-up defence at the upstream callback (RFC 9700 §4.4, RFC 9207, OIDC nonce), over a real loopback socket.
/// Before: a callback arriving at `/oauth/other/callback` with a pending authorization of `files` was accepted and
/// its code sent to `files`' token endpoint; no `iss` or `nonce` was looked at.
@Suite("mix-up defence at the callback")
struct MixUpDefenceTests {
    func authorizeURI(_ h: Harness) -> String { OAuthEndpointTests().authorizeURI(h) { $0["scope"] = "files.read offline_access" } }

    /// Mutation: taking the pending authorization without `serverID` lets the foreign callback complete it.
    @Test func aStateArrivingAtAnotherServersCallbackIsRefusedAndKept() async throws {
        try await ServerHarness.with { s in
            _ = try await s.h.tollgate.admin.addServer(NewServer(slug: "other", name: "Other", upstreamMCPURL: "http://127.0.0.1:9/mcp", scopes: ["files.read"]))
            _ = try await s.h.tollgate.admin.addProvider(serverSlug: "other", NewProvider(
                kind: .oauth2, authorizationEndpoint: s.h.devURL + "/authorize", tokenEndpoint: s.h.devURL + "/token",
                clientID: "other-client", clientSecret: nil, authMethod: .none, scopes: ["openid"]))
            try await s.live { client in
                var browser = FlowBrowser(s, client)
                let upstreamURL = try await browser.startAuthorization(authorizeURI(s.h))
                let back = try await browser.signInUpstream(upstreamURL, as: "victim")
                let exchanges = await s.h.stats().codeExchanges
                let foreign = try await browser.callback(back.replacingOccurrences(of: "/oauth/files/callback", with: "/oauth/other/callback"))
                #expect(foreign.status == .badRequest)
                #expect(foreign.header("Location") == nil)
                #expect(foreign.text.contains("started for another server"))
                #expect(await s.h.stats().codeExchanges == exchanges, "the code went to no token endpoint")
                #expect(try await s.h.tollgate.store.countGrants() == 0)
                // Nothing was consumed: the right callback still completes the sign-in.
                let done = try await browser.callback(back)
                _ = try FlowBrowser.code(of: done)
                #expect(try await s.h.tollgate.store.countGrants() == 1)
            }
        }
    }

    /// Mutation: dropping the `iss` comparison exchanges the code and makes a grant.
    @Test func anAnswerNamingAnotherIssuerIsNotExchanged() async throws {
        try await ServerHarness.with { s in
            await s.h.setBehaviour { $0.authorizationResponseIssuer = "https://attacker.example" }
            try await s.live { client in
                var browser = FlowBrowser(s, client)
                let back = try await browser.signInUpstream(try await browser.startAuthorization(authorizeURI(s.h)), as: "victim")
                #expect(back.contains("iss="), "the dev upstream sends iss (RFC 9207)")
                let exchanges = await s.h.stats().codeExchanges
                let answer = try await browser.callback(back)
                #expect(answer.status == .found)
                let q = Form.query(try #require(answer.header("Location")))
                #expect(q["error"] == "access_denied")
                #expect(q["code"] == nil)
                #expect(await s.h.stats().codeExchanges == exchanges)
                #expect(try await s.h.tollgate.store.countGrants() == 0)
            }
        }
    }

    /// The request carries a nonce when `openid` is asked; an ID token with another one makes no grant. Mutation:
    /// dropping the nonce comparison makes a grant from the forged ID token.
    @Test func anIDTokenWithoutThisSignInsNonceMakesNoGrant() async throws {
        try await ServerHarness.with { s in
            try await s.live { client in
                var browser = FlowBrowser(s, client)
                let upstreamURL = try await browser.startAuthorization(authorizeURI(s.h))
                let nonce = try #require(Form.query(upstreamURL)["nonce"], "an OpenID request carries a nonce")
                #expect(nonce.count >= 43)
                // The genuine echo completes.
                _ = try FlowBrowser.code(of: try await browser.callback(try await browser.signInUpstream(upstreamURL, as: "alice")))
                #expect(try await s.h.tollgate.store.countGrants() == 1)
                await s.h.setBehaviour { $0.idTokenNonce = nonce }  // a replayed ID token: the nonce of another sign-in
                var second = FlowBrowser(s, client)
                let answer = try await second.callback(try await second.signInUpstream(try await second.startAuthorization(authorizeURI(s.h)), as: "mallory"))
                let q = Form.query(try #require(answer.header("Location")))
                #expect(q["error"] == "access_denied")
                #expect(q["error_description"]?.contains("nonce") == true)
                #expect(try await s.h.tollgate.store.countGrants() == 1, "no grant from the foreign ID token")
            }
        }
    }
}
