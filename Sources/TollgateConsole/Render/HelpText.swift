import TollgateCore

/// The `?` screen, generated from the ``KeyTable`` (the same table that handles keys and fills the footer).
public enum HelpText {
    /// The help's lines; with `readOnly` the bindings that change data are left out. With a search, only the
    /// lines that contain it (any case), each under its section's heading.
    public static func lines(readOnly: Bool, matching search: String) -> [StyledLine] {
        let all = lines(readOnly: readOnly)
        guard !search.isEmpty else { return all }
        let needle = search.lowercased()
        var found: [StyledLine] = []
        var heading: StyledLine?
        for line in all {
            if line.spans.count == 1, line.spans[0].role == .helpSection {
                heading = line
                continue
            }
            guard line.text.lowercased().contains(needle) else { continue }
            if let pending = heading {
                found.append(pending)
                heading = nil
            }
            found.append(line)
        }
        return found.isEmpty ? [StyledLine("nothing in the help matches '\(search)'", .muted)] : found
    }

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
        for command in CommandTable.visible(readOnly: readOnly) {
            let aliases = command.aliases.isEmpty ? "" : "  (also :" + command.aliases.joined(separator: " :") + ")"
            var spans = [Span("    " + command.synopsis.padding(toLength: 30, withPad: " ", startingAt: 0), .helpKey),
                         Span(command.summary), Span(aliases, .muted)]
            if command.dangerous { spans.append(Span("  changes data", .danger)) }
            lines.append(StyledLine(spans))
        }
        lines.append(StyledLine())
        lines += filterLines(readOnly: readOnly)
        lines.append(StyledLine())
        lines += columnLines()
        lines.append(StyledLine())
        lines.append(StyledLine("Themes: --theme NAME, TOLLGATE_THEME, :theme NAME; NO_COLOR=1 draws with attributes only.", .muted))
        return lines
    }

    /// The "Filters" section: the grants filter's keys from ``GrantFilter/Key``, then the other views' filters.
    static func filterLines(readOnly: Bool) -> [StyledLine] {
        var lines = [StyledLine("Filters", .helpSection),
                     StyledLine("    grants: words match the start of the subject; these narrow it:")]
        lines += GrantFilter.Key.allCases.map { entry("  " + $0.synopsis, $0.summary, width: 18) }
        if !readOnly {
            lines.append(StyledLine("    bulk actions (X, F, :revoke-all) take the words as the WHOLE subject: 'bob' is not 'bobby'"))
        }
        lines.append(StyledLine("    clients: server:SLUG; audit: grant:ID action:NAME (live); other words match the rows loaded so far"))
        lines.append(StyledLine("    servers, providers: words match slug, name, endpoints, errors"))
        return lines
    }

    /// The "Columns of the grants view" section: every ``GrantColumn``, in table order.
    static func columnLines() -> [StyledLine] {
        [StyledLine("Columns of the grants view", .helpSection)] + GrantColumn.all.map { entry($0.header, $0.summary, width: 14) }
    }

    /// An indented term in the key role, padded to `width`, then what it means.
    static func entry(_ term: String, _ summary: String, width: Int) -> StyledLine {
        StyledLine([Span("    " + term.padding(toLength: width, withPad: " ", startingAt: 0), .helpKey), Span(summary)])
    }
}
