import AsyncHTTPClient
import Foundation
import Testing
import TollgateCore
import TollgateTestSupport
import TollgateDevUpstream

/// The `tollgate` binary run as a user would, against a temporary database.
@Suite("tollgate CLI (built binary)")
struct CLITests {
    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    @Test func everyCommandWorksInATemporaryDatabase() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let (grantID, pair) = try await h.makeGrant(subject: "alice")
            let env = ["TOLLGATE_DB": h.databasePath, "EXTRA_SECRET": "mail-upstream-secret"]
            func run(_ args: String...) async throws -> CLI.Result {
                let r = try await CLI.run(binary, args, environment: env)
                #expect(r.status == 0, "tollgate \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)")
                for secret in [pair.accessToken.value, pair.refreshToken.value, "mail-upstream-secret", "dev-secret"] {
                    #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret), "a secret leaked from \(args)")
                }
                return r
            }
            func runJSON(_ args: String...) async throws -> Any {
                let r = try await CLI.run(binary, args + ["--json"], environment: env)
                #expect(r.status == 0, "tollgate \(args.joined(separator: " ")) --json exited \(r.status): \(r.stderr)")
                return try json(r.stdout)
            }

            _ = try await run("server", "add", "mail", "--upstream-mcp", "http://127.0.0.1:9/mcp", "--name", "Mail",
                              "--allowed-origin", "https://Mail.Example", "--allowed-origin", "http://127.0.0.1:3000")
            #expect(try await run("server", "show", "mail").stdout.contains("https://mail.example http://127.0.0.1:3000"))
            let set = try await run("server", "set", "mail", "--default-origins")
            #expect(set.stdout.contains("(the public URL's, by default)"), "\(set.stdout)")
            #expect(try await h.tollgate.admin.server(slug: "mail").policy == ServerPolicy())
            _ = try await run("server", "set", "mail", "--allowed-origin", "https://app.example")
            #expect(try await h.tollgate.admin.server(slug: "mail").policy.allowedOrigins == ["https://app.example"])
            for bad in [["server", "set", "mail"], ["server", "set", "mail", "--allowed-origin", "app.example"],
                        ["server", "set", "mail", "--allowed-origin", "https://a.example", "--default-origins"]] {
                let refused = try await CLI.run(binary, bad, environment: env)
                #expect(refused.status == 2, "\(bad): \(refused.stderr)")
            }
            let servers = try #require(try await runJSON("server", "list") as? [[String: Any]])
            #expect(Set(servers.compactMap { $0["slug"] as? String }) == ["files", "mail"])
            #expect(try await runJSON("server", "show", "mail") is [String: Any])
            _ = try await run("provider", "add", "--server", "mail", "--kind", "oauth2",
                              "--authorization-endpoint", h.devURL + "/authorize", "--token-endpoint", h.devURL + "/token",
                              "--client-id", "mail-client", "--client-secret-env", "EXTRA_SECRET", "--scopes", "mail.read")
            let providers = try #require(try await runJSON("provider", "list") as? [[String: Any]])
            #expect(providers.count == 2)
            #expect(try await runJSON("provider", "show", "files") is [String: Any])
            let added = try await run("client", "add", "--server", "mail", "--name", "Desk", "--redirect-uri", "http://127.0.0.1:5000/cb")
            #expect(added.stdout.contains("client_id: tgc_"))
            let clients = try #require(try await runJSON("client", "list") as? [[String: Any]])
            #expect(clients.count == 2)
            _ = try await runJSON("client", "show", h.client.client.id)

            let grants = try #require(try await runJSON("grant", "list", "--server", "files") as? [[String: Any]])
            #expect(grants.count == 1)
            let listed = try await run("grant", "list")
            #expect(listed.stdout.contains("alice"))
            #expect(try await runJSON("grant", "show", String(grantID)) is [String: Any])
            let refreshed = try await run("grant", "refresh", String(grantID))
            #expect(await h.stats().refreshCalls == 1, "\(refreshed.stdout)")

