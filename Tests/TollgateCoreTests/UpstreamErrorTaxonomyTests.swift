import Foundation
import Testing
import TollgateCore
import TollgateDevUpstream
import TollgateTestSupport

/// Every upstream answer to a refresh is classified by what it says (issue 19 item 2), against the dev upstream
/// answering the way real providers do, and no answer makes a grant call upstream on every request: a caller that
/// asks every half second for 60 s (on the injected clock) causes at most one upstream call per backoff step.
@Suite("upstream error taxonomy")
struct UpstreamErrorTaxonomyTests {
    /// One grant whose upstream token has expired, the dev upstream answering refreshes with `failure`; then 120
    /// refresh requests, one every 0.5 s. Returns the first result, the upstream refresh calls and the grant.
    func storm(_ failure: String) async throws -> (first: RefreshResult, calls: Int, grant: Grant, provider: Provider) {
        try await Harness.with(accessTTL: 60) { h in
            let (grantID, _) = try await h.makeGrant()
            await h.setBehaviour { $0.refreshFailure = failure }
            h.clock.advance(by: 120)
            let before = await h.stats().refreshCalls
            var first: RefreshResult?
            for _ in 0..<120 {
                let result = await h.tollgate.refresher.refresh(grantID: grantID, actor: "server")
                if first == nil { first = result }
                h.clock.advance(by: 0.5)
            }
            let calls = await h.stats().refreshCalls - before
            print("taxonomy: \(failure): first outcome \(try #require(first).outcome.name); \(calls) upstream refresh call(s) in 60 s of requests every 0.5 s")
            return (try #require(first), calls, try await h.grant(grantID), try await h.tollgate.admin.provider(serverSlug: "files"))
        }
    }

    /// Before: GitHub's and Slack's HTTP 200 errors were transient forever (the grant never became needs-reauth),
    /// Glewlwyd's empty 400 and Entra's interaction_required marked the provider misconfigured with no backoff (one
    /// upstream call per request). Now each is a dead grant, with the upstream's words, after exactly one call.
    @Test(arguments: [
        ("github_bad_refresh_token", "The refresh token passed is incorrect or expired."),
        ("slack_invalid_refresh_token", "invalid_refresh_token"),
        ("entra_interaction_required", "AADSTS50076"),
        ("empty400", "HTTP 400 with an empty body"),
        ("invalid_grant", "injected"),
    ])
    func aDeadGrantIsNeedsReauthAfterOneCall(failure: String, words: String) async throws {
        let (first, calls, grant, _) = try await storm(failure)
        #expect(first.outcome == .needsReauth, "\(first.message)")
        #expect(grant.state == .needsReauth)
        #expect(grant.stateReason?.contains(words) == true, "\(grant.stateReason ?? "no reason")")
        #expect(calls == 1)
    }

    /// Before: GitHub's `incorrect_client_credentials` (HTTP 200) was transient and never shown on the provider; a
    /// misconfigured provider was asked again on every request. Now it is shown on the provider and backed off.
    @Test func aRefusedClientIsShownOnTheProviderAndBackedOff() async throws {
        let (first, calls, grant, provider) = try await storm("github_incorrect_client_credentials")
        #expect(first.outcome == .providerMisconfigured)
        #expect(provider.lastError?.contains("incorrect_client_credentials") == true, "\(provider.lastError ?? "none")")
        #expect(grant.state == .active, "the grant is not the problem")
        // Backoff 1, 2, 4, 8, 16, 30 s: calls at 0, 1, 3, 7, 15, 31 s of the 60.
        #expect(calls == 6)
    }

    /// An answer no convention explains is transient, backed off, with what it said kept.
    @Test func anUnclassifiableAnswerIsTransientAndBackedOff() async throws {
        let (first, calls, grant, _) = try await storm("unclassifiable")
        guard case .transient = first.outcome else { Issue.record("got \(first.outcome)"); return }
        #expect(first.message.contains("HTTP 418") && first.message.contains("teapot"), "\(first.message)")
        #expect(grant.state == .active)
        #expect(calls == 6)
    }
}
