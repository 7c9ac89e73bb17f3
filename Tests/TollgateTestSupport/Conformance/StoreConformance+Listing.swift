import Foundation
import TollgateCore

/// A seeded population of grants over 3 servers and 5 clients: shared subject prefixes, every state, coarse expiries
/// (so the expiry order has ties), unknown expiries, proxy token expiries on and around the warning window.
struct GrantPopulation {
    static let slugs = ["alpha", "beta", "gamma"]
    /// Clients by server: alpha c0 c1, beta c2 c3, gamma c4 (gamma's provider cannot refresh).
    static let clients = [("c0", 0), ("c1", 0), ("c2", 1), ("c3", 1), ("c4", 2)]
    static let subjects: [String?] = ["al", "alice", "alice", "alicia", "alice.smith", "Alice", "ali\u{e9}", "bob", "bobby", "bo",
                                      "carol", nil]

    /// Every grant, read back from the store after all writes.
    var grants: [Grant]

    static func seed(_ store: any TollgateStore, count: Int, seed: UInt64) async throws -> GrantPopulation {
        var rng = SeededGenerator(seed: seed)
        var servers: [Server] = []
        for (i, slug) in slugs.enumerated() {
            servers.append(try await Fixture.server(store, slug, supportsRefresh: i != 2).server)
        }
        for (id, server) in clients { try await Fixture.createClient(store, id, serverID: servers[server].id) }
        var ids: [Int64] = []
        for i in 0..<count {
            let (clientID, server) = clients.randomElement(using: &rng)!
            let subject = subjects.randomElement(using: &rng)!
            let expiry: Date? = Int.random(in: 0..<10, using: &rng) == 0 ? nil
                : Fixture.at(Double(Int.random(in: -6...12, using: &rng)) * 300 + (Bool.random(using: &rng) ? 0 : 100))
            let upstream = UpstreamCredentialInfo(accessExpiresAt: expiry, hasRefreshToken: Int.random(in: 0..<4, using: &rng) != 0,
                                                  refreshExpiresAt: nil, scope: "read")
            let id = try await Fixture.grant(store, serverID: servers[server].id, clientID: clientID, subject: subject,
                                             upstream: upstream, codeLabel: "population-\(i)", at: Fixture.at(-86400 + Double(i)))
            ids.append(id)
            if Int.random(in: 0..<5, using: &rng) < 2 {
                let proxyExpiry = Fixture.at([-600, 0, 100, 300, 301, 3600].randomElement(using: &rng)!)
                try await store.insertTokens(grantID: id, clientID: clientID,
                                             [NewToken(hash: Data("population-access-\(i)".utf8), kind: .access, expiresAt: proxyExpiry)],
                                             at: Fixture.at(-100))
            }
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                _ = try await store.revokeGrant(id: id, audit: Fixture.audit("grant.revoke"), at: Fixture.at(-50))
            case 1:
                let owner = "population-\(i)"
                let version = try await store.refreshLease(grantID: id)?.version ?? 0
                _ = try await store.acquireRefreshLease(grantID: id, owner: owner, until: Fixture.at(-30), now: Fixture.at(-40), replacing: nil)
                _ = try await store.finishRefresh(grantID: id, owner: owner, expectedVersion: version,
                                                  result: .needsReauth(reason: "invalid_grant"), audit: Fixture.audit("upstream.refresh"),
                                                  at: Fixture.at(-35))
            default: break
            }
        }
        var grants: [Grant] = []
        for id in ids { if let grant = try await store.grant(id: id) { grants.append(grant) } }
        return GrantPopulation(grants: grants)
    }

    /// The grants `query` selects at `now` (its paging ignored), in `query.sort` order: the model every listing is checked against.
    func select(_ query: GrantQuery, now: Date) -> [Grant] {
        let selected = grants.filter { g in
            (query.serverSlug.map { g.serverSlug == $0 } ?? true)
                && (query.clientID.map { g.clientID == $0 } ?? true)
                && (query.subject.map { g.subject == $0 } ?? true)
                && (query.subjectPrefix.map { prefix in g.subject.map { $0.hasPrefix(prefix) } ?? false } ?? true)
                && (query.status.map { g.status(at: now) == $0 } ?? true)
        }
        switch query.sort {
        case .newest: return selected.sorted { $0.id > $1.id }
        case .oldest: return selected.sorted { $0.id < $1.id }
        case .upstreamExpiry:
            func key(_ g: Grant) -> (Int64, Int64) { (g.upstream.accessExpiresAt?.millisecondsSince1970 ?? Int64.max, g.id) }
            return selected.sorted { key($0) < key($1) }
        }
    }

    /// The filters the listing checks cover: none, each server, client, subject, prefix and status, and a few combinations.
    static var filters: [(String, GrantQuery)] {
        var filters: [(String, GrantQuery)] = [("none", GrantQuery())]
        for slug in slugs + ["nope"] { filters.append(("server \(slug)", GrantQuery(serverSlug: slug))) }
        for (id, _) in clients { filters.append(("client \(id)", GrantQuery(clientID: id))) }
        filters.append(("client nobody", GrantQuery(clientID: "nobody")))
        for subject in ["alice", "Alice", "bo", "nobody"] { filters.append(("subject \(subject)", GrantQuery(subject: subject))) }
        for prefix in ["al", "ali", "alice", "b", "bob", "A", "zzz"] {
            var q = GrantQuery()
            q.subjectPrefix = prefix
            filters.append(("prefix \(prefix)", q))
        }
        for status in GrantStatus.allCases { filters.append(("status \(status)", GrantQuery(status: status))) }
        filters.append(("server beta + active", GrantQuery(serverSlug: "beta", status: .active)))
        var prefixExpiring = GrantQuery(status: .expiring)
        prefixExpiring.subjectPrefix = "al"
        filters.append(("prefix al + expiring", prefixExpiring))
        filters.append(("client c0 + subject alice", GrantQuery(clientID: "c0", subject: "alice")))
        return filters
    }
}

