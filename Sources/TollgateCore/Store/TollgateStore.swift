import Foundation

/// Everything the core keeps, behind one interface.
///
/// Each method is one atomic step: single statements or one transaction inside the implementation.
/// Compare-and-set methods (`redeemCode`, `rotateRefreshToken`, `acquireRefreshLease`, …) say in their
/// return value whether they won, so the rules built on them stay correct with many processes sharing
/// one store. No SQL or SQLite type appears here; a PostgreSQL store can implement the same protocol.
public protocol TollgateStore: Sendable {
    // Every requirement is one atomic unit of work: one statement or one transaction, never a half-done
    // change visible to another process. Writes that an audit event records take that event and write it in
    // the same transaction. Errors are `TollgateError`: `.storeUnavailable` when the database cannot be
    // reached or stays busy beyond its timeout (PostgreSQL serialization failures and deadlocks are retried
    // first), `.damaged` for rows this build cannot read, `.conflict` for a unique key already taken, and the
    // codes named on a requirement. Times are stored to the millisecond.

    // MARK: Keys

    /// The stored wrapped data-encryption keys, oldest first (the newest is the active one).
    func encryptionKeys() async throws -> [StoredKey]
    /// Adds a wrapped data key (which becomes the active one) and writes `audit`, in one transaction.
    /// Throws `.conflict` when key `id` exists (another process added it at the same moment).
    func addEncryptionKey(id: UInt32, wrapped: Data, audit: NewAuditEvent?, at: Date) async throws
    /// Re-seals one batch of stored ciphertexts in one short transaction: up to `limit` rows after `cursor`
    /// (`nil`: from the start), in a fixed order over every sealed field (provider secrets, grants' upstream
    /// tokens, pending authorizations' upstream verifiers).
    ///
    /// `reseal(old, context)` returns the new ciphertext, or `nil` to leave a value as it is (already under the
    /// active key). A value is replaced only if it is still `old` (compare-and-set), so a refresh that stored
    /// new tokens meanwhile is never overwritten. Pass the returned cursor back until it is `nil`.
    func resealBatch(after cursor: ResealCursor?, limit: Int,
                     _ reseal: @escaping @Sendable (Data, SealContext) throws -> Data?) async throws -> ResealBatch

    // MARK: Servers and providers

