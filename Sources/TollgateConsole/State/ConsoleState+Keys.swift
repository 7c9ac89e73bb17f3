import Foundation
import TollgateCore

extension ConsoleState {
    /// Handles one key press: looks it up in the ``KeyTable`` for the current mode and view, changes the
    /// state, and returns the work to do.
    public mutating func handle(_ key: Key) -> [ConsoleEffect] {
        switch mode {
        case .browse:
            guard let binding = KeyTable.binding(for: key, context: .browse, view: view) else { return [] }
            if binding.dangerous && options.readOnly {
                show(.warning, "read-only: '\(binding.footerKey)' (\(binding.hint ?? binding.summary)) is disabled")
                return []
            }
            if binding.action == .back, job != nil { return cancelJob() }
            if let reason = binding.unavailable?(self) {
                let about = [.forceRefresh, .revoke].contains(binding.action) ? focusLabel : nil
                show(.warning, "\(about ?? binding.footerKey): \(reason)")
                return []
            }
            return perform(binding.action)
        case .filter(var editor):
            switch edit(key, &editor) {
            case .submit:
                mode = .browse
                if view == .grants, case .failure(let error) = GrantFilter.parse(editor.text) {
                    // Not the half-typed prefix of the bad text: the filter from before the editing.
                    show(.warning, "filter not applied: \(error.message)")
                    return setFilter(editor.original, final: true)
                }
                return setFilter(editor.text, final: true)
            case .abandon:
                mode = .browse
                return setFilter(editor.original, final: true)
            case .edited:
                mode = .filter(editor)
                return setFilter(editor.text, final: false)
            case .ignored:
                return []
            }
        case .command(var editor):
            if KeyTable.binding(for: key, context: .input, view: view)?.action == .complete {
                mode = .command(complete(editor))
                return []
            }
            editor.candidates = []
            switch edit(key, &editor) {
            case .submit:
                mode = .browse
                return runCommand(editor.text)
            case .abandon:
                mode = .browse
                return []
            case .edited:
                mode = .command(editor)
                return []
            case .ignored:
                return []
            }
        case .dialog(var dialog):
            guard let binding = KeyTable.binding(for: key, context: .dialog, view: view) else { return [] }
            switch binding.action {
            case .focusNext:
                dialog.moveFocus(by: 1)
                mode = .dialog(dialog)
            case .focusPrevious:
                dialog.moveFocus(by: -1)
                mode = .dialog(dialog)
            case .confirm:
                return confirm(dialog)
            case .cancel:
                mode = .browse
            default:
                break
            }
            return []
        case .help(var help):
            if help.typing {
                var editor = LineEditor(text: help.search, original: "")
                switch edit(key, &editor) {
                case .submit: help.typing = false
                case .abandon: help = HelpView()
                case .edited: help.search = editor.text; help.scroll = 0
                case .ignored: break
                }
                mode = .help(help)
                return []
            }
            guard let binding = KeyTable.binding(for: key, context: .help, view: view) else { return [] }
            let maximum = max(0, HelpText.lines(readOnly: options.readOnly, matching: help.search).count - layout.textRows)
            switch binding.action {
            case .down: help.scroll = min(maximum, help.scroll + 1)
            case .up: help.scroll = max(0, help.scroll - 1)
            case .search: help.typing = true
            case .back:
                // Esc clears a search first; a second Esc (or ? or q) closes the help.
                if !help.search.isEmpty && key == .escape { help = HelpView() } else { mode = .browse; return [] }
            default: break
            }
            mode = .help(help)
            return []
        }
    }

    /// What a key did to a line being typed.
    private enum InputOutcome { case submit, abandon, edited, ignored }

    /// Applies `key` to `editor`: typing, deleting, clearing, or ending the input.
    private func edit(_ key: Key, _ editor: inout LineEditor) -> InputOutcome {
        if let binding = KeyTable.binding(for: key, context: .input, view: view) {
            switch binding.action {
            case .submit: return .submit
            case .abandon: return .abandon
            case .deleteBackward:
                guard !editor.text.isEmpty else { return .ignored }
                editor.text.removeLast()
                return .edited
            case .clearLine:
                editor.text = ""
                return .edited
            default:
                return .ignored
            }
        }
        guard case .character(let c) = key else { return .ignored }
        editor.text.append(c)
        return .edited
    }

