import Foundation

/// Which audit events to list (newest first): every filter is optional and they combine with AND.
///
/// Backed by indexes on both stores: `(grant_id, action, id)` for a grant's events of some actions,
/// `(action, id)` for one action across grants, the primary key for `after`/`before` pages.
public struct AuditQuery: Sendable, Equatable {
    /// Only events of this grant.
    public var grantID: Int64?
    /// Only events whose action is one of these (`nil`: any action).
    public var actions: [String]?
    /// Only events whose outcome is not `ok`.
    public var failuresOnly: Bool
    /// Only events at or after this time.
    public var since: Date?
    /// Only events with an id greater than this one (the console's live tail: what is new).
    public var after: Int64?
    /// Only events with an id smaller than this one (the next page).
    public var before: Int64?
    /// At most this many events.
    public var limit: Int

    public init(grantID: Int64? = nil, actions: [String]? = nil, failuresOnly: Bool = false, since: Date? = nil,
                after: Int64? = nil, before: Int64? = nil, limit: Int) {
        self.grantID = grantID
        self.actions = actions
        self.failuresOnly = failuresOnly
        self.since = since
        self.after = after
        self.before = before
        self.limit = limit
    }

    /// The actions of upstream refresh attempts (automatic and forced).
    public static let refreshActions = ["upstream.refresh", "upstream.refresh.forced"]

    /// A grant's last `limit` refused requests.
    public static func refusals(grantID: Int64?, limit: Int) -> AuditQuery {
        AuditQuery(grantID: grantID, actions: [RefusalRecorder.action], limit: limit)
    }

    /// A grant's last `limit` failed upstream refreshes.
    public static func refreshErrors(grantID: Int64, limit: Int) -> AuditQuery {
        AuditQuery(grantID: grantID, actions: refreshActions, failuresOnly: true, limit: limit)
    }
}

/// How a server's upstream refreshes went over a recent period (the console's provider health line).
public struct RefreshHealth: Sendable, Equatable {
    public var serverID: Int64
    /// Refresh attempts recorded (automatic and forced).
    public var attempts: Int
    /// Those whose outcome was `ok`.
    public var succeeded: Int
    /// Mean and longest upstream latency of the attempts that recorded one, in milliseconds.
    public var meanMilliseconds: Int?
    public var maxMilliseconds: Int?
    /// The newest failed attempt in the period.
    public var lastError: AuditEvent?

    public init(serverID: Int64, attempts: Int, succeeded: Int, meanMilliseconds: Int?, maxMilliseconds: Int?, lastError: AuditEvent?) {
        self.serverID = serverID
        self.attempts = attempts
        self.succeeded = succeeded
        self.meanMilliseconds = meanMilliseconds
        self.maxMilliseconds = maxMilliseconds
        self.lastError = lastError
    }

    /// Succeeded attempts over all, 0…1; `nil` without attempts.
    public var successRate: Double? { attempts == 0 ? nil : Double(succeeded) / Double(attempts) }
}
