import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// What an unauthenticated stranger can make Tollgate store (issue 20 item 1), over a real loopback socket: the
/// size of every authorization parameter that is stored and echoed, and how many pending authorizations one
/// address and everyone together may start.
@Suite("limits on what strangers can store")
struct StrangerLimitsTests {
    func authorizeURI(_ h: Harness, _ change: (inout [String: String]) -> Void = { _ in }) -> String {
        OAuthEndpointTests().authorizeURI(h, change)
    }

    /// Pending authorizations in the store.
    func pendingRows(_ h: Harness) async throws -> Int { try await h.storedRows().pendingAuthorizations }

    /// Before: a 60,000-character `state` was stored verbatim with the pending authorization (40 requests stored
    /// 2.4 MB). After: any parameter over 2,048 bytes is refused on a page before anything is stored or fetched.
    @Test func anOverlongParameterIsRefusedBeforeAnythingIsStored() async throws {
        try await ServerHarness.with { s in
            try await s.live { client in
                var browser = FlowBrowser(s, client)
                _ = try await browser.startAuthorization(authorizeURI(s.h))  // approve once: later requests skip the page
                let before = try await pendingRows(s.h)
                #expect(before == 1)
                let huge = String(repeating: "s", count: 60_000)
                for name in ["state", "scope", "resource", "redirect_uri", "code_challenge"] {
                    let r = try await browser.open(authorizeURI(s.h) { $0[name] = huge })
                    #expect(r.status == .badRequest, "\(name)")
                    #expect(r.header("Location") == nil)
                    #expect(r.text.contains("parameter &#39;\(name)&#39; is longer than 2048 bytes"), "\(r.text.prefix(300))")
                    #expect(!r.text.contains(huge), "the value is not echoed")
                }
                // At the bound itself the state is still accepted and stored.
                let atBound = try await browser.open(authorizeURI(s.h) { $0["state"] = String(repeating: "s", count: 2048) })
                #expect(atBound.status == .found)
                #expect(try await pendingRows(s.h) == before + 1)
            }
        }
    }

    /// Before: every remembered-approval `GET /authorize` stored a pending authorization, without any limit.
    /// After: one address may start `--authorization-limit` of them (the consent POST included); the next gets 429
    /// with `Retry-After` on a page, nothing stored, and the metrics count both outcomes.
    @Test func pendingAuthorizationsAreLimitedPerAddressAndCounted() async throws {
        try await Harness.with { h in
            let s = ServerHarness(h) { $0.authorizationLimitPerAddress = RateLimit(burst: 3, perMinute: 1) }
            try await s.live { client in
                var browser = FlowBrowser(s, client)
                _ = try await browser.startAuthorization(authorizeURI(h))  // the consent POST: the first
                var statuses: [HTTPResponse.Status] = []
                for n in 0..<6 {
                    statuses.append(try await browser.open(authorizeURI(h) { $0["state"] = "s-\(n)" }).status)
                }
                #expect(statuses == [.found, .found, .tooManyRequests, .tooManyRequests, .tooManyRequests, .tooManyRequests])
                #expect(try await pendingRows(h) == 3)
                let limited = try await browser.open(authorizeURI(h))
                #expect(limited.status == .tooManyRequests)
                #expect(Int(limited.header("Retry-After") ?? "") ?? 0 >= 1)
                #expect(limited.header("Content-Type")?.hasPrefix("text/html") == true)
                #expect(limited.header("Location") == nil)
                // A minute later the bucket holds one more.
                h.clock.advance(by: 61)
                #expect(try await browser.open(authorizeURI(h)).status == .found)
                let metrics = try await client.execute(uri: "/metrics", method: .get).text
                #expect(metrics.contains(#"tollgate_pending_authorizations_total{outcome="created"} 4"#), "\(metrics)")
                #expect(metrics.contains(#"tollgate_pending_authorizations_total{outcome="limited"} 5"#))
            }
        }
    }

    /// The global bucket holds for everyone together, whatever the address.
    @Test func pendingAuthorizationsAreLimitedGlobally() async throws {
        let limiter = RateLimiter(perAddress: RateLimit(burst: 100, perMinute: 100), global: RateLimit(burst: 4, perMinute: 1),
                                  clock: ManualClock(start: Date()))
        let decisions = (0..<6).map { limiter.admit("10.0.0.\($0)") }
        #expect(decisions.filter { $0 == .admitted }.count == 4)
    }
}
