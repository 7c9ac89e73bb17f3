import Foundation

extension Grant {
    /// The default window in which a grant counts as "expiring".
    public static let defaultWarningWindow: TimeInterval = 300

    /// The status shown to people at `now`: stored state plus the expiry of the upstream and proxy tokens.
    public func status(at now: Date, warningWindow: TimeInterval = Grant.defaultWarningWindow) -> GrantStatus {
        switch state {
        case .revoked: return .revoked
        case .needsReauth: return .needsReauth
        case .active: break
        }
        if let expiry = upstream.accessExpiresAt, expiry <= now {
            return upstream.hasRefreshToken && providerSupportsRefresh ? .expired : .needsReauth
        }
        let soon = now.addingTimeInterval(warningWindow)
        if let expiry = upstream.accessExpiresAt, expiry <= soon { return .expiring }
        if let expiry = proxyAccessExpiresAt, expiry > now, expiry <= soon { return .expiring }
        return .active
    }

    /// Whether the upstream credential can be refreshed; the console and CLI offer no refresh otherwise.
    public var refreshability: Refreshability {
        switch state {
        case .revoked: return .notRefreshable(.revoked)
        case .needsReauth: return .notRefreshable(.needsReauth)
        case .active: break
        }
        if !upstream.hasRefreshToken { return .notRefreshable(.noUpstreamRefreshToken) }
        if !providerSupportsRefresh { return .notRefreshable(.providerCannotRefresh) }
        return .refreshable
    }
}
