import Foundation

/// The rules of one server that an admin sets when adding it and may change later (`tollgate server set`).
///
/// Stored as one JSON document per server, so a rule added later needs no schema change: a document written by
/// an older version decodes with the defaults for what it lacks.
public struct ServerPolicy: Sendable, Equatable, Codable {
    /// The browser origins whose pages may call the gateway of this server (normalized `scheme://host[:port]`).
    /// Empty: only the origin of Tollgate's public URL.
    public var allowedOrigins: [String]
    /// The scopes MCP calls need and the scope hierarchy (step-up authorization). Empty: no call is checked.
    public var scopeRules: ScopeRules
    /// Which client ID metadata documents the server accepts as clients (default: any valid https document).
    public var clientMetadata: ClientMetadataTrust
    /// Hosts whose client ID metadata documents are refused whatever the trust policy: a lowercase host name, or
    /// `*.example.com` for every subdomain of it. Revoking a metadata-document client refuses one exact URL; a host
    /// serving hostile documents under ever new URLs (`?v=2`) is blocked here.
    public var blockedClientMetadataHosts: [String]

    public init(allowedOrigins: [String] = [], scopeRules: ScopeRules = ScopeRules(), clientMetadata: ClientMetadataTrust = .anyHTTPS,
                blockedClientMetadataHosts: [String] = []) {
        self.allowedOrigins = allowedOrigins
        self.scopeRules = scopeRules
        self.clientMetadata = clientMetadata
        self.blockedClientMetadataHosts = blockedClientMetadataHosts
    }

    /// The trust policy and the blocked hosts in one line, for `server show` and `server set`.
    public var clientMetadataSummary: String {
        clientMetadata.summary + (blockedClientMetadataHosts.isEmpty ? "" : "; blocked hosts " + blockedClientMetadataHosts.joined(separator: " "))
    }

    /// Whether a client ID metadata document at `url` may be used: not from a blocked host, and trusted by
    /// ``clientMetadata``. The error explains a refusal.
    public func checkClientMetadata(_ url: ClientMetadataURL) throws(ClientMetadataError) {
        let host = url.host.lowercased()
        if blockedClientMetadataHosts.contains(where: { $0 == host || ($0.hasPrefix("*.") && host.hasSuffix($0.dropFirst())) }) {
            throw ClientMetadataError(.notTrusted, "client ID metadata documents from \(host) are blocked on this server")
        }
        try clientMetadata.check(url)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        allowedOrigins = try container.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? []
        scopeRules = try container.decodeIfPresent(ScopeRules.self, forKey: .scopeRules) ?? ScopeRules()
        clientMetadata = try container.decodeIfPresent(ClientMetadataTrust.self, forKey: .clientMetadata) ?? .anyHTTPS
        blockedClientMetadataHosts = try container.decodeIfPresent([String].self, forKey: .blockedClientMetadataHosts) ?? []
    }

    /// Leaves out empty scope rules and the default metadata-document trust, so a policy without them is stored as
    /// before they existed.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(allowedOrigins, forKey: .allowedOrigins)
        if !scopeRules.isEmpty { try container.encode(scopeRules, forKey: .scopeRules) }
        if clientMetadata != .anyHTTPS { try container.encode(clientMetadata, forKey: .clientMetadata) }
        if !blockedClientMetadataHosts.isEmpty { try container.encode(blockedClientMetadataHosts, forKey: .blockedClientMetadataHosts) }
    }

    private enum CodingKeys: String, CodingKey {
        case allowedOrigins, scopeRules, clientMetadata, blockedClientMetadataHosts
    }

    /// The policy as stored: compact JSON with sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Decodes a stored policy; a document that is not a JSON object of this shape is damage in the store.
    public init(json: String) throws {
        do {
            self = try JSONDecoder().decode(ServerPolicy.self, from: Data(json.utf8))
        } catch {
            throw TollgateError(.damaged, "a server's stored policy is not readable JSON")
        }
    }

    /// The origins the gateway admits for this policy, given the origin of Tollgate's public URL.
    public func admittedOrigins(publicOrigin: WebOrigin?) -> [WebOrigin] {
        let configured = allowedOrigins.compactMap(WebOrigin.init)
        if !configured.isEmpty { return configured }
        return publicOrigin.map { [$0] } ?? []
    }

    /// Whether a request whose `Origin` header is `header` may reach the gateway: no header (native clients send
    /// none) is admitted; a header must name one of ``admittedOrigins(publicOrigin:)`` exactly. `null` (sandboxed
    /// pages, redirects across origins) and anything that is not a plain origin are refused.
    public func admits(originHeader header: String?, publicOrigin: WebOrigin?) -> Bool {
        guard let header else { return true }
        guard let origin = WebOrigin(header) else { return false }
        return admittedOrigins(publicOrigin: publicOrigin).contains(origin)
    }
}

/// A web origin (RFC 6454): scheme, host and port, as browsers send it in `Origin`. Normalized: lowercase scheme
/// and host, the scheme's default port left out.
public struct WebOrigin: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    /// `nil` for the scheme's default port.
    public let port: Int?

    /// Parses `scheme://host[:port]` (`http` or `https`, no path, query, fragment or user info); `nil` for
    /// anything else, `null` included. A trailing `/` is tolerated in configuration.
    public init?(_ text: String) {
        var text = text
        if text.hasSuffix("/") { text.removeLast() }
        guard text.count <= 300, !text.contains(where: { $0.isWhitespace || $0 == "@" || $0 == "\\" }),
              let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host?.lowercased(), !host.isEmpty,
              components.path.isEmpty, components.query == nil, components.fragment == nil,
              components.user == nil, components.password == nil else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        if let port = components.port, !(1...65535).contains(port) { return nil }
        self.scheme = scheme
        self.host = host
        port = components.port.flatMap { $0 == defaultPort ? nil : $0 }
    }

    /// The origin of a URL (its scheme, host and port), e.g. of Tollgate's public URL.
    public init?(of url: URL) {
        guard let scheme = url.scheme, let host = url.host else { return nil }
        self.init("\(scheme)://\(host.contains(":") ? "[\(host)]" : host)" + (url.port.map { ":\($0)" } ?? ""))
    }

    public var description: String {
        "\(scheme)://\(host)" + (port.map { ":\($0)" } ?? "")
    }
}
