import Foundation
import Testing
import TollgateTestSupport
import TollgateConsole
import TollgateCore

/// The built binary under tmux, driven with keys, against a real store and a real (in-process) upstream.
/// Every test kills its tmux server, whatever happens.
@Suite("End to end: tollgate console under tmux", .serialized)
struct EndToEndTests {
    /// A store with `count` grants (subjects alice0…), a tmux with a shell, and the console command line.
    func withConsole(grants count: Int = 12, subjects: [String]? = nil, arguments: String = "", columns: Int = 120, rows: Int = 40,
                     tmuxOptions: [[String]] = [], _ body: (StoreHarness, Tmux, [Int64]) async throws -> Void) async throws {
        let h = try await StoreHarness(upstream: true)
        var ids: [Int64] = []
        for subject in subjects ?? (0..<count).map({ "alice\($0)" }) { ids.append(try await h.makeGrant(subject: subject, expiresIn: 3600)) }
        let tmux: Tmux
        do {
            tmux = try Tmux(columns: columns, rows: rows)
            for option in tmuxOptions { try tmux.run(option) }
        } catch {
            await h.shutdown()
            throw error
        }
        do {
            try await tmux.waitFor(Tmux.prompt)
            try tmux.shell("TOLLGATE_DB='\(h.databasePath)' '\(try CLI.binary())' console \(arguments)")
            try await body(h, tmux, ids)
        } catch {
            tmux.kill()
            await h.shutdown()
            throw error
        }
        tmux.kill()
        await h.shutdown()
    }

    /// After the console ends: the shell is back, the alternate screen is off, and the terminal modes are sane.
    func expectRestored(_ tmux: Tmux, status: Int32 = 0) async throws {
        try await tmux.waitFor(Tmux.prompt) { _ in (try? tmux.alternateScreen()) == false }
        try tmux.shell("echo \"rc=$? modes=$(stty -a | tr ' ;' '\\n\\n' | grep -cxE 'icanon|echo|icrnl|onlcr')\"")
        let screen = try await tmux.waitFor("rc=\(status) modes=") { $0.contains(" modes=4") || $0.range(of: "modes=[0-9]", options: .regularExpression) != nil }
        #expect(screen.contains("rc=\(status) modes=4"), "icanon, echo, icrnl and onlcr are all on again:\n\(screen)")
        #expect(try !tmux.alternateScreen())
    }

    @Test func openNavigateFilterAndQuit() async throws {
        try await withConsole { _, tmux, ids in
            let first = try await tmux.waitFor("Grants (12)")
            #expect(first.contains("▸ files"))
            #expect(first.contains("alice11"), "newest first")
            #expect(first.contains("─ grant \(ids.last!) "), "the detail pane at 120×40")
            try await tmux.keys("j", "j")
            try await tmux.waitFor("─ grant \(ids[ids.count - 3]) ")
            try await tmux.keys("Enter")
            let detail = try await tmux.waitFor("upstream access expires")
            #expect(detail.contains("Grant \(ids[ids.count - 3])"))
            #expect(detail.contains("Refresh history"))
            try await tmux.keys("Escape", "/")
            try await tmux.type("alice1")
            try await tmux.keys("Enter")
            let filtered = try await tmux.waitFor("filter: alice1")
            #expect(filtered.contains("Grants (3)"))
            #expect(filtered.contains("alice10") && filtered.contains("alice11") && !filtered.contains("alice2 "))
            try await tmux.keys("Escape", ":")
            try await tmux.type("servers")
            try await tmux.keys("Enter")
            try await tmux.waitFor("Servers (1)")
            try await tmux.keys("w")
            let wellKnown = try await tmux.waitFor("\"authorization_endpoint\"")
            #expect(wellKnown.contains("Authorization server metadata"))
            try await tmux.keys("?")
            try await tmux.waitFor("Keys")
            try await tmux.keys("Escape", "q")
            try await expectRestored(tmux)
        }
    }

    @Test func forceRefreshReachesTheUpstream() async throws {
        try await withConsole(grants: 2) { h, tmux, ids in
            try await tmux.waitFor("Grants (2)")
            #expect(await h.refreshCalls() == 0)
            try await tmux.keys("f")
            let screen = try await tmux.waitFor("grant \(ids.last!): refreshed")
            #expect(screen.contains("info: "))
            #expect(await h.refreshCalls() == 1, "the dev upstream saw the refresh")
            try await tmux.keys("Enter")
            try await tmux.waitFor("forced refresh            refreshed")
            try await tmux.keys("q")
            try await expectRestored(tmux)
        }
    }

