import TollgateCore

extension StyleRole {
    /// The role of a grant status; the status word is always drawn too.
    public static func status(_ status: GrantStatus) -> StyleRole {
        switch status {
        case .active: return .statusActive
        case .expiring: return .statusExpiring
        case .expired: return .statusExpired
        case .needsReauth: return .statusNeedsReauth
        case .revoked: return .statusRevoked
        }
    }
}

extension GrantText {
    /// What a status means, for the detail view.
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