extension StoreConformance {
    /// Keyset paging: for every sort × filter, pages of 7 forward (`after`) and backward (`fromEnd`, then `before`) visit
    /// every selected grant exactly once in the model's order; cursors of single grants page from them; counts agree.
    public static func grantPaging(_ backend: StoreBackend) async throws {
        try await run("grantPaging", backend) { e, store, _ in
            let population = try await GrantPopulation.seed(store, count: 300, seed: 0x9A61)
            e.equal(population.grants.count, 300, "grants read back")
            let now = Fixture.t0
            let pageSize = 7
            for sort in GrantSort.allCases {
                for (label, filter) in GrantPopulation.filters {
                    var query = filter
                    query.sort = sort
                    query.limit = pageSize
                    let what = "\(sort) / \(label)"
                    let expected = population.select(query, now: now).map(\.id)
                    let bound = expected.count / pageSize + 3

                    var forward: [Int64] = []
                    var q = query
                    for pageNumber in 0..<bound {
                        let page = try await store.grants(q, now: now)
                        e.expect(page.items.count <= pageSize, "\(what): forward page \(pageNumber) has \(page.items.count) items")
                        if page.nextCursor != nil { e.equal(page.items.count, pageSize, "\(what): a forward page with a next cursor is full") }
                        if pageNumber == 0 { e.equal(page.previousCursor, nil, "\(what): the first page has no previous cursor") }
                        forward += page.items.map(\.id)
                        guard let next = page.nextCursor else { break }
                        q.after = next
                    }
                    e.equal(forward, expected, "\(what): forward pages")

                    var backward: [Int64] = []
                    q = query
                    q.fromEnd = true
                    for pageNumber in 0..<bound {
                        let page = try await store.grants(q, now: now)
                        e.expect(page.items.count <= pageSize, "\(what): backward page \(pageNumber) has \(page.items.count) items")
                        if pageNumber == 0 {
                            e.equal(page.items.map(\.id), Array(expected.suffix(pageSize)), "\(what): the last page (fromEnd)")
                        }
                        if page.previousCursor != nil { e.equal(page.items.count, pageSize, "\(what): a backward page with a previous cursor is full") }
                        backward = page.items.map(\.id) + backward
                        guard let previous = page.previousCursor else { break }
                        q.fromEnd = false
                        q.before = previous
                    }
                    e.equal(backward, expected, "\(what): backward pages")

                    let count = try await store.countGrants(query, upTo: 10_000, now: now)
                    e.equal(count, expected.count, "\(what): countGrants")
                    let capped = try await store.countGrants(query, upTo: 5, now: now)
                    e.equal(capped, min(5, expected.count), "\(what): countGrants capped at 5")
                }

                // The cursor of any grant pages from it, in both directions.
                let ordered = population.select(GrantQuery(sort: sort), now: now)
                var rng = SeededGenerator(seed: 0xC0 + UInt64(ordered.count))
                for _ in 0..<8 {
                    let index = Int.random(in: 0..<ordered.count, using: &rng)
                    let cursor = sort.cursor(of: ordered[index])
                    let after = try await store.grants(GrantQuery(sort: sort, limit: pageSize, after: cursor), now: now)
                    e.equal(after.items.map(\.id), ordered.dropFirst(index + 1).prefix(pageSize).map(\.id), "\(sort): after the cursor of #\(index)")
                    var before = GrantQuery(sort: sort, limit: pageSize)
                    before.before = cursor
                    let page = try await store.grants(before, now: now)
                    e.equal(page.items.map(\.id), ordered.prefix(index).suffix(pageSize).map(\.id), "\(sort): before the cursor of #\(index)")
                }
            }
            await e.throwsCode(.invalidInput, "a garbage cursor") { try await store.grants(GrantQuery(after: "garbage"), now: now) }
        }
    }

