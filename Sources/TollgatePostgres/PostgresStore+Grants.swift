import Foundation
import Logging
import PostgresNIO
import TollgateCore

// Grants, codes, proxy tokens and the upstream refresh lease.
extension PostgresStore {
    static let grantSelect = """
        SELECT g.id, g.server_id, s.slug, g.client_id, c.name, g.subject, g.scopes, g.resource, g.state,
            g.upstream_access_expires_at, g.upstream_has_refresh, g.upstream_refresh_expires_at, g.upstream_scope,
            g.proxy_access_expires_at, g.created_at, g.updated_at, g.last_refresh_at, g.last_refresh_outcome,
            g.refresh_failures, g.refresh_not_before, coalesce(p.supports_refresh, FALSE), g.revoked_at, g.version,
            g.upstream_obtained_at, g.state_reason
        FROM grants g
        JOIN servers s ON s.id = g.server_id
        JOIN clients c ON c.id = g.client_id
        LEFT JOIN providers p ON p.server_id = g.server_id
        """
    static let grantColumnCount = 25

    /// Decodes the columns of ``grantSelect``.
    static func grant(_ row: PostgresRandomAccessRow) throws -> Grant {
        Grant(
            id: try row.int(0), serverID: try row.int(1), serverSlug: try row.string(2), clientID: try row.string(3),
            clientName: try row.string(4), subject: try row.optionalString(5), scopes: splitScopes(try row.string(6)),
            resource: try row.string(7), state: GrantState(rawValue: try row.string(8)) ?? .revoked,
            upstream: UpstreamCredentialInfo(accessExpiresAt: try row.optionalDate(9), hasRefreshToken: try row.bool(10),
                                             refreshExpiresAt: try row.optionalDate(11), scope: try row.optionalString(12),
                                             obtainedAt: try row.optionalDate(23)),
            proxyAccessExpiresAt: try row.optionalDate(13), createdAt: try row.date(14), updatedAt: try row.date(15),
            lastRefreshAt: try row.optionalDate(16),
            lastRefreshOutcome: try row.optionalString(17).flatMap(RefreshOutcome.init(rawValue:)),
            refreshFailures: Int(try row.int(18)), refreshNotBefore: try row.optionalDate(19),
            providerSupportsRefresh: try row.bool(20), revokedAt: try row.optionalDate(21), version: try row.int(22),
            stateReason: try row.optionalString(24))
    }

    // MARK: - Grants

    /// Creates a grant with its sealed upstream credential, its code and `audit` (its `grantID` set), in one transaction.
    public func createGrant(_ new: NewGrant, seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                            audit: NewAuditEvent, at: Date) async throws -> Int64 {
        let ms = at.millisecondsSince1970
        return try await transaction { [self] db in
            guard let id = try await db.rows("""
                INSERT INTO grants (server_id, client_id, subject, scopes, resource, state, created_at, updated_at)
                VALUES (\(new.serverID), \(new.clientID), \(new.subject), \(new.scopes.joined(separator: " ")), \(new.resource),
                        'active', \(ms), \(ms))
                RETURNING id
                """, logger: queryLogger).first.map({ try $0.int(0) }) else {
                throw TollgateError(.damaged, "the grant just inserted is missing")
            }
            try await writeCredential(db, grantID: id, try seal(id))
            try await db.run(try """
                INSERT INTO authorization_codes (hash, grant_id, client_id, redirect_uri, code_challenge, expires_at)
                VALUES (\(code.hash), \(id), \(code.clientID), \(code.redirectURI), \(code.codeChallenge),
                        \(code.expiresAt.millisecondsSince1970))
                """, logger: queryLogger)
            var audit = audit
            audit.grantID = id
            try await insertAudit(db, audit, at: at)
            return id
        }
    }

    /// Extends the newest active grant of the server, client and subject (see the protocol); `nil` when there is none.
    public func extendGrant(serverID: Int64, clientID: String, subject: String, scopes: [String],
                            seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                            audit: @escaping @Sendable ([String], [String]) -> NewAuditEvent, at: Date) async throws -> Int64? {
        let ms = at.millisecondsSince1970
        return try await transaction { [self] db in
            // FOR UPDATE: a concurrent extension or revocation of the same grant waits for this one.
            let candidates = try await db.rows("""
                SELECT id, scopes FROM grants
                WHERE server_id = \(serverID) AND client_id = \(clientID) AND subject = \(subject) AND state = 'active'
                ORDER BY id DESC LIMIT 100 FOR UPDATE
                """, logger: queryLogger).map { (id: try $0.int(0), scopes: splitScopes(try $0.string(1))) }
            guard let target = candidates.first(where: { GrantScopes.extends($0.scopes, with: scopes) }) else { return nil }
            let (id, old) = (target.id, target.scopes)
            let union = GrantScopes.union(old, scopes)
            try await db.run("""
                UPDATE grants SET scopes = \(union.joined(separator: " ")), updated_at = \(ms), version = version + 1,
                    state_reason = NULL, refresh_failures = 0, refresh_not_before = NULL, lease_owner = NULL, lease_until = NULL,
                    lease_sent_at = NULL, refresh_interrupted_at = NULL
                WHERE id = \(id)
                """, logger: queryLogger)
            try await writeCredential(db, grantID: id, try seal(id))
            try await db.run(try """
                INSERT INTO authorization_codes (hash, grant_id, client_id, redirect_uri, code_challenge, expires_at)
                VALUES (\(code.hash), \(id), \(code.clientID), \(code.redirectURI), \(code.codeChallenge),
                        \(code.expiresAt.millisecondsSince1970))
                """, logger: queryLogger)
            var event = audit(old, union)
            event.grantID = id
            try await insertAudit(db, event, at: at)
            return id
        }
    }

