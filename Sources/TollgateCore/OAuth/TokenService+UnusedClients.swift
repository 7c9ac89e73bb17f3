import Foundation

extension TokenService {
    /// Deletes dynamically registered and metadata-document clients older than `ttl` that were never used (no grant, no
    /// pending authorization in progress), at most `batchSize` of them; records one audit event when any went. Returns
    /// the count. A revoked metadata-document client stays (its row keeps the URL blocked).
    public func expireUnusedClients(olderThan ttl: TimeInterval, batchSize: Int) async throws -> Int {
        let now = clock.now()
        return try await store.deleteUnusedClients(createdBefore: now.addingTimeInterval(-ttl), limit: batchSize, now: now) { removed in
            NewAuditEvent(actor: "server", action: "client.expire",
                          detail: "\(removed) dynamically registered or metadata-document client(s) unused for \(Int(ttl)) s deleted")
        }
    }
}
