import Foundation
import TollgateCore

extension StoreConformance {
    /// `extendGrant`: a re-authorization for more scopes extends the newest active grant of the same server, client
    /// and subject (scopes united, credential replaced, refresh bookkeeping cleared, a code for it, `grant.extend`
    /// audited) and touches nothing when there is no such grant; the policy's scope rules come with a token's context.
    public static func grantExtension(_ backend: StoreBackend) async throws {
        try await run("grantExtension", backend) { e, store, other in
            let (server, _) = try await Fixture.server(store, "files")
            try await Fixture.createClient(store, "c1", serverID: server.id)
            try await Fixture.createClient(store, "c2", serverID: server.id)
            let alice = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "alice")
            let bob = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "bob")
            let aliceElsewhere = try await Fixture.grant(store, serverID: server.id, clientID: "c2", subject: "alice")
            // A lease held and a refresh interrupted on alice's grant: cleared by the extension.
            let leased = try await store.acquireRefreshLease(grantID: alice, owner: "holder", until: Fixture.at(60),
                                                             now: Fixture.at(1), replacing: nil)
            e.expect(leased != nil, "lease taken")
            let versionBefore = try await store.grant(id: alice)?.version ?? -1
            let grantsBefore = try await store.countGrants()

            let info = UpstreamCredentialInfo(accessExpiresAt: Fixture.at(7200), hasRefreshToken: true, refreshExpiresAt: nil,
                                              scope: "openid read write", obtainedAt: Fixture.at(10))
            let code = Fixture.code("extend", clientID: "c1", expiresAt: Fixture.at(600))
            let before = try await Fixture.lastAuditID(store)
            let sealedFor = Box<Int64?>(nil)
            let extended = try await store.extendGrant(
                serverID: server.id, clientID: "c1", subject: "alice", scopes: ["write", "read"],
                seal: { id in sealedFor.value = id; return Fixture.credential(id, info, generation: "-extended") }, code: code,
                audit: { old, new in Fixture.audit("grant.extend", detail: old.joined(separator: " ") + " -> " + new.joined(separator: " ")) },
                at: Fixture.at(10))
            e.equal(extended, alice, "the grant of the same server, client and subject is extended")
            e.equal(sealedFor.value, alice, "the seal closure is given the extended grant's id")
            e.equal(try await store.countGrants(), grantsBefore, "no grant created")
            let grant = try await other.grant(id: alice)
            e.equal(grant?.scopes, ["read", "write"], "scopes: the old ones first, then the new")
            e.equal(grant?.upstream, info, "upstream credential info replaced")
            e.equal(grant?.updatedAt, Fixture.at(10), "updatedAt")
            e.expect((grant?.version ?? -1) > versionBefore, "version bumped")
            e.equal(try await other.sealedCredential(grantID: alice)?.accessToken, Fixture.credential(alice, info, generation: "-extended").accessToken,
                    "sealed credential replaced")
            e.equal(try await other.refreshLease(grantID: alice)?.owner, nil, "lease cleared")
            // The holder's upstream refresh (of the credential the extension replaced) answers now: its older tokens
            // are refused and the extension's stay; a refresh of the extension's own credential is stored.
            let staleInfo = UpstreamCredentialInfo(accessExpiresAt: Fixture.at(3600), hasRefreshToken: true, refreshExpiresAt: nil,
                                                   scope: "read", obtainedAt: Fixture.at(11))
            let stale = Fixture.credential(alice, staleInfo, generation: "-stale")
            let staleAudit = Fixture.audit("upstream.refresh", detail: "stale")
            let staleWritten = try await e.audits(store, "finishRefresh of the replaced credential", []) {
                try await other.finishRefresh(grantID: alice, owner: "holder", expectedVersion: leased?.grant.version ?? 0,
                                              result: .refreshed(stale, replacingObtainedAt: leased?.sealedCredential?.info.obtainedAt),
                                              audit: staleAudit, at: Fixture.at(11))
            }
            e.equal(staleWritten, false, "new tokens of a replaced credential are refused")
            e.equal(try await store.sealedCredential(grantID: alice)?.accessToken,
                    Fixture.credential(alice, info, generation: "-extended").accessToken, "the extension's credential stays")
            e.equal(try await store.grant(id: alice)?.upstream, info, "the extension's credential info stays")
            var storedCode = code
            storedCode.grantID = alice
            e.equal(try await other.authorizationCode(hash: code.hash), storedCode, "the code is the extended grant's")
            var expectedAudit = Fixture.audit("grant.extend", detail: "read -> read write")
            expectedAudit.grantID = alice
            e.equal(try await Fixture.audit(after: before, store).map(AuditShape.init), [AuditShape(expectedAudit, at: Fixture.at(10))],
                    "grant.extend audit (old and new scopes, its grantID set)")
            e.equal(try await store.grant(id: bob)?.scopes, ["read"], "another subject's grant untouched")
            e.equal(try await store.grant(id: aliceElsewhere)?.scopes, ["read"], "another client's grant untouched")

