import TollgateCore

/// Everything the detail view shows about one grant (the core's ``GrantDetail``, as a console value).
public struct GrantInfo: Sendable, Equatable {
    /// The grant, its status now, and whether it can be refreshed.
    public var grant: Grant
    public var status: GrantStatus
    public var refreshability: Refreshability
    /// `upstream.refresh*` audit events, newest first.
    public var refreshHistory: [AuditEvent]
    /// Every audit event of the grant, newest first.
    public var events: [AuditEvent]
    /// The last refused requests (`request.refused`) and failed refreshes of the grant, newest first.
    public var refusals: [AuditEvent]
    public var refreshErrors: [AuditEvent]

    /// A detail from its parts.
    public init(grant: Grant, status: GrantStatus, refreshability: Refreshability, refreshHistory: [AuditEvent], events: [AuditEvent],
                refusals: [AuditEvent] = [], refreshErrors: [AuditEvent] = []) {
        self.grant = grant
        self.status = status
        self.refreshability = refreshability
        self.refreshHistory = refreshHistory
        self.events = events
        self.refusals = refusals
        self.refreshErrors = refreshErrors
    }

    /// The core's detail of a grant.
    public init(_ detail: GrantDetail) {
        self.init(grant: detail.grant, status: detail.status, refreshability: detail.refreshability,
                  refreshHistory: detail.refreshHistory, events: detail.events, refusals: detail.refusals,
                  refreshErrors: detail.refreshErrors)
    }
}