            let wellKnown = try await run("wellknown", "files")
            let expected = try await h.tollgate.admin.wellKnown(serverSlug: "files", .authorizationServer, urls: try await h.tollgate.admin.publicURLs())
            #expect(Data(wellKnown.stdout.utf8) == expected)
            let prm = try await run("wellknown", "files", "--protected-resource", "--public-url", "https://p.example")
            #expect(Data(prm.stdout.utf8) == WellKnown.protectedResourceMetadata(server: h.server, urls: PublicURLs(base: "https://p.example")))

            _ = try await run("keys", "rotate")
            _ = try await h.tollgate.tokens.validate(accessToken: pair.accessToken.value, serverSlug: "files")
            let audit = try #require(try await runJSON("audit", "--grant", String(grantID)) as? [[String: Any]])
            #expect(audit.contains { ($0["action"] as? String)?.hasPrefix("upstream.refresh") == true })
            _ = try await runJSON("audit", "--since", "1h")

            _ = try await run("grant", "revoke", String(grantID))
            #expect(try await h.grant(grantID).state == .revoked)
            let shown = try await run("grant", "show", String(grantID))
            #expect(shown.stdout.contains("revoked"))
            // Destructive commands confirm: without --yes (no terminal here) nothing changes and the exit is 2.
            let unconfirmed = try await CLI.run(binary, ["client", "revoke", h.client.client.id], environment: ["TOLLGATE_DB": h.databasePath])
            #expect(unconfirmed.status == 2 && unconfirmed.stderr.contains("--yes"), "\(unconfirmed.stderr)")
            #expect(try await h.tollgate.admin.client(id: h.client.client.id).revokedAt == nil)
            let keep = try await CLI.run(binary, ["server", "remove", "mail"], environment: ["TOLLGATE_DB": h.databasePath])
            #expect(keep.status == 2 && keep.stderr.contains("Remove server 'mail'"), "\(keep.stderr)")
            #expect(try await h.tollgate.admin.servers().count == 2)
            _ = try await run("client", "revoke", h.client.client.id, "--yes")
            _ = try await run("server", "remove", "mail", "--yes")
            #expect(try await h.tollgate.admin.servers().map(\.slug) == ["files"])
        }
    }

    @Test func bulkRevokePrintsThePlanUntilYesThenRevokesExactlyTheSubject() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let bob = [try await h.makeGrant(subject: "bob").grantID, try await h.makeGrant(subject: "bob").grantID]
            let bobby = try await h.makeGrant(subject: "bobby").grantID
            let env = ["TOLLGATE_DB": h.databasePath]
            let plan = try await CLI.run(binary, ["grant", "revoke", "--subject", "bob"], environment: env)
            #expect(plan.status == 0, "\(plan.stderr)")
            #expect(plan.stdout.contains("would revoke 2 grant(s) matching subject=bob:"), "\(plan.stdout)")
            #expect(plan.stdout.contains("run again with --yes"))
            #expect(!plan.stdout.contains("bobby"), "bob is matched exactly")
            let planJSON = try #require(try json(try await CLI.run(binary, ["grant", "revoke", "--subject", "bob", "--json"], environment: env).stdout) as? [String: Any])
            #expect(planJSON["count"] as? Int == 2 && planJSON["changed"] as? Bool == false)
            #expect((planJSON["grants"] as? [Int]).map { Set($0.map(Int64.init)) } == Set(bob))
            for id in bob + [bobby] { #expect(try await h.grant(id).state == .active, "the plan changed nothing") }

            let done = try await CLI.run(binary, ["grant", "revoke", "--subject", "bob", "--upstream", "--yes"], environment: env)
            #expect(done.status == 0, "\(done.stderr)")
            #expect(done.stdout.contains("subject=bob: 2 grant(s) revoked, 0 failed"), "\(done.stdout)")
            #expect(done.stdout.contains("note: 2× upstream: refresh token revoked"), "\(done.stdout)")
            for id in bob { #expect(try await h.grant(id).state == .revoked) }
            #expect(try await h.grant(bobby).state == .active)
            #expect(await h.stats().revocations == 2, "each grant's upstream token revoked, as grant revoke --upstream does")

            let refreshed = try await CLI.run(binary, ["grant", "refresh", "--subject", "bobby", "--yes", "--json"], environment: env)
            #expect(refreshed.status == 0, "\(refreshed.stderr)")
            #expect((try json(refreshed.stdout) as? [String: Any])?["succeeded"] as? Int == 1)
            #expect(await h.stats().refreshCallsBySubject["bobby"] == 1)

            await h.setBehaviour { $0.refreshFailure = "invalid_grant" }
            for _ in 0..<2 { _ = try await h.makeGrant(subject: "carol") }
            let failed = try await CLI.run(binary, ["grant", "refresh", "--subject", "carol", "--yes"], environment: env)
            #expect(failed.status == 1, "a failed grant fails the command")
            #expect(failed.stdout.contains("subject=carol: 0 grant(s) refreshed, 2 failed"), "\(failed.stdout)")
            #expect(failed.stdout.contains("failed: 2× needs-reauth"), "\(failed.stdout)")
            #expect(failed.stderr.contains("2 of 2 grant(s) were not refreshed"), "\(failed.stderr)")

            for bad in [["grant", "revoke"], ["grant", "revoke", String(bobby), "--subject", "bob"], ["grant", "revoke", "--status", "active"],
                        ["grant", "revoke", String(bobby), "--yes"]] {
                let refused = try await CLI.run(binary, bad, environment: env)
                #expect(refused.status == 2, "\(bad): \(refused.stderr)")
            }
            #expect(try await h.grant(bobby).state == .active)
        }
    }

    @Test func storePurgeDeletesWhatRetentionLetsGoAndDryRunOnlyCounts() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            // A grant made 100 days ago: its proxy tokens expired long since, its audit events are past 90 days.
            h.clock.set(Date().addingTimeInterval(-100 * 86400))
            let (grantID, _) = try await h.makeGrant(subject: "old")
            h.clock.set(Date().addingTimeInterval(-60))
            let (_, fresh) = try await h.makeGrant(subject: "new")
            let env = ["TOLLGATE_DB": h.databasePath]
            func purge(_ args: String...) async throws -> [String: Int] {
                let r = try await CLI.run(binary, ["store", "purge", "--json"] + args, environment: env)
                #expect(r.status == 0, "\(r.stderr)")
                let report = try #require(try json(r.stdout) as? [String: Any])
                return try #require(report["counts"] as? [String: Int])
            }
            let planned = try await purge("--dry-run")
            #expect(planned["tokens"] == 2, "the old grant's access and refresh tokens: \(planned)")
            #expect((planned["auditEvents"] ?? 0) >= 1)
            #expect(try await purge("--dry-run") == planned, "a dry run deletes nothing")
            #expect(try await purge() == planned)
            #expect(try await purge("--dry-run").values.allSatisfy { $0 == 0 })
            // Grants stay, and the fresh grant's tokens still work.
            #expect(try await h.tollgate.store.grant(id: grantID) != nil)
            _ = try await h.tollgate.tokens.validate(accessToken: fresh.accessToken.value, serverSlug: "files")
            let shorter = try await purge("--audit-retention", "1s", "--dry-run")
            #expect((shorter["auditEvents"] ?? 0) >= 1, "the new grant's events are a minute old")
        }
    }

    @Test func badArgumentsExitTwoWithOneClearLine() async throws {
        let binary = try CLI.binary()
        let dir = NSTemporaryDirectory() + "tollgate-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["TOLLGATE_DB": dir + "/t.sqlite"]
        #expect(try await CLI.run(binary, ["store", "init"], environment: env).status == 0)
        let usage: [[String]] = [
            ["bogus"], ["grant", "show", "notanumber"], ["server", "add"], ["audit", "--since", "5x"],
            ["grant", "list", "--status", "weird"], ["server", "add", "Bad Slug", "--upstream-mcp", "http://x/mcp"],
            ["provider", "add", "--server", "x", "--kind", "saml", "--client-id", "c"], ["grant", "list", "--limit", "0"],
        ]
        for args in usage {
            let r = try await CLI.run(binary, args, environment: env)
            #expect(r.status == 2, "tollgate \(args.joined(separator: " ")) exited \(r.status)")
            #expect(!r.stderr.isEmpty)
        }
        let failures: [[String]] = [["server", "show", "nope"], ["grant", "show", "999"], ["grant", "refresh", "999"]]
        for args in failures {
            let r = try await CLI.run(binary, args, environment: env)
            #expect(r.status == 1, "tollgate \(args.joined(separator: " ")) exited \(r.status)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "expected one error line, got: \(r.stderr)")
            #expect(r.stderr.hasPrefix("tollgate: error:"))
        }
        let help = try await CLI.run(binary, ["--help"], environment: env)
        #expect(help.status == 0)
        #expect(help.stdout.contains("grant"))
    }

    @Test func aDamagedDatabaseIsAClearFailureAndIsLeftUntouched() async throws {
        let binary = try CLI.binary()
        let dir = NSTemporaryDirectory() + "tollgate-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/t.sqlite"
        let junk = Data(repeating: 0x5A, count: 8192)
        _ = FileManager.default.createFile(atPath: path, contents: junk)
        let r = try await CLI.run(binary, ["server", "list"], environment: ["TOLLGATE_DB": path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("not a SQLite database") || r.stderr.contains("not a valid SQLite database"), "\(r.stderr)")
        #expect(FileManager.default.contents(atPath: path) == junk)
    }

    @Test func secretsComeFromFilesOrTheEnvironmentNeverArguments() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let secretFile = h.directory + "/secret.txt"
            try "file-secret-value\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
            let env = ["TOLLGATE_DB": h.databasePath]
            _ = try await CLI.run(binary, ["server", "add", "mail", "--upstream-mcp", "http://127.0.0.1:9/mcp"], environment: env)
            let added = try await CLI.run(binary, ["provider", "add", "--server", "mail", "--kind", "oauth2",
                                                   "--authorization-endpoint", "http://127.0.0.1:9/a", "--token-endpoint", "http://127.0.0.1:9/t",
                                                   "--client-id", "m", "--client-secret-file", secretFile], environment: env)
            #expect(added.status == 0, "\(added.stderr)")
            #expect(try await h.tollgate.admin.provider(serverSlug: "mail").hasClientSecret)
            let noSecretFlag = try await CLI.run(binary, ["provider", "add", "--server", "files", "--kind", "oauth2", "--client-secret", "x",
                                                         "--client-id", "m"], environment: env)
            #expect(noSecretFlag.status == 2)
            let missingEnv = try await CLI.run(binary, ["server", "add", "x", "--upstream-mcp", "http://127.0.0.1:9/mcp"], environment: env)
            #expect(missingEnv.status == 0)
            let unset = try await CLI.run(binary, ["provider", "add", "--server", "x", "--kind", "oauth2",
                                                   "--authorization-endpoint", "http://127.0.0.1:9/a", "--token-endpoint", "http://127.0.0.1:9/t",
                                                   "--client-id", "m", "--client-secret-env", "TOLLGATE_TEST_UNSET_VAR"], environment: env)
            #expect(unset.status != 0)
            #expect(unset.stderr.contains("TOLLGATE_TEST_UNSET_VAR"))
        }
    }

    @Test func devUpstreamRunsAsACommandAndStopsOnSIGTERM() async throws {
        let binary = try CLI.binary()
        let devUpstream = try BackgroundCommand(binary, ["dev-upstream", "--listen", "127.0.0.1:0", "--access-ttl", "5"])
        let url = devUpstream.url
        #expect(url.hasPrefix("http://127.0.0.1:"))
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let response = try await http.execute(HTTPClientRequest(url: url + "/.well-known/openid-configuration"), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 16)
        try await http.shutdown()
        let data = Data(body.readableBytesView)
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(doc["issuer"] as? String == url)
        devUpstream.stop()
        #expect(devUpstream.process.terminationStatus == 0)
    }
}

