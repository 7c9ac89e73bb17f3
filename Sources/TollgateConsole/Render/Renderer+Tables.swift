import Foundation
import TollgateCore

extension Renderer {
    /// Draws a list view's header and visible rows; the selected row is marked with a glyph, not only a colour.
    func drawTable<Row>(_ screen: inout ScreenBuffer, _ state: ConsoleState, columns: [TableColumn<Row>], rows: [Row],
                        selection: Int, top: Int, visible: Int, empty: String?) {
        let layout = state.layout
        let x0 = 2
        let widths = TableColumn.widths(columns, total: screen.columns - x0 - 1, gap: 2)
        screen.fill(row: layout.tableHeaderRow, role: .header)
        var x = x0
        for (i, column) in columns.enumerated() {
            guard let width = widths[i] else { continue }
            screen.write(measure.pad(column.title, width, right: column.layout.alignRight, ellipsis: glyphs.ellipsis), column: x,
                         row: layout.tableHeaderRow, role: .header)
            x += width + 2
        }
        if rows.isEmpty, let empty {
            screen.write(measure.fit(empty, screen.columns - x0, ellipsis: glyphs.ellipsis), column: x0, row: layout.tableTop, role: .muted)
            return
        }
        for line in 0..<visible {
            let index = top + line
            guard index < rows.count else { break }
            let y = layout.tableTop + line
            let isSelected = index == selection
            if isSelected { markSelected(&screen, row: y) }
            x = x0
            for (i, column) in columns.enumerated() {
                guard let width = widths[i] else { continue }
                let (text, role) = column.cell(rows[index])
                screen.write(measure.pad(text, width, right: column.layout.alignRight, ellipsis: glyphs.ellipsis), column: x, row: y,
                             role: isSelected ? .selected : (role ?? .normal))
                x += width + 2
            }
        }
    }

    /// A list view's table: its rows, selection and scroll position, and what to say when it has no rows.
    func drawList<Row>(_ screen: inout ScreenBuffer, _ state: ConsoleState, columns: [TableColumn<Row>], list: ListModel<Row>,
                       view: ViewKind, what: String) {
        drawTable(&screen, state, columns: columns, rows: list.rows, selection: list.selection, top: list.top,
                  visible: state.layout.tableRows(for: view),
                  empty: emptyText(loaded: list.isLoaded, error: list.error, what: what, filter: list.filterText))
    }

    func emptyText(loaded: Bool, error: String?, what: String, filter: String) -> String {
        if let error { return "error: \(error)" }
        if !loaded { return "loading\(glyphs.ellipsis)" }
        return filter.isEmpty ? "no \(what)" : "no \(what) match the filter '\(filter)'"
    }

    // MARK: Grants

    /// The grants table: the shared ``GrantColumn`` definitions, with a spinner in the last-refresh cell of a
    /// grant this console is refreshing.
    func grantColumns(_ state: ConsoleState) -> [TableColumn<Grant>] {
        let now = state.now
        return GrantColumn.all.map { column in
            TableColumn(title: column.header, layout: column.layout) { g in
                if column.id == .lastRefresh, state.refreshing[g.id] != nil {
                    return ("\(state.spinnerFrame(glyphs)) refreshing\(glyphs.ellipsis)", .spinner)
                }
                let cell = column.cell(g, now: now)
                return (cell.text, StyleRole(cell.tone))
            }
        }
    }

    func drawGrants(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let grants = state.grants
        let empty = emptyText(loaded: grants.isLoaded, error: grants.error, what: "grants", filter: grants.filterText)
        drawTable(&screen, state, columns: grantColumns(state), rows: grants.rows, selection: grants.selection, top: grants.top,
                  visible: state.layout.tableRows(for: .grants), empty: empty)
        if state.layout.showsGrantPane { drawGrantPane(&screen, state) }
    }

