import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
import TollgateServer
import TollgateTestSupport

@Suite("OAuth endpoints over HTTP")
struct OAuthEndpointTests {
    static let verifier = "verifier-" + String(repeating: "z", count: 40)

    func authorizeURI(_ h: Harness, _ change: (inout [String: String]) -> Void = { _ in }) -> String {
        var params = ["response_type": "code", "client_id": h.client.client.id, "redirect_uri": Harness.redirectURI, "state": "s-1",
                      "code_challenge": TokenGenerator.s256Challenge(of: Self.verifier), "code_challenge_method": "S256",
                      "scope": "files.read offline_access"]
        change(&params)
        return "/oauth/files/authorize?" + FormEncoding.encode(params.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    @Test func wellKnownDocumentsAreTheCoresBytes() async throws {
        try await ServerHarness.with { s in
            let urls = PublicURLs(base: ServerHarness.base)
            try await s.test { client in
                let prm = try await client.execute(uri: "/.well-known/oauth-protected-resource/mcp/files", method: .get)
                #expect(prm.status == .ok)
                #expect(prm.header("Content-Type") == "application/json")
                #expect(Data(buffer: prm.body) == (try await s.h.tollgate.admin.wellKnown(serverSlug: "files", .protectedResource, urls: urls)))
                let asm = try await client.execute(uri: "/.well-known/oauth-authorization-server/oauth/files", method: .get)
                #expect(Data(buffer: asm.body) == (try await s.h.tollgate.admin.wellKnown(serverSlug: "files", .authorizationServer, urls: urls)))
                #expect(asm.json["issuer"] as? String == (prm.json["authorization_servers"] as? [String])?.first)
                let missing = try await client.execute(uri: "/.well-known/oauth-authorization-server/oauth/nope", method: .get)
                #expect(missing.status == .notFound)
            }
        }
    }

    @Test func dynamicRegistration() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                let ok = try await client.register(#"{"redirect_uris":["http://127.0.0.1:4000/cb"],"client_name":"MCP Inspector","grant_types":["authorization_code","refresh_token"],"response_types":["code"],"application_type":"native"}"#)
                #expect(ok.status == .created)
                #expect((ok.json["client_id"] as? String)?.hasPrefix("tgc_") == true)
                #expect((ok.json["client_secret"] as? String)?.hasPrefix("tg_cs_") == true, "default method is client_secret_basic")
                #expect(ok.json["client_secret_expires_at"] as? Int == 0)
                #expect(ok.json["client_id_issued_at"] is Int)
                #expect(ok.header("Cache-Control") == "no-store")
                let publicClient = try await client.register(#"{"redirect_uris":["http://localhost:4000/cb"],"token_endpoint_auth_method":"none"}"#)
                #expect(publicClient.status == .created)
                #expect(publicClient.json["client_secret"] == nil)
                let cases: [(String, String)] = [
                    ("not json", "invalid_client_metadata"),
                    ("[1,2]", "invalid_client_metadata"),
                    (#"{"client_name":"x"}"#, "invalid_redirect_uri"),
                    (#"{"redirect_uris":["http://evil.example/cb"]}"#, "invalid_redirect_uri"),
                    (#"{"redirect_uris":[42]}"#, "invalid_redirect_uri"),
                    (#"{"redirect_uris":["https://ok.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}"#, "invalid_client_metadata"),
                    (#"{"redirect_uris":["https://ok.example/cb"],"response_types":["token"]}"#, "invalid_client_metadata"),
                    (#"{"redirect_uris":["https://ok.example/cb"],"grant_types":["password"]}"#, "invalid_client_metadata"),
                ]
                for (body, code) in cases {
                    let r = try await client.register(body)
                    #expect(r.status == .badRequest, "\(body)")
                    #expect(r.json["error"] as? String == code, "\(body): \(r.text)")
                }
                let huge = try await client.register(#"{"redirect_uris":["https://ok.example/cb"],"client_name":""# + String(repeating: "a", count: 100_000) + #""}"#)
                #expect(huge.status == .badRequest)
                let unknownServer = try await client.register(#"{"redirect_uris":["https://ok.example/cb"]}"#, slug: "nope")
                #expect(unknownServer.status == .badRequest)
                #expect(!unknownServer.text.contains("Swift"))
            }
        }
    }

    /// Issue 20 item 3 (open redirector, RFC 9700 §4.11.1). Before the fix, every error after the client check
    /// answered 302 to the redirect URI of any client a stranger had registered; mutation: making
    /// ``Client/redirectsErrorsAutomatically`` true for every client fails the dynamic-client half.
    @Test func authorizeErrorsAreRedirectedOnlyForATrustedClientAndRedirectURI() async throws {
        try await ServerHarness.with { s in
            let admin = try await s.h.tollgate.admin.registerClient(serverSlug: "files", ClientRegistration(
                name: "Vetted IDE", redirectURIs: [Harness.redirectURI]))
            try await s.live { client in
                for bad in [authorizeURI(s.h) { $0["client_id"] = "tgc_unknown" }, authorizeURI(s.h) { $0["redirect_uri"] = "https://evil.example/cb" },
                            authorizeURI(s.h) { $0.removeValue(forKey: "client_id") }, authorizeURI(s.h) + "&state=again"] {
                    let r = try await client.execute(uri: bad, method: .get)
                    #expect(r.status == .badRequest, "\(bad)")
                    #expect(r.header("Location") == nil, "never an open redirect: \(bad)")
                    #expect(r.header("Content-Type")?.hasPrefix("text/html") == true)
                }
                let changes: [((inout [String: String]) -> Void, String)] = [
                    ({ (p: inout [String: String]) in p.removeValue(forKey: "code_challenge") }, "invalid_request"),
                    ({ (p: inout [String: String]) in p["code_challenge_method"] = "plain" }, "invalid_request"),
                    ({ (p: inout [String: String]) in p["response_type"] = "token" }, "unsupported_response_type"),
                    ({ (p: inout [String: String]) in p["scope"] = "root" }, "invalid_scope"),
                    ({ (p: inout [String: String]) in p["resource"] = "https://elsewhere.example/mcp/x" }, "invalid_target"),
                ]
                for (change, code) in changes {
                    // A dynamically registered client (anyone can make one): a page, its link left to the user.
                    let page = try await client.execute(uri: authorizeURI(s.h, change), method: .get)
                    #expect(page.status == .badRequest)
                    #expect(page.header("Location") == nil, "no automatic redirect to a stranger's redirect URI")
                    #expect(page.text.contains("<code>\(code)</code>"))
                    #expect(page.text.contains("127.0.0.1"), "the page names the redirect URI's host")
                    #expect(page.text.contains("href=\"" + Harness.redirectURI + "?"), "the user may follow a link back")
                    // A client an admin registered: its redirect URIs are trusted, errors go back automatically.
                    let r = try await client.execute(uri: authorizeURI(s.h) { change(&$0); $0["client_id"] = admin.client.id }, method: .get)
                    #expect(r.status == .found)
                    let location = try #require(r.header("Location"))
                    #expect(location.hasPrefix(Harness.redirectURI + "?"))
                    let q = Form.query(location)
                    #expect(q["error"] == code)
                    #expect(q["state"] == "s-1")
                    #expect(q["iss"] == ServerHarness.base + "/oauth/files")
                    #expect(q["error_description"] != nil)
                }
            }
        }
    }

    /// Walks authorize → consent → upstream → callback in one browser; returns the code and the browser's cookies.
    func authorize(_ s: ServerHarness, _ client: any TestClientProtocol, jar: CookieJar = CookieJar()) async throws -> (code: String, jar: CookieJar) {
        var browser = FlowBrowser(s, client, jar: jar)
        let page = try await browser.open(authorizeURI(s.h))
        var upstreamURL: String
        if page.status == .ok {
            #expect(page.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
            #expect(page.text.contains("Test Client"))
            #expect(page.text.contains("127.0.0.1"))
            #expect(page.text.contains("files.read"))
            let posted = try await browser.submitConsent(of: page)
            #expect(posted.status == .found)
            upstreamURL = try #require(posted.header("Location"))
        } else {
            #expect(page.status == .found)
            upstreamURL = try #require(page.header("Location"))
        }
        #expect(upstreamURL.hasPrefix(s.h.devURL + "/authorize?"))
        #expect(Form.query(upstreamURL)["prompt"] == "consent")
        // The browser at the dev upstream (auto-approves) and back to the callback.
        let done = try await browser.callback(try await browser.signInUpstream(upstreamURL))
        #expect(done.status == .found)
        let final = try #require(done.header("Location"))
        let q = Form.query(final)
        #expect(q["state"] == "s-1")
        #expect(q["iss"] == s.publicURL + "/oauth/files")
        return (try #require(q["code"]), browser.jar)
    }

    @Test func consentThenCodeThenTokens() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                let (code, jar) = try await authorize(s, client)
                let token = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Harness.redirectURI),
                    ("code_verifier", Self.verifier), ("client_id", s.h.client.client.id)]))
                #expect(token.status == .ok)
                #expect(token.header("Cache-Control") == "no-store")
                #expect(token.json["token_type"] as? String == "Bearer")
                #expect(token.json["expires_in"] as? Int == 3600)
                let refresh = try #require(token.json["refresh_token"] as? String)
                let refreshed = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                    ("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", s.h.client.client.id)]))
                #expect(refreshed.status == .ok)
                #expect(refreshed.json["refresh_token"] as? String != refresh)
                // The approval is remembered: the next authorization skips the consent page.
                let again = try await client.execute(uri: authorizeURI(s.h), method: .get, headers: jar.headers)
                #expect(again.status == .found)
                #expect(again.header("Location")?.hasPrefix(s.h.devURL) == true)
                let replay = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Harness.redirectURI),
                    ("code_verifier", Self.verifier), ("client_id", s.h.client.client.id)]))
                #expect(replay.status == .badRequest)
                #expect(replay.json["error"] as? String == "invalid_grant")
            }
        }
    }

    @Test func consentRejectsForgedOrStaleSubmissions() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                let page = try await client.execute(uri: authorizeURI(s.h), method: .get)
                let fields = Dictionary(page.text.matches(of: /name="(transaction|csrf_token)" value="([^"]*)"/).map { (String($0.1), String($0.2)) },
                                        uniquingKeysWith: { a, _ in a })
                let browser = try #require(page.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
                func post(_ pairs: [(String, String)], cookie: String?) async throws -> TestResponse {
                    var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
                    if let cookie { headers[.cookie] = cookie }
                    return try await client.execute(uri: "/oauth/files/consent", method: .post, headers: headers, body: Form.body(pairs))
                }
                let tx = fields["transaction"]!, csrf = fields["csrf_token"]!
                #expect(try await post([("transaction", tx), ("csrf_token", csrf), ("decision", "approve")], cookie: nil).status == .forbidden)
                #expect(try await post([("transaction", tx), ("csrf_token", csrf), ("decision", "approve")], cookie: "tg_browser=other").status == .forbidden)
                #expect(try await post([("transaction", tx), ("csrf_token", "x" + csrf), ("decision", "approve")], cookie: browser).status == .forbidden)
                #expect(try await post([("transaction", "A" + tx), ("csrf_token", csrf), ("decision", "approve")], cookie: browser).status == .badRequest)
                let denied = try await post([("transaction", tx), ("csrf_token", csrf), ("decision", "deny")], cookie: browser)
                #expect(denied.status == .found)
                let q = Form.query(try #require(denied.header("Location")))
                #expect(q["error"] == "access_denied")
                #expect(q["state"] == "s-1")
                #expect(q["iss"] == ServerHarness.base + "/oauth/files")
            }
        }
    }

    @Test func callbackErrors() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                let unknown = try await client.execute(uri: "/oauth/files/callback?state=forged&code=x", method: .get)
                #expect(unknown.status == .badRequest)
                #expect(unknown.header("Location") == nil)
                // An upstream error is relayed to the client with its state and our iss.
                let validated = try await s.h.tollgate.tokens.validateAuthorization(serverSlug: "files", AuthorizationRequest(
                    responseType: "code", clientID: s.h.client.client.id, redirectURI: Harness.redirectURI, scope: nil, state: "s-9",
                    codeChallenge: TokenGenerator.s256Challenge(of: Self.verifier), codeChallengeMethod: "S256", resource: nil),
                    urls: PublicURLs(base: ServerHarness.base))
                let binding = TokenGenerator.make(prefix: "")
                let started = try await s.h.tollgate.tokens.startAuthorization(validated, urls: PublicURLs(base: ServerHarness.base), browserBinding: binding)
                let state = try #require(Form.query(started.upstreamAuthorizationURL)["state"])
                let relayed = try await client.execute(uri: "/oauth/files/callback?" + FormEncoding.encode([("state", state), ("error", "access_denied")]),
                                                       method: .get, headers: [.cookie: "tg_binding=\(binding.value)"])
                #expect(relayed.status == .found)
                let q = Form.query(try #require(relayed.header("Location")))
                #expect(q["error"] == "access_denied")
                #expect(q["state"] == "s-9")
                #expect(q["iss"] == ServerHarness.base + "/oauth/files")
            }
        }
    }

    @Test func tokenEndpointErrorsAreRFCShapedAndNeverCached() async throws {
        try await ServerHarness.with(confidentialClient: true) { s in
            try await s.test { client in
                let id = s.h.client.client.id, secret = s.h.client.secret!.value
                func token(_ pairs: [(String, String)], headers: HTTPFields = Form.headers) async throws -> TestResponse {
                    try await client.execute(uri: "/oauth/files/token", method: .post, headers: headers, body: Form.body(pairs))
                }
                var basic = Form.headers
                basic[.authorization] = Form.basic(id, secret)
                var wrongBasic = Form.headers
                wrongBasic[.authorization] = Form.basic(id, "wrong")
                let cases: [([(String, String)], HTTPFields, Int, String)] = [
                    ([("grant_type", "authorization_code")], [.contentType: "application/json"], 400, "invalid_request"),
                    ([("code", "x")], basic, 400, "invalid_request"),
                    ([("grant_type", "password")], basic, 400, "unsupported_grant_type"),
                    ([("grant_type", "authorization_code"), ("code", "nope"), ("redirect_uri", Harness.redirectURI), ("code_verifier", Self.verifier)], basic, 400, "invalid_grant"),
                    ([("grant_type", "refresh_token"), ("refresh_token", "tg_rt_nope")], basic, 400, "invalid_grant"),
                    ([("grant_type", "refresh_token")], basic, 400, "invalid_request"),
                    ([("grant_type", "refresh_token"), ("refresh_token", "x")], wrongBasic, 401, "invalid_client"),
                    ([("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", id)], Form.headers, 401, "invalid_client"),
                    ([("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", id), ("client_secret", secret)], basic, 400, "invalid_request"),
                    ([("grant_type", "refresh_token"), ("grant_type", "refresh_token")], basic, 400, "invalid_request"),
                ]
                for (pairs, headers, status, code) in cases {
                    let r = try await token(pairs, headers: headers)
                    #expect(r.status.code == status, "\(pairs): \(r.text)")
                    #expect(r.json["error"] as? String == code, "\(pairs): \(r.text)")
                    #expect(r.header("Cache-Control") == "no-store")
                    #expect(r.json["error_description"] is String)
                }
                let challenged = try await token([("grant_type", "refresh_token"), ("refresh_token", "x")], headers: wrongBasic)
                #expect(challenged.header("WWW-Authenticate")?.hasPrefix("Basic") == true)
                let huge = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers,
                                                    body: ByteBuffer(string: "grant_type=refresh_token&refresh_token=" + String(repeating: "a", count: 2 << 20)))
                #expect(huge.status == .badRequest)
                #expect(huge.json["error"] as? String == "invalid_request")
                let post = try await token([("grant_type", "authorization_code"), ("code", "nope"), ("redirect_uri", Harness.redirectURI),
                                            ("code_verifier", Self.verifier), ("client_id", id), ("client_secret", secret)])
                #expect(post.json["error"] as? String == "invalid_grant", "client_secret_post authenticates")
            }
        }
    }

    @Test func revocationAndIntrospection() async throws {
        try await ServerHarness.with(confidentialClient: true) { s in
            let (grantID, pair) = try await s.h.makeGrant()
            let issued = try await s.h.tollgate.admin.addIntrospectionCredential(serverSlug: "files", name: "resource server")
            try await s.test { client in
                var basic = Form.headers
                basic[.authorization] = Form.basic(s.h.client.client.id, s.h.client.secret!.value)
                var resourceServer = Form.headers
                resourceServer[.authorization] = Form.basic(issued.credential.id, issued.secret.value)
                let active = try await client.execute(uri: "/oauth/files/introspect", method: .post, headers: resourceServer,
                                                      body: Form.body([("token", pair.accessToken.value)]))
                #expect(active.status == .ok)
                #expect(active.json["active"] as? Bool == true)
                #expect(active.json["sub"] as? String == "alice")
                #expect(active.json["aud"] as? String == ServerHarness.base + "/mcp/files")
                let posted = try await client.execute(uri: "/oauth/files/introspect", method: .post, headers: Form.headers, body: Form.body([
                    ("token", pair.accessToken.value), ("client_id", issued.credential.id), ("client_secret", issued.secret.value)]))
                #expect(posted.json["active"] as? Bool == true, "client_secret_post authenticates too")
                // The registered client (confidential, right secret), or anyone without a credential: 401 with a Basic challenge.
                let viaClient = try await client.execute(uri: "/oauth/files/introspect", method: .post, headers: basic,
                                                         body: Form.body([("token", pair.accessToken.value)]))
                let viaClientPost = try await client.execute(uri: "/oauth/files/introspect", method: .post, headers: Form.headers, body: Form.body([
                    ("token", pair.accessToken.value), ("client_id", s.h.client.client.id), ("client_secret", s.h.client.secret!.value)]))
                let anonymous = try await client.execute(uri: "/oauth/files/introspect", method: .post, headers: Form.headers,
                                                         body: Form.body([("token", pair.accessToken.value), ("client_id", s.h.client.client.id)]))
                for refused in [viaClient, viaClientPost, anonymous] {
                    #expect(refused.status == .unauthorized)
                    #expect(refused.json["error"] as? String == "invalid_client")
                    #expect(refused.header("WWW-Authenticate")?.hasPrefix("Basic") == true)
                    #expect(refused.json["active"] == nil && !refused.text.contains("alice"))
                }
                let unknown = try await client.execute(uri: "/oauth/files/revoke", method: .post, headers: basic, body: Form.body([("token", "tg_rt_unknown")]))
                #expect(unknown.status == .ok)
                let missing = try await client.execute(uri: "/oauth/files/revoke", method: .post, headers: basic, body: Form.body([]))
                #expect(missing.json["error"] as? String == "invalid_request")
                let revoked = try await client.execute(uri: "/oauth/files/revoke", method: .post, headers: basic,
                                                       body: Form.body([("token", pair.refreshToken.value), ("token_type_hint", "refresh_token")]))
                #expect(revoked.status == .ok)
                #expect(try await s.h.grant(grantID).state == .revoked)
                let inactive = try await client.execute(uri: "/oauth/files/introspect", method: .post, headers: resourceServer,
                                                        body: Form.body([("token", pair.accessToken.value)]))
                #expect(inactive.json["active"] as? Bool == false)
                #expect(inactive.json.count == 1)
            }
        }
    }

    @Test func healthAndMetrics() async throws {
        try await ServerHarness.with { s in
            try await s.test { client in
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
                _ = try await client.execute(uri: "/oauth/files/token", method: .post, headers: Form.headers, body: Form.body([("grant_type", "password"), ("client_id", "x")]))
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.status == .ok)
                #expect(metrics.text.contains("tollgate_http_requests_total"))
                #expect(metrics.text.contains("tollgate_token_grants_total"))
            }
        }
    }
}

/// Follows one hop of a browser at the dev upstream (a real socket: the dev upstream is live).
struct HTTPClientShim {
    func location(of url: String) async throws -> String {
        let client = AsyncHTTPClient.HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        defer { Task { try? await client.shutdown() } }
        let response = try await client.execute(AsyncHTTPClient.HTTPClientRequest(url: url), timeout: .seconds(5))
        guard let location = response.headers.first(name: "location") else { throw ShimError() }
        return location
    }
    struct ShimError: Error {}
}

import AsyncHTTPClient
