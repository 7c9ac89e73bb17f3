import TollgateCore

extension ConsoleState {
    /// Grant rows on screen at once.
    var grantsVisible: Int { layout.tableRows(for: .grants) }
    /// Rows per window: three screens, so that a screen's worth of movement either way needs no load.
    var grantsWindowSize: Int { max(30, grantsVisible * 3) }

    /// The listing query of a window at `anchor`.
    func grantsQuery(_ anchor: WindowAnchor) -> GrantQuery {
        var query = GrantQuery(sort: grants.sort, limit: grantsWindowSize)
        grants.filter.apply(to: &query)
        switch anchor {
        case .start: break
        case .after(let cursor): query.after = cursor
        case .before(let cursor): query.before = cursor
        case .end: query.fromEnd = true
        }
        return query
    }

    mutating func loadGrants(_ anchor: WindowAnchor, placement: WindowPlacement) -> [ConsoleEffect] {
        let id = nextRequest()
        grants.request = id
        grants.pendingAnchor = anchor
        grants.placement = placement
        return [.loadGrants(request: id, query: grantsQuery(anchor))]
    }

    mutating func countGrants() -> [ConsoleEffect] {
        let id = nextRequest()
        grants.countRequest = id
        var query = GrantQuery(sort: grants.sort, limit: 1)
        grants.filter.apply(to: &query)
        grants.countLimit = grants.filter.isEmpty ? Int.max : Self.countLimit
        return [.countGrants(request: id, query: query, limit: grants.countLimit)]
    }

    /// From the top of the listing, with a new count (after a filter or sort change).
    mutating func restartGrants() -> [ConsoleEffect] {
        grants.count = nil
        return loadGrants(.start, placement: .first) + countGrants()
    }

    mutating func moveGrants(_ motion: Motion) -> [ConsoleEffect] {
        let visible = grantsVisible
        var pushing = 0
        switch motion {
        case .top:
            if grants.anchor == .start && !grants.hasBefore {
                grants.selection = 0
                grants.top = 0
                return []
            }
            return loadGrants(.start, placement: .first)
        case .bottom:
            if !grants.hasAfter {
                grants.selection = max(0, grants.rows.count - 1)
                keepGrantsVisible()
                return []
            }
            return loadGrants(.end, placement: .last)
        case .by(let delta):
            let target = grants.selection + delta
            if target >= grants.rows.count { pushing = 1 } else if target < 0 { pushing = -1 }
            grants.selection = max(0, min(grants.rows.count - 1, target))
        case .page(let pages):
            let delta = pages * visible
            grants.selection = max(0, min(grants.rows.count - 1, grants.selection + delta))
            grants.top = max(0, min(max(0, grants.rows.count - visible), grants.top + delta))
        }
        keepGrantsVisible()
        return shiftGrantsWindow(pushing: pushing)
    }

    mutating func keepGrantsVisible() {
        let visible = grantsVisible
        let count = grants.rows.count
        grants.selection = count == 0 ? 0 : max(0, min(count - 1, grants.selection))
        if grants.selection < grants.top { grants.top = grants.selection }
        if grants.selection >= grants.top + visible { grants.top = grants.selection - visible + 1 }
        grants.top = max(0, min(grants.top, max(0, count - visible)))
    }

    /// Asks for a shifted window when the selection comes within half a screen of an edge the listing goes
    /// beyond (`pushing` says the user tried to move past the edge).
    ///
    /// A shift keeps half a screen beyond the far edge of the screen and puts the rest (a screen and a half)
    /// ahead, so the next shift comes after a full screen of movement, not at the next key.
    mutating func shiftGrantsWindow(pushing: Int) -> [ConsoleEffect] {
        guard grants.request == nil, !grants.rows.isEmpty else { return [] }
        let visible = grantsVisible, margin = max(1, grantsVisible / 2)
        let rows = grants.rows
        if grants.hasAfter && (pushing > 0 || rows.count - 1 - grants.selection < margin) {
            // The new window starts `margin` rows above the top of the screen.
            let k = max(0, min(rows.count - 1, grants.top - margin - 1))
            return loadGrants(.after(grants.sort.cursor(of: rows[k])), placement: .keepSelection)
        }
        if grants.hasBefore && (pushing < 0 || grants.selection < margin) {
            // The new window ends `margin` rows below the bottom of the screen.
            let e = max(0, min(rows.count - 1, grants.top + visible + margin))
            return loadGrants(.before(grants.sort.cursor(of: rows[e])), placement: .keepSelection)
        }
        return []
    }

    mutating func applyGrants(request: Int, page: Page<Grant>) -> [ConsoleEffect] {
        guard request == grants.request else { return [] }
        grants.request = nil
        grants.error = nil
        if page.items.isEmpty, grants.pendingAnchor != .start, grants.pendingAnchor != .end {
            // Everything past the cursor went away (deleted meanwhile): show the end of the listing instead.
            return loadGrants(.end, placement: .last)
        }
        let keptID = grants.selected?.id
        let offset = grants.selection - grants.top
        grants.rows = page.items
        grants.anchor = grants.pendingAnchor
        grants.hasBefore = page.previousCursor != nil
        grants.hasAfter = page.nextCursor != nil
        grants.isLoaded = true
        switch grants.placement {
        case .first:
            grants.selection = 0
            grants.top = 0
        case .last:
            grants.selection = max(0, grants.rows.count - 1)
            grants.top = max(0, grants.rows.count - grantsVisible)
        case .keepSelection:
            if let keptID, let index = grants.rows.firstIndex(where: { $0.id == keptID }) {
                grants.selection = index
                grants.top = index - offset
            }
        }
        keepGrantsVisible()
        return []
    }
}

/// A movement key, before it is applied to a list or a text.
enum Motion: Equatable {
    case by(Int)
    case page(Int)
    case top
    case bottom
}
