import Foundation
import TollgateCore

extension StoreConformance {
    /// Grants with their credential, codes (redeemed once), tokens (inserted, rotated, revoked), pending authorizations
    /// (taken once, only by the bound browser) and plain audit events.
    public static func grantsCodesAndTokens(_ backend: StoreBackend) async throws {
        try await run("grantsCodesAndTokens", backend) { e, store, _ in
            let (server, _) = try await Fixture.server(store, "files")
            try await Fixture.createClient(store, "c1", serverID: server.id)
            let info = UpstreamCredentialInfo(accessExpiresAt: Fixture.at(3600.5), hasRefreshToken: true,
                                              refreshExpiresAt: Fixture.at(86400), scope: "read write", obtainedAt: Fixture.at(-1))
            let createdAt = Fixture.at(4.75)
            let sealedFor = Box<Int64?>(nil)
            let code = Fixture.code("g", clientID: "c1", expiresAt: Fixture.at(600))
            let grantAudit = Fixture.audit("grant.create", detail: "alice")
            let before = try await Fixture.lastAuditID(store)
            let id = try await store.createGrant(
                NewGrant(serverID: server.id, clientID: "c1", subject: "alice", scopes: ["read", "write"],
                         resource: "https://files.example/mcp", upstream: info),
                seal: { id in sealedFor.value = id; return Fixture.credential(id, info) }, code: code, audit: grantAudit, at: createdAt)
            var expectedAudit = grantAudit
            expectedAudit.grantID = id
            e.equal(try await Fixture.audit(after: before, store).map(AuditShape.init), [AuditShape(expectedAudit, at: createdAt)],
                    "createGrant audit (its grantID set)")
            e.equal(sealedFor.value, id, "the seal closure is given the new grant's id")
            let grant = try await store.grant(id: id)
            e.equal(grant, Grant(id: id, serverID: server.id, serverSlug: "files", clientID: "c1", clientName: "Client c1",
                                 subject: "alice", scopes: ["read", "write"], resource: "https://files.example/mcp", state: .active,
                                 upstream: info, createdAt: createdAt, updatedAt: createdAt, refreshFailures: 0,
                                 providerSupportsRefresh: true, version: grant?.version ?? -1), "created grant")
            e.equal(try await store.sealedCredential(grantID: id), Fixture.credential(id, info).with(version: grant?.version ?? -1),
                    "sealed credential")
            e.equal(try await store.grant(id: id + 1000), nil, "unknown grant")
            e.equal(try await store.countGrants(), 1, "countGrants()")

            var storedCode = code
            storedCode.grantID = id
            e.equal(try await store.authorizationCode(hash: code.hash), storedCode, "authorizationCode(hash:)")
            e.equal(try await store.authorizationCode(hash: code.hash), storedCode, "reading a code changes nothing")
            let redeemAt = Fixture.at(5)
            var used = storedCode
            used.usedAt = redeemAt
            switch try await store.redeemCode(hash: code.hash, at: redeemAt) {
            case .redeemed(let record): e.equal(record, storedCode, "redeemed code record")
            case let other: e.record("first redemption: \(other)")
            }
            switch try await store.redeemCode(hash: code.hash, at: Fixture.at(6)) {
            case .replayed(let record): e.equal(record, used, "replayed code record (used at the first redemption)")
            case let other: e.record("second redemption: \(other)")
            }
            if case .notFound = try await store.redeemCode(hash: Data("no-such-code".utf8), at: redeemAt) {} else {
                e.record("redeeming an unknown code is not .notFound")
            }
            e.equal(try await store.authorizationCode(hash: code.hash)?.usedAt, redeemAt, "code usedAt")

            // Tokens.
            let access1 = NewToken(hash: Data("a1".utf8), kind: .access, expiresAt: Fixture.at(3605))
            let refresh1 = NewToken(hash: Data("r1".utf8), kind: .refresh, expiresAt: Fixture.at(86405))
            try await store.insertTokens(grantID: id, clientID: "c1", [access1, refresh1], at: Fixture.at(5))
            e.equal(try await store.token(hash: access1.hash),
                    TokenRecord(hash: access1.hash, grantID: id, kind: .access, clientID: "c1", issuedAt: Fixture.at(5), expiresAt: Fixture.at(3605)),
                    "access token record")
            e.equal(try await store.token(hash: refresh1.hash)?.kind, .refresh, "refresh token kind")
            e.equal(try await store.token(hash: Data("nope".utf8)), nil, "unknown token")
            e.equal(try await store.grant(id: id)?.proxyAccessExpiresAt, Fixture.at(3605), "grant's newest proxy access expiry")
            if let context = try await store.tokenContext(hash: access1.hash) {
                e.equal(context.token, try await store.token(hash: access1.hash)!, "tokenContext token")
                e.equal(context.grant, try await store.grant(id: id)!, "tokenContext grant")
                e.equal(context.sealed?.accessToken, Fixture.credential(id, info).accessToken, "tokenContext sealed access")
                e.equal(context.sealed?.refreshToken, Fixture.credential(id, info).refreshToken, "tokenContext sealed refresh")
                e.equal(context.upstreamMCPURL, "https://files.example/mcp", "tokenContext upstream URL")
            } else {
                e.record("tokenContext of a stored token is nil")
            }
            e.expect(try await store.tokenContext(hash: Data("nope".utf8)) == nil, "tokenContext of an unknown token")

            let access2 = NewToken(hash: Data("a2".utf8), kind: .access, expiresAt: Fixture.at(3700))
            let refresh2 = NewToken(hash: Data("r2".utf8), kind: .refresh, expiresAt: Fixture.at(86500))
            let rotateAt = Fixture.at(100)
            e.equal(try await store.rotateRefreshToken(old: refresh1.hash, replacement: refresh2.hash, newTokens: [access2, refresh2],
                                                       grantID: id, clientID: "c1", at: rotateAt), true, "first rotation")
            let rotated = try await store.token(hash: refresh1.hash)
            e.equal(rotated?.rotatedAt, rotateAt, "rotated refresh token's rotatedAt")
            e.equal(rotated?.replacedBy, refresh2.hash, "rotated refresh token's successor")
            e.equal(rotated?.revokedAt, nil, "a rotated refresh token is not revoked")
            e.equal(try await store.token(hash: access1.hash)?.revokedAt, rotateAt, "older access token revoked by the rotation")
            e.equal(try await store.token(hash: access2.hash)?.revokedAt, nil, "new access token live")
            e.equal(try await store.token(hash: refresh2.hash)?.issuedAt, rotateAt, "new refresh token issued")
            e.equal(try await store.grant(id: id)?.proxyAccessExpiresAt, Fixture.at(3700), "proxy access expiry after rotation")
            e.equal(try await store.rotateRefreshToken(old: refresh1.hash, replacement: Data("r3".utf8),
                                                       newTokens: [NewToken(hash: Data("r3".utf8), kind: .refresh, expiresAt: Fixture.at(9e4))],
                                                       grantID: id, clientID: "c1", at: Fixture.at(101)), false, "rotating a rotated token")
            e.equal(try await store.token(hash: Data("r3".utf8)), nil, "a lost rotation stores no token")

            let revokeAt = Fixture.at(200)
            try await store.revokeToken(hash: refresh2.hash, at: revokeAt)
            e.equal(try await store.token(hash: refresh2.hash)?.revokedAt, revokeAt, "revoked refresh token")
            e.equal(try await store.token(hash: access2.hash)?.revokedAt, revokeAt, "revoking a refresh token revokes the access tokens")
            e.equal(try await store.rotateRefreshToken(old: refresh2.hash, replacement: Data("r4".utf8), newTokens: [], grantID: id,
                                                       clientID: "c1", at: Fixture.at(201)), false, "rotating a revoked token")
            try await store.revokeToken(hash: Data("nope".utf8), at: revokeAt)

            // Narrower access tokens keep their scopes; a rotation with a cutoff prunes only that grant's rotated
            // refresh tokens and revoked access tokens from before it.
            let carol = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "carol")
            let narrow = NewToken(hash: Data("ca1".utf8), kind: .access, expiresAt: Fixture.at(3605), scopes: ["files.read"])
            let carolRefresh1 = NewToken(hash: Data("cr1".utf8), kind: .refresh, expiresAt: Fixture.at(86500))
            try await store.insertTokens(grantID: carol, clientID: "c1", [narrow, carolRefresh1], at: Fixture.at(5))
            e.equal(try await store.token(hash: narrow.hash)?.scopes, ["files.read"], "a narrower access token's scopes")
            e.equal(try await store.tokenContext(hash: narrow.hash)?.token.scopes, ["files.read"], "tokenContext of a narrower token")
            e.equal(try await store.token(hash: carolRefresh1.hash)?.scopes, nil, "a token of the grant's scopes stores none")
            let carolAccess2 = NewToken(hash: Data("ca2".utf8), kind: .access, expiresAt: Fixture.at(4000))
            let carolRefresh2 = NewToken(hash: Data("cr2".utf8), kind: .refresh, expiresAt: Fixture.at(86500))
            e.equal(try await store.rotateRefreshToken(old: carolRefresh1.hash, replacement: carolRefresh2.hash, newTokens: [carolAccess2, carolRefresh2],
                                                       grantID: carol, clientID: "c1", at: Fixture.at(1000), pruningBefore: Fixture.at(900)),
                    true, "rotation with a cutoff before anything")
            e.expect(try await store.token(hash: carolRefresh1.hash) != nil, "a rotation inside the kept window is not pruned")
            let carolAccess3 = NewToken(hash: Data("ca3".utf8), kind: .access, expiresAt: Fixture.at(5000))
            let carolRefresh3 = NewToken(hash: Data("cr3".utf8), kind: .refresh, expiresAt: Fixture.at(86500))
            e.equal(try await store.rotateRefreshToken(old: carolRefresh2.hash, replacement: carolRefresh3.hash, newTokens: [carolAccess3, carolRefresh3],
                                                       grantID: carol, clientID: "c1", at: Fixture.at(2000), pruningBefore: Fixture.at(1500)),
                    true, "rotation with a cutoff")
            e.equal(try await store.token(hash: carolRefresh1.hash), nil, "a refresh token rotated before the cutoff is pruned")
            e.equal(try await store.token(hash: narrow.hash), nil, "an access token revoked before the cutoff is pruned")
            e.equal(try await store.token(hash: carolRefresh2.hash)?.rotatedAt, Fixture.at(2000), "the token just rotated is kept")
            e.equal(try await store.token(hash: carolAccess2.hash)?.revokedAt, Fixture.at(2000), "the access token just revoked is kept")
            e.expect(try await store.token(hash: carolRefresh3.hash) != nil, "the new refresh token")
            e.expect(try await store.token(hash: carolAccess3.hash) != nil, "the new access token")
            e.equal(try await store.token(hash: refresh1.hash)?.rotatedAt, rotateAt, "another grant's rotated token is untouched")

            // Grant revocation: once, with its audit.
            let other = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "bob")
            let access3 = NewToken(hash: Data("a3".utf8), kind: .access, expiresAt: Fixture.at(3605))
            try await store.insertTokens(grantID: other, clientID: "c1", [access3], at: Fixture.at(5))
            let revokeAudit = Fixture.audit("grant.revoke", detail: "bob")
            let first = try await e.audits(store, "revokeGrant", [AuditShape(revokeAudit, at: revokeAt)]) {
                try await store.revokeGrant(id: other, audit: revokeAudit, at: revokeAt)
            }
            e.equal(first, true, "first grant revocation")
            let revoked = try await store.grant(id: other)
            e.equal(revoked?.state, .revoked, "revoked grant state")
            e.equal(revoked?.revokedAt, revokeAt, "revoked grant revokedAt")
            e.equal(try await store.token(hash: access3.hash)?.revokedAt, revokeAt, "revoked grant's token")
            let second = try await e.audits(store, "revoking a revoked grant", []) {
                try await store.revokeGrant(id: other, audit: revokeAudit, at: Fixture.at(300))
            }
            e.equal(second, false, "second grant revocation")
            await e.throwsCode(.notFound, "revoking an unknown grant") {
                try await store.revokeGrant(id: other + 1000, audit: revokeAudit, at: revokeAt)
            }
            e.equal(try await store.countGrants(), 3, "countGrants()")
        }
    }

    /// Pending authorizations: taken exactly once, only with the browser binding they were stored with, and only at
    /// their own server's callback when one is named.
    public static func pendingAuthorizations(_ backend: StoreBackend) async throws {
        try await run("pendingAuthorizations", backend) { e, store, _ in
            let (server, _) = try await Fixture.server(store, "files")
            try await Fixture.createClient(store, "c1", serverID: server.id)
            let pending = Fixture.pending("p1", serverID: server.id, clientID: "c1", createdAt: Fixture.at(1.5), expiresAt: Fixture.at(601.5))
            try await store.insertPendingAuthorization(pending)
            e.equal(try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: Data("another".utf8)),
                    .boundToAnotherBrowser, "another browser")
            e.equal(try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: nil),
                    .boundToAnotherBrowser, "no browser binding")
            e.equal(try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: pending.browserBindingHash,
                                                             serverID: server.id + 1),
                    .boundToAnotherServer, "the right browser at another server's callback")
            e.equal(try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: Data("another".utf8),
                                                             serverID: server.id + 1),
                    .boundToAnotherServer, "another browser at another server's callback")
            e.equal(try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: pending.browserBindingHash,
                                                             serverID: server.id),
                    .taken(pending), "the bound browser at its server's callback takes it")
            e.equal(try await store.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: pending.browserBindingHash),
                    .unknown, "taken twice")
            e.equal(try await store.takePendingAuthorization(stateHash: Data("never".utf8), browserBindingHash: nil), .unknown, "unknown state")
            e.equal(try await store.takePendingAuthorization(stateHash: Data("never".utf8), browserBindingHash: nil, serverID: server.id),
                    .unknown, "unknown state at a server's callback")
            var unbound = Fixture.pending("p2", serverID: server.id, clientID: "c1")
            unbound.browserBindingHash = nil
            unbound.clientState = nil
            try await store.insertPendingAuthorization(unbound)
            e.equal(try await store.takePendingAuthorization(stateHash: unbound.stateHash, browserBindingHash: nil),
                    .boundToAnotherBrowser, "a pending authorization without binding never matches")
        }
    }

    /// Audit events: appended as given, listed newest first, by grant, since a time, before an id, limited.
    public static func auditEvents(_ backend: StoreBackend) async throws {
        try await run("auditEvents", backend) { e, store, _ in
            var rng = SeededGenerator(seed: 0xA0D1)
            var written: [AuditShape] = []
            for i in 0..<60 {
                let event = NewAuditEvent(actor: ["admin", "server", "client:c1"][i % 3], action: "action.\(i % 7)",
                                          serverID: i % 4 == 0 ? nil : Int64(i % 4), grantID: i % 5 == 0 ? nil : Int64(i % 5),
                                          clientID: i % 2 == 0 ? "c\(i % 3)" : nil, outcome: i % 6 == 0 ? "failed" : "ok",
                                          detail: "detail \(UInt16.random(in: 0...UInt16.max, using: &rng))")
                let at = Fixture.at(Double(i) * 10 + 0.125 * Double(i % 8))
                try await store.appendAudit(event, at: at)
                written.append(AuditShape(event, at: at))
            }
            let all = try await store.auditEvents(grantID: nil, since: nil, limit: 1000, before: nil)
            e.equal(all.map(AuditShape.init), written.reversed(), "every event, newest first")
            e.equal(all.map(\.id), all.map(\.id).sorted(by: >), "ids newest first")
            let ofGrant = try await store.auditEvents(grantID: 3, since: nil, limit: 1000, before: nil)
            e.equal(ofGrant.map(AuditShape.init), written.filter { $0.grantID == 3 }.reversed(), "events of grant 3")
            let since = Fixture.at(300.5)
            e.equal(try await store.auditEvents(grantID: nil, since: since, limit: 1000, before: nil).map(AuditShape.init),
                    written.filter { $0.at >= since }.reversed(), "events since a time (inclusive)")
            let limited = try await store.auditEvents(grantID: nil, since: nil, limit: 7, before: nil)
            e.equal(limited.map(AuditShape.init), Array(written.reversed().prefix(7)), "limited to 7")
            if let last = limited.last {
                let next = try await store.auditEvents(grantID: nil, since: nil, limit: 7, before: last.id)
                e.equal(next.map(AuditShape.init), Array(written.reversed().dropFirst(7).prefix(7)), "the next 7 before an id")
            }
        }
    }
}

