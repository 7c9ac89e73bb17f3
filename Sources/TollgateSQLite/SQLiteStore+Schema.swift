import GRDB
import TollgateCore

extension SQLiteStore {
    /// The numbered migrations of the schema. Never edit a shipped migration; append a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("0001-initial") { db in
            try db.execute(sql: """
            CREATE TABLE tollgate_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO tollgate_meta (key, value) VALUES ('application', 'tollgate');

            CREATE TABLE encryption_keys (
                id INTEGER PRIMARY KEY,
                wrapped BLOB NOT NULL,
                created_at INTEGER NOT NULL
            );

            CREATE TABLE servers (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                slug TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                upstream_mcp_url TEXT NOT NULL,
                scopes TEXT NOT NULL DEFAULT '',
                access_ttl INTEGER NOT NULL,
                refresh_idle_ttl INTEGER NOT NULL,
                refresh_absolute_ttl INTEGER NOT NULL,
                created_at INTEGER NOT NULL
            );

            -- UNIQUE(server_id): a server has at most one provider, by construction.
            CREATE TABLE providers (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                server_id INTEGER NOT NULL UNIQUE REFERENCES servers(id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('oauth2', 'oidc')),
                issuer TEXT,
                authorization_endpoint TEXT NOT NULL,
                token_endpoint TEXT NOT NULL,
                revocation_endpoint TEXT,
                userinfo_endpoint TEXT,
                client_id TEXT NOT NULL,
                client_secret BLOB,
                auth_method TEXT NOT NULL,
                scopes TEXT NOT NULL DEFAULT '',
                authorize_params TEXT NOT NULL DEFAULT '[]',
                supports_refresh INTEGER NOT NULL DEFAULT 1,
                last_error TEXT,
                last_error_at INTEGER,
                created_at INTEGER NOT NULL
            );

            CREATE TABLE clients (
                id TEXT PRIMARY KEY,
                server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                redirect_uris TEXT NOT NULL,
                auth_method TEXT NOT NULL,
                grant_types TEXT NOT NULL,
                secret_hash BLOB,
                registered_by TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX clients_by_server ON clients(server_id, id);

            CREATE TABLE grants (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
                subject TEXT,
                scopes TEXT NOT NULL,
                resource TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('active', 'needs-reauth', 'revoked')),
                upstream_access BLOB,
                upstream_refresh BLOB,
                upstream_has_refresh INTEGER NOT NULL DEFAULT 0,
                upstream_access_expires_at INTEGER,
                upstream_refresh_expires_at INTEGER,
                upstream_scope TEXT,
                proxy_access_expires_at INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                last_refresh_at INTEGER,
                last_refresh_outcome TEXT,
                refresh_failures INTEGER NOT NULL DEFAULT 0,
                refresh_not_before INTEGER,
                revoked_at INTEGER,
                version INTEGER NOT NULL DEFAULT 0,
                lease_owner TEXT,
                lease_until INTEGER
            );
            CREATE INDEX grants_by_server ON grants(server_id, id);
            CREATE INDEX grants_by_client ON grants(client_id, id);
            CREATE INDEX grants_by_subject ON grants(subject, id);
            CREATE INDEX grants_by_state ON grants(state, id);
            CREATE INDEX grants_by_upstream_expiry ON grants(coalesce(upstream_access_expires_at, 9223372036854775807), id);
            CREATE INDEX grants_by_server_upstream_expiry ON grants(server_id, coalesce(upstream_access_expires_at, 9223372036854775807), id);

            CREATE TABLE tokens (
                hash BLOB PRIMARY KEY,
                grant_id INTEGER NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
                client_id TEXT NOT NULL,
                issued_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                revoked_at INTEGER,
                rotated_at INTEGER,
                replaced_by BLOB
            ) WITHOUT ROWID;
            CREATE INDEX tokens_by_grant ON tokens(grant_id, kind);

            CREATE TABLE authorization_codes (
                hash BLOB PRIMARY KEY,
                grant_id INTEGER NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
                client_id TEXT NOT NULL,
                redirect_uri TEXT NOT NULL,
                code_challenge TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at INTEGER
            ) WITHOUT ROWID;
            CREATE INDEX codes_by_grant ON authorization_codes(grant_id);

            CREATE TABLE pending_authorizations (
                state_hash BLOB PRIMARY KEY,
                server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                client_id TEXT NOT NULL,
                redirect_uri TEXT NOT NULL,
                client_state TEXT,
                code_challenge TEXT NOT NULL,
                scopes TEXT NOT NULL,
                resource TEXT NOT NULL,
                upstream_verifier BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX pending_by_expiry ON pending_authorizations(expires_at);

            -- No foreign keys: the history outlives the rows it talks about.
            CREATE TABLE audit_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at INTEGER NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                server_id INTEGER,
                grant_id INTEGER,
                client_id TEXT,
                outcome TEXT NOT NULL,
                detail TEXT NOT NULL
            );
            CREATE INDEX audit_by_grant ON audit_events(grant_id, id);
            CREATE INDEX audit_by_time ON audit_events(at, id);
            """)
        }
        migrator.registerMigration("0002-upstream-obtained-at") { db in
            try db.execute(sql: "ALTER TABLE grants ADD COLUMN upstream_obtained_at INTEGER")
        }
        migrator.registerMigration("0003-introspection-credentials") { db in
            try db.execute(sql: """
            -- Resource servers' credentials for the introspection endpoint; only the secret's SHA-256 is kept.
            CREATE TABLE introspection_credentials (
                id TEXT PRIMARY KEY,
                server_id INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                secret_hash BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                revoked_at INTEGER
            );
            CREATE INDEX introspection_credentials_by_server ON introspection_credentials(server_id, id);
            """)
        }
        // SHA-256 of the browser-binding cookie of the browser that started the authorization; the callback
        // takes the row only when the same browser presents it. Rows from before have none and never match.
        migrator.registerMigration("0004-pending-browser-binding") { db in
            try db.execute(sql: "ALTER TABLE pending_authorizations ADD COLUMN browser_hash BLOB")
        }
        // The refresh lease records when its holder sent the upstream call, so a holder that died with the
        // call in flight is recognised (and a following invalid_grant explained in state_reason).
        migrator.registerMigration("0005-refresh-attempts") { db in
            try db.execute(sql: """
                ALTER TABLE grants ADD COLUMN lease_sent_at INTEGER;
                ALTER TABLE grants ADD COLUMN refresh_interrupted_at INTEGER;
                ALTER TABLE grants ADD COLUMN state_reason TEXT;
                """)
        }
        // Retention purges expired tokens and codes by expiry: an index each, so a purge batch is a range scan.
        migrator.registerMigration("0006-retention") { db in
            try db.execute(sql: """
                CREATE INDEX tokens_by_expiry ON tokens(expires_at);
                CREATE INDEX codes_by_expiry ON authorization_codes(expires_at);
                """)
        }
        // Each server's rules (allowed browser origins, …) as one JSON document: later rules need no migration.
        migrator.registerMigration("0007-server-policy") { db in
            try db.execute(sql: "ALTER TABLE servers ADD COLUMN policy TEXT NOT NULL DEFAULT '{}'")
        }
        // Clients identified by a client ID metadata document: its URL (their client_id) and how the last fetch went.
        migrator.registerMigration("0008-client-metadata-documents") { db in
            try db.execute(sql: """
                ALTER TABLE clients ADD COLUMN document_url TEXT;
                ALTER TABLE clients ADD COLUMN document_fetched_at INTEGER;
                ALTER TABLE clients ADD COLUMN document_error TEXT;
                ALTER TABLE clients ADD COLUMN document_error_at INTEGER;
                """)
        }
        // Refused requests and refresh health: a grant's events of some actions, one action across grants, the
        // refresh attempts of the last hour; and how long an upstream refresh took.
        migrator.registerMigration("0009-audit-refusals-and-refresh-latency") { db in
            try db.execute(sql: """
                ALTER TABLE audit_events ADD COLUMN duration_ms INTEGER;
                CREATE INDEX audit_by_grant_action ON audit_events(grant_id, action, id);
                CREATE INDEX audit_by_action ON audit_events(action, id);
                CREATE INDEX audit_by_action_time ON audit_events(action, at);
                """)
        }
        // A status filter narrows to index ranges of active grants by expiry (see GrantCandidates), so a status
        // that almost no grant has costs a few index entries, not a walk of the table.
        migrator.registerMigration("0010-grants-by-state-and-expiry") { db in
            try db.execute(sql: """
                CREATE INDEX grants_by_state_upstream_expiry ON grants(state, upstream_access_expires_at);
                CREATE INDEX grants_by_state_proxy_expiry ON grants(state, proxy_access_expires_at);
                """)
        }
        // An access token issued for fewer scopes than its grant's (a refresh that asked for less) records them.
        migrator.registerMigration("0011-token-scopes") { db in
            try db.execute(sql: "ALTER TABLE tokens ADD COLUMN scopes TEXT")
        }
        return migrator
    }
}
