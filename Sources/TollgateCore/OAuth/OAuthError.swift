/// An OAuth error with its RFC code and a human description (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707).
///
/// The mapping from code to HTTP status lives here and nowhere else.
public struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The RFC error code as it appears on the wire.
    public struct Code: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let invalidRequest = Code(rawValue: "invalid_request")
        public static let invalidClient = Code(rawValue: "invalid_client")
        public static let invalidGrant = Code(rawValue: "invalid_grant")
        public static let unauthorizedClient = Code(rawValue: "unauthorized_client")
        public static let unsupportedGrantType = Code(rawValue: "unsupported_grant_type")
        public static let unsupportedResponseType = Code(rawValue: "unsupported_response_type")
        public static let invalidScope = Code(rawValue: "invalid_scope")
        public static let invalidTarget = Code(rawValue: "invalid_target")
        public static let accessDenied = Code(rawValue: "access_denied")
        public static let serverError = Code(rawValue: "server_error")
        public static let temporarilyUnavailable = Code(rawValue: "temporarily_unavailable")
        public static let invalidRedirectURI = Code(rawValue: "invalid_redirect_uri")
        public static let invalidClientMetadata = Code(rawValue: "invalid_client_metadata")
        public static let invalidToken = Code(rawValue: "invalid_token")
        public static let unsupportedTokenType = Code(rawValue: "unsupported_token_type")
        /// Too many requests from the caller (answered 429 with `Retry-After`); not an RFC 6749 code, the
        /// one authorization servers commonly use for rate limits.
        public static let tooManyRequests = Code(rawValue: "too_many_requests")
    }

    public let code: Code
    /// Human-readable, safe to show to the client: never contains a token or secret.
    public let errorDescription: String
    /// For `temporarily_unavailable`: whole seconds after which trying again can succeed (`Retry-After`).
    public let retryAfter: Int?
    /// Why the request was refused, as decided where it was decided (see `because(_:)`); `nil`
    /// for errors thrown without one (``refusalReason`` then falls back on the wire code).
    public private(set) var refusal: Refusal?

    public init(_ code: Code, _ description: String, retryAfter: Int? = nil, refusal: Refusal? = nil) {
        self.code = code
        self.errorDescription = description
        self.retryAfter = retryAfter
        self.refusal = refusal
    }

    /// The same error, tagged with the refusal that caused it.
    public func because(_ refusal: Refusal) -> OAuthError {
        var tagged = self
        tagged.refusal = refusal
        return tagged
    }

    /// The same error, tagged with `reason` (nothing known about whose request it was).
    public func because(_ reason: RefusalReason) -> OAuthError { because(Refusal(reason)) }

    /// The refusal's reason, or for an untagged error the one its wire code implies.
    public var refusalReason: RefusalReason { refusal?.reason ?? RefusalReason(untagged: code) }

    /// The HTTP status a token, registration or revocation endpoint answers with.
    public var httpStatus: Int {
        switch code {
        case .invalidClient, .invalidToken: return 401
        case .serverError: return 500
        case .temporarilyUnavailable: return 503
        case .tooManyRequests: return 429
        default: return 400
        }
    }

    public var description: String { "\(code.rawValue): \(errorDescription)" }

    public static func invalidRequest(_ d: String) -> OAuthError { .init(.invalidRequest, d) }
    public static func invalidClient(_ d: String) -> OAuthError { .init(.invalidClient, d) }
    public static func invalidGrant(_ d: String) -> OAuthError { .init(.invalidGrant, d) }
    public static func unauthorizedClient(_ d: String) -> OAuthError { .init(.unauthorizedClient, d) }
    public static func invalidScope(_ d: String) -> OAuthError { .init(.invalidScope, d) }
    public static func invalidTarget(_ d: String) -> OAuthError { .init(.invalidTarget, d) }
    public static func invalidToken(_ d: String) -> OAuthError { .init(.invalidToken, d) }
    public static func temporarilyUnavailable(_ d: String, retryAfter: Double? = nil) -> OAuthError {
        .init(.temporarilyUnavailable, d, retryAfter: retryAfter.map { max(1, Int($0.rounded(.up))) })
    }
}
