import Foundation

// The value types the v2 store contract adds; they move into the core with it (this file is deleted at merge).

/// Where a run of ``TollgateStore/resealBatch(after:limit:_:)`` stopped: opaque, pass it back.
public struct ResealCursor: Sendable, Equatable {
    /// Which sealed field (0 providers, 1 grants, 2 pending authorizations).
    public var field: Int
    /// The last row key done in that field.
    public var after: String

    public init(field: Int, after: String) {
        self.field = field
        self.after = after
    }
}

/// One batch of a re-seal.
public struct ResealBatch: Sendable, Equatable {
    /// Values replaced in this batch.
    public var resealed: Int
    /// Where to go on; `nil` when every field is done.
    public var next: ResealCursor?

    public init(resealed: Int, next: ResealCursor?) {
        self.resealed = resealed
        self.next = next
    }
}

/// What ``TollgateStore/purge(_:now:limit:dryRun:)`` deletes.
public struct PurgePolicy: Sendable, Equatable {
    /// How long after their expiry proxy tokens and codes are kept.
    public var tokenGrace: TimeInterval
    /// Audit events before this time go.
    public var auditBefore: Date

    public init(tokenGrace: TimeInterval, auditBefore: Date) {
        self.tokenGrace = tokenGrace
        self.auditBefore = auditBefore
    }
}

/// Rows purged (or, in a dry run, that would be), by kind.
public struct PurgeCounts: Sendable, Equatable, Codable {
    public var tokens = 0
    public var codes = 0
    public var pendingAuthorizations = 0
    public var auditEvents = 0

    public init(tokens: Int = 0, codes: Int = 0, pendingAuthorizations: Int = 0, auditEvents: Int = 0) {
        self.tokens = tokens
        self.codes = codes
        self.pendingAuthorizations = pendingAuthorizations
        self.auditEvents = auditEvents
    }

    /// Every kind together.
    public var total: Int { tokens + codes + pendingAuthorizations + auditEvents }
}
