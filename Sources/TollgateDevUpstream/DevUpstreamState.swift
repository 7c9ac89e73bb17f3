import Foundation
import TollgateCore

/// What the development provider should do; changeable while it runs (`POST /_dev/config`).
public struct DevUpstreamBehaviour: Sendable, Codable, Equatable {
    /// Upstream access-token lifetime in seconds.
    public var accessTTL: Int = 3600
    /// Whether refresh tokens are issued at all.
    public var issueRefreshTokens: Bool = true
    /// Whether a refresh returns a new refresh token (rotation) or none (the client keeps the old one).
    public var rotateRefreshTokens: Bool = true
    /// Injected refresh failure: `invalid_grant`, `invalid_client`, `http500`, `http429`, `malformed`, a provider's own
    /// shape (`github_bad_refresh_token`, `github_incorrect_client_credentials`, `slack_invalid_refresh_token`,
    /// `entra_interaction_required`, `empty400`, `unclassifiable`), or nil.
    public var refreshFailure: String?
    /// Delay before answering any token request, in seconds.
    public var tokenDelay: Double = 0
    /// `snake` (RFC 6749) or `camel` (`accessToken`, …) field names.
    public var responseStyle: String = "snake"
    /// `number`, `string` or `omit` for `expires_in`.
    public var expiresInAs: String = "number"
    /// `refresh_expires_in` to send, if any.
    public var refreshExpiresIn: Int?
    /// The `iss` the authorization response carries (RFC 9207); `nil` sends the provider's own issuer.
    public var authorizationResponseIssuer: String?
    /// The `nonce` the ID token carries; `nil` echoes the one of the authorization request (OIDC Core §3.1.2.1).
    public var idTokenNonce: String?

    public init() {}
}

/// Counts and the last token request, for tests.
public struct DevUpstreamStats: Sendable, Codable, Equatable {
    public var tokenCalls = 0
    public var codeExchanges = 0
    public var refreshCalls = 0
    public var revocations = 0
    public var userinfoCalls = 0
    /// Refresh calls per user subject.
    public var refreshCallsBySubject: [String: Int] = [:]
    /// The `Authorization` header of the last token request (development tool: test credentials only).
    public var lastAuthorizationHeader: String?
    /// The form field names of the last token request, in order.
    public var lastFormFields: [String] = []
}

/// The client the development provider accepts.
public struct DevUpstreamClient: Sendable, Codable, Equatable {
    public var clientID: String
    public var clientSecret: String?
    public var authMethod: ClientAuthMethod

    public init(clientID: String = "tollgate-dev", clientSecret: String? = "dev-secret", authMethod: ClientAuthMethod = .clientSecretBasic) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authMethod = authMethod
    }
}

/// The in-memory state of the development provider.
public actor DevUpstreamState {
    struct IssuedRefresh { var subject: String; var scope: String; var used: Bool; var revoked: Bool }
    struct IssuedCode { var subject: String; var scope: String; var redirectURI: String; var challenge: String?; var clientID: String; var nonce: String? }
    struct IssuedAccess { var subject: String; var expiresAt: Date; var revoked: Bool }

    public private(set) var behaviour: DevUpstreamBehaviour
    public private(set) var stats = DevUpstreamStats()
    public private(set) var client: DevUpstreamClient
    var codes: [String: IssuedCode] = [:]
    var refreshTokens: [String: IssuedRefresh] = [:]
    var accessTokens: [String: IssuedAccess] = [:]

    public init(behaviour: DevUpstreamBehaviour = DevUpstreamBehaviour(), client: DevUpstreamClient = DevUpstreamClient()) {
        self.behaviour = behaviour
        self.client = client
    }

    public func setBehaviour(_ b: DevUpstreamBehaviour) { behaviour = b }
    public func update(_ change: @Sendable (inout DevUpstreamBehaviour) -> Void) { change(&behaviour) }
    public func setClient(_ c: DevUpstreamClient) { client = c }
    public func resetStats() { stats = DevUpstreamStats() }

    /// Issues tokens directly (no browser flow), for tests that need an upstream credential.
    public func issueTokens(subject: String, scope: String = "openid") -> (access: String, refresh: String?) {
        let access = "dev_at_" + UUID().uuidString
        accessTokens[access] = IssuedAccess(subject: subject, expiresAt: Date().addingTimeInterval(TimeInterval(behaviour.accessTTL)), revoked: false)
        guard behaviour.issueRefreshTokens else { return (access, nil) }
        let refresh = "dev_rt_" + UUID().uuidString
        refreshTokens[refresh] = IssuedRefresh(subject: subject, scope: scope, used: false, revoked: false)
        return (access, refresh)
    }

    /// Revokes an issued refresh token, as if the user disconnected the app at the provider.
    public func revokeRefreshToken(_ token: String) { refreshTokens[token]?.revoked = true }

    /// Revokes every refresh token of a subject.
    /// Makes every access token of `subject` expire now (their refresh tokens stay good): an upstream session that
    /// ended before the expiry Tollgate was told, or of which it was told none (Salesforce sends no `expires_in`).
    public func expireAccessTokens(subject: String) {
        for (k, v) in accessTokens where v.subject == subject { accessTokens[k]?.expiresAt = .distantPast }
    }

    public func revokeAll(subject: String) {
        for (k, v) in refreshTokens where v.subject == subject { refreshTokens[k]?.revoked = true }
    }

    func recordTokenRequest(authorization: String?, fields: [String]) {
        stats.tokenCalls += 1
        stats.lastAuthorizationHeader = authorization
        stats.lastFormFields = fields
    }

    func newCode(subject: String, scope: String, redirectURI: String, challenge: String?, clientID: String, nonce: String? = nil) -> String {
        let code = "dev_code_" + UUID().uuidString
        codes[code] = IssuedCode(subject: subject, scope: scope, redirectURI: redirectURI, challenge: challenge, clientID: clientID, nonce: nonce)
        return code
    }

    func takeCode(_ code: String) -> IssuedCode? { codes.removeValue(forKey: code) }

    func noteCodeExchange() { stats.codeExchanges += 1 }

    func noteRefresh(subject: String?) {
        stats.refreshCalls += 1
        if let subject { stats.refreshCallsBySubject[subject, default: 0] += 1 }
    }

    func refreshToken(_ token: String) -> IssuedRefresh? { refreshTokens[token] }

    func markUsed(_ token: String) { refreshTokens[token]?.used = true }

    func revoke(_ token: String) {
        stats.revocations += 1
        refreshTokens[token]?.revoked = true
        accessTokens[token]?.revoked = true
    }

    func userinfo(_ token: String) -> String? {
        stats.userinfoCalls += 1
        guard let a = accessTokens[token], !a.revoked, a.expiresAt > Date() else { return nil }
        return a.subject
    }
}
