import Foundation
import Logging

/// The token lifecycle of Tollgate as an authorization server: registration, authorization, code
/// exchange, refresh with rotation, validation, revocation and introspection.
///
/// Every rule lives here once; the HTTP server is a thin face over it. Time comes from the injected clock.
public struct TokenService: Sendable {
    let store: any TollgateStore
    let vault: Vault
    let refresher: RefreshCoordinator
    let upstream: UpstreamClient
    let clock: any TollgateClock
    let logger: Logger
    let clientMetadataFetcher: any ClientMetadataFetcher
    /// Accepted client ID metadata documents by client row, so an authorization's requests cost one fetch.
    let clientMetadata: ClientMetadataCache<Client>
    /// Document URLs whose fetch failed lately, held back for a growing backoff.
    let clientMetadataFailures: ClientMetadataFailures
    /// The cap on fetches of documents in flight.
    let clientMetadataFetchSlots = ClientMetadataFetchSlots()
    /// How long a rotated refresh token may be presented again and get the same new pair (default 10 s).
    public var graceWindow: TimeInterval = 10
    /// How long a rotated refresh token's row (and an access token revoked by a rotation) is kept before the grant's
    /// next rotation deletes it: past the grace window its reuse is recognised from the token itself.
    public var rotatedTokenRetention: TimeInterval { graceWindow + 60 }
    /// Lifetime of an authorization code.
    public var codeLifetime: TimeInterval = 60
    /// Lifetime of a pending authorization (the server-side upstream `state`).
    public var pendingLifetime: TimeInterval = 600
    /// How recently obtained an upstream credential is trusted over the MCP server's 401 (no reactive refresh of it).
    public var reactiveRefreshMinimumAge: TimeInterval = 30
    /// How long a request waits for an early refresh (the old upstream token still valid) before it goes on
    /// with the old token; the refresh itself continues.
    public var earlyRefreshWait: TimeInterval = 2

    /// - Parameter clientMetadataFetcher: how client ID metadata documents are fetched (default: SSRF-safe HTTPS,
    ///   public addresses only).
    public init(store: any TollgateStore, vault: Vault, refresher: RefreshCoordinator, upstream: UpstreamClient,
                clock: any TollgateClock, logger: Logger = Logger(label: "tollgate.tokens"),
                clientMetadataFetcher: any ClientMetadataFetcher = HTTPClientMetadataFetcher()) {
        self.clientMetadataFetcher = clientMetadataFetcher
        clientMetadata = ClientMetadataCache(capacity: 1000, clock: clock)
        clientMetadataFailures = ClientMetadataFailures(capacity: 1000, clock: clock)
        self.store = store
        self.vault = vault
        self.refresher = refresher
        self.upstream = upstream
        self.clock = clock
        self.logger = logger
    }

    // MARK: - Registration

    /// Registers a client for a server (RFC 7591). Redirect URIs follow ``RedirectURIPolicy``: `https`,
    /// `http` on a loopback host, or a native app's private-use scheme; at most ``RedirectURIPolicy/maximumCount``.
    public func registerClient(serverSlug: String, _ registration: ClientRegistration, registeredBy: String = "dynamic") async throws -> RegisteredClient {
        guard let server = try await store.server(slug: serverSlug) else { throw OAuthError.invalidRequest("no server '\(serverSlug)'") }
        if let refusal = ClientMetadataRules.redirectURIsRefusal(registration.redirectURIs, applicationType: registration.applicationType) {
            throw OAuthError(.invalidRedirectURI, refusal)
        }
        if let refusal = ClientMetadataRules.grantTypesRefusal(registration.grantTypes) {
            throw OAuthError(.invalidClientMetadata, refusal)
        }
        if let refusal = ClientMetadataRules.nameRefusal(registration.name) { throw OAuthError(.invalidClientMetadata, refusal) }
        let id = "tgc_" + TokenGenerator.make(prefix: "").value.prefix(22)
        let secret = registration.authMethod == .none ? nil : TokenGenerator.make(prefix: TokenGenerator.clientSecretPrefix)
        let client = Client(id: id, serverID: server.id, name: registration.name.isEmpty ? id : registration.name,
                            redirectURIs: registration.redirectURIs, authMethod: registration.authMethod,
                            grantTypes: registration.grantTypes, registeredBy: registeredBy, createdAt: clock.now(), revokedAt: nil)
        try await store.createClient(client, secretHash: secret.map(TokenGenerator.hash), audit: NewAuditEvent(
            actor: registeredBy == "admin" ? "admin" : "client:\(id)", action: "client.register",
            serverID: server.id, clientID: id, detail: "\(client.name) (\(client.authMethod.rawValue))"))
        return RegisteredClient(client: client, secret: secret)
    }

    /// Authenticates a client of `server` at the token or revocation endpoint (introspection takes an
    /// ``IntrospectionCredential`` instead, see ``authenticateIntrospection(_:server:)``).
    public func authenticate(_ credentials: ClientCredentials, server: Server) async throws -> Client {
        let client = try await resolveClient(credentials.clientID, server: server, fetchingDocument: false)
        let refusal = Refusal(.invalidClient, clientID: client.id, serverID: server.id)
        guard client.revokedAt == nil else { throw OAuthError.invalidClient("the client has been revoked").because(refusal) }
        if client.isConfidential {
            guard let secret = credentials.secret, credentials.method != .none,
                  let stored = try await store.clientSecretHash(id: client.id),
                  TokenGenerator.constantTimeEqual(TokenGenerator.hash(secret), stored) else {
                throw OAuthError.invalidClient("client authentication failed").because(refusal)
            }
        } else if credentials.secret != nil {
            throw OAuthError.invalidClient("the client is public and has no secret").because(refusal)
        }
        return client
    }

    // MARK: - Clients

