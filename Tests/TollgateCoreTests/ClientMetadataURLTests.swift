import Foundation
import Testing
import TollgateCore

@Suite("client ID metadata document URLs and trust patterns")
struct ClientMetadataURLTests {
    @Test func validURLsKeepTheirTextAndHost() throws {
        let url = try ClientMetadataURL("https://App.Example:8443/oauth/client.json?v=2")
        #expect(url.text == "https://App.Example:8443/oauth/client.json?v=2")
        #expect(url.host == "app.example")
        #expect(url.hostAsWritten == "App.Example")
        #expect(url.port == 8443)
        #expect(url.path == "/oauth/client.json")
        let v6 = try ClientMetadataURL("https://[2001:db8::1]/c")
        #expect(v6.host == "2001:db8::1")
        #expect(ClientMetadataURL.isCandidate("HTTPS://app.example/c"))
        #expect(!ClientMetadataURL.isCandidate("tgc_abc"))
        #expect(!ClientMetadataURL.isCandidate("http://app.example/c"))
    }

    @Test func everyRuleOfTheDraftIsEnforced() {
        let refused: [(String, String)] = [
            ("https://app.example", "path other than /"), ("https://app.example/", "path other than /"),
            ("https://app.example/c#x", "fragment"), ("https://u@app.example/c", "user information"),
            ("https://app.example/a/./c", ". or .."), ("https://app.example/a/%2E/c", ". or .."), ("https://app.example/..", ". or .."),
            ("https://app.example:0/c", "invalid port"), ("https://:443/c", "needs a host"), ("HTTPS://app.example/c", "https://"),
            ("https://app.example/\u{7F}", "character"), ("https://app.example/%zz", "percent escape"),
            ("https://app.example/" + String(repeating: "p", count: 2000), "longer than 2000"),
        ]
        for (text, reason) in refused {
            #expect(throws: ClientMetadataError.self, "\(text)") { try ClientMetadataURL(text) }
            do { _ = try ClientMetadataURL(text) } catch {
                #expect(error.kind == .invalidURL)
                #expect(error.reason.contains(reason), "\(text): \(error.reason)")
            }
        }
    }

    @Test func theRowIDDependsOnServerAndURL() throws {
        let url = try ClientMetadataURL("https://app.example/client.json")
        let a = url.clientRowID(serverID: 1)
        #expect(a.hasPrefix("tgm_") && a.count == 36)
        #expect(a == url.clientRowID(serverID: 1))
        #expect(a != url.clientRowID(serverID: 2))
        #expect(a != (try ClientMetadataURL("https://app.example/client.json?")).clientRowID(serverID: 1))
    }

    @Test func allowlistPatterns() throws {
        func matches(_ pattern: String, _ url: String) throws -> Bool {
            try ClientMetadataURLPattern(pattern).matches(try ClientMetadataURL(url))
        }
        #expect(try matches("https://app.example/client.json", "https://app.example/client.json"))
        #expect(try matches("https://app.example/client.json", "https://APP.example/client.json"))
        #expect(try !matches("https://app.example/client.json", "https://app.example/client.json?x=1"))
        #expect(try !matches("https://app.example/client.json", "https://app.example/client.jsonx"))
        #expect(try matches("https://app.example/clients/", "https://app.example/clients/a.json"))
        #expect(try !matches("https://app.example/clients/", "https://app.example/clientsX/a.json"))
        #expect(try !matches("https://app.example/clients/", "https://app.example:444/clients/a.json"))
        #expect(try !matches("https://app.example/clients/", "https://evil.example/clients/a.json"))
        #expect(try matches("https://*.example.com/", "https://a.b.example.com/c.json"))
        #expect(try !matches("https://*.example.com/", "https://example.com/c.json"))
        #expect(try !matches("https://*.example.com/", "https://evilexample.com/c.json"))
        #expect(try matches("https://*.example.com/mcp/", "https://x.example.com/mcp/c.json"))
        #expect(try !matches("https://*.example.com/mcp/", "https://x.example.com/other/c.json"))
        for bad in ["http://app.example/", "https://app.example", "https://*.com/", "https://a.*.example.com/", "https://*.example.com/c.json",
                    "https://app.example/?q", "https://app.example/#f", "https://app.example/../"] {
            #expect(throws: ClientMetadataError.self, "\(bad)") { try ClientMetadataURLPattern(bad) }
        }
    }

    @Test func theTrustPolicyRoundTripsThroughTheServerPolicyJSON() throws {
        let policy = ServerPolicy(allowedOrigins: ["https://app.example"],
                                  clientMetadata: .allowlist([try ClientMetadataURLPattern("https://*.example.com/")]))
        #expect(try ServerPolicy(json: policy.json) == policy)
        #expect(try ServerPolicy(json: ServerPolicy(clientMetadata: .off).json).clientMetadata == .off)
        #expect(try ServerPolicy(json: "{}").clientMetadata == .anyHTTPS, "a policy stored before this rule: any document")
        #expect(throws: TollgateError.self) { try ServerPolicy(json: #"{"clientMetadata":{"mode":"sometimes"}}"#) }
        #expect(throws: TollgateError.self) { try ServerPolicy(json: #"{"clientMetadata":{"mode":"allowlist","patterns":["http://x/"]}}"#) }
        let url = try ClientMetadataURL("https://app.example/c.json")
        #expect(throws: ClientMetadataError.self) { try ClientMetadataTrust.off.check(url) }
        try ClientMetadataTrust.anyHTTPS.check(url)
    }
}
