import Foundation
import HummingbirdTesting
import Testing
import TollgateCore
@testable import TollgateServer
import TollgateTestSupport

/// Issue 20 item 9 (second part): revoking a metadata-document client refuses one exact URL, so the same host is
/// admitted again under another (`?v=2`); a host-level block on the server keeps the host out, before any fetch.
@Suite("client ID metadata documents: blocked hosts")
struct ClientMetadataHostBlockTests {
    @Test func aBlockedHostIsRefusedWhateverTheURLAndNothingIsFetched() async throws {
        typealias D = ClientMetadataDocumentTests
        try await D.with(reply: { path, server in .json(D.document(server.url(path))) }) { s, documents in
            try await s.test { client in
                let url = documents.url()
                #expect(try await client.execute(uri: D.authorizeURI(url), method: .get).status == .ok)
                let row = try #require(try await s.h.tollgate.admin.clients(serverSlug: "files").items.first { $0.metadataDocument?.url == url })
                _ = try await s.h.tollgate.admin.revokeClient(id: row.id)
                try await D.expectRefused(client, url, "revoked")
                // What the README warns of: the same host under another URL is a new client.
                let other = documents.url("/client.json?v=2")
                #expect(try await client.execute(uri: D.authorizeURI(other), method: .get).status == .ok)
                // Blocking the host refuses both, and any other URL of it, without fetching.
                var policy = try await s.h.tollgate.admin.server(slug: "files").policy
                policy.blockedClientMetadataHosts = ["127.0.0.1"]
                _ = try await s.h.tollgate.admin.setServerPolicy(slug: "files", policy)
                let fetches = documents.requests.count
                for blocked in [other, documents.url("/client.json?v=3"), documents.url("/elsewhere.json")] {
                    try await D.expectRefused(client, blocked, "blocked on this server")
                }
                #expect(documents.requests.count == fetches, "a blocked host is never fetched")
                let stored = try await s.h.tollgate.admin.server(slug: "files").policy
                #expect(stored.clientMetadataSummary == "any https document; blocked hosts 127.0.0.1")
            }
        }
    }

    @Test func aWildcardBlocksSubdomainsButNotTheDomainItself() throws {
        let policy = ServerPolicy(blockedClientMetadataHosts: ["*.evil.example"])
        #expect(throws: ClientMetadataError.self) { try policy.checkClientMetadata(try ClientMetadataURL("https://app.evil.example/c.json")) }
        #expect(throws: Never.self) { try policy.checkClientMetadata(try ClientMetadataURL("https://evil.example/c.json")) }
        #expect(throws: Never.self) { try policy.checkClientMetadata(try ClientMetadataURL("https://notevil.example/c.json")) }
    }
}
