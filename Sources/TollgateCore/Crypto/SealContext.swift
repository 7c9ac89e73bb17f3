import Foundation

/// What a ciphertext belongs to: its logical table, row and field. Bound into the AES-GCM associated data,
/// so a ciphertext moved to another row or field fails to open.
///
/// The names are logical (the same on every backend: `grants`, `providers`, `pending_authorizations` and their
/// column names) and rows are named by their id (or, for pending authorizations, the base64url SHA-256 of the
/// state). A store therefore keeps ids when rows are copied to another store, or the copies no longer open.
public struct SealContext: Sendable, Hashable, CustomStringConvertible {
    public var table: String
    public var row: String
    public var field: String

    public init(table: String, row: String, field: String) {
        self.table = table
        self.row = row
        self.field = field
    }

    /// A grant's upstream access token.
    public static func upstreamAccess(_ grantID: Int64) -> SealContext { .init(table: "grants", row: String(grantID), field: "upstream_access") }
    /// A grant's upstream refresh token.
    public static func upstreamRefresh(_ grantID: Int64) -> SealContext { .init(table: "grants", row: String(grantID), field: "upstream_refresh") }
    /// A provider's client secret.
    public static func providerSecret(_ providerID: Int64) -> SealContext { .init(table: "providers", row: String(providerID), field: "client_secret") }
    /// The upstream PKCE verifier of a pending authorization, keyed by the SHA-256 of its state.
    public static func pendingVerifier(stateHash: Data) -> SealContext {
        .init(table: "pending_authorizations", row: stateHash.base64URLEncodedString(), field: "upstream_verifier")
    }

    public var description: String { "\(table)[\(row)].\(field)" }
}
