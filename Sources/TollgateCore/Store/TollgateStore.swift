import Foundation

/// Everything the core keeps, behind one interface.
///
/// Each method is one atomic step: single statements or one transaction inside the implementation.
/// Compare-and-set methods (`redeemCode`, `rotateRefreshToken`, `acquireRefreshLease`, …) say in their
/// return value whether they won, so the rules built on them stay correct with many processes sharing
/// one store. No SQL or SQLite type appears here; a PostgreSQL store can implement the same protocol.
public protocol TollgateStore: Sendable {
    // MARK: Keys
    /// The stored wrapped data-encryption keys, oldest first.
    func encryptionKeys() throws -> [StoredKey]
    /// Adds a wrapped data key and makes it the active one.
    func addEncryptionKey(id: UInt32, wrapped: Data, at: Date) throws
    /// Re-seals every stored ciphertext in one transaction with `reseal(old, context)`.
    func resealAll(_ reseal: (Data, SealContext) throws -> Data) throws -> Int

    // MARK: Servers and providers
    func createServer(_ server: NewServer, at: Date) throws -> Server
    func server(slug: String) throws -> Server?
    func server(id: Int64) throws -> Server?
    func servers() throws -> [Server]
    /// Removes a server with its provider, clients and grants; returns how many grants went with it.
    func removeServer(slug: String) throws -> Int
    /// Adds the provider of a server; throws `.conflict` when the server already has one.
    func createProvider(serverID: Int64, _ provider: NewProvider, resolved: ResolvedEndpoints,
                        seal: (Int64) throws -> Data?, at: Date) throws -> Provider
    func provider(serverID: Int64) throws -> Provider?
    func providers() throws -> [Provider]
    /// The sealed client secret of a provider, if it has one.
    func sealedProviderSecret(providerID: Int64) throws -> Data?
    /// Records (or clears, with `nil`) the provider's last configuration error.
    func setProviderError(providerID: Int64, _ message: String?, at: Date) throws

    // MARK: Clients
    func createClient(_ client: Client, secretHash: Data?) throws
    func client(id: String) throws -> Client?
    func clientSecretHash(id: String) throws -> Data?
    func clients(serverID: Int64?, limit: Int, after: String?) throws -> Page<Client>
    /// Marks a client revoked and revokes all its grants; returns the number of grants revoked.
    func revokeClient(id: String, at: Date) throws -> Int

    /// Deletes up to `limit` dynamically registered clients created before `cutoff` that were never used:
    /// no grant (of any state) and no pending authorization still valid at `now`. Admin-registered clients
    /// are never deleted. Returns how many went.
    func deleteUnusedDynamicClients(createdBefore cutoff: Date, limit: Int, now: Date) throws -> Int

    // MARK: Introspection credentials
    /// Stores a new introspection credential with the SHA-256 of its secret.
    func createIntrospectionCredential(_ credential: IntrospectionCredential, secretHash: Data) throws
    /// An introspection credential by id, revoked or not; `nil` if unknown.
    func introspectionCredential(id: String) throws -> IntrospectionCredential?
    /// The SHA-256 of an introspection credential's secret; `nil` if unknown.
    func introspectionCredentialSecretHash(id: String) throws -> Data?
    /// The introspection credentials of a server, oldest first.
    func introspectionCredentials(serverID: Int64) throws -> [IntrospectionCredential]
    /// Marks an introspection credential revoked; `false` if it already was. Throws `.notFound` for an unknown id.
    func revokeIntrospectionCredential(id: String, at: Date) throws -> Bool

    // MARK: Authorizations in progress
    func insertPendingAuthorization(_ pending: PendingAuthorization) throws
    /// Takes a pending authorization exactly once (it is deleted), and only for the browser it is bound to:
    /// deciding and deleting is one atomic step, so a presentation with another (or no, `nil`) binding leaves it in place.
    func takePendingAuthorization(stateHash: Data, browserBindingHash: Data?) throws -> PendingAuthorizationTake