    @Test func revokeAsksThenTheCLISaysRevoked() async throws {
        try await withConsole(grants: 2) { h, tmux, ids in
            try await tmux.waitFor("Grants (2)")
            try await tmux.keys("x")
            let dialog = try await tmux.waitFor("Revoke grant \(ids.last!)?")
            #expect(dialog.contains("[> Cancel <]"), "the focus starts on Cancel")
            try await tmux.keys("Enter")
            try await tmux.waitFor("Grants (2)") { !$0.contains("Revoke grant") }
            #expect(try await h.tollgate.admin.grant(id: ids.last!).state == .active, "Cancel revoked nothing")
            try await tmux.keys("x", "Tab")
            try await tmux.waitFor("[> Revoke <]")
            try await tmux.keys("Enter")
            try await tmux.waitFor("grant \(ids.last!) revoked")
            try await tmux.waitFor("revoked   ")
            try await tmux.keys("q")
            try await expectRestored(tmux)
            let shown = try await CLI.run(try CLI.binary(), ["grant", "show", String(ids.last!)], environment: ["TOLLGATE_DB": h.databasePath])
            #expect(shown.status == 0)
            #expect(shown.stdout.contains("status:") && shown.stdout.contains("revoked"))
        }
    }

    /// A revoke by another process shows without a key. How soon is a benchmark figure (the console's change
    /// check and re-read, plus its poll interval), not a wall-clock assertion on a shared machine; the
    /// timeout only ends a test that would otherwise hang.
    @Test func changesFromAnotherProcessAppearWithoutAKey() async throws {
        try await withConsole(grants: 3) { h, tmux, ids in
            try await tmux.waitFor("Grants (3)")
            let revoked = try await CLI.run(try CLI.binary(), ["grant", "revoke", String(ids[0])], environment: ["TOLLGATE_DB": h.databasePath])
            #expect(revoked.status == 0, "\(revoked.stderr)")
            try await tmux.waitFor("alice0", timeout: 15) { screen in
                screen.components(separatedBy: "\n").contains { $0.contains("alice0") && $0.contains("revoked") }
            }
            try await tmux.keys("q")
            try await expectRestored(tmux)
        }
    }