    /// The status filter selects exactly the grants whose ``Grant/status(at:)`` is that status, at several `now`s: before
    /// and inside the warning window, on an expiry, after expiry, with revoked, needs-reauth and unknown-expiry grants.
    public static func grantStatusFilter(_ backend: StoreBackend) async throws {
        try await run("grantStatusFilter", backend) { e, store, _ in
            let population = try await GrantPopulation.seed(store, count: 120, seed: 0x57A7)
            var seenStatuses: Set<GrantStatus> = []
            for offset in [-7200.0, -400, -250, 0, 100, 200, 1800, 7200] {
                let now = Fixture.at(offset)
                var listedTotal = 0
                for status in GrantStatus.allCases {
                    let expected = population.grants.filter { $0.status(at: now) == status }.map(\.id)
                    if !expected.isEmpty { seenStatuses.insert(status) }
                    let page = try await store.grants(GrantQuery(status: status, sort: .oldest, limit: 1000), now: now)
                    e.equal(page.items.map(\.id), expected.sorted(), "status \(status) at t0\(offset >= 0 ? "+" : "")\(offset)")
                    for grant in page.items where grant.status(at: now) != status {
                        e.record("grant \(grant.id) listed as \(status) at t0+\(offset) shows \(grant.status(at: now))")
                    }
                    e.equal(try await store.countGrants(GrantQuery(status: status), upTo: 10_000, now: now), expected.count,
                            "count of status \(status) at t0+\(offset)")
                    listedTotal += page.items.count
                }
                e.equal(listedTotal, population.grants.count, "every grant has exactly one status at t0+\(offset)")
            }
            e.equal(seenStatuses, Set(GrantStatus.allCases), "the population shows every status at some time")
            let unknownExpiry = population.grants.filter { $0.upstream.accessExpiresAt == nil && $0.state == .active }
            e.expect(!unknownExpiry.isEmpty, "the population has active grants of unknown expiry")
        }
    }
}