    /// Creates a server and writes `audit` (its `serverID` set to the new server's) in one transaction.
    /// Throws `.conflict` when the slug is taken.
    func createServer(_ server: NewServer, audit: NewAuditEvent, at: Date) async throws -> Server
    /// A server by slug; `nil` if unknown.
    func server(slug: String) async throws -> Server?
    /// A server by id; `nil` if unknown.
    func server(id: Int64) async throws -> Server?
    /// Every server, by slug.
    func servers() async throws -> [Server]
    /// Removes a server with its provider, clients and grants, and writes `audit(grantsRemoved)`, in one
    /// transaction; returns how many grants went with it. Throws `.notFound` for an unknown slug.
    func removeServer(slug: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int
    /// Replaces the policy of the server `slug` and writes `audit` (its `serverID` set), in one transaction;
    /// returns the server as it now is. Throws `.notFound` for an unknown slug.
    func setServerPolicy(slug: String, _ policy: ServerPolicy, audit: NewAuditEvent, at: Date) async throws -> Server
    /// Adds the provider of a server, its client secret sealed by `seal(providerID)`, and writes `audit`, in one
    /// transaction. Throws `.conflict` when the server already has a provider (a server has exactly one).
    func createProvider(serverID: Int64, _ provider: NewProvider, resolved: ResolvedEndpoints,
                        seal: @escaping @Sendable (Int64) throws -> Data?, audit: NewAuditEvent, at: Date) async throws -> Provider
    /// Changes a provider's client id, client secret (`sealedSecret`, sealed for this provider; `nil` keeps the stored
    /// one) and scopes in place, clears its last error and writes `audit`, in one transaction. Grants are bound to the
    /// provider, not to its secret: none is touched. Throws `.notFound` for an unknown provider.
    func updateProvider(id: Int64, clientID: String, sealedSecret: Data?, scopes: [String], audit: NewAuditEvent, at: Date) async throws -> Provider
    /// Deletes a provider and writes `audit`, in one transaction; its server and grants stay. Throws `.notFound`.
    func deleteProvider(id: Int64, audit: NewAuditEvent, at: Date) async throws
    /// The provider of a server; `nil` if it has none yet.
    func provider(serverID: Int64) async throws -> Provider?
    /// Every provider.
    func providers() async throws -> [Provider]
    /// The sealed client secret of a provider, if it has one.
    func sealedProviderSecret(providerID: Int64) async throws -> Data?
    /// Records (or clears, with `nil`) the provider's last configuration error.
    func setProviderError(providerID: Int64, _ message: String?, at: Date) async throws

    // MARK: Clients

    /// Stores a client with the SHA-256 of its secret and writes `audit`, in one transaction.
    /// Throws `.conflict` when the id is taken.
    func createClient(_ client: Client, secretHash: Data?, audit: NewAuditEvent) async throws
    /// A client by id, revoked or not; `nil` if unknown.
    func client(id: String) async throws -> Client?
    /// The SHA-256 of a client's secret; `nil` for a public client or an unknown id.
    func clientSecretHash(id: String) async throws -> Data?
    /// One page of clients (of one server, or all), by id after the cursor `after`.
    func clients(serverID: Int64?, limit: Int, after: String?) async throws -> Page<Client>
    /// Marks a client revoked, revokes all its grants and their tokens and writes `audit(grantsRevoked)`, in one
    /// transaction; returns the number of grants revoked. Throws `.notFound` for an unknown id.
    func revokeClient(id: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int
    /// Deletes up to `limit` dynamically registered and metadata-document clients created before `cutoff` that were
    /// never used: no grant (of any state) and no pending authorization still valid at `now`. Admin-registered
    /// clients are never deleted, nor revoked metadata-document clients (the row keeps their URL blocked). Writes
    /// `audit(count)` in the same transaction when any went; returns how many went.
    func deleteUnusedClients(createdBefore cutoff: Date, limit: Int, now: Date,
                             audit: @escaping @Sendable (Int) -> NewAuditEvent) async throws -> Int
    /// Creates or updates the row of a metadata-document client (`client.metadataDocument` set) from a document
    /// fetched and accepted at `at`: name, redirect URIs and grant types as `client` says, last fetch `at`, the
    /// last error kept for the record but no longer current. An existing row keeps its `createdAt` and its
    /// `revokedAt` (a fetch never un-revokes). Writes `audit` only when the row is created, in the same
    /// transaction; returns the row as stored.
    func saveMetadataDocumentClient(_ client: Client, audit: NewAuditEvent, at: Date) async throws -> Client
    /// Records why the latest fetch of a metadata-document client's document failed; nothing for an unknown id.
    func recordMetadataDocumentFailure(clientID: String, _ message: String, at: Date) async throws

    // MARK: Introspection credentials

    /// Stores a new introspection credential with the SHA-256 of its secret and writes `audit`, in one transaction.
    func createIntrospectionCredential(_ credential: IntrospectionCredential, secretHash: Data, audit: NewAuditEvent) async throws
    /// An introspection credential by id, revoked or not; `nil` if unknown.
    func introspectionCredential(id: String) async throws -> IntrospectionCredential?
    /// The SHA-256 of an introspection credential's secret; `nil` if unknown.
    func introspectionCredentialSecretHash(id: String) async throws -> Data?
    /// The introspection credentials of a server, oldest first.
    func introspectionCredentials(serverID: Int64) async throws -> [IntrospectionCredential]
    /// Marks an introspection credential revoked and writes `audit`, in one transaction; `false` (and no audit)
    /// if it already was. Throws `.notFound` for an unknown id.
    func revokeIntrospectionCredential(id: String, audit: NewAuditEvent, at: Date) async throws -> Bool

    // MARK: Authorizations in progress

    /// Stores an authorization waiting for the user's consent and the upstream's callback.
    func insertPendingAuthorization(_ pending: PendingAuthorization) async throws
    /// Takes a pending authorization exactly once (it is deleted), and only for the browser it is bound to:
    /// deciding and deleting is one atomic step, so of many concurrent takers one wins and a presentation
    /// with another (or no, `nil`) binding leaves it in place.
    ///
    /// With `serverID`, only a pending authorization of that server is taken (the callback's server: a state that
    /// arrives at another server's callback is ``PendingAuthorizationTake/boundToAnotherServer`` and stays).
    func takePendingAuthorization(stateHash: Data, browserBindingHash: Data?, serverID: Int64?) async throws -> PendingAuthorizationTake

    // MARK: Grants, codes and tokens

    /// Creates a grant with its upstream credential (sealed by `seal(grantID)`), its single-use code and
    /// `audit` (its `grantID` set), in one transaction; returns the grant id.
    func createGrant(_ grant: NewGrant, seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                     audit: NewAuditEvent, at: Date) async throws -> Int64
    /// A re-authorization for more scopes by a user who already holds an active grant (same server, client and
    /// subject) whose scopes `scopes` strictly contains: extends the newest such grant instead of creating a
    /// second one, in one transaction. Its scopes become the union of its own (first, in their order) and
    /// `scopes` (see ``GrantScopes/extends(_:with:)``); its upstream credential is replaced by `seal(grantID)` (the
    /// refresh bookkeeping cleared: failures, backoff, lease, interruption; the version bumped); `code` is stored
    /// for it and `audit(oldScopes, newScopes)` written (its `grantID` set). Returns the grant id, or `nil` with
    /// nothing written when there is no such grant.
    func extendGrant(serverID: Int64, clientID: String, subject: String, scopes: [String],
                     seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                     audit: @escaping @Sendable (_ oldScopes: [String], _ newScopes: [String]) -> NewAuditEvent, at: Date) async throws -> Int64?
    /// A grant by id; `nil` if unknown.
    func grant(id: Int64) async throws -> Grant?
    /// One page of grants: filtered, in `query.sort` order, keyset-paged (an index scan at any table size).
    /// The status filter follows ``Grant/status(at:)`` at `now`.
    func grants(_ query: GrantQuery, now: Date) async throws -> Page<Grant>
    /// How many grants there are.
    func countGrants() async throws -> Int
    /// How many grants `query` selects (its sort and paging ignored), counting no further than `limit`.
    func countGrants(_ query: GrantQuery, upTo limit: Int, now: Date) async throws -> Int
    /// The sealed upstream credential of a grant.
    func sealedCredential(grantID: Int64) async throws -> SealedCredential?
    /// A stored authorization code by its hash, used or not; reading it changes nothing.
    func authorizationCode(hash: Data) async throws -> AuthorizationCodeRecord?
    /// Marks a code used if it was not (compare-and-set: of many concurrent redeemers exactly one is
    /// `.redeemed`); tells which case it was. Call it only once the presentation has been checked against
    /// ``authorizationCode(hash:)``: redeeming consumes the code.
    func redeemCode(hash: Data, at: Date) async throws -> CodeRedemption
    /// Stores newly issued tokens of a grant and its newest proxy access expiry, in one transaction.
    func insertTokens(grantID: Int64, clientID: String, _ tokens: [NewToken], at: Date) async throws
    /// A token by its hash.
    func token(hash: Data) async throws -> TokenRecord?
    /// A token, its grant, the grant's sealed credential and its server's upstream MCP URL in one read:
    /// the hot path of validation.
    func tokenContext(hash: Data) async throws -> TokenContext?
    /// Rotates a refresh token: if `old` is unrotated and unrevoked, marks it rotated (successor `replacement`),
    /// revokes the grant's other access tokens and stores the new ones, in one transaction. Compare-and-set:
    /// `false` if another rotation won (of many concurrent rotations exactly one returns `true`).
    ///
    /// With `pruningBefore`, the same transaction deletes the grant's refresh tokens rotated before it and its
    /// access tokens revoked before it: their reuse is recognised from the token itself (``RefreshTokenFamily``),
    /// so a grant keeps a small constant number of token rows however often it is refreshed.
    func rotateRefreshToken(old: Data, replacement: Data, newTokens: [NewToken], grantID: Int64,
                            clientID: String, at: Date, pruningBefore: Date?) async throws -> Bool
    /// Revokes one token; revoking a refresh token revokes the grant's access tokens too (one transaction).
    func revokeToken(hash: Data, at: Date) async throws
    /// Revokes a grant and every token of it, writing `audit` in the same transaction; `false` (and no audit)
    /// if it was already revoked. Throws `.notFound` for an unknown id.
    func revokeGrant(id: Int64, audit: NewAuditEvent, at: Date) async throws -> Bool

    // MARK: Upstream refresh

    /// Takes the refresh lease of a grant if it is free, expired, already `owner`'s, or held by `staleOwner`
    /// (a holder the caller knows to be dead, e.g. a process of this host that no longer exists), for
    /// `until - now`.
    ///
    /// Expiry is judged by the store's clock where it has one: PostgreSQL holds the lease until its own
    /// `now()` plus that duration and compares with its own `now()`, so instances with skewed clocks never
    /// take a live lease; SQLite (one host) uses the given times. The lease records that an upstream call is
    /// about to be sent under it. When the previous holder had sent one and never finished (it crashed or
    /// lost its lease), the acquisition says when, so a later `invalid_grant` can be explained.
    /// Compare-and-set in one transaction: `nil` when another live holder has it, or the grant does not exist.
    ///
    /// The acquisition brings what a refresh under the lease needs, read in the same transaction (PostgreSQL:
    /// the same statement) as the lease is taken, so no other holder's write falls between: the grant (its
    /// version as it is now), its sealed upstream credential, its server's provider and the provider's sealed
    /// client secret. The refresh then needs no further read before its upstream call. Errors are only the
    /// general ones (`.storeUnavailable`; `.damaged` for a row this build cannot read).
    func acquireRefreshLease(grantID: Int64, owner: String, until: Date, now: Date, replacing staleOwner: String?) async throws -> RefreshLeaseAcquisition?
    /// Extends a lease `owner` holds by `until - now` (the holder's heartbeat while its upstream call runs);
    /// `false` if `owner` no longer holds it.
    func renewRefreshLease(grantID: Int64, owner: String, until: Date, now: Date) async throws -> Bool
    /// Gives up a lease without writing a result.
    func releaseRefreshLease(grantID: Int64, owner: String) async throws
    /// The lease and version of a grant, for waiters; `nil` for an unknown grant.
    func refreshLease(grantID: Int64) async throws -> RefreshLeaseState?
    /// Writes the outcome of a refresh, bumps the version, releases `owner`'s lease and appends `audit`, all in
    /// one transaction.
    ///
    /// New upstream tokens (`.refreshed`) are always stored unless the grant was revoked or removed: they are
    /// the only copy of what the upstream just issued (it may have rotated the refresh token), so they win
    /// even when the lease was lost meanwhile; the grant becomes active again. Every other outcome is written
    /// only if `owner` still holds the lease and the version is `expectedVersion`. Returns whether it wrote.
    func finishRefresh(grantID: Int64, owner: String, expectedVersion: Int64, result: RefreshWrite,
                       audit: NewAuditEvent, at: Date) async throws -> Bool

    // MARK: Audit

    /// Appends an audit event that records no change of its own (a refusal, a failed attempt).
    func appendAudit(_ event: NewAuditEvent, at: Date) async throws
    /// Audit events matching `query`, newest first (index-backed; see ``AuditQuery``).
    func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent]
    /// Per server, how the `upstream.refresh*` attempts recorded since `since` went: counts, latency, last
    /// error. One statement over the `(action, at)` index; servers without attempts are absent.
    func refreshHealth(since: Date) async throws -> [RefreshHealth]

    // MARK: Retention

    /// Deletes (or with `dryRun`, only counts) what is no longer needed at `now`: proxy tokens expired more
    /// than `policy.tokenGrace` ago (rotated refresh tokens are kept until then, for reuse detection), codes
    /// expired more than `policy.tokenGrace` ago, pending authorizations past their expiry, and audit events
    /// before `policy.auditBefore`. At most `limit` rows of each kind per call, each kind in its own short
    /// transaction; call again while a count equals `limit`.
    func purge(_ policy: PurgePolicy, now: Date, limit: Int, dryRun: Bool) async throws -> PurgeCounts

    // MARK: Copying (`tollgate store copy`, ``StoreCopier``)

    /// A consistent read-only snapshot of the whole store: later commits (of a `serve` still running) are not in
    /// it. Close it when done.
    func openSnapshot() async throws -> any StoreSnapshot
    /// Inserts rows copied from another store into `table` as they are (ids and keys kept), in one transaction.
    /// Throws `.conflict` when a key exists already.
    func importRows(_ table: StoreTable, _ rows: [[StoreValue]]) async throws
    /// Ends an import: id generators continue after the copied ids.
    func finishImport() async throws

    // MARK: Settings and changes

    /// A named setting (for example the public URL `serve` announced); `nil` if unset.
    func setting(_ key: String) async throws -> String?
    /// Sets (or with `nil` removes) a named setting.
    func setSetting(_ key: String, _ value: String?) async throws

    /// A number that changes whenever another process commits: SQLite's `data_version`; on PostgreSQL a count
    /// of the change notifications received on a dedicated `LISTEN` connection. Cheap: no table is read.
    func dataVersion() async throws -> Int64

    /// Where the store lives, for logs and errors: a file path, or `postgres://host:port/db` (never a user
    /// name or password).
    var displayName: String { get }

    /// Closes connections; the store is not used afterwards.
    func close() async
}

extension TollgateStore {
    /// Counts by paging through the listing: correct for any store, but it reads up to `limit` grants.
    public func countGrants(_ query: GrantQuery, upTo limit: Int, now: Date) async throws -> Int {
        var q = query
        q.before = nil
        q.fromEnd = false
        q.after = nil
        q.limit = min(max(1, limit), 10_000)
        var count = 0
        while count < limit {
            let page = try await grants(q, now: now)
            count += page.items.count
            guard let next = page.nextCursor else { break }
            q.after = next
        }
        return min(count, limit)
    }

