import Foundation
import TollgateConsole
import TollgateCore

/// Answers the console's effects from memory, with the store's listing rules (filters, sort orders, keyset
/// cursors both ways): the reducer can be driven through thousands of grants without a database.
/// `GrantListingTests` checks that it pages exactly like the SQLite store.
final class FakeBackend {
    var now = Fixtures.now
    var grants: [Grant]
    var servers: [ServerEntry]
    var clients: [ClientEntry]
    var audit: [AuditEvent]
    var wellKnown = Fixtures.wellKnown
    /// Loads of these kinds fail ("grants", "count", "servers", …).
    var failing: Set<String> = []
    /// Every effect answered, in order.
    private(set) var answered: [ConsoleEffect] = []

    init(grants: [Grant] = Fixtures.grants, servers: [ServerEntry] = Fixtures.servers, clients: [ClientEntry] = Fixtures.clients,
         audit: [AuditEvent] = Fixtures.audit) {
        self.grants = grants
        self.servers = servers
        self.clients = clients
        self.audit = audit
    }

    /// `count` grants with ids 1…count, subjects `user1`…, expiries spread over two hours.
    static func many(_ count: Int) -> FakeBackend {
        FakeBackend(grants: (1...count).map { i in
            Fixtures.grant(Int64(i), subject: "user\(i)", upstreamExpiresIn: TimeInterval(600 + (i * 7919) % 7200))
        })
    }

    /// Feeds answers back into `state` until nothing is left to load (actions are recorded, not run).
    func settle(_ state: inout ConsoleState, _ effects: [ConsoleEffect]) {
        var queue = effects[...]
        while let effect = queue.popFirst() {
            if let event = answer(effect) { queue += state.apply(event) }
        }
    }

    func answer(_ effect: ConsoleEffect) -> ConsoleEvent? {
        answered.append(effect)
        func fail(_ lane: String, _ request: Int) -> ConsoleEvent? {
            failing.contains(lane) ? .loadFailed(request: request, message: "the database is busy; try again") : nil
        }
        switch effect {
        case .loadGrants(let request, let query):
            return fail("grants", request) ?? .grants(request: request, page(query))
        case .countGrants(let request, let query, let limit):
            return fail("count", request) ?? .grantCount(request: request, min(limit, matching(query).count))
        case .loadServers(let request):
            return fail("servers", request) ?? .servers(request: request, servers)
        case .loadProviders(let request):
            return fail("providers", request) ?? .providers(request: request, servers.filter { $0.provider != nil })
        case .loadClients(let request, let slug, let after, let limit):
            if let failed = fail("clients", request) { return failed }
            let rows = clients.filter { slug == nil || $0.serverSlug == slug }.sorted { $0.client.id < $1.client.id }
                .filter { after == nil || $0.client.id > after! }
            let pageRows = Array(rows.prefix(limit))
            return .clients(request: request, pageRows, nextCursor: rows.count > limit ? pageRows.last?.client.id : nil)
        case .loadAudit(let request, let query):
            if let failed = fail("audit", request) { return failed }
            let rows = audit.filter { e in
                (query.grantID == nil || e.grantID == query.grantID) && (query.actions?.contains(e.action) ?? true)
                    && (query.before.map { e.id < $0 } ?? true) && (query.after.map { e.id > $0 } ?? true)
            }.sorted { $0.id > $1.id }.prefix(query.limit)
            return .audit(request: request, Array(rows), nextBefore: rows.count == query.limit ? rows.last?.id : nil)
        case .loadDetail(let request, let grantID):
            if let failed = fail("detail", request) { return failed }
            guard let grant = grants.first(where: { $0.id == grantID }) else {
                return .loadFailed(request: request, message: "no grant \(grantID)")
            }
            return .detail(request: request, Fixtures.info(grant, audit: audit))
        case .loadWellKnown(let request, let slug):
            if let failed = fail("wellKnown", request) { return failed }
            guard servers.contains(where: { $0.server.slug == slug }) else { return .loadFailed(request: request, message: "no server '\(slug)'") }
            return .wellKnown(request: request, wellKnown)
        case .loadTheme(let name):
            do { return .theme(try ThemeLibrary(directories: [Self.themesDirectory]).load(name)) } catch { return .themeFailed(error) }
        case .planBulk(let request, let action, let scope):
            if let failed = fail("plan", request) { return failed }
            var query = scope.query(limit: 1)
            query.limit = Int.max
            let eligible = matching(query).filter { action == .revoke ? $0.state != .revoked : $0.refreshability.isRefreshable }
            return .bulkPlanned(request: request, BulkPlan(action: action, scope: scope, count: eligible.count, first: []))
        case .forceRefresh, .revoke, .runBulk, .revokeClient, .export, .cancelJob, .copy, .quit:
            return nil
        }
    }

    static var themesDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("themes").path
    }

    // MARK: The listing rules

    func matching(_ q: GrantQuery) -> [Grant] {
        grants.filter { g in
            (q.serverSlug == nil || g.serverSlug == q.serverSlug) && (q.clientID == nil || g.clientID == q.clientID)
                && (q.subject == nil || g.subject == q.subject) && (q.status == nil || g.status(at: now) == q.status)
                && (q.subjectPrefix.map { p in g.subject?.hasPrefix(p) ?? false } ?? true)
        }
    }

    /// A grant's position in the listing order, ascending.
    static func key(_ g: Grant, _ sort: GrantSort) -> (Int64, Int64) {
        switch sort {
        case .newest: return (-g.id, 0)
        case .oldest: return (g.id, 0)
        case .upstreamExpiry: return (g.upstream.accessExpiresAt?.millisecondsSince1970 ?? Int64.max, g.id)
        }
    }

    static func key(ofCursor cursor: String, _ sort: GrantSort) -> (Int64, Int64) {
        switch sort {
        case .newest: return (-Int64(cursor)!, 0)
        case .oldest: return (Int64(cursor)!, 0)
        case .upstreamExpiry:
            let parts = cursor.split(separator: ":")
            return (Int64(parts[0])!, Int64(parts[1])!)
        }
    }

    func page(_ q: GrantQuery) -> Page<Grant> {
        let rows = matching(q).sorted { Self.key($0, q.sort) < Self.key($1, q.sort) }
        let limit = max(1, min(q.limit, 10_000))
        if let before = q.before ?? (q.fromEnd && q.after == nil ? "" : nil) {
            let earlier = before.isEmpty ? rows : rows.filter { Self.key($0, q.sort) < Self.key(ofCursor: before, q.sort) }
            let items = Array(earlier.suffix(limit))
            return Page(items: items, nextCursor: q.before == nil ? nil : items.last.map(q.sort.cursor(of:)),
                        previousCursor: earlier.count > limit ? items.first.map(q.sort.cursor(of:)) : nil)
        }
        let later = q.after.map { a in rows.filter { Self.key($0, q.sort) > Self.key(ofCursor: a, q.sort) } } ?? rows
        let items = Array(later.prefix(limit))
        return Page(items: items, nextCursor: later.count > limit ? items.last.map(q.sort.cursor(of:)) : nil,
                    previousCursor: q.after == nil ? nil : items.first.map(q.sort.cursor(of:)))
    }
}