    /// The client that the `client_id` `presented` names on `server`; the one place a wire `client_id` becomes a
    /// ``Client``. Throws `invalid_client` with the reason.
    ///
    /// - A registered client (dynamic or admin): its row, which must belong to `server`.
    /// - An `https://` URL: a client ID metadata document client, subject to the server's trust policy
    ///   (``ClientMetadataTrust``). Its row (``ClientMetadataURL/clientRowID(serverID:)``) is refused once revoked.
    ///   With `fetchingDocument` (authorization), the document is fetched and validated when it is not cached
    ///   (``ClientMetadataCache``; one fetch for concurrent requests) and the row is created or updated from it;
    ///   a failed fetch is recorded on the row and in the log, and refuses the request with one generic
    ///   description whatever went wrong (``ClientMetadataError/oauthError``). A fetch is not even tried while the
    ///   URL's backoff after a failure runs (``ClientMetadataFailures``), when `fetchPolicy` refuses the first
    ///   fetch of a document that has no row yet (`too_many_requests` with its retry delay), or when 8
    ///   fetches are in flight already (`temporarily_unavailable`: refused at once, never queued). Without
    ///   `fetchingDocument` (token, revocation endpoints), the row as the last accepted fetch left it.
    public func resolveClient(_ presented: String, server: Server, fetchingDocument: Bool,
                              fetchPolicy: ClientMetadataFetchPolicy = .unlimited) async throws -> Client {
        guard ClientMetadataURL.isCandidate(presented) else {
            guard let client = try await store.client(id: presented), client.serverID == server.id, client.metadataDocument == nil else {
                throw OAuthError.invalidClient("unknown client").because(.invalidClient)
            }
            return client
        }
        do {
            let url = try ClientMetadataURL(presented)
            try server.policy.checkClientMetadata(url)
            let rowID = url.clientRowID(serverID: server.id)
            let stored = try await store.client(id: rowID)
            if let stored, stored.revokedAt != nil {
                throw OAuthError.invalidClient("the client has been revoked").because(Refusal(.invalidClient, clientID: stored.id, serverID: server.id))
            }
            guard fetchingDocument else {
                guard let stored else {
                    throw OAuthError.invalidClient("unknown client: its metadata document was never accepted here").because(.invalidClient)
                }
                return stored
            }
            // A row that is gone (or was never made) must be made again: whatever is cached does not count.
            if stored == nil { clientMetadata.remove(rowID) }
            let isNew = stored == nil
            let fetched = try await clientMetadata.value(for: rowID) { [self] in
                try await self.fetchMetadataDocument(url, rowID: rowID, server: server, isNew: isNew, policy: fetchPolicy)
            }
            // The row as the latest accepted fetch saved it (revocation was checked on the stored row above).
            guard fetched.revokedAt == nil else { throw OAuthError.invalidClient("the client has been revoked") }
            return fetched
        } catch let error as ClientMetadataError {
            throw error.oauthError
        }
    }

    /// One fetch of the document at `url`, unless its backoff runs, `policy` refuses a new document, or every fetch
    /// slot is taken; a failure starts or lengthens the URL's backoff, a success ends it. Each outcome is observed.
    func fetchMetadataDocument(_ url: ClientMetadataURL, rowID: String, server: Server, isNew: Bool,
                               policy: ClientMetadataFetchPolicy) async throws -> (Client, TimeInterval) {
        if let wait = clientMetadataFailures.backingOff(url.text) {
            policy.observe(.backingOff)
            throw ClientMetadataError(.fetchFailed, "the document failed lately; it is fetched again in \(wait) s")
        }
        if isNew, let retryAfter = policy.admitNewDocument() {
            policy.observe(.limited)
            throw OAuthError(.tooManyRequests, "too many new client metadata documents; retry after \(retryAfter) s", retryAfter: retryAfter)
        }
        guard clientMetadataFetchSlots.acquire() else {
            policy.observe(.busy)
            throw OAuthError.temporarilyUnavailable("too many client metadata documents are being fetched; try again shortly", retryAfter: 1)
        }
        defer { clientMetadataFetchSlots.release() }
        do {
            let accepted = try await acceptMetadataDocument(url, rowID: rowID, server: server)
            clientMetadataFailures.succeeded(url.text)
            policy.observe(.accepted)
            return accepted
        } catch let error as ClientMetadataError {
            clientMetadataFailures.failed(url.text)
            policy.observe(.failed)
            throw error
        }
    }

    /// Fetches and validates the document at `url` and saves the client row it describes; returns the row and how
    /// long it may be reused. A failure is recorded on the row (when there is one), logged and thrown.
    func acceptMetadataDocument(_ url: ClientMetadataURL, rowID: String, server: Server) async throws -> (Client, TimeInterval) {
        let now = clock.now()
        do {
            let response = try await clientMetadataFetcher.fetch(url)
            let document = try ClientMetadataDocument.validate(response.body, contentType: response.contentType, for: url)
            let client = Client(id: rowID, serverID: server.id, name: document.name, redirectURIs: document.redirectURIs,
                                authMethod: .none, grantTypes: document.grantTypes, registeredBy: Client.metadataDocumentRegistration,
                                createdAt: now, metadataDocument: MetadataDocumentState(url: url.text, lastFetchedAt: now))
            let saved = try await store.saveMetadataDocumentClient(client, audit: NewAuditEvent(
                actor: "client:\(rowID)", action: "client.register", serverID: server.id, clientID: rowID,
                detail: "\(document.name) (metadata document at \(url.host))"), at: now)
            return (saved, ClientMetadataCachePolicy.lifetime(cacheControl: response.cacheControl))
        } catch let error as ClientMetadataError {
            logger.notice("client metadata document refused", metadata: ["server": "\(server.slug)", "url": "\(url.text)", "reason": "\(error.reason)"])
            try? await store.recordMetadataDocumentFailure(clientID: rowID, error.reason, at: now)
            throw error
        }
    }

    // MARK: - Authorization