    /// Audit events, newest first: of one grant or all, since a time, before the event id `before`.
    public func auditEvents(grantID: Int64?, since: Date?, limit: Int, before: Int64?) async throws -> [AuditEvent] {
        try await auditEvents(AuditQuery(grantID: grantID, since: since, before: before, limit: limit))
    }
}

/// Where a run of ``TollgateStore/resealBatch(after:limit:_:)`` stopped: opaque, pass it back.
public struct ResealCursor: Sendable, Equatable {
    /// Which sealed field (0 providers, 1 grants, 2 pending authorizations).
    public var field: Int
    /// The last row key done in that field.
    public var after: String

    public init(field: Int, after: String) {
        self.field = field
        self.after = after
    }
}

/// One batch of a re-seal.
public struct ResealBatch: Sendable, Equatable {
    /// Values replaced in this batch.
    public var resealed: Int
    /// Where to go on; `nil` when every field is done.
    public var next: ResealCursor?

    public init(resealed: Int, next: ResealCursor?) {
        self.resealed = resealed
        self.next = next
    }
}

/// What ``TollgateStore/purge(_:now:limit:dryRun:)`` deletes.
public struct PurgePolicy: Sendable, Equatable {
    /// How long after their expiry proxy tokens and codes are kept.
    public var tokenGrace: TimeInterval
    /// Audit events before this time go.
    public var auditBefore: Date

