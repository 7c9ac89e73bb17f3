import Foundation
import Testing
import TollgateTestSupport

/// `tollgate demo` as a newcomer meets it: the built binary, left running, keeps the system alive.
@Suite(.serialized)
struct DemoTrafficTests {
    /// Real processes: the demo (dev upstream, serve, simulated MCP clients) and CLI calls on its store. Within its
    /// first minute, gateway calls refresh upstream tokens (audit `upstream.refresh` by `server`, outcome `ok`), and
    /// the user whose upstream authorization the provider revoked ends in `needs-reauth`, the others untouched.
    @Test func theDemoRefreshesTokensAndOneUserLosesTheUpstreamAuthorizationInTheFirstMinute() async throws {
        let binary = try CLI.binary()
        // `--no-console` prints `database: PATH` first: the command's "url" is that path.
        let demo = try BackgroundCommand(binary, ["demo", "--no-console"])
        defer { demo.stop() }
        let database = demo.url
        #expect(database.hasSuffix("tollgate.sqlite"))

        func grants(subject: String) async throws -> [[String: Any]] {
            let result = try await CLI.run(binary, ["grant", "list", "--db", database, "--subject", subject, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        }
        func gatewayRefreshes() async throws -> Int {
            let result = try await CLI.run(binary, ["audit", "--db", database, "--limit", "10000", "--json"])
            let events = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
            return events.filter { $0["action"] as? String == "upstream.refresh" && $0["actor"] as? String == "server"
                && $0["outcome"] as? String == "ok" }.count
        }

        let start = Date()
        var erinLost = false
        var refreshed = 0
        while Date().timeIntervalSince(start) < 75, !(erinLost && refreshed >= 3) {
            try await Task.sleep(for: .seconds(2))
            erinLost = try await grants(subject: "erin").contains { $0["status"] as? String == "needs-reauth" }
            refreshed = try await gatewayRefreshes()
        }
        #expect(erinLost, "erin's grant did not reach needs-reauth within 75 s")
        #expect(refreshed >= 3, "only \(refreshed) upstream refreshes by the gateway within 75 s")
        // The provider revoked only erin: nobody else lost an authorization that a refresh could have saved.
        for user in ["alice", "bob", "carol"] {
            let statuses = try await grants(subject: user).compactMap { $0["status"] as? String }
            #expect(!statuses.isEmpty && !statuses.contains("needs-reauth"), "\(user): \(statuses)")
        }
        #expect(demo.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: database), "the demo left its database behind")
    }
}