    /// Validates an authorization request for `serverSlug`, deciding which errors may be redirected. A client ID
    /// metadata document is fetched under `fetchPolicy` (see ``resolveClient(_:server:fetchingDocument:fetchPolicy:)``).
    /// Any parameter longer than ``AuthorizationRequest/maximumParameterLength`` is refused on a page first.
    public func validateAuthorization(serverSlug: String, _ r: AuthorizationRequest, urls: PublicURLs,
                                      fetchPolicy: ClientMetadataFetchPolicy = .unlimited) async throws -> ValidatedAuthorization {
        if let name = r.overlongParameter {
            throw AuthorizationFailure.showPage(.invalidRequest(
                "parameter '\(name)' is longer than \(AuthorizationRequest.maximumParameterLength) bytes"))
        }
        guard let server = try await store.server(slug: serverSlug) else {
            throw AuthorizationFailure.showPage(.invalidRequest("unknown server"))
        }
        guard let clientID = r.clientID, !clientID.isEmpty else {
            throw AuthorizationFailure.showPage(.invalidRequest("client_id is missing"))
        }
        let client: Client
        do {
            client = try await resolveClient(clientID, server: server, fetchingDocument: true, fetchPolicy: fetchPolicy)
        } catch let error as OAuthError {
            throw AuthorizationFailure.showPage(error)
        }
        guard client.revokedAt == nil else { throw AuthorizationFailure.showPage(.invalidClient("the client has been revoked")) }
        let redirectURI: String
        if let given = r.redirectURI {
            // Loopback redirect URIs match on any port (RFC 8252 §7.3); the code is bound to the URI presented.
            guard RedirectURIPolicy.match(given, registered: client.redirectURIs) != nil else {
                throw AuthorizationFailure.showPage(.invalidRequest("redirect_uri is not registered for this client"))
            }
            redirectURI = given
        } else if client.redirectURIs.count == 1 {
            redirectURI = client.redirectURIs[0]
        } else {
            throw AuthorizationFailure.showPage(.invalidRequest("redirect_uri is required"))
        }
        // RFC 9700 §4.11.1: only a redirect URI the authorization server trusts gets an automatic redirect; any
        // stranger can register a client, so the others see the error on a page and choose to go back themselves.
        func fail(_ error: OAuthError) -> AuthorizationFailure {
            client.redirectsErrorsAutomatically
                ? .redirect(error, redirectURI: redirectURI, state: r.state)
                : .offerRedirect(error, redirectURI: redirectURI, state: r.state)
        }
        guard r.responseType == "code" else {
            throw fail(OAuthError(.unsupportedResponseType, "response_type must be code"))
        }
        guard let challenge = r.codeChallenge, !challenge.isEmpty else {
            throw fail(.invalidRequest("code_challenge is required (PKCE S256)"))
        }
        guard r.codeChallengeMethod == "S256" else {
            throw fail(.invalidRequest("code_challenge_method must be S256"))
        }
        guard challenge.count == 43, Data(base64URLEncoded: challenge)?.count == 32 else {
            throw fail(.invalidRequest("code_challenge is not a base64url SHA-256"))
        }
        let resource = r.resource ?? urls.resource(server.slug)
        guard resource == urls.resource(server.slug) else {
            throw fail(.invalidTarget("resource is not this server"))
        }
        let provider = try await store.provider(serverID: server.id)
        var known = Set(server.scopes).union(provider?.scopes ?? [])
        known.insert("offline_access")
        let requested = (r.scope ?? "").split(separator: " ").map(String.init)
        if let unknown = requested.first(where: { !known.contains($0) }) {
            throw fail(.invalidScope("scope '\(UpstreamError.sanitize(unknown, limit: 60))' is not supported"))
        }
        let scopes = requested.isEmpty ? server.scopes : requested
        guard provider != nil else { throw fail(.init(.serverError, "the server has no upstream provider configured")) }
        return ValidatedAuthorization(server: server, client: client, redirectURI: redirectURI, scopes: scopes,
                                      resource: resource, state: r.state, codeChallenge: challenge)
    }

    /// After consent: records the pending authorization and returns the upstream authorization URL
    /// (the provider's own query string preserved; `prompt=consent` when the provider supports `offline_access`,
    /// as OIDC Core §11 asks). Its `scope` is ``GrantScopes/upstream(for:providerScopes:serverScopes:)`` of the
    /// authorization's scopes.
    ///
    /// - Parameter browserBinding: a random value the consenting browser carries (a cookie); only its
    ///   SHA-256 is stored, and ``completeAuthorization(state:browserBinding:callbackSlug:upstreamIssuer:upstreamCode:upstreamError:upstreamErrorDescription:urls:)``
    ///   completes the authorization only when the callback presents the same value.
    ///
    /// When the upstream scopes include `openid`, the request carries a `nonce` derived from the state (nothing more
    /// is stored), which the ID token must carry back (OIDC Core §3.1.2.1, RFC 9700 §4.5.3).
    public func startAuthorization(_ v: ValidatedAuthorization, urls: PublicURLs, browserBinding: Secret) async throws -> StartedAuthorization {
        guard let provider = try await store.provider(serverID: v.server.id) else {
            throw OAuthError(.serverError, "the server has no upstream provider configured")
        }
        let now = clock.now()
        let state = TokenGenerator.make(prefix: TokenGenerator.statePrefix)
        let verifier = TokenGenerator.make(prefix: "")
        let stateHash = TokenGenerator.hash(state)
        let context = SealContext.pendingVerifier(stateHash: stateHash)
        let expiresAt = now.addingTimeInterval(pendingLifetime)
        try await store.insertPendingAuthorization(PendingAuthorization(
            stateHash: stateHash, serverID: v.server.id, clientID: v.client.id, redirectURI: v.redirectURI,
            clientState: v.state, codeChallenge: v.codeChallenge, scopes: v.scopes, resource: v.resource,
            sealedUpstreamVerifier: try vault.seal(verifier.value, for: context), createdAt: now, expiresAt: expiresAt,
            browserBindingHash: TokenGenerator.hash(browserBinding)))
        let upstreamScopes = GrantScopes.upstream(for: v.scopes, providerScopes: provider.scopes, serverScopes: v.server.scopes)
        var params: [(String, String?)] = [
            ("response_type", "code"), ("client_id", provider.clientID), ("redirect_uri", urls.callback(v.server.slug)),
            ("scope", upstreamScopes.isEmpty ? nil : upstreamScopes.joined(separator: " ")),
            ("state", state.value), ("code_challenge", TokenGenerator.s256Challenge(of: verifier.value)),
            ("code_challenge_method", "S256"),
        ]
        if provider.supportsOfflineAccess, !provider.authorizeParams.contains(where: { $0.name == "prompt" }) {
            params.append(("prompt", "consent"))
        }
        if upstreamScopes.contains("openid") { params.append(("nonce", upstreamNonce(state: state.value))) }
        // The provider's own parameters never override Tollgate's (state, PKCE, redirect URI, nonce, …).
        let reserved = Set(params.map(\.0))
        for p in provider.authorizeParams where !reserved.contains(p.name) { params.append((p.name, p.value)) }
        return StartedAuthorization(upstreamAuthorizationURL: URLQuery.appending(params, to: provider.authorizationEndpoint),
                                    expiresAt: expiresAt)
    }

