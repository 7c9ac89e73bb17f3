import Foundation

/// One protected MCP server.
public struct Server: Sendable, Equatable, Codable {
    /// Store identity.
    public var id: Int64
    /// URL-safe short name used in every path (`/mcp/{slug}`, `/oauth/{slug}`).
    public var slug: String
    /// Display name.
    public var name: String
    /// Where the gateway forwards MCP requests.
    public var upstreamMCPURL: String
    /// Scopes advertised in the protected-resource metadata (never `offline_access`).
    public var scopes: [String]
    /// Proxy access-token lifetime.
    public var accessTokenTTL: TimeInterval
    /// Proxy refresh-token idle lifetime (each rotation extends it up to the absolute lifetime).
    public var refreshTokenIdleTTL: TimeInterval
    /// Proxy refresh-token absolute lifetime, counted from the grant's creation.
    public var refreshTokenAbsoluteTTL: TimeInterval
    public var createdAt: Date
    /// The rules an admin set for this server (allowed browser origins, …).
    public var policy: ServerPolicy

    /// Decodes a server; a document without `policy` (written before servers had one) gets the default policy.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int64.self, forKey: .id)
        slug = try c.decode(String.self, forKey: .slug)
        name = try c.decode(String.self, forKey: .name)
        upstreamMCPURL = try c.decode(String.self, forKey: .upstreamMCPURL)
        scopes = try c.decode([String].self, forKey: .scopes)
        accessTokenTTL = try c.decode(TimeInterval.self, forKey: .accessTokenTTL)
        refreshTokenIdleTTL = try c.decode(TimeInterval.self, forKey: .refreshTokenIdleTTL)
        refreshTokenAbsoluteTTL = try c.decode(TimeInterval.self, forKey: .refreshTokenAbsoluteTTL)
        createdAt = try c.decode(Date.self, forKey: .createdAt)
        policy = try c.decodeIfPresent(ServerPolicy.self, forKey: .policy) ?? ServerPolicy()
    }

    /// Default proxy lifetimes: access 1 h, refresh 30 d idle, 90 d absolute.
    public static let defaultAccessTTL: TimeInterval = 3600
    public static let defaultRefreshIdleTTL: TimeInterval = 30 * 86400
    public static let defaultRefreshAbsoluteTTL: TimeInterval = 90 * 86400

    /// Whether `slug` is a valid server slug: 1–63 of `a-z 0-9 -`, starting with a letter or digit.
    public static func isValidSlug(_ slug: String) -> Bool {
        guard (1...63).contains(slug.count), let first = slug.unicodeScalars.first else { return false }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-".unicodeScalars)
        return first != "-" && slug.unicodeScalars.allSatisfy { allowed.contains($0) }
    }

    /// Every stored property, as stored.
    public init(id: Int64, slug: String, name: String, upstreamMCPURL: String, scopes: [String],
                accessTokenTTL: TimeInterval, refreshTokenIdleTTL: TimeInterval,
                refreshTokenAbsoluteTTL: TimeInterval, createdAt: Date, policy: ServerPolicy = ServerPolicy()) {
        self.policy = policy
        self.id = id
        self.slug = slug
        self.name = name
        self.upstreamMCPURL = upstreamMCPURL
        self.scopes = scopes
        self.accessTokenTTL = accessTokenTTL
        self.refreshTokenIdleTTL = refreshTokenIdleTTL
        self.refreshTokenAbsoluteTTL = refreshTokenAbsoluteTTL
        self.createdAt = createdAt
    }
}

/// What an admin supplies to create a server.
public struct NewServer: Sendable {
    public var slug: String
    public var name: String
    public var upstreamMCPURL: String
    public var scopes: [String]
    public var accessTokenTTL: TimeInterval
    public var refreshTokenIdleTTL: TimeInterval
    public var refreshTokenAbsoluteTTL: TimeInterval
    public var policy: ServerPolicy

    public init(
        slug: String, name: String? = nil, upstreamMCPURL: String, scopes: [String] = [],
        accessTokenTTL: TimeInterval = Server.defaultAccessTTL,
        refreshTokenIdleTTL: TimeInterval = Server.defaultRefreshIdleTTL,
        refreshTokenAbsoluteTTL: TimeInterval = Server.defaultRefreshAbsoluteTTL,
        policy: ServerPolicy = ServerPolicy()
    ) {
        self.policy = policy
        self.slug = slug
        self.name = name ?? slug
        self.upstreamMCPURL = upstreamMCPURL
        self.scopes = scopes
        self.accessTokenTTL = accessTokenTTL
        self.refreshTokenIdleTTL = refreshTokenIdleTTL
        self.refreshTokenAbsoluteTTL = refreshTokenAbsoluteTTL
    }
}
