import Foundation

/// A credential that lets one resource server call a server's introspection endpoint (RFC 7662 §2.1).
///
/// Only an admin creates one (CLI or console, through ``AdminService``); dynamic client registration cannot
/// obtain it, so no self-registered client can learn anything about another user's tokens. The resource
/// server authenticates with the id as `client_id` and the secret as `client_secret` (Basic or form).
/// Only the secret's SHA-256 is stored.
public struct IntrospectionCredential: Sendable, Equatable, Codable {
    /// The public identifier (`tgi_…`), presented as `client_id`.
    public var id: String
    public var serverID: Int64
    /// Who uses it, for the admin's listing (for example the resource server's name).
    public var name: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: String, serverID: Int64, name: String, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.serverID = serverID
        self.name = name
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// The prefix of every introspection credential id.
    public static let idPrefix = "tgi_"
    /// The prefix of every introspection credential secret.
    public static let secretPrefix = "tg_is_"
}

/// A newly created introspection credential with its secret: the only time the secret exists in the clear.
public struct IssuedIntrospectionCredential: Sendable {
    public var credential: IntrospectionCredential
    public var secret: Secret
}
