import Foundation
import Testing
import TollgateCore
import TollgateDevUpstream
import TollgateTestSupport

/// Issue 19 item 4 (the provider's lifecycle), its first part: a provider is changed in place. Before, `provider` had
/// only `add`, `list` and `show`, and rotating a client secret meant `server remove`, which deletes every grant.
@Suite("provider changed in place")
struct ProviderRotationTests {
    @Test func rotatingTheClientSecretKeepsEveryGrantAndRefreshesWork() async throws {
        try await Harness.with { h in
            var grants: [Int64] = []
            for user in ["alice", "bob", "carol"] { grants.append(try await h.makeGrant(subject: user).grantID) }
            // The provider rotates the secret: the stored one is refused, and shown on the provider.
            await h.dev.state.setClient(DevUpstreamClient(clientSecret: "new-secret"))
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grants[0]).outcome == .providerMisconfigured)
            #expect(try await h.tollgate.admin.provider(serverSlug: "files").lastError != nil)
            var admin = h.tollgate.admin
            admin.actor = "cli:alice"
            let updated = try await admin.setProvider(serverSlug: "files", clientSecret: Secret("new-secret"))
            #expect(updated.lastError == nil)
            for id in grants {
                #expect(try await h.tollgate.admin.forceRefresh(grantID: id).outcome == .refreshed, "grant \(id)")
                #expect(try await h.grant(id).state == .active)
            }
            #expect(try await h.tollgate.store.countGrants() == 3)
            let events = try await h.tollgate.admin.audit(.init(limit: 50)).filter { $0.action == "provider.update" }
            #expect(events.count == 1)
            #expect(events.first?.actor == "cli:alice")
            #expect(events.first?.detail == "client secret rotated")
            let detail = try #require(events.first?.detail)
            #expect(detail.contains("new-secret") == false, "never the secret")
        }
    }

    @Test func aSecretForAPublicProviderAndAnEmptyChangeAreRefused() async throws {
        try await Harness.with(upstreamClient: DevUpstreamClient(clientSecret: nil, authMethod: .none)) { h in
            await #expect(throws: TollgateError.self) { _ = try await h.tollgate.admin.setProvider(serverSlug: "files") }
            await #expect(throws: TollgateError.self) {
                _ = try await h.tollgate.admin.setProvider(serverSlug: "files", clientSecret: Secret("s"))  // auth method none
            }
            let scoped = try await h.tollgate.admin.setProvider(serverSlug: "files", scopes: ["openid", "offline_access", "files.read"])
            #expect(scoped.scopes == ["openid", "offline_access", "files.read"])
        }
    }

    /// Through the built binary: the secret comes from the environment, never the command line or the output.
    @Test func providerSetRotatesFromTheEnvironmentAndPrintsNoSecret() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            let env = ["TOLLGATE_DB": h.databasePath, "NEW_UPSTREAM_SECRET": "rotated-secret-value"]
            let set = try await CLI.run(binary, ["provider", "set", "--server", "files", "--client-secret-env", "NEW_UPSTREAM_SECRET",
                                                 "--scopes", "openid offline_access"], environment: env)
            #expect(set.status == 0, "\(set.stderr)")
            #expect(set.stdout.contains("client secret rotated") && set.stdout.contains("every grant kept"), "\(set.stdout)")
            #expect(!set.stdout.contains("rotated-secret-value") && !set.stderr.contains("rotated-secret-value"))
            let nothing = try await CLI.run(binary, ["provider", "set", "--server", "files"], environment: env)
            #expect(nothing.status == 1 && nothing.stderr.contains("nothing to change"), "\(nothing.stderr)")
            // The dev upstream now expects the rotated secret: refreshes work with what the CLI stored.
            await h.dev.state.setClient(DevUpstreamClient(clientSecret: "rotated-secret-value"))
            #expect(try await h.tollgate.admin.forceRefresh(grantID: grantID).outcome == .refreshed)
        }
    }
}
