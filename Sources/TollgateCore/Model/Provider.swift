import Foundation

/// How the upstream provider's endpoints are known.
public enum ProviderKind: String, Sendable, Codable, CaseIterable {
    /// Endpoints given explicitly.
    case oauth2
    /// Endpoints discovered from `{issuer}/.well-known/openid-configuration` when the provider is added.
    case oidc
}

/// How an OAuth client authenticates at a token endpoint (RFC 7591 names).
public enum ClientAuthMethod: String, Sendable, Codable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
    case none
}

/// The upstream OAuth provider of one server. Exactly one per server: the store refuses a second.
public struct Provider: Sendable, Equatable, Codable {
    public var id: Int64
    public var serverID: Int64
    public var kind: ProviderKind
    public var issuer: String?
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    public var revocationEndpoint: String?
    public var userinfoEndpoint: String?
    public var clientID: String
    /// Whether an encrypted client secret is stored (the secret itself never leaves the core).
    public var hasClientSecret: Bool
    public var authMethod: ClientAuthMethod
    public var scopes: [String]
    /// Extra query parameters added to the upstream authorization request, in order.
    public var authorizeParams: [AuthorizeParam]
    /// Whether the provider can refresh (false when its discovery document omits the `refresh_token` grant).
    public var supportsRefresh: Bool
    /// The last upstream error that points at the provider's configuration (`invalid_client`), if any.
    public var lastError: String?
    public var lastErrorAt: Date?
    public var createdAt: Date

    /// Whether `offline_access` is a scope this provider knows (then Tollgate asks for it upstream).
    public var supportsOfflineAccess: Bool { scopes.contains("offline_access") }

    /// Every stored property, as stored.
    public init(id: Int64, serverID: Int64, kind: ProviderKind, issuer: String? = nil, authorizationEndpoint: String,
                tokenEndpoint: String, revocationEndpoint: String? = nil, userinfoEndpoint: String? = nil,
                clientID: String, hasClientSecret: Bool, authMethod: ClientAuthMethod, scopes: [String],
                authorizeParams: [AuthorizeParam], supportsRefresh: Bool, lastError: String? = nil,
                lastErrorAt: Date? = nil, createdAt: Date) {
        self.id = id
        self.serverID = serverID
        self.kind = kind
        self.issuer = issuer
        self.authorizationEndpoint = authorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.userinfoEndpoint = userinfoEndpoint
        self.clientID = clientID
        self.hasClientSecret = hasClientSecret
        self.authMethod = authMethod
        self.scopes = scopes
        self.authorizeParams = authorizeParams
        self.supportsRefresh = supportsRefresh
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.createdAt = createdAt
    }
}

/// One extra authorization-request parameter of a provider.
extension Provider {
    /// The RFC 8707 resource indicator this provider is configured with (`--authorize-param resource=URL`), sent
    /// with the authorization request and, because a provider that wants it there wants it on its token endpoint
    /// too, with the code exchange and every refresh. `nil`: none is ever sent (Microsoft Entra, for one, refuses
    /// `resource` on a v2 token request; others refuse a refresh without it).
    public var resourceIndicator: String? { authorizeParams.last { $0.name == "resource" }?.value }
}

public struct AuthorizeParam: Sendable, Equatable, Codable {
    public var name: String
    public var value: String
    public init(name: String, value: String) { self.name = name; self.value = value }
}

/// What an admin supplies to add a provider; the secret is passed separately and sealed at once.
public struct NewProvider: Sendable {
    public var kind: ProviderKind
    public var issuer: String?
    public var authorizationEndpoint: String?
    public var tokenEndpoint: String?
    public var revocationEndpoint: String?
    public var userinfoEndpoint: String?
    public var clientID: String
    public var clientSecret: Secret?
    public var authMethod: ClientAuthMethod
    public var scopes: [String]
    public var authorizeParams: [AuthorizeParam]

    public init(
        kind: ProviderKind, issuer: String? = nil, authorizationEndpoint: String? = nil,
        tokenEndpoint: String? = nil, revocationEndpoint: String? = nil, userinfoEndpoint: String? = nil,
        clientID: String, clientSecret: Secret? = nil, authMethod: ClientAuthMethod = .clientSecretBasic,
        scopes: [String] = [], authorizeParams: [AuthorizeParam] = []
    ) {
        self.kind = kind
        self.issuer = issuer
        self.authorizationEndpoint = authorizationEndpoint
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.userinfoEndpoint = userinfoEndpoint
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authMethod = authMethod
        self.scopes = scopes
        self.authorizeParams = authorizeParams
    }
}
