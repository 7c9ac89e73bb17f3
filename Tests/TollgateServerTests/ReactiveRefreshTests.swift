import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
import TollgateServer
import TollgateTestSupport

/// Reactive refresh at the gateway (issue 19 item 3), over a real loopback socket, with the dev upstream's own MCP
/// endpoint as the backend: it accepts only upstream access tokens that are still alive there. Before: the upstream
/// session ended before the expiry Tollgate knew (or it knew none, as with Salesforce) and the backend's 401 went to
/// the MCP client, although a refresh token was stored.
@Suite("reactive refresh on the MCP server's 401")
struct ReactiveRefreshTests {
    static let call = ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#)

    func post(_ client: any TestClientProtocol, _ token: String) async throws -> TestResponse {
        try await client.execute(uri: "/mcp/files", method: .post,
                                 headers: [.authorization: "Bearer \(token)", .contentType: "application/json", .accept: "application/json, text/event-stream"],
                                 body: Self.call)
    }

    func withBackend(_ body: @escaping @Sendable (ServerHarness, any TestClientProtocol, String, Int64) async throws -> Void) async throws {
        try await ServerHarness.with(upstreamMCP: Harness.devUpstreamMCP) { s in
            await s.h.setBehaviour { $0.expiresInAs = "omit" }  // Salesforce-like: no expiry is ever told
            let (grantID, pair) = try await s.h.makeGrant(subject: "alice")
            try await s.live { client in try await body(s, client, pair.accessToken.value, grantID) }
        }
    }

    /// Mutation: passing the backend's 401 through (no `onRefusedToken`) fails the second call.
    @Test func aBackend401IsRefreshedOnceAndRetried() async throws {
        try await withBackend { s, client, token, grantID in
            let first = try await post(client, token)
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.text.contains("you are alice"))
            #expect(await s.h.stats().refreshCalls == 0)
            // The upstream session ends early.
            await s.h.dev.state.expireAccessTokens(subject: "alice")
            s.h.clock.advance(by: 60)
            let started = ContinuousClock.now
            let second = try await post(client, token)
            let took = ContinuousClock.now - started
            #expect(second.status == .ok, "the client never sees the backend's 401: \(second.status) \(second.text)")
            #expect(second.text.contains("you are alice"))
            #expect(await s.h.stats().refreshCalls == 1)
            print("reactive refresh: backend 401 → refreshed and retried in \(took) (one upstream refresh)")
            // The next request uses the new token: no further refresh.
            #expect(try await post(client, token).status == .ok)
            #expect(await s.h.stats().refreshCalls == 1)
            // The refreshed credential's expiry is unknown (no `expires_in`, as Salesforce): that is no reason not to
            // refresh when the session ends again.
            #expect(try await s.h.grant(grantID).upstream.accessExpiresAt == nil, "expiry unknown")
            await s.h.dev.state.expireAccessTokens(subject: "alice")
            s.h.clock.advance(by: 60)
            #expect(try await post(client, token).status == .ok)
            #expect(await s.h.stats().refreshCalls == 2)
        }
    }

    /// A backend that refuses even a token obtained moments ago is not cured by refreshing: its 401 is passed on and
    /// no refresh is sent (else every request would cost one).
    @Test func aFreshTokenRefusedAgainIsPassedOnWithoutARefresh() async throws {
        try await withBackend { s, client, token, grantID in
            await s.h.dev.state.expireAccessTokens(subject: "alice")
            let refused = try await post(client, token)  // the grant's credential was obtained just now
            #expect(refused.status == .unauthorized)
            #expect(refused.header("WWW-Authenticate") == #"Bearer error="invalid_token""#, "the backend's own answer")
            #expect(await s.h.stats().refreshCalls == 0)
        }
    }

    /// The refresh token is dead too (the user revoked upstream): the client gets Tollgate's own 401 challenge, and
    /// the grant says why; while the provider is down, a 503 with Retry-After instead of the backend's 401.
    @Test func aLostAuthorizationIsTollgatesChallengeAndAnOutageIs503() async throws {
        try await withBackend { s, client, token, grantID in
            await s.h.setBehaviour { $0.refreshFailure = "http500" }
            await s.h.dev.state.expireAccessTokens(subject: "alice")
            s.h.clock.advance(by: 60)
            let outage = try await post(client, token)
            #expect(outage.status == .serviceUnavailable, "\(outage.status) \(outage.text)")
            #expect(outage.header("Retry-After") != nil)
            await s.h.setBehaviour { $0.refreshFailure = nil }
            await s.h.dev.state.revokeAll(subject: "alice")
            s.h.clock.advance(by: 60)
            let lost = try await post(client, token)
            #expect(lost.status == .unauthorized)
            #expect(lost.header("WWW-Authenticate")?.contains("resource_metadata=") == true, "Tollgate's challenge, not the backend's")
            #expect(try await s.h.grant(grantID).state == .needsReauth)
        }
    }
}
