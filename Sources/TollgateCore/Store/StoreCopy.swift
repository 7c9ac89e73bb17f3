import Foundation

/// One column value of a copied row, backend-neutral.
public enum StoreValue: Sendable, Equatable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    case blob(Data)
}

/// A table as `tollgate store copy` moves it: its logical name, the column that orders and pages it, and its
/// columns. Both backends use these names, so a row read from one is written to the other column by column
/// (ids kept: ciphertexts are bound to them).
public struct StoreTable: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    /// The primary key, by which rows are paged.
    public var key: String
    public var columns: [String]

    public var description: String { name }

    /// Every table, parents before children (the order a copy inserts them in).
    public static let all: [StoreTable] = [
        StoreTable(name: "settings", key: "key", columns: ["key", "value"]),
        StoreTable(name: "encryption_keys", key: "id", columns: ["id", "wrapped", "created_at"]),
        StoreTable(name: "servers", key: "id", columns: [
            "id", "slug", "name", "upstream_mcp_url", "scopes", "access_ttl", "refresh_idle_ttl", "refresh_absolute_ttl", "created_at",
            "policy"]),
        StoreTable(name: "providers", key: "id", columns: [
            "id", "server_id", "kind", "issuer", "authorization_endpoint", "token_endpoint", "revocation_endpoint",
            "userinfo_endpoint", "client_id", "client_secret", "auth_method", "scopes", "authorize_params", "supports_refresh",
            "last_error", "last_error_at", "created_at"]),
        StoreTable(name: "clients", key: "id", columns: [
            "id", "server_id", "name", "redirect_uris", "auth_method", "grant_types", "secret_hash", "registered_by",
            "created_at", "revoked_at", "document_url", "document_fetched_at", "document_error", "document_error_at"]),
        StoreTable(name: "introspection_credentials", key: "id", columns: [
            "id", "server_id", "name", "secret_hash", "created_at", "revoked_at"]),
        StoreTable(name: "grants", key: "id", columns: [
            "id", "server_id", "client_id", "subject", "scopes", "resource", "state", "upstream_access", "upstream_refresh",
            "upstream_has_refresh", "upstream_access_expires_at", "upstream_refresh_expires_at", "upstream_scope",
            "proxy_access_expires_at", "created_at", "updated_at", "last_refresh_at", "last_refresh_outcome",
            "refresh_failures", "refresh_not_before", "revoked_at", "version", "lease_owner", "lease_until",
            "upstream_obtained_at", "lease_sent_at", "refresh_interrupted_at", "state_reason"]),
        StoreTable(name: "tokens", key: "hash", columns: [
            "hash", "grant_id", "kind", "client_id", "issued_at", "expires_at", "revoked_at", "rotated_at", "replaced_by", "scopes"]),
        StoreTable(name: "authorization_codes", key: "hash", columns: [
            "hash", "grant_id", "client_id", "redirect_uri", "code_challenge", "expires_at", "used_at"]),
        StoreTable(name: "pending_authorizations", key: "state_hash", columns: [
            "state_hash", "server_id", "client_id", "redirect_uri", "client_state", "code_challenge", "scopes", "resource",
            "upstream_verifier", "created_at", "expires_at", "browser_hash"]),
        StoreTable(name: "audit_events", key: "id", columns: [
            "id", "at", "actor", "action", "server_id", "grant_id", "client_id", "outcome", "detail", "duration_ms"]),
    ]

    /// The position of `column` in ``columns``.
    public func index(of column: String) -> Int? { columns.firstIndex(of: column) }
}

/// A consistent read-only view of a whole store at one moment (later commits are not in it), for copying it.
public protocol StoreSnapshot: Sendable {
    /// Up to `limit` rows of `table` whose key is greater than `after` (`nil`: from the first), by key; each row
    /// holds the table's ``StoreTable/columns`` in order.
    func rows(_ table: StoreTable, after: StoreValue?, limit: Int) async throws -> [[StoreValue]]
    /// Ends the snapshot.
    func close() async
}

/// What `tollgate store copy` did, per table.
public struct StoreCopyReport: Sendable, Equatable, Codable {
    /// Rows copied, by table name, in copy order.
    public var rows: [String: Int] = [:]
    /// Whether the data keys were re-wrapped under another master key.
    public var rewrapped = false

    public init() {}
}

/// Copies a whole store into an empty one: `tollgate store copy`.
///
/// Reads one consistent snapshot of the source (its `serve` may keep running; what it commits after the
/// snapshot is not copied), writes every table in dependency order in batches, ids kept, and re-wraps the data
/// keys under the destination's master key when it differs (the ciphertexts themselves are copied as they are:
/// they stay bound to their table, row id and field). Refresh leases are not copied: a lease of a process on the
/// old store means nothing on the new one.
public struct StoreCopier: Sendable {
    public var batchSize = 500

    public init() {}

    /// Copies `source` into `destination`, which must be empty (no server, no key); throws `.conflict` otherwise.
    public func copy(from source: any TollgateStore, sourceKey: MasterKey, to destination: any TollgateStore,
                     destinationKey: MasterKey) async throws -> StoreCopyReport {
        guard try await destination.encryptionKeys().isEmpty, try await destination.servers().isEmpty else {
            throw TollgateError.conflict("the destination \(destination.displayName) is not empty: copy only into a new, empty database")
        }
        let rewrap = sourceKey.key != destinationKey.key
        let snapshot = try await source.openSnapshot()
        var report = StoreCopyReport()
        report.rewrapped = rewrap
        do {
            for table in StoreTable.all {
                var after: StoreValue?
                var count = 0
                while true {
                    var rows = try await snapshot.rows(table, after: after, limit: batchSize)
                    guard !rows.isEmpty else { break }
                    after = table.index(of: table.key).map { rows[rows.count - 1][$0] }
                    rows = try rows.map { try prepare($0, of: table, rewrap: rewrap ? (sourceKey, destinationKey) : nil) }
                    try await destination.importRows(table, rows)
                    count += rows.count
                    if rows.count < batchSize { break }
                }
                report.rows[table.name] = count
            }
            try await destination.finishImport()
        } catch {
            await snapshot.close()
            throw error
        }
        await snapshot.close()
        return report
    }

    /// A row as the destination stores it: data keys re-wrapped, refresh leases dropped.
    private func prepare(_ row: [StoreValue], of table: StoreTable, rewrap keys: (MasterKey, MasterKey)?) throws -> [StoreValue] {
        var row = row
        switch table.name {
        case "encryption_keys":
            guard let keys, case .integer(let id) = row[0], case .blob(let wrapped) = row[1] else { break }
            let dataKey = try keys.0.unwrap(wrapped, id: UInt32(id))
            row[1] = .blob(try keys.1.wrap(dataKey, id: UInt32(id)))
        case "grants":
            for column in ["lease_owner", "lease_until", "lease_sent_at"] {
                if let index = table.index(of: column) { row[index] = .null }
            }
        default:
            break
        }
        return row
    }
}
