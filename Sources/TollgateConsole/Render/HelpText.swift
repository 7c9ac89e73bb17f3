import TollgateCore

/// The `?` screen, generated from the ``KeyTable`` (the same table that handles keys and fills the footer).
public enum HelpText {
    /// The help's lines; with `readOnly` the bindings that change data are left out.
    public static func lines(readOnly: Bool) -> [StyledLine] {
        var lines: [StyledLine] = []
        lines.append(StyledLine("Keys" + (readOnly ? " (read-only: actions that change data are hidden)" : ""), .helpSection))
        for context in KeyContext.allCases {
            lines.append(StyledLine())
            lines.append(StyledLine("  " + context.heading, .helpSection))
            for binding in KeyTable.bindings where binding.context == context && !(readOnly && binding.dangerous) {
                var spans = [Span("    " + binding.keysLabel.padding(toLength: 14, withPad: " ", startingAt: 0), .helpKey),
                             Span(binding.summary)]
                if context == .browse, let views = binding.views {
                    let names = ViewKind.allCases.filter { views.contains($0) }.map(\.rawValue).joined(separator: ", ")
                    spans.append(Span("  (\(names))", .muted))
                }
                if binding.dangerous { spans.append(Span("  changes data", .danger)) }
                lines.append(StyledLine(spans))
            }
        }
        lines.append(StyledLine())
        lines.append(StyledLine("Commands", .helpSection))
        let commands: [(String, String)] = [
            (":servers :providers :clients", "switch to that list"),
            (":grants", "the grants (the main view)"),
            (":grant ID", "the detail of one grant"),
            (":audit", "the audit log, newest first"),
            (":theme NAME", "switch theme (dark, light, high-contrast, monochrome, or a file path)"),
            (":help", "this help"),
            (":q", "quit"),
        ]
        for (command, summary) in commands {
            lines.append(StyledLine([Span("    " + command.padding(toLength: 30, withPad: " ", startingAt: 0), .helpKey), Span(summary)]))
        }
        lines.append(StyledLine())
        lines.append(StyledLine("Filters", .helpSection))
        lines.append(StyledLine("    grants: words match the start of the subject; server:SLUG client:ID status:STATUS narrow it"))
        lines.append(StyledLine("    statuses: " + GrantStatus.allCases.map(\.rawValue).joined(separator: ", ")))
        lines.append(StyledLine("    clients: server:SLUG; audit: grant:ID action:NAME (live); other words match the rows loaded so far"))
        lines.append(StyledLine("    servers, providers: words match slug, name, endpoints, errors"))
        lines.append(StyledLine())
        lines.append(StyledLine("Columns of the grants view", .helpSection))
        let columns: [(String, String)] = [
            ("STATUS", "active, expiring (within 5m), expired (refreshable), needs-reauth, revoked"),
            ("PROXY", "when the client's newest proxy access token expires"),
            ("UPSTREAM", "when the upstream access token expires, counting down"),
            ("UP RT", "whether the upstream issued a refresh token"),
            ("LAST REFRESH", "when the upstream credential was last refreshed, and how that went"),
        ]
        for (column, summary) in columns {
            lines.append(StyledLine([Span("    " + column.padding(toLength: 14, withPad: " ", startingAt: 0), .helpKey), Span(summary)]))
        }
        lines.append(StyledLine())
        lines.append(StyledLine("Themes: --theme NAME, TOLLGATE_THEME, :theme NAME; NO_COLOR=1 draws with attributes only.", .muted))
        return lines
    }
}
