import AsyncHTTPClient
import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

@Suite("redirect URI policy")
struct RedirectURIPolicyTests {
    static let accepted = [
        "https://ok.example/cb",
        "https://ok.example:8443/cb?tenant=a&x=%2F",
        "HTTPS://ok.example/cb",
        "https://[2001:db8::1]/cb",
        "http://127.0.0.1/cb",
        "http://127.0.0.1:5000/cb",
        "http://[::1]:5000/callback",
        "http://localhost:5173/cb",
        "http://localhost/",
        "com.example.app:/cb",
        "com.example.app:/oauth2redirect/example-provider",
        "vscode://vscode.github-authentication/did-authenticate",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
        "myapp://callback",
        "my-app+dev.v2:///cb",
    ]

    static let refused = [
        "",
        "ws://ok.example/cb",
        "wss://ok.example/cb",
        "gopher://ok.example/cb",
        "ftp://ok.example/cb",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:text/html,hi",
        "view-source:https://ok.example/",
        "x:",
        "x:/cb",
        "c:/windows/system32",
        "1app://cb",
        "com.example.app:",
        "com.example.app:/",
        "myapp://",
        "https://ok.example/cb\r\nSet-Cookie: a=b",
        "https://ok.example/cb\n",
        "https://ok.example/c\u{0}b",
        "https://ok.example/\u{1B}[31mred",
        "https://ok.example/a b",
        "https://ok.example/cb\t",
        "https://ok.example/cb#fragment",
        "https://ok.example/cb#",
        "https://ok.\u{E9}xample/cb",
        "https://ok.example/<script>",
        "https://ok.example/%zz",
        "https://ok.example/%4",
        "https:///cb",
        "https:cb",
        "https://user:password@ok.example/cb",
        "https://ok.example:99999/cb",
        "https://ok.example:/cb",
        "http://evil.example/cb",
        "http://127.0.0.1.evil.example/cb",
        "http://127.0.0.1@evil.example/cb",
        "http://127.0.0.1:abc/cb",
        "http://LOCALHOST.evil/cb",
        "https://ok.example/" + String(repeating: "a", count: RedirectURIPolicy.maximumLength),
    ]

    @Test(arguments: accepted) func accepts(_ uri: String) {
        #expect(RedirectURIPolicy.refusal(uri) == nil, "\(uri.debugDescription) should be accepted")
    }

    @Test(arguments: refused) func refuses(_ uri: String) {
        #expect(RedirectURIPolicy.refusal(uri) != nil, "\(uri.debugDescription) should be refused")
    }

