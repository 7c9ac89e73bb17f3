import Foundation
import TollgateCore

extension ConsoleState {
    /// Applies an event (a load's answer, a finished action, a tick, a change in the store, a resize) and
    /// returns the work it leads to.
    public mutating func apply(_ event: ConsoleEvent) -> [ConsoleEffect] {
        switch event {
        case .grants(let request, let page):
            return applyGrants(request: request, page: page)
        case .grantCount(let request, let count):
            if request == grants.countRequest {
                grants.count = count
                grants.countRequest = nil
            }
        case .servers(let request, let entries):
            guard request == servers.request else { return [] }
            servers.request = nil
            servers.loaded = entries
            servers.isLoaded = true
            servers.error = nil
            refilterServers()
        case .providers(let request, let entries):
            guard request == providers.request else { return [] }
            providers.request = nil
            providers.loaded = entries.filter { $0.provider != nil }
            providers.isLoaded = true
            providers.error = nil
            refilterProviders()
        case .clients(let request, let entries, let next):
            guard request == clients.request else { return [] }
            clients.request = nil
            clients.loaded = clients.appending ? clients.loaded + entries : entries
            clients.nextCursor = next
            clients.isLoaded = true
            clients.error = nil
            refilterClients()
        case .audit(let request, let events, let nextBefore):
            if request == auditTailRequest {
                auditTailRequest = nil
                return prependAuditTail(events)
            }
            guard request == audit.request else { return [] }
            audit.request = nil
            audit.loaded = audit.appending ? audit.loaded + events : events
            audit.nextCursor = nextBefore.map(String.init)
            audit.isLoaded = true
            audit.error = nil
            refilterAudit()
        case .detail(let request, let info):
            guard request == detailRequest else { return [] }
            detailRequest = nil
            detail = info
            detailError = nil
            scrollText(&detailPosition, lines: detailLineCount, .by(0))
        case .wellKnown(let request, let documents):
            guard request == wellKnownRequest else { return [] }
            wellKnownRequest = nil
            wellKnown = documents
            wellKnownError = nil
            scrollText(&wellKnownPosition, lines: wellKnownLineCount, .by(0))
        case .loadFailed(let request, let message):
            loadFailed(request, message)
        case .refreshed(let grantID, let summary):
            refreshing[grantID] = nil
            lastForcedRefresh[grantID] = summary
            let level: Flash.Level = summary.refreshed ? .info : (summary.outcome == "transient" ? .warning : .error)
            show(level, "grant \(grantID): \(summary.sentence(now: now))")
            return reloadAfterAction(on: grantID)
        case .revoked(let grantID, let note):
            revoking.remove(grantID)
            show(.info, "grant \(grantID) revoked" + (note.map { "; \($0)" } ?? ""))
            return reloadAfterAction(on: grantID)
        case .actionFailed(let grantID, let action, let message):
            refreshing[grantID] = nil
            revoking.remove(grantID)
            show(.error, "grant \(grantID): \(action) failed: \(message)")
            return reloadAfterAction(on: grantID)
        case .bulkPlanned(let request, let plan):
            applyPlan(request, plan)
        case .jobProgress, .bulkFinished, .exportFinished, .jobFailed, .clientRevoked, .clientRevokeFailed:
            return applyJob(event)
        case .theme(let newTheme):
            theme = newTheme
            show(.info, "theme \(newTheme.name)")
        case .themeFailed(let error):
            theme = .dark
            show(.error, "\(error.description); using the built-in \(Theme.defaultName) theme")
        case .tick(let date):
            now = date
            if let flash, flash.expires <= date { self.flash = nil }
        case .dataChanged:
            return reloadVisible()
        case .resized(let columns, let rows):
            layout = Layout(columns: columns, rows: rows)
            for target in [ViewKind.servers, .providers, .clients, .audit] { keepVisible(target) }
            scrollText(&detailPosition, lines: detailLineCount, .by(0))
            scrollText(&wellKnownPosition, lines: wellKnownLineCount, .by(0))
            keepGrantsVisible()
            // The window size follows the screen: read the window again at the new size.
            if grants.isLoaded { return loadGrants(grants.anchor, placement: .keepSelection) }
        }
        return []
    }

    private mutating func keepVisible(_ target: ViewKind) {
        let visible = layout.tableRows(for: target)
        switch target {
        case .servers: servers.keepVisible(visible)
        case .providers: providers.keepVisible(visible)
        case .clients: clients.keepVisible(visible)
        case .audit: audit.keepVisible(visible)
        default: break
        }
    }

    /// Another process changed the store: read again what is on screen (and only that).
    mutating func reloadVisible() -> [ConsoleEffect] {
        view == .audit ? loadAuditTail() : enter(view)
    }

    /// After a refresh or revocation: the rows and the detail show the new state at once.
    mutating func reloadAfterAction(on grantID: Int64) -> [ConsoleEffect] {
        var effects: [ConsoleEffect] = []
        if grants.isLoaded { effects += loadGrants(grants.anchor, placement: .keepSelection) }
        if detailGrantID == grantID && stack.contains(.detail) { effects += enter(.detail) }
        if view == .audit { effects += enter(.audit) }
        return effects
    }

    private mutating func loadFailed(_ request: Int, _ message: String) {
        if request == grants.request {
            grants.request = nil
            grants.error = message
        } else if request == grants.countRequest {
            grants.countRequest = nil
            return
        } else if request == servers.request {
            servers.request = nil
            servers.error = message
        } else if request == providers.request {
            providers.request = nil
            providers.error = message
        } else if request == clients.request {
            clients.request = nil
            clients.error = message
        } else if request == audit.request {
            audit.request = nil
            audit.error = message
        } else if request == auditTailRequest {
            auditTailRequest = nil
            audit.error = message
        } else if request == detailRequest {
            detailRequest = nil
            detailError = message
        } else if request == wellKnownRequest {
            wellKnownRequest = nil
            wellKnownError = message
        } else if request == pendingPlan?.request {
            pendingPlan = nil
        } else {
            return
        }
        show(.error, message)
    }
}