extension StoreConformance {
    /// The listing paths that only a big store takes (see ``GrantCandidates``): a subject prefix shared by more grants
    /// than ``GrantCandidates/candidateLimit`` that lie beyond the walk of the newest order (``GrantCandidates/prefixWalkLimit``),
    /// one common among the newest, a status with a handful of grants, and one whose index superset is bigger than
    /// the candidate limit while few grants have it. Every page, forwards and backwards, and every count equals the model.
    public static func grantListingBeyondTheCandidates(_ backend: StoreBackend) async throws {
        try await run("grantListingBeyondTheCandidates", backend) { e, store, _ in
            let (server, _) = try await Fixture.server(store, "big")
            try await Fixture.createClient(store, "big-client", serverID: server.id)
            let total = GrantCandidates.prefixWalkLimit + GrantCandidates.candidateLimit + 1_500
            let far = GrantCandidates.candidateLimit + 1_000
            let now = Fixture.t0
            let table = StoreTable.all.first { $0.name == "grants" }!
            var batch: [[StoreValue]] = []
            for id in 1...total {
                // Ids 1...far are "far-…" (the far end of the newest order, beyond its walk); the rest "near-…".
                // The first ones are expired without an upstream refresh token (needs-reauth by their expiry), so the
                // superset of "expired" exceeds the candidate limit; three are expired and refreshable; three marked needs-reauth.
                let expiredRefreshable = [17, far + 40, total - 2].contains(id)
                let marked = [5, far + 7, total - 1].contains(id)
                let expiredWithoutRefresh = id <= GrantCandidates.candidateLimit + 200 && !expiredRefreshable && !marked
                let expiry = expiredWithoutRefresh || expiredRefreshable ? now.addingTimeInterval(-60) : now.addingTimeInterval(86400)
                let values: [String: StoreValue] = [
                    "id": .integer(Int64(id)), "server_id": .integer(server.id), "client_id": .text("big-client"),
                    "subject": .text((id <= far ? "far-" : "near-") + String(id)), "scopes": .text("read"), "resource": .text("r"),
                    "state": .text(marked ? "needs-reauth" : "active"), "upstream_access": .blob(Data([1])),
                    "upstream_refresh": expiredWithoutRefresh ? .null : .blob(Data([2])),
                    "upstream_has_refresh": .integer(expiredWithoutRefresh ? 0 : 1),
                    "upstream_access_expires_at": .integer(expiry.millisecondsSince1970),
                    "created_at": .integer(now.millisecondsSince1970), "updated_at": .integer(now.millisecondsSince1970),
                    "refresh_failures": .integer(0), "version": .integer(0),
                ]
                batch.append(table.columns.map { values[$0] ?? .null })
                if batch.count == 2_000 { try await store.importRows(table, batch); batch = [] }
            }
            try await store.importRows(table, batch)
            try await store.finishImport()
            var all: [Grant] = []
            var page = try await store.grants(GrantQuery(sort: .oldest, limit: 10_000), now: now)
            all += page.items
            while let next = page.nextCursor {
                page = try await store.grants(GrantQuery(sort: .oldest, limit: 10_000, after: next), now: now)
                all += page.items
            }
            e.equal(all.count, total, "grants imported")
            func query(prefix: String? = nil, status: GrantStatus? = nil, sort: GrantSort) -> GrantQuery {
                var q = GrantQuery(status: status, sort: sort, limit: 400)
                q.subjectPrefix = prefix
                return q
            }
            var cases: [(String, GrantQuery)] = []
            for sort in [GrantSort.newest, .oldest, .upstreamExpiry] {
                cases += [("prefix far-", query(prefix: "far-", sort: sort)), ("prefix near-", query(prefix: "near-", sort: sort)),
                          ("prefix far-1", query(prefix: "far-1", sort: sort)),
                          ("status expired", query(status: .expired, sort: sort)), ("status needs-reauth", query(status: .needsReauth, sort: sort)),
                          ("status expiring", query(status: .expiring, sort: sort)),
                          ("prefix near- + expired", query(prefix: "near-", status: .expired, sort: sort))]
            }
            for (label, q) in cases {
                let what = "\(label), \(q.sort)"
                let model = GrantPopulation(grants: all).select(q, now: now).map(\.id)
                var forward: [Int64] = []
                var cursorQuery = q
                for _ in 0..<(model.count / q.limit + 3) {
                    let page = try await store.grants(cursorQuery, now: now)
                    forward += page.items.map(\.id)
                    guard let next = page.nextCursor else { break }
                    cursorQuery.after = next
                }
                e.equal(forward, model, "\(what): forward pages")
                var backward: [Int64] = []
                cursorQuery = q
                cursorQuery.fromEnd = true
                for _ in 0..<(model.count / q.limit + 3) {
                    let page = try await store.grants(cursorQuery, now: now)
                    backward = page.items.map(\.id) + backward
                    guard let previous = page.previousCursor else { break }
                    cursorQuery.fromEnd = false
                    cursorQuery.before = previous
                }
                e.equal(backward, model, "\(what): backward pages")
                e.equal(try await store.countGrants(q, upTo: 100_000, now: now), model.count, "\(what): count")
                e.equal(try await store.countGrants(q, upTo: 5, now: now), min(5, model.count), "\(what): bounded count")
            }
        }
    }
}
