/// A column of a list view: its header, how it takes room (see ``ColumnLayout``), and its cells.
struct TableColumn<Row> {
    var title: String
    var layout: ColumnLayout
    /// The cell's text and, if it is not `normal`, its role.
    var cell: (Row) -> (String, StyleRole?)

    /// A column sized by `layout`.
    init(title: String, layout: ColumnLayout, cell: @escaping (Row) -> (String, StyleRole?)) {
        self.title = title
        self.layout = layout
        self.cell = cell
    }

    /// A column with its layout spelled out (see ``ColumnLayout`` for what each part means).
    init(title: String, minWidth: Int, preferredWidth: Int, flexible: Bool = false, priority: Int, alignRight: Bool = false,
         optional: Bool = false, cell: @escaping (Row) -> (String, StyleRole?)) {
        self.init(title: title, layout: ColumnLayout(minWidth: minWidth, preferredWidth: preferredWidth, flexible: flexible,
                                                     priority: priority, alignRight: alignRight, optional: optional), cell: cell)
    }

    /// The widths of `columns` in `total` columns of screen (`nil`: dropped), with `gap` between columns.
    static func widths(_ tableColumns: [TableColumn<Row>], total: Int, gap: Int) -> [Int?] {
        let columns = tableColumns.map(\.layout)
        var shown = Array(columns.indices)
        func needed(_ widths: (Int) -> Int) -> Int {
            shown.reduce(0) { $0 + widths($1) } + max(0, shown.count - 1) * gap
        }
        while needed({ columns[$0].minWidth }) > total, shown.count > 1,
              let weakest = shown.min(by: { (columns[$0].priority, -$0) < (columns[$1].priority, -$1) }) {
            shown.removeAll { $0 == weakest }
        }
        while needed({ columns[$0].preferredWidth }) > total,
              let weakest = shown.filter({ columns[$0].optional }).min(by: { columns[$0].priority < columns[$1].priority }) {
            shown.removeAll { $0 == weakest }
        }
        var widths = [Int?](repeating: nil, count: columns.count)
        for i in shown { widths[i] = columns[i].minWidth }
        var spare = total - needed { widths[$0] ?? 0 }
        // Fixed columns up to their preferred widths, most important first; then the flexible ones share the
        // rest, evenly up to their preferred widths and evenly beyond.
        for i in shown.sorted(by: { columns[$0].priority > columns[$1].priority }) where spare > 0 && !columns[i].flexible {
            let grow = min(spare, columns[i].preferredWidth - (widths[i] ?? 0))
            if grow > 0 { widths[i]! += grow; spare -= grow }
        }
        let flexible = shown.filter { columns[$0].flexible }
        while spare > 0 {
            let hungry = flexible.filter { (widths[$0] ?? 0) < columns[$0].preferredWidth }
            guard !hungry.isEmpty else { break }
            for i in hungry where spare > 0 { widths[i]! += 1; spare -= 1 }
        }
        if spare > 0, !flexible.isEmpty {
            let share = spare / flexible.count
            for (n, i) in flexible.enumerated() { widths[i]! += share + (n < spare % flexible.count ? 1 : 0) }
        }
        return widths
    }
}

/// How a column of a table takes room: its widths, how much it matters, and its alignment.
struct ColumnLayout: Sendable {
    var minWidth: Int
    var preferredWidth: Int
    /// Takes a share of the room left once every column has its preferred width.
    var flexible = false
    /// Higher stays longer: on a narrow terminal the lowest-priority columns are dropped first.
    var priority: Int
    var alignRight = false
    /// Shown only when every column can have its preferred width.
    var optional = false
}
