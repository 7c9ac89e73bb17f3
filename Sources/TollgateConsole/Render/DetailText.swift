import Foundation
import TollgateCore

/// The detail view's text: every expiry, refreshability, the last refused requests and refresh errors, the
/// refresh history and the audit events of a grant, as `tollgate grant show` prints them, plus the
/// console's own forced refresh of this session.
public enum DetailText {
    static let labelWidth = 26

    /// The lines of the detail view of `info`, times relative to the state's clock.
    public static func lines(for info: GrantInfo, state: ConsoleState, glyphs: Glyphs = .unicode) -> [StyledLine] {
        let g = info.grant
        let now = state.now
        var lines: [StyledLine] = []
        func field(_ label: String, _ value: String, _ role: StyleRole = .normal) {
            let padded = label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            lines.append(StyledLine([Span(padded, .label), Span(value, role)]))
        }
        lines.append(StyledLine("Grant \(g.id) \(glyphs.separator) \(g.serverSlug) \(glyphs.separator) \(g.subject ?? "unknown subject")", .label))
        lines.append(StyledLine())
        field("status", "\(info.status.rawValue) (\(GrantText.explanation(info.status)))", .status(info.status))
        if let reason = g.stateReason, g.state != .active { field("why", reason, .danger) }
        field("refreshable", GrantText.refreshable(info.refreshability), info.refreshability.isRefreshable ? .normal : .muted)
        field("server", g.serverSlug)
        field("client", "\(g.clientName) (\(g.clientID))")
        field("subject", g.subject ?? "unknown")
        field("scopes", g.scopes.isEmpty ? "none" : g.scopes.joined(separator: " "))
        field("resource", g.resource)
        field("proxy access expires", TimeText.instant(GrantText.proxyExpiry(g), now: now, unknown: "none (no live access token)"))
        field("upstream access expires", TimeText.instant(g.upstream.accessExpiresAt, now: now, unknown: "unknown (the upstream did not say)"))
        field("upstream refresh token", g.upstream.hasRefreshToken ? "present" : "absent")
        if g.upstream.hasRefreshToken {
            field("upstream refresh expires", TimeText.instant(g.upstream.refreshExpiresAt, now: now, unknown: "unknown (the upstream did not say)"))
        }
        field("upstream scope", g.upstream.scope ?? "not stated")
        field("last refresh", GrantText.lastRefresh(g, now: now))
        if g.refreshFailures > 0 {
            field("refresh failures", "\(g.refreshFailures) in a row" +
                  (g.refreshNotBefore.map { "; next automatic try \(TimeText.relative($0, now: now))" } ?? ""), .danger)
        }
        if state.refreshing[g.id] != nil {
            field("forced refresh", "\(state.spinnerFrame(glyphs)) refreshing\(glyphs.ellipsis)", .spinner)
        } else if let summary = state.lastForcedRefresh[g.id] {
            field("forced refresh", summary.sentence(now: now), summary.refreshed ? .normal : .danger)
        }
        field("created", TimeText.instant(g.createdAt, now: now))
        field("updated", TimeText.instant(g.updatedAt, now: now))
        if let revokedAt = g.revokedAt { field("revoked", TimeText.instant(revokedAt, now: now), .statusRevoked) }

        func section(_ title: String, _ events: [AuditEvent], empty: String, _ columns: (AuditEvent) -> [Span]) {
            lines.append(StyledLine())
            lines.append(StyledLine(title + " (newest first)", .header))
            if events.isEmpty { lines.append(StyledLine("  " + empty, .muted)) }
            for e in events { lines.append(StyledLine([Span("  " + pad(TimeText.instant(e.at, now: now), 34))] + columns(e))) }
        }
        func outcome(_ e: AuditEvent, _ width: Int) -> Span { Span(pad(e.outcome, width), e.outcome == "ok" ? .normal : .danger) }
        section("Last refusals", info.refusals, empty: "no refused requests") { e in [outcome(e, 24), Span(e.detail)] }
        section("Last refresh errors", info.refreshErrors, empty: "no failed refreshes") { e in
            [Span(pad(e.actor, 10)), outcome(e, 24), Span(e.durationMilliseconds.map { pad("\($0) ms", 9) } ?? ""), Span(e.detail)]
        }
        section("Refresh history", info.refreshHistory, empty: "no refresh attempts") { e in [Span(pad(e.actor, 10)), outcome(e, 24), Span(e.detail)] }
        section("Audit events", info.events, empty: "no events") { e in
            [Span(pad(e.actor, 10)), Span(pad(e.action, 24)), outcome(e, 10), Span(e.detail)]
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