    /// The support desk's ticket: a client's request with a revoked token is refused by a real `serve`, and
    /// the grant's detail shows why, without a key.
    @Test func aRefusedRequestShowsItsReasonInTheGrantDetail() async throws {
        try await withConsole(grants: 0) { h, tmux, _ in
            let now = h.tollgate.clock.now()
            let verifier = String(repeating: "v", count: 43)
            let pending = PendingAuthorization(
                stateHash: Data(), serverID: h.server.id, clientID: h.client.client.id, redirectURI: StoreHarness.redirectURI, clientState: nil,
                codeChallenge: TokenGenerator.s256Challenge(of: verifier), scopes: ["files.read"], resource: "http://127.0.0.1:8080/mcp/files",
                sealedUpstreamVerifier: Data(), createdAt: now, expiresAt: now.addingTimeInterval(600))
            let upstream = UpstreamTokenResponse(accessToken: Secret("upstream-access"), refreshToken: Secret("upstream-refresh"), expiresIn: 3600)
            let (code, grantID) = try await h.tollgate.tokens.completeAuthorization(pending, server: h.server, upstreamTokens: upstream, subject: "bob")
            let pair = try await h.tollgate.tokens.exchangeCode(serverSlug: "files", credentials: ClientCredentials(clientID: h.client.client.id, secret: nil, method: .none),
                                                                code: code.value, redirectURI: StoreHarness.redirectURI, codeVerifier: verifier)
            _ = try await h.tollgate.admin.revokeGrant(id: grantID)
            try await tmux.waitFor("Grants (1)")
            try await tmux.keys("Enter")
            try await tmux.waitFor("no refused requests")
            let serve = try BackgroundCommand(try CLI.binary(), ["serve", "--db", h.databasePath, "--listen", "127.0.0.1:0"])
            defer { serve.stop() }
            let curl = try ChildProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "10", "-X", "POST", "-H", "Authorization: Bearer \(pair.accessToken.value)",
                              "-H", "Content-Type: application/json", "-d", "{}", serve.url + "/mcp/files"], stdout: .pipe)
            let status = String(decoding: curl.standardOutput?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            curl.waitUntilExit()
            #expect(status == "401")
            let screen = try await tmux.waitFor("the access token has been revoked (POST /mcp/files)", timeout: 15)
            #expect(screen.contains("Last refusals") && screen.contains("revoked"))
            #expect(!screen.contains(pair.accessToken.value))
            try await tmux.keys("q")
            try await expectRestored(tmux)
        }
    }

    @Test func resizeRedrawsAndNarrowTerminalsDropThePane() async throws {
        try await withConsole(grants: 30) { _, tmux, _ in
            try await tmux.waitFor("─ grant ")
            try tmux.resize(columns: 60, rows: 15)
            // tmux first cuts the old frame to the new size; the console's own 60-column layout has STATUS
            // within the width and its footer on the last line. Wait for that frame (a half-cut old one can
            // match the rest), then check it.
            let narrow = try await tmux.waitFor("STATUS") { screen in
                screen.contains("Grants (30)") && !screen.contains("─ grant ") && screen.contains(" q quit") == false
                    && screen.components(separatedBy: "\n").last(where: { !$0.isEmpty })?.contains("Enter open") == true
            }
            let lines = narrow.components(separatedBy: "\n").filter { !$0.isEmpty }
            #expect(lines.allSatisfy { $0.count <= 60 })
            #expect(lines.last?.contains("Enter open") == true)
            try tmux.resize(columns: 120, rows: 40)
            try await tmux.waitFor("─ grant ")
            try await tmux.keys("q")
            try await expectRestored(tmux)
        }
    }

    @Test func ctrlCAndSIGTERMRestoreTheTerminal() async throws {
        try await withConsole(grants: 1) { h, tmux, _ in
            try await tmux.waitFor("Grants (1)")
            try await tmux.keys("C-c")
            try await expectRestored(tmux, status: 130)
            try tmux.shell("TOLLGATE_DB='\(h.databasePath)' '\(try CLI.binary())' console")
            try await tmux.waitFor("Grants (1)")
            let pid = try #require(try tmux.foregroundPID())
            #expect(Glibc.kill(pid, SIGTERM) == 0)
            try await expectRestored(tmux, status: 143)
        }
    }

    @Test func readOnlyHidesActionsAndLogsNeverReachTheScreen() async throws {
        let log = NSTemporaryDirectory() + "tollgate-console-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        try await withConsole(grants: 1, arguments: "--read-only --theme high-contrast") { h, tmux, _ in
            let screen = try await tmux.waitFor("READ-ONLY")
            let footer = screen.components(separatedBy: "\n").last { !$0.isEmpty } ?? ""
            #expect(!footer.contains("revoke") && !footer.contains("refresh"), "\(screen)")
            try await tmux.keys("x")
            try await tmux.waitFor("warning: read-only")
            try await tmux.keys("q")
            try await expectRestored(tmux)
            // With everything logged, the screen still shows only the console; the log goes to the file.
            try tmux.shell("clear; TOLLGATE_LOG_LEVEL=trace TOLLGATE_LOG_FILE='\(log)' TOLLGATE_DB='\(h.databasePath)' '\(try CLI.binary())' console")
            try await tmux.waitFor("Grants (1)")
            try await tmux.keys("f")
            let refreshed = try await tmux.waitFor(": refreshed")
            #expect(!refreshed.contains("trace") && !refreshed.contains("debug") && !refreshed.contains("tollgate.refresh"))
            try await tmux.keys("q")
            try await expectRestored(tmux)
            let logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(!logged.isEmpty, "the core's log went to TOLLGATE_LOG_FILE")
        }
    }

    @Test func aBadTermOrThemeIsExplained() async throws {
        try await withConsole(grants: 1, arguments: "--theme ./no/such.theme") { h, tmux, _ in
            try await tmux.waitFor("error: ./no/such.theme: cannot read the theme file; using the built-in dark theme")
            // The grants load in the background: on a loaded machine the error can show first.
            try await tmux.waitFor("Grants (1)")
            try await tmux.keys(":")
            try await tmux.type("theme monochrome")
            try await tmux.keys("Enter")
            try await tmux.waitFor("info: theme monochrome")
            try await tmux.keys("q")
            try await expectRestored(tmux)
            try tmux.shell("TERM=no-such-term TOLLGATE_DB='\(h.databasePath)' '\(try CLI.binary())' console")
            let error = try await tmux.waitFor("tollgate: error: unknown terminal type 'no-such-term'")
            #expect(error.contains("terminfo"))
            try tmux.shell("echo rc=$?")
            try await tmux.waitFor("rc=1")
        }
    }

    @Test func bulkRevokeOfASubjectRevokesExactlyThatSubjectsGrants() async throws {
        let subjects = ["bob", "bobby", "bob", "alice", "bob", "bobby"]
        try await withConsole(subjects: subjects) { h, tmux, ids in
            try await tmux.waitFor("Grants (6)")
            try await tmux.keys("/")
            try await tmux.type("bob")
            try await tmux.keys("Enter")
            try await tmux.waitFor("Grants (5)", timeout: 10) { $0.contains("filter: bob") }
            try await tmux.keys("X")
            let dialog = try await tmux.waitFor("Revoke 3 grants?")
            #expect(dialog.contains("[> Cancel <]"), "the focus starts on Cancel")
            #expect(dialog.contains("The subject is matched exactly"))
            try await tmux.keys("Tab", "Enter")
            try await tmux.waitFor("subject=bob: 3 revoked")
            for (id, subject) in zip(ids, subjects) {
                #expect(try await h.tollgate.admin.grant(id: id).state == (subject == "bob" ? .revoked : .active), "grant \(id) of \(subject)")
            }
            let bulk = try await h.tollgate.admin.audit(limit: 100).filter { $0.action == "grant.bulk-revoke" }
            #expect(bulk.contains { $0.outcome == "ok" && $0.detail == "subject=bob: 3 revoked" })
            try await tmux.keys("q")
            try await expectRestored(tmux)
        }
    }

    /// tmux keeps what OSC 52 puts on the clipboard as a paste buffer when `set-clipboard` is on.
    @Test func yPutsTheSelectedIdOnTheClipboardThroughTmux() async throws {
        try await withConsole(grants: 2, tmuxOptions: [["set-option", "-g", "set-clipboard", "on"]]) { _, tmux, ids in
            try await tmux.waitFor("Grants (2)")
            try await tmux.keys("y")
            try await tmux.waitFor("copied \(ids.last!)")
            var buffer = ""
            for _ in 0..<50 where buffer.isEmpty {
                buffer = ((try? tmux.run(["show-buffer"])) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                if buffer.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(buffer == String(ids.last!), "the paste buffer holds the grant id: '\(buffer)'")
            // In the detail, the value under the cursor: line 7 is the subject.
            try await tmux.keys("Enter")
            try await tmux.waitFor("upstream refresh token")
            for _ in 0..<7 { try await tmux.keys("j") }
            try await tmux.keys("y")
            try await tmux.waitFor("copied alice1")
            for _ in 0..<50 where buffer != "alice1" {
                buffer = ((try? tmux.run(["show-buffer"])) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                if buffer != "alice1" { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(buffer == "alice1", "the paste buffer holds the subject under the detail's cursor: '\(buffer)'")
            try await tmux.keys("q")
            try await expectRestored(tmux)
        }
    }

    @Test func exportWritesEveryFilteredRowToANewPrivateFile() async throws {
        // Short, so that the flashes naming the files fit the screen.
        let directory = NSTemporaryDirectory() + "tg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let csv = directory + "/grants.csv", json = directory + "/grants.json"
        // 30 rows: more than one screen, so the file cannot come from what is on screen.
        try await withConsole(grants: 30, columns: 100, rows: 20) { _, tmux, _ in
            try await tmux.waitFor("Grants (30)")
            try await tmux.keys("/")
            try await tmux.type("alice")
            try await tmux.keys("Enter", ":")
            try await tmux.type("export csv \(csv)")
            try await tmux.keys("Enter")
            try await tmux.waitFor("exported 30 grants to \(csv)")
            let lines = try String(contentsOfFile: csv, encoding: .utf8).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.first == GrantExportRecord.csvHeader.trimmingCharacters(in: .newlines))
            #expect(Set(lines.dropFirst().map { $0.split(separator: ",")[4] }) == Set((0..<30).map { "alice\($0)"[...] }))
            let mode = try FileManager.default.attributesOfItem(atPath: csv)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(!(try String(contentsOfFile: csv, encoding: .utf8)).contains("upstream-"), "no token material")
            try await tmux.keys(":")
            try await tmux.type("export csv \(csv)")
            try await tmux.keys("Enter")
            try await tmux.waitFor("exists; :export! replaces it")
            try await tmux.keys("/", "C-u")
            try await tmux.type("alice1")
            try await tmux.keys("Enter", ":")
            try await tmux.type("export! json \(json)")
            try await tmux.keys("Enter")
            try await tmux.waitFor("exported 11 grants to \(json)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [[String: Any]])
            #expect(rows.count == 11 && rows.allSatisfy { ($0["subject"] as? String)?.hasPrefix("alice1") == true })
            try await tmux.keys("q")
            try await expectRestored(tmux)
        }
    }
}
