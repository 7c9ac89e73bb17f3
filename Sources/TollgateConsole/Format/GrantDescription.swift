import Foundation
import TollgateCore

/// Everything a person is told about one grant, in one order with one set of labels: `tollgate grant show`
/// prints it as text and the console's detail view draws it. Token metadata only: the description is built
/// from the core's ``GrantDetail``, which holds no secret.
public struct GrantDescription: Sendable, Equatable {
    /// The facts, in ``Key`` order; a fact that does not apply (no `why` for an active grant) is left out.
    public private(set) var fields: [Field]
    /// The grant's history: last refusals, last refresh errors, refresh history and audit events.
    public var sections: [Section]

    /// The description of `info` with times relative to `now`.
    public init(_ info: GrantInfo, now: Date) {
        fields = Key.allCases.compactMap { Self.field($0, of: info, now: now) }
        sections = EventSection.allCases.map { $0.section(of: info, now: now) }
    }

    /// The description of the core's detail of a grant.
    public init(_ detail: GrantDetail, now: Date) {
        self.init(GrantInfo(detail), now: now)
    }

    /// This description with `field` at its key's place (replacing a field of the same key): how a face adds a
    /// fact only it knows, such as the console's ``Key/forcedRefresh``.
    public func inserting(_ field: Field) -> GrantDescription {
        var copy = self
        copy.fields.removeAll { $0.key == field.key }
        let index = copy.fields.firstIndex { $0.key.rank > field.key.rank } ?? copy.fields.endIndex
        copy.fields.insert(field, at: index)
        return copy
    }

    /// The field of `key`, if the description has it.
    public func field(_ key: Key) -> Field? { fields.first { $0.key == key } }

    // MARK: Fields

    /// A fact of a grant; the cases are in the order the description lists them, and the raw value is the label.
    public enum Key: String, CaseIterable, Sendable {
        case grant, status, why, refreshable, server, client, subject, scopes, resource
        case proxyAccessExpires = "proxy access expires"
        case upstreamAccessExpires = "upstream access expires"
        case upstreamRefreshToken = "upstream refresh token"
        case upstreamRefreshExpires = "upstream refresh expires"
        case upstreamScope = "upstream scope"
        case lastRefresh = "last refresh"
        case refreshFailures = "refresh failures"
        /// The console's forced refresh of this session; never in a description built from the store.
        case forcedRefresh = "forced refresh"
        case created, updated, revoked

        /// The label people read.
        public var label: String { rawValue }

        var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    }

    /// One labelled fact.
    public struct Field: Sendable, Equatable {
        /// Which fact, and so its label and place.
        public var key: Key
        /// The fact in words.
        public var value: String
        /// How the console draws the value.
        public var tone: TextTone

        /// The fact `key` reading `value`.
        public init(_ key: Key, _ value: String, _ tone: TextTone = .normal) {
            self.key = key
            self.value = value
            self.tone = tone
        }

        /// The label people read.
        public var label: String { key.label }
    }

    /// What the description says when the upstream left an expiry out.
    static let upstreamDidNotSay = "unknown (the upstream did not say)"

    static func field(_ key: Key, of info: GrantInfo, now: Date) -> Field? {
        let g = info.grant
        switch key {
        case .grant: return Field(key, String(g.id))
        case .status: return Field(key, "\(info.status.rawValue) (\(GrantText.explanation(info.status)))", .status(info.status))
        case .why: return g.state == .active ? nil : g.stateReason.map { Field(key, $0, .danger) }
        case .refreshable:
            return Field(key, GrantText.refreshable(info.refreshability), info.refreshability.isRefreshable ? .normal : .muted)
        case .server: return Field(key, g.serverSlug)
        case .client: return Field(key, "\(g.clientName) (\(g.clientID))")
        case .subject: return Field(key, g.subject ?? "unknown")
        case .scopes: return Field(key, g.scopes.isEmpty ? "none" : g.scopes.joined(separator: " "))
        case .resource: return Field(key, g.resource)
        case .proxyAccessExpires:
            return Field(key, TimeText.instant(GrantText.proxyExpiry(g), now: now, unknown: "none (no live access token)"))
        case .upstreamAccessExpires: return Field(key, TimeText.instant(g.upstream.accessExpiresAt, now: now, unknown: upstreamDidNotSay))
        case .upstreamRefreshToken: return Field(key, g.upstream.hasRefreshToken ? "present" : "absent")
        case .upstreamRefreshExpires:
            guard g.upstream.hasRefreshToken else { return nil }
            return Field(key, TimeText.instant(g.upstream.refreshExpiresAt, now: now, unknown: upstreamDidNotSay))
        case .upstreamScope: return Field(key, g.upstream.scope ?? "not stated")
        case .lastRefresh: return Field(key, GrantText.lastRefresh(g, now: now))
        case .refreshFailures: return refreshFailures(of: g, now: now)
        case .forcedRefresh: return nil
        case .created: return Field(key, TimeText.instant(g.createdAt, now: now))
        case .updated: return Field(key, TimeText.instant(g.updatedAt, now: now))
        case .revoked: return g.revokedAt.map { Field(key, TimeText.instant($0, now: now), .status(.revoked)) }
        }
    }

