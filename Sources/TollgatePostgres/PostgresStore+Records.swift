import Foundation
import PostgresNIO
import TollgateCore

// Authorizations in progress, the audit trail, retention, settings and the change counter.
extension PostgresStore {
    // MARK: - Pending authorizations

    /// Stores an authorization waiting for consent and the upstream's callback (expired ones go first).
    public func insertPendingAuthorization(_ p: PendingAuthorization) async throws {
        try await transaction { db in
            try await db.run("DELETE FROM pending_authorizations WHERE expires_at < \(p.createdAt.millisecondsSince1970)",
                             logger: queryLogger)
            try await db.run(try """
                INSERT INTO pending_authorizations (state_hash, server_id, client_id, redirect_uri, client_state, code_challenge,
                    scopes, resource, upstream_verifier, created_at, expires_at, browser_hash)
                VALUES (\(p.stateHash), \(p.serverID), \(p.clientID), \(p.redirectURI), \(p.clientState), \(p.codeChallenge),
                        \(p.scopes.joined(separator: " ")), \(p.resource), \(p.sealedUpstreamVerifier),
                        \(p.createdAt.millisecondsSince1970), \(p.expiresAt.millisecondsSince1970), \(p.browserBindingHash))
                """, logger: queryLogger)
        }
    }

    /// Takes a pending authorization exactly once and only for its browser: one `DELETE … RETURNING`
    /// decides and deletes, so of many concurrent takers one wins.
    public func takePendingAuthorization(stateHash: Data, browserBindingHash: Data?, serverID: Int64?) async throws -> PendingAuthorizationTake {
        try await withConnection { db in
            if let browserBindingHash, let row = try await db.rows(try """
                DELETE FROM pending_authorizations WHERE state_hash = \(stateHash) AND browser_hash = \(browserBindingHash)
                    AND (\(serverID)::BIGINT IS NULL OR server_id = \(serverID))
                RETURNING state_hash, server_id, client_id, redirect_uri, client_state, code_challenge, scopes, resource,
                    upstream_verifier, created_at, expires_at, browser_hash
                """, logger: queryLogger).first {
                return .taken(PendingAuthorization(
                    stateHash: try row.data(0), serverID: try row.int(1), clientID: try row.string(2),
                    redirectURI: try row.string(3), clientState: try row.optionalString(4), codeChallenge: try row.string(5),
                    scopes: splitScopes(try row.string(6)), resource: try row.string(7), sealedUpstreamVerifier: try row.data(8),
                    createdAt: try row.date(9), expiresAt: try row.date(10), browserBindingHash: try row.optionalData(11)))
            }
            guard let owner = try await db.rows(try "SELECT server_id FROM pending_authorizations WHERE state_hash = \(stateHash)",
                                                logger: queryLogger).first else { return .unknown }
            return try serverID.map { $0 != (try owner.int(0)) } ?? false ? .boundToAnotherServer : .boundToAnotherBrowser
        }
    }

    // MARK: - Audit

    func insertAudit(_ db: PostgresConnection, _ e: NewAuditEvent, at: Date) async throws {
        try await db.run("""
            INSERT INTO audit_events (at, actor, action, server_id, grant_id, client_id, outcome, detail, duration_ms)
            VALUES (\(at.millisecondsSince1970), \(e.actor), \(e.action), \(e.serverID), \(e.grantID), \(e.clientID),
                    \(e.outcome), \(e.detail), \(e.durationMilliseconds.map(Int64.init)))
            """, logger: queryLogger)
    }

    /// Appends an audit event that records no change of its own.
    public func appendAudit(_ event: NewAuditEvent, at: Date) async throws {
        try await withConnection { [self] db in try await insertAudit(db, event, at: at) }
    }

    static let auditColumns = "id, at, actor, action, server_id, grant_id, client_id, outcome, detail, duration_ms"

    static func auditEvent(_ row: PostgresRandomAccessRow, from first: Int = 0) throws -> AuditEvent {
        AuditEvent(id: try row.int(first), at: try row.date(first + 1), actor: try row.string(first + 2), action: try row.string(first + 3),
                   serverID: try row.optionalInt(first + 4), grantID: try row.optionalInt(first + 5), clientID: try row.optionalString(first + 6),
                   outcome: try row.string(first + 7), detail: try row.string(first + 8),
                   durationMilliseconds: try row.optionalInt(first + 9).map(Int.init))
    }

