/// Why Tollgate refused a request: decided where the refusal is decided (the token service, the gateway),
/// carried on the ``OAuthError`` it throws, recorded as the outcome of a `request.refused` audit event and
/// counted per reason in `/metrics`.
///
/// The raw value is the stable code (support desks and dashboards match on it); ``title`` is a human
/// line without any request data. Neither ever contains token material.
public enum RefusalReason: String, Sendable, Hashable, CaseIterable, Codable {
    // MARK: The gateway (a proxy access token)

    /// No bearer token at all (a client's first, discovering request).
    case missingToken = "missing_token"
    /// A bearer token Tollgate never issued, or one already purged.
    case unknownToken = "unknown_token"
    /// The proxy access token has expired.
    case expiredToken = "expired_token"
    /// The grant, or the access token itself, has been revoked.
    case revoked = "revoked"
    /// A token issued for another MCP server (audience binding).
    case wrongServer = "wrong_server"
    /// The token lacks a scope the request needs (403 `insufficient_scope`).
    case insufficientScope = "insufficient_scope"
    /// A browser request from an origin the server does not admit (403 `invalid_origin`).
    case originRefused = "origin_refused"
    /// The upstream authorization is gone (`invalid_grant`, or expired with no refresh token): the user must
    /// authorize again.
    case reauthorizationNeeded = "reauthorization_needed"
    /// The upstream provider did not answer a refresh in time or failed transiently (503, retried later).
    case upstreamUnavailable = "upstream_unavailable"
    /// The upstream provider refused Tollgate's own client credentials or configuration (503).
    case providerMisconfigured = "provider_misconfigured"
    /// Tollgate's store was unavailable or busy (503).
    case serviceUnavailable = "service_unavailable"

    // MARK: The token endpoint

    /// Unknown, revoked or unauthenticated client.
    case invalidClient = "invalid_client"
    /// A malformed token request (a parameter missing, an unsupported grant type).
    case invalidRequest = "invalid_request"
    /// An authorization code Tollgate does not know.
    case unknownCode = "unknown_code"
    /// An authorization code past its lifetime.
    case expiredCode = "expired_code"
    /// An authorization code presented twice (the grant it created is revoked).
    case replayedCode = "replayed_code"
    /// A code, refresh token or grant that belongs to another client or server, or a redirect URI that is
    /// not the authorization request's.
    case bindingMismatch = "binding_mismatch"
    /// The PKCE `code_verifier` does not match the challenge.
    case pkceFailed = "pkce_failed"
    /// A refresh token Tollgate does not know.
    case unknownRefreshToken = "unknown_refresh_token"
    /// A refresh token past its lifetime.
    case expiredRefreshToken = "expired_refresh_token"
    /// A revoked refresh token (or one of a revoked grant).
    case revokedRefreshToken = "revoked_refresh_token"
    /// A rotated refresh token presented again outside the grace window (the grant is revoked).
    case refreshTokenReuse = "refresh_token_reuse"
    /// A requested scope the grant does not hold.
    case scopeExceeded = "scope_exceeded"
    /// Anything else that went wrong inside Tollgate (500).
    case internalError = "internal_error"

    /// One human line saying what the code means.
    public var title: String {
        switch self {
        case .missingToken: "no access token"
        case .unknownToken: "unknown access token"
        case .expiredToken: "expired proxy access token"
        case .revoked: "revoked grant or token"
        case .wrongServer: "token of another server"
        case .insufficientScope: "missing scope"
        case .originRefused: "browser origin not allowed"
        case .reauthorizationNeeded: "upstream re-authorization needed"
        case .upstreamUnavailable: "upstream provider unavailable"
        case .providerMisconfigured: "upstream provider misconfigured"
        case .serviceUnavailable: "Tollgate's store unavailable"
        case .invalidClient: "invalid client"
        case .invalidRequest: "malformed request"
        case .unknownCode: "unknown authorization code"
        case .expiredCode: "expired authorization code"
        case .replayedCode: "authorization code replayed"
        case .bindingMismatch: "issued to another client, server or redirect URI"
        case .pkceFailed: "PKCE verification failed"
        case .unknownRefreshToken: "unknown refresh token"
        case .expiredRefreshToken: "expired refresh token"
        case .revokedRefreshToken: "revoked refresh token"
        case .refreshTokenReuse: "refresh token reuse"
        case .scopeExceeded: "scope exceeds the grant"
        case .internalError: "internal error"
        }
    }

    /// The reason of an ``OAuthError`` that was thrown without one (a malformed request, an unexpected
    /// failure), from its wire code.
    public init(untagged code: OAuthError.Code) {
        switch code {
        case .invalidClient: self = .invalidClient
        case .invalidToken: self = .unknownToken
        case .invalidScope: self = .scopeExceeded
        case .temporarilyUnavailable: self = .serviceUnavailable
        case .serverError: self = .internalError
        default: self = .invalidRequest
        }
    }
}

/// A refusal as decided: its reason and whatever the deciding code knew about whose request it was.
public struct Refusal: Sendable, Equatable {
    public var reason: RefusalReason
    /// The grant the presented token or code belongs to, when it was found.
    public var grantID: Int64?
    /// The client the token was issued to, or the authenticated client.
    public var clientID: String?
    /// The MCP server of that grant or client.
    public var serverID: Int64?

    public init(_ reason: RefusalReason, grantID: Int64? = nil, clientID: String? = nil, serverID: Int64? = nil) {
        self.reason = reason
        self.grantID = grantID
        self.clientID = clientID
        self.serverID = serverID
    }

    /// The refusal for `grant`'s request.
    public init(_ reason: RefusalReason, of grant: Grant) {
        self.init(reason, grantID: grant.id, clientID: grant.clientID, serverID: grant.serverID)
    }
}
