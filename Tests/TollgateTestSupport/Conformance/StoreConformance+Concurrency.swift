import Foundation
import TollgateCore

extension StoreConformance {
    /// How many racers each compare-and-set race has; half of them go through the second connection.
    static let racers = 50

    /// Runs `racers` concurrent calls, even ones on `store` and odd ones on `other`; returns the results of those that
    /// did not throw. A `.storeUnavailable` (busy) is counted and fails the check; any other error is recorded.
    static func race<T: Sendable>(_ e: Expectations, _ what: String, _ store: any TollgateStore, _ other: any TollgateStore,
                                  _ call: @escaping @Sendable (any TollgateStore, Int) async throws -> T) async throws -> [(Int, T)] {
        let busy = Box(0)
        let results = try await withThrowingTaskGroup(of: (Int, T?).self) { group in
            for racer in 0..<racers {
                let connection = racer % 2 == 0 ? store : other
                group.addTask {
                    do {
                        return (racer, try await call(connection, racer))
                    } catch let error as TollgateError where error.code == .storeUnavailable {
                        busy.mutate { $0 += 1 }
                        return (racer, nil)
                    } catch {
                        e.record("\(what): racer \(racer) failed: \(error)")
                        return (racer, nil)
                    }
                }
            }
            var results: [(Int, T)] = []
            for try await (racer, result) in group { if let result { results.append((racer, result)) } }
            return results
        }
        e.equal(busy.value, 0, "\(what): racers that got .storeUnavailable (busy)")
        return results.sorted { $0.0 < $1.0 }
    }

