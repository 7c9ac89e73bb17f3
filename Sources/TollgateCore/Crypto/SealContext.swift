/// What a ciphertext belongs to: its table, row and field. Bound into the AES-GCM associated data,
/// so a ciphertext moved to another row or field fails to open.
public struct SealContext: Sendable, Hashable, CustomStringConvertible {
    public var table: String
    public var row: String
    public var field: String

    public init(table: String, row: String, field: String) {
        self.table = table
        self.row = row
        self.field = field
    }

    public static func grant(_ id: Int64, _ field: String) -> SealContext { .init(table: "grants", row: String(id), field: field) }
    public static func provider(_ id: Int64) -> SealContext { .init(table: "providers", row: String(id), field: "client_secret") }

    public var description: String { "\(table)[\(row)].\(field)" }
}
