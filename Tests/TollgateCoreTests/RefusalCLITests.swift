import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// `grant show` and `audit` tell support why a grant's requests were refused and its refreshes failed.
@Suite("refusals in the CLI (built binary)")
struct RefusalCLITests {
    @Test func grantShowListsLastRefusalsAndRefreshErrorsAndAuditFiltersThem() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant(subject: "alice")
            let recorder = RefusalRecorder(store: h.tollgate.store, clock: h.clock)
            _ = try await h.tollgate.admin.revokeGrant(id: grantID)
            do {
                _ = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
                Issue.record("a revoked token was accepted")
            } catch let error as OAuthError {
                recorder.record(try #require(error.refusal), description: error.errorDescription, route: "POST /mcp/files")
            }
            try await h.tollgate.store.appendAudit(NewAuditEvent(
                actor: "server", action: "upstream.refresh", serverID: h.server.id, grantID: grantID, clientID: h.client.client.id,
                outcome: "transient", detail: "the upstream answered 503", durationMilliseconds: 842), at: h.clock.now())
            await recorder.shutdown()
            let env = ["TOLLGATE_DB": h.databasePath]

            let show = try await CLI.run(binary, ["grant", "show", String(grantID)], environment: env)
            #expect(show.status == 0, "\(show.stderr)")
            let refusals = try #require(show.stdout.components(separatedBy: "Last refusals:").last)
            #expect(refusals.contains("revoked") && refusals.contains("the access token has been revoked (POST /mcp/files)"))
            let errors = try #require(show.stdout.components(separatedBy: "Last refresh errors:").last)
            #expect(errors.contains("transient") && errors.contains("842 ms") && errors.contains("the upstream answered 503"))
            #expect(!show.stdout.contains(pair.accessToken.value))

            let json = try await CLI.run(binary, ["grant", "show", String(grantID), "--json"], environment: env)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let lastRefusals = try #require(object["lastRefusals"] as? [[String: Any]])
            #expect(lastRefusals.map { $0["outcome"] as? String } == ["revoked"])
            let lastErrors = try #require(object["lastRefreshErrors"] as? [[String: Any]])
            #expect(lastErrors.first?["durationMilliseconds"] as? Int == 842)

            let audit = try await CLI.run(binary, ["audit", "--grant", String(grantID), "--refusals"], environment: env)
            #expect(audit.status == 0, "\(audit.stderr)")
            #expect(audit.stdout.contains("request.refused") && !audit.stdout.contains("grant.revoke") && !audit.stdout.contains("upstream.refresh"))
            let failures = try await CLI.run(binary, ["audit", "--action", "upstream.refresh", "--failures"], environment: env)
            #expect(failures.stdout.contains("transient") && !failures.stdout.contains("request.refused"))
        }
    }
}
