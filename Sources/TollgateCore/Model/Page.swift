/// One page of a keyset-paged listing.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Pass as `after` to get the next page; `nil` when this is the last page.
    public var nextCursor: String?
    /// Pass as `before` to get the previous page; `nil` when this page is known to be the first.
    ///
    /// Set by listings that page backwards (grants); a forward page that started after a cursor has one,
    /// the first page has none.
    public var previousCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    /// A page that can be left in both directions.
    public init(items: [Item], nextCursor: String?, previousCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
        self.previousCursor = previousCursor
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

extension GrantSort {
    /// The keyset cursor of `grant` in this order: pass it as `after` or `before` to page from that grant.
    public func cursor(of grant: Grant) -> String {
        switch self {
        case .newest, .oldest: return String(grant.id)
        case .upstreamExpiry: return "\(grant.upstream.accessExpiresAt?.millisecondsSince1970 ?? Int64.max):\(grant.id)"
        }
    }
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
    /// Page backwards: the items just before this cursor (returned in listing order). Takes precedence over `after`.
    public var before: String?
    /// With neither `after` nor `before`: the last page of the listing instead of the first.
    public var fromEnd = false
    /// Only grants whose subject starts with this text (case-sensitive; grants without a subject never match).
    ///
    /// Served from the subject index: a prefix that few grants share is a range scan of those grants, one that
    /// many share walks the listing order and stops after a page. Either way a page costs about the same with a
    /// million grants as with ten.
    public var subjectPrefix: String?

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

extension GrantQuery {
    /// Whether a store reads this page backwards: from the `before` cursor (or, with `fromEnd`, the end) in
    /// reverse listing order.
    public var readsBackwards: Bool { before != nil || (fromEnd && after == nil) }

    /// The page of a keyset listing from the rows a store read: at most `limit + 1` of them, in listing
    /// order or, when ``readsBackwards``, in reverse (the extra row only says that there are more).
    public func page(from rows: [Grant], limit: Int) -> Page<Grant> {
        var items = rows
        let more = items.count > limit
        if more { items.removeLast(items.count - limit) }
        if readsBackwards {
            items.reverse()
            return Page(items: items, nextCursor: before == nil ? nil : items.last.map(sort.cursor(of:)),
                        previousCursor: more ? items.first.map(sort.cursor(of:)) : nil)
        }
        return Page(items: items, nextCursor: more ? items.last.map(sort.cursor(of:)) : nil,
                    previousCursor: after == nil ? nil : items.first.map(sort.cursor(of:)))
    }
}
