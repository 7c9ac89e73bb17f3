import Foundation
import Testing
import TollgateConsole
import TollgateCore

/// The reducer, key by key and effect by effect, with no terminal and no store.
@Suite("Reducer: keys")
struct ReducerKeyTests {
    func grantsRequests(_ effects: [ConsoleEffect]) -> [GrantQuery] {
        effects.compactMap { if case .loadGrants(_, let q) = $0 { q } else { nil } }
    }

    @Test func startLoadsTheFirstWindowAndTheExactCount() {
        let driver = ConsoleDriver(settle: false)
        let queries = grantsRequests(driver.lastEffects)
        #expect(queries.count == 1)
        #expect(queries.first?.after == nil && queries.first?.before == nil && queries.first?.fromEnd == false)
        #expect(queries.first?.limit == driver.state.layout.tableRows(for: .grants) * 3)
        #expect(driver.lastEffects.contains { if case .countGrants(_, _, Int.max) = $0 { true } else { false } })
        #expect(Renderer().render(driver.state).text().contains("loading"))
    }

    @Test func everyBindingOfTheKeyTableIsHandled() {
        // Each browse binding, pressed in a view it applies to, changes the state or asks for work.
        for binding in KeyTable.bindings where binding.context == .browse {
            for key in binding.keys {
                // Esc is tried where there is somewhere to go back to.
                let view = binding.action == .back ? .detail
                    : ViewKind.allCases.first { binding.applies(in: $0) && $0 != .wellKnown } ?? .grants
                var driver = ConsoleDriver()
                switch view {
                case .servers: driver.press(.character(":")); driver.type("servers"); driver.press(.enter)
                case .detail: driver.press(.enter)
                default: break
                }
                if binding.action == .up || binding.action == .top || binding.action == .pageUp { driver.press(.down, .down) }
                if binding.action == .scrollLeft { driver.press(.character("l")) }
                let before = driver.state
                let effects = driver.state.handle(key)
                let changed = effects != [] || driver.state.mode != before.mode || driver.state.stack != before.stack
                    || driver.state.grants.selection != before.grants.selection || driver.state.flash != before.flash
                    || driver.state.servers.selection != before.servers.selection || driver.state.isFinished
                    || driver.state.servers.sortIndex != before.servers.sortIndex
                    || driver.state.detailPosition != before.detailPosition
                #expect(changed, "\(key.label) (\(binding.action)) did nothing in \(view)")
            }
        }
    }

    @Test func jkAndArrowsMoveTheSelection() {
        var driver = ConsoleDriver()
        driver.press(.character("j"))
        #expect(driver.state.grants.selected?.id == 11)
        driver.press(.down, .down)
        #expect(driver.state.grants.selected?.id == 9)
        driver.press(.character("k"), .up)
        #expect(driver.state.grants.selected?.id == 11)
        driver.press(.up, .up, .up)
        #expect(driver.state.grants.selection == 0)
        driver.press(.character("G"))
        #expect(driver.state.grants.selected?.id == 5)
        driver.press(.down)
        #expect(driver.state.grants.selected?.id == 5, "the last row stays selected")
        driver.press(.character("g"))
        #expect(driver.state.grants.selected?.id == 12)
        driver.press(.end)
        #expect(driver.state.grants.selected?.id == 5)
        driver.press(.home)
        #expect(driver.state.grants.selected?.id == 12)
    }

    @Test func pageKeysMoveAScreenAtATime() {
        var driver = ConsoleDriver(backend: .many(500))
        let visible = driver.state.layout.tableRows(for: .grants)
        driver.press(.pageDown)
        #expect(driver.state.grants.selected?.id == Int64(500 - visible))
        driver.press(.control("f"))
        #expect(driver.state.grants.selected?.id == Int64(500 - 2 * visible))
        driver.press(.pageUp, .control("b"))
        #expect(driver.state.grants.selected?.id == 500)
    }