    /// Audit events matching `query`, newest first.
    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        var sql = SQLBuilder("SELECT \(Self.auditColumns) FROM audit_events WHERE TRUE")
        if let grantID = query.grantID { sql.text += " AND grant_id = \(try sql.bind(grantID))" }
        if let actions = query.actions { sql.text += " AND action = ANY(\(try sql.bind(actions)))" }
        if query.failuresOnly { sql.text += " AND outcome <> 'ok'" }
        if let since = query.since { sql.text += " AND at >= \(try sql.bind(since.millisecondsSince1970))" }
        if let after = query.after { sql.text += " AND id > \(try sql.bind(after))" }
        if let before = query.before { sql.text += " AND id < \(try sql.bind(before))" }
        sql.text += " ORDER BY id DESC LIMIT \(try sql.bind(max(0, query.limit)))"
        return try await rows(sql.query).map { try Self.auditEvent($0) }
    }

    /// Per server, the refresh attempts recorded since `since`: one statement over `audit_by_action_time`.
    public func refreshHealth(since: Date) async throws -> [RefreshHealth] {
        var sql = SQLBuilder()
        let actions = try sql.bind(AuditQuery.refreshActions)
        let from = try sql.bind(since.millisecondsSince1970)
        sql.text = """
            SELECT h.server_id, h.attempts, h.succeeded, h.mean_ms, h.max_ms,
                   e.id, e.at, e.actor, e.action, e.server_id, e.grant_id, e.client_id, e.outcome, e.detail, e.duration_ms
            FROM (SELECT server_id, COUNT(*)::bigint AS attempts, COUNT(*) FILTER (WHERE outcome = 'ok')::bigint AS succeeded,
                         ROUND(AVG(duration_ms))::bigint AS mean_ms, MAX(duration_ms)::bigint AS max_ms,
                         MAX(id) FILTER (WHERE outcome <> 'ok') AS last_error_id
                  FROM audit_events WHERE action = ANY(\(actions)) AND at >= \(from) AND server_id IS NOT NULL GROUP BY server_id) h
            LEFT JOIN audit_events e ON e.id = h.last_error_id
            ORDER BY h.server_id
            """
        return try await rows(sql.query).map { row in
            RefreshHealth(serverID: try row.int(0), attempts: Int(try row.int(1)), succeeded: Int(try row.int(2)),
                          meanMilliseconds: try row.optionalInt(3).map(Int.init), maxMilliseconds: try row.optionalInt(4).map(Int.init),
                          lastError: try row.optionalInt(5) == nil ? nil : try Self.auditEvent(row, from: 5))
        }
    }

    // MARK: - Retention

    /// Deletes (or with `dryRun` counts) up to `limit` rows of each kind no longer needed at `now`, each kind
    /// in its own short transaction (see the store contract).
    public func purge(_ policy: PurgePolicy, now: Date, limit: Int, dryRun: Bool) async throws -> PurgeCounts {
        let tokenCutoff = now.addingTimeInterval(-policy.tokenGrace).millisecondsSince1970
        let limit = max(0, limit)
        // Table, key, condition: each an index range (tokens_by_expiry, codes_by_expiry, pending_by_expiry, audit_by_time).
        let kinds: [(table: String, key: String, before: Int64, column: String)] = [
            ("tokens", "hash", tokenCutoff, "expires_at"),
            ("authorization_codes", "hash", tokenCutoff, "expires_at"),
            ("pending_authorizations", "state_hash", now.millisecondsSince1970, "expires_at"),
            ("audit_events", "id", policy.auditBefore.millisecondsSince1970, "at"),
        ]
        var counts: [Int] = []
        for kind in kinds {
            let selection = "SELECT \(kind.key) FROM \(kind.table) WHERE \(kind.column) < $1 ORDER BY \(kind.column) LIMIT $2"
            var bindings = PostgresBindings()
            bindings.append(kind.before)
            bindings.append(limit)
            let statement = dryRun
                ? PostgresQuery(unsafeSQL: "SELECT count(*) FROM (\(selection)) AS due", binds: bindings)
                : PostgresQuery(unsafeSQL: """
                    DELETE FROM \(kind.table) WHERE \(kind.key) IN (\(selection) FOR UPDATE SKIP LOCKED) RETURNING 1
                    """, binds: bindings)
            if dryRun {
                counts.append(Int(try await rows(statement).first?.int(0) ?? 0))
            } else {
                counts.append(try await transaction { db in try await db.run(statement, logger: queryLogger) })
            }
        }
        return PurgeCounts(tokens: counts[0], codes: counts[1], pendingAuthorizations: counts[2], auditEvents: counts[3])
    }

    // MARK: - Settings and changes

    /// A named setting; `nil` if unset.
    public func setting(_ key: String) async throws -> String? {
        try await rows("SELECT value FROM settings WHERE key = \(key)").first.map { try $0.string(0) }
    }

    /// Sets (or with `nil` removes) a named setting.
    public func setSetting(_ key: String, _ value: String?) async throws {
        try await withConnection { db in
            if let value {
                try await db.run("""
                    INSERT INTO settings (key, value) VALUES (\(key), \(value))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """, logger: queryLogger)
            } else {
                try await db.run("DELETE FROM settings WHERE key = \(key)", logger: queryLogger)
            }
        }
    }

    /// The number of change notifications the `LISTEN` connection received (plus one per reconnection):
    /// it changes whenever any connection commits a change. Reads no table.
    public func dataVersion() async throws -> Int64 {
        changeFeed.version
    }
}