    public init(tokenGrace: TimeInterval, auditBefore: Date) {
        self.tokenGrace = tokenGrace
        self.auditBefore = auditBefore
    }
}

/// Rows purged (or, in a dry run, that would be), by kind.
public struct PurgeCounts: Sendable, Equatable, Codable {
    public var tokens = 0
    public var codes = 0
    public var pendingAuthorizations = 0
    public var auditEvents = 0

    public init(tokens: Int = 0, codes: Int = 0, pendingAuthorizations: Int = 0, auditEvents: Int = 0) {
        self.tokens = tokens
        self.codes = codes
        self.pendingAuthorizations = pendingAuthorizations
        self.auditEvents = auditEvents
    }

    /// Every kind together.
    public var total: Int { tokens + codes + pendingAuthorizations + auditEvents }
    /// The count of the kind with the most rows: a batch whose largest kind reached its limit may have left more.
    public var largestKind: Int { max(tokens, codes, pendingAuthorizations, auditEvents) }

    /// Counts added kind by kind.
    public static func + (a: PurgeCounts, b: PurgeCounts) -> PurgeCounts {
        PurgeCounts(tokens: a.tokens + b.tokens, codes: a.codes + b.codes,
                    pendingAuthorizations: a.pendingAuthorizations + b.pendingAuthorizations, auditEvents: a.auditEvents + b.auditEvents)
    }
}

/// A wrapped data-encryption key as stored.
public struct StoredKey: Sendable {
    public var id: UInt32
    public var wrapped: Data
    public var createdAt: Date

