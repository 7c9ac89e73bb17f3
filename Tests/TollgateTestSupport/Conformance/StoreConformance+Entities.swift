import Foundation
import TollgateCore

extension StoreConformance {
    /// Servers: create (audit with the new id), read by slug and id, list by slug, slug conflict, remove with its grants.
    public static func servers(_ backend: StoreBackend) async throws {
        try await run("servers", backend) { e, store, _ in
            let new = NewServer(slug: "files", name: "Files", upstreamMCPURL: "https://files.example/mcp", scopes: ["a", "b"],
                                accessTokenTTL: 120, refreshTokenIdleTTL: 3000, refreshTokenAbsoluteTTL: 9000)
            let at = Fixture.at(1.25)
            var expectedAudit = Fixture.audit("server.add", detail: "files")
            let before = try await Fixture.lastAuditID(store)
            let created = try await store.createServer(new, audit: expectedAudit, at: at)
            expectedAudit.serverID = created.id
            e.equal(try await Fixture.audit(after: before, store).map(AuditShape.init), [AuditShape(expectedAudit, at: at)],
                    "createServer audit (its serverID set)")
            e.equal(created, Server(id: created.id, slug: "files", name: "Files", upstreamMCPURL: "https://files.example/mcp",
                                    scopes: ["a", "b"], accessTokenTTL: 120, refreshTokenIdleTTL: 3000,
                                    refreshTokenAbsoluteTTL: 9000, createdAt: at), "created server")
            e.equal(try await store.server(slug: "files"), created, "server(slug:)")
            e.equal(try await store.server(id: created.id), created, "server(id:)")
            e.equal(try await store.server(slug: "nope"), nil, "unknown slug")
            e.equal(try await store.server(id: created.id + 1000), nil, "unknown id")
            await e.throwsCode(.conflict, "a second server with slug files") {
                try await e.audits(store, "refused createServer", []) {
                    try await store.createServer(NewServer(slug: "files", upstreamMCPURL: "https://x.example/mcp"),
                                                 audit: Fixture.audit("server.add"), at: at)
                }
            }
            // The policy: stored with the server, replaced with its audit, unknown slugs refused without one.
            let policy = ServerPolicy(allowedOrigins: ["https://app.example", "http://127.0.0.1:3000"])
            let policyAudit = Fixture.audit("server.policy", detail: "files")
            var expectedPolicyAudit = policyAudit
            expectedPolicyAudit.serverID = created.id
            let changed = try await e.audits(store, "setServerPolicy (audit with the serverID set)", [AuditShape(expectedPolicyAudit, at: at)]) {
                try await store.setServerPolicy(slug: "files", policy, audit: policyAudit, at: at)
            }
            var withPolicy = created
            withPolicy.policy = policy
            e.equal(changed, withPolicy, "setServerPolicy returns the server as it now is")
            e.equal(try await store.server(slug: "files"), withPolicy, "the policy is stored")
            await e.throwsCode(.notFound, "setServerPolicy of an unknown slug") {
                try await e.audits(store, "refused setServerPolicy", []) {
                    try await store.setServerPolicy(slug: "nope", policy, audit: Fixture.audit("server.policy"), at: at)
                }
            }
            let born = try await store.createServer(NewServer(slug: "born", upstreamMCPURL: "https://b.example/mcp", policy: policy),
                                                    audit: Fixture.audit("server.add"), at: at)
            e.equal(try await store.server(id: born.id)?.policy, policy, "a policy given at creation")
            _ = try await store.removeServer(slug: "born", audit: { _ in Fixture.audit("server.remove") }, at: at)
            _ = try await store.setServerPolicy(slug: "files", ServerPolicy(), audit: Fixture.audit("server.policy"), at: at)

            for slug in ["zeta", "alpha", "mid"] { try await Fixture.server(store, slug) }
            e.equal(try await store.servers().map(\.slug), ["alpha", "files", "mid", "zeta"], "servers() by slug")

            // Removal takes the provider, clients and grants with it and records how many grants went.
            let zeta = try await store.server(slug: "zeta")!
            let zetaProvider = try await store.provider(serverID: zeta.id)!
            try await Fixture.createClient(store, "zc", serverID: zeta.id)
            let g1 = try await Fixture.grant(store, serverID: zeta.id, clientID: "zc", subject: "u1")
            let g2 = try await Fixture.grant(store, serverID: zeta.id, clientID: "zc", subject: "u2")
            let removeAudit = Fixture.audit("server.remove", detail: "zeta")
            let removed = try await e.audits(store, "removeServer", [AuditShape(NewAuditEvent(actor: "conformance", action: "server.remove",
                                                                                               outcome: "ok", detail: "zeta 2"), at: at)]) {
                try await store.removeServer(slug: "zeta", audit: { n in
                    var a = removeAudit; a.detail = "zeta \(n)"; return a
                }, at: at)
            }
            e.equal(removed, 2, "grants removed with the server")
            e.equal(try await store.server(slug: "zeta"), nil, "removed server")
            e.equal(try await store.provider(serverID: zeta.id), nil, "removed server's provider")
            e.equal(try await store.sealedProviderSecret(providerID: zetaProvider.id), nil, "removed provider's secret")
            e.equal(try await store.client(id: "zc"), nil, "removed server's client")
            e.equal(try await store.grant(id: g1), nil, "removed server's grant")
            e.equal(try await store.grant(id: g2), nil, "removed server's grant")
            await e.throwsCode(.notFound, "removing an unknown server") {
                try await store.removeServer(slug: "zeta", audit: { _ in Fixture.audit("server.remove") }, at: at)
            }
            e.equal(try await store.servers().map(\.slug), ["alpha", "files", "mid"], "servers() after removal")
        }
    }

