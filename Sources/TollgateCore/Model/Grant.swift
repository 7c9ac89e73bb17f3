import Foundation

/// The stored lifecycle state of a grant; the status shown to people adds time (see ``GrantStatus``).
public enum GrantState: String, Sendable, Codable {
    case active
    /// The upstream refused the refresh token (`invalid_grant`), or there is none and the access token expired.
    case needsReauth = "needs-reauth"
    case revoked
}

/// The outcome of one upstream refresh attempt.
public enum RefreshOutcome: String, Sendable, Codable, CaseIterable {
    case succeeded
    /// `invalid_grant`: the user must authorize again.
    case needsReauth = "needs-reauth"
    /// `invalid_client` or a similar configuration fault at the provider.
    case providerMisconfigured = "provider-misconfigured"
    /// 429, 5xx, timeout, connection failure, malformed answer: the grant is untouched.
    case transient
}

/// Metadata of a grant's upstream credential; the tokens themselves stay encrypted in the store.
public struct UpstreamCredentialInfo: Sendable, Equatable, Codable {
    /// When the upstream access token expires; `nil` means the upstream did not say ("expiry unknown").
    public var accessExpiresAt: Date?
    /// Whether the upstream issued a refresh token.
    public var hasRefreshToken: Bool
    /// When the upstream refresh token expires (`refresh_expires_in`), if the upstream said.
    public var refreshExpiresAt: Date?
    /// The scope the upstream granted, if it said.
    public var scope: String?
    /// When Tollgate received the current upstream access token (bounds the early-refresh window).
    public var obtainedAt: Date?

    public init(accessExpiresAt: Date?, hasRefreshToken: Bool, refreshExpiresAt: Date?, scope: String?, obtainedAt: Date? = nil) {
        self.accessExpiresAt = accessExpiresAt
        self.hasRefreshToken = hasRefreshToken
        self.refreshExpiresAt = refreshExpiresAt
        self.scope = scope
        self.obtainedAt = obtainedAt
    }
}

/// One user × client × server authorization.
public struct Grant: Sendable, Equatable, Codable {
    public var id: Int64
    public var serverID: Int64
    public var serverSlug: String
    public var clientID: String
    public var clientName: String
    /// Who the user is at the upstream (`sub`); `nil` when unknown.
    public var subject: String?
    public var scopes: [String]
    public var resource: String
    public var state: GrantState
    public var upstream: UpstreamCredentialInfo
    /// Expiry of the newest live proxy access token.
    public var proxyAccessExpiresAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var lastRefreshAt: Date?
    public var lastRefreshOutcome: RefreshOutcome?
    /// Consecutive transient refresh failures (drives backoff).
    public var refreshFailures: Int
    /// Not before this instant will a non-forced refresh be tried again after a transient failure.
    public var refreshNotBefore: Date?
    /// Whether the provider of this grant's server can refresh at all.
    public var providerSupportsRefresh: Bool
    public var revokedAt: Date?
    /// Bumped on every write of the upstream credential (the refresh coordinator's version check).
    public var version: Int64
    /// Why the grant is in its state, in words for an admin (set with `needs-reauth`: what the upstream
    /// answered, and whether an earlier refresh attempt had been interrupted); `nil` when there is nothing to add.
    public var stateReason: String? = nil

    /// A grant as stored.
    public init(id: Int64, serverID: Int64, serverSlug: String, clientID: String, clientName: String, subject: String?,
                scopes: [String], resource: String, state: GrantState, upstream: UpstreamCredentialInfo,
                proxyAccessExpiresAt: Date?, createdAt: Date, updatedAt: Date, lastRefreshAt: Date?,
                lastRefreshOutcome: RefreshOutcome?, refreshFailures: Int, refreshNotBefore: Date?,
                providerSupportsRefresh: Bool, revokedAt: Date?, version: Int64, stateReason: String? = nil) {
        self.id = id
        self.serverID = serverID
        self.serverSlug = serverSlug
        self.clientID = clientID
        self.clientName = clientName
        self.subject = subject
        self.scopes = scopes
        self.resource = resource
        self.state = state
        self.upstream = upstream
        self.proxyAccessExpiresAt = proxyAccessExpiresAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastRefreshAt = lastRefreshAt
        self.lastRefreshOutcome = lastRefreshOutcome
        self.refreshFailures = refreshFailures
        self.refreshNotBefore = refreshNotBefore
        self.providerSupportsRefresh = providerSupportsRefresh
        self.revokedAt = revokedAt
        self.version = version
        self.stateReason = stateReason
    }
}

/// A grant as people see it: its state with time applied.
public enum GrantStatus: String, Sendable, Codable, CaseIterable {
    case active
    /// The upstream or proxy access token expires within the warning window.
    case expiring
    /// The upstream access token has expired and can be refreshed.
    case expired
    case needsReauth = "needs-reauth"
    case revoked
}

/// Whether a grant's upstream credential can be refreshed, and why not.
public enum Refreshability: Sendable, Equatable {
    case refreshable
    case notRefreshable(NotRefreshableReason)

    public var isRefreshable: Bool { self == .refreshable }
}

/// Why a grant offers no refresh.
public enum NotRefreshableReason: String, Sendable, Equatable {
    case revoked = "the grant is revoked"
    case noUpstreamRefreshToken = "the upstream issued no refresh token"
    case providerCannotRefresh = "the provider does not support refresh"
    case needsReauth = "the upstream refused the refresh token; the user must authorize again"
}
