import Foundation

/// A grant's upstream tokens in the clear; exists only in memory, between decrypt and use.
public struct UpstreamCredential: Sendable, Equatable, CustomStringConvertible {
    public var accessToken: Secret
    public var refreshToken: Secret?
    /// `nil` means the upstream did not say ("expiry unknown").
    public var accessExpiresAt: Date?
    public var refreshExpiresAt: Date?
    public var scope: String?
    /// When Tollgate received this access token.
    public var obtainedAt: Date?

    public init(accessToken: Secret, refreshToken: Secret?, accessExpiresAt: Date?,
                refreshExpiresAt: Date? = nil, scope: String? = nil, obtainedAt: Date? = nil) {
        self.obtainedAt = obtainedAt
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.accessExpiresAt = accessExpiresAt
        self.refreshExpiresAt = refreshExpiresAt
        self.scope = scope
    }

    public var info: UpstreamCredentialInfo {
        UpstreamCredentialInfo(accessExpiresAt: accessExpiresAt, hasRefreshToken: refreshToken != nil,
                               refreshExpiresAt: refreshExpiresAt, scope: scope, obtainedAt: obtainedAt)
    }

    public var description: String {
        "UpstreamCredential(expires: \(accessExpiresAt.map { "\($0)" } ?? "unknown"), refresh: \(refreshToken != nil))"
    }
}
