import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

@Suite("unused client expiry")
struct UnusedClientExpiryTests {
    static let day: TimeInterval = 86_400

    func register(_ h: Harness, _ name: String, admin: Bool = false) async throws -> RegisteredClient {
        let registration = ClientRegistration(name: name, redirectURIs: [Harness.redirectURI])
        return admin ? try await h.tollgate.admin.registerClient(serverSlug: "files", registration)
                     : try await h.tollgate.tokens.registerClient(serverSlug: "files", registration)
    }

    func exists(_ h: Harness, _ client: RegisteredClient) async throws -> Bool { try await h.tollgate.store.client(id: client.client.id) != nil }

    func startAuthorization(_ h: Harness, _ client: RegisteredClient) async throws {
        _ = try await h.tollgate.tokens.startAuthorization(try h.tollgate.tokens.validateAuthorization(serverSlug: "files", AuthorizationRequest(
            responseType: "code", clientID: client.client.id, redirectURI: nil, scope: nil, state: nil,
            codeChallenge: TokenGenerator.s256Challenge(of: String(repeating: "v", count: 43)), codeChallengeMethod: "S256", resource: nil),
            urls: h.urls), urls: h.urls, browserBinding: Secret("browser-of-this-test"))
    }

    @Test func onlyOldDynamicRegistrationsThatWereNeverUsedAreDeleted() async throws {
        try await Harness.with { h in
            let unused = try await register(h, "unused")
            let admin = try await register(h, "admin", admin: true)
            let used = try await register(h, "used")
            _ = try await h.makeGrant(subject: "ann", for: used)
            let revokedGrant = try await register(h, "used then revoked")
            let (grantID, _) = try await h.makeGrant(subject: "bob", for: revokedGrant)
            _ = try await h.tollgate.admin.revokeGrant(id: grantID)
            let authorizing = try await register(h, "authorizing")
            h.clock.advance(by: Self.day - 60)
            let young = try await register(h, "young")

            // Not old enough yet: nothing goes.
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 100) == 0)
            h.clock.advance(by: 120)
            try await startAuthorization(h, authorizing)
            // The harness's own client was never used either.
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 100) == 2)
            await #expect(try !exists(h, unused))
            await #expect(try !exists(h, h.client))
            for kept in [admin, used, revokedGrant, authorizing, young] {
                await #expect(try exists(h, kept), "\(kept.client.name) must be kept")
            }
            await #expect(try h.tollgate.admin.audit().contains { $0.action == "client.expire" })
            // An authorization that was never completed and has expired does not keep the client.
            h.clock.advance(by: 601)
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 100) == 1)
            await #expect(try !exists(h, authorizing))
            for kept in [used, revokedGrant, admin] { await #expect(try exists(h, kept)) }
        }
    }

    /// A metadata-document client's row as an accepted fetch saves it, `created` at the clock's time.
    func documentClient(_ h: Harness, _ path: String) async throws -> Client {
        let url = "https://app.example/\(path).json"
        let row = Client(id: try ClientMetadataURL(url).clientRowID(serverID: h.server.id), serverID: h.server.id, name: path,
                         redirectURIs: [Harness.redirectURI], authMethod: .none, grantTypes: ["authorization_code"],
                         registeredBy: Client.metadataDocumentRegistration, createdAt: h.clock.now(),
                         metadataDocument: MetadataDocumentState(url: url, lastFetchedAt: h.clock.now()))
        return try await h.tollgate.store.saveMetadataDocumentClient(row, audit: NewAuditEvent(actor: "test", action: "client.register"),
                                                                    at: h.clock.now())
    }

    @Test func metadataDocumentClientsThatWereNeverUsedAreDeletedLikeDynamicOnes() async throws {
        try await Harness.with { h in
            let unused = try await documentClient(h, "unused")
            let revoked = try await documentClient(h, "revoked")
            _ = try await h.tollgate.admin.revokeClient(id: revoked.id)
            h.clock.advance(by: Self.day - 60)
            let young = try await documentClient(h, "young")
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 100) == 0)
            h.clock.advance(by: 120)
            // The harness's own (dynamic) client and the unused document client.
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 100) == 2)
            await #expect(try h.tollgate.store.client(id: unused.id) == nil, "the never-used document client is deleted")
            await #expect(try h.tollgate.store.client(id: young.id) != nil, "a young one is kept")
            await #expect(try h.tollgate.store.client(id: revoked.id)?.revokedAt != nil, "a revoked URL stays blocked: its row is kept")
        }
    }

    @Test func expiryGoesInBatches() async throws {
        try await Harness.with { h in
            var clients: [RegisteredClient] = []
            for i in 0..<7 { clients.append(try await register(h, "c\(i)")) }
            h.clock.advance(by: Self.day + 1)
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 3) == 3)
            // The harness's own client is unused too: 8 candidates in all.
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 3) == 3)
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 3) == 2)
            await #expect(try h.tollgate.tokens.expireUnusedClients(olderThan: Self.day, batchSize: 3) == 0)
            for client in clients { await #expect(try !exists(h, client)) }
        }
    }
}
