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

/// `provider remove`: refused while grants would lose their provider, unless they are revoked with it.
@Suite("provider remove")
struct ProviderRemoveTests {
    @Test func removingAProviderWithGrantsNeedsThemRevokedAndConfirmed() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let (grantID, _) = try await h.makeGrant()
            let env = ["TOLLGATE_DB": h.databasePath]
            let refused = try await CLI.run(binary, ["provider", "remove", "files"], environment: env)
            #expect(refused.status == 1 && refused.stderr.contains("1 grant(s) that would lose their provider"), "\(refused.stderr)")
            let unconfirmed = try await CLI.run(binary, ["provider", "remove", "files", "--revoke-grants"], environment: env)
            #expect(unconfirmed.status == 2, "\(unconfirmed.stderr)")
            #expect(try await h.grant(grantID).state == .active, "nothing changed yet")
            let removed = try await CLI.run(binary, ["provider", "remove", "files", "--revoke-grants", "--yes"], environment: env)
            #expect(removed.status == 0, "\(removed.stderr)")
            #expect(removed.stdout.contains("1 grant(s) revoked"))
            #expect(try await h.grant(grantID).state == .revoked)
            #expect(try await h.tollgate.store.provider(serverID: h.server.id) == nil)
            // The server stays and takes a new provider.
            _ = try await h.tollgate.admin.addProvider(serverSlug: "files", NewProvider(kind: .oidc, issuer: h.devURL, clientID: "tollgate-dev",
                                                                                        clientSecret: Secret("dev-secret")))
            #expect(try await h.tollgate.admin.audit(.init(limit: 50)).contains { $0.action == "provider.remove" })
        }
    }
}

/// `provider check` (issue 19 item 4): the stored credentials proven without a user, through the built binary.
@Suite("provider check")
struct ProviderCheckTests {
    @Test func aGoodSecretPassesAWrongOneFailsWithOneLineEach() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let env = ["TOLLGATE_DB": h.databasePath]
            let good = try await CLI.run(binary, ["provider", "check", "files"], environment: env)
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            #expect(good.stdout.contains("ok   discovery:"), "\(good.stdout)")
            #expect(good.stdout.contains("ok   client credentials: accepted"), "\(good.stdout)")
            #expect(await h.stats().refreshCalls == 1, "one probe")
            // The provider no longer takes the stored secret.
            await h.dev.state.setClient(DevUpstreamClient(clientSecret: "rotated-at-the-provider"))
            let wrong = try await CLI.run(binary, ["provider", "check", "files", "--json"], environment: env)
            #expect(wrong.status == 1)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(wrong.stdout.utf8)) as? [String: Any])
            #expect(json["ok"] as? Bool == false)
            let findings = json["findings"] as? [[String: Any]] ?? []
            #expect(findings.contains { $0["subject"] as? String == "client credentials" && $0["ok"] as? Bool == false })
            #expect(!wrong.stdout.contains("dev-secret"), "never the secret")
            // Glewlwyd's code-less 400 cannot tell a wrong secret from an unknown token: not proven, and said so.
            await h.dev.state.setClient(DevUpstreamClient())
            await h.setBehaviour { $0.refreshFailure = "empty400" }
            let unsure = try await CLI.run(binary, ["provider", "check", "files"], environment: env)
            #expect(unsure.stdout.contains("not proven"), "\(unsure.stdout)")
        }
    }
}
