import Foundation
import PostgresNIO
import TollgateCore

// Keys, servers, providers, clients and introspection credentials: what an admin configures.
extension PostgresStore {
    // MARK: - Keys

    /// The stored wrapped data-encryption keys, oldest first (the newest is the active one).
    public func encryptionKeys() async throws -> [StoredKey] {
        try await rows("SELECT id, wrapped, created_at FROM encryption_keys ORDER BY id").map {
            StoredKey(id: UInt32(truncatingIfNeeded: try $0.int(0)), wrapped: try $0.data(1), createdAt: try $0.date(2))
        }
    }

    /// Adds a wrapped data key (the active one from now on) and writes `audit`, in one transaction;
    /// `.conflict` when key `id` exists.
    public func addEncryptionKey(id: UInt32, wrapped: Data, audit: NewAuditEvent?, at: Date) async throws {
        try await transaction { [self] db in
            let inserted = try await db.run(try """
                INSERT INTO encryption_keys (id, wrapped, created_at) VALUES (\(Int64(id)), \(wrapped), \(at.millisecondsSince1970))
                ON CONFLICT (id) DO NOTHING RETURNING 1
                """, logger: queryLogger)
            guard inserted == 1 else { throw TollgateError.conflict("encryption key \(id) already exists") }
            if let audit { try await insertAudit(db, audit, at: at) }
        }
    }

    /// The sealed fields ``resealBatch(after:limit:_:)`` walks, in order: table, key column, sealed columns.
    private static let sealedFields: [(table: String, key: String, columns: [String])] = [
        ("providers", "id", ["client_secret"]),
        ("grants", "id", ["upstream_access", "upstream_refresh"]),
        ("pending_authorizations", "state_hash", ["upstream_verifier"]),
    ]

    /// Re-seals up to `limit` rows of one sealed field after `cursor`, each value replaced only if it is
    /// still the one read (compare-and-set), in one short transaction.
    public func resealBatch(after cursor: ResealCursor?, limit: Int,
                            _ reseal: @escaping @Sendable (Data, SealContext) throws -> Data?) async throws -> ResealBatch {
        let fieldIndex = cursor?.field ?? 0
        guard Self.sealedFields.indices.contains(fieldIndex) else { throw TollgateError.invalidInput("bad re-seal cursor") }
        let field = Self.sealedFields[fieldIndex]
        let limit = max(1, limit)
        let keyIsHash = field.key == "state_hash"
        var after: Data? = nil
        var afterID: Int64 = 0
        if let text = cursor?.after, !text.isEmpty {
            if keyIsHash {
                guard let hash = Data(base64URLEncoded: text) else { throw TollgateError.invalidInput("bad re-seal cursor") }
                after = hash
            } else {
                guard let id = Int64(text) else { throw TollgateError.invalidInput("bad re-seal cursor") }
                afterID = id
            }
        }
        let afterHash = after, afterRowID = afterID
        return try await transaction { db in
            var sql = SQLBuilder()
            let anySealed = field.columns.map { "\($0) IS NOT NULL" }.joined(separator: " OR ")
            let position = keyIsHash ? (afterHash == nil ? "TRUE" : "\(field.key) > \(try sql.bind(afterHash))")
                                     : "\(field.key) > \(try sql.bind(afterRowID))"
            sql.text = """
                SELECT \(field.key), \(field.columns.joined(separator: ", ")) FROM \(field.table)
                WHERE (\(anySealed)) AND \(position) ORDER BY \(field.key) LIMIT \(try sql.bind(limit))
                """
            let rows = try await db.rows(sql.query, logger: queryLogger)
            var resealed = 0
            var lastKey = cursor?.after ?? ""
            for row in rows {
                let rowName: String
                var update = SQLBuilder()
                let keyPlaceholder: String
                if keyIsHash {
                    let hash = try row.data(0)
                    rowName = hash.base64URLEncodedString()
                    keyPlaceholder = try update.bind(hash)
                } else {
                    let id = try row.int(0)
                    rowName = String(id)
                    keyPlaceholder = try update.bind(id)
                }
                lastKey = rowName
                for (offset, column) in field.columns.enumerated() {
                    guard let old = try row.optionalData(offset + 1) else { continue }
                    guard let new = try reseal(old, SealContext(table: field.table, row: rowName, field: column)) else { continue }
                    var statement = SQLBuilder()
                    statement.bindings = update.bindings
                    statement.text = """
                        UPDATE \(field.table) SET \(column) = \(try statement.bind(new))
                        WHERE \(field.key) = \(keyPlaceholder) AND \(column) = \(try statement.bind(old)) RETURNING 1
                        """
                    resealed += try await db.run(statement.query, logger: queryLogger)
                }
            }
            let next: ResealCursor?
            if rows.count == limit {
                next = ResealCursor(field: fieldIndex, after: lastKey)
            } else {
                next = fieldIndex + 1 < Self.sealedFields.count ? ResealCursor(field: fieldIndex + 1, after: "") : nil
            }
            return ResealBatch(resealed: resealed, next: next)
        }
    }

