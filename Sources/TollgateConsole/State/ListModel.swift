/// A list view's rows and position: the loaded rows, the ones the filter and sort let through, the selection.
public struct ListModel<Row: Sendable & Equatable>: Sendable, Equatable {
    /// Rows as loaded from the store.
    public var loaded: [Row] = []
    /// `loaded` after the view's text filter and sort: what is shown.
    public var rows: [Row] = []
    /// The filter as typed.
    public var filterText = ""
    /// Index into the view's sort orders.
    public var sortIndex = 0
    /// The selected row (an index into `rows`).
    public var selection = 0
    /// The first row on screen.
    public var top = 0
    /// The load in flight, if any.
    public var request: Int?
    /// Whether the request in flight adds a page rather than replacing the rows.
    public var appending = false
    /// The cursor of the next page, when the store has more (clients, audit).
    public var nextCursor: String?
    /// Whether rows arrived, and the last load's error.
    public var isLoaded = false
    public var error: String?

    public init() {}

    /// The selected row.
    public var selected: Row? { rows.indices.contains(selection) ? rows[selection] : nil }

    /// Moves the selection by `delta` rows and keeps it on screen.
    public mutating func move(by delta: Int, visible: Int) {
        guard !rows.isEmpty else { selection = 0; top = 0; return }
        selection = min(rows.count - 1, max(0, selection + delta))
        keepVisible(visible)
    }

    /// Clamps the selection and scrolls so that it is on screen.
    public mutating func keepVisible(_ visible: Int) {
        let visible = max(1, visible)
        selection = rows.isEmpty ? 0 : min(rows.count - 1, max(0, selection))
        if selection < top { top = selection }
        if selection >= top + visible { top = selection - visible + 1 }
        top = max(0, min(top, max(0, rows.count - visible)))
    }
}

/// A text view's position: how far it is scrolled down and sideways.
public struct TextPosition: Sendable, Equatable {
    /// The first line shown, and how many columns the text is scrolled left.
    public var line = 0
    public var column = 0
    /// The line under the cursor (highlighted; `y` copies its value). Always one of the lines shown.
    public var cursor = 0

    /// A position.
    public init(line: Int = 0, column: Int = 0, cursor: Int = 0) {
        self.line = line
        self.column = column
        self.cursor = cursor
    }
}
