import Foundation
import TollgateCore

/// Draws a ``ConsoleState`` into a ``ScreenBuffer``: a pure function of the state, so golden screens are
/// plain text files and the terminal adapter only copies cells.
public struct Renderer: Sendable {
    /// How characters are measured, and which glyphs the terminal can show.
    public var measure: DisplayWidth
    public var glyphs: Glyphs

    /// A renderer for a terminal with this measure and these glyphs.
    public init(measure: DisplayWidth = .builtin, glyphs: Glyphs = .unicode) {
        self.measure = measure
        self.glyphs = glyphs
    }

    /// The screen for `state`.
    public func render(_ state: ConsoleState) -> ScreenBuffer {
        var screen = ScreenBuffer(columns: state.layout.columns, rows: state.layout.rows, measure: measure)
        let layout = state.layout
        guard layout.columns > 0, layout.rows > 0 else { return screen }
        if layout.isTooSmall {
            let notice = "terminal too small: \(layout.columns)×\(layout.rows), need \(Layout.minimumColumns)×\(Layout.minimumRows)"
            for (i, line) in wrap(notice, layout.columns).prefix(layout.rows).enumerated() {
                screen.write(line, column: 0, row: i, role: .flashWarn)
            }
            return screen
        }
        drawTitle(&screen, state)
        if case .help(let help) = state.mode {
            drawText(&screen, state, HelpText.lines(readOnly: state.options.readOnly, matching: help.search), TextPosition(line: help.scroll),
                     showsCursor: false)
        } else {
            switch state.view {
            case .grants: drawGrants(&screen, state)
            case .servers: drawServers(&screen, state)
            case .providers: drawProviders(&screen, state)
            case .clients: drawClients(&screen, state)
            case .audit: drawAudit(&screen, state)
            case .detail: drawDetail(&screen, state)
            case .wellKnown: drawWellKnown(&screen, state)
            }
        }
        drawMessageLine(&screen, state)
        drawFooter(&screen, state)
        if case .dialog(let dialog) = state.mode { drawDialog(&screen, state, dialog) }
        return screen
    }

    // MARK: Frame

    func drawTitle(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let row = state.layout.titleRow
        screen.fill(row: row, role: .title)
        var parts = ["tollgate", titleOfView(state)]
        if case .help(let help) = state.mode {
            parts[1] = "Help"
            if !help.search.isEmpty { parts.append("search: \(help.search)") }
        } else {
            let filter = state.filterText(of: state.view)
            if state.view.isList && !filter.isEmpty { parts.append("filter: \(filter)") }
            if state.view.isList, let sort = state.sortName(of: state.view), [.grants, .servers, .providers].contains(state.view) {
                parts.append("sort: \(sort)")
            }
        }
        var right: [String] = []
        if !state.refreshing.isEmpty {
            right.append("\(state.spinnerFrame(glyphs)) refreshing \(state.refreshing.count)")
        }
        if !state.revoking.isEmpty { right.append("revoking \(state.revoking.count)") }
        if state.options.readOnly { right.append("READ-ONLY") }
        if !state.options.databaseName.isEmpty { right.append(state.options.databaseName) }
        let rightText = right.joined(separator: "  ")
        let rightWidth = measure.of(rightText)
        let leftRoom = screen.columns - 1 - (rightWidth > 0 ? rightWidth + 3 : 0)
        let left = measure.fit(parts.joined(separator: " \(glyphs.separator) "), max(0, leftRoom), ellipsis: glyphs.ellipsis)
        screen.write(left, column: 1, row: row, role: .title)
        if rightWidth > 0, rightWidth + 2 < screen.columns {
            screen.write(rightText, column: screen.columns - 1 - rightWidth, row: row, role: .title)
        }
    }

    func titleOfView(_ state: ConsoleState) -> String {
        func listTitle<Row>(_ name: String, _ list: ListModel<Row>, paged: Bool) -> String {
            guard list.isLoaded else { return "\(name) (\(glyphs.ellipsis))" }
            let loaded = grouped(list.loaded.count) + (paged && list.nextCursor != nil ? "+" : "")
            if list.rows.count != list.loaded.count { return "\(name) (\(grouped(list.rows.count)) of \(loaded))" }
            return "\(name) (\(loaded))"
        }
        switch state.view {
        case .grants:
            let count = state.grants.count.map { grouped($0) + (state.grants.countIsCapped ? "+" : "") } ?? glyphs.ellipsis
            return "Grants (\(count))"
        case .servers: return listTitle("Servers", state.servers, paged: false)
        case .providers: return listTitle("Providers", state.providers, paged: false)
        case .clients: return listTitle("Clients", state.clients, paged: true)
        case .audit: return listTitle("Audit log", state.audit, paged: true)
        case .detail: return "Grant \(state.detailGrantID.map(String.init) ?? "")"
        case .wellKnown: return "Well-known metadata \(glyphs.separator) \(state.wellKnownSlug ?? "")"
        }
    }

