import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

@Suite("well-known metadata")
struct WellKnownTests {
    func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func issuerEqualsTheProtectedResourcesAuthorizationServer() async throws {
        try await Harness.with { h in
            let urls = PublicURLs(base: "https://proxy.example.com/")
            let asm = try json(try await h.tollgate.admin.wellKnown(serverSlug: "files", .authorizationServer, urls: urls))
            let prm = try json(try await h.tollgate.admin.wellKnown(serverSlug: "files", .protectedResource, urls: urls))
            let servers = try #require(prm["authorization_servers"] as? [String])
            #expect(asm["issuer"] as? String == servers[0])
            #expect(servers[0] == "https://proxy.example.com/oauth/files")
            #expect(prm["resource"] as? String == "https://proxy.example.com/mcp/files")
            #expect(prm["bearer_methods_supported"] as? [String] == ["header"])
            #expect(asm["token_endpoint"] as? String == "https://proxy.example.com/oauth/files/token")
            #expect(asm["registration_endpoint"] as? String == "https://proxy.example.com/oauth/files/register")
        }
    }

    @Test func capabilitiesAreAdvertisedAsTheSpecSays() async throws {
        try await Harness.with { h in
            let asm = try json(try await h.tollgate.admin.wellKnown(serverSlug: "files", .authorizationServer, urls: h.urls))
            let prm = try json(try await h.tollgate.admin.wellKnown(serverSlug: "files", .protectedResource, urls: h.urls))
            #expect((asm["grant_types_supported"] as? [String])?.contains("refresh_token") == true)
            #expect((asm["grant_types_supported"] as? [String])?.contains("authorization_code") == true)
            #expect(asm["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect(asm["response_types_supported"] as? [String] == ["code"])
            #expect(asm["authorization_response_iss_parameter_supported"] as? Bool == true)
            #expect(Set(asm["token_endpoint_auth_methods_supported"] as? [String] ?? []) == ["none", "client_secret_basic", "client_secret_post"])
            #expect((asm["scopes_supported"] as? [String])?.contains("offline_access") == true)
            #expect((prm["scopes_supported"] as? [String])?.contains("offline_access") == false)
            #expect(prm["scopes_supported"] as? [String] == ["files.read"])
        }
    }

    @Test func theBytesAreStable() async throws {
        try await Harness.with { h in
            let a = try await h.tollgate.admin.wellKnown(serverSlug: "files", .authorizationServer, urls: h.urls)
            let b = try await h.tollgate.admin.wellKnown(serverSlug: "files", .authorizationServer, urls: h.urls)
            #expect(a == b)
            #expect(a.last == 0x0A)
            #expect(!String(decoding: a, as: UTF8.self).contains("\\/"))
        }
    }
}
