import Foundation
import TollgateCore

/// Filter text split into `key:value` parts the store can serve and words matched against loaded rows.
struct ListFilter: Equatable {
    var scoped: [String: String] = [:]
    var words: [String] = []

    init(_ text: String, keys: Set<String>) {
        for token in text.split(separator: " ").map(String.init) {
            if let colon = token.firstIndex(of: ":"), keys.contains(token[..<colon].lowercased()),
               token.index(after: colon) < token.endIndex {
                scoped[token[..<colon].lowercased()] = String(token[token.index(after: colon)...])
            } else {
                words.append(token.lowercased())
            }
        }
    }

    /// Whether every word occurs (case-insensitively) in one of `fields`.
    func matches(_ fields: [String]) -> Bool {
        guard !words.isEmpty else { return true }
        let haystack = fields.joined(separator: "\u{1}").lowercased()
        return words.allSatisfy { haystack.contains($0) }
    }
}

/// A named order of an in-memory list.
struct ListSort<Row>: Sendable {
    var name: String
    var less: @Sendable (Row, Row) -> Bool
}

extension ConsoleState {
    static let serverSorts: [ListSort<ServerEntry>] = [
        ListSort(name: "slug") { $0.server.slug < $1.server.slug },
        ListSort(name: "name") { ($0.server.name.lowercased(), $0.server.slug) < ($1.server.name.lowercased(), $1.server.slug) },
        ListSort(name: "newest") { ($0.server.createdAt, $0.server.id) > ($1.server.createdAt, $1.server.id) },
    ]

    static let providerSorts: [ListSort<ServerEntry>] = [
        ListSort(name: "server") { $0.server.slug < $1.server.slug },
        ListSort(name: "kind") { ($0.provider?.kind.rawValue ?? "", $0.server.slug) < ($1.provider?.kind.rawValue ?? "", $1.server.slug) },
        ListSort(name: "last error") {
            ($0.provider?.lastErrorAt ?? .distantPast, $1.server.slug) > ($1.provider?.lastErrorAt ?? .distantPast, $0.server.slug)
        },
    ]

    /// The name of the current sort order of `view`.
    public func sortName(of target: ViewKind) -> String? {
        switch target {
        case .grants: return grants.sort.rawValue
        case .servers: return Self.serverSorts[servers.sortIndex % Self.serverSorts.count].name
        case .providers: return Self.providerSorts[providers.sortIndex % Self.providerSorts.count].name
        case .clients: return "id"
        case .audit: return "newest"
        case .detail, .wellKnown: return nil
        }
    }

    /// The filter text of a list view.
    public func filterText(of target: ViewKind) -> String {
        switch target {
        case .grants: return grants.filterText
        case .servers: return servers.filterText
        case .providers: return providers.filterText
        case .clients: return clients.filterText
        case .audit: return audit.filterText
        case .detail, .wellKnown: return ""
        }
    }

    /// Sets the filter of the current view; `final` when the user pressed Enter or Esc (errors are shown then).
    mutating func setFilter(_ text: String, final: Bool) -> [ConsoleEffect] {
        switch view {
        case .grants:
            switch GrantFilter.parse(text) {
            case .success(let filter):
                let changed = filter != grants.filter
                grants.filterText = text
                grants.filter = filter
                return changed ? restartGrants() : []
            case .failure(let error):
                // `filterText` keeps the last text that parsed: the filter that is in force.
                if final { show(.warning, "filter not applied: \(error.message)") }
                return []
            }
        case .servers:
            servers.filterText = text
            refilterServers()
        case .providers:
            providers.filterText = text
            refilterProviders()
        case .clients:
            let before = ListFilter(clients.filterText, keys: ["server"]).scoped
            clients.filterText = text
            if ListFilter(text, keys: ["server"]).scoped != before { return loadClients(appending: false) }
            refilterClients()
        case .audit:
            let before = ListFilter(audit.filterText, keys: Self.auditFilterKeys).scoped
            audit.filterText = text
            if ListFilter(text, keys: Self.auditFilterKeys).scoped != before { return loadAudit(appending: false) }
            refilterAudit()
        case .detail, .wellKnown:
            break
        }
        return []
    }