    /// At the upstream callback: checks `state` exactly once, in the browser that started the authorization,
    /// relays an upstream error, or exchanges the upstream code and creates the grant; returns where to send
    /// the user's browser.
    ///
    /// Throws ``AuthorizationFailure/showPage(_:)`` for an unknown, used or expired state, and
    /// ``AuthorizationInAnotherBrowser`` when `browserBinding` is missing or is not the one the authorization
    /// was started with (the pending authorization stays in place and the upstream code is not exchanged).
    ///
    /// Mix-up defence (RFC 9700 §4.4): the state must have been issued for the server whose callback
    /// (`callbackSlug`) it arrives at, else a page and nothing is taken or exchanged; an `iss` the provider sends
    /// (`upstreamIssuer`, RFC 9207) must be its issuer, else nothing is exchanged; and when a nonce was sent, the ID
    /// token must carry it, else no grant is made.
    public func completeAuthorization(state: String?, browserBinding: Secret?, callbackSlug: String, upstreamIssuer: String? = nil,
                                      upstreamCode: String?, upstreamError: String?,
                                      upstreamErrorDescription: String?, urls: PublicURLs) async throws -> CompletedAuthorization {
        guard let state, !state.isEmpty else { throw AuthorizationFailure.showPage(.invalidRequest("unknown or already used state")) }
        guard let callbackServer = try await store.server(slug: callbackSlug) else {
            throw AuthorizationFailure.showPage(.invalidRequest("unknown server"))
        }
        let pending: PendingAuthorization
        switch try await store.takePendingAuthorization(stateHash: TokenGenerator.hash(state), browserBindingHash: browserBinding.map(TokenGenerator.hash),
                                                        serverID: callbackServer.id) {
        case .taken(let taken):
            pending = taken
        case .boundToAnotherBrowser:
            logger.notice("callback refused: the authorization was started in another browser")
            throw AuthorizationInAnotherBrowser()
        case .boundToAnotherServer:
            logger.warning("callback refused: the state was issued for another server (mix-up attempt)", metadata: ["callback": "\(callbackSlug)"])
            throw AuthorizationFailure.showPage(.invalidRequest("this sign-in was started for another server; start again from the application"))
        case .unknown:
            throw AuthorizationFailure.showPage(.invalidRequest("unknown or already used state"))
        }
        let server = callbackServer
        let issuer = urls.issuer(server.slug)
        func errorRedirect(_ code: String, _ description: String) -> CompletedAuthorization {
            CompletedAuthorization(redirectURL: URLQuery.appending([
                ("error", code), ("error_description", description), ("state", pending.clientState), ("iss", issuer),
            ], to: pending.redirectURI), grantID: nil)
        }
        guard pending.expiresAt > clock.now() else {
            return errorRedirect("access_denied", "the authorization took too long; start again")
        }
        let provider = try await store.provider(serverID: server.id)
        if let upstreamIssuer, let expected = provider?.issuer, upstreamIssuer != expected {
            logger.warning("callback refused: the response names another issuer (mix-up attempt)", metadata: ["server": "\(server.slug)"])
            return errorRedirect("access_denied", "the sign-in answer came from another provider than this server's; start again")
        }
        if let upstreamError {
            let code = UpstreamError.sanitize(upstreamError, limit: 60)
            let known = ["access_denied", "invalid_scope", "temporarily_unavailable", "server_error", "interaction_required",
                         "login_required", "consent_required", "account_selection_required"]
            let relayed = known.contains(code) ? code : "access_denied"
            return errorRedirect(relayed, "the upstream provider answered \(code)" +
                                 (upstreamErrorDescription.map { ": " + UpstreamError.sanitize($0) } ?? ""))
        }
        guard let upstreamCode, !upstreamCode.isEmpty else {
            return errorRedirect("server_error", "the upstream provider returned neither code nor error")
        }
        let context = SealContext.pendingVerifier(stateHash: pending.stateHash)
        let verifier = Secret(try await vault.open(pending.sealedUpstreamVerifier, for: context))
        guard let access = try await providerAccess(serverID: server.id) else {
            return errorRedirect("server_error", "the server has no upstream provider configured")
        }
        let response: UpstreamTokenResponse
        do {
            response = try await upstream.exchangeCode(Secret(upstreamCode), redirectURI: urls.callback(server.slug),
                                                       codeVerifier: verifier, with: access)
        } catch let error as UpstreamError {
            logger.warning("upstream code exchange failed", metadata: ["server": "\(server.slug)", "error": "\(error)"])
            if error.kind == .misconfigured { try? await store.setProviderError(providerID: access.provider.id, error.description, at: clock.now()) }
            return errorRedirect(error.kind == .transient ? "temporarily_unavailable" : "server_error",
                                 "the upstream token exchange failed (\(error.kind.rawValue))")
        }
        if response.idToken != nil,
           GrantScopes.upstream(for: pending.scopes, providerScopes: access.provider.scopes, serverScopes: server.scopes).contains("openid"),
           response.idTokenClaim("nonce") != upstreamNonce(state: state) {
            logger.warning("callback refused: the ID token does not carry this sign-in's nonce", metadata: ["server": "\(server.slug)"])
            return errorRedirect("access_denied", "the provider's ID token does not belong to this sign-in (nonce); start again")
        }
        var subject = response.idTokenSubject
        if subject == nil, let endpoint = access.provider.userinfoEndpoint {
            subject = try? await upstream.userinfoSubject(accessToken: response.accessToken, endpoint: endpoint)
        }
        let (code, grantID) = try await completeAuthorization(pending, server: server, upstreamTokens: response, subject: subject)
        return CompletedAuthorization(redirectURL: URLQuery.appending([
            ("code", code.value), ("state", pending.clientState), ("iss", issuer),
        ], to: pending.redirectURI), grantID: grantID)
    }

    /// The OpenID `nonce` of the authorization whose upstream `state` is `state`: derived, so nothing is stored.
    func upstreamNonce(state: String) -> String {
        TokenGenerator.derive(prefix: "", from: Secret(state), purpose: "upstream-nonce", key: vault.derivationKey).value
    }

    /// Completes a pending authorization with upstream tokens already obtained, in one transaction: when the
    /// user (`subject`) already holds an active grant of this server and client whose scopes this authorization
    /// strictly contains, that grant is extended (a step-up: its scopes become the union, its upstream credential is
    /// replaced, audited as `grant.extend`); otherwise a grant is created. Either way a single-use code is issued for it.
    public func completeAuthorization(_ pending: PendingAuthorization, server: Server, upstreamTokens: UpstreamTokenResponse,
                                      subject: String?) async throws -> (code: Secret, grantID: Int64) {
        let now = clock.now()
        let credential = upstreamTokens.credential(at: now)
        let code = TokenGenerator.make(prefix: TokenGenerator.codePrefix)
        let record = AuthorizationCodeRecord(hash: TokenGenerator.hash(code), grantID: 0, clientID: pending.clientID,
                                             redirectURI: pending.redirectURI, codeChallenge: pending.codeChallenge,
                                             expiresAt: now.addingTimeInterval(codeLifetime), usedAt: nil)
        let vault = vault
        let seal: @Sendable (Int64) throws -> SealedCredential = { id in
            SealedCredential(accessToken: try vault.seal(credential.accessToken.value, for: .upstreamAccess(id)),
                             refreshToken: try credential.refreshToken.map { try vault.seal($0.value, for: .upstreamRefresh(id)) },
                             info: credential.info)
        }
        let refreshNote = "upstream refresh token " + (credential.refreshToken == nil ? "absent" : "present")
        if let subject, let extended = try await store.extendGrant(
            serverID: server.id, clientID: pending.clientID, subject: subject, scopes: pending.scopes, seal: seal, code: record,
            audit: { old, new in
                NewAuditEvent(actor: "client:\(pending.clientID)", action: "grant.extend", serverID: server.id, clientID: pending.clientID,
                              detail: "scopes \(old.joined(separator: " ")) → \(new.joined(separator: " ")); upstream credential replaced; \(refreshNote)")
            }, at: now) {
            return (code, extended)
        }
        let grantID = try await store.createGrant(
            NewGrant(serverID: server.id, clientID: pending.clientID, subject: subject, scopes: pending.scopes,
                     resource: pending.resource, upstream: credential.info),
            seal: seal,
            code: record,
            audit: NewAuditEvent(actor: "client:\(pending.clientID)", action: "grant.create", serverID: server.id,
                                 clientID: pending.clientID, detail: "subject \(subject ?? "unknown"); \(refreshNote)"),
            at: now)
        return (code, grantID)
    }

