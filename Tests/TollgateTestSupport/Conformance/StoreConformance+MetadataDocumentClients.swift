import Foundation
import TollgateCore

extension StoreConformance {
    /// Metadata-document clients: created by the first accepted fetch (audited once), updated by later ones
    /// (name, redirect URIs, grant types, fetch time; created and revoked kept), fetch failures recorded, and a
    /// registered client's row never overwritten.
    public static func metadataDocumentClients(_ backend: StoreBackend) async throws {
        try await run("metadata-document clients", backend) { e, store, _ in
            let (server, _) = try await Fixture.server(store, "docs")
            let url = "https://app.example/client.json"
            func document(name: String, uris: [String], at: Date) -> Client {
                Client(id: "tgm_doc", serverID: server.id, name: name, redirectURIs: uris, authMethod: .none,
                       grantTypes: ["authorization_code"], registeredBy: Client.metadataDocumentRegistration, createdAt: at,
                       metadataDocument: MetadataDocumentState(url: url, lastFetchedAt: at))
            }
            let first = document(name: "App", uris: ["http://127.0.0.1/cb"], at: Fixture.at(10))
            let audit = Fixture.audit("client.register", detail: "App (metadata document)")
            let created = try await e.audits(store, "first saveMetadataDocumentClient", [AuditShape(audit, at: Fixture.at(10))]) {
                try await store.saveMetadataDocumentClient(first, audit: audit, at: Fixture.at(10))
            }
            e.equal(created, first, "the created row")
            e.equal(try await store.client(id: "tgm_doc"), first, "client(id:) reads the document state")

            try await store.recordMetadataDocumentFailure(clientID: "tgm_doc", "the document URL answered HTTP 500", at: Fixture.at(20))
            let failed = try await store.client(id: "tgm_doc")?.metadataDocument
            e.equal(failed, MetadataDocumentState(url: url, lastFetchedAt: Fixture.at(10), lastError: "the document URL answered HTTP 500",
                                                  lastErrorAt: Fixture.at(20)), "the failure is recorded")
            e.expect(failed?.lastFetchFailed == true, "the last fetch failed")

            let renamed = document(name: "App 2", uris: ["https://app.example/cb", "http://127.0.0.1/cb"], at: Fixture.at(30))
            let updated = try await e.audits(store, "a later saveMetadataDocumentClient", []) {
                try await store.saveMetadataDocumentClient(renamed, audit: Fixture.audit("client.register"), at: Fixture.at(30))
            }
            e.equal(updated.name, "App 2", "name updated")
            e.equal(updated.redirectURIs, renamed.redirectURIs, "redirect URIs updated")
            e.equal(updated.createdAt, Fixture.at(10), "created kept")
            e.equal(updated.metadataDocument?.lastFetchedAt, Fixture.at(30), "fetched at updated")
            e.equal(updated.metadataDocument?.lastError, "the document URL answered HTTP 500", "the old error kept for the record")
            e.expect(updated.metadataDocument?.lastFetchFailed == false, "the last fetch succeeded")

            _ = try await store.revokeClient(id: "tgm_doc", audit: { _ in Fixture.audit("client.revoke") }, at: Fixture.at(40))
            let afterRevoke = try await store.saveMetadataDocumentClient(document(name: "App 3", uris: ["http://127.0.0.1/cb"], at: Fixture.at(50)),
                                                                          audit: Fixture.audit("client.register"), at: Fixture.at(50))
            e.equal(afterRevoke.revokedAt, Fixture.at(40), "a fetch never un-revokes")

            try await store.recordMetadataDocumentFailure(clientID: "tgm_nobody", "x", at: Fixture.at(60))
            e.equal(try await store.client(id: "tgm_nobody"), nil, "a failure for an unknown id makes no row")
            try await store.createClient(Fixture.client("registered", serverID: server.id), secretHash: nil, audit: Fixture.audit("client.register"))
            try await store.recordMetadataDocumentFailure(clientID: "registered", "x", at: Fixture.at(60))
            e.equal(try await store.client(id: "registered")?.metadataDocument, nil, "a registered client gets no document state")
            await e.throwsCode(.conflict, "saving a document over a registered client") {
                var impostor = document(name: "Impostor", uris: ["http://127.0.0.1/cb"], at: Fixture.at(70))
                impostor.id = "registered"
                _ = try await store.saveMetadataDocumentClient(impostor, audit: Fixture.audit("client.register"), at: Fixture.at(70))
            }
            e.equal(try await store.client(id: "registered")?.name, Fixture.client("registered", serverID: server.id).name, "kept")

            // Never-used document clients are swept like dynamic ones (old, no grant, no live pending authorization);
            // a revoked one stays, so that its URL stays blocked.
            func saved(_ id: String, at seconds: TimeInterval) async throws {
                var row = document(name: id, uris: ["http://127.0.0.1/cb"], at: Fixture.at(seconds))
                row.id = id
                row.metadataDocument = MetadataDocumentState(url: "https://app.example/\(id).json", lastFetchedAt: Fixture.at(seconds))
                _ = try await store.saveMetadataDocumentClient(row, audit: Fixture.audit("client.register"), at: Fixture.at(seconds))
            }
            for id in ["tgm_old_unused", "tgm_old_granted", "tgm_old_pending", "tgm_old_revoked"] { try await saved(id, at: 100) }
            try await saved("tgm_young", at: 2000)
            _ = try await Fixture.grant(store, serverID: server.id, clientID: "tgm_old_granted", subject: "doc-user")
            try await store.insertPendingAuthorization(Fixture.pending("doc-live", serverID: server.id, clientID: "tgm_old_pending",
                                                                      createdAt: Fixture.at(100), expiresAt: Fixture.at(6000)))
            _ = try await store.revokeClient(id: "tgm_old_revoked", audit: { _ in Fixture.audit("client.revoke") }, at: Fixture.at(150))
            let swept = try await store.deleteUnusedClients(createdBefore: Fixture.at(1000), limit: 100, now: Fixture.at(5000),
                                                            audit: { Fixture.audit("client.expire", detail: "\($0)") })
            e.equal(swept, 1, "one never-used document client deleted")
            e.equal(try await store.client(id: "tgm_old_unused"), nil, "the old, never-used document client is gone")
            for kept in ["tgm_old_granted", "tgm_old_pending", "tgm_old_revoked", "tgm_young", "tgm_doc", "registered"] {
                e.expect(try await store.client(id: kept) != nil, "client \(kept) kept")
            }
        }
    }
}