    /// Providers: one per server (a second is `.conflict`), the seal closure gets the new provider's id, errors recorded.
    public static func providers(_ backend: StoreBackend) async throws {
        try await run("providers", backend) { e, store, _ in
            let server = try await store.createServer(NewServer(slug: "s", upstreamMCPURL: "https://s.example/mcp"),
                                                      audit: Fixture.audit("server.add"), at: Fixture.t0)
            let sealedFor = Box<Int64?>(nil)
            let params = [AuthorizeParam(name: "prompt", value: "consent"), AuthorizeParam(name: "access_type", value: "offline")]
            let at = Fixture.at(2.5)
            let audit = Fixture.audit("provider.add", detail: "s")
            let provider = try await e.audits(store, "createProvider", [AuditShape(audit, at: at)]) {
                try await store.createProvider(
                    serverID: server.id,
                    NewProvider(kind: .oidc, issuer: "https://idp.example", clientID: "up-client", authMethod: .clientSecretPost,
                                scopes: ["openid", "offline_access"], authorizeParams: params),
                    resolved: ResolvedEndpoints(issuer: "https://idp.example", authorizationEndpoint: "https://idp.example/a",
                                                tokenEndpoint: "https://idp.example/t", revocationEndpoint: "https://idp.example/r",
                                                userinfoEndpoint: "https://idp.example/u", supportsRefresh: false),
                    seal: { id in sealedFor.value = id; return Fixture.providerSecret(id) }, audit: audit, at: at)
            }
            e.equal(sealedFor.value, provider.id, "the seal closure is given the new provider's id")
            e.equal(provider, Provider(id: provider.id, serverID: server.id, kind: .oidc, issuer: "https://idp.example",
                                       authorizationEndpoint: "https://idp.example/a", tokenEndpoint: "https://idp.example/t",
                                       revocationEndpoint: "https://idp.example/r", userinfoEndpoint: "https://idp.example/u",
                                       clientID: "up-client", hasClientSecret: true, authMethod: .clientSecretPost,
                                       scopes: ["openid", "offline_access"], authorizeParams: params, supportsRefresh: false,
                                       createdAt: at), "created provider")
            e.equal(try await store.sealedProviderSecret(providerID: provider.id), Fixture.providerSecret(provider.id), "sealed secret")
            e.equal(try await store.provider(serverID: server.id), provider, "provider(serverID:)")
            await e.throwsCode(.conflict, "a second provider for the server") {
                try await e.audits(store, "refused createProvider", []) {
                    try await store.createProvider(serverID: server.id, NewProvider(kind: .oauth2, clientID: "other"),
                                                   resolved: Fixture.endpoints(), seal: { _ in nil },
                                                   audit: Fixture.audit("provider.add"), at: at)
                }
            }
            e.equal(try await store.providers(), [provider], "still one provider")

            let bare = try await store.createServer(NewServer(slug: "bare", upstreamMCPURL: "https://b.example/mcp"),
                                                    audit: Fixture.audit("server.add"), at: at)
            e.equal(try await store.provider(serverID: bare.id), nil, "a server without provider")
            let publicProvider = try await store.createProvider(serverID: bare.id, NewProvider(kind: .oauth2, clientID: "pub", authMethod: .none),
                                                                resolved: Fixture.endpoints(), seal: { _ in nil },
                                                                audit: Fixture.audit("provider.add"), at: at)
            e.equal(publicProvider.hasClientSecret, false, "no secret sealed")
            e.equal(try await store.sealedProviderSecret(providerID: publicProvider.id), nil, "no sealed secret")
            e.equal(Set(try await store.providers().map(\.id)), [provider.id, publicProvider.id], "providers()")

            let errorAt = Fixture.at(77.125)
            try await store.setProviderError(providerID: provider.id, "invalid_client", at: errorAt)
            let failing = try await store.provider(serverID: server.id)
            e.equal(failing?.lastError, "invalid_client", "recorded provider error")
            e.equal(failing?.lastErrorAt, errorAt, "recorded provider error time")
            try await store.setProviderError(providerID: provider.id, nil, at: Fixture.at(80))
            e.equal(try await store.provider(serverID: server.id)?.lastError, nil, "cleared provider error")
            e.equal(try await store.provider(serverID: server.id)?.lastErrorAt, nil, "cleared provider error time")

            // Changed in place: a new secret and client id, its last error cleared, one audit event.
            try await store.setProviderError(providerID: provider.id, "invalid_client", at: Fixture.at(81))
            let updateAudit = Fixture.audit("provider.update", detail: "client secret rotated")
            let rotated = try await e.audits(store, "updateProvider", [AuditShape(updateAudit, at: Fixture.at(90))]) {
                try await store.updateProvider(id: provider.id, clientID: "up-client-2", sealedSecret: Data("new-sealed".utf8),
                                               scopes: ["openid"], audit: updateAudit, at: Fixture.at(90))
            }
            e.equal(rotated.id, provider.id, "the same provider")
            e.equal(rotated.clientID, "up-client-2", "new client id")
            e.equal(rotated.scopes, ["openid"], "new scopes")
            e.equal(rotated.lastError, nil, "an update clears the last error")
            e.equal(rotated.tokenEndpoint, provider.tokenEndpoint, "endpoints kept")
            e.equal(try await store.sealedProviderSecret(providerID: provider.id), Data("new-sealed".utf8), "new sealed secret")
            _ = try await store.updateProvider(id: provider.id, clientID: "up-client-2", sealedSecret: nil, scopes: ["openid"],
                                               audit: Fixture.audit("provider.update"), at: Fixture.at(91))
            e.equal(try await store.sealedProviderSecret(providerID: provider.id), Data("new-sealed".utf8), "no secret given keeps it")
            let removeAudit = Fixture.audit("provider.remove", detail: "bare")
            try await e.audits(store, "deleteProvider", [AuditShape(removeAudit, at: Fixture.at(93))]) {
                try await store.deleteProvider(id: publicProvider.id, audit: removeAudit, at: Fixture.at(93))
            }
            e.equal(try await store.provider(serverID: bare.id), nil, "a deleted provider is gone")
            e.expect(try await store.server(slug: "bare") != nil, "its server stays")
            await e.throwsCode(.notFound, "deleting an unknown provider") {
                try await store.deleteProvider(id: publicProvider.id, audit: Fixture.audit("provider.remove"), at: Fixture.at(94))
            }
            await e.throwsCode(.notFound, "updating an unknown provider") {
                _ = try await store.updateProvider(id: provider.id + 1000, clientID: "x", sealedSecret: nil, scopes: [],
                                                   audit: Fixture.audit("provider.update"), at: Fixture.at(92))
            }
        }
    }

