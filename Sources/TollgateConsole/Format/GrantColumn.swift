import Foundation
import TollgateCore

/// A column of a grant listing, defined once for the console's grants table, the help's "Columns of the
/// grants view" and the table of `tollgate grant list`: its header, what it shows in one line, its cell,
/// and how it takes room in the console.
public struct GrantColumn: Sendable {
    /// Which column.
    public enum ID: Sendable, CaseIterable {
        case id, server, client, subject, status, proxy, upstream, upstreamRefreshToken, lastRefresh
    }

    /// Which column this is.
    public let id: ID
    /// The header over the column: `PROXY`.
    public let header: String
    /// What the column shows, in one line, for the help.
    public let summary: String
    /// How the console's table sizes the column.
    let layout: ColumnLayout
    /// The cell of a grant at an instant: its text and tone.
    let cellOf: @Sendable (Grant, Date) -> TonedText

    /// The cell of `grant` with times relative to `now`.
    public func cell(_ grant: Grant, now: Date) -> TonedText { cellOf(grant, now) }

    /// Every column, in table order.
    public static let all: [GrantColumn] = ID.allCases.map(column)

    static func column(_ id: ID) -> GrantColumn {
        switch id {
        case .id:
            return GrantColumn(id: id, header: "ID", summary: "the grant's id (tollgate grant show ID)",
                               layout: ColumnLayout(minWidth: 4, preferredWidth: 7, priority: 1, alignRight: true, optional: true)) { g, _ in
                TonedText(String(g.id), .muted)
            }
        case .server:
            return GrantColumn(id: id, header: "SERVER", summary: "the slug of the MCP server the grant is for",
                               layout: ColumnLayout(minWidth: 6, preferredWidth: 8, priority: 6)) { g, _ in TonedText(g.serverSlug) }
        case .client:
            return GrantColumn(id: id, header: "CLIENT", summary: "the name of the client the user authorized",
                               layout: ColumnLayout(minWidth: 8, preferredWidth: 16, flexible: true, priority: 5)) { g, _ in
                TonedText(g.clientName)
            }
        case .subject:
            return GrantColumn(id: id, header: "SUBJECT", summary: "who the user is at the upstream (sub), or unknown",
                               layout: ColumnLayout(minWidth: 8, preferredWidth: 24, flexible: true, priority: 8)) { g, _ in
                g.subject.map { TonedText($0) } ?? TonedText("unknown", .muted)
            }
        case .status:
            return GrantColumn(id: id, header: "STATUS", summary: statusSummary,
                               layout: ColumnLayout(minWidth: 12, preferredWidth: 12, priority: 10)) { g, now in
                let status = g.status(at: now)
                return TonedText(status.rawValue, .status(status))
            }
        case .proxy:
            return GrantColumn(id: id, header: "PROXY", summary: "when the client's newest proxy access token expires",
                               layout: ColumnLayout(minWidth: 10, preferredWidth: 10, priority: 2), cellOf: proxyCell)
        case .upstream:
            return GrantColumn(id: id, header: "UPSTREAM", summary: "when the upstream access token expires, counting down",
                               layout: ColumnLayout(minWidth: 10, preferredWidth: 10, priority: 7), cellOf: upstreamCell)
        case .upstreamRefreshToken:
            return GrantColumn(id: id, header: "UP RT", summary: "whether the upstream issued a refresh token",
                               layout: ColumnLayout(minWidth: 5, preferredWidth: 5, priority: 3, optional: true)) { g, _ in
                TonedText(TimeText.yesNo(g.upstream.hasRefreshToken), g.upstream.hasRefreshToken ? .normal : .muted)
            }
        case .lastRefresh:
            return GrantColumn(id: id, header: "LAST REFRESH", summary: "when the upstream credential was last refreshed, and how that went",
                               layout: ColumnLayout(minWidth: 12, preferredWidth: 20, priority: 4), cellOf: lastRefreshCell)
        }
    }

    /// `active, expiring (within 5m), expired (refreshable), needs-reauth, revoked`.
    static var statusSummary: String {
        GrantStatus.allCases.map { status in
            switch status {
            case .expiring: return "\(status.rawValue) (within \(TimeText.span(Grant.defaultWarningWindow)))"
            case .expired: return "\(status.rawValue) (refreshable)"
            case .active, .needsReauth, .revoked: return status.rawValue
            }
        }.joined(separator: ", ")
    }

    @Sendable static func proxyCell(_ grant: Grant, now: Date) -> TonedText {
        let expiry = GrantText.proxyExpiry(grant)
        return TonedText(TimeText.relative(expiry, now: now, unknown: "none"), expiry.map { $0 > now } == true ? .normal : .muted)
    }

    @Sendable static func upstreamCell(_ grant: Grant, now: Date) -> TonedText {
        guard let expiry = grant.upstream.accessExpiresAt else { return TonedText("unknown", .muted) }
        let text = TimeText.relative(expiry, now: now)
        if expiry <= now { return TonedText(text, .status(.expired)) }
        if expiry.timeIntervalSince(now) <= Grant.defaultWarningWindow { return TonedText(text, .status(.expiring)) }
        return TonedText(text)
    }

    @Sendable static func lastRefreshCell(_ grant: Grant, now: Date) -> TonedText {
        guard let at = grant.lastRefreshAt else { return TonedText("never", .muted) }
        let outcome = grant.lastRefreshOutcome
        return TonedText(TimeText.relative(at, now: now, units: 1) + (outcome.map { " \($0.rawValue)" } ?? ""),
                         outcome == nil || outcome == .succeeded ? .normal : .danger)
    }
}