    // MARK: Grants, codes and tokens
    /// Creates a grant with its upstream credential and its single-use code in one transaction.
    func createGrant(_ grant: NewGrant, seal: (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                     audit: NewAuditEvent, at: Date) throws -> Int64
    func grant(id: Int64) throws -> Grant?
    func grants(_ query: GrantQuery, now: Date) throws -> Page<Grant>
    func countGrants() throws -> Int
    /// How many grants `query` selects (its sort and paging ignored), counting no further than `limit`.
    func countGrants(_ query: GrantQuery, upTo limit: Int, now: Date) throws -> Int
    /// The sealed upstream credential of a grant.
    func sealedCredential(grantID: Int64) throws -> SealedCredential?
    /// A stored authorization code by its hash, used or not; reading it changes nothing.
    func authorizationCode(hash: Data) throws -> AuthorizationCodeRecord?
    /// Marks a code used if it was not (compare-and-set); tells which case it was. Call it only once the
    /// presentation has been checked against ``authorizationCode(hash:)``: redeeming consumes the code.
    func redeemCode(hash: Data, at: Date) throws -> CodeRedemption
    /// Stores newly issued tokens of a grant and its newest proxy access expiry.
    func insertTokens(grantID: Int64, clientID: String, _ tokens: [NewToken], at: Date) throws
    /// A token by its hash.
    func token(hash: Data) throws -> TokenRecord?
    /// A token, its grant and the grant's sealed credential in one read: the hot path of validation.
    func tokenContext(hash: Data) throws -> TokenContext?
    /// Rotates a refresh token: if `old` is unrotated and unrevoked, marks it rotated (successor `replacement`),
    /// revokes the grant's other access tokens and stores the new ones. `false` if another rotation won.
    func rotateRefreshToken(old: Data, replacement: Data, newTokens: [NewToken], grantID: Int64,
                            clientID: String, at: Date) throws -> Bool
    /// Revokes one token; revoking a refresh token revokes the grant's access tokens too.
    func revokeToken(hash: Data, at: Date) throws
    /// Revokes a grant and every token of it, writing `audit` in the same transaction; `false` if already revoked.
    func revokeGrant(id: Int64, audit: NewAuditEvent, at: Date) throws -> Bool

    // MARK: Upstream refresh
    /// Takes the refresh lease of a grant if it is free, expired, already `owner`'s, or held by `staleOwner`
    /// (a holder the caller knows to be dead, e.g. a process of this host that no longer exists).
    ///
    /// The lease records that an upstream call is about to be sent under it. When the previous holder had
    /// sent one and never finished (it crashed or lost its lease), the acquisition says when, so a later
    /// `invalid_grant` can be explained. Atomic: one transaction; `nil` when another live holder has it.
    func acquireRefreshLease(grantID: Int64, owner: String, until: Date, now: Date, replacing staleOwner: String?) throws -> RefreshLeaseAcquisition?
    /// Extends a lease `owner` holds to `until` (the holder's heartbeat while its upstream call runs);
    /// `false` if `owner` no longer holds it.
    func renewRefreshLease(grantID: Int64, owner: String, until: Date) throws -> Bool
    /// Gives up a lease without writing a result.
    func releaseRefreshLease(grantID: Int64, owner: String) throws
    /// The lease and version of a grant, for waiters.
    func refreshLease(grantID: Int64) throws -> RefreshLeaseState?
    /// Writes the outcome of a refresh, bumps the version, releases `owner`'s lease and appends `audit`, all in
    /// one transaction.
    ///
    /// New upstream tokens (`.refreshed`) are always stored unless the grant was revoked or removed: they are
    /// the only copy of what the upstream just issued (it may have rotated the refresh token), so they win
    /// even when the lease was lost meanwhile; the grant becomes active again. Every other outcome is written
    /// only if `owner` still holds the lease and the version is `expectedVersion`. Returns whether it wrote.
    func finishRefresh(grantID: Int64, owner: String, expectedVersion: Int64, result: RefreshWrite,
                       audit: NewAuditEvent, at: Date) throws -> Bool

    // MARK: Audit
    func appendAudit(_ event: NewAuditEvent, at: Date) throws
    func auditEvents(grantID: Int64?, since: Date?, limit: Int, before: Int64?) throws -> [AuditEvent]

    /// A named setting (for example the public URL `serve` announced); `nil` if unset.
    func setting(_ key: String) throws -> String?
    func setSetting(_ key: String, _ value: String?) throws

    /// A number that changes whenever another connection commits (for cheap change polling).
    func dataVersion() throws -> Int64
}

extension TollgateStore {
    /// Counts by paging through the listing: correct for any store, but it reads up to `limit` grants.
    public func countGrants(_ query: GrantQuery, upTo limit: Int, now: Date) throws -> Int {
        var q = query
        q.before = nil
        q.fromEnd = false
        q.after = nil
        q.limit = min(max(1, limit), 10_000)
        var count = 0
        while count < limit {
            let page = try grants(q, now: now)
            count += page.items.count
            guard let next = page.nextCursor else { break }
            q.after = next
        }
        return min(count, limit)
    }
}

/// A wrapped data-encryption key as stored.
public struct StoredKey: Sendable {
    public var id: UInt32
    public var wrapped: Data
    public var createdAt: Date

