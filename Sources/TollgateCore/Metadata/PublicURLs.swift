import Foundation
/// Every public URL of Tollgate, derived from its public base URL. One place builds them, so the
/// issuer in the metadata, the `iss` in redirects and the `authorization_servers` entry never drift.
public struct PublicURLs: Sendable, Equatable {
    /// The public base URL without a trailing slash, e.g. `https://tollgate.example.com`.
    public let base: String

    /// The base URL used when nothing else is configured.
    public static let defaultBase = "http://127.0.0.1:8080"

    /// The store setting under which `serve` records its public URL.
    public static let settingKey = "public_url"

    /// The origin of the public URL: what a browser sends as `Origin` from Tollgate's own pages.
    public var origin: WebOrigin? { URL(string: base).flatMap(WebOrigin.init(of:)) }

    public init(base: String) {
        var b = base
        while b.hasSuffix("/") { b.removeLast() }
        self.base = b
    }

    /// `{base}/oauth/{slug}`: the issuer, string-equal to `authorization_servers[0]`.
    public func issuer(_ slug: String) -> String { "\(base)/oauth/\(slug)" }
    /// `{base}/mcp/{slug}`: the protected resource.
    public func resource(_ slug: String) -> String { "\(base)/mcp/\(slug)" }
    public func authorizationEndpoint(_ slug: String) -> String { issuer(slug) + "/authorize" }
    public func tokenEndpoint(_ slug: String) -> String { issuer(slug) + "/token" }
    public func registrationEndpoint(_ slug: String) -> String { issuer(slug) + "/register" }
    public func revocationEndpoint(_ slug: String) -> String { issuer(slug) + "/revoke" }
    public func introspectionEndpoint(_ slug: String) -> String { issuer(slug) + "/introspect" }
    /// Where the upstream sends the user back.
    public func callback(_ slug: String) -> String { issuer(slug) + "/callback" }
    public func protectedResourceMetadata(_ slug: String) -> String { "\(base)/.well-known/oauth-protected-resource/mcp/\(slug)" }
    public func authorizationServerMetadata(_ slug: String) -> String { "\(base)/.well-known/oauth-authorization-server/oauth/\(slug)" }
}
