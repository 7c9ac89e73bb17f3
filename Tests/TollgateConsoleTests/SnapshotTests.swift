import Foundation
import Testing
import TollgateConsole
import TollgateCore

/// Golden screens: every view and state at 80×24, 120×40 and 60×15, with fixed data and a fixed clock,
/// stored as text under `Snapshots/` (re-record with `RECORD_SNAPSHOTS=1`).
@Suite("Golden screens")
struct SnapshotTests {
    typealias Scenario = (name: String, readOnly: Bool, backend: @Sendable () -> FakeBackend, steps: @Sendable (inout ConsoleDriver) -> Void)

    static let scenarios: [Scenario] = [
        ("grants", false, { FakeBackend() }, { _ in }),
        ("grants-selection-moved", false, { FakeBackend() }, { $0.press(.down, .down, .down) }),
        ("grants-empty", false, { FakeBackend(grants: []) }, { _ in }),
        ("grants-filtered", false, { FakeBackend() }, { d in d.press(.character("/")); d.type("server:mail"); d.press(.enter) }),
        ("grants-filter-typing", false, { FakeBackend() }, { d in d.press(.character("/")); d.type("b") }),
        ("grants-filter-no-match", false, { FakeBackend() }, { d in d.press(.character("/")); d.type("zed"); d.press(.enter) }),
        ("grants-sorted-by-expiry", false, { FakeBackend() }, { d in d.press(.character("s"), .character("s")) }),
        ("grants-dialog", false, { FakeBackend() }, { d in d.press(.character("x")) }),
        ("grants-dialog-focus-revoke", false, { FakeBackend() }, { d in d.press(.character("x"), .tab) }),
        ("grants-flash-warning", false, { FakeBackend() }, { d in d.press(.down, .down, .down, .character("f")) }),
        ("grants-flash-error", false, { FakeBackend() }, { d in
            d.post(.actionFailed(grantID: 12, action: "revoke", message: "the database is busy; try again"))
        }),
        ("grants-flash-info", false, { FakeBackend() }, { d in
            d.post(.refreshed(grantID: 12, RefreshSummary(outcome: "refreshed", refreshed: true, message: "", calledUpstream: true,
                                                          upstreamAccessExpiresAt: Fixtures.now.addingTimeInterval(3600))))
        }),
        ("grants-refreshing", false, { FakeBackend() }, { d in d.press(.character("f")) }),
        ("grants-read-only", true, { FakeBackend() }, { _ in }),
        ("command-typing", false, { FakeBackend() }, { d in d.press(.character(":")); d.type("theme li") }),
        ("help", false, { FakeBackend() }, { d in d.press(.character("?")) }),
        ("help-read-only", true, { FakeBackend() }, { d in d.press(.character("?")) }),
        ("detail", false, { FakeBackend() }, { d in d.press(.enter) }),
        ("detail-after-forced-refresh", false, { FakeBackend() }, { d in
            d.press(.down, .down, .enter)
            d.post(.refreshed(grantID: 10, RefreshSummary(outcome: "transient", refreshed: false, message: "HTTP 503 from the token endpoint",
                                                          calledUpstream: true, retryAfter: 30)))
        }),
        ("well-known", false, { FakeBackend() }, { d in d.press(.character("w")) }),
        ("well-known-scrolled", false, { FakeBackend() }, { d in d.press(.character("w"), .character("G")) }),
        ("servers", false, { FakeBackend() }, { d in d.press(.character(":")); d.type("servers"); d.press(.enter) }),
        ("servers-filtered", false, { FakeBackend() }, { d in
            d.press(.character(":")); d.type("servers"); d.press(.enter, .character("/")); d.type("mail"); d.press(.enter)
        }),
        ("providers", false, { FakeBackend() }, { d in d.press(.character(":")); d.type("providers"); d.press(.enter) }),
        ("clients", false, { FakeBackend() }, { d in d.press(.character(":")); d.type("clients"); d.press(.enter) }),
        ("audit", false, { FakeBackend() }, { d in d.press(.character(":")); d.type("audit"); d.press(.enter) }),
        ("audit-empty", false, { FakeBackend(audit: []) }, { d in d.press(.character(":")); d.type("audit"); d.press(.enter) }),
        ("detail-refusals", false, { FakeBackend(audit: Fixtures.audit + Fixtures.refusals) }, { d in d.press(.enter) }),
        ("audit-tail", false, { FakeBackend() }, { d in
            d.press(.character(":")); d.type("audit"); d.press(.enter)
            d.backend.audit += Fixtures.refusals
            d.post(.dataChanged)
        }),
    ]

