import Foundation
import TollgateCore

/// How the console was started.
public struct ConsoleOptions: Sendable, Equatable {
    /// Hide and refuse actions that change data (refresh, revoke).
    public var readOnly: Bool
    /// Shown in the title bar: which store this is.
    public var databaseName: String
    /// The themes `:theme` offers (for its hint).
    public var themeNames: [String]

    /// Options as `tollgate console` parsed them.
    public init(readOnly: Bool = false, databaseName: String = "", themeNames: [String] = [Theme.defaultName]) {
        self.readOnly = readOnly
        self.databaseName = databaseName
        self.themeNames = themeNames
    }
}

/// Everything the console shows, as a value: keys and events change it, the renderer draws it.
///
/// `handle(_:)` (keys) and `apply(_:)` (events) are the only ways in; both return the ``ConsoleEffect``s to
/// carry out. There is no terminal and no store here, so every behaviour is testable as plain values.
public struct ConsoleState: Sendable {
    /// How the console was started.
    public var options: ConsoleOptions
    /// The clock of the last tick; every countdown and relative time is computed from it.
    public var now: Date
    /// The screen size and where things go on it.
    public var layout: Layout
    /// Views opened, the current one last.
    public var stack: [ViewKind]
    /// Where keys go: the view, an input line, the dialog, the help.
    public var mode: InputMode = .browse
    /// The message on the message line, until it expires.
    public var flash: Flash?
    /// The theme in use (the loop hands it to the terminal when it changes).
    public var theme: Theme

    /// The list views' data and positions.
    public var grants = GrantsModel()
    public var servers = ListModel<ServerEntry>()
    public var providers = ListModel<ServerEntry>()
    public var clients = ListModel<ClientEntry>()
    public var audit = ListModel<AuditEvent>()
    /// The audit view's live-tail load in flight (events newer than the newest shown).
    public var auditTailRequest: Int?

    /// The grant the detail view shows, and its data once loaded.
    public var detailGrantID: Int64?
    public var detail: GrantInfo?
    public var detailRequest: Int?
    public var detailPosition = TextPosition()
    public var detailError: String?

    /// The server the well-known view shows, and its documents once loaded.
    public var wellKnownSlug: String?
    public var wellKnown: WellKnownDocuments?
    public var wellKnownRequest: Int?
    public var wellKnownPosition = TextPosition()
    public var wellKnownError: String?

    /// Forced refreshes in flight, by grant, with their start.
    public var refreshing: [Int64: Date] = [:]
    /// Revocations in flight.
    public var revoking: Set<Int64> = []
    /// The last forced refresh outcome per grant, shown in the detail.
    public var lastForcedRefresh: [Int64: RefreshSummary] = [:]
    /// The count in flight that a confirmation waits for.
    public var pendingPlan: PendingPlan?
    /// The long action running off the UI thread (bulk action, export), if any.
    public var job: ConsoleJob?
    /// Clients being revoked.
    public var revokingClients: Set<String> = []

    /// Set by `q`: the loop ends after this frame.
    public var isFinished = false
    var lastRequest = 0

    /// How far the count of a filtered listing goes before it says "N+": bounded work however big the store
    /// is. The unfiltered count is exact (SQLite counts a table from its smallest index).
    public static let countLimit = 10_000
    /// Rows per page of the clients and audit views.
    public static let pageSize = 200

    /// A console on a screen of `columns`×`rows` showing `initialView`; nothing is loaded until ``start()``.
    public init(options: ConsoleOptions = ConsoleOptions(), now: Date, columns: Int, rows: Int, theme: Theme = .dark,
                initialView: ViewKind = .grants) {
        self.options = options
        self.now = now
        layout = Layout(columns: columns, rows: rows)
        stack = [initialView]
        self.theme = theme
    }

    /// The view on screen.
    public var view: ViewKind { stack.last ?? .grants }

    /// Whether something is in flight that shows a spinner (the loop ticks faster then).
    public var isBusy: Bool { !refreshing.isEmpty || !revoking.isEmpty || job != nil || !revokingClients.isEmpty }

    /// The effects that fill the first screen.
    public mutating func start() -> [ConsoleEffect] {
        enter(view)
    }

    mutating func nextRequest() -> Int {
        lastRequest += 1
        return lastRequest
    }

    mutating func show(_ level: Flash.Level, _ text: String) {
        flash = Flash(level, text, now: now)
    }

    /// The grant the current view is about: the selected row, or the grant of the detail view.
    var focusedGrant: Grant? {
        switch view {
        case .grants: return grants.selected
        case .detail: return detail?.grant
        default: return nil
        }
    }

    /// The server the current view is about, for `w`.
    var focusedServerSlug: String? {
        switch view {
        case .servers: return servers.selected?.server.slug
        case .providers: return providers.selected?.server.slug
        case .grants: return grants.selected?.serverSlug
        case .detail: return detail?.grant.serverSlug
        case .wellKnown: return wellKnownSlug
        case .clients: return clients.selected?.serverSlug
        case .audit: return nil
        }
    }
}
