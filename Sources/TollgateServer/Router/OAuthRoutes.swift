import Foundation
import Hummingbird
import NIOCore
import TollgateCore

extension TollgateHTTPServer {
    func addOAuthRoutes(to router: Router<TollgateRequestContext>) {
        router.post("/oauth/:slug/register") { request, context in
            await self.register(request, slug(context), source: RateLimiter.sourceKey(context.remoteAddress))
        }
        router.get("/oauth/:slug/authorize") { request, context in
            await self.authorize(request, slug(context), source: RateLimiter.sourceKey(context.remoteAddress))
        }
        router.post("/oauth/:slug/consent") { request, context in
            await self.consent(request, slug(context), source: RateLimiter.sourceKey(context.remoteAddress))
        }
        router.get("/oauth/:slug/callback") { request, context in await self.callback(request, slug(context)) }
        router.post("/oauth/:slug/token") { request, context in await self.token(request, slug(context), note: context.accessNote) }
        router.post("/oauth/:slug/revoke") { request, context in await self.revoke(request, slug(context)) }
        router.post("/oauth/:slug/introspect") { request, context in await self.introspect(request, slug(context)) }
        @Sendable func slug(_ context: TollgateRequestContext) -> String { context.parameters.get("slug") ?? "" }
    }

    // MARK: Registration (RFC 7591)

