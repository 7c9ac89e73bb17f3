import Foundation

/// The parameters of a client's authorization request (RFC 6749 §4.1.1, RFC 7636, RFC 8707).
public struct AuthorizationRequest: Sendable {
    public var responseType: String?
    public var clientID: String?
    public var redirectURI: String?
    public var scope: String?
    public var state: String?
    public var codeChallenge: String?
    public var codeChallengeMethod: String?
    public var resource: String?

    /// The longest value any authorization parameter may have, in UTF-8 bytes. `state`, the redirect URI and the
    /// scopes are stored with the pending authorization and echoed later, and anyone can send this request: a bound
    /// keeps what a stranger can make Tollgate store small (RFC 6749 sets none; real values are far shorter).
    public static let maximumParameterLength = 2048

    /// The first parameter longer than ``maximumParameterLength`` and its name, if any.
    public var overlongParameter: String? {
        let named: [(String, String?)] = [("response_type", responseType), ("client_id", clientID), ("redirect_uri", redirectURI),
                                          ("scope", scope), ("state", state), ("code_challenge", codeChallenge),
                                          ("code_challenge_method", codeChallengeMethod), ("resource", resource)]
        return named.first { ($0.1?.utf8.count ?? 0) > Self.maximumParameterLength }?.0
    }

    public init(responseType: String?, clientID: String?, redirectURI: String?, scope: String?, state: String?,
                codeChallenge: String?, codeChallengeMethod: String?, resource: String?) {
        self.responseType = responseType
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.scope = scope
        self.state = state
        self.codeChallenge = codeChallenge
        self.codeChallengeMethod = codeChallengeMethod
        self.resource = resource
    }
}

/// An authorization request that passed validation: ready for the consent page.
public struct ValidatedAuthorization: Sendable {
    public var server: Server
    public var client: Client
    public var redirectURI: String
    public var scopes: [String]
    public var resource: String
    public var state: String?
    public var codeChallenge: String
}

/// Why an authorization request failed, and whether the error may be sent to the redirect URI.
public enum AuthorizationFailure: Error, Sendable {
    /// The client or redirect URI is not trustworthy: show a page, never redirect (no open redirect).
    case showPage(OAuthError)
    /// Send `error` back to the (validated, trusted) redirect URI with the client's `state` and `iss`.
    case redirect(OAuthError, redirectURI: String, state: String?)
    /// The error is the client's to hear, but its redirect URI is not trusted for an automatic redirect
    /// (RFC 9700 §4.11.1: anyone can register one, so an automatic redirect would be an open redirector):
    /// show the error on a page that names the redirect URI's host and offers a link the user may follow.
    case offerRedirect(OAuthError, redirectURI: String, state: String?)
}

/// The upstream callback arrived in a browser other than the one that approved the consent (or without
/// its binding): the signature of a confused-deputy attempt, where someone else's approved authorization
/// link is opened by a victim signed in at the upstream. Nothing was exchanged or deleted; the browser must
/// be shown a page, never redirected to the client.
public struct AuthorizationInAnotherBrowser: Error, Sendable, Equatable {
    public init() {}
}

/// The result of starting an authorization: where to send the user upstream.
public struct StartedAuthorization: Sendable {
    /// The provider's authorization URL with Tollgate's state, PKCE challenge and scopes.
    public var upstreamAuthorizationURL: String
    public var expiresAt: Date
}

/// What the client's redirect URI receives at the end.
public struct CompletedAuthorization: Sendable {
    /// The client's redirect URI with `code`, `state` and `iss` (or `error`, `error_description`, `state`, `iss`).
    public var redirectURL: String
    /// The grant created, when the authorization succeeded.
    public var grantID: Int64?
}

/// Builds redirect URLs with extra query parameters, preserving the query the URL already has.
public enum URLQuery {
    public static func appending(_ params: [(String, String?)], to url: String) -> String {
        let present = params.compactMap { name, value in value.map { (name, $0) } }
        guard !present.isEmpty else { return url }
        var base = url
        var fragment = ""
        if let hash = base.firstIndex(of: "#") {
            fragment = String(base[hash...])
            base = String(base[..<hash])
        }
        let separator = base.contains("?") ? (base.hasSuffix("?") || base.hasSuffix("&") ? "" : "&") : "?"
        return base + separator + FormEncoding.encode(present) + fragment
    }
}
