import Foundation
import GRDB
import TollgateCore

extension SQLiteStore {
    static let grantSelect = """
        SELECT g.id, g.server_id, s.slug, g.client_id, c.name, g.subject, g.scopes, g.resource, g.state,
            g.upstream_access_expires_at, g.upstream_has_refresh, g.upstream_refresh_expires_at, g.upstream_scope,
            g.proxy_access_expires_at, g.created_at, g.updated_at, g.last_refresh_at, g.last_refresh_outcome,
            g.refresh_failures, g.refresh_not_before, coalesce(p.supports_refresh, 0), g.revoked_at, g.version,
            g.upstream_obtained_at, g.state_reason
        FROM grants g
        JOIN servers s ON s.id = g.server_id
        JOIN clients c ON c.id = g.client_id
        LEFT JOIN providers p ON p.server_id = g.server_id
        """
    static let grantColumnCount = 25

    static func date(_ value: Int64?) -> Date? { value.map(Date.init(millisecondsSince1970:)) }

    static func grant(_ row: Row) -> Grant { grant(GRDBRowColumns(row: row)) }

    /// Decodes the columns of ``grantSelect`` (from a GRDB row or a raw statement alike).
    static func grant(_ c: some ColumnSource) -> Grant {
        Grant(
            id: c.int(0), serverID: c.int(1), serverSlug: c.string(2), clientID: c.string(3), clientName: c.string(4), subject: c.text(5),
            scopes: splitScopes(c.text(6)), resource: c.string(7), state: GrantState(rawValue: c.string(8)) ?? .revoked,
            upstream: UpstreamCredentialInfo(accessExpiresAt: c.date(9), hasRefreshToken: c.bool(10),
                                             refreshExpiresAt: c.date(11), scope: c.text(12), obtainedAt: c.date(23)),
            proxyAccessExpiresAt: c.date(13), createdAt: Date(millisecondsSince1970: c.int(14)),
            updatedAt: Date(millisecondsSince1970: c.int(15)), lastRefreshAt: c.date(16),
            lastRefreshOutcome: c.text(17).flatMap(RefreshOutcome.init(rawValue:)),
            refreshFailures: Int(c.int(18)), refreshNotBefore: c.date(19), providerSupportsRefresh: c.bool(20),
            revokedAt: c.date(21), version: c.int(22), stateReason: c.text(24))
    }

    // MARK: - Grants

