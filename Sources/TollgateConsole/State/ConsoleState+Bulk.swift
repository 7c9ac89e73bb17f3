import Foundation
import TollgateCore

/// Bulk actions on the filter (`X`, `F`, `:revoke-all`), revoking a client, `:export`, `y`, and why an
/// action is unavailable for the selection.
extension ConsoleState {
    // MARK: Why not

    /// Why `f` cannot refresh the focused grant, or `nil`.
    public var refreshUnavailableReason: String? {
        guard let grant = focusedGrant else { return "no grant selected" }
        if refreshing[grant.id] != nil { return "a refresh of this grant is in flight" }
        guard case .notRefreshable(let reason) = grant.refreshability else { return nil }
        switch reason {
        case .revoked: return "revoked grants cannot be refreshed"
        case .noUpstreamRefreshToken: return "no upstream refresh token"
        case .providerCannotRefresh: return "the provider does not support refresh"
        case .needsReauth: return "the user must authorize again; no refresh can help"
        }
    }

    /// Why `x` cannot revoke what is selected (a grant, or a client in the clients view), or `nil`.
    public var revokeUnavailableReason: String? {
        if view == .clients {
            guard let entry = clients.selected else { return "no client selected" }
            if entry.client.revokedAt != nil { return "already revoked" }
            if revokingClients.contains(entry.client.id) { return "being revoked" }
            return pendingPlan == nil ? nil : "counting its grants"
        }
        guard let grant = focusedGrant else { return "no grant selected" }
        if grant.state == .revoked { return "already revoked" }
        if revoking.contains(grant.id) { return "being revoked" }
        return nil
    }

    /// What `f` and `x` act on, for their messages: `grant 12`, `client tgc_…`.
    var focusLabel: String? {
        if view == .clients { return clients.selected.map { "client \($0.client.id)" } }
        return focusedGrant.map { "grant \($0.id)" }
    }

    /// Why `X` / `F` cannot act on the filter, or `nil`.
    public var bulkUnavailableReason: String? {
        if job != nil { return "a job is running (Esc cancels it)" }
        if pendingPlan != nil { return "counting the grants of the filter" }
        guard bulkScope.isBounded else { return "filter by subject, server: or client: first (/)" }
        return nil
    }

    /// The exact scope of a bulk action on the grants filter: its words are the WHOLE subject (the listing
    /// matches their prefix; a bulk action never does).
    public var bulkScope: GrantScope {
        let f = grants.filter
        return GrantScope(subject: f.subjectPrefix, clientID: f.clientID, serverSlug: f.serverSlug, status: f.status)
    }

    /// What `y` copies here: the selected row's id, or in a text view the value on the cursor's line.
    public var copyText: String? {
        switch view {
        case .grants: return grants.selected.map { String($0.id) }
        case .servers: return servers.selected?.server.slug
        case .providers: return providers.selected?.server.slug
        case .clients: return clients.selected?.client.id
        case .audit: return audit.selected.map { String($0.id) }
        case .detail:
            guard let info = detail else { return nil }
            // The heading line names the grant: its id is what is wanted there.
            guard detailPosition.cursor > 0 else { return String(info.grant.id) }
            return Self.value(of: DetailText.lines(for: info, state: self), at: detailPosition.cursor) ?? String(info.grant.id)
        case .wellKnown:
            guard let documents = wellKnown else { return nil }
            return Self.value(of: WellKnownText.lines(for: documents), at: wellKnownPosition.cursor)
        }
    }