extension CLITests {
    @Test func scopeRulesAreSetAtAddChangedBySetAndShown() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let env = ["TOLLGATE_DB": h.databasePath]
            func run(_ args: String...) async throws -> CLI.Result {
                let r = try await CLI.run(binary, args, environment: env)
                #expect(r.status == 0, "tollgate \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)")
                return r
            }
            _ = try await run("server", "add", "docs", "--upstream-mcp", "http://127.0.0.1:9/mcp", "--scopes", "docs.read docs.write docs.admin",
                              "--tool-scope", "write_doc=docs.write", "--method-scope", "resources/read=docs.read",
                              "--scope-implies", "docs.write=docs.read", "--scope-implies", "docs.admin=docs.write")
            let rules = { try await h.tollgate.admin.server(slug: "docs").policy.scopeRules }
            #expect(try await rules() == ScopeRules(toolScopes: ["write_doc": ["docs.write"]], methodScopes: ["resources/read": ["docs.read"]],
                                                    implies: ["docs.write": ["docs.read"], "docs.admin": ["docs.write"]]))
            let shown = try await run("server", "show", "docs").stdout
            #expect(shown.contains("tool write_doc=docs.write, method resources/read=docs.read, docs.admin implies docs.write, docs.write implies docs.read"),
                    "\(shown)")
            let json = try #require(try json(try await run("server", "show", "docs", "--json").stdout) as? [String: Any])
            let policy = try #require(json["policy"] as? [String: Any])
            #expect((policy["scopeRules"] as? [String: Any])?["toolScopes"] as? [String: [String]] == ["write_doc": ["docs.write"]])

            // set changes the rules it names and keeps the others (and the origins).
            _ = try await run("server", "set", "docs", "--allowed-origin", "https://app.example")
            _ = try await run("server", "set", "docs", "--tool-scope", "purge=docs.admin,docs.write", "--tool-scope", "write_doc=")
            #expect(try await rules().toolScopes == ["purge": ["docs.admin", "docs.write"]])
            #expect(try await rules().methodScopes == ["resources/read": ["docs.read"]])
            #expect(try await h.tollgate.admin.server(slug: "docs").policy.allowedOrigins == ["https://app.example"])
            let cleared = try await run("server", "set", "docs", "--clear-scope-rules")
            #expect(cleared.stdout.contains("scope rules none"), "\(cleared.stdout)")
            #expect(try await rules() == ScopeRules())
            #expect(try await h.tollgate.admin.server(slug: "docs").policy.allowedOrigins == ["https://app.example"])

            // A scope that is not the server's (exit 1) or a malformed rule (usage, exit 2) is refused and changes nothing.
            for (bad, status) in [(["server", "set", "docs", "--tool-scope", "t=files.read"], Int32(1)),
                                  (["server", "set", "docs", "--tool-scope", "no-equals-sign"], 2),
                                  (["server", "set", "docs", "--scope-implies", "=docs.read"], 2),
                                  (["server", "add", "x", "--upstream-mcp", "http://127.0.0.1:9/mcp", "--tool-scope", "t=a"], 1)] {
                let refused = try await CLI.run(binary, bad, environment: env)
                #expect(refused.status == status, "\(bad): \(refused.status) \(refused.stderr)")
            }
            let unknown = try await CLI.run(binary, ["server", "set", "docs", "--tool-scope", "t=files.read"], environment: env)
            #expect(unknown.stderr.contains("'files.read' is not one of the server's scopes"), "\(unknown.stderr)")
            #expect(try await rules() == ScopeRules())
        }
    }
}