    /// Clients: create with a secret hash, read, page by id, conflict, revoke with its grants, unused dynamic clients.
    public static func clients(_ backend: StoreBackend) async throws {
        try await run("clients", backend) { e, store, _ in
            let (s1, _) = try await Fixture.server(store, "one")
            let (s2, _) = try await Fixture.server(store, "two")
            let hash = Data((0..<32).map { UInt8($0) })
            let confidential = Fixture.client("conf", serverID: s1.id, createdAt: Fixture.at(3.5), authMethod: .clientSecretBasic)
            let audit = Fixture.audit("client.register", detail: "conf")
            try await e.audits(store, "createClient", [AuditShape(audit, at: confidential.createdAt)]) {
                try await store.createClient(confidential, secretHash: hash, audit: audit)
            }
            e.equal(try await store.client(id: "conf"), confidential, "client(id:)")
            e.equal(try await store.clientSecretHash(id: "conf"), hash, "secret hash")
            e.equal(try await store.client(id: "nobody"), nil, "unknown client")
            e.equal(try await store.clientSecretHash(id: "nobody"), nil, "unknown client's hash")
            await e.throwsCode(.conflict, "a second client with the same id") {
                try await e.audits(store, "refused createClient", []) {
                    try await store.createClient(Fixture.client("conf", serverID: s2.id), secretHash: nil, audit: Fixture.audit("client.register"))
                }
            }
            var rng = SeededGenerator(seed: 0xC11E)
            var ids = ["conf"]
            for i in 0..<17 {
                let id = "c\(UInt32.random(in: 0...UInt32.max, using: &rng))-\(i)"
                ids.append(id)
                try await Fixture.createClient(store, id, serverID: i % 3 == 0 ? s2.id : s1.id)
            }
            e.equal(try await store.clientSecretHash(id: ids[1]), nil, "a public client has no hash")
            for (serverID, label) in [(nil, "all"), (s1.id, "one"), (s2.id, "two")] as [(Int64?, String)] {
                var seen: [Client] = []
                var cursor: String?
                for _ in 0..<20 {
                    let page = try await store.clients(serverID: serverID, limit: 4, after: cursor)
                    e.expect(page.items.count <= 4, "clients page of \(label) over the limit")
                    seen += page.items
                    cursor = page.nextCursor
                    if cursor == nil { break }
                }
                var expected: [String] = []
                for id in ids {
                    if let c = try await store.client(id: id), serverID == nil || c.serverID == serverID { expected.append(id) }
                }
                e.equal(seen.map(\.id), expected.sorted(), "clients(\(label)) paged by id")
            }

            // Revoking a client revokes its grants and their tokens.
            let g1 = try await Fixture.grant(store, serverID: s1.id, clientID: "conf", subject: "a")
            let g2 = try await Fixture.grant(store, serverID: s1.id, clientID: "conf", subject: "b")
            let other = try await Fixture.grant(store, serverID: s1.id, clientID: ids[2], subject: "c")
            let access = NewToken(hash: Data("conf-access".utf8), kind: .access, expiresAt: Fixture.at(3600))
            try await store.insertTokens(grantID: g1, clientID: "conf", [access], at: Fixture.t0)
            let revokeAt = Fixture.at(9)
            let revoked = try await e.audits(store, "revokeClient", [AuditShape(Fixture.audit("client.revoke", detail: "2"), at: revokeAt)]) {
                try await store.revokeClient(id: "conf", audit: { Fixture.audit("client.revoke", detail: "\($0)") }, at: revokeAt)
            }
            e.equal(revoked, 2, "grants revoked with the client")
            e.equal(try await store.client(id: "conf")?.revokedAt, revokeAt, "client revokedAt")
            e.equal(try await store.grant(id: g1)?.state, .revoked, "grant of the revoked client")
            e.equal(try await store.grant(id: g2)?.state, .revoked, "grant of the revoked client")
            e.equal(try await store.grant(id: other)?.state, .active, "another client's grant")
            e.equal(try await store.token(hash: access.hash)?.revokedAt, revokeAt, "token of the revoked client")
            await e.throwsCode(.notFound, "revoking an unknown client") {
                try await store.revokeClient(id: "nobody", audit: { _ in Fixture.audit("client.revoke") }, at: revokeAt)
            }

            // Unused dynamic clients: old, never used, registered dynamically.
            let cutoff = Fixture.at(1000)
            let now = Fixture.at(5000)
            try await Fixture.createClient(store, "dyn-old-unused-1", serverID: s1.id, registeredBy: "dynamic", createdAt: Fixture.at(10))
            try await Fixture.createClient(store, "dyn-old-unused-2", serverID: s2.id, registeredBy: "dynamic", createdAt: Fixture.at(20))
            try await Fixture.createClient(store, "dyn-old-unused-3", serverID: s2.id, registeredBy: "dynamic", createdAt: Fixture.at(30))
            try await Fixture.createClient(store, "dyn-new", serverID: s1.id, registeredBy: "dynamic", createdAt: Fixture.at(2000))
            try await Fixture.createClient(store, "dyn-granted", serverID: s1.id, registeredBy: "dynamic", createdAt: Fixture.at(10))
            try await Fixture.createClient(store, "dyn-pending", serverID: s1.id, registeredBy: "dynamic", createdAt: Fixture.at(10))
            try await Fixture.createClient(store, "dyn-stale-pending", serverID: s1.id, registeredBy: "dynamic", createdAt: Fixture.at(10))
            try await Fixture.createClient(store, "admin-old", serverID: s1.id, registeredBy: "admin", createdAt: Fixture.at(10))
            let revokedGrant = try await Fixture.grant(store, serverID: s1.id, clientID: "dyn-granted", subject: "x")
            _ = try await store.revokeGrant(id: revokedGrant, audit: Fixture.audit("grant.revoke"), at: Fixture.at(11))
            try await store.insertPendingAuthorization(Fixture.pending("live", serverID: s1.id, clientID: "dyn-pending",
                                                                      createdAt: Fixture.at(10), expiresAt: Fixture.at(6000)))
            try await store.insertPendingAuthorization(Fixture.pending("stale", serverID: s1.id, clientID: "dyn-stale-pending",
                                                                      createdAt: Fixture.at(10), expiresAt: Fixture.at(4000)))
            let firstAt = Fixture.audit("client.expire", detail: "2")
            let deleted = try await e.audits(store, "deleteUnusedClients (limit 2)", [AuditShape(firstAt, at: now)]) {
                try await store.deleteUnusedClients(createdBefore: cutoff, limit: 2, now: now,
                                                    audit: { Fixture.audit("client.expire", detail: "\($0)") })
            }
            e.equal(deleted, 2, "deleted up to the limit")
            let rest = try await store.deleteUnusedClients(createdBefore: cutoff, limit: 100, now: now,
                                                           audit: { Fixture.audit("client.expire", detail: "\($0)") })
            e.equal(rest, 2, "the rest: one more unused and the one whose pending authorization expired")
            let none = try await e.audits(store, "deleteUnusedClients with nothing to delete", []) {
                try await store.deleteUnusedClients(createdBefore: cutoff, limit: 100, now: now,
                                                    audit: { Fixture.audit("client.expire", detail: "\($0)") })
            }
            e.equal(none, 0, "nothing left to delete")
            for gone in ["dyn-old-unused-1", "dyn-old-unused-2", "dyn-old-unused-3", "dyn-stale-pending"] {
                e.equal(try await store.client(id: gone), nil, "unused dynamic client \(gone) deleted")
            }
            for kept in ["dyn-new", "dyn-granted", "dyn-pending", "admin-old"] {
                e.expect(try await store.client(id: kept) != nil, "client \(kept) kept")
            }
        }
    }