    func providerAccess(serverID: Int64) async throws -> ProviderAccess? {
        guard let provider = try await store.provider(serverID: serverID) else { return nil }
        return ProviderAccess(provider: provider, clientSecret: try await vault.openProviderSecret(of: provider, in: store))
    }

    // MARK: - Token endpoint

    /// The `authorization_code` grant: single use (a replay by its client revokes what the code issued),
    /// bound to the client, the redirect URI and the PKCE verifier.
    ///
    /// Only the rightful client's valid presentation consumes the code: the binding, expiry and PKCE are
    /// checked against the stored record first, then the code is redeemed by compare-and-set. Another
    /// client's attempt, or a wrong verifier, changes nothing.
    public func exchangeCode(serverSlug: String, credentials: ClientCredentials, code: String?, redirectURI: String?,
                             codeVerifier: String?) async throws -> TokenPair {
        let server = try await requireServer(serverSlug)
        let client = try await authenticate(credentials, server: server)
        guard let code, !code.isEmpty else { throw OAuthError.invalidRequest("code is missing") }
        guard let codeVerifier, !codeVerifier.isEmpty else { throw OAuthError.invalidRequest("code_verifier is missing") }
        let now = clock.now()
        let hash = TokenGenerator.hash(code)
        let ofClient = Refusal(.unknownCode, clientID: client.id, serverID: server.id)
        guard let record = try await store.authorizationCode(hash: hash) else {
            throw OAuthError.invalidGrant("unknown authorization code").because(ofClient)
        }
        func refused(_ reason: RefusalReason) -> Refusal { Refusal(reason, grantID: record.grantID, clientID: client.id, serverID: server.id) }
        guard record.clientID == client.id else {
            throw OAuthError.invalidGrant("the code was issued to another client").because(Refusal(.bindingMismatch, clientID: client.id, serverID: server.id))
        }
        guard redirectURI == record.redirectURI else {
            throw OAuthError.invalidGrant("redirect_uri does not match the authorization request").because(refused(.bindingMismatch))
        }
        guard TokenGenerator.isValidVerifier(codeVerifier),
              TokenGenerator.constantTimeEqual(Data(TokenGenerator.s256Challenge(of: codeVerifier).utf8), Data(record.codeChallenge.utf8)) else {
            throw OAuthError.invalidGrant("PKCE verification failed").because(refused(.pkceFailed))
        }
        // Reuse revokes only after the whole presentation checked out: a public client's `client_id` authenticates
        // nobody, so a leaked used code with a guessed verifier must not be a way to revoke the victim's grant.
        if record.usedAt != nil { try await revokeAfterCodeReplay(record, client: client, server: server, now: now) }
        guard record.expiresAt > now else { throw OAuthError.invalidGrant("authorization code expired").because(refused(.expiredCode)) }
        switch try await store.redeemCode(hash: hash, at: now) {
        case .redeemed:
            break
        case .replayed(let used):
            // A concurrent presentation by the same client redeemed it first: the code was used twice.
            try await revokeAfterCodeReplay(used, client: client, server: server, now: now)
        case .notFound:
            throw OAuthError.invalidGrant("unknown authorization code").because(ofClient)
        }
        guard let grant = try await store.grant(id: record.grantID), grant.state != .revoked, grant.serverID == server.id else {
            throw OAuthError.invalidGrant("the authorization is no longer valid").because(refused(.revokedRefreshToken))
        }
        let access = TokenGenerator.make(prefix: TokenGenerator.accessPrefix)
        let refreshExpiry = refreshExpiry(grant: grant, server: server, now: now)
        let refresh = RefreshTokenFamily.random(grantID: grant.id, expiresAt: refreshExpiry, key: vault.derivationKey)
        try await store.insertTokens(grantID: grant.id, clientID: client.id, newTokens(access: access, refresh: refresh, refreshExpiresAt: refreshExpiry,
                                                                                         server: server, now: now, scopes: nil), at: now)
        return TokenPair(accessToken: access, refreshToken: refresh, expiresIn: Int(server.accessTokenTTL),
                         scope: grant.scopes.joined(separator: " "))
    }

    /// A used code presented again by the client it was issued to: revokes the grant it created, then throws.
    private func revokeAfterCodeReplay(_ used: AuthorizationCodeRecord, client: Client, server: Server, now: Date) async throws -> Never {
        _ = try await store.revokeGrant(id: used.grantID, audit: NewAuditEvent(
            actor: "client:\(client.id)", action: "code.replay", serverID: server.id, grantID: used.grantID,
            clientID: client.id, outcome: "revoked", detail: "authorization code presented twice; the grant was revoked"), at: now)
        throw OAuthError.invalidGrant("authorization code already used")
            .because(Refusal(.replayedCode, grantID: used.grantID, clientID: client.id, serverID: server.id))
    }

    /// When a refresh token issued now expires: the server's idle lifetime, capped by the grant's absolute one, in
    /// whole seconds (the token carries it, see ``RefreshTokenFamily``).
    func refreshExpiry(grant: Grant, server: Server, now: Date) -> Date {
        RefreshTokenFamily.wholeSeconds(min(now.addingTimeInterval(server.refreshTokenIdleTTL),
                                            grant.createdAt.addingTimeInterval(server.refreshTokenAbsoluteTTL)))
    }

