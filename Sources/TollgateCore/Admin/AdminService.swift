import Foundation

/// The admin operations that the CLI and the console share: listings, details, forced refresh,
/// revocation, well-known documents, key rotation and the audit log.
public struct AdminService: Sendable {
    let store: any TollgateStore
    let vault: Vault
    let refresher: RefreshCoordinator
    let upstream: UpstreamClient
    let tokens: TokenService
    let clock: any TollgateClock
    /// The actor recorded in the audit log for these operations.
    public var actor = "admin"

    init(store: any TollgateStore, vault: Vault, refresher: RefreshCoordinator, upstream: UpstreamClient,
         tokens: TokenService, clock: any TollgateClock) {
        self.store = store
        self.vault = vault
        self.refresher = refresher
        self.upstream = upstream
        self.tokens = tokens
        self.clock = clock
    }

    // MARK: Servers

    /// Adds a server; the slug must be valid and unused, the MCP URL absolute http(s).
    public func addServer(_ new: NewServer) async throws -> Server {
        guard Server.isValidSlug(new.slug) else {
            throw TollgateError.invalidInput("slug '\(new.slug)' is invalid: use 1-63 of a-z, 0-9 and '-'")
        }
        try Self.requireHTTPURL(new.upstreamMCPURL, "--upstream-mcp")
        for (ttl, name) in [(new.accessTokenTTL, "access"), (new.refreshTokenIdleTTL, "refresh"), (new.refreshTokenAbsoluteTTL, "absolute refresh")] where !(ttl.isFinite && ttl >= 1 && ttl <= Self.maximumLifetime) {
            throw TollgateError.invalidInput("the \(name) lifetime must be between 1 second and 10 years")
        }
        guard !new.name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw TollgateError.invalidInput("the server name must not contain control characters")
        }
        var new = new
        new.policy = try Self.checked(new.policy, serverScopes: new.scopes)
        return try await store.createServer(new, audit: NewAuditEvent(actor: actor, action: "server.add", detail: new.slug), at: clock.now())
    }

    /// Replaces the policy of a server (allowed browser origins, scope rules, client ID metadata document trust),
    /// audited as `server.policy`.
    public func setServerPolicy(slug: String, _ policy: ServerPolicy) async throws -> Server {
        let policy = try Self.checked(policy, serverScopes: try await server(slug: slug).scopes)
        let origins = policy.allowedOrigins.isEmpty ? "the public URL's origin" : policy.allowedOrigins.joined(separator: " ")
        let rules = policy.scopeRules.isEmpty ? "" : "; scope rules \(policy.scopeRules.summary)"
        return try await store.setServerPolicy(slug: slug, policy, audit: NewAuditEvent(
            actor: actor, action: "server.policy",
            detail: "\(slug): allowed origins \(origins)\(rules); client metadata documents \(policy.clientMetadata.summary)"), at: clock.now())
    }

    /// `policy` with its origins normalized; `.invalidInput` naming the first that is not an origin, or a scope
    /// rule that names a scope the server does not have (or a blank tool or method name).
    static func checked(_ policy: ServerPolicy, serverScopes: [String]) throws -> ServerPolicy {
        try policy.scopeRules.validate(serverScopes: serverScopes)
        var checked = policy
        checked.allowedOrigins = try policy.allowedOrigins.map { text in
            guard let origin = WebOrigin(text) else {
                throw TollgateError.invalidInput("'\(text)' is not an origin: give scheme://host[:port] (http or https, no path)")
            }
            return origin.description
        }
        var seen = Set<String>()
        checked.allowedOrigins = checked.allowedOrigins.filter { seen.insert($0).inserted }
        return checked
    }

    public func servers() async throws -> [Server] { try await store.servers() }

    public func server(slug: String) async throws -> Server {
        guard let server = try await store.server(slug: slug) else { throw TollgateError.notFound("no server '\(slug)'") }
        return server
    }

    /// Removes a server with everything under it; returns how many grants went with it.
    public func removeServer(slug: String) async throws -> Int {
        let server = try await server(slug: slug)
        let actor = actor
        return try await store.removeServer(slug: slug, audit: { removed in
            NewAuditEvent(actor: actor, action: "server.remove", serverID: server.id, detail: "\(slug) with \(removed) grant(s)")
        }, at: clock.now())
    }

    // MARK: Providers

    /// Adds the provider of a server; `oidc` providers take their endpoints from the issuer's discovery
    /// document. A second provider for the same server is refused.
    public func addProvider(serverSlug: String, _ new: NewProvider) async throws -> Provider {
        let server = try await server(slug: serverSlug)
        if try await store.provider(serverID: server.id) != nil {
            throw TollgateError.conflict("server '\(serverSlug)' already has a provider; a server has exactly one")
        }
        guard !new.clientID.isEmpty else { throw TollgateError.invalidInput("--client-id is required") }
        if new.authMethod != .none && new.clientSecret == nil {
            throw TollgateError.invalidInput("\(new.authMethod.rawValue) needs a client secret (--client-secret-env or --client-secret-file)")
        }
        var resolved: ResolvedEndpoints
        switch new.kind {
        case .oidc:
            guard let issuer = new.issuer else { throw TollgateError.invalidInput("an oidc provider needs --issuer") }
            try Self.requireHTTPURL(issuer, "--issuer")
            do {
                resolved = try await upstream.discover(issuer: issuer)
            } catch let error as UpstreamError {
                throw TollgateError(.upstream, "OIDC discovery failed: \(error.message)")
            }
            if let explicit = new.authorizationEndpoint { resolved.authorizationEndpoint = explicit }
            if let explicit = new.tokenEndpoint { resolved.tokenEndpoint = explicit }
            if let explicit = new.revocationEndpoint { resolved.revocationEndpoint = explicit }
            if let explicit = new.userinfoEndpoint { resolved.userinfoEndpoint = explicit }
        case .oauth2:
            guard let authorize = new.authorizationEndpoint, let token = new.tokenEndpoint else {
                throw TollgateError.invalidInput("an oauth2 provider needs --authorization-endpoint and --token-endpoint")
            }
            resolved = ResolvedEndpoints(issuer: new.issuer, authorizationEndpoint: authorize, tokenEndpoint: token,
                                         revocationEndpoint: new.revocationEndpoint, userinfoEndpoint: new.userinfoEndpoint,
                                         supportsRefresh: true)
        }
        try Self.requireHTTPURL(resolved.authorizationEndpoint, "authorization endpoint")
        try Self.requireHTTPURL(resolved.tokenEndpoint, "token endpoint")
        if let r = resolved.revocationEndpoint { try Self.requireHTTPURL(r, "revocation endpoint") }
        if let u = resolved.userinfoEndpoint { try Self.requireHTTPURL(u, "userinfo endpoint") }
        return try await store.createProvider(serverID: server.id, new, resolved: resolved, seal: { id in
            try new.clientSecret.map { try vault.seal($0.value, for: .providerSecret(id)) }
        }, audit: NewAuditEvent(actor: actor, action: "provider.add", serverID: server.id,
                                detail: "\(new.kind.rawValue) \(resolved.tokenEndpoint)"), at: clock.now())
    }

    /// Changes the provider of a server in place: its client id, client secret (rotation) and scopes; what is not
    /// given stays. Every grant is kept (grants are bound to the provider, not to its secret) and the provider's last
    /// error is cleared; audited as `provider.update` with the actor, never with the secret. A secret is refused for a
    /// provider that authenticates without one.
    public func setProvider(serverSlug: String, clientID: String? = nil, clientSecret: Secret? = nil, scopes: [String]? = nil) async throws -> Provider {
        let provider = try await provider(serverSlug: serverSlug)
        guard clientID != nil || clientSecret != nil || scopes != nil else {
            throw TollgateError.invalidInput("nothing to change: give --client-id, --client-secret-env, --client-secret-file or --scopes")
        }
        if let clientID, clientID.isEmpty { throw TollgateError.invalidInput("--client-id must not be empty") }
        if clientSecret != nil, provider.authMethod == .none {
            throw TollgateError.invalidInput("the provider of '\(serverSlug)' authenticates without a client secret (auth method none)")
        }
        let sealed = try clientSecret.map { try vault.seal($0.value, for: .providerSecret(provider.id)) }
        var changes: [String] = []
        if let clientID, clientID != provider.clientID { changes.append("client id \(provider.clientID) → \(clientID)") }
        if clientSecret != nil { changes.append("client secret rotated") }
        if let scopes, scopes != provider.scopes {
            changes.append("scopes \(provider.scopes.joined(separator: " ")) → \(scopes.joined(separator: " "))")
        }
        return try await store.updateProvider(
            id: provider.id, clientID: clientID ?? provider.clientID, sealedSecret: sealed, scopes: scopes ?? provider.scopes,
            audit: NewAuditEvent(actor: actor, action: "provider.update", serverID: provider.serverID,
                                 detail: changes.isEmpty ? "no change" : changes.joined(separator: "; ")), at: clock.now())
    }

    /// Removes the provider of a server (its server stays; a new provider can then be added). Refused while the
    /// server has grants that are not revoked, since they could no longer be refreshed, unless `revokeGrants`: they are
    /// revoked first, each as `grant revoke` does. Returns how many were revoked. Audited as `provider.remove`.
    public func removeProvider(serverSlug: String, revokeGrants: Bool) async throws -> Int {
        let provider = try await provider(serverSlug: serverSlug)
        let scope = GrantScope(serverSlug: serverSlug)
        let live = try await planBulk(.revoke, scope, listing: 0).count
        var revoked = 0
        if live > 0 {
            guard revokeGrants else {
                throw TollgateError.conflict("server '\(serverSlug)' has \(live) grant(s) that would lose their provider; "
                                             + "give --revoke-grants --yes to revoke them with it")
            }
            let result = try await self.revokeGrants(scope)
            revoked = result.succeeded
            guard result.failures.isEmpty, !result.cancelled else {
                throw TollgateError(.conflict, "\(result.failures.values.reduce(0, +)) grant(s) could not be revoked; the provider stays")
            }
        }
        try await store.deleteProvider(id: provider.id, audit: NewAuditEvent(
            actor: actor, action: "provider.remove", serverID: provider.serverID,
            detail: "\(provider.kind.rawValue) \(provider.tokenEndpoint); \(revoked) grant(s) revoked with it"), at: clock.now())
        return revoked
    }

    /// Every provider with the slug of its server.
    public func providers() async throws -> [(server: Server, provider: Provider)] {
        let servers = Dictionary(uniqueKeysWithValues: try await store.servers().map { ($0.id, $0) })
        return try await store.providers().compactMap { p in servers[p.serverID].map { ($0, p) } }
    }

    public func provider(serverSlug: String) async throws -> Provider {
        let server = try await server(slug: serverSlug)
        guard let provider = try await store.provider(serverID: server.id) else {
            throw TollgateError.notFound("server '\(serverSlug)' has no provider")
        }
        return provider
    }

    // MARK: Clients

    public func clients(serverSlug: String? = nil, limit: Int = 100, after: String? = nil) async throws -> Page<Client> {
        var serverID: Int64?
        if let serverSlug { serverID = try await server(slug: serverSlug).id }
        return try await store.clients(serverID: serverID, limit: limit, after: after)
    }

    public func client(id: String) async throws -> Client {
        guard let client = try await store.client(id: id) else { throw TollgateError.notFound("no client '\(id)'") }
        return client
    }

    /// Registers a client as an admin (same rules as dynamic registration).
    public func registerClient(serverSlug: String, _ registration: ClientRegistration) async throws -> RegisteredClient {
        do {
            return try await tokens.registerClient(serverSlug: serverSlug, registration, registeredBy: "admin")
        } catch let error as OAuthError {
            throw TollgateError.invalidInput(error.errorDescription)
        }
    }

    /// Revokes a client and all its grants; returns the number of grants revoked.
    public func revokeClient(id: String) async throws -> Int {
        let client = try await client(id: id)
        let actor = actor
        return try await store.revokeClient(id: id, audit: { count in
            NewAuditEvent(actor: actor, action: "client.revoke", serverID: client.serverID, clientID: id, detail: "\(count) grant(s) revoked")
        }, at: clock.now())
    }

    // MARK: Grants

    public func grants(_ query: GrantQuery) async throws -> Page<Grant> {
        if let slug = query.serverSlug { _ = try await server(slug: slug) }
        return try await store.grants(query, now: clock.now())
    }

    /// How many grants `query` selects, counting no further than `limit` (so a count of millions stays cheap).
    public func countGrants(_ query: GrantQuery, upTo limit: Int) async throws -> Int {
        if let slug = query.serverSlug { _ = try await server(slug: slug) }
        return try await store.countGrants(query, upTo: limit, now: clock.now())
    }

    public func grant(id: Int64) async throws -> Grant {
        guard let grant = try await store.grant(id: id) else { throw TollgateError.notFound("no grant \(id)") }
        return grant
    }

    /// Everything about one grant: status, refreshability, expiries, refresh history, and its last refused
    /// requests and failed refreshes (`problemLimit` of each, however old: support's first question).
    public func grantDetail(id: Int64, historyLimit: Int = 50, problemLimit: Int = 10) async throws -> GrantDetail {
        let grant = try await grant(id: id)
        let now = clock.now()
        async let events = store.auditEvents(grantID: id, since: nil, limit: historyLimit, before: nil)
        async let refusals = store.auditEvents(.refusals(grantID: id, limit: problemLimit))
        async let refreshErrors = store.auditEvents(.refreshErrors(grantID: id, limit: problemLimit))
        let history = try await events
        return GrantDetail(grant: grant, status: grant.status(at: now), refreshability: grant.refreshability,
                           refreshHistory: history.filter { $0.action.hasPrefix("upstream.refresh") }, events: history,
                           refusals: try await refusals, refreshErrors: try await refreshErrors)
    }

    /// Forces an upstream refresh through the same coordinator the gateway uses.
    ///
    /// It waits for the upstream's answer up to the coordinator's hard limit (not a caller's timeout): an
    /// admin tool that gave up and exited would throw away an answer the upstream may already have rotated.
    public func forceRefresh(grantID: Int64) async throws -> RefreshResult {
        let grant = try await grant(id: grantID)
        if case .notRefreshable(let reason) = grant.refreshability {
            throw TollgateError.invalidInput("grant \(grantID) cannot be refreshed: \(reason.rawValue)")
        }
        return await forceRefresh(grant)
    }

    /// The forced refresh of a grant already read: one path for single and bulk refreshes.
    func forceRefresh(_ grant: Grant) async -> RefreshResult {
        await refresher.refresh(grantID: grant.id, force: true, actor: actor, waitUpTo: refresher.longestRefresh)
    }

    /// Revokes a grant; with `upstream`, first revokes its upstream refresh (or access) token at the provider.
    /// Returns a note about the upstream revocation, if one was attempted.
    public func revokeGrant(id: Int64, upstream revokeUpstream: Bool = false) async throws -> String? {
        try await revoke(try await grant(id: id), upstream: revokeUpstream, reason: "revoked by an admin")
    }

    /// The revocation of a grant already read: one path for single and bulk revocations. `reason` goes
    /// into the grant's audit event.
    func revoke(_ grant: Grant, upstream revokeUpstream: Bool, reason: String) async throws -> String? {
        var note: String?
        if revokeUpstream {
            note = await revokeAtUpstream(grant)
        }
        let changed = try await store.revokeGrant(id: grant.id, audit: NewAuditEvent(
            actor: actor, action: "grant.revoke", serverID: grant.serverID, grantID: grant.id, clientID: grant.clientID,
            detail: reason + (note.map { "; upstream: \($0)" } ?? "")), at: clock.now())
        if !changed && note == nil { return "the grant was already revoked" }
        return note
    }

    private func revokeAtUpstream(_ grant: Grant) async -> String {
        do {
            guard let access = try await tokens.providerAccess(serverID: grant.serverID) else { return "no provider" }
            guard access.provider.revocationEndpoint != nil else { return "the provider has no revocation endpoint" }
            guard let credential = try await refresher.credential(of: grant.id) else { return "no upstream credential" }
            if let refresh = credential.refreshToken {
                try await upstream.revoke(refresh, hint: "refresh_token", with: access)
                return "refresh token revoked"
            }
            try await upstream.revoke(credential.accessToken, hint: "access_token", with: access)
            return "access token revoked"
        } catch {
            return "revocation failed (\(error))"
        }
    }

    // MARK: Retention

    /// The default audit retention: 90 days.
    public static let defaultAuditRetention: TimeInterval = 90 * 86400
    /// How long expired proxy tokens and codes are kept after their expiry: a day, so a late presentation is
    /// still recognised as expired (and a rotated refresh token's reuse detected) rather than unknown.
    public static let tokenRetentionGrace: TimeInterval = 86400

    /// One purge batch (at most `limit` rows of each kind, each kind in its own short transaction) of what the
    /// retention policy lets go at the clock's now: see ``TollgateStore/purge(_:now:limit:dryRun:)``.
    public func purgeBatch(auditRetention: TimeInterval, limit: Int, dryRun: Bool) async throws -> PurgeCounts {
        let now = clock.now()
        return try await store.purge(PurgePolicy(tokenGrace: Self.tokenRetentionGrace, auditBefore: now.addingTimeInterval(-auditRetention)),
                                     now: now, limit: limit, dryRun: dryRun)
    }

    /// Everything the retention policy lets go, batch by batch (`dryRun`: counted only, nothing deleted).
    public func purge(auditRetention: TimeInterval, dryRun: Bool, batchSize: Int = 500) async throws -> PurgeCounts {
        if dryRun { return try await purgeBatch(auditRetention: auditRetention, limit: Int.max / 2, dryRun: true) }
        var total = PurgeCounts()
        while true {
            let batch = try await purgeBatch(auditRetention: auditRetention, limit: batchSize, dryRun: false)
            total = total + batch
            guard batch.largestKind == batchSize else { return total }
        }
    }

    // MARK: Metadata, keys, audit

    /// The public URLs `serve` announced in the store, or the default.
    public func publicURLs(override: String? = nil) async throws -> PublicURLs {
        if let override { return PublicURLs(base: override) }
        return PublicURLs(base: try await store.setting(PublicURLs.settingKey) ?? PublicURLs.defaultBase)
    }

    /// A well-known document of a server, byte for byte as `serve` returns it.
    public func wellKnown(serverSlug: String, _ document: WellKnown.Document, urls: PublicURLs) async throws -> Data {
        let server = try await server(slug: serverSlug)
        return WellKnown.document(document, server: server, provider: try await store.provider(serverID: server.id), urls: urls)
    }

    /// Adds a data key and re-seals every secret with it; nobody is logged out.
    public func rotateKeys() async throws -> (keyID: UInt32, resealed: Int) {
        let result = try await vault.rotate(at: clock.now()) { [actor] keyID in
            NewAuditEvent(actor: actor, action: "keys.rotate", detail: "key \(keyID) added and active; re-sealing stored values with it")
        }
        try await store.appendAudit(NewAuditEvent(actor: actor, action: "keys.reseal",
                                                  detail: "key \(result.keyID): \(result.resealed) value(s) re-sealed"), at: clock.now())
        return result
    }

    public func audit(grantID: Int64? = nil, since: Date? = nil, limit: Int = 100, before: Int64? = nil) async throws -> [AuditEvent] {
        try await store.auditEvents(grantID: grantID, since: since, limit: limit, before: before)
    }

    /// Audit events matching `query`, newest first.
    public func audit(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await store.auditEvents(query)
    }

    /// How each server's upstream refreshes went over the last `period` (default an hour), by server id.
    public func refreshHealth(over period: TimeInterval = 3600) async throws -> [Int64: RefreshHealth] {
        let health = try await store.refreshHealth(since: clock.now().addingTimeInterval(-period))
        return Dictionary(health.map { ($0.serverID, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The longest token lifetime an admin may configure.
    public static let maximumLifetime: TimeInterval = 10 * 365 * 86400

    static func requireHTTPURL(_ s: String, _ what: String) throws {
        guard let url = URL(string: s), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw TollgateError.invalidInput("\(what) must be an absolute http(s) URL")
        }
    }
}

/// One grant in full, for `grant show` and the console's detail view.
public struct GrantDetail: Sendable {
    public var grant: Grant
    public var status: GrantStatus
    public var refreshability: Refreshability
    public var refreshHistory: [AuditEvent]
    public var events: [AuditEvent]
    /// The last `request.refused` events of the grant, newest first.
    public var refusals: [AuditEvent]
    /// The last failed upstream refreshes of the grant, newest first.
    public var refreshErrors: [AuditEvent]
}
