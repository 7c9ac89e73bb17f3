import Foundation
import GRDB
import TollgateCore

extension SQLiteStore {
    static let introspectionCredentialColumns = "id, server_id, name, created_at, revoked_at"

    static func introspectionCredential(_ row: Row) -> IntrospectionCredential {
        IntrospectionCredential(id: row[0], serverID: row[1], name: row[2], createdAt: Date(millisecondsSince1970: row[3]),
                                revokedAt: (row[4] as Int64?).map(Date.init(millisecondsSince1970:)))
    }

    public func createIntrospectionCredential(_ credential: IntrospectionCredential, secretHash: Data, audit: NewAuditEvent) async throws {
        try await write { db in
            try db.execute(sql: """
                INSERT INTO introspection_credentials (id, server_id, name, secret_hash, created_at, revoked_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [credential.id, credential.serverID, credential.name, secretHash,
                                 credential.createdAt.millisecondsSince1970, credential.revokedAt?.millisecondsSince1970])
            try Self.insertAudit(db, audit, at: credential.createdAt)
        }
    }

    public func introspectionCredential(id: String) async throws -> IntrospectionCredential? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.introspectionCredentialColumns) FROM introspection_credentials WHERE id = ?"),
                             arguments: [id]).map(Self.introspectionCredential)
        }
    }

    public func introspectionCredentialSecretHash(id: String) async throws -> Data? {
        try await read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT secret_hash FROM introspection_credentials WHERE id = ?"), arguments: [id])
        }
    }

    public func introspectionCredentials(serverID: Int64) async throws -> [IntrospectionCredential] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.introspectionCredentialColumns) FROM introspection_credentials WHERE server_id = ? ORDER BY created_at, id
                """, arguments: [serverID]).map(Self.introspectionCredential)
        }
    }

    public func revokeIntrospectionCredential(id: String, audit: NewAuditEvent, at: Date) async throws -> Bool {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM introspection_credentials WHERE id = ?", arguments: [id]) == true else {
                throw TollgateError.notFound("no introspection credential '\(id)'")
            }
            try db.execute(sql: "UPDATE introspection_credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           arguments: [at.millisecondsSince1970, id])
            guard db.changesCount > 0 else { return false }
            try Self.insertAudit(db, audit, at: at)
            return true
        }
    }
}
