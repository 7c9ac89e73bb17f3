import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
@testable import TollgateCore
import TollgateServer
import TollgateTestSupport

/// Issue 20 item 11: a grant holds a small constant number of token rows however often it is refreshed, and reuse
/// of a long-rotated refresh token still revokes the grant, over a real loopback socket.
@Suite("refresh token rows and reuse")
struct RefreshTokenRowsTests {
    func refresh(_ client: any TestClientProtocol, _ s: ServerHarness, _ token: String, scope: String? = nil) async throws -> TestResponse {
        var form = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", s.h.client.client.id)]
        if let scope { form.append(("scope", scope)) }
        return try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body(form))
    }

    /// Every token row in the store (the harness holds one grant).
    func tokenRows(_ h: Harness) async throws -> Int { try await h.storedRows().tokens }

    /// Before: 50 refreshes left 102 rows (every rotated refresh token and revoked access token kept until a day
    /// after its own expiry, 30 days by default). After: 4, whatever the count, and the first refresh token, whose
    /// row is long gone, still revokes the grant when presented again. Mutation: passing `pruningBefore: nil` at
    /// rotation leaves 102 rows; dropping ``RefreshTokenFamily`` claims lets the replay through as "unknown".
    @Test func fiftyRefreshesKeepFourRowsAndAnOldTokenStillRevokes() async throws {
        try await ServerHarness.with { s in
            try await s.live { client in
                let (grantID, pair) = try await s.h.makeGrant()
                let first = pair.refreshToken.value
                var current = first
                for _ in 0..<50 {
                    s.h.clock.advance(by: 75)
                    let answer = try await refresh(client, s, current)
                    #expect(answer.status == .ok, "\(answer.text)")
                    current = try #require(answer.json["refresh_token"] as? String)
                }
                #expect(try await tokenRows(s.h) == 4, "live pair + the rotation just made (kept for the grace window)")
                #expect(try await s.h.tollgate.store.token(hash: TokenGenerator.hash(first)) == nil, "the first token's row is gone")
                let replay = try await refresh(client, s, first)
                #expect(replay.status == .badRequest)
                #expect(replay.json["error"] as? String == "invalid_grant")
                #expect(replay.json["error_description"] as? String == "the refresh token was already used")
                #expect(try await s.h.grant(grantID).state == .revoked)
                #expect(try await s.h.tollgate.store.auditEvents(grantID: grantID, since: nil, limit: 100, before: nil)
                    .contains { $0.action == "token.reuse-detected" })
            }
        }
    }

    /// A stranger cannot revoke someone's grant by minting a token that names it: the tag does not verify, so the
    /// token is merely unknown. An expired genuine token of a live grant is "expired", not reuse.
    @Test func forgedAndExpiredTokensRevokeNothing() async throws {
        try await ServerHarness.with { s in
            try await s.live { client in
                let (grantID, _) = try await s.h.makeGrant()
                let future = s.h.clock.now().addingTimeInterval(86_400)
                let forged = RefreshTokenFamily.make(grantID: grantID, expiresAt: future, entropy: Data(repeating: 7, count: 24),
                                                     key: .init(data: Data(repeating: 1, count: 32)))
                let unknown = try await refresh(client, s, forged.value)
                #expect(unknown.json["error_description"] as? String == "unknown refresh token")
                let expired = RefreshTokenFamily.random(grantID: grantID, expiresAt: s.h.clock.now().addingTimeInterval(-1),
                                                        key: s.h.tollgate.vault.derivationKey)
                let late = try await refresh(client, s, expired.value)
                #expect(late.json["error_description"] as? String == "the refresh token has expired")
                #expect(try await s.h.grant(grantID).state == .active)
            }
        }
    }

    /// Within the grace window a retried rotation still gets the very pair the first one issued.
    @Test func aRetryWithinTheGraceWindowGetsTheSamePair() async throws {
        try await ServerHarness.with { s in
            try await s.live { client in
                let (grantID, pair) = try await s.h.makeGrant()
                let one = try await refresh(client, s, pair.refreshToken.value)
                s.h.clock.advance(by: 5)
                let two = try await refresh(client, s, pair.refreshToken.value)
                #expect(two.status == .ok)
                #expect(two.json["refresh_token"] as? String == one.json["refresh_token"] as? String)
                #expect(two.json["access_token"] as? String == one.json["access_token"] as? String)
                #expect(try await s.h.grant(grantID).state == .active)
            }
        }
    }
}