    func writeCredential(_ db: PostgresConnection, grantID: Int64, _ c: SealedCredential) async throws {
        try await db.run(try """
            UPDATE grants SET upstream_access = \(c.accessToken), upstream_refresh = \(c.refreshToken),
                upstream_has_refresh = \(c.refreshToken != nil),
                upstream_access_expires_at = \(c.info.accessExpiresAt?.millisecondsSince1970),
                upstream_refresh_expires_at = \(c.info.refreshExpiresAt?.millisecondsSince1970),
                upstream_scope = \(c.info.scope), upstream_obtained_at = \(c.info.obtainedAt?.millisecondsSince1970)
            WHERE id = \(grantID)
            """, logger: queryLogger)
    }

    /// A grant by id; `nil` if unknown.
    public func grant(id: Int64) async throws -> Grant? {
        try await rows("\(unescaped: Self.grantSelect) WHERE g.id = \(id)").first.map(Self.grant)
    }

    /// How many grants there are.
    public func countGrants() async throws -> Int {
        Int(try await rows("SELECT count(*) FROM grants").first?.int(0) ?? 0)
    }

    /// The sealed upstream credential of a grant; `nil` if unknown or without one.
    public func sealedCredential(grantID: Int64) async throws -> SealedCredential? {
        guard let row = try await rows("""
            SELECT upstream_access, upstream_refresh, upstream_access_expires_at, upstream_refresh_expires_at,
                upstream_scope, version, upstream_obtained_at FROM grants WHERE id = \(grantID)
            """).first, let access = try row.optionalData(0) else { return nil }
        let refresh = try row.optionalData(1)
        return SealedCredential(accessToken: access, refreshToken: refresh,
                                info: UpstreamCredentialInfo(accessExpiresAt: try row.optionalDate(2), hasRefreshToken: refresh != nil,
                                                             refreshExpiresAt: try row.optionalDate(3), scope: try row.optionalString(4),
                                                             obtainedAt: try row.optionalDate(6)),
                                version: try row.int(5))
    }

    // MARK: - Listing

    /// The SQL condition selecting grants whose ``Grant/status(at:warningWindow:)`` is `status`, with the
    /// placeholders of `now` and `now` + the warning window.
    static func statusCondition(_ status: GrantStatus, now: String, soon: String) -> String {
        let exp = "g.upstream_access_expires_at"
        let canRefresh = "(g.upstream_has_refresh AND coalesce(p.supports_refresh, FALSE))"
        let expired = "(\(exp) IS NOT NULL AND \(exp) <= \(now))"
        // coalesce: a grant without a proxy token (NULL) is not expiring by it; NULL would drop it from "active" too.
        let soonExpiring = """
            ((\(exp) IS NOT NULL AND \(exp) <= \(soon))
                OR coalesce(g.proxy_access_expires_at > \(now) AND g.proxy_access_expires_at <= \(soon), FALSE))
            """
        switch status {
        case .revoked: return "g.state = 'revoked'"
        case .needsReauth: return "(g.state = 'needs-reauth' OR (g.state = 'active' AND \(expired) AND NOT \(canRefresh)))"
        case .expired: return "(g.state = 'active' AND \(expired) AND \(canRefresh))"
        case .expiring: return "(g.state = 'active' AND NOT \(expired) AND \(soonExpiring))"
        case .active: return "(g.state = 'active' AND NOT \(expired) AND NOT \(soonExpiring))"
        }
    }

