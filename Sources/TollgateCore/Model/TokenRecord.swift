import Foundation

/// The kind of a proxy token.
public enum TokenKind: String, Sendable, Codable {
    case access
    case refresh
}

/// A stored proxy token: only its SHA-256 is kept.
public struct TokenRecord: Sendable, Equatable {
    public var hash: Data
    public var grantID: Int64
    public var kind: TokenKind
    public var clientID: String
    public var issuedAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?
    /// For a refresh token that has been rotated: when.
    public var rotatedAt: Date?
    /// For a rotated refresh token: the hash of its successor.
    public var replacedBy: Data?
    /// For an access token issued with fewer scopes than its grant holds (a refresh asking for less, RFC 6749 §6):
    /// those scopes; `nil` means the grant's.
    public var scopes: [String]?

    /// Every stored property, as stored.
    public init(hash: Data, grantID: Int64, kind: TokenKind, clientID: String, issuedAt: Date, expiresAt: Date,
                revokedAt: Date? = nil, rotatedAt: Date? = nil, replacedBy: Data? = nil, scopes: [String]? = nil) {
        self.scopes = scopes
        self.hash = hash
        self.grantID = grantID
        self.kind = kind
        self.clientID = clientID
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.rotatedAt = rotatedAt
        self.replacedBy = replacedBy
    }
}

extension TokenRecord {
    /// The scopes of a stored `scopes` column: space-separated, `NULL` for the grant's.
    public static func scopes(stored: String?) -> [String]? {
        stored.map { $0.split(separator: " ").map(String.init) }
    }
}

/// A proxy token about to be stored.
public struct NewToken: Sendable {
    public var hash: Data
    public var kind: TokenKind
    public var expiresAt: Date
    /// Scopes narrower than the grant's (see ``TokenRecord/scopes``); `nil` for the grant's.
    public var scopes: [String]?
    public init(hash: Data, kind: TokenKind, expiresAt: Date, scopes: [String]? = nil) {
        self.scopes = scopes
        self.hash = hash
        self.kind = kind
        self.expiresAt = expiresAt
    }
}

/// A stored authorization code (hash only) and what it is bound to.
public struct AuthorizationCodeRecord: Sendable, Equatable {
    public var hash: Data
    public var grantID: Int64
    public var clientID: String
    public var redirectURI: String
    public var codeChallenge: String
    public var expiresAt: Date
    public var usedAt: Date?

    /// Every stored property, as stored.
    public init(hash: Data, grantID: Int64, clientID: String, redirectURI: String, codeChallenge: String,
                expiresAt: Date, usedAt: Date? = nil) {
        self.hash = hash
        self.grantID = grantID
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.codeChallenge = codeChallenge
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

/// The result of trying to redeem a code, decided atomically by the store.
public enum CodeRedemption: Sendable {
    /// First use: the code is now marked used.
    case redeemed(AuthorizationCodeRecord)
    /// The code had been used before: a replay.
    case replayed(AuthorizationCodeRecord)
    case notFound
}

/// An authorization in progress between the consent page and the upstream callback.
public struct PendingAuthorization: Sendable, Equatable {
    /// SHA-256 of the server-side `state` sent upstream.
    public var stateHash: Data
    public var serverID: Int64
    public var clientID: String
    public var redirectURI: String
    /// The client's own `state`, returned to it unchanged.
    public var clientState: String?
    /// The client's PKCE S256 challenge.
    public var codeChallenge: String
    public var scopes: [String]
    public var resource: String
    /// The upstream PKCE verifier, sealed.
    public var sealedUpstreamVerifier: Data
    public var createdAt: Date
    public var expiresAt: Date
    /// SHA-256 of the browser-binding value of the browser that started the authorization: the callback
    /// completes only in that browser (confused-deputy defence). `nil` never matches.
    public var browserBindingHash: Data?

    public init(stateHash: Data, serverID: Int64, clientID: String, redirectURI: String, clientState: String?,
                codeChallenge: String, scopes: [String], resource: String, sealedUpstreamVerifier: Data,
                createdAt: Date, expiresAt: Date, browserBindingHash: Data? = nil) {
        self.stateHash = stateHash
        self.serverID = serverID
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.clientState = clientState
        self.codeChallenge = codeChallenge
        self.scopes = scopes
        self.resource = resource
        self.sealedUpstreamVerifier = sealedUpstreamVerifier
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.browserBindingHash = browserBindingHash
    }
}

/// The outcome of taking a pending authorization at the callback, decided atomically by the store.
public enum PendingAuthorizationTake: Sendable, Equatable {
    /// The state and the browser binding matched: the row is deleted and returned (exactly once).
    case taken(PendingAuthorization)
    /// The state is pending but bound to another browser: nothing was deleted.
    case boundToAnotherBrowser
    /// The state is pending for another server than the callback it arrived at (a mix-up attempt, RFC 9700
    /// §4.4): nothing was deleted.
    case boundToAnotherServer
    /// No pending authorization has this state (unknown, already taken or purged).
    case unknown
}

/// The proxy tokens handed to a client.
public struct TokenPair: Sendable, Equatable {
    public var accessToken: Secret
    public var refreshToken: Secret
    /// Seconds until the access token expires; never overstated.
    public var expiresIn: Int
    public var scope: String
    public var tokenType: String { "Bearer" }
}
