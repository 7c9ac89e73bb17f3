import TollgateCore

/// A count the console asked for before it can show a confirmation: for a bulk action on the filter, or for
/// revoking a client.
public struct PendingPlan: Equatable, Sendable {
    /// What the confirmation will be about.
    public enum Purpose: Equatable, Sendable {
        case bulk(BulkAction)
        case client(ClientEntry)
    }

    /// The request its answer carries, and what it is for.
    public var request: Int
    public var purpose: Purpose

    public init(request: Int, purpose: Purpose) {
        self.request = request
        self.purpose = purpose
    }
}