    /// The bulk actions, jobs, completion, help search and unavailable-action screens (80×24 and 120×40).
    static let bulkScenarios: [Scenario] = [
        ("bulk-confirm", false, { FakeBackend() }, { d in d.press(.character("/")); d.type("server:files"); d.press(.enter, .character("X")) }),
        ("bulk-progress", false, { FakeBackend() }, { d in
            d.press(.character("/")); d.type("server:files"); d.press(.enter, .character("X"), .tab, .enter)
            d.post(.jobProgress(job: d.state.job!.id, done: 2, total: 6, failed: 1))
        }),
        ("bulk-result", false, { FakeBackend() }, { d in
            d.press(.character("/")); d.type("server:files"); d.press(.enter, .character("X"), .tab, .enter)
            d.post(.bulkFinished(job: d.state.job!.id, BulkResult(action: .revoke, scope: GrantScope(serverSlug: "files"), succeeded: 5,
                                                                  failures: ["the grant was removed meanwhile": 1])))
        }),
        ("bulk-refresh-confirm", false, { FakeBackend() }, { d in d.press(.character("/")); d.type("bob"); d.press(.enter, .character("F")) }),
        ("client-revoke-dialog", false, { FakeBackend() }, { d in d.press(.character(":")); d.type("clients"); d.press(.enter, .character("x")) }),
        ("help-search", false, { FakeBackend() }, { d in d.press(.character("?"), .character("/")); d.type("revoke") }),
        ("command-completion", false, { FakeBackend() }, { d in d.press(.character(":")); d.type("e"); d.press(.tab) }),
        ("detail-cursor", false, { FakeBackend() }, { d in d.press(.enter); for _ in 0..<6 { d.press(.character("j")) } }),
        ("unavailable-footer", false, { FakeBackend() }, { d in d.press(.down, .down, .down, .down, .down) }),
        ("export-progress", false, { FakeBackend() }, { d in
            d.press(.character(":")); d.type("export csv /tmp/grants.csv"); d.press(.enter)
            d.post(.jobProgress(job: d.state.job!.id, done: 4, total: 8, failed: 0))
        }),
    ]

    static let sizes = [(80, 24), (120, 40), (60, 15)]

    static let cases: [(String, Int, Int)] = scenarios.flatMap { s in sizes.map { (s.name, $0.0, $0.1) } }
        + bulkScenarios.flatMap { s in [(s.name, 80, 24), (s.name, 120, 40)] }

    static func driver(_ name: String, columns: Int, rows: Int) -> ConsoleDriver {
        let scenario = (scenarios + bulkScenarios).first { $0.name == name }!
        var driver = ConsoleDriver(columns: columns, rows: rows, backend: scenario.backend(), readOnly: scenario.readOnly)
        scenario.steps(&driver)
        return driver
    }

    @Test(arguments: cases)
    func screen(_ name: String, _ columns: Int, _ rows: Int) {
        let driver = Self.driver(name, columns: columns, rows: rows)
        assertSnapshot(driver.screen().text(), named: "\(name)-\(columns)x\(rows)")
    }

    /// Which role every cell has: what a theme colours, and proof that state is never shown by colour alone
    /// (the text snapshots above carry the same information in words).
    @Test(arguments: ["grants", "grants-dialog", "grants-flash-error", "grants-filter-typing", "detail", "detail-cursor", "well-known", "help"])
    func roleMask(_ name: String) {
        let driver = Self.driver(name, columns: 80, rows: 24)
        assertSnapshot(driver.screen().roleMask(), named: "\(name)-80x24.roles")
    }

    @Test func loadingScreen() {
        let driver = ConsoleDriver(columns: 80, rows: 24, settle: false)
        assertSnapshot(driver.screen().text(), named: "grants-loading-80x24")
    }

    @Test func tooSmallTerminal() {
        let driver = ConsoleDriver(columns: 30, rows: 6)
        assertSnapshot(driver.screen().text(), named: "too-small-30x6")
    }

    /// Without Unicode (a non-UTF-8 locale) the console draws ASCII glyphs.
    @Test func asciiGlyphs() {
        var driver = ConsoleDriver(columns: 80, rows: 24)
        driver.press(.character("x"))
        assertSnapshot(Renderer(glyphs: .ascii).render(driver.state).text(), named: "grants-dialog-ascii-80x24")
    }
}