    /// A wrapped data key as stored.
    public init(id: UInt32, wrapped: Data, createdAt: Date) {
        self.id = id
        self.wrapped = wrapped
        self.createdAt = createdAt
    }
}

/// Endpoints of a provider after OIDC discovery (or as given).
public struct ResolvedEndpoints: Sendable {
    public var issuer: String?
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    public var revocationEndpoint: String?
    public var userinfoEndpoint: String?
    public var supportsRefresh: Bool

    public init(issuer: String?, authorizationEndpoint: String, tokenEndpoint: String,
                revocationEndpoint: String?, userinfoEndpoint: String?, supportsRefresh: Bool) {
        self.issuer = issuer
        self.authorizationEndpoint = authorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.userinfoEndpoint = userinfoEndpoint
        self.supportsRefresh = supportsRefresh
    }
}

/// A grant about to be created.
public struct NewGrant: Sendable {
    public var serverID: Int64
    public var clientID: String
    public var subject: String?
    public var scopes: [String]
    public var resource: String
    public var upstream: UpstreamCredentialInfo

    /// A grant about to be created.
    public init(serverID: Int64, clientID: String, subject: String?, scopes: [String], resource: String,
                upstream: UpstreamCredentialInfo) {
        self.serverID = serverID
        self.clientID = clientID
        self.subject = subject
        self.scopes = scopes
        self.resource = resource
        self.upstream = upstream
    }
}

/// A grant's upstream tokens as stored: sealed.
public struct SealedCredential: Sendable, Equatable {
    public var accessToken: Data
    public var refreshToken: Data?
    public var info: UpstreamCredentialInfo
    public var version: Int64

    public init(accessToken: Data, refreshToken: Data?, info: UpstreamCredentialInfo, version: Int64 = 0) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.info = info
        self.version = version
    }
}

/// Who holds a grant's refresh lease, and the grant's version.
public struct RefreshLeaseState: Sendable, Equatable {
    public var owner: String?
    public var until: Date?
    public var version: Int64

    public init(owner: String?, until: Date?, version: Int64) {
        self.owner = owner
        self.until = until
        self.version = version
    }
}

/// A lease just taken.
public struct RefreshLeaseAcquisition: Sendable, Equatable {
    /// When an earlier holder sent an upstream refresh whose answer was never stored (it died or lost the
    /// lease); `nil` when every earlier attempt finished.
    public var interruptedAttemptAt: Date?

    public init(interruptedAttemptAt: Date?) { self.interruptedAttemptAt = interruptedAttemptAt }
}

/// What a finished refresh writes to its grant.
public enum RefreshWrite: Sendable {
    /// New upstream tokens (already sealed for this grant).
    case refreshed(SealedCredential)
    /// `invalid_grant`: the grant needs re-authorization; `reason` tells the admin what happened.
    case needsReauth(reason: String)
    /// Provider misconfigured: the grant is untouched but the outcome is recorded.
    case providerMisconfigured
    /// Transient failure: the grant is untouched; backoff until `notBefore`. With `answerLost`, the request
    /// may have been carried out upstream without its answer reaching Tollgate: the attempt is recorded as
    /// interrupted (see ``RefreshLeaseAcquisition/interruptedAttemptAt``).
    case transient(notBefore: Date, answerLost: Bool = false)
}

/// A token with its grant and the grant's sealed upstream credential.
public struct TokenContext: Sendable {
    public var token: TokenRecord
    public var grant: Grant
    public var sealed: SealedCredential?
    /// The grant's server's upstream MCP URL (read in the same query, so the gateway needs no second read).
    public var upstreamMCPURL: String

    /// A token with its grant, sealed credential and upstream MCP URL, as read together.
    public init(token: TokenRecord, grant: Grant, sealed: SealedCredential?, upstreamMCPURL: String) {
        self.token = token
        self.grant = grant
        self.sealed = sealed
        self.upstreamMCPURL = upstreamMCPURL
    }
}
