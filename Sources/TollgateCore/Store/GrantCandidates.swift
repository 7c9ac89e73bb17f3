import Foundation

/// How a store answers the filters of a grant listing that no index answers in the listing's order, the same on
/// every engine, so that a page costs about the same at a million grants as at ten, whatever the filter.
///
/// The listing's own order (id, or upstream expiry) is always an index walk. A filter that many grants in that
/// order pass is cheap to walk: the page fills after a few rows. The slow filters are those that few grants pass,
/// or that many pass but only far down the order (a subject prefix shared by 200,000 grants that are the oldest
/// ones, in newest-first order). For those the store narrows first:
///
/// - **Candidates.** Every filter except the order has an index that yields a superset of its grants (a subject
///   prefix: a range of the subject index; a status: ranges of the (state, expiry) indexes, see
///   ``GrantStatus/candidateRanges(now:)``). The store counts that superset index-only, stopping after
///   ``candidateLimit``; when it is no bigger, the page comes from those rows alone (each checked against every
///   condition, then ordered). A status that almost nothing has is a handful of index entries, not a table scan.
/// - **Walk, then index.** A subject prefix (with nothing else filtering, in id order) that more grants share
///   walks the first ``prefixWalkLimit`` grants of the order; when they do not fill the page, the page's ids come
///   from the covering subject index instead (a top-k by id over the prefix's entries, no rows read).
/// - Otherwise the store walks the order and stops after a page.
///
/// Counts follow the same paths: exact through the candidates, bounded (``TollgateStore/countGrants(_:upTo:now:)``)
/// otherwise.
public enum GrantCandidates {
    /// A superset of at most this many grants is read and ordered in full.
    public static let candidateLimit = 5_000
    /// How many grants of the listing order a subject-prefix page walks before it asks the subject index.
    public static let prefixWalkLimit = 10_000
}

/// One index range of a superset of the grants a status selects: grants in `state` whose `column` lies in
/// (`after`, `through`] (a bound that is `nil` is open), or, with ``isNull``, whose column is NULL.
///
/// Both engines keep an index on (state, upstream access expiry) and one on (state, proxy access expiry), so each
/// range is one index range.
public struct GrantCandidateRange: Sendable, Equatable {
    /// Which expiry the range is over.
    public enum Column: Sendable, Equatable {
        case upstreamAccessExpiry
        case proxyAccessExpiry

        /// The column's name in both schemas.
        public var name: String {
            switch self {
            case .upstreamAccessExpiry: "upstream_access_expires_at"
            case .proxyAccessExpiry: "proxy_access_expires_at"
            }
        }
    }

    public var state: GrantState
    public var column: Column?
    public var after: Date?
    public var through: Date?
    public var isNull = false

    /// A range of `state` grants, optionally bounded on `column`.
    public init(state: GrantState, column: Column? = nil, after: Date? = nil, through: Date? = nil, isNull: Bool = false) {
        self.state = state
        self.column = column
        self.after = after
        self.through = through
        self.isNull = isNull
    }

    /// The range's conditions on the `grants` table (unqualified columns), for either engine: `bind` turns a
    /// millisecond time into the engine's placeholder. The state is written as its literal (a fixed enum value).
    public func conditions(_ bind: (Int64) throws -> String) rethrows -> [String] {
        var terms = ["state = '\(state.rawValue)'"]
        guard let column else { return terms }
        if isNull { terms.append("\(column.name) IS NULL") }
        if let after { terms.append("\(column.name) > \(try bind(after.millisecondsSince1970))") }
        if let through { terms.append("\(column.name) <= \(try bind(through.millisecondsSince1970))") }
        return terms
    }
}

extension GrantStatus {
    /// Index ranges whose union holds every grant with this status at `now` (and maybe some others: the
    /// listing checks the whole condition on each). Ranges may overlap; a store de-duplicates by id.
    public func candidateRanges(now: Date, warningWindow: TimeInterval = Grant.defaultWarningWindow) -> [GrantCandidateRange] {
        let soon = now.addingTimeInterval(warningWindow)
        switch self {
        case .revoked:
            return [GrantCandidateRange(state: .revoked)]
        case .needsReauth:
            // Marked so, or active with an expired upstream token that cannot be refreshed.
            return [GrantCandidateRange(state: .needsReauth),
                    GrantCandidateRange(state: .active, column: .upstreamAccessExpiry, through: now)]
        case .expired:
            return [GrantCandidateRange(state: .active, column: .upstreamAccessExpiry, through: now)]
        case .expiring:
            return [GrantCandidateRange(state: .active, column: .upstreamAccessExpiry, after: now, through: soon),
                    GrantCandidateRange(state: .active, column: .proxyAccessExpiry, after: now, through: soon)]
        case .active:
            // Not expired nor expiring by the upstream token (the proxy-token condition is checked on each row).
            return [GrantCandidateRange(state: .active, column: .upstreamAccessExpiry, after: soon),
                    GrantCandidateRange(state: .active, column: .upstreamAccessExpiry, isNull: true)]
        }
    }
}
