import Foundation

/// An MCP client known to Tollgate for one server: registered (dynamically or by an admin), or identified by a
/// client ID metadata document.
public struct Client: Sendable, Equatable, Codable {
    /// The row's key, which grants, tokens and audit events refer to. For a registered client it is also its
    /// `client_id`; a metadata-document client's `client_id` is its document URL (see ``publicID``).
    public var id: String
    public var serverID: Int64
    public var name: String
    public var redirectURIs: [String]
    public var authMethod: ClientAuthMethod
    public var grantTypes: [String]
    /// How the client became known: `dynamic` (RFC 7591), `admin`, or `metadata-document`.
    public var registeredBy: String
    public var createdAt: Date
    public var revokedAt: Date?
    /// For a client identified by a client ID metadata document: its URL and how its last fetch went.
    public var metadataDocument: MetadataDocumentState?

    /// `registeredBy` of clients identified by a client ID metadata document.
    public static let metadataDocumentRegistration = "metadata-document"

    /// Whether the client must authenticate with a secret at the token endpoint.
    public var isConfidential: Bool { authMethod != .none }

    /// Whether authorization errors may be redirected to this client without the user's say (RFC 9700 §4.11.1):
    /// only for clients an admin registered, whose redirect URIs an admin vouched for. Anyone can register a client
    /// or publish a metadata document, so the others' errors are shown on a page with a link back.
    public var redirectsErrorsAutomatically: Bool { registeredBy == "admin" }

    /// The `client_id` the client presents on the wire: its document URL, or its id.
    public var publicID: String { metadataDocument?.url ?? id }

    /// Every stored property, as stored.
    public init(id: String, serverID: Int64, name: String, redirectURIs: [String], authMethod: ClientAuthMethod,
                grantTypes: [String], registeredBy: String, createdAt: Date, revokedAt: Date? = nil,
                metadataDocument: MetadataDocumentState? = nil) {
        self.metadataDocument = metadataDocument
        self.id = id
        self.serverID = serverID
        self.name = name
        self.redirectURIs = redirectURIs
        self.authMethod = authMethod
        self.grantTypes = grantTypes
        self.registeredBy = registeredBy
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// The document URL of a metadata-document client and the outcome of its fetches.
public struct MetadataDocumentState: Sendable, Equatable, Codable {
    /// The document URL: the client's `client_id`.
    public var url: String
    /// When the document was last fetched and accepted.
    public var lastFetchedAt: Date?
    /// Why the last fetch failed, when the last attempt failed (cleared by the next success).
    public var lastError: String?
    public var lastErrorAt: Date?

    public init(url: String, lastFetchedAt: Date?, lastError: String? = nil, lastErrorAt: Date? = nil) {
        self.url = url
        self.lastFetchedAt = lastFetchedAt
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }

    /// The host of the document URL (what the consent page names); derived, so it can never disagree with the URL.
    public var host: String { (try? ClientMetadataURL(url))?.host ?? URLComponents(string: url)?.host ?? url }

    /// Whether the most recent fetch attempt failed.
    public var lastFetchFailed: Bool {
        guard let lastErrorAt else { return false }
        return lastFetchedAt.map { lastErrorAt > $0 } ?? true
    }
}

/// Client metadata as an RFC 7591 registration request carries it.
public struct ClientRegistration: Sendable {
    public var name: String
    public var redirectURIs: [String]
    public var authMethod: ClientAuthMethod
    public var grantTypes: [String]
    /// `application_type` as registered; `nil` when the client sent none (then no type-specific rule applies).
    public var applicationType: RedirectURIPolicy.ApplicationType?

    public init(name: String, redirectURIs: [String], authMethod: ClientAuthMethod = .none,
                grantTypes: [String] = ["authorization_code", "refresh_token"], applicationType: RedirectURIPolicy.ApplicationType? = nil) {
        self.applicationType = applicationType
        self.name = name
        self.redirectURIs = redirectURIs
        self.authMethod = authMethod
        self.grantTypes = grantTypes
    }
}

/// The answer to a registration: the client and, for a confidential client, its secret (shown once).
public struct RegisteredClient: Sendable {
    public var client: Client
    public var secret: Secret?
}
