/// One page of a keyset-paged listing.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Pass as `after` to get the next page; `nil` when this is the last page.
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// How grants are ordered in a listing.
public enum GrantSort: String, Sendable, CaseIterable, Codable {
    /// Newest grant first.
    case newest
    /// Oldest grant first.
    case oldest
    /// Soonest upstream access expiry first (unknown expiries last).
    case upstreamExpiry = "upstream-expiry"
}

/// A filtered, sorted grants listing request.
public struct GrantQuery: Sendable, Equatable {
    public var serverSlug: String?
    public var status: GrantStatus?
    public var clientID: String?
    public var subject: String?
    public var sort: GrantSort
    public var limit: Int
    /// The cursor of the previous page.
    public var after: String?

    public init(serverSlug: String? = nil, status: GrantStatus? = nil, clientID: String? = nil,
                subject: String? = nil, sort: GrantSort = .newest, limit: Int = 100, after: String? = nil) {
        self.serverSlug = serverSlug
        self.status = status
        self.clientID = clientID
        self.subject = subject
        self.sort = sort
        self.limit = limit
        self.after = after
    }
}
