import Foundation
import GRDB
import Testing
import TollgateCore
import TollgateSQLite
import TollgateTestSupport

@Suite("store")
struct StoreTests {
    static func tempPath() -> String {
        let dir = NSTemporaryDirectory() + "tollgate-store-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/t.sqlite"
    }

    @Test func aSecondProviderForAServerIsRefused() async throws {
        try await Harness.with { h in
            await #expect {
                _ = try await h.tollgate.admin.addProvider(serverSlug: "files", NewProvider(
                    kind: .oauth2, authorizationEndpoint: "http://127.0.0.1:1/a", tokenEndpoint: "http://127.0.0.1:1/t", clientID: "x", authMethod: .none))
            } throws: { error in
                (error as? TollgateError)?.code == .conflict && "\(error)".contains("already has a provider")
            }
            // Even bypassing the admin check, the schema refuses it.
            await #expect(throws: TollgateError.self) {
                _ = try await h.tollgate.store.createProvider(serverID: h.server.id, NewProvider(kind: .oauth2, clientID: "x", authMethod: .none),
                    resolved: ResolvedEndpoints(issuer: nil, authorizationEndpoint: "http://a", tokenEndpoint: "http://t",
                                                revocationEndpoint: nil, userinfoEndpoint: nil, supportsRefresh: true),
                    seal: { _ in nil }, audit: NewAuditEvent(actor: "test", action: "provider.add"), at: Date())
            }
            let providerCount = try await h.tollgate.admin.providers().count
            #expect(providerCount == 1)
        }
    }

    @Test func aForeignFileIsRefusedWithAClearErrorAndLeftIntact() throws {
        let path = Self.tempPath()
        let garbage = Data("this is not a database, it is a shopping list\n".utf8) + Data(repeating: 0x41, count: 4096)
        _ = FileManager.default.createFile(atPath: path, contents: garbage)
        #expect { _ = try SQLiteStore(path: path) } throws: { ($0 as? TollgateError)?.code == .damaged }
        #expect(FileManager.default.contents(atPath: path) == garbage)
    }

    @Test func anotherApplicationsSQLiteDatabaseIsRefused() throws {
        let path = Self.tempPath()
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (1)") }
        try queue.close()
        #expect { _ = try SQLiteStore(path: path) } throws: { error in
            (error as? TollgateError)?.code == .damaged && "\(error)".contains("not a Tollgate database")
        }
        let check = try DatabaseQueue(path: path)
        #expect(try check.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM invoices") } == 1)
    }

    @Test func aDatabaseFromANewerVersionIsRefused() throws {
        let path = Self.tempPath()
        _ = try SQLiteStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9999-future')") }
        try queue.close()
        #expect { _ = try SQLiteStore(path: path) } throws: { error in
            (error as? TollgateError)?.code == .damaged && "\(error)".contains("newer")
        }
    }

    @Test func theStoreUsesWALAndForeignKeys() throws {
        let store = try SQLiteStore(path: Self.tempPath())
        _ = store
        let queue = try DatabaseQueue(path: store.path)
        #expect(try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        try queue.close()
    }

    @Test func duplicateSlugsAndBadInputAreRefused() async throws {
        try await Harness.with { h in
            await #expect { _ = try await h.tollgate.admin.addServer(NewServer(slug: "files", upstreamMCPURL: "http://x/mcp")) } throws: {
                ($0 as? TollgateError)?.code == .conflict
            }
            for slug in ["", "Files", "a b", "-x", String(repeating: "a", count: 64), "x/y"] {
                await #expect(throws: TollgateError.self) { _ = try await h.tollgate.admin.addServer(NewServer(slug: slug, upstreamMCPURL: "http://x/mcp")) }
            }
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.admin.addServer(NewServer(slug: "ok", upstreamMCPURL: "not a url")) }
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.admin.addServer(NewServer(slug: "ok", upstreamMCPURL: "ftp://x/mcp")) }
        }
    }

    @Test func theStatusFilterAgreesWithTheStatusShownForEveryGrant() async throws {
        try await Harness.with(accessTTL: 600) { h in
            var grantIDs: [Int64] = []
            for i in 0..<4 { grantIDs.append(try await h.makeGrant(subject: "u\(i)").grantID) }
            await h.setBehaviour { $0.issueRefreshTokens = false }
            grantIDs.append(try await h.makeGrant(subject: "norefresh").grantID)
            _ = try await h.tollgate.admin.revokeGrant(id: grantIDs[0])
            await h.setBehaviour { $0.refreshFailure = "invalid_grant"; $0.issueRefreshTokens = true }
            _ = try await h.tollgate.admin.forceRefresh(grantID: grantIDs[1])
            for advance in [0.0, 400, 300] {
                h.clock.advance(by: advance)
                let now = h.clock.now()
                var counted = 0
                for status in GrantStatus.allCases {
                    let page = try await h.tollgate.admin.grants(GrantQuery(status: status, limit: 100))
                    for g in page.items { #expect(g.status(at: now) == status, "grant \(g.id) listed as \(status) at +\(advance)") }
                    counted += page.items.count
                }
                #expect(counted == grantIDs.count)
            }
        }
    }

    @Test func filtersBySubjectClientAndServer() async throws {
        try await Harness.with { h in
            _ = try await h.makeGrant(subject: "alice")
            _ = try await h.makeGrant(subject: "bob")
            await #expect(try h.tollgate.admin.grants(GrantQuery(subject: "alice")).items.map(\.subject) == ["alice"])
            await #expect(try h.tollgate.admin.grants(GrantQuery(serverSlug: "files", clientID: h.client.client.id)).items.count == 2)
            await #expect(try h.tollgate.admin.grants(GrantQuery(clientID: "nobody")).items.isEmpty)
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.admin.grants(GrantQuery(serverSlug: "nope")) }
        }
    }

    @Test func revokingAClientRevokesItsGrants() async throws {
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant()
            await #expect(try h.tollgate.admin.revokeClient(id: h.client.client.id) == 1)
            await #expect(try h.grant(grantID).state == .revoked)
            #expect(await oauthError { _ = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files") } == .invalidToken)
        }
    }

    @Test func removingAServerRemovesItsGrantsButKeepsTheAudit() async throws {
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            await #expect(try h.tollgate.admin.removeServer(slug: "files") == 1)
            await #expect(throws: TollgateError.self) { _ = try await h.grant(grantID) }
            await #expect(try h.tollgate.admin.audit(grantID: grantID).isEmpty == false)
        }
    }
}