    @Test func theWindowShiftsAboutOnceAScreenAndNeverHoldsMore() {
        var driver = ConsoleDriver(columns: 120, rows: 40, backend: .many(5000))
        let visible = driver.state.layout.tableRows(for: .grants)
        func loads() -> Int { driver.lastEffects.filter { if case .loadGrants = $0 { true } else { false } }.count }
        var down = 0, up = 0
        for _ in 0..<600 {
            driver.press(.down)
            down += loads()
            #expect(driver.state.grants.rows.count <= visible * 3)
        }
        #expect(driver.state.grants.selected?.id == Int64(4400))
        for _ in 0..<300 {
            driver.press(.up)
            up += loads()
        }
        #expect(driver.state.grants.selected?.id == Int64(4700))
        #expect(down <= 600 / visible + 2, "\(down) loads for 600 rows down")
        #expect(up <= 300 / visible + 3, "\(up) loads for 300 rows up")
        // The rows on screen never jump when a window arrives: the selected grant keeps its place.
        let before = driver.state.grants.selection - driver.state.grants.top
        driver.press(.down)
        #expect(driver.state.grants.selection - driver.state.grants.top == min(before + 1, visible - 1))
    }

    @Test func enterOpensTheDetailAndEscComesBack() {
        var driver = ConsoleDriver()
        driver.press(.down, .enter)
        #expect(driver.state.stack == [.grants, .detail])
        #expect(driver.lastEffects.contains { if case .loadDetail(_, 11) = $0 { true } else { false } })
        #expect(driver.state.detail?.grant.id == 11)
        driver.press(.escape)
        #expect(driver.state.stack == [.grants])
        #expect(driver.state.grants.selected?.id == 11, "the selection survives the detail")
        #expect(!grantsRequests(driver.lastEffects).isEmpty, "coming back reads the window again")
    }

    @Test func detailCursorMovesAndTheTextFollowsIt() {
        var driver = ConsoleDriver(columns: 80, rows: 15)
        driver.press(.enter)
        let visible = driver.state.layout.textRows
        let lines = DetailText.lines(for: driver.state.detail!, state: driver.state).count
        #expect(lines > visible + 2, "the fixture's detail is longer than a 15-row screen")
        driver.press(.down, .character("j"))
        #expect(driver.state.detailPosition == TextPosition(line: 0, cursor: 2), "the cursor moves; the text stays")
        for _ in 0..<(visible - 3) { driver.press(.character("j")) }
        #expect(driver.state.detailPosition == TextPosition(line: 0, cursor: visible - 1), "on the last line shown")
        driver.press(.character("j"))
        #expect(driver.state.detailPosition == TextPosition(line: 1, cursor: visible), "one more scrolls by one line")
        driver.press(.character("G"))
        let bottom = driver.state.detailPosition.line
        #expect(bottom == lines - visible && driver.state.detailPosition.cursor == lines - 1)
        driver.press(.down)
        #expect(driver.state.detailPosition == TextPosition(line: bottom, cursor: lines - 1), "clamped at the end")
        driver.press(.character("k"))
        #expect(driver.state.detailPosition == TextPosition(line: bottom, cursor: lines - 2))
        driver.press(.character("g"))
        #expect(driver.state.detailPosition == TextPosition(line: 0, cursor: 0))
        driver.press(.up)
        #expect(driver.state.detailPosition == TextPosition(line: 0, cursor: 0), "clamped at the start")
        driver.press(.pageDown)
        #expect(driver.state.detailPosition.line == min(bottom, visible))
        #expect(driver.state.detailPosition.cursor == visible, "a page moves the cursor by a screenful too")
        driver.press(.character("l"), .right)
        #expect(driver.state.detailPosition.column == 16)
        driver.press(.character("h"), .left, .left)
        #expect(driver.state.detailPosition.column == 0)
    }

    @Test func filterTypesLiveAndEnterKeepsIt() {
        var driver = ConsoleDriver()
        driver.press(.character("/"))
        #expect(driver.state.mode == .filter(LineEditor(text: "", original: "")))
        driver.type("b")
        #expect(grantsRequests(driver.lastEffects).first?.subjectPrefix == "b")
        #expect(driver.state.grants.rows.map(\.id) == [10])
        driver.press(.backspace)
        #expect(driver.state.grants.rows.count == 8)
        driver.type("server:mail")
        #expect(driver.state.grants.rows.map(\.id) == [11, 7])
        driver.press(.enter)
        #expect(driver.state.mode == .browse)
        #expect(driver.state.grants.filterText == "server:mail")
        #expect(driver.state.grants.count == 2)
        #expect(Renderer().render(driver.state).text().contains("filter: server:mail"))
    }

