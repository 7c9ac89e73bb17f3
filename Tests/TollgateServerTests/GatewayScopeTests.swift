import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing
import TollgateCore
import TollgateServer
import TollgateTestSupport

/// An MCP server stand-in that counts what reaches it and echoes the body it got.
final class CountingBackend: Sendable {
    let received = Mutex<[String]>([])

    var count: Int { received.withLock { $0.count } }

    func start() async throws -> (url: String, task: Task<Void, Error>) {
        let router = Router()
        // A POST is recorded as its body; any other method as "METHOD body".
        for method in [HTTPRequest.Method.post, .get, .delete, .put, .patch] {
            router.on("/mcp", method: method) { [self] request, _ in
                let body = String(buffer: try await request.body.collect(upTo: 4 << 20))
                self.received.withLock { $0.append(method == .post ? body : "\(method.rawValue) \(body)") }
                let json = try JSONSerialization.data(withJSONObject: ["forwarded": true, "bytes": body.utf8.count])
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
            }
        }
        return try await EchoBackend.serve(router)
    }
}

/// Step-up authorization at the gateway (MCP authorization, "Scope Challenge Handling"; RFC 6750 §3.1): a server
/// with scope rules reads each POSTed JSON-RPC message, checks the Mcp-Method / Mcp-Name headers against it, and
/// answers a call the grant's scopes do not cover with 403 insufficient_scope, forwarding nothing. Re-authorizing
/// for more scopes extends the same grant, with the upstream asked for the union.
@Suite("gateway scopes and step-up")
struct GatewayScopeTests {
    static let rules = ScopeRules(toolScopes: ["write_file": ["files.write"]], methodScopes: ["resources/read": ["files.read"]],
                                  implies: ["files.write": ["files.read"]])
    static let serverScopes = ["files.read", "files.write"]
    static let resourceMetadata = "\(ServerHarness.base)/.well-known/oauth-protected-resource/mcp/files"

    func withRules(_ rules: ScopeRules? = GatewayScopeTests.rules,
                   _ body: @escaping @Sendable (ServerHarness, any TestClientProtocol, CountingBackend) async throws -> Void) async throws {
        let backend = CountingBackend()
        let (url, task) = try await backend.start()
        defer { task.cancel() }
        try await ServerHarness.with(upstreamMCP: url, serverScopes: Self.serverScopes,
                                     providerScopes: ["openid", "offline_access", "files.read", "files.write"]) { s in
            if let rules { _ = try await s.h.tollgate.admin.setServerPolicy(slug: "files", ServerPolicy(scopeRules: rules)) }
            try await s.live { client in try await body(s, client, backend) }
        }
    }

    static func message(_ method: String, name: String? = nil, id: Int = 1) -> String {
        let params = switch method {
        case "resources/read": #","params":{"uri":"\#(name ?? "")"}"#
        case "tools/call", "prompts/get": #","params":{"name":"\#(name ?? "")","arguments":{}}"#
        default: ""
        }
        return #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)"\#(params)}"#
    }

