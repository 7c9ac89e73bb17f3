import Foundation
import Logging
import PostgresNIO
import TollgateCore

/// The numbered migrations of the PostgreSQL schema, recorded in `tollgate_migrations`.
///
/// The schema equals the SQLite schema after its migrations, in PostgreSQL types: times are BIGINT
/// milliseconds since 1970 (the same values as SQLite's), blobs `bytea`, ids identities a copy can set, and
/// the text keys that listings filter by prefix or page by (`subject`, client ids, slugs) use the "C"
/// collation, so that their order is byte order as in SQLite and a prefix is an index range.
/// Never edit a shipped migration; append a new one.
enum PostgresMigrations {
    /// Every migration this build knows, in order.
    static let all: [(name: String, statements: [String])] = [
        ("0001-initial", statements(initial)),
        ("0002-change-notifications", changeNotifications),
        // Each server's rules (allowed browser origins, …) as one JSON document: later rules need no migration.
        ("0003-server-policy", ["ALTER TABLE servers ADD COLUMN policy TEXT NOT NULL DEFAULT '{}'"]),
        // Clients identified by a client ID metadata document: its URL (their client_id) and how the last fetch went.
        ("0004-client-metadata-documents", [
            "ALTER TABLE clients ADD COLUMN document_url TEXT",
            "ALTER TABLE clients ADD COLUMN document_fetched_at BIGINT",
            "ALTER TABLE clients ADD COLUMN document_error TEXT",
            "ALTER TABLE clients ADD COLUMN document_error_at BIGINT",
        ]),
        // Refused requests and refresh health: a grant's events of some actions, one action across grants, the
        // refresh attempts of the last hour; and how long an upstream refresh took.
        ("0005-audit-refusals-and-refresh-latency", [
            "ALTER TABLE audit_events ADD COLUMN duration_ms BIGINT",
            "CREATE INDEX audit_by_grant_action ON audit_events(grant_id, action, id)",
            "CREATE INDEX audit_by_action ON audit_events(action, id)",
            "CREATE INDEX audit_by_action_time ON audit_events(action, at)",
        ]),
        // A status filter narrows to index ranges of active grants by expiry (see GrantCandidates), so a status
        // that almost no grant has costs a few index entries, not a walk of the table.
        ("0006-grants-by-state-and-expiry", [
            "CREATE INDEX grants_by_state_upstream_expiry ON grants(state, upstream_access_expires_at)",
            "CREATE INDEX grants_by_state_proxy_expiry ON grants(state, proxy_access_expires_at)",
        ]),
        // Never-used metadata-document clients are swept like dynamic ones: one index over both kinds' creation times.
        ("0007-unused-clients-by-creation", [
            "DROP INDEX clients_by_creation",
            "CREATE INDEX clients_unused_candidates_by_creation ON clients(created_at) WHERE registered_by IN ('dynamic', 'metadata-document')",
        ]),
        // An access token issued for fewer scopes than its grant's (a refresh that asked for less) records them.
        ("0008-token-scopes", ["ALTER TABLE tokens ADD COLUMN scopes TEXT"]),
    ]

    /// A script of statements each ending a line with `;` (no function bodies) as single statements: the
    /// extended query protocol takes one statement at a time.
    static func statements(_ script: String) -> [String] {
        script.components(separatedBy: ";\n")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .map { $0.hasSuffix(";") ? String($0.dropLast()) : $0 }
            .filter { statement in
                !statement.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
            }
    }

    /// The advisory lock every migration run holds (for its transaction), so instances starting together
    /// migrate one after the other.
    static let advisoryLockKey: Int64 = 0x746F_6C6C_6761_7465 // "tollgate"

