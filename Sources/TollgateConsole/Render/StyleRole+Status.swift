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

    /// The role the console draws text of `tone` in.
    public init(_ tone: TextTone) {
        switch tone {
        case .normal: self = .normal
        case .muted: self = .muted
        case .danger: self = .danger
        case .status(let status): self = .status(status)
        case .busy: self = .spinner
        }
    }
}