    /// The filter conditions of a listing (server, client, subject, subject prefix, status), without paging.
    static func grantConditions(_ q: GrantQuery, now: Date, into sql: inout SQLBuilder) throws -> [String] {
        var conditions: [String] = []
        if let slug = q.serverSlug { conditions.append("g.server_id = (SELECT id FROM servers WHERE slug = \(try sql.bind(slug)))") }
        if let client = q.clientID { conditions.append("g.client_id = \(try sql.bind(client))") }
        if let subject = q.subject { conditions.append("g.subject = \(try sql.bind(subject))") }
        if let prefix = q.subjectPrefix, !prefix.isEmpty {
            // Under the "C" collation every string starting with the prefix sorts in [prefix, prefix + U+10FFFF):
            // an index range of grants_by_subject.
            conditions.append("g.subject >= \(try sql.bind(prefix)) AND g.subject < \(try sql.bind(prefix + "\u{10FFFF}"))")
        }
        if let status = q.status {
            let nowPlaceholder = try sql.bind(now.millisecondsSince1970)
            let soonPlaceholder = try sql.bind(now.addingTimeInterval(Grant.defaultWarningWindow).millisecondsSince1970)
            conditions.append(statusCondition(status, now: nowPlaceholder, soon: soonPlaceholder))
        }
        return conditions
    }

    /// The listing's sort key of the upstream-expiry order (the expression of its indexes).
    static let expiryKey = "coalesce(g.upstream_access_expires_at, 9223372036854775807)"

    /// The statement of one page of a listing: `limit + 1` rows (the extra one says whether there are more),
    /// read backwards from the cursor (or the end) for a backward page.
    static func listingStatement(_ q: GrantQuery, now: Date, candidates: CandidateSource? = nil) throws -> (query: PostgresQuery, limit: Int) {
        if candidates == nil, let prefix = q.subjectPrefix, !prefix.isEmpty, q.sort != .upstreamExpiry,
           q.serverSlug == nil, q.clientID == nil, q.subject == nil, q.status == nil {
            return try subjectPrefixPage(q, prefix: prefix)
        }
        var sql = SQLBuilder()
        var conditions = try Self.grantConditions(q, now: now, into: &sql)
        if let candidates { conditions.append("g.id IN (\(try candidates.sql(now: now, into: &sql)))") }
        // Backwards pages read the listing in reverse from the cursor (or the end), then flip.
        let backwards = q.readsBackwards
        let order: String
        switch (q.sort, backwards) {
        case (.newest, false), (.oldest, true): order = "g.id DESC"
        case (.newest, true), (.oldest, false): order = "g.id ASC"
        case (.upstreamExpiry, false): order = "\(Self.expiryKey), g.id"
        case (.upstreamExpiry, true): order = "\(Self.expiryKey) DESC, g.id DESC"
        }
        if let cursor = q.before ?? q.after {
            let ascending = (q.sort != .newest) != backwards
            let op = ascending ? ">" : "<"
            switch q.sort {
            case .newest, .oldest:
                guard let id = Int64(cursor) else { throw TollgateError.invalidInput("bad page cursor") }
                conditions.append("g.id \(op) \(try sql.bind(id))")
            case .upstreamExpiry:
                let parts = cursor.split(separator: ":")
                guard parts.count == 2, let key = Int64(parts[0]), let id = Int64(parts[1]) else {
                    throw TollgateError.invalidInput("bad page cursor")
                }
                // A row comparison is one index range of (expiry, id).
                conditions.append("(\(Self.expiryKey), g.id) \(op) (\(try sql.bind(key)), \(try sql.bind(id)))")
            }
        }
        let limit = max(1, min(q.limit, 10_000))
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        sql.text = "\(Self.grantSelect) \(whereClause) ORDER BY \(order) LIMIT \(try sql.bind(limit + 1))"
        return (sql.query, limit)
    }

    /// How many grants, in the listing's order, a subject-prefix page looks at before it asks the subject index.
    static let prefixWalkLimit = GrantCandidates.prefixWalkLimit

    /// An index-only superset of the grants a filter selects (see ``GrantCandidates``): the subject index's range
    /// of a prefix, or the (state, expiry) index ranges of a status.
    enum CandidateSource: Equatable {
        case prefix(String)
        case status(GrantStatus)

        /// The statements whose ids together hold the superset (one per index range), with their values bound in `sql`.
        func arms(now: Date, into sql: inout SQLBuilder) throws -> [String] {
            switch self {
            case .prefix(let prefix):
                return ["SELECT id FROM grants WHERE subject >= \(try sql.bind(prefix)) AND subject < \(try sql.bind(prefix + "\u{10FFFF}"))"]
            case .status(let status):
                return try status.candidateRanges(now: now).map { range in
                    let terms = try range.conditions { try sql.bind($0) }
                    return "SELECT id FROM grants WHERE " + terms.joined(separator: " AND ")
                }
            }
        }

        /// One statement of the superset's ids.
        func sql(now: Date, into sql: inout SQLBuilder) throws -> String {
            try arms(now: now, into: &sql).joined(separator: " UNION ALL ")
        }
    }