    /// Compare-and-set under 50 concurrent callers over two connections: exactly one winner, the others the documented
    /// loser result, never an error.
    public static func compareAndSetRaces(_ backend: StoreBackend) async throws {
        try await run("compareAndSetRaces", backend) { e, store, other in
            let (server, _) = try await Fixture.server(store, "files")
            try await Fixture.createClient(store, "c1", serverID: server.id)

            let pending = Fixture.pending("raced", serverID: server.id, clientID: "c1")
            try await store.insertPendingAuthorization(pending)
            let takes = try await race(e, "takePendingAuthorization", store, other) { s, _ in
                try await s.takePendingAuthorization(stateHash: pending.stateHash, browserBindingHash: pending.browserBindingHash)
            }
            e.equal(takes.filter { $0.1 == .taken(pending) }.count, 1, "takePendingAuthorization winners")
            e.equal(takes.filter { $0.1 == .unknown }.count, racers - 1, "takePendingAuthorization losers (.unknown)")

            let grantID = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "alice", codeLabel: "raced")
            let codeHash = Fixture.code("raced", clientID: "c1", expiresAt: Fixture.t0).hash
            let redemptions = try await race(e, "redeemCode", store, other) { s, racer in
                try await s.redeemCode(hash: codeHash, at: Fixture.at(Double(racer)))
            }
            var redeemed: [Int] = []
            var replayed = 0
            for (racer, result) in redemptions {
                switch result {
                case .redeemed: redeemed.append(racer)
                case .replayed: replayed += 1
                case .notFound: e.record("redeemCode: racer \(racer) got .notFound")
                }
            }
            e.equal(redeemed.count, 1, "redeemCode winners")
            e.equal(replayed, racers - 1, "redeemCode losers (.replayed)")
            if let winner = redeemed.first {
                e.equal(try await store.authorizationCode(hash: codeHash)?.usedAt, Fixture.at(Double(winner)), "the winner's redemption time")
            }

            let refresh = NewToken(hash: Data("raced-refresh".utf8), kind: .refresh, expiresAt: Fixture.at(86400))
            try await store.insertTokens(grantID: grantID, clientID: "c1", [refresh], at: Fixture.t0)
            let rotations = try await race(e, "rotateRefreshToken", store, other) { s, racer in
                let successor = Data("successor-\(racer)".utf8)
                return try await s.rotateRefreshToken(old: refresh.hash, replacement: successor,
                                                      newTokens: [NewToken(hash: successor, kind: .refresh, expiresAt: Fixture.at(90000)),
                                                                  NewToken(hash: Data("access-\(racer)".utf8), kind: .access, expiresAt: Fixture.at(3600))],
                                                      grantID: grantID, clientID: "c1", at: Fixture.at(1))
            }
            let rotationWinners = rotations.filter { $0.1 }.map(\.0)
            e.equal(rotationWinners.count, 1, "rotateRefreshToken winners")
            e.equal(rotations.filter { !$0.1 }.count, racers - 1, "rotateRefreshToken losers (false)")
            if let winner = rotationWinners.first {
                e.equal(try await store.token(hash: refresh.hash)?.replacedBy, Data("successor-\(winner)".utf8), "the winner's successor")
                for racer in 0..<racers where racer != winner {
                    if try await store.token(hash: Data("successor-\(racer)".utf8)) != nil { e.record("a losing rotation (\(racer)) stored its token") }
                }
            }

            let leases = try await race(e, "acquireRefreshLease", store, other) { s, racer in
                try await s.acquireRefreshLease(grantID: grantID, owner: "owner-\(racer)", until: Fixture.at(60), now: Fixture.t0, replacing: nil)
            }
            let leaseWinners = leases.filter { $0.1 != nil }.map(\.0)
            e.equal(leaseWinners.count, 1, "acquireRefreshLease winners")
            e.equal(leases.filter { $0.1 == nil }.count, racers - 1, "acquireRefreshLease losers (nil)")
            if let winner = leaseWinners.first {
                e.equal(try await store.refreshLease(grantID: grantID)?.owner, "owner-\(winner)", "the lease holder")
            }

            let auditBefore = try await Fixture.lastAuditID(store)
            let revocations = try await race(e, "revokeGrant", store, other) { s, racer in
                try await s.revokeGrant(id: grantID, audit: Fixture.audit("grant.revoke", detail: "\(racer)"), at: Fixture.at(2))
            }
            let revocationWinners = revocations.filter { $0.1 }.map(\.0)
            e.equal(revocationWinners.count, 1, "revokeGrant winners")
            e.equal(revocations.filter { !$0.1 }.count, racers - 1, "revokeGrant losers (false)")
            e.equal(try await Fixture.audit(after: auditBefore, store).map(\.detail), revocationWinners.map(String.init),
                    "one revocation audit, the winner's")
        }
    }

    /// Taking the refresh lease brings what a refresh needs, as it is at that moment: the grant (its current
    /// version), its sealed credential, its server's provider and the provider's sealed secret.
    public static func refreshLeaseContext(_ backend: StoreBackend) async throws {
        try await run("refreshLeaseContext", backend) { e, store, other in
            let (server, provider) = try await Fixture.server(store, "files")
            try await Fixture.createClient(store, "c1", serverID: server.id)
            let id = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "alice")
            func until(_ seconds: TimeInterval) -> Date { Date().addingTimeInterval(seconds) }

            let taken = try await store.acquireRefreshLease(grantID: id, owner: "A", until: until(60), now: Date(), replacing: nil)
            e.equal(taken?.grant, try await store.grant(id: id), "the grant as read by grant(id:)")
            e.equal(taken?.sealedCredential, try await store.sealedCredential(grantID: id), "the sealed credential as read by sealedCredential")
            e.equal(taken?.sealedCredential?.refreshToken, Data("refresh-\(id)".utf8), "the sealed refresh token")
            e.equal(taken?.provider, provider, "the server's provider")
            e.equal(taken?.provider, try await store.provider(serverID: server.id), "the provider as read by provider(serverID:)")
            e.equal(taken?.sealedProviderSecret, Fixture.providerSecret(provider.id), "the provider's sealed secret")
            e.equal(try await other.acquireRefreshLease(grantID: id, owner: "B", until: until(60), now: Date(), replacing: nil), nil,
                    "a refused acquisition brings nothing")

            // Another process stores new tokens meanwhile (the lease lost): the next acquisition sees them.
            let version = taken?.grant.version ?? -1
            let info = UpstreamCredentialInfo(accessExpiresAt: Fixture.at(7200), hasRefreshToken: true, refreshExpiresAt: nil,
                                              scope: "read", obtainedAt: Fixture.at(10))
            let fresh = Fixture.credential(id, info, generation: "-by-B")
            e.equal(try await other.finishRefresh(grantID: id, owner: "B", expectedVersion: version, result: .refreshed(fresh, replacingObtainedAt: nil),
                                                  audit: Fixture.audit("upstream.refresh"), at: Fixture.at(10)), true, "B stores new tokens")
            let again = try await store.acquireRefreshLease(grantID: id, owner: "A", until: until(60), now: Date(), replacing: nil)
            e.expect((again?.grant.version ?? 0) > version, "the version B's write made")
            e.equal(again?.grant.version, try await store.grant(id: id)?.version, "the current version")
            e.equal(again?.grant.lastRefreshOutcome, .succeeded, "B's outcome")
            e.equal(again?.sealedCredential?.accessToken, fresh.accessToken, "B's access token")
            e.equal(again?.sealedCredential?.refreshToken, fresh.refreshToken, "B's refresh token")
            e.equal(again?.sealedCredential?.info, info, "B's credential info")
            try await store.releaseRefreshLease(grantID: id, owner: "A")

            // A server without a provider, a grant without a credential, an unknown grant.
            let bare = try await store.createServer(NewServer(slug: "bare", upstreamMCPURL: "https://bare.example/mcp", scopes: ["read"]),
                                                    audit: Fixture.audit("server.add"), at: Fixture.t0)
            try await Fixture.createClient(store, "c2", serverID: bare.id)
            let bareGrant = try await Fixture.grant(store, serverID: bare.id, clientID: "c2", subject: "bob")
            let bareTaken = try await store.acquireRefreshLease(grantID: bareGrant, owner: "A", until: until(60), now: Date(), replacing: nil)
            e.equal(bareTaken?.grant.id, bareGrant, "the lease of a grant whose server has no provider")
            e.equal(bareTaken?.provider, nil, "no provider")
            e.equal(bareTaken?.sealedProviderSecret, nil, "no provider secret")
            e.expect(bareTaken?.sealedCredential != nil, "its credential all the same")
            e.equal(try await store.acquireRefreshLease(grantID: id + 1000, owner: "A", until: until(60), now: Date(), replacing: nil), nil,
                    "an unknown grant's lease")
        }
    }

    /// The refresh lease: who may take it, renew it, and when a result is written.
    public static func refreshLeaseRules(_ backend: StoreBackend) async throws {
        try await run("refreshLeaseRules", backend) { e, store, other in
            let (server, _) = try await Fixture.server(store, "files")
            try await Fixture.createClient(store, "c1", serverID: server.id)
            let id = try await Fixture.grant(store, serverID: server.id, clientID: "c1", subject: "alice")
            let t = Fixture.at
            // Lease expiry is judged by the store's clock where it has one (PostgreSQL's now()), so the lease
            // checks pass real times: `now()` is the wall clock, and an expiry is waited for, briefly.
            func now() -> Date { Date() }
            func until(_ seconds: TimeInterval) -> Date { Date().addingTimeInterval(seconds) }
            func close(_ a: Date?, _ b: Date, _ what: String) {
                e.expect(a.map { abs($0.timeIntervalSince(b)) < 5 } ?? false, "\(what): got \(String(describing: a)), expected about \(b)")
            }

            e.equal(try await store.refreshLease(grantID: id)?.owner, nil, "a new grant's lease is free")
            e.equal(try await store.refreshLease(grantID: id + 1000), nil, "the lease of an unknown grant")
            let first = try await store.acquireRefreshLease(grantID: id, owner: "A", until: until(60), now: now(), replacing: nil)
            e.expect(first != nil, "a free lease is taken")
            e.equal(first?.interruptedAttemptAt, nil, "a free lease reports no interrupted attempt")
            let state = try await store.refreshLease(grantID: id)
            e.equal(state?.owner, "A", "the lease's owner")
            e.equal(state?.version, try await store.grant(id: id)!.version, "the lease's version")
            close(state?.until, until(60), "the lease's expiry")
            e.equal(try await other.acquireRefreshLease(grantID: id, owner: "B", until: until(60), now: now(), replacing: nil), nil,
                    "a live lease of another owner is refused")
            e.equal(try await other.acquireRefreshLease(grantID: id, owner: "B", until: until(60), now: now(), replacing: "Z"), nil,
                    "naming another stale owner does not take it")
            e.expect(try await store.acquireRefreshLease(grantID: id, owner: "A", until: until(60), now: now(), replacing: nil) != nil,
                     "the same owner takes it again")
            e.equal(try await store.renewRefreshLease(grantID: id, owner: "A", until: until(120), now: now()), true, "the holder renews")
            close(try await store.refreshLease(grantID: id)?.until, until(120), "renewed until")
            e.equal(try await other.renewRefreshLease(grantID: id, owner: "B", until: until(500), now: now()), false, "another owner cannot renew")
            close(try await store.refreshLease(grantID: id)?.until, until(120), "lease unchanged by a foreign renewal")
            try await other.releaseRefreshLease(grantID: id, owner: "B")
            e.equal(try await store.refreshLease(grantID: id)?.owner, "A", "another owner cannot release")
            e.expect(try await other.acquireRefreshLease(grantID: id, owner: "C", until: until(0.6), now: now(), replacing: "A") != nil,
                     "a stale owner's live lease is taken when named")
            e.equal(try await store.refreshLease(grantID: id)?.owner, "C", "the new holder")
            e.equal(try await store.acquireRefreshLease(grantID: id, owner: "D", until: until(60), now: now(), replacing: nil), nil,
                    "refused before expiry")
            try await Task.sleep(for: .milliseconds(900))
            e.expect(try await store.acquireRefreshLease(grantID: id, owner: "D", until: until(60), now: now(), replacing: nil) != nil,
                     "an expired lease is taken")
            try await store.releaseRefreshLease(grantID: id, owner: "D")
            e.equal(try await store.refreshLease(grantID: id)?.owner, nil, "released")
            e.equal(try await renewed(store, id, "D", until(300)), false, "a released lease cannot be renewed")

            // finishRefresh: other outcomes only with lease and version; new tokens always.
            let version = try await store.refreshLease(grantID: id)!.version
            let audit = Fixture.audit("upstream.refresh")
            for (label, result) in [("needsReauth", RefreshWrite.needsReauth(reason: "invalid_grant")), ("providerMisconfigured", .providerMisconfigured()),
                                    ("transient", .transient(notBefore: t(900)))] {
                let written = try await e.audits(store, "finishRefresh(\(label)) without the lease", []) {
                    try await store.finishRefresh(grantID: id, owner: "E", expectedVersion: version, result: result, audit: audit, at: t(400))
                }
                e.equal(written, false, "finishRefresh(\(label)) without the lease")
            }
            _ = try await store.acquireRefreshLease(grantID: id, owner: "E", until: until(60), now: now(), replacing: nil)
            e.equal(try await store.finishRefresh(grantID: id, owner: "E", expectedVersion: version + 7, result: .providerMisconfigured(),
                                                  audit: audit, at: t(401)), false, "finishRefresh with a stale version")
            let transientAudit = Fixture.audit("upstream.refresh", detail: "transient")
            let wroteTransient = try await e.audits(store, "finishRefresh(transient) by the holder", [AuditShape(transientAudit, at: t(402))]) {
                try await store.finishRefresh(grantID: id, owner: "E", expectedVersion: version, result: .transient(notBefore: t(900)),
                                              audit: transientAudit, at: t(402))
            }
            e.equal(wroteTransient, true, "finishRefresh(transient) by the holder")
            let afterTransient = try await store.grant(id: id)
            e.equal(afterTransient?.lastRefreshOutcome, .transient, "outcome recorded")
            e.equal(afterTransient?.refreshFailures, 1, "failures counted")
            e.equal(afterTransient?.refreshNotBefore, t(900), "backoff recorded")
            e.equal(afterTransient?.state, .active, "a transient failure leaves the grant active")
            e.expect((afterTransient?.version ?? 0) > version, "the version is bumped")
            e.equal(try await store.refreshLease(grantID: id)?.owner, nil, "finishing releases the lease")

            // A holder that lost its lease still stores new upstream tokens.
            let v2 = try await store.refreshLease(grantID: id)!.version
            _ = try await store.acquireRefreshLease(grantID: id, owner: "F", until: until(0.3), now: now(), replacing: nil)
            try await Task.sleep(for: .milliseconds(600))
            _ = try await other.acquireRefreshLease(grantID: id, owner: "G", until: until(60), now: now(), replacing: nil)
            let info = UpstreamCredentialInfo(accessExpiresAt: t(5000), hasRefreshToken: true, refreshExpiresAt: nil, scope: "read", obtainedAt: t(1002))
            let fresh = Fixture.credential(id, info, generation: "-refreshed")
            let refreshedAudit = Fixture.audit("upstream.refresh", detail: "refreshed")
            let wroteTokens = try await e.audits(store, "finishRefresh(refreshed) after losing the lease", [AuditShape(refreshedAudit, at: t(1003))]) {
                try await store.finishRefresh(grantID: id, owner: "F", expectedVersion: v2, result: .refreshed(fresh, replacingObtainedAt: nil), audit: refreshedAudit, at: t(1003))
            }
            e.equal(wroteTokens, true, "new tokens are written even after the lease was lost")
            let stored = try await store.sealedCredential(grantID: id)
            e.equal(stored?.accessToken, fresh.accessToken, "the refreshed access token")
            e.equal(stored?.refreshToken, fresh.refreshToken, "the refreshed refresh token")
            e.equal(stored?.info, info, "the refreshed credential info")
            let afterRefresh = try await store.grant(id: id)
            e.equal(afterRefresh?.lastRefreshOutcome, .succeeded, "refreshed outcome")
            e.equal(afterRefresh?.refreshFailures, 0, "failures reset")
            e.equal(afterRefresh?.upstream, info, "grant's upstream info")
            e.equal(try await store.refreshLease(grantID: id)?.owner, "G", "another holder's lease stays with it")
            e.equal(try await other.finishRefresh(grantID: id, owner: "G", expectedVersion: v2, result: .needsReauth(reason: "x"),
                                                  audit: audit, at: t(1004)), false, "the other holder's version is now stale")
            try await other.releaseRefreshLease(grantID: id, owner: "G")

            // Needs-reauth by the holder, then new tokens make the grant active again.
            let v3 = try await store.refreshLease(grantID: id)!.version
            _ = try await store.acquireRefreshLease(grantID: id, owner: "H", until: until(60), now: now(), replacing: nil)
            e.equal(try await store.finishRefresh(grantID: id, owner: "H", expectedVersion: v3, result: .needsReauth(reason: "refused"),
                                                  audit: audit, at: t(1251)), true, "needsReauth by the holder")
            e.equal(try await store.grant(id: id)?.state, .needsReauth, "needs re-authorization")
            e.equal(try await store.grant(id: id)?.stateReason, "refused", "the reason")
            e.equal(try await store.finishRefresh(grantID: id, owner: "I", expectedVersion: 0, result: .refreshed(fresh, replacingObtainedAt: t(1002)), audit: audit,
                                                  at: t(1260)), true, "new tokens for a needs-reauth grant")
            e.equal(try await store.grant(id: id)?.state, .active, "new tokens make the grant active again")

            // Interrupted attempts: a holder that sent and never finished is reported to the next holder.
            let sentByJ = now()
            _ = try await store.acquireRefreshLease(grantID: id, owner: "J", until: until(0.3), now: sentByJ, replacing: nil)
            try await Task.sleep(for: .milliseconds(600))
            let next = try await other.acquireRefreshLease(grantID: id, owner: "K", until: until(60), now: now(), replacing: nil)
            close(next?.interruptedAttemptAt, sentByJ, "the crashed holder's attempt is reported")
            let staleTaken = try await store.acquireRefreshLease(grantID: id, owner: "L", until: until(60), now: now(), replacing: "K")
            e.equal(staleTaken?.interruptedAttemptAt == nil, false, "a stale holder's unfinished attempt is reported")
            e.equal(try await store.finishRefresh(grantID: id, owner: "M", expectedVersion: 0, result: .refreshed(fresh, replacingObtainedAt: t(1002)), audit: audit,
                                                  at: t(1403)), true, "new tokens clear the interruption")
            try await store.releaseRefreshLease(grantID: id, owner: "L")
            let afterStored = try await store.acquireRefreshLease(grantID: id, owner: "N", until: until(60), now: now(), replacing: nil)
            e.expect(afterStored != nil, "the lease is taken after a stored result")
            e.equal(afterStored?.interruptedAttemptAt, nil, "after a stored result nothing is reported")
            let v4 = try await store.refreshLease(grantID: id)!.version
            e.equal(try await store.finishRefresh(grantID: id, owner: "N", expectedVersion: v4, result: .transient(notBefore: t(2000), answerLost: true),
                                                  audit: audit, at: t(1651)), true, "a transient failure whose answer was lost")
            let afterLost = try await store.acquireRefreshLease(grantID: id, owner: "O", until: until(60), now: now(), replacing: nil)
            e.expect(afterLost?.interruptedAttemptAt != nil, "a lost answer is reported as an interrupted attempt")

            // Revoked grants take no new tokens.
            _ = try await store.revokeGrant(id: id, audit: Fixture.audit("grant.revoke"), at: t(1760))
            e.equal(try await store.finishRefresh(grantID: id, owner: "O", expectedVersion: 0, result: .refreshed(fresh, replacingObtainedAt: t(1002)), audit: audit,
                                                  at: t(1761)), false, "new tokens for a revoked grant are not written")
            e.equal(try await store.grant(id: id)?.state, .revoked, "the grant stays revoked")
        }
    }

    private static func renewed(_ store: any TollgateStore, _ id: Int64, _ owner: String, _ until: Date) async throws -> Bool {
        try await store.renewRefreshLease(grantID: id, owner: owner, until: until, now: Date())
    }

    /// dataVersion changes after another connection commits, and not while nothing is written.
    public static func dataVersion(_ backend: StoreBackend) async throws {
        try await run("dataVersion", backend) { e, store, other in
            let first = try await store.dataVersion()
            _ = try await store.setting("x")
            e.equal(try await store.dataVersion(), first, "dataVersion without any commit")
            // A notification-fed counter (PostgreSQL) changes shortly after the commit, not within it: wait, boundedly.
            func changed(from old: Int64) async throws -> Int64? {
                for _ in 0..<50 {
                    let version = try await store.dataVersion()
                    if version != old { return version }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return nil
            }
            try await other.setSetting("x", "1")
            let second = try await changed(from: first)
            e.expect(second != nil, "dataVersion after another connection committed a setting")
            _ = try await other.createServer(NewServer(slug: "s", upstreamMCPURL: "https://s.example/mcp"), audit: Fixture.audit("server.add"), at: Fixture.t0)
            e.expect(try await changed(from: second ?? first) != nil, "dataVersion after another connection added a server")
        }
    }
}
