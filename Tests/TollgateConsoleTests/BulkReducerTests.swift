import Foundation
import Testing
import TollgateConsole
import TollgateCore

/// The reducer's bulk actions, client revoke, jobs, copy, export, the command table, completion, the help
/// search and the unavailable-action reasons: keys and events in, state and effects out.
@Suite("Reducer: bulk actions, jobs, commands")
struct BulkReducerTests {
    func filtered(_ text: String, readOnly: Bool = false) -> ConsoleDriver {
        var driver = ConsoleDriver(readOnly: readOnly)
        driver.press(.character("/"))
        driver.type(text)
        driver.press(.enter)
        return driver
    }

    func footer(_ driver: ConsoleDriver) -> String { driver.screen().text().components(separatedBy: "\n").last ?? "" }

    @Test func bulkRevokeNeedsAFilterAndSaysSo() {
        var driver = ConsoleDriver()
        driver.press(.character("X"))
        #expect(driver.lastEffects.isEmpty)
        #expect(driver.state.flash?.text == "X: filter by subject, server: or client: first (/)")
        #expect(driver.state.mode == .browse)
    }

    @Test func bulkRevokeCountsExactlyThenAsksFocusedOnCancel() {
        var driver = filtered("bob")
        driver.press(.character("X"))
        let scope = GrantScope(subject: "bob")
        #expect(driver.lastEffects.contains { if case .planBulk(_, .revoke, scope) = $0 { true } else { false } },
                "the scope is the exact subject")
        #expect(driver.state.mode == .dialog(ConfirmDialog(.bulk(.revoke, scope, count: 1))))
        #expect(driver.screen().text().contains("[> Cancel <]"))
        #expect(driver.screen().text().contains("Revoke 1 grant"))
        driver.press(.enter)
        #expect(driver.state.mode == .browse && driver.state.job == nil && driver.lastEffects.isEmpty, "Cancel does nothing")
    }

    @Test func aSubjectPrefixFilterBecomesAnExactScope() {
        // The listing shows subjects starting with "b" ("bob"); the bulk scope is the subject "b" exactly: none.
        var driver = filtered("b")
        #expect(driver.state.grants.rows.map(\.id) == [10])
        driver.press(.character("X"))
        #expect(driver.state.mode == .browse)
        #expect(driver.state.flash?.text == "no grants to revoke match subject=b")
    }

    @Test func confirmingStartsAJobThatReportsProgressAndCanBeCancelled() throws {
        var driver = filtered("server:files")
        driver.press(.character("X"))
        let scope = GrantScope(serverSlug: "files")
        guard case .dialog(let dialog) = driver.state.mode, case .bulk(.revoke, scope, let count) = dialog.target else {
            Issue.record("no bulk dialog: \(driver.state.mode)")
            return
        }
        #expect(count == 6, "the files grants 12, 10, 9, 8, 6, 5: none of them revoked")
        driver.press(.tab, .tab, .enter)
        let job = try #require(driver.state.job)
        #expect(driver.lastEffects == [.runBulk(job: job.id, action: .revoke, scope: scope, upstream: true)])
        #expect(job.total == count)
        driver.post(.jobProgress(job: job.id, done: 2, total: count, failed: 1))
        #expect(driver.screen().text().contains("revoking grants of server=files: 2 of 6 (1 failed)"))
        #expect(driver.screen().text().contains("Esc cancels"))
        driver.press(.escape)
        #expect(driver.lastEffects == [.cancelJob(job.id)])
        #expect(driver.state.job?.cancelling == true)
        #expect(driver.state.stack == [.grants], "Esc cancelled the job rather than clearing the filter")
        #expect(driver.state.grants.filterText == "server:files")
        let result = BulkResult(action: .revoke, scope: scope, succeeded: 2, failures: ["transient: HTTP 503": 1], cancelled: true)
        let counts = { driver.backend.answered.filter { if case .countGrants = $0 { true } else { false } }.count }
        let countsBefore = counts()
        driver.post(.bulkFinished(job: job.id, result))
        #expect(driver.state.job == nil)
        #expect(driver.state.flash?.level == .error)
        #expect(driver.state.flash?.text == "server=files: 2 revoked, 1 failed (1× transient: HTTP 503); cancelled before the end")
        #expect(counts() == countsBefore + 1, "the count is read again")
    }

    @Test func bulkRefreshAsksWithItsOwnButtons() {
        var driver = filtered("server:files")
        driver.press(.character("F"))
        guard case .dialog(let dialog) = driver.state.mode else { Issue.record("no dialog"); return }
        #expect(dialog.buttons == [.cancel, .refresh])
        // Refreshable grants of files: 12, 10, 6, 5 (9 has no refresh token, 8 needs re-authorization).
        #expect(dialog.target == .bulk(.refresh, GrantScope(serverSlug: "files"), count: 4))
        driver.press(.tab, .enter)
        #expect(driver.lastEffects.first.map { if case .runBulk(_, .refresh, _, false) = $0 { true } else { false } } == true)
        driver.press(.character("X"))
        #expect(driver.state.flash?.text == "X: a job is running (Esc cancels it)", "one job at a time")
    }

    @Test func aClientIsRevokedFromTheClientsViewAfterTheSameKindOfConfirmation() {
        var driver = ConsoleDriver()
        driver.press(.character(":"))
        driver.type("clients")
        driver.press(.enter, .character("x"))
        #expect(driver.lastEffects.contains { if case .planBulk(_, .revoke, GrantScope(clientID: "tgc_claude")) = $0 { true } else { false } })
        guard case .dialog(let dialog) = driver.state.mode, case .client(let entry, let count) = dialog.target else {
            Issue.record("no client dialog"); return
        }
        #expect(entry.client.id == "tgc_claude" && count == 6 && dialog.focus == .cancel)
        #expect(driver.screen().text().contains("Revoke client tgc_claude?"))
        driver.press(.tab, .enter)
        #expect(driver.lastEffects == [.revokeClient(clientID: "tgc_claude")])
        driver.post(.clientRevoked(clientID: "tgc_claude", grants: 6))
        #expect(driver.state.flash?.text == "client tgc_claude revoked with 6 grant(s)")
        // tgc_ops (revoked) is the row above the last (a client ID metadata document client).
        driver.press(.character("G"), .character("k"), .character("x"))
        #expect(driver.state.flash?.text == "client tgc_ops: already revoked", "tgc_ops is revoked")
    }

    @Test func readOnlyRefusesEveryBulkActionAndHidesThem() {
        var driver = filtered("bob", readOnly: true)
        for key in ["X", "F"] {
            driver.press(.character(Character(key)))
            #expect(driver.lastEffects.isEmpty && driver.state.flash?.text.hasPrefix("read-only") == true)
        }
        driver.press(.character(":"))
        driver.type("revoke-all")
        driver.press(.enter)
        #expect(driver.state.flash?.text == "read-only: ':revoke-all' is disabled")
        let help = HelpText.lines(readOnly: true).map(\.text).joined(separator: "\n")
        #expect(!help.contains("revoke-all") && !help.contains("revoke every grant"))
        #expect(HelpText.lines(readOnly: false).map(\.text).joined(separator: "\n").contains(":revoke-all"))
    }

    @Test func yCopiesTheSelectedIdOrTheValueUnderTheCursor() {
        var driver = ConsoleDriver()
        driver.press(.down, .character("y"))
        #expect(driver.lastEffects == [.copy("11")])
        #expect(driver.state.flash?.text == "copied 11")
        driver.press(.enter, .character("y"))
        #expect(driver.lastEffects == [.copy("11")], "the detail's heading line: the grant id")
        driver.press(.character("j"), .character("j"), .character("j"), .character("y"))
        // Line 2 of the detail is the grant field, line 3 the status field; the text has not scrolled.
        #expect(driver.state.detailPosition.line == 0)
        #expect(driver.lastEffects.first.map { if case .copy(let text) = $0 { text.hasPrefix("expiring") } else { false } } == true,
                "\(driver.lastEffects)")
        driver.press(.character("j"), .character("j"), .character("y"))
        #expect(driver.lastEffects == [.copy("mail")], "line 5: the server field")
        driver.press(.character("j"), .character("y"))
        #expect(driver.lastEffects == [.copy("Cursor 编辑器 (tgc_cursor)")], "line 6: the client field")
        driver.press(.escape)
        driver.press(.character(":"))
        driver.type("clients")
        driver.press(.enter, .character("y"))
        #expect(driver.lastEffects == [.copy("tgc_claude")])
    }

    @Test func exportWritesTheFilteredViewAsAJob() throws {
        var driver = filtered("server:mail")
        driver.press(.character(":"))
        driver.type("export csv /tmp/grants.csv")
        driver.press(.enter)
        var query = GrantQuery(serverSlug: "mail", sort: .newest, limit: 1000)
        query.subjectPrefix = nil
        let job = try #require(driver.state.job)
        #expect(driver.lastEffects == [.export(job: job.id, format: .csv, path: "/tmp/grants.csv", overwrite: false, query: query)])
        driver.post(.exportFinished(job: job.id, rows: 2, cancelled: false))
        #expect(driver.state.flash?.text == "exported 2 grants to /tmp/grants.csv")
        driver.press(.character(":"))
        driver.type("export! json /tmp/grants.json")
        driver.press(.enter)
        #expect(driver.lastEffects.first.map { if case .export(_, .json, "/tmp/grants.json", true, _) = $0 { true } else { false } } == true)
        driver.post(.jobFailed(job: driver.state.job!.id, message: "export failed: /tmp/grants.json exists; :export! replaces it"))
        #expect(driver.state.job == nil && driver.state.flash?.level == .error)
        for bad in ["export", "export xml /tmp/x", "export csv"] {
            driver.press(.character(":"))
            driver.type(bad)
            driver.press(.enter)
            #expect(driver.state.flash?.text.hasPrefix("usage: :export csv|json PATH") == true, "\(bad)")
        }
    }

    @Test func unknownCommandsListTheTable() {
        var driver = ConsoleDriver()
        driver.press(.character(":"))
        driver.type("nope")
        driver.press(.enter)
        let names = CommandTable.commands.map { ":" + $0.name }.joined(separator: " ")
        #expect(driver.state.flash?.text == "unknown command ':nope' (commands: \(names); Tab completes)")
        driver.press(.character(":"))
        driver.type("servers now")
        driver.press(.enter)
        #expect(driver.state.flash?.text == "':servers' takes no argument")
    }

    @Test func tabCompletesCommandsAndTheirArguments() {
        var driver = ConsoleDriver()
        func typed(_ text: String) -> LineEditor? {
            driver.press(.escape, .character(":"))
            driver.type(text)
            driver.press(.tab)
            if case .command(let editor) = driver.state.mode { return editor }
            return nil
        }
        #expect(typed("th")?.text == "theme ")
        #expect(typed("theme l")?.text == "theme light ")
        #expect(typed("theme ")?.candidates == ["dark", "high-contrast", "light", "monochrome"])
        let e = typed("e")
        #expect(e?.text == "ex" && e?.candidates == ["export", "exit"])
        #expect(typed("export j")?.text == "export json ")
        #expect(typed("grants server:")?.candidates == ["server:files", "server:mail", "server:wiki"], "slugs loaded for completion")
        #expect(typed("grants server:m")?.text == "grants server:mail ")
        #expect(typed("grants client:tgc_c")?.candidates == ["client:tgc_claude", "client:tgc_cursor"])
        #expect(typed("grants st")?.text == "grants status:")
        #expect(typed("zz")?.text == "zz")
        // A completed line runs.
        driver.press(.escape, .character(":"))
        driver.type("grants server:m")
        driver.press(.tab, .enter)
        #expect(driver.state.grants.filterText == "server:mail" && driver.state.grants.rows.map(\.id) == [11, 7])
        #expect(ConsoleDriver(readOnly: true).state.complete(LineEditor(text: "rev")).text == "rev", "read-only offers no dangerous command")
    }

    @Test func theHelpCanBeSearchedAsYouType() {
        var driver = ConsoleDriver()
        driver.press(.character("?"), .character("/"))
        driver.type("revoke")
        guard case .help(let help) = driver.state.mode else { Issue.record("help closed"); return }
        #expect(help.search == "revoke" && help.typing)
        let lines = HelpText.lines(readOnly: false, matching: "revoke")
        #expect(lines.allSatisfy { $0.text.lowercased().contains("revoke") || $0.spans.first?.role == .helpSection })
        #expect(lines.contains { $0.text.contains("X") && $0.text.contains("revoke every grant") })
        let screen = driver.screen().text()
        #expect(screen.contains("Help · search: revoke") && !screen.contains("move down"))
        driver.press(.enter)
        #expect(driver.state.mode == .help(HelpView(search: "revoke")), "Enter keeps the search, keys scroll again")
        driver.press(.escape)
        #expect(driver.state.mode == .help(HelpView()), "Esc clears the search first")
        driver.press(.escape)
        #expect(driver.state.mode == .browse)
        #expect(HelpText.lines(readOnly: false, matching: "zzz").map(\.text) == ["nothing in the help matches 'zzz'"])
    }

    @Test func theFooterSaysWhyAnActionIsUnavailable() {
        var driver = ConsoleDriver(columns: 160, rows: 24)
        #expect(footer(driver).contains("f refresh  x revoke"), "grant 12 can be refreshed and revoked: the footer offers both")
        driver.press(.down, .down, .down)
        #expect(driver.state.grants.selected?.id == 9)
        #expect(footer(driver).contains("f no upstream refresh token"), "\(footer(driver))")
        driver.press(.character("f"))
        #expect(driver.lastEffects.isEmpty && driver.state.flash?.text == "grant 9: no upstream refresh token")
        driver.press(.down, .down)
        #expect(driver.state.grants.selected?.id == 7)
        #expect(footer(driver).contains("f revoked grants cannot be refreshed"), "\(footer(driver))")
        #expect(footer(driver).contains("x already revoked"), "\(footer(driver))")
        driver.press(.up)
        #expect(footer(driver).contains("f the user must authorize again"), "\(footer(driver))")
    }
}