    /// - Parameter scopes: the access token's scopes when narrower than the grant's, else `nil`.
    func newTokens(access: Secret, refresh: Secret, refreshExpiresAt: Date, server: Server, now: Date, scopes: [String]?) -> [NewToken] {
        [NewToken(hash: TokenGenerator.hash(access), kind: .access, expiresAt: now.addingTimeInterval(server.accessTokenTTL), scopes: scopes),
         NewToken(hash: TokenGenerator.hash(refresh), kind: .refresh, expiresAt: refreshExpiresAt)]
    }

    /// The pair a rotation of `presented` issues: derived from it, so the same presentation always yields the same
    /// pair (a concurrent rotation, or a retry within the grace window, gets what the winner issued).
    func rotatedPair(from presented: Secret, grantID: Int64, refreshExpiresAt: Date) -> (access: Secret, refresh: Secret) {
        (TokenGenerator.derive(prefix: TokenGenerator.accessPrefix, from: presented, purpose: "rotate-access", key: vault.derivationKey),
         RefreshTokenFamily.successor(of: presented, grantID: grantID, expiresAt: refreshExpiresAt, key: vault.derivationKey))
    }

    /// The `refresh_token` grant: bound to the client, rotated on every use. The just-rotated token
    /// presented again within the grace window returns the same new pair; any other reuse revokes the
    /// grant, also once the rotated token's row is gone (``RefreshTokenFamily``). An expired upstream
    /// credential is refreshed upstream first. A `scope` narrower than the grant's is honoured (RFC 6749 §6): the
    /// new access token carries only it and the gateway judges calls by it; the refresh token keeps the grant's.
    public func refresh(serverSlug: String, credentials: ClientCredentials, refreshToken: String?, scope: String?) async throws -> TokenPair {
        let server = try await requireServer(serverSlug)
        let client = try await authenticate(credentials, server: server)
        guard let presentedValue = refreshToken, !presentedValue.isEmpty else { throw OAuthError.invalidRequest("refresh_token is missing") }
        let presented = Secret(presentedValue)
        guard let context = try await store.tokenContext(hash: TokenGenerator.hash(presented)), context.token.kind == .refresh else {
            if let claims = RefreshTokenFamily.claims(of: presentedValue, key: vault.derivationKey) {
                try await refuseFormerRefreshToken(claims, server: server, client: client)
            }
            throw OAuthError.invalidGrant("unknown refresh token").because(Refusal(.unknownRefreshToken, clientID: client.id, serverID: server.id))
        }
        let token = context.token
        var grant = context.grant
        guard token.clientID == client.id, grant.serverID == server.id else {
            let description = token.clientID == client.id ? "the refresh token belongs to another server" : "the refresh token was issued to another client"
            throw OAuthError.invalidGrant(description).because(Refusal(.bindingMismatch, clientID: client.id, serverID: server.id))
        }
        func refused(_ reason: RefusalReason) -> Refusal { Refusal(reason, of: grant) }
        guard grant.state != .revoked, token.revokedAt == nil else {
            throw OAuthError.invalidGrant("the refresh token has been revoked").because(refused(.revokedRefreshToken))
        }
        let narrowed = try narrowedScopes(scope, grant: grant)
        if token.rotatedAt != nil {
            return try await replayWithinGrace(token, presented: presented, grant: grant, server: server, client: client)
        }
        let now = clock.now()
        guard token.expiresAt > now else { throw OAuthError.invalidGrant("the refresh token has expired").because(refused(.expiredRefreshToken)) }
        guard grant.state == .active else {
            throw OAuthError.invalidGrant("the upstream authorization was lost; authorize again").because(refused(.reauthorizationNeeded))
        }

        // Never hand out a fresh proxy pair over a dead upstream credential: refresh upstream first.
        if refresher.needsRefresh(grant.upstream, at: now) {
            let expired = grant.upstream.accessExpiresAt.map { $0 <= now } ?? false
            switch grant.refreshability {
            case .notRefreshable(let reason):
                if expired {
                    throw OAuthError.invalidGrant("the upstream authorization expired (\(reason.rawValue)); authorize again")
                        .because(refused(.reauthorizationNeeded))
                }
            case .refreshable:
                let result = await refresher.refresh(grantID: grant.id, actor: "client:\(client.id)",
                                                     waitUpTo: expired ? nil : min(earlyRefreshWait, refresher.callerWait))
                switch result.outcome {
                case .refreshed: break
                case .needsReauth, .notRefreshable, .notFound:
                    throw OAuthError.invalidGrant("the upstream authorization was lost; authorize again").because(refused(.reauthorizationNeeded))
                case .providerMisconfigured, .transient:
                    if expired {
                        throw OAuthError.temporarilyUnavailable("the upstream provider is unavailable; try again shortly",
                                                                retryAfter: result.outcome.retryAfter)
                            .because(refused(result.outcome.refusalReason))
                    }
                }
                if let refreshed = try await store.grant(id: grant.id) { grant = refreshed }
            }
        }

        let refreshExpiry = refreshExpiry(grant: grant, server: server, now: now)
        let pair = rotatedPair(from: presented, grantID: grant.id, refreshExpiresAt: refreshExpiry)
        let tokens = newTokens(access: pair.access, refresh: pair.refresh, refreshExpiresAt: refreshExpiry, server: server, now: now, scopes: narrowed)
        let won = try await store.rotateRefreshToken(old: token.hash, replacement: TokenGenerator.hash(pair.refresh), newTokens: tokens,
                                                     grantID: grant.id, clientID: client.id, at: now,
                                                     pruningBefore: now.addingTimeInterval(-rotatedTokenRetention))
        guard won else {
            // A concurrent request rotated the same token first: it derived the very same pair.
            guard let rotated = try await store.token(hash: token.hash) else {
                throw OAuthError.invalidGrant("unknown refresh token").because(refused(.unknownRefreshToken))
            }
            return try await replayWithinGrace(rotated, presented: presented, grant: grant, server: server, client: client)
        }
        return TokenPair(accessToken: pair.access, refreshToken: pair.refresh, expiresIn: Int(server.accessTokenTTL),
                         scope: (narrowed ?? grant.scopes).joined(separator: " "))
    }

    /// The scopes a refresh asks for when they are fewer than the grant's (`nil`: none asked, or all of them).
    /// Throws `invalid_scope` for a scope the grant does not hold.
    func narrowedScopes(_ requested: String?, grant: Grant) throws -> [String]? {
        guard let requested else { return nil }
        let asked = requested.split(separator: " ").map(String.init)
        guard !asked.isEmpty else { return nil }
        guard Set(asked).isSubset(of: Set(grant.scopes)) else {
            throw OAuthError.invalidScope("the requested scope exceeds the grant").because(Refusal(.scopeExceeded, of: grant))
        }
        let kept = grant.scopes.filter(Set(asked).contains)
        return kept.count == grant.scopes.count ? nil : kept
    }

