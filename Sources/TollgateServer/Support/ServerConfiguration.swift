import Foundation

/// How `tollgate serve` listens and behaves.
public struct ServerConfiguration: Sendable {
    /// The loopback or interface address to bind.
    public var host: String
    public var port: Int
    /// The public base URL clients see (issuer, resource, redirect URIs); default `http://host:port`.
    public var publicURL: String?
    /// The largest request body accepted by OAuth endpoints and the gateway.
    public var maxBodyBytes: Int
    /// Timeout of a forwarded MCP request until the backend's response head arrives.
    public var gatewayTimeout: TimeInterval
    /// How long an approval remembered in the consent cookie lasts.
    public var consentMemory: TimeInterval
    /// How long a consent page stays valid.
    public var consentLifetime: TimeInterval
    /// Dynamic registrations admitted from one source address (`serve --registration-limit`).
    public var registrationLimitPerAddress = RateLimit.registrationPerAddress
    /// Dynamic registrations admitted from all addresses together (`serve --registration-global-limit`).
    public var registrationLimitGlobal = RateLimit.registrationGlobal
    /// Pending authorizations started from one source address (`serve --authorization-limit`).
    public var authorizationLimitPerAddress = RateLimit.authorizationPerAddress
    /// Pending authorizations started from all addresses together (`serve --authorization-global-limit`).
    public var authorizationLimitGlobal = RateLimit.authorizationGlobal
    /// First fetches of client ID metadata documents (URLs no client row holds yet) one source address may cause
    /// (`serve --client-metadata-limit`; default: registration's).
    public var clientMetadataLimitPerAddress = RateLimit.registrationPerAddress
    /// First fetches of client ID metadata documents all addresses together may cause
    /// (`serve --client-metadata-global-limit`; default: registration's).
    public var clientMetadataLimitGlobal = RateLimit.registrationGlobal
    /// The largest registration request body (RFC 7591 client metadata), in bytes.
    public var maxRegistrationBytes = 16 * 1024
    /// The connection limit and the head, body and idle timeouts every client connection is held to.
    public var connectionLimits: ConnectionLimits
    /// Whether the gateway sets `Forwarded` / `X-Forwarded-*` itself or only drops the client's.
    public var forwardedHeaders: ForwardedHeadersMode
    /// Whether every request gets an info-level `request` log line (`serve --access-log on|off`).
    public var accessLog = true

    public init(host: String = "127.0.0.1", port: Int = 8080, publicURL: String? = nil, maxBodyBytes: Int = 1 << 20,
                gatewayTimeout: TimeInterval = 60, consentMemory: TimeInterval = 30 * 86400, consentLifetime: TimeInterval = 600,
                connectionLimits: ConnectionLimits = ConnectionLimits(), forwardedHeaders: ForwardedHeadersMode = .drop) {
        self.host = host
        self.port = port
        self.publicURL = publicURL
        self.maxBodyBytes = maxBodyBytes
        self.gatewayTimeout = gatewayTimeout
        self.consentMemory = consentMemory
        self.consentLifetime = consentLifetime
        self.connectionLimits = connectionLimits
        self.forwardedHeaders = forwardedHeaders
    }

    /// The public URLs for a server bound on `port`.
    public func urls(boundPort: Int? = nil) -> PublicURLsSource {
        PublicURLsSource(base: publicURL ?? "http://\(host.contains(":") ? "[\(host)]" : host):\(boundPort ?? port)")
    }
}

/// The base URL the server announces.
public struct PublicURLsSource: Sendable {
    public var base: String
}