    /// Introspection credentials: create with hash, read, list oldest first, revoke once (a second revoke writes no audit).
    public static func introspectionCredentials(_ backend: StoreBackend) async throws {
        try await run("introspectionCredentials", backend) { e, store, _ in
            let (s1, _) = try await Fixture.server(store, "one")
            let (s2, _) = try await Fixture.server(store, "two")
            var made: [IntrospectionCredential] = []
            for i in 0..<4 {
                let credential = IntrospectionCredential(id: "tgi_\(i)_\(9 - i)", serverID: i == 3 ? s2.id : s1.id, name: "rs \(i)",
                                                         createdAt: Fixture.at(Double(i) + 0.5))
                let audit = Fixture.audit("introspection.create", detail: credential.id)
                try await e.audits(store, "createIntrospectionCredential \(i)", [AuditShape(audit, at: credential.createdAt)]) {
                    try await store.createIntrospectionCredential(credential, secretHash: Data("hash-\(i)".utf8), audit: audit)
                }
                made.append(credential)
            }
            e.equal(try await store.introspectionCredential(id: made[1].id), made[1], "introspectionCredential(id:)")
            e.equal(try await store.introspectionCredentialSecretHash(id: made[2].id), Data("hash-2".utf8), "secret hash")
            e.equal(try await store.introspectionCredential(id: "tgi_none"), nil, "unknown credential")
            e.equal(try await store.introspectionCredentialSecretHash(id: "tgi_none"), nil, "unknown credential's hash")
            e.equal(try await store.introspectionCredentials(serverID: s1.id), Array(made[0..<3]), "credentials of a server, oldest first")
            e.equal(try await store.introspectionCredentials(serverID: s2.id), [made[3]], "credentials of the other server")
            let revokeAt = Fixture.at(50)
            let audit = Fixture.audit("introspection.revoke", detail: made[1].id)
            let first = try await e.audits(store, "revokeIntrospectionCredential", [AuditShape(audit, at: revokeAt)]) {
                try await store.revokeIntrospectionCredential(id: made[1].id, audit: audit, at: revokeAt)
            }
            e.equal(first, true, "first revocation")
            e.equal(try await store.introspectionCredential(id: made[1].id)?.revokedAt, revokeAt, "revokedAt")
            let second = try await e.audits(store, "revoking an already revoked credential", []) {
                try await store.revokeIntrospectionCredential(id: made[1].id, audit: audit, at: Fixture.at(60))
            }
            e.equal(second, false, "second revocation")
            e.equal(try await store.introspectionCredential(id: made[1].id)?.revokedAt, revokeAt, "revokedAt kept")
            await e.throwsCode(.notFound, "revoking an unknown credential") {
                try await store.revokeIntrospectionCredential(id: "tgi_none", audit: audit, at: revokeAt)
            }
        }
    }

