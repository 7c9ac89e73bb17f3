import Foundation
import Synchronization
import Testing
import TollgateCore
import TollgatePostgres

/// The validation lookup on a real server with many lookups at once: they are answered in batches
/// (``PostgresStore/tokenContext(hash:)``), and every answer must still be the lookup's own and as fresh as
/// the moment the lookup started.
@Suite("postgres token lookup coalescing", .serialized, .enabled(if: TestPostgres.shouldRun, Comment(rawValue: TestPostgres.notFoundMessage)))
struct TokenLookupCoalescingTests {
    typealias F = StoreFixture

    /// Runs `body` with a fixture whose store lets `lookupsInFlight` validation statements run at once.
    func withFixture(lookupsInFlight: Int, _ body: (F) async throws -> Void) async throws {
        try await TestPostgres.withStore { _, configuration in
            var coalescing = configuration
            coalescing.tokenLookupsInFlight = lookupsInFlight
            let store = try await PostgresStore(configuration: coalescing)
            do {
                try await body(try await F.make(store))
                await store.close()
            } catch {
                await store.close()
                throw error
            }
        }
    }

    @Test(arguments: [1, 2])
    func concurrentLookupsOfDifferentAndEqualHashesEachGetTheirOwnContext(lookupsInFlight: Int) async throws {
        try await withFixture(lookupsInFlight: lookupsInFlight) { f in
            var grantOfLabel: [String: Int64] = [:]
            for label in (0..<8).map({ "t\($0)" }) {
                let grantID = try await f.grant(label, subject: "user-\(label)")
                try await f.issueTokens(label, grantID: grantID)
                grantOfLabel[label] = grantID
            }
            let expected = grantOfLabel
            // 400 lookups at once: each access and refresh token many times over, and hashes nobody issued.
            let answers = try await race(400) { i -> (Int, TokenContext?) in
                let label = "t\(i % 10)"
                let hash = F.hash((i % 3 == 0 ? "refresh-" : "access-") + label)
                return (i, try await f.store.tokenContext(hash: hash))
            }
            #expect(answers.count == 400)
            for (i, context) in answers {
                let label = "t\(i % 10)"
                guard let grantID = expected[label] else {
                    #expect(context == nil, "lookup \(i) of an unknown hash")
                    continue
                }
                let context = try #require(context, "lookup \(i)")
                let kind: TokenKind = i % 3 == 0 ? .refresh : .access
                #expect(context.token.hash == F.hash((kind == .refresh ? "refresh-" : "access-") + label))
                #expect(context.token.kind == kind)
                #expect(context.token.grantID == grantID)
                #expect(context.grant.id == grantID)
                #expect(context.grant.subject == "user-\(label)")
                #expect(context.sealed?.accessToken == Data("access-of-\(grantID)".utf8))
                #expect(context.upstreamMCPURL == f.server.upstreamMCPURL)
            }
        }
    }

    @Test func aRevocationIsSeenByEveryLookupThatStartsAfterItReturnedWhileOthersLookTheTokenUp() async throws {
        try await withFixture(lookupsInFlight: 1) { f in
            var revokedSeen: [Bool] = []
            for v in 0..<20 {
                let grantID = try await f.grant("victim-\(v)")
                try await f.issueTokens("victim-\(v)", grantID: grantID)
                let hash = F.hash("access-victim-\(v)")
                #expect(try await f.store.tokenContext(hash: hash)?.grant.state == .active)
                let stop = StopFlag()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Others keep looking the same token up, so a statement reading it is in flight nearly all the time.
                    for _ in 0..<8 {
                        group.addTask { for _ in 0..<500 where !stop.isSet { _ = try await f.store.tokenContext(hash: hash) } }
                    }
                    try await Task.sleep(for: .milliseconds(5))
                    #expect(try await f.store.revokeGrant(id: grantID, audit: F.audit("grant.revoke"), at: F.t0))
                    // Started after the revocation returned: must not be answered by a statement that began before it.
                    let after = try #require(try await f.store.tokenContext(hash: hash))
                    revokedSeen.append(after.grant.state == .revoked && after.token.revokedAt != nil)
                    stop.set()
                    try await group.waitForAll()
                }
            }
            #expect(revokedSeen == Array(repeating: true, count: 20))
        }
    }
}

/// Tells the background lookups of a test to stop.
final class StopFlag: Sendable {
    private let state = Mutex(false)
    var isSet: Bool { state.withLock { $0 } }
    func set() { state.withLock { $0 = true } }
}