    /// The smaller of the query's candidate sources (prefix, status) that an index-only count, each range stopping
    /// after ``GrantCandidates/candidateLimit``, finds no bigger than that; `nil` when neither is set or both are bigger.
    func fewCandidates(_ q: GrantQuery, now: Date) async throws -> CandidateSource? {
        var sources: [CandidateSource] = []
        if let prefix = q.subjectPrefix, !prefix.isEmpty { sources.append(.prefix(prefix)) }
        if let status = q.status { sources.append(.status(status)) }
        guard !sources.isEmpty else { return nil }
        var sql = SQLBuilder()
        var sizes: [String] = []
        for source in sources {
            let probe = try sql.bind(GrantCandidates.candidateLimit + 1)
            // Each range counted on its own: their sum bounds the union.
            sizes.append(try source.arms(now: now, into: &sql).map { "(SELECT count(*) FROM (\($0) LIMIT \(probe)) a)" }.joined(separator: " + "))
        }
        sql.text = "SELECT " + sizes.joined(separator: ", ")
        guard let row = try await rows(sql.query).first else { return nil }
        var best: (size: Int64, source: CandidateSource)?
        for (i, source) in sources.enumerated() {
            let size = try row.int(i)
            if size <= GrantCandidates.candidateLimit, size < (best?.size ?? .max) { best = (size, source) }
        }
        return best?.source
    }

    /// The statement of a page of grants whose subject starts with `prefix` (and nothing else filters), in id
    /// order: `limit + 1` rows, as ``listingStatement(_:now:)``, chosen by the data in one statement.
    ///
    /// Neither index order alone is always fast: walking the id order finds a page at once when the prefix is
    /// common among the newest grants, and reads most of the table when its grants sit at the far end; the
    /// subject index finds them wherever they are, but sorts every one of them by id. So the statement walks the
    /// next ``prefixWalkLimit`` grants of the listing order first, and only when that walk did not fill the page
    /// takes the ids from the covering subject index (an index-only range with a top-k by id; `ORDER BY subject`
    /// keeps the planner on that index even when the prefix covers the table). The walk is exact when it fills
    /// the page (every newer match was inside it); otherwise the index answer is. PostgreSQL runs only the branch
    /// whose one-time filter holds. The cost left is the top-k over a prefix that very many grants share and
    /// that none of the next grants in the order has.
    static func subjectPrefixPage(_ q: GrantQuery, prefix: String) throws -> (query: PostgresQuery, limit: Int) {
        var sql = SQLBuilder()
        let limit = max(1, min(q.limit, 10_000))
        let descending = (q.sort == .newest) != q.readsBackwards
        let direction = descending ? "DESC" : "ASC"
        var cursor: String?
        if let after = q.before ?? q.after {
            guard let id = Int64(after) else { throw TollgateError.invalidInput("bad page cursor") }
            cursor = "g.id \(descending ? "<" : ">") \(try sql.bind(id))"
        }
        let from = try sql.bind(prefix), to = try sql.bind(prefix + "\u{10FFFF}"), page = try sql.bind(limit + 1)
        let cursorCondition = cursor.map { " WHERE \($0)" } ?? ""
        let cursorAnd = cursor.map { " AND \($0)" } ?? ""
        sql.text = """
            WITH walked AS (
                SELECT id FROM (SELECT g.id, g.subject FROM grants g\(cursorCondition)
                    ORDER BY g.id \(direction) LIMIT \(Self.prefixWalkLimit)) w
                WHERE w.subject >= \(from) AND w.subject < \(to) ORDER BY w.id \(direction) LIMIT \(page)),
            picked AS (
                SELECT id FROM walked WHERE (SELECT count(*) FROM walked) >= \(page)
                UNION ALL
                (SELECT id FROM (SELECT g.id FROM grants g WHERE g.subject >= \(from) AND g.subject < \(to)\(cursorAnd)
                    ORDER BY g.subject, g.id) indexed
                 WHERE (SELECT count(*) FROM walked) < \(page) ORDER BY id \(direction) LIMIT \(page)))
            \(Self.grantSelect) WHERE g.id IN (SELECT id FROM picked) ORDER BY g.id \(direction)
            """
        return (sql.query, limit)
    }

    /// One page of grants: filtered, in `query.sort` order, keyset-paged.
    public func grants(_ q: GrantQuery, now: Date) async throws -> Page<Grant> {
        let (statement, limit) = try Self.listingStatement(q, now: now, candidates: try await fewCandidates(q, now: now))
        return q.page(from: try await rows(statement).map(Self.grant), limit: limit)
    }

    /// How many grants `query` selects (its sort and paging ignored), counting no further than `limit`.
    public func countGrants(_ query: GrantQuery, upTo limit: Int, now: Date) async throws -> Int {
        guard let statement = try Self.countStatement(query, upTo: limit, now: now, candidates: try await fewCandidates(query, now: now)) else {
            return min(limit, try await countGrants())
        }
        return Int(try await rows(statement).first?.int(0) ?? 0)
    }

