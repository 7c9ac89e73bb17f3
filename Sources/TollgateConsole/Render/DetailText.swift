import Foundation
import TollgateCore

/// The detail view's text: the grant's ``GrantDescription`` (every expiry, refreshability, the last refused
/// requests and refresh errors, the refresh history and the audit events, as `tollgate grant show` prints
/// them), plus the console's own forced refresh of this session.
public enum DetailText {
    static let labelWidth = 26

    /// The lines of the detail view of `info`, times relative to the state's clock.
    public static func lines(for info: GrantInfo, state: ConsoleState, glyphs: Glyphs = .unicode) -> [StyledLine] {
        let g = info.grant
        var description = GrantDescription(info, now: state.now)
        if let forced = forcedRefresh(of: g.id, state: state, glyphs: glyphs) { description = description.inserting(forced) }
        var lines = [StyledLine("Grant \(g.id) \(glyphs.separator) \(g.serverSlug) \(glyphs.separator) \(g.subject ?? "unknown subject")", .label),
                     StyledLine()]
        lines += description.fields.map(fieldLine)
        for section in description.sections { lines += sectionLines(section) }
        return lines
    }

    /// The console's forced refresh of the grant: under way (a spinner) or how it ended; `nil` if there was none.
    static func forcedRefresh(of id: Int64, state: ConsoleState, glyphs: Glyphs) -> GrantDescription.Field? {
        if state.refreshing[id] != nil {
            return GrantDescription.Field(.forcedRefresh, "\(state.spinnerFrame(glyphs)) refreshing\(glyphs.ellipsis)", .busy)
        }
        guard let summary = state.lastForcedRefresh[id] else { return nil }
        return GrantDescription.Field(.forcedRefresh, summary.sentence(now: state.now), summary.refreshed ? .normal : .danger)
    }

    /// `label` padded to the label column, then the value in its tone's role.
    static func fieldLine(_ field: GrantDescription.Field) -> StyledLine {
        StyledLine([Span(field.label.padding(toLength: labelWidth, withPad: " ", startingAt: 0), .label),
                    Span(field.value, StyleRole(field.tone))])
    }

    /// A blank line, the section's title, then its rows indented (or its empty text, muted).
    static func sectionLines(_ section: GrantDescription.Section) -> [StyledLine] {
        var lines = [StyledLine(), StyledLine(section.title + " (newest first)", .header)]
        if section.rows.isEmpty { lines.append(StyledLine("  " + section.empty, .muted)) }
        for row in section.rows {
            let spans = zip(section.columns, row).map { column, cell in
                Span(column.width.map { pad(cell.text, $0) } ?? cell.text, StyleRole(cell.tone))
            }
            lines.append(StyledLine([Span("  ")] + spans))
        }
        return lines
    }

    static func pad(_ text: String, _ width: Int) -> String {
        let cut = text.count >= width ? String(text.prefix(width - 1)) : text
        return cut.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}

extension ConsoleState {
    /// The spinner character for the current tick (ten frames a second).
    public func spinnerFrame(_ glyphs: Glyphs = .unicode) -> String {
        let frames = glyphs.spinner
        let tenths = Int((now.timeIntervalSince1970 * 10).rounded(.down))
        return frames[((tenths % frames.count) + frames.count) % frames.count]
    }
}
