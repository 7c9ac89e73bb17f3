import Foundation

/// Bulk actions: every grant of a ``GrantScope`` revoked or force-refreshed through the very path of the single
/// action (``AdminService/revokeGrant(id:upstream:)``, ``AdminService/forceRefresh(grantID:)``), paged through the
/// store a bounded page at a time.
///
/// Each grant is its own store transaction with its own `grant.revoke` (or `upstream.refresh*`) audit event, as a
/// single action writes it; a `grant.bulk-revoke` / `grant.bulk-refresh` event records who started it, the scope
/// and the planned count, and another one how it ended. One transaction per grant (rather than a page per
/// transaction) keeps revocation semantics in one place, keeps write transactions short for `serve` on the same
/// store, and makes cancellation exact: a grant is either revoked with its event or untouched.
extension AdminService {
    /// Grants read per page of a bulk action.
    public static let bulkPageSize = 200
    /// Grants worked on at once by default (refreshes wait on the upstream; revocations with `upstream` too).
    public static let bulkConcurrency = 4

    /// What a bulk action on `scope` would do: the exact count and the first `listing` grants. Changes nothing.
    public func planBulk(_ action: BulkAction, _ scope: GrantScope, listing: Int = 20) async throws -> BulkPlan {
        try await checkScope(scope)
        let now = clock.now()
        var first: [Grant] = []
        var count = 0
        var cursor: String?
        let countsInStore = action == .revoke
        if countsInStore { count = try await revocableCount(scope, now: now) }
        // Refreshability is not a listing condition: a refresh plan counts by paging (bounded pages).
        while countsInStore ? first.count < listing : true {
            let page = try await store.grants(scope.query(limit: Self.bulkPageSize, after: cursor), now: now)
            let eligible = page.items.filter { Self.applies(action, to: $0) }
            if !countsInStore { count += eligible.count }
            first += eligible.prefix(max(0, listing - first.count))
            guard let next = page.nextCursor else { break }
            cursor = next
        }
        return BulkPlan(action: action, scope: scope, count: count, first: first)
    }

    /// Revokes every grant of `scope` that is not revoked yet; with `upstream`, each one's upstream token first
    /// (as `grant revoke --upstream`). Cancelling the task stops before the next grant; the result says so.
    public func revokeGrants(_ scope: GrantScope, upstream revokeUpstream: Bool = false, concurrency: Int = bulkConcurrency,
                             progress: @escaping @Sendable (BulkProgress) -> Void = { _ in }) async throws -> BulkResult {
        let reason = "revoked by an admin (bulk: \(scope))"
        return try await runBulk(.revoke, scope, concurrency: concurrency, progress: progress) { grant in
            do {
                let note = try await self.revoke(grant, upstream: revokeUpstream, reason: reason)
                return .succeeded(note: note.map { revokeUpstream ? "upstream: \($0)" : $0 })
            } catch let error as TollgateError where error.code == .notFound {
                return .failed("the grant was removed meanwhile")
            } catch {
                return .failed(Self.oneLine(error))
            }
        }
    }

    /// Force-refreshes every refreshable grant of `scope` through the refresh coordinator, `concurrency` at once.
    public func refreshGrants(_ scope: GrantScope, concurrency: Int = bulkConcurrency,
                              progress: @escaping @Sendable (BulkProgress) -> Void = { _ in }) async throws -> BulkResult {
        try await runBulk(.refresh, scope, concurrency: concurrency, progress: progress) { grant in
            let result = await self.forceRefresh(grant)
            if result.outcome == .refreshed { return .succeeded(note: nil) }
            return .failed(result.outcome.name + (result.message.isEmpty ? "" : ": \(Self.oneLine(result.message))"))
        }
    }

    // MARK: The one loop

    /// What happened to one grant.
    enum BulkGrantOutcome: Sendable {
        case succeeded(note: String?)
        case failed(String)
    }

    /// Whether `action` applies to `grant` when it is reached: revocation to any grant not revoked yet, a
    /// refresh to a refreshable one.
    static func applies(_ action: BulkAction, to grant: Grant) -> Bool {
        switch action {
        case .revoke: return grant.state != .revoked
        case .refresh: return grant.refreshability.isRefreshable
        }
    }

