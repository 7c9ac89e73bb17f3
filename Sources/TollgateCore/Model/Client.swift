import Foundation

/// An MCP client registered with Tollgate for one server.
public struct Client: Sendable, Equatable, Codable {
    /// The public `client_id`.
    public var id: String
    public var serverID: Int64
    public var name: String
    public var redirectURIs: [String]
    public var authMethod: ClientAuthMethod
    public var grantTypes: [String]
    /// How the client was registered: `dynamic` (RFC 7591) or `admin`.
    public var registeredBy: String
    public var createdAt: Date
    public var revokedAt: Date?

    /// Whether the client must authenticate with a secret at the token endpoint.
    public var isConfidential: Bool { authMethod != .none }

    /// Every stored property, as stored.
    public init(id: String, serverID: Int64, name: String, redirectURIs: [String], authMethod: ClientAuthMethod,
                grantTypes: [String], registeredBy: String, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.serverID = serverID
        self.name = name
        self.redirectURIs = redirectURIs
        self.authMethod = authMethod
        self.grantTypes = grantTypes
        self.registeredBy = registeredBy
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// Client metadata as an RFC 7591 registration request carries it.
public struct ClientRegistration: Sendable {
    public var name: String
    public var redirectURIs: [String]
    public var authMethod: ClientAuthMethod
    public var grantTypes: [String]
    /// `application_type` as registered; `nil` when the client sent none (then no type-specific rule applies).
    public var applicationType: RedirectURIPolicy.ApplicationType?

    public init(name: String, redirectURIs: [String], authMethod: ClientAuthMethod = .none,
                grantTypes: [String] = ["authorization_code", "refresh_token"], applicationType: RedirectURIPolicy.ApplicationType? = nil) {
        self.applicationType = applicationType
        self.name = name
        self.redirectURIs = redirectURIs
        self.authMethod = authMethod
        self.grantTypes = grantTypes
    }
}

/// The answer to a registration: the client and, for a confidential client, its secret (shown once).
public struct RegisteredClient: Sendable {
    public var client: Client
    public var secret: Secret?
}
