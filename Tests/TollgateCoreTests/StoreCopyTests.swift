import Crypto
import Foundation
import Testing
import TollgateCore
import TollgateStores
import TollgateTestSupport

/// `tollgate store copy`: a deployment moved into an empty store under another master key keeps every client
/// and every grant working.
@Suite("store copy")
struct StoreCopyTests {
    /// Where copies go: a SQLite file (always), and a fresh PostgreSQL database when one is available.
    static func destinations() -> [String] { ["sqlite"] + (PostgresTestServer.shouldRun ? ["postgres"] : []) }

    @Test(arguments: destinations())
    func aCopyUnderAnotherMasterKeyKeepsEveryClientAndGrantWorking(destination kind: String) async throws {
        let binary = try CLI.binary()
        try await Harness.with(confidentialClient: true) { h in
            var grants: [(grantID: Int64, pair: TokenPair)] = []
            for user in ["alice", "bob", "carol", "dave", "erin"] { grants.append(try await h.makeGrant(subject: user)) }
            _ = try await h.tollgate.tokens.startAuthorization(
                try await h.tollgate.tokens.validateAuthorization(serverSlug: "files", AuthorizationRequest(
                    responseType: "code", clientID: h.client.client.id, redirectURI: Harness.redirectURI, scope: "files.read",
                    state: "s", codeChallenge: TokenGenerator.s256Challenge(of: String(repeating: "x", count: 43)),
                    codeChallengeMethod: "S256", resource: nil), urls: h.urls),
                urls: h.urls, browserBinding: Secret("browser"))
            try await h.tollgate.store.setSetting("public-url", "https://mcp.example.com")

            // The destination: an empty store with a master key of its own.
            let keyFile = h.directory + "/destination.key"
            let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString() + "\n"
            // Mode 0600: a key file open to group or others is refused.
            try #require(FileManager.default.createFile(atPath: keyFile, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600]))
            let database: PostgresTestServer.Database?
            let target: String
            if kind == "postgres" {
                database = try await PostgresTestServer.freshDatabase()
                target = database!.url
            } else {
                database = nil
                target = h.directory + "/copy.sqlite"
            }
            try await PostgresTestServer.dropping(database) {

                let copied = try await CLI.run(binary, ["store", "copy", "--from", h.databasePath, "--to", target,
                                                        "--to-master-key-file", keyFile, "--json"], environment: PostgresTestServer.environment)
                #expect(copied.status == 0, "\(copied.stderr)")
                let report = try JSONDecoder().decode(StoreCopyReport.self, from: Data(copied.stdout.utf8))
                #expect(report.rewrapped)
                #expect(report.rows["grants"] == 5 && report.rows["clients"] == 1 && report.rows["pending_authorizations"] == 1)
                #expect(report.rows["tokens"] == 10)
                #expect(!copied.stdout.contains(PostgresTestServer.environment["PGPASSWORD"] ?? "\u{0}"))

                // A second copy into the same (no longer empty) store is refused.
                let again = try await CLI.run(binary, ["store", "copy", "--from", h.databasePath, "--to", target,
                                                      "--to-master-key-file", keyFile], environment: PostgresTestServer.environment)
                #expect(again.status == 1 && again.stderr.contains("not empty"), "\(again.stderr)")

                // The copy, opened with its own key only: every grant validates and refreshes, the client authenticates.
                let location = try StoreLocation.parse(target).withPassword(file: nil, environment: PostgresTestServer.environment)
                let moved = try await Tollgate.open(location, masterKeyFile: keyFile, environment: [:], logger: Harness.logger)
                do {
                    for (id, pair) in grants.map({ ($0.grantID, $0.pair) }) {
                        let access = try await moved.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
                        #expect(access.grant.id == id)
                        _ = try await moved.tokens.upstreamAccessToken(for: access)
                        let refreshed = await moved.refresher.refresh(grantID: id, force: true, actor: "test")
                        #expect(refreshed.outcome == .refreshed, "grant \(id): \(refreshed)")
                        let next = try await moved.tokens.refresh(serverSlug: "files", credentials: h.credentials,
                                                                  refreshToken: pair.refreshToken.value, scope: nil)
                        #expect(!next.accessToken.value.isEmpty)
                    }
                    #expect(try await moved.store.setting("public-url") == "https://mcp.example.com")
                    #expect(try await moved.store.client(id: h.client.client.id)?.name == h.client.client.name)
                    #expect(try await moved.store.refreshLease(grantID: grants[0].grantID)?.owner == nil)
                    #expect(await h.stats().refreshCalls == 5)
                } catch {
                    await moved.shutdown()
                    throw error
                }
                await moved.shutdown()
            }
        }
    }
}