    func post(_ client: any TestClientProtocol, _ token: String, body: String, method: String? = nil, name: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(token)"]
        if let method { headers[HTTPField.Name("Mcp-Method")!] = method }
        if let name { headers[HTTPField.Name("Mcp-Name")!] = name }
        return try await client.execute(uri: "/mcp/files", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func call(_ client: any TestClientProtocol, _ token: String, _ method: String, name: String? = nil) async throws -> TestResponse {
        try await post(client, token, body: Self.message(method, name: name), method: method, name: name)
    }

    @Test func callsTheGrantCoversAreForwardedAndOthersGet403WithTheChallenge() async throws {
        try await withRules { s, client, backend in
            let token = try await s.h.makeGrant(scopes: ["files.read"]).pair.accessToken.value
            let calls: [(String, String?)] = [("tools/list", nil), ("tools/call", "read_file"), ("resources/read", "file:///a.txt")]
            for (method, name) in calls {
                let allowed = try await call(client, token, method, name: name)
                #expect(allowed.status == .ok, "\(method) \(name ?? "")")
                #expect(allowed.json["forwarded"] as? Bool == true)
            }
            #expect(backend.count == 3)
            let refused = try await call(client, token, "tools/call", name: "write_file")
            #expect(refused.status == .forbidden)
            #expect(refused.header("WWW-Authenticate") == "Bearer error=\"insufficient_scope\", scope=\"files.write\", "
                    + "resource_metadata=\"\(Self.resourceMetadata)\", error_description=\"this call needs the scope files.write; authorize again with it\"")
            #expect(refused.json["error"] as? String == "insufficient_scope")
            #expect(refused.json["scope"] as? String == "files.write")
            #expect(backend.count == 3, "nothing forwarded")
            // Without the headers the body decides, the same way.
            let headerless = try await post(client, token, body: Self.message("tools/call", name: "write_file"))
            #expect(headerless.status == .forbidden)
            #expect(backend.count == 3)
        }
    }

    @Test func theFirstChallengeLeavesTheScopesOnlyToolsNeedForStepUp() async throws {
        try await withRules { _, client, backend in
            let r = try await post(client, "tg_at_unknown", body: Self.message("tools/list"))
            #expect(r.status == .unauthorized)
            let challenge = r.header("WWW-Authenticate") ?? ""
            #expect(challenge.hasSuffix(", scope=\"files.read\""), "\(challenge)")
            #expect(backend.count == 0)
        }
    }

    @Test func theChallengeNamesEveryScopeTheCallNeedsGrantedOnesIncluded() async throws {
        let rules = ScopeRules(toolScopes: ["sync": ["files.read", "files.write"]])
        try await withRules(rules) { s, client, backend in
            let token = try await s.h.makeGrant(scopes: ["files.read"]).pair.accessToken.value
            let refused = try await call(client, token, "tools/call", name: "sync")
            #expect(refused.status == .forbidden)
            #expect(refused.header("WWW-Authenticate")?.contains("scope=\"files.read files.write\"") == true)
            #expect(refused.json["error_description"] as? String == "this call needs the scope files.write; authorize again with it")
            #expect(backend.count == 0)
        }
    }

    @Test func aBroaderScopeSatisfiesWhatItImplies() async throws {
        try await withRules { s, client, backend in
            let token = try await s.h.makeGrant(scopes: ["files.write"]).pair.accessToken.value
            #expect(try await call(client, token, "resources/read", name: "file:///a.txt").status == .ok, "files.write implies files.read")
            #expect(try await call(client, token, "tools/call", name: "write_file").status == .ok)
            #expect(backend.count == 2)
        }
    }

    @Test func headersThatDisagreeWithTheBodyGet400HeaderMismatch() async throws {
        try await withRules { s, client, backend in
            let token = try await s.h.makeGrant(scopes: ["files.read"]).pair.accessToken.value
            let writeCall = Self.message("tools/call", name: "write_file", id: 9)
            // A forged Mcp-Name naming a tool the grant may call must not buy the cheaper check.
            let forged = try await post(client, token, body: writeCall, method: "tools/call", name: "read_file")
            #expect(forged.status == .badRequest)
            #expect(forged.json["jsonrpc"] as? String == "2.0")
            #expect(forged.json["id"] as? Int == 9)
            let error = try #require(forged.json["error"] as? [String: Any])
            #expect(error["code"] as? Int == -32020)
            #expect(error["message"] as? String == "Header mismatch: Mcp-Name header value 'read_file' does not match body value 'write_file'")
            let method = try await post(client, token, body: writeCall, method: "tools/list")
            #expect(method.status == .badRequest)
            #expect((method.json["error"] as? [String: Any])?["code"] as? Int == -32020)
            #expect(((method.json["error"] as? [String: Any])?["message"] as? String)?.contains("Mcp-Method") == true)
            // A mismatch on a call the grant covers is refused too.
            let resource = try await post(client, token, body: Self.message("resources/read", name: "file:///a"), method: "resources/read", name: "file:///b")
            #expect(resource.status == .badRequest)
            // The Base64 sentinel form is decoded before comparing.
            let encoded = "=?base64?" + Data("file:///a".utf8).base64EncodedString() + "?="
            #expect(try await post(client, token, body: Self.message("resources/read", name: "file:///a"), method: "resources/read", name: encoded).status == .ok)
            #expect(backend.count == 1)
        }
    }

    @Test func oversizedNonJSONAndBatchBodiesAreRefusedBeforeAnythingIsForwarded() async throws {
        try await withRules { s, client, backend in
            let token = try await s.h.makeGrant(scopes: ["files.read", "files.write"]).pair.accessToken.value
            let padding = String(repeating: " ", count: GatewayScopeCheckLimit.bytes)
            let huge = try await post(client, token, body: Self.message("tools/list") + padding)
            #expect(huge.status == .contentTooLarge)
            #expect(huge.json["error"] as? String == "request_too_large")
            let notJSON = try await post(client, token, body: "hello")
            #expect(notJSON.status == .badRequest)
            #expect((notJSON.json["error"] as? [String: Any])?["code"] as? Int == -32700)
            let batch = try await post(client, token, body: "[" + Self.message("tools/list") + "]")
            #expect(batch.status == .badRequest)
            #expect((batch.json["error"] as? [String: Any])?["code"] as? Int == -32600)
            #expect(backend.count == 0)
            // A body just under the limit is read and forwarded whole.
            let large = Self.message("tools/list") + String(repeating: " ", count: GatewayScopeCheckLimit.bytes - 200)
            let forwarded = try await post(client, token, body: large)
            #expect(forwarded.status == .ok)
            #expect(forwarded.json["bytes"] as? Int == large.utf8.count)
        }
    }

    /// Issue 20 item 5: before, only POSTs were checked, so a `tools/call` the grant may not make reached the backend
    /// in a PUT, PATCH, GET or DELETE body. Now a server with rules takes only the transport's methods, and a body
    /// only in a POST. Mutation: checking `request.method == .post` alone again forwards all four.
    @Test func aCallInAnyOtherMethodIsRefusedOnAServerWithRules() async throws {
        try await withRules { s, client, backend in
            let token = try await s.h.makeGrant(scopes: ["files.read"]).pair.accessToken.value
            let write = ByteBuffer(string: Self.message("tools/call", name: "write_file"))
            var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
            for method in [HTTPRequest.Method.put, .patch] {
                let r = try await client.execute(uri: "/mcp/files", method: method, headers: headers, body: write)
                #expect(r.status == .methodNotAllowed, "\(method)")
                #expect(r.header("Allow") == "POST, GET, DELETE")
                #expect(r.json["error"] as? String == "method_not_allowed")
            }
            for method in [HTTPRequest.Method.get, .delete] {
                let r = try await client.execute(uri: "/mcp/files", method: method, headers: headers, body: write)
                #expect(r.status == .badRequest, "\(method)")
                #expect(r.json["error"] as? String == "invalid_request")
            }
            #expect(backend.count == 0, "nothing reached the backend: \(backend.received.withLock { $0 })")
            // The transport's own GET (a stream) and DELETE (end the session) without a body still pass.
            headers[.contentType] = nil
            #expect(try await client.execute(uri: "/mcp/files", method: .get, headers: headers).status == .ok)
            #expect(try await client.execute(uri: "/mcp/files", method: .delete, headers: headers).status == .ok)
            #expect(backend.received.withLock { $0 } == ["GET ", "DELETE "])
        }
    }

    /// Issue 20 item 9: before, a refresh asking for a narrower `scope` got a token with all of the grant's scopes
    /// (and the gateway judged by the grant). Now the new access token carries only what was asked (RFC 6749 §6),
    /// calls are judged by it and introspection says so; the refresh token keeps the grant's scopes, so the next
    /// refresh without `scope` gets them all back. Mutation: judging by `access.grant.scopes` forwards the write.
    @Test func aRefreshForFewerScopesIssuesANarrowerToken() async throws {
        try await withRules { s, client, backend in
            let pair = try await s.h.makeGrant(scopes: ["files.read", "files.write"]).pair
            func refresh(_ token: String, scope: String?) async throws -> [String: Any] {
                var form = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", s.h.client.client.id)]
                if let scope { form.append(("scope", scope)) }
                let r = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body(form))
                #expect(r.status == .ok, "\(r.text)")
                return r.json
            }
            let narrow = try await refresh(pair.refreshToken.value, scope: "files.read")
            #expect(narrow["scope"] as? String == "files.read")
            let narrowToken = try #require(narrow["access_token"] as? String)
            let refused = try await call(client, narrowToken, "tools/call", name: "write_file")
            #expect(refused.status == .forbidden)
            #expect(refused.json["error"] as? String == "insufficient_scope")
            #expect(try await call(client, narrowToken, "resources/read", name: "file:///a").status == .ok)
            #expect(backend.count == 1, "only the read reached the backend")
            let credential = try await s.h.tollgate.admin.addIntrospectionCredential(serverSlug: "files", name: "rs")
            let introspected = try await s.h.tollgate.tokens.introspect(
                serverSlug: "files", credentials: ClientCredentials(clientID: credential.credential.id, secret: credential.secret, method: .clientSecretBasic),
                token: narrowToken, urls: s.h.urls)
            #expect(introspected.scope == "files.read")
            // The refresh token was not narrowed: the next refresh without scope has every scope of the grant again.
            let full = try await refresh(try #require(narrow["refresh_token"] as? String), scope: nil)
            #expect(full["scope"] as? String == "files.read files.write")
            #expect(try await call(client, try #require(full["access_token"] as? String), "tools/call", name: "write_file").status == .ok)
        }
    }

    @Test func aServerWithoutRulesForwardsBodiesUnread() async throws {
        try await withRules(nil) { s, client, backend in
            let token = try await s.h.makeGrant(scopes: ["files.read"]).pair.accessToken.value
            #expect(try await post(client, token, body: "hello", method: "tools/list", name: "whatever").status == .ok)
            #expect(try await call(client, token, "tools/call", name: "write_file").status == .ok)
            #expect(backend.received.withLock { $0 } == ["hello", Self.message("tools/call", name: "write_file")])
        }
    }

    // MARK: Re-authorization for more scopes

    func authorizeURI(_ h: Harness, scope: String) -> String {
        OAuthEndpointTests().authorizeURI(h) { $0["scope"] = scope }
    }

    func exchange(_ client: any TestClientProtocol, _ s: ServerHarness, code: String) async throws -> [String: Any] {
        let response = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Harness.redirectURI),
            ("code_verifier", OAuthEndpointTests.verifier), ("client_id", s.h.client.client.id)]))
        #expect(response.status == .ok, "\(response.text)")
        return response.json
    }

    @Test func reauthorizingForMoreScopesShowsOnlyTheNewOnesAndExtendsTheSameGrant() async throws {
        try await withRules { s, client, backend in
            var browser = FlowBrowser(s, client)
            let first = try await browser.startAuthorization(authorizeURI(s.h, scope: "files.read"))
            #expect(Form.query(first)["scope"] == "openid offline_access files.read", "the provider's own scopes and the shared one asked")
            let firstTokens = try await exchange(client, s, code: try FlowBrowser.code(of: try await browser.callback(try await browser.signInUpstream(first, as: "ann"))))
            let token = try #require(firstTokens["access_token"] as? String)
            let grants = try await s.h.tollgate.admin.grants(GrantQuery())
            let grant = try #require(grants.items.first)
            #expect(grants.items.count == 1)
            #expect(grant.scopes == ["files.read"])
            #expect(grant.upstream.scope == "openid offline_access files.read", "the dev upstream granted what it was asked")

            let refused = try await call(client, token, "tools/call", name: "write_file")
            #expect(refused.status == .forbidden)
            #expect(backend.count == 0)

            // The client re-authorizes with the scope of the challenge (only it: the union is Tollgate's job here).
            let page = try await browser.open(authorizeURI(s.h, scope: "files.write"))
            #expect(page.status == .ok, "a scope not approved before: the consent page")
            #expect(page.text.contains("<code>files.write</code> <strong class=\"new-scope\">(new)</strong>"))
            #expect(!page.text.contains("<code>files.read</code> <strong"), "files.read is not asked again")
            #expect(page.text.contains("Already granted"))
            #expect(page.text.contains("<ul class=\"granted-scopes\"><li><code>files.read</code></li></ul>"))
            let approved = try await browser.submitConsent(of: page)
            let second = try #require(approved.header("Location"))
            #expect(Form.query(second)["scope"] == "openid offline_access files.read files.write", "the upstream is asked for the union")
            let secondTokens = try await exchange(client, s, code: try FlowBrowser.code(of: try await browser.callback(try await browser.signInUpstream(second, as: "ann"))))
            #expect(secondTokens["scope"] as? String == "files.read files.write")

            let after = try await s.h.tollgate.admin.grants(GrantQuery())
            #expect(after.items.count == 1, "the same grant, extended")
            let extended = try await s.h.grant(grant.id)
            #expect(extended.scopes == ["files.read", "files.write"])
            #expect(extended.upstream.scope == "openid offline_access files.read files.write", "its upstream credential was replaced")
            let events = try await s.h.tollgate.admin.audit(grantID: grant.id).filter { $0.action == "grant.extend" }
            #expect(events.count == 1)
            #expect(events.first?.detail.contains("scopes files.read → files.read files.write") == true, "\(events.first?.detail ?? "")")

            let newToken = try #require(secondTokens["access_token"] as? String)
            #expect(try await call(client, newToken, "tools/call", name: "write_file").status == .ok)
            #expect(backend.count == 1)

            // Another user of the same client gets a grant of their own.
            var other = FlowBrowser(s, client)
            let third = try await other.startAuthorization(authorizeURI(s.h, scope: "files.read files.write"))
            _ = try await exchange(client, s, code: try FlowBrowser.code(of: try await other.callback(try await other.signInUpstream(third, as: "bob"))))
            #expect(try await s.h.tollgate.admin.grants(GrantQuery()).items.count == 2)
        }
    }
}

/// The body limit of the gateway's scope check, as the tests see it (the type itself is internal).
enum GatewayScopeCheckLimit {
    static let bytes = 1 << 20
}
