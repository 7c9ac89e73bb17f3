import Foundation
import Testing
import TollgateConsole
import TollgateCore

/// The core's grant listing as the console uses it: backwards pages, the last page, the subject-prefix
/// filter under each of its plans, and the bounded count, on a real SQLite store. The in-memory
/// ``FakeBackend`` must page exactly like it.
@Suite("Grant listing (SQLite store)", .serialized)
struct GrantListingTests {
    /// 6,000 grants whose subjects share "user" (more than the range-scan plan takes), plus a few others.
    static func store() async throws -> (StoreHarness, [Grant]) {
        let clock = ManualClock(start: Fixtures.now)
        let h = try await StoreHarness(clock: clock, upstream: false)
        for i in 0..<6_000 {
            let expiry: TimeInterval? = i % 97 == 0 ? nil : TimeInterval((i * 7919) % 7200) - 600
            try await h.makeGrant(subject: "user\(i)", expiresIn: expiry, refreshToken: i % 5 != 0)
        }
        for subject in ["alice", "alicia", "bob", "田中"] { try await h.makeGrant(subject: subject) }
        try await h.makeGrant(subject: nil)
        var all: [Grant] = []
        var query = GrantQuery(limit: 10_000)
        repeat {
            let page = try await h.tollgate.admin.grants(query)
            all += page.items
            query.after = page.nextCursor
        } while query.after != nil
        return (h, all)
    }

    /// One store for both checks (filling it is the slow part).
    @Test func listingAndConsoleOnARealStore() async throws {
        let (h, all) = try await Self.store()
        do {
            try await pagesAgreeWithTheInMemoryRulesInEveryPlan(h, all)
            try await theConsoleWalksTheWholeListingWithoutLoadingIt(h, all)
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    func pagesAgreeWithTheInMemoryRulesInEveryPlan(_ h: StoreHarness, _ all: [Grant]) async throws {
        let fake = FakeBackend(grants: all)
        fake.now = Fixtures.now
        let admin = h.tollgate.admin
        var checked = 0
        for sort in GrantSort.allCases {
            for prefix in [nil, "user", "user1", "user12", "ali", "田", "zzz"] as [String?] {
                for status in [nil, GrantStatus.expired] {
                    var q = GrantQuery(status: status, sort: sort, limit: 37)
                    q.subjectPrefix = prefix
                    // Forward from the start, then every page backwards from the end: both ways, pages join up.
                    var forward: [Int64] = []
                    var cursorQuery = q
                    for _ in 0..<3 {
                        let page = try await admin.grants(cursorQuery)
                        let expected = fake.page(cursorQuery)
                        #expect(page.items.map(\.id) == expected.items.map(\.id), "\(sort) \(prefix ?? "-") \(status?.rawValue ?? "-")")
                        #expect(page.nextCursor == expected.nextCursor && page.previousCursor == expected.previousCursor)
                        forward += page.items.map(\.id)
                        guard let next = page.nextCursor else { break }
                        cursorQuery.after = next
                    }
                    var last = q
                    last.fromEnd = true
                    let end = try await admin.grants(last)
                    #expect(end.items.map(\.id) == fake.page(last).items.map(\.id))
                    #expect(end.nextCursor == nil)
                    if let previous = end.previousCursor {
                        var back = q
                        back.before = previous
                        let page = try await admin.grants(back)
                        #expect(page.items.map(\.id) == fake.page(back).items.map(\.id))
                        #expect(page.nextCursor == page.items.last.map(sort.cursor(of:)))
                    }
                    // A backwards page from the middle ends right before its cursor.
                    if forward.count > 40, let middle = all.first(where: { $0.id == forward[40] }) {
                        var back = q
                        back.before = sort.cursor(of: middle)
                        let page = try await admin.grants(back)
                        #expect(page.items.map(\.id) == Array(forward[3..<40]))
                    }
                    let count = try await admin.countGrants(q, upTo: 1_000)
                    #expect(count == min(1_000, fake.matching(q).count))
                    checked += 1
                }
            }
        }
        #expect(checked == 42)
        #expect(try await admin.countGrants(GrantQuery(), upTo: .max) == all.count)
        #expect(try await h.tollgate.store.countGrants() == all.count)
    }

    func theConsoleWalksTheWholeListingWithoutLoadingIt(_ h: StoreHarness, _ all: [Grant]) async throws {
        let runner = ConsoleRunner(tollgate: h.tollgate, themes: ThemeLibrary(directories: []), post: { _ in })
        var state = ConsoleState(now: Fixtures.now, columns: 80, rows: 24)
        await runner.settle(&state, state.start())
        #expect(state.grants.count == all.count)
        var seen: [Int64] = []
        var largestWindow = 0
        for _ in 0..<all.count {
            if let id = state.grants.selected?.id, seen.last != id { seen.append(id) }
            largestWindow = max(largestWindow, state.grants.rows.count)
            await runner.settle(&state, state.handle(.down))
        }
        #expect(seen == all.map(\.id), "j visits every grant once, in order")
        #expect(largestWindow <= state.layout.tableRows(for: .grants) * 3)
        for _ in 0..<100 { await runner.settle(&state, state.handle(.up)) }
        #expect(state.grants.selected?.id == all[all.count - 101].id)
        await runner.settle(&state, state.handle(.character("g")))
        #expect(state.grants.selected?.id == all.first?.id)
        await runner.settle(&state, state.handle(.character("G")))
        #expect(state.grants.selected?.id == all.last?.id)
        for key in "/user12" { await runner.settle(&state, state.handle(.character(key))) }
        await runner.settle(&state, state.handle(.enter))
        #expect(state.grants.count == 111)
        #expect(state.grants.rows.allSatisfy { $0.subject?.hasPrefix("user12") == true })
    }
}
