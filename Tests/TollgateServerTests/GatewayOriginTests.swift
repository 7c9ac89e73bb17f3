import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
import TollgateServer
import TollgateTestSupport

/// The gateway's browser rules (MCP Streamable HTTP: servers MUST validate `Origin`): no `Origin` (native
/// clients) passes; an allowed origin passes with CORS; any other origin, `null` included, gets 403 before the
/// token is even looked at or anything is forwarded. And the 401 challenge names the server's scopes.
@Suite("gateway origins")
struct GatewayOriginTests {
    let gateway = GatewayTests()

    func post(_ client: any TestClientProtocol, _ token: String?, origin: String?) async throws -> TestResponse {
        var extra: HTTPFields = [:]
        if let origin { extra[.origin] = origin }
        return try await gateway.call(client, token, extra: extra)
    }

    @Test func absentOrAllowedOriginsPassAndOthersGet403BeforeAnythingIsForwarded() async throws {
        try await gateway.withGateway { s, client in
            let (_, pair) = try await s.h.makeGrant()
            let token = pair.accessToken.value
            let native = try await post(client, token, origin: nil)
            #expect(native.status == .ok)
            #expect(native.header("Access-Control-Allow-Origin") == nil)

            // The default: the public URL's origin only (ServerHarness.base).
            let own = try await post(client, token, origin: "http://127.0.0.1:8080")
            #expect(own.status == .ok)
            #expect(own.header("Access-Control-Allow-Origin") == "http://127.0.0.1:8080")
            #expect(own.header("Access-Control-Expose-Headers")?.contains("WWW-Authenticate") == true)
            #expect(own.header("Access-Control-Expose-Headers")?.contains("Mcp-Session-Id") == true)
            #expect(own.header("Mcp-Session-Id") == "session-42")

            for hostile in ["https://evil.example", "null", "http://127.0.0.1:8081", "http://127.0.0.1:8080/path", "javascript:alert(1)", ""] {
                let refused = try await post(client, token, origin: hostile)
                #expect(refused.status == .forbidden, "\(hostile)")
                #expect(refused.json["error"] as? String == "invalid_origin", "\(hostile)")
                #expect(refused.header("Access-Control-Allow-Origin") == nil, "\(hostile)")
                #expect(refused.json["headers"] == nil, "\(hostile): the backend must not have seen it")
                // Refused before the token: a page without any token learns nothing else either.
                #expect(try await post(client, nil, origin: hostile).status == .forbidden, "\(hostile)")
            }
        }
    }

    @Test func anAdminAllowsOtherOriginsAndTheListReplacesTheDefault() async throws {
        try await gateway.withGateway { s, client in
            let (_, pair) = try await s.h.makeGrant()
            let token = pair.accessToken.value
            _ = try await s.h.tollgate.admin.setServerPolicy(slug: "files", ServerPolicy(allowedOrigins: ["HTTPS://App.Example:443/"]))
            #expect(try await s.h.tollgate.admin.server(slug: "files").policy.allowedOrigins == ["https://app.example"])
            let allowed = try await post(client, token, origin: "https://app.example")
            #expect(allowed.status == .ok)
            #expect(allowed.header("Access-Control-Allow-Origin") == "https://app.example")
            #expect(try await post(client, token, origin: "http://127.0.0.1:8080").status == .forbidden, "the list replaces the default")
            #expect(try await post(client, token, origin: "https://app.example.evil").status == .forbidden)
            await #expect(throws: TollgateError.self) {
                _ = try await s.h.tollgate.admin.setServerPolicy(slug: "files", ServerPolicy(allowedOrigins: ["app.example"]))
            }
            _ = try await s.h.tollgate.admin.setServerPolicy(slug: "files", ServerPolicy())
            #expect(try await post(client, token, origin: "http://127.0.0.1:8080").status == .ok)
            let events = try await s.h.tollgate.admin.audit(grantID: nil, since: nil).map(\.action)
            #expect(events.filter { $0 == "server.policy" }.count == 2)
        }
    }

    @Test func preflightOfAnAllowedOriginIsAnsweredAndOthersAreRefused() async throws {
        try await gateway.withGateway { s, client in
            let preflight: HTTPFields = [.origin: "http://127.0.0.1:8080", .accessControlRequestMethod: "POST",
                                         .accessControlRequestHeaders: "authorization, content-type, mcp-protocol-version"]
            let ok = try await client.execute(uri: "/mcp/files", method: .options, headers: preflight)
            #expect(ok.status == .noContent)
            #expect(ok.header("Access-Control-Allow-Origin") == "http://127.0.0.1:8080")
            #expect(ok.header("Access-Control-Allow-Methods")?.contains("POST") == true)
            #expect(ok.header("Access-Control-Allow-Headers")?.contains("Authorization") == true)
            var hostile = preflight
            hostile[.origin] = "https://evil.example"
            #expect(try await client.execute(uri: "/mcp/files", method: .options, headers: hostile).status == .forbidden)
            hostile[.origin] = "http://127.0.0.1:8080"
            #expect(try await client.execute(uri: "/mcp/nowhere", method: .options, headers: hostile).status == .notFound)
        }
    }

    @Test func theChallengeNamesTheServersScopesAndAnAllowedPageCanReadIt() async throws {
        try await gateway.withGateway { _, client in
            let r = try await post(client, "tg_at_unknown", origin: "http://127.0.0.1:8080")
            gateway.expectChallenge(r, "unknown token")
            #expect(r.header("WWW-Authenticate")?.hasSuffix(#"scope="files.read""#) == true, "\(r.header("WWW-Authenticate") ?? "")")
            #expect(r.header("Access-Control-Allow-Origin") == "http://127.0.0.1:8080")
        }
    }
}

/// `application_type` at registration (OpenID Connect Dynamic Client Registration): `native` clients redirect to
/// loopback or private-use URIs, `web` clients to https; a mismatch is `invalid_redirect_uri`. Without it, the
/// general redirect rules apply as before.
@Suite("registration application_type")
struct ApplicationTypeTests {
    @Test func theApplicationTypeDecidesWhichRedirectURIsAreAllowed() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                let cases: [(String?, String, Bool)] = [
                    ("native", "http://127.0.0.1:33418/cb", true), ("native", "com.example.app:/cb", true),
                    ("native", "https://app.example/cb", false),
                    ("web", "https://app.example/cb", true), ("web", "http://127.0.0.1:33418/cb", false),
                    ("web", "com.example.app:/cb", false),
                    (nil, "http://127.0.0.1:33418/cb", true), (nil, "https://app.example/cb", true),
                ]
                for (type, uri, accepted) in cases {
                    let typeField = type.map { #", "application_type": "\#($0)""# } ?? ""
                    let r = try await client.register(#"{"client_name": "t", "redirect_uris": ["\#(uri)"], "token_endpoint_auth_method": "none"\#(typeField)}"#)
                    if accepted {
                        #expect(r.status == .created, "\(type ?? "none") \(uri): \(r.text)")
                        #expect(r.json["application_type"] as? String == type, "\(type ?? "none") \(uri)")
                    } else {
                        #expect(r.status == .badRequest, "\(type ?? "none") \(uri)")
                        #expect(r.json["error"] as? String == "invalid_redirect_uri", "\(type ?? "none") \(uri)")
                    }
                }
                let unknown = try await client.register(#"{"redirect_uris": ["https://a.example/cb"], "application_type": "desktop"}"#)
                #expect(unknown.status == .badRequest)
                #expect(unknown.json["error"] as? String == "invalid_client_metadata")
            }
        }
    }
}