    /// A genuine refresh token of this Tollgate whose row is gone: expired and purged, of a grant since revoked or
    /// removed, or, for a live grant before its expiry, rotated earlier and pruned, so presenting it is reuse and
    /// revokes the grant as a kept row would have. Always throws.
    private func refuseFormerRefreshToken(_ claims: RefreshTokenFamily.Claims, server: Server, client: Client) async throws -> Never {
        let now = clock.now()
        let unknown = OAuthError.invalidGrant("unknown refresh token").because(Refusal(.unknownRefreshToken, clientID: client.id, serverID: server.id))
        guard let grant = try await store.grant(id: claims.grantID), grant.serverID == server.id else { throw unknown }
        guard grant.clientID == client.id else {
            throw OAuthError.invalidGrant("the refresh token was issued to another client")
                .because(Refusal(.bindingMismatch, clientID: client.id, serverID: server.id))
        }
        guard claims.expiresAt > now else {
            throw OAuthError.invalidGrant("the refresh token has expired").because(Refusal(.expiredRefreshToken, of: grant))
        }
        guard grant.state != .revoked else {
            throw OAuthError.invalidGrant("the refresh token has been revoked").because(Refusal(.revokedRefreshToken, of: grant))
        }
        try await revokeAfterRefreshReuse(grant, server: server, client: client, at: now)
    }

    /// A rotated refresh token presented again: the same pair inside the grace window, else reuse detection.
    private func replayWithinGrace(_ token: TokenRecord, presented: Secret, grant: Grant, server: Server, client: Client) async throws -> TokenPair {
        let now = clock.now()
        if let rotatedAt = token.rotatedAt, now.timeIntervalSince(rotatedAt) <= graceWindow, grant.state == .active,
           let successor = token.replacedBy,
           let next = try await store.token(hash: successor), next.revokedAt == nil, next.rotatedAt == nil {
            // The successor carries its expiry: rebuild the pair the winning rotation issued from it.
            var pair = rotatedPair(from: presented, grantID: grant.id, refreshExpiresAt: next.expiresAt)
            if !TokenGenerator.constantTimeEqual(successor, TokenGenerator.hash(pair.refresh)) {
                // Rotated by a build before refresh-token families: its successor was derived the older way.
                pair.refresh = TokenGenerator.derive(prefix: TokenGenerator.refreshPrefix, from: presented, purpose: "rotate-refresh",
                                                     key: vault.derivationKey)
            }
            if TokenGenerator.constantTimeEqual(successor, TokenGenerator.hash(pair.refresh)),
               let access = try await store.token(hash: TokenGenerator.hash(pair.access)), access.revokedAt == nil, access.expiresAt > now {
                return TokenPair(accessToken: pair.access, refreshToken: pair.refresh,
                                 expiresIn: max(0, Int(access.expiresAt.timeIntervalSince(now).rounded(.down))),
                                 scope: (access.scopes ?? grant.scopes).joined(separator: " "))
            }
        }
        try await revokeAfterRefreshReuse(grant, server: server, client: client, at: now)
    }

    /// Reuse of a rotated refresh token outside the grace window (RFC 9700 §4.14.2): revokes the grant, then throws.
    private func revokeAfterRefreshReuse(_ grant: Grant, server: Server, client: Client, at now: Date) async throws -> Never {
        _ = try await store.revokeGrant(id: grant.id, audit: NewAuditEvent(
            actor: "client:\(client.id)", action: "token.reuse-detected", serverID: server.id, grantID: grant.id,
            clientID: client.id, outcome: "revoked",
            detail: "a rotated refresh token was presented again outside the grace window; the grant was revoked"), at: now)
        logger.warning("refresh token reuse detected; grant revoked", metadata: ["grant": "\(grant.id)"])
        throw OAuthError.invalidGrant("the refresh token was already used").because(Refusal(.refreshTokenReuse, of: grant))
    }

    func requireServer(_ slug: String) async throws -> Server {
        guard let server = try await store.server(slug: slug) else { throw OAuthError.invalidRequest("unknown server") }
        return server
    }

    // MARK: - Resource access

    /// Validates a proxy access token for `serverSlug` (audience-bound) and reports the upstream credential's state.
    /// Throws `invalid_token` for a missing, unknown, expired or revoked token, or one of another server.
    public func validate(accessToken: String?, serverSlug: String) async throws -> ValidatedAccess {
        guard let accessToken, !accessToken.isEmpty else { throw OAuthError.invalidToken("missing access token").because(.missingToken) }
        guard let context = try await store.tokenContext(hash: TokenGenerator.hash(accessToken)), context.token.kind == .access else {
            throw OAuthError.invalidToken("unknown access token").because(.unknownToken)
        }
        let now = clock.now()
        func refused(_ description: String, _ reason: RefusalReason) -> OAuthError {
            OAuthError.invalidToken(description).because(Refusal(reason, of: context.grant))
        }
        guard context.token.revokedAt == nil, context.grant.state != .revoked else { throw refused("the access token has been revoked", .revoked) }
        guard context.token.expiresAt > now else { throw refused("the access token has expired", .expiredToken) }
        guard context.grant.serverSlug == serverSlug else { throw refused("the access token is for another server", .wrongServer) }
        guard context.grant.state == .active else { throw refused("the upstream authorization was lost; authorize again", .reauthorizationNeeded) }
        guard let sealed = context.sealed else { throw refused("the grant has no upstream credential", .reauthorizationNeeded) }
        let open = { try await RefreshCoordinator.openAccessToken(sealed, grantID: context.grant.id, vault: self.vault) }
        let state: UpstreamState
        if refresher.needsRefresh(sealed.info, at: now) {
            if case .notRefreshable(let reason) = context.grant.refreshability {
                state = sealed.info.accessExpiresAt.map { $0 > now } ?? true ? .fresh(try await open()) : .unusable(reason)
            } else {
                state = .needsRefresh(try await open())
            }
        } else {
            state = .fresh(try await open())
        }
        return ValidatedAccess(grant: context.grant, upstream: state, upstreamMCPURL: context.upstreamMCPURL, scopeRules: context.scopeRules,
                               scopes: context.token.scopes)
    }

