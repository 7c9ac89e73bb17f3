/// One screen position: a character, how many columns it takes, and its style role.
public struct Cell: Equatable, Sendable {
    /// What is drawn (a space in the right half of a wide character).
    public var character: Character
    /// 1 or 2 for a cell that starts a character; 0 for the right half of a wide character.
    public var width: UInt8
    /// How the theme colours it.
    public var role: StyleRole

    /// A cell.
    public init(character: Character, width: UInt8, role: StyleRole) {
        self.character = character
        self.width = width
        self.role = role
    }

    /// A blank cell.
    public static func blank(_ role: StyleRole = .normal) -> Cell { Cell(character: " ", width: 1, role: role) }
}

/// A grid of cells the renderer draws into and the terminal adapter copies to the screen.
///
/// Everything written goes through ``write(_:column:row:role:limit:)``, which measures characters with the
/// buffer's ``DisplayWidth``, replaces control characters (from client names, upstream errors, …) with `?`
/// so they cannot move the cursor or recolour the terminal, and never splits a wide character.
public struct ScreenBuffer: Sendable, Equatable {
    /// The size in columns and rows.
    public let columns: Int
    public let rows: Int
    /// Row after row.
    public private(set) var cells: [Cell]
    /// How characters are measured (the terminal's own measure when drawing for it).
    public let measure: DisplayWidth

    /// A blank screen.
    public init(columns: Int, rows: Int, measure: DisplayWidth = .builtin) {
        self.columns = max(0, columns)
        self.rows = max(0, rows)
        self.measure = measure
        cells = Array(repeating: .blank(), count: self.columns * self.rows)
    }

    /// Same size and same cells (the measure is not compared).
    public static func == (a: ScreenBuffer, b: ScreenBuffer) -> Bool {
        a.columns == b.columns && a.rows == b.rows && a.cells == b.cells
    }

    /// The cell at a position.
    public subscript(column: Int, row: Int) -> Cell {
        cells[row * columns + column]
    }

    /// Fills columns `from..<to` of `row` with blanks of `role`.
    public mutating func fill(row: Int, from: Int = 0, to: Int? = nil, role: StyleRole) {
        guard row >= 0, row < rows else { return }
        let start = max(0, from), end = min(columns, to ?? columns)
        guard start < end else { return }
        repairWide(at: start, row: row)
        repairWide(at: end - 1, row: row)
        for c in start..<end { cells[row * columns + c] = .blank(role) }
    }

    /// Changes the role of columns `from..<to` of `row`, keeping the characters.
    public mutating func restyle(row: Int, from: Int = 0, to: Int? = nil, role: StyleRole) {
        guard row >= 0, row < rows else { return }
        let start = max(0, from), end = min(columns, to ?? columns)
        guard start < end else { return }
        for c in start..<end { cells[row * columns + c].role = role }
    }

    /// Writes `text` from `column` on `row`, stopping before column `column + limit` (or the edge).
    /// Returns the column after the last character written.
    @discardableResult
    public mutating func write(_ text: String, column: Int, row: Int, role: StyleRole, limit: Int? = nil) -> Int {
        guard row >= 0, row < rows else { return column }
        let end = min(columns, limit.map { column + max(0, $0) } ?? columns)
        var c = max(0, column)
        for character in text {
            var ch = character
            var width = measure.of(ch) ?? 0
            if width == 0 { ch = "?"; width = 1 }
            if c + width > end { break }
            repairWide(at: c, row: row)
            if width == 2 { repairWide(at: c + 1, row: row) }
            cells[row * columns + c] = Cell(character: ch, width: UInt8(width), role: role)
            if width == 2 { cells[row * columns + c + 1] = Cell(character: " ", width: 0, role: role) }
            c += width
        }
        return c
    }

    /// Before a cell is overwritten: blanks the other half of a wide character it is part of.
    private mutating func repairWide(at column: Int, row: Int) {
        guard column >= 0, column < columns else { return }
        let i = row * columns + column
        if cells[i].width == 0, column > 0 {
            cells[i - 1] = .blank(cells[i - 1].role)
        } else if cells[i].width == 2, column + 1 < columns {
            cells[i + 1] = .blank(cells[i + 1].role)
        }
    }

    /// The screen as text, one line per row, trailing spaces removed (what the snapshots store).
    public func text() -> String {
        var lines: [String] = []
        lines.reserveCapacity(rows)
        for r in 0..<rows {
            var line = ""
            for c in 0..<columns {
                let cell = cells[r * columns + c]
                if cell.width > 0 { line.append(cell.character) }
            }
            while line.last == " " { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// The roles as one letter per column (see ``StyleRole/maskCode``), trailing `.` removed.
    public func roleMask() -> String {
        var lines: [String] = []
        for r in 0..<rows {
            var line = String(cells[(r * columns)..<((r + 1) * columns)].map(\.role.maskCode))
            while line.last == "." { line.removeLast() }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

extension DisplayWidth {
    /// `text` cut to at most `width` columns, ending in `ellipsis` when it was cut.
    public func fit(_ text: String, _ width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if of(text) <= width { return text }
        let room = width - of(ellipsis)
        guard room > 0 else { return String(repeating: ".", count: width) }
        var out = "", used = 0
        for ch in text {
            let w = of(ch) ?? 1
            if used + w > room { break }
            out.append(ch)
            used += w
        }
        return out + ellipsis
    }

    /// `text` fitted to exactly `width` columns: cut with `ellipsis`, or padded with spaces (on the left when `right`).
    public func pad(_ text: String, _ width: Int, right: Bool = false, ellipsis: String = "…") -> String {
        let fitted = fit(text, width, ellipsis: ellipsis)
        let gap = String(repeating: " ", count: max(0, width - of(fitted)))
        return right ? gap + fitted : fitted + gap
    }
}