extension StoreConformance {
    /// Audit queries: by grant and actions, failures only, newer than an id (the console's tail), with the
    /// duration kept; and the per-server refresh health of a period (counts, latency, newest failure).
    public static func auditQueriesAndRefreshHealth(_ backend: StoreBackend) async throws {
        try await run("auditQueriesAndRefreshHealth", backend) { e, store, _ in
            let actions = ["request.refused", "upstream.refresh", "upstream.refresh.forced", "grant.revoke"]
            var written: [(id: Int, shape: AuditShape)] = []
            for i in 0..<80 {
                let action = actions[i % 4]
                let refresh = action.hasPrefix("upstream.refresh")
                let event = NewAuditEvent(actor: "server", action: action, serverID: Int64(1 + i % 2), grantID: Int64(i % 3),
                                          clientID: "c\(i % 3)", outcome: i % 5 == 0 ? (refresh ? "transient" : "revoked") : "ok",
                                          detail: "event \(i)", durationMilliseconds: refresh ? 100 + i : nil)
                let at = Fixture.at(Double(i) * 60)
                try await store.appendAudit(event, at: at)
                written.append((i, AuditShape(event, at: at)))
            }
            let shapes = written.map(\.shape)
            let refusals = try await store.auditEvents(.refusals(grantID: 1, limit: 5))
            e.equal(refusals.map(AuditShape.init), Array(shapes.filter { $0.action == "request.refused" && $0.grantID == 1 }.reversed().prefix(5)),
                    "a grant's last refusals")
            let errors = try await store.auditEvents(.refreshErrors(grantID: 2, limit: 50))
            e.equal(errors.map(AuditShape.init), shapes.filter { $0.action.hasPrefix("upstream.refresh") && $0.grantID == 2 && $0.outcome != "ok" }.reversed(),
                    "a grant's failed refreshes, duration kept")
            let all = try await store.auditEvents(AuditQuery(limit: 1000))
            let pivot = all[10].id
            e.equal(try await store.auditEvents(AuditQuery(actions: ["grant.revoke"], after: pivot, limit: 100)).map(AuditShape.init),
                    shapes.suffix(10).filter { $0.action == "grant.revoke" }.reversed(), "one action newer than an id")
            e.equal(try await store.auditEvents(AuditQuery(actions: [], limit: 100)), [], "no action at all matches nothing")

            let since = Fixture.at(40 * 60)
            let health = try await store.refreshHealth(since: since)
            let recent = shapes.filter { $0.at >= since && $0.action.hasPrefix("upstream.refresh") }
            e.equal(health.map(\.serverID), [1, 2], "one row per server with attempts")
            for row in health {
                let mine = recent.filter { $0.serverID == row.serverID }
                let durations = mine.compactMap(\.durationMilliseconds)
                e.equal(row.attempts, mine.count, "attempts of server \(row.serverID)")
                e.equal(row.succeeded, mine.filter { $0.outcome == "ok" }.count, "successes of server \(row.serverID)")
                e.equal(row.maxMilliseconds, durations.max(), "longest latency of server \(row.serverID)")
                let mean = Double(durations.reduce(0, +)) / Double(durations.count)
                e.expect(abs(Double(row.meanMilliseconds ?? -99) - mean) <= 0.5, "mean latency of server \(row.serverID)")
                e.equal(row.lastError.map(AuditShape.init), mine.last { $0.outcome != "ok" }, "newest failure of server \(row.serverID)")
            }
            e.equal(try await store.refreshHealth(since: Fixture.at(1_000_000)), [], "nothing in a period without attempts")
        }
    }
}

extension SealedCredential {
    func with(version: Int64) -> SealedCredential {
        var copy = self
        copy.version = version
        return copy
    }
}