    func drawMessageLine(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let row = state.layout.messageRow
        switch state.mode {
        case .filter(let editor):
            screen.fill(row: row, role: .input)
            let end = screen.write("/" + editor.text, column: 0, row: row, role: .input, limit: screen.columns - 1)
            screen.write(glyphs.cursor, column: end, row: row, role: .input)
            return
        case .command(let editor):
            screen.fill(row: row, role: .input)
            let end = screen.write(":" + editor.text, column: 0, row: row, role: .input, limit: screen.columns - 1)
            screen.write(glyphs.cursor, column: end, row: row, role: .input)
            return
        case .help(let help) where help.typing:
            screen.fill(row: row, role: .input)
            let end = screen.write("/" + help.search, column: 0, row: row, role: .input, limit: screen.columns - 1)
            screen.write(glyphs.cursor, column: end, row: row, role: .input)
            return
        default:
            break
        }
        if let flash = state.flash {
            let role: StyleRole = flash.level == .info ? .flashInfo : flash.level == .warning ? .flashWarn : .flashError
            let text = measure.fit("\(flash.level.prefix): \(flash.text)", screen.columns - 1, ellipsis: glyphs.ellipsis)
            if flash.level == .error { screen.fill(row: row, role: role) }
            screen.write(text, column: 0, row: row, role: role)
        } else if let job = state.job {
            let tail = job.cancelling ? " \(glyphs.separator) cancelling\(glyphs.ellipsis)" : " \(glyphs.separator) Esc cancels"
            let text = measure.fit("\(state.spinnerFrame(glyphs)) \(job.progressText)\(tail)", screen.columns - 1, ellipsis: glyphs.ellipsis)
            screen.write(text, column: 0, row: row, role: .spinner)
        } else if state.pendingPlan != nil {
            screen.write("\(state.spinnerFrame(glyphs)) counting\(glyphs.ellipsis)", column: 0, row: row, role: .spinner)
        } else if let (id, _) = state.refreshing.min(by: { $0.key < $1.key }) {
            let more = state.refreshing.count > 1 ? " (and \(state.refreshing.count - 1) more)" : ""
            screen.write("\(state.spinnerFrame(glyphs)) refreshing grant \(id) at the upstream\(glyphs.ellipsis)\(more)",
                         column: 0, row: row, role: .spinner)
        }
    }

    func drawFooter(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let row = state.layout.footerRow
        screen.fill(row: row, role: .footer)
        var column = 0
        if case .command(let editor) = state.mode, !editor.candidates.isEmpty {
            // What Tab could not decide between.
            let text = measure.fit(" " + editor.candidates.joined(separator: "  "), screen.columns - 1, ellipsis: glyphs.ellipsis)
            screen.write(text, column: 0, row: row, role: .footer)
            return
        }
        for binding in KeyTable.visible(context: state.mode.context, view: state.view, readOnly: state.options.readOnly) {
            guard let hint = binding.hint else { continue }
            // An action the selection does not allow says why instead of offering itself.
            let reason = state.mode == .browse ? binding.unavailable?(state) : nil
            let text = reason ?? hint
            let key = " \(binding.footerKey) ", width = measure.of(key) + measure.of(text) + 1
            guard column + width <= screen.columns else { break }
            column = screen.write(key, column: column, row: row, role: reason == nil ? .footerKey : .footer)
            column = screen.write(text + " ", column: column, row: row, role: reason == nil ? .footer : .muted)
        }
    }

    // MARK: Helpers

    /// `1234567` → `1,234,567` (fixed separators: the screen must not depend on the locale).
    func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Words of `text` in lines of at most `width` columns.
    func wrap(_ text: String, _ width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            let candidate = line.isEmpty ? String(word) : line + " " + word
            if measure.of(candidate) > width && !line.isEmpty {
                lines.append(line)
                line = String(word)
            } else {
                line = candidate
            }
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { measure.fit($0, width, ellipsis: glyphs.ellipsis) }
    }
}
