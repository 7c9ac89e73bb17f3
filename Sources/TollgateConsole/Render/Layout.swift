/// Where things go on a screen of a given size; the reducer (for paging) and the renderer share it.
///
/// Row 0 is the title bar, the last row the key hints, the one above it the flash or input line; the body
/// is in between. The grants view adds a detail pane under its table when the terminal is at least
/// ``paneMinimumColumns`` wide and ``paneMinimumRows`` high; narrower terminals drop it.
public struct Layout: Sendable, Equatable {
    /// The screen size.
    public var columns: Int
    public var rows: Int

    /// Below this size the console shows only a notice.
    public static let minimumColumns = 40
    public static let minimumRows = 8
    /// From this size on, the grants view shows its detail pane.
    public static let paneMinimumColumns = 100
    public static let paneMinimumRows = 30
    /// Rows of the pane, its rule included.
    public static let paneHeight = 7

    /// The layout of a screen of this size.
    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }

    /// Whether the terminal is too small for anything but a notice.
    public var isTooSmall: Bool { columns < Self.minimumColumns || rows < Self.minimumRows }

    /// The title bar, the key hints, and the flash or input line above them.
    public var titleRow: Int { 0 }
    public var footerRow: Int { rows - 1 }
    public var messageRow: Int { rows - 2 }
    /// The first body row.
    public var bodyTop: Int { 1 }
    /// Rows of body between the title and the message line.
    public var bodyRows: Int { max(0, rows - 3) }

    /// Whether the grants view shows its detail pane.
    public var showsGrantPane: Bool { columns >= Self.paneMinimumColumns && rows >= Self.paneMinimumRows }

    /// The header row of a list view's table.
    public var tableHeaderRow: Int { bodyTop }
    /// The first data row of a list view's table.
    public var tableTop: Int { bodyTop + 1 }

    /// Data rows a list view shows at once.
    public func tableRows(for view: ViewKind) -> Int {
        let pane = view == .grants && showsGrantPane ? Self.paneHeight : 0
        return max(1, bodyRows - 1 - pane)
    }

    /// Lines a text view (detail, well-known, help) shows at once.
    public var textRows: Int { max(1, bodyRows) }
}
