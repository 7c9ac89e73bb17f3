import Foundation
import GRDB
import Testing
import TollgateCore
@testable import TollgateSQLite

/// SQLite only: a database written by the previous schema opens with today's `SQLiteStore`.
@Suite("sqlite migrations")
struct SQLiteMigrationTests {
    @Test func aDatabaseAtTheMigrationBeforeTheNewestOpensMigratedWithItsGrantReadable() async throws {
        let directory = NSTemporaryDirectory() + "tollgate-migration-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/tollgate.sqlite"
        let previous = "0005-refresh-attempts"

        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: previous)
        let created: Int64 = 1_800_000_000_000
        try await queue.write { db in
            try db.execute(sql: """
                INSERT INTO servers (id, slug, name, upstream_mcp_url, scopes, access_ttl, refresh_idle_ttl, refresh_absolute_ttl, created_at)
                    VALUES (1, 'files', 'Files', 'https://files.example/mcp', 'read', 3600, 2592000, 7776000, ?);
                INSERT INTO providers (id, server_id, kind, authorization_endpoint, token_endpoint, client_id, auth_method, created_at)
                    VALUES (1, 1, 'oauth2', 'https://idp.example/a', 'https://idp.example/t', 'up', 'none', ?);
                INSERT INTO clients (id, server_id, name, redirect_uris, auth_method, grant_types, registered_by, created_at)
                    VALUES ('c1', 1, 'Client', '["http://127.0.0.1:7/cb"]', 'none', 'authorization_code refresh_token', 'admin', ?);
                INSERT INTO grants (id, server_id, client_id, subject, scopes, resource, state, upstream_access, upstream_has_refresh,
                    upstream_access_expires_at, created_at, updated_at, version, state_reason)
                    VALUES (7, 1, 'c1', 'alice', 'read', 'https://files.example/mcp', 'active', x'0102', 0, ?, ?, ?, 3, NULL);
                INSERT INTO tokens (hash, grant_id, kind, client_id, issued_at, expires_at) VALUES (x'aa', 7, 'access', 'c1', ?, ?);
                """, arguments: [created, created, created, created + 3_600_000, created, created, created, created + 3_600_000])
        }
        #expect(try await queue.read { try SQLiteStore.migrator.appliedIdentifiers($0) }.contains("0006-retention") == false)
        try queue.close()

        let store = try SQLiteStore(path: path)
        let applied = try await store.pool.read { try SQLiteStore.migrator.appliedIdentifiers($0) }
        let all = SQLiteStore.migrator.migrations
        #expect(applied == Set(all), "migrated to the newest")
        let grant = try #require(try await store.grant(id: 7))
        #expect(grant.subject == "alice")
        #expect(grant.serverSlug == "files")
        #expect(grant.version == 3)
        #expect(grant.upstream.accessExpiresAt == Date(millisecondsSince1970: created + 3_600_000))
        #expect(try await store.sealedCredential(grantID: 7)?.accessToken == Data([1, 2]))
        #expect(try await store.tokenContext(hash: Data([0xAA]))?.grant.id == 7)
        // The newest migration's indexes serve the purge.
        let purged = try await store.purge(PurgePolicy(tokenGrace: 0, auditBefore: Date(millisecondsSince1970: 0)),
                                           now: Date(millisecondsSince1970: created + 7_200_000), limit: 10, dryRun: true)
        #expect(purged.tokens == 1)
        await store.close()
    }
}
