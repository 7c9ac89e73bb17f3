import Foundation
import PostgresNIO
import Testing
import TollgateCore
@testable import TollgatePostgres

/// The grants listing against an in-memory model: every sort with every filter, paged both ways.
@Suite("postgres grant listing", .serialized, .enabled(if: TestPostgres.shouldRun, Comment(rawValue: TestPostgres.notFoundMessage)))
struct PostgresGrantListingTests {
    typealias F = StoreFixture
    let t0 = StoreFixture.t0

    /// A few hundred grants over two servers (one whose provider cannot refresh), three clients, subjects
    /// sharing prefixes, spread expiries (some unknown), every state and some live proxy tokens.
    func populate(_ store: PostgresStore) async throws -> [Grant] {
        let files = try await F.make(store, slug: "files", clientID: "client-a")
        let mail = try await F.make(store, slug: "mail", clientID: "client-b", supportsRefresh: false)
        let third = Client(id: "client-c", serverID: files.server.id, name: "Third", redirectURIs: ["http://127.0.0.1:9/cb"],
                           authMethod: .none, grantTypes: ["authorization_code"], registeredBy: "dynamic", createdAt: t0, revokedAt: nil)
        try await store.createClient(third, secretHash: nil, audit: F.audit("client.register"))
        let subjects: [String?] = ["alice", "alicia", "ali", "bob", "bobby", "carol", nil, "Alice", "ålex"]
        var ids: [Int64] = []
        for index in 0..<240 {
            let onMail = index % 4 == 3
            let fixture = onMail ? mail : files
            let client = onMail ? "client-b" : (index % 3 == 0 ? "client-c" : "client-a")
            let expiry: Date? = index % 7 == 0 ? nil : t0.addingTimeInterval(Double((index * 37) % 11_000) - 3600)
            ids.append(try await fixture.grant("\(index)", subject: subjects[index % subjects.count], clientID: client,
                                               accessExpiresAt: expiry, refresh: index % 5 != 0))
            if index % 6 == 1 { try await fixture.issueTokens("\(index)", grantID: ids[index], at: t0, ttl: Double(index % 4) * 120 + 60) }
        }
        for (index, id) in ids.enumerated() where index % 9 == 4 {
            _ = try await store.revokeGrant(id: id, audit: F.audit("grant.revoke"), at: t0)
        }
        for (index, id) in ids.enumerated() where index % 11 == 5 {
            _ = try await store.acquireRefreshLease(grantID: id, owner: "x", until: t0.addingTimeInterval(30), now: t0, replacing: nil)
            let version = try #require(try await store.refreshLease(grantID: id)?.version)
            _ = try await store.finishRefresh(grantID: id, owner: "x", expectedVersion: version, result: .needsReauth(reason: "test"),
                                              audit: F.audit("upstream.refresh"), at: t0)
        }
        var grants: [Grant] = []
        for id in ids { grants.append(try #require(try await store.grant(id: id))) }
        return grants
    }

    static func expected(_ all: [Grant], _ q: GrantQuery, now: Date) -> [Int64] {
        let selected = all.filter { (g: Grant) -> Bool in
            if let slug = q.serverSlug, g.serverSlug != slug { return false }
            if let client = q.clientID, g.clientID != client { return false }
            if let subject = q.subject, g.subject != subject { return false }
            if let prefix = q.subjectPrefix, !(g.subject ?? "").hasPrefix(prefix) || g.subject == nil { return false }
            if let status = q.status, g.status(at: now) != status { return false }
            return true
        }
        switch q.sort {
        case .newest: return selected.map(\.id).sorted(by: >)
        case .oldest: return selected.map(\.id).sorted()
        case .upstreamExpiry:
            func key(_ g: Grant) -> (Int64, Int64) { (g.upstream.accessExpiresAt?.millisecondsSince1970 ?? Int64.max, g.id) }
            return selected.sorted { (a: Grant, b: Grant) -> Bool in key(a) < key(b) }.map(\.id)
        }
    }

    /// A query in words, for failure messages.
    static func describe(_ q: GrantQuery) -> String {
        var parts: [String] = [q.sort.rawValue]
        if let value = q.serverSlug { parts.append("server=" + value) }
        if let value = q.clientID { parts.append("client=" + value) }
        if let value = q.subject { parts.append("subject=" + value) }
        if let value = q.subjectPrefix { parts.append("prefix=" + value) }
        if let value = q.status { parts.append("status=" + value.rawValue) }
        if let value = q.after { parts.append("after=" + value) }
        if let value = q.before { parts.append("before=" + value) }
        if q.fromEnd { parts.append("fromEnd") }
        return parts.joined(separator: " ")
    }

    static var queries: [GrantQuery] {
        var filters: [GrantQuery] = [
            GrantQuery(), GrantQuery(serverSlug: "mail"), GrantQuery(clientID: "client-c"), GrantQuery(subject: "bob"),
            GrantQuery(serverSlug: "files", status: .active), GrantQuery(clientID: "client-a", subject: "alice"),
        ]
        filters += GrantStatus.allCases.map { GrantQuery(status: $0) }
        for prefix in ["ali", "bob", "å", "A", "zzz"] {
            var q = GrantQuery()
            q.subjectPrefix = prefix
            filters.append(q)
        }
        var q = GrantQuery(status: .expiring)
        q.subjectPrefix = "b"
        filters.append(q)
        return filters.flatMap { filter in
            GrantSort.allCases.map { sort in
                var query = filter
                query.sort = sort
                query.limit = 7
                return query
            }
        }
    }

    /// The ids `query` lists, paged forwards from the start and backwards from the end (at most 500 pages each);
    /// every page holds at most `query.limit` grants.
    static func pageBothWays(_ store: PostgresStore, _ query: GrantQuery, now: Date) async throws -> (forward: [Int64], backward: [Int64]) {
        var forward: [Int64] = []
        var q = query
        for _ in 0..<500 {
            let page = try await store.grants(q, now: now)
            #expect(page.items.count <= query.limit)
            forward += page.items.map(\.id)
            guard let next = page.nextCursor else { break }
            q.after = next
        }
        var backward: [Int64] = []
        q = query
        q.fromEnd = true
        for _ in 0..<500 {
            let page = try await store.grants(q, now: now)
            backward = page.items.map(\.id) + backward
            guard let previous = page.previousCursor else { break }
            q.fromEnd = false
            q.before = previous
        }
        return (forward, backward)
    }

    @Test func everySortAndFilterPagesLikeTheModelBothWays() async throws {
        try await TestPostgres.withStore { store, _ in
            let all = try await populate(store)
            let now = t0.addingTimeInterval(1800)
            // The model covers every status (else the status filters prove little).
            #expect(Set(all.map { $0.status(at: now) }) == Set(GrantStatus.allCases))
            for query in Self.queries {
                let expected = Self.expected(all, query, now: now)
                let label = Self.describe(query)

                let (forward, backward) = try await Self.pageBothWays(store, query, now: now)
                #expect(forward == expected, "forward \(label)")
                #expect(backward == expected, "backward \(label)")

                #expect(try await store.countGrants(query, upTo: 10_000, now: now) == expected.count, "count \(label)")
                #expect(try await store.countGrants(query, upTo: 3, now: now) == min(3, expected.count), "bounded count \(label)")
            }
            #expect(try await store.countGrants() == all.count)
        }
    }

    /// A subject prefix whose grants lie beyond the walk of the listing order (``PostgresStore/prefixWalkLimit``
    /// grants), and one common among the newest: both are paged exactly, whichever branch answers each page.
    @Test func subjectPrefixPagesAreExactBeyondTheWalk() async throws {
        try await TestPostgres.withStore { store, configuration in
            let fixture = try await F.make(store)
            let total = PostgresStore.prefixWalkLimit + 2_000
            // Ids 1...150 are "far-…" (the far end of the newest order); "mix-…" are 151...200 and the newest five (the
            // walk finds some, not a page); of the others every third is "near-…".
            try await TestPostgres.admin(configuration) { db in
                try await db.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO grants (id, server_id, client_id, subject, scopes, resource, state, created_at, updated_at)
                    SELECT i, \(fixture.server.id), '\(fixture.client.id)',
                        CASE WHEN i <= 150 THEN 'far-' || i WHEN i <= 200 OR i > \(total - 5) THEN 'mix-' || i
                             WHEN i % 3 = 0 THEN 'near-' || i ELSE 'other-' || i END,
                        'read', 'r', 'active', 0, 0
                    FROM generate_series(1, \(total)) i
                    """), logger: TestPostgres.logger)
                try await db.query("ANALYZE grants", logger: TestPostgres.logger)
            }
            let now = t0
            let far: [Int64] = Array(1...150)
            let mix: [Int64] = Array(151...200) + Array(Int64(total - 4)...Int64(total))
            let near: [Int64] = (201...Int64(total - 5)).filter { $0 % 3 == 0 }
            for (prefix, matches) in [("far-", far), ("mix-", mix), ("near-", near)] {
                for sort in [GrantSort.newest, .oldest] {
                    let expected: [Int64] = sort == .newest ? Array(matches.reversed()) : matches
                    var query = GrantQuery(sort: sort, limit: 40)
                    query.subjectPrefix = prefix
                    let (forward, backward) = try await Self.pageBothWays(store, query, now: now)
                    #expect(forward == expected, "forward \(prefix) \(sort)")
                    #expect(backward == expected, "backward \(prefix) \(sort)")
                }
            }
        }
    }
}
