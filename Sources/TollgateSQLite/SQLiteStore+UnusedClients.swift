import Foundation
import GRDB
import TollgateCore

extension SQLiteStore {
    public func deleteUnusedClients(createdBefore cutoff: Date, limit: Int, now: Date,
                                    audit: @escaping @Sendable (Int) -> NewAuditEvent) async throws -> Int {
        guard limit > 0 else { return 0 }
        return try await write { db in
            // Rowid order is registration order, so the oldest candidates are found first.
            try db.execute(sql: """
                DELETE FROM clients WHERE id IN (
                    SELECT c.id FROM clients c
                    WHERE c.registered_by IN ('dynamic', 'metadata-document') AND (c.registered_by = 'dynamic' OR c.revoked_at IS NULL)
                      AND c.created_at < ?
                      AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id)
                      AND NOT EXISTS (SELECT 1 FROM pending_authorizations p WHERE p.client_id = c.id AND p.expires_at > ?)
                    LIMIT ?)
                """, arguments: [cutoff.millisecondsSince1970, now.millisecondsSince1970, limit])
            let removed = db.changesCount
            if removed > 0 { try Self.insertAudit(db, audit(removed), at: now) }
            return removed
        }
    }
}