    @Test func filterEscRestoresAndControlUClears() {
        var driver = ConsoleDriver()
        driver.press(.character("/")); driver.type("status:revoked"); driver.press(.enter)
        #expect(driver.state.grants.rows.map(\.id) == [7])
        driver.press(.character("/")); driver.type(" x")
        driver.press(.control("u"))
        #expect(driver.state.mode == .filter(LineEditor(text: "", original: "status:revoked")))
        #expect(driver.state.grants.rows.count == 8, "^U clears the line and the listing follows")
        driver.press(.escape)
        #expect(driver.state.grants.filterText == "status:revoked")
        #expect(driver.state.grants.rows.map(\.id) == [7])
        driver.press(.escape)
        #expect(driver.state.grants.filterText.isEmpty, "Esc in a filtered list clears the filter")
        #expect(driver.state.grants.rows.count == 8)
    }

    @Test func aBadFilterIsRefusedWithTheReason() {
        var driver = ConsoleDriver()
        driver.press(.character("/")); driver.type("status:sleepy"); driver.press(.enter)
        #expect(driver.state.flash?.level == .warning)
        #expect(driver.state.flash?.text.contains("unknown status 'sleepy'") == true)
        #expect(driver.state.grants.filter.isEmpty)
        #expect(driver.state.grants.filterText.isEmpty)
    }

    @Test func sortKeysCycleTheOrders() {
        var driver = ConsoleDriver()
        driver.press(.character("s"))
        #expect(driver.state.grants.sort == .oldest)
        #expect(driver.state.grants.rows.first?.id == 5)
        driver.press(.character("s"))
        #expect(driver.state.grants.sort == .upstreamExpiry)
        #expect(driver.state.grants.rows.first?.id == 10, "the longest expired first")
        driver.press(.character("s"))
        #expect(driver.state.grants.sort == .newest)
        driver.press(.character("S"))
        #expect(driver.state.grants.sort == .upstreamExpiry)
    }

    @Test func reloadReadsTheViewAgain() {
        var driver = ConsoleDriver()
        driver.backend.grants.removeAll { $0.id == 12 }
        driver.press(.character("r"))
        #expect(driver.state.grants.rows.first?.id == 11)
        #expect(driver.state.grants.count == 7)
    }

    @Test func forceRefreshRunsOffTheUIThreadWithASpinner() {
        var driver = ConsoleDriver()
        driver.press(.character("f"))
        #expect(driver.lastEffects == [.forceRefresh(grantID: 12)])
        #expect(driver.state.refreshing[12] == Fixtures.now)
        #expect(driver.state.isBusy)
        #expect(Renderer().render(driver.state).text().contains("refreshing grant 12"))
        driver.press(.character("f"))
        #expect(driver.lastEffects.isEmpty, "a second f while it runs does nothing")
        #expect(driver.state.flash?.text == "grant 12: a refresh of this grant is in flight")
    }

    @Test func forceRefreshIsRefusedUpFrontWithTheReason() {
        var driver = ConsoleDriver()
        driver.press(.down, .down, .down, .character("f"))
        #expect(driver.lastEffects.isEmpty)
        #expect(driver.state.flash == Flash(.warning, "grant 9: no upstream refresh token", now: Fixtures.now))
        driver.press(.down, .character("f"))
        #expect(driver.state.flash?.text.contains("the user must authorize again") == true)
        driver.press(.down, .character("f"))
        #expect(driver.state.flash?.text == "grant 7: revoked grants cannot be refreshed")
    }

    @Test func revokeAsksFirstWithCancelFocused() {
        var driver = ConsoleDriver()
        driver.press(.character("x"))
        guard case .dialog(let dialog) = driver.state.mode else { Issue.record("no dialog"); return }
        #expect(dialog.focus == .cancel)
        #expect(dialog.target == .grant(Fixtures.grants[0]))
        driver.press(.enter)
        #expect(driver.state.mode == .browse)
        #expect(driver.lastEffects.isEmpty, "Enter on Cancel revokes nothing")
    }