    /// Every stored property, as stored.
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

    /// Every stored property, as given (a store backend's tests create grants without the token service).
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

/// A lease just taken, with everything the refresh made under it needs, read in the same transaction.
public struct RefreshLeaseAcquisition: Sendable, Equatable {
    /// When an earlier holder sent an upstream refresh whose answer was never stored (it died or lost the
    /// lease); `nil` when every earlier attempt finished.
    public var interruptedAttemptAt: Date?
    /// The grant as it is under the lease: its version is the one ``TollgateStore/finishRefresh(grantID:owner:expectedVersion:result:audit:at:)``
    /// expects, and when it moved since an earlier read another holder has finished meanwhile.
    public var grant: Grant
    /// The grant's sealed upstream credential (with the grant's version); `nil` when none is stored.
    public var sealedCredential: SealedCredential?
    /// The provider of the grant's server; `nil` when the server has none.
    public var provider: Provider?
    /// The provider's sealed client secret; `nil` when it has none (or there is no provider).
    public var sealedProviderSecret: Data?

    /// Every stored property, as read.
    public init(interruptedAttemptAt: Date?, grant: Grant, sealedCredential: SealedCredential?, provider: Provider?,
                sealedProviderSecret: Data?) {
        self.interruptedAttemptAt = interruptedAttemptAt
        self.grant = grant
        self.sealedCredential = sealedCredential
        self.provider = provider
        self.sealedProviderSecret = sealedProviderSecret
    }
}

/// What a finished refresh writes to its grant.
public enum RefreshWrite: Sendable {
    /// New upstream tokens (already sealed for this grant), refreshed from the credential obtained at
    /// `replacingObtainedAt` (its ``UpstreamCredentialInfo/obtainedAt``, `nil` when unknown). They are stored
    /// whoever holds the lease, but only while the grant still holds that credential: when a re-authorization (or
    /// another holder's refresh) replaced it while the upstream answered, the newer credential stays and the write
    /// is refused, like one for a revoked grant.
    case refreshed(SealedCredential, replacingObtainedAt: Date?)
    /// `invalid_grant`: the grant needs re-authorization; `reason` tells the admin what happened.
    case needsReauth(reason: String)
    /// Provider misconfigured: the grant is untouched but the outcome is recorded; with `notBefore`, no refresh is
    /// sent before it (a refused client is not asked again on every request).
    case providerMisconfigured(notBefore: Date? = nil)
    /// Transient failure: the grant is untouched; backoff until `notBefore`. With `answerLost`, the request
    /// may have been carried out upstream without its answer reaching Tollgate: the attempt is recorded as
    /// interrupted (see ``RefreshLeaseAcquisition/interruptedAttemptAt``).
    case transient(notBefore: Date, answerLost: Bool = false)

