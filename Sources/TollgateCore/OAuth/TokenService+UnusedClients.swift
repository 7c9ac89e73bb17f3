import Foundation

extension TokenService {
    /// Deletes dynamically registered clients older than `ttl` that were never used (no grant, no pending
    /// authorization in progress), at most `batchSize` of them; records one audit event when any went. Returns the count.
    public func expireUnusedClients(olderThan ttl: TimeInterval, batchSize: Int) async throws -> Int {
        let now = clock.now()
        return try await store.deleteUnusedDynamicClients(createdBefore: now.addingTimeInterval(-ttl), limit: batchSize, now: now) { removed in
            NewAuditEvent(actor: "server", action: "client.expire",
                          detail: "\(removed) dynamically registered client(s) unused for \(Int(ttl)) s deleted")
        }
    }
}
