import Foundation
import PostgresNIO
import Testing
import TollgateCore
@testable import TollgatePostgres

/// The PostgreSQL store against a real server (see ``TestPostgres``); serialized, since every test opens
/// its own database and pool and the server allows a bounded number of connections.
@Suite("postgres store", .serialized, .enabled(if: TestPostgres.shouldRun, Comment(rawValue: TestPostgres.notFoundMessage)))
struct PostgresStoreTests {
    typealias F = StoreFixture
    let t0 = StoreFixture.t0

    // MARK: - Migrations

    @Test func anEmptyDatabaseIsMigratedAndReopeningChangesNothing() async throws {
        try await TestPostgres.withFreshDatabase { configuration in
            let first = try await PostgresStore(configuration: configuration)
            _ = try await F.make(first)
            await first.close()
            let migrations = try await TestPostgres.values(configuration, "SELECT name FROM tollgate_migrations ORDER BY name") {
                try $0.decode(String.self)
            }
            #expect(migrations == ["0001-initial", "0002-change-notifications", "0003-server-policy", "0004-client-metadata-documents", "0005-audit-refusals-and-refresh-latency", "0006-grants-by-state-and-expiry",
                                  "0007-unused-clients-by-creation", "0008-token-scopes"])

            let second = try await PostgresStore(configuration: configuration)
            #expect(try await second.servers().map(\.slug) == ["files"])
            await second.close()
            let again = try await TestPostgres.values(configuration, "SELECT count(*) FROM tollgate_migrations") { try $0.decode(Int64.self) }
            #expect(again == [Int64(PostgresMigrations.all.count)])
        }
    }

    @Test func twoInstancesStartingTogetherMigrateOnce() async throws {
        try await TestPostgres.withFreshDatabase { configuration in
            let stores = try await race(4) { _ in try await PostgresStore(configuration: configuration) }
            for store in stores { await store.close() }
            let count = try await TestPostgres.values(configuration, "SELECT count(*) FROM tollgate_migrations") { try $0.decode(Int64.self) }
            #expect(count == [Int64(PostgresMigrations.all.count)])
        }
    }

    @Test func aForeignDatabaseIsRefusedAndLeftUntouched() async throws {
        try await TestPostgres.withFreshDatabase { configuration in
            try await TestPostgres.admin(configuration) { db in
                try await db.query("CREATE TABLE invoices (id INT PRIMARY KEY)", logger: TestPostgres.logger)
                try await db.query("INSERT INTO invoices VALUES (1)", logger: TestPostgres.logger)
            }
            let error = await #expect(throws: TollgateError.self) { _ = try await PostgresStore(configuration: configuration) }
            let message = error?.message ?? ""
            #expect(error?.code == .damaged)
            #expect(message.contains("not a Tollgate database"))
            #expect(message.contains(configuration.displayName))
            #expect(!message.contains(configuration.user + "@"))
            let tables = try await TestPostgres.values(configuration, """
                SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1
                """) { try $0.decode(String.self) }
            #expect(tables == ["invoices"])
        }
    }

    @Test func aDatabaseOfANewerVersionIsRefusedAndLeftUntouched() async throws {
        try await TestPostgres.withFreshDatabase { configuration in
            let store = try await PostgresStore(configuration: configuration)
            await store.close()
            _ = try await TestPostgres.admin(configuration) { db in
                try await db.query("INSERT INTO tollgate_migrations VALUES ('9999-future', 0)", logger: TestPostgres.logger)
            }
            let error = await #expect(throws: TollgateError.self) { _ = try await PostgresStore(configuration: configuration) }
            #expect(error?.code == .damaged)
            #expect(error?.message.contains("newer") == true)
            let migrations = try await TestPostgres.values(configuration, "SELECT name FROM tollgate_migrations ORDER BY name") {
                try $0.decode(String.self)
            }
            #expect(migrations == ["0001-initial", "0002-change-notifications", "0003-server-policy", "0004-client-metadata-documents", "0005-audit-refusals-and-refresh-latency", "0006-grants-by-state-and-expiry",
                                  "0007-unused-clients-by-creation", "0008-token-scopes",
                                  "9999-future"])
        }
    }

    @Test func anUnreachableServerIsUnavailableNamingOnlyTheDisplayName() async throws {
        guard var configuration = TestPostgres.server else { Issue.record(Comment(rawValue: TestPostgres.notFoundMessage)); return }
        configuration.port = 1
        configuration.password = "do-not-print-me"
        let error = await #expect(throws: TollgateError.self) { _ = try await PostgresStore(configuration: configuration) }
        let message = error?.message ?? ""
        let displayName: String = configuration.displayName
        #expect(error?.code == .storeUnavailable)
        #expect(message.contains(displayName))
        #expect(!message.contains("do-not-print-me"))
        #expect(!message.contains(configuration.user + "@"))
    }

    @Test func anUnreadableSSLRootCertificateFailsTheOpenNamingTheFile() async throws {
        guard var configuration = TestPostgres.server else { Issue.record(Comment(rawValue: TestPostgres.notFoundMessage)); return }
        configuration.sslMode = .verifyFull
        configuration.sslRootCertificatePath = "/nonexistent/tollgate-ca.pem"
        configuration.password = "do-not-print-me"
        let error = await #expect(throws: TollgateError.self) { _ = try await PostgresStore(configuration: configuration) }
        #expect(error?.code == .storeUnavailable)
        #expect(error?.message.contains("sslrootcert (/nonexistent/tollgate-ca.pem)") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("do-not-print-me") == false)
    }

    @Test func anOperationTheServerDoesNotAnswerFailsAtTheOperationTimeoutAndTheStoreRecovers() async throws {
        try await TestPostgres.withFreshDatabase { base in
            var configuration = base
            configuration.operationTimeout = 3
            let store = try await PostgresStore(configuration: configuration)
            do {
                try await Self.timeOutAndRecover(store, configuration)
                await store.close()
            } catch {
                await store.close()
                throw error
            }
        }
    }

    private static func timeOutAndRecover(_ store: PostgresStore, _ configuration: PostgresStore.Configuration) async throws {
        #expect(try await store.countGrants() == 0)
        // Another session holds the grants table locked: the store's read waits on the server, which does not
        // answer. The lock goes after 20 s at the latest, so without the deadline the read would succeed then.
        let locker = try await PostgresConnection.connect(
            configuration: .init(host: configuration.host, port: configuration.port, username: configuration.user,
                                 password: configuration.password, database: configuration.database, tls: .disable),
            id: 7, logger: TestPostgres.logger)
        do {
            try await locker.query("BEGIN", logger: TestPostgres.logger)
            try await locker.query("SET LOCAL idle_in_transaction_session_timeout = '20s'", logger: TestPostgres.logger)
            try await locker.query("LOCK TABLE grants IN ACCESS EXCLUSIVE MODE", logger: TestPostgres.logger)
            let error = await #expect(throws: TollgateError.self) { _ = try await store.countGrants() }
            #expect(error?.code == .storeUnavailable)
            #expect(error?.message == "\(configuration.displayName) did not answer within 3 s")
            try await locker.query("ROLLBACK", logger: TestPostgres.logger)
            try await locker.close()
        } catch {
            try? await locker.close()
            throw error
        }
        // The timed-out connection was closed; the pool serves the next operation on a fresh one.
        #expect(try await store.countGrants() == 0)
    }

    // MARK: - Life cycle

    @Test func aGrantLivesItsWholeLifeCycle() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            #expect(try await store.server(slug: "files") == f.server)
            #expect(try await store.server(id: f.server.id) == f.server)
            #expect(f.provider.hasClientSecret)
            #expect(try await store.sealedProviderSecret(providerID: f.provider.id) == F.sealedSecret(providerID: f.provider.id))
            #expect(try await store.provider(serverID: f.server.id) == f.provider)
            #expect(try await store.client(id: f.client.id) == f.client)

            // The pending authorization goes only to its own browser, and only once.
            try await store.insertPendingAuthorization(f.pending("a", browser: "browser-1"))
            let stateHash = F.hash("state-a")
            #expect(try await store.takePendingAuthorization(stateHash: stateHash, browserBindingHash: F.hash("browser-2")) == .boundToAnotherBrowser)
            #expect(try await store.takePendingAuthorization(stateHash: stateHash, browserBindingHash: nil) == .boundToAnotherBrowser)
            #expect(try await store.takePendingAuthorization(stateHash: stateHash, browserBindingHash: F.hash("browser-1")) == .taken(f.pending("a", browser: "browser-1")))
            #expect(try await store.takePendingAuthorization(stateHash: stateHash, browserBindingHash: F.hash("browser-1")) == .unknown)

            let grantID = try await f.grant("a", subject: "alice")
            let sealed = try #require(try await store.sealedCredential(grantID: grantID))
            #expect(sealed.accessToken == Data("access-of-\(grantID)".utf8))
            #expect(sealed.refreshToken == Data("refresh-of-\(grantID)".utf8))
            let grant = try #require(try await store.grant(id: grantID))
            #expect(grant.subject == "alice")
            #expect(grant.state == .active)
            #expect(grant.serverSlug == "files")
            #expect(grant.providerSupportsRefresh)
            let audits = try await store.auditEvents(grantID: grantID, since: nil, limit: 10, before: nil)
            #expect(audits.map(\.action) == ["grant.create"])

            let code = try #require(try await store.authorizationCode(hash: F.hash("code-a")))
            #expect(code.grantID == grantID)
            #expect(code.usedAt == nil)
            guard case .redeemed(let redeemed) = try await store.redeemCode(hash: code.hash, at: t0) else {
                Issue.record("the first redemption must win"); return
            }
            #expect(redeemed == code)
            guard case .replayed(let replayed) = try await store.redeemCode(hash: code.hash, at: t0) else {
                Issue.record("the second redemption is a replay"); return
            }
            #expect(replayed.usedAt == t0)
            guard case .notFound = try await store.redeemCode(hash: F.hash("no such code"), at: t0) else {
                Issue.record("an unknown code is not found"); return
            }

            try await f.issueTokens("1", grantID: grantID)
            let access = try #require(try await store.token(hash: F.hash("access-1")))
            #expect(access.kind == .access)
            #expect(access.grantID == grantID)
            #expect(access.expiresAt == t0.addingTimeInterval(3600))
            let context = try #require(try await store.tokenContext(hash: F.hash("access-1")))
            #expect(context.token == access)
            #expect(context.grant.id == grantID)
            #expect(context.sealed?.accessToken == sealed.accessToken)
            #expect(context.upstreamMCPURL == f.server.upstreamMCPURL)
            #expect(context.grant.proxyAccessExpiresAt == t0.addingTimeInterval(3600))

            let later = t0.addingTimeInterval(60)
            let rotated = try await store.rotateRefreshToken(
                old: F.hash("refresh-1"), replacement: F.hash("refresh-2"),
                newTokens: [NewToken(hash: F.hash("access-2"), kind: .access, expiresAt: later.addingTimeInterval(3600)),
                            NewToken(hash: F.hash("refresh-2"), kind: .refresh, expiresAt: later.addingTimeInterval(86400))],
                grantID: grantID, clientID: f.client.id, at: later)
            #expect(rotated)
            #expect(try await store.token(hash: F.hash("refresh-1"))?.replacedBy == F.hash("refresh-2"))
            #expect(try await store.token(hash: F.hash("access-1"))?.revokedAt == later)
            #expect(try await store.token(hash: F.hash("access-2"))?.revokedAt == nil)

            // Revoking a refresh token takes the grant's access tokens with it.
            try await store.revokeToken(hash: F.hash("refresh-2"), at: later)
            #expect(try await store.token(hash: F.hash("access-2"))?.revokedAt == later)

            #expect(try await store.revokeGrant(id: grantID, audit: F.audit("grant.revoke"), at: later))
            #expect(try await store.revokeGrant(id: grantID, audit: F.audit("grant.revoke"), at: later) == false)
            #expect(try await store.grant(id: grantID)?.state == .revoked)
            let revokeAudits = try await store.auditEvents(grantID: nil, since: nil, limit: 100, before: nil).filter { $0.action == "grant.revoke" }
            #expect(revokeAudits.count == 1)
            await #expect { _ = try await store.revokeGrant(id: 999_999, audit: F.audit("grant.revoke"), at: later) } throws: {
                ($0 as? TollgateError)?.code == .notFound
            }

            let removed = try await store.removeServer(slug: "files", audit: { NewAuditEvent(actor: "test", action: "server.remove", detail: "\($0)") }, at: later)
            #expect(removed == 1)
            #expect(try await store.grant(id: grantID) == nil)
            #expect(try await store.auditEvents(grantID: nil, since: nil, limit: 1, before: nil).first?.detail == "1")
        }
    }

    @Test func writesCarryTheirAuditEventInTheSameTransaction() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let events = try await store.auditEvents(grantID: nil, since: nil, limit: 10, before: nil)
            #expect(events.map(\.action) == ["client.register", "provider.add", "server.add"])
            #expect(events.last?.serverID == f.server.id)
            try await store.addEncryptionKey(id: 1, wrapped: Data([1, 2, 3]), audit: F.audit("keys.rotate"), at: t0)
            #expect(try await store.encryptionKeys().map(\.id) == [1])
            let revoked = try await store.revokeClient(id: f.client.id, audit: { NewAuditEvent(actor: "test", action: "client.revoke", detail: "\($0)") }, at: t0)
            #expect(revoked == 0)
            let latest = try await store.auditEvents(grantID: nil, since: nil, limit: 2, before: nil).map(\.action)
            #expect(latest == ["client.revoke", "keys.rotate"])
        }
    }

    @Test func takenKeysAreConflicts() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let auditsBefore = try await store.auditEvents(grantID: nil, since: nil, limit: 100, before: nil).count
            await #expect { _ = try await store.createServer(NewServer(slug: "files", upstreamMCPURL: "http://x/mcp"), audit: F.audit("server.add"), at: t0) } throws: {
                ($0 as? TollgateError)?.code == .conflict
            }
            await #expect { try await store.createClient(f.client, secretHash: nil, audit: F.audit("client.register")) } throws: {
                ($0 as? TollgateError)?.code == .conflict
            }
            try await store.addEncryptionKey(id: 7, wrapped: Data([7]), audit: nil, at: t0)
            await #expect { try await store.addEncryptionKey(id: 7, wrapped: Data([8]), audit: nil, at: t0) } throws: {
                ($0 as? TollgateError)?.code == .conflict
            }
            // A unique violation straight from the database (no pre-check) is a conflict too: SQLSTATE 23505.
            let credential = IntrospectionCredential(id: "rs-1", serverID: f.server.id, name: "RS", createdAt: t0)
            try await store.createIntrospectionCredential(credential, secretHash: F.hash("s"), audit: F.audit("introspection-credential.create"))
            await #expect { try await store.createIntrospectionCredential(credential, secretHash: F.hash("s"), audit: F.audit("x")) } throws: {
                ($0 as? TollgateError)?.code == .conflict
            }
            await #expect { try await store.insertTokens(grantID: 424_242, clientID: f.client.id, [NewToken(hash: F.hash("t"), kind: .access, expiresAt: t0)], at: t0) } throws: {
                ($0 as? TollgateError)?.code == .conflict
            }
            let auditsAfter = try await store.auditEvents(grantID: nil, since: nil, limit: 100, before: nil).count
            #expect(auditsAfter == auditsBefore + 1, "only the successful credential wrote an audit event")
        }
    }

    @Test func clientsPageAndOnlyUnusedDynamicClientsExpire() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            func dynamic(_ id: String) -> Client {
                Client(id: id, serverID: f.server.id, name: id, redirectURIs: ["http://127.0.0.1:9/cb"], authMethod: .none,
                       grantTypes: ["authorization_code"], registeredBy: "dynamic", createdAt: t0, revokedAt: nil)
            }
            for id in ["d-unused-1", "d-unused-2", "d-granted", "d-pending"] {
                try await store.createClient(dynamic(id), secretHash: nil, audit: F.audit("client.register"))
            }
            try await f.grant("kept", clientID: "d-granted")
            var pending = f.pending("kept", browser: nil)
            pending.clientID = "d-pending"
            try await store.insertPendingAuthorization(pending)

            var ids: [String] = []
            var after: String? = nil
            for _ in 0..<10 {
                let page = try await store.clients(serverID: f.server.id, limit: 2, after: after)
                ids += page.items.map(\.id)
                guard let next = page.nextCursor else { break }
                after = next
            }
            #expect(ids == ["client-1", "d-granted", "d-pending", "d-unused-1", "d-unused-2"])

            let deleted = try await store.deleteUnusedClients(
                createdBefore: t0.addingTimeInterval(1), limit: 10, now: t0,
                audit: { NewAuditEvent(actor: "server", action: "client.expire", detail: "\($0)") })
            #expect(deleted == 2)
            #expect(try await store.client(id: "d-unused-1") == nil)
            #expect(try await store.client(id: "d-granted") != nil)
            #expect(try await store.client(id: "d-pending") != nil)
            #expect(try await store.client(id: "client-1") != nil, "admin-registered clients never expire")
            #expect(try await store.auditEvents(grantID: nil, since: nil, limit: 1, before: nil).first?.detail == "2")
            let none = try await store.deleteUnusedClients(createdBefore: t0.addingTimeInterval(1), limit: 10, now: t0,
                                                           audit: { _ in NewAuditEvent(actor: "server", action: "client.expire") })
            #expect(none == 0)
            #expect(try await store.auditEvents(grantID: nil, since: nil, limit: 1, before: nil).first?.detail == "2", "no audit when none went")

            let credential = IntrospectionCredential(id: "rs-1", serverID: f.server.id, name: "RS", createdAt: t0)
            try await store.createIntrospectionCredential(credential, secretHash: F.hash("secret"), audit: F.audit("introspection-credential.create"))
            #expect(try await store.introspectionCredentials(serverID: f.server.id) == [credential])
            #expect(try await store.introspectionCredentialSecretHash(id: "rs-1") == F.hash("secret"))
            #expect(try await store.revokeIntrospectionCredential(id: "rs-1", audit: F.audit("introspection-credential.revoke"), at: t0))
            #expect(try await store.revokeIntrospectionCredential(id: "rs-1", audit: F.audit("introspection-credential.revoke"), at: t0) == false)
            #expect(try await store.introspectionCredential(id: "rs-1")?.revokedAt == t0)
            await #expect { _ = try await store.revokeIntrospectionCredential(id: "nope", audit: F.audit("x"), at: t0) } throws: {
                ($0 as? TollgateError)?.code == .notFound
            }
        }
    }

    // MARK: - Compare-and-set under concurrency

    @Test func fiftyConcurrentTakersOfAPendingAuthorizationHaveOneWinner() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            try await store.insertPendingAuthorization(f.pending("race", browser: "b"))
            let results = try await race { _ in
                try await store.takePendingAuthorization(stateHash: F.hash("state-race"), browserBindingHash: F.hash("b"))
            }
            let taken = results.filter { (take: PendingAuthorizationTake) -> Bool in
                if case .taken = take { return true } else { return false }
            }
            #expect(taken.count == 1)
            #expect(results.filter { (take: PendingAuthorizationTake) -> Bool in take == .unknown }.count == 49)
        }
    }

    @Test func fiftyConcurrentRedeemersOfACodeHaveOneWinner() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            try await f.grant("race")
            let results = try await race { _ in try await store.redeemCode(hash: F.hash("code-race"), at: t0) }
            var redeemed = 0
            var replayed = 0
            for result in results {
                switch result {
                case .redeemed: redeemed += 1
                case .replayed: replayed += 1
                case .notFound: break
                }
            }
            #expect(redeemed == 1)
            #expect(replayed == 49)
        }
    }

    @Test func fiftyConcurrentRotationsOfARefreshTokenHaveOneWinner() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let grantID = try await f.grant("race")
            try await f.issueTokens("race", grantID: grantID)
            let results = try await race { index in
                try await store.rotateRefreshToken(
                    old: F.hash("refresh-race"), replacement: F.hash("refresh-\(index)"),
                    newTokens: [NewToken(hash: F.hash("access-\(index)"), kind: .access, expiresAt: t0.addingTimeInterval(3600)),
                                NewToken(hash: F.hash("refresh-\(index)"), kind: .refresh, expiresAt: t0.addingTimeInterval(86400))],
                    grantID: grantID, clientID: f.client.id, at: t0)
            }
            #expect(results.filter { $0 }.count == 1)
            let successor = try #require(try await store.token(hash: F.hash("refresh-race"))?.replacedBy)
            #expect(try await store.token(hash: successor) != nil)
            let count = try await TestPostgres.values(store.configuration, "SELECT count(*) FROM tokens") { try $0.decode(Int64.self) }
            #expect(count == [4], "the old pair and exactly one new pair")
        }
    }

    @Test func fiftyConcurrentLeaseTakersHaveOneWinner() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let grantID = try await f.grant("race")
            let results = try await race { index in
                try await store.acquireRefreshLease(grantID: grantID, owner: "owner-\(index)", until: t0.addingTimeInterval(30),
                                                    now: t0, replacing: nil)
            }
            #expect(results.compactMap { $0 }.count == 1)
            #expect(try await store.refreshLease(grantID: grantID)?.owner?.hasPrefix("owner-") == true)
        }
    }

    @Test func fiftyConcurrentRevocationsOfAGrantAuditOnce() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let grantID = try await f.grant("race")
            let results = try await race { _ in try await store.revokeGrant(id: grantID, audit: F.audit("grant.revoke"), at: t0) }
            #expect(results.filter { $0 }.count == 1)
            let audits = try await store.auditEvents(grantID: nil, since: nil, limit: 200, before: nil).filter { $0.action == "grant.revoke" }
            #expect(audits.count == 1)
        }
    }

    // MARK: - Refresh lease

    @Test func aLeaseExpiresByTheDatabaseClockNotTheCallers() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let grantID = try await f.grant("lease")
            // The callers' clocks are far from the database's (t0 is in 2027); only durations count.
            let taken = try await store.acquireRefreshLease(grantID: grantID, owner: "a", until: t0.addingTimeInterval(30), now: t0, replacing: nil)
            #expect(taken != nil)
            #expect(taken?.interruptedAttemptAt == nil)
            // A caller whose clock is an hour ahead would see the lease as long expired: it does not get it.
            let skewed = t0.addingTimeInterval(3600)
            #expect(try await store.acquireRefreshLease(grantID: grantID, owner: "b", until: skewed.addingTimeInterval(30), now: skewed, replacing: nil) == nil)
            #expect(try await store.renewRefreshLease(grantID: grantID, owner: "b", until: skewed.addingTimeInterval(30), now: skewed) == false)
            // The holder renews for no time at all: by the database's clock the lease is over, and "b" takes it,
            // learning that "a" had sent an upstream call and never finished.
            #expect(try await store.renewRefreshLease(grantID: grantID, owner: "a", until: t0.addingTimeInterval(-1), now: t0))
            let takeover = try await store.acquireRefreshLease(grantID: grantID, owner: "b", until: skewed.addingTimeInterval(30), now: skewed, replacing: nil)
            #expect(takeover?.interruptedAttemptAt == t0)
            #expect(try await store.refreshLease(grantID: grantID)?.owner == "b")
            // A holder known to be dead is replaced at once.
            #expect(try await store.acquireRefreshLease(grantID: grantID, owner: "c", until: t0.addingTimeInterval(30), now: t0, replacing: "b") != nil)
            try await store.releaseRefreshLease(grantID: grantID, owner: "c")
            #expect(try await store.refreshLease(grantID: grantID)?.owner == nil)
        }
    }

    @Test func finishingARefreshNeedsTheLeaseExceptForNewTokens() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let grantID = try await f.grant("finish")
            _ = try await store.acquireRefreshLease(grantID: grantID, owner: "a", until: t0.addingTimeInterval(30), now: t0, replacing: nil)
            let version = try #require(try await store.refreshLease(grantID: grantID)?.version)
            #expect(try await store.finishRefresh(grantID: grantID, owner: "someone-else", expectedVersion: version,
                                                  result: .transient(notBefore: t0), audit: F.audit("upstream.refresh"), at: t0) == false)
            let fresh = SealedCredential(accessToken: Data("new-access".utf8), refreshToken: Data("new-refresh".utf8),
                                         info: UpstreamCredentialInfo(accessExpiresAt: t0.addingTimeInterval(7200), hasRefreshToken: true,
                                                                      refreshExpiresAt: nil, scope: "read", obtainedAt: t0))
            // New tokens win even without the lease (refreshed from the credential the grant holds).
            let original = try await store.sealedCredential(grantID: grantID)?.info.obtainedAt
            #expect(try await store.finishRefresh(grantID: grantID, owner: "someone-else", expectedVersion: 0,
                                                  result: .refreshed(fresh, replacingObtainedAt: original), audit: F.audit("upstream.refresh"), at: t0))
            #expect(try await store.sealedCredential(grantID: grantID)?.accessToken == Data("new-access".utf8))
            #expect(try await store.refreshLease(grantID: grantID)?.owner == "a", "another holder's lease stays")
            let now = try #require(try await store.refreshLease(grantID: grantID)?.version)
            #expect(try await store.finishRefresh(grantID: grantID, owner: "a", expectedVersion: now,
                                                  result: .needsReauth(reason: "invalid_grant"), audit: F.audit("upstream.refresh"), at: t0))
            let grant = try #require(try await store.grant(id: grantID))
            #expect(grant.state == .needsReauth)
            #expect(grant.stateReason == "invalid_grant")
            #expect(grant.lastRefreshOutcome == .needsReauth)
            #expect(try await store.refreshLease(grantID: grantID)?.owner == nil)
        }
    }

    // MARK: - Change feed

    @Test func dataVersionChangesAfterAnotherConnectionCommits() async throws {
        try await TestPostgres.withStore { store, configuration in
            let other = try await PostgresStore(configuration: configuration)
            let before = try await store.dataVersion()
            try await other.setSetting("public-url", "http://127.0.0.1:8080")
            var after = before
            for _ in 0..<200 where after == before {
                try await Task.sleep(for: .milliseconds(25))
                after = try await store.dataVersion()
            }
            #expect(after != before)
            #expect(try await store.setting("public-url") == "http://127.0.0.1:8080")
            try await other.setSetting("public-url", nil)
            #expect(try await store.setting("public-url") == nil)
            await other.close()
        }
    }

    @Test func theChangeFeedReconnectsAndBumpsTheVersion() async throws {
        try await TestPostgres.withStore { store, configuration in
            let before = try await store.dataVersion()
            // Kill the LISTEN connection from the server side.
            _ = try await TestPostgres.admin(configuration) { db in
                try await db.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'
                    """, logger: TestPostgres.logger)
            }
            var after = before
            for _ in 0..<200 where after == before {
                try await Task.sleep(for: .milliseconds(25))
                after = try await store.dataVersion()
            }
            #expect(after != before)
            // Listening again: a commit elsewhere is seen.
            let reconnected = after
            _ = try await TestPostgres.admin(configuration) { db in
                try await db.query("INSERT INTO settings VALUES ('k', 'v')", logger: TestPostgres.logger)
            }
            for _ in 0..<200 where after == reconnected {
                try await Task.sleep(for: .milliseconds(25))
                after = try await store.dataVersion()
            }
            #expect(after != reconnected)
        }
    }

    // MARK: - Re-seal and retention

    @Test func resealBatchesReplaceOnlyValuesStillUnchanged() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            var grants: [Int64] = []
            for index in 0..<5 { grants.append(try await f.grant("g\(index)", refresh: index != 0)) }
            try await store.insertPendingAuthorization(f.pending("p1", browser: "b"))
            try await store.insertPendingAuthorization(f.pending("p2", browser: "b"))
            // Values already resealed (prefixed) are left alone: `nil`.
            let reseal: @Sendable (Data, SealContext) throws -> Data? = { old, _ in
                old.starts(with: Data("v2:".utf8)) ? nil : Data("v2:".utf8) + old
            }
            var cursor: ResealCursor? = nil
            var total = 0
            var batches = 0
            repeat {
                let batch = try await store.resealBatch(after: cursor, limit: 2, reseal)
                total += batch.resealed
                cursor = batch.next
                batches += 1
            } while cursor != nil && batches < 100
            #expect(cursor == nil)
            // 1 provider secret + 5 access + 4 refresh + 2 verifiers.
            #expect(total == 12)
            #expect(try await store.sealedProviderSecret(providerID: f.provider.id) == Data("v2:".utf8) + F.sealedSecret(providerID: f.provider.id))
            for id in grants {
                let sealed = try #require(try await store.sealedCredential(grantID: id))
                #expect(sealed.accessToken == Data("v2:access-of-\(id)".utf8))
            }
            let second = try await store.resealBatch(after: nil, limit: 100, reseal)
            #expect(second.resealed == 0)

            // A value changed between the batch's read and its write (a refresh storing new tokens) is kept.
            let target = grants[1]
            let contexts = ContextLog()
            let batch = try await store.resealBatch(after: ResealCursor(field: 1, after: ""), limit: 100) { old, context in
                contexts.append(context)
                if context == .upstreamAccess(target) {
                    // Runs inside the batch, after its read: another connection writes the value meanwhile.
                    let done = DispatchSemaphore(value: 0)
                    Task.detached {
                        _ = try? await TestPostgres.admin(store.configuration) { db in
                            try await db.query("UPDATE grants SET upstream_access = 'refreshed'::bytea WHERE id = \(target)",
                                               logger: TestPostgres.logger)
                        }
                        done.signal()
                    }
                    _ = done.wait(timeout: .now() + 10)
                }
                return Data("v3:".utf8) + old
            }
            #expect(contexts.values.contains(.upstreamAccess(target)))
            #expect(batch.resealed == 9 - 1)
            #expect(try await store.sealedCredential(grantID: target)?.accessToken == Data("refreshed".utf8))
        }
    }

    @Test func purgeDeletesOnlyWhatIsDueAndADryRunOnlyCounts() async throws {
        try await TestPostgres.withStore { store, _ in
            let f = try await F.make(store)
            let grantID = try await f.grant("purge")
            let day: TimeInterval = 86400
            // With one day of grace at t0: tokens that expired 3 and 2 days ago are due, half a day ago and
            // tomorrow are not.
            try await store.insertTokens(grantID: grantID, clientID: f.client.id, [
                NewToken(hash: F.hash("old-a"), kind: .access, expiresAt: t0.addingTimeInterval(-3 * day)),
                NewToken(hash: F.hash("old-b"), kind: .refresh, expiresAt: t0.addingTimeInterval(-2 * day)),
                NewToken(hash: F.hash("recent"), kind: .access, expiresAt: t0.addingTimeInterval(-day / 2)),
                NewToken(hash: F.hash("live"), kind: .refresh, expiresAt: t0.addingTimeInterval(day)),
            ], at: t0.addingTimeInterval(-4 * day))
            // (Inserting a pending authorization clears those expired before its creation: the expired one goes in last.)
            try await store.insertPendingAuthorization(f.pending("waiting", browser: nil, expiresAt: t0.addingTimeInterval(600)))
            try await store.insertPendingAuthorization(f.pending("expired", browser: nil, expiresAt: t0.addingTimeInterval(-1)))
            for index in 0..<5 {
                try await store.appendAudit(F.audit("old-\(index)"), at: t0.addingTimeInterval(-100 * day))
            }
            let policy = PurgePolicy(tokenGrace: day, auditBefore: t0.addingTimeInterval(-50 * day))
            // The code of the grant expires 60 s after t0: not due.
            let now = t0
            let expected = PurgeCounts(tokens: 2, codes: 0, pendingAuthorizations: 1, auditEvents: 3)
            let dry = try await store.purge(policy, now: now, limit: 3, dryRun: true)
            #expect(dry == expected)
            #expect(try await store.purge(policy, now: now, limit: 3, dryRun: true) == expected, "a dry run deletes nothing")
            #expect(try await store.purge(policy, now: now, limit: 3, dryRun: false) == expected)
            #expect(try await store.purge(policy, now: now, limit: 3, dryRun: false) == PurgeCounts(auditEvents: 2))
            #expect(try await store.purge(policy, now: now, limit: 3, dryRun: false) == PurgeCounts())
            #expect(try await store.token(hash: F.hash("recent")) != nil)
            #expect(try await store.token(hash: F.hash("live")) != nil)
            #expect(try await store.takePendingAuthorization(stateHash: F.hash("state-waiting"), browserBindingHash: nil) == .boundToAnotherBrowser)
            // Much later, the code and the remaining tokens are due too.
            let muchLater = PurgeCounts(tokens: 2, codes: 1, pendingAuthorizations: 1, auditEvents: 0)
            #expect(try await store.purge(PurgePolicy(tokenGrace: day, auditBefore: t0.addingTimeInterval(-50 * day)),
                                          now: t0.addingTimeInterval(100 * day), limit: 100, dryRun: false) == muchLater)
        }
    }
}

/// Collects values from a `@Sendable` closure.
final class ContextLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [SealContext] = []
    func append(_ context: SealContext) { lock.withLock { stored.append(context) } }
    var values: [SealContext] { lock.withLock { stored } }
}