    @Test func revokeDialogButtons() {
        var driver = ConsoleDriver()
        driver.press(.character("x"), .tab)
        #expect(driver.state.mode == .dialog(ConfirmDialog(.grant(Fixtures.grants[0]), focus: .revoke)))
        driver.press(.enter)
        #expect(driver.lastEffects == [.revoke(grantID: 12, upstream: false)])
        #expect(driver.state.revoking == [12])

        driver = ConsoleDriver()
        driver.press(.character("x"), .right, .character("l"))
        #expect(driver.state.mode == .dialog(ConfirmDialog(.grant(Fixtures.grants[0]), focus: .revokeUpstream)))
        driver.press(.tab)
        #expect(driver.state.mode == .dialog(ConfirmDialog(.grant(Fixtures.grants[0]), focus: .cancel)), "focus wraps")
        driver.press(.backTab)
        driver.press(.enter)
        #expect(driver.lastEffects == [.revoke(grantID: 12, upstream: true)])

        driver = ConsoleDriver()
        driver.press(.character("x"), .tab, .left, .character("h"))
        #expect(driver.state.mode == .dialog(ConfirmDialog(.grant(Fixtures.grants[0]), focus: .revokeUpstream)))
        driver.press(.escape)
        #expect(driver.state.mode == .browse)
        driver.press(.character("x"), .character("q"))
        #expect(driver.state.mode == .browse && !driver.state.isFinished, "q in the dialog cancels, it does not quit")
    }

    @Test func revokingARevokedGrantIsAnswered() {
        var driver = ConsoleDriver()
        driver.press(.down, .down, .down, .down, .down, .character("x"))
        #expect(driver.state.mode == .browse)
        #expect(driver.state.flash?.text == "grant 7: already revoked")
    }

    @Test func readOnlyHidesAndRefusesDangerousActions() {
        var driver = ConsoleDriver(readOnly: true)
        driver.press(.character("f"))
        #expect(driver.lastEffects.isEmpty)
        #expect(driver.state.flash?.level == .warning && driver.state.flash?.text.contains("read-only") == true)
        driver.press(.character("x"))
        #expect(driver.state.mode == .browse)
        let footer = Renderer().render(driver.state).text().split(separator: "\n").last.map(String.init) ?? ""
        #expect(!footer.contains("revoke") && !footer.contains("refresh"))
        #expect(KeyTable.visible(context: .browse, view: .grants, readOnly: true).allSatisfy { !$0.dangerous })
        #expect(!HelpText.lines(readOnly: true).map(\.text).joined().contains("revoke the grant"))
        #expect(HelpText.lines(readOnly: false).map(\.text).joined().contains("revoke the grant"))
    }

    @Test func wellKnownOfTheSelectedServer() {
        var driver = ConsoleDriver()
        driver.press(.down, .character("w"))
        #expect(driver.state.stack == [.grants, .wellKnown])
        #expect(driver.state.wellKnownSlug == "mail")
        #expect(driver.lastEffects.contains { if case .loadWellKnown(_, "mail") = $0 { true } else { false } })
        driver.press(.character("G"))
        #expect(driver.state.wellKnownPosition.line > 0)
        driver.press(.escape)
        #expect(driver.state.view == .grants)
    }

    @Test func commandsSwitchViews() {
        var driver = ConsoleDriver()
        for (command, view) in [("servers", ViewKind.servers), ("providers", .providers), ("clients", .clients), ("audit", .audit), ("grants", .grants)] {
            driver.press(.character(":")); driver.type(command); driver.press(.enter)
            #expect(driver.state.stack == [view], ":\(command)")
        }
        driver.press(.character(":")); driver.type("grant 10"); driver.press(.enter)
        #expect(driver.state.stack == [.grants, .detail])
        #expect(driver.state.detail?.grant.id == 10)
        driver.press(.character(":")); driver.type("theme light"); driver.press(.enter)
        #expect(driver.lastEffects == [.loadTheme(name: "light")])
        #expect(driver.state.theme.name == "light")
        driver.press(.character(":")); driver.type("nope"); driver.press(.enter)
        #expect(driver.state.flash?.level == .error && driver.state.flash?.text.hasPrefix("unknown command ':nope'") == true)
        driver.press(.character(":")); driver.type("theme"); driver.press(.enter)
        #expect(driver.state.flash?.text == "theme light; available: dark, high-contrast, light, monochrome")
        driver.press(.character(":")); driver.type("help"); driver.press(.enter)
        #expect(driver.state.mode == .help(HelpView(scroll: 0)))
        driver.press(.escape)
        driver.press(.character(":")); driver.type("xyz"); driver.press(.escape)
        #expect(driver.state.mode == .browse)
        driver.press(.character(":")); driver.type("q"); driver.press(.enter)
        #expect(driver.state.isFinished)
        #expect(driver.lastEffects == [.quit])
    }