    // MARK: - Servers

    static let serverColumns = "id, slug, name, upstream_mcp_url, scopes, access_ttl, refresh_idle_ttl, refresh_absolute_ttl, created_at, policy"

    static func server(_ row: PostgresRandomAccessRow) throws -> Server {
        Server(id: try row.int(0), slug: try row.string(1), name: try row.string(2), upstreamMCPURL: try row.string(3),
               scopes: splitScopes(try row.string(4)), accessTokenTTL: TimeInterval(try row.int(5)),
               refreshTokenIdleTTL: TimeInterval(try row.int(6)), refreshTokenAbsoluteTTL: TimeInterval(try row.int(7)),
               createdAt: try row.date(8), policy: try ServerPolicy(json: try row.string(9)))
    }

    /// Creates a server and writes `audit` (its `serverID` set), in one transaction; `.conflict` when the slug is taken.
    public func createServer(_ new: NewServer, audit: NewAuditEvent, at: Date) async throws -> Server {
        try await transaction { [self] db in
            guard let row = try await db.rows("""
                INSERT INTO servers (slug, name, upstream_mcp_url, scopes, access_ttl, refresh_idle_ttl, refresh_absolute_ttl, created_at, policy)
                VALUES (\(new.slug), \(new.name), \(new.upstreamMCPURL), \(new.scopes.joined(separator: " ")),
                        \(Int64(new.accessTokenTTL)), \(Int64(new.refreshTokenIdleTTL)), \(Int64(new.refreshTokenAbsoluteTTL)),
                        \(at.millisecondsSince1970), \(new.policy.json))
                ON CONFLICT (slug) DO NOTHING
                RETURNING \(unescaped: Self.serverColumns)
                """, logger: queryLogger).first else {
                throw TollgateError.conflict("a server with slug '\(new.slug)' already exists")
            }
            let server = try Self.server(row)
            var audit = audit
            audit.serverID = server.id
            try await insertAudit(db, audit, at: at)
            return server
        }
    }

    /// A server by slug; `nil` if unknown.
    public func server(slug: String) async throws -> Server? {
        try await rows("SELECT \(unescaped: Self.serverColumns) FROM servers WHERE slug = \(slug)").first.map(Self.server)
    }

    /// A server by id; `nil` if unknown.
    public func server(id: Int64) async throws -> Server? {
        try await rows("SELECT \(unescaped: Self.serverColumns) FROM servers WHERE id = \(id)").first.map(Self.server)
    }

    /// Every server, by slug.
    public func servers() async throws -> [Server] {
        try await rows("SELECT \(unescaped: Self.serverColumns) FROM servers ORDER BY slug").map(Self.server)
    }

    /// Replaces the policy of the server `slug` and writes `audit`, in one transaction; `.notFound` for an unknown slug.
    public func setServerPolicy(slug: String, _ policy: ServerPolicy, audit: NewAuditEvent, at: Date) async throws -> Server {
        try await transaction { [self] db in
            guard let row = try await db.rows("""
                UPDATE servers SET policy = \(policy.json) WHERE slug = \(slug) RETURNING \(unescaped: Self.serverColumns)
                """, logger: queryLogger).first else {
                throw TollgateError.notFound("no server with slug '\(slug)'")
            }
            let server = try Self.server(row)
            var audit = audit
            audit.serverID = server.id
            try await insertAudit(db, audit, at: at)
            return server
        }
    }