    /// The pane under the grants table on wide terminals: the selected grant's facts the table has no room for.
    func drawGrantPane(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let top = state.layout.tableTop + state.layout.tableRows(for: .grants)
        let heading = state.grants.selected.map { "\(glyphs.horizontal) grant \($0.id) " } ?? glyphs.horizontal
        let rule = heading + String(repeating: glyphs.horizontal, count: max(0, screen.columns - measure.of(heading)))
        screen.write(rule, column: 0, row: top, role: .border)
        guard let g = state.grants.selected else { return }
        let now = state.now
        let status = g.status(at: now)
        let left: [(String, String, StyleRole)] = [
            ("status", "\(status.rawValue): \(GrantText.explanation(status))", .status(status)),
            ("refreshable", GrantText.refreshable(g.refreshability), g.refreshability.isRefreshable ? .normal : .muted),
            ("client", "\(g.clientName) (\(g.clientID))", .normal),
            ("subject", g.subject ?? "unknown", .normal),
            ("scopes", g.scopes.isEmpty ? "none" : g.scopes.joined(separator: " "), .normal),
            ("resource", g.resource, .normal),
        ]
        let right: [(String, String, StyleRole)] = [
            ("proxy access expires", TimeText.instant(GrantText.proxyExpiry(g), now: now, unknown: "none"), .normal),
            ("upstream access expires", TimeText.instant(g.upstream.accessExpiresAt, now: now), .normal),
            ("upstream refresh token", g.upstream.hasRefreshToken
                ? "present, expires " + TimeText.relative(g.upstream.refreshExpiresAt, now: now) : "absent", .normal),
            ("last refresh", GrantText.lastRefresh(g, now: now)
                + (g.refreshFailures > 0 ? "; \(g.refreshFailures) failure(s) in a row" : ""),
             g.lastRefreshOutcome == nil || g.lastRefreshOutcome == .succeeded ? .normal : .danger),
            ("created", TimeText.instant(g.createdAt, now: now), .normal),
            ("revoked", g.revokedAt.map { TimeText.instant($0, now: now) } ?? "no", g.revokedAt == nil ? .muted : .statusRevoked),
        ]
        let half = screen.columns / 2
        for (i, (label, value, role)) in left.enumerated() where top + 1 + i < state.layout.messageRow {
            screen.write(label, column: 2, row: top + 1 + i, role: .label)
            screen.write(measure.fit(value, half - 17, ellipsis: glyphs.ellipsis), column: 15, row: top + 1 + i, role: role)
        }
        for (i, (label, value, role)) in right.enumerated() where top + 1 + i < state.layout.messageRow {
            screen.write(label, column: half, row: top + 1 + i, role: .label)
            screen.write(measure.fit(value, screen.columns - half - 25, ellipsis: glyphs.ellipsis), column: half + 24,
                         row: top + 1 + i, role: role)
        }
    }

    // MARK: Servers, providers, clients, audit

    func drawServers(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let columns: [TableColumn<ServerEntry>] = [
            TableColumn(title: "SLUG", minWidth: 6, preferredWidth: 12, priority: 9) { ($0.server.slug, nil) },
            TableColumn(title: "NAME", minWidth: 6, preferredWidth: 20, flexible: true, priority: 5) { ($0.server.name, nil) },
            TableColumn(title: "UPSTREAM MCP", minWidth: 12, preferredWidth: 32, flexible: true, priority: 4) { ($0.server.upstreamMCPURL, nil) },
            TableColumn(title: "PROVIDER", minWidth: 8, preferredWidth: 8, priority: 7) { e in
                e.provider.map { ($0.kind.rawValue, nil) } ?? ("none", .danger)
            },
            TableColumn(title: "ACCESS TTL", minWidth: 10, preferredWidth: 10, priority: 3, optional: true) { (TimeText.span($0.server.accessTokenTTL), nil) },
            TableColumn(title: "REFRESH TTL", minWidth: 11, preferredWidth: 11, priority: 2, optional: true) {
                (TimeText.span($0.server.refreshTokenIdleTTL), nil)
            },
            TableColumn(title: "SCOPES", minWidth: 6, preferredWidth: 20, flexible: true, priority: 1) { e in
                e.server.scopes.isEmpty ? ("none", .muted) : (e.server.scopes.joined(separator: " "), nil)
            },
        ]
        drawList(&screen, state, columns: columns, list: state.servers, view: .servers, what: "servers")
    }