    mutating func cycleSort(by step: Int) -> [ConsoleEffect] {
        switch view {
        case .grants:
            let all = GrantSort.allCases
            let index = all.firstIndex(of: grants.sort) ?? 0
            grants.sort = all[(index + step + all.count) % all.count]
            return restartGrants()
        case .servers:
            servers.sortIndex = (servers.sortIndex + step + Self.serverSorts.count) % Self.serverSorts.count
            refilterServers()
        case .providers:
            providers.sortIndex = (providers.sortIndex + step + Self.providerSorts.count) % Self.providerSorts.count
            refilterProviders()
        default:
            break
        }
        return []
    }

    mutating func refilterServers() {
        let filter = ListFilter(servers.filterText, keys: [])
        let sort = Self.serverSorts[servers.sortIndex % Self.serverSorts.count]
        Self.refilter(&servers, visible: layout.tableRows(for: .servers)) { rows in
            rows.filter { filter.matches([$0.server.slug, $0.server.name, $0.server.upstreamMCPURL]) }.sorted(by: sort.less)
        }
    }

    mutating func refilterProviders() {
        let filter = ListFilter(providers.filterText, keys: [])
        let sort = Self.providerSorts[providers.sortIndex % Self.providerSorts.count]
        Self.refilter(&providers, visible: layout.tableRows(for: .providers)) { rows in
            rows.filter { entry in
                let p = entry.provider
                return filter.matches([entry.server.slug, p?.kind.rawValue ?? "", p?.issuer ?? "", p?.tokenEndpoint ?? "",
                                       p?.clientID ?? "", p?.lastError ?? ""])
            }.sorted(by: sort.less)
        }
    }

    mutating func refilterClients() {
        let filter = ListFilter(clients.filterText, keys: ["server"])
        Self.refilter(&clients, visible: layout.tableRows(for: .clients)) { rows in
            rows.filter { filter.matches([$0.client.id, $0.client.name, $0.serverSlug, $0.client.registeredBy]) }
        }
    }

    mutating func refilterAudit() {
        let filter = ListFilter(audit.filterText, keys: Self.auditFilterKeys)
        Self.refilter(&audit, visible: layout.tableRows(for: .audit)) { rows in
            rows.filter { filter.matches([$0.actor, $0.action, $0.outcome, $0.detail, $0.clientID ?? ""]) }
        }
    }

    /// Recomputes the shown rows, keeping the selection on the same row where it still shows.
    static func refilter<Row>(_ list: inout ListModel<Row>, visible: Int, _ shown: ([Row]) -> [Row]) {
        let selected = list.selected
        list.rows = shown(list.loaded)
        if let selected, let index = list.rows.firstIndex(of: selected) { list.selection = index }
        list.keepVisible(visible)
    }

    mutating func loadClients(appending: Bool) -> [ConsoleEffect] {
        let id = nextRequest()
        clients.request = id
        clients.appending = appending
        let slug = ListFilter(clients.filterText, keys: ["server"]).scoped["server"]
        let limit = appending ? Self.pageSize : max(Self.pageSize, min(clients.loaded.count, 10_000))
        return [.loadClients(request: id, serverSlug: slug, after: appending ? clients.nextCursor : nil, limit: limit)]
    }

    /// The audit filter's `grant:ID` and `action:NAME`, as a store query (the other words filter in memory).
    func auditQuery(limit: Int) -> AuditQuery {
        let scoped = ListFilter(audit.filterText, keys: Self.auditFilterKeys).scoped
        return AuditQuery(grantID: scoped["grant"].flatMap { Int64($0) }, actions: scoped["action"].map { [$0] }, limit: limit)
    }

    /// The audit filter's words that the store answers.
    static let auditFilterKeys: Set<String> = ["grant", "action"]

    mutating func loadAudit(appending: Bool) -> [ConsoleEffect] {
        let id = nextRequest()
        audit.request = id
        audit.appending = appending
        auditTailRequest = nil
        var query = auditQuery(limit: appending ? Self.pageSize : max(Self.pageSize, min(audit.loaded.count, Self.auditRowsKept)))
        if appending { query.before = audit.nextCursor.flatMap { Int64($0) } }
        return [.loadAudit(request: id, query: query)]
    }

    /// The live tail: only the events newer than the newest shown (a full load when nothing is shown yet).
    mutating func loadAuditTail() -> [ConsoleEffect] {
        guard audit.isLoaded, audit.request == nil, let newest = audit.loaded.first?.id else { return loadAudit(appending: false) }
        guard auditTailRequest == nil else { return [] }
        let id = nextRequest()
        auditTailRequest = id
        var query = auditQuery(limit: Self.pageSize)
        query.after = newest
        return [.loadAudit(request: id, query: query)]
    }