    @Test func helpScrollsAndCloses() {
        var driver = ConsoleDriver(columns: 80, rows: 15)
        driver.press(.character("?"))
        #expect(driver.state.mode == .help(HelpView(scroll: 0)))
        driver.press(.character("j"), .down)
        #expect(driver.state.mode == .help(HelpView(scroll: 2)))
        driver.press(.character("k"))
        #expect(driver.state.mode == .help(HelpView(scroll: 1)))
        driver.press(.character("q"))
        #expect(driver.state.mode == .browse && !driver.state.isFinished)
        driver.press(.character("?"), .character("?"))
        #expect(driver.state.mode == .browse)
    }

    @Test func quitKeys() {
        var driver = ConsoleDriver()
        driver.press(.character("q"))
        #expect(driver.state.isFinished && driver.lastEffects == [.quit])
        driver = ConsoleDriver()
        driver.press(.control("c"))
        #expect(driver.state.isFinished)
    }

    @Test func unboundKeysDoNothing() {
        var driver = ConsoleDriver()
        let before = driver.state.grants
        driver.press(.character("z"), .character("Q"), .delete, .tab)
        #expect(driver.lastEffects.isEmpty)
        #expect(driver.state.grants == before)
        #expect(driver.state.flash == nil)
    }
}

@Suite("Reducer: lists")
struct ReducerListTests {
    @Test func serversFilterSortAndOpen() {
        var driver = ConsoleDriver()
        driver.press(.character(":")); driver.type("servers"); driver.press(.enter)
        #expect(driver.state.servers.rows.map(\.server.slug) == ["files", "mail", "wiki"])
        driver.press(.character("s"))
        #expect(driver.state.sortName(of: .servers) == "name")
        driver.press(.character("s"))
        #expect(driver.state.servers.rows.map(\.server.slug) == ["files", "mail", "wiki"], "newest first: files is the newest")
        driver.press(.character("S"), .character("S"))
        driver.press(.character("/")); driver.type("MAIL"); driver.press(.enter)
        #expect(driver.state.servers.rows.map(\.server.slug) == ["mail"])
        driver.press(.enter)
        #expect(driver.state.stack == [.servers, .grants])
        #expect(driver.state.grants.filterText == "server:mail")
        #expect(driver.state.grants.rows.map(\.id) == [11, 7])
        driver.press(.escape)
        #expect(driver.state.view == .servers)
        driver.press(.character("w"))
        #expect(driver.state.wellKnownSlug == "mail")
    }

    @Test func providersShowOnlyServersWithOne() {
        var driver = ConsoleDriver()
        driver.press(.character(":")); driver.type("providers"); driver.press(.enter)
        #expect(driver.state.providers.rows.map(\.server.slug) == ["files", "mail"])
        driver.press(.character("s"), .character("s"))
        #expect(driver.state.sortName(of: .providers) == "last error")
        #expect(driver.state.providers.rows.first?.server.slug == "mail")
        #expect(driver.state.providers.selected?.server.slug == "files", "the selection stays on its row")
        driver.press(.character("g"), .enter)
        #expect(driver.state.grants.filter.serverSlug == "mail")
    }

    @Test func clientsPageThroughTheStore() {
        let backend = FakeBackend(clients: (0..<450).map { i in
            ClientEntry(client: Fixtures.client(String(format: "tgc_%04d", i), serverID: 1, name: "client \(i)"), serverSlug: "files")
        })
        var driver = ConsoleDriver(backend: backend)
        driver.press(.character(":")); driver.type("clients"); driver.press(.enter)
        #expect(driver.state.clients.loaded.count == ConsoleState.pageSize)
        #expect(Renderer().render(driver.state).text().contains("Clients (200+)"))
        driver.press(.character("G"))
        #expect(driver.state.clients.loaded.count == 400, "the end of the loaded rows asks for the next page")
        driver.press(.character("G"))
        #expect(driver.state.clients.loaded.count == 450)
        #expect(driver.state.clients.nextCursor == nil)
        driver.press(.character("/")); driver.type("client 44"); driver.press(.enter)
        #expect(driver.state.clients.rows.count == 14, "every word must occur: client 44, 144, 244, 344, 440-449")
        driver.press(.character("/"), .control("u")); driver.type("TGC_0044"); driver.press(.enter)
        #expect(driver.state.clients.rows.map(\.client.id) == ["tgc_0044"])
        driver.press(.enter)
        #expect(driver.state.grants.filter.clientID == "tgc_0044")
    }

