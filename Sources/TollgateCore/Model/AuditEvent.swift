import Foundation

/// Who did what, when, to which grant, with what result.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var id: Int64
    public var at: Date
    /// `admin` (CLI or console), `server` (serve), `client:<id>`, or `system`.
    public var actor: String
    /// What happened, e.g. `upstream.refresh`, `grant.revoke`, `token.reuse-detected`.
    public var action: String
    public var serverID: Int64?
    public var grantID: Int64?
    public var clientID: String?
    /// `ok`, or the failure class.
    public var outcome: String
    /// A human line without any secret.
    public var detail: String
    /// How long the operation took, when it measured it (an upstream refresh's upstream call).
    public var durationMilliseconds: Int?

    /// Every stored property, as stored.
    public init(id: Int64, at: Date, actor: String, action: String, serverID: Int64? = nil, grantID: Int64? = nil,
                clientID: String? = nil, outcome: String, detail: String, durationMilliseconds: Int? = nil) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.serverID = serverID
        self.grantID = grantID
        self.clientID = clientID
        self.outcome = outcome
        self.detail = detail
        self.durationMilliseconds = durationMilliseconds
    }
}

/// An audit event about to be written.
public struct NewAuditEvent: Sendable {
    public var actor: String
    public var action: String
    public var serverID: Int64?
    public var grantID: Int64?
    public var clientID: String?
    public var outcome: String
    public var detail: String
    /// How long the operation took, when it measured it.
    public var durationMilliseconds: Int?

    public init(actor: String, action: String, serverID: Int64? = nil, grantID: Int64? = nil,
                clientID: String? = nil, outcome: String = "ok", detail: String = "", durationMilliseconds: Int? = nil) {
        self.actor = actor
        self.action = action
        self.serverID = serverID
        self.grantID = grantID
        self.clientID = clientID
        self.outcome = outcome
        self.detail = detail
        self.durationMilliseconds = durationMilliseconds
    }
}