    /// Registers a client if `source` (a ``RateLimiter/sourceKey(_:)``) and everyone together are within
    /// their registration limits; else 429 with `Retry-After`.
    func register(_ request: Request, _ slug: String, source: String) async -> Response {
        if case .limited(let retryAfter) = registrationLimiter.admit(source) {
            var response = Responses.rateLimited(retryAfter: retryAfter, "too many client registrations; retry after \(retryAfter) s")
            response.headers[.accessControlAllowOrigin] = "*"
            return response
        }
        do {
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: min(configuration.maxBodyBytes, configuration.maxRegistrationBytes))
            } catch {
                throw OAuthError(.invalidClientMetadata, "the client metadata is larger than \(configuration.maxRegistrationBytes) bytes")
            }
            guard let json = JSONValue.object(from: Data(buffer: body)) else {
                throw OAuthError(.invalidClientMetadata, "the body must be a JSON object")
            }
            guard case .array(let rawURIs)? = json["redirect_uris"] else {
                throw OAuthError(.invalidRedirectURI, "redirect_uris is required")
            }
            let uris = rawURIs.compactMap(\.stringValue)
            guard uris.count == rawURIs.count else { throw OAuthError(.invalidRedirectURI, "redirect_uris must be strings") }
            let methodName = json["token_endpoint_auth_method"]?.stringValue ?? ClientAuthMethod.clientSecretBasic.rawValue
            guard let method = ClientAuthMethod(rawValue: methodName) else {
                throw OAuthError(.invalidClientMetadata, "token_endpoint_auth_method '\(UpstreamErrorText.clip(methodName))' is not supported")
            }
            if let types = json["response_types"]?.arrayOfStrings, types != ["code"] {
                throw OAuthError(.invalidClientMetadata, "response_types must be [\"code\"]")
            }
            let grantTypes = json["grant_types"]?.arrayOfStrings ?? ["authorization_code", "refresh_token"]
            var applicationType: RedirectURIPolicy.ApplicationType?
            if let value = json["application_type"] {
                guard let text = value.stringValue, let type = RedirectURIPolicy.ApplicationType(rawValue: text) else {
                    throw OAuthError(.invalidClientMetadata, "application_type must be \"web\" or \"native\"")
                }
                applicationType = type
            }
            let registered = try await tollgate.tokens.registerClient(serverSlug: slug, ClientRegistration(
                name: json["client_name"]?.stringValue ?? "", redirectURIs: uris, authMethod: method, grantTypes: grantTypes,
                applicationType: applicationType))
            var answer: [String: Any] = [
                "client_id": registered.client.id,
                "client_id_issued_at": Int(registered.client.createdAt.timeIntervalSince1970),
                "client_name": registered.client.name,
                "redirect_uris": registered.client.redirectURIs,
                "grant_types": registered.client.grantTypes,
                "response_types": ["code"],
                "token_endpoint_auth_method": registered.client.authMethod.rawValue,
            ]
            if let applicationType { answer["application_type"] = applicationType.rawValue }
            if let secret = registered.secret {
                answer["client_secret"] = secret.value
                answer["client_secret_expires_at"] = 0
            }
            var response = Responses.json(answer, status: .created)
            response.headers[.accessControlAllowOrigin] = "*"
            return response
        } catch {
            return Responses.oauthError(internalError(error, "registration"))
        }
    }

    // MARK: Authorization and consent

    func authorizationRequest(_ q: [String: String?]) -> AuthorizationRequest {
        func value(_ name: String) -> String? { q[name] ?? nil }
        return AuthorizationRequest(responseType: value("response_type"), clientID: value("client_id"), redirectURI: value("redirect_uri"),
                                    scope: value("scope"), state: value("state"), codeChallenge: value("code_challenge"),
                                    codeChallengeMethod: value("code_challenge_method"), resource: value("resource"))
    }

    /// How fetches of client ID metadata documents for a request from `source` (a ``RateLimiter/sourceKey(_:)``) are
    /// limited and counted: first fetches of new documents under ``clientMetadataLimiter``, like registrations.
    func clientMetadataFetchPolicy(source: String) -> ClientMetadataFetchPolicy {
        ClientMetadataFetchPolicy(admitNewDocument: { [clientMetadataLimiter] in
            if case .limited(let retryAfter) = clientMetadataLimiter.admit(source) { return retryAfter }
            return nil
        }, observe: { [metrics] outcome in metrics.clientMetadataFetch(outcome) })
    }

    /// Where an authorization error goes: back to the (validated) client with `iss`, or onto a page (429 for a rate
    /// limit and 503 for a temporary refusal, both with `Retry-After`; else 400).
    func authorizationFailure(_ failure: Error, slug: String) -> Response {
        switch failure {
        case AuthorizationFailure.showPage(let error):
            switch error.code {
            case .tooManyRequests: return Responses.errorPage(error, status: .tooManyRequests)
            case .temporarilyUnavailable: return Responses.errorPage(error, status: .serviceUnavailable)
            default: return Responses.errorPage(error)
            }
        case AuthorizationFailure.redirect(let error, let uri, let state):
            return Responses.redirect(errorRedirectURL(error, to: uri, state: state, slug: slug))
        case AuthorizationFailure.offerRedirect(let error, let uri, let state):
            return Responses.errorPage(error, returnTo: errorRedirectURL(error, to: uri, state: state, slug: slug))
        default:
            let error = internalError(failure, "authorization")
            return Responses.errorPage(error, status: error.code == .temporarilyUnavailable ? .serviceUnavailable : .internalServerError)
        }
    }

    /// The client's redirect URI carrying an authorization error (RFC 6749 §4.1.2.1, with `iss` of RFC 9207).
    func errorRedirectURL(_ error: OAuthError, to uri: String, state: String?, slug: String) -> String {
        URLQuery.appending([
            ("error", error.code.rawValue), ("error_description", error.errorDescription), ("state", state), ("iss", urls.issuer(slug)),
        ], to: uri)
    }

    /// Admits one new pending authorization from `source` (a ``RateLimiter/sourceKey(_:)``), or says why not: each
    /// stores a row for 10 minutes, and anyone who approved their own client once can ask for more.
    func admitPendingAuthorization(from source: String) throws {
        if case .limited(let retryAfter) = authorizationLimiter.admit(source) {
            metrics.pendingAuthorization(outcome: "limited")
            throw AuthorizationFailure.showPage(OAuthError(.tooManyRequests, "too many sign-ins from this address; try again in \(retryAfter) s",
                                                           retryAfter: retryAfter))
        }
        metrics.pendingAuthorization(outcome: "created")
    }

    func authorize(_ request: Request, _ slug: String, source: String) async -> Response {
        let q = request.singleQuery
        for name in ["client_id", "redirect_uri", "state", "code_challenge", "response_type"] where q.keys.contains(name) && q[name]! == nil {
            return Responses.errorPage(.invalidRequest("parameter '\(name)' is repeated"))
        }
        do {
            let cookies = consentCookies
            let remembered = RememberedApprovals(cookie: request.cookies[cookies.approvalsName(slug: slug)]?.value, signer: signer,
                                                 now: tollgate.clock.now())
            let validated = remembered.keepingApproved(
                try await tollgate.tokens.validateAuthorization(serverSlug: slug, authorizationRequest(q), urls: urls,
                                                                fetchPolicy: clientMetadataFetchPolicy(source: source)))
            if remembered.covers(validated.client.id, scopes: validated.scopes) {
                // No consent POST on this path: the authorization is bound to this browser here.
                try admitPendingAuthorization(from: source)
                let binding = BrowserBinding.ofBrowser(request, cookies: cookies)
                let started = try await tollgate.tokens.startAuthorization(validated, urls: urls, browserBinding: binding.value)
                var headers: HTTPFields = [:]
                headers.appendCookie(binding.setCookie(cookies))
                return Responses.redirect(started.upstreamAuthorizationURL, headers: headers)
            }
            return consentPage(validated, request: request, slug: slug, query: q,
                               previouslyApproved: remembered.approvedScopes(of: validated.client.id))
        } catch {
            return authorizationFailure(error, slug: slug)
        }
    }

    func consentPage(_ v: ValidatedAuthorization, request: Request, slug: String, query: [String: String?],
                     previouslyApproved: Set<String>?) -> Response {
        var fields: [String: String] = ["slug": slug, "exp": String(Int(tollgate.clock.now().timeIntervalSince1970 + configuration.consentLifetime))]
        for (k, v) in query { if let v, ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "resource"].contains(k) { fields[k] = v } }
        if fields["redirect_uri"] == nil { fields["redirect_uri"] = v.redirectURI }
        let transaction = signer.seal(fields)
        let cookies = consentCookies
        let browser = request.cookies[cookies.browserName]?.value ?? TokenGenerator.make(prefix: "").value
        let csrf = signer.csrfToken(transaction: transaction, browser: browser)
        var headers: HTTPFields = [:]
        headers[.setCookie] = cookies.setCookie(cookies.browserName, browser, maxAge: nil)
        return Responses.html(ConsentPage.render(v, transaction: transaction, csrf: csrf, action: urls.issuer(slug) + "/consent",
                                                 previouslyApproved: previouslyApproved), headers: headers)
    }

    /// The consent cookies' names and attributes for the current public URL.
    var consentCookies: ConsentCookies { ConsentCookies(publicBase: urls.base) }

    func consent(_ request: Request, _ slug: String, source: String) async -> Response {
        do {
            guard (request.headers[.contentType] ?? "").lowercased().hasPrefix("application/x-www-form-urlencoded") else {
                return Responses.errorPage(.invalidRequest("the consent form was not submitted as a form"))
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: 64 * 1024)
            } catch is NIOTooManyBytesError {
                return Responses.errorPage(.invalidRequest("the consent form is too large"), status: .contentTooLarge)
            } catch {
                return Responses.errorPage(.invalidRequest("the consent form could not be read"))
            }
            let form = Dictionary(FormEncoding.decode(String(buffer: body)), uniquingKeysWith: { a, _ in a })
            guard let transaction = form["transaction"], let fields = signer.unseal(transaction), fields["slug"] == slug,
                  let exp = fields["exp"].flatMap(Int.init) else {
                return Responses.errorPage(.invalidRequest("the consent page is not valid; start again from the application"))
            }
            guard exp > Int(tollgate.clock.now().timeIntervalSince1970) else {
                return Responses.errorPage(.invalidRequest("the consent page expired; start again from the application"))
            }
            let cookies = consentCookies
            guard let browser = request.cookies[cookies.browserName]?.value, let csrf = form["csrf_token"],
                  signer.verify("csrf|\(browser)|\(transaction)", mac: csrf) else {
                return Responses.errorPage(.invalidRequest("the consent form could not be verified (CSRF); start again from the application"), status: .forbidden)
            }
            var remembered = RememberedApprovals(cookie: request.cookies[cookies.approvalsName(slug: slug)]?.value, signer: signer, now: tollgate.clock.now())
            let validated = remembered.keepingApproved(
                try await tollgate.tokens.validateAuthorization(serverSlug: slug, authorizationRequest(fields.mapValues { Optional($0) }), urls: urls,
                                                                fetchPolicy: clientMetadataFetchPolicy(source: source)))
            guard form["decision"] == "approve" else {
                return Responses.redirect(URLQuery.appending([
                    ("error", "access_denied"), ("error_description", "the user denied the request"), ("state", validated.state), ("iss", urls.issuer(slug)),
                ], to: validated.redirectURI))
            }
            try admitPendingAuthorization(from: source)
            let binding = BrowserBinding.ofBrowser(request, cookies: cookies)
            let started = try await tollgate.tokens.startAuthorization(validated, urls: urls, browserBinding: binding.value)
            remembered.approve(validated.client.id, scopes: validated.scopes, until: tollgate.clock.now().addingTimeInterval(configuration.consentMemory))
            var headers: HTTPFields = [:]
            headers.appendCookie(cookies.setCookie(cookies.approvalsName(slug: slug), remembered.cookieValue(signer: signer),
                                                   maxAge: Int(configuration.consentMemory), path: cookies.approvalsPath(slug: slug)))
            headers.appendCookie(binding.setCookie(cookies))
            return Responses.redirect(started.upstreamAuthorizationURL, headers: headers)
        } catch {
            return authorizationFailure(error, slug: slug)
        }
    }

    func callback(_ request: Request, _ slug: String) async -> Response {
        let q = request.singleQuery
        func value(_ name: String) -> String? { q[name] ?? nil }
        do {
            let done = try await tollgate.tokens.completeAuthorization(state: value("state"),
                                                                       browserBinding: BrowserBinding.presented(in: request, cookies: consentCookies),
                                                                       callbackSlug: slug, upstreamIssuer: value("iss"),
                                                                       upstreamCode: value("code"), upstreamError: value("error"),
                                                                       upstreamErrorDescription: value("error_description"), urls: urls)
            return Responses.redirect(done.redirectURL)
        } catch is AuthorizationInAnotherBrowser {
            return BrowserBinding.anotherBrowserPage()
        } catch {
            return authorizationFailure(error, slug: "")
        }
    }

    // MARK: Token, revocation, introspection

    /// The token endpoint; every failed request records its refusal (``recordRefusal(_:request:note:)``).
    func token(_ request: Request, _ slug: String, note: AccessNote) async -> Response {
        var grantType = "unknown"
        do {
            let form = try await request.form(limit: configuration.maxBodyBytes)
            grantType = form["grant_type"].map { ["authorization_code", "refresh_token"].contains($0) ? $0 : "unsupported" } ?? "missing"
            let credentials = try request.clientCredentials(form: form)
            let pair: TokenPair
            switch form["grant_type"] {
            case "authorization_code"?:
                pair = try await tollgate.tokens.exchangeCode(serverSlug: slug, credentials: credentials, code: form["code"],
                                                        redirectURI: form["redirect_uri"], codeVerifier: form["code_verifier"])
            case "refresh_token"?:
                pair = try await tollgate.tokens.refresh(serverSlug: slug, credentials: credentials, refreshToken: form["refresh_token"], scope: form["scope"])
            case nil:
                throw OAuthError.invalidRequest("grant_type is missing")
            case let other?:
                throw OAuthError(.unsupportedGrantType, "grant_type '\(UpstreamErrorText.clip(other))' is not supported")
            }
            metrics.tokenGrant(type: grantType, outcome: "ok")
            note.note(grantID: nil, clientID: credentials.clientID)
            return Responses.json(["access_token": pair.accessToken.value, "token_type": pair.tokenType, "expires_in": pair.expiresIn,
                                   "refresh_token": pair.refreshToken.value, "scope": pair.scope])
        } catch {
            let oauth = internalError(error, "token")
            metrics.tokenGrant(type: grantType, outcome: oauth.code.rawValue)
            recordRefusal(oauth, request: request, note: note)
            return Responses.oauthError(oauth, basicChallenge: request.basicCredentials != nil)
        }
    }

    func revoke(_ request: Request, _ slug: String) async -> Response {
        do {
            let form = try await request.form(limit: configuration.maxBodyBytes)
            try await tollgate.tokens.revoke(serverSlug: slug, credentials: try request.clientCredentials(form: form), token: form["token"])
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        } catch {
            return Responses.oauthError(internalError(error, "revocation"), basicChallenge: request.basicCredentials != nil)
        }
    }

    func introspect(_ request: Request, _ slug: String) async -> Response {
        do {
            let form = try await request.form(limit: configuration.maxBodyBytes)
            let info = try await tollgate.tokens.introspect(serverSlug: slug, credentials: try request.clientCredentials(form: form),
                                                       token: form["token"], urls: urls)
            return Responses.json(info.json)
        } catch {
            // Only resource servers holding an introspection credential may call it: always challenge.
            return Responses.oauthError(internalError(error, "introspection"), basicChallenge: true)
        }
    }
}