    @Test func clientsServerFilterGoesToTheStore() {
        var driver = ConsoleDriver()
        driver.press(.character(":")); driver.type("clients"); driver.press(.enter)
        driver.press(.character("/")); driver.type("server:mail")
        #expect(driver.lastEffects.contains { if case .loadClients(_, "mail", nil, _) = $0 { true } else { false } })
        #expect(driver.state.clients.rows.map(\.client.id) == ["tgc_cursor"])
    }

    @Test func auditPagesAndOpensGrants() {
        let backend = FakeBackend(audit: (1...250).map { Fixtures.event(Int64($0), ago: TimeInterval(1000 - $0), action: "upstream.refresh", grantID: 12) })
        var driver = ConsoleDriver(backend: backend)
        driver.press(.character(":")); driver.type("audit"); driver.press(.enter)
        #expect(driver.state.audit.rows.first?.id == 250)
        #expect(driver.state.audit.loaded.count == 200)
        driver.press(.character("G"))
        #expect(driver.state.audit.loaded.count == 250)
        #expect(driver.state.audit.rows.last?.id == 1)
        driver.press(.enter)
        #expect(driver.state.stack == [.audit, .detail])
        #expect(driver.state.detailGrantID == 12)
        driver.press(.escape, .character("/")); driver.type("grant:10")
        #expect(driver.lastEffects.contains { if case .loadAudit(_, let query) = $0 { query.grantID == 10 && query.before == nil } else { false } })
    }

    @Test func auditEventsWithoutAGrantSaySo() {
        var driver = ConsoleDriver()
        driver.press(.character(":")); driver.type("audit"); driver.press(.enter)
        driver.press(.character("G"), .enter)
        #expect(driver.state.flash?.text == "event 36 is not about a grant")
        #expect(driver.state.view == .audit)
    }
}

@Suite("Reducer: events")
struct ReducerEventTests {
    @Test func refreshOutcomesAreFlashedAndShownInTheDetail() {
        var driver = ConsoleDriver()
        driver.press(.enter, .character("f"))
        #expect(driver.state.refreshing[12] != nil)
        let summary = RefreshSummary(outcome: "refreshed", refreshed: true, message: "", calledUpstream: true,
                                     upstreamAccessExpiresAt: Fixtures.now.addingTimeInterval(3600))
        driver.post(.refreshed(grantID: 12, summary))
        #expect(driver.state.refreshing.isEmpty)
        #expect(driver.state.flash == Flash(.info, "grant 12: refreshed; upstream access expires in 1h", now: Fixtures.now))
        #expect(driver.state.lastForcedRefresh[12] == summary)
        #expect(driver.lastEffects.contains { if case .loadDetail(_, 12) = $0 { true } else { false } })
        #expect(driver.lastEffects.contains { if case .loadGrants = $0 { true } else { false } })
        #expect(Renderer().render(driver.state).text().contains("forced refresh            refreshed; upstream access expires in 1h"))

        driver.post(.refreshed(grantID: 12, RefreshSummary(outcome: "needs-reauth", refreshed: false, message: "invalid_grant", calledUpstream: true)))
        #expect(driver.state.flash?.level == .error)
        driver.post(.refreshed(grantID: 12, RefreshSummary(outcome: "transient", refreshed: false, message: "HTTP 503", calledUpstream: true, retryAfter: 5)))
        #expect(driver.state.flash == Flash(.warning, "grant 12: transient (retry in 5s): HTTP 503", now: Fixtures.now))
    }