    /// `2 in a row; next automatic try in 30s`, when the last refreshes failed.
    static func refreshFailures(of grant: Grant, now: Date) -> Field? {
        guard grant.refreshFailures > 0 else { return nil }
        let next = grant.refreshNotBefore.map { "; next automatic try \(TimeText.relative($0, now: now))" } ?? ""
        return Field(.refreshFailures, "\(grant.refreshFailures) in a row" + next, .danger)
    }

    // MARK: Sections

    /// A table of the grant's history, newest first.
    public struct Section: Sendable, Equatable {
        /// `Last refusals`.
        public var title: String
        /// The columns, left to right.
        public var columns: [Column]
        /// One row an event, each with a cell a column.
        public var rows: [[TonedText]]
        /// What to say when there are no rows: `no refused requests`.
        public var empty: String
    }

    /// A column of a ``Section``.
    public struct Column: Sendable, Equatable {
        /// The header plain text prints over the column: `TIME`.
        public var header: String
        /// Its width in a fixed-width layout (the console's detail view), the gap to the next column included;
        /// `nil` for the last column, which takes what is left.
        public var width: Int?
    }

    /// The sections, in the order the description lists them.
    enum EventSection: CaseIterable {
        case refusals, refreshErrors, refreshHistory, auditEvents

        var title: String {
            switch self {
            case .refusals: return "Last refusals"
            case .refreshErrors: return "Last refresh errors"
            case .refreshHistory: return "Refresh history"
            case .auditEvents: return "Audit events"
            }
        }

        var empty: String {
            switch self {
            case .refusals: return "no refused requests"
            case .refreshErrors: return "no failed refreshes"
            case .refreshHistory: return "no refresh attempts"
            case .auditEvents: return "no events"
            }
        }

        var columns: [EventColumn] {
            switch self {
            case .refusals: return [.time, .reason, .detail]
            case .refreshErrors: return [.time, .actor, .outcome, .latency, .detail]
            case .refreshHistory: return [.time, .actor, .outcome, .detail]
            case .auditEvents: return [.time, .actor, .action, .auditOutcome, .detail]
            }
        }

        func events(of info: GrantInfo) -> [AuditEvent] {
            switch self {
            case .refusals: return info.refusals
            case .refreshErrors: return info.refreshErrors
            case .refreshHistory: return info.refreshHistory
            case .auditEvents: return info.events
            }
        }

        func section(of info: GrantInfo, now: Date) -> Section {
            Section(title: title, columns: columns.map { Column(header: $0.header, width: $0.width) },
                    rows: events(of: info).map { event in columns.map { $0.cell(event, now: now) } }, empty: empty)
        }
    }

    /// A column of an audit event in a section.
    enum EventColumn {
        case time, actor, action, reason, outcome, auditOutcome, latency, detail

        var header: String {
            switch self {
            case .time: return "TIME"
            case .actor: return "ACTOR"
            case .action: return "ACTION"
            case .reason: return "REASON"
            case .outcome, .auditOutcome: return "OUTCOME"
            case .latency: return "LATENCY"
            case .detail: return "DETAIL"
            }
        }

        var width: Int? {
            switch self {
            case .time: return 34
            case .actor, .auditOutcome: return 10
            case .action, .reason, .outcome: return 24
            case .latency: return 9
            case .detail: return nil
            }
        }

        func cell(_ event: AuditEvent, now: Date) -> TonedText {
            switch self {
            case .time: return TonedText(TimeText.instant(event.at, now: now))
            case .actor: return TonedText(event.actor)
            case .action: return TonedText(event.action)
            case .reason, .outcome, .auditOutcome: return TonedText(event.outcome, event.outcome == "ok" ? .normal : .danger)
            case .latency: return TonedText(event.durationMilliseconds.map { "\($0) ms" } ?? "-")
            case .detail: return TonedText(event.detail)
            }
        }
    }
}