    /// The bounded count of what `query` selects; `nil` when nothing filters (every grant counts).
    static func countStatement(_ query: GrantQuery, upTo limit: Int, now: Date, candidates: CandidateSource? = nil) throws -> PostgresQuery? {
        var sql = SQLBuilder()
        var conditions = try Self.grantConditions(query, now: now, into: &sql)
        if conditions.isEmpty { return nil }
        if let candidates { conditions.append("g.id IN (\(try candidates.sql(now: now, into: &sql)))") }
        sql.text = """
            SELECT count(*) FROM (SELECT 1 FROM grants g LEFT JOIN providers p ON p.server_id = g.server_id
            WHERE \(conditions.joined(separator: " AND ")) LIMIT \(try sql.bind(max(0, limit)))) AS selected
            """
        return sql.query
    }

    /// Revokes a grant, its tokens and unused codes and writes `audit`, in one transaction; `false` (no audit) if it already was.
    public func revokeGrant(id: Int64, audit: NewAuditEvent, at: Date) async throws -> Bool {
        let ms = at.millisecondsSince1970
        return try await transaction { [self] db in
            let changed = try await db.run("""
                UPDATE grants SET state = 'revoked', revoked_at = \(ms), updated_at = \(ms), version = version + 1,
                    proxy_access_expires_at = NULL
                WHERE id = \(id) AND state <> 'revoked' RETURNING 1
                """, logger: queryLogger) == 1
            if !changed {
                let exists = try await db.run("SELECT 1 FROM grants WHERE id = \(id)", logger: queryLogger) == 1
                guard exists else { throw TollgateError.notFound("no grant \(id)") }
            }
            try await db.run("UPDATE tokens SET revoked_at = \(ms) WHERE grant_id = \(id) AND revoked_at IS NULL", logger: queryLogger)
            try await db.run("DELETE FROM authorization_codes WHERE grant_id = \(id) AND used_at IS NULL", logger: queryLogger)
            if changed { try await insertAudit(db, audit, at: at) }
            return changed
        }
    }

    // MARK: - Codes and tokens

    static let codeColumns = "hash, grant_id, client_id, redirect_uri, code_challenge, expires_at, used_at"

    static func authorizationCode(_ row: PostgresRandomAccessRow) throws -> AuthorizationCodeRecord {
        AuthorizationCodeRecord(hash: try row.data(0), grantID: try row.int(1), clientID: try row.string(2),
                                redirectURI: try row.string(3), codeChallenge: try row.string(4),
                                expiresAt: try row.date(5), usedAt: try row.optionalDate(6))
    }

    /// A stored authorization code by its hash, used or not.
    public func authorizationCode(hash: Data) async throws -> AuthorizationCodeRecord? {
        try await rows(try "SELECT \(unescaped: Self.codeColumns) FROM authorization_codes WHERE hash = \(hash)")
            .first.map(Self.authorizationCode)
    }

    /// Marks a code used if it was not: one conditional `UPDATE … RETURNING`, so of many concurrent
    /// redeemers exactly one gets `.redeemed` (with the record as it was before, unused).
    public func redeemCode(hash: Data, at: Date) async throws -> CodeRedemption {
        try await withConnection { db in
            if let row = try await db.rows(try """
                UPDATE authorization_codes SET used_at = \(at.millisecondsSince1970) WHERE hash = \(hash) AND used_at IS NULL
                RETURNING \(unescaped: Self.codeColumns)
                """, logger: queryLogger).first {
                var record = try Self.authorizationCode(row)
                record.usedAt = nil
                return .redeemed(record)
            }
            guard let row = try await db.rows(try "SELECT \(unescaped: Self.codeColumns) FROM authorization_codes WHERE hash = \(hash)",
                                              logger: queryLogger).first else { return .notFound }
            return .replayed(try Self.authorizationCode(row))
        }
    }

    func insert(_ db: PostgresConnection, tokens: [NewToken], grantID: Int64, clientID: String, at: Date) async throws {
        let ms = at.millisecondsSince1970
        for t in tokens {
            try await db.run(try """
                INSERT INTO tokens (hash, grant_id, kind, client_id, issued_at, expires_at, scopes)
                VALUES (\(t.hash), \(grantID), \(t.kind.rawValue), \(clientID), \(ms), \(t.expiresAt.millisecondsSince1970),
                        \(t.scopes.map { $0.joined(separator: " ") }))
                """, logger: queryLogger)
        }
        if let access = tokens.first(where: { $0.kind == .access }) {
            try await db.run("""
                UPDATE grants SET proxy_access_expires_at = \(access.expiresAt.millisecondsSince1970), updated_at = \(ms)
                WHERE id = \(grantID)
                """, logger: queryLogger)
        }
    }

    /// Stores newly issued tokens of a grant and its newest proxy access expiry, in one transaction.
    public func insertTokens(grantID: Int64, clientID: String, _ tokens: [NewToken], at: Date) async throws {
        try await transaction { [self] db in try await insert(db, tokens: tokens, grantID: grantID, clientID: clientID, at: at) }
    }

    static let tokenColumns = "hash, grant_id, kind, client_id, issued_at, expires_at, revoked_at, rotated_at, replaced_by, scopes"

