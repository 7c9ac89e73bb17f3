import Foundation
import PostgresNIO
import Testing
import TollgateCore
@testable import TollgatePostgres

/// The plans of the grants listing at 1,000,000 grants: every sort × filter (first and later pages) reads
/// an index, never the whole table. Heavy (it fills a million rows), so it runs
/// only with `TOLLGATE_TEST_POSTGRES_PLANS` set (`=print` also prints each plan).
@Suite("postgres grant listing plans", .serialized,
       .enabled(if: TestPostgres.shouldRun && ProcessInfo.processInfo.environment["TOLLGATE_TEST_POSTGRES_PLANS"] != nil))
struct PostgresGrantListingPlanTests {
    static let grantCount = 1_000_000

    @Test func everyListingIsAnIndexScanAtAMillionGrants() async throws {
        try await TestPostgres.withStore { store, configuration in
            let t0 = StoreFixture.t0.millisecondsSince1970
            try await TestPostgres.admin(configuration) { db in
                let log = TestPostgres.logger
                try await db.query("""
                    INSERT INTO servers (slug, name, upstream_mcp_url, access_ttl, refresh_idle_ttl, refresh_absolute_ttl, created_at)
                    SELECT 'server-' || i, 'S', 'http://127.0.0.1:1/mcp', 3600, 86400, 86400, 0 FROM generate_series(1, 10) i
                    """, logger: log)
                try await db.query("""
                    INSERT INTO providers (server_id, kind, authorization_endpoint, token_endpoint, client_id, auth_method, supports_refresh, created_at)
                    SELECT id, 'oauth2', 'http://a', 'http://t', 'c', 'none', id % 2 = 0, 0 FROM servers
                    """, logger: log)
                try await db.query("""
                    INSERT INTO clients (id, server_id, name, redirect_uris, auth_method, grant_types, registered_by, created_at)
                    SELECT 'client-' || i, 1 + i % 10, 'C', '[]', 'none', '', 'admin', 0 FROM generate_series(0, 999) i
                    """, logger: log)
                try await db.query("""
                    INSERT INTO grants (server_id, client_id, subject, scopes, resource, state, upstream_has_refresh,
                        upstream_access_expires_at, proxy_access_expires_at, created_at, updated_at)
                    SELECT 1 + i % 10, 'client-' || (i % 1000),
                        CASE WHEN i % 13 = 0 THEN NULL ELSE 'user-' || (i % 50000) END, 'read', 'r',
                        CASE WHEN i % 17 = 0 THEN 'revoked' WHEN i % 23 = 0 THEN 'needs-reauth' ELSE 'active' END,
                        i % 5 <> 0,
                        CASE WHEN i % 7 = 0 THEN NULL ELSE \(t0) + (i::bigint * 7919) % 86400000 - 3600000 END,
                        CASE WHEN i % 3 = 0 THEN \(t0) + (i::bigint * 104729) % 7200000 END, \(t0), \(t0)
                    FROM generate_series(1, \(Self.grantCount)) i
                    """, logger: log)
                try await db.query("ANALYZE", logger: log)
            }
            let now = StoreFixture.t0
            var queries = PostgresGrantListingTests.queries.map { query -> GrantQuery in
                var q = query
                q.limit = 50
                if q.serverSlug == "mail" { q.serverSlug = "server-3" }
                if q.clientID == "client-c" { q.clientID = "client-7" }
                if q.clientID == "client-a" { q.clientID = "client-8" }
                if q.subject == "bob" { q.subject = "user-42" }
                if q.subject == "alice" { q.subject = "user-18" }
                if q.subjectPrefix == "ali" { q.subjectPrefix = "user-4" }
                if q.subjectPrefix == "bob" { q.subjectPrefix = "user-123" }
                if q.subjectPrefix == "b" { q.subjectPrefix = "user-9" }
                if q.subjectPrefix == "A" { q.subjectPrefix = "user-" }
                return q
            }
            // Later pages, forwards and backwards, from a cursor in the middle.
            queries += queries.flatMap { query -> [GrantQuery] in
                var after = query
                var before = query
                switch query.sort {
                case .newest, .oldest:
                    after.after = "500000"
                    before.before = "500000"
                case .upstreamExpiry:
                    after.after = "\(now.millisecondsSince1970):500000"
                    before.before = "\(now.millisecondsSince1970):500000"
                }
                var fromEnd = query
                fromEnd.fromEnd = true
                return [after, before, fromEnd]
            }
            let printing = ProcessInfo.processInfo.environment["TOLLGATE_TEST_POSTGRES_PLANS"] == "print"
            try await TestPostgres.admin(configuration) { db in
                for query in queries {
                    let statement = try PostgresStore.listingStatement(query, now: now).query
                    var statements = [("listing", statement)]
                    if let count = try PostgresStore.countStatement(query, upTo: 10_000, now: now) { statements.append(("count", count)) }
                    for (kind, statement) in statements {
                        var plan: [String] = []
                        let explain = PostgresQuery(unsafeSQL: "EXPLAIN " + statement.sql, binds: statement.binds)
                        for try await row in try await db.query(explain, logger: TestPostgres.logger) {
                            plan.append(try row.decode(String.self))
                        }
                        let text = plan.joined(separator: "\n")
                        let label = kind + " " + PostgresGrantListingTests.describe(query)
                        if printing { print("=== \(label)\n\(text)") }
                        // A bounded count may walk the table in any order (it stops at its limit); a page must not.
                        if kind == "listing" { #expect(!text.contains("Seq Scan on grants"), "\(label)\n\(text)") }
                    }
                }
            }
        }
    }
}