    /// Settings: unset, set, overwritten, removed; and keys: oldest first, duplicate id `.conflict`, optional audit.
    public static func settingsAndKeys(_ backend: StoreBackend) async throws {
        try await run("settingsAndKeys", backend) { e, store, other in
            e.equal(try await store.setting("public-url"), nil, "unset setting")
            try await store.setSetting("public-url", "https://a.example")
            try await store.setSetting("other", "x")
            e.equal(try await store.setting("public-url"), "https://a.example", "set setting")
            try await store.setSetting("public-url", "https://b.example")
            e.equal(try await store.setting("public-url"), "https://b.example", "overwritten setting")
            e.equal(try await other.setting("public-url"), "https://b.example", "setting seen by another connection")
            try await store.setSetting("public-url", nil)
            e.equal(try await store.setting("public-url"), nil, "removed setting")
            e.equal(try await store.setting("other"), "x", "another setting kept")

            e.equal(try await store.encryptionKeys().count, 0, "a fresh store has no key")
            let audit = Fixture.audit("key.add", detail: "2")
            try await e.audits(store, "addEncryptionKey without audit", []) {
                try await store.addEncryptionKey(id: 1, wrapped: Data("wrapped-1".utf8), audit: nil, at: Fixture.at(1))
            }
            try await e.audits(store, "addEncryptionKey with audit", [AuditShape(audit, at: Fixture.at(2))]) {
                try await store.addEncryptionKey(id: 2, wrapped: Data("wrapped-2".utf8), audit: audit, at: Fixture.at(2))
            }
            await e.throwsCode(.conflict, "a duplicate key id") {
                try await e.audits(store, "refused addEncryptionKey", []) {
                    try await other.addEncryptionKey(id: 1, wrapped: Data("again".utf8), audit: audit, at: Fixture.at(3))
                }
            }
            let keys = try await store.encryptionKeys()
            e.equal(keys.map(\.id), [1, 2], "keys oldest first (the newest is the active one)")
            e.equal(keys.map(\.wrapped), [Data("wrapped-1".utf8), Data("wrapped-2".utf8)], "wrapped keys")
            e.equal(keys.map(\.createdAt), [Fixture.at(1), Fixture.at(2)], "key times")
        }
    }
}

/// A mutable value shared with a `@Sendable` closure.
final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); defer { lock.unlock() }; stored = newValue }
    }
    /// Changes the value in one locked step (for counters shared by concurrent tasks).
    func mutate(_ change: (inout Value) -> Void) {
        lock.lock(); defer { lock.unlock() }
        change(&stored)
    }
}
