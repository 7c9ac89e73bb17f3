extension Renderer {
    /// Draws scrollable lines into the body; with `showsCursor`, the cursor's line is highlighted and marked like a
    /// selected row.
    func drawText(_ screen: inout ScreenBuffer, _ state: ConsoleState, _ lines: [StyledLine], _ position: TextPosition,
                  showsCursor: Bool = true) {
        let layout = state.layout
        for row in 0..<layout.textRows {
            let index = position.line + row
            guard index < lines.count else { break }
            let isCursor = showsCursor && index == position.cursor
            if isCursor { markSelected(&screen, row: layout.bodyTop + row) }
            var skip = position.column
            var x = 1
            for span in lines[index].spans {
                var text = span.text
                if skip > 0 {
                    let dropped = String(text.prefix(skip))
                    skip -= dropped.count
                    text = String(text.dropFirst(dropped.count))
                }
                guard !text.isEmpty else { continue }
                x = screen.write(text, column: x, row: layout.bodyTop + row, role: isCursor ? .selected : span.role,
                                 limit: screen.columns - 1 - x)
            }
        }
    }

    /// The look of a selected table row or a text view's cursor line: the row highlighted, the marker in column 0.
    func markSelected(_ screen: inout ScreenBuffer, row: Int) {
        screen.fill(row: row, role: .selected)
        screen.write(glyphs.marker, column: 0, row: row, role: .selected)
    }

    func drawDetail(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        guard let info = state.detail else {
            let text = state.detailError.map { "error: \($0)" } ?? "loading\(glyphs.ellipsis)"
            screen.write(text, column: 1, row: state.layout.bodyTop, role: .muted)
            return
        }
        drawText(&screen, state, DetailText.lines(for: info, state: state, glyphs: glyphs), state.detailPosition)
    }

    func drawWellKnown(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        guard let documents = state.wellKnown else {
            let text = state.wellKnownError.map { "error: \($0)" } ?? "loading\(glyphs.ellipsis)"
            screen.write(text, column: 1, row: state.layout.bodyTop, role: .muted)
            return
        }
        drawText(&screen, state, WellKnownText.lines(for: documents), state.wellKnownPosition)
    }

    /// A confirmation, centred; the focused button is bracketed with `>` `<` as well as highlighted.
    func drawDialog(_ screen: inout ScreenBuffer, _ state: ConsoleState, _ dialog: ConfirmDialog) {
        let width = min(screen.columns - 4, 66)
        let inner = width - 4
        var body: [String] = []
        let title: String
        switch dialog.target {
        case .grant(let g):
            title = " Revoke grant \(g.id)? "
            body += wrap("Revoke grant \(g.id): subject \(g.subject ?? "unknown"), client \(g.clientName), server \(g.serverSlug)?", inner)
            body += wrap("Its proxy tokens stop working at once; the user must authorize again.", inner)
            body += wrap("\"Revoke + upstream\" first revokes the upstream refresh token at the provider.", inner)
        case .bulk(let action, let scope, let count):
            let what = "\(grouped(count)) grant\(count == 1 ? "" : "s")"
            if action == .revoke {
                title = " Revoke \(what)? "
                body += wrap("Revoke \(what) (every one not revoked yet) of \(scope)?", inner)
                if scope.subject != nil { body += wrap("The subject is matched exactly, not as a prefix.", inner) }
                body += wrap("Their proxy tokens stop working at once; the users must authorize again.", inner)
                body += wrap("\"Revoke + upstream\" first revokes each upstream refresh token at the provider.", inner)
            } else {
                title = " Refresh \(what)? "
                body += wrap("Force an upstream refresh of \(what) (every refreshable one) of \(scope)?", inner)
                if scope.subject != nil { body += wrap("The subject is matched exactly, not as a prefix.", inner) }
                body += wrap("Each goes to the provider through the refresh coordinator, 4 at a time.", inner)
            }
            body += wrap("It runs in the background; Esc cancels it.", inner)
        case .client(let entry, let count):
            title = " Revoke client \(entry.client.id)? "
            body += wrap("Revoke client \(entry.client.name) (\(entry.client.id)) of server \(entry.serverSlug), with the \(grouped(count)) grant\(count == 1 ? "" : "s") it holds?", inner)
            body += wrap("It can no longer obtain tokens; its proxy tokens stop working at once.", inner)
        }
        let buttons = dialog.buttons.map { button in
            button == dialog.focus ? "[> \(button.title) <]" : "[  \(button.title)  ]"
        }
        let buttonLine = buttons.joined(separator: " ")
        let buttonLines = measure.of(buttonLine) <= inner ? [buttons] : buttons.map { [$0] }
        let height = body.count + buttonLines.count + 3
        let left = (screen.columns - width) / 2
        let top = max(1, (screen.rows - height) / 2)
        for y in top..<min(screen.rows - 1, top + height) { screen.fill(row: y, from: left, to: left + width, role: .dialog) }
        let horizontal = String(repeating: glyphs.horizontal, count: max(0, width - 2))
        screen.write(glyphs.topLeft + horizontal + glyphs.topRight, column: left, row: top, role: .border)
        screen.write(title, column: left + 2, row: top, role: .dialogTitle)
        for y in (top + 1)..<(top + height - 1) {
            screen.write(glyphs.vertical, column: left, row: y, role: .border)
            screen.write(glyphs.vertical, column: left + width - 1, row: y, role: .border)
        }
        screen.write(glyphs.bottomLeft + horizontal + glyphs.bottomRight, column: left, row: top + height - 1, role: .border)
        for (i, line) in body.enumerated() { screen.write(line, column: left + 2, row: top + 1 + i, role: .dialog) }
        for (i, line) in buttonLines.enumerated() {
            var x = left + 2
            let y = top + 2 + body.count + i
            for label in line {
                let focused = label.hasPrefix("[>")
                x = screen.write(label, column: x, row: y, role: focused ? .buttonFocus : .button) + 1
            }
        }
    }
}
