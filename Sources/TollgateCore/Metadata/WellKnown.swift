import Foundation

/// The well-known documents, built by the one function that `serve`, the CLI and the console share.
public enum WellKnown {
    /// Which document.
    public enum Document: String, Sendable, CaseIterable {
        /// RFC 8414 authorization-server metadata.
        case authorizationServer = "authorization-server"
        /// RFC 9728 protected-resource metadata.
        case protectedResource = "protected-resource"
    }

    /// The document's bytes exactly as served: JSON with sorted keys, unescaped slashes, and a final newline.
    public static func document(_ document: Document, server: Server, provider: Provider?, urls: PublicURLs) -> Data {
        switch document {
        case .authorizationServer: return authorizationServerMetadata(server: server, provider: provider, urls: urls)
        case .protectedResource: return protectedResourceMetadata(server: server, urls: urls)
        }
    }

    /// RFC 8414 metadata; `issuer` equals the protected resource's `authorization_servers[0]`;
    /// `client_id_metadata_document_supported` unless the server's trust policy is off.
    public static func authorizationServerMetadata(server: Server, provider: Provider?, urls: PublicURLs) -> Data {
        let slug = server.slug
        var scopes = provider?.scopes ?? []
        for s in server.scopes where !scopes.contains(s) { scopes.append(s) }
        scopes.removeAll { $0 == "offline_access" }
        scopes.append("offline_access")
        let object: [String: Any] = [
            "issuer": urls.issuer(slug),
            "authorization_endpoint": urls.authorizationEndpoint(slug),
            "token_endpoint": urls.tokenEndpoint(slug),
            "registration_endpoint": urls.registrationEndpoint(slug),
            "revocation_endpoint": urls.revocationEndpoint(slug),
            "introspection_endpoint": urls.introspectionEndpoint(slug),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": scopes,
            "authorization_response_iss_parameter_supported": true,
            // Client ID metadata documents (MCP 2026-07-28): per the server's trust policy.
            "client_id_metadata_document_supported": server.policy.clientMetadata.isEnabled,
        ]
        return encode(object)
    }

    /// RFC 9728 metadata of `{base}/mcp/{slug}`; scopes without `offline_access`.
    public static func protectedResourceMetadata(server: Server, urls: PublicURLs) -> Data {
        var object: [String: Any] = [
            "resource": urls.resource(server.slug),
            "authorization_servers": [urls.issuer(server.slug)],
            "bearer_methods_supported": ["header"],
            "resource_name": server.name,
        ]
        let scopes = server.scopes.filter { $0 != "offline_access" }
        if !scopes.isEmpty { object["scopes_supported"] = scopes }
        return encode(object)
    }

    static func encode(_ object: [String: Any]) -> Data {
        // Keys are sorted and the input is plain JSON types, so this cannot fail.
        var data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        data.append(0x0A)
        return data
    }
}