    /// Removes a server with everything of it and writes `audit(grantsRemoved)`, in one transaction.
    public func removeServer(slug: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int {
        try await transaction { [self] db in
            guard let id = try await db.rows("SELECT id FROM servers WHERE slug = \(slug) FOR UPDATE", logger: queryLogger)
                .first.map({ try $0.int(0) }) else {
                throw TollgateError.notFound("no server with slug '\(slug)'")
            }
            let grants = try await db.rows("SELECT count(*) FROM grants WHERE server_id = \(id)", logger: queryLogger)
                .first.map { try $0.int(0) } ?? 0
            try await db.run("DELETE FROM servers WHERE id = \(id)", logger: queryLogger)
            try await insertAudit(db, audit(Int(grants)), at: at)
            return Int(grants)
        }
    }

    // MARK: - Providers

    static let providerColumns = """
        id, server_id, kind, issuer, authorization_endpoint, token_endpoint, revocation_endpoint, userinfo_endpoint,
        client_id, client_secret IS NOT NULL, auth_method, scopes, authorize_params, supports_refresh, last_error,
        last_error_at, created_at
        """
    /// ``providerColumns`` of a query that joins providers as `p`.
    static let joinedProviderColumns = providerColumns.split(separator: ",")
        .map { "p." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")

    /// Decodes the columns of ``providerColumns``.
    static func provider(_ row: PostgresRandomAccessRow) throws -> Provider { try provider(row, from: 0) }

    /// Decodes the columns of ``providerColumns`` starting at column `first` (of a query that joins providers).
    static func provider(_ row: PostgresRandomAccessRow, from first: Int) throws -> Provider {
        let params = (try? JSONDecoder().decode([AuthorizeParam].self, from: Data(try row.string(first + 12).utf8))) ?? []
        return Provider(
            id: try row.int(first), serverID: try row.int(first + 1), kind: ProviderKind(rawValue: try row.string(first + 2)) ?? .oauth2,
            issuer: try row.optionalString(first + 3), authorizationEndpoint: try row.string(first + 4), tokenEndpoint: try row.string(first + 5),
            revocationEndpoint: try row.optionalString(first + 6), userinfoEndpoint: try row.optionalString(first + 7),
            clientID: try row.string(first + 8), hasClientSecret: try row.bool(first + 9),
            authMethod: ClientAuthMethod(rawValue: try row.string(first + 10)) ?? .clientSecretBasic,
            scopes: splitScopes(try row.string(first + 11)), authorizeParams: params, supportsRefresh: try row.bool(first + 13),
            lastError: try row.optionalString(first + 14), lastErrorAt: try row.optionalDate(first + 15), createdAt: try row.date(first + 16))
    }

    /// Adds the provider of a server, its secret sealed by `seal(providerID)`, and writes `audit`, in one
    /// transaction; `.conflict` when the server already has one.
    public func createProvider(serverID: Int64, _ new: NewProvider, resolved: ResolvedEndpoints,
                               seal: @escaping @Sendable (Int64) throws -> Data?, audit: NewAuditEvent, at: Date) async throws -> Provider {
        let params = String(decoding: try JSONEncoder().encode(new.authorizeParams), as: UTF8.self)
        return try await transaction { [self] db in
            guard let id = try await db.rows("""
                INSERT INTO providers (server_id, kind, issuer, authorization_endpoint, token_endpoint, revocation_endpoint,
                    userinfo_endpoint, client_id, auth_method, scopes, authorize_params, supports_refresh, created_at)
                VALUES (\(serverID), \(new.kind.rawValue), \(resolved.issuer), \(resolved.authorizationEndpoint),
                        \(resolved.tokenEndpoint), \(resolved.revocationEndpoint), \(resolved.userinfoEndpoint),
                        \(new.clientID), \(new.authMethod.rawValue), \(new.scopes.joined(separator: " ")), \(params),
                        \(resolved.supportsRefresh), \(at.millisecondsSince1970))
                ON CONFLICT (server_id) DO NOTHING RETURNING id
                """, logger: queryLogger).first.map({ try $0.int(0) }) else {
                let slug = try await db.rows("SELECT slug FROM servers WHERE id = \(serverID)", logger: queryLogger)
                    .first.map { try $0.string(0) } ?? "?"
                throw TollgateError.conflict("server '\(slug)' already has a provider; a server has exactly one (remove the server to start over)")
            }
            if let sealed = try seal(id) {
                try await db.run(try "UPDATE providers SET client_secret = \(sealed) WHERE id = \(id)", logger: queryLogger)
            }
            try await insertAudit(db, audit, at: at)
            guard let row = try await db.rows("SELECT \(unescaped: Self.providerColumns) FROM providers WHERE id = \(id)",
                                              logger: queryLogger).first else {
                throw TollgateError(.damaged, "the provider just added is missing")
            }
            return try Self.provider(row)
        }
    }

    /// Changes a provider's client credentials and scopes in place (see the store contract).
    public func updateProvider(id: Int64, clientID: String, sealedSecret: Data?, scopes: [String], audit: NewAuditEvent,
                               at: Date) async throws -> Provider {
        try await transaction { [self] db in
            guard let row = try await db.rows(try """
                UPDATE providers SET client_id = \(clientID), client_secret = coalesce(\(sealedSecret)::BYTEA, client_secret),
                    scopes = \(scopes.joined(separator: " ")), last_error = NULL, last_error_at = NULL
                WHERE id = \(id) RETURNING \(unescaped: Self.providerColumns)
                """, logger: queryLogger).first else {
                throw TollgateError(.notFound, "no provider \(id)")
            }
            try await insertAudit(db, audit, at: at)
            return try Self.provider(row)
        }
    }

    /// Deletes a provider (see the store contract).
    public func deleteProvider(id: Int64, audit: NewAuditEvent, at: Date) async throws {
        try await transaction { [self] db in
            guard try await db.run("DELETE FROM providers WHERE id = \(id) RETURNING 1", logger: queryLogger) == 1 else {
                throw TollgateError(.notFound, "no provider \(id)")
            }
            try await insertAudit(db, audit, at: at)
        }
    }

    /// The provider of a server; `nil` if it has none yet.
    public func provider(serverID: Int64) async throws -> Provider? {
        try await rows("SELECT \(unescaped: Self.providerColumns) FROM providers WHERE server_id = \(serverID)").first.map(Self.provider)
    }

    /// Every provider, by server.
    public func providers() async throws -> [Provider] {
        try await rows("SELECT \(unescaped: Self.providerColumns) FROM providers ORDER BY server_id").map(Self.provider)
    }

    /// The sealed client secret of a provider, if it has one.
    public func sealedProviderSecret(providerID: Int64) async throws -> Data? {
        try await rows("SELECT client_secret FROM providers WHERE id = \(providerID)").first.flatMap { try $0.optionalData(0) }
    }

    /// Records (or clears, with `nil`) the provider's last configuration error.
    public func setProviderError(providerID: Int64, _ message: String?, at: Date) async throws {
        try await transaction { db in
            try await db.run("""
                UPDATE providers SET last_error = \(message), last_error_at = \(message == nil ? nil : at.millisecondsSince1970)
                WHERE id = \(providerID)
                """, logger: queryLogger)
        }
    }

    // MARK: - Clients

    static let clientColumns = """
        id, server_id, name, redirect_uris, auth_method, grant_types, registered_by, created_at, revoked_at,
        document_url, document_fetched_at, document_error, document_error_at
        """

    static func client(_ row: PostgresRandomAccessRow) throws -> Client {
        let uris = (try? JSONDecoder().decode([String].self, from: Data(try row.string(3).utf8))) ?? []
        let document = try row.optionalString(9).map { url in
            MetadataDocumentState(url: url, lastFetchedAt: try row.optionalDate(10), lastError: try row.optionalString(11),
                                  lastErrorAt: try row.optionalDate(12))
        }
        return Client(id: try row.string(0), serverID: try row.int(1), name: try row.string(2), redirectURIs: uris,
                      authMethod: ClientAuthMethod(rawValue: try row.string(4)) ?? .none, grantTypes: splitScopes(try row.string(5)),
                      registeredBy: try row.string(6), createdAt: try row.date(7), revokedAt: try row.optionalDate(8),
                      metadataDocument: document)
    }

    /// Creates or updates a metadata-document client's row from an accepted fetch; `audit` only on creation.
    public func saveMetadataDocumentClient(_ client: Client, audit: NewAuditEvent, at: Date) async throws -> Client {
        let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
        let ms = at.millisecondsSince1970
        return try await transaction { [self] db in
            // xmax = 0 only for a row this statement inserted (an updated row carries the updating transaction's id).
            guard let row = try await db.rows("""
                INSERT INTO clients (id, server_id, name, redirect_uris, auth_method, grant_types, registered_by, created_at,
                    document_url, document_fetched_at)
                VALUES (\(client.id), \(client.serverID), \(client.name), \(uris), \(client.authMethod.rawValue),
                        \(client.grantTypes.joined(separator: " ")), \(client.registeredBy), \(ms), \(client.metadataDocument?.url), \(ms))
                ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, redirect_uris = EXCLUDED.redirect_uris,
                    grant_types = EXCLUDED.grant_types, document_fetched_at = EXCLUDED.document_fetched_at
                    WHERE clients.document_url IS NOT NULL
                RETURNING \(unescaped: Self.clientColumns), (xmax = 0) AS inserted
                """, logger: queryLogger).first else {
                throw TollgateError.conflict("client '\(client.id)' exists and is not a metadata-document client")
            }
            if try row.bool(13) { try await insertAudit(db, audit, at: at) }
            return try Self.client(row)
        }
    }

    /// Records why the latest fetch of a metadata-document client's document failed.
    public func recordMetadataDocumentFailure(clientID: String, _ message: String, at: Date) async throws {
        try await transaction { db in
            try await db.run("""
                UPDATE clients SET document_error = \(message), document_error_at = \(at.millisecondsSince1970)
                WHERE id = \(clientID) AND document_url IS NOT NULL
                """, logger: queryLogger)
        }
    }

    /// Stores a client with the SHA-256 of its secret and writes `audit`, in one transaction; `.conflict` when the id is taken.
    public func createClient(_ client: Client, secretHash: Data?, audit: NewAuditEvent) async throws {
        let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
        try await transaction { [self] db in
            let inserted = try await db.run(try """
                INSERT INTO clients (id, server_id, name, redirect_uris, auth_method, grant_types, secret_hash, registered_by, created_at)
                VALUES (\(client.id), \(client.serverID), \(client.name), \(uris), \(client.authMethod.rawValue),
                        \(client.grantTypes.joined(separator: " ")), \(secretHash), \(client.registeredBy),
                        \(client.createdAt.millisecondsSince1970))
                ON CONFLICT (id) DO NOTHING RETURNING 1
                """, logger: queryLogger)
            guard inserted == 1 else { throw TollgateError.conflict("a client with id '\(client.id)' already exists") }
            try await insertAudit(db, audit, at: client.createdAt)
        }
    }

    /// A client by id, revoked or not; `nil` if unknown.
    public func client(id: String) async throws -> Client? {
        try await rows("SELECT \(unescaped: Self.clientColumns) FROM clients WHERE id = \(id)").first.map(Self.client)
    }

    /// The SHA-256 of a client's secret; `nil` for a public client or an unknown id.
    public func clientSecretHash(id: String) async throws -> Data? {
        try await rows("SELECT secret_hash FROM clients WHERE id = \(id)").first.flatMap { try $0.optionalData(0) }
    }

    /// One page of clients (of one server, or all), by id after the cursor `after`.
    public func clients(serverID: Int64?, limit: Int, after: String?) async throws -> Page<Client> {
        var sql = SQLBuilder("SELECT \(Self.clientColumns) FROM clients WHERE TRUE")
        if let serverID { sql.text += " AND server_id = \(try sql.bind(serverID))" }
        if let after { sql.text += " AND id > \(try sql.bind(after))" }
        sql.text += " ORDER BY id LIMIT \(try sql.bind(limit + 1))"
        var items = try await rows(sql.query).map(Self.client)
        var next: String?
        if items.count > limit { items.removeLast(); next = items.last?.id }
        return Page(items: items, nextCursor: next)
    }

    /// Marks a client revoked with all its grants and tokens and writes `audit(grantsRevoked)`, in one transaction.
    public func revokeClient(id: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int {
        let ms = at.millisecondsSince1970
        return try await transaction { [self] db in
            let found = try await db.run("""
                UPDATE clients SET revoked_at = coalesce(revoked_at, \(ms)) WHERE id = \(id) RETURNING 1
                """, logger: queryLogger)
            guard found == 1 else { throw TollgateError.notFound("no client '\(id)'") }
            try await db.run("UPDATE tokens SET revoked_at = \(ms) WHERE revoked_at IS NULL AND client_id = \(id)", logger: queryLogger)
            let revoked = try await db.run("""
                UPDATE grants SET state = 'revoked', revoked_at = \(ms), updated_at = \(ms), version = version + 1,
                    proxy_access_expires_at = NULL
                WHERE client_id = \(id) AND state <> 'revoked' RETURNING 1
                """, logger: queryLogger)
            try await insertAudit(db, audit(revoked), at: at)
            return revoked
        }
    }

    /// Deletes up to `limit` never-used dynamic and (unrevoked) metadata-document clients created before `cutoff`,
    /// writing `audit(count)` when any went.
    public func deleteUnusedClients(createdBefore cutoff: Date, limit: Int, now: Date,
                                    audit: @escaping @Sendable (Int) -> NewAuditEvent) async throws -> Int {
        guard limit > 0 else { return 0 }
        return try await transaction { [self] db in
            let deleted = try await db.run("""
                DELETE FROM clients WHERE id IN (
                    SELECT c.id FROM clients c
                    WHERE c.registered_by IN ('dynamic', 'metadata-document') AND (c.registered_by = 'dynamic' OR c.revoked_at IS NULL)
                      AND c.created_at < \(cutoff.millisecondsSince1970)
                      AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id)
                      AND NOT EXISTS (SELECT 1 FROM pending_authorizations p
                                      WHERE p.client_id = c.id AND p.expires_at > \(now.millisecondsSince1970))
                    ORDER BY c.created_at, c.id
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING 1
                """, logger: queryLogger)
            if deleted > 0 { try await insertAudit(db, audit(deleted), at: now) }
            return deleted
        }
    }

    // MARK: - Introspection credentials

    static let introspectionCredentialColumns = "id, server_id, name, created_at, revoked_at"

    static func introspectionCredential(_ row: PostgresRandomAccessRow) throws -> IntrospectionCredential {
        IntrospectionCredential(id: try row.string(0), serverID: try row.int(1), name: try row.string(2),
                                createdAt: try row.date(3), revokedAt: try row.optionalDate(4))
    }

    /// Stores a new introspection credential with the SHA-256 of its secret and writes `audit`, in one transaction.
    public func createIntrospectionCredential(_ credential: IntrospectionCredential, secretHash: Data,
                                              audit: NewAuditEvent) async throws {
        try await transaction { [self] db in
            try await db.run(try """
                INSERT INTO introspection_credentials (id, server_id, name, secret_hash, created_at, revoked_at)
                VALUES (\(credential.id), \(credential.serverID), \(credential.name), \(secretHash),
                        \(credential.createdAt.millisecondsSince1970), \(credential.revokedAt?.millisecondsSince1970))
                """, logger: queryLogger)
            try await insertAudit(db, audit, at: credential.createdAt)
        }
    }

    /// An introspection credential by id, revoked or not; `nil` if unknown.
    public func introspectionCredential(id: String) async throws -> IntrospectionCredential? {
        try await rows("""
            SELECT \(unescaped: Self.introspectionCredentialColumns) FROM introspection_credentials WHERE id = \(id)
            """).first.map(Self.introspectionCredential)
    }

    /// The SHA-256 of an introspection credential's secret; `nil` if unknown.
    public func introspectionCredentialSecretHash(id: String) async throws -> Data? {
        try await rows("SELECT secret_hash FROM introspection_credentials WHERE id = \(id)").first.map { try $0.data(0) }
    }

    /// The introspection credentials of a server, oldest first.
    public func introspectionCredentials(serverID: Int64) async throws -> [IntrospectionCredential] {
        try await rows("""
            SELECT \(unescaped: Self.introspectionCredentialColumns) FROM introspection_credentials
            WHERE server_id = \(serverID) ORDER BY created_at, id
            """).map(Self.introspectionCredential)
    }

    /// Marks an introspection credential revoked and writes `audit`, in one transaction; `false` (no audit) if it already was.
    public func revokeIntrospectionCredential(id: String, audit: NewAuditEvent, at: Date) async throws -> Bool {
        try await transaction { [self] db in
            guard let wasRevoked = try await db.rows("""
                SELECT revoked_at IS NOT NULL FROM introspection_credentials WHERE id = \(id) FOR UPDATE
                """, logger: queryLogger).first.map({ try $0.bool(0) }) else {
                throw TollgateError.notFound("no introspection credential '\(id)'")
            }
            if wasRevoked { return false }
            try await db.run("UPDATE introspection_credentials SET revoked_at = \(at.millisecondsSince1970) WHERE id = \(id)",
                             logger: queryLogger)
            try await insertAudit(db, audit, at: at)
            return true
        }
    }
}
