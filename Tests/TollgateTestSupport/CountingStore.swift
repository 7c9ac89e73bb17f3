import Foundation
import Synchronization
import TollgateCore

/// A store that forwards every call to another one and counts the calls by requirement name, so a test can
/// tell how many round trips a piece of core logic makes (for example one upstream refresh).
public final class CountingStore: TollgateStore {
    /// The store every call goes to.
    public let base: any TollgateStore
    private let counts = Mutex<[String: Int]>([:])

    public init(_ base: any TollgateStore) { self.base = base }

    /// The calls made so far, by requirement name (`grant(id:)`, `acquireRefreshLease(grantID:owner:until:now:replacing:)`, …).
    public var calls: [String: Int] { counts.withLock { $0 } }
    /// How many calls were made so far, of any requirement.
    public var totalCalls: Int { counts.withLock { $0.values.reduce(0, +) } }
    /// Forgets the calls counted so far.
    public func resetCounts() { counts.withLock { $0 = [:] } }

    private func counted<T>(_ name: String = #function, _ call: () async throws -> T) async rethrows -> T {
        counts.withLock { $0[name, default: 0] += 1 }
        return try await call()
    }

    public func encryptionKeys() async throws -> [StoredKey] { try await counted { try await base.encryptionKeys() } }
    public func addEncryptionKey(id: UInt32, wrapped: Data, audit: NewAuditEvent?, at: Date) async throws {
        try await counted { try await base.addEncryptionKey(id: id, wrapped: wrapped, audit: audit, at: at) }
    }
    public func resealBatch(after cursor: ResealCursor?, limit: Int,
                            _ reseal: @escaping @Sendable (Data, SealContext) throws -> Data?) async throws -> ResealBatch {
        try await counted { try await base.resealBatch(after: cursor, limit: limit, reseal) }
    }
    public func createServer(_ server: NewServer, audit: NewAuditEvent, at: Date) async throws -> Server {
        try await counted { try await base.createServer(server, audit: audit, at: at) }
    }
    public func server(slug: String) async throws -> Server? { try await counted { try await base.server(slug: slug) } }
    public func server(id: Int64) async throws -> Server? { try await counted { try await base.server(id: id) } }
    public func servers() async throws -> [Server] { try await counted { try await base.servers() } }
    public func removeServer(slug: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int {
        try await counted { try await base.removeServer(slug: slug, audit: audit, at: at) }
    }
    public func setServerPolicy(slug: String, _ policy: ServerPolicy, audit: NewAuditEvent, at: Date) async throws -> Server {
        try await counted { try await base.setServerPolicy(slug: slug, policy, audit: audit, at: at) }
    }
    public func createProvider(serverID: Int64, _ provider: NewProvider, resolved: ResolvedEndpoints,
                               seal: @escaping @Sendable (Int64) throws -> Data?, audit: NewAuditEvent, at: Date) async throws -> Provider {
        try await counted { try await base.createProvider(serverID: serverID, provider, resolved: resolved, seal: seal, audit: audit, at: at) }
    }
    public func provider(serverID: Int64) async throws -> Provider? { try await counted { try await base.provider(serverID: serverID) } }
    public func providers() async throws -> [Provider] { try await counted { try await base.providers() } }
    public func sealedProviderSecret(providerID: Int64) async throws -> Data? {
        try await counted { try await base.sealedProviderSecret(providerID: providerID) }
    }
    public func setProviderError(providerID: Int64, _ message: String?, at: Date) async throws {
        try await counted { try await base.setProviderError(providerID: providerID, message, at: at) }
    }
    public func createClient(_ client: Client, secretHash: Data?, audit: NewAuditEvent) async throws {
        try await counted { try await base.createClient(client, secretHash: secretHash, audit: audit) }
    }
    public func client(id: String) async throws -> Client? { try await counted { try await base.client(id: id) } }
    public func clientSecretHash(id: String) async throws -> Data? { try await counted { try await base.clientSecretHash(id: id) } }
    public func clients(serverID: Int64?, limit: Int, after: String?) async throws -> Page<Client> {
        try await counted { try await base.clients(serverID: serverID, limit: limit, after: after) }
    }
    public func revokeClient(id: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int {
        try await counted { try await base.revokeClient(id: id, audit: audit, at: at) }
    }
    public func saveMetadataDocumentClient(_ client: Client, audit: NewAuditEvent, at: Date) async throws -> Client {
        try await counted { try await base.saveMetadataDocumentClient(client, audit: audit, at: at) }
    }
    public func recordMetadataDocumentFailure(clientID: String, _ message: String, at: Date) async throws {
        try await counted { try await base.recordMetadataDocumentFailure(clientID: clientID, message, at: at) }
    }
    public func deleteUnusedClients(createdBefore cutoff: Date, limit: Int, now: Date,
                                    audit: @escaping @Sendable (Int) -> NewAuditEvent) async throws -> Int {
        try await counted { try await base.deleteUnusedClients(createdBefore: cutoff, limit: limit, now: now, audit: audit) }
    }
    public func createIntrospectionCredential(_ credential: IntrospectionCredential, secretHash: Data, audit: NewAuditEvent) async throws {
        try await counted { try await base.createIntrospectionCredential(credential, secretHash: secretHash, audit: audit) }
    }
    public func introspectionCredential(id: String) async throws -> IntrospectionCredential? {
        try await counted { try await base.introspectionCredential(id: id) }
    }
    public func introspectionCredentialSecretHash(id: String) async throws -> Data? {
        try await counted { try await base.introspectionCredentialSecretHash(id: id) }
    }
    public func introspectionCredentials(serverID: Int64) async throws -> [IntrospectionCredential] {
        try await counted { try await base.introspectionCredentials(serverID: serverID) }
    }
    public func revokeIntrospectionCredential(id: String, audit: NewAuditEvent, at: Date) async throws -> Bool {
        try await counted { try await base.revokeIntrospectionCredential(id: id, audit: audit, at: at) }
    }
    public func insertPendingAuthorization(_ pending: PendingAuthorization) async throws {
        try await counted { try await base.insertPendingAuthorization(pending) }
    }
    public func updateProvider(id: Int64, clientID: String, sealedSecret: Data?, scopes: [String], audit: NewAuditEvent,
                               at: Date) async throws -> Provider {
        try await counted { try await base.updateProvider(id: id, clientID: clientID, sealedSecret: sealedSecret, scopes: scopes, audit: audit, at: at) }
    }
    public func deleteProvider(id: Int64, audit: NewAuditEvent, at: Date) async throws {
        try await counted { try await base.deleteProvider(id: id, audit: audit, at: at) }
    }
    public func takePendingAuthorization(stateHash: Data, browserBindingHash: Data?, serverID: Int64?) async throws -> PendingAuthorizationTake {
        try await counted { try await base.takePendingAuthorization(stateHash: stateHash, browserBindingHash: browserBindingHash, serverID: serverID) }
    }
    public func createGrant(_ grant: NewGrant, seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                            audit: NewAuditEvent, at: Date) async throws -> Int64 {
        try await counted { try await base.createGrant(grant, seal: seal, code: code, audit: audit, at: at) }
    }
    public func extendGrant(serverID: Int64, clientID: String, subject: String, scopes: [String],
                            seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                            audit: @escaping @Sendable ([String], [String]) -> NewAuditEvent, at: Date) async throws -> Int64? {
        try await counted {
            try await base.extendGrant(serverID: serverID, clientID: clientID, subject: subject, scopes: scopes, seal: seal, code: code, audit: audit, at: at)
        }
    }
    public func grant(id: Int64) async throws -> Grant? { try await counted { try await base.grant(id: id) } }
    public func grants(_ query: GrantQuery, now: Date) async throws -> Page<Grant> { try await counted { try await base.grants(query, now: now) } }
    public func countGrants() async throws -> Int { try await counted { try await base.countGrants() } }
    public func countGrants(_ query: GrantQuery, upTo limit: Int, now: Date) async throws -> Int {
        try await counted { try await base.countGrants(query, upTo: limit, now: now) }
    }
    public func sealedCredential(grantID: Int64) async throws -> SealedCredential? {
        try await counted { try await base.sealedCredential(grantID: grantID) }
    }
    public func authorizationCode(hash: Data) async throws -> AuthorizationCodeRecord? {
        try await counted { try await base.authorizationCode(hash: hash) }
    }
    public func redeemCode(hash: Data, at: Date) async throws -> CodeRedemption { try await counted { try await base.redeemCode(hash: hash, at: at) } }
    public func insertTokens(grantID: Int64, clientID: String, _ tokens: [NewToken], at: Date) async throws {
        try await counted { try await base.insertTokens(grantID: grantID, clientID: clientID, tokens, at: at) }
    }
    public func token(hash: Data) async throws -> TokenRecord? { try await counted { try await base.token(hash: hash) } }
    public func tokenContext(hash: Data) async throws -> TokenContext? { try await counted { try await base.tokenContext(hash: hash) } }
    public func rotateRefreshToken(old: Data, replacement: Data, newTokens: [NewToken], grantID: Int64,
                                   clientID: String, at: Date, pruningBefore: Date?) async throws -> Bool {
        try await counted {
            try await base.rotateRefreshToken(old: old, replacement: replacement, newTokens: newTokens, grantID: grantID, clientID: clientID,
                                              at: at, pruningBefore: pruningBefore)
        }
    }
    public func revokeToken(hash: Data, at: Date) async throws { try await counted { try await base.revokeToken(hash: hash, at: at) } }
    public func revokeGrant(id: Int64, audit: NewAuditEvent, at: Date) async throws -> Bool {
        try await counted { try await base.revokeGrant(id: id, audit: audit, at: at) }
    }
    public func acquireRefreshLease(grantID: Int64, owner: String, until: Date, now: Date,
                                    replacing staleOwner: String?) async throws -> RefreshLeaseAcquisition? {
        try await counted { try await base.acquireRefreshLease(grantID: grantID, owner: owner, until: until, now: now, replacing: staleOwner) }
    }
    public func renewRefreshLease(grantID: Int64, owner: String, until: Date, now: Date) async throws -> Bool {
        try await counted { try await base.renewRefreshLease(grantID: grantID, owner: owner, until: until, now: now) }
    }
    public func releaseRefreshLease(grantID: Int64, owner: String) async throws {
        try await counted { try await base.releaseRefreshLease(grantID: grantID, owner: owner) }
    }
    public func refreshLease(grantID: Int64) async throws -> RefreshLeaseState? { try await counted { try await base.refreshLease(grantID: grantID) } }
    public func finishRefresh(grantID: Int64, owner: String, expectedVersion: Int64, result: RefreshWrite,
                              audit: NewAuditEvent, at: Date) async throws -> Bool {
        try await counted {
            try await base.finishRefresh(grantID: grantID, owner: owner, expectedVersion: expectedVersion, result: result, audit: audit, at: at)
        }
    }
    public func appendAudit(_ event: NewAuditEvent, at: Date) async throws { try await counted { try await base.appendAudit(event, at: at) } }
    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await counted { try await base.auditEvents(query) }
    }
    public func refreshHealth(since: Date) async throws -> [RefreshHealth] {
        try await counted { try await base.refreshHealth(since: since) }
    }
    public func purge(_ policy: PurgePolicy, now: Date, limit: Int, dryRun: Bool) async throws -> PurgeCounts {
        try await counted { try await base.purge(policy, now: now, limit: limit, dryRun: dryRun) }
    }
    public func openSnapshot() async throws -> any StoreSnapshot { try await counted { try await base.openSnapshot() } }
    public func importRows(_ table: StoreTable, _ rows: [[StoreValue]]) async throws { try await counted { try await base.importRows(table, rows) } }
    public func finishImport() async throws { try await counted { try await base.finishImport() } }
    public func setting(_ key: String) async throws -> String? { try await counted { try await base.setting(key) } }
    public func setSetting(_ key: String, _ value: String?) async throws { try await counted { try await base.setSetting(key, value) } }
    public func dataVersion() async throws -> Int64 { try await counted { try await base.dataVersion() } }
    public var displayName: String { base.displayName }
    public func close() async { await base.close() }
}