    /// Brings the schema up to date in one transaction under ``advisoryLockKey``. A database with other
    /// tables (and no Tollgate schema), or with a migration this build does not know, is refused with
    /// `.damaged` and left as it is.
    static func run(on connection: PostgresConnection, displayName: String, logger: Logger) async throws {
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(\(advisoryLockKey))", logger: logger)
            let tables = try await connection.rows("""
                SELECT table_name::text FROM information_schema.tables
                WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                """, logger: logger).map { try $0.string(0) }
            var applied: [String] = []
            if tables.contains("tollgate_migrations") {
                applied = try await connection.rows("SELECT name FROM tollgate_migrations ORDER BY name", logger: logger)
                    .map { try $0.string(0) }
            } else if !tables.isEmpty {
                throw TollgateError(.damaged, "\(displayName) is not a Tollgate database (it has other tables); use an empty database")
            }
            let known = Set(all.map(\.name))
            if let unknown = applied.first(where: { !known.contains($0) }) {
                throw TollgateError(.damaged, "\(displayName) was written by a newer Tollgate (migration \(unknown)); upgrade this program")
            }
            if applied.isEmpty {
                try await connection.query("""
                    CREATE TABLE tollgate_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)
                    """, logger: logger)
            }
            for migration in all where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("""
                    INSERT INTO tollgate_migrations (name, applied_at)
                    VALUES (\(migration.name), \(Date().millisecondsSince1970))
                    """, logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    static let initial = """
        CREATE TABLE tollgate_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO tollgate_meta (key, value) VALUES ('application', 'tollgate');

        -- Named settings (setting/setSetting).
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE encryption_keys (
            id BIGINT PRIMARY KEY,
            wrapped BYTEA NOT NULL,
            created_at BIGINT NOT NULL
        );

        CREATE TABLE servers (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            slug TEXT COLLATE "C" NOT NULL UNIQUE,
            name TEXT NOT NULL,
            upstream_mcp_url TEXT NOT NULL,
            scopes TEXT NOT NULL DEFAULT '',
            access_ttl BIGINT NOT NULL,
            refresh_idle_ttl BIGINT NOT NULL,
            refresh_absolute_ttl BIGINT NOT NULL,
            created_at BIGINT NOT NULL
        );

        -- UNIQUE(server_id): a server has at most one provider, by construction.
        CREATE TABLE providers (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            server_id BIGINT NOT NULL UNIQUE REFERENCES servers(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('oauth2', 'oidc')),
            issuer TEXT,
            authorization_endpoint TEXT NOT NULL,
            token_endpoint TEXT NOT NULL,
            revocation_endpoint TEXT,
            userinfo_endpoint TEXT,
            client_id TEXT NOT NULL,
            client_secret BYTEA,
            auth_method TEXT NOT NULL,
            scopes TEXT NOT NULL DEFAULT '',
            authorize_params TEXT NOT NULL DEFAULT '[]',
            supports_refresh BOOLEAN NOT NULL DEFAULT TRUE,
            last_error TEXT,
            last_error_at BIGINT,
            created_at BIGINT NOT NULL
        );

        CREATE TABLE clients (
            id TEXT COLLATE "C" PRIMARY KEY,
            server_id BIGINT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            redirect_uris TEXT NOT NULL,
            auth_method TEXT NOT NULL,
            grant_types TEXT NOT NULL,
            secret_hash BYTEA,
            registered_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        );
        CREATE INDEX clients_by_server ON clients(server_id, id);
        CREATE INDEX clients_by_creation ON clients(created_at) WHERE registered_by = 'dynamic';

        CREATE TABLE grants (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            server_id BIGINT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
            client_id TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
            subject TEXT COLLATE "C",
            scopes TEXT NOT NULL,
            resource TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('active', 'needs-reauth', 'revoked')),
            upstream_access BYTEA,
            upstream_refresh BYTEA,
            upstream_has_refresh BOOLEAN NOT NULL DEFAULT FALSE,
            upstream_access_expires_at BIGINT,
            upstream_refresh_expires_at BIGINT,
            upstream_scope TEXT,
            proxy_access_expires_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            last_refresh_at BIGINT,
            last_refresh_outcome TEXT,
            refresh_failures BIGINT NOT NULL DEFAULT 0,
            refresh_not_before BIGINT,
            revoked_at BIGINT,
            version BIGINT NOT NULL DEFAULT 0,
            lease_owner TEXT,
            -- By the database's clock (milliseconds), never a caller's.
            lease_until BIGINT,
            upstream_obtained_at BIGINT,
            lease_sent_at BIGINT,
            refresh_interrupted_at BIGINT,
            state_reason TEXT
        );
        CREATE INDEX grants_by_server ON grants(server_id, id);
        CREATE INDEX grants_by_client ON grants(client_id, id);
        CREATE INDEX grants_by_subject ON grants(subject, id);
        CREATE INDEX grants_by_state ON grants(state, id);
        CREATE INDEX grants_by_upstream_expiry ON grants((coalesce(upstream_access_expires_at, 9223372036854775807)), id);
        CREATE INDEX grants_by_server_upstream_expiry ON grants(server_id, (coalesce(upstream_access_expires_at, 9223372036854775807)), id);
        -- Beyond SQLite's: one client may hold very many grants; its expiry listing stays an ordered index walk.
        CREATE INDEX grants_by_client_upstream_expiry ON grants(client_id, (coalesce(upstream_access_expires_at, 9223372036854775807)), id);

        CREATE TABLE tokens (
            hash BYTEA PRIMARY KEY,
            grant_id BIGINT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
            client_id TEXT COLLATE "C" NOT NULL,
            issued_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            revoked_at BIGINT,
            rotated_at BIGINT,
            replaced_by BYTEA
        );
        CREATE INDEX tokens_by_grant ON tokens(grant_id, kind);
        CREATE INDEX tokens_by_client ON tokens(client_id);
        CREATE INDEX tokens_by_expiry ON tokens(expires_at);

        CREATE TABLE authorization_codes (
            hash BYTEA PRIMARY KEY,
            grant_id BIGINT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
            client_id TEXT NOT NULL,
            redirect_uri TEXT NOT NULL,
            code_challenge TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            used_at BIGINT
        );
        CREATE INDEX codes_by_grant ON authorization_codes(grant_id);
        CREATE INDEX codes_by_expiry ON authorization_codes(expires_at);

        CREATE TABLE pending_authorizations (
            state_hash BYTEA PRIMARY KEY,
            server_id BIGINT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
            client_id TEXT COLLATE "C" NOT NULL,
            redirect_uri TEXT NOT NULL,
            client_state TEXT,
            code_challenge TEXT NOT NULL,
            scopes TEXT NOT NULL,
            resource TEXT NOT NULL,
            upstream_verifier BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            browser_hash BYTEA
        );
        CREATE INDEX pending_by_expiry ON pending_authorizations(expires_at);
        CREATE INDEX pending_by_client ON pending_authorizations(client_id);

        -- No foreign keys: the history outlives the rows it talks about.
        CREATE TABLE audit_events (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at BIGINT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            server_id BIGINT,
            grant_id BIGINT,
            client_id TEXT,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX audit_by_grant ON audit_events(grant_id, id);
        CREATE INDEX audit_by_time ON audit_events(at, id);

        -- Resource servers' credentials for the introspection endpoint; only the secret's SHA-256 is kept.
        CREATE TABLE introspection_credentials (
            id TEXT PRIMARY KEY,
            server_id BIGINT NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            secret_hash BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT
        );
        CREATE INDEX introspection_credentials_by_server ON introspection_credentials(server_id, id);
        """

    /// Every committed change to a table notifies `tollgate_changes` once per statement (PostgreSQL folds
    /// identical notifications of one transaction into one), which the store's `LISTEN` connection counts.
    static let changeNotifications: [String] = {
        let tables = ["settings", "encryption_keys", "servers", "providers", "clients", "grants", "tokens",
                      "authorization_codes", "pending_authorizations", "audit_events", "introspection_credentials"]
        return ["""
            CREATE FUNCTION tollgate_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('tollgate_changes', '');
                RETURN NULL;
            END $$
            """] + tables.map { table in
                """
                CREATE TRIGGER \(table)_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON \(table)
                    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_change()
                """
            }
    }()
}
