import TollgateCore

/// Where a window of the grants listing starts, in keyset terms: re-running the anchor's query gives the
/// same window again with fresh data, which is how the console follows changes without reading more.
public enum WindowAnchor: Equatable, Sendable {
    /// The first rows of the listing.
    case start
    /// The rows after this cursor.
    case after(String)
    /// The rows before this cursor.
    case before(String)
    /// The last rows of the listing.
    case end
}

/// Where the selection goes when a window arrives.
public enum WindowPlacement: Equatable, Sendable {
    case first
    case last
    /// On the grant that is selected when the window arrives, at the same height on screen.
    case keepSelection
}

/// The grants view: a window of the listing around the selection, never the whole table.
///
/// The window holds about three screens of rows. When the selection comes within a screen of either edge
/// and the listing goes on, the console asks for a window shifted that way (one keyset query); the rows on
/// screen stay where they are while it comes.
public struct GrantsModel: Sendable, Equatable {
    /// The filter as typed (the text that is in force), parsed, and the sort order.
    public var filterText = ""
    public var filter = GrantFilter()
    public var sort: GrantSort = .newest
    /// The rows of the window, in listing order.
    public var rows: [Grant] = []
    /// How the window was loaded.
    public var anchor: WindowAnchor = .start
    /// Whether the listing has rows before / after the window.
    public var hasBefore = false
    public var hasAfter = false
    /// The selected row and the first row on screen (indices into `rows`).
    public var selection = 0
    public var top = 0
    /// The window load in flight.
    public var request: Int?
    /// The anchor and placement of the load in flight.
    public var pendingAnchor: WindowAnchor = .start
    public var placement: WindowPlacement = .first
    /// How many grants the filter selects (up to ``countLimit``); `nil` until counted.
    public var count: Int?
    /// Where the count in flight (or the last one) stops: `Int.max` without a filter.
    public var countLimit = Int.max
    /// Whether the count reached its limit (the title says "N+").
    public var countIsCapped: Bool { count.map { $0 >= countLimit } ?? false }
    /// The count in flight.
    public var countRequest: Int?
    /// Whether a window arrived, and the last load's error.
    public var isLoaded = false
    public var error: String?

    public init() {}

    /// The selected grant.
    public var selected: Grant? { rows.indices.contains(selection) ? rows[selection] : nil }
}