    /// Carries out a browse action.
    mutating func perform(_ action: ConsoleAction) -> [ConsoleEffect] {
        switch action {
        case .down: return move(.by(1))
        case .up: return move(.by(-1))
        case .pageDown: return move(.page(1))
        case .pageUp: return move(.page(-1))
        case .top: return move(.top)
        case .bottom: return move(.bottom)
        case .scrollLeft: scrollSideways(-8); return []
        case .scrollRight: scrollSideways(8); return []
        case .open: return open()
        case .back: return back()
        case .filter:
            let current = filterText(of: view)
            mode = .filter(LineEditor(text: current, original: current))
            return []
        case .command:
            mode = .command(LineEditor())
            return loadCompletionData()
        case .help:
            mode = .help(HelpView())
            return []
        case .sortNext: return cycleSort(by: 1)
        case .sortPrevious: return cycleSort(by: -1)
        case .reload: return enter(view)
        case .forceRefresh: return forceRefresh()
        case .revoke: return view == .clients ? askToRevokeClient() : askToRevoke()
        case .bulkRevoke: return askBulk(.revoke)
        case .bulkRefresh: return askBulk(.refresh)
        case .copy:
            guard let text = copyText else { return [] }
            show(.info, "copied \(text.count > 40 ? String(text.prefix(39)) + "\u{2026}" : text)")
            return [.copy(text)]
        case .wellKnown: return openWellKnown()
        case .quit:
            isFinished = true
            return [.quit]
        case .focusNext, .focusPrevious, .confirm, .cancel, .submit, .abandon, .deleteBackward, .clearLine, .complete, .search:
            return []
        }
    }

    // MARK: Actions on grants

    /// `f`: the key table has checked that the focused grant can be refreshed.
    mutating func forceRefresh() -> [ConsoleEffect] {
        guard let grant = focusedGrant else { return [] }
        refreshing[grant.id] = now
        return [.forceRefresh(grantID: grant.id)]
    }

    /// `x` on a grant: the key table has checked that it can be revoked.
    mutating func askToRevoke() -> [ConsoleEffect] {
        guard let grant = focusedGrant else { return [] }
        mode = .dialog(ConfirmDialog(.grant(grant)))
        return []
    }

    mutating func openWellKnown() -> [ConsoleEffect] {
        guard let slug = focusedServerSlug else {
            show(.warning, "no server selected")
            return []
        }
        if view == .wellKnown { return enter(.wellKnown) }
        wellKnownSlug = slug
        wellKnown = nil
        wellKnownPosition = TextPosition()
        return push(.wellKnown)
    }

    // MARK: Views

    /// Makes `view` the only view (a `:` command).
    mutating func switchTo(_ target: ViewKind) -> [ConsoleEffect] {
        stack = [target]
        mode = .browse
        return enter(target)
    }

    /// Opens `view` on top of the current one (Esc comes back).
    mutating func push(_ target: ViewKind) -> [ConsoleEffect] {
        if stack.last != target { stack.append(target) }
        return enter(target)
    }

    /// Esc: back to the previous view, or clear the list's filter.
    mutating func back() -> [ConsoleEffect] {
        if stack.count > 1 {
            stack.removeLast()
            return enter(view)
        }
        if view.isList && !filterText(of: view).isEmpty {
            return setFilter("", final: true)
        }
        return []
    }

    /// Enter: what the selection leads to.
    mutating func open() -> [ConsoleEffect] {
        switch view {
        case .grants:
            guard let grant = grants.selected else { return [] }
            return openDetail(grant.id)
        case .servers, .providers:
            let list = view == .servers ? servers : providers
            guard let slug = list.selected?.server.slug else { return [] }
            return openGrants(filter: "server:\(slug)")
        case .clients:
            guard let id = clients.selected?.client.id else { return [] }
            return openGrants(filter: "client:\(id)")
        case .audit:
            guard let event = audit.selected else { return [] }
            guard let grantID = event.grantID else {
                show(.info, "event \(event.id) is not about a grant")
                return []
            }
            return openDetail(grantID)
        case .detail, .wellKnown:
            return []
        }
    }

    mutating func openDetail(_ grantID: Int64) -> [ConsoleEffect] {
        if detailGrantID != grantID {
            detailGrantID = grantID
            detail = nil
            detailPosition = TextPosition()
        }
        return push(.detail)
    }

    mutating func openGrants(filter text: String) -> [ConsoleEffect] {
        stack.append(.grants)
        grants.filterText = text
        grants.filter = (try? GrantFilter.parse(text).get()) ?? GrantFilter()
        return restartGrants()
    }

    /// The effects that (re)load `view`.
    mutating func enter(_ target: ViewKind) -> [ConsoleEffect] {
        switch target {
        case .grants:
            var effects = grants.isLoaded ? loadGrants(grants.anchor, placement: .keepSelection) : loadGrants(.start, placement: .first)
            effects += countGrants()
            return effects
        case .servers:
            let id = nextRequest()
            servers.request = id
            return [.loadServers(request: id)]
        case .providers:
            let id = nextRequest()
            providers.request = id
            return [.loadProviders(request: id)]
        case .clients:
            return loadClients(appending: false)
        case .audit:
            return loadAudit(appending: false)
        case .detail:
            guard let grantID = detailGrantID else { return [] }
            let id = nextRequest()
            detailRequest = id
            return [.loadDetail(request: id, grantID: grantID)]
        case .wellKnown:
            guard let slug = wellKnownSlug else { return [] }
            let id = nextRequest()
            wellKnownRequest = id
            return [.loadWellKnown(request: id, serverSlug: slug)]
        }
    }
}