    /// The outcome this write records on the grant.
    public var outcome: RefreshOutcome {
        switch self {
        case .refreshed: .succeeded
        case .needsReauth: .needsReauth
        case .providerMisconfigured: .providerMisconfigured
        case .transient: .transient
        }
    }
}

/// A token with its grant and the grant's sealed upstream credential.
public struct TokenContext: Sendable {
    public var token: TokenRecord
    public var grant: Grant
    public var sealed: SealedCredential?
    /// The grant's server's upstream MCP URL (read in the same query, so the gateway needs no second read).
    public var upstreamMCPURL: String
    /// The scope rules of the grant's server (read in the same query; see ``ScopeRules/stored(inPolicyJSON:)``).
    public var scopeRules: ScopeRules

    /// Every stored property, as stored.
    public init(token: TokenRecord, grant: Grant, sealed: SealedCredential? = nil, upstreamMCPURL: String, scopeRules: ScopeRules = ScopeRules()) {
        self.token = token
        self.grant = grant
        self.sealed = sealed
        self.upstreamMCPURL = upstreamMCPURL
        self.scopeRules = scopeRules
    }
}

extension TollgateStore {
    /// ``rotateRefreshToken(old:replacement:newTokens:grantID:clientID:at:pruningBefore:)`` without pruning.
    public func rotateRefreshToken(old: Data, replacement: Data, newTokens: [NewToken], grantID: Int64,
                                   clientID: String, at: Date) async throws -> Bool {
        try await rotateRefreshToken(old: old, replacement: replacement, newTokens: newTokens, grantID: grantID,
                                     clientID: clientID, at: at, pruningBefore: nil)
    }
}

extension TollgateStore {
    /// ``takePendingAuthorization(stateHash:browserBindingHash:serverID:)`` of any server.
    public func takePendingAuthorization(stateHash: Data, browserBindingHash: Data?) async throws -> PendingAuthorizationTake {
        try await takePendingAuthorization(stateHash: stateHash, browserBindingHash: browserBindingHash, serverID: nil)
    }
}
