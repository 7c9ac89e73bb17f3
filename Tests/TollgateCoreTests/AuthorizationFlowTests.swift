import AsyncHTTPClient
import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

@Suite("authorization and code exchange")
struct AuthorizationFlowTests {
    static let verifier = "verifier-" + String(repeating: "x", count: 40)

    func request(_ h: Harness, _ change: (inout AuthorizationRequest) -> Void = { _ in }) -> AuthorizationRequest {
        var r = AuthorizationRequest(responseType: "code", clientID: h.client.client.id, redirectURI: Harness.redirectURI,
                                     scope: "files.read offline_access", state: "client-state",
                                     codeChallenge: TokenGenerator.s256Challenge(of: Self.verifier), codeChallengeMethod: "S256",
                                     resource: h.urls.resource("files"))
        change(&r)
        return r
    }

    func query(_ url: String) -> [String: String] {
        let q = URLComponents(string: url)?.percentEncodedQuery ?? ""
        return Dictionary(FormEncoding.decode(q), uniquingKeysWith: { a, _ in a })
    }

    @Test func theWholeFlowThroughTheDevUpstream() async throws {
        try await Harness.with { h in
            let validated = try await h.tollgate.tokens.validateAuthorization(serverSlug: "files", request(h), urls: h.urls)
            let browser = TokenGenerator.make(prefix: "")
            let started = try await h.tollgate.tokens.startAuthorization(validated, urls: h.urls, browserBinding: browser)
            let upstreamQuery = query(started.upstreamAuthorizationURL)
            #expect(started.upstreamAuthorizationURL.hasPrefix(h.devURL + "/authorize?"))
            #expect(upstreamQuery["code_challenge_method"] == "S256")
            #expect(upstreamQuery["prompt"] == "consent")
            #expect(upstreamQuery["scope"] == "openid offline_access")
            #expect(upstreamQuery["redirect_uri"] == h.urls.callback("files"))
            // The user's browser at the upstream: auto-approved, 302 back to Tollgate's callback.
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
            var req = HTTPClientRequest(url: started.upstreamAuthorizationURL + "&login_hint=carol")
            req.method = .GET
            let response = try await http.execute(req, timeout: .seconds(5))
            try await http.shutdown()
            #expect(response.status.code == 302)
            let location = try #require(response.headers.first(name: "location"))
            let back = query(location)
            let completed = try await h.tollgate.tokens.completeAuthorization(state: back["state"], browserBinding: browser, callbackSlug: "files", upstreamCode: back["code"],
                                                                               upstreamError: nil, upstreamErrorDescription: nil, urls: h.urls)
            #expect(completed.redirectURL.hasPrefix(Harness.redirectURI + "?"))
            let toClient = query(completed.redirectURL)
            #expect(toClient["state"] == "client-state")
            #expect(toClient["iss"] == h.urls.issuer("files"))
            let code = try #require(toClient["code"])
            #expect(code.hasPrefix("tg_code_"))
            let grant = try await h.grant(try #require(completed.grantID))
            #expect(grant.subject == "carol")
            #expect(grant.upstream.hasRefreshToken)
            let pair = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: code,
                                                          redirectURI: Harness.redirectURI, codeVerifier: Self.verifier)
            #expect(pair.expiresIn == 3600)
            let access = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            #expect(access.grant.id == grant.id)
            // The state is single use.
            await #expect(throws: AuthorizationFailure.self) {
                _ = try await h.tollgate.tokens.completeAuthorization(state: back["state"], browserBinding: browser, callbackSlug: "files", upstreamCode: back["code"],
                                                                      upstreamError: nil, upstreamErrorDescription: nil, urls: h.urls)
            }
        }
    }

    @Test func anUpstreamErrorIsRelayedToTheClient() async throws {
        try await Harness.with { h in
            let browser = TokenGenerator.make(prefix: "")
            let started = try await h.tollgate.tokens.startAuthorization(
                try h.tollgate.tokens.validateAuthorization(serverSlug: "files", request(h), urls: h.urls), urls: h.urls, browserBinding: browser)
            let state = try #require(query(started.upstreamAuthorizationURL)["state"])
            let completed = try await h.tollgate.tokens.completeAuthorization(state: state, browserBinding: browser, callbackSlug: "files", upstreamCode: nil, upstreamError: "access_denied",
                                                                               upstreamErrorDescription: "user said no\r\nX-Injected: 1", urls: h.urls)
            let q = query(completed.redirectURL)
            #expect(q["error"] == "access_denied")
            #expect(q["state"] == "client-state")
            #expect(q["iss"] == h.urls.issuer("files"))
            #expect(q["error_description"]?.contains("\n") == false)
            #expect(completed.grantID == nil)
        }
    }

    @Test func clientAndRedirectErrorsAreShownNotRedirected() async throws {
        try await Harness.with { h in
            for bad in [request(h) { $0.clientID = "nope" }, request(h) { $0.clientID = nil },
                        request(h) { $0.redirectURI = "https://evil.example/cb" }] {
                await #expect {
                    _ = try await h.tollgate.tokens.validateAuthorization(serverSlug: "files", bad, urls: h.urls)
                } throws: { error in
                    if case .showPage = error as? AuthorizationFailure { return true } else { return false }
                }
            }
            let redirected: [(AuthorizationRequest, OAuthError.Code)] = [
                (request(h) { $0.responseType = "token" }, .unsupportedResponseType),
                (request(h) { $0.codeChallenge = nil }, .invalidRequest),
                (request(h) { $0.codeChallengeMethod = "plain" }, .invalidRequest),
                (request(h) { $0.scope = "admin" }, .invalidScope),
                (request(h) { $0.resource = "https://other.example/mcp/x" }, .invalidTarget),
            ]
            for (bad, code) in redirected {
                await #expect {
                    _ = try await h.tollgate.tokens.validateAuthorization(serverSlug: "files", bad, urls: h.urls)
                } throws: { error in
                    // The harness client registered itself: the error is offered, not redirected (RFC 9700 §4.11.1).
                    if case .offerRedirect(let e, let uri, let state) = error as? AuthorizationFailure {
                        return e.code == code && uri == Harness.redirectURI && state == "client-state"
                    }
                    return false
                }
            }
        }
    }

    @Test func aReplayedCodeRevokesWhatItIssued() async throws {
        try await Harness.with { h in
            let (grantID, pair) = try await makeCode(h)
            _ = pair
            let code = try #require(pair.code)
            let first = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: code,
                                                           redirectURI: Harness.redirectURI, codeVerifier: Self.verifier)
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: h.credentials, code: code,
                                                       redirectURI: Harness.redirectURI, codeVerifier: Self.verifier)
            } == .invalidGrant)
            await #expect(try h.grant(grantID).state == .revoked)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: first.accessToken.value, serverSlug: "files") } == .invalidToken)
        }
    }

    /// A grant with an unexchanged code.
    func makeCode(_ h: Harness) async throws -> (Int64, (code: String?, Void)) {
        let pending = PendingAuthorization(stateHash: Data(), serverID: h.server.id, clientID: h.client.client.id, redirectURI: Harness.redirectURI,
                                           clientState: nil, codeChallenge: TokenGenerator.s256Challenge(of: Self.verifier), scopes: ["files.read"],
                                           resource: h.urls.resource("files"), sealedUpstreamVerifier: Data(), createdAt: h.clock.now(),
                                           expiresAt: h.clock.now().addingTimeInterval(600))
        let issued = await h.dev.state.issueTokens(subject: "dave")
        let (code, grantID) = try await h.tollgate.tokens.completeAuthorization(
            pending, server: h.server, upstreamTokens: UpstreamTokenResponse(accessToken: Secret(issued.access), refreshToken: issued.refresh.map(Secret.init), expiresIn: 3600),
            subject: "dave")
        return (grantID, (code.value, ()))
    }

    @Test func theCodeIsBoundToVerifierRedirectClientAndLifetime() async throws {
        try await Harness.with { h in
            let other = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(name: "Other", redirectURIs: [Harness.redirectURI]))
            let cases: [(ClientCredentials, String?, String?, OAuthError.Code, TimeInterval)] = [
                (h.credentials, Harness.redirectURI, "wrong-verifier-" + String(repeating: "y", count: 40), .invalidGrant, 0),
                (h.credentials, Harness.redirectURI, "short", .invalidGrant, 0),
                (h.credentials, "http://127.0.0.1:1/other", Self.verifier, .invalidGrant, 0),
                (h.credentials, nil, Self.verifier, .invalidGrant, 0),
                (ClientCredentials(clientID: other.client.id, secret: nil, method: .none), Harness.redirectURI, Self.verifier, .invalidGrant, 0),
                (ClientCredentials(clientID: "ghost", secret: nil, method: .none), Harness.redirectURI, Self.verifier, .invalidClient, 0),
                (h.credentials, Harness.redirectURI, Self.verifier, .invalidGrant, 61),
                (h.credentials, Harness.redirectURI, nil, .invalidRequest, 0),
            ]
            for (creds, redirect, verifier, expected, wait) in cases {
                let (_, made) = try await makeCode(h)
                h.clock.advance(by: wait)
                #expect(await oauthError {
                    _ = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: creds, code: made.code,
                                                           redirectURI: redirect, codeVerifier: verifier)
                } == expected)
            }
        }
    }

    @Test func confidentialClientsMustAuthenticate() async throws {
        try await Harness.with(confidentialClient: true) { h in
            let (_, pair) = try await h.makeGrant()
            let wrong = ClientCredentials(clientID: h.client.client.id, secret: Secret("tg_cs_wrong"), method: .clientSecretBasic)
            let missing = ClientCredentials(clientID: h.client.client.id, secret: nil, method: .none)
            for creds in [wrong, missing] {
                #expect(await oauthError {
                    _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: creds, refreshToken: pair.refreshToken.value, scope: nil)
                } == .invalidClient)
            }
            _ = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: pair.refreshToken.value, scope: nil)
        }
    }

    @Test func accessTokensAreAudienceBound() async throws {
        try await Harness.with { h in
            let (_, pair) = try await h.makeGrant()
            _ = try await h.tollgate.admin.addServer(NewServer(slug: "mail", upstreamMCPURL: "http://127.0.0.1:9/mcp"))
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "mail") } == .invalidToken)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: nil, serverSlug: "files") } == .invalidToken)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: pair.refreshToken.value, serverSlug: "files") } == .invalidToken)
        }
    }

    @Test func revocationFollowsRFC7009() async throws {
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant()
            try await h.tollgate.tokens.revoke(serverSlug: "files", credentials: h.credentials, token: "tg_at_unknown")
            try await h.tollgate.tokens.revoke(serverSlug: "files", credentials: h.credentials, token: pair.accessToken.value)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files") } == .invalidToken)
            await #expect(try h.grant(grantID).state == .active)
            let second = try await h.tollgate.tokens.refresh(serverSlug: "files", credentials: h.credentials, refreshToken: pair.refreshToken.value, scope: nil)
            try await h.tollgate.tokens.revoke(serverSlug: "files", credentials: h.credentials, token: second.refreshToken.value)
            await #expect(try h.grant(grantID).state == .revoked)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: second.accessToken.value, serverSlug: "files") } == .invalidToken)
        }
    }

    @Test func introspectionAnswersForAuthenticatedResourceServersOnly() async throws {
        try await Harness.with(confidentialClient: true) { h in
            let (_, pair) = try await h.makeGrant(subject: "erin")
            let issued = try await h.tollgate.admin.addIntrospectionCredential(serverSlug: "files", name: "resource server")
            let resourceServer = ClientCredentials(clientID: issued.credential.id, secret: issued.secret, method: .clientSecretBasic)
            let info = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: resourceServer, token: pair.accessToken.value, urls: h.urls)
            #expect(info.active)
            #expect(info.subject == "erin")
            #expect(info.clientID == h.client.client.id)
            #expect(info.audience == h.urls.resource("files"))
            #expect(info.scope == "files.read")
            await #expect(try h.tollgate.tokens.introspect(serverSlug: "files", credentials: resourceServer, token: "nope", urls: h.urls) == .inactive)
            for caller in [h.credentials, ClientCredentials(clientID: h.client.client.id, secret: nil, method: .none)] {
                #expect(await oauthError {
                    _ = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: caller, token: pair.accessToken.value, urls: h.urls)
                } == .invalidClient)
            }
            h.clock.advance(by: 3601)
            await #expect(try h.tollgate.tokens.introspect(serverSlug: "files", credentials: resourceServer, token: pair.accessToken.value, urls: h.urls) == .inactive)
        }
    }

    @Test func registrationRejectsBadMetadata() async throws {
        try await Harness.with { h in
            let bad: [(ClientRegistration, OAuthError.Code)] = [
                (ClientRegistration(name: "x", redirectURIs: []), .invalidRedirectURI),
                (ClientRegistration(name: "x", redirectURIs: ["http://evil.example/cb"]), .invalidRedirectURI),
                (ClientRegistration(name: "x", redirectURIs: ["https://ok.example/cb#frag"]), .invalidRedirectURI),
                (ClientRegistration(name: "x", redirectURIs: ["javascript:alert(1)"]), .invalidRedirectURI),
                (ClientRegistration(name: "x", redirectURIs: ["https://ok.example/cb"], grantTypes: ["password"]), .invalidClientMetadata),
            ]
            for (registration, code) in bad {
                #expect(await oauthError { _ = try await h.tollgate.tokens.registerClient(serverSlug: "files", registration) } == code)
            }
            let confidential = try await h.tollgate.tokens.registerClient(serverSlug: "files", ClientRegistration(
                name: "IDE", redirectURIs: ["https://ok.example/cb", "http://localhost:5173/cb", "com.example.app:/cb"], authMethod: .clientSecretPost))
            #expect(confidential.secret?.value.hasPrefix("tg_cs_") == true)
            await #expect(try h.tollgate.admin.client(id: confidential.client.id).isConfidential)
        }
    }
}
