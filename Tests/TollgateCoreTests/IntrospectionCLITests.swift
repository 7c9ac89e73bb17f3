import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// `tollgate server introspection …` run as an admin would.
@Suite("introspection credentials CLI (built binary)")
struct IntrospectionCLITests {
    @Test func addWritesTheSecretToANewPrivateFileAndNeverPrintsIt() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let env = ["TOLLGATE_DB": h.databasePath]
            let secretFile = h.directory + "/introspection.secret"
            let added = try await CLI.run(binary, ["server", "introspection", "add", "files", "--name", "files API", "--secret-file", secretFile],
                                          environment: env)
            #expect(added.status == 0, "\(added.stderr)")
            let secret = try String(contentsOfFile: secretFile, encoding: .utf8).trimmingCharacters(in: .newlines)
            #expect(secret.hasPrefix("tg_is_"))
            #expect(!added.stdout.contains(secret) && !added.stderr.contains(secret))
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: secretFile)[.posixPermissions] as? Int)
            #expect(mode == 0o600)
            let id = try #require(added.stdout.firstMatch(of: /tgi_[A-Za-z0-9_-]+/).map { String($0.0) })
            // The credential works at the core's introspection with that secret.
            let (_, pair) = try await h.makeGrant()
            let info = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: ClientCredentials(
                clientID: id, secret: Secret(secret), method: .clientSecretBasic), token: pair.accessToken.value, urls: h.urls)
            #expect(info.active)

            // An existing file is never overwritten, and no credential is made for a secret nobody got.
            let again = try await CLI.run(binary, ["server", "introspection", "add", "files", "--name", "other", "--secret-file", secretFile],
                                          environment: env)
            #expect(again.status == 1)
            #expect(again.stderr.contains("already exists"))
            #expect(try String(contentsOfFile: secretFile, encoding: .utf8).hasPrefix(secret))
            await #expect(try h.tollgate.admin.introspectionCredentials(serverSlug: "files").count == 1)
            let unknownServer = try await CLI.run(binary, ["server", "introspection", "add", "nope", "--name", "x",
                                                           "--secret-file", h.directory + "/nope.secret"], environment: env)
            #expect(unknownServer.status == 1)
            #expect(!FileManager.default.fileExists(atPath: h.directory + "/nope.secret"), "the file of a failed add is removed")

            let listed = try await CLI.run(binary, ["server", "introspection", "list", "files", "--json"], environment: env)
            #expect(listed.status == 0)
            #expect(!listed.stdout.contains(secret))
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            #expect(rows.map { $0["id"] as? String } == [id])
            #expect(rows.first?["active"] as? Bool == true)

            let revoked = try await CLI.run(binary, ["server", "introspection", "revoke", id], environment: env)
            #expect(revoked.status == 0, "\(revoked.stderr)")
            let text = try await CLI.run(binary, ["server", "introspection", "list", "files"], environment: env)
            #expect(text.stdout.contains("revoked"))
            #expect(await oauthError {
                _ = try await h.tollgate.tokens.introspect(serverSlug: "files", credentials: ClientCredentials(
                    clientID: id, secret: Secret(secret), method: .clientSecretBasic), token: pair.accessToken.value, urls: h.urls)
            } == .invalidClient)
            let usage = try await CLI.run(binary, ["server", "introspection", "add", "files", "--name", "x"], environment: env)
            #expect(usage.status == 2, "--secret-file is required")
        }
    }
}