            // Nothing to extend: nothing written.
            let quiet = try await Fixture.lastAuditID(store)
            func attempt(_ subject: String, _ scopes: [String], client: String = "c1", label: String) async throws -> Int64? {
                try await store.extendGrant(serverID: server.id, clientID: client, subject: subject, scopes: scopes,
                                            seal: { Fixture.credential($0, info) }, code: Fixture.code(label, clientID: client, expiresAt: Fixture.at(600)),
                                            audit: { _, _ in Fixture.audit("grant.extend") }, at: Fixture.at(20))
            }
            e.equal(try await attempt("carol", ["read", "write"], label: "carol"), nil, "a subject without a grant")
            e.equal(try await attempt("alice", ["read", "write"], label: "same"), nil, "the same scopes: not a superset")
            e.equal(try await attempt("alice", ["admin"], label: "other"), nil, "other scopes: not a superset")
            _ = try await store.revokeGrant(id: bob, audit: Fixture.audit("grant.revoke"), at: Fixture.at(21))
            let afterRevoke = try await Fixture.lastAuditID(store)
            e.equal(try await attempt("bob", ["read", "write"], label: "bob"), nil, "a revoked grant is not extended")
            e.equal(try await Fixture.audit(after: afterRevoke, store).count, 0, "no audit without an extension")
            e.expect(try await Fixture.audit(after: quiet, store).allSatisfy { $0.action == "grant.revoke" }, "only the revocation was audited")
            e.equal(try await store.authorizationCode(hash: Fixture.code("carol", clientID: "c1", expiresAt: Fixture.at(600)).hash), nil,
                    "no code stored without an extension")

            // The newest of several live grants of the same user and client is the one extended.
            let newer = try await Fixture.grant(store, serverID: server.id, clientID: "c2", subject: "alice", at: Fixture.at(30))
            e.equal(try await attempt("alice", ["read", "write"], client: "c2", label: "newest"), newer, "the newest grant")
            e.equal(try await store.grant(id: aliceElsewhere)?.scopes, ["read"], "the older one untouched")

            // The server's scope rules come with each token's context (the gateway's only read).
            let rules = ScopeRules(toolScopes: ["write_file": ["write"]], implies: ["write": ["read"]])
            _ = try await store.setServerPolicy(slug: "files", ServerPolicy(scopeRules: rules), audit: Fixture.audit("server.policy"), at: Fixture.at(40))
            let token = NewToken(hash: Data("ext-a".utf8), kind: .access, expiresAt: Fixture.at(3600))
            try await store.insertTokens(grantID: alice, clientID: "c1", [token], at: Fixture.at(41))
            e.equal(try await other.tokenContext(hash: token.hash)?.scopeRules, rules, "tokenContext carries the scope rules")
            _ = try await store.setServerPolicy(slug: "files", ServerPolicy(), audit: Fixture.audit("server.policy"), at: Fixture.at(42))
            e.equal(try await other.tokenContext(hash: token.hash)?.scopeRules, ScopeRules(), "and their removal")
        }
    }
}