    /// The upstream access token to forward for a validated request, refreshed through the coordinator when
    /// needed. Throws `invalid_token` when the user must re-authorize and `temporarily_unavailable` (with the
    /// retry delay in the description) when the upstream is down and the old token has expired.
    public func upstreamAccessToken(for access: ValidatedAccess) async throws -> Secret {
        switch access.upstream {
        case .fresh(let current):
            return current.token
        case .unusable:
            throw OAuthError.invalidToken("the upstream authorization expired; authorize again")
                .because(Refusal(.reauthorizationNeeded, of: access.grant))
        case .needsRefresh(let old):
            // An early refresh (the old token still works) keeps the request waiting only briefly.
            let stillValid = old.expiresAt.map { $0.timeIntervalSince(clock.now()) > earlyRefreshWait } ?? false
            let result = await refresher.refresh(grantID: access.grant.id, actor: "server",
                                                 waitUpTo: stillValid ? min(earlyRefreshWait, refresher.callerWait) : nil)
            switch result.outcome {
            case .refreshed:
                if let credential = result.credential { return credential.accessToken }
                throw OAuthError.temporarilyUnavailable("the upstream credential could not be read")
                    .because(Refusal(.serviceUnavailable, of: access.grant))
            case .needsReauth, .notRefreshable, .notFound:
                throw OAuthError.invalidToken("the upstream authorization was lost; authorize again")
                    .because(Refusal(.reauthorizationNeeded, of: access.grant))
            case .providerMisconfigured, .transient:
                if let expiry = old.expiresAt, expiry > clock.now() { return old.token }
                throw OAuthError.temporarilyUnavailable("the upstream provider is unavailable; try again shortly",
                                                        retryAfter: result.outcome.retryAfter)
                    .because(Refusal(result.outcome.refusalReason, of: access.grant))
            }
        }
    }

    /// What to do about a forwarded request the MCP server refused with 401 (its upstream token `refused` no longer
    /// works there): ``UpstreamRefusalRemedy``.
    ///
    /// When the grant can refresh, its upstream credential is refreshed once (single-flight with every other caller)
    /// and the request may be retried with the new token; a credential another request already replaced is used
    /// without a call. An expiry Tollgate was never told is no reason not to. The backend's 401 is passed on only when
    /// no refresh can help: the grant holds no upstream refresh token, or its credential was obtained less than
    /// ``reactiveRefreshMinimumAge`` ago (a backend refusing even a fresh token must not cost a refresh per request).
    /// Throws `invalid_token` when the upstream authorization is gone, `temporarily_unavailable` (with the retry delay)
    /// when the provider cannot refresh now or the grant is backing off.
    public func remedyForRefusedUpstreamToken(_ access: ValidatedAccess, refused: Secret) async throws -> UpstreamRefusalRemedy {
        let now = clock.now()
        let lost = OAuthError.invalidToken("the upstream authorization was lost; authorize again").because(Refusal(.reauthorizationNeeded, of: access.grant))
        guard let grant = try await store.grant(id: access.grant.id), grant.state != .revoked else { throw lost }
        guard case .refreshable = grant.refreshability else { return .passThrough }
        if let current = try await refresher.credential(of: grant.id), current.accessToken != refused {
            return .retry(current.accessToken)
        }
        if let obtained = grant.upstream.obtainedAt, now.timeIntervalSince(obtained) < reactiveRefreshMinimumAge { return .passThrough }
        if let notBefore = grant.refreshNotBefore, notBefore > now {
            throw OAuthError.temporarilyUnavailable("the upstream provider is unavailable; try again shortly", retryAfter: notBefore.timeIntervalSince(now))
                .because(Refusal(.upstreamUnavailable, of: access.grant))
        }
        let result = await refresher.refresh(grantID: grant.id, force: true, actor: "server")
        switch result.outcome {
        case .refreshed:
            if let credential = result.credential { return .retry(credential.accessToken) }
            if let current = try await refresher.credential(of: grant.id) { return .retry(current.accessToken) }
            throw OAuthError.temporarilyUnavailable("the upstream credential could not be read").because(Refusal(.serviceUnavailable, of: access.grant))
        case .needsReauth, .notRefreshable, .notFound:
            throw lost
        case .providerMisconfigured, .transient:
            throw OAuthError.temporarilyUnavailable("the upstream provider is unavailable; try again shortly", retryAfter: result.outcome.retryAfter)
                .because(Refusal(result.outcome.refusalReason, of: access.grant))
        }
    }

    // MARK: - Revocation and introspection

    /// RFC 7009 revocation: unknown tokens succeed silently; a refresh token revokes its whole grant.
    public func revoke(serverSlug: String, credentials: ClientCredentials, token: String?) async throws {
        let server = try await requireServer(serverSlug)
        let client = try await authenticate(credentials, server: server)
        guard let token, !token.isEmpty else { throw OAuthError.invalidRequest("token is missing") }
        guard let record = try await store.token(hash: TokenGenerator.hash(token)) else { return }
        guard record.clientID == client.id else { throw OAuthError.unauthorizedClient("the token was not issued to this client") }
        let now = clock.now()
        switch record.kind {
        case .refresh:
            _ = try await store.revokeGrant(id: record.grantID, audit: NewAuditEvent(
                actor: "client:\(client.id)", action: "grant.revoke", serverID: server.id, grantID: record.grantID,
                clientID: client.id, detail: "the client revoked its refresh token"), at: now)
        case .access:
            try await store.revokeToken(hash: record.hash, at: now)
        }
    }

    /// RFC 7662 introspection for a resource server holding an introspection credential of the same server
    /// (see ``authenticateIntrospection(_:server:)``); registered clients are refused.
    public func introspect(serverSlug: String, credentials: ClientCredentials, token: String?, urls: PublicURLs) async throws -> Introspection {
        let server = try await requireServer(serverSlug)
        _ = try await authenticateIntrospection(credentials, server: server)
        guard let token, !token.isEmpty else { throw OAuthError.invalidRequest("token is missing") }
        guard let context = try await store.tokenContext(hash: TokenGenerator.hash(token)) else { return .inactive }
        let now = clock.now()
        let t = context.token
        guard t.revokedAt == nil, t.rotatedAt == nil, t.expiresAt > now, context.grant.state == .active,
              context.grant.serverID == server.id else { return .inactive }
        // A metadata-document client is known on the wire by its document URL, not by its row.
        var clientID = t.clientID
        if clientID.hasPrefix(ClientMetadataURL.rowIDPrefix), let client = try await store.client(id: clientID) { clientID = client.publicID }
        return Introspection(active: true, scope: (t.scopes ?? context.grant.scopes).joined(separator: " "), clientID: clientID,
                             subject: context.grant.subject, tokenType: t.kind == .access ? "Bearer" : "refresh_token",
                             expiresAt: t.expiresAt, issuedAt: t.issuedAt, audience: urls.resource(server.slug),
                             issuer: urls.issuer(server.slug))
    }
}
