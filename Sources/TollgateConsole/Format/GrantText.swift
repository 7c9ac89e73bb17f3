import Foundation
import TollgateCore

/// How a grant's facts read to people; the CLI's `grant list`/`grant show` and the console share these.
public enum GrantText {
    /// `last refresh` in words: `3m ago (succeeded)` or `never`.
    public static func lastRefresh(_ grant: Grant, now: Date) -> String {
        guard let at = grant.lastRefreshAt else { return "never" }
        return TimeText.relative(at, now: now) + (grant.lastRefreshOutcome.map { " (\($0.rawValue))" } ?? "")
    }

    /// When the grant's live proxy access token expires; a revoked grant has none, whatever the row still says.
    public static func proxyExpiry(_ grant: Grant) -> Date? {
        grant.state == .revoked ? nil : grant.proxyAccessExpiresAt
    }

    /// `yes`, or `no: <reason>`.
    public static func refreshable(_ refreshability: Refreshability) -> String {
        switch refreshability {
        case .refreshable: return "yes"
        case .notRefreshable(let reason): return "no: \(reason.rawValue)"
        }
    }

    /// What a status means, for the detail view and `grant show`.
    public static func explanation(_ status: GrantStatus) -> String {
        switch status {
        case .active: return "the upstream and proxy tokens are valid"
        case .expiring: return "a token expires within \(TimeText.span(Grant.defaultWarningWindow))"
        case .expired: return "the upstream access token has expired; it can be refreshed"
        case .needsReauth: return "the user must authorize again"
        case .revoked: return "no token of this grant works any more"
        }
    }
}