    /// Pages through `scope` and applies `apply` to each grant the action applies to, `concurrency` at a time,
    /// with the audit events around it. The store calls run in tasks of their own, outside the caller's
    /// cancellation: a cancelled run finishes the grants it started (each wholly done or not begun) and still
    /// records how it ended.
    func runBulk(_ action: BulkAction, _ scope: GrantScope, concurrency: Int,
                 progress: @escaping @Sendable (BulkProgress) -> Void,
                 apply: @escaping @Sendable (Grant) async -> BulkGrantOutcome) async throws -> BulkResult {
        let plan = try await planBulk(action, scope, listing: 0)
        let auditAction = "grant.bulk-\(action.rawValue)"
        var serverID: Int64?
        if let slug = scope.serverSlug { serverID = try await server(slug: slug).id }
        let store = self.store, clock = self.clock, actor = self.actor
        let startServerID = serverID
        try await Self.uncancelled {
            try await store.appendAudit(NewAuditEvent(actor: actor, action: auditAction, serverID: startServerID, clientID: scope.clientID,
                                                      outcome: "started", detail: "\(scope): \(plan.count) grant(s) planned"), at: clock.now())
        }
        var result = BulkResult(action: action, scope: scope)
        var done = 0
        var cursor: String?
        var finished = false
        let width = max(1, concurrency)
        pages: while !Task.isCancelled {
            let query = scope.query(limit: Self.bulkPageSize, after: cursor)
            let page = try await Self.uncancelled { try await store.grants(query, now: clock.now()) }
            let eligible = page.items.filter { Self.applies(action, to: $0) }
            var start = 0
            while start < eligible.count {
                if Task.isCancelled { break pages }
                let chunk = Array(eligible[start..<min(eligible.count, start + width)])
                start += chunk.count
                let outcomes = await Task {
                    await withTaskGroup(of: BulkGrantOutcome.self) { group in
                        for grant in chunk { group.addTask { await apply(grant) } }
                        return await group.reduce(into: [BulkGrantOutcome]()) { $0.append($1) }
                    }
                }.value
                for outcome in outcomes {
                    switch outcome {
                    case .succeeded(let note):
                        result.succeeded += 1
                        if let note { result.notes[note, default: 0] += 1 }
                    case .failed(let reason):
                        result.failures[reason, default: 0] += 1
                    }
                }
                done += outcomes.count
                progress(BulkProgress(done: done, total: max(plan.count, done), succeeded: result.succeeded, failed: result.failed))
            }
            guard let next = page.nextCursor else {
                finished = true
                break
            }
            cursor = next
        }
        result.cancelled = !finished
        let outcome = result.cancelled ? "cancelled" : result.failed > 0 ? "partial" : "ok"
        let summary = result.summary, endServerID = serverID
        try await Self.uncancelled {
            try await store.appendAudit(NewAuditEvent(actor: actor, action: auditAction, serverID: endServerID, clientID: scope.clientID,
                                                      outcome: outcome, detail: "\(scope): \(summary)"), at: clock.now())
        }
        return result
    }

    /// Refuses a scope that names no subject, client or server, and an unknown server.
    func checkScope(_ scope: GrantScope) async throws {
        guard scope.isBounded else {
            throw TollgateError.invalidInput("a bulk action needs a subject, a client or a server (a status alone is not enough)")
        }
        if let slug = scope.serverSlug { _ = try await server(slug: slug) }
    }

    /// The grants of `scope` that are not revoked, counted in the store (two counts, no listing).
    func revocableCount(_ scope: GrantScope, now: Date) async throws -> Int {
        if scope.status == .revoked { return 0 }
        let all = try await store.countGrants(scope.query(limit: 1), upTo: Int.max, now: now)
        if scope.status != nil { return all }
        var revoked = scope
        revoked.status = .revoked
        return all - (try await store.countGrants(revoked.query(limit: 1), upTo: Int.max, now: now))
    }

    /// Runs `operation` in a task of its own, so that the caller's cancellation does not abort it half-way.
    static func uncancelled<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await operation() }.value
    }

    static func oneLine(_ error: Error) -> String {
        oneLine((error as? TollgateError)?.message ?? String(describing: error))
    }

    static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
    }
}
