import Crypto
import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// The `tollgate` binary against a PostgreSQL store, as an admin would use it: every admin command works,
/// the database is named without its user or password, and a process without the master key refuses to start.
@Suite("tollgate CLI on PostgreSQL (built binary)", .enabled(if: PostgresTestServer.shouldRun))
struct CLIPostgresTests {
    @Test func everyAdminCommandWorksAndNeverShowsTheUserOrPassword() async throws {
        let binary = try CLI.binary()
        let database = try await PostgresTestServer.freshDatabase()
        try await PostgresTestServer.dropping(database) {
            let password = PostgresTestServer.environment["PGPASSWORD"] ?? ""
            let user = URLComponents(string: database.url)?.user ?? "tollgate"
            let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
            let directory = NSTemporaryDirectory() + "tollgate-pg-cli-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let passwordFile = directory + "/pg-password"
            try (password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let keyFile = directory + "/master.key"
            // Mode 0600: a key file open to group or others is refused.
            try #require(FileManager.default.createFile(atPath: keyFile, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]))
            // The password comes from a file here (PGPASSWORD removed): both ways must work.
            let env = ["TOLLGATE_DB": database.url, "PGPASSWORD": "", "UP_SECRET": "upstream-secret-value"]
            func run(_ args: String..., expect status: Int32 = 0) async throws -> CLI.Result {
                let r = try await CLI.run(binary, args + ["--db-password-file", passwordFile, "--master-key-file", keyFile], environment: env)
                #expect(r.status == status, "tollgate \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)")
                for secret in [password, "upstream-secret-value", key] where !secret.isEmpty {
                    #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret), "a secret leaked from \(args)")
                }
                #expect(!r.stdout.contains("\(user)@") && !r.stderr.contains("\(user)@"), "the user name leaked from \(args)")
                return r
            }

            _ = try await run("server", "add", "files", "--upstream-mcp", "http://127.0.0.1:9/mcp")
            _ = try await run("provider", "add", "--server", "files", "--kind", "oauth2",
                              "--authorization-endpoint", "http://127.0.0.1:9/authorize", "--token-endpoint", "http://127.0.0.1:9/token",
                              "--client-id", "tg", "--client-secret-env", "UP_SECRET")
            let added = try await run("client", "add", "--server", "files", "--name", "Desk", "--redirect-uri", "http://127.0.0.1:5000/cb")
            #expect(added.stdout.contains("client_id: tgc_"))
            #expect(try await run("server", "list", "--json").stdout.contains("\"files\""))
            _ = try await run("provider", "show", "files")
            _ = try await run("client", "list")
            _ = try await run("grant", "list", "--json")
            _ = try await run("wellknown", "files")
            _ = try await run("keys", "rotate")
            _ = try await run("store", "purge", "--dry-run")
            let audit = try await run("audit", "--json")
            #expect(audit.stdout.contains("server.add") && audit.stdout.contains("keys.rotate"))

            // Errors name the database as postgres://host:port/db.
            let missing = try await run("server", "show", "nope", expect: 1)
            #expect(missing.stderr.contains("nope"))
            let wrongPassword = directory + "/wrong"
            try "not-the-password\n".write(toFile: wrongPassword, atomically: true, encoding: .utf8)
            let refused = try await CLI.run(binary, ["server", "list", "--db-password-file", wrongPassword, "--master-key-file", keyFile], environment: env)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("postgres://") && !refused.stderr.contains("\(user)@") && !refused.stderr.contains("not-the-password"),
                    "\(refused.stderr)")
            // Without the master key nothing starts (and nothing is written).
            let keyless = try await CLI.run(binary, ["server", "list", "--db-password-file", passwordFile], environment: env)
            #expect(keyless.status == 1 && keyless.stderr.contains("master key"), "\(keyless.stderr)")
            // A password in the URL is refused before anything connects.
            let inURL = try await CLI.run(binary, ["server", "list", "--db", "postgres://u:hunter2@127.0.0.1/x"], environment: env)
            #expect(inURL.status == 2 && inURL.stderr.contains("must not contain a password") && !inURL.stderr.contains("hunter2"))
        }
    }
}