    /// Puts tail events on top. At the newest row the view follows them (`tail -f`); scrolled away, it keeps
    /// showing the same rows. A full tail (there may be a gap) reads the view again instead.
    mutating func prependAuditTail(_ events: [AuditEvent]) -> [ConsoleEffect] {
        guard events.count < Self.pageSize else { return loadAudit(appending: false) }
        let newest = audit.loaded.first?.id ?? 0
        let fresh = events.filter { $0.id > newest }
        guard !fresh.isEmpty else { return [] }
        let following = audit.selection == 0 && audit.top == 0
        let (shownBefore, topBefore) = (audit.rows.count, audit.top)
        audit.loaded = fresh + audit.loaded
        if audit.loaded.count > Self.auditRowsKept {
            audit.loaded.removeLast(audit.loaded.count - Self.auditRowsKept)
            audit.nextCursor = audit.loaded.last.map { String($0.id) }
        }
        refilterAudit()
        if following {
            audit.selection = 0
            audit.top = 0
        } else {
            audit.top = topBefore + max(0, audit.rows.count - shownBefore)
            audit.keepVisible(layout.tableRows(for: .audit))
        }
        return []
    }

    /// The most audit events the view holds; the oldest go first.
    static let auditRowsKept = 10_000

    /// Moves in a list view; the paged lists (clients, audit) load their next page near the end.
    mutating func move(_ motion: Motion) -> [ConsoleEffect] {
        func apply<Row>(_ list: inout ListModel<Row>, visible: Int) {
            switch motion {
            case .by(let delta): list.move(by: delta, visible: visible)
            case .page(let pages):
                list.top = max(0, min(max(0, list.rows.count - visible), list.top + pages * visible))
                list.move(by: pages * visible, visible: visible)
            case .top: list.move(by: -list.rows.count, visible: visible)
            case .bottom: list.move(by: list.rows.count, visible: visible)
            }
        }
        let visible = layout.tableRows(for: view)
        switch view {
        case .grants:
            return moveGrants(motion)
        case .servers:
            apply(&servers, visible: visible)
        case .providers:
            apply(&providers, visible: visible)
        case .clients:
            apply(&clients, visible: visible)
            if clients.request == nil, clients.nextCursor != nil, clients.rows.count - 1 - clients.selection < visible {
                return loadClients(appending: true)
            }
        case .audit:
            apply(&audit, visible: visible)
            if audit.request == nil, audit.nextCursor != nil, audit.rows.count - 1 - audit.selection < visible {
                return loadAudit(appending: true)
            }
        case .detail:
            scrollText(&detailPosition, lines: detailLineCount, motion)
        case .wellKnown:
            scrollText(&wellKnownPosition, lines: wellKnownLineCount, motion)
        }
        return []
    }

    /// Moves a text view's cursor; the lines shown follow it (a page moves both by a screenful, like a pager).
    func scrollText(_ position: inout TextPosition, lines: Int, _ motion: Motion) {
        let visible = max(1, layout.textRows)
        let maximum = max(0, lines - visible)
        switch motion {
        case .by(let delta): position.cursor += delta
        case .page(let pages): position.cursor += pages * visible; position.line += pages * visible
        case .top: position.cursor = 0
        case .bottom: position.cursor = lines - 1
        }
        position.cursor = max(0, min(lines - 1, position.cursor))
        if position.cursor < position.line { position.line = position.cursor }
        if position.cursor >= position.line + visible { position.line = position.cursor - visible + 1 }
        position.line = max(0, min(maximum, position.line))
    }

    mutating func scrollSideways(_ delta: Int) {
        switch view {
        case .detail: detailPosition.column = max(0, detailPosition.column + delta)
        case .wellKnown: wellKnownPosition.column = max(0, wellKnownPosition.column + delta)
        default: break
        }
    }

    /// Lines of the detail view's text.
    var detailLineCount: Int {
        detail.map { DetailText.lines(for: $0, state: self).count } ?? 1
    }

    /// Lines of the well-known view's text.
    var wellKnownLineCount: Int {
        wellKnown.map { WellKnownText.lines(for: $0).count } ?? 1
    }
}