    /// The value of a text line: a field's value (after its label span), else the line's text, trimmed.
    static func value(of lines: [StyledLine], at index: Int) -> String? {
        guard lines.indices.contains(index) else { return nil }
        let spans = lines[index].spans
        let text = (spans.count >= 2 && spans[0].role == .label ? spans.dropFirst() : spans[...]).map(\.text).joined()
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    // MARK: Asking

    /// `X` / `F` / `:revoke-all`: counts what the action would touch, then asks (see ``applyPlan(_:_:)``).
    mutating func askBulk(_ action: BulkAction) -> [ConsoleEffect] {
        let id = nextRequest()
        pendingPlan = PendingPlan(request: id, purpose: .bulk(action))
        show(.info, "counting the grants of \(bulkScope)\u{2026}")
        return [.planBulk(request: id, action: action, scope: bulkScope)]
    }

    /// `x` in the clients view: counts the client's grants, then asks.
    mutating func askToRevokeClient() -> [ConsoleEffect] {
        guard let entry = clients.selected else { return [] }
        let id = nextRequest()
        pendingPlan = PendingPlan(request: id, purpose: .client(entry))
        return [.planBulk(request: id, action: .revoke, scope: GrantScope(clientID: entry.client.id))]
    }

    /// The count arrived: the confirmation opens (focused on Cancel), or a flash says there is nothing to do.
    mutating func applyPlan(_ request: Int, _ plan: BulkPlan) {
        guard let pending = pendingPlan, pending.request == request else { return }
        pendingPlan = nil
        flash = nil
        switch pending.purpose {
        case .bulk(let action):
            guard plan.count > 0 else {
                show(.info, "no grants to \(action == .revoke ? "revoke" : "refresh") match \(plan.scope)")
                return
            }
            mode = .dialog(ConfirmDialog(.bulk(action, plan.scope, count: plan.count)))
        case .client(let entry):
            mode = .dialog(ConfirmDialog(.client(entry, grants: plan.count)))
        }
    }

    /// The focused button of a confirmation was pressed.
    mutating func confirm(_ dialog: ConfirmDialog) -> [ConsoleEffect] {
        mode = .browse
        guard dialog.focus != .cancel else { return [] }
        switch dialog.target {
        case .grant(let grant):
            revoking.insert(grant.id)
            return [.revoke(grantID: grant.id, upstream: dialog.focus == .revokeUpstream)]
        case .bulk(let action, let scope, let count):
            let id = nextRequest()
            job = ConsoleJob(id: id, kind: .bulk(action, scope, upstream: dialog.focus == .revokeUpstream), started: now, total: count)
            return [.runBulk(job: id, action: action, scope: scope, upstream: dialog.focus == .revokeUpstream)]
        case .client(let entry, _):
            revokingClients.insert(entry.client.id)
            return [.revokeClient(clientID: entry.client.id)]
        }
    }

    // MARK: Jobs

    /// Esc while a job runs: asks it to stop (it does so before its next grant or page).
    mutating func cancelJob() -> [ConsoleEffect] {
        guard var running = job, !running.cancelling else { return [] }
        running.cancelling = true
        job = running
        show(.warning, "cancelling: \(running.progressText)")
        return [.cancelJob(running.id)]
    }

    /// `:export csv|json PATH` (`:export!` replaces an existing file).
    mutating func startExport(_ arguments: [String], overwrite: Bool) -> [ConsoleEffect] {
        guard view == .grants || stack.contains(.grants) else {
            show(.error, "':export' writes the grants view: switch to it with :grants")
            return []
        }
        guard arguments.count == 2, let format = ExportFormat(rawValue: arguments[0].lowercased()) else {
            show(.error, "usage: :export csv|json PATH (every grant of the filter; :export! replaces a file)")
            return []
        }
        if let running = job {
            show(.warning, "a job is running: \(running.progressText) (Esc cancels it)")
            return []
        }
        let path = NSString(string: arguments[1]).expandingTildeInPath
        var query = GrantQuery(sort: grants.sort, limit: GrantExportWriter.pageSize)
        grants.filter.apply(to: &query)
        let id = nextRequest()
        job = ConsoleJob(id: id, kind: .export(format, path: path), started: now, total: grants.countIsCapped ? nil : grants.count)
        return [.export(job: id, format: format, path: path, overwrite: overwrite, query: query)]
    }

    /// A job's progress, end or failure.
    mutating func applyJob(_ event: ConsoleEvent) -> [ConsoleEffect] {
        switch event {
        case .jobProgress(let id, let done, let total, let failed):
            guard job?.id == id else { return [] }
            job?.done = done
            if let total { job?.total = total }
            job?.failed = failed
        case .bulkFinished(let id, let result):
            guard job?.id == id else { return [] }
            job = nil
            let level: Flash.Level = result.failed > 0 ? .error : result.cancelled ? .warning : .info
            show(level, "\(result.scope): \(result.summary)")
            return reloadAfterBulk()
        case .exportFinished(let id, let rows, let cancelled):
            guard let finished = job, finished.id == id, case .export(_, let path) = finished.kind else { return [] }
            job = nil
            if cancelled {
                show(.warning, "export cancelled after \(rows) rows; \(path) removed")
            } else {
                show(.info, "exported \(rows) grants to \(path)")
            }
        case .jobFailed(let id, let message):
            guard job?.id == id else { return [] }
            job = nil
            show(.error, message)
            return reloadAfterBulk()
        case .clientRevoked(let clientID, let count):
            revokingClients.remove(clientID)
            show(.info, "client \(clientID) revoked with \(count) grant(s)")
            return reloadAfterBulk()
        case .clientRevokeFailed(let clientID, let message):
            revokingClients.remove(clientID)
            show(.error, "client \(clientID): revoke failed: \(message)")
            return reloadAfterBulk()
        default:
            break
        }
        return []
    }

    /// After a bulk action: the grants window, its count and the view on screen show the new state.
    mutating func reloadAfterBulk() -> [ConsoleEffect] {
        var effects: [ConsoleEffect] = []
        if grants.isLoaded { effects += loadGrants(grants.anchor, placement: .keepSelection) + countGrants() }
        if view != .grants { effects += enter(view) }
        return effects
    }
}