    @Test func revocationsAndFailures() {
        var driver = ConsoleDriver()
        driver.press(.character("x"), .tab, .enter)
        driver.post(.revoked(grantID: 12, note: nil))
        #expect(driver.state.revoking.isEmpty)
        #expect(driver.state.flash?.text == "grant 12 revoked")
        driver.post(.revoked(grantID: 12, note: "refresh token revoked"))
        #expect(driver.state.flash?.text == "grant 12 revoked; refresh token revoked")
        driver.post(.actionFailed(grantID: 12, action: "revoke", message: "the database is busy; try again"))
        #expect(driver.state.flash == Flash(.error, "grant 12: revoke failed: the database is busy; try again", now: Fixtures.now))
    }

    @Test func loadFailuresAreShownWhereTheDataWouldBe() {
        let backend = FakeBackend()
        backend.failing = ["grants"]
        let driver = ConsoleDriver(backend: backend)
        #expect(driver.state.grants.error == "the database is busy; try again")
        #expect(driver.state.flash?.level == .error)
        #expect(Renderer().render(driver.state).text().contains("error: the database is busy; try again"))
        backend.failing = ["count"]
        var again = ConsoleDriver(backend: backend)
        #expect(again.state.flash == nil, "a failed count only leaves the count unknown")
        #expect(again.state.grants.count == nil)
        again.press(.character(":")); again.type("grant 999"); again.press(.enter)
        #expect(again.state.detailError == "no grant 999")
    }

    @Test func staleAnswersAreDropped() {
        var state = ConsoleState(now: Fixtures.now, columns: 80, rows: 24)
        let first = state.start()
        guard case .loadGrants(let oldRequest, _) = first[0] else { Issue.record("no load"); return }
        let newer = state.handle(.character("r"))
        #expect(!newer.isEmpty)
        _ = state.apply(.grants(request: oldRequest, Page(items: Fixtures.grants, nextCursor: nil)))
        #expect(!state.grants.isLoaded, "the answer to a superseded request is ignored")
    }

    @Test func themesApplyOrFallBack() {
        var driver = ConsoleDriver()
        driver.post(.theme(Theme(name: "light", styles: [:])))
        #expect(driver.state.theme.name == "light")
        driver.post(.themeFailed(ThemeError(source: "themes/bad.theme", line: 3, message: "unknown colour 'purpel'")))
        #expect(driver.state.theme == .dark)
        #expect(driver.state.flash?.text == "themes/bad.theme:3: unknown colour 'purpel'; using the built-in dark theme")
    }

    @Test func ticksMoveCountdownsAndExpireFlashes() {
        var driver = ConsoleDriver()
        #expect(Renderer().render(driver.state).text().contains("in 2m "))
        driver.press(.character("z"), .down, .down, .down, .character("f"))
        #expect(driver.state.flash != nil)
        driver.post(.tick(Fixtures.now.addingTimeInterval(1)))
        #expect(driver.state.flash != nil)
        #expect(Renderer().render(driver.state).text().contains("in 1m 59s"))
        driver.post(.tick(Fixtures.now.addingTimeInterval(Flash.Level.warning.duration)))
        #expect(driver.state.flash == nil)
    }

    @Test func changesInTheStoreReloadOnlyTheVisibleView() {
        var driver = ConsoleDriver()
        driver.backend.grants.insert(Fixtures.grant(13, subject: "new"), at: 0)
        driver.post(.dataChanged)
        let loads = driver.lastEffects.filter { if case .loadGrants = $0 { true } else { false } }
        #expect(loads.count == 1)
        #expect(driver.state.grants.rows.first?.id == 13)
        #expect(driver.state.grants.selected?.id == 12, "the selection stays on the same grant")
        #expect(driver.state.grants.count == 9)
        driver.press(.enter)
        driver.post(.dataChanged)
        #expect(driver.lastEffects.count == 1)
        #expect(driver.lastEffects.allSatisfy { if case .loadDetail = $0 { true } else { false } })
    }

    @Test func resizeRelaysOutAndReadsAWindowOfTheNewSize() {
        var driver = ConsoleDriver(columns: 120, rows: 40, backend: .many(300))
        #expect(driver.state.layout.showsGrantPane)
        driver.post(.resized(columns: 60, rows: 15))
        #expect(!driver.state.layout.showsGrantPane, "narrow terminals drop the detail pane")
        let query = driver.lastEffects.compactMap { if case .loadGrants(_, let q) = $0 { q } else { nil } }.first
        #expect(query?.limit == 33)
        #expect(Renderer().render(driver.state).text().components(separatedBy: "\n").count == 15)
    }
}