    /// A token by its hash.
    public func token(hash: Data) async throws -> TokenRecord? {
        try await rows(try "SELECT \(unescaped: Self.tokenColumns) FROM tokens WHERE hash = \(hash)").first.map { row in
            TokenRecord(hash: try row.data(0), grantID: try row.int(1), kind: TokenKind(rawValue: try row.string(2)) ?? .access,
                        clientID: try row.string(3), issuedAt: try row.date(4), expiresAt: try row.date(5),
                        revokedAt: try row.optionalDate(6), rotatedAt: try row.optionalDate(7), replacedBy: try row.optionalData(8),
                        scopes: TokenRecord.scopes(stored: try row.optionalString(9)))
        }
    }

    /// The validation query: a token with its grant, sealed credential, the server's upstream MCP URL and the
    /// token's hash (which lookup of a batch the row answers).
    static let tokenContextSQL = grantSelect.replacingOccurrences(of: "FROM grants g", with: """
        , t.kind, t.client_id, t.issued_at, t.expires_at, t.revoked_at, t.rotated_at, t.replaced_by,
            g.upstream_access, g.upstream_refresh, s.upstream_mcp_url, s.policy, t.hash, t.scopes
        FROM tokens t JOIN grants g ON g.id = t.grant_id
        """)

    /// A token with its grant, sealed credential and upstream MCP URL: the validation hot path.
    ///
    /// Concurrent lookups are answered together by one statement (``CoalescingLookup``): a lookup waits for
    /// the next statement rather than joining one already running, so its answer reflects the database as
    /// of a moment after it started (a revocation that returned before is always seen).
    public func tokenContext(hash: Data) async throws -> TokenContext? {
        try await tokenContexts.value(for: hash)
    }

    /// The contexts of distinct token hashes in one statement, keyed by hash (unknown hashes are absent; a row
    /// this build cannot read fails only its own hash).
    /// Runs within the store's operation deadline, as every other statement does.
    static func fetchTokenContexts(_ hashes: [Data], client: PostgresClient, timeout: TimeInterval, logger: Logger,
                                   displayName: String) async throws -> [Data: Result<TokenContext, any Error>] {
        // A prepared statement (parsed and planned once per connection): planning this join took ten times as
        // long as running it, on every request.
        let rows: [PostgresRandomAccessRow]
        do {
            rows = try await leased(from: client, within: timeout, displayName: displayName) { connection in
                var rows: [PostgresRandomAccessRow] = []
                for try await row in try await connection.execute(TokenContextStatement(hashes: hashes), logger: logger) {
                    rows.append(row)
                }
                return rows
            }
        } catch {
            throw map(error, displayName: displayName)
        }
        var contexts: [Data: Result<TokenContext, any Error>] = [:]
        for row in rows {
            guard let hash = try? row.data(grantColumnCount + 11) else {
                throw TollgateError(.damaged, "\(displayName) holds a value this build cannot read")
            }
            contexts[hash] = Result { try Self.tokenContext(row, hash: hash) }.mapError { Self.map($0, displayName: displayName) }
        }
        return contexts
    }

    /// Decodes one row of ``tokenContextSQL``.
    static func tokenContext(_ row: PostgresRandomAccessRow, hash: Data) throws -> TokenContext {
        let grant = try Self.grant(row)
        let n = Self.grantColumnCount
        let token = TokenRecord(hash: hash, grantID: grant.id, kind: TokenKind(rawValue: try row.string(n)) ?? .access,
                                clientID: try row.string(n + 1), issuedAt: try row.date(n + 2), expiresAt: try row.date(n + 3),
                                revokedAt: try row.optionalDate(n + 4), rotatedAt: try row.optionalDate(n + 5),
                                replacedBy: try row.optionalData(n + 6), scopes: TokenRecord.scopes(stored: try row.optionalString(n + 12)))
        let sealed = try row.optionalData(n + 7).map {
            SealedCredential(accessToken: $0, refreshToken: try row.optionalData(n + 8), info: grant.upstream, version: grant.version)
        }
        return TokenContext(token: token, grant: grant, sealed: sealed, upstreamMCPURL: try row.string(n + 9),
                            scopeRules: try ScopeRules.stored(inPolicyJSON: try row.string(n + 10)))
    }

