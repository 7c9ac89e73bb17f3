import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// Refused requests are recorded with their reason (audit event, metrics, access log) and never with token material.
@Suite("refusal recording and access log")
struct RefusalRecordingTests {
    /// Every way `token` could leak: itself, its SHA-256 in hex and base64, and prefixes of those.
    static func traces(of token: String) -> [String] {
        let hash = TokenGenerator.hash(token)
        let hex = hash.map { String(format: "%02x", $0) }.joined()
        return [token, String(token.dropFirst(6).prefix(12)), hex.prefix(12).description, hash.base64EncodedString().prefix(12).description]
    }

    @Test func aRevokedTokenRecordsRevokedWithGrantAndClientAndNoTokenMaterial() async throws {
        let log = RecordingLogHandler()
        try await ServerHarness.with(logger: RecordingLogHandler.logger(log)) { s in
            let (grantID, pair) = try await s.h.makeGrant()
            _ = try await s.h.tollgate.admin.revokeGrant(id: grantID)
            let token = pair.accessToken.value
            try await s.test { client in
                let r = try await client.execute(uri: "/mcp/files?session=abc", method: .post,
                                                 headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                                 body: ByteBuffer(string: "{}"))
                #expect(r.status == .unauthorized)
                await s.server.refusals.waitUntilWritten()
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.text.contains(#"tollgate_refusals_total{reason="revoked"} 1"#))
            }
            let events = try await s.h.tollgate.admin.audit(.refusals(grantID: grantID, limit: 10))
            let event = try #require(events.first)
            #expect(events.count == 1)
            #expect(event.outcome == "revoked")
            #expect(event.grantID == grantID && event.clientID == s.h.client.client.id && event.serverID == s.h.server.id)
            #expect(event.detail == "the access token has been revoked (POST /mcp/files)", "route without the query string")
            for trace in Self.traces(of: token) {
                #expect(!event.detail.contains(trace) && !event.actor.contains(trace))
                #expect(log.recorded.allSatisfy { !$0.line.contains(trace) }, "no log line carries \(trace)")
            }
            let access = try #require(log.recorded.first { $0.message == "request" && $0.fields["route"] == "/mcp/{slug}" })
            #expect(access.level == .info)
            #expect(access.fields["method"] == "POST" && access.fields["status"] == "401" && access.fields["refusal"] == "revoked")
            #expect(access.fields["grant"] == String(grantID) && access.fields["client"] == s.h.client.client.id)
            #expect(access.fields["server"] == "files" && access.fields["ms"].flatMap(Int.init) != nil)
            #expect(!access.line.contains("session=abc"))
        }
    }

    @Test func aFailedTokenRequestRecordsItsReasonAndLogsNoSecret() async throws {
        let log = RecordingLogHandler()
        try await ServerHarness.with(logger: RecordingLogHandler.logger(log)) { s in
            let (grantID, pair) = try await s.h.makeGrant()
            let clientID = s.h.client.client.id
            let bogus = "tg_rt_" + String(repeating: "Q", count: 43)
            try await s.test { client in
                for presented in [bogus, bogus, pair.refreshToken.value] {
                    let r = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                        ("grant_type", "refresh_token"), ("refresh_token", presented), ("client_id", clientID), ("scope", "admin"),
                    ]))
                    #expect(r.status == .badRequest)
                }
                await s.server.refusals.waitUntilWritten()
            }
            let events = try await s.h.tollgate.admin.audit(.refusals(grantID: nil, limit: 10))
            #expect(events.map(\.outcome) == ["scope_exceeded", "unknown_refresh_token"], "the repeated unknown token is held back")
            #expect(events.first?.grantID == grantID)
            #expect(events.allSatisfy { $0.clientID == clientID && $0.detail.contains("(POST /oauth/files/token)") })
            for trace in Self.traces(of: bogus) + Self.traces(of: pair.refreshToken.value) {
                #expect(events.allSatisfy { !$0.detail.contains(trace) })
                #expect(log.recorded.allSatisfy { !$0.line.contains(trace) })
            }
            let lines = log.recorded.filter { $0.message == "request" && $0.fields["route"] == "/oauth/{slug}/token" }
            #expect(lines.map { $0.fields["refusal"] } == ["unknown_refresh_token", "unknown_refresh_token", "scope_exceeded"])
            #expect(lines.allSatisfy { $0.fields["client"] == clientID && $0.fields["status"] == "400" })
        }
    }

    @Test func anAuthorizedRequestIsLoggedWithItsGrantAndTheLogCanBeTurnedOff() async throws {
        for enabled in [true, false] {
            let log = RecordingLogHandler()
            try await ServerHarness.with(logger: RecordingLogHandler.logger(log), configure: { $0.accessLog = enabled }) { s in
                try await s.test { client in
                    let r = try await client.execute(uri: "/healthz", method: .get)
                    #expect(r.status == .ok)
                    _ = try await client.execute(uri: "/oauth/files/callback?state=tg_st_secret&code=up-code", method: .get)
                }
            }
            let lines = log.recorded.filter { $0.message == "request" }
            if enabled {
                #expect(lines.map { $0.fields["route"] } == ["/healthz", "/oauth/{slug}/callback"])
                #expect(lines.allSatisfy { !$0.line.contains("tg_st_secret") && !$0.line.contains("up-code") })
            } else {
                #expect(lines.isEmpty, "--access-log off writes no request lines")
            }
        }
    }
}
