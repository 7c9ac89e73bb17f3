import Foundation
import GRDB
import TollgateCore

/// The embedded default store: one SQLite file in WAL mode, shared safely by several processes.
///
/// Foreign keys on, a busy timeout, every write in one transaction, numbered migrations, and the
/// database file created with mode 0600 (SQLite gives its `-wal` and `-shm` files the database's mode). A database
/// path that is a symbolic link is refused.
public final class SQLiteStore: TollgateStore, @unchecked Sendable {
    let pool: DatabasePool
    /// The path of the database file.
    public let path: String
    /// Raw connections for the validation hot path.
    let tokenLookups: TokenLookupPool

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    ///
    /// Throws a ``TollgateError`` with code `.damaged` for a file that is not a Tollgate database or was
    /// written by a newer version, and `.storeUnavailable` when it cannot be opened.
    public init(path: String, busyTimeout: TimeInterval = 10) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
        // Created here, 0600, never through a symbolic link (O_EXCL does not follow one; O_NOFOLLOW says so). A path
        // that is a link is refused: SQLite would follow it, and create a missing target with mode 0644.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd >= 0 { Glibc.close(fd) } else if errno != EEXIST {
            throw TollgateError(.storeUnavailable, "cannot create the database \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        if lstat(path, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFLNK) {
            throw TollgateError(.storeUnavailable, "the database \(path) is a symbolic link; Tollgate does not follow it (give the path of the file itself)")
        }
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.foreignKeysEnabled = true
        config.maximumReaderCount = 4
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw TollgateError(.damaged, "\(path) is not a SQLite database")
        } catch {
            throw TollgateError(.storeUnavailable, "cannot open the database \(path): \(Self.describe(error))")
        }
        tokenLookups = TokenLookupPool(path: path, sql: Self.tokenContextSQL, busyTimeout: busyTimeout)
        try migrate()
    }

    private func migrate() throws {
        let migrator = Self.migrator
        do {
            try pool.read { db in
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                let ours = Set(tables).contains("tollgate_meta")
                let foreign = tables.filter { $0 != "grdb_migrations" }
                if !ours && !foreign.isEmpty {
                    throw TollgateError(.damaged, "\(path) is not a Tollgate database (it has other tables)")
                }
                if try migrator.hasBeenSuperseded(db) {
                    throw TollgateError(.damaged, "\(path) was written by a newer Tollgate; upgrade this program")
                }
            }
            try migrator.migrate(pool)
        } catch let error as TollgateError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT {
            throw TollgateError(.damaged, "\(path) is not a valid SQLite database (\(error.resultCode))")
        } catch {
            throw TollgateError(.storeUnavailable, "cannot prepare the database \(path): \(Self.describe(error))")
        }
    }

    /// A one-line description of a database error without SQL arguments (they may carry secrets).
    static func describe(_ error: Error) -> String {
        if let db = error as? DatabaseError {
            return "\(db.resultCode): \(db.message ?? "database error")"
        }
        return String(describing: error)
    }

    /// Runs a read on GRDB's reader queues (never on the caller's thread), mapping database errors to ``TollgateError``.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw Self.map(error) }
    }

    /// Runs a write transaction on GRDB's writer queue, mapping database errors to ``TollgateError``.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.write(body) } catch { throw Self.map(error) }
    }

    static func map(_ error: Error) -> Error {
        if error is TollgateError { return error }
        if let db = error as? DatabaseError {
            switch db.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return TollgateError(.storeUnavailable, "the database is busy; try again")
            case .SQLITE_CORRUPT, .SQLITE_NOTADB:
                return TollgateError(.damaged, "the database is damaged (\(db.resultCode))")
            case .SQLITE_CONSTRAINT:
                return TollgateError(.conflict, "the change conflicts with existing data (\(db.message ?? "constraint"))")
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_IOERR, .SQLITE_FULL:
                return TollgateError(.storeUnavailable, "the database cannot be written (\(db.resultCode))")
            default:
                return TollgateError(.storeUnavailable, "database error: \(describe(db))")
            }
        }
        return error
    }

    // MARK: - Keys

    public func encryptionKeys() async throws -> [StoredKey] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, wrapped, created_at FROM encryption_keys ORDER BY id").map {
                StoredKey(id: UInt32($0[0] as Int64), wrapped: $0[1], createdAt: Date(millisecondsSince1970: $0[2]))
            }
        }
    }

    public func addEncryptionKey(id: UInt32, wrapped: Data, audit: NewAuditEvent?, at: Date) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO encryption_keys (id, wrapped, created_at) VALUES (?, ?, ?)",
                           arguments: [Int64(id), wrapped, at.millisecondsSince1970])
            if let audit { try Self.insertAudit(db, audit, at: at) }
        }
    }

    /// The sealed fields in re-seal order: table, key column, sealed columns, how a key column value names the row.
    private static let sealedFields: [(table: String, key: String, columns: [String])] = [
        ("providers", "id", ["client_secret"]),
        ("grants", "id", ["upstream_access", "upstream_refresh"]),
        ("pending_authorizations", "state_hash", ["upstream_verifier"]),
    ]

    public func resealBatch(after cursor: ResealCursor?, limit: Int,
                            _ reseal: @escaping @Sendable (Data, SealContext) throws -> Data?) async throws -> ResealBatch {
        return try await write { db in
            var field = cursor?.field ?? 0
            var after = cursor?.after
            var resealed = 0
            var visited = 0
            while field < Self.sealedFields.count {
                let (table, key, columns) = Self.sealedFields[field]
                let byHash = key == "state_hash"
                var sql = "SELECT \(key), \(columns.joined(separator: ", ")) FROM \(table)"
                var args: [DatabaseValueConvertible?] = []
                if let after {
                    sql += " WHERE \(key) > ?"
                    args.append(byHash ? (Data(base64URLEncoded: after) ?? Data()) as DatabaseValueConvertible : (Int64(after) ?? 0))
                }
                sql += " ORDER BY \(key) LIMIT ?"
                args.append(limit - visited)
                let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
                for row in rows {
                    let rowKey: DatabaseValue = row[0]
                    let name = byHash ? (Data.fromDatabaseValue(rowKey) ?? Data()).base64URLEncodedString() : String(Int64.fromDatabaseValue(rowKey) ?? 0)
                    for (index, column) in columns.enumerated() {
                        guard let old = row[index + 1] as Data? else { continue }
                        guard let new = try reseal(old, SealContext(table: table, row: name, field: column)) else { continue }
                        // Compare-and-set: a value written meanwhile (a refresh) is newer than this re-seal.
                        try db.execute(sql: "UPDATE \(table) SET \(column) = ? WHERE \(key) = ? AND \(column) = ?",
                                       arguments: [new, rowKey, old])
                        resealed += db.changesCount
                    }
                    after = name
                }
                visited += rows.count
                if visited >= limit { return ResealBatch(resealed: resealed, next: ResealCursor(field: field, after: after ?? "")) }
                field += 1
                after = nil
            }
            return ResealBatch(resealed: resealed, next: nil)
        }
    }

    // MARK: - Servers

    static let serverColumns = "id, slug, name, upstream_mcp_url, scopes, access_ttl, refresh_idle_ttl, refresh_absolute_ttl, created_at, policy"

    static func server(_ row: Row) throws -> Server {
        Server(id: row[0], slug: row[1], name: row[2], upstreamMCPURL: row[3], scopes: splitScopes(row[4]),
               accessTokenTTL: TimeInterval(row[5] as Int64), refreshTokenIdleTTL: TimeInterval(row[6] as Int64),
               refreshTokenAbsoluteTTL: TimeInterval(row[7] as Int64), createdAt: Date(millisecondsSince1970: row[8]),
               policy: try ServerPolicy(json: row[9]))
    }

    static func splitScopes(_ s: String?) -> [String] {
        (s ?? "").split(separator: " ").map(String.init)
    }

    public func createServer(_ new: NewServer, audit: NewAuditEvent, at: Date) async throws -> Server {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM servers WHERE slug = ?", arguments: [new.slug]) == true {
                throw TollgateError.conflict("a server with slug '\(new.slug)' already exists")
            }
            try db.execute(sql: """
                INSERT INTO servers (slug, name, upstream_mcp_url, scopes, access_ttl, refresh_idle_ttl, refresh_absolute_ttl, created_at, policy)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [new.slug, new.name, new.upstreamMCPURL, new.scopes.joined(separator: " "),
                                 Int64(new.accessTokenTTL), Int64(new.refreshTokenIdleTTL),
                                 Int64(new.refreshTokenAbsoluteTTL), at.millisecondsSince1970, new.policy.json])
            let row = try Row.fetchOne(db, sql: "SELECT \(Self.serverColumns) FROM servers WHERE id = ?", arguments: [db.lastInsertedRowID])!
            var audit = audit
            audit.serverID = db.lastInsertedRowID
            try Self.insertAudit(db, audit, at: at)
            return try Self.server(row)
        }
    }

    public func server(slug: String) async throws -> Server? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.serverColumns) FROM servers WHERE slug = ?"), arguments: [slug]).map(Self.server)
        }
    }

    public func server(id: Int64) async throws -> Server? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.serverColumns) FROM servers WHERE id = ?"), arguments: [id]).map(Self.server)
        }
    }

    public func servers() async throws -> [Server] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.serverColumns) FROM servers ORDER BY slug").map(Self.server)
        }
    }

    public func setServerPolicy(slug: String, _ policy: ServerPolicy, audit: NewAuditEvent, at: Date) async throws -> Server {
        try await write { db in
            try db.execute(sql: "UPDATE servers SET policy = ? WHERE slug = ?", arguments: [policy.json, slug])
            guard db.changesCount > 0,
                  let row = try Row.fetchOne(db, sql: "SELECT \(Self.serverColumns) FROM servers WHERE slug = ?", arguments: [slug]) else {
                throw TollgateError.notFound("no server with slug '\(slug)'")
            }
            let server = try Self.server(row)
            var audit = audit
            audit.serverID = server.id
            try Self.insertAudit(db, audit, at: at)
            return server
        }
    }

    public func removeServer(slug: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int {
        try await write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM servers WHERE slug = ?", arguments: [slug]) else {
                throw TollgateError.notFound("no server with slug '\(slug)'")
            }
            let grants = try Int.fetchOne(db, sql: "SELECT count(*) FROM grants WHERE server_id = ?", arguments: [id]) ?? 0
            try db.execute(sql: "DELETE FROM servers WHERE id = ?", arguments: [id])
            try Self.insertAudit(db, audit(grants), at: at)
            return grants
        }
    }

    // MARK: - Providers

    static let providerColumns = """
        id, server_id, kind, issuer, authorization_endpoint, token_endpoint, revocation_endpoint, userinfo_endpoint,
        client_id, client_secret IS NOT NULL, auth_method, scopes, authorize_params, supports_refresh, last_error,
        last_error_at, created_at
        """

    static func provider(_ row: Row) -> Provider {
        let params = (try? JSONDecoder().decode([AuthorizeParam].self, from: Data((row[12] as String).utf8))) ?? []
        return Provider(
            id: row[0], serverID: row[1], kind: ProviderKind(rawValue: row[2]) ?? .oauth2, issuer: row[3],
            authorizationEndpoint: row[4], tokenEndpoint: row[5], revocationEndpoint: row[6], userinfoEndpoint: row[7],
            clientID: row[8], hasClientSecret: row[9], authMethod: ClientAuthMethod(rawValue: row[10]) ?? .clientSecretBasic,
            scopes: splitScopes(row[11]), authorizeParams: params, supportsRefresh: row[13], lastError: row[14],
            lastErrorAt: (row[15] as Int64?).map(Date.init(millisecondsSince1970:)), createdAt: Date(millisecondsSince1970: row[16]))
    }

    public func createProvider(serverID: Int64, _ new: NewProvider, resolved: ResolvedEndpoints,
                               seal: @escaping @Sendable (Int64) throws -> Data?, audit: NewAuditEvent, at: Date) async throws -> Provider {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM providers WHERE server_id = ?", arguments: [serverID]) == true {
                let slug = try String.fetchOne(db, sql: "SELECT slug FROM servers WHERE id = ?", arguments: [serverID]) ?? "?"
                throw TollgateError.conflict("server '\(slug)' already has a provider; a server has exactly one (remove the server to start over)")
            }
            let params = String(decoding: try JSONEncoder().encode(new.authorizeParams), as: UTF8.self)
            try db.execute(sql: """
                INSERT INTO providers (server_id, kind, issuer, authorization_endpoint, token_endpoint, revocation_endpoint,
                    userinfo_endpoint, client_id, auth_method, scopes, authorize_params, supports_refresh, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [serverID, new.kind.rawValue, resolved.issuer, resolved.authorizationEndpoint,
                                 resolved.tokenEndpoint, resolved.revocationEndpoint, resolved.userinfoEndpoint,
                                 new.clientID, new.authMethod.rawValue, new.scopes.joined(separator: " "), params,
                                 resolved.supportsRefresh, at.millisecondsSince1970])
            let id = db.lastInsertedRowID
            if let sealed = try seal(id) {
                try db.execute(sql: "UPDATE providers SET client_secret = ? WHERE id = ?", arguments: [sealed, id])
            }
            try Self.insertAudit(db, audit, at: at)
            return Self.provider(try Row.fetchOne(db, sql: "SELECT \(Self.providerColumns) FROM providers WHERE id = ?", arguments: [id])!)
        }
    }

    public func updateProvider(id: Int64, clientID: String, sealedSecret: Data?, scopes: [String], audit: NewAuditEvent,
                               at: Date) async throws -> Provider {
        try await write { db in
            try db.execute(sql: """
                UPDATE providers SET client_id = ?, client_secret = coalesce(?, client_secret), scopes = ?,
                    last_error = NULL, last_error_at = NULL
                WHERE id = ?
                """, arguments: [clientID, sealedSecret, scopes.joined(separator: " "), id])
            guard db.changesCount == 1 else { throw TollgateError(.notFound, "no provider \(id)") }
            try Self.insertAudit(db, audit, at: at)
            return Self.provider(try Row.fetchOne(db, sql: "SELECT \(Self.providerColumns) FROM providers WHERE id = ?", arguments: [id])!)
        }
    }

    public func deleteProvider(id: Int64, audit: NewAuditEvent, at: Date) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM providers WHERE id = ?", arguments: [id])
            guard db.changesCount == 1 else { throw TollgateError(.notFound, "no provider \(id)") }
            try Self.insertAudit(db, audit, at: at)
        }
    }

    public func provider(serverID: Int64) async throws -> Provider? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.providerColumns) FROM providers WHERE server_id = ?"),
                             arguments: [serverID]).map(Self.provider)
        }
    }

    public func providers() async throws -> [Provider] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.providerColumns) FROM providers ORDER BY server_id").map(Self.provider)
        }
    }

    public func sealedProviderSecret(providerID: Int64) async throws -> Data? {
        try await read { db in
            try Data.fetchOne(db, sql: "SELECT client_secret FROM providers WHERE id = ?", arguments: [providerID])
        }
    }

    public func setProviderError(providerID: Int64, _ message: String?, at: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE providers SET last_error = ?, last_error_at = ? WHERE id = ?",
                           arguments: [message, message == nil ? nil : at.millisecondsSince1970, providerID])
        }
    }

    // MARK: - Clients

    static let clientColumns = """
        id, server_id, name, redirect_uris, auth_method, grant_types, registered_by, created_at, revoked_at,
        document_url, document_fetched_at, document_error, document_error_at
        """

    static func client(_ row: Row) -> Client {
        let uris = (try? JSONDecoder().decode([String].self, from: Data((row[3] as String).utf8))) ?? []
        func date(_ index: Int) -> Date? { (row[index] as Int64?).map(Date.init(millisecondsSince1970:)) }
        return Client(id: row[0], serverID: row[1], name: row[2], redirectURIs: uris,
                      authMethod: ClientAuthMethod(rawValue: row[4]) ?? .none, grantTypes: splitScopes(row[5]),
                      registeredBy: row[6], createdAt: Date(millisecondsSince1970: row[7]), revokedAt: date(8),
                      metadataDocument: (row[9] as String?).map { MetadataDocumentState(url: $0, lastFetchedAt: date(10),
                                                                                       lastError: row[11], lastErrorAt: date(12)) })
    }

    public func createClient(_ client: Client, secretHash: Data?, audit: NewAuditEvent) async throws {
        try await write { db in
            let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
            try db.execute(sql: """
                INSERT INTO clients (id, server_id, name, redirect_uris, auth_method, grant_types, secret_hash, registered_by, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [client.id, client.serverID, client.name, uris, client.authMethod.rawValue,
                                 client.grantTypes.joined(separator: " "), secretHash, client.registeredBy,
                                 client.createdAt.millisecondsSince1970])
            try Self.insertAudit(db, audit, at: client.createdAt)
        }
    }

    public func saveMetadataDocumentClient(_ client: Client, audit: NewAuditEvent, at: Date) async throws -> Client {
        let uris = String(decoding: try JSONEncoder().encode(client.redirectURIs), as: UTF8.self)
        return try await write { db in
            let ms = at.millisecondsSince1970
            try db.execute(sql: """
                UPDATE clients SET name = ?, redirect_uris = ?, grant_types = ?, document_fetched_at = ?
                WHERE id = ? AND document_url IS NOT NULL
                """, arguments: [client.name, uris, client.grantTypes.joined(separator: " "), ms, client.id])
            if db.changesCount == 0 {
                if try Int.fetchOne(db, sql: "SELECT 1 FROM clients WHERE id = ?", arguments: [client.id]) != nil {
                    throw TollgateError.conflict("client '\(client.id)' exists and is not a metadata-document client")
                }
                try db.execute(sql: """
                    INSERT INTO clients (id, server_id, name, redirect_uris, auth_method, grant_types, registered_by, created_at,
                        document_url, document_fetched_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [client.id, client.serverID, client.name, uris, client.authMethod.rawValue,
                                     client.grantTypes.joined(separator: " "), client.registeredBy, ms,
                                     client.metadataDocument?.url, ms])
                try Self.insertAudit(db, audit, at: at)
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT \(Self.clientColumns) FROM clients WHERE id = ?", arguments: [client.id]) else {
                throw TollgateError.notFound("no client '\(client.id)'")
            }
            return Self.client(row)
        }
    }

    public func recordMetadataDocumentFailure(clientID: String, _ message: String, at: Date) async throws {
        try await write { db in
            try db.execute(sql: "UPDATE clients SET document_error = ?, document_error_at = ? WHERE id = ? AND document_url IS NOT NULL",
                           arguments: [message, at.millisecondsSince1970, clientID])
        }
    }

    public func client(id: String) async throws -> Client? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.clientColumns) FROM clients WHERE id = ?"), arguments: [id]).map(Self.client)
        }
    }

    public func clientSecretHash(id: String) async throws -> Data? {
        try await read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT secret_hash FROM clients WHERE id = ?"), arguments: [id])
        }
    }

    public func clients(serverID: Int64?, limit: Int, after: String?) async throws -> Page<Client> {
        try await read { db in
            var sql = "SELECT \(Self.clientColumns) FROM clients WHERE 1 = 1"
            var args: [DatabaseValueConvertible?] = []
            if let serverID { sql += " AND server_id = ?"; args.append(serverID) }
            if let after { sql += " AND id > ?"; args.append(after) }
            sql += " ORDER BY id LIMIT ?"
            args.append(limit + 1)
            var items = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Self.client)
            var next: String?
            if items.count > limit { items.removeLast(); next = items.last?.id }
            return Page(items: items, nextCursor: next)
        }
    }

    public func revokeClient(id: String, audit: @escaping @Sendable (Int) -> NewAuditEvent, at: Date) async throws -> Int {
        try await write { db in
            let ms = at.millisecondsSince1970
            try db.execute(sql: "UPDATE clients SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", arguments: [ms, id])
            guard db.changesCount > 0 else { throw TollgateError.notFound("no client '\(id)'") }
            try db.execute(sql: "UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND client_id = ?", arguments: [ms, id])
            try db.execute(sql: """
                UPDATE grants SET state = 'revoked', revoked_at = ?, updated_at = ?, version = version + 1,
                    proxy_access_expires_at = NULL
                WHERE client_id = ? AND state != 'revoked'
                """, arguments: [ms, ms, id])
            let revoked = db.changesCount
            try Self.insertAudit(db, audit(revoked), at: at)
            return revoked
        }
    }

    // MARK: - Pending authorizations

    public func insertPendingAuthorization(_ p: PendingAuthorization) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM pending_authorizations WHERE expires_at < ?", arguments: [p.createdAt.millisecondsSince1970])
            try db.execute(sql: """
                INSERT INTO pending_authorizations (state_hash, server_id, client_id, redirect_uri, client_state, code_challenge,
                    scopes, resource, upstream_verifier, created_at, expires_at, browser_hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [p.stateHash, p.serverID, p.clientID, p.redirectURI, p.clientState, p.codeChallenge,
                                 p.scopes.joined(separator: " "), p.resource, p.sealedUpstreamVerifier,
                                 p.createdAt.millisecondsSince1970, p.expiresAt.millisecondsSince1970, p.browserBindingHash])
        }
    }

    public func takePendingAuthorization(stateHash: Data, browserBindingHash: Data?, serverID: Int64?) async throws -> PendingAuthorizationTake {
        try await write { db in
            // One statement decides and deletes: a callback in another browser, or at another server's callback,
            // neither completes nor burns the flow.
            if let browserBindingHash, let row = try Row.fetchOne(db, sql: """
                DELETE FROM pending_authorizations WHERE state_hash = ? AND browser_hash = ? AND (? IS NULL OR server_id = ?)
                RETURNING state_hash, server_id, client_id, redirect_uri, client_state, code_challenge, scopes, resource,
                    upstream_verifier, created_at, expires_at, browser_hash
                """, arguments: [stateHash, browserBindingHash, serverID, serverID]) {
                return .taken(PendingAuthorization(
                    stateHash: row[0], serverID: row[1], clientID: row[2], redirectURI: row[3], clientState: row[4],
                    codeChallenge: row[5], scopes: Self.splitScopes(row[6]), resource: row[7], sealedUpstreamVerifier: row[8],
                    createdAt: Date(millisecondsSince1970: row[9]), expiresAt: Date(millisecondsSince1970: row[10]),
                    browserBindingHash: row[11]))
            }
            guard let owner = try Int64.fetchOne(db, sql: "SELECT server_id FROM pending_authorizations WHERE state_hash = ?",
                                                 arguments: [stateHash]) else { return .unknown }
            return serverID.map { $0 != owner } ?? false ? .boundToAnotherServer : .boundToAnotherBrowser
        }
    }

    // MARK: - Audit

    static func insertAudit(_ db: Database, _ e: NewAuditEvent, at: Date) throws {
        try db.execute(sql: """
            INSERT INTO audit_events (at, actor, action, server_id, grant_id, client_id, outcome, detail, duration_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [at.millisecondsSince1970, e.actor, e.action, e.serverID, e.grantID, e.clientID, e.outcome, e.detail,
                             e.durationMilliseconds])
    }

    public func appendAudit(_ event: NewAuditEvent, at: Date) async throws {
        try await write { db in try Self.insertAudit(db, event, at: at) }
    }

    static let auditColumns = "id, at, actor, action, server_id, grant_id, client_id, outcome, detail, duration_ms"

    static func auditEvent(_ row: Row, from first: Int = 0) -> AuditEvent {
        AuditEvent(id: row[first], at: Date(millisecondsSince1970: row[first + 1]), actor: row[first + 2], action: row[first + 3],
                   serverID: row[first + 4], grantID: row[first + 5], clientID: row[first + 6], outcome: row[first + 7],
                   detail: row[first + 8], durationMilliseconds: row[first + 9])
    }

    public func auditEvents(_ query: AuditQuery) async throws -> [AuditEvent] {
        try await read { db in
            var sql = "SELECT \(Self.auditColumns) FROM audit_events WHERE 1 = 1"
            var args: [DatabaseValueConvertible?] = []
            if let grantID = query.grantID { sql += " AND grant_id = ?"; args.append(grantID) }
            if let actions = query.actions {
                sql += " AND action IN (\(actions.isEmpty ? "NULL" : Array(repeating: "?", count: actions.count).joined(separator: ", ")))"
                args += actions.map { $0 as DatabaseValueConvertible? }
            }
            if query.failuresOnly { sql += " AND outcome <> 'ok'" }
            if let since = query.since { sql += " AND at >= ?"; args.append(since.millisecondsSince1970) }
            if let after = query.after { sql += " AND id > ?"; args.append(after) }
            if let before = query.before { sql += " AND id < ?"; args.append(before) }
            sql += " ORDER BY id DESC LIMIT ?"
            args.append(max(0, query.limit))
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { Self.auditEvent($0) }
        }
    }

    public func refreshHealth(since: Date) async throws -> [RefreshHealth] {
        try await read { db in
            let actions = AuditQuery.refreshActions
            let rows = try Row.fetchAll(db, sql: """
                SELECT h.server_id, h.attempts, h.succeeded, h.mean_ms, h.max_ms,
                       e.id, e.at, e.actor, e.action, e.server_id, e.grant_id, e.client_id, e.outcome, e.detail, e.duration_ms
                FROM (SELECT server_id, COUNT(*) AS attempts, SUM(outcome = 'ok') AS succeeded,
                             CAST(ROUND(AVG(duration_ms)) AS INTEGER) AS mean_ms, MAX(duration_ms) AS max_ms,
                             MAX(CASE WHEN outcome <> 'ok' THEN id END) AS last_error_id
                      FROM audit_events WHERE action IN (?, ?) AND at >= ? AND server_id IS NOT NULL GROUP BY server_id) h
                LEFT JOIN audit_events e ON e.id = h.last_error_id
                ORDER BY h.server_id
                """, arguments: [actions[0], actions[1], since.millisecondsSince1970])
            return rows.map { row in
                let lastError: AuditEvent? = (row[5] as Int64?) == nil ? nil : Self.auditEvent(row, from: 5)
                return RefreshHealth(serverID: row[0], attempts: row[1], succeeded: row[2], meanMilliseconds: row[3],
                                     maxMilliseconds: row[4], lastError: lastError)
            }
        }
    }

    public func setting(_ key: String) async throws -> String? {
        try await read { db in try String.fetchOne(db, sql: "SELECT value FROM tollgate_meta WHERE key = ?", arguments: [Self.settingPrefix + key]) }
    }

    public func setSetting(_ key: String, _ value: String?) async throws {
        try await write { db in
            if let value {
                try db.execute(sql: "INSERT INTO tollgate_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               arguments: [Self.settingPrefix + key, value])
            } else {
                try db.execute(sql: "DELETE FROM tollgate_meta WHERE key = ?", arguments: [Self.settingPrefix + key])
            }
        }
    }

    public func dataVersion() async throws -> Int64 {
        do {
            return try await pool.writeWithoutTransaction { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        } catch { throw Self.map(error) }
    }

    public var displayName: String { path }

    public func close() async {
        try? pool.close()
    }

    // MARK: - Retention

    public func purge(_ policy: PurgePolicy, now: Date, limit: Int, dryRun: Bool) async throws -> PurgeCounts {
        let tokensBefore = now.addingTimeInterval(-policy.tokenGrace).millisecondsSince1970
        // Each kind: the rows that go, oldest first, at most `limit`.
        let kinds: [(table: String, key: String, condition: String, cutoff: Int64)] = [
            ("tokens", "hash", "expires_at < ?", tokensBefore),
            ("authorization_codes", "hash", "expires_at < ?", tokensBefore),
            ("pending_authorizations", "state_hash", "expires_at < ?", now.millisecondsSince1970),
            ("audit_events", "id", "at < ?", policy.auditBefore.millisecondsSince1970),
        ]
        var counts: [Int] = []
        for kind in kinds {
            let selection = "SELECT \(kind.key) FROM \(kind.table) WHERE \(kind.condition) LIMIT ?"
            counts.append(try await write { db in
                if dryRun {
                    return try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(selection))", arguments: [kind.cutoff, limit]) ?? 0
                }
                try db.execute(sql: "DELETE FROM \(kind.table) WHERE \(kind.key) IN (\(selection))", arguments: [kind.cutoff, limit])
                return db.changesCount
            })
        }
        return PurgeCounts(tokens: counts[0], codes: counts[1], pendingAuthorizations: counts[2], auditEvents: counts[3])
    }
}