    /// Rotates a refresh token (compare-and-set on the row count of one conditional `UPDATE`), revokes the
    /// grant's access tokens and stores the new ones, in one transaction; `false` if another rotation won.
    public func rotateRefreshToken(old: Data, replacement: Data, newTokens: [NewToken], grantID: Int64,
                                   clientID: String, at: Date, pruningBefore: Date?) async throws -> Bool {
        let ms = at.millisecondsSince1970
        return try await transaction { [self] db in
            let won = try await db.run(try """
                UPDATE tokens SET rotated_at = \(ms), replaced_by = \(replacement)
                WHERE hash = \(old) AND rotated_at IS NULL AND revoked_at IS NULL RETURNING 1
                """, logger: queryLogger)
            guard won == 1 else { return false }
            try await db.run("""
                UPDATE tokens SET revoked_at = \(ms) WHERE grant_id = \(grantID) AND kind = 'access' AND revoked_at IS NULL
                """, logger: queryLogger)
            if let cutoff = pruningBefore?.millisecondsSince1970 {
                // The grant's rows only (tokens_by_grant): refresh tokens rotated and access tokens revoked before the cutoff.
                try await db.run("""
                    DELETE FROM tokens WHERE grant_id = \(grantID)
                        AND ((kind = 'refresh' AND rotated_at < \(cutoff)) OR (kind = 'access' AND revoked_at < \(cutoff)))
                    """, logger: queryLogger)
            }
            try await insert(db, tokens: newTokens, grantID: grantID, clientID: clientID, at: at)
            return true
        }
    }

    /// Revokes one token; a refresh token takes the grant's access tokens with it (one transaction).
    public func revokeToken(hash: Data, at: Date) async throws {
        let ms = at.millisecondsSince1970
        try await transaction { db in
            guard let row = try await db.rows(try """
                UPDATE tokens SET revoked_at = coalesce(revoked_at, \(ms)) WHERE hash = \(hash) RETURNING kind, grant_id
                """, logger: queryLogger).first else { return }
            if try row.string(0) == TokenKind.refresh.rawValue {
                try await db.run("""
                    UPDATE tokens SET revoked_at = \(ms) WHERE grant_id = \(try row.int(1)) AND kind = 'access' AND revoked_at IS NULL
                    """, logger: queryLogger)
            }
        }
    }

    // MARK: - Refresh lease

    /// What taking the lease returns: from the grant row the conditional `UPDATE` returns (as it is after the
    /// update, under its row lock) the grant, its sealed credential and its server's provider with the sealed
    /// client secret; the statement starts with the `taken` CTE.
    static let refreshLeaseContextSQL = grantSelect.replacingOccurrences(of: "FROM grants g", with: """
        , g.refresh_interrupted_at, g.upstream_access, g.upstream_refresh, \(joinedProviderColumns), p.client_secret
        FROM taken g
        """)

    /// Takes the refresh lease if it is free, expired by the database's clock, `owner`'s or `staleOwner`'s:
    /// one statement, a conditional `UPDATE … RETURNING` (compare-and-set on its row count) whose row is read
    /// with the grant's server, client and provider (``refreshLeaseContextSQL``), the lease held until the
    /// database's now plus `until - now`.
    public func acquireRefreshLease(grantID: Int64, owner: String, until: Date, now: Date,
                                    replacing staleOwner: String?) async throws -> RefreshLeaseAcquisition? {
        let duration = until.millisecondsSince1970 - now.millisecondsSince1970
        let found = try await withConnection { db in
            // SET expressions read the row as it was: a holder that sent its upstream call and never
            // finished (released or wrote a result) was interrupted.
            try await db.rows("""
                WITH taken AS (UPDATE grants SET lease_owner = \(owner),
                    lease_until = \(unescaped: databaseNowMilliseconds) + \(duration),
                    lease_sent_at = \(now.millisecondsSince1970),
                    refresh_interrupted_at = CASE WHEN lease_owner IS NOT NULL AND lease_owner <> \(owner)
                        THEN coalesce(lease_sent_at, refresh_interrupted_at) ELSE refresh_interrupted_at END
                WHERE id = \(grantID) AND (lease_owner IS NULL OR lease_owner = \(owner) OR lease_owner = \(staleOwner)
                    OR coalesce(lease_until, 0) < \(unescaped: databaseNowMilliseconds))
                RETURNING *)
                \(unescaped: Self.refreshLeaseContextSQL)
                """, logger: queryLogger).first
        }
        guard let row = found else { return nil }
        let grant = try Self.grant(row)
        let n = Self.grantColumnCount
        let sealed = try row.optionalData(n + 1).map {
            SealedCredential(accessToken: $0, refreshToken: try row.optionalData(n + 2), info: grant.upstream, version: grant.version)
        }
        let provider = try row.optionalInt(n + 3) == nil ? nil : try Self.provider(row, from: n + 3)
        return RefreshLeaseAcquisition(interruptedAttemptAt: try row.optionalDate(n), grant: grant, sealedCredential: sealed,
                                       provider: provider, sealedProviderSecret: provider == nil ? nil : try row.optionalData(n + 20))
    }

    /// Extends `owner`'s lease to the database's now plus `until - now`; `false` if `owner` no longer holds it.
    public func renewRefreshLease(grantID: Int64, owner: String, until: Date, now: Date) async throws -> Bool {
        let duration = until.millisecondsSince1970 - now.millisecondsSince1970
        return try await withConnection { db in
            try await db.run("""
                UPDATE grants SET lease_until = \(unescaped: databaseNowMilliseconds) + \(duration)
                WHERE id = \(grantID) AND lease_owner = \(owner) RETURNING 1
                """, logger: queryLogger) == 1
        }
    }