    @Test func registrationAppliesThePolicyAndTheCountCap() async throws {
        try await Harness.with { h in
            for uri in Self.refused {
                let code = await oauthError {
                    _ = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "x", redirectURIs: [uri]))
                }
                #expect(code == .invalidRedirectURI, "\(uri.debugDescription)")
            }
            let many = (0...RedirectURIPolicy.maximumCount).map { "https://ok.example/cb\($0)" }
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "x", redirectURIs: many))
            } == .invalidRedirectURI)
            let registered = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(
                name: "all kinds", redirectURIs: Array(Self.accepted.prefix(RedirectURIPolicy.maximumCount))))
            #expect(registered.client.redirectURIs.count == RedirectURIPolicy.maximumCount)
        }
    }

    /// (registered, presented, matches)
    static let matching: [([String], String, String?)] = [
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:5000/cb", "http://127.0.0.1:5000/cb"),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:61234/cb", "http://127.0.0.1:5000/cb"),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1/cb", "http://127.0.0.1:5000/cb"),
        (["http://127.0.0.1/cb"], "http://127.0.0.1:61234/cb", "http://127.0.0.1/cb"),
        (["http://[::1]:1/cb?a=1"], "http://[::1]:2/cb?a=1", "http://[::1]:1/cb?a=1"),
        (["https://ok.example/cb", "http://localhost/cb"], "http://localhost:9/cb", "http://localhost/cb"),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:61234/cb2", nil),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:61234/", nil),
        (["http://127.0.0.1:5000/cb"], "http://localhost:5000/cb", nil),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:61234/cb?a=1", nil),
        (["http://127.0.0.1:5000/cb?a=1"], "http://127.0.0.1:61234/cb", nil),
        (["http://127.0.0.1:5000/cb"], "https://127.0.0.1:61234/cb", nil),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:99999/cb", nil),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:61234/cb#x", nil),
        (["http://127.0.0.1:5000/cb"], "http://127.0.0.1:61234/cb\r\n", nil),
        (["http://127.0.0.1:5000/cb"], "http://user@127.0.0.1:61234/cb", nil),
        (["https://ok.example/cb"], "https://ok.example:443/cb", nil),
        (["com.example.app:/cb"], "com.example.app:/cb2", nil),
    ]

    @Test func loopbackRedirectURIsMatchOnAnyPortAndNothingElse() {
        for (registered, presented, expected) in Self.matching {
            #expect(RedirectURIPolicy.match(presented, registered: registered) == expected, "\(presented.debugDescription) against \(registered)")
        }
    }

    func query(_ url: String) -> [String: String] {
        Dictionary(FormEncoding.decode(URLComponents(string: url)?.percentEncodedQuery ?? ""), uniquingKeysWith: { a, _ in a })
    }

    /// Authorizes with `presented` as redirect URI through the dev upstream; returns where the user lands.
    func authorize(_ h: Harness, presented: String, verifier: String) async throws -> String {
        let validated = try await h.tollgate.tokens.validateAuthorization(serverSlug: "files", AuthorizationRequest(
            responseType: "code", clientID: h.client.client.id, redirectURI: presented, scope: "files.read", state: "st",
            codeChallenge: TokenGenerator.s256Challenge(of: verifier), codeChallengeMethod: "S256", resource: nil), urls: h.urls)
        #expect(validated.redirectURI == presented)
        let browser = Secret("browser-binding-of-this-test")
        let started = try await h.tollgate.tokens.startAuthorization(validated, urls: h.urls, browserBinding: browser)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(HTTPClientRequest(url: started.upstreamAuthorizationURL), timeout: .seconds(5))
            try await http.shutdown()
        } catch {
            try? await http.shutdown()
            throw error
        }
        let back = query(try #require(response.headers.first(name: "location")))
        let completed = try await h.tollgate.tokens.completeAuthorization(state: back["state"], browserBinding: browser, callbackSlug: "files", upstreamCode: back["code"], upstreamError: nil,
                                                                           upstreamErrorDescription: nil, urls: h.urls)
        return completed.redirectURL
    }

    @Test func aLoopbackClientMayPresentAnotherPortAndTheCodeIsBoundToIt() async throws {
        try await Harness.with { h in
            // Registered: http://127.0.0.1:33418/callback. Presented: the same on the port the app got today.
            let presented = "http://127.0.0.1:61234/callback"
            let verifier = String(repeating: "p", count: 43)
            let landing = try await authorize(h, presented: presented, verifier: verifier)
            #expect(landing.hasPrefix(presented + "?"))
            let code = try #require(query(landing)["code"])
            let pair = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: code,
                                                          redirectURI: presented, codeVerifier: verifier)
            #expect(pair.accessToken.value.hasPrefix("tg_at_"))

            // The code is bound to the URI presented, not to the registered one.
            let second = try #require(query(try await authorize(h, presented: presented, verifier: verifier))["code"])
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: second,
                                                       redirectURI: Harness.redirectURI, codeVerifier: verifier)
            } == .invalidGrant)

            // Only the port may change.
            for other in ["http://127.0.0.1:61234/other", "http://localhost:33418/callback", "http://127.0.0.1:61234/callback?x=1"] {
                await #expect(throws: AuthorizationFailure.self, "\(other)") {
                    _ = try await h.tollgate.tokens.validateAuthorization(serverSlug: "files", AuthorizationRequest(
                        responseType: "code", clientID: h.client.client.id, redirectURI: other, scope: nil, state: nil,
                        codeChallenge: TokenGenerator.s256Challenge(of: verifier), codeChallengeMethod: "S256", resource: nil), urls: h.urls)
                }
            }
        }
    }
}
