import Foundation
import Testing
import TollgateConsole
import TollgateCore

/// The audit view follows new events like `tail -f`: only what is newer is read, at the top it follows,
/// scrolled away it stays put, and the `/` filter applies to what arrives.
@Suite("audit live tail")
struct AuditTailTests {
    static func events(_ ids: ClosedRange<Int64>, action: String = "grant.revoke") -> [AuditEvent] {
        ids.map { Fixtures.event($0, ago: Double(1000 - $0), action: action, grantID: $0 % 2 == 0 ? 12 : 7, detail: "event \($0)") }
    }

    static func openAudit(_ backend: FakeBackend, rows: Int = 24) -> ConsoleDriver {
        var d = ConsoleDriver(columns: 80, rows: rows, backend: backend)
        d.press(.character(":")); d.type("audit"); d.press(.enter)
        return d
    }

    func tailQuery(_ effects: [ConsoleEffect]) -> AuditQuery? {
        effects.lazy.compactMap { if case .loadAudit(_, let q) = $0 { q } else { nil } }.first
    }

    @Test func aChangeReadsOnlyNewerEventsAndFollowsAtTheTop() {
        let backend = FakeBackend(audit: Self.events(1...5))
        var d = Self.openAudit(backend)
        #expect(d.state.audit.rows.map(\.id) == [5, 4, 3, 2, 1])
        backend.audit += Self.events(6...7)
        d.post(.dataChanged)
        let query = tailQuery(d.lastEffects)
        #expect(query?.after == 5, "only events newer than the newest shown are read")
        #expect(query?.before == nil)
        #expect(d.state.audit.rows.map(\.id) == [7, 6, 5, 4, 3, 2, 1])
        #expect(d.state.audit.selected?.id == 7 && d.state.audit.top == 0, "at the newest row the view follows")
        d.post(.dataChanged)
        #expect(tailQuery(d.lastEffects)?.after == 7)
        #expect(d.state.audit.rows.count == 7, "nothing new, nothing added")
    }

    @Test func scrolledAwayTheViewKeepsShowingTheSameRows() {
        let backend = FakeBackend(audit: Self.events(1...60))
        var d = Self.openAudit(backend)
        for _ in 0..<30 { d.press(.down) }
        let (selected, top) = (d.state.audit.selected?.id, d.state.audit.top)
        #expect(selected == 30 && top > 0)
        backend.audit += Self.events(61...63)
        d.post(.dataChanged)
        #expect(d.state.audit.rows.first?.id == 63)
        #expect(d.state.audit.selected?.id == selected, "the selection stays on its event")
        #expect(d.state.audit.top == top + 3, "the rows on screen do not move")
    }

    @Test func theFilterAppliesToWhatArrivesAndScopesTheQuery() {
        let backend = FakeBackend(audit: Self.events(1...4))
        var d = Self.openAudit(backend)
        d.press(.character("/")); d.type("grant:12 action:request.refused"); d.press(.enter)
        let full = tailQuery(backend.answered.reversed())
        #expect(full?.grantID == 12 && full?.actions == ["request.refused"], "grant: and action: go to the store")
        #expect(d.state.audit.rows.isEmpty)
        backend.audit += Self.events(5...8, action: "request.refused") + Self.events(9...9)
        d.post(.dataChanged)
        #expect(tailQuery(d.lastEffects)?.actions == ["request.refused"])
        #expect(d.state.audit.rows.map(\.id) == [8, 6], "only grant 12's refusals")
    }

    @Test func otherViewsStillReloadInFull() {
        var d = ConsoleDriver(backend: FakeBackend())
        d.post(.dataChanged)
        #expect(d.lastEffects.contains { if case .loadGrants = $0 { true } else { false } })
        #expect(tailQuery(d.lastEffects) == nil)
    }
}
