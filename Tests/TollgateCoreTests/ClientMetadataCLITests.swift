import Foundation
import Testing
import TollgateCore
import TollgateTestSupport

/// The CLI faces of client ID metadata documents (built binary): the trust policy flags of `server add|set|show`,
/// the metadata they change, and metadata-document clients in `client list|show`.
@Suite("tollgate CLI: client ID metadata documents (built binary)")
struct ClientMetadataCLITests {
    @Test func trustPolicyFlagsAndDocumentClients() async throws {
        let binary = try CLI.binary()
        try await Harness.with { h in
            let env = ["TOLLGATE_DB": h.databasePath]
            func run(_ args: String...) async throws -> CLI.Result {
                let r = try await CLI.run(binary, args, environment: env)
                #expect(r.status == 0, "tollgate \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)")
                return r
            }
            func supported(_ slug: String) async throws -> Bool? {
                let result = try await run("wellknown", slug)
                return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])?["client_id_metadata_document_supported"] as? Bool
            }
            #expect(try await supported("files") == true, "the default: any https document")
            _ = try await run("server", "add", "mail", "--upstream-mcp", "http://127.0.0.1:9/mcp", "--client-metadata", "off",
                              "--allowed-origin", "https://mail.example")
            #expect(try await run("server", "show", "mail").stdout.contains("client metadata documents: off"))
            #expect(try await supported("mail") == false)
            let set = try await run("server", "set", "mail", "--client-metadata-allow", "https://*.example.com/",
                                    "--client-metadata-allow", "https://app.example/client.json")
            #expect(set.stdout.contains("allowlist https://*.example.com/ https://app.example/client.json"), "\(set.stdout)")
            let policy = try await h.tollgate.admin.server(slug: "mail").policy
            #expect(policy.allowedOrigins == ["https://mail.example"], "origins not named stay")
            #expect(policy.clientMetadata == .allowlist([try ClientMetadataURLPattern("https://*.example.com/"),
                                                         try ClientMetadataURLPattern("https://app.example/client.json")]))
            #expect(try await supported("mail") == true)
            _ = try await run("server", "set", "mail", "--default-origins")
            #expect(try await h.tollgate.admin.server(slug: "mail").policy.clientMetadata == policy.clientMetadata, "trust not named stays")
            for bad in [["server", "set", "mail", "--client-metadata", "sometimes"],
                        ["server", "set", "mail", "--client-metadata", "allowlist"],
                        ["server", "set", "mail", "--client-metadata", "any", "--client-metadata-allow", "https://a.example/x"],
                        ["server", "set", "mail", "--client-metadata-allow", "http://a.example/"],
                        ["server", "set", "mail", "--client-metadata-allow", "https://*.com/"]] {
                let refused = try await CLI.run(binary, bad, environment: env)
                #expect(refused.status == 2, "\(bad): \(refused.stderr)")
            }

            // A document client as the authorization endpoint leaves it, with a later failed fetch.
            let url = "https://editor.example/oauth/client.json"
            let rowID = try ClientMetadataURL(url).clientRowID(serverID: h.server.id)
            let now = h.clock.now()
            _ = try await h.tollgate.store.saveMetadataDocumentClient(Client(
                id: rowID, serverID: h.server.id, name: "Editor", redirectURIs: ["http://127.0.0.1:7777/cb"], authMethod: .none,
                grantTypes: ["authorization_code"], registeredBy: Client.metadataDocumentRegistration, createdAt: now,
                metadataDocument: MetadataDocumentState(url: url, lastFetchedAt: now)), audit: NewAuditEvent(actor: "test", action: "client.register"), at: now)
            try await h.tollgate.store.recordMetadataDocumentFailure(clientID: rowID, "the document URL answered HTTP 503", at: now.addingTimeInterval(1))
            let list = try await run("client", "list").stdout
            #expect(list.contains("metadata-document"))
            #expect(list.contains("\(url) (last fetch failed: the document URL answered HTTP 503)"), "\(list)")
            let show = try await run("client", "show", rowID).stdout
            #expect(show.contains("document host") && show.contains("editor.example"), "\(show)")
            #expect(show.contains("last fetch failed"), "\(show)")
            let json = try await run("client", "list", "--json").stdout
            let clients = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            let document = try #require(clients.first { $0["id"] as? String == rowID })
            #expect(document["clientID"] as? String == url)
            #expect((document["metadataDocument"] as? [String: Any])?["lastError"] as? String == "the document URL answered HTTP 503")
            #expect(clients.first { $0["id"] as? String == h.client.client.id }?["clientID"] as? String == h.client.client.id)
            let revoked = try await run("client", "revoke", rowID, "--yes")
            #expect(revoked.stdout.contains("revoked"))
            #expect(try await h.tollgate.admin.client(id: rowID).revokedAt != nil)
        }
    }
}
