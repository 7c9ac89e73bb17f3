/// Why a client ID metadata document was not accepted: the URL, the trust policy, the fetch, or the document.
///
/// The description is for the log and the store's last-fetch error (`tollgate client show`): it names the rule that
/// was broken, never the document's content beyond a clipped field name. The browser sees it only for the URL and the
/// trust policy; how a fetch went (address, connection, TLS, timeout, status, content) it never learns, see
/// ``oauthError``.
public struct ClientMetadataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which step refused.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The `client_id` is not a valid metadata document URL.
        public static let invalidURL = Kind(rawValue: "invalid-url")
        /// The server's trust policy does not accept this document (off, or not on its allowlist).
        public static let notTrusted = Kind(rawValue: "not-trusted")
        /// The address the host resolves to may not be fetched (private, loopback, metadata, …).
        public static let forbiddenAddress = Kind(rawValue: "forbidden-address")
        /// The fetch failed: name resolution, connection, TLS, timeout, a status other than 200 (a redirect included).
        public static let fetchFailed = Kind(rawValue: "fetch-failed")
        /// The response is not an acceptable document (size, content type, JSON, fields).
        public static let invalidDocument = Kind(rawValue: "invalid-document")
    }

    public let kind: Kind
    /// What was wrong, in one line.
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }

    /// What the browser is told instead of a fetch's reason: one text for every way a fetch can fail, so that a
    /// `client_id` URL cannot tell a closed port from a TLS server from a plain one (Tollgate as a port scanner).
    public static let notFetchedDescription = "the client's metadata document could not be fetched"

    /// The OAuth error an endpoint answers with: always `invalid_client` (the client could not be identified). Refusals
    /// of the URL and of the trust policy say why; every refusal of the fetch or the document says
    /// ``notFetchedDescription`` (the reason is in the log and on the client's row).
    public var oauthError: OAuthError {
        switch kind {
        case .notTrusted: return OAuthError.invalidClient(reason)
        case .invalidURL: return OAuthError.invalidClient("the client ID metadata document was refused: " + reason)
        default: return OAuthError.invalidClient(Self.notFetchedDescription)
        }
    }
}