    /// Gives up `owner`'s lease without writing a result.
    public func releaseRefreshLease(grantID: Int64, owner: String) async throws {
        try await withConnection { db in
            try await db.run("""
                UPDATE grants SET lease_owner = NULL, lease_until = NULL, lease_sent_at = NULL
                WHERE id = \(grantID) AND lease_owner = \(owner)
                """, logger: queryLogger)
        }
    }

    /// The lease (its end by the database's clock) and version of a grant; `nil` for an unknown grant.
    public func refreshLease(grantID: Int64) async throws -> RefreshLeaseState? {
        try await rows("SELECT lease_owner, lease_until, version FROM grants WHERE id = \(grantID)").first.map {
            RefreshLeaseState(owner: try $0.optionalString(0), until: try $0.optionalDate(1), version: try $0.int(2))
        }
    }

    /// Writes the outcome of a refresh, bumps the version, releases `owner`'s lease and appends `audit`, in
    /// one transaction (see the store contract for which outcomes need the lease).
    public func finishRefresh(grantID: Int64, owner: String, expectedVersion: Int64, result: RefreshWrite,
                              audit: NewAuditEvent, at: Date) async throws -> Bool {
        let ms = at.millisecondsSince1970
        var sql = SQLBuilder()
        let ownerPlaceholder = try sql.bind(owner)
        let outcome: RefreshOutcome
        var extra = ""
        var condition = ""
        switch result {
        case .refreshed(_, let replacingObtainedAt):
            // New upstream tokens are the only copy of what the upstream issued: stored whoever holds the lease,
            // unless the credential they refresh was replaced meanwhile (a re-authorization's is newer).
            outcome = .succeeded
            extra = """
                , refresh_failures = 0, refresh_not_before = NULL, refresh_interrupted_at = NULL,
                state = 'active', state_reason = NULL
                """
            condition = "AND state <> 'revoked' AND upstream_obtained_at IS NOT DISTINCT FROM \(try sql.bind(replacingObtainedAt?.millisecondsSince1970))::BIGINT"
        case .needsReauth(let reason):
            outcome = .needsReauth
            extra = """
                , refresh_interrupted_at = NULL,
                state_reason = CASE WHEN state = 'revoked' THEN state_reason ELSE \(try sql.bind(reason)) END,
                state = CASE WHEN state = 'revoked' THEN state ELSE 'needs-reauth' END
                """
        case .providerMisconfigured(let notBefore):
            outcome = .providerMisconfigured
            extra = ", refresh_failures = refresh_failures + 1, refresh_not_before = \(try sql.bind(notBefore?.millisecondsSince1970))::BIGINT"
        case .transient(let notBefore, let answerLost):
            outcome = .transient
            extra = ", refresh_failures = refresh_failures + 1, refresh_not_before = \(try sql.bind(notBefore.millisecondsSince1970))"
            if answerLost {
                // Reads lease_sent_at as it was before this statement clears it.
                extra += ", refresh_interrupted_at = coalesce(lease_sent_at, \(try sql.bind(ms)))"
            }
        }
        if case .refreshed = result {} else {
            condition = "AND lease_owner = \(ownerPlaceholder) AND version = \(try sql.bind(expectedVersion))"
        }
        // The lease is released only if it is this holder's; another holder's lease stays with it.
        sql.text = """
            UPDATE grants SET version = version + 1,
                lease_sent_at = CASE WHEN lease_owner = \(ownerPlaceholder) THEN NULL ELSE lease_sent_at END,
                lease_until = CASE WHEN lease_owner = \(ownerPlaceholder) THEN NULL ELSE lease_until END,
                lease_owner = CASE WHEN lease_owner = \(ownerPlaceholder) THEN NULL ELSE lease_owner END,
                last_refresh_at = \(try sql.bind(ms)), last_refresh_outcome = \(try sql.bind(outcome.rawValue)),
                updated_at = \(try sql.bind(ms))\(extra)
            WHERE id = \(try sql.bind(grantID)) \(condition)
            RETURNING 1
            """
        let statement = sql.query
        return try await transaction { [self] db in
            guard try await db.run(statement, logger: queryLogger) == 1 else { return false }
            if case .refreshed(let sealed, _) = result {
                try await writeCredential(db, grantID: grantID, sealed)
            }
            try await insertAudit(db, audit, at: at)
            return true
        }
    }
}

/// The validation hot path's statement, prepared once per pooled connection: the contexts of several token
/// hashes at once (one batch of ``CoalescingLookup``).
struct TokenContextStatement: PostgresPreparedStatement {
    static let sql = PostgresStore.tokenContextSQL + " WHERE t.hash = ANY($1)"
    typealias Row = PostgresRandomAccessRow
    let hashes: [Data]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(hashes.map { ByteBuffer(bytes: $0) })
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> PostgresRandomAccessRow { row.makeRandomAccess() }
}
