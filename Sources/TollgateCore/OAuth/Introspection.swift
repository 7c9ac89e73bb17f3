import Foundation

/// An RFC 7662 introspection answer.
public struct Introspection: Sendable, Equatable {
    public var active: Bool
    public var scope: String?
    public var clientID: String?
    public var subject: String?
    public var tokenType: String?
    public var expiresAt: Date?
    public var issuedAt: Date?
    public var audience: String?
    public var issuer: String?

    public static let inactive = Introspection(active: false)

    public init(active: Bool, scope: String? = nil, clientID: String? = nil, subject: String? = nil,
                tokenType: String? = nil, expiresAt: Date? = nil, issuedAt: Date? = nil,
                audience: String? = nil, issuer: String? = nil) {
        self.active = active
        self.scope = scope
        self.clientID = clientID
        self.subject = subject
        self.tokenType = tokenType
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.audience = audience
        self.issuer = issuer
    }

    /// The JSON object of RFC 7662 §2.2.
    public var json: [String: Any] {
        guard active else { return ["active": false] }
        var o: [String: Any] = ["active": true]
        if let scope { o["scope"] = scope }
        if let clientID { o["client_id"] = clientID }
        if let subject { o["sub"] = subject }
        if let tokenType { o["token_type"] = tokenType }
        if let expiresAt { o["exp"] = Int(expiresAt.timeIntervalSince1970) }
        if let issuedAt { o["iat"] = Int(issuedAt.timeIntervalSince1970) }
        if let audience { o["aud"] = audience }
        if let issuer { o["iss"] = issuer }
        return o
    }
}

/// A validated proxy access token: the grant it belongs to and the state of its upstream credential.
public struct ValidatedAccess: Sendable {
    public var grant: Grant
    public var upstream: UpstreamState
    /// Where the gateway forwards the request: the grant's server's upstream MCP URL.
    public var upstreamMCPURL: String
    /// The scope rules of the grant's server (read with the token): empty for a server without any.
    public var scopeRules: ScopeRules = ScopeRules()
    /// The scopes this access token carries: the grant's, or fewer when a refresh asked for less (RFC 6749 §6).
    /// Calls are judged by these (least privilege), not by the grant's.
    public var scopes: [String]

    public init(grant: Grant, upstream: UpstreamState, upstreamMCPURL: String, scopeRules: ScopeRules = ScopeRules(), scopes: [String]? = nil) {
        self.grant = grant
        self.upstream = upstream
        self.upstreamMCPURL = upstreamMCPURL
        self.scopeRules = scopeRules
        self.scopes = scopes ?? grant.scopes
    }
}

/// What the gateway does when the MCP server refused a forwarded request's upstream token (HTTP 401), see
/// ``TokenService/remedyForRefusedUpstreamToken(_:refused:)``.
public enum UpstreamRefusalRemedy: Sendable, Equatable {
    /// Send the request again, once, with this upstream access token.
    case retry(Secret)
    /// No refresh can help: pass the MCP server's answer on.
    case passThrough
}

/// A grant's upstream access token, opened for one request (its refresh token stays sealed).
public struct UpstreamAccessToken: Sendable, Equatable {
    public var token: Secret
    /// `nil` means the upstream did not say ("expiry unknown").
    public var expiresAt: Date?
}

/// The state of a grant's upstream credential at validation time.
public enum UpstreamState: Sendable {
    /// Usable as is.
    case fresh(UpstreamAccessToken)
    /// Expired or within the skew window, and refreshable: refresh before use (the old token may still work).
    case needsRefresh(UpstreamAccessToken)
    /// Expired and not refreshable: the user must authorize again.
    case unusable(NotRefreshableReason)
}