    public func createGrant(_ new: NewGrant, seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                            audit: NewAuditEvent, at: Date) async throws -> Int64 {
        try await write { db in
            let ms = at.millisecondsSince1970
            try db.execute(sql: """
                INSERT INTO grants (server_id, client_id, subject, scopes, resource, state, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, 'active', ?, ?)
                """, arguments: [new.serverID, new.clientID, new.subject, new.scopes.joined(separator: " "), new.resource, ms, ms])
            let id = db.lastInsertedRowID
            let sealed = try seal(id)
            try Self.writeCredential(db, grantID: id, sealed)
            try db.execute(sql: """
                INSERT INTO authorization_codes (hash, grant_id, client_id, redirect_uri, code_challenge, expires_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [code.hash, id, code.clientID, code.redirectURI, code.codeChallenge, code.expiresAt.millisecondsSince1970])
            var audit = audit
            audit.grantID = id
            try Self.insertAudit(db, audit, at: at)
            return id
        }
    }

    public func extendGrant(serverID: Int64, clientID: String, subject: String, scopes: [String],
                            seal: @escaping @Sendable (Int64) throws -> SealedCredential, code: AuthorizationCodeRecord,
                            audit: @escaping @Sendable ([String], [String]) -> NewAuditEvent, at: Date) async throws -> Int64? {
        try await write { db in
            let candidates = try Row.fetchAll(db, sql: """
                SELECT id, scopes FROM grants
                WHERE server_id = ? AND client_id = ? AND subject = ? AND state = 'active'
                ORDER BY id DESC LIMIT 100
                """, arguments: [serverID, clientID, subject]).map { (id: $0[0] as Int64, scopes: Self.splitScopes($0[1])) }
            guard let target = candidates.first(where: { GrantScopes.extends($0.scopes, with: scopes) }) else { return nil }
            let (id, old) = (target.id, target.scopes)
            let union = GrantScopes.union(old, scopes)
            try db.execute(sql: """
                UPDATE grants SET scopes = ?, updated_at = ?, version = version + 1, state_reason = NULL, refresh_failures = 0,
                    refresh_not_before = NULL, lease_owner = NULL, lease_until = NULL, lease_sent_at = NULL, refresh_interrupted_at = NULL
                WHERE id = ?
                """, arguments: [union.joined(separator: " "), at.millisecondsSince1970, id])
            try Self.writeCredential(db, grantID: id, try seal(id))
            try db.execute(sql: """
                INSERT INTO authorization_codes (hash, grant_id, client_id, redirect_uri, code_challenge, expires_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [code.hash, id, code.clientID, code.redirectURI, code.codeChallenge, code.expiresAt.millisecondsSince1970])
            var event = audit(old, union)
            event.grantID = id
            try Self.insertAudit(db, event, at: at)
            return id
        }
    }

    static func writeCredential(_ db: Database, grantID: Int64, _ c: SealedCredential) throws {
        try db.execute(sql: """
            UPDATE grants SET upstream_access = ?, upstream_refresh = ?, upstream_has_refresh = ?,
                upstream_access_expires_at = ?, upstream_refresh_expires_at = ?, upstream_scope = ?, upstream_obtained_at = ?
            WHERE id = ?
            """, arguments: [c.accessToken, c.refreshToken, c.refreshToken != nil,
                             c.info.accessExpiresAt?.millisecondsSince1970, c.info.refreshExpiresAt?.millisecondsSince1970,
                             c.info.scope, c.info.obtainedAt?.millisecondsSince1970, grantID])
    }

    public func grant(id: Int64) async throws -> Grant? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "\(Self.grantSelect) WHERE g.id = ?"), arguments: [id]).map(Self.grant)
        }
    }

    public func countGrants() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM grants") ?? 0 }
    }

    public func sealedCredential(grantID: Int64) async throws -> SealedCredential? {
        try await read { db in try Self.sealedCredential(db, grantID: grantID) }
    }

    static func sealedCredential(_ db: Database, grantID: Int64) throws -> SealedCredential? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT upstream_access, upstream_refresh, upstream_access_expires_at, upstream_refresh_expires_at,
                upstream_scope, version, upstream_obtained_at FROM grants WHERE id = ?
            """), arguments: [grantID]), let access = row[0] as Data? else { return nil }
        let refresh: Data? = row[1]
        return SealedCredential(accessToken: access, refreshToken: refresh,
                                info: UpstreamCredentialInfo(accessExpiresAt: Self.date(row[2]), hasRefreshToken: refresh != nil,
                                                             refreshExpiresAt: Self.date(row[3]), scope: row[4],
                                                             obtainedAt: Self.date(row[6])),
                                version: row[5])
    }

    /// The SQL condition selecting grants whose ``Grant/status(at:warningWindow:)`` is `status`.
    static func statusCondition(_ status: GrantStatus) -> String {
        let exp = "g.upstream_access_expires_at"
        let canRefresh = "(g.upstream_has_refresh = 1 AND coalesce(p.supports_refresh, 0) = 1)"
        let expired = "(\(exp) IS NOT NULL AND \(exp) <= :now)"
        // Every term is true or false, never NULL: `NOT soon` of a grant without a proxy token must be true.
        let soon = """
            ((\(exp) IS NOT NULL AND \(exp) <= :soon) OR (g.proxy_access_expires_at IS NOT NULL AND \
            g.proxy_access_expires_at > :now AND g.proxy_access_expires_at <= :soon))
            """
        switch status {
        case .revoked: return "g.state = 'revoked'"
        case .needsReauth: return "(g.state = 'needs-reauth' OR (g.state = 'active' AND \(expired) AND NOT \(canRefresh)))"
        case .expired: return "(g.state = 'active' AND \(expired) AND \(canRefresh))"
        case .expiring: return "(g.state = 'active' AND NOT \(expired) AND \(soon))"
        case .active: return "(g.state = 'active' AND NOT \(expired) AND NOT \(soon))"
        }
    }

    public func grants(_ q: GrantQuery, now: Date) async throws -> Page<Grant> {
        try await read { db in
            var (conditions, args) = try Self.grantConditions(q, now: now)
            let prefix = q.subjectPrefix.flatMap { $0.isEmpty ? nil : $0 }
            if let prefix { args["prefix"] = prefix; args["prefixEnd"] = prefix + "\u{10FFFF}" }
            let expiryKey = "coalesce(g.upstream_access_expires_at, 9223372036854775807)"
            // Backwards pages read the listing in reverse from the cursor (or the end), then flip.
            let backwards = q.readsBackwards
            let order: String
            switch (q.sort, backwards) {
            case (.newest, false), (.oldest, true): order = "g.id DESC"
            case (.newest, true), (.oldest, false): order = "g.id ASC"
            case (.upstreamExpiry, false): order = "\(expiryKey), g.id"
            case (.upstreamExpiry, true): order = "\(expiryKey) DESC, g.id DESC"
            }
            var idCondition: String?
            if let cursor = q.before ?? q.after {
                let ascending = (q.sort != .newest) != backwards
                switch q.sort {
                case .newest, .oldest:
                    guard let id = Int64(cursor) else { throw TollgateError.invalidInput("bad page cursor") }
                    idCondition = ascending ? "id > :cursorID" : "id < :cursorID"
                    conditions.append("g." + idCondition!)
                    args["cursorID"] = id
                case .upstreamExpiry:
                    let parts = cursor.split(separator: ":")
                    guard parts.count == 2, let key = Int64(parts[0]), let id = Int64(parts[1]) else {
                        throw TollgateError.invalidInput("bad page cursor")
                    }
                    let op = ascending ? ">" : "<"
                    conditions.append("(\(expiryKey) \(op) :cursorKey OR (\(expiryKey) = :cursorKey AND g.id \(op) :cursorID))")
                    args["cursorKey"] = key; args["cursorID"] = id
                }
            }
            let limit = max(1, min(q.limit, 10_000))
            args["limit"] = limit + 1
            /// The page's rows; `from` replaces `grants g` as the first table.
            func select(_ extra: [String], from: String? = nil) throws -> [Grant] {
                let all = conditions + extra
                let whereClause = all.isEmpty ? "" : "WHERE " + all.joined(separator: " AND ")
                let select = from.map { Self.grantSelect.replacingOccurrences(of: "FROM grants g", with: "FROM \($0)") } ?? Self.grantSelect
                let sql = "\(select) \(whereClause) ORDER BY \(order) LIMIT :limit"
                return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(args)).map(Self.grant)
            }
            // Unary `+` keeps the planner off the subject index: the rows come from the candidates or the order.
            let prefixRange = ["+g.subject >= :prefix", "+g.subject < :prefixEnd"]
            // 1. Few candidates (a rare prefix, a status almost nothing has): only their rows, checked and ordered.
            if let candidates = try Self.fewCandidates(db, q, now: now) {
                for (name, value) in candidates.arguments { args[name] = value }
                return q.page(from: try select(prefix == nil ? [] : prefixRange, from: Self.candidateTable(candidates.sql)), limit: limit)
            }
            guard prefix != nil else { return q.page(from: try select([]), limit: limit) }
            // 2. A prefix many grants share, nothing else filtering, in id order: walk the start of the order,
            //    else the page's ids from the covering subject index.
            if conditions.count == (idCondition == nil ? 0 : 1), q.sort != .upstreamExpiry {
                let direction = order.hasSuffix("DESC") ? "DESC" : "ASC"
                let ids = try Self.prefixPageIDs(db, direction: direction, idCondition: idCondition, arguments: args, page: limit + 1)
                let items = ids.isEmpty ? [] : try Row.fetchAll(db, sql: """
                    \(Self.grantSelect) WHERE g.id IN (\(ids.map(String.init).joined(separator: ","))) ORDER BY \(order)
                    """).map(Self.grant)
                return q.page(from: items, limit: limit)
            }
            // 3. Otherwise walk the listing order and stop after a page.
            return q.page(from: try select(prefixRange), limit: limit)
        }
    }

    /// The ids of a page of grants whose subject starts with `:prefix` (nothing else filtering), in id `direction`:
    /// the matches among the first ``GrantCandidates/prefixWalkLimit`` grants of the order when they fill the page
    /// (then every match before them is among them), else a top-k by id over the subject index's entries of the
    /// prefix (index only, no rows read).
    static func prefixPageIDs(_ db: Database, direction: String, idCondition: String?, arguments: [String: DatabaseValueConvertible?],
                              page: Int) throws -> [Int64] {
        var args = arguments
        args["page"] = page
        args["walk"] = GrantCandidates.prefixWalkLimit
        let cursor = idCondition.map { "WHERE \($0)" } ?? ""
        let walked = try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT id FROM (SELECT id, subject FROM grants \(cursor) ORDER BY id \(direction) LIMIT :walk)
            WHERE subject >= :prefix AND subject < :prefixEnd ORDER BY id \(direction) LIMIT :page
            """), arguments: StatementArguments(args))
        if walked.count >= page { return walked }
        let cursorAnd = idCondition.map { " AND \($0)" } ?? ""
        return try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT id FROM grants INDEXED BY grants_by_subject WHERE subject >= :prefix AND subject < :prefixEnd\(cursorAnd)
            ORDER BY id \(direction) LIMIT :page
            """), arguments: StatementArguments(args))
    }

    /// Counts the grants `query` selects (ignoring its sort and paging), stopping at `limit`: with a limit the
    /// cost is bounded by the rows it takes to find that many ("10,000+" is cheap where an exact count of a
    /// million filtered grants is not). Few candidates are counted exactly; a subject prefix through the subject index.
    public func countGrants(_ query: GrantQuery, upTo limit: Int, now: Date) async throws -> Int {
        try await read { db in
            var (conditions, args) = try Self.grantConditions(query, now: now)
            var from = "grants g"
            if let prefix = query.subjectPrefix, !prefix.isEmpty {
                from = "grants g INDEXED BY grants_by_subject"
                conditions += ["g.subject >= :prefix", "g.subject < :prefixEnd"]
                args["prefix"] = prefix
                args["prefixEnd"] = prefix + "\u{10FFFF}"
            }
            if conditions.isEmpty {
                return min(limit, try Int.fetchOne(db, sql: "SELECT count(*) FROM grants") ?? 0)
            }
            if let candidates = try Self.fewCandidates(db, query, now: now) {
                from = Self.candidateTable(candidates.sql)
                for (name, value) in candidates.arguments { args[name] = value }
            }
            args["limit"] = max(0, limit)
            let sql = """
                SELECT count(*) FROM (SELECT 1 FROM \(from) LEFT JOIN providers p ON p.server_id = g.server_id
                WHERE \(conditions.joined(separator: " AND ")) LIMIT :limit)
                """
            return try Int.fetchOne(db.cachedStatement(sql: sql), arguments: StatementArguments(args)) ?? 0
        }
    }

    /// The filter conditions of a listing (server, client, subject, status), without paging or prefix.
    static func grantConditions(_ q: GrantQuery, now: Date) throws -> ([String], [String: DatabaseValueConvertible?]) {
        var conditions: [String] = []
        var args: [String: DatabaseValueConvertible?] = [:]
        if let slug = q.serverSlug {
            conditions.append("g.server_id = (SELECT id FROM servers WHERE slug = :slug)")
            args["slug"] = slug
        }
        if let client = q.clientID { conditions.append("g.client_id = :client"); args["client"] = client }
        if let subject = q.subject { conditions.append("g.subject = :subject"); args["subject"] = subject }
        if let status = q.status {
            conditions.append(Self.statusCondition(status))
            args["now"] = now.millisecondsSince1970
            args["soon"] = now.addingTimeInterval(Grant.defaultWarningWindow).millisecondsSince1970
        }
        return (conditions, args)
    }

    /// `grants g` driven by the candidate ids of `candidates` (a `SELECT id` statement): CROSS JOIN keeps SQLite from
    /// walking the whole table in the listing's order and probing each row against the candidates instead.
    static func candidateTable(_ candidates: String) -> String {
        "(\(candidates)) AS candidates CROSS JOIN grants g ON g.id = candidates.id"
    }

    /// A statement of grant ids holding every grant the query's subject prefix or status selects, when an index
    /// count (each range stopping after ``GrantCandidates/candidateLimit``) says it has no more than that many
    /// ids; the smaller of the two when both do. `nil` when neither filter is set or both are bigger.
    static func fewCandidates(_ db: Database, _ q: GrantQuery, now: Date) throws -> (sql: String, arguments: [String: DatabaseValueConvertible?])? {
        /// The index ranges whose ids together hold a filter's grants, and their values.
        typealias Source = (arms: [String], arguments: [String: DatabaseValueConvertible?])
        var sources: [Source] = []
        if let prefix = q.subjectPrefix, !prefix.isEmpty {
            sources.append((["SELECT id FROM grants INDEXED BY grants_by_subject WHERE subject >= :cp AND subject < :cpEnd"],
                            ["cp": prefix, "cpEnd": prefix + "\u{10FFFF}"]))
        }
        if let status = q.status {
            var source: Source = ([], [:])
            for range in status.candidateRanges(now: now) {
                let index = switch range.column {
                case nil: "grants_by_state"
                case .upstreamAccessExpiry: "grants_by_state_upstream_expiry"
                case .proxyAccessExpiry: "grants_by_state_proxy_expiry"
                }
                let terms = range.conditions { value in
                    let name = "c\(source.arguments.count)"
                    source.arguments[name] = value
                    return ":" + name
                }
                source.arms.append("SELECT id FROM grants INDEXED BY \(index) WHERE " + terms.joined(separator: " AND "))
            }
            sources.append(source)
        }
        var best: (size: Int, source: Source)?
        for source in sources {
            var probe = source.arguments
            probe["probe"] = GrantCandidates.candidateLimit + 1
            // Each range counted on its own, index only: their sum bounds the union.
            var size = 0
            for arm in source.arms where size <= GrantCandidates.candidateLimit {
                size += try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM (\(arm) LIMIT :probe)"),
                                         arguments: StatementArguments(probe)) ?? 0
            }
            if size <= GrantCandidates.candidateLimit, size < (best?.size ?? Int.max) { best = (size, source) }
        }
        return best.map { ($0.source.arms.joined(separator: " UNION "), $0.source.arguments) }
    }

    public func revokeGrant(id: Int64, audit: NewAuditEvent, at: Date) async throws -> Bool {
        try await write { db in
            let ms = at.millisecondsSince1970
            try db.execute(sql: """
                UPDATE grants SET state = 'revoked', revoked_at = ?, updated_at = ?, version = version + 1,
                    proxy_access_expires_at = NULL
                WHERE id = ? AND state != 'revoked'
                """, arguments: [ms, ms, id])
            let changed = db.changesCount > 0
            if !changed, try Bool.fetchOne(db, sql: "SELECT 1 FROM grants WHERE id = ?", arguments: [id]) != true {
                throw TollgateError.notFound("no grant \(id)")
            }
            try db.execute(sql: "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL", arguments: [ms, id])
            try db.execute(sql: "DELETE FROM authorization_codes WHERE grant_id = ? AND used_at IS NULL", arguments: [id])
            if changed { try Self.insertAudit(db, audit, at: at) }
            return changed
        }
    }

    // MARK: - Codes and tokens

    public func authorizationCode(hash: Data) async throws -> AuthorizationCodeRecord? {
        try await read { db in try Self.authorizationCode(db, hash: hash) }
    }

    static func authorizationCode(_ db: Database, hash: Data) throws -> AuthorizationCodeRecord? {
        try Row.fetchOne(db, sql: """
            SELECT hash, grant_id, client_id, redirect_uri, code_challenge, expires_at, used_at
            FROM authorization_codes WHERE hash = ?
            """, arguments: [hash]).map { row in
            AuthorizationCodeRecord(hash: row[0], grantID: row[1], clientID: row[2], redirectURI: row[3],
                                    codeChallenge: row[4], expiresAt: Date(millisecondsSince1970: row[5]), usedAt: Self.date(row[6]))
        }
    }

    public func redeemCode(hash: Data, at: Date) async throws -> CodeRedemption {
        try await write { db in
            guard let record = try Self.authorizationCode(db, hash: hash) else { return .notFound }
            if record.usedAt != nil { return .replayed(record) }
            try db.execute(sql: "UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL",
                           arguments: [at.millisecondsSince1970, hash])
            return db.changesCount == 1 ? .redeemed(record) : .replayed(record)
        }
    }

    static func insert(_ db: Database, tokens: [NewToken], grantID: Int64, clientID: String, at: Date) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO tokens (hash, grant_id, kind, client_id, issued_at, expires_at, scopes) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for t in tokens {
            try statement.execute(arguments: [t.hash, grantID, t.kind.rawValue, clientID, at.millisecondsSince1970, t.expiresAt.millisecondsSince1970,
                                              t.scopes.map { $0.joined(separator: " ") }])
        }
        if let access = tokens.first(where: { $0.kind == .access }) {
            try db.execute(sql: "UPDATE grants SET proxy_access_expires_at = ?, updated_at = ? WHERE id = ?",
                           arguments: [access.expiresAt.millisecondsSince1970, at.millisecondsSince1970, grantID])
        }
    }

    public func insertTokens(grantID: Int64, clientID: String, _ tokens: [NewToken], at: Date) async throws {
        try await write { db in try Self.insert(db, tokens: tokens, grantID: grantID, clientID: clientID, at: at) }
    }

    public func token(hash: Data) async throws -> TokenRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: """
                SELECT hash, grant_id, kind, client_id, issued_at, expires_at, revoked_at, rotated_at, replaced_by, scopes
                FROM tokens WHERE hash = ?
                """), arguments: [hash]).map { row in
                TokenRecord(hash: row[0], grantID: row[1], kind: TokenKind(rawValue: row[2]) ?? .access, clientID: row[3],
                            issuedAt: Date(millisecondsSince1970: row[4]), expiresAt: Date(millisecondsSince1970: row[5]),
                            revokedAt: Self.date(row[6]), rotatedAt: Self.date(row[7]), replacedBy: row[8],
                            scopes: TokenRecord.scopes(stored: row[9]))
            }
        }
    }

    public func rotateRefreshToken(old: Data, replacement: Data, newTokens: [NewToken], grantID: Int64,
                                   clientID: String, at: Date, pruningBefore: Date?) async throws -> Bool {
        try await write { db in
            let ms = at.millisecondsSince1970
            try db.execute(sql: """
                UPDATE tokens SET rotated_at = ?, replaced_by = ?
                WHERE hash = ? AND rotated_at IS NULL AND revoked_at IS NULL
                """, arguments: [ms, replacement, old])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND kind = 'access' AND revoked_at IS NULL",
                           arguments: [ms, grantID])
            if let pruningBefore {
                // The grant's rows only (tokens_by_grant): refresh tokens rotated and access tokens revoked before the cutoff.
                try db.execute(sql: """
                    DELETE FROM tokens WHERE grant_id = ?
                        AND ((kind = 'refresh' AND rotated_at < ?) OR (kind = 'access' AND revoked_at < ?))
                    """, arguments: [grantID, pruningBefore.millisecondsSince1970, pruningBefore.millisecondsSince1970])
            }
            try Self.insert(db, tokens: newTokens, grantID: grantID, clientID: clientID, at: at)
            return true
        }
    }

    public func revokeToken(hash: Data, at: Date) async throws {
        try await write { db in
            let ms = at.millisecondsSince1970
            try db.execute(sql: "UPDATE tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL", arguments: [ms, hash])
            // A refresh token takes the access tokens of its grant with it.
            try db.execute(sql: """
                UPDATE tokens SET revoked_at = ?
                WHERE kind = 'access' AND revoked_at IS NULL
                    AND grant_id = (SELECT grant_id FROM tokens WHERE hash = ? AND kind = 'refresh')
                """, arguments: [ms, hash])
        }
    }

    /// The validation query: a token with its grant (one primary-key lookup per table).
    static let tokenContextSQL = grantSelect.replacingOccurrences(of: "FROM grants g", with: """
        , t.kind, t.client_id, t.issued_at, t.expires_at, t.revoked_at, t.rotated_at, t.replaced_by,
            g.upstream_access, g.upstream_refresh, s.upstream_mcp_url, s.policy, t.scopes
        FROM tokens t JOIN grants g ON g.id = t.grant_id
        """) + " WHERE t.hash = ?"

    /// The hot path of every validation: one statement on a raw connection of ``TokenLookupPool``.
    public func tokenContext(hash: Data) async throws -> TokenContext? {
        try tokenLookups.lookup(hash)
    }

    /// Decodes a row of ``tokenContextSQL``.
    static func tokenContext(_ c: some ColumnSource, hash: Data) throws -> TokenContext {
        let grant = Self.grant(c)
        let n = Int32(Self.grantColumnCount)
        let token = TokenRecord(hash: hash, grantID: grant.id, kind: TokenKind(rawValue: c.string(n)) ?? .access,
                                clientID: c.string(n + 1), issuedAt: Date(millisecondsSince1970: c.int(n + 2)),
                                expiresAt: Date(millisecondsSince1970: c.int(n + 3)), revokedAt: c.date(n + 4),
                                rotatedAt: c.date(n + 5), replacedBy: c.blob(n + 6), scopes: TokenRecord.scopes(stored: c.text(n + 11)))
        let sealed = c.blob(n + 7).map {
            SealedCredential(accessToken: $0, refreshToken: c.blob(n + 8), info: grant.upstream, version: grant.version)
        }
        return TokenContext(token: token, grant: grant, sealed: sealed, upstreamMCPURL: c.string(n + 9),
                            scopeRules: try ScopeRules.stored(inPolicyJSON: c.string(n + 10)))
    }

    // MARK: - Refresh lease

    public func acquireRefreshLease(grantID: Int64, owner: String, until: Date, now: Date,
                                    replacing staleOwner: String?) async throws -> RefreshLeaseAcquisition? {
        try await write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT lease_owner, lease_until, lease_sent_at, refresh_interrupted_at FROM grants WHERE id = ?
                """), arguments: [grantID]) else { return nil }
            let holder: String? = row[0]
            let heldUntil: Int64? = row[1]
            let free = holder == nil || holder == owner || holder == staleOwner || (heldUntil ?? 0) < now.millisecondsSince1970
            guard free else { return nil }
            // A holder that sent its upstream call and never finished (released or wrote a result) was interrupted.
            let sentAt: Int64? = row[2]
            let interrupted: Int64? = (holder != nil && holder != owner ? sentAt : nil) ?? row[3]
            try db.execute(sql: """
                UPDATE grants SET lease_owner = ?, lease_until = ?, lease_sent_at = ?, refresh_interrupted_at = ? WHERE id = ?
                """, arguments: [owner, until.millisecondsSince1970, now.millisecondsSince1970, interrupted, grantID])
            // What the refresh needs, read in this write transaction: no other writer comes between.
            guard let grant = try Row.fetchOne(db.cachedStatement(sql: "\(Self.grantSelect) WHERE g.id = ?"),
                                               arguments: [grantID]).map(Self.grant) else {
                throw TollgateError(.damaged, "grant \(grantID) has no server or client")
            }
            let provider = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT \(Self.providerColumns), client_secret FROM providers WHERE server_id = ?
                """), arguments: [grant.serverID])
            return RefreshLeaseAcquisition(interruptedAttemptAt: Self.date(interrupted), grant: grant,
                                           sealedCredential: try Self.sealedCredential(db, grantID: grantID),
                                           provider: provider.map(Self.provider), sealedProviderSecret: provider.flatMap { $0[17] as Data? })
        }
    }

    public func renewRefreshLease(grantID: Int64, owner: String, until: Date, now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE grants SET lease_until = ? WHERE id = ? AND lease_owner = ?",
                           arguments: [until.millisecondsSince1970, grantID, owner])
            return db.changesCount == 1
        }
    }

    public func releaseRefreshLease(grantID: Int64, owner: String) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE grants SET lease_owner = NULL, lease_until = NULL, lease_sent_at = NULL WHERE id = ? AND lease_owner = ?",
                           arguments: [grantID, owner])
        }
    }

    public func refreshLease(grantID: Int64) async throws -> RefreshLeaseState? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT lease_owner, lease_until, version FROM grants WHERE id = ?"),
                             arguments: [grantID]).map {
                RefreshLeaseState(owner: $0[0], until: Self.date($0[1]), version: $0[2])
            }
        }
    }

    public func finishRefresh(grantID: Int64, owner: String, expectedVersion: Int64, result: RefreshWrite,
                              audit: NewAuditEvent, at: Date) async throws -> Bool {
        try await write { db in
            let ms = at.millisecondsSince1970
            var extra = ""
            var extraArgs: [DatabaseValueConvertible?] = []
            var condition = "AND lease_owner = ? AND version = ?"
            var conditionArgs: [DatabaseValueConvertible?] = [owner, expectedVersion]
            switch result {
            case .refreshed(_, let replacingObtainedAt):
                // New upstream tokens are the only copy of what the upstream issued: stored whoever holds the lease,
                // unless the credential they refresh was replaced meanwhile (a re-authorization's is newer).
                extra = """
                    , refresh_failures = 0, refresh_not_before = NULL, refresh_interrupted_at = NULL,
                    state = 'active', state_reason = NULL
                    """
                condition = "AND state <> 'revoked' AND upstream_obtained_at IS ?"
                conditionArgs = [replacingObtainedAt?.millisecondsSince1970]
            case .needsReauth(let reason):
                extra = """
                    , refresh_interrupted_at = NULL,
                    state_reason = CASE WHEN state = 'revoked' THEN state_reason ELSE ? END,
                    state = CASE WHEN state = 'revoked' THEN state ELSE 'needs-reauth' END
                    """
                extraArgs = [reason]
            case .providerMisconfigured(let notBefore):
                extra = ", refresh_failures = refresh_failures + 1, refresh_not_before = ?"
                extraArgs = [notBefore?.millisecondsSince1970]
            case .transient(let notBefore, let answerLost):
                extra = ", refresh_failures = refresh_failures + 1, refresh_not_before = ?"
                extraArgs = [notBefore.millisecondsSince1970]
                if answerLost {
                    // Evaluated before this statement's own SET clears lease_sent_at.
                    extra += ", refresh_interrupted_at = coalesce(lease_sent_at, ?)"
                    extraArgs.append(ms)
                }
            }
            // The lease is released only if it is this holder's; another holder's lease stays with it.
            try db.execute(sql: """
                UPDATE grants SET version = version + 1,
                    lease_sent_at = CASE WHEN lease_owner = ? THEN NULL ELSE lease_sent_at END,
                    lease_until = CASE WHEN lease_owner = ? THEN NULL ELSE lease_until END,
                    lease_owner = CASE WHEN lease_owner = ? THEN NULL ELSE lease_owner END,
                    last_refresh_at = ?, last_refresh_outcome = ?, updated_at = ?\(extra)
                WHERE id = ? \(condition)
                """, arguments: StatementArguments([owner, owner, owner, ms, result.outcome.rawValue, ms] + extraArgs + [grantID] + conditionArgs))
            guard db.changesCount == 1 else { return false }
            if case .refreshed(let sealed, _) = result {
                try Self.writeCredential(db, grantID: grantID, sealed)
            }
            try Self.insertAudit(db, audit, at: at)
            return true
        }
    }
}