    func drawProviders(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let now = state.now
        let columns: [TableColumn<ServerEntry>] = [
            TableColumn(title: "SERVER", minWidth: 6, preferredWidth: 10, priority: 9) { ($0.server.slug, nil) },
            TableColumn(title: "KIND", minWidth: 6, preferredWidth: 6, priority: 6) { ($0.provider?.kind.rawValue ?? "", nil) },
            TableColumn(title: "REFRESH", minWidth: 7, preferredWidth: 7, priority: 8) { e in
                e.provider?.supportsRefresh == true ? ("yes", nil) : ("no", .danger)
            },
            TableColumn(title: "TOKEN ENDPOINT", minWidth: 14, preferredWidth: 36, flexible: true, priority: 4) {
                ($0.provider?.tokenEndpoint ?? "", nil)
            },
            TableColumn(title: "AUTH", minWidth: 19, preferredWidth: 19, priority: 2, optional: true) { ($0.provider?.authMethod.rawValue ?? "", nil) },
            TableColumn(title: "REFRESH 1H", minWidth: 10, preferredWidth: 18, priority: 8) { e in
                ProviderHealthText.summary(e.health)
            },
            TableColumn(title: "LAST ERROR", minWidth: 12, preferredWidth: 40, flexible: true, priority: 7) { e in
                ProviderHealthText.lastError(e, now: now)
            },
        ]
        drawList(&screen, state, columns: columns, list: state.providers, view: .providers, what: "providers")
    }

    func drawClients(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let now = state.now
        let columns: [TableColumn<ClientEntry>] = [
            TableColumn(title: "CLIENT ID", minWidth: 10, preferredWidth: 26, priority: 9) { ($0.client.id, nil) },
            TableColumn(title: "SERVER", minWidth: 6, preferredWidth: 10, priority: 7) { ($0.serverSlug, nil) },
            TableColumn(title: "NAME", minWidth: 6, preferredWidth: 24, flexible: true, priority: 8) { ($0.client.name, nil) },
            TableColumn(title: "TYPE", minWidth: 12, preferredWidth: 12, priority: 2, optional: true) { ($0.client.isConfidential ? "confidential" : "public", nil) },
            TableColumn(title: "KIND", minWidth: 16, preferredWidth: 16, priority: 3, optional: true) { e in
                ("\(e.kind), \(TimeText.relative(e.client.createdAt, now: now))", nil)
            },
            TableColumn(title: "DOCUMENT", minWidth: 12, preferredWidth: 24, priority: 4, optional: true) { e in
                guard let state = e.documentState(now: now) else { return ("-", nil) }
                return (state.text, state.failed ? .danger : nil)
            },
            TableColumn(title: "STATUS", minWidth: 7, preferredWidth: 7, priority: 6) { e in
                e.client.revokedAt == nil ? ("active", .statusActive) : ("revoked", .statusRevoked)
            },
        ]
        drawList(&screen, state, columns: columns, list: state.clients, view: .clients, what: "clients")
    }

    func drawAudit(_ screen: inout ScreenBuffer, _ state: ConsoleState) {
        let now = state.now
        let columns: [TableColumn<AuditEvent>] = [
            TableColumn(title: "ID", minWidth: 4, preferredWidth: 6, priority: 2, alignRight: true, optional: true) { (String($0.id), .muted) },
            TableColumn(title: "TIME", minWidth: 8, preferredWidth: 10, priority: 8) { (TimeText.relative($0.at, now: now), nil) },
            TableColumn(title: "ACTOR", minWidth: 6, preferredWidth: 12, priority: 5) { ($0.actor, nil) },
            TableColumn(title: "ACTION", minWidth: 12, preferredWidth: 20, priority: 9) { ($0.action, nil) },
            TableColumn(title: "GRANT", minWidth: 5, preferredWidth: 6, priority: 4, alignRight: true) { e in
                e.grantID.map { (String($0), nil) } ?? ("-", .muted)
            },
            TableColumn(title: "OUTCOME", minWidth: 9, preferredWidth: 12, priority: 7) { e in (e.outcome, e.outcome == "ok" ? nil : .danger) },
            TableColumn(title: "DETAIL", minWidth: 10, preferredWidth: 50, flexible: true, priority: 6) { ($0.detail, nil) },
        ]
        drawList(&screen, state, columns: columns, list: state.audit, view: .audit, what: "audit events")
    }
}
